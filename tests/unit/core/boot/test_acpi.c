/* ACPI tables: build them, then parse them back the way an OS would (checksums, pointers,
 * MADT entries) and decode the DSDT's AML with the tests' own strict decoder (aml_decode.c);
 * the GED's _EVT method is run by a tiny evaluator. The AML builder itself: test_aml.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "le.h"
#include "test_desc.h"
#include "acpi.h"
#include "aml_decode.h"
#include "ged.h"

#define BASE LAYOUT_ACPI_BASE

static uint8_t tbuf[LAYOUT_ACPI_SIZE];


static long build(unsigned ncpus, unsigned nmmio)
{
	struct machine_desc d = make_desc(ncpus, nmmio);
	memset(tbuf, 0xcc, sizeof(tbuf));
	long n = acpi_build(tbuf, sizeof(tbuf), BASE, &d);
	cr_assert_gt(n, 0, "acpi_build: %ld", n);
	return n;
}

/* Guest-physical address -> table inside tbuf, checked like an OS would: signature,
 * length inside the built area, checksum zero. */
static const uint8_t *table_at(uint64_t gpa, const char *sig, long used)
{
	cr_assert_geq(gpa, BASE);
	cr_assert_lt(gpa - BASE + 36, (uint64_t)used, "%s out of range", sig);
	const uint8_t *t = tbuf + (gpa - BASE);
	cr_assert_eq(memcmp(t, sig, 4), 0, "signature %.4s != %s", (const char *)t, sig);
	uint32_t len = le_get32(t + 4);
	cr_assert_leq(gpa - BASE + len, (uint64_t)used, "%s length %u past end", sig, len);
	cr_assert_eq(checksum8(t, len), 0, "%s checksum", sig);
	cr_assert_eq(memcmp(t + 10, "BLKHD ", 6), 0);
	return t;
}

static const uint8_t *xsdt_find(const char *sig, long used)
{
	const uint8_t *x = table_at(le_get64(tbuf + 24), "XSDT", used);
	uint32_t n = (le_get32(x + 4) - 36) / 8;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *t = tbuf + (le_get64(x + 36 + 8 * i) - BASE);
		if (!memcmp(t, sig, 4))
			return table_at(le_get64(x + 36 + 8 * i), sig, used);
	}
	cr_assert_fail("%s not in XSDT", sig);
	return NULL;
}

Test(acpi, rsdp_and_xsdt)
{
	long used = build(2, 16);
	const uint8_t *r = tbuf;

	cr_assert_eq(memcmp(r, "RSD PTR ", 8), 0);
	cr_assert_eq(checksum8(r, 20), 0, "RSDP v1 checksum");
	cr_assert_eq(r[15], 2, "revision");
	cr_assert_eq(le_get32(r + 20), 36, "RSDP length");
	cr_assert_eq(checksum8(r, 36), 0, "RSDP extended checksum");
	cr_assert_eq(memcmp(r + 9, "BLKHD ", 6), 0);
	cr_assert_eq(le_get64(r + 24) % 8, 0);

	const uint8_t *x = table_at(le_get64(r + 24), "XSDT", used);
	cr_assert_eq(le_get32(x + 4), 36 + 16, "XSDT lists exactly FADT and MADT");
	const char *want[] = { "FACP", "APIC" };
	for (int i = 0; i < 2; i++)
		table_at(le_get64(x + 36 + 8 * i), want[i], used);
}

static void check_gas_io8(const uint8_t *g, uint16_t port)
{
	cr_assert_eq(g[0], 1, "SystemIO");
	cr_assert_eq(g[1], 8, "bit width");
	cr_assert_eq(g[2], 0, "bit offset");
	cr_assert_eq(g[3], 1, "byte access");
	cr_assert_eq(le_get64(g + 4), port);
}

Test(acpi, fadt)
{
	long used = build(1, 3);
	const uint8_t *f = xsdt_find("FACP", used);

	cr_assert_eq(le_get32(f + 4), 276);
	cr_assert_eq(f[8], 6, "revision");
	uint32_t flags = le_get32(f + 112);
	cr_assert(flags & (1u << 20), "HW_REDUCED_ACPI");
	cr_assert(flags & (1u << 10), "RESET_REG_SUP");
	cr_assert_eq(le_get16(f + 109), (1u << 1) | (1u << 2), "IAPC_BOOT_ARCH 8042 | no VGA");
	cr_assert_neq(le_get16(f + 46), 0, "SCI_INT 0 would capture the IRQ0 override");
	uint64_t x_dsdt = le_get64(f + 140);
	cr_assert_eq(le_get32(f + 40), x_dsdt, "DSDT and X_DSDT agree");
	table_at(x_dsdt, "DSDT", used);
	check_gas_io8(f + 116, ACPI_PM_RESET);
	cr_assert_eq(f[128], ACPI_PM_RESET_VALUE);
	check_gas_io8(f + 244, ACPI_PM_SLEEP_CTL);
	check_gas_io8(f + 256, ACPI_PM_SLEEP_STS);
	cr_assert_eq(memcmp(f + 268, "BLKHEAD", 7), 0);
	/* no legacy fixed hardware described */
	for (int off = 56; off < 88; off++)
		cr_assert_eq(f[off], 0, "PM/GPE block byte %d", off);
}

static void check_madt(unsigned ncpus)
{
	long used = build(ncpus, 16);
	const uint8_t *m = xsdt_find("APIC", used);
	uint32_t len = le_get32(m + 4);
	unsigned nlapic = 0, nioapic = 0, niso = 0;

	cr_assert_eq(le_get32(m + 36), LAYOUT_LAPIC_BASE);
	for (uint32_t off = 44; off < len;) {
		const uint8_t *e = m + off;
		cr_assert_geq(e[1], 2, "entry length");
		cr_assert_leq(off + e[1], len, "entry crosses table end");
		switch (e[0]) {
		case 0:
			cr_assert_eq(e[1], 8);
			cr_assert_eq(e[2], nlapic, "uid");
			cr_assert_eq(e[3], nlapic, "apic id");
			cr_assert_eq(le_get32(e + 4), 1, "enabled");
			nlapic++;
			break;
		case 1:
			cr_assert_eq(e[1], 12);
			cr_assert_eq(e[2], ncpus, "IOAPIC id after the CPUs'");
			cr_assert_eq(le_get32(e + 4), LAYOUT_IOAPIC_BASE);
			cr_assert_eq(le_get32(e + 8), 0, "GSI base");
			nioapic++;
			break;
		case 2:
			cr_assert_eq(e[1], 10);
			cr_assert_eq(e[2], 0, "ISA bus");
			cr_assert_eq(e[3], 0, "IRQ0");
			cr_assert_eq(le_get32(e + 4), 2, "-> GSI2");
			niso++;
			break;
		default:
			cr_assert_fail("unexpected MADT entry type %u", e[0]);
		}
		off += e[1];
	}
	cr_assert_eq(nlapic, ncpus);
	cr_assert_eq(nioapic, 1);
	cr_assert_eq(niso, 1);
	cr_assert_eq(len, 44 + 8 * ncpus + 12 + 10);
}

Test(acpi, madt_1) { check_madt(1); }
Test(acpi, madt_2) { check_madt(2); }
Test(acpi, madt_254) { check_madt(254); }

static void decode_dsdt(long used)
{
	const uint8_t *f = xsdt_find("FACP", used);
	const uint8_t *t = table_at(le_get64(f + 140), "DSDT", used);

	cr_assert_eq(t[8], 2, "DSDT revision 2 (64-bit integers)");
	nnodes = 0;
	dec_termlist(t, 36, le_get32(t + 4), "\\");
}

Test(acpi, dsdt_devices)
{
	struct machine_desc d = make_desc(2, 16);
	char path[64], id[8];

	decode_dsdt(build(2, 16));
	find("\\_SB_", K_SCOPE);
	find("\\_SB_.COM1", K_DEVICE);
	eisaid_str(find("\\_SB_.COM1._HID", K_INT)->ival, id);
	cr_assert_str_eq(id, "PNP0501");
	cr_assert_eq(find("\\_SB_.COM1._UID", K_INT)->ival, 0);
	struct res r = dec_res(find("\\_SB_.COM1._CRS", K_BUF));
	cr_assert_eq(r.io_min, 0x3f8);
	cr_assert_eq(r.io_max, 0x3f8);
	cr_assert_eq(r.io_len, 8);
	cr_assert_eq(r.irq_mask, 1 << 4);

	for (unsigned i = 0; i < 16; i++) {
		snprintf(path, sizeof(path), "\\_SB_.V%03u", i);
		find(path, K_DEVICE);
		snprintf(path, sizeof(path), "\\_SB_.V%03u._HID", i);
		cr_assert_str_eq(find(path, K_STR)->str, "LNRO0005");
		snprintf(path, sizeof(path), "\\_SB_.V%03u._UID", i);
		cr_assert_eq(find(path, K_INT)->ival, i);
		snprintf(path, sizeof(path), "\\_SB_.V%03u._CRS", i);
		r = dec_res(find(path, K_BUF));
		cr_assert_eq(r.mem_base, (int64_t)d.mmio[i].base);
		cr_assert_eq(r.mem_size, (int64_t)d.mmio[i].size);
		cr_assert_eq(r.ext_irq, (int)d.mmio[i].irq);
		cr_assert_eq(r.ext_flags, 0x03, "consumer, edge, high, exclusive");
	}
	snprintf(path, sizeof(path), "\\_SB_.V%03u", 16);
	for (unsigned i = 0; i < nnodes; i++)
		cr_assert_str_neq(nodes[i].path, path, "more devices than slots");

	const struct node *s5 = find("\\_S5_", K_PKG);
	cr_assert_geq(s5->npkg, 1);
	cr_assert_eq(s5->pkg[0], ACPI_S5_SLP_TYP);
}

Test(acpi, dsdt_no_mmio_and_odd_slots)
{
	struct machine_desc d = make_desc(1, 2);

	d.mmio[1].base = 0xfe000000;
	d.mmio[1].size = 0x200;
	d.mmio[1].irq = 23;
	memset(tbuf, 0, sizeof(tbuf));
	long used = acpi_build(tbuf, sizeof(tbuf), BASE, &d);
	cr_assert_gt(used, 0);
	decode_dsdt(used);
	struct res r = dec_res(find("\\_SB_.V001._CRS", K_BUF));
	cr_assert_eq(r.mem_base, 0xfe000000);
	cr_assert_eq(r.mem_size, 0x200);
	cr_assert_eq(r.ext_irq, 23);

	decode_dsdt(build(1, 0));
	find("\\_SB_.COM1", K_DEVICE);
	for (unsigned i = 0; i < nnodes; i++)
		cr_assert_neq(strncmp(nodes[i].path, "\\_SB_.V", 7), 0, "%s", nodes[i].path);
}

/*
 * A tiny AML evaluator for the GED's _EVT: just the opcodes a method body may use here
 * (Store, And, LEqual, If, Notify, Local0-7, constants, names). Reading ESEL behaves like
 * ged.c: it returns the pending events and clears them. Anything else fails the test, so
 * the DSDT cannot grow constructs nobody checked.
 */
struct evt_run {
	uint32_t esel;
	unsigned esel_reads, notifies;
	char notified[64];
	uint64_t notify_value;
	uint64_t local[8];
};

static uint64_t eval(const uint8_t *p, size_t *pos, size_t end, struct evt_run *r);

static bool name_lead(uint8_t c)
{
	return c == '\\' || c == '^' || c == '_' || c == 0x2e || c == 0x2f || (c >= 'A' && c <= 'Z');
}

static uint64_t eval_name(const uint8_t *p, size_t *pos, struct evt_run *r)
{
	char name[64];

	dec_name(p, pos, name, sizeof(name));
	cr_assert_str_eq(name, "ESEL", "_EVT reads %s, only ESEL is expected", name);
	r->esel_reads++;
	uint32_t v = r->esel;
	r->esel = 0;
	return v;
}

static void store_local(const uint8_t *p, size_t *pos, struct evt_run *r, uint64_t v)
{
	uint8_t t = p[(*pos)++];

	if (t == 0x00)
		return;                 /* NullName: no target */
	cr_assert(t >= 0x60 && t <= 0x67, "target 0x%02x is not a Local", t);
	r->local[t - 0x60] = v;
}

static uint64_t eval_if(const uint8_t *p, size_t *pos, size_t end, struct evt_run *r)
{
	size_t iend = dec_pkglen(p, pos, end);

	if (eval(p, pos, iend, r))
		while (*pos < iend)
			eval(p, pos, iend, r);
	*pos = iend;
	cr_assert(*pos >= end || p[*pos] != 0xa1, "Else is not expected");
	return 0;
}

static uint64_t eval(const uint8_t *p, size_t *pos, size_t end, struct evt_run *r)
{
	uint64_t v, a, b;
	char name[64];

	cr_assert_lt(*pos, end, "expression runs past its package");
	if (dec_int(p, pos, &v))
		return v;
	if (name_lead(p[*pos]))
		return eval_name(p, pos, r);
	uint8_t op = p[(*pos)++];
	switch (op) {
	case 0x60 ... 0x67:
		return r->local[op - 0x60];
	case 0x70:                      /* Store (source, Local) */
		v = eval(p, pos, end, r);
		store_local(p, pos, r, v);
		return v;
	case 0x7b:                      /* And (a, b, target) */
		a = eval(p, pos, end, r);
		b = eval(p, pos, end, r);
		store_local(p, pos, r, a & b);
		return a & b;
	case 0x93:                      /* LEqual (a, b) */
		a = eval(p, pos, end, r);
		b = eval(p, pos, end, r);
		return a == b;
	case 0xa0:
		return eval_if(p, pos, end, r);
	case 0x86:                      /* Notify (object, value) */
		dec_name(p, pos, name, sizeof(name));
		snprintf(r->notified, sizeof(r->notified), "%s", name);
		r->notify_value = eval(p, pos, end, r);
		r->notifies++;
		return 0;
	default:
		cr_assert_fail("opcode 0x%02x in _EVT", op);
		return 0;
	}
}

static struct evt_run run_evt(const struct node *m, uint32_t esel)
{
	struct evt_run r = { .esel = esel };
	size_t pos = 0;

	while (pos < m->buflen)
		eval(m->buf, &pos, m->buflen, &r);
	cr_assert_eq(pos, m->buflen);
	return r;
}

Test(acpi, dsdt_generic_event_device)
{
	char id[8];

	decode_dsdt(build(1, 6));
	find("\\_SB_.GED_", K_DEVICE);
	cr_assert_str_eq(find("\\_SB_.GED_._HID", K_STR)->str, "ACPI0013");
	struct res r = dec_res(find("\\_SB_.GED_._CRS", K_BUF));
	cr_assert_eq(r.ext_irq, LAYOUT_GED_GSI);
	cr_assert_eq(r.ext_flags, 0x03, "consumer, edge, high, exclusive");
	const struct node *reg = find("\\_SB_.GED_.EREG", K_REGION);
	cr_assert_eq(reg->pkg[0], 0, "SystemMemory");
	cr_assert_eq(reg->pkg[1], LAYOUT_GED_BASE + GED_REG_EVT_SEL);
	cr_assert_eq(reg->pkg[2], 4);
	const struct node *f = find("\\_SB_.GED_.ESEL", K_FIELD);
	cr_assert_str_eq(f->str, "EREG");
	cr_assert_eq(f->ival, 32, "ESEL is 32 bits wide");
	cr_assert_eq(f->pkg[0], 0x43, "DWordAcc, NoLock, WriteAsZeros");
	cr_assert_eq(find("\\_SB_.GED_._EVT", K_METHOD)->ival, 0x09, "1 argument, Serialized");
	find("\\_SB_.PWRB", K_DEVICE);
	eisaid_str(find("\\_SB_.PWRB._HID", K_INT)->ival, id);
	cr_assert_str_eq(id, "PNP0C0C", "control-method power button");
}

/* Every selector value: Notify (PWRB, 0x80) exactly when the power-down bit is set, and the
 * selector is read once per interrupt (a read clears it). */
Test(acpi, ged_evt_notifies_the_power_button)
{
	static const uint32_t sel[] = { 0, 1, 2, 3, 4, 0xfffffffd, 0xffffffff, 0x80000002 };

	decode_dsdt(build(2, 16));
	const struct node *m = find("\\_SB_.GED_._EVT", K_METHOD);
	for (size_t i = 0; i < sizeof(sel) / sizeof(sel[0]); i++) {
		struct evt_run r = run_evt(m, sel[i]);
		bool pwr = sel[i] & GED_EVT_PWR_DOWN;

		cr_assert_eq(r.esel_reads, 1, "ESEL 0x%x: read %u times", sel[i], r.esel_reads);
		cr_assert_eq(r.notifies, pwr ? 1 : 0, "ESEL 0x%x: %u notifies", sel[i], r.notifies);
		if (!pwr)
			continue;
		cr_assert_eq(r.notify_value, 0x80, "button status change");
		find(r.notified, K_DEVICE);
		cr_assert_str_eq(r.notified, "\\_SB_.PWRB");
	}
}

Test(acpi, enospc_and_bounds)
{
	struct machine_desc d = make_desc(254, 16);
	static uint8_t big[LAYOUT_ACPI_SIZE + 64];
	long need = acpi_build(tbuf, sizeof(tbuf), BASE, &d);

	cr_assert_gt(need, 0);
	cr_assert_leq(need, (long)LAYOUT_ACPI_SIZE, "254 CPUs + 16 slots must fit");
	size_t lens[] = { 0, 1, 35, 36, 100, 200, (size_t)need / 2, (size_t)need - 1 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(big, 0xaa, sizeof(big));
		cr_assert_eq(acpi_build(big, lens[i], BASE, &d), -ENOSPC, "len %zu", lens[i]);
		for (size_t j = lens[i]; j < sizeof(big); j++)
			cr_assert_eq(big[j], 0xaa, "len %zu: wrote byte %zu", lens[i], j);
	}
	memset(big, 0xaa, sizeof(big));
	cr_assert_eq(acpi_build(big, (size_t)need, BASE, &d), need);
	cr_assert_eq(memcmp(big, tbuf, (size_t)need), 0, "same tables whatever the spare room");
	cr_assert_eq(big[need], 0xaa);
}

Test(acpi, invalid_desc)
{
	struct machine_desc d = make_desc(0, 1);

	cr_assert_eq(acpi_build(tbuf, sizeof(tbuf), BASE, &d), -EINVAL);
	d.ncpus = 255;
	cr_assert_eq(acpi_build(tbuf, sizeof(tbuf), BASE, &d), -EINVAL);
	d.ncpus = 1;
	d.nmmio = LAYOUT_VIRTIO_MMIO_SLOTS + 1;
	cr_assert_eq(acpi_build(tbuf, sizeof(tbuf), BASE, &d), -EINVAL);
	d.nmmio = 1;
	d.mmio[0].irq = LAYOUT_IOAPIC_PINS;
	cr_assert_eq(acpi_build(tbuf, sizeof(tbuf), BASE, &d), -EINVAL);
	d.mmio[0].irq = 5;
	d.mmio[0].base = 0xfffff800;        /* window would cross 4 GiB */
	cr_assert_eq(acpi_build(tbuf, sizeof(tbuf), BASE, &d), -EINVAL);
	d.mmio[0].base = LAYOUT_VIRTIO_MMIO_BASE;
	d.mmio[0].irq = LAYOUT_GED_GSI;
	cr_assert_eq(acpi_build(tbuf, sizeof(tbuf), BASE, &d), -EINVAL, "the GED's GSI");
	d.mmio[0].irq = 5;
	d.mmio[0].base = LAYOUT_GED_BASE + LAYOUT_GED_SIZE - 0x200;
	d.mmio[0].size = 0x200;
	cr_assert_eq(acpi_build(tbuf, sizeof(tbuf), BASE, &d), -EINVAL, "the GED's window");
	d.mmio[0].base = LAYOUT_GED_BASE + LAYOUT_GED_SIZE;
	cr_assert_gt(acpi_build(tbuf, sizeof(tbuf), BASE, &d), 0, "right after the GED window");
	d.mmio[0].base = LAYOUT_VIRTIO_MMIO_BASE;
	d.mmio[0].size = LAYOUT_VIRTIO_MMIO_SIZE;
	cr_assert_eq(acpi_build(tbuf, sizeof(tbuf), BASE + 4, &d), -EINVAL, "RSDP misaligned");
	cr_assert_gt(acpi_build(tbuf, sizeof(tbuf), BASE, &d), 0);
}

/* A second opinion from ACPICA, the interpreter Linux runs: iasl must disassemble the DSDT
 * without complaint into the ASL QEMU microvm's GED and power button have (scripts/deps.sh
 * installs acpica-tools). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char text[64 * 1024];
	size_t n;

	cr_assert_not_null(f, "%s", path);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	return text;
}

Test(acpi, iasl_disassembles_the_dsdt)
{
	char dir[] = "/tmp/test-acpi.XXXXXX", cmd[512], path[300];
	static const char *const want[] = {
		"Device (GED)", "Name (_HID, \"ACPI0013\"", ("Interrupt (ResourceConsumer, Edge, "
		 "ActiveHigh, Exclusive"), "OperationRegion (EREG, SystemMemory, 0xFEA00000, 0x04)",
		"Field (EREG, DWordAcc, NoLock, WriteAsZeros)", "ESEL,   32",
		"Method (_EVT, 1, Serialized)", "Local0 = ESEL", "If (((Local0 & 0x02) == 0x02))",
		"Notify (\\_SB.PWRB, 0x80)", "Device (PWRB)", "EisaId (\"PNP0C0C\")",
	};
	long used = build(1, 2);
	const uint8_t *f = xsdt_find("FACP", used);
	const uint8_t *t = table_at(le_get64(f + 140), "DSDT", used);
	FILE *out;
	int st;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dsdt.dat", dir);
	out = fopen(path, "wb");
	cr_assert_not_null(out);
	cr_assert_eq(fwrite(t, 1, le_get32(t + 4), out), le_get32(t + 4));
	fclose(out);
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d dsdt.dat >iasl.log 2>&1", dir);
	st = system(cmd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 127,
		  "iasl not found: install acpica-tools (scripts/deps.sh)");
	snprintf(path, sizeof(path), "%s/iasl.log", dir);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "iasl -d failed:\n%s", slurp(path));
	cr_assert_null(strstr(slurp(path), "Error"), "iasl:\n%s", slurp(path));
	snprintf(path, sizeof(path), "%s/dsdt.dsl", dir);
	const char *dsl = slurp(path);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert_not_null(strstr(dsl, want[i]), "no '%s' in:\n%s", want[i], dsl);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
