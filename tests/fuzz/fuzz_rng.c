/* Fuzz bulkhead-rng's request path (dev-rng/rng.c) as a hostile guest and frontend drive it:
 * the harness is the vhost-user frontend (a well-formed handshake over a socketpair, through
 * the real dispatcher), the guest driver (descriptor chains and indirect tables in a 64 KiB
 * guest RAM), the entropy source (a pipe it fills from the input, or /dev/zero) and main.c's
 * event loop: the hooks only record what the device asked for, and the input decides when a
 * watch, timer or deferred pass fires (rng_resume).
 *
 * Input: a header, then ops until the input ends (at most MAX_OPS).
 *   cfg:  bit 0 source /dev/zero (else a pipe), bit 1 a 4 KiB pipe, bit 2 EVENT_IDX,
 *         bit 3 F_PROTOCOL_FEATURES, bits 4-5 queue size 2, 8, 32, 128, bits 6-7 rate limit:
 *         none, max-bytes 1..256 (one byte), 1..65536 (le16), RNG_MAX_BYTES_MAX
 *   ops:  see enum op; fields are read zero-filled past the end of the input
 *
 * Time: rng.c reads mono_ns() itself, so there is no clock to fake. The period is
 * RNG_PERIOD_MAX (1000 s, which no input lasts), and OP_WARP ends it by moving the device's
 * period_start_ms back one period - the one place rng.c compares the clock with, so this is
 * exactly "a period went by". Rate-limit results are deterministic that way.
 *
 * Oracles beyond "no crash" (ASan checks every access to guest RAM), after every step that
 * may run the device, against a model replayed over a snapshot of guest RAM:
 * - the used entries are the avail entries in order (nothing is held between calls): entry j
 *   has the id the guest put in avail slot base + j, and that chain is one vq_pop accepts
 *   and rng.c may serve (writable buffers only, some bytes);
 * - its length is min(writable bytes, RNG_CHAIN_MAX, what is left of the period's
 *   max-bytes, what the pipe holds), never 0, and exactly those bytes of the source's
 *   stream land in the chain's writable buffers, in order; after replaying every used entry
 *   (and the ring fields the device owns) guest RAM must equal the model byte for byte, so
 *   nothing is written outside the posted writable buffers;
 * - bytes served since a period began never exceed max-bytes (a reconnect starts no
 *   period); the statistics agree with the used entries; the pipe loses nothing: what is
 *   left in it at the end is exactly the unserved rest of the stream;
 * - a wait has its hook armed (source: a watch, period or retry: the timer), a source
 *   wait comes with an empty pipe, a retry with an empty pipe at EOF, a period wait with
 *   the model's budget spent, a timer is never 0 or longer than a period or retry; after
 *   the device ran, requests left on a live ring while serving mean a deferred pass asked;
 * - at the end nothing is watched and no descriptor leaked. */
#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/param.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "fuzzlib.h"
#include "log.h"
#include "rng.h"
#include "util.h"

#define GUEST_SIZE   0x10000u
/* The rings, for up to 128 entries: not fuzzlib's layout (16 at most), since a wakeup serves
 * RNG_BUDGET chains and only a longer ring can hold more than that. */
#define DESC         0x0000u
#define AVAIL        0x0800u
#define USED         0x1000u
#define PERIOD_MS    RNG_PERIOD_MAX
#define MAX_OPS      256
#define INPUT_CAP    65536

enum op {
	OP_CHAIN,     /* c: n-1 (& 15), bit 4 raw head (a byte), bit 5 unpublished, bit 6 kick;
		       * n x desc (see put_desc) in the ring's table from the next free slot */
	OP_ITABLE,    /* le16 off, c: n-1 (& 31), bit 6 kick; n x desc at off, then an indirect
		       * head for it */
	OP_KICK,      /* the queue's kick fd fires */
	OP_FIRE,      /* b: & 3 watch, timer, deferred pass, every armed one; bit 7 even when
		       * not armed */
	OP_FEED,      /* le16 len, bytes: into the pipe (what fits) */
	OP_EOF,       /* the pipe's write end closes */
	OP_POKE,      /* le16 off, len, bytes: the guest writes its memory */
	OP_WARP,      /* the rate limit's period ends */
	OP_MSG,       /* kind, le16 v: a frontend message (enum msg) */
	OP_RECONNECT, /* b, le16 base: the frontend goes and comes back (as vu_loop.c): bit 0
		       * at base (else at the used index), bit 1 left disabled */
	OP_BATCH,     /* n-1, le16 addr, len-1: n one-buffer requests, one after the other */
	OP_MAX,
};

enum msg { MSG_RESTART, MSG_ENABLE, MSG_NEW_KICK, MSG_MEM_TABLE, MSG_CONFIG, MSG_MAX };
enum hook { H_WATCH, H_TIMER, H_LATER, H_N };

struct seg {
	uint32_t off, len;
};

struct chain {
	unsigned nseg, out_num;
	uint64_t in_len;
};

struct run {
	struct rng_dev d;
	int sock, peer;             /* the frontend's end of the socket, the backend's */
	int src, feed;              /* the source; the pipe's write end, or -1 */
	bool zero, eof;
	bool event_idx, pf;
	unsigned qsize;
	uint64_t max_bytes;
	uint16_t avail_idx, next_desc;  /* the driver's next avail index, next free slot */
	bool armed[H_N];            /* what the device asked for and did not get yet */
	unsigned calls[H_N];        /* ... in this step */
	/* the model */
	size_t fed, consumed;       /* the pipe's stream: written, served */
	uint64_t budget;            /* left in the period */
	bool period_over;           /* the next request starts a period */
	uint64_t in_period;         /* bytes served since the period began */
	/* one step */
	bool was_started, starting;
	uint16_t u0, l0;
	uint64_t bytes0, req0;
	uint8_t stream[INPUT_CAP];
	uint8_t expect[GUEST_SIZE];
	struct seg seg[RNG_IOV_CAP];
};

/* ---- little-endian fields of the model's RAM ---- */

static unsigned ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static void st16(uint8_t *p, unsigned v)
{
	uint16_t x = htole16((uint16_t)v);

	memcpy(p, &x, 2);
}

static void st32(uint8_t *p, uint32_t v)
{
	uint32_t x = htole32(v);

	memcpy(p, &x, 4);
}

static bool in_ram(uint64_t addr, uint64_t len)
{
	return addr <= GUEST_SIZE && len <= GUEST_SIZE - addr;
}

/* ---- the hooks: main.c's event loop, driven by the input ---- */

static struct run *run_of(struct rng_dev *d)
{
	return container_of(d, struct run, d);
}

static void hook(struct rng_dev *d, enum hook h)
{
	struct run *r = run_of(d);

	r->armed[h] = true;
	r->calls[h]++;
}

static void h_watch(struct rng_dev *d)
{
	hook(d, H_WATCH);
}

static void h_timer(struct rng_dev *d, uint64_t ms)
{
	/* the period's rest, or the retry delay: never 0 (a busy loop), never longer */
	CHECK(ms > 0 && ms <= MAX((uint64_t)PERIOD_MS, (uint64_t)RNG_RETRY_MS));
	hook(d, H_TIMER);
}

static void h_later(struct rng_dev *d)
{
	hook(d, H_LATER);
}

/* ---- the model ---- */

/* The chain at head as vq_pop walks it in the model's RAM; false where it refuses it. */
static bool walk(struct run *r, unsigned head, struct chain *c)
{
	uint64_t table = DESC;
	unsigned max = r->qsize, i = head, count = 0;
	bool indirect = false, seen_write = false;

	memset(c, 0, sizeof(*c));
	for (;;) {
		struct vring_desc d;
		uint64_t addr;
		uint32_t len;
		unsigned fl;

		if (++count > max)
			return false;
		memcpy(&d, r->expect + table + 16 * i, sizeof(d));   /* i < max: inside RAM */
		addr = le64toh(d.addr);
		len = le32toh(d.len);
		fl = le16toh(d.flags);
		if (fl & VRING_DESC_F_INDIRECT) {
			if (indirect || count > 1 || (fl & VRING_DESC_F_NEXT) || !len || len % 16 ||
			    len / 16 > VQ_MAX_INDIRECT || !in_ram(addr, len))
				return false;
			table = addr;
			max = len / 16;
			indirect = true;
			i = 0;
			count = 0;
			continue;
		}
		if (!(fl & VRING_DESC_F_WRITE) && seen_write)
			return false;
		seen_write |= fl & VRING_DESC_F_WRITE;
		if (len) {
			if (!in_ram(addr, len) || c->nseg >= RNG_IOV_CAP)
				return false;
			r->seg[c->nseg++] = (struct seg){ (uint32_t)addr, len };
			if (fl & VRING_DESC_F_WRITE)
				c->in_len += len;
			else
				c->out_num++;
		}
		if (!(fl & VRING_DESC_F_NEXT))
			return true;
		if (le16toh(d.next) >= max)
			return false;
		i = le16toh(d.next);
	}
}

/* The j-th chain the device served in this step: check it, and do to the model's RAM what
 * the device should have done to the guest's. Returns the bytes it got. */
static uint64_t replay(struct run *r, unsigned j)
{
	unsigned slot = (uint16_t)(r->l0 + j) & (r->qsize - 1);
	unsigned head = ld16(r->expect + AVAIL + 4 + 2 * slot), used;
	uint64_t want, done = 0;
	struct chain c;

	CHECK(head < r->qsize && walk(r, head, &c));
	CHECK(!c.out_num && c.in_len);      /* rng.c breaks the queue on any other */
	if (r->event_idx)
		st16(r->expect + USED + 4 + 8 * r->qsize, (uint16_t)(r->l0 + j + 1));
	want = MIN(c.in_len, (uint64_t)RNG_CHAIN_MAX);
	if (r->max_bytes) {
		if (r->period_over) {
			r->period_over = false;
			r->budget = r->max_bytes;
			r->in_period = 0;
		}
		want = MIN(want, r->budget);
	}
	if (!r->zero)
		want = MIN(want, (uint64_t)(r->fed - r->consumed));
	CHECK(want);    /* a chain with nothing in it goes back to the ring, not to the guest */
	for (unsigned s = 0; s < c.nseg && done < want; s++) {
		uint64_t n = MIN((uint64_t)r->seg[s].len, want - done);

		if (r->zero)
			memset(r->expect + r->seg[s].off, 0, n);
		else
			memcpy(r->expect + r->seg[s].off, r->stream + r->consumed + done, n);
		done += n;
	}
	if (!r->zero)
		r->consumed += want;
	if (r->max_bytes)
		r->budget -= want;
	used = USED + 4 + 8 * ((uint16_t)(r->u0 + j) & (r->qsize - 1));
	st32(r->expect + used, head);
	st32(r->expect + used + 4, (uint32_t)want);
	st16(r->expect + USED + 2, (uint16_t)(r->u0 + j + 1));
	return want;
}

static void step_begin(struct run *r)
{
	const struct vu_queue *q = &r->d.vu.q[RNG_Q_REQUEST];

	memcpy(r->expect, guest, GUEST_SIZE);
	r->was_started = q->started;
	r->starting = false;
	r->u0 = q->vq.used_idx;
	r->l0 = q->vq.last_avail_idx;
	r->bytes0 = r->d.stats.bytes;
	r->req0 = r->d.stats.requests;
	memset(r->calls, 0, sizeof(r->calls));
}

/* A step that starts the queue at base: vq_setup takes the used index from the ring. */
static void step_begin_start(struct run *r, uint16_t base)
{
	step_begin(r);
	r->starting = true;
	r->l0 = base;
	r->u0 = (uint16_t)ld16(r->expect + USED + 2);
}

static void check_ram(const struct run *r)
{
	if (!memcmp(r->expect, guest, GUEST_SIZE))
		return;
	for (size_t i = 0; i < GUEST_SIZE; i++) {
		if (r->expect[i] != guest[i]) {
			fprintf(stderr, "fuzz-rng: guest RAM at %#zx is %#x, want %#x\n", i,
				guest[i], r->expect[i]);
			abort();
		}
	}
}

/* Waits have their hooks; each says why it waits. */
static void check_wait(const struct run *r)
{
	switch (r->d.wait) {
	case RNG_WAIT_SOURCE:
		CHECK(r->armed[H_WATCH]);
		if (r->calls[H_WATCH])
			CHECK(!r->zero && !r->eof && r->fed == r->consumed);
		break;
	case RNG_WAIT_RETRY:
		CHECK(r->armed[H_TIMER]);
		if (r->calls[H_TIMER])
			CHECK(!r->zero && r->eof && r->fed == r->consumed);
		break;
	case RNG_WAIT_PERIOD:
		CHECK(r->armed[H_TIMER] && r->max_bytes);
		if (r->calls[H_TIMER])
			CHECK(!r->period_over && !r->budget);
		break;
	default:
		break;
	}
}

/* After a step: ran says the device was given the chance to serve (a kick, a hook, a
 * queue start). */
static void step_end(struct run *r, bool ran)
{
	struct vu_queue *q = &r->d.vu.q[RNG_Q_REQUEST];
	struct vq *vq = &q->vq;
	unsigned k = 0;
	uint64_t bytes = 0;

	if (r->starting && q->started)
		st16(r->expect + USED, 0);      /* vq_setup turns kicks on */
	if (r->was_started || (r->starting && q->started))
		k = (uint16_t)(vq->used_idx - r->u0);
	CHECK(k <= RNG_BUDGET * 4);
	for (unsigned j = 0; j < k; j++)
		bytes += replay(r, j);
	if (q->started) {
		uint16_t l = (uint16_t)(r->l0 + k);

		/* nothing is held: every chain popped went back or to the guest (a bad one,
		 * which broke the queue, stays popped) */
		CHECK(vq->last_avail_idx == l ||
		      (vq->broken && vq->last_avail_idx == (uint16_t)(l + 1)));
		for (unsigned h = 0; h < r->qsize && !vq->broken; h++)
			CHECK(!(vq->busy[h >> 3] & (1u << (h & 7))));
		/* a chain handed back, or a bad one, leaves avail_event at the ring's base */
		if (r->event_idx && ld16(guest + USED + 4 + 8 * r->qsize) == vq->last_avail_idx)
			st16(r->expect + USED + 4 + 8 * r->qsize, vq->last_avail_idx);
	}
	check_ram(r);
	CHECK(r->d.stats.bytes - r->bytes0 == bytes && r->d.stats.requests - r->req0 == k);
	if (r->max_bytes) {
		r->in_period += bytes;
		CHECK(r->in_period <= r->max_bytes);
		if (!r->period_over && r->d.period_started)
			CHECK(r->d.budget == r->budget);
	}
	check_wait(r);
	if (ran && q->started && q->enabled && vq->ready && !vq->broken &&
	    vq_avail_pending(vq) && r->d.wait == RNG_SERVING)
		CHECK(r->armed[H_LATER]);   /* work left over, and nothing will come back to it */
}

/* ---- the frontend ---- */

static bool msg(struct run *r, uint32_t req, const void *p, uint32_t len, int fd)
{
	return frontend_msg(&r->d.vu, r->sock, req, p, len, fd);
}

/* frontend_start_queue with this file's ring layout. */
static bool frontend_queue(struct run *r, uint16_t base, bool enable)
{
	struct vu_vring_state num = { RNG_Q_REQUEST, r->qsize }, b = { RNG_Q_REQUEST, base },
			      en = { RNG_Q_REQUEST, 1 };
	struct vu_vring_addr a = { RNG_Q_REQUEST, 0, FRONTEND_UADDR + DESC, FRONTEND_UADDR + USED,
				   FRONTEND_UADDR + AVAIL, 0 };
	uint64_t idx = RNG_Q_REQUEST;

	return msg(r, VU_SET_VRING_NUM, &num, sizeof(num), -1) &&
	       msg(r, VU_SET_VRING_ADDR, &a, sizeof(a), -1) &&
	       msg(r, VU_SET_VRING_BASE, &b, sizeof(b), -1) &&
	       msg(r, VU_SET_VRING_CALL, &idx, 8, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) &&
	       msg(r, VU_SET_VRING_KICK, &idx, 8, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) &&
	       (!enable || msg(r, VU_SET_VRING_ENABLE, &en, sizeof(en), -1));
}

static bool start_queue(struct run *r, uint16_t base, bool enable)
{
	bool ok;

	step_begin_start(r, base);
	ok = frontend_queue(r, base, enable);
	step_end(r, true);
	return ok;
}

/* A frontend connects: features, memory, the queue at base. */
static bool connect_frontend(struct run *r, uint16_t base, bool enable)
{
	struct vu_watch w = { w_add, w_del, NULL };
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
		     (r->event_idx ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0) |
		     (r->pf ? 1ULL << VU_F_PROTOCOL_FEATURES : 0), pf = 0;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	r->sock = sv[0];
	r->peer = sv[1];
	if (vu_dev_init(&r->d.vu, "fuzz-rng", r->peer, RNG_NQUEUES, &rng_vu_ops, &w, &r->d) < 0)
		abort();
	return msg(r, VU_SET_FEATURES, &f, 8, -1) &&
	       (!r->pf || msg(r, VU_SET_PROTOCOL_FEATURES, &pf, 8, -1)) &&
	       frontend_mem_table(&r->d.vu, r->sock) && start_queue(r, base, enable || !r->pf);
}

/* The frontend goes, as in vu_loop.c: the device, then the library let go. */
static void disconnect_frontend(struct run *r)
{
	step_begin(r);
	rng_dev_disconnect(&r->d);
	r->bytes0 = r->d.stats.bytes;   /* the statistics were logged and reset */
	r->req0 = r->d.stats.requests;
	vu_dev_exit(&r->d.vu);
	step_end(r, false);
	CHECK(!nwatched);
	close(r->sock);
	close(r->peer);
	r->sock = r->peer = -1;
}

static bool op_msg(struct run *r, struct input *in)
{
	unsigned kind = take8(in) % MSG_MAX, v = take16(in);
	struct vu_vring_state s = { RNG_Q_REQUEST, v & 1 };
	uint64_t idx = RNG_Q_REQUEST;
	bool ok, ran;

	if (kind == MSG_RESTART) {
		/* stopped (GET_VRING_BASE), then started again where it was, or at v */
		uint16_t base = r->d.vu.q[RNG_Q_REQUEST].vq.last_avail_idx;

		step_begin(r);
		ok = msg(r, VU_GET_VRING_BASE, &s, sizeof(s), -1);
		step_end(r, false);
		if (v & 0x8000)
			base = (uint16_t)v;
		return ok && start_queue(r, base, !(v & 0x4000) || !r->pf);
	}
	/* a queue that starts running is served; SET_MEM_TABLE pauses and resumes it */
	ran = kind == MSG_MEM_TABLE || (kind == MSG_ENABLE && (v & 1) &&
					!r->d.vu.q[RNG_Q_REQUEST].enabled);
	step_begin(r);
	switch (kind) {
	case MSG_ENABLE:
		ok = msg(r, VU_SET_VRING_ENABLE, &s, sizeof(s), -1);
		break;
	case MSG_NEW_KICK:
		ok = msg(r, VU_SET_VRING_KICK, &idx, 8, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
		break;
	case MSG_MEM_TABLE:
		ok = frontend_mem_table(&r->d.vu, r->sock);
		break;
	default: {
		struct vu_config c = { v & 0xff, (v >> 8) & 0xff, 0, { 0 } };

		ok = msg(r, VU_GET_CONFIG, &c, VU_CONFIG_HDR_SIZE + c.size, -1);
		break;
	}
	}
	step_end(r, ran);
	return ok;
}

/* ---- the guest driver ---- */

/* One descriptor from the input at guest offset at: le16 addr, le16 len, fl (bit 0 WRITE,
 * bit 1 INDIRECT, bit 2 next from a byte (else next), bit 3 addr at the top of the 64-bit
 * space, bit 4 NEXT the other way round (it is set on all but the last), bit 5 len above
 * 4 GiB - 64 KiB). */
static void put_desc(struct input *in, uint32_t at, bool last, unsigned next)
{
	uint64_t addr = take16(in);
	uint32_t len = take16(in);
	unsigned fl = take8(in);
	uint16_t flags = (fl & 1 ? VRING_DESC_F_WRITE : 0) | (fl & 2 ? VRING_DESC_F_INDIRECT : 0);
	struct vring_desc d;

	if (fl & 4)
		next = take8(in);
	if (fl & 8)
		addr |= 0xffffffffffff0000ULL;
	if (fl & 32)
		len |= 0xffff0000u;
	if (!last != !!(fl & 16))
		flags |= VRING_DESC_F_NEXT;
	d = (struct vring_desc){ htole64(addr), htole32(len), htole16(flags), htole16(next) };
	if (in_ram(at, sizeof(d)))
		memcpy(guest + at, &d, sizeof(d));
}

static void put_table_head(unsigned slot, uint32_t table, uint32_t len)
{
	struct vring_desc d = { htole64(table), htole32(len), htole16(VRING_DESC_F_INDIRECT), 0 };

	memcpy(guest + DESC + 16 * slot, &d, sizeof(d));
}

static void publish(struct run *r, uint16_t head)
{
	uint16_t idx = htole16(++r->avail_idx);

	st16(guest + AVAIL + 4 + 2 * ((r->avail_idx - 1) & (r->qsize - 1)), head);
	/* release: the entry before the index, as a driver stores them */
	__atomic_store_n((uint16_t *)(void *)(guest + AVAIL + 2), idx, __ATOMIC_RELEASE);
}

static void kick(struct run *r)
{
	step_begin(r);
	w_fire(r->d.vu.q[RNG_Q_REQUEST].kick_fd);
	step_end(r, true);
}

static void op_chain(struct run *r, struct input *in)
{
	unsigned c = take8(in), n = (c & 15) + 1, head = r->next_desc % r->qsize;

	/* the descriptors wrap in the table: a chain longer than the queue overwrites its own
	 * start, and vq_pop's length limit ends the loop that makes */
	for (unsigned i = 0; i < n; i++) {
		unsigned slot = (head + i) % r->qsize;

		put_desc(in, DESC + 16 * slot, i + 1 == n, (slot + 1) % r->qsize);
	}
	r->next_desc = (uint16_t)(head + n);
	if (c & 16)
		head = take8(in);
	if (!(c & 32))
		publish(r, (uint16_t)head);
	if (c & 64)
		kick(r);
}

static void op_itable(struct run *r, struct input *in)
{
	uint32_t off = take16(in);
	unsigned c = take8(in), n = (c & 31) + 1, head = r->next_desc % r->qsize;

	for (unsigned i = 0; i < n; i++)
		put_desc(in, off + 16 * i, i + 1 == n, i + 1);
	put_table_head(head, off, 16 * n);
	r->next_desc = (uint16_t)(head + 1);
	publish(r, (uint16_t)head);
	if (c & 64)
		kick(r);
}

/* Many requests at once: a wakeup serves RNG_BUDGET of them, then defers the rest. */
static void op_batch(struct run *r, struct input *in)
{
	unsigned n = take8(in) + 1, addr = take16(in), len = take8(in) + 1;

	for (unsigned i = 0; i < n; i++) {
		unsigned slot = r->next_desc++ % r->qsize;
		struct vring_desc d = { htole64((addr + i * len) & 0xffff), htole32(len),
					htole16(VRING_DESC_F_WRITE), 0 };

		memcpy(guest + DESC + 16 * slot, &d, sizeof(d));
		publish(r, (uint16_t)slot);
	}
}

static void fire(struct run *r, unsigned b)
{
	bool any = false;

	for (unsigned h = 0; h < H_N; h++) {
		if ((b & 3) != 3 && (b & 3) != h)
			continue;
		any |= r->armed[h] || (b & 0x80);
		r->armed[h] = false;
	}
	if (!any)
		return;
	step_begin(r);
	rng_resume(&r->d);
	step_end(r, true);
}

static void op_feed(struct run *r, struct input *in)
{
	size_t len = take16(in);
	ssize_t w;

	len = MIN(len, in->n);
	w = r->feed >= 0 ? write(r->feed, in->p, len) : 0;
	if (w > 0) {
		memcpy(r->stream + r->fed, in->p, (size_t)w);
		r->fed += (size_t)w;
	}
	in->p += len;
	in->n -= len;
}

/* The period is over: as if PERIOD_MS went by (see the top of the file). */
static void warp(struct run *r)
{
	if (r->d.period_start_ms >= PERIOD_MS)
		r->d.period_start_ms -= PERIOD_MS;
	else
		r->d.period_started = false;
	r->period_over = true;
	r->in_period = 0;
}

/* One op; false when the frontend connection is finished. */
static bool one_op(struct run *r, struct input *in)
{
	unsigned op = take8(in) % OP_MAX, off, len, b;

	switch (op) {
	case OP_CHAIN:
		op_chain(r, in);
		break;
	case OP_ITABLE:
		op_itable(r, in);
		break;
	case OP_KICK:
		kick(r);
		break;
	case OP_FIRE:
		fire(r, take8(in));
		break;
	case OP_FEED:
		op_feed(r, in);
		break;
	case OP_EOF:
		if (r->feed >= 0) {
			close(r->feed);
			r->feed = -1;
			r->eof = true;
		}
		break;
	case OP_POKE:
		off = take16(in);
		len = take8(in);
		take(in, guest + off, MIN(len, GUEST_SIZE - off));
		break;
	case OP_WARP:
		warp(r);
		break;
	case OP_MSG:
		return op_msg(r, in);
	case OP_BATCH:
		op_batch(r, in);
		break;
	default:
		b = take8(in);
		off = take16(in);
		disconnect_frontend(r);
		/* the new frontend starts where the used ring is, or anywhere */
		return connect_frontend(r, b & 1 ? (uint16_t)off : (uint16_t)ld16(guest + USED + 2),
					!(b & 2));
	}
	return !r->d.vu.broken;
}

/* ---- one input ---- */

static unsigned count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static const uint64_t max_sel[4] = { 0, 0, 0, RNG_MAX_BYTES_MAX };

/* The source: a pipe (EAGAIN, short reads, EOF) or /dev/zero. */
static bool open_source(struct run *r, unsigned cfg)
{
	int p[2];

	r->feed = -1;
	if (cfg & 1) {
		r->src = open("/dev/zero", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		r->zero = r->src >= 0;
		if (r->zero)
			return true;
	}
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		return false;
	if (cfg & 2)
		fcntl(p[1], F_SETPIPE_SZ, 4096);
	r->src = p[0];
	r->feed = p[1];
	return true;
}

/* What is left in the pipe is the stream's unserved rest, to the byte. */
static void drain_source(struct run *r)
{
	static uint8_t buf[INPUT_CAP + 1];
	size_t got = 0;
	ssize_t n;

	if (r->zero)
		return;
	while ((n = read(r->src, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)n;
	CHECK(got == r->fed - r->consumed && !memcmp(buf, r->stream + r->consumed, got));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	const struct rng_hooks hooks = { h_watch, h_timer, h_later };
	struct input in = { data, size };
	unsigned cfg, fds;

	log_set_level(LOG_LVL_ERR);   /* every refused chain would log a line */
	if (size > INPUT_CAP || guest_setup("fuzz-rng-guest", GUEST_SIZE) < 0)
		return 0;
	fds = count_fds();
	memset(guest, 0, GUEST_SIZE);
	memset(&r, 0, offsetof(struct run, stream));
	nwatched = 0;
	cfg = take8(&in);
	r.event_idx = cfg & 4;
	r.pf = cfg & 8;
	r.qsize = 2u << 2 * ((cfg >> 4) & 3);
	r.max_bytes = max_sel[cfg >> 6];
	if (cfg >> 6 == 1)
		r.max_bytes = take8(&in) + 1u;
	else if (cfg >> 6 == 2)
		r.max_bytes = take16(&in) + 1u;
	r.period_over = true;
	if (!open_source(&r, cfg))
		return 0;
	if (rng_dev_init(&r.d, r.src, r.max_bytes, PERIOD_MS, &hooks) < 0)
		abort();
	if (connect_frontend(&r, 0, true))
		for (unsigned i = 0; i < MAX_OPS && in.n && one_op(&r, &in); i++)
			;
	if (r.sock >= 0)
		disconnect_frontend(&r);
	rng_dev_exit(&r.d);
	drain_source(&r);
	close(r.src);
	if (r.feed >= 0)
		close(r.feed);
	CHECK(count_fds() == fds);
	return 0;
}

/* ---- seeds ---- */

static void desc(struct out *o, unsigned addr, unsigned len, unsigned fl)
{
	emit16(o, addr);
	emit16(o, len);
	emit8(o, fl);
}

static void feed(struct out *o, unsigned n)
{
	emit8(o, OP_FEED);
	emit16(o, n);
	for (unsigned k = 0; k < n; k++)
		emit8(o, k * 37 + 11);
}

/* Seeds, by i % 7: 0 one request per buffer on a pipe; 1 a three-buffer request under a
 * 48-byte limit, the period ending; 2 a request with a readable buffer (breaks the queue);
 * 3 an indirect request on /dev/zero with EVENT_IDX; 4 the pipe running dry, then EOF and
 * a retry; 5 a restart and a reconnect with requests waiting; 6 more requests than one
 * wakeup serves. */
size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	struct out o = { buf, 0, cap };

	switch (i % 7) {
	case 0:
		emit8(&o, 1 << 4);                      /* pipe, queue of 8, no limit */
		feed(&o, 64);
		emit8(&o, OP_CHAIN); emit8(&o, 0); desc(&o, 0x1000, 16, 1);
		emit8(&o, OP_CHAIN); emit8(&o, 64); desc(&o, 0x2000, 32, 1);
		break;
	case 1:
		emit8(&o, (1 << 4) | (1 << 6));         /* max-bytes 48 */
		emit8(&o, 47);
		feed(&o, 200);
		emit8(&o, OP_CHAIN); emit8(&o, 2 | 64);
		desc(&o, 0x1000, 20, 1); desc(&o, 0x1100, 20, 1); desc(&o, 0x1200, 20, 1);
		emit8(&o, OP_CHAIN); emit8(&o, 64); desc(&o, 0x2000, 40, 1);
		emit8(&o, OP_WARP);
		emit8(&o, OP_FIRE); emit8(&o, 1);
		break;
	case 2:
		emit8(&o, 1 << 4);
		feed(&o, 16);
		emit8(&o, OP_CHAIN); emit8(&o, 1 | 64); desc(&o, 0x1000, 8, 0); desc(&o, 0x1100, 8, 1);
		break;
	case 3:
		emit8(&o, 1 | 4 | (2 << 4));            /* /dev/zero, EVENT_IDX, queue of 32 */
		emit8(&o, OP_POKE); emit16(&o, 0x1000); emit8(&o, 64);
		for (unsigned k = 0; k < 64; k++)
			emit8(&o, 0xa5);
		emit8(&o, OP_ITABLE); emit16(&o, 0x3000); emit8(&o, 2 | 64);
		desc(&o, 0x1000, 16, 1); desc(&o, 0x1020, 0, 1); desc(&o, 0x1030, 16, 1);
		break;
	case 4:
		emit8(&o, 1 << 4);
		emit8(&o, OP_CHAIN); emit8(&o, 64); desc(&o, 0x1000, 32, 1);
		feed(&o, 8);
		emit8(&o, OP_FIRE); emit8(&o, 0);
		emit8(&o, OP_CHAIN); emit8(&o, 64); desc(&o, 0x2000, 32, 1);
		emit8(&o, OP_EOF);
		emit8(&o, OP_FIRE); emit8(&o, 3);
		emit8(&o, OP_FIRE); emit8(&o, 1);
		break;
	case 5:
		emit8(&o, 8 | (1 << 4));                /* F_PROTOCOL_FEATURES */
		feed(&o, 12);
		emit8(&o, OP_CHAIN); emit8(&o, 0); desc(&o, 0x1000, 8, 1);
		emit8(&o, OP_CHAIN); emit8(&o, 0); desc(&o, 0x1100, 8, 1);
		emit8(&o, OP_MSG); emit8(&o, MSG_RESTART); emit16(&o, 0);
		emit8(&o, OP_CHAIN); emit8(&o, 64); desc(&o, 0x1200, 8, 1);
		emit8(&o, OP_RECONNECT); emit8(&o, 0); emit16(&o, 0);
		feed(&o, 8);
		emit8(&o, OP_FIRE); emit8(&o, 0);
		break;
	default:
		emit8(&o, 1 | (3 << 4));                /* /dev/zero, queue of 128 */
		emit8(&o, OP_BATCH); emit8(&o, 99); emit16(&o, 0x2000); emit8(&o, 15);
		emit8(&o, OP_KICK);
		emit8(&o, OP_FIRE); emit8(&o, 2);
		break;
	}
	return o.n;
}
