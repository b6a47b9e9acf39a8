/* vhost-user message codec: framing with fd passing over a unix stream socket, and the
 * table of what each request and its reply must carry (QEMU docs/interop/vhost-user.rst). */
#include "vhost_user.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Once a header has started arriving the rest of the message must follow promptly: a peer
 * that sends half a message and stalls is broken, not slow.
 */
#define VU_RECV_TIMEOUT_MS 5000

enum {
	SZ_NONE = -1,     /* reply: the request has none (only a REPLY_ACK u64 when asked) */
	SZ_MEM = -2,      /* 8 + nregions * 32 */
	SZ_CONFIG = -3,   /* 12 + config.size, config.size <= VU_MAX_CONFIG */
	FD_MEM = -1,      /* one per region */
	FD_VRING = -2,    /* one unless VU_VRING_NOFD */
};

struct vu_req_desc {
	const char *name;
	bool supported;
	int16_t size;        /* request payload bytes, or SZ_* */
	int8_t fds;          /* request fds, or FD_* */
	int16_t reply_size;  /* reply payload bytes, or SZ_* */
	int8_t reply_fds;
};

/* the name without its "VU_" prefix: &"..."[3] says "a suffix" where #r + 3 reads as a
 * mistaken concatenation (clang's -Wstring-plus-int) */
#define REQ(r, s, f, rs, rf) [r] = { &(#r)[3], true, (s), (f), (rs), (rf) }
#define UNSUPPORTED(r) [r] = { &(#r)[3], false, 0, 0, SZ_NONE, 0 }

static const struct vu_req_desc vu_reqs[VU_REQUEST_MAX] = {
	REQ(VU_GET_FEATURES, 0, 0, 8, 0),
	REQ(VU_SET_FEATURES, 8, 0, SZ_NONE, 0),
	REQ(VU_SET_OWNER, 0, 0, SZ_NONE, 0),
	REQ(VU_RESET_OWNER, 0, 0, SZ_NONE, 0),
	REQ(VU_SET_MEM_TABLE, SZ_MEM, FD_MEM, SZ_NONE, 0),
	UNSUPPORTED(VU_SET_LOG_BASE),
	UNSUPPORTED(VU_SET_LOG_FD),
	REQ(VU_SET_VRING_NUM, 8, 0, SZ_NONE, 0),
	REQ(VU_SET_VRING_ADDR, sizeof(struct vu_vring_addr), 0, SZ_NONE, 0),
	REQ(VU_SET_VRING_BASE, 8, 0, SZ_NONE, 0),
	REQ(VU_GET_VRING_BASE, 8, 0, 8, 0),
	REQ(VU_SET_VRING_KICK, 8, FD_VRING, SZ_NONE, 0),
	REQ(VU_SET_VRING_CALL, 8, FD_VRING, SZ_NONE, 0),
	REQ(VU_SET_VRING_ERR, 8, FD_VRING, SZ_NONE, 0),
	REQ(VU_GET_PROTOCOL_FEATURES, 0, 0, 8, 0),
	REQ(VU_SET_PROTOCOL_FEATURES, 8, 0, SZ_NONE, 0),
	REQ(VU_GET_QUEUE_NUM, 0, 0, 8, 0),
	REQ(VU_SET_VRING_ENABLE, 8, 0, SZ_NONE, 0),
	REQ(VU_GET_CONFIG, SZ_CONFIG, 0, SZ_CONFIG, 0),
	REQ(VU_SET_CONFIG, SZ_CONFIG, 0, SZ_NONE, 0),
	REQ(VU_GET_INFLIGHT_FD, sizeof(struct vu_inflight), 0, sizeof(struct vu_inflight), 1),
	REQ(VU_SET_INFLIGHT_FD, sizeof(struct vu_inflight), 1, SZ_NONE, 0),
	UNSUPPORTED(VU_GET_MAX_MEM_SLOTS),
};

_Static_assert(sizeof(struct vu_hdr) == 12, "vhost-user header is 12 bytes");
_Static_assert(sizeof(struct vu_vring_addr) == 40, "vring address payload is 40 bytes");
_Static_assert(sizeof(struct vu_inflight) == 24, "inflight payload is 24 bytes as in QEMU");
_Static_assert(sizeof(struct vu_region) == 32, "memory region is 32 bytes");
_Static_assert(offsetof(struct vu_config, region) == VU_CONFIG_HDR_SIZE, "config header");

static const struct vu_req_desc *req_desc(uint32_t request)
{
	if (request >= VU_REQUEST_MAX || !vu_reqs[request].name)
		return NULL;
	return &vu_reqs[request];
}

const char *vu_request_name(uint32_t request)
{
	const struct vu_req_desc *d = req_desc(request);

	return d ? d->name : "UNKNOWN";
}

void vu_msg_close_fds(struct vu_msg *m)
{
	for (unsigned i = 0; i < m->nfds && i < VU_MAX_FDS; i++) {
		if (m->fds[i] >= 0)
			close(m->fds[i]);
		m->fds[i] = -1;
	}
	m->nfds = 0;
}

static int wait_readable(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, VU_RECV_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

/* Collect SCM_RIGHTS fds; anything odd in the control data makes the frame malformed. */
static int take_fds(struct msghdr *mh, struct vu_msg *m)
{
	int bad = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (m->nfds < VU_MAX_FDS)
				m->fds[m->nfds++] = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		bad = 1;
	return bad ? -EPROTO : 0;
}

/* First read of a message: the header bytes, with the fds sent alongside. */
static ssize_t recv_head(int sock, struct vu_msg *m)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
	} cbuf;
	struct iovec iov = { &m->hdr, sizeof(m->hdr) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
	};
	ssize_t n;
	int ret;

	do {
		if ((ret = wait_readable(sock)) < 0)
			return ret;
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && (errno == EINTR || errno == EAGAIN));
	if (n < 0)
		return -errno;
	ret = take_fds(&mh, m);
	return ret < 0 ? ret : n;
}

/* Read exactly len more bytes (no fds may come with them: the kernel drops any). */
static int recv_exact(int sock, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n;
		int ret;

		if ((ret = wait_readable(sock)) < 0)
			return ret;
		n = recv(sock, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPROTO;   /* EOF inside a message */
		got += n;
	}
	return 0;
}

int vu_msg_recv(int sock, struct vu_msg *m)
{
	ssize_t n;
	int ret;

	m->nfds = 0;
	for (unsigned i = 0; i < VU_MAX_FDS; i++)
		m->fds[i] = -1;
	n = recv_head(sock, m);
	if (n == 0 && m->nfds == 0)
		return 0;
	if (n < 0) {
		ret = (int)n;
		goto fail;
	}
	if (n == 0) {
		ret = -EPROTO;
		goto fail;
	}
	ret = recv_exact(sock, (char *)&m->hdr + n, sizeof(m->hdr) - n);
	if (ret < 0)
		goto fail;
	if (m->hdr.size > VU_MAX_PAYLOAD) {
		ret = -EPROTO;
		goto fail;
	}
	ret = recv_exact(sock, m->p.raw, m->hdr.size);
	if (ret < 0)
		goto fail;
	return 1;
fail:
	vu_msg_close_fds(m);
	return ret;
}

/* After a short write: the fds went with the first part, the rest goes plainly. */
static void advance(struct msghdr *mh, size_t n)
{
	mh->msg_control = NULL;
	mh->msg_controllen = 0;
	while (mh->msg_iovlen && n >= mh->msg_iov->iov_len) {
		n -= mh->msg_iov->iov_len;
		mh->msg_iov++;
		mh->msg_iovlen--;
	}
	if (mh->msg_iovlen) {
		mh->msg_iov->iov_base = (char *)mh->msg_iov->iov_base + n;
		mh->msg_iov->iov_len -= n;
	}
}

int vu_msg_send(int sock, const struct vu_msg *m)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
	} cbuf;
	struct iovec iov[2] = {
		{ (void *)&m->hdr, sizeof(m->hdr) },
		{ (void *)m->p.raw, m->hdr.size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t total = sizeof(m->hdr) + m->hdr.size, sent = 0;

	if (m->hdr.size > VU_MAX_PAYLOAD || m->nfds > VU_MAX_FDS)
		return -EINVAL;
	if (m->nfds) {
		struct cmsghdr *cm;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * m->nfds);
		memcpy(CMSG_DATA(cm), m->fds, sizeof(int) * m->nfds);
	}
	while (sent < total) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* a non-blocking socket with a full buffer: wait, but not forever */
			struct pollfd p = { .fd = sock, .events = POLLOUT };

			n = poll(&p, 1, VU_RECV_TIMEOUT_MS);
			if (n == 0)
				return -ETIMEDOUT;
			if (n < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		if (n < 0)
			return -errno;
		sent += n;
		advance(&mh, (size_t)n);
	}
	return 0;
}

/* Payload size a request or reply of this kind must have. */
static int expected_size(const struct vu_msg *m, int16_t kind, const char **why)
{
	switch (kind) {
	case SZ_MEM:
		if (m->hdr.size < 8) {
			*why = "memory table header missing";
			return -1;
		}
		if (m->p.mem.nregions < 1 || m->p.mem.nregions > VU_MAX_REGIONS) {
			*why = "region count out of range";
			return -1;
		}
		return 8 + (int)m->p.mem.nregions * (int)sizeof(struct vu_region);
	case SZ_CONFIG:
		if (m->hdr.size < VU_CONFIG_HDR_SIZE) {
			*why = "config header missing";
			return -1;
		}
		if (m->p.config.size > VU_MAX_CONFIG) {
			*why = "config size above 256";
			return -1;
		}
		return VU_CONFIG_HDR_SIZE + (int)m->p.config.size;
	default:
		return kind;
	}
}

static int check_size(const struct vu_msg *m, int16_t kind, const char **why)
{
	int want = expected_size(m, kind, why);

	if (want < 0)
		return -EPROTO;
	if (m->hdr.size != (uint32_t)want) {
		*why = "wrong payload size";
		return -EPROTO;
	}
	return 0;
}

static int expected_fds(const struct vu_msg *m, int8_t kind)
{
	switch (kind) {
	case FD_MEM:
		return (int)m->p.mem.nregions;
	case FD_VRING:
		return (m->p.u64 & VU_VRING_NOFD) ? 0 : 1;
	default:
		return kind;
	}
}

int vu_msg_check_request(const struct vu_msg *m, const char **why)
{
	const struct vu_req_desc *d = req_desc(m->hdr.request);
	const char *dummy;
	int ret;

	if (!why)
		why = &dummy;
	if (!d) {
		*why = "unknown request";
		return -EPROTO;
	}
	if (!d->supported) {
		*why = "unsupported request";
		return -EPROTO;
	}
	if ((m->hdr.flags & 0x3u) != VU_HDR_VERSION || (m->hdr.flags & VU_HDR_REPLY)) {
		*why = "bad version or reply flag on a request";
		return -EPROTO;
	}
	if ((ret = check_size(m, d->size, why)) < 0)
		return ret;
	if (d->fds == FD_VRING && (m->p.u64 & ~(uint64_t)(VU_VRING_IDX_MASK | VU_VRING_NOFD))) {
		*why = "reserved bits in vring fd request";
		return -EPROTO;
	}
	if (m->nfds != (unsigned)expected_fds(m, d->fds)) {
		*why = "wrong fd count";
		return -EPROTO;
	}
	return 0;
}

int vu_msg_check_reply(const struct vu_msg *m, uint32_t request, const char **why)
{
	const struct vu_req_desc *d = req_desc(request);
	const char *dummy;
	int16_t size;
	int ret;

	if (!why)
		why = &dummy;
	if (!d || !d->supported) {
		*why = "reply to a request we do not send";
		return -EPROTO;
	}
	if (m->hdr.request != request) {
		*why = "reply to another request";
		return -EPROTO;
	}
	if ((m->hdr.flags & 0x3u) != VU_HDR_VERSION || !(m->hdr.flags & VU_HDR_REPLY)) {
		*why = "bad version or missing reply flag";
		return -EPROTO;
	}
	/* a request without a reply of its own is answered by a REPLY_ACK u64 */
	size = d->reply_size == SZ_NONE ? 8 : d->reply_size;
	if ((ret = check_size(m, size, why)) < 0)
		return ret;
	if (m->nfds != (unsigned)(d->reply_size == SZ_NONE ? 0 : d->reply_fds)) {
		*why = "wrong fd count";
		return -EPROTO;
	}
	return 0;
}
