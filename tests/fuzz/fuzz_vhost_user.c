/* Fuzz the vhost-user backend: arbitrary bytes become a stream of messages (with fds) into
 * vu_dev_dispatch over a socketpair, as a hostile frontend would send them, with guest memory
 * and ring contents under the input's control and kicks fired in between.
 *
 * Input: records of [op][12-byte header][hdr.size payload bytes, cut short by the input end].
 *   op bits 0-3: number of fds sent with the message (up to 15: more than VU_MAX_FDS too)
 *   op bits 4-5: their kind: 0 the guest memfd, 1 an eventfd, 2 a fresh 64 KiB memfd, 3 a pipe
 *   op bit 6:    not a message: copy the payload into guest memory at (hdr.request % 64 KiB)
 *   op bit 7:    after the message, fire every watched kick fd's callback
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "fuzzlib.h"
#include "log.h"
#include "vu_backend.h"

#define GUEST_SIZE   (64 * 1024)
#define GUEST_UADDR  0x100000ULL
#define MAX_MSGS     64
#define MAX_INPUT    16384

/* ---- device ---- */

static uint8_t config[32];

static uint64_t f_features(struct vu_dev *dev)
{
	(void)dev;
	return (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX);
}

static int f_get_config(struct vu_dev *dev, uint8_t *buf, uint32_t off, uint32_t len)
{
	(void)dev;
	if (off > sizeof(config) || len > sizeof(config) - off)
		return -EINVAL;
	memcpy(buf, config + off, len);
	return 0;
}

static void f_kick(struct vu_dev *dev, unsigned qidx)
{
	struct iovec iov[16];
	struct vq_elem e = { .iov = iov, .iov_cap = 16 };

	for (unsigned n = 0; n < 64 && vq_pop(&dev->q[qidx].vq, &e) == 1; n++) {
		/* touch every byte the chain claims: a bad translation faults here under ASan */
		for (unsigned i = 0; i < e.out_num + e.in_num; i++)
			memset(iov[i].iov_base, 0x5a, iov[i].iov_len);
		vq_push(&dev->q[qidx].vq, e.head, (uint32_t)e.in_len);
	}
	vu_queue_notify(dev, qidx);
}

static const struct vu_dev_ops ops = {
	.get_features = f_features,
	.get_config = f_get_config,
	.queue_kick = f_kick,
};

/* ---- harness ---- */

static int make_fd(unsigned kind)
{
	int p[2], fd;

	switch (kind) {
	case 0:
		return dup(guest_fd);
	case 1:
		return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	case 2:
		fd = memfd_create("fuzz-fd", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, GUEST_SIZE) < 0) {
			close(fd);
			fd = -1;
		}
		return fd;
	default:
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
			return -1;
		close(p[1]);
		return p[0];
	}
}

/* len bytes with nfds fds of the kind, those that could be made; an empty record sends
 * nothing. */
static bool send_with_fds(int sock, const uint8_t *buf, size_t len, unsigned nfds,
			  unsigned kind)
{
	struct iovec iov = { (void *)buf, len };
	int fds[SEND_FDS_MAX];
	unsigned n = 0;
	bool ok;

	for (unsigned i = 0; i < nfds; i++)
		if ((fds[n] = make_fd(kind)) >= 0)
			n++;
	ok = !len || send_fds(sock, &iov, 1, fds, n) == (ssize_t)len;
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
	return ok;
}

static void fire_kicks(struct vu_dev *dev)
{
	struct watch_ent snap[WATCH_MAX];
	unsigned n = nwatched;

	memcpy(snap, watched, sizeof(snap[0]) * n);
	for (unsigned i = 0; i < n; i++)
		if (snap[i].fd != dev->sock)
			snap[i].cb(snap[i].arg);
}

/*
 * One record; returns the bytes it used, 0 when the input ended inside it, -1 when nothing
 * could be sent (the dispatcher would only wait for it).
 */
static ssize_t one_record(int sock, const uint8_t *d, size_t size, bool *fire)
{
	struct vu_hdr h;
	size_t len, want;
	uint8_t op;

	op = d[0];
	if (size < 1 + sizeof(h))
		return send_with_fds(sock, d + 1, size - 1, op & 15, (op >> 4) & 3) ? 0 : -1;
	memcpy(&h, d + 1, sizeof(h));
	want = 1 + sizeof(h) + h.size;
	len = want <= size ? want : size;
	if (op & 0x40) {
		size_t off = h.request % GUEST_SIZE, n = len - 1 - sizeof(h);

		memcpy(guest + off, d + 1 + sizeof(h), n < GUEST_SIZE - off ? n : GUEST_SIZE - off);
		return len < want ? 0 : (ssize_t)len;
	}
	if (!send_with_fds(sock, d + 1, len - 1, op & 15, (op >> 4) & 3))
		return -1;
	*fire = op & 0x80;
	return len < want ? 0 : (ssize_t)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vu_dev dev;
	struct vu_watch w = { w_add, w_del, NULL };
	int sv[2];
	size_t pos = 0;

	log_set_fd(-1);
	if (size > MAX_INPUT || guest_setup("fuzz-guest", GUEST_SIZE) < 0)
		return 0;
	memset(guest, 0, GUEST_SIZE);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	nwatched = 0;
	if (vu_dev_init(&dev, "fuzz", sv[1], 2, &ops, &w, NULL) < 0)
		abort();
	for (unsigned m = 0; m < MAX_MSGS && pos < size; m++) {
		bool fire = false;
		ssize_t used = one_record(sv[0], data + pos, size - pos, &fire);

		if (used < 0)
			break;
		if (data[pos] & 0x40) {   /* a guest memory write, no message */
			if (!used)
				break;
			pos += used;
			continue;
		}
		if (!used)
			shutdown(sv[0], SHUT_WR);   /* the input ended mid-message: EOF follows */
		if (vu_dev_dispatch(&dev) < 0)
			break;
		drain_replies(sv[0]);
		if (fire)
			fire_kicks(&dev);
		if (!used)
			break;
		pos += used;
	}
	vu_dev_exit(&dev);
	if (nwatched)
		abort();   /* vu_dev_exit must leave nothing watched */
	close(sv[0]);
	close(sv[1]);
	return 0;
}

/* ---- seeds: a well-formed handshake that starts a queue with one chain on it ---- */

static size_t put(uint8_t *buf, size_t pos, size_t cap, uint8_t op, uint32_t req,
		  const void *p, uint32_t len)
{
	struct vu_hdr h = { req, VU_HDR_VERSION, len };

	if (pos + 1 + sizeof(h) + len > cap)
		return pos;
	buf[pos] = op;
	memcpy(buf + pos + 1, &h, sizeof(h));
	memcpy(buf + pos + 1 + sizeof(h), p, len);
	return pos + 1 + sizeof(h) + len;
}

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	uint64_t feat = f_features(NULL) | (1ULL << VU_F_PROTOCOL_FEATURES);
	uint64_t pf = (1ULL << VU_PROTOCOL_F_REPLY_ACK) | (1ULL << VU_PROTOCOL_F_INFLIGHT_SHMFD);
	struct vu_mem_table mt = { 1, 0, { { 0, GUEST_SIZE, GUEST_UADDR, 0 } } };
	struct vu_inflight inf = { 2 * vq_inflight_queue_size(8), 0, 2, 8, { 0 } };
	struct vu_vring_state num = { 0, 8 }, base = { 0, 0 }, en = { 0, 1 };
	struct vu_vring_addr a = { 0, 0, GUEST_UADDR + 0x1000, GUEST_UADDR + 0x3000,
				   GUEST_UADDR + 0x2000, 0 };
	struct vu_config cfg = { 4, 8, 0, { 0 } };
	struct vring_desc desc[2] = { { 0x8000, 16, VRING_DESC_F_NEXT, 1 },
				      { 0x9000, 512, VRING_DESC_F_WRITE, 0 } };
	uint16_t avail[3] = { 0, 1, 0 };   /* flags, idx, ring[0] = head 0 */
	uint64_t q0 = 0;
	size_t n = 0;

	if (i % 3 == 2)
		return 0;   /* a third of the inputs stay purely random */
	n = put(buf, n, cap, 0, VU_SET_FEATURES, &feat, 8);
	n = put(buf, n, cap, 0, VU_GET_PROTOCOL_FEATURES, &pf, 0);
	n = put(buf, n, cap, 0, VU_SET_PROTOCOL_FEATURES, &pf, 8);
	n = put(buf, n, cap, 0, VU_GET_INFLIGHT_FD, &inf, sizeof(inf));
	n = put(buf, n, cap, 0x21, VU_SET_INFLIGHT_FD, &inf, sizeof(inf));
	n = put(buf, n, cap, 0x01, VU_SET_MEM_TABLE, &mt, 8 + sizeof(mt.r[0]));
	n = put(buf, n, cap, 0x40, 0x1000, desc, sizeof(desc));
	n = put(buf, n, cap, 0x40, 0x2000, avail, sizeof(avail));
	n = put(buf, n, cap, 0, VU_SET_VRING_NUM, &num, sizeof(num));
	n = put(buf, n, cap, 0, VU_SET_VRING_BASE, &base, sizeof(base));
	n = put(buf, n, cap, 0, VU_SET_VRING_ADDR, &a, sizeof(a));
	n = put(buf, n, cap, 0x11, VU_SET_VRING_KICK, &q0, 8);
	n = put(buf, n, cap, 0x11, VU_SET_VRING_CALL, &q0, 8);
	n = put(buf, n, cap, 0x80, VU_SET_VRING_ENABLE, &en, sizeof(en));
	n = put(buf, n, cap, 0, VU_GET_CONFIG, &cfg, VU_CONFIG_HDR_SIZE + 8);
	n = put(buf, n, cap, 0x80, VU_GET_VRING_BASE, &base, sizeof(base));
	return n;
}
