/* Intel MultiProcessor Specification 1.4 tables for acpi=off guests: the floating pointer
 * structure followed by the MP configuration table (base entries only, no extended table). */
#include <errno.h>
#include <string.h>
#include "mptable.h"
#include "le.h"

#define MPF_LEN         16
#define MPC_HDR_LEN     44
#define MPC_CPU_LEN     20
#define MPC_SHORT_LEN   8       /* bus, IOAPIC, I/O and local interrupt entries */
#define MP_SPEC_REV     4       /* 1.4 */
#define MP_MAX_CPUS     254     /* 8-bit APIC ids; 0xff is broadcast */
#define ISA_IRQS        16

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };

#define CPU_ENABLED     0x01
#define CPU_BSP         0x02
#define LAPIC_VERSION   0x14
#define IOAPIC_VERSION  0x11
#define CPU_SIGNATURE   0x600   /* family 6 */
#define CPU_FEATURES    0x201   /* FPU, APIC */
#define ISA_BUS_ID      0
#define IRQ_EDGE_HIGH   0x0005  /* polarity 01 = active high, trigger 01 = edge */

/* Pins that need their own entry besides the ISA identity ones: those above IRQ 15. */
static unsigned mmio_extra_irqs(const struct machine_desc *d)
{
	unsigned i, n = 0;

	for (i = 0; i < d->nmmio; i++)
		n += d->mmio[i].irq >= ISA_IRQS;
	return n;
}

/* Bus, IOAPIC, ISA IRQs but 2 (the 8259 cascade, whose pin carries the PIT), mmio pins
 * above 15, LINT0 and LINT1. */
static unsigned short_entries(const struct machine_desc *d)
{
	return 1 + 1 + (ISA_IRQS - 1) + mmio_extra_irqs(d) + 2;
}

static size_t table_len(const struct machine_desc *d)
{
	return MPC_HDR_LEN + d->ncpus * MPC_CPU_LEN + short_entries(d) * MPC_SHORT_LEN;
}

static uint8_t *put_cpu(uint8_t *e, unsigned id)
{
	memset(e, 0, MPC_CPU_LEN);
	e[0] = MP_PROCESSOR;
	e[1] = (uint8_t)id;
	e[2] = LAPIC_VERSION;
	e[3] = CPU_ENABLED | (id == 0 ? CPU_BSP : 0);
	le_put32(e + 4, CPU_SIGNATURE);
	le_put32(e + 8, CPU_FEATURES);
	return e + MPC_CPU_LEN;
}

static uint8_t *put_irq(uint8_t *e, uint8_t kind, uint8_t type, uint16_t flags,
			uint8_t src_irq, uint8_t dst_id, uint8_t dst_pin)
{
	e[0] = kind;
	e[1] = type;
	le_put16(e + 2, flags);
	e[4] = ISA_BUS_ID;
	e[5] = src_irq;
	e[6] = dst_id;
	e[7] = dst_pin;
	return e + MPC_SHORT_LEN;
}

static uint8_t *put_bus_ioapic(uint8_t *e, uint8_t ioapic_id)
{
	e[0] = MP_BUS;
	e[1] = ISA_BUS_ID;
	memcpy(e + 2, "ISA   ", 6);
	e += MPC_SHORT_LEN;
	e[0] = MP_IOAPIC;
	e[1] = ioapic_id;
	e[2] = IOAPIC_VERSION;
	e[3] = 1;                       /* enabled */
	le_put32(e + 4, (uint32_t)LAYOUT_IOAPIC_BASE);
	return e + MPC_SHORT_LEN;
}

static uint8_t *put_irqs(uint8_t *e, const struct machine_desc *d, uint8_t ioapic)
{
	unsigned i;

	/* KVM routes GSI 0 (the in-kernel PIT) to IOAPIC pin 2; flags 0 = ISA defaults */
	e = put_irq(e, MP_INTSRC, MP_INT, 0, 0, ioapic, 2);
	for (i = 1; i < ISA_IRQS; i++)
		if (i != 2)
			e = put_irq(e, MP_INTSRC, MP_INT, 0, (uint8_t)i, ioapic, (uint8_t)i);
	/* virtio-mmio pins above 15 are not ISA IRQs; say edge/high explicitly, since a pin
	 * Linux finds no entry for would default to PCI's level/low */
	for (i = 0; i < d->nmmio; i++) {
		uint8_t irq = (uint8_t)d->mmio[i].irq;

		if (irq >= ISA_IRQS)
			e = put_irq(e, MP_INTSRC, MP_INT, IRQ_EDGE_HIGH, irq, ioapic, irq);
	}
	/* virtual-wire mode: LINT0 takes the 8259's ExtINT, LINT1 NMIs, on every CPU (0xff) */
	e = put_irq(e, MP_LINTSRC, MP_EXTINT, 0, 0, 0xff, 0);
	return put_irq(e, MP_LINTSRC, MP_NMI, 0, 0, 0xff, 1);
}

static void put_header(uint8_t *t, size_t len, unsigned nentries)
{
	memset(t, 0, MPC_HDR_LEN);
	memcpy(t, "PCMP", 4);
	le_put16(t + 4, (uint16_t)len);
	t[6] = MP_SPEC_REV;
	memcpy(t + 8, "BLKHEAD ", 8);           /* OEM id */
	memcpy(t + 16, "MICROVM     ", 12);     /* product id */
	le_put16(t + 34, (uint16_t)nentries);
	le_put32(t + 36, (uint32_t)LAYOUT_LAPIC_BASE);
}

static void put_floating(uint8_t *f, uint64_t table_gpa)
{
	memset(f, 0, MPF_LEN);
	memcpy(f, "_MP_", 4);
	le_put32(f + 4, (uint32_t)table_gpa);
	f[8] = 1;                               /* length in 16-byte units */
	f[9] = MP_SPEC_REV;
	/* feature byte 1 = 0: a configuration table is present; byte 2 bit 7 = 0: no IMCR */
	f[10] = (uint8_t)-checksum8(f, MPF_LEN);
}

static int check_desc(const struct machine_desc *d)
{
	unsigned i;

	if (d->ncpus == 0 || d->ncpus > MP_MAX_CPUS || d->nmmio > LAYOUT_VIRTIO_MMIO_SLOTS)
		return -EINVAL;
	for (i = 0; i < d->nmmio; i++)
		if (d->mmio[i].irq >= LAYOUT_IOAPIC_PINS || d->mmio[i].irq == 0 ||
		    d->mmio[i].irq == 2)
			return -EINVAL;         /* pins 0/2 are not free; 24 pins exist */
	return 0;
}

long mptable_build(void *buf, size_t len, uint64_t gpa_base, const struct machine_desc *d)
{
	uint8_t *f = buf, *t = f + MPF_LEN, *e;
	size_t tlen;
	unsigned i;
	int err;

	err = check_desc(d);
	if (err)
		return err;
	tlen = table_len(d);
	/* paragraph-aligned floating pointer; 32-bit physical pointers */
	if (gpa_base & 15 || !range_within(gpa_base, MPF_LEN + tlen, 0, 4 * GiB))
		return -EINVAL;
	if (len < MPF_LEN || len - MPF_LEN < tlen)
		return -ENOSPC;
	put_floating(f, gpa_base + MPF_LEN);
	e = t + MPC_HDR_LEN;
	for (i = 0; i < d->ncpus; i++)
		e = put_cpu(e, i);
	e = put_bus_ioapic(e, (uint8_t)d->ncpus);   /* same IOAPIC id as the MADT's */
	e = put_irqs(e, d, (uint8_t)d->ncpus);
	put_header(t, tlen, d->ncpus + short_entries(d));
	t[7] = (uint8_t)-checksum8(t, tlen);
	return (long)(MPF_LEN + tlen);
}
