/* MP table: build it, then parse it back as Linux's mpparse would: floating pointer, header,
 * checksums, and every entry (CPUs, bus, IOAPIC, interrupt assignments). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include "le.h"
#include "test_desc.h"
#include "mptable.h"

#define BASE LAYOUT_MPTABLE_BASE

static uint8_t tbuf[LAYOUT_MPTABLE_SIZE];


struct parsed {
	unsigned ncpu, nbus, nioapic, nintsrc, nlint;
	int cpu_id[256];
	uint8_t cpu_flags[256];
	int ioapic_id;
	int pin_of_irq[256];        /* ISA-bus source irq -> IOAPIC pin, -1 if none */
	uint16_t flags_of_irq[256];
	int lint_type[2];
};

static struct parsed parse(long used)
{
	struct parsed p;
	const uint8_t *f = tbuf;

	memset(&p, 0, sizeof(p));
	p.ioapic_id = -1;
	memset(p.pin_of_irq, 0xff, sizeof(p.pin_of_irq));
	p.lint_type[0] = p.lint_type[1] = -1;

	cr_assert_eq(memcmp(f, "_MP_", 4), 0);
	cr_assert_eq(f[8], 1, "length in paragraphs");
	cr_assert_eq(f[9], 4, "spec 1.4");
	cr_assert_eq(checksum8(f, 16), 0, "floating pointer checksum");
	cr_assert_eq(f[11], 0, "feature byte 1: config table present, no default config");
	uint32_t phys = le_get32(f + 4);
	cr_assert_eq(phys, BASE + 16, "table right after the floating pointer");

	const uint8_t *t = tbuf + (phys - BASE);
	uint16_t len = le_get16(t + 4);
	cr_assert_eq(memcmp(t, "PCMP", 4), 0);
	cr_assert_eq(t[6], 4);
	cr_assert_eq(16 + len, used, "returned size == floating pointer + table");
	cr_assert_eq(checksum8(t, len), 0, "table checksum");
	cr_assert_eq(le_get32(t + 36), LAYOUT_LAPIC_BASE);
	cr_assert_eq(le_get16(t + 40), 0, "no extended table");

	unsigned count = 0;
	for (size_t off = 44; off < len; count++) {
		const uint8_t *e = t + off;
		size_t elen = e[0] == 0 ? 20 : 8;
		cr_assert_leq(off + elen, len, "entry crosses table end");
		cr_assert_leq(e[0], 4, "unknown entry type %u", e[0]);
		switch (e[0]) {
		case 0:
			cr_assert_eq(e[2], 0x14, "LAPIC version");
			p.cpu_id[p.ncpu] = e[1];
			p.cpu_flags[p.ncpu++] = e[3];
			break;
		case 1:
			cr_assert_eq(e[1], 0, "bus id");
			cr_assert_eq(memcmp(e + 2, "ISA   ", 6), 0);
			p.nbus++;
			break;
		case 2:
			cr_assert_eq(e[2], 0x11, "IOAPIC version");
			cr_assert_eq(e[3] & 1, 1, "IOAPIC enabled");
			cr_assert_eq(le_get32(e + 4), LAYOUT_IOAPIC_BASE);
			p.ioapic_id = e[1];
			p.nioapic++;
			break;
		case 3:
			cr_assert_eq(e[1], 0, "mp_INT");
			cr_assert_eq(e[4], 0, "ISA bus");
			cr_assert_eq(p.pin_of_irq[e[5]], -1, "IRQ %u listed twice", e[5]);
			p.pin_of_irq[e[5]] = e[7];
			p.flags_of_irq[e[5]] = le_get16(e + 2);
			cr_assert_eq(e[6], p.ioapic_id, "destination IOAPIC id");
			p.nintsrc++;
			break;
		case 4:
			cr_assert_eq(e[6], 0xff, "all LAPICs");
			cr_assert_lt(e[7], 2);
			p.lint_type[e[7]] = e[1];
			p.nlint++;
			break;
		}
		off += elen;
	}
	cr_assert_eq(count, le_get16(t + 34), "entry count");
	return p;
}

static void check_cpus(unsigned ncpus)
{
	struct machine_desc d = make_desc(ncpus, 16);
	memset(tbuf, 0xcc, sizeof(tbuf));
	long used = mptable_build(tbuf, sizeof(tbuf), BASE, &d);
	cr_assert_gt(used, 0, "%ld", used);
	cr_assert_leq(used, (long)LAYOUT_MPTABLE_SIZE);

	struct parsed p = parse(used);
	cr_assert_eq(p.ncpu, ncpus);
	for (unsigned i = 0; i < ncpus; i++) {
		cr_assert_eq(p.cpu_id[i], (int)i, "APIC id");
		cr_assert_eq(p.cpu_flags[i] & 1, 1, "cpu %u enabled", i);
		cr_assert_eq(!!(p.cpu_flags[i] & 2), i == 0, "BSP flag on cpu %u", i);
	}
	cr_assert_eq(p.nbus, 1);
	cr_assert_eq(p.nioapic, 1);
	cr_assert_eq(p.ioapic_id, (int)ncpus, "IOAPIC id after the CPUs'");
}

Test(mptable, cpus_1) { check_cpus(1); }
Test(mptable, cpus_2) { check_cpus(2); }
Test(mptable, cpus_254) { check_cpus(254); }

Test(mptable, interrupts)
{
	struct machine_desc d = make_desc(2, 16);
	long used = mptable_build(tbuf, sizeof(tbuf), BASE, &d);
	cr_assert_gt(used, 0);
	struct parsed p = parse(used);

	cr_assert_eq(p.pin_of_irq[0], 2, "PIT: IRQ0 -> pin 2");
	cr_assert_eq(p.pin_of_irq[2], -1, "cascade IRQ2 has no entry (its pin is the PIT's)");
	for (int irq = 1; irq < 16; irq++)
		if (irq != 2)
			cr_assert_eq(p.pin_of_irq[irq], irq, "ISA IRQ %d identity", irq);
	for (unsigned i = 0; i < d.nmmio; i++) {
		unsigned irq = d.mmio[i].irq;
		cr_assert_eq(p.pin_of_irq[irq], (int)irq, "mmio slot %u irq %u", i, irq);
		if (irq >= 16)
			cr_assert_eq(p.flags_of_irq[irq], 0x5, "irq %u edge/high", irq);
	}
	for (int irq = 21; irq < 256; irq++)
		cr_assert_eq(p.pin_of_irq[irq], -1, "unused irq %d listed", irq);
	cr_assert_eq(p.nlint, 2);
	cr_assert_eq(p.lint_type[0], 3, "LINT0 ExtINT");
	cr_assert_eq(p.lint_type[1], 1, "LINT1 NMI");
}

Test(mptable, few_mmio_slots)
{
	struct machine_desc d = make_desc(1, 2);
	d.mmio[1].irq = 22;
	long used = mptable_build(tbuf, sizeof(tbuf), BASE, &d);
	cr_assert_gt(used, 0);
	struct parsed p = parse(used);
	cr_assert_eq(p.pin_of_irq[22], 22);
	cr_assert_eq(p.pin_of_irq[16], -1);
	cr_assert_eq(p.nintsrc, 15 + 1);
}

Test(mptable, errors)
{
	static uint8_t big[LAYOUT_MPTABLE_SIZE + 64];
	struct machine_desc d = make_desc(0, 4);

	cr_assert_eq(mptable_build(tbuf, sizeof(tbuf), BASE, &d), -EINVAL, "0 CPUs");
	d.ncpus = 255;
	cr_assert_eq(mptable_build(tbuf, sizeof(tbuf), BASE, &d), -EINVAL, "255 CPUs");
	d.ncpus = 254;
	cr_assert_eq(mptable_build(tbuf, sizeof(tbuf), BASE + 8, &d), -EINVAL, "misaligned");
	d.mmio[0].irq = 24;
	cr_assert_eq(mptable_build(tbuf, sizeof(tbuf), BASE, &d), -EINVAL, "no pin 24");
	d.mmio[0].irq = 5;

	long need = mptable_build(tbuf, sizeof(tbuf), BASE, &d);
	cr_assert_gt(need, 0);
	size_t lens[] = { 0, 15, 16, 59, 60, (size_t)need - 1 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(big, 0xaa, sizeof(big));
		cr_assert_eq(mptable_build(big, lens[i], BASE, &d), -ENOSPC, "len %zu", lens[i]);
		for (size_t j = lens[i]; j < sizeof(big); j++)
			cr_assert_eq(big[j], 0xaa, "len %zu wrote byte %zu", lens[i], j);
	}
	memset(big, 0xaa, sizeof(big));
	cr_assert_eq(mptable_build(big, (size_t)need, BASE, &d), need);
	cr_assert_eq(memcmp(big, tbuf, (size_t)need), 0);
}
