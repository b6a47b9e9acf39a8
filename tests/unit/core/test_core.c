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
static const struct bus_dev_ops dev_ops = { .read = dev_read, .write = dev_write };

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
	/* stats pages follow the others, one per bit of stats_slots, by slot */
	c.flags = 0;
	c.stats_slots = (1u << 6) | (1u << 7);
	for (unsigned i = 0; i < IPC_MAX_SLOTS; i++)
		f.stats[i] = -1;
	f.stats[6] = 1;
	f.stats[7] = 2;
	cr_assert_eq(ipc_core_config_send(sv[0], &c, &f), 0);
	cr_assert_eq(ipc_recv(sv[1], &core_side, msg), 1);
	cr_assert_eq(msg->nfds, 3);
	cr_assert_eq(ipc_core_config_decode(msg, &out, &g), 0);
	cr_assert_eq(g.initrd, -1);
	cr_assert_eq(g.stats[5], -1);
	cr_assert_geq(g.stats[6], 0);
	cr_assert_geq(g.stats[7], 0);
	close(g.kernel);
	close(g.stats[6]);
	close(g.stats[7]);
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
	/* a stats page promised and not sent; a slot past IPC_MAX_SLOTS */
	c.ncpus = 1;
	c.stats_slots = 1u << 6;
	cr_assert_eq(ipc_send(sv[0], IPC_CORE_CONFIG, &c, sizeof(c), &fd, 1), 0);
	cr_assert_eq(ipc_recv(sv[1], &core_side, msg), 1);
	cr_assert_eq(ipc_core_config_decode(msg, &out, &g), -EPROTO);
	ipc_msg_close_fds(msg);
	c.stats_slots = 1u << IPC_MAX_SLOTS;
	cr_assert_eq(ipc_send(sv[0], IPC_CORE_CONFIG, &c, sizeof(c), (int[]){ fd, fd }, 2), 0);
	cr_assert_eq(ipc_recv(sv[1], &core_side, msg), 1);
	cr_assert_eq(ipc_core_config_decode(msg, &out, &g), -EPROTO);
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
	struct core_config_fds f = { .kernel = 0, .initrd = -1, .mem = -1 }, g = { .kernel = -1, .initrd = -1, .mem = -1 };
	int sv[2], r;

	pair(sv);
	cr_assert_eq(ipc_core_config_send(sv[0], c, &f), 0);
	cr_assert_eq(ipc_recv(sv[1], &core_side, msg), 1);
	r = ipc_core_config_decode(msg, &out, &g);
	if (r == 0) {
		cr_assert_eq(memcmp(out.slot_kind, c->slot_kind, sizeof(out.slot_kind)), 0);
		cr_assert_eq(memcmp(out.slot_mac, c->slot_mac, sizeof(out.slot_mac)), 0);
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
	struct core_config c = { .ncpus = 1, .mem_size = 256 * MiB,
				 .slot_kind = { IPC_DEV_BLK, IPC_DEV_VHOST_USER_BLK,
						[6] = IPC_DEV_NET },
				 .slot_mac = { [7] = { 0x52, 0x54, 0, 1, 2, 3 } } };

	cr_assert_eq(config_with_slots(&c), 0);
	memset(c.slot_kind, 0, sizeof(c.slot_kind));
	cr_assert_eq(config_with_slots(&c), 0, "no devices at boot");
	c.slot_kind[IPC_MAX_SLOTS - 1] = IPC_DEV_KIND_MAX;
	cr_assert_eq(config_with_slots(&c), -EINVAL, "unknown kind");
	for (unsigned i = 0; i < IPC_MAX_SLOTS; i++)
		c.slot_kind[i] = IPC_DEV_BLK;
	cr_assert_eq(config_with_slots(&c), 0, "every slot (the core checks what fits where)");
}
