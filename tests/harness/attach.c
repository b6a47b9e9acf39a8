/* Harness attach: the vhost-user handshake in the order QEMU's vhost-user-blk uses, through
 * common/vu_frontend.h, and the re-attach after a backend died (kept inflight fd, ring base
 * = used->idx). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "harness.h"

#define CHECK(expr) do { int r_ = (expr); if (r_ < 0) { \
	fprintf(stderr, "hx: %s failed: %s\n", #expr, strerror(-r_)); return r_; } } while (0)

/* Features the harness driver understands: all blk device bits, and the ring layout it
 * builds. Never packed rings, IOMMU platform or dirty logging. */
static uint64_t wanted_features(unsigned opts)
{
	uint64_t f = 0xffffffULL | (1ULL << VIRTIO_F_VERSION_1) |
		     (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << VU_F_PROTOCOL_FEATURES);

	if (!(opts & HX_NO_EVENT_IDX))
		f |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	/* the net driver's RSS_CONFIG (bulkhead-net offers it with its steering maps) */
	if (opts & HX_NET)
		f |= 1ULL << VIRTIO_NET_F_RSS;
	return f;
}

static int negotiate(struct hx *h, unsigned opts)
{
	uint64_t feat, pf, want;

	CHECK(vuf_get_features(&h->f, &feat));
	if (!(feat & (1ULL << VU_F_PROTOCOL_FEATURES)))
		return -EPROTONOSUPPORT;
	CHECK(vuf_get_protocol_features(&h->f, &pf));
	want = (1ULL << VU_PROTOCOL_F_MQ) | (1ULL << VU_PROTOCOL_F_REPLY_ACK) |
	       (1ULL << VU_PROTOCOL_F_CONFIG);
	if (!(opts & HX_NO_INFLIGHT))
		want |= 1ULL << VU_PROTOCOL_F_INFLIGHT_SHMFD;
	CHECK(vuf_set_protocol_features(&h->f, pf & want));
	CHECK(vuf_set_owner(&h->f));
	h->features = feat & wanted_features(opts);
	h->event_idx = h->features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	return 0;
}

static int mem_table(struct hx *h)
{
	struct vu_region r[2] = {
		{ .gpa = HX_GPA_BASE, .size = h->ram0_size, .uaddr = (uintptr_t)h->ram,
		  .mmap_offset = 0 },
		{ .gpa = hx_ram1_gpa(h), .size = HX_RAM1_SIZE,
		  .uaddr = (uintptr_t)h->ram + h->ram0_size, .mmap_offset = h->ram0_size },
	};
	int fds[2] = { h->memfd, h->memfd };

	return vuf_set_mem_table(&h->f, r, fds, 2);
}

/* GET_INFLIGHT_FD once (the area outlives backends), then SET_INFLIGHT_FD every attach. */
static int inflight(struct hx *h, bool first)
{
	if (!(h->f.acked_protocol & (1ULL << VU_PROTOCOL_F_INFLIGHT_SHMFD)))
		return 0;
	if (first && h->inflight_fd < 0) {
		CHECK(vuf_get_inflight_fd(&h->f, (uint16_t)h->nq, h->qsize, &h->inflight_info,
					  &h->inflight_fd));
		h->inflight = mmap(NULL, h->inflight_info.mmap_size, PROT_READ | PROT_WRITE,
				   MAP_SHARED, h->inflight_fd, (off_t)h->inflight_info.mmap_offset);
		if (h->inflight == MAP_FAILED) {
			h->inflight = NULL;
			return -errno;
		}
	}
	if (h->inflight_fd < 0)
		return -ENOENT;
	return vuf_set_inflight_fd(&h->f, &h->inflight_info, h->inflight_fd);
}

static int eventfds(struct hx_queue *vq)
{
	if (vq->kick_fd <= 0)
		vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vq->call_fd <= 0)
		vq->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return vq->kick_fd < 0 || vq->call_fd < 0 ? -errno : 0;
}

static int start_queue(struct hx *h, unsigned q, uint16_t base, unsigned opts)
{
	struct hx_queue *vq = &h->q[q];
	struct vu_vring_addr a = {
		.index = q,
		.desc = (uintptr_t)vq->desc,
		.avail = (uintptr_t)vq->avail,
		.used = (uintptr_t)vq->used,
	};

	CHECK(eventfds(vq));
	CHECK(vuf_set_vring_num(&h->f, q, vq->num));
	CHECK(vuf_set_vring_base(&h->f, q, base));
	CHECK(vuf_set_vring_addr(&h->f, &a));
	/* call before kick: a backend that resubmits on start must have somewhere to signal */
	CHECK(vuf_set_vring_call(&h->f, q, vq->call_fd));
	CHECK(vuf_set_vring_kick(&h->f, q, vq->kick_fd));
	if (!(opts & HX_NO_ENABLE))
		CHECK(vuf_set_vring_enable(&h->f, q, 1));
	return 0;
}

static int handshake(struct hx *h, unsigned opts, bool first)
{
	uint64_t n;
	unsigned q;

	CHECK(negotiate(h, opts));
	if (h->f.protocol_features & (1ULL << VU_PROTOCOL_F_MQ)) {
		CHECK(vuf_get_queue_num(&h->f, &n));
		/* a net backend reports pairs: rx and tx each, plus the control queue */
		if (opts & HX_NET)
			n = 2 * n + 1;
		if (n < h->nq) {
			fprintf(stderr, "hx: backend has %llu queues, want %u\n",
				(unsigned long long)n, h->nq);
			return -ERANGE;
		}
	}
	CHECK(inflight(h, first));
	CHECK(vuf_set_features(&h->f, h->features));
	CHECK(mem_table(h));
	for (q = 0; q < h->nq; q++) {
		uint16_t base = first ? h->q[q].avail_idx
				      : le16toh(__atomic_load_n(&h->q[q].used->idx, __ATOMIC_ACQUIRE));
		CHECK(start_queue(h, q, base, opts));
	}
	return 0;
}

int hx_attach(struct hx *h, int sock, unsigned nq, uint16_t qsize, unsigned opts)
{
	unsigned q;

	if (nq == 0 || nq > HX_MAX_QUEUES)
		return -EINVAL;
	vuf_init(&h->f, sock, HX_TIMEOUT_MS);
	h->connected = true;
	h->nq = nq;
	h->qsize = qsize;
	for (q = 0; q < nq; q++)
		CHECK(hx_queue_layout(h, q, qsize));
	return handshake(h, opts, true);
}

int hx_reattach(struct hx *h, int sock, unsigned opts)
{
	hx_detach(h);
	vuf_init(&h->f, sock, HX_TIMEOUT_MS);
	h->connected = true;
	return handshake(h, opts, false);
}

void hx_detach(struct hx *h)
{
	if (h->connected && h->f.sock >= 0)
		close(h->f.sock);
	h->f.sock = -1;
	h->connected = false;
}
