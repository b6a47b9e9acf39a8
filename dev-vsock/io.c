/* bulkhead-vsock data path: guest packets from the TX queue to host sockets, host socket data
 * and control packets into RX buffers (connection set-up on the host side is host.c's).
 * No event loop in here: main.c watches sockets and calls vsock_accept and
 * vsock_conn_readable/writable, and is told what to watch through vsock_hooks.
 *
 * Bounded everywhere, never blocking:
 * - host -> guest: bytes are read from a host socket straight into an RX buffer, and only as
 *   many as the guest's credit (buf_alloc - in flight) allows, so nothing is held here; a
 *   connection without credit or without RX buffers stops reading its socket (the socket's
 *   own buffer, and the host writer, wait).
 * - guest -> host: a packet goes straight to the host socket; what the socket does not take
 *   is copied into the connection's ring, which never exceeds the buf_alloc we advertised
 *   (a guest sending past its credit is reset), so the TX queue never waits on one slow
 *   host peer, and memory is at most --max-conns x --buf-alloc.
 * - control packets owed to the guest are flags on their connection (a few bits each); RSTs
 *   for packets of no connection go to a fixed queue, dropped (counted) when it is full.
 * - every host socket is named relative to the socket directory, our working directory. */
#include "vsock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/param.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "util.h"

#define BIT(b) (1ULL << (b))
#define SEND_FLAGS (MSG_NOSIGNAL | MSG_DONTWAIT)

void vsock_rx_process(struct vsock_dev *d);

static struct vq *vq_of(struct vsock_dev *d, unsigned qidx)
{
	return &d->vu.q[qidx].vq;
}

/* Started, enabled, and not broken: the queue may be popped. */
static bool live(struct vsock_dev *d, unsigned qidx)
{
	const struct vu_queue *q = &d->vu.q[qidx];

	return q->started && q->enabled && q->vq.ready && !q->vq.broken;
}

/* ---- the device's lists --------------------------------------------------------------------- */

void vsock_pend(struct vsock_dev *d, struct vsock_conn *c, unsigned bits)
{
	c->pending |= bits;
	if (c->on_pend)
		return;
	c->on_pend = true;
	c->pnext = NULL;
	if (d->pend_tail)
		d->pend_tail->pnext = c;
	else
		d->pend_head = c;
	d->pend_tail = c;
}

static struct vsock_conn *pend_pop(struct vsock_dev *d)
{
	struct vsock_conn *c = d->pend_head;

	if (c) {
		d->pend_head = c->pnext;
		if (!d->pend_head)
			d->pend_tail = NULL;
		c->on_pend = false;
	}
	return c;
}

static void ready_add(struct vsock_dev *d, struct vsock_conn *c)
{
	if (c->on_ready)
		return;
	c->on_ready = true;
	c->rnext = NULL;
	if (d->ready_tail)
		d->ready_tail->rnext = c;
	else
		d->ready_head = c;
	d->ready_tail = c;
}

static struct vsock_conn *ready_pop(struct vsock_dev *d)
{
	struct vsock_conn *c = d->ready_head;

	if (c) {
		d->ready_head = c->rnext;
		if (!d->ready_head)
			d->ready_tail = NULL;
		c->on_ready = false;
	}
	return c;
}

/* Take c off both lists (singly linked: a walk, at most --max-conns long, on close only). */
static void unlist(struct vsock_dev *d, struct vsock_conn *c)
{
	struct vsock_conn *prev = NULL;

	for (struct vsock_conn *p = d->pend_head; c->on_pend && p; prev = p, p = p->pnext)
		if (p == c) {
			*(prev ? &prev->pnext : &d->pend_head) = c->pnext;
			if (d->pend_tail == c)
				d->pend_tail = prev;
			c->on_pend = false;
		}
	prev = NULL;
	for (struct vsock_conn *p = d->ready_head; c->on_ready && p; prev = p, p = p->rnext)
		if (p == c) {
			*(prev ? &prev->rnext : &d->ready_head) = c->rnext;
			if (d->ready_tail == c)
				d->ready_tail = prev;
			c->on_ready = false;
		}
}

void vsock_rst_queue(struct vsock_dev *d, uint32_t src_port, uint32_t dst_port)
{
	if (d->rst_count == VSOCK_RST_QUEUE) {
		d->stats.rst_dropped++;
		return;
	}
	d->rst[(d->rst_first + d->rst_count++) % VSOCK_RST_QUEUE] =
		(struct vsock_rst){ src_port, dst_port };
}

/* ---- a connection's life ------------------------------------------------------------------ */

/* Make what the loop watches on c's socket follow its state. */
void vsock_conn_sync(struct vsock_dev *d, struct vsock_conn *c)
{
	bool rd, wr = c->buf.len > 0;

	if (c->state == VSOCK_LINE)
		rd = true;
	else
		rd = c->state == VSOCK_ESTABLISHED && !c->host_eof && !c->rd_ready &&
		     !(c->shut_rcvd & VIRTIO_VSOCK_SHUTDOWN_RCV);
	if (rd == c->rd_watch && wr == c->wr_watch)
		return;
	c->rd_watch = rd;
	c->wr_watch = wr;
	if (d->hooks.conn_watch)
		d->hooks.conn_watch(d, c);
}

/* Host data waits and the guest has room: c takes its turn for RX buffers. */
static void ready_check(struct vsock_dev *d, struct vsock_conn *c)
{
	if (c->rd_ready && c->state == VSOCK_ESTABLISHED && vsock_peer_credit(c) &&
	    !(c->shut_rcvd & VIRTIO_VSOCK_SHUTDOWN_RCV))
		ready_add(d, c);
}

/* Close c; with rst, tell the guest (if it ever heard of c). */
void vsock_conn_close(struct vsock_dev *d, struct vsock_conn *c, bool rst)
{
	/* a connection whose REQUEST never went out is unknown to the guest */
	if (rst && c->hashed && !(c->pending & VSOCK_PEND_REQUEST))
		vsock_rst_queue(d, c->lport, c->gport);
	unlist(d, c);
	if (d->hooks.conn_forget)
		d->hooks.conn_forget(d, c);
	closep(&c->fd);
	vsock_conn_free(&d->tab, c);
	d->stats.conns_closed++;
}

static void credit_check(struct vsock_dev *d, struct vsock_conn *c)
{
	if (vsock_credit_update_due(c, d->buf_alloc))
		vsock_pend(d, c, VSOCK_PEND_CREDIT);
}

/* The guest has said all it will say and the host socket took it all: done, RST to end it
 * (what Linux's host transport does after a full shutdown). */
static bool conn_finish(struct vsock_dev *d, struct vsock_conn *c)
{
	const uint32_t both = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;

	if (c->buf.len)
		return false;
	bool guest_done = c->shut_rcvd & VIRTIO_VSOCK_SHUTDOWN_SEND;
	bool host_done = c->host_eof && (c->shut_sent & VIRTIO_VSOCK_SHUTDOWN_SEND);

	if (c->shut_rcvd == both || (guest_done && host_done)) {
		vsock_conn_close(d, c, true);
		return true;
	}
	if (c->shut_rcvd & VIRTIO_VSOCK_SHUTDOWN_SEND)
		shutdown(c->fd, SHUT_WR);
	return false;
}

/* Push what the ring holds to the host socket. false when c was closed. */
static bool flush(struct vsock_dev *d, struct vsock_conn *c)
{
	struct iovec v[2];
	struct msghdr mh = { .msg_iov = v };
	ssize_t n;

	while ((mh.msg_iovlen = vsock_buf_iov(&c->buf, v))) {
		n = sendmsg(c->fd, &mh, SEND_FLAGS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			vsock_conn_close(d, c, true);     /* the host peer is gone */
			return false;
		}
		vsock_buf_drop(&c->buf, (uint32_t)n);
		c->fwd_cnt += (uint32_t)n;
	}
	credit_check(d, c);
	if (conn_finish(d, c))
		return false;
	vsock_conn_sync(d, c);
	return true;
}

/* ---- guest -> host ------------------------------------------------------------------------- */

/* At most max bytes of v (in place); returns the segments left. */
static unsigned clip(struct iovec *v, unsigned n, uint64_t max)
{
	unsigned i;

	for (i = 0; i < n && max; i++) {
		if (v[i].iov_len > max)
			v[i].iov_len = max;
		max -= v[i].iov_len;
	}
	return i;
}

/* The payload of a chain: its iovecs after the header, len bytes. */
static unsigned payload(const struct vq_elem *e, struct iovec *v, uint64_t len)
{
	struct iovec *p = v;
	unsigned n = e->out_num;

	memcpy(v, e->iov, n * sizeof(*v));
	iov_advance(&p, &n, VSOCK_HDR_LEN);
	memmove(v, p, n * sizeof(*v));
	return clip(v, n, len);
}

static void conn_rw(struct vsock_dev *d, struct vsock_conn *c, const struct vq_elem *e,
		    const struct vsock_pkt *p)
{
	struct msghdr mh = { .msg_iov = d->iov };
	ssize_t n = 0;

	if (c->state != VSOCK_ESTABLISHED || (c->shut_rcvd & VIRTIO_VSOCK_SHUTDOWN_SEND)) {
		vsock_conn_close(d, c, true);
		return;
	}
	/* the guest may have at most buf_alloc bytes with us: more is a guest ignoring credit,
	 * and would grow this process without bound */
	if (!vsock_rx_fits(c, d->buf_alloc, p->len)) {
		d->stats.over_credit++;
		log_warnx_rl(&d->rl, "guest port %u sent past its credit: reset", c->gport);
		vsock_conn_close(d, c, true);
		return;
	}
	c->rx_cnt += p->len;
	mh.msg_iovlen = payload(e, d->iov, p->len);
	if (!c->buf.len) {
		do
			n = sendmsg(c->fd, &mh, SEND_FLAGS);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN) {
			vsock_conn_close(d, c, true);
			return;
		}
		n = MAX(n, 0);
		c->fwd_cnt += (uint32_t)n;
	}
	if ((uint32_t)n < p->len &&
	    vsock_buf_put(&c->buf, d->buf_alloc, d->iov, (unsigned)mh.msg_iovlen, (uint64_t)n,
			  p->len - (uint32_t)n) < 0) {
		vsock_conn_close(d, c, true);
		return;
	}
	credit_check(d, c);
	vsock_conn_sync(d, c);
}

/* A host peer's connection the guest accepted: the peer hears which port it got. */
static void conn_response(struct vsock_dev *d, struct vsock_conn *c)
{
	char ok[24];
	int n;

	if (c->state != VSOCK_CONNECTING) {
		vsock_conn_close(d, c, true);
		return;
	}
	n = snprintf(ok, sizeof(ok), "OK %u\n", c->lport);
	/* the socket's buffer is empty: a short line here means the peer is gone */
	if (send(c->fd, ok, (size_t)n, SEND_FLAGS) != n) {
		vsock_conn_close(d, c, true);
		return;
	}
	c->state = VSOCK_ESTABLISHED;
	vsock_conn_sync(d, c);
}

static void conn_shutdown(struct vsock_dev *d, struct vsock_conn *c, uint32_t flags)
{
	c->shut_rcvd |= flags;
	if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV) {
		/* the guest reads no more: what the host peer writes stays in its socket */
		c->rd_ready = false;
		unlist(d, c);
		if (c->pending)
			vsock_pend(d, c, 0);
	}
	if (!conn_finish(d, c))
		vsock_conn_sync(d, c);
}

/* One packet of an existing connection; c may be closed on return. */
static void conn_pkt(struct vsock_dev *d, struct vsock_conn *c, const struct vq_elem *e,
		     const struct vsock_pkt *p)
{
	/* every packet carries the guest's credit: a piggybacked fwd_cnt may open the window
	 * as well as a CREDIT_UPDATE does (a close below takes c off the list again) */
	vsock_peer_update(c, p);
	ready_check(d, c);
	switch (p->op) {
	case VIRTIO_VSOCK_OP_REQUEST:
		vsock_conn_close(d, c, true);     /* a second REQUEST for a live pair */
		return;
	case VIRTIO_VSOCK_OP_RESPONSE:
		conn_response(d, c);
		return;
	case VIRTIO_VSOCK_OP_RST:
		vsock_conn_close(d, c, false);
		return;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		conn_shutdown(d, c, p->flags);
		return;
	case VIRTIO_VSOCK_OP_RW:
		conn_rw(d, c, e, p);
		return;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		vsock_pend(d, c, VSOCK_PEND_CREDIT);
		return;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		return;
	}
}

/* A packet that fails its checks: reset what it names (a spoofed CID gets no answer). */
static void bad_pkt(struct vsock_dev *d, const struct vsock_pkt *p, enum vsock_verdict v)
{
	struct vsock_conn *c;

	if (v == VSOCK_BAD_CID) {
		d->stats.bad_cid++;
	} else {
		d->stats.bad_pkts++;
		c = vsock_conn_find(&d->tab, p->dst_port, p->src_port);
		if (c)
			vsock_conn_close(d, c, true);
		else if (p->op != VIRTIO_VSOCK_OP_RST)
			vsock_rst_queue(d, p->dst_port, p->src_port);
	}
	log_warnx_rl(&d->rl, "guest packet op %u type %u len %u from %llu:%u to %llu:%u: %s",
		     p->op, p->type, p->len, (unsigned long long)p->src_cid, p->src_port,
		     (unsigned long long)p->dst_cid, p->dst_port, vsock_verdict_str(v));
}

static void tx_one(struct vsock_dev *d, const struct vq_elem *e)
{
	struct virtio_vsock_hdr h;
	struct vsock_pkt p;
	struct vsock_conn *c;
	enum vsock_verdict v;

	if (e->in_num || e->out_len < VSOCK_HDR_LEN ||
	    !iov_read(e->iov, e->out_num, 0, &h, sizeof(h))) {
		d->stats.bad_pkts++;
		log_warnx_rl(&d->rl, "TX chain %u: no header or a writable buffer: dropped",
			     e->head);
		return;
	}
	vsock_hdr_decode(&h, &p);
	v = vsock_pkt_check(&p, d->guest_cid, e->out_len - VSOCK_HDR_LEN);
	if (v != VSOCK_OK) {
		bad_pkt(d, &p, v);
		return;
	}
	c = vsock_conn_find(&d->tab, p.dst_port, p.src_port);
	if (c) {
		conn_pkt(d, c, e, &p);
	} else if (p.op == VIRTIO_VSOCK_OP_REQUEST) {
		vsock_guest_connect(d, &p);
	} else if (p.op != VIRTIO_VSOCK_OP_RST) {
		d->stats.no_conn++;
		vsock_rst_queue(d, p.dst_port, p.src_port);
	}
}

static void tx_process(struct vsock_dev *d)
{
	struct vq *vq = vq_of(d, VSOCK_Q_TX);
	struct vq_elem e = { .iov = d->iov_tx, .iov_cap = VSOCK_IOV_CAP };
	uint16_t before = vq->used_idx;
	unsigned i;

	if (!live(d, VSOCK_Q_TX))
		return;
	for (i = 0; i < VSOCK_BUDGET; i++) {
		if (vq_pop(vq, &e) <= 0)
			break;
		tx_one(d, &e);
		vq_push(vq, e.head, 0);
	}
	if (vq->used_idx != before)
		vu_queue_notify(&d->vu, VSOCK_Q_TX);
	/* the guest does not kick again for chains it already announced */
	if (i == VSOCK_BUDGET && d->hooks.tx_later)
		d->hooks.tx_later(d);
	vsock_rx_process(d);
}

/* ---- host -> guest ---------------------------------------------------------------------- */

static void hdr_to_guest(struct vsock_dev *d, struct vsock_pkt *p, uint32_t src_port,
			 uint32_t dst_port, uint16_t op)
{
	memset(p, 0, sizeof(*p));
	p->src_cid = VSOCK_HOST_CID;
	p->dst_cid = d->guest_cid;
	p->src_port = src_port;
	p->dst_port = dst_port;
	p->type = VIRTIO_VSOCK_TYPE_STREAM;
	p->op = op;
	p->buf_alloc = d->buf_alloc;
}

static void rx_put(struct vsock_dev *d, const struct vq_elem *e, const struct vsock_pkt *p)
{
	struct virtio_vsock_hdr h;

	vsock_hdr_encode(p, &h);
	iov_write(e->iov, e->in_num, 0, &h, sizeof(h));
	vq_push(vq_of(d, VSOCK_Q_RX), e->head, VSOCK_HDR_LEN + p->len);
}

/* Every packet tells the guest our fwd_cnt: no separate update is owed after it. */
static void stamp(struct vsock_conn *c, struct vsock_pkt *p)
{
	p->fwd_cnt = c->fwd_cnt;
	c->fwd_cnt_sent = c->fwd_cnt;
	c->pending &= ~VSOCK_PEND_CREDIT;
}

/* One control packet into e: an RST first, else what the first pending connection owes. */
static void rx_ctrl(struct vsock_dev *d, const struct vq_elem *e)
{
	struct vsock_conn *c;
	struct vsock_pkt p;

	if (d->rst_count) {
		struct vsock_rst *r = &d->rst[d->rst_first];

		hdr_to_guest(d, &p, r->src_port, r->dst_port, VIRTIO_VSOCK_OP_RST);
		d->rst_first = (d->rst_first + 1) % VSOCK_RST_QUEUE;
		d->rst_count--;
		rx_put(d, e, &p);
		return;
	}
	c = d->pend_head;
	hdr_to_guest(d, &p, c->lport, c->gport, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	if (c->pending & VSOCK_PEND_REQUEST) {
		p.op = VIRTIO_VSOCK_OP_REQUEST;
		c->pending &= ~VSOCK_PEND_REQUEST;
	} else if (c->pending & VSOCK_PEND_RESPONSE) {
		p.op = VIRTIO_VSOCK_OP_RESPONSE;
		c->pending &= ~VSOCK_PEND_RESPONSE;
		c->state = VSOCK_ESTABLISHED;
		vsock_conn_sync(d, c);
	} else if (c->pending & VSOCK_PEND_SHUTDOWN) {
		p.op = VIRTIO_VSOCK_OP_SHUTDOWN;
		p.flags = c->shut_sent;
		c->pending &= ~VSOCK_PEND_SHUTDOWN;
	}
	stamp(c, &p);
	if (!c->pending)
		pend_pop(d);
	rx_put(d, e, &p);
}

/* The host peer stopped sending: tell the guest (both ways when the peer is gone whole). */
static void host_eof(struct vsock_dev *d, struct vsock_conn *c)
{
	struct pollfd pf = { .fd = c->fd, .events = POLLOUT };

	c->host_eof = true;
	c->rd_ready = false;
	c->shut_sent |= VIRTIO_VSOCK_SHUTDOWN_SEND;
	if (poll(&pf, 1, 0) == 1 && (pf.revents & (POLLHUP | POLLERR)))
		c->shut_sent |= VIRTIO_VSOCK_SHUTDOWN_RCV;
	vsock_pend(d, c, VSOCK_PEND_SHUTDOWN);
	if (!conn_finish(d, c))
		vsock_conn_sync(d, c);
}

/* Host data from c into e: as much as e, the guest's credit and a packet hold. */
static void rx_data(struct vsock_dev *d, struct vsock_conn *c, const struct vq_elem *e)
{
	struct vq *vq = vq_of(d, VSOCK_Q_RX);
	uint64_t max = MIN(MIN((uint64_t)vsock_peer_credit(c), e->in_len - VSOCK_HDR_LEN),
			   (uint64_t)VSOCK_PKT_MAX);
	struct iovec v[VSOCK_IOV_CAP], *p = v;
	unsigned n = e->in_num;
	struct vsock_pkt pkt;
	ssize_t r;

	memcpy(v, e->iov, n * sizeof(*v));
	iov_advance(&p, &n, VSOCK_HDR_LEN);
	n = clip(p, n, max);
	do
		r = max ? readv(c->fd, p, (int)n) : -1;
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		vq_rewind(vq, &e, 1);
		if (!max)
			return;
		if (r == 0)
			host_eof(d, c);
		else if (errno != EAGAIN)
			vsock_conn_close(d, c, true);
		else {
			c->rd_ready = false;
			vsock_conn_sync(d, c);
		}
		return;
	}
	hdr_to_guest(d, &pkt, c->lport, c->gport, VIRTIO_VSOCK_OP_RW);
	pkt.len = (uint32_t)r;
	stamp(c, &pkt);
	c->tx_cnt += (uint32_t)r;
	rx_put(d, e, &pkt);
	ready_check(d, c);          /* round robin: to the back of the line */
}

/* Drop pending-list heads that owe nothing any more (a piggybacked credit update). */
static bool ctrl_waiting(struct vsock_dev *d)
{
	while (d->pend_head && !d->pend_head->pending)
		pend_pop(d);
	return d->rst_count || d->pend_head;
}

void vsock_rx_process(struct vsock_dev *d)
{
	struct vq *vq = vq_of(d, VSOCK_Q_RX);
	struct vq_elem e = { .iov = d->iov_rx, .iov_cap = VSOCK_IOV_CAP };
	uint16_t before = vq->used_idx;

	if (d->in_rx || !live(d, VSOCK_Q_RX))
		return;
	d->in_rx = true;
	for (unsigned i = 0; i < VSOCK_BUDGET; i++) {
		bool ctrl = ctrl_waiting(d);
		struct vsock_conn *c;
		int r;

		if (!ctrl && !d->ready_head)
			break;
		r = vq_pop(vq, &e);
		if (r <= 0) {
			d->rx_stalled = r == 0;
			break;
		}
		if (e.out_num || e.in_len <= VSOCK_HDR_LEN) {
			vq_break(vq, "RX chain %u with a readable buffer or no room for a packet",
				 e.head);
			break;
		}
		if (ctrl) {
			rx_ctrl(d, &e);
			continue;
		}
		c = ready_pop(d);
		rx_data(d, c, &e);
	}
	if (vq->used_idx != before)
		vu_queue_notify(&d->vu, VSOCK_Q_RX);
	d->in_rx = false;
}

/* ---- the loop's entry points ---------------------------------------------------------------- */

void vsock_conn_readable(struct vsock_dev *d, struct vsock_conn *c)
{
	if (c->state == VSOCK_LINE) {
		vsock_read_line(d, c);
		return;
	}
	/* not watched again until a read says EAGAIN: no wakeups while credit or buffers lack */
	c->rd_ready = true;
	vsock_conn_sync(d, c);
	ready_check(d, c);
	vsock_rx_process(d);
}

void vsock_conn_writable(struct vsock_dev *d, struct vsock_conn *c)
{
	if (flush(d, c))
		ready_check(d, c);
	vsock_rx_process(d);
}

void vsock_tx_resume(struct vsock_dev *d)
{
	tx_process(d);
}

/* ---- vhost-user device ops ------------------------------------------------------------- */

static struct vsock_dev *to_vsock(struct vu_dev *v)
{
	return container_of(v, struct vsock_dev, vu);
}

static bool kernel_mode(const struct vsock_dev *d)
{
	return d->vhost_fd >= 0;
}

static uint64_t get_features(struct vu_dev *v)
{
	struct vsock_dev *d = to_vsock(v);
	/* stream only: no VIRTIO_VSOCK_F_SEQPACKET */
	uint64_t f = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) |
		     BIT(VIRTIO_RING_F_INDIRECT_DESC);

	return kernel_mode(d) ? f & d->vhost_features : f;
}

/* Kernel mode: RX and TX are the kernel's; the event queue stays ours. */
static bool queue_in_kernel(struct vu_dev *v, unsigned qidx)
{
	return kernel_mode(to_vsock(v)) && qidx != VSOCK_Q_EVENT;
}

static void set_features(struct vu_dev *v, uint64_t f)
{
	to_vsock(v)->features = f;
}

static int get_config(struct vu_dev *v, uint8_t *buf, uint32_t off, uint32_t len)
{
	struct virtio_vsock_config c = { .guest_cid = htole64(to_vsock(v)->guest_cid) };
	uint64_t end = (uint64_t)off + len;

	/* the vhost-user config space is at most 256 bytes; zero past the CID */
	if (end > 256)
		return -EINVAL;
	memset(buf, 0, len);
	if (off < sizeof(c))
		memcpy(buf, (uint8_t *)&c + off, MIN((size_t)len, sizeof(c) - off));
	return 0;
}

static int set_config(struct vu_dev *v, const uint8_t *buf, uint32_t off, uint32_t len)
{
	(void)v;
	(void)buf;
	/* the guest's CID is the host's choice: a write changes nothing */
	log_debug("SET_CONFIG %u+%u ignored", off, len);
	return 0;
}

/* VIRTIO_VSOCK_EVENT_TRANSPORT_RESET: the guest drops every connection (both ends see it: the
 * host's went with the old worker) and reads its CID again. Its driver fills the event queue
 * at probe; without a buffer yet, its next kick sends it. */
static void send_reset(struct vsock_dev *d)
{
	struct virtio_vsock_event ev = { .id = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET) };
	struct vq *vq = vq_of(d, VSOCK_Q_EVENT);
	struct vq_elem e = { .iov = d->iov, .iov_cap = VSOCK_IOV_CAP };

	if (!d->reset_owed || d->fresh || !live(d, VSOCK_Q_EVENT) || vq_pop(vq, &e) <= 0)
		return;
	if (iov_write(e.iov + e.out_num, e.in_num, 0, &ev, sizeof(ev))) {
		vq_push(vq, e.head, sizeof(ev));
		d->reset_owed = false;
		log_info("guest connections reset (VIRTIO_VSOCK_EVENT_TRANSPORT_RESET)");
	} else {
		vq_break(vq, "event buffer of %llu writable bytes, need %zu",
			 (unsigned long long)e.in_len, sizeof(ev));
	}
	vu_queue_notify(&d->vu, VSOCK_Q_EVENT);
}

static void queue_kick(struct vu_dev *v, unsigned qidx)
{
	struct vsock_dev *d = to_vsock(v);

	if (queue_in_kernel(v, qidx))
		return;
	switch (qidx) {
	case VSOCK_Q_RX:
		d->rx_stalled = false;
		vsock_rx_process(d);
		break;
	case VSOCK_Q_TX:
		tx_process(d);
		break;
	default:
		send_reset(d);
		break;
	}
}

/* A queue that starts with a non-zero base was used by the guest before this backend: we are
 * a restarted worker (or the frontend came back), and the guest still holds connections
 * nobody serves. They get reset once every queue is up, as after a migration. */
static void queue_start(struct vu_dev *v, unsigned qidx)
{
	struct vsock_dev *d = to_vsock(v);
	bool all = true;

	if (d->fresh && v->q[qidx].base)
		d->reset_owed = true;
	for (unsigned i = 0; i < VSOCK_NQUEUES; i++)
		all &= v->q[i].started;
	if (all)
		d->fresh = false;
	if (queue_in_kernel(v, qidx))
		vsock_kernel_start(d, qidx);
	else
		queue_kick(v, qidx);
	send_reset(d);
}

static void queue_stop(struct vu_dev *v, unsigned qidx)
{
	/* nothing popped is ever held across calls: no chain to hand back */
	if (queue_in_kernel(v, qidx))
		vsock_kernel_stop(to_vsock(v), qidx);
}

const struct vu_dev_ops vsock_vu_ops = {
	.get_features = get_features,
	.set_features = set_features,
	.get_config = get_config,
	.set_config = set_config,
	.queue_kick = queue_kick,
	.queue_start = queue_start,
	.queue_stop = queue_stop,
	.queue_in_kernel = queue_in_kernel,
};

/* ---- set-up and teardown --------------------------------------------------------------------- */

int vsock_dev_init(struct vsock_dev *d, uint64_t guest_cid, uint32_t buf_alloc,
		   unsigned max_conns, int listen_fd, const char *uds_name,
		   const struct vsock_hooks *hooks)
{
	if (guest_cid < VSOCK_CID_MIN || guest_cid > VSOCK_CID_MAX || !max_conns ||
	    buf_alloc < VSOCK_BUF_ALLOC_MIN || (uds_name && !vsock_uds_name_ok(uds_name)))
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	d->guest_cid = guest_cid;
	d->buf_alloc = buf_alloc;
	d->listen_fd = listen_fd;
	d->uds_name = uds_name;
	d->rl = (struct ratelimit)RATELIMIT_INIT(5000, 10);
	d->fresh = true;
	d->vhost_fd = -1;
	vsock_table_init(&d->tab, max_conns);
	if (hooks)
		d->hooks = *hooks;
	return 0;
}

/* Every connection goes: host peers see their socket close. */
static void close_all(struct vsock_dev *d)
{
	while (d->tab.all)
		vsock_conn_close(d, d->tab.all, false);
	d->rst_count = d->rst_first = 0;
	d->pend_head = d->pend_tail = d->ready_head = d->ready_tail = NULL;
}

/* What each connection was doing when its frontend went or the worker stopped: a stalled stream shows where it
 * stood (its bytes each way, its credit, what it owed and waited for). A few lines at most. */
static void log_open_conns(const struct vsock_dev *d, const char *when)
{
	static const char *const state[] = {
		[VSOCK_LINE] = "CONNECT line", [VSOCK_CONNECTING] = "connecting",
		[VSOCK_RESPONDING] = "responding", [VSOCK_ESTABLISHED] = "established",
	};
	const unsigned max = 8;
	unsigned i = 0;

	if (!d->tab.n)
		return;
	log_info("%u connection%s open %s%s", d->tab.n, d->tab.n == 1 ? "" : "s", when,
		 d->rx_stalled ? "; RX queue without buffers" : "");
	for (const struct vsock_conn *c = d->tab.all; c && i < max; c = c->anext, i++)
		log_info("  host port %u, guest port %u, %s: guest->host %u bytes, %u held, %u "
			 "forwarded (guest last told %u); host->guest %u bytes, guest credit %u; "
			 "owes %#x%s%s%s", c->lport, c->gport, state[c->state], c->rx_cnt,
			 c->buf.len, c->fwd_cnt, c->fwd_cnt_sent, c->tx_cnt,
			 vsock_peer_credit(c), c->pending, c->host_eof ? ", host EOF" : "",
			 c->rd_watch ? ", watching reads" : "",
			 c->wr_watch ? ", watching writes" : "");
	if (d->tab.n > max)
		log_info("  and %u more", d->tab.n - max);
}

void vsock_dev_disconnect(struct vsock_dev *d)
{
	/* the guest that knew these connections is gone (or resets its transport) */
	log_open_conns(d, "when the frontend went");
	close_all(d);
	d->rx_stalled = false;
	d->fresh = true;
	d->reset_owed = false;
}

void vsock_dev_exit(struct vsock_dev *d)
{
	log_open_conns(d, "at exit");
	close_all(d);
}
