/* The Generic Event Device (vmm-core/core/devices/ged.c): events set by the core reach the
 * guest as an edge on its GSI and a read-to-clear selector; whatever the guest sends to the window
 * (any width, any offset, through the bus or straight at the ops) neither crashes the core
 * nor loses or invents an event. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "bus.h"
#include "ged.h"
#include "layout.h"

#define MAX_EDGES 64
struct irq_rec {
	unsigned n;
	unsigned gsi[MAX_EDGES];
	int level[MAX_EDGES];
};

static void rec_set_level(void *opaque, unsigned gsi, int level)
{
	struct irq_rec *r = opaque;

	if (r->n < MAX_EDGES) {
		r->gsi[r->n] = gsi;
		r->level[r->n] = level;
	}
	r->n++;
}

static struct ged ged;
static struct irq_rec irqs;

static void setup(void)
{
	memset(&irqs, 0, sizeof(irqs));
	ged_init(&ged, (struct irq_sink){ rec_set_level, &irqs }, LAYOUT_GED_GSI);
}

TestSuite(ged, .init = setup);

/* The selector the way the DSDT's DWordAcc field reads it */
static uint32_t read_sel(void)
{
	uint8_t b[4] = { 0xcc, 0xcc, 0xcc, 0xcc };

	bus_dev_access(&ged_ops, &ged, GED_REG_EVT_SEL, b, 4, false);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

Test(ged, nothing_pending_reads_zero)
{
	cr_assert_eq(read_sel(), 0);
	cr_assert_eq(irqs.n, 0, "no interrupt without an event");
}

Test(ged, power_down_is_an_edge_and_a_read_to_clear_bit)
{
	ged_send_event(&ged, GED_EVT_PWR_DOWN);
	cr_assert_eq(irqs.n, 2, "raise and lower: one edge");
	cr_assert_eq(irqs.gsi[0], LAYOUT_GED_GSI);
	cr_assert_eq(irqs.level[0], 1);
	cr_assert_eq(irqs.gsi[1], LAYOUT_GED_GSI);
	cr_assert_eq(irqs.level[1], 0);
	cr_assert_eq(read_sel(), GED_EVT_PWR_DOWN);
	cr_assert_eq(read_sel(), 0, "a second read finds nothing: _EVT acts once per press");
}

Test(ged, events_before_the_read_accumulate)
{
	ged_send_event(&ged, GED_EVT_PWR_DOWN);
	ged_send_event(&ged, 1u << 0);
	ged_send_event(&ged, GED_EVT_PWR_DOWN);
	cr_assert_eq(irqs.n, 6, "one edge per event");
	cr_assert_eq(read_sel(), GED_EVT_PWR_DOWN | 1u);
	cr_assert_eq(read_sel(), 0);
}

Test(ged, no_irq_sink_is_harmless)
{
	ged_init(&ged, (struct irq_sink){ NULL, NULL }, LAYOUT_GED_GSI);
	ged_send_event(&ged, GED_EVT_PWR_DOWN);
	cr_assert_eq(read_sel(), GED_EVT_PWR_DOWN);
}

/* Every offset of the window (and a few past it) with every width the vCPU exit paths can
 * produce: only a 4-byte read at offset 0 returns (and takes) the events; other reads give
 * zeros in exactly len bytes; writes change nothing. */
Test(ged, hostile_accesses_neither_crash_nor_touch_events)
{
	static const unsigned lens[] = { 0, 1, 2, 3, 4, 5, 7, 8 };
	static const uint64_t offs[] = { 0, 1, 2, 3, 4, 7, 8, 0xff, 0xffc, 0xfff,
					 LAYOUT_GED_SIZE, UINT64_MAX - 3, UINT64_MAX };
	uint8_t buf[16];

	ged_send_event(&ged, GED_EVT_PWR_DOWN);
	for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++) {
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			memset(buf, 0xa5, sizeof(buf));
			bus_dev_access(&ged_ops, &ged, offs[o], buf, lens[l], true);
			if (offs[o] == GED_REG_EVT_SEL && lens[l] == 4)
				continue;
			bus_dev_access(&ged_ops, &ged, offs[o], buf, lens[l], false);
			for (unsigned i = 0; i < sizeof(buf); i++)
				cr_assert_eq(buf[i], i < lens[l] ? 0 : 0xa5,
					     "off 0x%lx len %u byte %u", (unsigned long)offs[o],
					     lens[l], i);
		}
	}
	cr_assert_eq(read_sel(), GED_EVT_PWR_DOWN, "the pending event survived");
	cr_assert_eq(irqs.n, 2, "guest accesses raise no interrupts");
}

/* Through the MMIO bus as the vCPU threads reach it: accesses that run past the window are
 * not the GED's (the caller logs them and reads all-ones), those inside are. */
Test(ged, bus_routes_only_the_window)
{
	static struct bus b;
	uint8_t v[8];

	bus_init(&b, "mmio");
	cr_assert_eq(bus_register(&b, LAYOUT_GED_BASE, LAYOUT_GED_SIZE, "ged", &ged_ops, &ged), 0);
	ged_send_event(&ged, GED_EVT_PWR_DOWN);
	cr_assert(!bus_access(&b, LAYOUT_GED_BASE + LAYOUT_GED_SIZE - 4, v, 8, false));
	cr_assert(!bus_access(&b, LAYOUT_GED_BASE - 1, v, 2, true));
	cr_assert(bus_access(&b, LAYOUT_GED_BASE + LAYOUT_GED_SIZE - 8, v, 8, true));
	memset(v, 0xcc, sizeof(v));
	cr_assert(bus_access(&b, LAYOUT_GED_BASE, v, 4, false));
	cr_assert_eq(v[0], GED_EVT_PWR_DOWN);
	cr_assert_eq(v[1] | v[2] | v[3], 0);
	cr_assert_eq(v[4], 0xcc, "a 4-byte read writes 4 bytes");
}

/* The core sets bits from its main thread while a vCPU thread reads: every event is seen
 * by exactly one read, none twice, none lost. */
struct race {
	unsigned rounds;
	unsigned seen;
};

static void *reader(void *arg)
{
	struct race *r = arg;

	while (__atomic_load_n(&r->seen, __ATOMIC_SEQ_CST) < r->rounds) {
		uint32_t v = read_sel();

		cr_assert(v == 0 || v == GED_EVT_PWR_DOWN, "selector 0x%x", v);
		if (v)
			__atomic_add_fetch(&r->seen, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

Test(ged, concurrent_events_and_reads)
{
	struct race r = { .rounds = 2000 };
	pthread_t t;

	ged_init(&ged, (struct irq_sink){ NULL, NULL }, LAYOUT_GED_GSI);
	cr_assert_eq(pthread_create(&t, NULL, reader, &r), 0);
	for (unsigned i = 0; i < r.rounds; i++) {
		ged_send_event(&ged, GED_EVT_PWR_DOWN);
		/* wait until this one was taken, so no two presses merge into one read */
		while (__atomic_load_n(&r.seen, __ATOMIC_SEQ_CST) <= i)
			;
	}
	pthread_join(t, NULL);
	cr_assert_eq(r.seen, r.rounds);
	cr_assert_eq(read_sel(), 0);
}
