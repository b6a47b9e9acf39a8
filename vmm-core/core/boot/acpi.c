/* ACPI tables for the microvm (ACPI 6.x): RSDP -> XSDT -> { FADT -> DSDT, MADT }.
 * The platform is hardware-reduced: no PM1/GPE blocks, no SCI; power-off and reset go
 * through the FADT sleep-control and reset registers that pm.c emulates, and the power
 * button is a Generic Event Device (ged.c) that notifies a control-method button. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "acpi.h"
#include "aml.h"
#include "ged.h"
#include "le.h"

#define OEM_ID          "BLKHD "        /* 6 chars */
#define OEM_TABLE_ID    "BLKHEAD "      /* 8 chars */
#define CREATOR_ID      "BLKH"
#define HDR_LEN         36

#define RSDP_LEN        36
#define XSDT_LEN        (HDR_LEN + 2 * 8)
#define FADT_LEN        276             /* revision 6 */
#define MADT_LAPIC_LEN  8
#define MADT_IOAPIC_LEN 12
#define MADT_ISO_LEN    10
#define ACPI_MAX_CPUS   254             /* 8-bit APIC ids, 0xff is broadcast */

/* FADT field offsets (ACPI 6.x table 5.9) */
#define FADT_DSDT           40
#define FADT_SCI_INT        46
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS          112
#define FADT_RESET_REG      116
#define FADT_RESET_VALUE    128
#define FADT_MINOR_VERSION  131
#define FADT_X_DSDT         140
#define FADT_SLEEP_CTL_REG  244
#define FADT_SLEEP_STS_REG  256
#define FADT_HYPERVISOR_ID  268

#define FADT_F_RESET_REG_SUP    (1u << 10)
#define FADT_F_HW_REDUCED_ACPI  (1u << 20)
#define BOOT_ARCH_8042          (1u << 1)
#define BOOT_ARCH_NO_VGA        (1u << 2)
#define GAS_SYSTEM_IO           1
#define GAS_ACCESS_BYTE         1

/* Standard description header; the checksum is set by finish() once the body is in. */
static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memset(t, 0, HDR_LEN);
	memcpy(t, sig, 4);
	le_put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	le_put32(t + 24, 1);
	memcpy(t + 28, CREATOR_ID, 4);
	le_put32(t + 32, 1);
}

static void finish(uint8_t *t, uint32_t len)
{
	t[9] = 0;
	t[9] = (uint8_t)-checksum8(t, len);
}

/* Generic Address Structure for one 8-bit I/O port */
static void gas_io8(uint8_t *p, uint16_t port)
{
	p[0] = GAS_SYSTEM_IO;
	p[1] = 8;       /* register bit width */
	p[2] = 0;       /* bit offset */
	p[3] = GAS_ACCESS_BYTE;
	le_put64(p + 4, port);
}

static void dsdt_com1(struct aml *a)
{
	size_t dev, crs;

	dev = aml_device_begin(a, "COM1");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0501");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	crs = aml_restemplate_begin(a);
	aml_res_io16(a, PORT_COM1, PORT_COM1, 0, 8);
	aml_res_irq_noflags(a, IRQ_COM1);
	aml_restemplate_end(a, crs);
	aml_end(a, dev);
}

/* "LNRO0005" is the ACPI id Linux's virtio_mmio driver matches (drivers/virtio/virtio_mmio.c). */
static void dsdt_mmio(struct aml *a, unsigned i, const struct mmio_slot_desc *s)
{
	char name[16];
	size_t dev, crs;

	snprintf(name, sizeof(name), "V%03u", i % 1000);  /* i < 16 */
	dev = aml_device_begin(a, name);
	aml_name(a, "_HID");
	aml_string(a, "LNRO0005");
	aml_name(a, "_UID");
	aml_integer(a, i);
	aml_name(a, "_CRS");
	crs = aml_restemplate_begin(a);
	aml_res_mem32_fixed(a, true, (uint32_t)s->base, (uint32_t)s->size);
	aml_res_interrupt_edge_high(a, s->irq);
	aml_restemplate_end(a, crs);
	aml_end(a, dev);
}

/*
 * The power button of a hardware-reduced platform: the GED's interrupt runs _EVT, which
 * reads (and so clears) the event selector and turns the power-down bit into
 * Notify (PWRB, 0x80); Linux's ACPI button driver reports that as KEY_POWER.
 * Same AML as QEMU microvm's, so guests that know one know the other.
 */
static void dsdt_ged(struct aml *a)
{
	size_t dev, crs, field, method, cond;

	dev = aml_device_begin(a, "GED_");
	aml_name(a, "_HID");
	aml_string(a, "ACPI0013");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	crs = aml_restemplate_begin(a);
	aml_res_interrupt_edge_high(a, LAYOUT_GED_GSI);
	aml_restemplate_end(a, crs);
	aml_opregion(a, "EREG", AML_SPACE_SYSTEM_MEMORY, LAYOUT_GED_BASE + GED_REG_EVT_SEL,
		     GED_REG_EVT_LEN);
	field = aml_field_begin(a, "EREG", AML_FIELD_DWORD_ACC | AML_FIELD_NO_LOCK |
				AML_FIELD_WRITE_AS_ZEROS);
	aml_field_unit(a, "ESEL", 8 * GED_REG_EVT_LEN);
	aml_end(a, field);
	/* Method (_EVT, 1, Serialized) { Local0 = ESEL
	 *   If ((Local0 & PWR_DOWN) == PWR_DOWN) { Notify (\_SB.PWRB, 0x80) } } */
	method = aml_method_begin(a, "_EVT", 1, true);
	aml_op(a, AML_STORE);
	aml_namestring(a, "ESEL");
	aml_local(a, 0);
	cond = aml_if_begin(a);
	aml_op(a, AML_LEQUAL);
	aml_op(a, AML_AND);
	aml_local(a, 0);
	aml_integer(a, GED_EVT_PWR_DOWN);
	aml_op(a, AML_NULL_NAME);
	aml_integer(a, GED_EVT_PWR_DOWN);
	aml_op(a, AML_NOTIFY);
	aml_namestring(a, "\\_SB_.PWRB");
	aml_integer(a, 0x80);       /* button: status change (pressed) */
	aml_end(a, cond);
	aml_end(a, method);
	aml_end(a, dev);
}

/* "PNP0C0C": a control-method power button; events reach it only through Notify. */
static void dsdt_pwrb(struct aml *a)
{
	size_t dev;

	dev = aml_device_begin(a, "PWRB");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C0C");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_end(a, dev);
}

/* DSDT body: devices under \_SB_ plus \_S5_, whose first element is the SLP_TYP that
 * Linux writes to the sleep control register to power off. Returns bytes or -errno. */
static long dsdt_body(uint8_t *buf, size_t cap, const struct machine_desc *d)
{
	struct aml a;
	size_t sb, pkg;
	unsigned i;

	aml_init(&a, buf, cap);
	sb = aml_scope_begin(&a, "\\_SB_");
	dsdt_com1(&a);
	dsdt_ged(&a);
	dsdt_pwrb(&a);
	for (i = 0; i < d->nmmio; i++)
		dsdt_mmio(&a, i, &d->mmio[i]);
	aml_end(&a, sb);
	/* ACPICA takes SLP_TYPa/b from the first two elements; 4 as iasl/QEMU emit it */
	aml_name(&a, "\\_S5_");
	pkg = aml_package_begin(&a, 4);
	aml_integer(&a, ACPI_S5_SLP_TYP);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_end(&a, pkg);
	return aml_error(&a) ? aml_error(&a) : (long)a.len;
}

static long build_dsdt(uint8_t *t, size_t room, const struct machine_desc *d)
{
	long body;

	if (room < HDR_LEN)
		return -ENOSPC;
	body = dsdt_body(t + HDR_LEN, room - HDR_LEN, d);
	if (body < 0)
		return body;
	/* revision 2: integers are 64 bits wide */
	header(t, "DSDT", (uint32_t)(HDR_LEN + body), 2);
	finish(t, (uint32_t)(HDR_LEN + body));
	return HDR_LEN + body;
}

static void build_fadt(uint8_t *t, uint64_t dsdt_gpa)
{
	memset(t, 0, FADT_LEN);
	header(t, "FACP", FADT_LEN, 6);
	le_put32(t + FADT_DSDT, (uint32_t)dsdt_gpa);
	le_put64(t + FADT_X_DSDT, dsdt_gpa);
	/*
	 * No SCI exists, but Linux treats a MADT override whose source equals SCI_INT as the
	 * SCI's (level, active low). With SCI_INT 0 that would hit the IRQ0->GSI2 override
	 * of the PIT, so name the conventional ISA SCI line instead; hardware-reduced
	 * OSPMs install no handler on it.
	 */
	le_put16(t + FADT_SCI_INT, 9);
	le_put16(t + FADT_IAPC_BOOT_ARCH, BOOT_ARCH_8042 | BOOT_ARCH_NO_VGA);
	le_put32(t + FADT_FLAGS, FADT_F_HW_REDUCED_ACPI | FADT_F_RESET_REG_SUP);
	gas_io8(t + FADT_RESET_REG, ACPI_PM_RESET);
	t[FADT_RESET_VALUE] = ACPI_PM_RESET_VALUE;
	t[FADT_MINOR_VERSION] = 0;
	gas_io8(t + FADT_SLEEP_CTL_REG, ACPI_PM_SLEEP_CTL);
	gas_io8(t + FADT_SLEEP_STS_REG, ACPI_PM_SLEEP_STS);
	memcpy(t + FADT_HYPERVISOR_ID, "BLKHEAD", 8);
	finish(t, FADT_LEN);
}

static size_t madt_len(unsigned ncpus)
{
	return HDR_LEN + 8 + ncpus * MADT_LAPIC_LEN + MADT_IOAPIC_LEN + MADT_ISO_LEN;
}

static void build_madt(uint8_t *t, unsigned ncpus)
{
	uint32_t len = (uint32_t)madt_len(ncpus);
	uint8_t *e;
	unsigned i;

	memset(t, 0, len);
	header(t, "APIC", len, 5);
	le_put32(t + HDR_LEN, (uint32_t)LAYOUT_LAPIC_BASE);
	le_put32(t + HDR_LEN + 4, 0);      /* no dual 8259 to mask: PCAT_COMPAT clear */
	e = t + HDR_LEN + 8;
	for (i = 0; i < ncpus; i++, e += MADT_LAPIC_LEN) {
		e[0] = 0;                   /* Processor Local APIC */
		e[1] = MADT_LAPIC_LEN;
		e[2] = (uint8_t)i;          /* ACPI processor uid */
		e[3] = (uint8_t)i;          /* APIC id */
		le_put32(e + 4, 1);            /* enabled */
	}
	/*
	 * The IOAPIC id shares the APIC-id namespace with the CPUs (0..ncpus-1); ncpus is the
	 * first free id, never 0xff since ncpus <= 254, and the MP table uses the same one.
	 */
	e[0] = 1;
	e[1] = MADT_IOAPIC_LEN;
	e[2] = (uint8_t)ncpus;
	le_put32(e + 4, (uint32_t)LAYOUT_IOAPIC_BASE);
	le_put32(e + 8, 0);                /* GSI base */
	e += MADT_IOAPIC_LEN;
	/* KVM's in-kernel PIT drives IOAPIC pin 2; flags 0 = ISA conforming (edge, high) */
	e[0] = 2;
	e[1] = MADT_ISO_LEN;
	e[2] = 0;                       /* bus: ISA */
	e[3] = 0;                       /* source IRQ */
	le_put32(e + 4, 2);                /* GSI */
	le_put16(e + 8, 0);
	finish(t, len);
}

static void build_xsdt(uint8_t *t, uint64_t fadt_gpa, uint64_t madt_gpa)
{
	header(t, "XSDT", XSDT_LEN, 1);
	le_put64(t + HDR_LEN, fadt_gpa);
	le_put64(t + HDR_LEN + 8, madt_gpa);
	finish(t, XSDT_LEN);
}

static void build_rsdp(uint8_t *r, uint64_t xsdt_gpa)
{
	memset(r, 0, RSDP_LEN);
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, OEM_ID, 6);
	r[15] = 2;                      /* ACPI 2.0+: use the XSDT; no RSDT */
	le_put32(r + 20, RSDP_LEN);
	le_put64(r + 24, xsdt_gpa);
	r[8] = (uint8_t)-checksum8(r, 20);   /* ACPI 1.0 checksum over the first 20 bytes */
	r[32] = (uint8_t)-checksum8(r, RSDP_LEN);
}

/* A slot on the GED's window or pin would make two devices answer for one event. */
static bool clashes_with_ged(const struct mmio_slot_desc *s)
{
	return s->irq == LAYOUT_GED_GSI ||
	       (s->base < LAYOUT_GED_BASE + LAYOUT_GED_SIZE && LAYOUT_GED_BASE < s->base + s->size);
}

static int check_desc(const struct machine_desc *d)
{
	unsigned i;

	if (d->ncpus == 0 || d->ncpus > ACPI_MAX_CPUS || d->nmmio > LAYOUT_VIRTIO_MMIO_SLOTS)
		return -EINVAL;
	for (i = 0; i < d->nmmio; i++) {
		const struct mmio_slot_desc *s = &d->mmio[i];

		/* Memory32Fixed: the window must lie below 4 GiB; the IOAPIC has 24 pins of
		 * which 0 (8259 ExtINT) and 2 (PIT) are taken */
		if (s->size == 0 || !range_within(s->base, s->size, 0, 4 * GiB) ||
		    s->irq >= LAYOUT_IOAPIC_PINS || s->irq == 0 || s->irq == 2 ||
		    clashes_with_ged(s))
			return -EINVAL;
	}
	return 0;
}

long acpi_build(void *buf, size_t len, uint64_t gpa_base, const struct machine_desc *d)
{
	size_t xsdt = ALIGN_UP((size_t)RSDP_LEN, 16), dsdt, fadt, madt, end;
	uint8_t *b = buf;
	long n;
	int err;

	err = check_desc(d);
	if (err)
		return err;
	/* the RSDP must sit on a 16-byte boundary for the OS's memory scan to find it */
	if (gpa_base & 15)
		return -EINVAL;
	dsdt = ALIGN_UP(xsdt + XSDT_LEN, 16);
	if (len < dsdt)
		return -ENOSPC;
	n = build_dsdt(b + dsdt, len - dsdt, d);
	if (n < 0)
		return n;
	fadt = ALIGN_UP(dsdt + (size_t)n, 16);
	madt = ALIGN_UP(fadt + FADT_LEN, 16);
	end = madt + madt_len(d->ncpus);
	if (end > len)
		return -ENOSPC;
	/* the FADT's 32-bit DSDT pointer and the MADT need everything below 4 GiB */
	if (!range_within(gpa_base, end, 0, 4 * GiB))
		return -EINVAL;
	/* the guest sees the alignment gaps too: no stale host bytes in them */
	memset(b, 0, dsdt);
	memset(b + dsdt + n, 0, fadt - dsdt - (size_t)n);
	memset(b + fadt + FADT_LEN, 0, madt - fadt - FADT_LEN);
	build_fadt(b + fadt, gpa_base + dsdt);
	build_madt(b + madt, d->ncpus);
	build_xsdt(b + xsdt, gpa_base + fadt, gpa_base + madt);
	build_rsdp(b, gpa_base + xsdt);
	return (long)end;
}
