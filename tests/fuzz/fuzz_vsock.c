/* Fuzz bulkhead-vsock's packet path (dev-vsock/io.c, host.c, conn.c) with a hostile guest
 * and hostile host peers: the harness is the vhost-user frontend (a well-formed handshake over
 * a socketpair), the guest driver (TX packets and RX buffers in a 256 KiB guest RAM) and every
 * host peer (unix sockets in a directory of its own, made per input with mkdtemp and removed
 * after it: the worker's cwd while the input runs, as the socket directory is the worker's).
 * It also stands in for main.c's event loop: a pass polls what the worker asked to watch and
 * calls vsock_accept / vsock_conn_readable / vsock_conn_writable. No privileges, no network.
 *
 * Input: a 2-byte header, then ops until the input ends (at most MAX_OPS).
 *   cfg:  bits 0-2 --max-conns - 1, bits 3-4 --buf-alloc (4 KiB, 8 KiB, 64 KiB, 256 KiB),
 *         bits 5-6 queue size 2..16, bit 7 VIRTIO_RING_F_EVENT_IDX
 *   cfg2: bit 0 small socket send buffers (the worker's host sockets and the host peers':
 *         EAGAIN, the per-connection ring, partial writes)
 *   ops:  see enum op; fields are read zero-filled past the end of the input. An op byte
 *         with bit 7 set skips the loop pass that follows a host-peer op.
 * Guest ports are 2000..2007, the host listeners NAME_1024..NAME_1027; the host ports the
 * worker picks for host-initiated connections are VSOCK_LOCAL_PORT_FIRST + k.
 *
 * Oracles beyond "no crash" (ASan checks every guest buffer access against the mapping):
 * - every packet on the RX queue: src_cid 2, dst_cid the guest's, type STREAM, a known op,
 *   buf_alloc ours, len 0 except on RW, used length = header + len within the chain's
 *   writable bytes, RW len 1..64 KiB; SHUTDOWN flags within RCV|SEND;
 * - RW to the guest only on a connection it accepted (RESPONSE) or we accepted (RESPONSE
 *   sent), never more than its credit as the worker must see it (virtio 1.2 5.10.6.3:
 *   buf_alloc - (tx_cnt - fwd_cnt) of the guest's last packet on that connection, none when
 *   the guest claims more consumed than sent), and its bytes are exactly the next bytes the
 *   host peer wrote (after its CONNECT line);
 * - our fwd_cnt never goes back and never exceeds what the guest sent on the connection;
 * - what a host peer reads is a prefix of the RW payloads the guest sent on its connection
 *   (after "OK <port>\n" for a host-initiated one), in order; a guest REQUEST reaches
 *   NAME_<dst_port>, a CONNECT line's REQUEST goes to the port the line names;
 * - a malformed packet, an RST or a second REQUEST for a live connection ends it; a guest
 *   that stays within the credit we told it is never reset for exceeding it;
 * - the table never holds more than --max-conns, and each connection's ring holds exactly
 *   rx_cnt - fwd_cnt <= buf_alloc bytes;
 * - at the end every host peer sees its socket closed, nothing stays watched, no fd leaks.
 * Crash inputs are written relative to the cwd of the moment: run with an absolute
 * -artifact_prefix (scripts/fuzz.sh does). */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "fuzzlib.h"
#include "log.h"
#include "vsock.h"

#define GUEST_SIZE   0x40000u
#define POKE_BASE    0x1000u       /* guest pokes (raw chains' headers, indirect tables) */
#define TX_PKT       0x8000u       /* OP_TX packets, up to RX_BASE */
#define RX_BASE      0x20000u      /* RX descriptor slot s writes inside RX_BASE + s * RX_SLOT */
#define RX_SLOT      0x2000u
#define QSIZE_MAX    16u
#define MAX_OPS      256
#define MAX_PEERS    MAX_OPS
#define INPUT_CAP    65536
#define CID          42u
#define NAME         "vm"
#define NLISTEN      4u
#define HPORT(k)     (1024u + (k))
#define GPORT(k)     (2000u + ((k) & 7))
#define FILL_CAP     (256u << 10)  /* pattern bytes host peers may write per input */

enum op {
	OP_TX,        /* a guest packet, see op_tx */
	OP_TXRAW,     /* n-1 (& 7), n x { le16 addr/4, le16 len, flags, next - slot }: any chain */
	OP_RX,        /* b: n-1 (& 7), bit 7 no kick; n x { le16 off, le16 len, bit 0 readable } */
	OP_POKE,      /* le16 off, len, bytes: the guest writes at POKE_BASE + off */
	OP_KICK,      /* q */
	OP_LOOP,      /* a pass of the event loop */
	OP_MSG,       /* kind, q, le16 a, le16 b: restart a queue, GET_CONFIG or SET_CONFIG */
	OP_HCONNECT,  /* b: bit 3 raw line (len, bytes), else "CONNECT <GPORT(b)>\n" */
	OP_HWRITE,    /* peer, mode (bit 0 pattern), le16 len (pattern: x2), bytes */
	OP_HREAD,     /* peer, le16 max (0: 64 KiB) */
	OP_HSHUT,     /* peer, how */
	OP_HCLOSE,    /* peer */
	OP_LISTEN,    /* k, backlog */
	OP_UNLISTEN,  /* k */
	OP_ACCEPT,    /* k: the host listener accepts one connection */
	OP_MAX,
};

/* ---- state of one run ---- */

struct bytes {
	uint8_t *p;
	size_t n, cap;
};

static void bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = (b->n + n) * 2;
		uint8_t *q = realloc(b->p, cap);

		if (!q)
			abort();
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

enum kind { HOST_INIT, GUEST_INIT };

/* A host peer: one end of a worker connection, and what the guest and it exchanged. */
struct peer {
	enum kind kind;
	int fd;                     /* the harness's end; -1 before accept or after close */
	struct vsock_conn *c;       /* the worker's connection while it lives */
	bool mapped, pending;       /* met its connection; GUEST_INIT: in the listen backlog */
	unsigned listener;          /* GUEST_INIT */
	struct sockaddr_un name;    /* HOST_INIT: its autobound abstract address */
	socklen_t namelen;
	bool keyed, established;
	uint32_t lport, gport;
	struct bytes to_host;       /* what the host end may read: RW payloads (after OK) */
	size_t got;                 /* of it, bytes the host end read */
	uint32_t guest_data;        /* RW payload bytes the guest sent */
	struct bytes from_host;     /* what the host end wrote */
	size_t line_end;            /* HOST_INIT: the stream starts after the CONNECT line */
	size_t delivered;           /* of the stream, bytes the guest received */
	uint32_t g_buf_alloc, g_fwd_cnt, tx_cnt;    /* the guest's credit, as the worker sees it */
	uint32_t fwd_seen;          /* the latest fwd_cnt the guest heard */
};

struct rxchain {
	bool busy;
	unsigned n;
	uint8_t slot[QSIZE_MAX];
};

struct run {
	struct vsock_dev d;
	int sock;                   /* the frontend's end */
	unsigned qsize, max_conns;
	uint64_t features;
	bool small_buf, lost, tx_later;
	uint16_t avail_idx[VSOCK_NQUEUES], next_desc[VSOCK_NQUEUES], rx_used;
	int lis[NLISTEN];
	struct peer peer[MAX_PEERS];
	unsigned npeers;
	struct rxchain rx[QSIZE_MAX];
	bool slot_busy[QSIZE_MAX];
	struct vsock_pkt req;       /* the guest REQUEST of this TX op, if it had no connection */
	bool req_valid;
	size_t filled;
	uint8_t pkt[VSOCK_HDR_LEN + VSOCK_PKT_MAX + 64];
};

static bool in_ram(uint64_t addr, uint64_t len)
{
	return addr <= GUEST_SIZE && len <= GUEST_SIZE - addr;
}

/* ---- peers and the worker's connections ---- */

static struct peer *new_peer(struct run *r, enum kind kind)
{
	struct peer *pe;

	if (r->npeers == MAX_PEERS)
		abort();   /* at most one per op */
	pe = &r->peer[r->npeers++];
	memset(pe, 0, sizeof(*pe));
	pe->kind = kind;
	pe->fd = -1;
	return pe;
}

/* A live connection the worker hashed under (lport, gport): where it routes a guest packet. */
static struct peer *live_peer(struct run *r, uint32_t lport, uint32_t gport)
{
	for (unsigned i = 0; i < r->npeers; i++) {
		struct peer *pe = &r->peer[i];

		if (pe->c && pe->keyed && pe->lport == lport && pe->gport == gport)
			return pe;
	}
	return NULL;
}

/* The newest connection ever hashed under the pair (RX packets may follow its close). */
static struct peer *newest_peer(struct run *r, uint32_t lport, uint32_t gport)
{
	for (unsigned i = r->npeers; i-- > 0;) {
		struct peer *pe = &r->peer[i];

		if (pe->keyed && pe->lport == lport && pe->gport == gport)
			return pe;
	}
	return NULL;
}

/* The port of a complete "CONNECT <port>\n" at the start of b, and where the line ends. */
static bool parse_line(const struct bytes *b, uint32_t *port, size_t *end)
{
	uint64_t v = 0;
	size_t i;

	if (b->n < 10 || memcmp(b->p, "CONNECT ", 8))
		return false;
	for (i = 8; i < b->n && i < 19 && b->p[i] >= '0' && b->p[i] <= '9'; i++)
		v = v * 10 + (b->p[i] - '0');
	if (i == 8 || i >= b->n || b->p[i] != '\n' || v > UINT32_MAX)
		return false;
	*port = (uint32_t)v;
	*end = i + 1;
	return true;
}

/* c was hashed: its pair is known. A host peer's line must have named the guest port. */
static void key(struct peer *pe, struct vsock_conn *c)
{
	uint32_t port;

	if (pe->keyed || !c->hashed)
		return;
	pe->keyed = true;
	pe->lport = c->lport;
	pe->gport = c->gport;
	if (pe->kind == HOST_INIT &&
	    (!parse_line(&pe->from_host, &port, &pe->line_end) || port != c->gport ||
	     c->lport < VSOCK_LOCAL_PORT_FIRST))
		abort();   /* a REQUEST for a line that did not ask for it */
}

/* A guest-initiated connection: its socket reached the listener of the REQUEST's port. The
 * model follows each TX chain as the worker takes it; a chain the worker held back and took
 * later (TX resumed, or the queue restarted) was not followed, r->lost says so, and then the
 * REQUEST is known only from what the worker made of it. */
static struct peer *map_guest_conn(struct run *r, struct vsock_conn *c, const char *path)
{
	char want[32];
	struct peer *pe;
	bool followed = r->req_valid && c->lport == r->req.dst_port &&
			c->gport == r->req.src_port;

	snprintf(want, sizeof(want), NAME "_%u", c->lport);
	if (strcmp(path, want) || (!followed && !r->lost))
		abort();
	r->req_valid = false;
	pe = new_peer(r, GUEST_INIT);
	pe->listener = c->lport - HPORT(0);
	pe->pending = true;
	pe->g_buf_alloc = followed ? r->req.buf_alloc : c->peer_buf_alloc;
	pe->g_fwd_cnt = followed ? r->req.fwd_cnt : c->peer_fwd_cnt;
	return pe;
}

/* The peer of c, found by the address of c's other end. */
static struct peer *map_conn(struct run *r, struct vsock_conn *c)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	struct peer *pe = c->ev[0];
	int one = 1;

	if (pe)
		return pe;
	memset(&sa, 0, sizeof(sa));
	if (getpeername(c->fd, (struct sockaddr *)&sa, &len) < 0 || len <= sizeof(sa_family_t))
		abort();
	if (sa.sun_path[0]) {
		pe = map_guest_conn(r, c, sa.sun_path);
	} else {
		for (unsigned i = 0; i < r->npeers && !pe; i++)
			if (r->peer[i].kind == HOST_INIT && !r->peer[i].mapped &&
			    r->peer[i].namelen == len && !memcmp(&r->peer[i].name, &sa, len))
				pe = &r->peer[i];
		if (!pe)
			abort();   /* a connection from no host peer of ours */
	}
	pe->mapped = true;
	pe->c = c;
	c->ev[0] = pe;    /* main.c's event slot: the loop's own, and we are the loop */
	if (r->small_buf)
		setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
	key(pe, c);
	return pe;
}

static int conn_watch(struct vsock_dev *d, struct vsock_conn *c)
{
	key(map_conn(d->loop, c), c);
	return 0;
}

static void conn_forget(struct vsock_dev *d, struct vsock_conn *c)
{
	struct peer *pe = map_conn(d->loop, c);

	key(pe, c);
	pe->c = NULL;
}

static void tx_later(struct vsock_dev *d)
{
	((struct run *)d->loop)->tx_later = true;
}

/* After each op: every connection has its peer (oldest first), and the table its limits. */
static void check_table(struct run *r)
{
	struct vsock_conn *c = r->d.tab.all;
	unsigned n = 0, live = 0;

	while (c && c->anext)
		c = c->anext;
	for (; c; c = c->aprev, n++) {
		key(map_conn(r, c), c);
		if (c->buf.len > r->d.buf_alloc || c->rx_cnt - c->fwd_cnt != c->buf.len)
			abort();   /* the ring: what the guest sent and the host did not take */
	}
	for (unsigned i = 0; i < r->npeers; i++)
		live += r->peer[i].c != NULL;
	if (n != r->d.tab.n || n > r->max_conns || live != n)
		abort();
}

/* ---- the frontend ---- */

/* One message through the backend; false when the connection is finished. */
static bool msg(struct run *r, uint32_t req, const void *p, uint32_t len, int fd)
{
	return frontend_msg(&r->d.vu, r->sock, req, p, len, fd);
}

/* No protocol features: a queue runs once started. */
static bool start_queue(struct run *r, unsigned q, uint16_t base)
{
	return frontend_start_queue(&r->d.vu, r->sock, q, r->qsize, base, false);
}

static bool handshake(struct run *r)
{
	if (!msg(r, VU_SET_FEATURES, &r->features, 8, -1) || !frontend_mem_table(&r->d.vu, r->sock))
		return false;
	for (unsigned q = 0; q < VSOCK_NQUEUES; q++)
		if (!start_queue(r, q, 0))
			return false;
	return true;
}

/* Stop a queue and start it again where the device stopped (it holds no chain between
 * calls, so the driver's view goes on unchanged); or the config space (SET_CONFIG: its
 * bytes follow). */
static bool op_msg(struct run *r, struct input *in)
{
	unsigned kind = take8(in) % 3, q = take8(in) % VSOCK_NQUEUES;
	struct vu_vring_state s = { q, 0 };
	struct vu_config c = { .offset = take16(in) & 0x1ff };
	uint16_t base = vq_get_base(&r->d.vu.q[q].vq);

	c.size = take16(in) & 0xff;

	switch (kind) {
	case 0:
		return msg(r, VU_GET_VRING_BASE, &s, sizeof(s), -1) && start_queue(r, q, base);
	case 1:
		return msg(r, VU_GET_CONFIG, &c, VU_CONFIG_HDR_SIZE + c.size, -1);
	default:
		take(in, c.region, c.size);
		return msg(r, VU_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + c.size, -1);
	}
}

/* ---- the guest driver ---- */

static uint16_t used_idx(unsigned q)
{
	return le16toh(__atomic_load_n((uint16_t *)(guest + q * RING_STRIDE + RING_USED + 2),
				       __ATOMIC_ACQUIRE));
}

enum gather { G_PACKET, G_NONE, G_FAIL };

/* The readable bytes of TX chain head as vq_pop takes them (the first sizeof(r->pkt) kept,
 * *total counted): G_NONE for a chain tx_one drops (a writable buffer, no header), G_FAIL
 * for one vq_pop must refuse (a loop, a bad table, a buffer outside RAM). */
static enum gather tx_gather(struct run *r, uint16_t head, uint64_t *total)
{
	const uint8_t *table = guest + VSOCK_Q_TX * RING_STRIDE;
	unsigned max = r->qsize, i = head, count = 0;
	bool indirect = false;

	*total = 0;
	for (;;) {
		struct vring_desc d;
		uint64_t addr;
		uint32_t len;
		uint16_t fl;

		if (++count > max)
			return G_FAIL;
		memcpy(&d, table + 16 * i, sizeof(d));
		addr = le64toh(d.addr);
		len = le32toh(d.len);
		fl = le16toh(d.flags);
		if (fl & VRING_DESC_F_INDIRECT) {
			if (indirect || count > 1 || (fl & VRING_DESC_F_NEXT) || !len || len % 16 ||
			    len / 16 > VQ_MAX_INDIRECT || !in_ram(addr, len))
				return G_FAIL;
			table = guest + addr;
			max = len / 16;
			indirect = true;
			i = count = 0;
			continue;
		}
		if (fl & VRING_DESC_F_WRITE)
			return G_NONE;
		if (!in_ram(addr, len))
			return G_FAIL;
		if (*total < sizeof(r->pkt))
			memcpy(r->pkt + *total, guest + addr,
			       len < sizeof(r->pkt) - *total ? len : sizeof(r->pkt) - *total);
		*total += len;
		if (!(fl & VRING_DESC_F_NEXT))
			return *total >= VSOCK_HDR_LEN ? G_PACKET : G_NONE;
		if ((i = le16toh(d.next)) >= max)
			return G_FAIL;
	}
}

/* vsock_pkt_check's rules past the CIDs, as virtio-vsock states them. */
static bool pkt_valid(const struct vsock_pkt *p, uint64_t payload)
{
	if (p->type != VIRTIO_VSOCK_TYPE_STREAM)
		return false;
	switch (p->op) {
	case VIRTIO_VSOCK_OP_RW:
		return p->len && p->len <= payload && p->len <= VSOCK_PKT_MAX;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		return !(p->flags & ~3u) && !p->len;
	case VIRTIO_VSOCK_OP_REQUEST:
	case VIRTIO_VSOCK_OP_RESPONSE:
	case VIRTIO_VSOCK_OP_RST:
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		return !p->len;
	}
	return false;
}

/* What a packet the worker took does to its connection's model. */
static void tx_effect(struct run *r, struct peer *pe, const struct vsock_pkt *p, bool fits,
		      uint64_t over_credit)
{
	char ok[24];

	pe->g_buf_alloc = p->buf_alloc;
	pe->g_fwd_cnt = p->fwd_cnt;
	switch (p->op) {
	case VIRTIO_VSOCK_OP_RW:
		if (fits && r->d.stats.over_credit != over_credit)
			abort();   /* reset for exceeding a credit it kept to */
		bytes_add(&pe->to_host, r->pkt + VSOCK_HDR_LEN, p->len);
		pe->guest_data += p->len;
		break;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (pe->kind == HOST_INIT) {
			snprintf(ok, sizeof(ok), "OK %u\n", pe->lport);
			bytes_add(&pe->to_host, ok, strlen(ok));
			pe->established = true;
		}
		break;
	case VIRTIO_VSOCK_OP_RST:
	case VIRTIO_VSOCK_OP_REQUEST:
		if (pe->c)
			abort();   /* an RST or a second REQUEST ends the connection */
		break;
	}
}

/* Publish TX chain head, kick, and follow what the worker took into the model. */
static void tx_kick(struct run *r, uint16_t head)
{
	uint64_t total, over_credit = r->d.stats.over_credit;
	enum gather g = tx_gather(r, head, &total);
	struct virtio_vsock_hdr h;
	struct peer *pe = NULL;
	struct vsock_pkt p;
	uint16_t used = used_idx(VSOCK_Q_TX);
	bool valid = false, fits = false;

	r->req_valid = false;
	if (g == G_PACKET) {
		memcpy(&h, r->pkt, sizeof(h));
		vsock_hdr_decode(&h, &p);
		if (p.src_cid == CID && p.dst_cid == VSOCK_HOST_CID)
			pe = live_peer(r, p.dst_port, p.src_port);
		valid = pe && pkt_valid(&p, total - VSOCK_HDR_LEN);
		fits = valid && p.op == VIRTIO_VSOCK_OP_RW &&
		       pe->guest_data + p.len - pe->fwd_seen <= r->d.buf_alloc;
		r->req = p;
		r->req_valid = !pe && p.op == VIRTIO_VSOCK_OP_REQUEST;
	}
	ring_publish(VSOCK_Q_TX, r->qsize, &r->avail_idx[VSOCK_Q_TX], head);
	w_fire(r->d.vu.q[VSOCK_Q_TX].kick_fd);
	if (used_idx(VSOCK_Q_TX) == used) {
		/* held back (taken later, unseen by the model) or refused by a broken queue */
		r->lost = true;
		return;
	}
	if (g == G_FAIL)
		r->lost = true;  /* taken, yet not what we read: the oracles stop trusting */
	if (!pe)
		return;
	if (!valid) {
		if (pe->c)
			abort();    /* a malformed packet must end its connection */
		return;
	}
	tx_effect(r, pe, &p, fits, over_credit);
}

static unsigned tx_slot(struct run *r)
{
	return r->next_desc[VSOCK_Q_TX]++ % r->qsize;
}

static uint32_t dst_port(struct input *in, bool raw)
{
	unsigned b;

	if (raw)
		return take32(in);
	b = take8(in);
	return b & 0x80 ? VSOCK_LOCAL_PORT_FIRST + (b & 15) : HPORT(b & 3);
}

/* sel: bit 0 raw src_cid, 1 raw dst_cid, 2 raw type, 3 raw src port, 4 raw dst port (else a
 * selector: host listener port or local port), 5 raw len (else the payload's), 6 padding
 * after the payload, 7 the chain cut in up to 4 pieces; then op, ports, shutdown flags,
 * buf_alloc, fwd_cnt, le16 payload length and bytes, len, padding, cuts. */
static void op_tx(struct run *r, struct input *in)
{
	unsigned sel = take8(in), n, nseg = 1, cut[5] = { 0 };
	struct vsock_pkt p = { .type = VIRTIO_VSOCK_TYPE_STREAM };
	struct virtio_vsock_hdr h;
	uint64_t total;
	uint16_t head = 0;

	p.op = (uint16_t)take8(in);
	p.src_cid = sel & 1 ? take64(in) : CID;
	p.dst_cid = sel & 2 ? take64(in) : VSOCK_HOST_CID;
	if (sel & 4)
		p.type = (uint16_t)take16(in);
	p.src_port = sel & 8 ? take32(in) : GPORT(take8(in));
	p.dst_port = dst_port(in, sel & 16);
	p.flags = take8(in);
	p.buf_alloc = take32(in);
	p.fwd_cnt = take32(in);
	n = take16(in) % (RX_BASE - TX_PKT - VSOCK_HDR_LEN);
	take(in, guest + TX_PKT + VSOCK_HDR_LEN, n);
	p.len = sel & 32 ? take32(in) : n;
	total = VSOCK_HDR_LEN + n + (sel & 64 ? take16(in) : 0);
	if (total > RX_BASE - TX_PKT)
		total = RX_BASE - TX_PKT;
	vsock_hdr_encode(&p, &h);
	memcpy(guest + TX_PKT, &h, sizeof(h));
	if (sel & 128)
		nseg = (take8(in) & 3) + 1;
	if (nseg > r->qsize)
		nseg = r->qsize;
	for (unsigned i = 1; i < nseg; i++)
		cut[i] = (unsigned)(take16(in) % (total + 1));
	cut[nseg] = (unsigned)total;
	for (unsigned i = 1; i < nseg; i++)        /* sorted: pieces in order */
		for (unsigned j = i + 1; j < nseg; j++)
			if (cut[j] < cut[i]) {
				unsigned t = cut[i];

				cut[i] = cut[j];
				cut[j] = t;
			}
	for (unsigned i = 0; i < nseg; i++) {
		unsigned slot = tx_slot(r);

		if (!i)
			head = (uint16_t)slot;
		ring_desc(VSOCK_Q_TX, slot, TX_PKT + cut[i], cut[i + 1] - cut[i],
			  i + 1 < nseg ? VRING_DESC_F_NEXT : 0, (uint16_t)((slot + 1) % r->qsize));
	}
	tx_kick(r, head);
}

/* Any chain: buffers anywhere (in RAM or not), any flags, any next. */
static void op_txraw(struct run *r, struct input *in)
{
	unsigned n = (take8(in) & 7) + 1;
	uint16_t head = r->next_desc[VSOCK_Q_TX] % r->qsize;

	for (unsigned i = 0; i < n; i++) {
		uint64_t addr = (uint64_t)take16(in) << 2;
		uint32_t len = take16(in);
		unsigned fl = take8(in), slot = tx_slot(r);

		/* next relative to the slot: 0 is a loop, a large one past the table */
		ring_desc(VSOCK_Q_TX, slot, addr, len,
			  (fl & 1 ? VRING_DESC_F_WRITE : 0) | (fl & 2 ? VRING_DESC_F_INDIRECT : 0) |
			  (fl & 4 ? VRING_DESC_F_NEXT : 0), (uint16_t)((slot + take8(in)) & 0xff));
	}
	tx_kick(r, head);
}

/* RX buffers: each descriptor in its own slot's area, so no two outstanding buffers overlap
 * and a packet stays where the device wrote it until we read it. */
static void op_rx(struct run *r, struct input *in)
{
	unsigned b = take8(in), n = (b & 7) + 1, got = 0;
	struct rxchain ch = { .busy = true, .n = n };

	for (unsigned s = 0; s < r->qsize && got < n; s++)
		if (!r->slot_busy[s])
			ch.slot[got++] = (uint8_t)s;
	for (unsigned i = 0; i < n; i++) {
		unsigned off = take16(in) % RX_SLOT, len = take16(in) % (RX_SLOT - off + 1);
		unsigned fl = take8(in);

		if (got < n)
			continue;   /* no room: the fields are still read */
		ring_desc(VSOCK_Q_RX, ch.slot[i], RX_BASE + ch.slot[i] * RX_SLOT + off, len,
			  (fl & 1 ? 0 : VRING_DESC_F_WRITE) | (i + 1 < n ? VRING_DESC_F_NEXT : 0),
			  i + 1 < n ? ch.slot[i + 1] : 0);
		r->slot_busy[ch.slot[i]] = true;
	}
	if (got < n)
		return;
	r->rx[ch.slot[0]] = ch;
	ring_publish(VSOCK_Q_RX, r->qsize, &r->avail_idx[VSOCK_Q_RX], ch.slot[0]);
	if (!(b & 0x80))
		w_fire(r->d.vu.q[VSOCK_Q_RX].kick_fd);
}

/* ---- what the guest receives ---- */

/* Data for the guest: on an accepted connection, within credit, the host peer's next bytes. */
static void rx_data(struct run *r, struct peer *pe, const struct vsock_pkt *p)
{
	uint32_t in_flight = pe->tx_cnt - pe->g_fwd_cnt;
	uint32_t credit = in_flight >= pe->g_buf_alloc ? 0 : pe->g_buf_alloc - in_flight;

	if (!pe->established || !p->len || p->len > VSOCK_PKT_MAX)
		abort();
	if (!r->lost && p->len > credit)
		abort();   /* past the guest's credit */
	pe->tx_cnt += p->len;
	if (!r->lost && (pe->from_host.n < pe->line_end + pe->delivered + p->len ||
			 memcmp(pe->from_host.p + pe->line_end + pe->delivered,
				r->pkt + VSOCK_HDR_LEN, p->len)))
		abort();   /* not what the host peer wrote next */
	pe->delivered += p->len;
}

static void rx_packet(struct run *r, uint32_t len)
{
	struct virtio_vsock_hdr h;
	struct vsock_pkt p;
	struct peer *pe;

	memcpy(&h, r->pkt, sizeof(h));
	vsock_hdr_decode(&h, &p);
	if (p.src_cid != VSOCK_HOST_CID || p.dst_cid != CID || p.type != VIRTIO_VSOCK_TYPE_STREAM ||
	    p.buf_alloc != r->d.buf_alloc || p.len != len - VSOCK_HDR_LEN ||
	    p.op < VIRTIO_VSOCK_OP_REQUEST || p.op > VIRTIO_VSOCK_OP_CREDIT_REQUEST ||
	    (p.op != VIRTIO_VSOCK_OP_RW && p.len))
		abort();
	if (p.op == VIRTIO_VSOCK_OP_RST)
		return;     /* for any pair the guest named, and carries no counters */
	pe = newest_peer(r, p.src_port, p.dst_port);
	if (!pe)
		abort();    /* a packet of no connection */
	if (!r->lost && (p.fwd_cnt - pe->fwd_seen > pe->guest_data - pe->fwd_seen))
		abort();    /* fwd_cnt went back or beyond what the guest sent */
	pe->fwd_seen = p.fwd_cnt;
	switch (p.op) {
	case VIRTIO_VSOCK_OP_RW:
		rx_data(r, pe, &p);
		break;
	case VIRTIO_VSOCK_OP_REQUEST:
		if (pe->kind != HOST_INIT)
			abort();
		break;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (pe->kind != GUEST_INIT)
			abort();
		pe->established = true;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (!p.flags || (p.flags & ~3u))
			abort();
		break;
	}
}

/* One used RX chain: a posted one, writable only, the packet within its buffers. */
static void rx_used(struct run *r, uint32_t id, uint32_t len)
{
	struct rxchain *ch = id < r->qsize ? &r->rx[id] : NULL;
	uint64_t total = 0;

	if (!ch || !ch->busy)
		abort();
	for (unsigned i = 0; i < ch->n; i++) {
		const uint8_t *d = guest + VSOCK_Q_RX * RING_STRIDE + 16 * ch->slot[i];
		uint64_t addr;
		uint32_t l;
		uint16_t fl;

		memcpy(&addr, d, 8);
		memcpy(&l, d + 8, 4);
		memcpy(&fl, d + 12, 2);
		addr = le64toh(addr);
		l = le32toh(l);
		if (!(le16toh(fl) & VRING_DESC_F_WRITE) && l)
			abort();   /* the device never completes a chain it may not write */
		if (total < sizeof(r->pkt))
			memcpy(r->pkt + total, guest + addr,
			       l < sizeof(r->pkt) - total ? l : sizeof(r->pkt) - total);
		total += l;
		r->slot_busy[ch->slot[i]] = false;
	}
	ch->busy = false;
	if (len < VSOCK_HDR_LEN || len > total)
		abort();
	rx_packet(r, len);
}

static void rx_collect(struct run *r)
{
	const uint8_t *used = guest + VSOCK_Q_RX * RING_STRIDE + RING_USED;
	uint16_t idx = used_idx(VSOCK_Q_RX);

	while (r->rx_used != idx) {
		struct vring_used_elem u;

		memcpy(&u, used + 4 + 8 * (r->rx_used++ % r->qsize), sizeof(u));
		rx_used(r, le32toh(u.id), le32toh(u.len));
	}
}

/* ---- host peers ---- */

/* A round of main.c's loop: the VM's socket, then each connection's socket as watched. */
static void loop_round(struct run *r)
{
	struct pollfd pf[MAX_PEERS + 1];
	unsigned idx[MAX_PEERS], n;

	if (r->tx_later) {
		r->tx_later = false;
		vsock_tx_resume(&r->d);
	}
	pf[0] = (struct pollfd){ r->d.listen_fd, POLLIN, 0 };
	n = 1;
	for (unsigned i = 0; i < r->npeers; i++) {
		const struct vsock_conn *c = r->peer[i].c;

		if (c && (c->rd_watch || c->wr_watch)) {
			idx[n - 1] = i;
			pf[n++] = (struct pollfd){ c->fd, (short)((c->rd_watch ? POLLIN : 0) |
						  (c->wr_watch ? POLLOUT : 0)), 0 };
		}
	}
	if (poll(pf, n, 0) <= 0)
		return;
	if (pf[0].revents)
		vsock_accept(&r->d);
	for (unsigned i = 1; i < n; i++) {
		struct vsock_conn *c = r->peer[idx[i - 1]].c;   /* NULL once closed */
		short ev = pf[i].revents;

		/* libevent: a read may close c; the write side only when it did not */
		if (c && c->rd_watch && (ev & (POLLIN | POLLHUP | POLLERR)))
			vsock_conn_readable(&r->d, c);
		else if (c && c->wr_watch && (ev & (POLLOUT | POLLHUP | POLLERR)))
			vsock_conn_writable(&r->d, c);
	}
}

/* Two rounds: what one accepts (a host peer's CONNECT line), the next reads. */
static void loop_pass(struct run *r)
{
	loop_round(r);
	loop_round(r);
}

/* The host ends the harness holds, chosen by an input byte. */
static struct peer *pick(struct run *r, struct input *in)
{
	unsigned n = 0, k = take8(in);

	for (unsigned i = 0; i < r->npeers; i++)
		n += r->peer[i].fd >= 0;
	if (!n)
		return NULL;
	k %= n;
	for (unsigned i = 0; i < r->npeers; i++)
		if (r->peer[i].fd >= 0 && !k--)
			return &r->peer[i];
	return NULL;
}

static void host_send(struct peer *pe, const void *p, size_t n)
{
	ssize_t k = send(pe->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (k > 0)
		bytes_add(&pe->from_host, p, (size_t)k);
}

/* What the host end reads must be the guest's next bytes; false at EOF or nothing. */
static bool host_read(struct run *r, struct peer *pe, size_t max)
{
	ssize_t n = recv(pe->fd, r->pkt, max < sizeof(r->pkt) ? max : sizeof(r->pkt),
			 MSG_DONTWAIT);

	if (n <= 0)
		return false;
	if (!r->lost && (pe->got + (size_t)n > pe->to_host.n ||
			 memcmp(pe->to_host.p + pe->got, r->pkt, (size_t)n)))
		abort();   /* not what the guest sent on this connection */
	pe->got += (size_t)n;
	return true;
}

static void op_hconnect(struct run *r, struct input *in)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned b = take8(in), n;
	char line[64];
	struct peer *pe;
	int s;

	if (b & 8) {
		n = take8(in) % sizeof(line);
		take(in, line, n);
	} else {
		n = (unsigned)snprintf(line, sizeof(line), "CONNECT %u\n", GPORT(b));
	}
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return;
	pe = new_peer(r, HOST_INIT);
	pe->namelen = sizeof(pe->name);
	/* an abstract address of its own (autobind): how we know its connection later */
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa_family_t)) < 0 ||
	    getsockname(s, (struct sockaddr *)&pe->name, &pe->namelen) < 0)
		abort();
	snprintf(sa.sun_path, sizeof(sa.sun_path), NAME);
	if (r->small_buf)
		setsockopt(s, SOL_SOCKET, SO_SNDBUF, &(int){ 1 }, sizeof(int));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(s);   /* the VM's backlog is full */
		r->npeers--;
		return;
	}
	pe->fd = s;
	host_send(pe, line, n);
}

static void op_hwrite(struct run *r, struct input *in)
{
	struct peer *pe = pick(r, in);
	unsigned mode = take8(in), n = take16(in);
	static uint8_t buf[2 * 65536];

	if (mode & 1) {
		/* a pattern: long writes from short inputs, up to FILL_CAP per input */
		n *= 2;
		if (n > FILL_CAP - r->filled)
			n = (unsigned)(FILL_CAP - r->filled);
		r->filled += n;
		for (unsigned i = 0; i < n; i++)
			buf[i] = (uint8_t)(mode + i * 7 + (i >> 8));
	} else {
		take(in, buf, n);
	}
	if (pe)
		host_send(pe, buf, n);
}

static void op_listen(struct run *r, struct input *in)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned k = take8(in) % NLISTEN, backlog = take8(in) % 4;
	int s;

	if (r->lis[k] >= 0)
		return;
	snprintf(sa.sun_path, sizeof(sa.sun_path), NAME "_%u", HPORT(k));
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, (int)backlog) < 0)
		abort();
	r->lis[k] = s;
}

static void unlisten(struct run *r, unsigned k)
{
	char path[32];

	if (r->lis[k] < 0)
		return;
	close(r->lis[k]);
	r->lis[k] = -1;
	snprintf(path, sizeof(path), NAME "_%u", HPORT(k));
	unlink(path);
	/* what waited in its backlog is reset with it */
	for (unsigned i = 0; i < r->npeers; i++)
		if (r->peer[i].pending && r->peer[i].listener == k)
			r->peer[i].pending = false;
}

/* The oldest connection of listener k's backlog: the oldest REQUEST that reached it. */
static void op_accept(struct run *r, struct input *in)
{
	unsigned k = take8(in) % NLISTEN;
	int s;

	if (r->lis[k] < 0)
		return;
	s = accept4(r->lis[k], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (s < 0)
		return;
	if (r->small_buf)
		setsockopt(s, SOL_SOCKET, SO_SNDBUF, &(int){ 1 }, sizeof(int));
	for (unsigned i = 0; i < r->npeers; i++) {
		struct peer *pe = &r->peer[i];

		if (pe->pending && pe->listener == k) {
			pe->pending = false;
			pe->fd = s;
			return;
		}
	}
	abort();   /* a connection to the listener the worker does not know of */
}

static void op_host(struct run *r, struct input *in, unsigned op)
{
	struct peer *pe;
	unsigned max;

	switch (op) {
	case OP_HCONNECT:
		op_hconnect(r, in);
		break;
	case OP_HWRITE:
		op_hwrite(r, in);
		break;
	case OP_HREAD:
		pe = pick(r, in);
		max = take16(in);
		if (pe)
			host_read(r, pe, max ? max : 65536);
		break;
	case OP_HSHUT:
		if ((pe = pick(r, in)))
			shutdown(pe->fd, (int)(take8(in) % 3));
		break;
	case OP_HCLOSE:
		if ((pe = pick(r, in))) {
			close(pe->fd);
			pe->fd = -1;
		}
		break;
	case OP_LISTEN:
		op_listen(r, in);
		break;
	case OP_UNLISTEN:
		unlisten(r, take8(in) % NLISTEN);
		break;
	default:
		op_accept(r, in);
		break;
	}
}

/* One op; false when the frontend connection is finished. */
static bool one_op(struct run *r, struct input *in)
{
	unsigned b = take8(in), op = (b & 0x7f) % OP_MAX, off, len;

	switch (op) {
	case OP_TX:
		op_tx(r, in);
		break;
	case OP_TXRAW:
		op_txraw(r, in);
		break;
	case OP_RX:
		op_rx(r, in);
		break;
	case OP_POKE:
		off = take16(in);
		len = take8(in);
		take(in, guest + POKE_BASE + off, len);
		break;
	case OP_KICK:
		w_fire(r->d.vu.q[take8(in) % VSOCK_NQUEUES].kick_fd);
		break;
	case OP_LOOP:
		loop_pass(r);
		break;
	case OP_MSG:
		if (!op_msg(r, in))
			return false;
		break;
	default:
		op_host(r, in, op);
		if (!(b & 0x80))
			loop_pass(r);
		break;
	}
	rx_collect(r);
	check_table(r);
	return !r->d.vu.broken;
}

/* ---- one input ---- */

static unsigned count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The worker goes away as main.c's does; every host end then reads what it was owed and
 * sees its socket closed. */
static void finish(struct run *r)
{
	for (unsigned i = 0; i < 4; i++) {
		loop_pass(r);
		for (unsigned j = 0; j < r->npeers; j++)
			while (r->peer[j].fd >= 0 && host_read(r, &r->peer[j], 65536))
				;
		rx_collect(r);
	}
	check_table(r);
	vsock_dev_disconnect(&r->d);
	vu_dev_exit(&r->d.vu);
	vsock_dev_exit(&r->d);
	if (nwatched || r->d.tab.n)
		abort();   /* vu_dev_exit must leave nothing watched, close_all no connection */
	close(r->d.listen_fd);
	unlink(NAME);
	for (unsigned k = 0; k < NLISTEN; k++)
		unlisten(r, k);
	for (unsigned i = 0; i < r->npeers; i++) {
		struct peer *pe = &r->peer[i];

		if (pe->c)
			abort();
		if (pe->fd >= 0) {
			while (host_read(r, pe, 65536))
				;
			if (recv(pe->fd, r->pkt, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN)
				abort();   /* a host peer the worker left open */
			close(pe->fd);
		}
		free(pe->to_host.p);
		free(pe->from_host.p);
	}
}

static const uint32_t buf_allocs[4] = { 4096, 8192, 65536, 256u << 10 };

static void run_input(struct run *r, struct input *in, int sv[2])
{
	const struct vsock_hooks hooks = { conn_watch, conn_forget, tx_later };
	struct vu_watch w = { w_add, w_del, NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned cfg = take8(in), cfg2 = take8(in);
	int s;

	r->max_conns = (cfg & 7) + 1;
	r->qsize = 2u << ((cfg >> 5) & 3);
	r->features = (1ULL << VIRTIO_F_VERSION_1) |
		      (cfg & 0x80 ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0);
	r->small_buf = cfg2 & 1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), NAME);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 4) < 0)
		abort();
	if (vsock_dev_init(&r->d, CID, buf_allocs[(cfg >> 3) & 3], r->max_conns, s, NAME,
			   &hooks) < 0)
		abort();
	r->d.loop = r;
	r->sock = sv[0];
	if (vu_dev_init(&r->d.vu, "fuzz-vsock", sv[1], VSOCK_NQUEUES, &vsock_vu_ops, &w,
			&r->d) < 0)
		abort();
	if (handshake(r))
		for (unsigned i = 0; i < MAX_OPS && in->n && one_op(r, in); i++)
			;
	finish(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	char dir[] = "/tmp/fuzz-vsock.XXXXXX";
	struct input in = { data, size };
	unsigned fds;
	int sv[2], cwd;

	log_set_level(LOG_LVL_ERR);   /* every refused packet would log a line */
	if (size > INPUT_CAP || guest_setup("fuzz-vsock-guest", GUEST_SIZE) < 0)
		return 0;
	fds = count_fds();
	memset(guest, 0, GUEST_SIZE);
	memset(&r, 0, offsetof(struct run, pkt));
	for (unsigned k = 0; k < NLISTEN; k++)
		r.lis[k] = -1;
	nwatched = 0;
	/* the socket directory is the worker's cwd: ours while the input runs */
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0 || !mkdtemp(dir) || chdir(dir) < 0)
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	run_input(&r, &in, sv);
	close(sv[0]);
	close(sv[1]);
	if (fchdir(cwd) < 0 || rmdir(dir) < 0)
		abort();   /* a socket left behind */
	close(cwd);
	if (count_fds() != fds)
		abort();   /* a descriptor leaked */
	return 0;
}

/* ---- seeds ---- */

/* A well-formed guest packet: guest port GPORT(sport), host port by selector (HPORT(k) for
 * k < 0x80, VSOCK_LOCAL_PORT_FIRST + (k & 15) above). */
static void tx(struct out *o, unsigned op, unsigned sport, unsigned dsel, unsigned flags,
	       uint32_t buf_alloc, uint32_t fwd_cnt, const void *data, unsigned n)
{
	emit8(o, OP_TX);
	emit8(o, 0);
	emit8(o, op);
	emit8(o, sport);
	emit8(o, dsel);
	emit8(o, flags);
	emit32(o, buf_alloc);
	emit32(o, fwd_cnt);
	emit16(o, n);
	emit(o, data, n);
}

/* A packet with one field the guest may not choose: sel 1 src_cid, 4 type, 32 len (of a
 * one-byte payload), v its value. */
static void tx_odd(struct out *o, unsigned sel, unsigned op, uint64_t v)
{
	emit8(o, OP_TX);
	emit8(o, sel);
	emit8(o, op);
	if (sel & 1) {
		emit32(o, (uint32_t)v);
		emit32(o, (uint32_t)(v >> 32));
	}
	if (sel & 4)
		emit16(o, (unsigned)v);
	emit(o, (uint8_t[11]){ 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0 }, 11);  /* ports, buf_alloc 256 */
	emit16(o, 1);
	emit8(o, 'y');
	if (sel & 32)
		emit32(o, (uint32_t)v);
}

static void tx_ctl(struct out *o, unsigned op, unsigned sport, unsigned dsel, uint32_t fwd_cnt)
{
	tx(o, op, sport, dsel, 0, 65536, fwd_cnt, NULL, 0);
}

/* n RX chains of one len-byte buffer each */
static void rx(struct out *o, unsigned n, unsigned len)
{
	for (unsigned i = 0; i < n; i++) {
		emit8(o, OP_RX);
		emit8(o, 0);
		emit16(o, 0);
		emit16(o, len);
		emit8(o, 0);
	}
}

static void op2(struct out *o, unsigned op, unsigned a, unsigned b)
{
	emit8(o, op);
	emit8(o, a);
	emit8(o, b);
}

static void hwrite(struct out *o, unsigned peer, const char *s)
{
	emit8(o, OP_HWRITE);
	emit8(o, peer);
	emit8(o, 0);
	emit16(o, (unsigned)strlen(s));
	emit(o, s, strlen(s));
}

static void hread(struct out *o, unsigned peer)
{
	emit8(o, OP_HREAD);
	emit8(o, peer);
	emit16(o, 0);
}

static void hconnect_raw(struct out *o, const char *line)
{
	emit8(o, OP_HCONNECT);
	emit8(o, 8);
	emit8(o, (unsigned)strlen(line));
	emit(o, line, strlen(line));
}

/* The guest connects to a listening host port, data both ways, a credit update, shutdown. */
static void seed_guest_connect(struct out *o)
{
	static const char hi[] = "hello from the guest\n";

	emit8(o, 3 | (2 << 3) | (3 << 5) | 0x80);
	emit8(o, 0);
	op2(o, OP_LISTEN, 0, 2);
	rx(o, 4, 2048);
	tx_ctl(o, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 0);
	emit8(o, OP_ACCEPT);
	emit8(o, 0);
	tx(o, VIRTIO_VSOCK_OP_RW, 0, 0, 0, 65536, 0, hi, sizeof(hi) - 1);
	hread(o, 0);
	hwrite(o, 0, "hello from the host\n");
	tx_ctl(o, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0, 20);
	tx(o, VIRTIO_VSOCK_OP_SHUTDOWN, 0, 0, 3, 65536, 20, NULL, 0);
	hread(o, 0);
	emit8(o, OP_LOOP);
}

/* A host peer connects (CONNECT line), the guest accepts, data both ways, the host shuts
 * down its side, the guest resets. */
static void seed_host_connect(struct out *o)
{
	emit8(o, 3 | (2 << 3) | (3 << 5) | 0x80);
	emit8(o, 0);
	rx(o, 4, 2048);
	emit8(o, OP_HCONNECT);
	emit8(o, 0);
	tx_ctl(o, VIRTIO_VSOCK_OP_RESPONSE, 0, 0x80, 0);
	hread(o, 0);
	hwrite(o, 0, "ping\n");
	tx(o, VIRTIO_VSOCK_OP_RW, 0, 0x80, 0, 65536, 5, "pong\n", 5);
	hread(o, 0);
	op2(o, OP_HSHUT, 0, SHUT_WR);
	tx_ctl(o, VIRTIO_VSOCK_OP_RST, 0, 0x80, 5);
}

/* A guest with a 16-byte buffer: host data goes in credit-sized pieces as it opens up. */
static void seed_credit(struct out *o)
{
	emit8(o, 3 | (3 << 5));
	emit8(o, 0);
	rx(o, 6, 2048);
	emit8(o, OP_HCONNECT);
	emit8(o, 1);
	tx(o, VIRTIO_VSOCK_OP_RESPONSE, 1, 0x80, 0, 16, 0, NULL, 0);
	emit8(o, OP_HWRITE);
	emit8(o, 0);
	emit8(o, 1);
	emit16(o, 50);
	tx(o, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1, 0x80, 0, 16, 16, NULL, 0);
	tx(o, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 1, 0x80, 0, 16, 32, NULL, 0);
	rx(o, 2, 2048);
	tx(o, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1, 0x80, 0, 4096, 32, NULL, 0);
	emit8(o, OP_LOOP);
	tx_ctl(o, VIRTIO_VSOCK_OP_RST, 1, 0x80, 100);
}

/* Packets of no connection, spoofed, malformed; bad and split CONNECT lines; bad chains. */
static void seed_errors(struct out *o)
{
	emit8(o, 3 | (3 << 5));
	emit8(o, 0);
	rx(o, 6, 256);
	tx(o, VIRTIO_VSOCK_OP_RW, 0, 0, 0, 65536, 0, "x", 1);
	tx_ctl(o, VIRTIO_VSOCK_OP_REQUEST, 0, 1, 0);
	tx_odd(o, 1, VIRTIO_VSOCK_OP_RW, 7);                           /* spoofed */
	tx_odd(o, 4, VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_TYPE_SEQPACKET);
	tx_odd(o, 32, VIRTIO_VSOCK_OP_RW, 100);                        /* beyond the chain */
	tx_ctl(o, 9, 0, 0, 0);
	op2(o, OP_LISTEN, 1, 1);
	tx_ctl(o, VIRTIO_VSOCK_OP_REQUEST, 2, 1, 0);
	emit8(o, OP_ACCEPT);
	emit8(o, 1);
	tx(o, VIRTIO_VSOCK_OP_SHUTDOWN, 2, 1, 8, 65536, 0, NULL, 0);
	rx(o, 4, 256);
	hconnect_raw(o, "GET / HTTP/1.0\r\n");
	hconnect_raw(o, "CONN");
	hwrite(o, 2, "ECT 2003\n");
	emit8(o, OP_TXRAW);                         /* a writable buffer */
	emit8(o, 0);
	emit16(o, POKE_BASE / 4);
	emit16(o, 64);
	emit8(o, 1);
	emit8(o, 0);
	emit8(o, OP_TXRAW);                         /* a chain that loops */
	emit8(o, 1);
	emit16(o, POKE_BASE / 4);
	emit16(o, 64);
	emit8(o, 4);
	emit8(o, 1);
	emit16(o, POKE_BASE / 4);
	emit16(o, 64);
	emit8(o, 4);
	emit8(o, 0);
}

/* Small socket buffers and one connection: guest data waits in the ring, flushed as the
 * host reads; the full table refuses both ways; a guest past its credit is reset. */
static void seed_ring(struct out *o)
{
	static uint8_t blob[6000];

	for (unsigned i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 13 + (i >> 8));
	emit8(o, 0 | (1 << 3) | (2 << 5));
	emit8(o, 1);
	op2(o, OP_LISTEN, 0, 3);
	rx(o, 2, 4096);
	tx_ctl(o, VIRTIO_VSOCK_OP_REQUEST, 3, 0, 0);
	emit8(o, OP_ACCEPT);
	emit8(o, 0);
	/* the socket takes part of the first, the ring the rest and all of the second */
	tx(o, VIRTIO_VSOCK_OP_RW, 3, 0, 0, 65536, 0, blob, sizeof(blob));
	tx(o, VIRTIO_VSOCK_OP_RW, 3, 0, 0, 65536, 0, blob, 2000);
	for (unsigned i = 0; i < 2; i++) {
		hread(o, 0);
		emit8(o, OP_LOOP);
	}
	tx_ctl(o, VIRTIO_VSOCK_OP_REQUEST, 4, 0, 0);
	emit8(o, OP_HCONNECT);
	emit8(o, 4);
	for (unsigned i = 0; i < 3; i++)
		tx(o, VIRTIO_VSOCK_OP_RW, 3, 0, 0, 65536, 8000, blob, sizeof(blob));
}

/* The frontend stops and restarts queues and reads the config; the host peer closes. */
static void seed_restart(struct out *o)
{
	emit8(o, 3 | (2 << 3) | (3 << 5) | 0x80);
	emit8(o, 0);
	rx(o, 4, 1024);
	op2(o, OP_LISTEN, 2, 0);
	tx_ctl(o, VIRTIO_VSOCK_OP_REQUEST, 5, 2, 0);
	for (unsigned q = 0; q < 2; q++) {
		op2(o, OP_MSG, 0, q);
		emit32(o, 0);
	}
	emit8(o, OP_ACCEPT);
	emit8(o, 2);
	tx(o, VIRTIO_VSOCK_OP_RW, 5, 2, 0, 65536, 0, "abc", 3);
	op2(o, OP_MSG, 1, 0);
	emit16(o, 0);
	emit16(o, 8);
	op2(o, OP_MSG, 2, 0);
	emit16(o, 0);
	emit16(o, 8);
	emit(o, "\1\2\3\4\5\6\7\10", 8);
	emit8(o, OP_HWRITE | 0x80);
	emit8(o, 0);
	emit8(o, 0);
	emit16(o, 3);
	emit(o, "def", 3);
	op2(o, OP_KICK, 0, OP_LOOP);
	emit8(o, OP_HCLOSE);
	emit8(o, 0);
	tx_ctl(o, VIRTIO_VSOCK_OP_RST, 5, 2, 3);
}

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	static void (*const seed[])(struct out *o) = {
		seed_guest_connect, seed_host_connect, seed_credit, seed_errors, seed_ring,
		seed_restart,
	};
	struct out o = { buf, 0, cap };

	if (i % 8 >= sizeof(seed) / sizeof(seed[0]))
		return 0;
	seed[i % 8](&o);
	return o.n;
}
