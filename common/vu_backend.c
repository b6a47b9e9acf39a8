/* vhost-user backend dispatcher (see vu_backend.h): one handler per request, each working on
 * a message vu_msg_check_request has already checked for size and fd count. Everything the
 * frontend sends is still untrusted: addresses, sizes and indexes are checked here before
 * anything is mapped or dereferenced, and a bad request closes the connection. */
#include "vu_backend.h"
#include "memfd.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <linux/virtio_config.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* Sum of region sizes one frontend may map into us: far above any microVM, far below what
 * would exhaust the address space. */
#define VU_MAX_MEM (1ULL << 40)

#define VU_LIB_PROTOCOL_FEATURES                                            \
	((1ULL << VU_PROTOCOL_F_MQ) | (1ULL << VU_PROTOCOL_F_REPLY_ACK) |  \
	 (1ULL << VU_PROTOCOL_F_CONFIG) | (1ULL << VU_PROTOCOL_F_INFLIGHT_SHMFD))

static struct ratelimit vu_rl = RATELIMIT_INIT(5000, 10);

/* A frontend that keeps reconnecting with bad messages must not flood the log. */
static void bad(const struct vu_dev *dev, const char *fmt, ...) PRINTF(2, 3);
static void bad(const struct vu_dev *dev, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_warnx_rl(&vu_rl, "%s: vhost-user: %s", dev->name, why);
}

static bool has_pf(const struct vu_dev *dev, unsigned bit)
{
	return dev->protocol_features & (1ULL << bit);
}

/* ---- queues ---- */

static struct vu_queue *queue(struct vu_dev *dev, uint32_t idx)
{
	if (idx >= dev->nqueues) {
		bad(dev, "queue index %u >= %u", idx, dev->nqueues);
		return NULL;
	}
	return &dev->q[idx];
}

static bool running(const struct vu_queue *q)
{
	return q->started && q->enabled;
}

static bool in_kernel(const struct vu_queue *q)
{
	return q->dev->ops->queue_in_kernel && q->dev->ops->queue_in_kernel(q->dev, q->idx);
}

static bool work_pending(struct vu_queue *q)
{
	uint16_t avail = le16toh(__atomic_load_n(&q->vq.avail->idx, __ATOMIC_ACQUIRE));

	return q->vq.resubmit_pos < q->vq.resubmit_nr || avail != vq_get_base(&q->vq);
}

/* Tell the device when the queue starts or stops running (started and enabled). */
static void set_running(struct vu_queue *q, bool was)
{
	struct vu_dev *dev = q->dev;
	bool now = running(q);

	if (now && !was) {
		q->vq.ready = true;
		if (dev->ops->queue_start)
			dev->ops->queue_start(dev, q->idx);
		/* a guest may have queued work while we were away, and will not kick again */
		if (work_pending(q) && dev->ops->queue_kick)
			dev->ops->queue_kick(dev, q->idx);
	} else if (!now && was) {
		/* still ready while the device stops: it may complete what it has in flight */
		if (dev->ops->queue_stop)
			dev->ops->queue_stop(dev, q->idx);
		q->vq.ready = false;
	} else {
		q->vq.ready = now;
	}
}

static void kick_cb(void *arg)
{
	struct vu_queue *q = arg;
	struct vu_dev *dev = q->dev;
	uint64_t n;

	/* called when readable: this read does not block; its value does not matter */
	if (read(q->kick_fd, &n, sizeof(n)) < 0) {
		/* spurious wakeup, or a kick fd that is not an eventfd: nothing to consume */
	}
	if (running(q) && !dev->broken && dev->ops->queue_kick)
		dev->ops->queue_kick(dev, q->idx);
}

/* kick_fd is valid exactly while it is watched (or, in the kernel's queues, handed over) */
static void unwatch_kick(struct vu_queue *q)
{
	if (q->kick_fd >= 0 && !in_kernel(q))
		q->dev->watch.del(q->dev->watch.loop, q->kick_fd);
	closep(&q->kick_fd);
}

/* A running kernel queue takes a new kick or call fd by being handed over again. */
static void kernel_rehand(struct vu_queue *q)
{
	struct vu_dev *dev = q->dev;

	if (!running(q))
		return;
	if (dev->ops->queue_stop)
		dev->ops->queue_stop(dev, q->idx);
	if (dev->ops->queue_start)
		dev->ops->queue_start(dev, q->idx);
}

/* Stop a started queue (GET_VRING_BASE, RESET_OWNER, teardown). */
static void stop_queue(struct vu_queue *q)
{
	bool was = running(q);

	if (!q->started)
		return;
	q->started = false;
	set_running(q, was);
	unwatch_kick(q);
	q->base = vq_get_base(&q->vq);
	vq_teardown(&q->vq);
}

static void reset_queue(struct vu_queue *q)
{
	stop_queue(q);
	closep(&q->kick_fd);
	closep(&q->call_fd);
	closep(&q->err_fd);
	q->num = 0;
	q->base = 0;
	q->addr_set = false;
	q->enabled = false;
	memset(&q->addr, 0, sizeof(q->addr));
}

/* ---- guest memory ---- */

/* Host pointers for the three rings of q for their full sizes, aligned as vq_setup wants
 * them, or -EFAULT. */
static int ring_ptrs(struct vu_dev *dev, const struct vq_mem *mem, struct vu_queue *q,
		     void **desc, void **avail, void **used)
{
	uint64_t n = q->num;

	*desc = vq_uva_to_hva(mem, q->addr.desc, 16 * n);
	*avail = vq_uva_to_hva(mem, q->addr.avail, 6 + 2 * n);
	*used = vq_uva_to_hva(mem, q->addr.used, 6 + 8 * n);
	if (!*desc || !*avail || !*used) {
		bad(dev, "queue %u: rings outside guest memory", q->idx);
		return -EFAULT;
	}
	/*
	 * vq_setup's alignment rule, checked here as well because a new memory table moves
	 * started rings without vq_setup (remap_rings): a region whose mmap_offset is not
	 * aligned like its uaddr puts the same ring address at an odd host address, and the
	 * ring indices are accessed atomically (fuzz-vhost_user found the misaligned avail).
	 */
	if ((uintptr_t)*avail % 2 || (uintptr_t)*used % 4) {
		bad(dev, "queue %u: rings misaligned in the mapping", q->idx);
		return -EFAULT;
	}
	return 0;
}

static void unmap_regions(void **base, uint64_t *size, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (base[i])
			munmap(base[i], size[i]);
		base[i] = NULL;
		size[i] = 0;
	}
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	/* both ranges were checked not to wrap */
	return a < b + blen && b < a + alen;
}

/* Sizes, overflow and overlap of a region table, before any of it is mapped. */
static int check_regions(struct vu_dev *dev, const struct vu_mem_table *t)
{
	uint64_t total = 0, end;

	for (unsigned i = 0; i < t->nregions; i++) {
		const struct vu_region *r = &t->r[i];

		if (!r->size || range_overflows(r->gpa, r->size) ||
		    range_overflows(r->uaddr, r->size) ||
		    __builtin_add_overflow(r->mmap_offset, r->size, &end)) {
			bad(dev, "region %u: bad size %#" PRIx64 " or address", i, r->size);
			return -EINVAL;
		}
		total += r->size;
		if (r->size > VU_MAX_MEM || total > VU_MAX_MEM) {
			bad(dev, "region %u: more than %llu bytes of guest memory", i, VU_MAX_MEM);
			return -E2BIG;
		}
		for (unsigned j = 0; j < i; j++) {
			const struct vu_region *o = &t->r[j];

			if (overlaps(r->gpa, r->size, o->gpa, o->size) ||
			    overlaps(r->uaddr, r->size, o->uaddr, o->size)) {
				bad(dev, "regions %u and %u overlap", j, i);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int map_region(struct vu_dev *dev, const struct vu_region *r, int fd,
		      struct vq_region *out, void **base, uint64_t *len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t off = r->mmap_offset & ~(page - 1), delta = r->mmap_offset - off;
	struct stat st;
	void *p;

	/* a region past the end of its file would SIGBUS us on first touch */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    r->mmap_offset + r->size > (uint64_t)st.st_size) {
		bad(dev, "region fd is not a file holding %#" PRIx64 "+%#" PRIx64,
		    r->mmap_offset, r->size);
		return -EINVAL;
	}
	p = mmap(NULL, r->size + delta, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		 fd, (off_t)off);
	if (p == MAP_FAILED) {
		int err = -errno;

		bad(dev, "mmap of a %#" PRIx64 "-byte region failed: %s", r->size, strerror(-err));
		return err;
	}
	*base = p;
	*len = r->size + delta;
	*out = (struct vq_region){ r->gpa, r->size, r->uaddr, (uint8_t *)p + delta };
	return 0;
}

/* Started queues keep running across a new table: their rings move to the new mapping. */
static int remap_rings(struct vu_dev *dev, const struct vq_mem *mem)
{
	void *d[VU_MAX_QUEUES], *a[VU_MAX_QUEUES], *u[VU_MAX_QUEUES];

	for (unsigned i = 0; i < dev->nqueues; i++)
		if (dev->q[i].started && ring_ptrs(dev, mem, &dev->q[i], &d[i], &a[i], &u[i]))
			return -EFAULT;
	for (unsigned i = 0; i < dev->nqueues; i++) {
		if (!dev->q[i].started)
			continue;
		dev->q[i].vq.desc = d[i];
		dev->q[i].vq.avail = a[i];
		dev->q[i].vq.used = u[i];
	}
	return 0;
}

/*
 * A device's in-flight requests point into the current mapping: pause every running queue
 * (the device finishes what it has in flight) before the old mapping goes, resume after.
 */
static void pause_running(struct vu_dev *dev, bool pause)
{
	for (unsigned i = 0; i < dev->nqueues; i++) {
		struct vu_queue *q = &dev->q[i];

		if (!running(q))
			continue;
		if (pause && dev->ops->queue_stop)
			dev->ops->queue_stop(dev, q->idx);
		if (!pause && dev->ops->queue_start)
			dev->ops->queue_start(dev, q->idx);
		if (!pause && work_pending(q) && dev->ops->queue_kick)
			dev->ops->queue_kick(dev, q->idx);
	}
}

static int set_mem_table(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_mem_table *t = &m->p.mem;
	void *base[VU_MAX_REGIONS] = { 0 };
	uint64_t len[VU_MAX_REGIONS] = { 0 };
	struct vq_mem mem = { 0 };
	int ret;

	if ((ret = check_regions(dev, t)) < 0)
		return ret;
	for (unsigned i = 0; i < t->nregions; i++) {
		ret = map_region(dev, &t->r[i], m->fds[i], &mem.r[i], &base[i], &len[i]);
		if (ret < 0)
			goto fail;
		mem.nr = i + 1;
	}
	pause_running(dev, true);
	if ((ret = remap_rings(dev, &mem)) < 0) {
		pause_running(dev, false);
		goto fail;
	}
	/* copied in place: every vq keeps pointing at dev->mem */
	unmap_regions(dev->mmap_base, dev->mmap_size, VU_MAX_REGIONS);
	dev->mem = mem;
	memcpy(dev->mmap_base, base, sizeof(base));
	memcpy(dev->mmap_size, len, sizeof(len));
	pause_running(dev, false);
	return 0;
fail:
	unmap_regions(base, len, VU_MAX_REGIONS);
	return ret;
}

/* ---- vrings ---- */

static int set_vring_num(struct vu_dev *dev, struct vu_msg *m)
{
	struct vu_queue *q = queue(dev, m->p.state.index);
	uint32_t num = m->p.state.num;

	if (!q)
		return -EINVAL;
	if (!num || (num & (num - 1)) || num > VQ_MAX_SIZE || q->started) {
		bad(dev, "queue %u: size %u refused", q->idx, num);
		return -EINVAL;
	}
	q->num = (uint16_t)num;
	return 0;
}

static int set_vring_base(struct vu_dev *dev, struct vu_msg *m)
{
	struct vu_queue *q = queue(dev, m->p.state.index);

	if (!q)
		return -EINVAL;
	if (q->started || m->p.state.num > UINT16_MAX) {
		bad(dev, "queue %u: base %u refused", q->idx, m->p.state.num);
		return -EINVAL;
	}
	q->base = (uint16_t)m->p.state.num;
	return 0;
}

static int set_vring_addr(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_vring_addr *a = &m->p.addr;
	struct vu_queue *q = queue(dev, a->index);
	void *d, *av, *u;

	if (!q)
		return -EINVAL;
	if (q->started || !q->num) {
		bad(dev, "queue %u: ring address while started or before its size", q->idx);
		return -EINVAL;
	}
	if (a->desc % 16 || a->avail % 2 || a->used % 4) {
		bad(dev, "queue %u: misaligned ring", q->idx);
		return -EINVAL;
	}
	q->addr = *a;
	if (ring_ptrs(dev, &dev->mem, q, &d, &av, &u) < 0) {
		q->addr_set = false;
		return -EFAULT;
	}
	q->addr_set = true;
	return 0;
}

/* Use the shared inflight area for q if it was negotiated and provided. */
static int start_inflight(struct vu_dev *dev, struct vu_queue *q)
{
	struct vq_inflight *area;
	int ret;

	if (!has_pf(dev, VU_PROTOCOL_F_INFLIGHT_SHMFD) || !dev->inflight_base ||
	    q->idx >= dev->inflight_nqueues)
		return 0;
	if (q->num > dev->inflight_qsize) {
		bad(dev, "queue %u: size %u above the inflight area's %u", q->idx, q->num,
		    dev->inflight_qsize);
		return -EINVAL;
	}
	area = (void *)((uint8_t *)dev->inflight_base +
			q->idx * vq_inflight_queue_size(dev->inflight_qsize));
	/* fresh=false: vq_set_inflight treats an all-zero area as fresh, which is exactly one
	 * GET_INFLIGHT_FD created and no queue used yet; an area a backend used (a dead
	 * predecessor, or this one before a stop) is recovered, not wiped. */
	ret = vq_set_inflight(&q->vq, area, false);
	if (ret < 0)
		bad(dev, "queue %u: inflight area refused", q->idx);
	return ret;
}

static int start_queue(struct vu_dev *dev, struct vu_queue *q, int kick_fd)
{
	bool event_idx = dev->features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	void *d, *a, *u;
	int ret;

	if (!q->num || !q->addr_set) {
		bad(dev, "queue %u: kick before size and addresses", q->idx);
		return -EINVAL;
	}
	if ((ret = ring_ptrs(dev, &dev->mem, q, &d, &a, &u)) < 0)
		return ret;
	if ((ret = vq_setup(&q->vq, dev->name, &dev->mem, q->num, d, a, u, event_idx)) < 0)
		return ret;
	vq_set_base(&q->vq, q->base);
	if (!in_kernel(q) && (ret = start_inflight(dev, q)) < 0) {
		vq_teardown(&q->vq);
		return ret;
	}
	/* without F_PROTOCOL_FEATURES a ring is enabled as soon as it starts (spec) */
	if (!(dev->features & (1ULL << VU_F_PROTOCOL_FEATURES)))
		q->enabled = true;
	q->kick_fd = kick_fd;
	q->started = true;
	if (!in_kernel(q))
		dev->watch.add(dev->watch.loop, kick_fd, kick_cb, q);
	set_running(q, false);
	return 0;
}

/* SET_VRING_KICK/CALL/ERR: the queue and the fd (or -1 with VU_VRING_NOFD). */
static struct vu_queue *vring_fd(struct vu_dev *dev, struct vu_msg *m, int *fd)
{
	struct vu_queue *q = queue(dev, (uint32_t)(m->p.u64 & VU_VRING_IDX_MASK));

	*fd = -1;
	if (q && !(m->p.u64 & VU_VRING_NOFD)) {
		*fd = m->fds[0];
		m->fds[0] = -1;   /* ours now */
	}
	return q;
}

static int set_vring_kick(struct vu_dev *dev, struct vu_msg *m)
{
	int fd, ret;
	struct vu_queue *q = vring_fd(dev, m, &fd);

	if (!q)
		return -EINVAL;
	if (fd < 0) {
		/* polling mode: no device of ours polls its rings */
		bad(dev, "queue %u: kick without fd is not supported", q->idx);
		return -EOPNOTSUPP;
	}
	if (q->started) {
		/* a new kick fd for a running queue: swap the watch */
		unwatch_kick(q);
		q->kick_fd = fd;
		if (in_kernel(q))
			kernel_rehand(q);
		else
			dev->watch.add(dev->watch.loop, fd, kick_cb, q);
		return 0;
	}
	ret = start_queue(dev, q, fd);
	if (ret < 0)
		close(fd);
	return ret;
}

static int set_vring_call(struct vu_dev *dev, struct vu_msg *m)
{
	int fd, *slot;
	struct vu_queue *q = vring_fd(dev, m, &fd);

	if (!q)
		return -EINVAL;
	/* no fd (VU_VRING_NOFD): the frontend polls, we signal nothing */
	slot = m->hdr.request == VU_SET_VRING_CALL ? &q->call_fd : &q->err_fd;
	closep(slot);
	*slot = fd;
	if (m->hdr.request != VU_SET_VRING_CALL)
		return 0;
	if (q->started && in_kernel(q))
		kernel_rehand(q);
	/* One interrupt now, spurious at worst: a backend killed between publishing a used
	 * entry and signalling it left the driver waiting for a completion it already has, and
	 * with nothing else in flight nobody would ever wake it (libvhost-user does the same). */
	if (fd >= 0 && eventfd_write(fd, 1) < 0)
		log_warn("%s: queue %u: signalling the new call fd", dev->name, q->idx);
	return 0;
}

static int get_vring_base(struct vu_dev *dev, struct vu_msg *m, struct vu_msg *r)
{
	struct vu_queue *q = queue(dev, m->p.state.index);

	if (!q)
		return -EINVAL;
	stop_queue(q);
	r->p.state.index = q->idx;
	r->p.state.num = q->base;
	r->hdr.size = sizeof(r->p.state);
	return 0;
}

static int set_vring_enable(struct vu_dev *dev, struct vu_msg *m)
{
	struct vu_queue *q = queue(dev, m->p.state.index);
	bool was;

	if (!q)
		return -EINVAL;
	if (m->p.state.num > 1) {
		bad(dev, "queue %u: enable value %u", q->idx, m->p.state.num);
		return -EINVAL;
	}
	was = running(q);
	q->enabled = m->p.state.num;
	if (q->started)
		set_running(q, was);
	return 0;
}

/* ---- features, config ---- */

static uint64_t dev_features(struct vu_dev *dev)
{
	return dev->ops->get_features(dev) | (1ULL << VU_F_PROTOCOL_FEATURES);
}

static uint64_t dev_protocol_features(struct vu_dev *dev)
{
	uint64_t pf = VU_LIB_PROTOCOL_FEATURES;

	if (dev->ops->get_protocol_features)
		pf |= dev->ops->get_protocol_features(dev);
	return pf;
}

static int reply_u64(struct vu_msg *r, uint64_t v)
{
	r->p.u64 = v;
	r->hdr.size = sizeof(r->p.u64);
	return 0;
}

static uint64_t queue_num(struct vu_dev *dev)
{
	return dev->ops->get_queue_num ? dev->ops->get_queue_num(dev) : dev->nqueues;
}

static int set_features(struct vu_dev *dev, struct vu_msg *m)
{
	uint64_t f = m->p.u64;

	if (f & ~dev_features(dev)) {
		bad(dev, "features %#" PRIx64 " not offered", f & ~dev_features(dev));
		return -EINVAL;
	}
	dev->features = f;
	if (dev->ops->set_features)
		dev->ops->set_features(dev, f);
	return 0;
}

static int set_protocol_features(struct vu_dev *dev, struct vu_msg *m)
{
	uint64_t pf = m->p.u64;

	if (pf & ~dev_protocol_features(dev)) {
		bad(dev, "protocol features %#" PRIx64 " not offered",
		    pf & ~dev_protocol_features(dev));
		return -EINVAL;
	}
	dev->protocol_features = pf;
	return 0;
}

static int get_config(struct vu_dev *dev, struct vu_msg *m, struct vu_msg *r)
{
	const struct vu_config *c = &m->p.config;
	int ret;

	if (!dev->ops->get_config)
		return -EOPNOTSUPP;
	r->p.config.offset = c->offset;
	r->p.config.size = c->size;
	r->p.config.flags = c->flags;
	memset(r->p.config.region, 0, c->size);
	ret = dev->ops->get_config(dev, r->p.config.region, c->offset, c->size);
	if (ret < 0) {
		bad(dev, "config read %u+%u failed", c->offset, c->size);
		return ret;
	}
	r->hdr.size = VU_CONFIG_HDR_SIZE + c->size;
	return 0;
}

static int set_config(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_config *c = &m->p.config;

	if (!dev->ops->set_config)
		return -EOPNOTSUPP;
	return dev->ops->set_config(dev, c->region, c->offset, c->size);
}

static int reset_owner(struct vu_dev *dev)
{
	for (unsigned i = 0; i < dev->nqueues; i++)
		reset_queue(&dev->q[i]);
	dev->features = 0;
	return 0;
}

/* ---- inflight area ---- */

/* Layout fields of an inflight request; returns the area size or 0 when refused. */
static uint64_t inflight_layout(struct vu_dev *dev, const struct vu_inflight *in)
{
	if (!in->num_queues || in->num_queues > dev->nqueues || !in->queue_size ||
	    in->queue_size > VQ_MAX_SIZE) {
		bad(dev, "inflight area for %u queues of %u refused", in->num_queues,
		    in->queue_size);
		return 0;
	}
	return in->num_queues * (uint64_t)vq_inflight_queue_size(in->queue_size);
}

static int get_inflight_fd(struct vu_dev *dev, struct vu_msg *m, struct vu_msg *r)
{
	uint64_t size = inflight_layout(dev, &m->p.inflight);
	int fd;

	if (!size)
		return -EINVAL;
	fd = memfd_sealed("vu-inflight", size);
	if (fd < 0)
		return fd;
	r->p.inflight = m->p.inflight;
	r->p.inflight.mmap_size = size;
	r->p.inflight.mmap_offset = 0;
	r->hdr.size = sizeof(r->p.inflight);
	r->fds[0] = fd;
	r->nfds = 1;
	return 0;
}

static void unmap_inflight(struct vu_dev *dev)
{
	if (dev->inflight_base)
		munmap(dev->inflight_base, dev->inflight_size);
	dev->inflight_base = NULL;
	dev->inflight_size = 0;
	dev->inflight_nqueues = dev->inflight_qsize = 0;
	closep(&dev->inflight_fd);
}

static int set_inflight_fd(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_inflight *in = &m->p.inflight;
	uint64_t size = inflight_layout(dev, in), end;
	struct stat st;
	void *p;

	for (unsigned i = 0; i < dev->nqueues; i++)
		if (dev->q[i].started)
			return -EBUSY;   /* started queues point into the current area */
	if (!size || in->mmap_size != size || in->mmap_offset % (uint64_t)sysconf(_SC_PAGESIZE) ||
	    __builtin_add_overflow(in->mmap_offset, size, &end) || fstat(m->fds[0], &st) < 0 ||
	    !S_ISREG(st.st_mode) || end > (uint64_t)st.st_size) {
		bad(dev, "inflight area %#" PRIx64 "+%#" PRIx64 " refused", in->mmap_offset,
		    in->mmap_size);
		return -EINVAL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fds[0], (off_t)in->mmap_offset);
	if (p == MAP_FAILED)
		return -errno;
	unmap_inflight(dev);
	dev->inflight_base = p;
	dev->inflight_size = size;
	dev->inflight_nqueues = in->num_queues;
	dev->inflight_qsize = in->queue_size;
	dev->inflight_fd = m->fds[0];
	m->fds[0] = -1;
	return 0;
}

/* ---- dispatch ---- */

static int handle(struct vu_dev *dev, struct vu_msg *m, struct vu_msg *r)
{
	switch (m->hdr.request) {
	case VU_GET_FEATURES:          return reply_u64(r, dev_features(dev));
	case VU_SET_FEATURES:          return set_features(dev, m);
	case VU_SET_OWNER:             return 0;
	case VU_RESET_OWNER:           return reset_owner(dev);
	case VU_SET_MEM_TABLE:         return set_mem_table(dev, m);
	case VU_SET_VRING_NUM:         return set_vring_num(dev, m);
	case VU_SET_VRING_ADDR:        return set_vring_addr(dev, m);
	case VU_SET_VRING_BASE:        return set_vring_base(dev, m);
	case VU_GET_VRING_BASE:        return get_vring_base(dev, m, r);
	case VU_SET_VRING_KICK:        return set_vring_kick(dev, m);
	case VU_SET_VRING_CALL:        return set_vring_call(dev, m);
	case VU_SET_VRING_ERR:         return set_vring_call(dev, m);
	case VU_GET_PROTOCOL_FEATURES: return reply_u64(r, dev_protocol_features(dev));
	case VU_SET_PROTOCOL_FEATURES: return set_protocol_features(dev, m);
	case VU_GET_QUEUE_NUM:         return reply_u64(r, queue_num(dev));
	case VU_SET_VRING_ENABLE:      return set_vring_enable(dev, m);
	case VU_GET_CONFIG:            return get_config(dev, m, r);
	case VU_SET_CONFIG:            return set_config(dev, m);
	case VU_GET_INFLIGHT_FD:       return get_inflight_fd(dev, m, r);
	case VU_SET_INFLIGHT_FD:       return set_inflight_fd(dev, m);
	default:                       return -EPROTO;   /* vu_msg_check_request let it by */
	}
}

/* Requests answered with a reply of their own; the others get a REPLY_ACK when asked. */
static bool has_reply(uint32_t request)
{
	switch (request) {
	case VU_GET_FEATURES: case VU_GET_PROTOCOL_FEATURES: case VU_GET_VRING_BASE:
	case VU_GET_QUEUE_NUM: case VU_GET_CONFIG: case VU_GET_INFLIGHT_FD:
		return true;
	default:
		return false;
	}
}

static int send_reply(struct vu_dev *dev, const struct vu_msg *m, struct vu_msg *r, int ret)
{
	bool ack = (m->hdr.flags & VU_HDR_NEED_REPLY) && has_pf(dev, VU_PROTOCOL_F_REPLY_ACK);
	int err = 0;

	r->hdr.request = m->hdr.request;
	r->hdr.flags = VU_HDR_VERSION | VU_HDR_REPLY;
	if (has_reply(m->hdr.request)) {
		if (ret == 0)
			err = vu_msg_send(dev->sock, r);
	} else if (ack) {
		reply_u64(r, ret < 0 ? 1 : 0);
		err = vu_msg_send(dev->sock, r);
	}
	vu_msg_close_fds(r);
	return err;
}

int vu_dev_dispatch(struct vu_dev *dev)
{
	struct vu_msg m, r;
	const char *why = NULL;
	int ret, err;

	if (dev->broken)
		return -EIO;
	ret = vu_msg_recv(dev->sock, &m);
	if (ret <= 0) {
		if (ret < 0)
			bad(dev, "receive failed: %s", strerror(-ret));
		dev->broken = true;
		return ret < 0 ? ret : -ECONNRESET;
	}
	if (vu_msg_check_request(&m, &why) < 0) {
		bad(dev, "%s (%u): %s", vu_request_name(m.hdr.request), m.hdr.request, why);
		vu_msg_close_fds(&m);
		dev->broken = true;
		return -EPROTO;
	}
	log_debug("%s: vhost-user %s", dev->name, vu_request_name(m.hdr.request));
	memset(&r.hdr, 0, sizeof(r.hdr));
	r.nfds = 0;
	ret = handle(dev, &m, &r);
	vu_msg_close_fds(&m);
	err = send_reply(dev, &m, &r, ret);
	if (ret == 0 && err < 0)
		ret = err;
	if (ret < 0)
		dev->broken = true;
	return ret;
}

/* ---- lifecycle ---- */

static void unwatch_all(struct vu_dev *dev)
{
	for (unsigned i = 0; i < dev->nqueues; i++)
		stop_queue(&dev->q[i]);
	if (dev->sock_watched)
		dev->watch.del(dev->watch.loop, dev->sock);
	dev->sock_watched = false;
}

static void sock_cb(void *arg)
{
	struct vu_dev *dev = arg;

	if (vu_dev_dispatch(dev) < 0)
		unwatch_all(dev);
}

int vu_dev_init(struct vu_dev *dev, const char *name, int sock, unsigned nqueues,
		const struct vu_dev_ops *ops, const struct vu_watch *watch, void *priv)
{
	if (!nqueues || nqueues > VU_MAX_QUEUES || sock < 0 || !ops || !ops->get_features ||
	    !watch || !watch->add || !watch->del)
		return -EINVAL;
	memset(dev, 0, sizeof(*dev));
	dev->name = name ? name : "vhost-user";
	dev->sock = sock;
	dev->nqueues = nqueues;
	dev->ops = ops;
	dev->watch = *watch;
	dev->priv = priv;
	dev->inflight_fd = -1;
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		dev->q[i].kick_fd = dev->q[i].call_fd = dev->q[i].err_fd = -1;
		dev->q[i].dev = dev;
		dev->q[i].idx = i;
	}
	dev->watch.add(dev->watch.loop, sock, sock_cb, dev);
	dev->sock_watched = true;
	return 0;
}

void vu_dev_exit(struct vu_dev *dev)
{
	unwatch_all(dev);
	for (unsigned i = 0; i < dev->nqueues; i++)
		reset_queue(&dev->q[i]);
	unmap_regions(dev->mmap_base, dev->mmap_size, VU_MAX_REGIONS);
	memset(&dev->mem, 0, sizeof(dev->mem));
	unmap_inflight(dev);
	dev->broken = true;
}

void vu_queue_notify(struct vu_dev *dev, unsigned qidx)
{
	static const uint64_t one = 1;
	struct vu_queue *q;

	if (qidx >= dev->nqueues)
		return;
	q = &dev->q[qidx];
	if (q->call_fd < 0 || !q->started || !vq_should_notify(&q->vq))
		return;
	/* the counter cannot overflow in practice; a failed write loses nothing the guest
	 * will not see on its next ring scan */
	if (write(q->call_fd, &one, sizeof(one)) < 0) {
	}
}
