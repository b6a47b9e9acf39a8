/* vhost-user frontend (see vu_frontend.h): blocking request/reply with a timeout per reply.
 * The backend is untrusted: every reply is checked for request, flags, size and fds before
 * a field of it is used, and a reply that does not fit is -EPROTO. */
#include "vu_frontend.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* An inflight area larger than this is a lie: 16 queues of 32768 entries need 8 MiB. */
#define VUF_MAX_INFLIGHT (64ULL << 20)

void vuf_init(struct vu_front *f, int sock, int timeout_ms)
{
	memset(f, 0, sizeof(*f));
	f->sock = sock;
	f->timeout_ms = timeout_ms;
}

static void msg_init(struct vu_msg *m, uint32_t request, uint32_t size)
{
	m->hdr.request = request;
	m->hdr.flags = VU_HDR_VERSION;
	m->hdr.size = size;
	m->nfds = 0;
}

static int wait_reply(struct vu_front *f)
{
	struct pollfd p = { .fd = f->sock, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, f->timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

static int recv_reply(struct vu_front *f, uint32_t request, struct vu_msg *r)
{
	const char *why = NULL;
	int ret;

	if ((ret = wait_reply(f)) < 0) {
		log_warnx("vhost-user: no reply to %s", vu_request_name(request));
		return ret;
	}
	ret = vu_msg_recv(f->sock, r);
	if (ret == 0)
		return -ECONNRESET;
	if (ret < 0)
		return ret;
	if (vu_msg_check_reply(r, request, &why) < 0) {
		log_warnx("vhost-user: bad reply to %s: %s", vu_request_name(request), why);
		vu_msg_close_fds(r);
		return -EPROTO;
	}
	return 0;
}

/* A request with a reply of its own (GET_*): NEED_REPLY would change nothing. */
static int call(struct vu_front *f, struct vu_msg *m, struct vu_msg *r)
{
	int ret = vu_msg_send(f->sock, m);

	return ret < 0 ? ret : recv_reply(f, m->hdr.request, r);
}

/*
 * A request without a reply: with REPLY_ACK negotiated ask for the ack and wait for it, so
 * that a failure is seen here and the backend has acted on it before we go on.
 */
static int send_req(struct vu_front *f, struct vu_msg *m)
{
	bool ack = f->acked_protocol & (1ULL << VU_PROTOCOL_F_REPLY_ACK);
	struct vu_msg r;
	int ret;

	if (ack)
		m->hdr.flags |= VU_HDR_NEED_REPLY;
	ret = vu_msg_send(f->sock, m);
	if (ret < 0 || !ack)
		return ret;
	if ((ret = recv_reply(f, m->hdr.request, &r)) < 0)
		return ret;
	return r.p.u64 ? -EIO : 0;
}

static int get_u64(struct vu_front *f, uint32_t request, uint64_t *v)
{
	struct vu_msg m, r;
	int ret;

	msg_init(&m, request, 0);
	if ((ret = call(f, &m, &r)) < 0)
		return ret;
	*v = r.p.u64;
	return 0;
}

static int set_u64(struct vu_front *f, uint32_t request, uint64_t v, int fd)
{
	struct vu_msg m;

	msg_init(&m, request, sizeof(m.p.u64));
	m.p.u64 = v;
	if (fd >= 0) {
		m.fds[0] = fd;
		m.nfds = 1;
	}
	return send_req(f, &m);
}

static int set_state(struct vu_front *f, uint32_t request, unsigned idx, unsigned num)
{
	struct vu_msg m;

	msg_init(&m, request, sizeof(m.p.state));
	m.p.state.index = idx;
	m.p.state.num = num;
	return send_req(f, &m);
}

int vuf_get_features(struct vu_front *f, uint64_t *features)
{
	int ret = get_u64(f, VU_GET_FEATURES, features);

	if (ret == 0)
		f->features = *features;
	return ret;
}

int vuf_set_features(struct vu_front *f, uint64_t features)
{
	return set_u64(f, VU_SET_FEATURES, features, -1);
}

int vuf_get_protocol_features(struct vu_front *f, uint64_t *pf)
{
	int ret = get_u64(f, VU_GET_PROTOCOL_FEATURES, pf);

	if (ret == 0)
		f->protocol_features = *pf;
	return ret;
}

int vuf_set_protocol_features(struct vu_front *f, uint64_t pf)
{
	int ret;

	if (pf & ~f->protocol_features)
		return -EINVAL;
	/* not acked yet: this one message goes without NEED_REPLY */
	ret = set_u64(f, VU_SET_PROTOCOL_FEATURES, pf, -1);
	if (ret == 0)
		f->acked_protocol = pf;
	return ret;
}

int vuf_set_owner(struct vu_front *f)
{
	struct vu_msg m;

	msg_init(&m, VU_SET_OWNER, 0);
	return send_req(f, &m);
}

int vuf_get_queue_num(struct vu_front *f, uint64_t *n)
{
	return get_u64(f, VU_GET_QUEUE_NUM, n);
}

int vuf_set_mem_table(struct vu_front *f, const struct vu_region *regions, const int *fds,
		      unsigned n)
{
	struct vu_msg m;

	if (!n || n > VU_MAX_REGIONS)
		return -EINVAL;
	msg_init(&m, VU_SET_MEM_TABLE, 8 + n * sizeof(struct vu_region));
	m.p.mem.nregions = n;
	m.p.mem.padding = 0;
	memcpy(m.p.mem.r, regions, n * sizeof(*regions));
	memcpy(m.fds, fds, n * sizeof(*fds));
	m.nfds = n;
	return send_req(f, &m);
}

int vuf_set_vring_num(struct vu_front *f, unsigned idx, unsigned num)
{
	return set_state(f, VU_SET_VRING_NUM, idx, num);
}

int vuf_set_vring_addr(struct vu_front *f, const struct vu_vring_addr *a)
{
	struct vu_msg m;

	msg_init(&m, VU_SET_VRING_ADDR, sizeof(m.p.addr));
	m.p.addr = *a;
	return send_req(f, &m);
}

int vuf_set_vring_base(struct vu_front *f, unsigned idx, unsigned base)
{
	return set_state(f, VU_SET_VRING_BASE, idx, base);
}

int vuf_get_vring_base(struct vu_front *f, unsigned idx, unsigned *base)
{
	struct vu_msg m, r;
	int ret;

	msg_init(&m, VU_GET_VRING_BASE, sizeof(m.p.state));
	m.p.state.index = idx;
	m.p.state.num = 0;
	if ((ret = call(f, &m, &r)) < 0)
		return ret;
	if (r.p.state.index != idx || r.p.state.num > UINT16_MAX) {
		log_warnx("vhost-user: GET_VRING_BASE reply for queue %u: %u/%u", idx,
			  r.p.state.index, r.p.state.num);
		return -EPROTO;
	}
	*base = r.p.state.num;
	return 0;
}

static int set_vring_fd(struct vu_front *f, uint32_t request, unsigned idx, int fd)
{
	if (idx > VU_VRING_IDX_MASK)
		return -EINVAL;
	return set_u64(f, request, idx | (fd < 0 ? VU_VRING_NOFD : 0), fd);
}

int vuf_set_vring_kick(struct vu_front *f, unsigned idx, int fd)
{
	return set_vring_fd(f, VU_SET_VRING_KICK, idx, fd);
}

int vuf_set_vring_call(struct vu_front *f, unsigned idx, int fd)
{
	return set_vring_fd(f, VU_SET_VRING_CALL, idx, fd);
}

int vuf_set_vring_enable(struct vu_front *f, unsigned idx, int enable)
{
	return set_state(f, VU_SET_VRING_ENABLE, idx, enable ? 1 : 0);
}

int vuf_get_config(struct vu_front *f, uint32_t offset, uint8_t *buf, uint32_t len)
{
	struct vu_msg m, r;
	int ret;

	if (len > VU_MAX_CONFIG)
		return -EINVAL;
	msg_init(&m, VU_GET_CONFIG, VU_CONFIG_HDR_SIZE + len);
	m.p.config.offset = offset;
	m.p.config.size = len;
	m.p.config.flags = 0;
	memset(m.p.config.region, 0, len);
	if ((ret = call(f, &m, &r)) < 0)
		return ret;
	if (r.p.config.size != len || r.p.config.offset != offset) {
		log_warnx("vhost-user: GET_CONFIG reply for %u+%u is %u+%u", offset, len,
			  r.p.config.offset, r.p.config.size);
		return -EPROTO;
	}
	memcpy(buf, r.p.config.region, len);
	return 0;
}

/* The area we are about to map must be a file that holds it, or we SIGBUS on it. */
static int check_inflight(const struct vu_inflight *in, int fd)
{
	struct stat st;
	uint64_t end;

	if (!in->mmap_size || in->mmap_size > VUF_MAX_INFLIGHT ||
	    __builtin_add_overflow(in->mmap_offset, in->mmap_size, &end) ||
	    fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || end > (uint64_t)st.st_size) {
		log_warnx("vhost-user: GET_INFLIGHT_FD reply refused");
		return -EPROTO;
	}
	return 0;
}

int vuf_get_inflight_fd(struct vu_front *f, uint16_t num_queues, uint16_t queue_size,
			struct vu_inflight *out, int *fd)
{
	struct vu_msg m, r;
	int ret;

	msg_init(&m, VU_GET_INFLIGHT_FD, sizeof(m.p.inflight));
	memset(&m.p.inflight, 0, sizeof(m.p.inflight));
	m.p.inflight.num_queues = num_queues;
	m.p.inflight.queue_size = queue_size;
	if ((ret = call(f, &m, &r)) < 0)
		return ret;
	if ((ret = check_inflight(&r.p.inflight, r.fds[0])) < 0) {
		vu_msg_close_fds(&r);
		return ret;
	}
	*out = r.p.inflight;
	/* the layout is what we asked for, whatever the backend echoed */
	out->num_queues = num_queues;
	out->queue_size = queue_size;
	*fd = r.fds[0];
	return 0;
}

int vuf_set_inflight_fd(struct vu_front *f, const struct vu_inflight *in, int fd)
{
	struct vu_msg m;

	if (fd < 0)
		return -EBADF;
	msg_init(&m, VU_SET_INFLIGHT_FD, sizeof(m.p.inflight));
	m.p.inflight = *in;
	m.fds[0] = fd;
	m.nfds = 1;
	return send_req(f, &m);
}
