/* Unit tests for the vhost-user codec, backend dispatcher and frontend, over a socketpair:
 * a full handshake through the frontend against vu_dev (with the device in a thread and a
 * tiny poll loop as its watch), a worker restart recovered from the inflight area, malformed
 * messages sent raw that must close the connection without crashing or leaking an fd, and a
 * frontend facing replies that lie. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "log.h"
#include "util.h"
#include "vhost_user.h"
#include "vu_backend.h"
#include "vu_frontend.h"

#define GUEST_SIZE (1 * MiB)
#define QSIZE      8
#define DESC_GPA   0x1000
#define AVAIL_GPA  0x2000
#define USED_GPA   0x3000
#define BUF_GPA    0x10000
#define DEV_FEATURES ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << 5))
#define ALL_PF ((1ULL << VU_PROTOCOL_F_MQ) | (1ULL << VU_PROTOCOL_F_REPLY_ACK) | \
		(1ULL << VU_PROTOCOL_F_CONFIG) | (1ULL << VU_PROTOCOL_F_INFLIGHT_SHMFD))

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* ---- a watch implementation: a list of fds this test polls itself ---- */

struct watch_ent {
	int fd;
	void (*cb)(void *arg);
	void *arg;
};

struct loop {
	struct watch_ent w[32];
	unsigned n;
	unsigned errors;   /* counted, not asserted: callbacks run in the backend thread */
};

static void loop_add(void *lp, int fd, void (*cb)(void *arg), void *arg)
{
	struct loop *l = lp;

	if (l->n == 32) {
		l->errors++;
		return;
	}
	l->w[l->n++] = (struct watch_ent){ fd, cb, arg };
}

static void loop_del(void *lp, int fd)
{
	struct loop *l = lp;

	for (unsigned i = 0; i < l->n; i++) {
		if (l->w[i].fd == fd) {
			l->w[i] = l->w[--l->n];
			return;
		}
	}
	l->errors++;   /* del of an fd that is not watched */
}

static bool still_watched(const struct loop *l, const struct watch_ent *e)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->w[i].fd == e->fd && l->w[i].cb == e->cb && l->w[i].arg == e->arg)
			return true;
	return false;
}

/* One round: callbacks may add and remove watches, so work on a snapshot. */
static void loop_once(struct loop *l)
{
	struct pollfd p[32];
	struct watch_ent snap[32];
	unsigned n = l->n;

	memcpy(snap, l->w, sizeof(snap[0]) * n);
	for (unsigned i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = snap[i].fd, .events = POLLIN };
	if (poll(p, n, -1) <= 0)
		return;
	for (unsigned i = 0; i < n; i++)
		if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) && still_watched(l, &snap[i]))
			snap[i].cb(snap[i].arg);
}

/* ---- the device under the dispatcher ---- */

struct tdev {
	struct vu_dev dev;
	struct loop loop;
	int kicked;           /* eventfd: written at the end of every queue_kick */
	bool push;            /* complete what was popped */
	uint16_t popped[64];
	unsigned npopped, starts, stops, push_failed;
	uint8_t config[512];
};

static uint64_t t_features(struct vu_dev *dev UNUSED) { return DEV_FEATURES; }

static int t_get_config(struct vu_dev *dev, uint8_t *buf, uint32_t off, uint32_t len)
{
	struct tdev *t = dev->priv;

	if (off > sizeof(t->config) || len > sizeof(t->config) - off)
		return -EINVAL;
	memcpy(buf, t->config + off, len);
	return 0;
}

static void t_kick(struct vu_dev *dev, unsigned qidx)
{
	struct tdev *t = dev->priv;
	struct iovec iov[4];
	struct vq_elem e = { .iov = iov, .iov_cap = 4 };

	while (vq_pop(&dev->q[qidx].vq, &e) == 1) {
		t->popped[t->npopped++ % 64] = e.head;
		if (!t->push)
			continue;
		for (unsigned i = e.out_num; i < e.out_num + e.in_num; i++)
			memset(iov[i].iov_base, 0xab, iov[i].iov_len);
		if (vq_push(&dev->q[qidx].vq, e.head, (uint32_t)e.in_len) < 0)
			t->push_failed++;
	}
	if (t->push)
		vu_queue_notify(dev, qidx);
	eventfd_write(t->kicked, 1);
}

static void t_start(struct vu_dev *dev, unsigned qidx UNUSED)
{
	((struct tdev *)dev->priv)->starts++;
}

static void t_stop(struct vu_dev *dev, unsigned qidx UNUSED)
{
	((struct tdev *)dev->priv)->stops++;
}

static const struct vu_dev_ops t_ops = {
	.get_features = t_features,
	.get_config = t_get_config,
	.queue_kick = t_kick,
	.queue_start = t_start,
	.queue_stop = t_stop,
};

static void tdev_init(struct tdev *t, int sock, unsigned nqueues)
{
	struct vu_watch w = { loop_add, loop_del, &t->loop };

	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < sizeof(t->config); i++)
		t->config[i] = (uint8_t)(0x40 + i % 64);
	t->kicked = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(t->kicked, 0);
	cr_assert_eq(vu_dev_init(&t->dev, "test", sock, nqueues, &t_ops, &w, t), 0);
	cr_assert_eq(t->loop.n, 1, "the socket is watched");
}

static void tdev_exit(struct tdev *t)
{
	vu_dev_exit(&t->dev);
	cr_assert_eq(t->loop.n, 0, "every watch removed");
	cr_assert_eq(t->loop.errors, 0, "watch misuse");
	cr_assert_eq(t->push_failed, 0);
	close(t->kicked);
}

/* ---- the guest side: a memfd as RAM, with rings laid out by the test ---- */

struct guest {
	int memfd;
	uint8_t *mem;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	int kick, call;
};

static void guest_init(struct guest *g)
{
	g->memfd = memfd_create("guest", MFD_CLOEXEC);
	cr_assert_geq(g->memfd, 0);
	cr_assert_eq(ftruncate(g->memfd, GUEST_SIZE), 0);
	g->mem = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g->memfd, 0);
	cr_assert_neq(g->mem, MAP_FAILED);
	g->desc = (void *)(g->mem + DESC_GPA);
	g->avail = (void *)(g->mem + AVAIL_GPA);
	g->used = (void *)(g->mem + USED_GPA);
	g->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	g->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cr_assert(g->kick >= 0 && g->call >= 0);
}

static void guest_exit(struct guest *g)
{
	munmap(g->mem, GUEST_SIZE);
	close(g->memfd);
	close(g->kick);
	close(g->call);
}

static struct vu_region guest_region(const struct guest *g)
{
	return (struct vu_region){ 0, GUEST_SIZE, (uintptr_t)g->mem, 0 };
}

static struct vu_vring_addr guest_addr(const struct guest *g, unsigned idx)
{
	return (struct vu_vring_addr){
		.index = idx,
		.desc = (uintptr_t)g->desc,
		.avail = (uintptr_t)g->avail,
		.used = (uintptr_t)g->used,
	};
}

/* Make one 512-byte writable buffer available as `head` at avail position `pos`. */
static void guest_post(struct guest *g, uint16_t head, uint16_t pos)
{
	g->desc[head] = (struct vring_desc){ BUF_GPA, 512, VRING_DESC_F_WRITE, 0 };
	g->avail->ring[pos % QSIZE] = head;
	__atomic_store_n(&g->avail->idx, (uint16_t)(pos + 1), __ATOMIC_RELEASE);
}

/* Wait (bounded, never a timing assertion) until the device's queue_kick ran. */
static void wait_kicked(struct tdev *t)
{
	struct pollfd p = { .fd = t->kicked, .events = POLLIN };
	eventfd_t v;

	cr_assert_eq(poll(&p, 1, 10000), 1, "queue_kick was not called");
	eventfd_read(t->kicked, &v);
}

/* ---- the backend in a thread, the frontend in the test ---- */

struct pair {
	int sv[2];
	struct tdev t;
	struct vu_front f;
	pthread_t th;
};

static void *backend_run(void *arg)
{
	struct tdev *t = arg;

	/* the device unwatches everything when the connection ends */
	while (t->dev.sock_watched)
		loop_once(&t->loop);
	/* what the owner does then: close the connection, so the frontend sees EOF */
	shutdown(t->dev.sock, SHUT_RDWR);
	return NULL;
}

static void pair_start(struct pair *p, unsigned nqueues)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->sv), 0);
	tdev_init(&p->t, p->sv[1], nqueues);
	vuf_init(&p->f, p->sv[0], 10000);
	cr_assert_eq(pthread_create(&p->th, NULL, backend_run, &p->t), 0);
}

static void pair_stop(struct pair *p)
{
	close(p->sv[0]);   /* EOF ends the backend's loop */
	pthread_join(p->th, NULL);
	cr_assert(p->t.dev.broken);
	tdev_exit(&p->t);
	close(p->sv[1]);
}

/* Everything up to a started, enabled queue 0, as QEMU orders it. */
static void handshake(struct pair *p, struct guest *g, int *inflight_fd, unsigned base)
{
	struct vu_front *f = &p->f;
	struct vu_region r = guest_region(g);
	struct vu_vring_addr a = guest_addr(g, 0);
	struct vu_inflight inf;
	uint64_t v;

	cr_assert_eq(vuf_get_features(f, &v), 0);
	cr_assert_eq(v, DEV_FEATURES | (1ULL << VU_F_PROTOCOL_FEATURES));
	cr_assert_eq(vuf_set_owner(f), 0);
	cr_assert_eq(vuf_get_protocol_features(f, &v), 0);
	cr_assert_eq(v & ALL_PF, ALL_PF);
	cr_assert_eq(vuf_set_protocol_features(f, ALL_PF), 0);
	cr_assert_eq(vuf_get_queue_num(f, &v), 0);
	cr_assert_eq(v, 2);
	if (*inflight_fd < 0) {
		cr_assert_eq(vuf_get_inflight_fd(f, 2, QSIZE, &inf, inflight_fd), 0);
	} else {
		inf = (struct vu_inflight){ 2 * vq_inflight_queue_size(QSIZE), 0, 2, QSIZE, { 0 } };
	}
	cr_assert_eq(vuf_set_inflight_fd(f, &inf, *inflight_fd), 0);
	cr_assert_eq(vuf_set_features(f, DEV_FEATURES | (1ULL << VU_F_PROTOCOL_FEATURES)), 0);
	cr_assert_eq(vuf_set_mem_table(f, &r, &g->memfd, 1), 0);
	cr_assert_eq(vuf_set_vring_num(f, 0, QSIZE), 0);
	cr_assert_eq(vuf_set_vring_base(f, 0, base), 0);
	cr_assert_eq(vuf_set_vring_addr(f, &a), 0);
	cr_assert_eq(vuf_set_vring_kick(f, 0, g->kick), 0);
	cr_assert_eq(vuf_set_vring_call(f, 0, g->call), 0);
	cr_assert_eq(p->t.starts, 0, "with F_PROTOCOL_FEATURES a ring starts disabled");
	cr_assert_eq(vuf_set_vring_enable(f, 0, 1), 0);
}

Test(vhost_user, handshake_kick_base_config_inflight)
{
	int before = count_fds(), inflight = -1;
	struct pair p;
	struct guest g;
	struct vq_inflight *area;
	struct stat st;
	uint8_t cfg[8];
	unsigned base;
	eventfd_t calls;

	guest_init(&g);
	pair_start(&p, 2);
	g.avail->idx = 5;
	g.used->idx = 5;
	handshake(&p, &g, &inflight, 5);
	cr_assert_eq(p.t.starts, 1);
	cr_assert_eq(eventfd_read(g.call, &calls), 0, "SET_VRING_CALL signals the new call fd");
	cr_assert_eq(calls, 1);
	cr_assert_eq(fstat(inflight, &st), 0);
	cr_assert_eq((size_t)st.st_size, 2 * vq_inflight_queue_size(QSIZE));

	cr_assert_eq(vuf_get_config(&p.f, 4, cfg, sizeof(cfg)), 0);
	for (unsigned i = 0; i < sizeof(cfg); i++)
		cr_assert_eq(cfg[i], 0x44 + i, "config byte %u", i);
	cr_assert_eq(vuf_get_config(&p.f, 508, cfg, 8), -ECONNRESET, "backend refuses, closes");

	/* the connection is gone now: start again for the data path */
	pair_stop(&p);
	close(inflight);
	inflight = -1;
	memset(g.mem, 0, GUEST_SIZE);
	pair_start(&p, 2);
	p.t.push = true;
	g.avail->idx = 5;    /* a ring that has done 5 requests before */
	g.used->idx = 5;
	handshake(&p, &g, &inflight, 5);
	/* a completion of a killed predecessor may wait for its interrupt: one comes at once */
	cr_assert_eq(eventfd_read(g.call, &calls), 0, "SET_VRING_CALL signals the new call fd");
	cr_assert_eq(calls, 1);
	cr_assert_eq(eventfd_read(g.call, &calls), -1, "and only once");

	guest_post(&g, 3, 5);
	cr_assert_eq(eventfd_write(g.kick, 1), 0);
	wait_kicked(&p.t);
	cr_assert_eq(p.t.npopped, 1);
	cr_assert_eq(p.t.popped[0], 3);
	cr_assert_eq(g.used->idx, 6);
	cr_assert_eq(g.used->ring[5].id, 3);
	cr_assert_eq(g.used->ring[5].len, 512);
	cr_assert_eq(g.mem[BUF_GPA + 511], 0xab);
	cr_assert_eq(eventfd_read(g.call, &calls), 0, "the call eventfd was signalled");

	area = mmap(NULL, 2 * vq_inflight_queue_size(QSIZE), PROT_READ, MAP_SHARED, inflight, 0);
	cr_assert_neq(area, MAP_FAILED);
	cr_assert_eq(area->version, 1, "the backend initialised its inflight area");
	cr_assert_eq(area->desc_num, QSIZE);
	cr_assert_eq(area->desc[3].inflight, 0, "completed, so no longer in flight");
	munmap(area, 2 * vq_inflight_queue_size(QSIZE));

	cr_assert_eq(vuf_get_vring_base(&p.f, 0, &base), 0);
	cr_assert_eq(base, 6);
	cr_assert_eq(p.t.stops, 1);
	cr_assert_eq(vuf_get_vring_base(&p.f, 1, &base), 0, "a queue never started");
	cr_assert_eq(base, 0);

	pair_stop(&p);
	close(inflight);
	guest_exit(&g);
	cr_assert_eq(count_fds(), before, "no fd leaked");
}

/*
 * A worker that died with a request in flight: the next one gets the same inflight area
 * back (SET_INFLIGHT_FD only, as after a restart) and must resubmit the request, even though
 * the frontend's base says it was consumed.
 */
Test(vhost_user, restart_resubmits_from_inflight_area)
{
	int before = count_fds(), inflight = -1;
	struct pair p;
	struct guest g;

	guest_init(&g);
	pair_start(&p, 2);
	handshake(&p, &g, &inflight, 0);
	guest_post(&g, 3, 0);
	cr_assert_eq(eventfd_write(g.kick, 1), 0);
	wait_kicked(&p.t);
	cr_assert_eq(p.t.npopped, 1);
	pair_stop(&p);          /* "killed" with head 3 popped and not completed */
	cr_assert_eq(g.used->idx, 0);

	pair_start(&p, 2);
	p.t.push = true;
	handshake(&p, &g, &inflight, 1);
	wait_kicked(&p.t);      /* queue_kick on start: there is work to resubmit */
	cr_assert_eq(p.t.npopped, 1);
	cr_assert_eq(p.t.popped[0], 3);
	cr_assert_eq(g.used->idx, 1);
	cr_assert_eq(g.used->ring[0].id, 3);
	pair_stop(&p);
	close(inflight);
	guest_exit(&g);
	cr_assert_eq(count_fds(), before);
}

/* A device's in-flight requests point into the old mapping: a new table must pause it first. */
Test(vhost_user, new_mem_table_pauses_running_queues)
{
	int before = count_fds(), inflight = -1;
	struct pair p;
	struct guest g;
	struct vu_region r;

	guest_init(&g);
	pair_start(&p, 2);
	handshake(&p, &g, &inflight, 0);
	cr_assert_eq(p.t.starts, 1);
	cr_assert_eq(p.t.stops, 0);
	r = guest_region(&g);
	cr_assert_eq(vuf_set_mem_table(&p.f, &r, &g.memfd, 1), 0);
	cr_assert_eq(p.t.stops, 1, "queue_stop before the old mapping is unmapped");
	cr_assert_eq(p.t.starts, 2, "queue_start again on the new mapping");
	p.t.push = true;
	guest_post(&g, 2, 0);
	cr_assert_eq(eventfd_write(g.kick, 1), 0);
	wait_kicked(&p.t);
	cr_assert_eq(g.used->idx, 1, "the queue still works on the new mapping");
	pair_stop(&p);
	close(inflight);
	guest_exit(&g);
	cr_assert_eq(count_fds(), before);
}

Test(vhost_user, without_protocol_features_ring_starts_enabled)
{
	int before = count_fds();
	struct pair p;
	struct guest g;
	struct vu_region r;
	struct vu_vring_addr a;

	guest_init(&g);
	r = guest_region(&g);
	a = guest_addr(&g, 1);
	pair_start(&p, 2);
	cr_assert_eq(vuf_set_features(&p.f, DEV_FEATURES), 0);
	cr_assert_eq(vuf_set_mem_table(&p.f, &r, &g.memfd, 1), 0);
	cr_assert_eq(vuf_set_vring_num(&p.f, 1, QSIZE), 0);
	cr_assert_eq(vuf_set_vring_addr(&p.f, &a), 0);
	guest_post(&g, 0, 0);   /* queued before the kick fd: must be picked up on start */
	cr_assert_eq(vuf_set_vring_kick(&p.f, 1, g.kick), 0);
	wait_kicked(&p.t);
	cr_assert_eq(p.t.starts, 1);
	cr_assert_eq(p.t.npopped, 1);
	pair_stop(&p);
	guest_exit(&g);
	cr_assert_eq(count_fds(), before);
}

/* ---- malformed messages, sent raw ---- */

struct raw {
	int sv[2];
	struct tdev t;
	struct guest g;
	int before;
};

static void raw_begin(struct raw *x)
{
	log_set_fd(-1);   /* hundreds of expected warnings: keep the test output readable */
	x->before = count_fds();
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x->sv), 0);
	guest_init(&x->g);
	tdev_init(&x->t, x->sv[1], 2);
}

static void raw_end(struct raw *x, const char *what)
{
	tdev_exit(&x->t);
	close(x->sv[0]);
	close(x->sv[1]);
	guest_exit(&x->g);
	cr_assert_eq(count_fds(), x->before, "%s: fd leaked", what);
}

static void raw_send(struct raw *x, uint32_t req, uint32_t flags, const void *payload,
		     uint32_t size, const int *fds, unsigned nfds)
{
	struct vu_msg m;

	m.hdr = (struct vu_hdr){ req, VU_HDR_VERSION | flags, size };
	if (size)
		memcpy(m.p.raw, payload, size);
	if (nfds)
		memcpy(m.fds, fds, nfds * sizeof(int));
	m.nfds = nfds;
	cr_assert_eq(vu_msg_send(x->sv[0], &m), 0);
}

static void raw_ok(struct raw *x, uint32_t req, const void *payload, uint32_t size,
		   const int *fds, unsigned nfds)
{
	raw_send(x, req, 0, payload, size, fds, nfds);
	cr_assert_eq(vu_dev_dispatch(&x->t.dev), 0, "%s refused", vu_request_name(req));
}

static void raw_bad(struct raw *x, const char *what, uint32_t req, const void *payload,
		    uint32_t size, const int *fds, unsigned nfds)
{
	raw_send(x, req, 0, payload, size, fds, nfds);
	cr_assert_lt(vu_dev_dispatch(&x->t.dev), 0, "%s accepted", what);
	cr_assert(x->t.dev.broken);
	cr_assert_lt(vu_dev_dispatch(&x->t.dev), 0, "%s: broken stays broken", what);
}

/* One malformed message on a fresh connection. */
static void one_bad(const char *what, uint32_t req, const void *payload, uint32_t size,
		    unsigned nfds)
{
	struct raw x;
	int fds[VU_MAX_FDS];

	raw_begin(&x);
	for (unsigned i = 0; i < nfds; i++)
		fds[i] = x.g.kick;
	raw_bad(&x, what, req, payload, size, fds, nfds);
	raw_end(&x, what);
}

Test(vhost_user_bad, wrong_payload_size_for_each_fixed_request)
{
	static const struct { uint32_t req; uint32_t size; unsigned nfds; } fixed[] = {
		{ VU_GET_FEATURES, 0, 0 }, { VU_SET_FEATURES, 8, 0 }, { VU_SET_OWNER, 0, 0 },
		{ VU_RESET_OWNER, 0, 0 }, { VU_SET_VRING_NUM, 8, 0 },
		{ VU_SET_VRING_ADDR, 40, 0 }, { VU_SET_VRING_BASE, 8, 0 },
		{ VU_GET_VRING_BASE, 8, 0 }, { VU_SET_VRING_KICK, 8, 1 },
		{ VU_SET_VRING_CALL, 8, 1 }, { VU_SET_VRING_ERR, 8, 1 },
		{ VU_GET_PROTOCOL_FEATURES, 0, 0 }, { VU_SET_PROTOCOL_FEATURES, 8, 0 },
		{ VU_GET_QUEUE_NUM, 0, 0 }, { VU_SET_VRING_ENABLE, 8, 0 },
		{ VU_GET_INFLIGHT_FD, 24, 0 }, { VU_SET_INFLIGHT_FD, 24, 1 },
	};
	uint8_t zero[64] = { 0 };

	for (unsigned i = 0; i < ARRAY_SIZE(fixed); i++) {
		uint32_t s = fixed[i].size;
		uint32_t wrong[] = { s + 1, s + 8, s ? s - 1 : 4, s ? 0 : 8 };

		for (unsigned j = 0; j < ARRAY_SIZE(wrong); j++)
			one_bad(vu_request_name(fixed[i].req), fixed[i].req, zero, wrong[j],
				fixed[i].nfds);
	}
}

Test(vhost_user_bad, payload_above_max)
{
	struct raw x;
	struct vu_hdr h = { VU_SET_FEATURES, VU_HDR_VERSION, VU_MAX_PAYLOAD + 1 };
	static uint8_t junk[VU_MAX_PAYLOAD + 1];

	raw_begin(&x);
	cr_assert_eq(write(x.sv[0], &h, sizeof(h)), sizeof(h));
	cr_assert_eq(write(x.sv[0], junk, sizeof(junk)), sizeof(junk));
	cr_assert_lt(vu_dev_dispatch(&x.t.dev), 0);
	raw_end(&x, "size > VU_MAX_PAYLOAD");
}

Test(vhost_user_bad, too_many_fds_and_truncated_message)
{
	struct raw x;
	struct vu_hdr h = { VU_SET_OWNER, VU_HDR_VERSION, 0 };
	int fds[VU_MAX_FDS + 1];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(fds))];
	} c;
	struct iovec iov = { &h, sizeof(h) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			     .msg_controllen = sizeof(c.buf) };
	struct cmsghdr *cm;

	raw_begin(&x);
	for (unsigned i = 0; i < ARRAY_SIZE(fds); i++)
		fds[i] = x.g.kick;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	cr_assert_eq(sendmsg(x.sv[0], &mh, 0), sizeof(h));
	cr_assert_lt(vu_dev_dispatch(&x.t.dev), 0, "9 fds");
	raw_end(&x, "9 fds");

	/* 9 fds with a table of 8 good regions: the kernel passes 8 and flags MSG_CTRUNC */
	struct { struct vu_hdr h; struct vu_mem_table t; } mt = {
		{ VU_SET_MEM_TABLE, VU_HDR_VERSION, 8 + 8 * sizeof(struct vu_region) }, { 8, 0, { } } };
	raw_begin(&x);
	for (unsigned i = 0; i < 8; i++)
		mt.t.r[i] = (struct vu_region){ i * 0x10000ULL, 0x10000,
						(uintptr_t)x.g.mem + i * 0x10000ULL, i * 0x10000ULL };
	for (unsigned i = 0; i < ARRAY_SIZE(fds); i++)
		fds[i] = x.g.memfd;
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	struct iovec iov2[2] = { { &mt.h, sizeof(mt.h) }, { &mt.t, mt.h.size } };
	mh.msg_iov = iov2;
	mh.msg_iovlen = 2;
	cr_assert_eq(sendmsg(x.sv[0], &mh, 0), sizeof(mt.h) + mt.h.size);
	cr_assert_lt(vu_dev_dispatch(&x.t.dev), 0, "8 regions with 9 fds");
	cr_assert_eq(x.t.dev.mem.nr, 0);
	raw_end(&x, "8 regions, 9 fds");

	/* the same table with 8 fds is fine */
	raw_begin(&x);
	for (unsigned i = 0; i < 8; i++)
		mt.t.r[i].uaddr = (uintptr_t)x.g.mem + i * 0x10000ULL;
	raw_ok(&x, VU_SET_MEM_TABLE, &mt.t, mt.h.size, (int[8]){ x.g.memfd, x.g.memfd,
	       x.g.memfd, x.g.memfd, x.g.memfd, x.g.memfd, x.g.memfd, x.g.memfd }, 8);
	cr_assert_eq(x.t.dev.mem.nr, 8);
	raw_end(&x, "8 regions");

	/* a header that promises a payload, then EOF */
	raw_begin(&x);
	h = (struct vu_hdr){ VU_SET_FEATURES, VU_HDR_VERSION, 8 };
	cr_assert_eq(write(x.sv[0], &h, sizeof(h)), sizeof(h));
	cr_assert_eq(write(x.sv[0], "abc", 3), 3);
	shutdown(x.sv[0], SHUT_WR);
	cr_assert_eq(vu_dev_dispatch(&x.t.dev), -EPROTO);
	raw_end(&x, "truncated payload");

	/* half a header, then EOF; and a plain EOF */
	raw_begin(&x);
	cr_assert_eq(write(x.sv[0], &h, 5), 5);
	shutdown(x.sv[0], SHUT_WR);
	cr_assert_lt(vu_dev_dispatch(&x.t.dev), 0);
	raw_end(&x, "truncated header");
	raw_begin(&x);
	shutdown(x.sv[0], SHUT_WR);
	cr_assert_eq(vu_dev_dispatch(&x.t.dev), -ECONNRESET);
	raw_end(&x, "EOF");
}

Test(vhost_user_bad, unknown_unsupported_and_bad_flags)
{
	uint8_t zero[16] = { 0 };
	struct raw x;

	one_bad("request 0", 0, zero, 0, 0);
	one_bad("request 19", 19, zero, 0, 0);
	one_bad("request 40", 40, zero, 0, 0);
	one_bad("request 1000", 1000, zero, 0, 0);
	one_bad("SET_LOG_BASE", VU_SET_LOG_BASE, zero, 16, 1);
	one_bad("GET_MAX_MEM_SLOTS", VU_GET_MAX_MEM_SLOTS, zero, 0, 0);
	one_bad("SET_VRING_NUM with an fd", VU_SET_VRING_NUM, zero, 8, 1);

	raw_begin(&x);
	raw_send(&x, VU_GET_FEATURES, VU_HDR_REPLY, zero, 0, NULL, 0);
	cr_assert_lt(vu_dev_dispatch(&x.t.dev), 0, "REPLY flag on a request");
	raw_end(&x, "reply flag");
	raw_begin(&x);
	raw_send(&x, VU_GET_FEATURES, 0, zero, 0, NULL, 0);
	/* version 2 */
	{
		struct vu_hdr h = { VU_GET_FEATURES, 0x2, 0 };

		cr_assert_eq(write(x.sv[0], &h, sizeof(h)), sizeof(h));
	}
	cr_assert_eq(vu_dev_dispatch(&x.t.dev), 0);
	cr_assert_lt(vu_dev_dispatch(&x.t.dev), 0, "version 2");
	raw_end(&x, "version");
}

/* huge: the regions' fd is a sparse 4 TiB memfd, so only the size caps can refuse them */
static void mem_bad_fd(const char *what, const struct vu_region *r, unsigned n, unsigned nfds,
		       uint32_t nregions, bool huge)
{
	struct raw x;
	struct { uint32_t nregions, padding; struct vu_region r[9]; } t = { nregions, 0, { { 0 } } };
	int fds[VU_MAX_FDS];

	raw_begin(&x);
	memcpy(t.r, r, n * sizeof(*r));
	int big = -1;

	if (huge) {
		big = memfd_create("huge", MFD_CLOEXEC);
		cr_assert_eq(ftruncate(big, (off_t)(4ULL << 40)), 0);
	}
	for (unsigned i = 0; i < nfds; i++)
		fds[i] = huge ? big : x.g.memfd;
	raw_bad(&x, what, VU_SET_MEM_TABLE, &t, 8 + n * sizeof(*r), fds, nfds);
	cr_assert_eq(x.t.dev.mem.nr, 0, "%s: nothing mapped", what);
	if (big >= 0)
		close(big);
	raw_end(&x, what);
}

static void mem_bad(const char *what, const struct vu_region *r, unsigned n, unsigned nfds,
		    uint32_t nregions)
{
	mem_bad_fd(what, r, n, nfds, nregions, false);
}

Test(vhost_user_bad, mem_table)
{
	const uint64_t u = 0x7f0000000000ULL;
	struct vu_region r[9];

	for (unsigned i = 0; i < 9; i++)
		r[i] = (struct vu_region){ i * 0x10000ULL, 0x10000, u + i * 0x10000ULL, 0 };
	mem_bad("0 regions", r, 0, 0, 0);
	mem_bad("9 regions", r, 8, 8, 9);
	mem_bad("size for 8 regions, nregions 9", r, 9, 8, 9);
	mem_bad("2 regions, 1 fd", r, 2, 1, 2);
	mem_bad("1 region, 2 fds", r, 1, 2, 1);
	mem_bad("1 region, no fd", r, 1, 0, 1);
	mem_bad("nregions 2, size of 1", r, 1, 2, 2);

	struct vu_region ov[2] = { { 0, 0x20000, u, 0 }, { 0x10000, 0x10000, u + 0x100000, 0 } };
	mem_bad("gpa overlap", ov, 2, 2, 2);
	ov[1] = (struct vu_region){ 0x100000, 0x10000, u + 0x1ffff, 0 };
	mem_bad("uaddr overlap", ov, 2, 2, 2);
	ov[1] = (struct vu_region){ 0, 0x20000, u + 0x100000, 0 };
	mem_bad("identical gpa", ov, 2, 2, 2);

	struct vu_region one[1] = { { 0, 0, u, 0 } };
	mem_bad("size 0", one, 1, 1, 1);
	one[0] = (struct vu_region){ 0, 0x1000, u, ~0ULL - 0x800 };
	mem_bad("mmap_offset + size overflows", one, 1, 1, 1);
	one[0] = (struct vu_region){ ~0ULL - 0x800, 0x1000, u, 0 };
	mem_bad("gpa + size overflows", one, 1, 1, 1);
	one[0] = (struct vu_region){ 0, 0x1000, ~0ULL - 0x800, 0 };
	mem_bad("uaddr + size overflows", one, 1, 1, 1);
	one[0] = (struct vu_region){ 0, 1ULL << 41, u, 0 };
	mem_bad_fd("2 TiB region", one, 1, 1, 1, true);
	one[0] = (struct vu_region){ 0, 2 * GUEST_SIZE, u, 0 };
	mem_bad("region past the end of its file", one, 1, 1, 1);
	one[0] = (struct vu_region){ 0, GUEST_SIZE, u, 4096 };
	mem_bad("offset pushes region past the end", one, 1, 1, 1);

	struct vu_region big[2] = { { 0, 1ULL << 39, u, 0 }, { 1ULL << 39, (1ULL << 39) + 4096,
								 u + (1ULL << 40), 0 } };
	mem_bad_fd("total above 1 TiB", big, 2, 2, 2, true);
}

/* A raw connection with guest memory mapped and queue 0 sized: ready for vring requests. */
static void raw_with_mem(struct raw *x)
{
	struct vu_mem_table t;
	struct vu_vring_state s = { 0, QSIZE };

	/* the region after raw_begin: before it, x->g.mem is whatever the stack held (the tests
	 * that reuse one x in a loop got the previous, identical mapping by luck) */
	raw_begin(x);
	t = (struct vu_mem_table){ 1, 0, { guest_region(&x->g) } };
	raw_ok(x, VU_SET_MEM_TABLE, &t, 8 + sizeof(t.r[0]), &x->g.memfd, 1);
	cr_assert_eq(x->t.dev.mem.nr, 1);
	raw_ok(x, VU_SET_VRING_NUM, &s, sizeof(s), NULL, 0);
}

/* A new table may not move a started queue's rings where their indices cannot be accessed
 * atomically: a region one byte further into its file puts every ring address at an odd host
 * address (fuzz-vhost_user found the avail index read misaligned). */
Test(vhost_user_bad, mem_table_misaligning_started_rings)
{
	struct raw x;
	struct vu_vring_addr a;
	struct vu_mem_table t;
	uint64_t q0 = 0;

	raw_with_mem(&x);
	a = guest_addr(&x.g, 0);
	raw_ok(&x, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	raw_ok(&x, VU_SET_VRING_KICK, &q0, 8, &x.g.kick, 1);
	cr_assert(x.t.dev.q[0].started);
	t = (struct vu_mem_table){ 1, 0, { guest_region(&x.g) } };
	t.r[0].mmap_offset = 1;
	t.r[0].size -= 1;
	raw_bad(&x, "rings at odd host addresses", VU_SET_MEM_TABLE, &t, 8 + sizeof(t.r[0]),
		&x.g.memfd, 1);
	raw_end(&x, "rings at odd host addresses");
}

static void vring_bad(const char *what, uint32_t req, const void *payload, uint32_t size,
		      bool with_fd)
{
	struct raw x;

	raw_with_mem(&x);
	raw_bad(&x, what, req, payload, size, &x.g.kick, with_fd);
	raw_end(&x, what);
}

Test(vhost_user_bad, vrings)
{
	struct vu_vring_state s;
	struct vu_vring_addr a;
	struct raw x;
	uint64_t u;

	raw_with_mem(&x);   /* the happy path of this fixture, and a queue size at the limit */
	s = (struct vu_vring_state){ 1, VQ_MAX_SIZE };
	raw_ok(&x, VU_SET_VRING_NUM, &s, sizeof(s), NULL, 0);
	raw_end(&x, "fixture");

	s = (struct vu_vring_state){ 0, 0 };
	vring_bad("num 0", VU_SET_VRING_NUM, &s, sizeof(s), false);
	s.num = 3;
	vring_bad("num 3", VU_SET_VRING_NUM, &s, sizeof(s), false);
	s.num = 65536;
	vring_bad("num 65536", VU_SET_VRING_NUM, &s, sizeof(s), false);
	s = (struct vu_vring_state){ 2, QSIZE };
	vring_bad("num on queue 2 of 2", VU_SET_VRING_NUM, &s, sizeof(s), false);
	s = (struct vu_vring_state){ 200, 0 };
	vring_bad("GET_VRING_BASE of queue 200", VU_GET_VRING_BASE, &s, sizeof(s), false);
	vring_bad("SET_VRING_ENABLE of queue 200", VU_SET_VRING_ENABLE, &s, sizeof(s), false);
	s = (struct vu_vring_state){ 0, 2 };
	vring_bad("enable value 2", VU_SET_VRING_ENABLE, &s, sizeof(s), false);
	s = (struct vu_vring_state){ 0, 0x10000 };
	vring_bad("base above 16 bits", VU_SET_VRING_BASE, &s, sizeof(s), false);

	u = 5;
	vring_bad("kick for queue 5", VU_SET_VRING_KICK, &u, 8, true);
	vring_bad("call for queue 5", VU_SET_VRING_CALL, &u, 8, true);
	u = 0;
	vring_bad("kick without fd or NOFD", VU_SET_VRING_KICK, &u, 8, false);
	u = VU_VRING_NOFD;
	vring_bad("kick with NOFD and an fd", VU_SET_VRING_KICK, &u, 8, true);
	vring_bad("kick with NOFD (polling)", VU_SET_VRING_KICK, &u, 8, false);
	u = 1ULL << 20;
	vring_bad("reserved bits", VU_SET_VRING_CALL, &u, 8, true);
	u = 0;
	vring_bad("kick before addresses", VU_SET_VRING_KICK, &u, 8, true);

	/* addresses: each ring must lie in guest memory for its full size */
	a = (struct vu_vring_addr){ .index = 1 };
	vring_bad("addr before num", VU_SET_VRING_ADDR, &a, sizeof(a), false);
	a.index = 7;
	vring_bad("addr of queue 7", VU_SET_VRING_ADDR, &a, sizeof(a), false);
	/* each case below maps the guest at a new address: rebuild the addresses there */
	for (unsigned k = 0; k < 7; k++) {
		raw_with_mem(&x);
		a = guest_addr(&x.g, 0);
		switch (k) {
		case 0: a.desc = (uintptr_t)x.g.mem + GUEST_SIZE; break;
		case 1: a.desc = (uintptr_t)x.g.mem + GUEST_SIZE - 16 * QSIZE + 16; break;
		case 2: a.used = (uintptr_t)x.g.mem + GUEST_SIZE - (6 + 8 * QSIZE) + 6; break;
		case 3: a.avail = ~0ULL - 1; break;
		case 4: a.avail = (uintptr_t)x.g.mem - 2; break;
		case 5: a.desc += 8; break;   /* misaligned */
		case 6: a.avail = (uintptr_t)x.g.mem + GUEST_SIZE - (6 + 2 * QSIZE) + 2; break;
		}
		raw_bad(&x, "ring outside memory", VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
		raw_end(&x, "ring outside memory");
	}
	/* at the very end of memory is fine */
	raw_with_mem(&x);
	a = guest_addr(&x.g, 0);
	a.used = (uintptr_t)x.g.mem + GUEST_SIZE - (6 + 8 * QSIZE) - 2;
	raw_ok(&x, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	raw_end(&x, "ring at the end");
}

Test(vhost_user_bad, config_and_inflight)
{
	struct {
		uint32_t offset, size, flags;
		uint8_t region[300];
	} c = { 0, 257, 0, { 0 } };
	struct vu_inflight in = { 2 * vq_inflight_queue_size(QSIZE) + 64, 0, 2, QSIZE, { 0 } };
	struct raw x;
	int fd;

	one_bad("GET_CONFIG of 257 bytes", VU_GET_CONFIG, &c, 12 + 257, 0);
	one_bad("SET_CONFIG of 257 bytes", VU_SET_CONFIG, &c, 12 + 257, 0);
	c.size = 8;
	one_bad("GET_CONFIG size field disagrees", VU_GET_CONFIG, &c, 12 + 9, 0);
	one_bad("config header cut", VU_GET_CONFIG, &c, 8, 0);
	c.offset = 508;
	one_bad("GET_CONFIG past the device's space", VU_GET_CONFIG, &c, 12 + 8, 0);
	one_bad("SET_CONFIG without a device handler", VU_SET_CONFIG, &c, 12 + 8, 0);

	/* inflight: the fd holds the right size; the message lies about it */
	for (unsigned k = 0; k < 6; k++) {
		raw_begin(&x);
		fd = memfd_create("inflight", MFD_CLOEXEC);
		cr_assert_eq(ftruncate(fd, 1 * MiB), 0);
		in = (struct vu_inflight){ 2 * vq_inflight_queue_size(QSIZE), 0, 2, QSIZE, { 0 } };
		switch (k) {
		case 0: in.mmap_size += 64; break;
		case 1: in.mmap_size -= 64; break;
		case 2: in.num_queues = 3; in.mmap_size = 3 * vq_inflight_queue_size(QSIZE); break;
		case 3: in.queue_size = 0; break;
		case 4: in.mmap_offset = 1 * MiB; break;    /* beyond the file */
		case 5: in.mmap_offset = ~0ULL & ~4095ULL; break;
		}
		raw_bad(&x, "SET_INFLIGHT_FD", VU_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1);
		close(fd);
		cr_assert_null(x.t.dev.inflight_base);
		raw_end(&x, "SET_INFLIGHT_FD");
	}
	in = (struct vu_inflight){ 0, 0, 0, QSIZE, { 0 } };
	one_bad("GET_INFLIGHT_FD for 0 queues", VU_GET_INFLIGHT_FD, &in, sizeof(in), 0);
	in = (struct vu_inflight){ 0, 0, 17, QSIZE, { 0 } };
	one_bad("GET_INFLIGHT_FD for 17 queues", VU_GET_INFLIGHT_FD, &in, sizeof(in), 0);
	in = (struct vu_inflight){ 0, 0, 1, 65535, { 0 } };
	one_bad("GET_INFLIGHT_FD of 65535 entries", VU_GET_INFLIGHT_FD, &in, sizeof(in), 0);
}

Test(vhost_user_bad, features_not_offered)
{
	uint64_t f = 1ULL << 40;

	one_bad("SET_FEATURES with a bit not offered", VU_SET_FEATURES, &f, 8, 0);
	f = 1ULL << 1;   /* LOG_SHMFD */
	one_bad("SET_PROTOCOL_FEATURES not offered", VU_SET_PROTOCOL_FEATURES, &f, 8, 0);
}

/* With REPLY_ACK negotiated a failed request is answered 1 (then closed), a good one 0. */
Test(vhost_user_bad, reply_ack)
{
	struct raw x;
	uint64_t pf = 1ULL << VU_PROTOCOL_F_REPLY_ACK;
	struct vu_vring_state s = { 0, QSIZE };
	struct vu_msg r;

	raw_begin(&x);
	raw_ok(&x, VU_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0);
	raw_send(&x, VU_SET_VRING_NUM, VU_HDR_NEED_REPLY, &s, sizeof(s), NULL, 0);
	cr_assert_eq(vu_dev_dispatch(&x.t.dev), 0);
	cr_assert_eq(vu_msg_recv(x.sv[0], &r), 1);
	cr_assert_eq(vu_msg_check_reply(&r, VU_SET_VRING_NUM, NULL), 0);
	cr_assert_eq(r.p.u64, 0);
	s.num = 3;
	raw_send(&x, VU_SET_VRING_NUM, VU_HDR_NEED_REPLY, &s, sizeof(s), NULL, 0);
	cr_assert_lt(vu_dev_dispatch(&x.t.dev), 0);
	cr_assert_eq(vu_msg_recv(x.sv[0], &r), 1);
	cr_assert_eq(r.p.u64, 1, "failure is acked with 1");
	raw_end(&x, "reply ack");
}

/* ---- a frontend facing a lying backend ---- */

struct liar {
	int sv[2];
	struct vu_front f;
	int before;
};

static void liar_begin(struct liar *l)
{
	log_set_fd(-1);
	l->before = count_fds();
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, l->sv), 0);
	vuf_init(&l->f, l->sv[0], 2000);
}

static void liar_end(struct liar *l)
{
	close(l->sv[0]);
	close(l->sv[1]);
	cr_assert_eq(count_fds(), l->before, "fd leaked");
}

/* Queue a reply on the backend side before the frontend asks. */
static void lie(struct liar *l, uint32_t req, uint32_t flags, const void *p, uint32_t size,
		int fd)
{
	struct vu_msg m;

	m.hdr = (struct vu_hdr){ req, flags, size };
	memcpy(m.p.raw, p, size);
	m.nfds = fd >= 0;
	m.fds[0] = fd;
	cr_assert_eq(vu_msg_send(l->sv[1], &m), 0);
}

#define RF (VU_HDR_VERSION | VU_HDR_REPLY)

/* GET_FEATURES answered by a liar: every one of these replies is -EPROTO. */
Test(vhost_user_front, lying_feature_replies)
{
	static const struct { const char *what; uint32_t req, flags, size; bool fd; } lies[] = {
		{ "reply to another request", VU_GET_PROTOCOL_FEATURES, RF, 8, false },
		{ "REPLY flag missing", VU_GET_FEATURES, VU_HDR_VERSION, 8, false },
		{ "4-byte u64", VU_GET_FEATURES, RF, 4, false },
		{ "12-byte u64", VU_GET_FEATURES, RF, 12, false },
		{ "version 2", VU_GET_FEATURES, 0x2 | VU_HDR_REPLY, 8, false },
		{ "an fd nobody asked for", VU_GET_FEATURES, RF, 8, true },
	};
	uint64_t v[2] = { 7, 0 }, got;   /* room for the 12-byte lie */
	struct liar l;

	for (unsigned i = 0; i < ARRAY_SIZE(lies); i++) {
		liar_begin(&l);
		lie(&l, lies[i].req, lies[i].flags, v, lies[i].size, lies[i].fd ? l.sv[1] : -1);
		cr_assert_eq(vuf_get_features(&l.f, &got), -EPROTO, "%s", lies[i].what);
		cr_assert_eq(l.f.features, 0);
		liar_end(&l);
	}
	liar_begin(&l);
	lie(&l, VU_GET_FEATURES, RF, &v, 8, -1);
	cr_assert_eq(vuf_get_features(&l.f, &got), 0, "the honest reply");
	cr_assert_eq(got, 7);
	cr_assert_eq(l.f.features, 7);
	liar_end(&l);
}

Test(vhost_user_front, lying_payloads)
{
	struct vu_vring_state st = { 0, 9 };
	struct { uint32_t off, size, flags; uint8_t b[16]; } c = { 0, 8, 0, { 0 } };
	struct vu_inflight in = { 1ULL << 40, 0, 1, 8, { 0 } }, out;
	uint8_t cfg[16];
	unsigned base;
	struct liar l;
	int fd, ifd;

	liar_begin(&l);
	lie(&l, VU_GET_VRING_BASE, RF, &st, sizeof(st), -1);
	cr_assert_eq(vuf_get_vring_base(&l.f, 1, &base), -EPROTO, "base of another queue");
	liar_end(&l);

	liar_begin(&l);
	lie(&l, VU_GET_CONFIG, RF, &c, 12 + 8, -1);
	cr_assert_eq(vuf_get_config(&l.f, 0, cfg, 16), -EPROTO, "8 config bytes for 16");
	c.size = 16;
	lie(&l, VU_GET_CONFIG, RF, &c, 12 + 8, -1);
	cr_assert_eq(vuf_get_config(&l.f, 0, cfg, 16), -EPROTO, "size field disagrees");
	liar_end(&l);

	liar_begin(&l);
	fd = memfd_create("x", MFD_CLOEXEC);
	lie(&l, VU_GET_INFLIGHT_FD, RF, &in, sizeof(in), fd);
	close(fd);
	cr_assert_eq(vuf_get_inflight_fd(&l.f, 1, 8, &out, &ifd), -EPROTO, "1 TiB inflight area");
	lie(&l, VU_GET_INFLIGHT_FD, RF, &in, sizeof(in), -1);
	cr_assert_eq(vuf_get_inflight_fd(&l.f, 1, 8, &out, &ifd), -EPROTO, "no fd");
	liar_end(&l);
}

Test(vhost_user_front, acks_timeouts_and_eof)
{
	uint64_t ack = 1, got;
	struct liar l;

	/* REPLY_ACK: the ack must be for the request, 8 bytes, and 0 */
	liar_begin(&l);
	l.f.acked_protocol = 1ULL << VU_PROTOCOL_F_REPLY_ACK;
	lie(&l, VU_SET_OWNER, RF, &ack, 8, -1);
	cr_assert_eq(vuf_set_owner(&l.f), -EIO, "nack");
	lie(&l, VU_SET_FEATURES, RF, &ack, 8, -1);
	cr_assert_eq(vuf_set_owner(&l.f), -EPROTO, "ack for another request");
	liar_end(&l);

	liar_begin(&l);
	l.f.timeout_ms = 50;
	cr_assert_eq(vuf_get_features(&l.f, &got), -ETIMEDOUT, "a hung backend");
	liar_end(&l);

	liar_begin(&l);
	shutdown(l.sv[1], SHUT_WR);
	cr_assert_eq(vuf_get_features(&l.f, &got), -ECONNRESET, "a dead backend");
	liar_end(&l);
}

Test(vhost_user_codec, names_and_checks)
{
	struct vu_msg m = { .hdr = { VU_SET_VRING_KICK, VU_HDR_VERSION, 8 } };
	const char *why = NULL;

	cr_assert_str_eq(vu_request_name(VU_SET_MEM_TABLE), "SET_MEM_TABLE");
	cr_assert_str_eq(vu_request_name(VU_GET_INFLIGHT_FD), "GET_INFLIGHT_FD");
	cr_assert_str_eq(vu_request_name(5000), "UNKNOWN");
	m.p.u64 = 0;
	m.nfds = 0;
	cr_assert_eq(vu_msg_check_request(&m, &why), -EPROTO);
	cr_assert_not_null(why);
	m.p.u64 = VU_VRING_NOFD | 3;
	cr_assert_eq(vu_msg_check_request(&m, &why), 0);
	m.nfds = 1;
	cr_assert_eq(vu_msg_check_request(&m, &why), -EPROTO);
	m.p.u64 = 3;
	cr_assert_eq(vu_msg_check_request(&m, &why), 0);
}
