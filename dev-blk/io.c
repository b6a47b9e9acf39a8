/* bulkhead-blk request engine: pops chains from the vhost-user queues, runs them on io_uring
 * (readv/writev/fsync/fallocate), and pushes the status back when the kernel completes them.
 * A request stays in flight in the shared inflight area until vq_push, so a worker killed
 * at any time loses no write the guest saw acknowledged. No event loop in here: the caller
 * watches d->efd and calls blk_dev_reap, and gives a timer through blk_hooks. */
#include "blk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/param.h>
#include <linux/falloc.h>

#include "log.h"
#include "util.h"

struct blk_ioreq {
	struct blk_ioreq *next;     /* free list */
	unsigned qidx;
	struct vq_elem elem;
	struct blk_req req;
	struct iovec iov[BLK_IOV_CAP];
};

static uint64_t now_ns(const struct blk_dev *d)
{
	struct timespec ts;

	if (d->hooks.now_ns)
		return d->hooks.now_ns();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- request slots ---------------------------------------------------------------------- */

static struct blk_ioreq *req_get(struct blk_dev *d)
{
	struct blk_ioreq *q = d->free;

	if (q)
		d->free = q->next;
	else if (d->pool_used < BLK_POOL_SIZE)
		q = &d->pool[d->pool_used++];
	return q;
}

static void req_put(struct blk_dev *d, struct blk_ioreq *q)
{
	q->next = d->free;
	d->free = q;
}

static bool queue_live(const struct blk_dev *d, unsigned qidx)
{
	const struct vu_queue *vuq = &d->vu.q[qidx];

	return qidx < d->vu.nqueues && vuq->started && vuq->vq.ready && !vuq->vq.broken;
}

/* ---- submission ------------------------------------------------------------------------- */

static struct io_uring_sqe *get_sqe(struct blk_dev *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	/* cannot happen while slots <= SQ entries, but a full SQ must not lose a request */
	if (!sqe && io_uring_submit(&d->ring) >= 0)
		sqe = io_uring_get_sqe(&d->ring);
	return sqe;
}

static bool prep(struct blk_dev *d, struct blk_ioreq *q)
{
	struct io_uring_sqe *sqe = get_sqe(d);
	struct blk_req *r = &q->req;
	int fd = d->disk.fd;

	if (!sqe)
		return false;
	switch (r->op) {
	case BLK_OP_READ:
		io_uring_prep_readv(sqe, fd, r->iov, r->iovcnt, r->offset);
		break;
	case BLK_OP_WRITE:
		io_uring_prep_writev(sqe, fd, r->iov, r->iovcnt, r->offset);
		break;
	case BLK_OP_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_PUNCH:
		/* a punched hole reads back as zeroes, which is what write-zeroes+UNMAP asks */
		io_uring_prep_fallocate(sqe, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					r->offset, r->len);
		break;
	case BLK_OP_ZERO:
		io_uring_prep_fallocate(sqe, fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					r->offset, r->len);
		break;
	default:
		return false;
	}
	io_uring_sqe_set_data(sqe, q);
	d->queued = true;
	return true;
}

static void submit(struct blk_dev *d)
{
	int r;

	if (!d->queued)
		return;
	d->queued = false;
	r = io_uring_submit(&d->ring);
	if (r < 0)
		log_warnx_rl(&d->rl, "io_uring_submit: %s", strerror(-r));
}

/* ---- completion ------------------------------------------------------------------------- */

static void complete(struct blk_dev *d, struct blk_ioreq *q, uint8_t status)
{
	struct blk_req *r = &q->req;

	*r->status = status;
	vq_push(&d->vu.q[q->qidx].vq, q->elem.head,
		status == VIRTIO_BLK_S_OK ? r->written : 1);
	req_put(d, q);
}

static void io_failed(struct blk_dev *d, struct blk_ioreq *q, int res)
{
	log_warnx_rl(&d->rl, "q%u: request type %u at byte %llu (+%llu): %s", q->qidx,
		     q->req.type, (unsigned long long)q->req.offset,
		     (unsigned long long)q->req.len,
		     res < 0 ? strerror(-res) : res ? "incomplete transfer" : "end of file");
}

/* Write-zeroes where the file system can neither punch nor zero a range: write zeroes. */
static bool write_zeroes(struct blk_dev *d, struct blk_ioreq *q)
{
	struct blk_req *r = &q->req;
	uint64_t left = r->len;
	unsigned n = 0;

	if (!d->zero) {
		d->zero = aligned_alloc(4096, BLK_ZERO_BUF);
		if (!d->zero)
			return false;
		memset(d->zero, 0, BLK_ZERO_BUF);
	}
	/* the chain's own iovecs are no longer needed: the status pointer is kept apart */
	for (; left && n < BLK_IOV_CAP; n++) {
		q->iov[n].iov_base = d->zero;
		q->iov[n].iov_len = MIN(left, (uint64_t)BLK_ZERO_BUF);
		left -= q->iov[n].iov_len;
	}
	if (left)
		return false;
	r->iov = q->iov;
	r->iovcnt = n;
	r->op = BLK_OP_WRITE;
	return prep(d, q);
}

/* Short read or write: carry on from where the kernel stopped. */
static bool resume_rw(struct blk_dev *d, struct blk_ioreq *q, int res)
{
	struct blk_req *r = &q->req;

	iov_advance(&r->iov, &r->iovcnt, res);
	r->offset += res;
	r->len -= res;
	if (prep(d, q))
		return true;
	r->len = 0;     /* no longer what res covers: status_of reports the transfer incomplete */
	return false;
}

/* Returns true when q was resubmitted (a fallback or the rest of a short transfer). */
static bool retry(struct blk_dev *d, struct blk_ioreq *q, int res)
{
	struct blk_req *r = &q->req;
	bool unsupp = res == -EOPNOTSUPP || res == -ENOTTY;

	switch (r->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		return res > 0 && (uint64_t)res < r->len && resume_rw(d, q, res);
	case BLK_OP_PUNCH:
		if (!unsupp)
			return false;
		r->op = BLK_OP_ZERO;
		return prep(d, q);
	case BLK_OP_ZERO:
		return (unsupp || res == -EINVAL) && write_zeroes(d, q);
	default:
		return false;
	}
}

static uint8_t status_of(struct blk_dev *d, struct blk_ioreq *q, int res)
{
	switch (q->req.op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		/* all of the rest done; 0 is end of file: the image shrank under us */
		if (res > 0 && (uint64_t)res == q->req.len)
			return VIRTIO_BLK_S_OK;
		break;
	case BLK_OP_FLUSH:
		/* once durability is unknown, no later flush may claim it (errseq reports once) */
		if (res < 0)
			d->disk.flush_failed = true;
		if (d->disk.flush_failed) {
			if (res >= 0)
				return VIRTIO_BLK_S_IOERR;
			break;
		}
		return VIRTIO_BLK_S_OK;
	case BLK_OP_DISCARD:
		/* discard is a hint: a file system without hole punching keeps the data */
		if (res >= 0 || res == -EOPNOTSUPP || res == -ENOTTY)
			return VIRTIO_BLK_S_OK;
		break;
	default:
		if (res >= 0)
			return VIRTIO_BLK_S_OK;
		break;
	}
	io_failed(d, q, res);
	return VIRTIO_BLK_S_IOERR;
}

/* One CQE. Returns true when the request completed (its queue needs a notification). */
static bool finish(struct blk_dev *d, struct blk_ioreq *q, int res)
{
	if (retry(d, q, res))
		return false;
	d->busy--;
	d->q_busy[q->qidx]--;
	complete(d, q, status_of(d, q, res));
	return true;
}

static unsigned reap_cqes(struct blk_dev *d)
{
	struct io_uring_cqe *cqe;
	unsigned mask = 0;

	while (io_uring_peek_cqe(&d->ring, &cqe) == 0) {
		struct blk_ioreq *q = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&d->ring, cqe);
		if (q && finish(d, q, res))
			mask |= 1u << q->qidx;
	}
	submit(d);
	return mask;
}

static void notify(struct blk_dev *d, unsigned mask)
{
	for (unsigned i = 0; mask; i++, mask >>= 1)
		if (mask & 1)
			vu_queue_notify(&d->vu, i);
}

/* Complete what io_uring finished; queues that ran out of slots get their turn again. */
static void reap(struct blk_dev *d)
{
	bool stalled = false;

	notify(d, reap_cqes(d));
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		stalled |= d->q_stalled[i];
	if (stalled)
		blk_dev_resume(d);
}

void blk_dev_reap(struct blk_dev *d)
{
	uint64_t n;

	if (d->hooks.woke)
		d->hooks.woke(d);
	/* EAGAIN is fine: a drain may have reaped what this wakeup announced */
	if (read(d->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("completion eventfd");
	reap(d);
}

void blk_dev_log_stats(struct blk_dev *d)
{
	char buf[VU_MAX_QUEUES * 28] = "", *p = buf;
	size_t left = sizeof(buf);

	for (unsigned i = 0; i < VU_MAX_QUEUES && left > 1; i++) {
		int n;

		if (!d->q_reqs[i])
			continue;
		n = snprintf(p, left, "%sq%u %llu", p == buf ? "" : ", ", i,
			     (unsigned long long)d->q_reqs[i]);
		if (n < 0 || (size_t)n >= left)
			break;
		p += n;
		left -= (size_t)n;
	}
	if (buf[0])
		log_info("requests per queue: %s", buf);
	memset(d->q_reqs, 0, sizeof(d->q_reqs));
}

bool blk_dev_poll(struct blk_dev *d)
{
	bool found = false;

	if (io_uring_cq_ready(&d->ring)) {
		reap(d);
		found = true;
	}
	if (d->throttled)
		return found;       /* the IOPS timer resumes the queues */
	for (unsigned i = 0; i < d->vu.nqueues; i++) {
		if (d->q_stalled[i] || !queue_live(d, i) || !vq_avail_pending(&d->vu.q[i].vq))
			continue;
		blk_queue_process(d, i);
		found = true;
	}
	return found;
}

void blk_dev_kicks(struct blk_dev *d, bool on)
{
	for (unsigned i = 0; i < d->vu.nqueues; i++)
		if (queue_live(d, i))
			vq_kicks(&d->vu.q[i].vq, on);
	io_uring_cq_eventfd_toggle(&d->ring, on);
}

void blk_dev_drain(struct blk_dev *d, int qidx)
{
	while (qidx < 0 ? d->busy : d->q_busy[qidx]) {
		int r = io_uring_submit_and_wait(&d->ring, 1);

		if (r < 0 && r != -EINTR && r != -EAGAIN) {
			log_warnx("drain: io_uring: %s", strerror(-r));
			return;
		}
		notify(d, reap_cqes(d));
	}
}

/* ---- popping ---------------------------------------------------------------------------- */

/* Start one popped chain. Returns 1 when it completed at once, 0 when submitted, -1 when
 * the chain is broken (the queue now is). */
static int start(struct blk_dev *d, struct blk_ioreq *q)
{
	struct vq *vq = &d->vu.q[q->qidx].vq;
	struct blk_req *r = &q->req;

	if (blk_req_parse(&d->disk, &q->elem, r) < 0) {
		vq_break(vq, "request without room for a status byte");
		req_put(d, q);
		return -1;
	}
	if (r->op == BLK_OP_NONE || (r->op == BLK_OP_FLUSH && d->disk.flush_failed)) {
		complete(d, q, r->op == BLK_OP_NONE ? r->result : VIRTIO_BLK_S_IOERR);
		return 1;
	}
	if (r->op == BLK_OP_GET_ID) {
		blk_req_get_id(&d->disk, r);
		complete(d, q, VIRTIO_BLK_S_OK);
		return 1;
	}
	if (!prep(d, q)) {
		complete(d, q, VIRTIO_BLK_S_IOERR);
		return 1;
	}
	d->busy++;
	d->q_busy[q->qidx]++;
	return 0;
}

static void throttle(struct blk_dev *d)
{
	if (d->throttled)
		return;
	d->throttled = true;
	if (d->hooks.arm_timer)
		d->hooks.arm_timer(d, blk_bucket_wait_ns(&d->bucket));
}

/* Pop one chain into a free slot: 1 started, 0 stop (nothing, no slot, no budget). */
static int pop_one(struct blk_dev *d, unsigned qidx, bool *pushed)
{
	struct blk_ioreq *q;
	int r;

	if (!blk_bucket_ready(&d->bucket, now_ns(d))) {
		throttle(d);
		return 0;
	}
	q = req_get(d);
	if (!q) {
		d->q_stalled[qidx] = true;
		return 0;
	}
	q->qidx = qidx;
	q->elem.iov = q->iov;
	q->elem.iov_cap = BLK_IOV_CAP;
	r = vq_pop(&d->vu.q[qidx].vq, &q->elem);
	if (r <= 0) {
		req_put(d, q);
		return 0;
	}
	blk_bucket_consume(&d->bucket);
	d->q_reqs[qidx]++;
	r = start(d, q);
	if (r > 0)
		*pushed = true;
	return r >= 0;
}

void blk_queue_process(struct blk_dev *d, unsigned qidx)
{
	bool pushed = false;
	unsigned mask;

	if (qidx >= VU_MAX_QUEUES)
		return;
	d->q_stalled[qidx] = false;

	for (;;) {
		unsigned n = 0;

		while (n < BLK_BATCH && queue_live(d, qidx) && pop_one(d, qidx, &pushed))
			n++;
		submit(d);
		/* page-cache hits complete inside io_uring_submit: reap them now instead of one
		 * event loop wakeup later (the eventfd wakeup that follows then finds nothing),
		 * and hand them back batch by batch, so the driver refills the ring while we
		 * pop the rest */
		mask = reap_cqes(d);
		if (pushed)
			mask |= 1u << qidx;
		notify(d, mask);
		pushed = false;
		if (n < BLK_BATCH)
			break;
	}
}

void blk_dev_resume(struct blk_dev *d)
{
	unsigned n = d->vu.nqueues, start = d->rr;

	if (!n)
		return;
	/* rotate the first queue so a tight IOPS budget is shared by all of them */
	d->rr = (d->rr + 1) % n;
	for (unsigned i = 0; i < n; i++)
		blk_queue_process(d, (start + i) % n);
}

void blk_dev_timer(struct blk_dev *d)
{
	d->throttled = false;
	blk_dev_resume(d);
}

/* ---- vhost-user device ops --------------------------------------------------------------- */

static struct blk_dev *to_blk(struct vu_dev *v)
{
	return container_of(v, struct blk_dev, vu);
}

static uint64_t get_features(struct vu_dev *v)
{
	return blk_features(&to_blk(v)->disk);
}

static void set_features(struct vu_dev *v, uint64_t f)
{
	to_blk(v)->features = f;
}

static int get_config(struct vu_dev *v, uint8_t *buf, uint32_t off, uint32_t len)
{
	return blk_config_read(&to_blk(v)->disk, buf, off, len);
}

static int set_config(struct vu_dev *v, const uint8_t *buf, uint32_t off, uint32_t len)
{
	(void)v;
	(void)buf;
	/* only `wce` is writable, under CONFIG_WCE, which is not offered: nothing to change */
	log_debug("SET_CONFIG %u+%u ignored", off, len);
	return 0;
}

static void queue_kick(struct vu_dev *v, unsigned qidx)
{
	struct blk_dev *d = to_blk(v);

	if (d->hooks.woke)
		d->hooks.woke(d);
	blk_queue_process(d, qidx);
}

static void queue_stop(struct vu_dev *v, unsigned qidx)
{
	struct blk_dev *d = to_blk(v);

	/* the rings and guest memory go away after this: nothing of this queue may stay in
	 * the kernel's hands */
	blk_dev_drain(d, qidx);
	d->q_stalled[qidx] = false;
}

const struct vu_dev_ops blk_vu_ops = {
	.get_features = get_features,
	.set_features = set_features,
	.get_config = get_config,
	.set_config = set_config,
	.queue_kick = queue_kick,
	.queue_start = queue_kick,
	.queue_stop = queue_stop,
};

/* ---- setup ------------------------------------------------------------------------------ */

/*
 * io_uring requests are not seen by seccomp: a ring that could submit OPENAT or SOCKET would
 * bypass the sandbox. Allow exactly the operations prep() issues, and no further registration.
 */
static int restrict_ring(struct io_uring *ring)
{
	static const uint8_t ops[] = {
		IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC, IORING_OP_FALLOCATE,
	};
	struct io_uring_restriction res[ARRAY_SIZE(ops)];
	int r;

	memset(res, 0, sizeof(res));
	for (unsigned i = 0; i < ARRAY_SIZE(ops); i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = ops[i];
	}
	/* Debian's liburing 2.3 declares io_uring_register_restrictions and
	 * io_uring_enable_rings but does not export them: use the system call */
	r = (int)syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_RESTRICTIONS,
			 res, ARRAY_SIZE(res));
	if (r == 0)
		r = (int)syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS,
				 NULL, 0);
	return r < 0 ? -errno : 0;
}

int blk_dev_init(struct blk_dev *d, const struct blk_hooks *hooks, uint32_t iops)
{
	int r;

	d->efd = -1;
	d->rl = (struct ratelimit)RATELIMIT_INIT(5000, 10);
	if (hooks)
		d->hooks = *hooks;
	blk_bucket_init(&d->bucket, iops, now_ns(d));
	/* calloc of this size is fresh zero pages: slots cost memory only once used */
	d->pool = calloc(BLK_POOL_SIZE, sizeof(*d->pool));
	if (!d->pool)
		return -ENOMEM;
	/* created disabled so it can be restricted before any request is submitted */
	r = io_uring_queue_init(BLK_POOL_SIZE, &d->ring, IORING_SETUP_R_DISABLED);
	if (r < 0)
		goto err_pool;
	d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->efd < 0) {
		r = -errno;
		goto err_ring;
	}
	r = io_uring_register_eventfd(&d->ring, d->efd);
	if (r < 0 || (r = restrict_ring(&d->ring)) < 0)
		goto err_efd;
	return 0;
err_efd:
	closep(&d->efd);
err_ring:
	io_uring_queue_exit(&d->ring);
err_pool:
	free(d->pool);
	d->pool = NULL;
	return r;
}

void blk_dev_exit(struct blk_dev *d)
{
	blk_dev_drain(d, -1);
	io_uring_queue_exit(&d->ring);
	closep(&d->efd);
	free(d->pool);
	free(d->zero);
	d->pool = NULL;
	d->zero = NULL;
}
