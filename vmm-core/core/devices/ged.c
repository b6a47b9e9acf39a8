/*
 * The Generic Event Device's MMIO register (see ged.h). The DSDT declares it as one DWordAcc
 * field, so an OS reads it with aligned 4-byte loads; the guest can still send any width to
 * any offset of the window. Only a 4-byte read of the selector consumes events: anything
 * else reads as zero and changes nothing, so a stray or partial access cannot swallow a
 * power-button press. Writes are ignored.
 */
#include "ged.h"

#include <string.h>

static void ged_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct ged *g = opaque;
	uint32_t v;

	memset(data, 0, len);
	if (offset != GED_REG_EVT_SEL || len != GED_REG_EVT_LEN)
		return;
	/* read-to-clear, as QEMU does: each pending event is handed to _EVT exactly once even
	 * when the core sets another bit between the guest's interrupt and its read */
	v = atomic_exchange(&g->sel, 0);
	for (unsigned i = 0; i < GED_REG_EVT_LEN; i++)
		((uint8_t *)data)[i] = (uint8_t)(v >> (8 * i));
}

const struct bus_dev_ops ged_ops = {
	.read = ged_read,     /* no write: writes are ignored */
};

void ged_init(struct ged *g, struct irq_sink irq, unsigned gsi)
{
	atomic_init(&g->sel, 0);
	g->irq = irq;
	g->gsi = gsi;
}

void ged_send_event(struct ged *g, uint32_t events)
{
	atomic_fetch_or(&g->sel, events);
	/* the DSDT declares the GSI edge-triggered: one rising edge per event batch; bits
	 * that arrive before the guest reads the selector ride on the same edge */
	if (g->irq.set_level) {
		g->irq.set_level(g->irq.opaque, g->gsi, 1);
		g->irq.set_level(g->irq.opaque, g->gsi, 0);
	}
}
