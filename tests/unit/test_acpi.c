/* ACPI tables and the AML builder: build the tables, then parse them back the way an OS
 * would (checksums, pointers, MADT entries) and decode the DSDT's AML with a small
 * independent decoder that is strict about PkgLength boundaries. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "le.h"
#include "test_desc.h"
#include "acpi.h"
#include "aml.h"

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

/* ---- a small, strict AML decoder ---- */

enum kind { K_SCOPE, K_DEVICE, K_INT, K_STR, K_BUF, K_PKG };

struct node {
	char path[64];
	enum kind kind;
	uint64_t ival;
	char str[32];
	const uint8_t *buf;
	size_t buflen;
	uint64_t pkg[8];
	unsigned npkg;
};

static struct node nodes[128];
static unsigned nnodes;

/* PkgLength at *pos; returns the end offset of the package and advances *pos. */
static size_t dec_pkglen(const uint8_t *p, size_t *pos, size_t limit)
{
	size_t start = *pos;
	uint8_t lead = p[(*pos)++];
	unsigned extra = lead >> 6;
	uint32_t len;

	if (extra == 0) {
		len = lead & 0x3f;
	} else {
		cr_assert_eq(lead & 0x30, 0, "PkgLength reserved bits set");
		len = lead & 0xf;
		for (unsigned i = 0; i < extra; i++)
			len |= (uint32_t)p[(*pos)++] << (4 + 8 * i);
	}
	cr_assert_gt(len, *pos - start, "PkgLength shorter than itself");
	cr_assert_leq(start + len, limit, "package runs past its parent");
	return start + len;
}

static void dec_seg(const uint8_t *p, size_t *pos, char *out)
{
	for (int i = 0; i < 4; i++) {
		char c = (char)p[*pos + i];
		cr_assert((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_',
			  "bad NameSeg char 0x%02x", (unsigned)(uint8_t)c);
		cr_assert(i > 0 || !(c >= '0' && c <= '9'), "NameSeg starts with a digit");
	}
	memcpy(out, p + *pos, 4);
	out[4] = 0;
	*pos += 4;
}

/* NameString -> "\\A.B" (absolute) or "A.B" (relative) */
static void dec_name(const uint8_t *p, size_t *pos, char *out, size_t cap)
{
	char seg[5];
	unsigned nseg = 1;

	out[0] = 0;
	if (p[*pos] == '\\') {
		strcat(out, "\\");
		(*pos)++;
	}
	if (p[*pos] == 0x2e) {
		nseg = 2;
		(*pos)++;
	} else if (p[*pos] == 0x2f) {
		nseg = p[*pos + 1];
		*pos += 2;
	} else if (p[*pos] == 0) {
		nseg = 0;
		(*pos)++;
	}
	for (unsigned i = 0; i < nseg; i++) {
		dec_seg(p, pos, seg);
		if (i)
			strcat(out, ".");
		cr_assert_lt(strlen(out) + 5, cap);
		strcat(out, seg);
	}
}

static void join(char *out, const char *scope, const char *name)
{
	if (name[0] == '\\')
		snprintf(out, 64, "%s", name);
	else if (!strcmp(scope, "\\"))
		snprintf(out, 64, "\\%s", name);
	else
		snprintf(out, 64, "%s.%s", scope, name);
}

static struct node *new_node(const char *path, enum kind k)
{
	cr_assert_lt(nnodes, 128);
	struct node *n = &nodes[nnodes++];
	memset(n, 0, sizeof(*n));
	snprintf(n->path, sizeof(n->path), "%s", path);
	n->kind = k;
	return n;
}

/* Integer constants; returns false when the opcode is not one */
static bool dec_int(const uint8_t *p, size_t *pos, uint64_t *v)
{
	static const unsigned width[] = { [0x0a] = 1, [0x0b] = 2, [0x0c] = 4, [0x0e] = 8 };
	uint8_t op = p[*pos];

	if (op == 0x00 || op == 0x01) {
		*v = op;
		(*pos)++;
		return true;
	}
	if (op >= sizeof(width) / sizeof(width[0]) || !width[op])
		return false;
	*v = 0;
	for (unsigned i = 0; i < width[op]; i++)
		*v |= (uint64_t)p[*pos + 1 + i] << (8 * i);
	*pos += 1 + width[op];
	return true;
}

static void dec_data(const uint8_t *p, size_t *pos, size_t limit, struct node *n)
{
	uint8_t op = p[*pos];
	size_t end;
	uint64_t v;

	if (dec_int(p, pos, &n->ival)) {
		n->kind = K_INT;
	} else if (op == 0x0d) {
		const char *s = (const char *)p + *pos + 1;
		size_t l = strnlen(s, limit - *pos - 1);
		cr_assert_lt(l, sizeof(n->str));
		memcpy(n->str, s, l + 1);
		n->kind = K_STR;
		*pos += l + 2;
	} else if (op == 0x11) {
		(*pos)++;
		end = dec_pkglen(p, pos, limit);
		cr_assert(dec_int(p, pos, &v), "BufferSize not an integer");
		cr_assert_eq(v, end - *pos, "BufferSize %lu != bytes %zu", (unsigned long)v,
			     end - *pos);
		n->kind = K_BUF;
		n->buf = p + *pos;
		n->buflen = (size_t)v;
		*pos = end;
	} else if (op == 0x12) {
		(*pos)++;
		end = dec_pkglen(p, pos, limit);
		unsigned count = p[(*pos)++];
		n->kind = K_PKG;
		while (*pos < end) {
			cr_assert(dec_int(p, pos, &v), "package element not an integer");
			cr_assert_lt(n->npkg, 8);
			n->pkg[n->npkg++] = v;
		}
		cr_assert_eq(*pos, end);
		cr_assert_eq(count, n->npkg, "NumElements");
	} else {
		cr_assert_fail("unknown data object opcode 0x%02x", op);
	}
	cr_assert_leq(*pos, limit);
}

static void dec_termlist(const uint8_t *p, size_t pos, size_t end, const char *scope)
{
	char name[64], path[64];

	while (pos < end) {
		uint8_t op = p[pos++];
		if (op == 0x08) {
			dec_name(p, &pos, name, sizeof(name));
			join(path, scope, name);
			dec_data(p, &pos, end, new_node(path, K_INT));
		} else if (op == 0x10 || (op == 0x5b && p[pos] == 0x82)) {
			bool dev = op == 0x5b;
			pos += dev;
			size_t pend = dec_pkglen(p, &pos, end);
			dec_name(p, &pos, name, sizeof(name));
			join(path, scope, name);
			new_node(path, dev ? K_DEVICE : K_SCOPE);
			dec_termlist(p, pos, pend, path);
			pos = pend;
		} else {
			cr_assert_fail("unexpected opcode 0x%02x at %zu", op, pos - 1);
		}
	}
	cr_assert_eq(pos, end, "term list overruns its package");
}

static const struct node *find(const char *path, enum kind k)
{
	for (unsigned i = 0; i < nnodes; i++)
		if (!strcmp(nodes[i].path, path)) {
			cr_assert_eq(nodes[i].kind, k, "%s has kind %d", path, nodes[i].kind);
			return &nodes[i];
		}
	cr_assert_fail("%s not found in DSDT", path);
	return NULL;
}

static void decode_dsdt(long used)
{
	const uint8_t *f = xsdt_find("FACP", used);
	const uint8_t *t = table_at(le_get64(f + 140), "DSDT", used);

	cr_assert_eq(t[8], 2, "DSDT revision 2 (64-bit integers)");
	nnodes = 0;
	dec_termlist(t, 36, le_get32(t + 4), "\\");
}

static void eisaid_str(uint64_t v, char out[8])
{
	uint32_t id = __builtin_bswap32((uint32_t)v);
	out[0] = (char)('@' + ((id >> 26) & 0x1f));
	out[1] = (char)('@' + ((id >> 21) & 0x1f));
	out[2] = (char)('@' + ((id >> 16) & 0x1f));
	snprintf(out + 3, 5, "%04X", id & 0xffff);
}

/* Resource template walker: fills what it finds, asserts on anything unknown. */
struct res {
	int io_min, io_max, io_len, irq_mask;
	int64_t mem_base, mem_size;
	int ext_irq, ext_flags;
	bool end_tag;
};

static struct res dec_res(const struct node *b)
{
	struct res r = { -1, -1, -1, -1, -1, -1, -1, -1, false };
	size_t i = 0;

	while (i < b->buflen) {
		const uint8_t *d = b->buf + i;
		cr_assert(!r.end_tag, "descriptor after end tag");
		if (d[0] & 0x80) {
			size_t l = le_get16(d + 1);
			cr_assert_leq(i + 3 + l, b->buflen);
			if (d[0] == 0x86) {
				cr_assert_eq(l, 9);
				cr_assert_eq(d[3], 1, "ReadWrite");
				r.mem_base = le_get32(d + 4);
				r.mem_size = le_get32(d + 8);
			} else if (d[0] == 0x89) {
				cr_assert_eq(l, 6);
				cr_assert_eq(d[4], 1, "one interrupt");
				r.ext_flags = d[3];
				r.ext_irq = (int)le_get32(d + 5);
			} else {
				cr_assert_fail("large item 0x%02x", d[0]);
			}
			i += 3 + l;
		} else {
			unsigned type = (d[0] >> 3) & 0xf, l = d[0] & 7;
			cr_assert_leq(i + 1 + l, b->buflen);
			if (type == 0x08) {
				cr_assert_eq(l, 7);
				cr_assert_eq(d[1], 1, "Decode16");
				r.io_min = le_get16(d + 2);
				r.io_max = le_get16(d + 4);
				r.io_len = d[7];
			} else if (type == 0x04) {
				cr_assert_eq(l, 2, "IRQNoFlags");
				r.irq_mask = le_get16(d + 1);
			} else if (type == 0x0f) {
				cr_assert_eq(l, 1);
				cr_assert_eq(d[1], 0, "end tag checksum 0 (no checksum)");
				r.end_tag = true;
			} else {
				cr_assert_fail("small item type 0x%x", type);
			}
			i += 1 + l;
		}
	}
	cr_assert(r.end_tag, "no end tag");
	cr_assert_eq(i, b->buflen);
	return r;
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
	cr_assert_eq(acpi_build(tbuf, sizeof(tbuf), BASE + 4, &d), -EINVAL, "RSDP misaligned");
	cr_assert_gt(acpi_build(tbuf, sizeof(tbuf), BASE, &d), 0);
}

/* ---- AML builder ---- */

Test(aml, pkglen_encoding_boundaries)
{
	static const struct { uint32_t v; int n; uint8_t b[4]; } cases[] = {
		{ 0, 1, { 0x00 } },
		{ 63, 1, { 0x3f } },
		{ 64, 2, { 0x40, 0x04 } },
		{ 0x123, 2, { 0x43, 0x12 } },
		{ 4095, 2, { 0x4f, 0xff } },
		{ 4096, 3, { 0x80, 0x00, 0x01 } },
		{ 0xfffff, 3, { 0x8f, 0xff, 0xff } },
		{ 0x100000, 4, { 0xc0, 0x00, 0x00, 0x01 } },
		{ 0xfffffff, 4, { 0xcf, 0xff, 0xff, 0xff } },
	};
	uint8_t out[4];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 0x55, sizeof(out));
		cr_assert_eq(aml_pkglen_encode(out, cases[i].v), cases[i].n, "len %u", cases[i].v);
		cr_assert_eq(memcmp(out, cases[i].b, (size_t)cases[i].n), 0, "bytes for %u",
			     cases[i].v);
	}
	cr_assert_eq(aml_pkglen_encode(out, 0x10000000), -EINVAL);
}

/* Wrap n content bytes in a Scope and check the PkgLength the decoder reads covers them
 * exactly: the self-inclusive length is where off-by-one bugs live. */
static void check_wrapped(uint8_t *buf, size_t cap, size_t n)
{
	struct aml a;
	size_t mark, pos = 1, end;

	aml_init(&a, buf, cap);
	mark = aml_scope_begin(&a, "ABCD");
	for (size_t i = 0; i < n - 4; i++)
		aml_bytes(&a, (uint8_t[]){ (uint8_t)(i * 7) }, 1);
	aml_end(&a, mark);
	cr_assert_eq(aml_error(&a), 0, "n %zu", n);
	cr_assert_eq(buf[0], 0x10);
	end = dec_pkglen(buf, &pos, a.len);
	cr_assert_eq(end, a.len, "content %zu: package end %zu != written %zu", n, end, a.len);
	cr_assert_eq(a.len - pos, n, "content %zu moved", n);
	cr_assert_eq(memcmp(buf + pos, "ABCD", 4), 0);
	for (size_t i = 0; i < n - 4; i++)
		cr_assert_eq(buf[pos + 4 + i], (uint8_t)(i * 7), "content %zu byte %zu", n, i);
	size_t lead = pos - 1;
	size_t want = n + 1 <= 63 ? 1 : n + 2 <= 4095 ? 2 : n + 3 <= 0xfffff ? 3 : 4;
	cr_assert_eq(lead, want, "content %zu: %zu PkgLength bytes, want %zu", n, lead, want);
}

Test(aml, pkglen_self_inclusive_boundaries)
{
	size_t cap = 2 * MiB;
	uint8_t *buf = malloc(cap);
	static const size_t base[] = { 63, 4095, 0xfffff };

	cr_assert_not_null(buf);
	for (size_t b = 0; b < 3; b++)
		for (size_t n = base[b] - 4; n <= base[b] + 4; n++)
			check_wrapped(buf, cap, n);
	check_wrapped(buf, cap, 4);
	free(buf);
}

Test(aml, namestrings_and_integers)
{
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "\\_SB_.COM1");
	aml_namestring(&a, "A.B.C");
	aml_namestring(&a, "_S5");
	aml_namestring(&a, "^FOO");
	cr_assert_eq(aml_error(&a), 0);
	static const uint8_t want[] = {
		'\\', 0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1',
		0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_',
		'_', 'S', '5', '_',
		'^', 'F', 'O', 'O', '_',
	};
	cr_assert_eq(a.len, sizeof(want));
	cr_assert_eq(memcmp(buf, want, sizeof(want)), 0);

	aml_init(&a, buf, sizeof(buf));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 0xff);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 0x100000000ull);
	aml_eisaid(&a, "PNP0501");
	static const uint8_t ints[] = {
		0x00, 0x01, 0x0a, 0xff, 0x0b, 0x00, 0x01, 0x0c, 0x00, 0x00, 0x01, 0x00,
		0x0e, 0, 0, 0, 0, 1, 0, 0, 0,
		0x0c, 0x41, 0xd0, 0x05, 0x01,   /* EISAID("PNP0501") == 0x0105d041 */
	};
	cr_assert_eq(aml_error(&a), 0);
	cr_assert_eq(a.len, sizeof(ints));
	cr_assert_eq(memcmp(buf, ints, sizeof(ints)), 0);
}

Test(aml, errors_are_sticky)
{
	uint8_t buf[8];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "abc");
	cr_assert_eq(aml_error(&a), -EINVAL, "lower case");
	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "TOOLONG");
	cr_assert_eq(aml_error(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "1ABC");
	cr_assert_eq(aml_error(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_eisaid(&a, "PNP05G1");
	cr_assert_eq(aml_error(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_res_irq_noflags(&a, 16);
	cr_assert_eq(aml_error(&a), -EINVAL);

	aml_init(&a, buf, sizeof(buf));
	aml_string(&a, "LNRO0005");             /* 10 bytes > 8 */
	cr_assert_eq(aml_error(&a), -ENOSPC);
	size_t len = a.len;
	aml_integer(&a, 0);
	aml_end(&a, 0);
	cr_assert_eq(a.len, len, "nothing written after an error");
	cr_assert_eq(aml_error(&a), -ENOSPC, "first error kept");

	/* PkgLength insertion that no longer fits */
	aml_init(&a, buf, sizeof(buf));
	size_t m = aml_package_begin(&a, 1);
	aml_integer(&a, 0x12345);               /* op + count + DWord + One = 8: full */
	aml_integer(&a, 1);
	cr_assert_eq(aml_error(&a), 0);
	aml_end(&a, m);
	cr_assert_eq(aml_error(&a), -ENOSPC);
}
