/* bulkhead-vsock stream-protocol model: header codec and checks, credit accounting, the
 * CONNECT line, the per-connection byte ring and the connection table. Pure functions of
 * their arguments (and malloc): no socket, no ring (tests/unit/dev-vsock). */
#include "vsock.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>

_Static_assert(sizeof(struct virtio_vsock_hdr) == VSOCK_HDR_LEN, "packed 44-byte header");

/* ---- header ------------------------------------------------------------------------------ */

void vsock_hdr_decode(const struct virtio_vsock_hdr *h, struct vsock_pkt *p)
{
	p->src_cid = le64toh(h->src_cid);
	p->dst_cid = le64toh(h->dst_cid);
	p->src_port = le32toh(h->src_port);
	p->dst_port = le32toh(h->dst_port);
	p->len = le32toh(h->len);
	p->type = le16toh(h->type);
	p->op = le16toh(h->op);
	p->flags = le32toh(h->flags);
	p->buf_alloc = le32toh(h->buf_alloc);
	p->fwd_cnt = le32toh(h->fwd_cnt);
}

void vsock_hdr_encode(const struct vsock_pkt *p, struct virtio_vsock_hdr *h)
{
	h->src_cid = htole64(p->src_cid);
	h->dst_cid = htole64(p->dst_cid);
	h->src_port = htole32(p->src_port);
	h->dst_port = htole32(p->dst_port);
	h->len = htole32(p->len);
	h->type = htole16(p->type);
	h->op = htole16(p->op);
	h->flags = htole32(p->flags);
	h->buf_alloc = htole32(p->buf_alloc);
	h->fwd_cnt = htole32(p->fwd_cnt);
}

enum vsock_verdict vsock_pkt_check(const struct vsock_pkt *p, uint64_t guest_cid,
				   uint64_t payload)
{
	/* a spoofed source is not answered: an RST would go to someone the guest is not */
	if (p->src_cid != guest_cid || p->dst_cid != VSOCK_HOST_CID)
		return VSOCK_BAD_CID;
	if (p->type != VIRTIO_VSOCK_TYPE_STREAM)
		return VSOCK_BAD_TYPE;
	switch (p->op) {
	case VIRTIO_VSOCK_OP_RW:
		/* len is what the guest claims; the chain is what it gave */
		if (!p->len || p->len > payload || p->len > VSOCK_PKT_MAX)
			return VSOCK_BAD_LEN;
		return VSOCK_OK;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (p->flags & ~(uint32_t)(VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND))
			return VSOCK_BAD_FLAGS;
		/* fall through */
	case VIRTIO_VSOCK_OP_REQUEST:
	case VIRTIO_VSOCK_OP_RESPONSE:
	case VIRTIO_VSOCK_OP_RST:
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		return p->len ? VSOCK_BAD_LEN : VSOCK_OK;
	default:
		return VSOCK_BAD_OP;
	}
}

const char *vsock_verdict_str(enum vsock_verdict v)
{
	switch (v) {
	case VSOCK_OK:        return "ok";
	case VSOCK_BAD_CID:   return "wrong source or destination CID";
	case VSOCK_BAD_TYPE:  return "not a stream packet";
	case VSOCK_BAD_OP:    return "unknown op";
	case VSOCK_BAD_LEN:   return "bad length";
	case VSOCK_BAD_FLAGS: return "unknown shutdown flags";
	}
	return "?";
}

/* ---- the CONNECT line ---------------------------------------------------------------------- */

int vsock_connect_line(const char *buf, size_t n, uint32_t *port, size_t *linelen)
{
	static const char pfx[] = "CONNECT ";
	const size_t plen = sizeof(pfx) - 1;
	uint64_t v = 0;
	size_t i;

	/* what is there must be a prefix of the line, so junk is refused at its first byte */
	if (memcmp(buf, pfx, MIN(n, plen)))
		return -EINVAL;
	for (i = plen; i < n && i < VSOCK_LINE_MAX; i++) {
		char ch = buf[i];

		if (ch == '\n') {
			if (i == plen)
				return -EINVAL;
			*port = (uint32_t)v;
			*linelen = i + 1;
			return 1;
		}
		/* ten digits at most: 4294967295 */
		if (ch < '0' || ch > '9' || i - plen >= 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(ch - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	return n >= VSOCK_LINE_MAX ? -EINVAL : 0;
}

/* ---- the byte ring ----------------------------------------------------------------------- */

int vsock_buf_put(struct vsock_buf *b, uint32_t cap, const struct iovec *iov, unsigned cnt,
		  uint64_t skip, uint32_t n)
{
	uint32_t tail, first;

	if (!b->data) {
		b->data = malloc(cap);
		if (!b->data)
			return -ENOMEM;
		b->cap = cap;
		b->head = b->len = 0;
	}
	if (n > b->cap - b->len)
		return -ENOSPC;
	tail = (b->head + b->len) % b->cap;
	first = MIN(n, b->cap - tail);
	if (!iov_read(iov, cnt, skip, b->data + tail, first) ||
	    !iov_read(iov, cnt, skip + first, b->data, n - first))
		return -EINVAL;
	b->len += n;
	return 0;
}

unsigned vsock_buf_iov(const struct vsock_buf *b, struct iovec v[2])
{
	uint32_t first;

	if (!b->len)
		return 0;
	first = MIN(b->len, b->cap - b->head);
	v[0] = (struct iovec){ b->data + b->head, first };
	v[1] = (struct iovec){ b->data, b->len - first };
	return b->len > first ? 2 : 1;
}

void vsock_buf_drop(struct vsock_buf *b, uint32_t n)
{
	n = MIN(n, b->len);
	b->head = b->cap ? (b->head + n) % b->cap : 0;
	b->len -= n;
	/* an idle connection holds no buffer: 1024 connections cost 1024 small structs */
	if (!b->len)
		vsock_buf_free(b);
}

void vsock_buf_free(struct vsock_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- credit -------------------------------------------------------------------------------- */

uint32_t vsock_peer_credit(const struct vsock_conn *c)
{
	/* u32 counters wrap; their difference does not (both sides count modulo 2^32) */
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

bool vsock_rx_fits(const struct vsock_conn *c, uint32_t buf_alloc, uint32_t n)
{
	uint32_t held = c->rx_cnt - c->fwd_cnt;

	return held <= buf_alloc && n <= buf_alloc - held;
}

bool vsock_credit_update_due(const struct vsock_conn *c, uint32_t buf_alloc)
{
	return c->fwd_cnt - c->fwd_cnt_sent >= buf_alloc / 2;
}

void vsock_peer_update(struct vsock_conn *c, const struct vsock_pkt *p)
{
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
}

/* ---- the table --------------------------------------------------------------------------- */

static unsigned bucket(uint32_t lport, uint32_t gport)
{
	uint32_t h = lport * 0x9e3779b1u ^ gport * 0x85ebca6bu;

	return (h ^ h >> 16) % VSOCK_HASH;
}

void vsock_table_init(struct vsock_table *t, unsigned max)
{
	memset(t, 0, sizeof(*t));
	t->max = max;
	t->next_port = VSOCK_LOCAL_PORT_FIRST;
}

bool vsock_table_full(const struct vsock_table *t)
{
	return t->n >= t->max;
}

struct vsock_conn *vsock_conn_new(struct vsock_table *t)
{
	struct vsock_conn *c;

	if (vsock_table_full(t))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = -1;
	c->anext = t->all;
	if (t->all)
		t->all->aprev = c;
	t->all = c;
	t->n++;
	return c;
}

struct vsock_conn *vsock_conn_find(const struct vsock_table *t, uint32_t lport, uint32_t gport)
{
	for (struct vsock_conn *c = t->hash[bucket(lport, gport)]; c; c = c->hnext)
		if (c->lport == lport && c->gport == gport)
			return c;
	return NULL;
}

int vsock_conn_hash(struct vsock_table *t, struct vsock_conn *c, uint32_t lport,
		    uint32_t gport)
{
	unsigned b = bucket(lport, gport);

	if (c->hashed || vsock_conn_find(t, lport, gport))
		return -EEXIST;
	c->lport = lport;
	c->gport = gport;
	c->hnext = t->hash[b];
	t->hash[b] = c;
	c->hashed = true;
	return 0;
}

static void unhash(struct vsock_table *t, struct vsock_conn *c)
{
	struct vsock_conn **pp = &t->hash[bucket(c->lport, c->gport)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	c->hashed = false;
}

void vsock_conn_free(struct vsock_table *t, struct vsock_conn *c)
{
	if (c->hashed)
		unhash(t, c);
	if (c->aprev)
		c->aprev->anext = c->anext;
	else
		t->all = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	vsock_buf_free(&c->buf);
	t->n--;
	free(c);
}

uint32_t vsock_local_port(struct vsock_table *t, uint32_t gport)
{
	/* at most max connections exist, so fewer than max+1 tries find a free pair */
	for (;;) {
		uint32_t p = t->next_port;

		t->next_port = p >= UINT32_MAX - 1 ? VSOCK_LOCAL_PORT_FIRST : p + 1;
		if (!vsock_conn_find(t, p, gport))
			return p;
	}
}
