/* The reset-vector stub (vmm-core/core/boot/resetvec.c): where it lands, that nothing else the core
 * writes below 1 MiB overlaps it, that e820 keeps the guest from using it as RAM, and what
 * its real-mode code does when "run" against the core's own i8042: a reset request. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "boot.h"
#include "devices.h"
#include "layout.h"
#include "resetvec.h"

static struct guest_mem mem;

static void mem_new(void)
{
	guest_mem_layout(&mem, 256 * MiB);
	for (unsigned i = 0; i < mem.nr; i++) {
		void *p = mmap(NULL, mem.r[i].size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		cr_assert_neq(p, MAP_FAILED);
		mem.r[i].hva = p;
	}
}

static void mem_free(void)
{
	for (unsigned i = 0; i < mem.nr; i++)
		munmap(mem.r[i].hva, mem.r[i].size);
	memset(&mem, 0, sizeof(mem));
}

TestSuite(resetvec, .init = mem_new, .fini = mem_free);

Test(resetvec, stub_at_f000_fff0_then_hlt_padding)
{
	const uint8_t *p = guest_ptr(&mem, LAYOUT_RESET_VECTOR, 16);

	cr_assert_eq(LAYOUT_RESET_VECTOR, (0xf000u << 4) + 0xfff0u, "F000:FFF0");
	cr_assert_eq(resetvec_install(&mem), 0);
	cr_assert_eq(memcmp(p, resetvec_stub, sizeof(resetvec_stub)), 0);
	for (size_t i = sizeof(resetvec_stub); i < 16; i++)
		cr_assert_eq(p[i], 0xf4, "byte %zu up to 1 MiB is hlt", i);
}

Test(resetvec, no_ram_at_the_vector)
{
	struct guest_mem none = { .nr = 0 };

	cr_assert_eq(resetvec_install(&none), -EFAULT);
}

/* The firmware areas below 1 MiB end where the stub starts, and the guest's e820 reserves
 * the stub (a kernel that used it as RAM could overwrite it before rebooting). */
Test(resetvec, layout_and_e820)
{
	struct e820_entry t[BOOT_E820_MAX];
	unsigned n = boot_build_e820(&mem, t, BOOT_E820_MAX);
	bool reserved = false;

	cr_assert_leq(LAYOUT_MPTABLE_BASE + LAYOUT_MPTABLE_SIZE, LAYOUT_RESET_VECTOR);
	cr_assert_leq(LAYOUT_ACPI_BASE + LAYOUT_ACPI_SIZE, LAYOUT_MPTABLE_BASE);
	cr_assert_eq(LAYOUT_RESET_VECTOR + 16, LAYOUT_HIGHMEM_START);
	for (unsigned i = 0; i < n; i++) {
		bool covers = t[i].addr <= LAYOUT_RESET_VECTOR &&
			      LAYOUT_RESET_VECTOR + 16 <= t[i].addr + t[i].size;
		if (covers)
			reserved = t[i].type == E820_RESERVED;
	}
	cr_assert(reserved, "0xffff0..1 MiB is not an e820 reserved range");
}

struct exit_rec {
	unsigned n;
	enum vm_exit_reason why;
};

static void rec_exit(void *opaque, enum vm_exit_reason why)
{
	struct exit_rec *r = opaque;

	r->n++;
	r->why = why;
}

/*
 * Step through the stub the way a real-mode CPU would, for the few encodings it may use
 * (mov imm8 to AL, out AL to imm8 port, cli, hlt, jmp rel8), sending the out to the core's
 * i8042. It must request a reset before it first halts, and its loop must stay inside it.
 */
Test(resetvec, stub_resets_through_the_i8042)
{
	struct exit_rec rec = { 0 };
	struct i8042 kbc;
	uint8_t al = 0;
	size_t ip = 0;

	i8042_init(&kbc, (struct vm_ctl){ rec_exit, &rec });
	for (unsigned steps = 0; steps < 16 && rec.n == 0; steps++) {
		const uint8_t *i = resetvec_stub + ip;

		cr_assert_lt(ip, sizeof(resetvec_stub), "ran off the stub");
		if (i[0] == 0xb0) {
			al = i[1];
			ip += 2;
		} else if (i[0] == 0xe6) {
			cr_assert_eq(i[1], PORT_I8042_CMD, "out to port 0x%x", i[1]);
			bus_dev_access(&i8042_cmd_ops, &kbc, 0, &al, 1, true);
			ip += 2;
		} else {
			cr_assert_fail("opcode 0x%02x before the reset", i[0]);
		}
	}
	cr_assert_eq(rec.n, 1, "the stub did not reset the VM");
	cr_assert_eq(rec.why, VM_EXIT_RESET);
	/* what follows: cli; hlt; jmp back to the cli */
	cr_assert_eq(resetvec_stub[ip], 0xfa);
	cr_assert_eq(resetvec_stub[ip + 1], 0xf4);
	cr_assert_eq(resetvec_stub[ip + 2], 0xeb);
	cr_assert_eq(ip + 4 + (int8_t)resetvec_stub[ip + 3], ip, "the loop goes back to cli");
	cr_assert_eq(ip + 4, sizeof(resetvec_stub));
}
