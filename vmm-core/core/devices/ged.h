/* ACPI Generic Event Device (ACPI 6.1 §5.6.9, _HID "ACPI0013"): how a hardware-reduced
 * platform raises events such as the power button. One edge-triggered GSI plus one 32-bit
 * event-selector register that the DSDT's _EVT method reads (the layout QEMU's microvm and
 * Cloud Hypervisor use), so the same AML works on all three. Included by bulkhead-core only. */
#ifndef BULKHEAD_GED_H
#define BULKHEAD_GED_H

#include <stdatomic.h>
#include <stdint.h>
#include "bus.h"

/* Register offsets in the MMIO window (LAYOUT_GED_BASE) */
#define GED_REG_EVT_SEL   0x0     /* read: pending events, cleared by the read; write: ignored */
#define GED_REG_EVT_LEN   4

/* Event-selector bits (QEMU's numbering) */
#define GED_EVT_PWR_DOWN  (1u << 1)

struct ged {
	_Atomic uint32_t sel;       /* pending events: set by the core, taken by the guest */
	struct irq_sink irq;
	unsigned gsi;
};

extern const struct bus_dev_ops ged_ops;   /* register at LAYOUT_GED_BASE */
void ged_init(struct ged *g, struct irq_sink irq, unsigned gsi);
/* Mark events pending (GED_EVT_* bits) and send the guest an edge on the GED's GSI. */
void ged_send_event(struct ged *g, uint32_t events);

#endif
