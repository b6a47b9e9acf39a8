/* bulkhead-hvc's device: the two queues of port 0 and the vhost-user ops. No event loop in
 * here (con_hooks), and bounded everywhere:
 * - transmitq (guest output): each chain is copied into the ring and pushed. With no client,
 *   the ring drops its oldest bytes to make room: the guest never waits for a reader that is
 *   not there. With a client and the ring full, popping stops (the guest's ring is the queue)
 *   until the client takes bytes; the one chain popped and only partly copied is held
 *   (holding, held_off) and finished first when room comes back;
 * - receiveq (client input): the client is read with readv straight into the guest's buffers;
 *   no buffer posted means no read, until the guest kicks;
 * - at most CON_BUDGET chains per queue per wakeup; more comes back through hooks.later. */
#include "console.h"

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

static struct vq *vq_of(struct con_dev *d, unsigned q)
{
	return &d->vu.q[q].vq;
}

/* Started, enabled, and not broken: the queue may be popped. */
static bool live(struct con_dev *d, unsigned q)
{
	const struct vu_queue *vq = &d->vu.q[q];

	return vq->started && vq->enabled && vq->vq.ready && !vq->vq.broken;
}

/* ---- transmitq: guest output ----------------------------------------------------------------- */

/* Output is for the device to read, nothing else. */
static bool tx_chain_ok(struct con_dev *d, const struct vq_elem *e)
{
	if (!e->in_num)
		return true;
	d->stats.bad_chains++;
	vq_break(vq_of(d, CON_Q_TX), "transmitq: a chain of %u device-readable and %u "
		 "device-writable buffers; want only readable ones", e->out_num, e->in_num);
	return false;
}

/* Copy the held chain into the ring from held_off on. With over (no client) all of it goes in,
 * dropping the oldest bytes; otherwise what fits. True when the chain is done and pushed. */
static bool tx_fill(struct con_dev *d, bool over)
{
	const struct vq_elem *e = &d->tx_elem;
	uint64_t skip = d->held_off;

	for (unsigned i = 0; i < e->out_num; i++) {
		const struct iovec *v = &e->iov[i];
		uint32_t k;

		if (skip >= v->iov_len) {
			skip -= v->iov_len;
			continue;
		}
		if (over) {
			d->stats.dropped += con_buf_put_over(&d->out, (uint8_t *)v->iov_base + skip,
							     v->iov_len - skip);
			k = (uint32_t)(v->iov_len - skip);
		} else {
			k = con_buf_put(&d->out, (uint8_t *)v->iov_base + skip, v->iov_len - skip);
		}
		d->held_off += k;
		d->stats.out_bytes += k;
		if (k < v->iov_len - skip)
			return false;           /* the ring is full */
		skip = 0;
	}
	d->holding = false;
	/* the device wrote nothing into a transmit buffer */
	vq_push(vq_of(d, CON_Q_TX), e->head, 0);
	return true;
}

/* The queue stops, or the frontend goes: the held chain must not point into guest memory any
 * longer. Its rest goes into the ring whatever a client has read (counted as dropped): the
 * alternative, handing it back, would repeat the part already buffered. */
static void tx_finish(struct con_dev *d)
{
	if (d->holding && live(d, CON_Q_TX)) {
		tx_fill(d, true);
		vu_queue_notify(&d->vu, CON_Q_TX);
	}
	d->holding = false;
	d->tx_blocked = false;
}

void con_tx_process(struct con_dev *d)
{
	struct vq *vq = vq_of(d, CON_Q_TX);
	uint16_t before = vq->used_idx;
	unsigned n;

	if (!live(d, CON_Q_TX)) {
		d->holding = false;     /* a broken queue pushes nothing: the chain is the guest's */
		con_flush(d);
		return;
	}
	for (n = 0; n < CON_BUDGET; n++) {
		if (!d->holding) {
			d->tx_elem = (struct vq_elem){ .iov = d->tx_iov, .iov_cap = CON_IOV_CAP };
			if (d->client_fd >= 0 && !con_buf_room(&d->out)) {
				d->tx_blocked = true;
				break;
			}
			if (vq_pop(vq, &d->tx_elem) <= 0 || !tx_chain_ok(d, &d->tx_elem))
				break;
			d->holding = true;
			d->held_off = 0;
		}
		if (!tx_fill(d, d->client_fd < 0)) {
			d->tx_blocked = true;
			break;
		}
	}
	if (vq->used_idx != before)
		vu_queue_notify(&d->vu, CON_Q_TX);
	con_flush(d);
	if (n == CON_BUDGET)
		d->hooks.later(d);
}

/* ---- receiveq: client input ------------------------------------------------------------------ */

/* Input is for the device to write, nothing else. */
static bool rx_chain_ok(struct con_dev *d, const struct vq_elem *e)
{
	if (!e->out_num && e->in_len)
		return true;
	d->stats.bad_chains++;
	vq_break(vq_of(d, CON_Q_RX), "receiveq: a chain of %u device-readable and %u "
		 "device-writable buffers (%llu writable bytes); want only writable ones",
		 e->out_num, e->in_num, (unsigned long long)e->in_len);
	return false;
}

/* Read the client into one popped chain. 1: filled it all (there may be more), 0: a short
 * read (the socket is drained), -1: nothing (the chain went back; the client may be gone). */
static int rx_one(struct con_dev *d, struct vq_elem *e)
{
	struct vq *vq = vq_of(d, CON_Q_RX);
	const struct vq_elem *back = e;
	ssize_t r;

	do
		r = readv(d->client_fd, e->iov + e->out_num, (int)MIN(e->in_num, (unsigned)IOV_MAX));
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		int err = errno;

		vq_rewind(vq, &back, 1);
		if (r == 0)
			con_client_close(d, "end of file");
		else if (err != EAGAIN)
			con_client_close(d, strerror(err));
		return -1;
	}
	vq_push(vq, e->head, (uint32_t)r);
	d->stats.in_bytes += (uint64_t)r;
	return (uint64_t)r == e->in_len ? 1 : 0;
}

void con_rx_process(struct con_dev *d)
{
	struct vq *vq = vq_of(d, CON_Q_RX);
	uint16_t before = vq->used_idx;
	unsigned n;
	int r = 1;

	if (d->client_fd < 0)
		return;
	if (!live(d, CON_Q_RX)) {
		con_client_idle_check(d);
		return;
	}
	for (n = 0; n < CON_BUDGET && r > 0 && d->client_fd >= 0; n++) {
		struct vq_elem e = { .iov = d->rx_iov, .iov_cap = CON_IOV_CAP };

		r = vq_pop(vq, &e);
		if (r == 0)
			con_client_idle_check(d);       /* no buffer: wait for a kick */
		if (r <= 0 || !rx_chain_ok(d, &e))
			break;
		r = rx_one(d, &e);
	}
	if (vq->used_idx != before)
		vu_queue_notify(&d->vu, CON_Q_RX);
	/* the client's readability is edge-triggered: a full budget with input left must come
	 * back by itself */
	if (n == CON_BUDGET && r > 0)
		d->hooks.later(d);
}

void con_resume(struct con_dev *d)
{
	con_tx_process(d);
	con_rx_process(d);
}

/* ---- vhost-user device ops ------------------------------------------------------------- */

static struct con_dev *to_con(struct vu_dev *v)
{
	return container_of(v, struct con_dev, vu);
}

static uint64_t get_features(struct vu_dev *v)
{
	(void)v;
	/* port 0 only: no VIRTIO_CONSOLE_F_SIZE, _MULTIPORT or _EMERG_WRITE */
	return BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) |
	       BIT(VIRTIO_RING_F_INDIRECT_DESC);
}

static void set_features(struct vu_dev *v, uint64_t f)
{
	to_con(v)->features = f;
}

/* struct virtio_console_config (cols, rows, max_nr_ports, emerg_wr) means nothing without
 * SIZE, MULTIPORT or EMERG_WRITE: all zero. The library offers VHOST_USER_PROTOCOL_F_CONFIG
 * to every device and a failed request costs the frontend its connection, so a read inside
 * the 12 bytes gets zeros; past them the frontend is asking for something no console has. */
static int get_config(struct vu_dev *v, uint8_t *buf, uint32_t off, uint32_t len)
{
	(void)v;
	if ((uint64_t)off + len > CON_CONFIG_SIZE)
		return -EINVAL;
	memset(buf, 0, len);
	return 0;
}

/* The only writable field, emerg_wr, exists with EMERG_WRITE, which is not offered: a write is
 * a driver (or frontend) out of spec, refused. The library then drops the connection. */
static int set_config(struct vu_dev *v, const uint8_t *buf, uint32_t off, uint32_t len)
{
	(void)buf;
	log_warnx_rl(&to_con(v)->rl, "SET_CONFIG %u+%u refused: the config space is read-only",
		     off, len);
	return -EPERM;
}

static void queue_kick(struct vu_dev *v, unsigned qidx)
{
	struct con_dev *d = to_con(v);

	if (qidx == CON_Q_TX)
		con_tx_process(d);
	else if (qidx == CON_Q_RX)
		con_rx_process(d);
}

static void queue_start(struct vu_dev *v, unsigned qidx)
{
	queue_kick(v, qidx);
}

static void queue_stop(struct vu_dev *v, unsigned qidx)
{
	/* the receiveq holds nothing across calls: each chain is pushed or rewound at once */
	if (qidx == CON_Q_TX)
		tx_finish(to_con(v));
}

const struct vu_dev_ops con_vu_ops = {
	.get_features = get_features,
	.set_features = set_features,
	.get_config = get_config,
	.set_config = set_config,
	.queue_kick = queue_kick,
	.queue_start = queue_start,
	.queue_stop = queue_stop,
};

/* ---- set-up and teardown --------------------------------------------------------------------- */

int con_dev_init(struct con_dev *d, int listen_fd, uint32_t buffer, const struct con_hooks *h)
{
	int r;

	if (listen_fd < 0 || buffer < CON_BUFFER_MIN || buffer > CON_BUFFER_MAX || !h ||
	    !h->watch || !h->forget || !h->later)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	r = con_buf_init(&d->out, buffer);
	if (r < 0)
		return r;
	d->listen_fd = listen_fd;
	d->client_fd = -1;
	d->accepting = true;
	d->hooks = *h;
	d->rl = (struct ratelimit)RATELIMIT_INIT(5000, 5);
	return 0;
}

void con_log_stats(struct con_dev *d)
{
	const struct con_stats *s = &d->stats;

	log_info("output %llu bytes (%llu sent to clients, %llu buffered), input %llu bytes, "
		 "dropped %llu bytes, clients accepted %llu, bad chains %llu",
		 (unsigned long long)s->out_bytes, (unsigned long long)s->sent_bytes,
		 (unsigned long long)d->out.len, (unsigned long long)s->in_bytes,
		 (unsigned long long)s->dropped, (unsigned long long)s->clients,
		 (unsigned long long)s->bad_chains);
	memset(&d->stats, 0, sizeof(d->stats));
}

void con_dev_disconnect(struct con_dev *d)
{
	/* guest memory goes right after this: the held chain is finished now. The ring and the
	 * client stay: the next frontend's guest writes on where this one stopped. */
	tx_finish(d);
	con_log_stats(d);
}

/* Safe on a device con_dev_init never set up (client_fd -1, no hooks): main's teardown runs
 * after any failed setup step. */
void con_dev_exit(struct con_dev *d)
{
	if (d->client_fd >= 0 && d->hooks.forget) {
		d->hooks.forget(d);
		closep(&d->client_fd);
	}
	con_buf_exit(&d->out);
	d->listen_fd = -1;
}
