/* What the fuzz harnesses share (see fuzzlib.h). */
#include "fuzzlib.h"

#include <endian.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu_backend.h"

/* ---- reading the input ---- */

void take(struct input *in, void *dst, size_t len)
{
	size_t k = in->n < len ? in->n : len;

	memcpy(dst, in->p, k);
	memset((uint8_t *)dst + k, 0, len - k);
	in->p += k;
	in->n -= k;
}

unsigned take8(struct input *in)
{
	uint8_t b;

	take(in, &b, 1);
	return b;
}

unsigned take16(struct input *in)
{
	uint16_t v;

	take(in, &v, 2);
	return le16toh(v);
}

uint32_t take32(struct input *in)
{
	uint32_t v;

	take(in, &v, 4);
	return le32toh(v);
}

uint64_t take64(struct input *in)
{
	uint64_t v;

	take(in, &v, 8);
	return le64toh(v);
}

/* ---- writing seeds ---- */

void emit(struct out *o, const void *p, size_t n)
{
	if (o->n + n <= o->cap) {
		memcpy(o->p + o->n, p, n);
		o->n += n;
	}
}

void emit8(struct out *o, unsigned v)
{
	uint8_t b = (uint8_t)v;

	emit(o, &b, 1);
}

void emit16(struct out *o, unsigned v)
{
	uint16_t x = htole16((uint16_t)v);

	emit(o, &x, 2);
}

void emit32(struct out *o, uint32_t v)
{
	uint32_t x = htole32(v);

	emit(o, &x, 4);
}

/* ---- the event loop stand-in ---- */

struct watch_ent watched[WATCH_MAX];
unsigned nwatched;

void w_add(void *loop, int fd, void (*cb)(void *arg), void *arg)
{
	(void)loop;
	if (nwatched < WATCH_MAX)
		watched[nwatched++] = (struct watch_ent){ fd, cb, arg };
}

void w_del(void *loop, int fd)
{
	(void)loop;
	for (unsigned i = 0; i < nwatched; i++) {
		if (watched[i].fd == fd) {
			watched[i] = watched[--nwatched];
			return;
		}
	}
	abort();   /* the library unwatched what it never watched: a bug worth a crash */
}

void w_fire(int fd)
{
	for (unsigned i = 0; fd >= 0 && i < nwatched; i++) {
		if (watched[i].fd == fd) {
			watched[i].cb(watched[i].arg);
			return;
		}
	}
}

/* ---- guest RAM and rings ---- */

uint8_t *guest;
int guest_fd = -1;
static size_t guest_size;      /* what frontend_mem_table offers */

int guest_setup(const char *name, size_t size)
{
	if (guest)
		return 0;
	guest_size = size;
	guest_fd = memfd_create(name, MFD_CLOEXEC);
	if (guest_fd < 0 || ftruncate(guest_fd, (off_t)size) < 0)
		return -1;
	guest = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, guest_fd, 0);
	if (guest == MAP_FAILED) {
		guest = NULL;
		return -1;
	}
	return 0;
}

void ring_desc(unsigned q, unsigned slot, uint64_t addr, uint32_t len, uint16_t flags,
	       uint16_t next)
{
	struct vring_desc d = { htole64(addr), htole32(len), htole16(flags), htole16(next) };

	memcpy(guest + q * RING_STRIDE + 16 * slot, &d, sizeof(d));
}

void ring_publish(unsigned q, unsigned qsize, uint16_t *avail_idx, uint16_t head)
{
	uint8_t *avail = guest + q * RING_STRIDE + RING_AVAIL;
	uint16_t h = htole16(head), idx;

	memcpy(avail + 4 + 2 * (*avail_idx % qsize), &h, 2);
	idx = htole16(++*avail_idx);
	__atomic_store_n((uint16_t *)(avail + 2), idx, __ATOMIC_RELEASE);
}

/* ---- the frontend's side of vhost-user ---- */

ssize_t send_fds(int sock, const struct iovec *iov, size_t iovlen, const int *fds,
		 unsigned nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * SEND_FDS_MAX)];
	} c;
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = iovlen };

	if (nfds > SEND_FDS_MAX)
		abort();
	if (nfds) {
		struct cmsghdr *cm;

		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void drain_replies(int sock)
{
	/* more fds than any reply carries; the kernel would close those that did not fit */
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 16)];
	} c;
	char buf[8192];

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
				     .msg_controllen = sizeof(c.buf) };

		if (recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0)
			return;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				close(fd);
			}
		}
	}
}

bool frontend_msg(struct vu_dev *dev, int sock, uint32_t req, const void *p, uint32_t len,
		  int fd)
{
	struct vu_hdr h = { req, VU_HDR_VERSION, len };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)p, len } };
	bool ok = send_fds(sock, iov, 2, &fd, fd >= 0) == (ssize_t)(sizeof(h) + len);

	if (fd >= 0)
		close(fd);
	if (!ok)
		return false;
	ok = vu_dev_dispatch(dev) == 0;
	drain_replies(sock);
	return ok;
}

bool frontend_mem_table(struct vu_dev *dev, int sock)
{
	struct vu_mem_table mt = { 1, 0, { { 0, guest_size, FRONTEND_UADDR, 0 } } };

	return frontend_msg(dev, sock, VU_SET_MEM_TABLE, &mt, 8 + sizeof(mt.r[0]), dup(guest_fd));
}

bool frontend_start_queue(struct vu_dev *dev, int sock, unsigned q, unsigned qsize,
			  uint16_t base, bool enable)
{
	uint64_t ring = FRONTEND_UADDR + q * RING_STRIDE;
	struct vu_vring_state num = { q, qsize }, b = { q, base }, en = { q, 1 };
	struct vu_vring_addr a = { q, 0, ring, ring + RING_USED, ring + RING_AVAIL, 0 };
	uint64_t idx = q;

	return frontend_msg(dev, sock, VU_SET_VRING_NUM, &num, sizeof(num), -1) &&
	       frontend_msg(dev, sock, VU_SET_VRING_ADDR, &a, sizeof(a), -1) &&
	       frontend_msg(dev, sock, VU_SET_VRING_BASE, &b, sizeof(b), -1) &&
	       frontend_msg(dev, sock, VU_SET_VRING_CALL, &idx, 8,
			    eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) &&
	       frontend_msg(dev, sock, VU_SET_VRING_KICK, &idx, 8,
			    eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) &&
	       (!enable || frontend_msg(dev, sock, VU_SET_VRING_ENABLE, &en, sizeof(en), -1));
}
