/* The hostile-descriptor matrix against a real bulkhead-blk: each bad chain on queue 0 must
 * stop that queue (no completion for it nor for a valid request after it, and no I/O reaches
 * the image) while the worker stays alive, queue 1 keeps working, and a new connection works. */
#include <criterion/criterion.h>
#include <string.h>
#include <linux/virtio_config.h>

#include "fixture.h"

#define HOSTILE_SECTOR 8      /* what a hostile OUT request would overwrite */
#define AFTER_SECTOR   16     /* what the valid request queued after it would overwrite */
#define QUIET_MS       300    /* how long a stopped queue must stay silent */

static struct fx x;

static void down(void)
{
	fx_teardown(&x);
}

TestSuite(hostile, .fini = down, .timeout = 60);

/* Slot 0's header (an OUT to HOSTILE_SECTOR), data (pattern seed 0xab) and status. */
struct parts {
	uint64_t hdr, data, st;
};

static struct parts parts(struct hx *h)
{
	struct parts p = { hx_slot_hdr_gpa(h, 0, 0), hx_slot_data_gpa(h, 0, 0),
			   hx_slot_status_gpa(h, 0, 0) };
	struct virtio_blk_outhdr *oh = hx_ptr(h, p.hdr, 16);

	oh->type = htole32(VIRTIO_BLK_T_OUT);
	oh->sector = htole64(HOSTILE_SECTOR);
	fx_pattern(hx_ptr(h, p.data, 4096), HOSTILE_SECTOR, 4096, 0xab);
	return p;
}

#define R  VRING_DESC_F_NEXT
#define W  VRING_DESC_F_WRITE
#define WN (VRING_DESC_F_WRITE | VRING_DESC_F_NEXT)

/* A chain whose data descriptor is (addr, len): the buffer check must refuse it. */
static void bad_data(struct hx *h, uint64_t addr, uint32_t len)
{
	struct parts p = parts(h);

	hx_desc(h, 0, 0, p.hdr, 16, R, 1);
	hx_desc(h, 0, 1, addr, len, R, 2);
	hx_desc(h, 0, 2, p.st, 1, W, 0);
	hx_publish(h, 0, 0);
}

/* An indirect descriptor at head 0 pointing at a table (gpa, len) with the given flags. */
static void indirect(struct hx *h, uint64_t table, uint32_t len, uint16_t flags)
{
	hx_desc(h, 0, 0, table, len, VRING_DESC_F_INDIRECT | flags, 1);
	hx_publish(h, 0, 0);
}

/* A well-formed 3-entry indirect table for the hostile request, returned as gpa. */
static uint64_t good_table(struct hx *h, unsigned entries)
{
	struct parts p = parts(h);
	uint64_t t = hx_alloc(h, 16ULL * entries, 16);
	struct vring_desc *d = hx_ptr(h, t, 16ULL * entries);

	for (unsigned i = 0; i < entries; i++)
		d[i] = (struct vring_desc){ htole64(p.data), htole32(512), htole16(R),
					    htole16((uint16_t)(i + 1)) };
	d[0] = (struct vring_desc){ htole64(p.hdr), htole32(16), htole16(R), htole16(1) };
	d[entries - 1] = (struct vring_desc){ htole64(p.st), htole32(1), htole16(W), 0 };
	return t;
}

/* Run one case: inject on q0, kick, queue a valid write after it, then check everything. */
static void run(void (*inject)(struct hx *h), unsigned max_done)
{
	static const char *const args[] = { "--num-queues=2", NULL };
	struct hx *h = &x.h;
	struct hx_done d;
	unsigned done = 0;
	int slot, r;

	cr_assert_eq(fx_setup(&x, FX_IMG_SIZE), 0);
	cr_assert_eq(fx_start(&x, true, args), 0);
	r = fx_attach(&x, 2, 0);
	cr_assert_eq(r, 0, "attach: %s", strerror(-r));
	inject(h);
	hx_kick(h, 0);
	slot = 5;
	fx_pattern(hx_slot_data(h, 0, slot), AFTER_SECTOR, 4096, 0xcd);
	hx_blk_submit(h, 0, slot, VIRTIO_BLK_T_OUT, AFTER_SECTOR, 4096);
	hx_kick(h, 0);

	/* the other queue still serves */
	uint8_t buf[4096], back[4096];
	fx_pattern(buf, 200, sizeof(buf), 0x11);
	cr_assert_eq(hx_blk_do(h, 1, VIRTIO_BLK_T_OUT, 200, buf, sizeof(buf)), VIRTIO_BLK_S_OK,
		     "queue 1 stopped working");
	cr_assert_eq(hx_blk_do(h, 1, VIRTIO_BLK_T_IN, 200, back, sizeof(back)), VIRTIO_BLK_S_OK);
	cr_assert_arr_eq(back, buf, sizeof(buf));

	/* queue 0 stays silent: nothing for the bad chain, nothing for the valid one after it */
	while ((r = hx_wait(h, 0, QUIET_MS, &d)) == 1) {
		done++;
		cr_assert_neq(d.head, slot * HX_SLOT_DESCS, "a request after the bad chain completed");
	}
	cr_assert_geq(r, 0, "wait on q0: %s", strerror(-r));
	cr_assert_leq(done, max_done, "%u completions on the stopped queue", done);
	cr_assert(fx_host_has(&x, HOSTILE_SECTOR, 4096, 0), "the bad chain's write reached the image");
	cr_assert(fx_host_has(&x, AFTER_SECTOR, 4096, 0), "the stopped queue still did I/O");

	cr_assert(hx_worker_alive(&x.w), "the worker died");
	hx_detach(h);
	r = fx_fresh_io(&x, 300, 0x22);
	cr_assert_eq(r, 0, "a new connection does not work: %s", strerror(-r));
	cr_assert(hx_worker_alive(&x.w), "the worker died");
}

#define CASE(name, max_done, ...) \
	static void inject_##name(struct hx *h) { __VA_ARGS__ } \
	Test(hostile, name) { run(inject_##name, max_done); }

/* two readable descriptors pointing at each other: a -> b -> a */
CASE(loop, 0, {
	struct parts p = parts(h);
	hx_desc(h, 0, 0, p.hdr, 16, R, 1);
	hx_desc(h, 0, 1, p.data, 512, R, 0);
	hx_publish(h, 0, 0);
})

/* a loop through (almost) the whole table, so the chain grows longer than the queue;
 * descriptors 15..17 stay free for the valid request run() queues after it */
CASE(loop_whole_table, 0, {
	struct parts p = parts(h);
	uint16_t n = h->q[0].num;
	hx_desc(h, 0, 0, p.hdr, 16, R, 1);
	for (uint16_t i = 1; i < n; i++) {
		if (i >= 15 && i <= 17)
			continue;
		uint16_t next = i + 1 == 15 ? 18 : (i + 1 == n ? 1 : i + 1);
		hx_desc(h, 0, i, p.data, 512, R, next);
	}
	hx_publish(h, 0, 0);
})

CASE(loop_with_status_last, 0, {
	struct parts p = parts(h);
	hx_desc(h, 0, 0, p.hdr, 16, R, 1);
	hx_desc(h, 0, 1, p.data, 512, R, 2);
	hx_desc(h, 0, 2, p.st, 1, WN, 2);     /* status points at itself */
	hx_publish(h, 0, 0);
})

CASE(head_out_of_range, 0, { parts(h); hx_publish(h, 0, (uint16_t)(h->q[0].num + 3)); })

CASE(next_out_of_range, 0, {
	struct parts p = parts(h);
	hx_desc(h, 0, 0, p.hdr, 16, R, 500);
	hx_publish(h, 0, 0);
})

CASE(addr_above_ram, 0, { bad_data(h, hx_ram_end(h) + 0x1000, 512); })
CASE(addr_zero_below_ram, 0, { bad_data(h, 0, 512); })
CASE(addr_partly_outside_ram, 0, { bad_data(h, hx_ram_end(h) - 256, 512); })
/* both halves are RAM, but in different regions: a buffer lies wholly inside one region */
CASE(addr_spans_two_regions, 0, { bad_data(h, hx_ram1_gpa(h) - 256, 512); })
CASE(len_overflows_64_bits, 0, { bad_data(h, 0xfffffffffffff000ULL, 0x2000); })
CASE(len_huge, 0, { bad_data(h, HX_GPA_BASE, 0xffffffffu); })

CASE(status_outside_ram, 0, {
	struct parts p = parts(h);
	hx_desc(h, 0, 0, p.hdr, 16, R, 1);
	hx_desc(h, 0, 1, p.data, 4096, R, 2);
	hx_desc(h, 0, 2, UINT64_MAX, 1, W, 0);
	hx_publish(h, 0, 0);
})

/* the same head twice on the avail ring before the device returned it (a read, so the
 * first one may legitimately complete) */
CASE(same_head_twice, 1, {
	struct parts p = parts(h);
	struct virtio_blk_outhdr *oh = hx_ptr(h, p.hdr, 16);
	oh->type = htole32(VIRTIO_BLK_T_IN);
	hx_desc(h, 0, 0, p.hdr, 16, R, 1);
	hx_desc(h, 0, 1, p.data, 4096, WN, 2);
	hx_desc(h, 0, 2, p.st, 1, W, 0);
	hx_publish(h, 0, 0);
	hx_publish(h, 0, 0);
})

/* only zero-length buffers: no header, and no room for the status byte */
CASE(zero_length_buffers_only, 0, {
	struct parts p = parts(h);
	hx_desc(h, 0, 0, p.hdr, 0, R, 1);
	hx_desc(h, 0, 1, p.data, 0, WN, 2);
	hx_desc(h, 0, 2, p.st, 0, W, 0);
	hx_publish(h, 0, 0);
})

/* a complete write with nowhere to put the status byte */
CASE(no_status_byte, 0, {
	struct parts p = parts(h);
	hx_desc(h, 0, 0, p.hdr, 16, R, 1);
	hx_desc(h, 0, 1, p.data, 4096, 0, 0);
	hx_publish(h, 0, 0);
})

CASE(writable_before_readable, 0, {
	struct parts p = parts(h);
	hx_desc(h, 0, 0, p.st, 1, WN, 1);
	hx_desc(h, 0, 1, p.hdr, 16, R, 2);
	hx_desc(h, 0, 2, p.data, 4096, 0, 0);
	hx_publish(h, 0, 0);
})

/* the driver claims more new entries than the ring holds */
CASE(avail_idx_jumps_past_ring, 0, {
	parts(h);
	uint16_t bogus = (uint16_t)(h->q[0].avail_idx + h->q[0].num + 1);
	__atomic_store_n(&h->q[0].avail->idx, htole16(bogus), __ATOMIC_RELEASE);
	h->q[0].avail_idx = bogus;
})

CASE(indirect_nested, 0, {
	uint64_t t = good_table(h, 3);
	struct vring_desc *d = hx_ptr(h, t, 48);
	uint64_t inner = good_table(h, 3);
	d[1] = (struct vring_desc){ htole64(inner), htole32(48),
				    htole16(VRING_DESC_F_INDIRECT | R), htole16(2) };
	indirect(h, t, 48, 0);
})

CASE(indirect_oversized, 0, {
	uint64_t t = good_table(h, 1025);      /* VQ_MAX_INDIRECT + 1 entries */
	indirect(h, t, 1025 * 16, 0);
})

CASE(indirect_len_not_multiple_of_16, 0, { indirect(h, good_table(h, 3), 40, 0); })
CASE(indirect_len_zero, 0, { indirect(h, good_table(h, 3), 0, 0); })
CASE(indirect_table_outside_ram, 0, { parts(h); indirect(h, hx_ram_end(h), 48, 0); })
CASE(indirect_table_overflows, 0, { parts(h); indirect(h, UINT64_MAX - 15, 48, 0); })
CASE(indirect_with_next_flag, 0, { indirect(h, good_table(h, 3), 48, VRING_DESC_F_NEXT); })

CASE(indirect_loop, 0, {
	uint64_t t = good_table(h, 3);
	struct vring_desc *d = hx_ptr(h, t, 48);
	d[1].next = htole16(0);                /* 0 -> 1 -> 0 inside the table */
	indirect(h, t, 48, 0);
})

CASE(indirect_next_out_of_table, 0, {
	uint64_t t = good_table(h, 3);
	struct vring_desc *d = hx_ptr(h, t, 48);
	d[1].next = htole16(3);
	indirect(h, t, 48, 0);
})

CASE(indirect_entry_outside_ram, 0, {
	uint64_t t = good_table(h, 3);
	struct vring_desc *d = hx_ptr(h, t, 48);
	d[1].addr = htole64(hx_ram_end(h) - 100);
	indirect(h, t, 48, 0);
})
