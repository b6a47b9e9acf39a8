/* Checks of what the VMM hands the guest at boot: the command line, the e820 map and the
 * firmware tables (ACPI RSDP/XSDT/FADT/MADT, or the MP table with acpi=off). Every pointer
 * read from guest memory is bounded before it is followed, so a broken table gives a
 * PROBE FAIL line instead of a fault. */
#include "probe.h"

#define CMDLINE_MAX   0x10000      /* LAYOUT_CMDLINE_MAX */
#define MMIO_HOLE     0xc0000000UL
#define HIGH_RAM      0x100000000UL
#define EBDA          0x9fc00UL
#define MIB           0x100000UL
#define BIOS_LO       0xe0000UL
#define BIOS_HI       0x100000UL
#define TABLE_MAX     0x10000U     /* sanity cap on any ACPI/MP table length */

struct e820 {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));

static uint32_t rd32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint8_t sum8(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (n--)
		s += *b++;
	return s;
}

void check_cmdline(const uint8_t *bp)
{
	uint64_t ptr = rd32(bp + BP_CMD_LINE_PTR) | (uint64_t)rd32(bp + BP_EXT_CMD_LINE_PTR) << 32;
	const char *cl, *tok;
	size_t len, toklen;
	char tokbuf[65];

	if (!ptr || ptr >= HIGH_RAM - CMDLINE_MAX) {
		check_fail("cmdline", "cmd_line_ptr=0x%lx is not a low-memory address", ptr);
		return;
	}
	cl = phys(ptr);
	len = strnlen(cl, CMDLINE_MAX);
	if (len == CMDLINE_MAX) {
		check_fail("cmdline", "no NUL within %u bytes of 0x%lx", CMDLINE_MAX, ptr);
		return;
	}
	probe_set_cmdline(cl);
	pr("PROBE INFO cmdline at 0x%lx: %s\n", ptr, cl);
	tok = probe_arg("probe.token", &toklen);
	if (!tok || !toklen || toklen > 64) {
		check_fail("cmdline", "no probe.token=<1-64 chars> word in the command line");
		return;
	}
	memcpy(tokbuf, tok, toklen);
	tokbuf[toklen] = 0;
	check_ok("cmdline", "token=%s", tokbuf);
	check_ok("cmdline-parsed", "len=%lu", (uint64_t)len);
}

/* Is [a, b) covered by the union of RAM entries? */
static bool ram_covers(const struct e820 *t, unsigned n, uint64_t a, uint64_t b)
{
	uint64_t pos = a;
	bool moved = true;

	while (pos < b && moved) {
		moved = false;
		for (unsigned i = 0; i < n; i++) {
			if (t[i].type == 1 && t[i].addr <= pos && t[i].addr + t[i].size > pos) {
				pos = t[i].addr + t[i].size;
				moved = true;
			}
		}
	}
	return pos >= b;
}

static bool ram_overlaps(const struct e820 *t, unsigned n, uint64_t a, uint64_t b)
{
	for (unsigned i = 0; i < n; i++)
		if (t[i].type == 1 && t[i].addr < b && t[i].addr + t[i].size > a)
			return true;
	return false;
}

static void e820_expect(const struct e820 *t, unsigned n, uint64_t mem)
{
	uint64_t low_top = mem < MMIO_HOLE ? mem : MMIO_HOLE;
	uint64_t high = mem > MMIO_HOLE ? mem - MMIO_HOLE : 0;
	uint64_t want = EBDA + (low_top - MIB) + high, total = 0;

	for (unsigned i = 0; i < n; i++)
		if (t[i].type == 1)
			total += t[i].size;
	if (ram_covers(t, n, MIB, low_top))
		check_ok("e820-from-1m", "RAM 0x%lx-0x%lx", MIB, low_top);
	else
		check_fail("e820-from-1m", "RAM does not cover 0x%lx-0x%lx", MIB, low_top);
	if (ram_overlaps(t, n, low_top, HIGH_RAM) || ram_overlaps(t, n, HIGH_RAM + high, ~0UL))
		check_fail("e820-hole", "RAM inside 0x%lx-0x%lx or above 0x%lx", low_top, HIGH_RAM,
			   HIGH_RAM + high);
	else
		check_ok("e820-hole", "no RAM in 0x%lx-0x%lx or above 0x%lx", low_top, HIGH_RAM,
			 HIGH_RAM + high);
	if (high && !ram_covers(t, n, HIGH_RAM, HIGH_RAM + high))
		check_fail("e820-above-4g", "RAM does not cover 0x%lx-0x%lx", HIGH_RAM, HIGH_RAM + high);
	else if (high)
		check_ok("e820-above-4g", "RAM 0x%lx-0x%lx", HIGH_RAM, HIGH_RAM + high);
	if (total == want)
		check_ok("e820-total", "0x%lx bytes of RAM for mem=0x%lx", total, mem);
	else
		check_fail("e820-total", "RAM sums to 0x%lx, expected 0x%lx for mem=0x%lx",
			   total, want, mem);
}

void check_e820(const uint8_t *bp)
{
	unsigned n = bp[BP_E820_ENTRIES];
	const struct e820 *t = (const struct e820 *)(bp + BP_E820_TABLE);
	uint64_t mem;

	if (n == 0 || n > BP_E820_MAX) {
		check_fail("e820", "e820_entries=%u", n);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		pr("PROBE INFO e820 %u: 0x%lx-0x%lx type %u\n", i, t[i].addr,
		   t[i].addr + t[i].size, t[i].type);
	if (ram_covers(t, n, 0, EBDA) && !ram_overlaps(t, n, EBDA, MIB))
		check_ok("e820-low", "RAM 0-0x%lx, none in 0x%lx-0x%lx", EBDA, EBDA, MIB);
	else
		check_fail("e820-low", "want RAM exactly 0-0x%lx below 1 MiB", EBDA);
	if (!probe_arg_u64("expect.mem", &mem))
		check_fail("e820", "expect.mem=<bytes> missing from the command line");
	else if (mem <= MIB)
		check_fail("e820", "expect.mem=0x%lx is too small to check", mem);
	else
		e820_expect(t, n, mem);
}

/* Find a 16-byte aligned signature in [lo, hi); returns its address or 0. */
static uint64_t scan16(uint64_t lo, uint64_t hi, const char *sig, size_t len)
{
	for (uint64_t a = lo; a + len <= hi; a += 16)
		if (!memcmp(phys(a), sig, len))
			return a;
	return 0;
}

/* Validate an ACPI table header at pa: bounded length, checksum, optional signature. */
static bool acpi_table_ok(uint64_t pa, const char *sig, const char *what)
{
	uint32_t len;

	if (!pa || pa >= HIGH_RAM - TABLE_MAX) {
		check_fail(what, "table address 0x%lx out of range", pa);
		return false;
	}
	len = rd32(phys(pa + 4));
	if (sig && memcmp(phys(pa), sig, 4)) {
		check_fail(what, "no %s signature at 0x%lx", sig, pa);
		return false;
	}
	if (len < 36 || len > TABLE_MAX) {
		check_fail(what, "length %u at 0x%lx", len, pa);
		return false;
	}
	if (sum8(phys(pa), len)) {
		check_fail(what, "checksum of %u bytes at 0x%lx is not zero", len, pa);
		return false;
	}
	return true;
}

static uint64_t rsdp_check(const uint8_t *bp)
{
	uint64_t given = rd64(bp + BP_ACPI_RSDP_ADDR);
	uint64_t found = scan16(BIOS_LO, BIOS_HI, "RSD PTR ", 8);
	const uint8_t *r;

	if (!found) {
		check_fail("acpi-rsdp", "no RSD PTR in 0x%lx-0x%lx", BIOS_LO, BIOS_HI);
		return 0;
	}
	if (given && given != found) {
		check_fail("acpi-rsdp", "boot_params says 0x%lx, scan found 0x%lx", given, found);
		return 0;
	}
	r = phys(found);
	if (sum8(r, 20) || r[15] < 2 || rd32(r + 20) < 36 || rd32(r + 20) > 4096 ||
	    sum8(r, rd32(r + 20))) {
		check_fail("acpi-rsdp", "at 0x%lx: revision %u, bad checksum or length", found, r[15]);
		return 0;
	}
	check_ok("acpi-rsdp", "at 0x%lx revision %u boot_params 0x%lx", found, r[15], given);
	return rd64(r + 24);
}

/* Count enabled processors in the MADT; their APIC ids must be 0..n-1 in order. */
static void madt_check(uint64_t pa, uint64_t cpus)
{
	uint32_t len = rd32(phys(pa + 4)), off = 44;
	unsigned n = 0, bad_id = 0, ioapic = 0;

	while (off + 2 <= len) {
		const uint8_t *e = phys(pa + off);

		if (e[1] < 2 || off + e[1] > len) {
			check_fail("acpi-madt", "entry at offset %u has length %u", off, e[1]);
			return;
		}
		if (e[0] == 0 && e[1] >= 8 && (rd32(e + 4) & 1)) {
			bad_id += e[3] != n;
			n++;
		}
		if (e[0] == 1 && e[1] >= 12)
			ioapic++;
		off += e[1];
	}
	pr("PROBE INFO madt: %u local APIC, %u IOAPIC entries\n", n, ioapic);
	if (n != cpus || bad_id)
		check_fail("acpi-madt", "%u enabled CPUs (%u with APIC id != index), expected %lu",
			   n, bad_id, cpus);
	else
		check_ok("acpi-madt", "cpus=%u", n);
}

/* The DSDT hangs off the FADT (X_DSDT at 140 when the table is long enough, else DSDT at 40). */
static void fadt_check(uint64_t pa)
{
	uint32_t len = rd32(phys(pa + 4));
	uint64_t dsdt = len >= 148 ? rd64(phys(pa + 140)) : 0;

	if (!dsdt)
		dsdt = rd32(phys(pa + 40));
	check_ok("acpi-fadt", "at 0x%lx", pa);
	if (acpi_table_ok(dsdt, "DSDT", "acpi-dsdt"))
		check_ok("acpi-dsdt", "at 0x%lx, %u bytes", dsdt, rd32(phys(dsdt + 4)));
}

void check_acpi(const uint8_t *bp, uint64_t cpus)
{
	uint64_t xsdt = rsdp_check(bp), madt = 0, fadt = 0;
	uint32_t len;

	if (!xsdt || !acpi_table_ok(xsdt, "XSDT", "acpi-xsdt"))
		return;
	len = rd32(phys(xsdt + 4));
	for (uint32_t off = 36; off + 8 <= len; off += 8) {
		uint64_t t = rd64(phys(xsdt + off));

		if (!acpi_table_ok(t, NULL, "acpi-xsdt-entry"))
			return;
		pr("PROBE INFO acpi table %c%c%c%c at 0x%lx\n", ((const char *)phys(t))[0],
		   ((const char *)phys(t))[1], ((const char *)phys(t))[2],
		   ((const char *)phys(t))[3], t);
		if (!memcmp(phys(t), "APIC", 4))
			madt = t;
		if (!memcmp(phys(t), "FACP", 4))
			fadt = t;
	}
	check_ok("acpi-xsdt", "%u entries", (len - 36) / 8);
	if (fadt)
		fadt_check(fadt);
	else
		check_fail("acpi-fadt", "no FACP in the XSDT");
	if (madt)
		madt_check(madt, cpus);
	else
		check_fail("acpi-madt", "no APIC table in the XSDT");
}

static void mp_entries(const uint8_t *cfg, unsigned len, unsigned count, uint64_t cpus)
{
	unsigned off = 44, n = 0, bad_id = 0;

	for (unsigned i = 0; i < count; i++) {
		unsigned elen = cfg[off] == 0 ? 20 : 8;

		if (off + elen > len || cfg[off] > 4) {
			check_fail("mptable", "entry %u (type %u) at offset %u overruns the table",
				   i, cfg[off], off);
			return;
		}
		if (cfg[off] == 0 && (cfg[off + 3] & 1)) {
			bad_id += cfg[off + 1] != n;
			n++;
		}
		off += elen;
	}
	if (n != cpus || bad_id)
		check_fail("mptable-cpus", "%u enabled CPUs (%u with APIC id != index), expected %lu",
			   n, bad_id, cpus);
	else
		check_ok("mptable-cpus", "cpus=%u", n);
}

void check_mptable(const uint8_t *bp, uint64_t cpus)
{
	uint64_t fp = scan16(0xf0000, BIOS_HI, "_MP_", 4), cfgpa;
	const uint8_t *f, *cfg;
	unsigned len;

	if (rd64(bp + BP_ACPI_RSDP_ADDR) || scan16(BIOS_LO, BIOS_HI, "RSD PTR ", 8))
		check_fail("acpi-absent", "an RSDP is visible with acpi=off");
	else
		check_ok("acpi-absent", "no RSDP in 0x%lx-0x%lx", BIOS_LO, BIOS_HI);
	if (!fp) {
		check_fail("mptable", "no _MP_ floating pointer in 0xf0000-0xfffff");
		return;
	}
	f = phys(fp);
	cfgpa = rd32(f + 4);
	if (!f[8] || f[8] > 4 || sum8(f, 16u * f[8]) || !cfgpa || cfgpa >= HIGH_RAM - TABLE_MAX) {
		check_fail("mptable", "floating pointer at 0x%lx: bad length, checksum or pointer", fp);
		return;
	}
	cfg = phys(cfgpa);
	len = cfg[4] | cfg[5] << 8;
	if (memcmp(cfg, "PCMP", 4) || len < 44 || sum8(cfg, len)) {
		check_fail("mptable", "config table at 0x%lx: bad signature, length or checksum", cfgpa);
		return;
	}
	check_ok("mptable", "floating pointer 0x%lx, table 0x%lx", fp, cfgpa);
	mp_entries(cfg, len, cfg[34] | cfg[35] << 8, cpus);
}

/* Quiet twin of the checks above for drivers: the DSDT's address (RSDP → XSDT → FACP → DSDT,
 * every length and checksum verified) or 0 when there is no usable ACPI. */
static bool table_sane(uint64_t pa, const char *sig)
{
	uint32_t len;

	if (!pa || pa >= HIGH_RAM - TABLE_MAX || memcmp(phys(pa), sig, 4))
		return false;
	len = rd32(phys(pa + 4));
	return len >= 36 && len <= TABLE_MAX && !sum8(phys(pa), len);
}

uint64_t acpi_dsdt_addr(const uint8_t *bp)
{
	uint64_t rsdp = rd64(bp + BP_ACPI_RSDP_ADDR), xsdt, fadt, dsdt;
	uint32_t len;

	if (!rsdp)
		rsdp = scan16(BIOS_LO, BIOS_HI, "RSD PTR ", 8);
	if (!rsdp || rsdp < BIOS_LO || rsdp >= BIOS_HI - 36 || sum8(phys(rsdp), 20))
		return 0;
	xsdt = rd64(phys(rsdp + 24));
	if (!table_sane(xsdt, "XSDT"))
		return 0;
	len = rd32(phys(xsdt + 4));
	for (uint32_t off = 36; off + 8 <= len; off += 8) {
		fadt = rd64(phys(xsdt + off));
		if (!table_sane(fadt, "FACP"))
			continue;
		dsdt = rd32(phys(fadt + 4)) >= 148 ? rd64(phys(fadt + 140)) : 0;
		if (!dsdt)
			dsdt = rd32(phys(fadt + 40));
		return table_sane(dsdt, "DSDT") ? dsdt : 0;
	}
	return 0;
}
