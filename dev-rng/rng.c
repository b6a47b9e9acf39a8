/* bulkhead-rng's device: the requestq and the vhost-user ops. No event loop in here: when it
 * cannot go on it asks main.c (rng_hooks) to call rng_resume later, and until then it pops
 * nothing, so a guest kicking meanwhile costs one flag test.
 *
 * Bounded everywhere, never blocking, never spinning:
 * - the source is nonblocking: EAGAIN hands the chain back (vq_rewind) and waits for the
 *   source to be readable; EOF or an error hands it back too and retries after RNG_RETRY_MS
 *   (a device that is always "readable" and always at EOF, like /dev/null, would otherwise
 *   wake us in a loop);
 * - no chain is held between calls, so stopping a queue has nothing to give back;
 * - at most RNG_BUDGET chains and RNG_CHAIN_MAX bytes per chain per wakeup; more work comes
 *   back through an active event, after whatever else the loop has;
 * - the rate limit is a budget of max_bytes per period: when it is spent, popping stops until
 *   the period ends (a timer), and the guest's buffers wait in its ring. */
#include "rng.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/param.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "util.h"

#define BIT(b) (1ULL << (b))

static struct vq *vq_of(struct rng_dev *d)
{
	return &d->vu.q[RNG_Q_REQUEST].vq;
}

/* Started, enabled, and not broken: the queue may be popped. */
static bool live(struct rng_dev *d)
{
	const struct vu_queue *q = &d->vu.q[RNG_Q_REQUEST];

	return q->started && q->enabled && q->vq.ready && !q->vq.broken;
}

static uint64_t now_ms(void)
{
	return mono_ns() / 1000000u;
}

/* ---- the rate limit ------------------------------------------------------------------------ */

/* May bytes go out now? A new period starts with the first request after the last one ended
 * (a fixed window, as QEMU's rng does): never more than max_bytes inside one. When the budget
 * is spent, the timer is armed for the period's end. */
static bool budget_left(struct rng_dev *d)
{
	uint64_t now;

	if (!d->max_bytes)
		return true;
	now = now_ms();
	if (!d->period_started || now - d->period_start_ms >= d->period_ms) {
		d->period_started = true;
		d->period_start_ms = now;
		d->budget = d->max_bytes;
	}
	if (d->budget)
		return true;
	d->wait = RNG_WAIT_PERIOD;
	d->stats.throttled++;
	d->hooks.timer(d, d->period_start_ms + d->period_ms - now);
	return false;
}

/* ---- one request ------------------------------------------------------------------------- */

/* Read up to want bytes from the source into e's writable buffers. Returns the bytes read
 * (a short read is fine: the guest gets what there was), or -EAGAIN, -ENODATA (EOF) or
 * another -errno when nothing was read. */
static ssize_t fill(struct rng_dev *d, const struct vq_elem *e, uint64_t want)
{
	unsigned n = 0, i = 0;
	ssize_t got = 0;

	for (unsigned k = 0; k < e->in_num && want; k++) {
		size_t len = MIN(e->iov[e->out_num + k].iov_len, want);

		d->rd[n++] = (struct iovec){ e->iov[e->out_num + k].iov_base, len };
		want -= len;
	}
	while (i < n) {
		unsigned cnt = MIN(n - i, (unsigned)IOV_MAX);
		size_t len = 0;
		ssize_t r;

		for (unsigned k = i; k < i + cnt; k++)
			len += d->rd[k].iov_len;
		r = readv(d->src_fd, d->rd + i, (int)cnt);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return got ? got : r < 0 ? -errno : -ENODATA;
		got += r;
		if ((size_t)r < len)
			break;
		i += cnt;
	}
	return got;
}

/* The source gave nothing: wait for it, and say why (rate-limited: a guest asks again and
 * again). */
static void source_stalled(struct rng_dev *d, ssize_t err)
{
	if (err == -EAGAIN) {
		d->wait = RNG_WAIT_SOURCE;
		d->hooks.source_watch(d);
		return;
	}
	d->stats.source_errors++;
	if (ratelimit_ok(&d->rl))
		log_warnx("entropy source: %s; retrying in %u ms",
			  err == -ENODATA ? "end of file" : strerror((int)-err), RNG_RETRY_MS);
	d->wait = RNG_WAIT_RETRY;
	d->hooks.timer(d, RNG_RETRY_MS);
}

/* Serve one popped chain. False when the source could not: the chain went back. */
static bool serve(struct rng_dev *d, struct vq *vq, struct vq_elem *e)
{
	const struct vq_elem *back = e;
	uint64_t want = MIN(e->in_len, (uint64_t)RNG_CHAIN_MAX);
	ssize_t got;

	if (d->max_bytes)
		want = MIN(want, d->budget);
	got = fill(d, e, want);
	if (got <= 0) {
		vq_rewind(vq, &back, 1);
		source_stalled(d, got);
		return false;
	}
	vq_push(vq, e->head, (uint32_t)got);
	d->stats.requests++;
	d->stats.bytes += (uint64_t)got;
	if (d->max_bytes)
		d->budget -= (uint64_t)got;
	return true;
}

/* A request is a buffer for the device to fill, nothing else: anything else is a driver
 * that does not follow the spec (or a hostile one). */
static bool chain_ok(struct rng_dev *d, struct vq *vq, const struct vq_elem *e)
{
	if (!e->out_num && e->in_len)
		return true;
	d->stats.bad_chains++;
	vq_break(vq, "requestq: a request of %u device-readable and %u writable buffers (%llu "
		 "writable bytes); want only writable ones", e->out_num, e->in_num,
		 (unsigned long long)e->in_len);
	return false;
}

/* Serve what the guest posted, up to the budget of one wakeup. */
static void process(struct rng_dev *d)
{
	struct vq *vq = vq_of(d);
	uint16_t before = vq->used_idx;
	unsigned n;

	if (d->wait != RNG_SERVING || !live(d))
		return;
	for (n = 0; n < RNG_BUDGET; n++) {
		struct vq_elem e = { .iov = d->iov, .iov_cap = RNG_IOV_CAP };

		/* the budget is looked at only with a request waiting: an empty ring starts no
		 * period and arms no timer */
		if (!vq_avail_pending(vq) || !budget_left(d) || vq_pop(vq, &e) <= 0)
			break;
		if (!chain_ok(d, vq, &e) || !serve(d, vq, &e))
			break;
	}
	if (vq->used_idx != before)
		vu_queue_notify(&d->vu, RNG_Q_REQUEST);
	if (n == RNG_BUDGET && vq_avail_pending(vq))
		d->hooks.later(d);
}

void rng_resume(struct rng_dev *d)
{
	d->wait = RNG_SERVING;
	process(d);
}

/* ---- vhost-user device ops ------------------------------------------------------------- */

static struct rng_dev *to_rng(struct vu_dev *v)
{
	return container_of(v, struct rng_dev, vu);
}

static uint64_t get_features(struct vu_dev *v)
{
	(void)v;
	/* virtio-rng defines no feature bits of its own */
	return BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) |
	       BIT(VIRTIO_RING_F_INDIRECT_DESC);
}

static void set_features(struct vu_dev *v, uint64_t f)
{
	to_rng(v)->features = f;
}

/* virtio-rng has no config space. The library offers VHOST_USER_PROTOCOL_F_CONFIG to every
 * device, and a failed request would cost the frontend its connection: a read gets zeros. */
static int get_config(struct vu_dev *v, uint8_t *buf, uint32_t off, uint32_t len)
{
	(void)v;
	if ((uint64_t)off + len > 256)
		return -EINVAL;
	memset(buf, 0, len);
	return 0;
}

static void queue_kick(struct vu_dev *v, unsigned qidx)
{
	(void)qidx;
	process(to_rng(v));
}

static void queue_start(struct vu_dev *v, unsigned qidx)
{
	queue_kick(v, qidx);
}

static void queue_stop(struct vu_dev *v, unsigned qidx)
{
	(void)v;
	(void)qidx;
	/* nothing popped is held across calls: a chain the source could not fill went back to
	 * the ring at once (serve), so there is nothing to hand back */
}

const struct vu_dev_ops rng_vu_ops = {
	.get_features = get_features,
	.set_features = set_features,
	.get_config = get_config,
	.queue_kick = queue_kick,
	.queue_start = queue_start,
	.queue_stop = queue_stop,
};

/* ---- set-up and teardown --------------------------------------------------------------------- */

int rng_dev_init(struct rng_dev *d, int src_fd, uint64_t max_bytes, unsigned period_ms,
		 const struct rng_hooks *hooks)
{
	if (src_fd < 0 || max_bytes > RNG_MAX_BYTES_MAX || period_ms < RNG_PERIOD_MIN ||
	    period_ms > RNG_PERIOD_MAX || !hooks || !hooks->source_watch || !hooks->timer ||
	    !hooks->later)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	d->src_fd = src_fd;
	d->max_bytes = max_bytes;
	d->period_ms = period_ms;
	d->hooks = *hooks;
	d->wait = RNG_SERVING;
	d->rl = (struct ratelimit)RATELIMIT_INIT(5000, 1);
	return 0;
}

void rng_log_stats(struct rng_dev *d)
{
	const struct rng_stats *s = &d->stats;

	log_info("served %llu requests, %llu bytes; throttled %llu times; source errors %llu; "
		 "bad requests %llu", (unsigned long long)s->requests,
		 (unsigned long long)s->bytes, (unsigned long long)s->throttled,
		 (unsigned long long)s->source_errors, (unsigned long long)s->bad_chains);
	memset(&d->stats, 0, sizeof(d->stats));
}

void rng_dev_disconnect(struct rng_dev *d)
{
	/* nothing in flight: every chain was pushed or rewound in the call that popped it. The
	 * rate limit's period and a pending wait stay: a frontend that reconnects gets no fresh
	 * budget, and the armed hook resumes serving the next one. */
	rng_log_stats(d);
}

void rng_dev_exit(struct rng_dev *d)
{
	d->src_fd = -1;
}
