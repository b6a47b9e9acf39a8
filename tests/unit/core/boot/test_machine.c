/* machine_append_mmio_cmdline(): golden strings in the format Linux's virtio_mmio
 * "device=<size>@<base>:<irq>" parser takes, and all-or-nothing behaviour on ENOSPC. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "machine.h"

static struct machine_desc make_desc(unsigned nmmio)
{
	struct machine_desc d = { .ncpus = 1, .nmmio = nmmio };
	for (unsigned i = 0; i < nmmio; i++) {
		d.mmio[i].base = LAYOUT_VIRTIO_MMIO_BASE + i * LAYOUT_VIRTIO_MMIO_SIZE;
		d.mmio[i].size = LAYOUT_VIRTIO_MMIO_SIZE;
		d.mmio[i].irq = LAYOUT_VIRTIO_FIRST_IRQ + i;
	}
	return d;
}

Test(machine, golden_two_slots)
{
	struct machine_desc d = make_desc(2);
	char buf[256] = "console=ttyS0 acpi=off";

	cr_assert_eq(machine_append_mmio_cmdline(buf, sizeof(buf), &d), 0);
	cr_assert_str_eq(buf, "console=ttyS0 acpi=off"
			 " virtio_mmio.device=4K@0xd0000000:5"
			 " virtio_mmio.device=4K@0xd0001000:6");
}

Test(machine, golden_other_size_and_high_irq)
{
	struct machine_desc d = make_desc(2);
	char buf[256] = "";

	d.mmio[0].size = 0x200;
	d.mmio[1].base = 0xfe00a000;
	d.mmio[1].size = 8192;
	d.mmio[1].irq = 23;
	cr_assert_eq(machine_append_mmio_cmdline(buf, sizeof(buf), &d), 0);
	cr_assert_str_eq(buf, " virtio_mmio.device=512@0xd0000000:5"
			 " virtio_mmio.device=8192@0xfe00a000:23");
}

Test(machine, sixteen_slots)
{
	struct machine_desc d = make_desc(LAYOUT_VIRTIO_MMIO_SLOTS);
	char buf[2048] = "x";
	const char *p = buf + 1;

	cr_assert_eq(machine_append_mmio_cmdline(buf, sizeof(buf), &d), 0);
	for (unsigned i = 0; i < LAYOUT_VIRTIO_MMIO_SLOTS; i++) {
		char want[64];
		snprintf(want, sizeof(want), " virtio_mmio.device=4K@0xd00%02x000:%u", i, 5 + i);
		cr_assert_eq(strncmp(p, want, strlen(want)), 0, "slot %u: %s", i, p);
		p += strlen(want);
	}
	cr_assert_eq(*p, '\0');
}

Test(machine, no_slots_no_change)
{
	struct machine_desc d = make_desc(0);
	char buf[8] = "abc";

	cr_assert_eq(machine_append_mmio_cmdline(buf, sizeof(buf), &d), 0);
	cr_assert_str_eq(buf, "abc");
}

Test(machine, enospc_leaves_cmdline_unchanged)
{
	struct machine_desc d = make_desc(2);
	const char *base = "root=/dev/vda";
	const char *full = "root=/dev/vda virtio_mmio.device=4K@0xd0000000:5"
			   " virtio_mmio.device=4K@0xd0001000:6";
	size_t need = strlen(full) + 1;
	char buf[256];

	/* every capacity short of the full string fails and leaves every byte as it was */
	for (size_t cap = strlen(base) + 1; cap < need; cap++) {
		memset(buf, 'Z', sizeof(buf));
		strcpy(buf, base);
		cr_assert_eq(machine_append_mmio_cmdline(buf, cap, &d), -ENOSPC, "cap %zu", cap);
		cr_assert_str_eq(buf, base);
		for (size_t j = strlen(base) + 1; j < sizeof(buf); j++)
			cr_assert_eq(buf[j], 'Z', "cap %zu: byte %zu written", cap, j);
	}
	memset(buf, 'Z', sizeof(buf));
	strcpy(buf, base);
	cr_assert_eq(machine_append_mmio_cmdline(buf, need, &d), 0, "exact fit");
	cr_assert_str_eq(buf, full);
	cr_assert_eq(buf[need], 'Z');
}

Test(machine, unterminated_input_rejected)
{
	struct machine_desc d = make_desc(1);
	char buf[4] = { 'a', 'b', 'c', 'd' };

	cr_assert_eq(machine_append_mmio_cmdline(buf, sizeof(buf), &d), -EINVAL);
	cr_assert_eq(memcmp(buf, "abcd", 4), 0);
}

/* Whole words only: a guest that asks for acpi=off ignores the tables and needs the i8042
 * for system_powerdown; anything that merely contains the string must not switch it. */
Test(machine, cmdline_acpi_off)
{
	static const char *const yes[] = {
		"acpi=off", "console=ttyS0 acpi=off", "acpi=off console=ttyS0",
		"a acpi=off b", "x\tacpi=off\n", "noacpi=off acpi=off",
	};
	static const char *const no[] = {
		"", "console=ttyS0", "acpi=on", "acpi=offx", "xacpi=off", "acpi=of",
		"acpi=force", "noacpi=off", "acpi=off_",
	};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		cr_assert(machine_cmdline_acpi_off(yes[i]), "'%s'", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		cr_assert(!machine_cmdline_acpi_off(no[i]), "'%s'", no[i]);
}
