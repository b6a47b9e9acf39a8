/* bulkhead-net data path: frames from TX chains to the tap queue of their pair, frames from
 * the tap into RX chains (mergeable buffers, one used->idx store per frame), and the control
 * queue. No event loop in here: main.c watches the taps and calls net_tap_readable/writable,
 * and is told what to watch through net_hooks.
 *
 * Never blocking, never busy-looping, never dropping silently:
 * - TX: a frame the tap answers EAGAIN is held (one per pair) and written again when the tap
 *   is writable; the pair pops nothing meanwhile, so the guest's ring is the queue.
 * - RX: frames are read straight into guest buffers. Without room for a largest frame the
 *   pair stops reading its tap until the guest kicks the RX queue (the tap's own queue holds
 *   the frames meanwhile and drops at its end, as a NIC's ring would); a frame bigger than
 *   the room (a tap with a larger MTU than the features allow for) is counted in rx_dropped.
 * - Each wakeup handles at most NET_BUDGET frames per queue; the loop comes back because the
 *   tap stays readable (RX) or because TX asks for a writable wakeup. */
#include "net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/param.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>

#include "log.h"
#include "util.h"

#define BIT(b) (1ULL << (b))
#define RX_IOV_MAX 1024     /* UIO_MAXIOV: the most readv takes */

enum { STEP_DONE, STEP_EMPTY, STEP_STALL, STEP_BROKEN };

static struct vq *vq_of(struct net_dev *d, unsigned qidx)
{
	return &d->vu.q[qidx].vq;
}

/* Started, enabled, and not broken: the queue may be popped. */
static bool live(struct net_dev *d, unsigned qidx)
{
	const struct vu_queue *q = &d->vu.q[qidx];

	return qidx < d->vu.nqueues && q->started && q->enabled && q->vq.ready && !q->vq.broken;
}

static struct net_stats_pair *st(struct net_dev *d, unsigned p)
{
	return &d->stats->pair[p];
}

/* ---- which pairs run, and what the loop watches ------------------------------------------ */

static bool pair_active(struct net_dev *d, unsigned p)
{
	unsigned pair, ctrl_q = 2 * d->model.pairs, limit = d->model.pairs;

	if (net_qrole(&d->model, 2 * p, &pair) != NET_Q_RX)
		return false;
	/* a frontend that forwards the control queue (bulkhead's core) chooses the pairs with
	 * VQ_PAIRS_SET; one that keeps it (QEMU) with SET_VRING_ENABLE */
	if (net_qrole(&d->model, ctrl_q, &pair) == NET_Q_CTRL && live(d, ctrl_q))
		limit = d->ctrl.vq_pairs;
	return p < limit && live(d, 2 * p);
}

/* Multi-queue taps steer flows to every attached queue: a queue whose pair the guest does not
 * use is detached, or its flows would wait forever. Queue 0 stays attached. */
static void attach(struct net_dev *d, unsigned p, bool on)
{
	struct net_pair *np = &d->pair[p];
	struct ifreq ifr = { .ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };

	if (!d->multiqueue_tap || np->attached == on || (p == 0 && !on))
		return;
	if (ioctl(np->tap, TUNSETQUEUE, &ifr) < 0) {
		log_warn("tap queue %u: %s", p, on ? "attach" : "detach");
		return;
	}
	np->attached = on;
}

static void watch(struct net_dev *d, unsigned p, bool rd, bool wr)
{
	struct net_pair *np = &d->pair[p];

	if (np->rd == rd && np->wr == wr)
		return;
	np->rd = rd;
	np->wr = wr;
	if (d->hooks.tap_watch)
		d->hooks.tap_watch(d, p, rd, wr);
}

/* Bring taps and watches in line with the queues' state. */
static void sync_pairs(struct net_dev *d)
{
	for (unsigned p = 0; p < d->model.pairs; p++) {
		struct net_pair *np = &d->pair[p];
		bool on = pair_active(d, p);

		attach(d, p, on);
		watch(d, p, on && np->attached && !np->rx.stalled, np->wr);
	}
}

/* ---- receive ------------------------------------------------------------------------------ */

static struct vq_elem *rx_el(struct net_rx *rx, unsigned k)
{
	return &rx->el[(rx->first + k) % NET_RX_RESERVE];
}

static uint64_t rx_frame_max(const struct net_dev *d)
{
	uint64_t f = d->model.features;

	/* with segmentation offloads the tap hands over 64 KiB frames */
	return f & (BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6)) ? NET_FRAME_MAX
										 : NET_FRAME_SMALL;
}

/* Give every held chain back to the ring (the queue stops, or its memory moves). */
static void rx_rewind(struct net_dev *d, unsigned p)
{
	struct net_rx *rx = &d->pair[p].rx;
	const struct vq_elem *el[NET_RX_RESERVE];

	for (unsigned k = 0; k < rx->count; k++)
		el[k] = rx_el(rx, k);
	/* -EIO on a broken queue: nothing to give back to a driver that must reset it */
	if (rx->count)
		vq_rewind(vq_of(d, 2 * p), el, rx->count);
	rx->first = rx->count = 0;
	rx->stalled = false;
}

/* Pop chains until the reserve holds `need` bytes or is full; *have is what it holds. */
static int rx_fill(struct net_dev *d, unsigned p, uint64_t need, uint64_t *have)
{
	struct net_rx *rx = &d->pair[p].rx;
	struct vq *vq = vq_of(d, 2 * p);

	*have = 0;
	for (unsigned k = 0; k < rx->count; k++)
		*have += rx_el(rx, k)->in_len;
	while (*have < need && rx->count < NET_RX_RESERVE) {
		struct vq_elem *e = rx_el(rx, rx->count);
		int r = vq_pop(vq, e);

		if (r == 0)
			break;
		if (r > 0 && (e->out_num || !e->in_len))
			vq_break(vq, "RX chain %u with a readable buffer or no room", e->head);
		if (r < 0 || vq->broken) {
			rx->first = rx->count = 0;
			return STEP_BROKEN;
		}
		rx->count++;
		*have += e->in_len;
	}
	return STEP_DONE;
}

/* The iovecs of the first chains of the reserve (all writable); returns chains used. */
static unsigned rx_iov(struct net_dev *d, unsigned p, unsigned chains, struct iovec *v,
		       unsigned *nv, uint64_t *room)
{
	struct net_rx *rx = &d->pair[p].rx;
	unsigned k;

	*nv = 0;
	*room = 0;
	for (k = 0; k < chains; k++) {
		struct vq_elem *e = rx_el(rx, k);

		if (*nv + e->in_num > RX_IOV_MAX)
			break;
		memcpy(v + *nv, e->iov, e->in_num * sizeof(*v));
		*nv += e->in_num;
		*room += e->in_len;
	}
	return k;
}

/* Return the first chains holding n bytes to the guest as one frame. */
static void rx_complete(struct net_dev *d, unsigned p, uint64_t n)
{
	struct net_rx *rx = &d->pair[p].rx;
	struct vring_used_elem used[NET_RX_RESERVE];
	unsigned k = 0;
	uint16_t nbuf;

	for (uint64_t left = n; left; k++) {
		struct vq_elem *e = rx_el(rx, k);
		uint64_t c = MIN(left, e->in_len);

		used[k] = (struct vring_used_elem){ e->head, (uint32_t)c };
		left -= c;
	}
	/* num_buffers before the used index publishes the frame; the tap does not write it */
	nbuf = htole16((uint16_t)k);
	if (d->hdr_len == NET_HDR_LEN) {
		struct vq_elem *e = rx_el(rx, 0);

		iov_write(e->iov, e->in_num, 10, &nbuf, sizeof(nbuf));
	}
	if (vq_push_batch(vq_of(d, 2 * p), used, k) == 0) {
		net_stats_add(&st(d, p)->rx_packets, 1);
		net_stats_add(&st(d, p)->rx_bytes, n - d->hdr_len);
	}
	rx->first = (rx->first + k) % NET_RX_RESERVE;
	rx->count -= k;
}

/* Move one frame from the tap into the guest. */
static int rx_step(struct net_dev *d, unsigned p)
{
	struct net_pair *np = &d->pair[p];
	uint64_t need = d->hdr_len + rx_frame_max(d), have, room;
	struct iovec v[RX_IOV_MAX];
	unsigned nv, chains;
	ssize_t n;

	/* without mergeable buffers a frame goes into one chain, whatever its size */
	if (rx_fill(d, p, d->mergeable ? need : 1, &have) == STEP_BROKEN)
		return STEP_BROKEN;
	if (!np->rx.count || (d->mergeable && have < need && np->rx.count < NET_RX_RESERVE))
		return STEP_STALL;
	chains = rx_iov(d, p, d->mergeable ? np->rx.count : 1, v, &nv, &room);
	do
		n = readv(np->tap, v, (int)nv);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN)
			log_warnx_rl(&d->rl, "tap queue %u: read: %s", p, strerror(errno));
		return STEP_EMPTY;
	}
	/* the tap truncates silently and returns the whole length: a frame larger than the
	 * room, or one without a header, is dropped - and counted - while the chains stay */
	if ((uint64_t)n > room || (uint64_t)n < d->hdr_len || !chains) {
		net_stats_add(&st(d, p)->rx_dropped, 1);
		log_warnx_rl(&d->rl, "tap queue %u: %zd-byte frame does not fit %llu bytes of "
			     "guest buffers: dropped", p, n, (unsigned long long)room);
		return STEP_DONE;
	}
	rx_complete(d, p, (uint64_t)n);
	return STEP_DONE;
}

static void rx_process(struct net_dev *d, unsigned p)
{
	struct net_pair *np = &d->pair[p];
	uint16_t before = vq_of(d, 2 * p)->used_idx;
	int r = STEP_EMPTY;

	if (!pair_active(d, p) || !np->attached)
		return;
	for (unsigned i = 0; i < NET_BUDGET; i++)
		if ((r = rx_step(d, p)) != STEP_DONE)
			break;
	/* one interrupt per batch, if the driver wants one (EVENT_IDX) */
	if (vq_of(d, 2 * p)->used_idx != before)
		vu_queue_notify(&d->vu, 2 * p);
	np->rx.stalled = r == STEP_STALL;
	watch(d, p, r != STEP_STALL && r != STEP_BROKEN, np->wr);
}

/* ---- transmit ---------------------------------------------------------------------------- */

static void tx_drop(struct net_dev *d, unsigned p, enum net_tx_verdict v)
{
	struct net_tx *tx = &d->pair[p].tx;

	net_stats_add(v == NET_TX_SPOOFED ? &st(d, p)->tx_spoofed : &st(d, p)->tx_errors, 1);
	log_warnx_rl(&d->rl, "tx%u: chain %u dropped: %s", p, tx->el.head, net_tx_verdict_str(v));
	vq_push(vq_of(d, 2 * p + 1), tx->el.head, 0);
}

/* The writev list: our copy of the checked headers, then the rest from guest memory. The
 * guest may rewrite its buffers at any time; the bytes the checks looked at are the bytes
 * that go out. */
static void tx_build(struct net_dev *d, struct net_tx *tx)
{
	unsigned hl = d->hdr_len + NET_ETH_HLEN, n = tx->el.out_num;
	struct iovec *rest = tx->el.iov;

	iov_advance(&rest, &n, hl);
	tx->wv[0] = (struct iovec){ tx->head, hl };
	memcpy(tx->wv + 1, rest, n * sizeof(*rest));
	tx->nwv = n + 1;
}

static int tx_step(struct net_dev *d, unsigned p)
{
	struct net_pair *np = &d->pair[p];
	struct net_tx *tx = &np->tx;
	enum net_tx_verdict v;
	ssize_t n;
	int r;

	if (!tx->held) {
		tx->el.iov = tx->iov;
		tx->el.iov_cap = NET_TX_IOV_CAP;
		r = vq_pop(vq_of(d, 2 * p + 1), &tx->el);
		if (r <= 0)
			return r < 0 ? STEP_BROKEN : STEP_EMPTY;
		v = net_tx_check(&d->model, &tx->el, tx->head);
		if (v != NET_TX_OK) {
			tx_drop(d, p, v);
			return STEP_DONE;
		}
		tx_build(d, tx);
	}
	do
		n = writev(np->tap, tx->wv, (int)tx->nwv);
	while (n < 0 && errno == EINTR);
	tx->held = n < 0 && errno == EAGAIN;
	if (tx->held)
		return STEP_STALL;
	if (n < 0) {
		/* the kernel's own header checks, or a tap that is down */
		net_stats_add(&st(d, p)->tx_errors, 1);
		log_warnx_rl(&d->rl, "tx%u: tap refused a frame: %s", p, strerror(errno));
	} else {
		net_stats_add(&st(d, p)->tx_packets, 1);
		net_stats_add(&st(d, p)->tx_bytes, tx->el.out_len - d->hdr_len);
	}
	vq_push(vq_of(d, 2 * p + 1), tx->el.head, 0);
	return STEP_DONE;
}

static void tx_process(struct net_dev *d, unsigned p)
{
	struct net_pair *np = &d->pair[p];
	uint16_t before = vq_of(d, 2 * p + 1)->used_idx;
	int r = STEP_DONE;

	if (!live(d, 2 * p + 1))
		return;
	for (unsigned i = 0; i < NET_BUDGET && r == STEP_DONE; i++)
		r = tx_step(d, p);
	if (vq_of(d, 2 * p + 1)->used_idx != before)
		vu_queue_notify(&d->vu, 2 * p + 1);
	/* a held frame waits for room in the tap; a spent budget comes back on the next
	 * writable wakeup, since the guest will not kick for chains already announced */
	watch(d, p, np->rd, r == STEP_STALL || r == STEP_DONE);
}

static void tx_release(struct net_dev *d, unsigned p)
{
	struct net_tx *tx = &d->pair[p].tx;
	const struct vq_elem *el = &tx->el;

	if (tx->held)
		vq_rewind(vq_of(d, 2 * p + 1), &el, 1);
	tx->held = false;
	watch(d, p, d->pair[p].rd, false);
}

/* ---- control queue ---------------------------------------------------------------------- */

static void ctrl_process(struct net_dev *d, unsigned qidx)
{
	struct vq *vq = vq_of(d, qidx);
	struct iovec iov[NET_CTRL_IOV_CAP];
	struct vq_elem e = { .iov = iov, .iov_cap = NET_CTRL_IOV_CAP };
	uint16_t before = vq->used_idx;
	unsigned pairs = d->ctrl.vq_pairs;

	while (live(d, qidx) && vq_pop(vq, &e) > 0) {
		int r = net_ctrl(&d->model, &d->ctrl, &e);
		uint8_t ack = (uint8_t)r;

		if (r < 0) {
			vq_break(vq, "control command %u without header or ack byte", e.head);
			break;
		}
		iov_write(e.iov + e.out_num, e.in_num, 0, &ack, 1);
		vq_push(vq, e.head, 1);
	}
	/* the taps follow before the driver sees the ack: a tap queue attached after it would
	 * miss the frames the driver's peer sends right away (RSS_CONFIG, VQ_PAIRS_SET) */
	if (d->ctrl.vq_pairs != pairs)
		sync_pairs(d);
	if (vq->used_idx != before)
		vu_queue_notify(&d->vu, qidx);
}

/* ---- vhost-user device ops --------------------------------------------------------------- */

static struct net_dev *to_net(struct vu_dev *v)
{
	return container_of(v, struct net_dev, vu);
}

static uint64_t get_features(struct vu_dev *v)
{
	return net_features(&to_net(v)->model);
}

/* Header size and offloads on every tap queue. Set again on every SET_FEATURES, so a
 * restarted worker (same tap fds, maybe other features) never inherits a stale setting. */
static void set_features(struct vu_dev *v, uint64_t f)
{
	struct net_dev *d = to_net(v);
	int hl = (int)net_hdr_len(f);
	unsigned off = net_tap_offloads(f);

	d->model.features = f;
	d->hdr_len = (unsigned)hl;
	d->mergeable = f & BIT(VIRTIO_NET_F_MRG_RXBUF);
	d->ctrl.vq_pairs = 1;       /* multiqueue is off until the driver sets pairs (§5.1.6.5.5) */
	if (d->ctrl.rss.cfg)
		net_rss_spread(&d->ctrl.rss, 1);
	for (unsigned p = 0; p < d->model.pairs; p++) {
		if (ioctl(d->pair[p].tap, TUNSETVNETHDRSZ, &hl) < 0)
			log_warn("tap queue %u: TUNSETVNETHDRSZ %d", p, hl);
		if (ioctl(d->pair[p].tap, TUNSETOFFLOAD, (unsigned long)off) < 0)
			log_warn("tap queue %u: TUNSETOFFLOAD %#x", p, off);
	}
}

static int get_config(struct vu_dev *v, uint8_t *buf, uint32_t off, uint32_t len)
{
	return net_config_read(&to_net(v)->model, buf, off, len);
}

static int set_config(struct vu_dev *v, const uint8_t *buf, uint32_t off, uint32_t len)
{
	(void)v;
	(void)buf;
	/* only a legacy driver may write the MAC, and the guest may only be the address it was
	 * given: the write changes nothing (its frames from another source are dropped) */
	log_debug("SET_CONFIG %u+%u ignored", off, len);
	return 0;
}

static uint64_t get_queue_num(struct vu_dev *v)
{
	return to_net(v)->model.pairs;
}

static void queue_kick(struct vu_dev *v, unsigned qidx)
{
	struct net_dev *d = to_net(v);
	unsigned p;

	switch (net_qrole(&d->model, qidx, &p)) {
	case NET_Q_RX:
		/* the guest added buffers: a stalled pair reads its tap again */
		d->pair[p].rx.stalled = false;
		sync_pairs(d);
		rx_process(d, p);
		break;
	case NET_Q_TX:
		tx_process(d, p);
		break;
	case NET_Q_CTRL:
		ctrl_process(d, qidx);
		break;
	case NET_Q_NONE:
		break;
	}
}

static void queue_start(struct vu_dev *v, unsigned qidx)
{
	struct net_dev *d = to_net(v);

	sync_pairs(d);
	queue_kick(v, qidx);
}

static void queue_stop(struct vu_dev *v, unsigned qidx)
{
	struct net_dev *d = to_net(v);
	unsigned p;

	/* the rings (or their mapping) go away after this: hand back what is popped */
	switch (net_qrole(&d->model, qidx, &p)) {
	case NET_Q_RX:
		rx_rewind(d, p);
		break;
	case NET_Q_TX:
		tx_release(d, p);
		break;
	default:
		break;
	}
	sync_pairs(d);
}

const struct vu_dev_ops net_vu_ops = {
	.get_features = get_features,
	.set_features = set_features,
	.get_config = get_config,
	.set_config = set_config,
	.get_queue_num = get_queue_num,
	.queue_kick = queue_kick,
	.queue_start = queue_start,
	.queue_stop = queue_stop,
};

/* ---- the loop's entry points --------------------------------------------------------------- */

void net_tap_readable(struct net_dev *d, unsigned p)
{
	if (p < d->model.pairs)
		rx_process(d, p);
}

void net_tap_writable(struct net_dev *d, unsigned p)
{
	if (p >= d->model.pairs)
		return;
	if (!live(d, 2 * p + 1)) {
		watch(d, p, d->pair[p].rd, false);
		return;
	}
	tx_process(d, p);
}

void net_dev_disconnect(struct net_dev *d)
{
	/* vu_dev_exit stops every queue (queue_stop hands chains back); what a broken queue
	 * still holds is forgotten with its rings */
	for (unsigned p = 0; p < d->model.pairs; p++) {
		d->pair[p].rx.first = d->pair[p].rx.count = 0;
		d->pair[p].rx.stalled = false;
		d->pair[p].tx.held = false;
		watch(d, p, false, false);
	}
}

void net_stats_attach(struct net_stats *s, unsigned pairs)
{
	/* a restarted worker on the same page counts on: the counters are the NIC's, not the
	 * process's */
	if (__atomic_load_n(&s->magic, __ATOMIC_ACQUIRE) == NET_STATS_MAGIC &&
	    s->version == NET_STATS_VERSION && s->npairs == pairs) {
		net_stats_add(&s->generation, 1);
		return;
	}
	__atomic_store_n(&s->magic, 0, __ATOMIC_RELAXED);
	memset((uint8_t *)s + sizeof(s->magic), 0, sizeof(*s) - sizeof(s->magic));
	s->version = NET_STATS_VERSION;
	s->npairs = pairs;
	s->generation = 1;
	/* release: a reader that sees the magic sees the rest initialised */
	__atomic_store_n(&s->magic, NET_STATS_MAGIC, __ATOMIC_RELEASE);
}

int net_dev_init(struct net_dev *d, const int *taps, unsigned pairs, const uint8_t mac[6],
		 struct net_stats *stats, const struct net_hooks *hooks)
{
	if (!pairs || pairs > NET_MAX_PAIRS)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	d->model.pairs = pairs;
	memcpy(d->model.mac, mac, 6);
	d->hdr_len = NET_HDR_LEN_LEGACY;
	d->ctrl.vq_pairs = 1;
	d->stats = stats;
	d->rl = (struct ratelimit)RATELIMIT_INIT(5000, 10);
	if (hooks)
		d->hooks = *hooks;
	for (unsigned p = 0; p < pairs; p++) {
		struct net_pair *np = &d->pair[p];

		np->tap = taps[p];
		np->attached = true;    /* net_tap_adopt attached a detached queue */
		np->rx.iov = calloc(NET_RX_RESERVE, sizeof(*np->rx.iov));
		if (!np->rx.iov) {
			net_dev_exit(d);
			return -ENOMEM;
		}
		for (unsigned k = 0; k < NET_RX_RESERVE; k++) {
			np->rx.el[k].iov = np->rx.iov[k];
			np->rx.el[k].iov_cap = NET_RX_IOV_CAP;
		}
	}
	d->multiqueue_tap = pairs > 1;
	/* no pair runs before a frontend starts it: detach the queues it would steer to */
	sync_pairs(d);
	return 0;
}

void net_dev_rss(struct net_dev *d, const struct net_rss_maps *m)
{
	d->ctrl.rss = *m;
	d->model.rss = true;
	/* a restarted worker finds the previous one's configuration in the maps */
	net_rss_spread(m, d->ctrl.vq_pairs);
}

void net_dev_exit(struct net_dev *d)
{
	for (unsigned p = 0; p < NET_MAX_PAIRS; p++) {
		free(d->pair[p].rx.iov);
		d->pair[p].rx.iov = NULL;
	}
}
