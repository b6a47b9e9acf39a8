/* Unit tests for the core's own plumbing: guest memory layout and sealing, guest_ptr bounds,
 * CPUID topology fix-ups, the PIO/MMIO bus, and the typed IPC layer. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus.h"
#include "ipc.h"
#include "layout.h"
#include "memory.h"
#include "vm.h"

Test(memory, layout_small_is_one_low_region)
{
	struct guest_mem m;

	guest_mem_layout(&m, 256 * MiB);
	cr_assert_eq(m.nr, 1);
	cr_assert_eq(m.r[0].gpa, 0);
	cr_assert_eq(m.r[0].size, 256 * MiB);
	cr_assert_eq(guest_low_ram_end(&m), 256 * MiB);
}

Test(memory, layout_above_hole_splits_at_4g)
{
	struct guest_mem m;

	guest_mem_layout(&m, 5 * GiB);
	cr_assert_eq(m.nr, 2);
	cr_assert_eq(m.r[0].size, 3 * GiB);
	cr_assert_eq(m.r[1].gpa, 4 * GiB);
	cr_assert_eq(m.r[1].size, 2 * GiB);
	guest_mem_layout(&m, 3 * GiB);
	cr_assert_eq(m.nr, 1, "exactly 3 GiB fits below the hole");
}

Test(memory, memfd_is_sealed_and_bounds_checked)
{
	struct guest_mem m;
	int seals;

	cr_assert_eq(guest_mem_init(&m, 256 * MiB, -1, true), 0);
	seals = fcntl(m.r[0].fd, F_GET_SEALS);
	cr_assert_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
		     F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	cr_assert_eq(ftruncate(m.r[0].fd, 4096), -1, "a worker must not be able to shrink RAM");
	cr_assert_eq(errno, EPERM);
	cr_assert_not_null(guest_ptr(&m, 0, 256 * MiB));
	cr_assert_null(guest_ptr(&m, 256 * MiB - 4, 8), "crossing the end of RAM");
	cr_assert_null(guest_ptr(&m, ~0ULL - 2, 8), "wrapping address");
	cr_assert_null(guest_ptr(&m, 4096, ~0ULL), "huge length");
	cr_assert_null(guest_ptr(&m, LAYOUT_MMIO_HOLE, 1));
	guest_mem_exit(&m);
}

static struct kvm_cpuid2 *cpuid_with(unsigned n, const struct kvm_cpuid_entry2 *e)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(*e));

	c->nent = n;
	memcpy(c->entries, e, n * sizeof(*e));
	return c;
}

Test(cpuid, apic_id_and_topology)
{
	struct kvm_cpuid_entry2 e[] = {
		{ .function = 1, .ebx = 0x00000800 },
		{ .function = 0xb, .index = 0 },
		{ .function = 0xb, .index = 1 },
		{ .function = 0xb, .index = 2 },
		{ .function = 4, .index = 0, .eax = 0x121 },  /* L1d */
		{ .function = 4, .index = 3, .eax = 0x163 },  /* L3 */
	};
	struct kvm_cpuid2 *c = cpuid_with(6, e);

	cpuid_fixup(c, 5, 6);
	cr_assert_eq(c->entries[0].ebx >> 24, 5, "leaf 1 initial APIC id");
	cr_assert_eq((c->entries[0].ebx >> 16) & 0xff, 6, "logical processor count");
	cr_assert_eq(c->entries[0].ebx & 0xffff, 0x0800, "brand/clflush preserved");
	cr_assert(c->entries[0].ecx & (1u << 31), "hypervisor bit");
	cr_assert_eq(c->entries[1].edx, 5);
	cr_assert_eq(c->entries[1].ebx, 1, "one thread per core");
	cr_assert_eq(c->entries[2].eax, 3, "shift for 6 cores");
	cr_assert_eq(c->entries[2].ebx, 6);
	cr_assert_eq((c->entries[2].ecx >> 8) & 0xff, 2, "core level type");
	cr_assert_eq((c->entries[3].ecx >> 8) & 0xff, 0, "invalid level ends enumeration");
	cr_assert_eq(c->entries[4].eax >> 26, 5, "cores per package - 1");
	cr_assert_eq((c->entries[4].eax >> 14) & 0xfff, 0, "L1 not shared");
	cr_assert_eq((c->entries[5].eax >> 14) & 0xfff, 5, "L3 shared by the package");
	free(c);
}

static unsigned reads, writes;
static void dev_read(void *o, uint64_t off, void *d, unsigned len)
{
	(void)o;
	reads++;
	memset(d, (int)off, len);
}
static void dev_write(void *o, uint64_t off, const void *d, unsigned len)
{
	(void)o; (void)off; (void)d; (void)len;
	writes++;
}
static const struct bus_dev_ops dev_ops = { dev_read, dev_write };

Test(bus, register_and_dispatch)
{
	struct bus b;
	uint8_t v[4];

	bus_init(&b, "pio");
	cr_assert_eq(bus_register(&b, 0x3f8, 8, "a", &dev_ops, NULL), 0);
	cr_assert_eq(bus_register(&b, 0x3fc, 8, "b", &dev_ops, NULL), -EEXIST);
	cr_assert_eq(bus_register(&b, ~0ULL - 1, 8, "c", &dev_ops, NULL), -EINVAL);
	cr_assert(bus_access(&b, 0x3fa, v, 1, false));
	cr_assert_eq(v[0], 2, "offset relative to the base");
	cr_assert(bus_access(&b, 0x3f8, v, 1, true));
	cr_assert_eq(writes, 1);
	cr_assert_not(bus_access(&b, 0x3fe, v, 4, false), "access straddling the end");
	cr_assert_not(bus_access(&b, 0x80, v, 1, false));
}

static const struct ipc_peer core_side = { "supervisor", 1u << IPC_CORE_CONFIG };
static const struct ipc_peer sup_side = { "core", 1u << IPC_VM_EXIT };

static void pair(int sv[2])
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
}

Test(ipc, core_config_round_trip_with_fds)
{
	struct core_config c = { .flags = CORE_F_ACPI | CORE_F_INITRD, .ncpus = 4,
				 .mem_size = 512 * MiB }, out;
	struct core_config_fds f = { .kernel = 0, .initrd = 1, .mem = -1 }, g;
	struct ipc_msg *msg = calloc(1, sizeof(*msg));
	int sv[2];

	strcpy(c.cmdline, "console=ttyS0");
	pair(sv);
	cr_assert_eq(ipc_core_config_send(sv[0], &c, &f), 0);
	cr_assert_eq(ipc_recv(sv[1], &core_side, msg), 1);
	cr_assert_eq(ipc_core_config_decode(msg, &out, &g), 0);
	cr_assert_eq(out.ncpus, 4);
	cr_assert_str_eq(out.cmdline, "console=ttyS0");
	cr_assert_geq(g.kernel, 0);
	cr_assert_geq(g.initrd, 0);
	cr_assert_eq(g.mem, -1);
	close(g.kernel);
	close(g.initrd);
	free(msg);
}

Test(ipc, type_not_allowed_for_peer_is_refused_and_fds_closed)
{
	struct vm_exit_info e = { .reason = IPC_EXIT_POWEROFF };
	struct ipc_msg *msg = calloc(1, sizeof(*msg));
	int sv[2], fd = dup(0);

	pair(sv);
	cr_assert_eq(ipc_send(sv[0], IPC_VM_EXIT, &e, sizeof(e), &fd, 1), 0);
	cr_assert_eq(ipc_recv(sv[1], &core_side, msg), -EPROTO, "supervisor may not send VM_EXIT");
	cr_assert_eq(msg->nfds, 0);
	free(msg);
}

Test(ipc, wrong_sizes_and_fd_counts_are_refused)
{
	struct core_config c = { .flags = CORE_F_INITRD, .ncpus = 1, .mem_size = 256 * MiB }, out;
	struct core_config_fds g;
	struct ipc_msg *msg = calloc(1, sizeof(*msg));
	int sv[2], fd = dup(0);

	pair(sv);
	/* one byte short */
	cr_assert_eq(ipc_send(sv[0], IPC_CORE_CONFIG, &c, sizeof(c) - 1, &fd, 1), 0);
	cr_assert_eq(ipc_recv(sv[1], &core_side, msg), 1);
	cr_assert_eq(ipc_core_config_decode(msg, &out, &g), -EPROTO);
	ipc_msg_close_fds(msg);
	/* CORE_F_INITRD promises two fds, one sent */
	cr_assert_eq(ipc_send(sv[0], IPC_CORE_CONFIG, &c, sizeof(c), &fd, 1), 0);
	cr_assert_eq(ipc_recv(sv[1], &core_side, msg), 1);
	cr_assert_eq(ipc_core_config_decode(msg, &out, &g), -EPROTO);
	ipc_msg_close_fds(msg);
	/* no NUL in the command line */
	c.flags = 0;
	memset(c.cmdline, 'x', sizeof(c.cmdline));
	cr_assert_eq(ipc_send(sv[0], IPC_CORE_CONFIG, &c, sizeof(c), &fd, 1), 0);
	cr_assert_eq(ipc_recv(sv[1], &core_side, msg), 1);
	cr_assert_eq(ipc_core_config_decode(msg, &out, &g), -EINVAL);
	ipc_msg_close_fds(msg);
	/* out-of-range vCPU count */
	c.cmdline[0] = '\0';
	c.ncpus = 255;
	cr_assert_eq(ipc_send(sv[0], IPC_CORE_CONFIG, &c, sizeof(c), &fd, 1), 0);
	cr_assert_eq(ipc_recv(sv[1], &core_side, msg), 1);
	cr_assert_eq(ipc_core_config_decode(msg, &out, &g), -EINVAL);
	ipc_msg_close_fds(msg);
	close(fd);
	free(msg);
}

Test(ipc, header_length_must_match_datagram)
{
	struct { struct ipc_hdr h; uint8_t body[8]; } lie = { { IPC_VM_EXIT, 100 }, { 0 } };
	struct ipc_msg *msg = calloc(1, sizeof(*msg));
	int sv[2];

	pair(sv);
	cr_assert_eq(send(sv[0], &lie, sizeof(lie), 0), (ssize_t)sizeof(lie));
	cr_assert_eq(ipc_recv(sv[1], &sup_side, msg), -EPROTO);
	cr_assert_eq(send(sv[0], &lie, 3, 0), 3);
	cr_assert_eq(ipc_recv(sv[1], &sup_side, msg), -EPROTO, "shorter than a header");
	close(sv[0]);
	cr_assert_eq(ipc_recv(sv[1], &sup_side, msg), 0, "EOF");
	free(msg);
}

Test(ipc, vm_exit_validation)
{
	struct vm_exit_info e = { .reason = 9 }, out;
	struct ipc_msg *msg = calloc(1, sizeof(*msg));
	int sv[2];

	pair(sv);
	cr_assert_eq(ipc_vm_exit_send(sv[0], &e), 0);
	cr_assert_eq(ipc_recv(sv[1], &sup_side, msg), 1);
	cr_assert_eq(ipc_vm_exit_decode(msg, &out), -EPROTO, "unknown reason");
	e.reason = IPC_EXIT_ERROR;
	strcpy(e.detail, "vCPU 0: boom");
	cr_assert_eq(ipc_vm_exit_send(sv[0], &e), 0);
	cr_assert_eq(ipc_recv(sv[1], &sup_side, msg), 1);
	cr_assert_eq(ipc_vm_exit_decode(msg, &out), 0);
	cr_assert_str_eq(out.detail, "vCPU 0: boom");
	free(msg);
}

/* ---- IPC_BACKEND_ATTACH and the slot table of IPC_CORE_CONFIG ---- */

static const struct ipc_peer core_run_side = { "supervisor", 1u << IPC_BACKEND_ATTACH };

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

Test(ipc, backend_attach_round_trip)
{
	struct backend_attach a = { .slot = 3, .kind = IPC_DEV_BLK, .name = "rootfs" }, out;
	struct ipc_msg *msg = calloc(1, sizeof(*msg));
	int sv[2], fd = -1, pipefd[2];
	char c = 0;

	pair(sv);
	cr_assert_eq(pipe(pipefd), 0);
	cr_assert_eq(ipc_backend_attach_send(sv[0], &a, pipefd[1]), 0);
	cr_assert_eq(ipc_recv(sv[1], &core_run_side, msg), 1);
	cr_assert_eq(ipc_backend_attach_decode(msg, &out, &fd), 0);
	cr_assert_eq(msg->nfds, 0, "the fd was taken out of the message");
	cr_assert_eq(out.slot, 3);
	cr_assert_eq(out.kind, IPC_DEV_BLK);
	cr_assert_str_eq(out.name, "rootfs");
	/* it is the same pipe */
	cr_assert_eq(write(fd, "x", 1), 1);
	cr_assert_eq(read(pipefd[0], &c, 1), 1);
	cr_assert_eq(c, 'x');
	close(fd);
	close(pipefd[0]);
	close(pipefd[1]);
	close(sv[0]);
	close(sv[1]);
	free(msg);
}

/* Send raw, decode, expect -EPROTO and no fd left behind. */
static void expect_attach_refused(int sv[2], const void *payload, size_t len, unsigned nfds,
				  const char *what)
{
	struct ipc_msg *msg = calloc(1, sizeof(*msg));
	struct backend_attach out;
	int fds[2] = { dup(0), dup(0) }, fd = -1, before;

	before = count_fds();
	cr_assert_eq(ipc_send(sv[0], IPC_BACKEND_ATTACH, payload, len, fds, nfds), 0);
	close(fds[0]);
	close(fds[1]);
	cr_assert_eq(ipc_recv(sv[1], &core_run_side, msg), 1, "%s", what);
	cr_assert_eq(ipc_backend_attach_decode(msg, &out, &fd), -EPROTO, "%s", what);
	cr_assert_eq(fd, -1, "%s", what);
	ipc_msg_close_fds(msg);
	cr_assert_eq(count_fds(), before - 2, "%s: fds leaked", what);
	free(msg);
}

Test(ipc, backend_attach_validation)
{
	struct backend_attach a = { .slot = 0, .kind = IPC_DEV_VHOST_USER_BLK, .name = "c0" }, b;
	int sv[2];

	pair(sv);
	expect_attach_refused(sv, &a, sizeof(a) - 1, 1, "one byte short");
	expect_attach_refused(sv, &a, 0, 1, "empty");
	expect_attach_refused(sv, &a, sizeof(a), 0, "no fd");
	expect_attach_refused(sv, &a, sizeof(a), 2, "two fds");
	b = a, b.slot = IPC_MAX_SLOTS;
	expect_attach_refused(sv, &b, sizeof(b), 1, "slot out of range");
	b = a, b.slot = 0xffffffff;
	expect_attach_refused(sv, &b, sizeof(b), 1, "slot -1");
	b = a, b.kind = IPC_DEV_NONE;
	expect_attach_refused(sv, &b, sizeof(b), 1, "kind none");
	b = a, b.kind = IPC_DEV_KIND_MAX;
	expect_attach_refused(sv, &b, sizeof(b), 1, "kind out of range");
	b = a, b.name[0] = '\0';
	expect_attach_refused(sv, &b, sizeof(b), 1, "empty name");
	b = a, memset(b.name, 'n', sizeof(b.name));
	expect_attach_refused(sv, &b, sizeof(b), 1, "name without NUL");
	close(sv[0]);
	close(sv[1]);
}

Test(ipc, backend_attach_only_from_the_run_phase_peer)
{
	struct backend_attach a = { .slot = 0, .kind = IPC_DEV_BLK, .name = "d" };
	struct ipc_msg *msg = calloc(1, sizeof(*msg));
	int sv[2], fd = dup(0), before;

	pair(sv);
	before = count_fds();
	cr_assert_eq(ipc_backend_attach_send(sv[0], &a, fd), 0);
	close(fd);
	/* during boot the core takes only its configuration */
	cr_assert_eq(ipc_recv(sv[1], &core_side, msg), -EPROTO);
	cr_assert_eq(msg->nfds, 0);
	cr_assert_eq(count_fds(), before - 1, "the passed fd was closed");
	/* and the supervisor never takes one from the core */
	cr_assert_eq(ipc_backend_attach_send(sv[1], &a, 0), 0);
	cr_assert_eq(ipc_recv(sv[0], &sup_side, msg), -EPROTO);
	close(sv[0]);
	close(sv[1]);
	free(msg);
}

static int config_with_slots(const struct core_config *c)
{
	struct ipc_msg *msg = calloc(1, sizeof(*msg));
	struct core_config out;
	struct core_config_fds f = { .kernel = 0, .initrd = -1, .mem = -1 }, g = { -1, -1, -1 };
	int sv[2], r;

	pair(sv);
	cr_assert_eq(ipc_core_config_send(sv[0], c, &f), 0);
	cr_assert_eq(ipc_recv(sv[1], &core_side, msg), 1);
	r = ipc_core_config_decode(msg, &out, &g);
	if (r == 0) {
		cr_assert_eq(out.nslots, c->nslots);
		cr_assert_eq(memcmp(out.slot_kind, c->slot_kind, sizeof(out.slot_kind)), 0);
		close(g.kernel);
	}
	ipc_msg_close_fds(msg);
	close(sv[0]);
	close(sv[1]);
	free(msg);
	return r;
}

Test(ipc, core_config_slot_table)
{
	struct core_config c = { .ncpus = 1, .mem_size = 256 * MiB, .nslots = 2,
				 .slot_kind = { IPC_DEV_BLK, IPC_DEV_VHOST_USER_BLK } };

	cr_assert_eq(config_with_slots(&c), 0);
	c.nslots = 0;
	cr_assert_eq(config_with_slots(&c), -EINVAL, "kinds past nslots");
	memset(c.slot_kind, 0, sizeof(c.slot_kind));
	cr_assert_eq(config_with_slots(&c), 0, "no disks");
	c.nslots = 1;
	cr_assert_eq(config_with_slots(&c), -EINVAL, "a slot without a kind");
	c.slot_kind[0] = IPC_DEV_KIND_MAX;
	cr_assert_eq(config_with_slots(&c), -EINVAL, "unknown kind");
	c.nslots = IPC_MAX_SLOTS + 1;
	for (unsigned i = 0; i < IPC_MAX_SLOTS; i++)
		c.slot_kind[i] = IPC_DEV_BLK;
	cr_assert_eq(config_with_slots(&c), -EINVAL, "too many slots");
	c.nslots = IPC_MAX_SLOTS;
	cr_assert_eq(config_with_slots(&c), 0, "every slot");
}

#include "emulate.h"

Test(emulate, decodes_only_what_it_can_apply)
{
	struct emu_op op;

	cr_assert(emu_decode((const uint8_t *)"\x0f\x01\xca", 3, &op));
	cr_assert_eq(op.kind, EMU_CLAC);
	cr_assert_eq(op.len, 3);
	cr_assert(emu_decode((const uint8_t *)"\x0f\x01\xcb", 3, &op));
	cr_assert_eq(op.kind, EMU_STAC);
	cr_assert_not(emu_decode((const uint8_t *)"\x0f\x01", 2, &op), "truncated");
	cr_assert_not(emu_decode((const uint8_t *)"\x0f\x01\xcc", 3, &op));
	cr_assert_not(emu_decode((const uint8_t *)"\xf0\x48\x0f\xc7\x4d\x20", 6, &op),
		      "cmpxchg16b is not emulated: the VM must stop with a diagnosis");
	/* popcnt %rdi,%rax = f3 48 0f b8 c7 */
	cr_assert(emu_decode((const uint8_t *)"\xf3\x48\x0f\xb8\xc7", 5, &op));
	cr_assert_eq(op.kind, EMU_POPCNT);
	cr_assert_eq(op.len, 5);
	cr_assert_eq(op.dst, 0);
	cr_assert_eq(op.src, 7);
	cr_assert_eq(op.width, 64);
	/* popcnt %r9d,%r10d = f3 45 0f b8 d1 */
	cr_assert(emu_decode((const uint8_t *)"\xf3\x45\x0f\xb8\xd1", 5, &op));
	cr_assert_eq(op.dst, 10);
	cr_assert_eq(op.src, 9);
	cr_assert_eq(op.width, 32);
	cr_assert_not(emu_decode((const uint8_t *)"\xf3\x48\x0f\xb8\x07", 5, &op),
		      "memory operand is refused, not guessed");
}

Test(emulate, applies_register_effects)
{
	struct kvm_regs r = { .rip = 0x1000, .rflags = 0x2 | (1ULL << 6) };
	struct emu_op op;

	emu_decode((const uint8_t *)"\x0f\x01\xcb", 3, &op);
	cr_assert_not(emu_apply(&op, &r));
	cr_assert(r.rflags & (1ULL << 18), "stac sets AC");
	cr_assert_eq(r.rip, 0x1003);
	emu_decode((const uint8_t *)"\x0f\x01\xca", 3, &op);
	emu_apply(&op, &r);
	cr_assert_not(r.rflags & (1ULL << 18), "clac clears AC");
	emu_decode((const uint8_t *)"\xcc", 1, &op);
	cr_assert(emu_apply(&op, &r), "int3 asks for #BP");
	cr_assert_eq(r.rip, 0x1007, "#BP is a trap: RIP after the instruction");
	r.rdi = 0xf0f0000000000001ULL;
	r.rax = 0xdead;
	emu_decode((const uint8_t *)"\xf3\x48\x0f\xb8\xc7", 5, &op);
	emu_apply(&op, &r);
	cr_assert_eq(r.rax, 9);
	cr_assert_not(r.rflags & (1ULL << 6), "ZF clear for a non-zero source");
	r.r9 = 0xffffffff00000000ULL;
	r.r10 = ~0ULL;
	emu_decode((const uint8_t *)"\xf3\x45\x0f\xb8\xd1", 5, &op);
	emu_apply(&op, &r);
	cr_assert_eq(r.r10, 0, "32-bit popcnt sees only the low half and zero-extends");
	cr_assert(r.rflags & (1ULL << 6), "ZF set for a zero source");
}

Test(emulate, decodes_fpu_memory_operands)
{
	struct kvm_regs r = { .rip = 0x1000, .rsp = 0x8000, .rbx = 0x100, .r12 = 0x40 };
	struct emu_op op;

	/* ldmxcsr 0x4(%rsp) = 0f ae 54 24 04 (the instruction a Debian 6.1 kernel stopped on) */
	cr_assert(emu_decode((const uint8_t *)"\x0f\xae\x54\x24\x04", 5, &op));
	cr_assert_eq(op.kind, EMU_LDMXCSR);
	cr_assert_eq(op.len, 5);
	cr_assert_eq(emu_mem_addr(&op, &r), 0x8004);
	cr_assert_eq(emu_mem_len(&op), 4);
	/* fxsave64 (%rbx) = 48 0f ae 03 */
	cr_assert(emu_decode((const uint8_t *)"\x48\x0f\xae\x03", 4, &op));
	cr_assert_eq(op.kind, EMU_FXSAVE);
	cr_assert(op.rex_w);
	cr_assert_eq(emu_mem_addr(&op, &r), 0x100);
	cr_assert_eq(emu_mem_len(&op), 512);
	/* fxrstor 0x10(%rbx,%r12,8) = 42 0f ae 4c e3 10 (REX.X extends the index) */
	cr_assert(emu_decode((const uint8_t *)"\x42\x0f\xae\x4c\xe3\x10", 6, &op));
	cr_assert_eq(op.kind, EMU_FXRSTOR);
	cr_assert_eq(emu_mem_addr(&op, &r), 0x100 + 0x40 * 8 + 0x10);
	/* stmxcsr 0x20(%rip) = 0f ae 1d 20 00 00 00: relative to the next instruction */
	cr_assert(emu_decode((const uint8_t *)"\x0f\xae\x1d\x20\x00\x00\x00", 7, &op));
	cr_assert_eq(op.kind, EMU_STMXCSR);
	cr_assert_eq(emu_mem_addr(&op, &r), 0x1000 + 7 + 0x20);
	cr_assert_not(emu_decode((const uint8_t *)"\x0f\xae\x6c\x24", 4, &op), "xrstor is refused");
	cr_assert_not(emu_decode((const uint8_t *)"\x0f\xae\x54\x24", 4, &op), "truncated displacement");
	cr_assert_not(emu_decode((const uint8_t *)"\x0f\xae\xd0", 3, &op), "register form");
}

Test(emulate, fxsave_image_round_trip)
{
	struct kvm_fpu a = { .fcw = 0x37f, .fsw = 0x1234, .ftwx = 0x81, .last_opcode = 0x7ff,
			     .last_ip = 0xffffffff81000000ULL, .last_dp = 0x1122334455ULL,
			     .mxcsr = 0x1f80 }, b;
	uint8_t img[EMU_FXSAVE_SIZE];

	for (unsigned i = 0; i < 8; i++)
		memset(a.fpr[i], (int)(0x10 + i), 10);
	for (unsigned i = 0; i < 16; i++)
		memset(a.xmm[i], (int)(0x80 + i), 16);
	emu_fxsave_image(&a, true, img);
	cr_assert_eq(img[0], 0x7f);
	cr_assert_eq(img[24], 0x80, "MXCSR at offset 24");
	cr_assert_eq(img[25], 0x1f);
	cr_assert_eq(img[32 + 16 * 3], 0x13, "ST3 at 32 + 16*3");
	cr_assert_eq(img[160 + 16 * 15 + 15], 0x8f, "XMM15 ends at 415");
	memset(&b, 0xee, sizeof(b));
	emu_fxrstor_image(img, true, &b);
	cr_assert_eq(b.fcw, a.fcw);
	cr_assert_eq(b.fsw, a.fsw);
	cr_assert_eq(b.ftwx, a.ftwx);
	cr_assert_eq(b.last_ip, a.last_ip);
	cr_assert_eq(b.mxcsr, a.mxcsr);
	cr_assert_arr_eq(b.fpr, a.fpr, sizeof(a.fpr));
	cr_assert_arr_eq(b.xmm, a.xmm, sizeof(a.xmm));
	emu_fxsave_image(&a, false, img);
	emu_fxrstor_image(img, false, &b);
	cr_assert_eq(b.last_ip, 0x81000000ULL, "the legacy form keeps 32 bits of FIP");
}

/* ---- control.c: the core's control path, with a fake VM behind its ops ---- */

#include <poll.h>
#include <stdio.h>

#include "control.h"
#include "ipc_qmp.h"

struct fake_vm {
	unsigned pauses, resumes, powerdowns, unplugs, attaches;
	int end_why;
	char end_detail[128];
	int attach_ret;
	unsigned last_slot;
	bool last_hotplug;
	char last_name[64];
};

static struct fake_vm FV;
static struct control CTL;
static int sup_peer = -1, qmpd_peer = -1;   /* the test plays supervisor and qmpd */

static void f_pause(void *o) { (void)o; FV.pauses++; }
static void f_resume(void *o) { (void)o; FV.resumes++; }
static void f_powerdown(void *o) { (void)o; FV.powerdowns++; }
static void f_end(void *o, enum vm_exit_reason why, const char *detail)
{
	(void)o;
	FV.end_why = why;
	snprintf(FV.end_detail, sizeof(FV.end_detail), "%s", detail);
}
static unsigned f_cpus(void *o, struct qmp_cpu_info *out, unsigned max)
{
	(void)o;
	cr_assert_geq(max, 2);
	out[0] = (struct qmp_cpu_info){ .index = 0, .thread_id = 1234, .halted = 0 };
	out[1] = (struct qmp_cpu_info){ .index = 1, .thread_id = 1235, .halted = 1 };
	return 2;
}
static int f_attach(void *o, unsigned slot, int fd, const char *name, bool hotplug)
{
	(void)o;
	FV.attaches++;
	FV.last_slot = slot;
	FV.last_hotplug = hotplug;
	snprintf(FV.last_name, sizeof(FV.last_name), "%s", name);
	close(fd);      /* ownership passes, also on error */
	return FV.attach_ret;
}
static void f_unplug(void *o, unsigned slot) { (void)o; FV.unplugs++; FV.last_slot = slot; }

static const struct control_ops fake_ctl_ops = {
	f_pause, f_resume, f_end, f_powerdown, f_cpus, f_attach, f_unplug,
};

static const struct ipc_peer as_qmpd = { "core", (1u << IPC_QMP_REPLY) | (1u << IPC_QMP_EVENT) };
static const struct ipc_peer as_sup = { "core", 1u << IPC_HOTPLUG_REQUEST };

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* a fresh qmpd, as the supervisor hands it over */
static void attach_qmpd(void)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(ipc_qmpd_attach_send(sup_peer, sv[0]), 0);
	close(sv[0]);
	cr_assert_eq(control_on_supervisor(&CTL), 0);
	if (qmpd_peer >= 0)
		close(qmpd_peer);
	qmpd_peer = sv[1];
}

static void ctl_start(unsigned nboot, const uint32_t *kinds)
{
	int sv[2];

	memset(&FV, 0, sizeof(FV));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	control_init(&CTL, &fake_ctl_ops, NULL, sv[0], nboot, kinds);
	sup_peer = sv[1];
	qmpd_peer = -1;
	attach_qmpd();
}

static void ctl_stop(void)
{
	close(CTL.sup);
	control_exit(&CTL);
	closep(&sup_peer);
	closep(&qmpd_peer);
}

static void ctl_setup(void)
{
	ctl_start(0, NULL);
}

TestSuite(control, .init = ctl_setup, .fini = ctl_stop);

static void ask(struct qmp_request *r)
{
	static uint32_t tag = 100;

	r->tag = ++tag;
	cr_assert_eq(ipc_qmp_request_send(qmpd_peer, r), 0);
	cr_assert_eq(control_qmpd_fd(&CTL), CTL.qmpd);
	control_on_qmpd(&CTL);
}

static void ask_cmd(uint32_t cmd)
{
	struct qmp_request r = { .cmd = cmd };

	ask(&r);
}

/* Next message to qmpd: 'R' with *rep, or 'E' with *ev. */
static char next_out(struct qmp_reply *rep, struct qmp_event *ev)
{
	struct ipc_msg *m = calloc(1, sizeof(*m));
	char kind;

	cr_assert(readable(qmpd_peer), "nothing was sent to qmpd");
	cr_assert_eq(ipc_recv(qmpd_peer, &as_qmpd, m), 1);
	if (m->hdr.type == IPC_QMP_REPLY) {
		cr_assert_eq(ipc_qmp_reply_decode(m, rep), 0);
		kind = 'R';
	} else {
		cr_assert_eq(ipc_qmp_event_decode(m, ev), 0);
		kind = 'E';
	}
	free(m);
	return kind;
}

static struct qmp_reply expect_reply(uint32_t cmd, uint32_t err)
{
	struct qmp_reply rep;
	struct qmp_event ev;

	cr_assert_eq(next_out(&rep, &ev), 'R', "an event (%u) came instead of the reply", ev.kind);
	cr_assert_eq(rep.cmd, cmd);
	cr_assert_eq(rep.error, err, "error %u (%s), want %u", rep.error, rep.desc, err);
	return rep;
}

static struct qmp_event expect_event(uint32_t kind)
{
	struct qmp_reply rep;
	struct qmp_event ev;

	cr_assert_eq(next_out(&rep, &ev), 'E', "a reply came instead of event %u", kind);
	cr_assert_eq(ev.kind, kind, "event %u, want %u", ev.kind, kind);
	cr_assert_gt(ev.seconds, 1600000000, "a real CLOCK_REALTIME timestamp");
	return ev;
}

static void expect_quiet(void)
{
	cr_assert_not(readable(qmpd_peer), "unexpected message to qmpd");
	cr_assert_not(readable(sup_peer), "unexpected message to the supervisor");
}

Test(control, stop_cont_and_query_status)
{
	struct qmp_reply r;

	ask_cmd(QMP_CMD_QUERY_STATUS);
	r = expect_reply(QMP_CMD_QUERY_STATUS, QMP_OK);
	cr_assert_eq(r.u.runstate, QMP_RUN_RUNNING);
	ask_cmd(QMP_CMD_STOP);
	expect_event(QMP_EV_STOP);
	expect_reply(QMP_CMD_STOP, QMP_OK);
	cr_assert_eq(FV.pauses, 1);
	ask_cmd(QMP_CMD_STOP);
	expect_reply(QMP_CMD_STOP, QMP_OK);
	cr_assert_eq(FV.pauses, 1, "stop while paused pauses nothing and says nothing");
	ask_cmd(QMP_CMD_QUERY_STATUS);
	cr_assert_eq(expect_reply(QMP_CMD_QUERY_STATUS, QMP_OK).u.runstate, QMP_RUN_PAUSED);
	ask_cmd(QMP_CMD_CONT);
	expect_event(QMP_EV_RESUME);
	expect_reply(QMP_CMD_CONT, QMP_OK);
	cr_assert_eq(FV.resumes, 1);
	ask_cmd(QMP_CMD_CONT);
	expect_reply(QMP_CMD_CONT, QMP_OK);
	cr_assert_eq(FV.resumes, 1);
	ask_cmd(QMP_CMD_QUERY_STATUS);
	cr_assert_eq(expect_reply(QMP_CMD_QUERY_STATUS, QMP_OK).u.runstate, QMP_RUN_RUNNING);
	expect_quiet();
}

Test(control, quit_sends_shutdown_before_the_end)
{
	struct qmp_event ev;

	ask_cmd(QMP_CMD_QUIT);
	expect_reply(QMP_CMD_QUIT, QMP_OK);
	ev = expect_event(QMP_EV_SHUTDOWN);
	cr_assert_eq(ev.guest, 0);
	cr_assert_str_eq(ev.reason, "host-qmp-quit");
	cr_assert_eq(FV.end_why, VM_EXIT_POWEROFF);
	/* the main loop then reports the end; nothing is said twice */
	control_vm_ending(&CTL, VM_EXIT_POWEROFF);
	expect_quiet();
}

Test(control, system_reset_and_powerdown)
{
	struct qmp_event ev;

	ask_cmd(QMP_CMD_SYSTEM_POWERDOWN);
	expect_event(QMP_EV_POWERDOWN);
	expect_reply(QMP_CMD_SYSTEM_POWERDOWN, QMP_OK);
	cr_assert_eq(FV.powerdowns, 1);
	cr_assert_eq(FV.end_why, 0, "the guest decides what the power button does");
	ask_cmd(QMP_CMD_SYSTEM_RESET);
	expect_reply(QMP_CMD_SYSTEM_RESET, QMP_OK);
	ev = expect_event(QMP_EV_RESET);
	cr_assert_eq(ev.guest, 0);
	ev = expect_event(QMP_EV_SHUTDOWN);
	cr_assert_eq(ev.guest, 0);
	cr_assert_eq(FV.end_why, VM_EXIT_RESET);
	control_vm_ending(&CTL, VM_EXIT_RESET);
	expect_quiet();
}

Test(control, guest_initiated_ends)
{
	struct qmp_event ev;

	control_vm_ending(&CTL, VM_EXIT_RESET);
	ev = expect_event(QMP_EV_RESET);
	cr_assert_eq(ev.guest, 1);
	ev = expect_event(QMP_EV_SHUTDOWN);
	cr_assert_eq(ev.guest, 1);
	cr_assert_str_eq(ev.reason, "guest-reset");
	expect_quiet();
	ctl_stop();
	ctl_start(0, NULL);
	control_vm_ending(&CTL, VM_EXIT_POWEROFF);
	ev = expect_event(QMP_EV_SHUTDOWN);
	cr_assert_eq(ev.guest, 1);
	cr_assert_str_eq(ev.reason, "guest-shutdown");
	control_vm_ending(&CTL, VM_EXIT_ERROR);
	expect_quiet();
}

Test(control, cpus_balloon_netdev)
{
	struct qmp_request r = { .cmd = QMP_CMD_NETDEV_ADD };
	struct qmp_reply rep;

	ask_cmd(QMP_CMD_QUERY_CPUS);
	rep = expect_reply(QMP_CMD_QUERY_CPUS, QMP_OK);
	cr_assert_eq(rep.u.cpus.n, 2);
	cr_assert_eq(rep.u.cpus.cpu[1].thread_id, 1235);
	cr_assert_eq(rep.u.cpus.cpu[1].halted, 1);
	ask_cmd(QMP_CMD_QUERY_HOTPLUGGABLE_CPUS);
	cr_assert_eq(expect_reply(QMP_CMD_QUERY_HOTPLUGGABLE_CPUS, QMP_OK).u.cpus.n, 2);
	ask_cmd(QMP_CMD_QUERY_BALLOON);
	rep = expect_reply(QMP_CMD_QUERY_BALLOON, QMP_ERR_DEVICE_NOT_ACTIVE);
	cr_assert_str_eq(rep.desc, "No balloon device has been activated");
	ask_cmd(QMP_CMD_BALLOON);
	expect_reply(QMP_CMD_BALLOON, QMP_ERR_DEVICE_NOT_ACTIVE);
	strcpy(r.u.netdev_add.id, "9net");
	strcpy(r.u.netdev_add.ifname, "tap0");
	ask(&r);
	cr_assert(strstr(expect_reply(QMP_CMD_NETDEV_ADD, QMP_ERR_GENERIC).desc, "Invalid id"));
	strcpy(r.u.netdev_add.id, "net0");
	strcpy(r.u.netdev_add.ifname, "a/b");
	ask(&r);
	cr_assert(strstr(expect_reply(QMP_CMD_NETDEV_ADD, QMP_ERR_GENERIC).desc, "Invalid ifname"));
	strcpy(r.u.netdev_add.ifname, "tap0");
	ask(&r);
	cr_assert(strstr(expect_reply(QMP_CMD_NETDEV_ADD, QMP_ERR_GENERIC).desc,
			 "needs a network worker"), "validated, and still refused");
	expect_quiet();
}

/* ---- control.c: disk hotplug against a fake supervisor ---- */

static struct hotplug_request sup_expect(uint32_t op)
{
	struct ipc_msg *m = calloc(1, sizeof(*m));
	struct hotplug_request h;

	cr_assert(readable(sup_peer), "nothing was asked of the supervisor");
	cr_assert_eq(ipc_recv(sup_peer, &as_sup, m), 1);
	cr_assert_eq(ipc_hotplug_request_decode(m, &h), 0);
	cr_assert_eq(h.op, op, "op %u, want %u", h.op, op);
	free(m);
	cr_assert_eq(control_qmpd_fd(&CTL), -1, "qmpd is not read while the supervisor works");
	return h;
}

static void sup_answer(const struct hotplug_request *h, uint32_t err, const char *desc, int fd)
{
	struct hotplug_reply r = { .tag = h->tag, .error = err };

	snprintf(r.desc, sizeof(r.desc), "%s", desc);
	cr_assert_eq(ipc_hotplug_reply_send(sup_peer, &r, fd), 0);
	cr_assert_eq(control_on_supervisor(&CTL), 0);
}

static void add_node(const char *name, const char *file)
{
	struct qmp_request r = { .cmd = QMP_CMD_BLOCKDEV_ADD };
	struct hotplug_request h;

	strcpy(r.u.blockdev_add.node_name, name);
	strcpy(r.u.blockdev_add.filename, file);
	r.u.blockdev_add.read_only = 1;
	ask(&r);
	h = sup_expect(HOTPLUG_BLOCKDEV_ADD);
	cr_assert_str_eq(h.node_name, name);
	cr_assert_str_eq(h.filename, file);
	cr_assert_eq(h.read_only, 1);
	sup_answer(&h, QMP_OK, "", -1);
	expect_reply(QMP_CMD_BLOCKDEV_ADD, QMP_OK);
}

static struct qmp_request dev_req(const char *id, const char *drive, int addr)
{
	struct qmp_request r = { .cmd = QMP_CMD_DEVICE_ADD };

	strcpy(r.u.device_add.id, id);
	strcpy(r.u.device_add.driver, "virtio-blk-mmio");
	strcpy(r.u.device_add.drive, drive);
	r.u.device_add.has_addr = addr >= 0;
	r.u.device_add.addr = addr >= 0 ? (uint32_t)addr : 0;
	return r;
}

/* device_add that the core refuses by itself: the error, and the supervisor hears nothing */
static void refused(struct qmp_request r, uint32_t cmd, const char *want)
{
	struct qmp_reply rep;

	ask(&r);
	rep = expect_reply(cmd, QMP_ERR_GENERIC);
	cr_assert(strstr(rep.desc, want), "'%s' does not say '%s'", rep.desc, want);
	expect_quiet();
}

static void plug(const char *id, const char *drive, int addr, unsigned want_slot)
{
	struct qmp_request r = dev_req(id, drive, addr);
	struct hotplug_request h;
	int p[2];

	ask(&r);
	h = sup_expect(HOTPLUG_DEVICE_ADD);
	cr_assert_eq(h.slot, want_slot);
	cr_assert_str_eq(h.device_id, id);
	cr_assert_str_eq(h.node_name, drive[0] ? drive : id);
	cr_assert_eq(pipe(p), 0);
	close(p[1]);
	sup_answer(&h, QMP_OK, "", p[0]);
	close(p[0]);
	expect_reply(QMP_CMD_DEVICE_ADD, QMP_OK);
	cr_assert_eq(FV.last_slot, want_slot);
	cr_assert(FV.last_hotplug);
	cr_assert_str_eq(FV.last_name, id);
}

Test(control, hotplug_add_use_and_remove)
{
	static const uint32_t boot[] = { IPC_DEV_BLK };
	struct qmp_request r = { .cmd = QMP_CMD_DEVICE_DEL };
	struct hotplug_request h;
	struct qmp_event ev;

	ctl_stop();
	ctl_start(1, boot);
	add_node("disk1", "/img/one");
	plug("vdb", "disk1", 2, 2);
	/* every way to get it wrong, each answered by the core alone, nothing changed */
	add_node("disk2", "/img/two");
	refused(dev_req("vdb", "disk2", 3), QMP_CMD_DEVICE_ADD, "Duplicate ID");
	refused(dev_req("vdc", "disk2", 2), QMP_CMD_DEVICE_ADD, "already in use");
	refused(dev_req("vdc", "disk2", 0), QMP_CMD_DEVICE_ADD, "already in use");
	refused(dev_req("vdc", "disk2", 6), QMP_CMD_DEVICE_ADD, "not a disk slot");
	refused(dev_req("vdc", "disk1", 3), QMP_CMD_DEVICE_ADD, "already in use by device 'vdb'");
	refused(dev_req("vdc", "nosuch", 3), QMP_CMD_DEVICE_ADD, "Unknown drive");
	refused(dev_req("vdc", "", 3), QMP_CMD_DEVICE_ADD, "Unknown drive 'vdc'");
	refused(dev_req("-bad", "disk2", 3), QMP_CMD_DEVICE_ADD, "Invalid id");
	r = dev_req("vdc", "disk2", 3);
	strcpy(r.u.device_add.driver, "virtio-net-mmio");
	refused(r, QMP_CMD_DEVICE_ADD, "needs a network worker");
	strcpy(r.u.device_add.driver, "e1000");
	refused(r, QMP_CMD_DEVICE_ADD, "cannot be hot-plugged");
	r = (struct qmp_request){ .cmd = QMP_CMD_BLOCKDEV_DEL };
	strcpy(r.u.id, "disk1");
	refused(r, QMP_CMD_BLOCKDEV_DEL, "busy");
	strcpy(r.u.id, "nosuch");
	refused(r, QMP_CMD_BLOCKDEV_DEL, "Failed to find node");
	r = (struct qmp_request){ .cmd = QMP_CMD_BLOCKDEV_ADD };
	strcpy(r.u.blockdev_add.node_name, "disk1");
	strcpy(r.u.blockdev_add.filename, "/img/x");
	refused(r, QMP_CMD_BLOCKDEV_ADD, "Duplicate nodes");
	/* without addr: the first empty disk slot (0 is the boot disk's) */
	plug("vdc", "disk2", -1, 1);
	/* device_del: detach, the supervisor stops the worker, then the event */
	r = (struct qmp_request){ .cmd = QMP_CMD_DEVICE_DEL };
	strcpy(r.u.id, "nosuch");
	ask(&r);
	expect_reply(QMP_CMD_DEVICE_DEL, QMP_ERR_DEVICE_NOT_FOUND);
	strcpy(r.u.id, "vdb");
	ask(&r);
	cr_assert_eq(FV.unplugs, 1);
	cr_assert_eq(FV.last_slot, 2);
	h = sup_expect(HOTPLUG_DEVICE_DEL);
	cr_assert_eq(h.slot, 2);
	{
		/* the worker saw EOF and the supervisor restarted it before it read our request:
		 * that backend must not bring the disk back */
		struct backend_attach a = { .slot = 2, .kind = IPC_DEV_BLK, .name = "disk1" };
		unsigned n = FV.attaches;
		int fd = dup(0);

		cr_assert_eq(ipc_backend_attach_send(sup_peer, &a, fd), 0);
		close(fd);
		cr_assert_eq(control_on_supervisor(&CTL), 0);
		cr_assert_eq(FV.attaches, n, "a late backend for a slot being emptied is dropped");
	}
	sup_answer(&h, QMP_OK, "", -1);
	expect_reply(QMP_CMD_DEVICE_DEL, QMP_OK);
	ev = expect_event(QMP_EV_DEVICE_DELETED);
	cr_assert_str_eq(ev.device, "vdb");
	/* the node is free again: blockdev-del goes through, and so does a new device in 2 */
	plug("vdd", "disk1", 2, 2);
	expect_quiet();
}

Test(control, supervisor_errors_change_nothing)
{
	struct qmp_request r = { .cmd = QMP_CMD_BLOCKDEV_ADD };
	struct qmp_reply rep;
	struct hotplug_request h;

	strcpy(r.u.blockdev_add.node_name, "d");
	strcpy(r.u.blockdev_add.filename, "/missing");
	ask(&r);
	h = sup_expect(HOTPLUG_BLOCKDEV_ADD);
	sup_answer(&h, QMP_ERR_GENERIC, "Could not open '/missing': No such file or directory", -1);
	rep = expect_reply(QMP_CMD_BLOCKDEV_ADD, QMP_ERR_GENERIC);
	cr_assert_str_eq(rep.desc, "Could not open '/missing': No such file or directory");
	refused(dev_req("v", "d", 1), QMP_CMD_DEVICE_ADD, "Unknown drive");
	add_node("d", "/present");
	/* the supervisor cannot start the worker: slot and node stay free */
	r = dev_req("v", "d", 1);
	ask(&r);
	h = sup_expect(HOTPLUG_DEVICE_ADD);
	sup_answer(&h, QMP_ERR_GENERIC, "starting bulkhead-blk failed", -1);
	expect_reply(QMP_CMD_DEVICE_ADD, QMP_ERR_GENERIC);
	plug("v", "d", 1, 1);
	/* blockdev-del after device_del */
	r = (struct qmp_request){ .cmd = QMP_CMD_DEVICE_DEL };
	strcpy(r.u.id, "v");
	ask(&r);
	h = sup_expect(HOTPLUG_DEVICE_DEL);
	sup_answer(&h, QMP_OK, "", -1);
	expect_reply(QMP_CMD_DEVICE_DEL, QMP_OK);
	expect_event(QMP_EV_DEVICE_DELETED);
	r = (struct qmp_request){ .cmd = QMP_CMD_BLOCKDEV_DEL };
	strcpy(r.u.id, "d");
	ask(&r);
	h = sup_expect(HOTPLUG_BLOCKDEV_DEL);
	cr_assert_str_eq(h.node_name, "d");
	sup_answer(&h, QMP_OK, "", -1);
	expect_reply(QMP_CMD_BLOCKDEV_DEL, QMP_OK);
	refused(dev_req("v", "d", 1), QMP_CMD_DEVICE_ADD, "Unknown drive");
}

Test(control, a_worker_that_will_not_attach_is_stopped_again)
{
	struct qmp_request r = dev_req("v", "d", 4);
	struct hotplug_request h;
	int p[2];

	add_node("d", "/img");
	FV.attach_ret = -EPROTO;
	ask(&r);
	h = sup_expect(HOTPLUG_DEVICE_ADD);
	cr_assert_eq(pipe(p), 0);
	sup_answer(&h, QMP_OK, "", p[0]);
	close(p[0]);
	close(p[1]);
	cr_assert(!readable(qmpd_peer), "no answer before the worker is gone again");
	h = sup_expect(HOTPLUG_DEVICE_DEL);
	cr_assert_eq(h.slot, 4);
	sup_answer(&h, QMP_OK, "", -1);
	cr_assert(strstr(expect_reply(QMP_CMD_DEVICE_ADD, QMP_ERR_GENERIC).desc, "did not attach"));
	FV.attach_ret = 0;
	plug("v", "d", 4, 4);
	expect_quiet();
}

Test(control, supervisor_protocol)
{
	static const uint32_t boot[] = { IPC_DEV_BLK, IPC_DEV_VHOST_USER_BLK };
	struct hotplug_reply rep = { .tag = 1 };
	struct backend_attach a = { .slot = 0, .kind = IPC_DEV_BLK, .name = "root" };
	struct hotplug_request h;
	struct qmp_request r = dev_req("v", "d", 3);
	int fd = dup(0), before;

	ctl_stop();
	ctl_start(2, boot);
	cr_assert_eq(control_boot_waiting(&CTL), 2);
	cr_assert_eq(ipc_backend_attach_send(sup_peer, &a, fd), 0);
	cr_assert_eq(control_on_supervisor(&CTL), 0);
	cr_assert_eq(FV.attaches, 1);
	cr_assert_eq(control_boot_waiting(&CTL), 1);
	/* a restarted worker for a slot that is empty by now: dropped, not attached */
	a.slot = 5;
	before = count_fds();
	cr_assert_eq(ipc_backend_attach_send(sup_peer, &a, fd), 0);
	cr_assert_eq(control_on_supervisor(&CTL), 0);
	cr_assert_eq(FV.attaches, 1);
	cr_assert_eq(count_fds(), before, "its socket was closed");
	/* the wrong kind for slot 1 (a vhost-user-blk-device) is a lie */
	a.slot = 1;
	cr_assert_eq(ipc_backend_attach_send(sup_peer, &a, fd), 0);
	cr_assert_eq(control_on_supervisor(&CTL), -EPROTO);
	/* an answer to a question never asked */
	cr_assert_eq(ipc_hotplug_reply_send(sup_peer, &rep, -1), 0);
	cr_assert_eq(control_on_supervisor(&CTL), -EPROTO);
	/* an answer with the wrong tag, and one without the promised fd */
	add_node("d", "/img");
	ask(&r);
	h = sup_expect(HOTPLUG_DEVICE_ADD);
	rep.tag = h.tag + 1;
	cr_assert_eq(ipc_hotplug_reply_send(sup_peer, &rep, -1), 0);
	cr_assert_eq(control_on_supervisor(&CTL), -EPROTO);
	rep.tag = h.tag;
	cr_assert_eq(ipc_hotplug_reply_send(sup_peer, &rep, -1), 0);
	cr_assert_eq(control_on_supervisor(&CTL), -EPROTO);
	/* the boot-phase message in the run phase */
	{
		struct core_config c = { .ncpus = 1, .mem_size = 256 * MiB };
		struct core_config_fds f = { .kernel = fd, .initrd = -1, .mem = -1 };

		cr_assert_eq(ipc_core_config_send(sup_peer, &c, &f), 0);
		cr_assert_eq(control_on_supervisor(&CTL), -EPROTO);
	}
	close(sup_peer);
	sup_peer = -1;
	cr_assert_eq(control_on_supervisor(&CTL), -EPIPE);
	close(fd);
}

Test(control, qmpd_that_breaks_the_protocol_is_dropped_and_replaced)
{
	struct qmp_event e = { .kind = QMP_EV_STOP };
	struct qmp_request r = { .cmd = QMP_CMD_QUERY_STATUS, .tag = 7 };

	/* qmpd may only send requests */
	cr_assert_eq(ipc_qmp_event_send(qmpd_peer, &e), 0);
	control_on_qmpd(&CTL);
	cr_assert_eq(control_qmpd_fd(&CTL), -1);
	attach_qmpd();
	/* a request with a command out of range */
	r.cmd = QMP_CMD_MAX;
	cr_assert_eq(ipc_send(qmpd_peer, IPC_QMP_REQUEST, &r, sizeof(r), NULL, 0), 0);
	control_on_qmpd(&CTL);
	cr_assert_eq(control_qmpd_fd(&CTL), -1);
	attach_qmpd();
	ask_cmd(QMP_CMD_QUERY_STATUS);
	expect_reply(QMP_CMD_QUERY_STATUS, QMP_OK);
	/* a qmpd that goes away in the middle of a hotplug: its successor hears nothing of it */
	{
		struct qmp_request b = { .cmd = QMP_CMD_BLOCKDEV_ADD };
		struct hotplug_request h;

		strcpy(b.u.blockdev_add.node_name, "n");
		strcpy(b.u.blockdev_add.filename, "/f");
		ask(&b);
		h = sup_expect(HOTPLUG_BLOCKDEV_ADD);
		attach_qmpd();
		sup_answer(&h, QMP_OK, "", -1);
		expect_quiet();
		/* but the node exists */
		refused(b, QMP_CMD_BLOCKDEV_ADD, "Duplicate nodes");
	}
}

Test(control, backend_failure_pauses_and_tells)
{
	struct backend_failed b = { .slot = 0, .name = "rootfs" };
	struct qmp_event ev;

	cr_assert_eq(ipc_backend_failed_send(sup_peer, &b), 0);
	cr_assert_eq(control_on_supervisor(&CTL), 0);
	ev = expect_event(QMP_EV_BACKEND_FAILED);
	cr_assert_str_eq(ev.device, "rootfs");
	expect_event(QMP_EV_STOP);
	cr_assert_eq(FV.pauses, 1);
	ask_cmd(QMP_CMD_QUERY_STATUS);
	cr_assert_eq(expect_reply(QMP_CMD_QUERY_STATUS, QMP_OK).u.runstate, QMP_RUN_PAUSED);
	b.name[0] = '\0';
	cr_assert_eq(ipc_backend_failed_send(sup_peer, &b), 0);
	cr_assert_eq(control_on_supervisor(&CTL), -EPROTO, "a nameless failure is malformed");
}

Test(control, ids)
{
	cr_assert(control_id_ok("drive-0.a_b"));
	cr_assert_not(control_id_ok(""));
	cr_assert_not(control_id_ok("0drive"));
	cr_assert_not(control_id_ok("a b"));
	cr_assert_not(control_id_ok("a/b"));
}
