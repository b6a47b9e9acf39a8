/* Fuzz the split-ring virtqueue as a hostile guest drives it: arbitrary bytes become the
 * descriptor table, the avail ring and an indirect table of a small queue in a two-region
 * guest RAM (malloc'd to its exact size, so ASan sees any access outside it); then a byte
 * stream of pops, pushes, batched pushes and rewinds (what the net RX path does) runs until
 * the queue is empty or broken, and optionally a "restarted backend" recovers from the
 * inflight area (the one the run left, or fuzzed). Oracle beyond "no crash": a head is never
 * handed out twice while the device holds it. */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzlib.h"
#include "log.h"
#include "virtq.h"

#define MAXQ      16
#define R0_GPA    0x1000ULL
#define R0_SIZE   0x1000ULL
#define R1_GPA    0x3000ULL       /* gap of one page between the regions */
#define R1_SIZE   0x800ULL
#define DESC_OFF  0x000           /* ring offsets inside region 0 */
#define AVAIL_OFF 0x100
#define USED_OFF  0x200
#define ITAB_LEN  256             /* indirect table at the start of region 1 */

enum {
	CFG_EVENT_IDX = 1 << 3,
	CFG_INFLIGHT  = 1 << 4,
	CFG_RESTART   = 1 << 5,
	CFG_FUZZ_AREA = 1 << 6,
};

/* The next op byte, or -1 at the end: unlike the zero-filled fields, the op stream stops
 * with the input. */
static int take_byte(struct input *in)
{
	return in->n ? (int)take8(in) : -1;
}

struct run {
	struct vq_mem mem;
	struct iovec iov[8];
	struct vq_elem el;
	struct vq_elem held[MAXQ];    /* chains popped and not yet pushed, in pop order */
	unsigned nheld;
	unsigned rewindable;          /* the newest of them that vq_rewind may hand back: those
				       * popped after every chain pushed since */
	uint8_t sink;
	uint8_t area_bytes[16 + 16 * MAXQ + 64];
};

/* Use every byte of a popped chain as a device would, so ASan checks the translation. */
static void touch(struct run *r)
{
	unsigned n = r->el.out_num + r->el.in_num;

	for (unsigned i = 0; i < n; i++) {
		uint8_t *b = r->iov[i].iov_base;

		if (i < r->el.out_num)
			for (size_t j = 0; j < r->iov[i].iov_len; j++)
				r->sink ^= b[j];
		else
			memset(b, 0x5a, r->iov[i].iov_len);
	}
}

static int pop(struct vq *q, struct run *r)
{
	int rc = vq_pop(q, &r->el);

	if (rc == 1) {
		touch(r);
		/* the ring may name a head again only once the device has pushed it */
		for (unsigned i = 0; i < r->nheld; i++)
			CHECK(r->held[i].head != r->el.head);
		CHECK(r->el.head < q->num && r->nheld < MAXQ);
		r->held[r->nheld++] = r->el;
		r->rewindable++;
	}
	return rc;
}

/* Forget held chain k (pushed); chains popped before it stay rewindable, those after not. */
static void drop(struct run *r, unsigned k)
{
	if (k >= r->nheld - r->rewindable)
		r->rewindable = r->nheld - 1 - k;
	memmove(&r->held[k], &r->held[k + 1], (r->nheld - 1 - k) * sizeof(r->held[0]));
	r->nheld--;
}

static void push(struct vq *q, struct run *r, unsigned k, uint32_t written)
{
	if (!r->nheld)
		return;
	k %= r->nheld;
	vq_push(q, r->held[k].head, written);
	drop(r, k);
	vq_should_notify(q);
}

/* The n oldest held chains in one used-index store, as a mergeable RX frame is pushed. */
static void push_batch(struct vq *q, struct run *r, unsigned n, uint32_t written)
{
	struct vring_used_elem u[MAXQ];

	if (!r->nheld)
		return;
	n = n % r->nheld + 1;
	for (unsigned i = 0; i < n; i++)
		u[i] = (struct vring_used_elem){ r->held[i].head, written };
	if (vq_push_batch(q, u, n) == 0)
		for (unsigned i = 0; i < n; i++)
			drop(r, 0);
	vq_should_notify(q);
}

/* Hand back the n newest chains unused, as RX does when no frame came for them. */
static void give_back(struct vq *q, struct run *r, unsigned n)
{
	const struct vq_elem *el[MAXQ];

	if (!r->rewindable)
		return;
	n = n % r->rewindable + 1;
	for (unsigned i = 0; i < n; i++)
		el[i] = &r->held[r->nheld - n + i];
	if (vq_rewind(q, el, n) == 0) {
		r->nheld -= n;
		r->rewindable -= n;
	}
}

/* Ops from the input (odd byte: pop; else by the low bits: push one held chain, push a batch,
 * rewind the newest), then drain. */
static void drive(struct vq *q, struct run *r, struct input *in)
{
	int b, budget = 64;

	while (budget-- > 0 && (b = take_byte(in)) >= 0 && !q->broken) {
		if (b & 1)
			pop(q, r);
		else if (!(b & 2))
			push(q, r, (unsigned)b >> 2, (uint32_t)b << 4);
		else if (!(b & 4))
			push_batch(q, r, (unsigned)b >> 3, (uint32_t)b << 2);
		else
			give_back(q, r, (unsigned)b >> 3);
	}
	while (pop(q, r) == 1 && r->nheld < MAXQ)
		;
	while (r->nheld)
		push(q, r, 0, 1);
}

static int setup(struct vq *q, struct run *r, unsigned num, bool event_idx)
{
	uint8_t *ram = r->mem.r[0].hva;

	return vq_setup(q, "fuzz q0", &r->mem, (uint16_t)num, ram + DESC_OFF, ram + AVAIL_OFF,
			ram + USED_OFF, event_idx);
}

static void restart(struct run *r, struct vq_inflight *area, const uint8_t *fuzzed,
		    size_t area_len, unsigned num, bool event_idx, struct input *in)
{
	struct vq q2 = { 0 };
	uint16_t used;

	if (fuzzed)
		memcpy(area, fuzzed, area_len);
	r->nheld = r->rewindable = 0;
	if (setup(&q2, r, num, event_idx) == 0) {
		memcpy(&used, r->mem.r[0].hva + USED_OFF + 2, 2);
		vq_set_base(&q2, le16toh(used));
		if (vq_set_inflight(&q2, area, false) == 0)
			drive(&q2, r, in);
	}
	vq_teardown(&q2);
}

static void one(struct run *r, struct input *in)
{
	int cfg = take_byte(in);
	unsigned num = 1u << ((cfg < 0 ? 3 : cfg & 7) % 5);
	bool event_idx = cfg & CFG_EVENT_IDX;
	size_t area_len = vq_inflight_queue_size((uint16_t)num);
	struct vq_inflight *area = NULL;
	struct vq q = { 0 };
	uint16_t base;

	take(in, &base, sizeof(base));
	take(in, r->mem.r[0].hva + DESC_OFF, 16 * num);
	take(in, r->mem.r[0].hva + AVAIL_OFF, 6 + 2 * num);
	take(in, r->mem.r[1].hva, ITAB_LEN);
	/* a fuzzed inflight area for the restart comes before the op stream */
	if (cfg & CFG_FUZZ_AREA)
		take(in, r->area_bytes, area_len);
	if (cfg & CFG_INFLIGHT)
		area = calloc(1, area_len);
	memcpy(r->mem.r[0].hva + USED_OFF + 2, &base, 2);     /* used->idx */
	if (setup(&q, r, num, event_idx) == 0) {
		vq_set_base(&q, le16toh(base));
		if (area)
			vq_set_inflight(&q, area, true);
		drive(&q, r, in);
		if (area && (cfg & CFG_RESTART))
			restart(r, area, cfg & CFG_FUZZ_AREA ? r->area_bytes : NULL, area_len,
				num, event_idx, in);
	}
	vq_teardown(&q);
	free(area);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	struct input in = { data, size };

	if (!r.mem.nr) {
		log_set_level(LOG_LVL_ERR);     /* every broken input would log a line */
		r.mem.nr = 2;
		r.mem.r[0] = (struct vq_region){ R0_GPA, R0_SIZE, 0, malloc(R0_SIZE) };
		r.mem.r[1] = (struct vq_region){ R1_GPA, R1_SIZE, 0, malloc(R1_SIZE) };
		if (!r.mem.r[0].hva || !r.mem.r[1].hva)
			abort();
		r.el = (struct vq_elem){ .iov = r.iov, .iov_cap = 8 };
	}
	memset(r.mem.r[0].hva, 0, R0_SIZE);
	memset(r.mem.r[1].hva, 0, R1_SIZE);
	r.nheld = r.rewindable = 0;
	one(&r, &in);
	return 0;
}

/* ---- a well-formed ring to mutate ---- */

static uint8_t *put_desc(uint8_t *p, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = { htole64(addr), htole32(len), htole16(flags), htole16(next) };

	memcpy(p, &d, sizeof(d));
	return p + sizeof(d);
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
	return p + 2;
}

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	static const uint8_t ops[] = { 1, 1, 0, 1, 2, 1, 0, 1, 1 };
	uint8_t *p = buf, *itab;
	unsigned num = 8;

	if (i % 2 || cap < 1024)
		return 0;
	memset(buf, 0, 1024);
	*p++ = 3 | CFG_INFLIGHT | CFG_RESTART | (i % 4 ? CFG_EVENT_IDX : 0);
	p = put16(p, (uint16_t)(i % 8 ? 0 : 65534));
	p = put_desc(p, R0_GPA + 0x400, 64, VRING_DESC_F_NEXT, 1);
	p = put_desc(p, R1_GPA + 0x400, 64, VRING_DESC_F_WRITE, 0);
	p = put_desc(p, R1_GPA, 48, VRING_DESC_F_INDIRECT, 0);
	p = put_desc(p, R0_GPA + 0x500, 0, VRING_DESC_F_NEXT, 4);
	p = put_desc(p, R0_GPA + 0x600, 512, VRING_DESC_F_WRITE, 0);
	p += 16 * (num - 5);
	p = put16(p, 0);                                  /* avail flags */
	p = put16(p, (uint16_t)((i % 8 ? 0 : 65534) + 3)); /* avail idx */
	for (unsigned k = 0; k < num; k++)
		p = put16(p, (uint16_t[]){ 0, 2, 3, 0, 0, 0, 0, 0 }[(k + (i % 8 ? 0 : 2)) % num]);
	p = put16(p, 1);                                  /* used_event */
	itab = p;
	p = put_desc(p, R0_GPA + 0x800, 16, VRING_DESC_F_NEXT, 2);
	p = put_desc(p, R1_GPA + 0x600, 32, VRING_DESC_F_WRITE, 0);
	p = put_desc(p, R1_GPA + 0x700, 8, VRING_DESC_F_NEXT, 1);
	if (i % 8 == 4)     /* a chain of 10 segments: more than the harness's 8 iovecs */
		for (unsigned k = 0; k < 10; k++)
			put_desc(itab + 16 * k, R1_GPA + 0x700, 8,
				 k < 9 ? VRING_DESC_F_NEXT : 0, (uint16_t)(k + 1));
	p = itab + ITAB_LEN;
	if (i % 8 == 2) {   /* a recovered area with heads 2 and 0 in flight, 2 older */
		struct vq_inflight a = { .version = 1, .desc_num = 8 };

		buf[0] |= CFG_FUZZ_AREA;
		memcpy(p, &a, sizeof(a));
		p[16 + 2 * 16] = 1;
		p[16 + 2 * 16 + 8] = 3;
		p[16] = 1;
		p[16 + 8] = 5;
		p += vq_inflight_queue_size(8);
	}
	memcpy(p, ops, sizeof(ops));
	return (size_t)(p - buf) + sizeof(ops);
}
