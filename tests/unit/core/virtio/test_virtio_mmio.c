/* The virtio-mmio transport's register model and status machine, driven like Linux's
 * virtio_mmio driver would (and like a hostile one would), against a fake backend. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio_mmio.h"

#define RAM_SIZE (64 * 1024)
#define GSI 7

struct fake {
	struct vmmio t;
	struct guest_mem mem;
	void *ram;
	unsigned starts, resets, config_calls, irqs, last_gsi, notifies, last_notify;
	int start_ret;
	uint8_t config[VMMIO_CONFIG_MAX];
	struct vmmio_queue seen[VMMIO_MAX_QUEUES];   /* queues as start() saw them */
};

static struct fake *F;

static int f_start(struct vmmio *t)
{
	F->starts++;
	memcpy(F->seen, t->q, sizeof(F->seen));
	return F->start_ret;
}

static void f_reset(struct vmmio *t)
{
	(void)t;
	F->resets++;
}

static int f_get_config(struct vmmio *t, uint8_t *buf, uint32_t len)
{
	(void)t;
	F->config_calls++;
	memcpy(buf, F->config, len);
	return 0;
}

static void f_irq(void *opaque, unsigned gsi)
{
	cr_assert_eq(opaque, F);
	F->irqs++;
	F->last_gsi = gsi;
}

static void f_notify(struct vmmio *t, unsigned qidx)
{
	(void)t;
	F->notifies++;
	F->last_notify = qidx;
}

static const struct vmmio_ops fake_ops = { f_start, f_reset, f_get_config, f_notify };

#define FEATURES ((1ULL << VMMIO_F_VERSION_1) | (1ULL << 29) | (1ULL << 9) | (1ULL << 1))

static void setup(void)
{
	F = calloc(1, sizeof(*F));
	F->ram = calloc(1, RAM_SIZE);
	F->mem.nr = 1;
	F->mem.r[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .hva = F->ram, .fd = -1 };
	vmmio_init(&F->t, "slot 0", GSI, &fake_ops, NULL, f_irq, F, &F->mem);
	F->t.worker_backed = true;
}

static void teardown(void)
{
	vmmio_exit(&F->t);
	free(F->ram);
	free(F);
}

TestSuite(vmmio, .init = setup, .fini = teardown);

static uint32_t rd(uint64_t off)
{
	uint8_t b[4];

	vmmio_read(&F->t, off, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void wr(uint64_t off, uint32_t v)
{
	vmmio_write(&F->t, off, &v, 4);
}

static void backend(uint64_t features, unsigned nq)
{
	vmmio_lock(&F->t);
	vmmio_set_backend(&F->t, 2, features, nq);
	vmmio_unlock(&F->t);
}

static void negotiate(uint64_t f)
{
	wr(VMMIO_STATUS, VMMIO_S_ACKNOWLEDGE);
	wr(VMMIO_STATUS, VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER);
	wr(VMMIO_DRIVER_FEATURES_SEL, 0);
	wr(VMMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(VMMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	wr(VMMIO_STATUS, VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER | VMMIO_S_FEATURES_OK);
}

static void queue(unsigned i, uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(VMMIO_QUEUE_SEL, i);
	wr(VMMIO_QUEUE_NUM, num);
	wr(VMMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(VMMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(VMMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	wr(VMMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	wr(VMMIO_QUEUE_USED_LOW, (uint32_t)used);
	wr(VMMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	wr(VMMIO_QUEUE_READY, 1);
}

#define ALL_OK (VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER | VMMIO_S_FEATURES_OK | VMMIO_S_DRIVER_OK)

/* The whole Linux probe sequence for one queue of 128 at 0x1000/0x2000/0x3000. */
static void bring_up(void)
{
	backend(FEATURES, 2);
	negotiate((1ULL << VMMIO_F_VERSION_1) | (1ULL << 9));
	queue(0, 128, 0x1000, 0x2000, 0x3000);
	wr(VMMIO_STATUS, ALL_OK);
}

Test(vmmio, identity_and_empty_slot)
{
	cr_assert_eq(rd(VMMIO_MAGIC_VALUE), 0x74726976);
	cr_assert_eq(rd(VMMIO_VERSION), 2);
	cr_assert_eq(rd(VMMIO_DEVICE_ID), 0, "nothing in the slot yet");
	cr_assert_eq(rd(VMMIO_VENDOR_ID), VMMIO_VENDOR);
	cr_assert_eq(rd(VMMIO_QUEUE_NUM_MAX), 0, "no queues without a backend");
	/* an empty slot never accepts features */
	negotiate(1ULL << VMMIO_F_VERSION_1);
	cr_assert_eq(rd(VMMIO_STATUS) & VMMIO_S_FEATURES_OK, 0);
	backend(FEATURES, 1);
	cr_assert_eq(rd(VMMIO_DEVICE_ID), 2);
}

Test(vmmio, features_are_masked_and_selected)
{
	/* bit 30 is vhost-user's PROTOCOL_FEATURES, 34 PACKED, 33 ACCESS_PLATFORM: never offered;
	 * 42-49 are reserved; 50-63 are the device's own again (virtio-net's RSS is 60) */
	backend(FEATURES | (1ULL << 30) | (1ULL << 34) | (1ULL << 33) | (1ULL << 24) |
		(1ULL << 42) | (1ULL << 49) | (1ULL << 50) | (1ULL << 60) | (1ULL << 63), 1);
	wr(VMMIO_DEVICE_FEATURES_SEL, 0);
	cr_assert_eq(rd(VMMIO_DEVICE_FEATURES), (1u << 29) | (1u << 9) | (1u << 1));
	wr(VMMIO_DEVICE_FEATURES_SEL, 1);
	cr_assert_eq(rd(VMMIO_DEVICE_FEATURES), 1u | (1u << 18) | (1u << 28) | (1u << 31),
		     "VERSION_1 and the device's 50, 60, 63 above bit 31");
	wr(VMMIO_DEVICE_FEATURES_SEL, 2);
	cr_assert_eq(rd(VMMIO_DEVICE_FEATURES), 0);
	wr(VMMIO_DEVICE_FEATURES_SEL, 0xffffffff);
	cr_assert_eq(rd(VMMIO_DEVICE_FEATURES), 0);
}

Test(vmmio, features_ok_only_for_a_subset_with_version_1)
{
	backend(FEATURES, 1);
	negotiate(1ULL << 9);           /* no VERSION_1: a legacy driver */
	cr_assert_eq(rd(VMMIO_STATUS), VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER);
	wr(VMMIO_STATUS, 0);
	negotiate((1ULL << VMMIO_F_VERSION_1) | (1ULL << 30));   /* not offered */
	cr_assert_eq(rd(VMMIO_STATUS) & VMMIO_S_FEATURES_OK, 0);
	wr(VMMIO_STATUS, 0);
	negotiate((1ULL << VMMIO_F_VERSION_1) | (1ULL << 1));
	cr_assert_eq(rd(VMMIO_STATUS) & VMMIO_S_FEATURES_OK, VMMIO_S_FEATURES_OK);
	cr_assert_eq(F->t.driver_features, (1ULL << VMMIO_F_VERSION_1) | (1ULL << 1));
	/* after FEATURES_OK the features are fixed */
	wr(VMMIO_DRIVER_FEATURES_SEL, 0);
	wr(VMMIO_DRIVER_FEATURES, 0xffffffff);
	cr_assert_eq(F->t.driver_features, (1ULL << VMMIO_F_VERSION_1) | (1ULL << 1));
}

Test(vmmio, driver_ok_starts_with_the_queues_the_driver_set)
{
	bring_up();
	cr_assert_eq(F->starts, 1);
	cr_assert_eq(rd(VMMIO_STATUS), ALL_OK);
	cr_assert(F->seen[0].ready);
	cr_assert_eq(F->seen[0].num, 128);
	cr_assert_eq(F->seen[0].desc, 0x1000);
	cr_assert_eq(F->seen[0].avail, 0x2000);
	cr_assert_eq(F->seen[0].used, 0x3000);
	cr_assert_not(F->seen[1].ready);
	/* queue registers are frozen once the device runs */
	wr(VMMIO_QUEUE_SEL, 0);
	wr(VMMIO_QUEUE_NUM, 4);
	cr_assert_eq(F->t.q[0].num, 128);
	cr_assert_eq(F->irqs, 0);
}

Test(vmmio, queue_num_max_and_queues_beyond_the_backend)
{
	backend(FEATURES, 2);
	wr(VMMIO_QUEUE_SEL, 0);
	cr_assert_eq(rd(VMMIO_QUEUE_NUM_MAX), VMMIO_QUEUE_NUM_MAX_DEFAULT);
	wr(VMMIO_QUEUE_SEL, 1);
	cr_assert_eq(rd(VMMIO_QUEUE_NUM_MAX), VMMIO_QUEUE_NUM_MAX_DEFAULT);
	for (uint32_t sel = 2; sel < 40; sel++) {
		wr(VMMIO_QUEUE_SEL, sel);
		cr_assert_eq(rd(VMMIO_QUEUE_NUM_MAX), 0, "queue %u does not exist", sel);
		wr(VMMIO_QUEUE_NUM, 64);
		wr(VMMIO_QUEUE_READY, 1);
		cr_assert_eq(rd(VMMIO_QUEUE_READY), 0);
	}
	wr(VMMIO_QUEUE_SEL, 0xffffffff);
	wr(VMMIO_QUEUE_DESC_LOW, 0x1234);
	for (unsigned i = 0; i < VMMIO_MAX_QUEUES; i++)
		cr_assert_eq(F->t.q[i].desc, 0, "a write for a missing queue landed in queue %u", i);
	/* notify for a queue that does not exist: logged and dropped; for one that does, it
	 * goes to the backend (its ioeventfd missed it) */
	wr(VMMIO_QUEUE_NOTIFY, 99);
	wr(VMMIO_QUEUE_NOTIFY, 2);
	cr_assert_eq(F->notifies, 0);
	wr(VMMIO_QUEUE_NOTIFY, 1);
	cr_assert_eq(F->notifies, 1);
	cr_assert_eq(F->last_notify, 1);
}

static void expect_refused(uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	backend(FEATURES, 1);
	negotiate(1ULL << VMMIO_F_VERSION_1);
	queue(0, num, desc, avail, used);
	wr(VMMIO_STATUS, ALL_OK);
	cr_assert_eq(F->starts, 0, "start with num %u desc 0x%lx avail 0x%lx used 0x%lx", num,
		     (unsigned long)desc, (unsigned long)avail, (unsigned long)used);
	cr_assert(rd(VMMIO_STATUS) & VMMIO_S_NEEDS_RESET);
	/* NEEDS_RESET after DRIVER_OK comes with a config interrupt on the slot's GSI */
	cr_assert_eq(F->irqs, 1);
	cr_assert_eq(F->last_gsi, GSI);
	cr_assert(rd(VMMIO_INTERRUPT_STATUS) & VMMIO_INT_CONFIG);
	/* only a reset gets out of it */
	wr(VMMIO_STATUS, ALL_OK | VMMIO_S_FAILED);
	cr_assert_eq(F->starts, 0);
	wr(VMMIO_STATUS, 0);
	cr_assert_eq(rd(VMMIO_STATUS), 0);
	F->irqs = 0;
}

Test(vmmio, bad_queue_sizes_are_refused_at_start)
{
	expect_refused(300, 0x1000, 0x2000, 0x3000);    /* above QueueNumMax */
	expect_refused(512, 0x1000, 0x2000, 0x3000);
	expect_refused(3, 0x1000, 0x2000, 0x3000);      /* not a power of two */
	expect_refused(0, 0x1000, 0x2000, 0x3000);
	expect_refused(0xffffffff, 0x1000, 0x2000, 0x3000);
}

Test(vmmio, rings_outside_ram_are_refused)
{
	expect_refused(128, RAM_SIZE, 0x2000, 0x3000);
	expect_refused(128, RAM_SIZE - 16 * 127, 0x2000, 0x3000);   /* last entries stick out */
	expect_refused(128, 0x1000, RAM_SIZE - 100, 0x3000);
	expect_refused(128, 0x1000, 0x2000, RAM_SIZE - 6);
	expect_refused(128, 0xfffffffffffff000ULL, 0x2000, 0x3000);  /* wraps */
	expect_refused(128, 0x1000, 0x2000, 0xffffffffffffffffULL);
	expect_refused(128, 0x1008, 0x2000, 0x3000);    /* desc must be 16-aligned */
	expect_refused(128, 0x1000, 0x2001, 0x3000);    /* avail 2-aligned */
	expect_refused(128, 0x1000, 0x2000, 0x3002);    /* used 4-aligned */
	/* and the exact fit is fine */
	backend(FEATURES, 1);
	negotiate(1ULL << VMMIO_F_VERSION_1);
	queue(0, 256, RAM_SIZE - 16 * 256, RAM_SIZE - 8192, RAM_SIZE - 4096 - 8 * 256 - 8);
	wr(VMMIO_STATUS, ALL_OK);
	cr_assert_eq(F->starts, 1);
}

Test(vmmio, reset_stops_the_backend_and_clears_driver_state)
{
	bring_up();
	wr(VMMIO_STATUS, 0);
	cr_assert_eq(F->resets, 1);
	cr_assert_eq(rd(VMMIO_STATUS), 0);
	cr_assert_eq(F->t.driver_features, 0);
	wr(VMMIO_QUEUE_SEL, 0);
	cr_assert_eq(rd(VMMIO_QUEUE_READY), 0);
	cr_assert_eq(F->t.q[0].desc, 0);
	/* what the backend offers stays */
	cr_assert_eq(rd(VMMIO_DEVICE_ID), 2);
	wr(VMMIO_STATUS, 0);
	cr_assert_eq(F->resets, 1, "a second reset has nothing to stop");
	bring_up();
	cr_assert_eq(F->starts, 2);
}

Test(vmmio, failed_start_needs_reset)
{
	F->start_ret = -EIO;
	bring_up();
	cr_assert_eq(F->starts, 1);
	cr_assert(rd(VMMIO_STATUS) & VMMIO_S_NEEDS_RESET);
	wr(VMMIO_STATUS, 0);
	cr_assert_eq(F->resets, 0, "never started, nothing to reset");
	F->start_ret = 0;
	bring_up();
	cr_assert_eq(rd(VMMIO_STATUS), ALL_OK);
}

Test(vmmio, status_rules)
{
	backend(FEATURES, 1);
	/* DRIVER_OK without FEATURES_OK is not taken */
	wr(VMMIO_STATUS, VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER | VMMIO_S_DRIVER_OK);
	cr_assert_eq(rd(VMMIO_STATUS), VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER);
	cr_assert_eq(F->starts, 0);
	/* clearing a bit without a reset is ignored */
	wr(VMMIO_STATUS, VMMIO_S_ACKNOWLEDGE);
	cr_assert_eq(rd(VMMIO_STATUS), VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER);
	/* the driver cannot set NEEDS_RESET */
	wr(VMMIO_STATUS, VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER | VMMIO_S_NEEDS_RESET);
	cr_assert_eq(rd(VMMIO_STATUS), VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER);
	/* but it may say it gave up */
	wr(VMMIO_STATUS, VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER | VMMIO_S_FAILED);
	cr_assert_eq(rd(VMMIO_STATUS), VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER | VMMIO_S_FAILED);
}

Test(vmmio, config_space_from_the_cache)
{
	for (unsigned i = 0; i < 60; i++)
		F->config[i] = (uint8_t)(0x10 + i);
	backend(FEATURES, 1);
	vmmio_lock(&F->t);
	cr_assert_eq(vmmio_refresh_config(&F->t, 60), 0);
	vmmio_unlock(&F->t);
	cr_assert_eq(F->irqs, 0, "no interrupt before the driver runs");
	uint8_t b[8];
	uint32_t gen = rd(VMMIO_CONFIG_GENERATION);

	vmmio_read(&F->t, VMMIO_CONFIG + 0, b, 8);
	cr_assert_eq(b[0], 0x10);
	cr_assert_eq(b[7], 0x17);
	vmmio_read(&F->t, VMMIO_CONFIG + 20, b, 2);
	cr_assert_eq(b[0], 0x10 + 20);
	cr_assert_eq(b[1], 0x10 + 21);
	vmmio_read(&F->t, VMMIO_CONFIG + 59, b, 1);
	cr_assert_eq(b[0], 0x10 + 59);
	/* beyond what the device has, odd widths, straddling the end: zeros */
	memset(b, 0xaa, 8);
	vmmio_read(&F->t, VMMIO_CONFIG + 58, b, 4);
	cr_assert_eq(b[0] | b[1] | b[2] | b[3], 0);
	vmmio_read(&F->t, VMMIO_CONFIG + 0xeff, b, 1);
	cr_assert_eq(b[0], 0);
	vmmio_read(&F->t, VMMIO_CONFIG, b, 3);
	cr_assert_eq(b[0] | b[1] | b[2], 0);
	/* writes do not change it */
	uint32_t v = 0xdeadbeef;
	vmmio_write(&F->t, VMMIO_CONFIG, &v, 4);
	vmmio_read(&F->t, VMMIO_CONFIG, b, 1);
	cr_assert_eq(b[0], 0x10);
	cr_assert_eq(rd(VMMIO_CONFIG_GENERATION), gen);
}

Test(vmmio, config_change_bumps_generation_and_interrupts)
{
	uint32_t gen;

	bring_up();
	vmmio_lock(&F->t);
	vmmio_refresh_config(&F->t, 60);
	vmmio_unlock(&F->t);
	gen = rd(VMMIO_CONFIG_GENERATION);
	cr_assert_eq(F->irqs, 1, "the first copy differs from the empty cache");
	wr(VMMIO_INTERRUPT_ACK, VMMIO_INT_CONFIG);
	F->irqs = 0;
	/* unchanged: nothing happens */
	vmmio_lock(&F->t);
	vmmio_refresh_config(&F->t, 60);
	vmmio_unlock(&F->t);
	cr_assert_eq(rd(VMMIO_CONFIG_GENERATION), gen);
	cr_assert_eq(F->irqs, 0);
	cr_assert_eq(rd(VMMIO_INTERRUPT_STATUS), VMMIO_INT_VRING);
	/* the capacity grew */
	F->config[0] = 0x99;
	vmmio_lock(&F->t);
	vmmio_refresh_config(&F->t, 60);
	vmmio_unlock(&F->t);
	cr_assert_eq(rd(VMMIO_CONFIG_GENERATION), gen + 1);
	cr_assert_eq(F->irqs, 1);
	cr_assert_eq(F->last_gsi, GSI);
	cr_assert_eq(rd(VMMIO_INTERRUPT_STATUS), VMMIO_INT_VRING | VMMIO_INT_CONFIG);
	/* acking the vring bit does not hide later completions; acking config clears it */
	wr(VMMIO_INTERRUPT_ACK, VMMIO_INT_VRING);
	cr_assert_eq(rd(VMMIO_INTERRUPT_STATUS), VMMIO_INT_VRING | VMMIO_INT_CONFIG);
	wr(VMMIO_INTERRUPT_ACK, VMMIO_INT_CONFIG);
	cr_assert_eq(rd(VMMIO_INTERRUPT_STATUS), VMMIO_INT_VRING);
}

Test(vmmio, interrupt_status_vring_only_for_a_running_worker_device)
{
	backend(FEATURES, 1);
	cr_assert_eq(rd(VMMIO_INTERRUPT_STATUS), 0);
	wr(VMMIO_STATUS, 0);
	bring_up();
	cr_assert_eq(rd(VMMIO_INTERRUPT_STATUS), VMMIO_INT_VRING);
	F->t.worker_backed = false;
	cr_assert_eq(rd(VMMIO_INTERRUPT_STATUS), 0);
}

Test(vmmio, new_backend_lacking_accepted_features_needs_reset)
{
	bring_up();
	backend(FEATURES, 2);                 /* the same again: fine */
	cr_assert_eq(rd(VMMIO_STATUS), ALL_OK);
	backend(1ULL << VMMIO_F_VERSION_1, 2);  /* lost bit 9, which the driver uses */
	cr_assert(rd(VMMIO_STATUS) & VMMIO_S_NEEDS_RESET);
	cr_assert_eq(F->irqs, 1);
}

Test(vmmio, new_backend_with_fewer_queues_needs_reset)
{
	bring_up();
	backend(FEATURES, 0);
	cr_assert(rd(VMMIO_STATUS) & VMMIO_S_NEEDS_RESET);
}

Test(vmmio, wrong_widths_and_offsets_are_ignored)
{
	uint8_t b[8];
	uint64_t v = VMMIO_S_ACKNOWLEDGE;

	backend(FEATURES, 1);
	for (unsigned len = 1; len <= 8; len *= 2) {
		if (len == 4)
			continue;
		vmmio_write(&F->t, VMMIO_STATUS, &v, len);
		cr_assert_eq(rd(VMMIO_STATUS), 0, "a %u-byte status write was taken", len);
		memset(b, 0xaa, sizeof(b));
		vmmio_read(&F->t, VMMIO_MAGIC_VALUE, b, len);
		for (unsigned i = 0; i < len; i++)
			cr_assert_eq(b[i], 0);
	}
	/* unaligned 32-bit accesses */
	vmmio_write(&F->t, VMMIO_STATUS + 1, &v, 4);
	cr_assert_eq(rd(VMMIO_STATUS), 0);
	cr_assert_eq(rd(VMMIO_MAGIC_VALUE + 2), 0);
	/* read-only and unknown registers */
	wr(VMMIO_MAGIC_VALUE, 0);
	wr(VMMIO_DEVICE_ID, 5);
	wr(0x0f8, 1);
	cr_assert_eq(rd(VMMIO_MAGIC_VALUE), VMMIO_MAGIC);
	cr_assert_eq(rd(VMMIO_DEVICE_ID), 2);
	cr_assert_eq(rd(0x0f8), 0);
	cr_assert_eq(rd(0x0ec), 0);
}

/* No shared memory regions: whatever id SHMSel selects, its length and base read as -1 (the
 * spec's "no such region"; virtio-fs probes region 0 for its DAX window and fails its probe on
 * a region of length 0 at 0). */
Test(vmmio, no_shared_memory_regions)
{
	for (uint32_t id = 0; id < 3; id++) {
		wr(VMMIO_SHM_SEL, id);
		cr_assert_eq(rd(VMMIO_SHM_LEN_LOW), 0xffffffffu);
		cr_assert_eq(rd(VMMIO_SHM_LEN_HIGH), 0xffffffffu);
		cr_assert_eq(rd(VMMIO_SHM_BASE_LOW), 0xffffffffu);
		cr_assert_eq(rd(VMMIO_SHM_BASE_HIGH), 0xffffffffu);
	}
}

/* Any register, value and width in any order: never a crash, and the invariants hold. */
Test(vmmio, random_accesses)
{
	static const unsigned widths[] = { 1, 2, 4, 8, 3 };
	uint64_t x = 0x9e3779b97f4a7c15ULL, calls = 0, before;

	bring_up();
	before = F->t.accesses;
	for (unsigned n = 0; n < 200000; n++) {
		uint64_t off, val;
		unsigned len;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		/* mostly real registers, sometimes anywhere in the window */
		off = (x & 1) ? ((x >> 8) & 0x3f) * 4 : (x >> 8) & 0xfff;
		len = widths[(x >> 20) % 5];
		val = (x >> 24) & 3 ? (x >> 32) & 0x1ff : x >> 32;
		if (off + len > 0x1000)
			continue;
		if ((x >> 40) & 1)
			vmmio_write(&F->t, off, &val, len);
		else
			vmmio_read(&F->t, off, &val, len);
		calls++;
		cr_assert_leq(F->resets, F->starts, "reset without a start");
		if (F->t.started)
			cr_assert(F->t.status & VMMIO_S_DRIVER_OK);
	}
	cr_assert_eq(F->t.accesses, before + calls, "every access is counted");
}

/* ---- hotplug slots: an empty disk slot ("no medium"), attach and detach ---- */

#include "worker_kinds.h"

/* dev-blk's blk_features() for a writable disk with one queue (dev-blk/blk.c) */
#define BLK_WORKER_FEATURES ((1ULL << VMMIO_F_VERSION_1) | (1ULL << 28) | (1ULL << 29) | \
			     (1ULL << 2) | (1ULL << 6) | (1ULL << 9) | (1ULL << 13) | (1ULL << 14))
#define BLK_WORKER_FEATURES_RO ((1ULL << VMMIO_F_VERSION_1) | (1ULL << 28) | (1ULL << 29) | \
				(1ULL << 2) | (1ULL << 6) | (1ULL << 9) | (1ULL << 5))

#define BLK_EMPTY_FEATURES (worker_kinds[WORKER_BLK].empty_features)

/* What vu_slot_set_empty does with the worker-kind table's blk entry. */
static void empty_slot(void)
{
	const struct worker_kind_desc *k = &worker_kinds[WORKER_BLK];
	uint8_t want[60] = { 0 }, cfg[WORKER_CONFIG_MAX] = { 0 };

	want[12] = 126;     /* seg_max */
	want[21] = 2;       /* blk_size 512 */
	cr_assert_eq(k->config_len, sizeof(want));
	k->empty_config(cfg, (const uint8_t[6]){ 0 });
	cr_assert_arr_eq(cfg, want, sizeof(want), "capacity 0, seg_max and blk_size as offered");
	vmmio_lock(&F->t);
	vmmio_set_backend(&F->t, k->virtio_id, k->empty_features, k->empty_queues);
	vmmio_set_config(&F->t, cfg, k->config_len);
	vmmio_unlock(&F->t);
}

static uint64_t capacity(void)
{
	uint8_t b[8];

	vmmio_read(&F->t, VMMIO_CONFIG, b, 8);
	return (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 | (uint64_t)b[3] << 24;
}

Test(vmmio, empty_slot_is_a_disk_without_medium_that_a_driver_binds)
{
	uint64_t offered;

	empty_slot();
	cr_assert_eq(rd(VMMIO_DEVICE_ID), 2, "a block device, so virtio_blk binds at boot");
	cr_assert_eq(capacity(), 0, "no medium");
	cr_assert_eq(F->irqs, 0, "no driver yet: no interrupt");
	wr(VMMIO_DEVICE_FEATURES_SEL, 0);
	offered = rd(VMMIO_DEVICE_FEATURES);
	wr(VMMIO_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)rd(VMMIO_DEVICE_FEATURES) << 32;
	cr_assert_eq(offered, BLK_EMPTY_FEATURES);
	/* the empty offer must be what every bulkhead-blk offers, or a disk plugged later would
	 * lack features the driver accepted */
	cr_assert_eq(offered & ~BLK_WORKER_FEATURES, 0);
	cr_assert_eq(offered & ~BLK_WORKER_FEATURES_RO, 0);
	/* a driver brings it up with its one queue; nothing serves it yet, and that is fine */
	negotiate(offered);
	queue(0, 128, 0x1000, 0x2000, 0x3000);
	wr(VMMIO_QUEUE_SEL, 1);
	cr_assert_eq(rd(VMMIO_QUEUE_NUM_MAX), 0, "one queue only");
	wr(VMMIO_STATUS, ALL_OK);
	cr_assert_eq(rd(VMMIO_STATUS), ALL_OK);
	cr_assert_eq(F->starts, 1);
}

Test(vmmio, attach_and_detach_raise_config_change)
{
	uint8_t cfg[VMMIO_CONFIG_MAX];
	uint32_t gen;

	empty_slot();
	negotiate(BLK_EMPTY_FEATURES);
	queue(0, 128, 0x1000, 0x2000, 0x3000);
	wr(VMMIO_STATUS, ALL_OK);
	gen = rd(VMMIO_CONFIG_GENERATION);
	/* attach: a worker with more features and a real capacity (what vu_slot_attach does) */
	F->config[0] = 0x00;
	F->config[1] = 0x08;    /* 2048 sectors */
	F->config[12] = 126;
	F->config[21] = 2;
	vmmio_lock(&F->t);
	vmmio_set_backend(&F->t, 2, BLK_WORKER_FEATURES, 1);
	cr_assert_eq(vmmio_refresh_config(&F->t, 60), 0);
	vmmio_unlock(&F->t);
	cr_assert_eq(rd(VMMIO_STATUS) & VMMIO_S_NEEDS_RESET, 0, "the driver keeps going");
	cr_assert_eq(capacity(), 2048);
	cr_assert_eq(rd(VMMIO_CONFIG_GENERATION), gen + 1);
	cr_assert_eq(F->irqs, 1);
	cr_assert_eq(F->last_gsi, GSI);
	cr_assert(rd(VMMIO_INTERRUPT_STATUS) & VMMIO_INT_CONFIG);
	wr(VMMIO_INTERRUPT_ACK, VMMIO_INT_CONFIG);
	/* detach: capacity 0 again (what vu_slot_unplug does), and the driver is told */
	memcpy(cfg, F->t.config, sizeof(cfg));
	memset(cfg, 0, 8);
	vmmio_lock(&F->t);
	vmmio_set_config(&F->t, cfg, F->t.config_len);
	vmmio_unlock(&F->t);
	cr_assert_eq(capacity(), 0);
	cr_assert_eq(rd(VMMIO_CONFIG_GENERATION), gen + 2);
	cr_assert_eq(F->irqs, 2);
	cr_assert(rd(VMMIO_INTERRUPT_STATUS) & VMMIO_INT_CONFIG);
	/* the same config again changes nothing */
	wr(VMMIO_INTERRUPT_ACK, VMMIO_INT_CONFIG);
	vmmio_lock(&F->t);
	vmmio_set_config(&F->t, cfg, F->t.config_len);
	vmmio_unlock(&F->t);
	cr_assert_eq(rd(VMMIO_CONFIG_GENERATION), gen + 2);
	cr_assert_eq(F->irqs, 2);
	cr_assert_eq(rd(VMMIO_INTERRUPT_STATUS) & VMMIO_INT_CONFIG, 0);
}

Test(vmmio, config_change_before_driver_ok_bumps_generation_only)
{
	uint8_t cfg[60] = { 1 };

	empty_slot();
	vmmio_lock(&F->t);
	vmmio_set_config(&F->t, cfg, sizeof(cfg));
	vmmio_unlock(&F->t);
	cr_assert_eq(rd(VMMIO_CONFIG_GENERATION), 2);
	cr_assert_eq(F->irqs, 0);
	cr_assert_eq(rd(VMMIO_INTERRUPT_STATUS), 0);
}
