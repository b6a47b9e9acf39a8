/* Fuzz bulkhead-net's data path (dev-net/io.c, net.c, rss.c) as a hostile guest and frontend
 * drive it: the harness is the vhost-user frontend (a well-formed handshake over a
 * socketpair, so every input starts with running queues) and the guest driver (descriptor
 * chains in a 64 KiB guest RAM), and each tap queue is a SOCK_SEQPACKET socketpair whose far
 * end injects received frames and collects transmitted ones. No tap, no privileges.
 *
 * Input: a 10-byte header, then ops until the input ends.
 *   cfg:      bits 0-2 pairs - 1, bit 3 steering maps (F_RSS), bit 4 F_PROTOCOL_FEATURES
 *             (queues start disabled until SET_VRING_ENABLE), bits 5-6 queue size 2..16,
 *             bit 7 a small tap send buffer (EAGAIN: held frames, EMSGSIZE: refused ones)
 *   features: le64, masked with what the device offers
 *   ops:      see enum op; fields are read zero-filled past the end of the input
 *
 * Oracles beyond "no crash" (ASan checks every guest buffer access against the mapping):
 * every frame that reaches a tap carries the NIC's source MAC where the tap, with the header
 * size in force, reads it (anti-spoofing); the steering maps never name a queue pair the
 * device lacks nor a table that is not a power of two (the BPF program indexes with them);
 * nothing stays watched after the frontend is gone. */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "fuzzlib.h"
#include "log.h"
#include "net.h"

#define GUEST_SIZE   0x10000u
#define CTRL_BUF     0x4400u       /* after 17 rings (RING_STRIDE): the control commands */
#define CTRL_ACK     0x47f0u
#define MAX_OPS      256
#define INPUT_CAP    65536

enum op {
	OP_ADD,        /* q, n-1 (& 7), n x { le16 addr, le16 len, flags }: a chain on q */
	OP_KICK,       /* q: the queue's kick fd fires */
	OP_RX,         /* pair, le16 len, bytes: a frame arrives on the tap, then a readable
			* wakeup */
	OP_WRITABLE,   /* pair: the far end takes every frame, then a writable wakeup */
	OP_POKE,       /* le16 off, len, bytes: the guest writes its memory */
	OP_CTRL,       /* split, len, bytes: a control command (out: bytes cut at split, in:
			* the ack byte) on the control queue, kicked */
	OP_MSG,        /* kind, q, le64 value: a frontend message (enum msg) */
	OP_LOOP,       /* one pass of the event loop over what the device asked to watch */
	OP_MAX,
};

enum msg { MSG_STOP, MSG_RESTART, MSG_ENABLE, MSG_FEATURES, MSG_CONFIG, MSG_NEW_KICK, MSG_MAX };

/* ---- the event loop stand-in: the vhost-user fds in fuzzlib.c, the taps here ---- */

struct tapw {
	bool rd, wr;
};

static struct tapw tapw[NET_MAX_PAIRS];

static void tap_watch(struct net_dev *d, unsigned pair, bool rd, bool wr)
{
	(void)d;
	if (pair >= NET_MAX_PAIRS)
		abort();
	tapw[pair] = (struct tapw){ rd, wr };
}

/* ---- state of one run ---- */

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct run {
	struct net_dev d;
	int sock, peer[NET_MAX_PAIRS];
	unsigned pairs, nq, qsize;
	uint64_t features;
	bool pf;
	uint16_t avail_idx[VU_MAX_QUEUES];  /* the driver's next avail index, per queue */
	uint16_t next_desc[VU_MAX_QUEUES];  /* the next descriptor slot it fills */
	uint8_t frame[GUEST_SIZE + 64];
};

static struct net_stats stats;
static struct net_rss_cfg rss_cfg;
static struct net_rss_key rss_key;
static struct net_rss_table rss_table;

/* ---- the frontend ---- */

/* One message through the backend; false when the connection is finished. */
static bool msg(struct run *r, uint32_t req, const void *p, uint32_t len, int fd)
{
	return frontend_msg(&r->d.vu, r->sock, req, p, len, fd);
}

/* With protocol features, queues start disabled: each is enabled once started. */
static bool start_queue(struct run *r, unsigned q, uint16_t base)
{
	return frontend_start_queue(&r->d.vu, r->sock, q, r->qsize, base, r->pf);
}

static bool handshake(struct run *r)
{
	uint64_t f = r->features | (r->pf ? 1ULL << VU_F_PROTOCOL_FEATURES : 0), pf = 0;

	if (!msg(r, VU_SET_FEATURES, &f, 8, -1) ||
	    (r->pf && !msg(r, VU_SET_PROTOCOL_FEATURES, &pf, 8, -1)) ||
	    !frontend_mem_table(&r->d.vu, r->sock))
		return false;
	for (unsigned q = 0; q < r->nq; q++)
		if (!start_queue(r, q, 0))
			return false;
	return true;
}

/* ---- the taps' far ends ---- */

/* Take every frame off tap pair p and check where the tap would read its source MAC. */
static void collect(struct run *r, unsigned p)
{
	unsigned hl = r->d.hdr_len;
	ssize_t n;

	while ((n = recv(r->peer[p], r->frame, sizeof(r->frame), MSG_DONTWAIT)) >= 0) {
		if ((size_t)n < hl + NET_ETH_HLEN || memcmp(r->frame + hl + 6, MAC, 6))
			abort();   /* a frame the TX checks should have dropped */
	}
}

static void collect_all(struct run *r)
{
	for (unsigned p = 0; p < r->pairs; p++)
		collect(r, p);
}

/* ---- the guest driver ---- */

static void op_add(struct run *r, struct input *in)
{
	unsigned q = take8(in) % r->nq, n = (take8(in) & 7) + 1;
	uint16_t head = r->next_desc[q] % r->qsize;

	for (unsigned i = 0; i < n; i++) {
		unsigned slot = (head + i) % r->qsize;
		uint64_t addr = take16(in);
		uint32_t len = take16(in);
		unsigned fl = take8(in);
		uint16_t flags = (fl & 1 ? VRING_DESC_F_WRITE : 0) |
				 (fl & 2 ? VRING_DESC_F_INDIRECT : 0) |
				 (i + 1 < n ? VRING_DESC_F_NEXT : 0);

		ring_desc(q, slot, addr, len, flags, (uint16_t)((slot + 1) % r->qsize));
	}
	r->next_desc[q] = (uint16_t)(head + n);
	ring_publish(q, r->qsize, &r->avail_idx[q], head);
}

/* A control command: class, command and data readable (split in two buffers), ack writable. */
static void op_ctrl(struct run *r, struct input *in)
{
	unsigned ctrl = (r->features & (1ULL << VIRTIO_NET_F_MQ)) ? 2 * r->pairs : 2;
	unsigned split = take8(in), len = take8(in);
	uint16_t head;

	len += take8(in);   /* up to 510 bytes: a whole RSS_CONFIG and more */

	if (ctrl >= r->nq)
		return;
	take(in, guest + CTRL_BUF, len);
	split = len ? split % len + 1 : 0;
	head = r->next_desc[ctrl] % r->qsize;
	if (split < len) {
		ring_desc(ctrl, head, CTRL_BUF, split, VRING_DESC_F_NEXT, (head + 1) % r->qsize);
		ring_desc(ctrl, (head + 1) % r->qsize, CTRL_BUF + split, len - split,
			  VRING_DESC_F_NEXT, (head + 2) % r->qsize);
		ring_desc(ctrl, (head + 2) % r->qsize, CTRL_ACK, 1, VRING_DESC_F_WRITE, 0);
		r->next_desc[ctrl] = (uint16_t)(head + 3);
	} else {
		ring_desc(ctrl, head, CTRL_BUF, len, VRING_DESC_F_NEXT, (head + 1) % r->qsize);
		ring_desc(ctrl, (head + 1) % r->qsize, CTRL_ACK, 1, VRING_DESC_F_WRITE, 0);
		r->next_desc[ctrl] = (uint16_t)(head + 2);
	}
	ring_publish(ctrl, r->qsize, &r->avail_idx[ctrl], head);
	w_fire(r->d.vu.q[ctrl].kick_fd);
}

static void op_rx(struct run *r, struct input *in)
{
	unsigned p = take8(in) % r->pairs, len = take16(in);

	take(in, r->frame, len);
	if (send(r->peer[p], r->frame, len, MSG_DONTWAIT) < 0) {
		/* the far end's queue is full: the wakeup still comes */
	}
	net_tap_readable(&r->d, p);
}

static bool op_msg(struct run *r, struct input *in)
{
	unsigned kind = take8(in) % MSG_MAX, q = take8(in) % r->nq;
	uint64_t v;
	struct vu_vring_state s = { q, 0 };
	uint64_t idx = q;

	take(in, &v, 8);
	switch (kind) {
	case MSG_STOP:
		return msg(r, VU_GET_VRING_BASE, &s, sizeof(s), -1);
	case MSG_RESTART:
		/* the driver's view restarts where the device's used index is */
		r->avail_idx[q] = (uint16_t)v;
		return start_queue(r, q, (uint16_t)v);
	case MSG_ENABLE:
		s.num = (uint32_t)(v & 1);
		return msg(r, VU_SET_VRING_ENABLE, &s, sizeof(s), -1);
	case MSG_FEATURES:
		/* frames already on the taps went out under the old header size */
		collect_all(r);
		v = (v & net_features(&r->d.model)) | (r->pf ? 1ULL << VU_F_PROTOCOL_FEATURES : 0);
		r->features = v;
		return msg(r, VU_SET_FEATURES, &v, 8, -1);
	case MSG_CONFIG: {
		struct vu_config c = { (uint32_t)(v & 0xff), (uint32_t)((v >> 8) & 0xff), 0, { 0 } };

		return msg(r, VU_GET_CONFIG, &c, VU_CONFIG_HDR_SIZE + c.size, -1);
	}
	default:
		return msg(r, VU_SET_VRING_KICK, &idx, 8, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	}
}

static void loop_pass(struct run *r)
{
	for (unsigned p = 0; p < r->pairs; p++) {
		if (tapw[p].rd)
			net_tap_readable(&r->d, p);
		if (tapw[p].wr)
			net_tap_writable(&r->d, p);
	}
}

/* One op; false when the frontend connection is finished. */
static bool one_op(struct run *r, struct input *in)
{
	unsigned op = take8(in) % OP_MAX, off, len;

	switch (op) {
	case OP_ADD:
		op_add(r, in);
		break;
	case OP_KICK:
		w_fire(r->d.vu.q[take8(in) % r->nq].kick_fd);
		break;
	case OP_RX:
		op_rx(r, in);
		break;
	case OP_WRITABLE:
		off = take8(in) % r->pairs;
		collect(r, off);
		net_tap_writable(&r->d, off);
		break;
	case OP_POKE:
		off = take16(in);
		len = take8(in);
		take(in, guest + off, len < GUEST_SIZE - off ? len : GUEST_SIZE - off);
		break;
	case OP_CTRL:
		op_ctrl(r, in);
		break;
	case OP_MSG:
		if (!op_msg(r, in))
			return false;
		break;
	default:
		loop_pass(r);
		break;
	}
	return !r->d.vu.broken;
}

/* The BPF program indexes its table with table_len and sends to the queues it names. */
static void check_rss(const struct run *r)
{
	if (!rss_cfg.enabled)
		return;
	if (!rss_cfg.table_len || rss_cfg.table_len > NET_RSS_TABLE_MAX ||
	    (rss_cfg.table_len & (rss_cfg.table_len - 1)) || rss_cfg.default_queue >= r->pairs ||
	    (rss_cfg.hash_types & ~NET_RSS_HASH_TYPES))
		abort();
	for (unsigned i = 0; i < rss_cfg.table_len; i++)
		if (rss_table.q[i] >= r->pairs)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	struct vu_watch w = { w_add, w_del, NULL };
	struct input in = { data, size };
	int sv[2], taps[NET_MAX_PAIRS], sk[2];
	unsigned cfg, made = 0;
	uint64_t f;

	log_set_level(LOG_LVL_ERR);   /* every refused chain would log a line */
	if (size > INPUT_CAP || guest_setup("fuzz-net-guest", GUEST_SIZE) < 0)
		return 0;
	memset(guest, 0, GUEST_SIZE);
	memset(&r.avail_idx, 0, sizeof(r.avail_idx));
	memset(&r.next_desc, 0, sizeof(r.next_desc));
	memset(tapw, 0, sizeof(tapw));
	memset(&rss_cfg, 0, sizeof(rss_cfg));
	nwatched = 0;
	cfg = take8(&in);
	f = take64(&in);
	r.pairs = (cfg & 7) + 1;
	r.nq = net_nqueues(r.pairs);
	r.pf = cfg & 0x10;
	r.qsize = 2u << ((cfg >> 5) & 3);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	r.sock = sv[0];
	for (; made < r.pairs; made++) {
		int small = 4096;

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sk) < 0)
			goto out;
		if (cfg & 0x80)
			setsockopt(sk[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		taps[made] = sk[0];
		r.peer[made] = sk[1];
	}
	net_stats_attach(&stats, r.pairs);
	if (net_dev_init(&r.d, taps, r.pairs, MAC, &stats,
			 &(struct net_hooks){ .tap_watch = tap_watch }) < 0)
		goto out;
	if (cfg & 8)
		net_dev_rss(&r.d, &(struct net_rss_maps){ &rss_cfg, &rss_key, &rss_table });
	r.features = f & net_features(&r.d.model);
	if (vu_dev_init(&r.d.vu, "fuzz-net", sv[1], r.nq, &net_vu_ops, &w, &r.d) < 0)
		abort();
	if (handshake(&r))
		for (unsigned i = 0; i < MAX_OPS && in.n && one_op(&r, &in); i++)
			;
	collect_all(&r);
	check_rss(&r);
	/* what the worker does when the frontend goes away (vu_loop.c) */
	net_dev_disconnect(&r.d);
	vu_dev_exit(&r.d.vu);
	net_dev_exit(&r.d);
	if (nwatched)
		abort();   /* vu_dev_exit must leave nothing watched */
out:
	for (unsigned p = 0; p < made; p++) {
		close(taps[p]);
		close(r.peer[p]);
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}

/* ---- seeds ---- */

static void seg(struct out *o, unsigned addr, unsigned len, unsigned fl)
{
	emit16(o, addr);
	emit16(o, len);
	emit8(o, fl);
}

/* A TX frame: virtio-net header (hl bytes), then Ethernet with our source MAC. */
static void tx_frame(struct out *o, unsigned at, unsigned gso, unsigned hl)
{
	uint8_t f[12 + 14 + 20] = { 0 };

	f[0] = gso ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
	f[1] = (uint8_t)gso;
	f[2] = 54; f[4] = gso ? 0xa8 : 0; f[5] = gso ? 0x05 : 0;   /* hdr_len 54, gso_size 1448 */
	f[6] = 34; f[8] = 16;                                      /* csum_start, csum_offset */
	memset(f + hl, 0xff, 6);
	memcpy(f + hl + 6, MAC, 6);
	f[hl + 12] = 0x08;
	emit8(o, OP_POKE);
	emit16(o, at);
	emit8(o, sizeof(f));
	emit(o, f, sizeof(f));
}

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	struct out o = { buf, 0, cap };
	uint64_t f = net_features(&(struct net_model){ .pairs = 2, .rss = true });
	uint8_t rss[NET_RSS_CONFIG_MAX];
	unsigned n = 0, hl = NET_HDR_LEN;

	if (i % 4 == 3)
		return 0;
	/* 2 pairs, steering maps, queues of 8; legacy header for every third seed, a small
	 * tap send buffer for some */
	emit8(&o, 1 | 8 | (2 << 5) | (i % 4 == 2 ? 0x80 : 0));
	if (i % 3 == 1) {
		f &= ~((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_NET_F_MRG_RXBUF));
		hl = NET_HDR_LEN_LEGACY;
	}
	f = htole64(f);
	emit(&o, &f, 8);
	/* TX on pair 0: a plain frame in two segments, a TSO frame, a spoofed one */
	tx_frame(&o, 0x5000, 0, hl);
	emit8(&o, OP_ADD); emit8(&o, 1); emit8(&o, 1);
	seg(&o, 0x5000, 20, 0); seg(&o, 0x5014, 200, 0);
	tx_frame(&o, 0x6000, VIRTIO_NET_HDR_GSO_TCPV4, hl);
	emit8(&o, OP_ADD); emit8(&o, 1); emit8(&o, 0); seg(&o, 0x6000, 3000, 0);
	emit8(&o, OP_POKE); emit16(&o, 0x7000 + hl + 6); emit8(&o, 6);
	emit(&o, "\x02\0\0\0\0\x77", 6);
	emit8(&o, OP_ADD); emit8(&o, 1); emit8(&o, 0); seg(&o, 0x7000, 100, 0);
	emit8(&o, OP_KICK); emit8(&o, 1);
	emit8(&o, OP_WRITABLE); emit8(&o, 0);
	/* RX on pair 0: two writable buffers, then a frame from the tap */
	emit8(&o, OP_ADD); emit8(&o, 0); emit8(&o, 0); seg(&o, 0x8000, 1600, 1);
	emit8(&o, OP_ADD); emit8(&o, 0); emit8(&o, 1); seg(&o, 0x9000, 12, 1); seg(&o, 0x9100, 2000, 1);
	emit8(&o, OP_KICK); emit8(&o, 0);
	emit8(&o, OP_RX); emit8(&o, 0); emit16(&o, 80);
	for (unsigned k = 0; k < 80; k++)
		emit8(&o, k);
	/* control queue: RX_PROMISC on, VQ_PAIRS_SET 2, RSS_CONFIG (table of 4 over 2 pairs) */
	emit8(&o, OP_CTRL); emit8(&o, 1); emit8(&o, 3); emit8(&o, 0);
	emit(&o, (uint8_t[]){ VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1 }, 3);
	emit8(&o, OP_CTRL); emit8(&o, 1); emit8(&o, 4); emit8(&o, 0);
	emit(&o, (uint8_t[]){ VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2, 0 }, 4);
	rss[n++] = VIRTIO_NET_CTRL_MQ;
	rss[n++] = VIRTIO_NET_CTRL_MQ_RSS_CONFIG;
	memcpy(rss + n, (uint8_t[]){ 0x3f, 0, 0, 0, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0,
				     2, 0, NET_RSS_KEY_LEN }, 19);
	n += 19;
	for (unsigned k = 0; k < NET_RSS_KEY_LEN; k++)
		rss[n++] = (uint8_t)(k * 7);
	emit8(&o, OP_CTRL); emit8(&o, 8); emit8(&o, n); emit8(&o, 0);
	emit(&o, rss, n);
	/* the frontend stops and restarts the TX queue of pair 1, then a loop pass */
	emit8(&o, OP_MSG); emit8(&o, MSG_STOP); emit8(&o, 3); emit(&o, "\0\0\0\0\0\0\0\0", 8);
	emit8(&o, OP_MSG); emit8(&o, MSG_RESTART); emit8(&o, 3); emit(&o, "\0\0\0\0\0\0\0\0", 8);
	emit8(&o, OP_LOOP);
	return o.n;
}
