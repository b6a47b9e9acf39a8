/* bulkhead-vsock end to end (suite 'vsock'): the harness is the frontend and the guest's
 * vsock transport, unix sockets in a temp directory are the host side. The worker gets the
 * directory as fd 4 and the VM socket's name, as the supervisor will give them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "hx_vsock.h"

#define QUIET_MS 300
#define HPORT    5000u

static struct hxv v;

static void down(void)
{
	hxv_stop(&v);
}

TestSuite(vsock, .fini = down, .timeout = 120);

static void start(const char *const *args)
{
	int r = hxv_start(&v, args);

	cr_assert_eq(r, 0, "start: %s", strerror(-r));
}

static struct hxv_conn conn(uint32_t gport, uint32_t hport)
{
	return (struct hxv_conn){ .gport = gport, .hport = hport, .buf_alloc = 256 << 10 };
}

static void send_op(struct hxv_conn *c, uint16_t op, uint32_t flags)
{
	struct vsock_pkt p = hxv_pkt(c, op, 0);

	p.flags = flags;
	cr_assert_eq(hxv_send(&v, &p, NULL, 0), 0);
	c->fwd_sent = c->fwd_cnt;
}

/* The next packet the guest receives must be op for c; returns it. */
static struct vsock_pkt expect(struct hxv_conn *c, uint16_t op)
{
	static uint8_t data[HXV_RXBUF];
	struct vsock_pkt p;
	int r = hxv_recv(&v, &p, data, sizeof(data), HX_TIMEOUT_MS);

	cr_assert_eq(r, 1, "no packet (op %u expected): %d", op, r);
	cr_assert_eq(p.op, op, "op %u, want %u", p.op, op);
	cr_assert_eq(p.src_cid, VSOCK_HOST_CID);
	cr_assert_eq(p.dst_cid, HXV_CID);
	cr_assert_eq(p.type, VIRTIO_VSOCK_TYPE_STREAM);
	cr_assert_eq(p.dst_port, c->gport, "to port %u, want %u", p.dst_port, c->gport);
	cr_assert_eq(p.src_port, c->hport, "from port %u, want %u", p.src_port, c->hport);
	c->peer_buf_alloc = p.buf_alloc;
	c->peer_fwd_cnt = p.fwd_cnt;
	return p;
}

static void expect_nothing(void)
{
	static uint8_t data[HXV_RXBUF];
	struct vsock_pkt p;
	int r = hxv_recv(&v, &p, data, sizeof(data), QUIET_MS);

	cr_assert_eq(r, 0, "unexpected packet op %u %u->%u", p.op, p.src_port, p.dst_port);
}

/* Guest connects to host port c->hport; the listener there accepts. Returns the host fd. */
static int guest_connect(struct hxv_conn *c, int lst)
{
	int s;

	send_op(c, VIRTIO_VSOCK_OP_REQUEST, 0);
	expect(c, VIRTIO_VSOCK_OP_RESPONSE);
	s = accept4(lst, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(s, 0);
	return s;
}

/* Host connects to the VM's socket for guest port gport; the guest accepts. */
static int host_connect(struct hxv_conn *c, uint32_t gport)
{
	char path[128], line[64], want[64];
	struct vsock_pkt p;
	int s, n;

	hxv_path(&v, HXV_NAME, path, sizeof(path));
	s = hx_unix_connect(path, HX_TIMEOUT_MS);
	cr_assert_geq(s, 0, "connect %s: %s", path, strerror(-s));
	n = snprintf(line, sizeof(line), "CONNECT %u\n", gport);
	cr_assert_eq(write(s, line, (size_t)n), n);
	*c = conn(gport, 0);
	/* a credit update of an earlier connection (its last data read by the host after the
	 * test moved on) may come first: skip those, and only those */
	for (;;) {
		static uint8_t data[HXV_RXBUF];

		cr_assert_eq(hxv_recv(&v, &p, data, sizeof(data), HX_TIMEOUT_MS), 1);
		if (p.op != VIRTIO_VSOCK_OP_CREDIT_UPDATE || p.dst_port == gport)
			break;
	}
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_REQUEST, "op %u", p.op);
	cr_assert_eq(p.dst_port, gport);
	cr_assert_geq(p.src_port, VSOCK_LOCAL_PORT_FIRST);
	c->hport = p.src_port;
	c->peer_buf_alloc = p.buf_alloc;
	send_op(c, VIRTIO_VSOCK_OP_RESPONSE, 0);
	n = snprintf(want, sizeof(want), "OK %u\n", c->hport);
	cr_assert_eq(hxv_wait_readable(s, HX_TIMEOUT_MS), 1);
	cr_assert_eq(read(s, line, (size_t)n), n);
	cr_assert_arr_eq(line, want, (size_t)n);
	return s;
}

static uint8_t pat(uint64_t pos, uint8_t seed)
{
	return (uint8_t)((pos * 2654435761u) >> 11 ^ seed);
}

static uint64_t fnv(uint64_t h, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

struct flow {
	uint64_t total, sent, rcvd;
	uint64_t sum_out, sum_in;
	uint8_t seed;
};

/* One step of guest -> host: an RW within the worker's credit. */
static bool g2h_step(struct hxv_conn *c, struct flow *f)
{
	static uint8_t b[32768];
	uint32_t n = (uint32_t)(f->total - f->sent);
	struct vsock_pkt p;

	if (n > sizeof(b))
		n = sizeof(b);
	if (n > hxv_credit(c))
		n = hxv_credit(c);
	if (!n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		b[i] = pat(f->sent + i, f->seed);
	f->sum_out = fnv(f->sum_out, b, n);
	p = hxv_pkt(c, VIRTIO_VSOCK_OP_RW, n);
	cr_assert_eq(hxv_send(&v, &p, b, n), 0);
	c->fwd_sent = c->fwd_cnt;
	c->tx_cnt += n;
	f->sent += n;
	return true;
}

/* Host side of both flows, nonblocking. */
static bool host_step(int s, struct flow *g2h, struct flow *h2g)
{
	static uint8_t b[65536];
	bool moved = false;
	ssize_t n;

	n = recv(s, b, sizeof(b), MSG_DONTWAIT);
	if (n > 0) {
		for (ssize_t i = 0; i < n; i++)
			cr_assert_eq(b[i], pat(g2h->rcvd + (uint64_t)i, g2h->seed), "g2h byte %llu",
				     (unsigned long long)(g2h->rcvd + (uint64_t)i));
		g2h->sum_in = fnv(g2h->sum_in, b, (size_t)n);
		g2h->rcvd += (uint64_t)n;
		moved = true;
	}
	if (h2g->sent < h2g->total) {
		size_t k = h2g->total - h2g->sent < sizeof(b) ? h2g->total - h2g->sent : sizeof(b);

		for (size_t i = 0; i < k; i++)
			b[i] = pat(h2g->sent + i, h2g->seed);
		n = send(s, b, k, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			h2g->sum_out = fnv(h2g->sum_out, b, (size_t)n);
			h2g->sent += (uint64_t)n;
			moved = true;
		}
	}
	return moved;
}

/* Guest receive side: RW into the flow, credit updates, our fwd_cnt told when half used. */
static bool guest_step(struct hxv_conn *c, struct flow *f, int timeout_ms)
{
	static uint8_t data[HXV_RXBUF];
	struct vsock_pkt p;
	int r = hxv_recv(&v, &p, data, sizeof(data), timeout_ms);

	if (r == 0)
		return false;
	cr_assert_eq(r, 1);
	cr_assert_eq(p.dst_port, c->gport);
	c->peer_buf_alloc = p.buf_alloc;
	c->peer_fwd_cnt = p.fwd_cnt;
	if (p.op == VIRTIO_VSOCK_OP_RW) {
		f->sum_in = fnv(f->sum_in, data, p.len);
		for (uint32_t i = 0; i < p.len; i++)
			cr_assert_eq(data[i], pat(f->rcvd + i, f->seed), "h2g byte %llu of a %u-byte "
				     "packet at %llu", (unsigned long long)(f->rcvd + i), p.len,
				     (unsigned long long)f->rcvd);
		f->rcvd += p.len;
		c->fwd_cnt += p.len;
		if (c->fwd_cnt - c->fwd_sent >= c->buf_alloc / 2)
			send_op(c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	} else {
		cr_assert_eq(p.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE, "op %u during data", p.op);
	}
	return true;
}

static void pump(struct hxv_conn *c, int s, struct flow *g2h, struct flow *h2g)
{
	uint64_t deadline = hx_now_ms() + 60000;

	while (g2h->rcvd < g2h->total || h2g->rcvd < h2g->total) {
		bool moved = g2h_step(c, g2h);

		moved |= host_step(s, g2h, h2g);
		moved |= guest_step(c, h2g, moved ? 0 : 2);
		cr_assert_lt(hx_now_ms(), deadline, "stuck: g2h %llu/%llu h2g %llu/%llu",
			     (unsigned long long)g2h->rcvd, (unsigned long long)g2h->total,
			     (unsigned long long)h2g->rcvd, (unsigned long long)h2g->total);
	}
	cr_assert_eq(g2h->sum_in, g2h->sum_out, "guest -> host checksum");
	cr_assert_eq(h2g->sum_in, h2g->sum_out, "host -> guest checksum");
}

static void both_ways(struct hxv_conn *c, int s, uint64_t bytes)
{
	struct flow g2h = { .total = bytes, .seed = 1, .sum_out = 14695981039346656037ull,
			    .sum_in = 14695981039346656037ull };
	struct flow h2g = { .total = bytes, .seed = 2, .sum_out = 14695981039346656037ull,
			    .sum_in = 14695981039346656037ull };

	pump(c, s, &g2h, &h2g);
}

/* ---- tests ---------------------------------------------------------------------------------- */

Test(vsock, guest_connects_to_host_listener)
{
	struct hxv_conn c = conn(1000, HPORT);
	int lst, s;

	start(NULL);
	lst = hxv_listen(&v, HXV_NAME "_5000");
	cr_assert_geq(lst, 0);
	s = guest_connect(&c, lst);
	cr_assert_eq(c.peer_buf_alloc, VSOCK_BUF_ALLOC_DEFAULT);
	both_ways(&c, s, 100000);
	close(s);
	close(lst);
}

Test(vsock, host_connects_with_connect_line)
{
	struct hxv_conn c;
	int s;

	start(NULL);
	s = host_connect(&c, 1234);
	both_ways(&c, s, 100000);
	close(s);
}

Test(vsock, data_both_ways_4mib_checksummed)
{
	struct hxv_conn c = conn(1001, HPORT), d;
	int lst, s, t;

	start(NULL);
	lst = hxv_listen(&v, HXV_NAME "_5000");
	s = guest_connect(&c, lst);
	both_ways(&c, s, 4 << 20);
	t = host_connect(&d, 77);
	both_ways(&d, t, 4 << 20);
	close(s);
	close(t);
	close(lst);
}

/* The host peer's data goes in right behind its CONNECT line, in one write. */
Test(vsock, data_right_after_connect_line)
{
	char path[128];
	uint8_t data[HXV_RXBUF];
	struct hxv_conn c = conn(88, 0);
	struct vsock_pkt p;
	int s;

	start(NULL);
	hxv_path(&v, HXV_NAME, path, sizeof(path));
	s = hx_unix_connect(path, HX_TIMEOUT_MS);
	cr_assert_eq(write(s, "CONNECT 88\nhello", 16), 16);
	cr_assert_eq(hxv_recv(&v, &p, data, sizeof(data), HX_TIMEOUT_MS), 1);
	cr_assert_eq(p.op, VIRTIO_VSOCK_OP_REQUEST);
	c.hport = p.src_port;
	send_op(&c, VIRTIO_VSOCK_OP_RESPONSE, 0);
	p = expect(&c, VIRTIO_VSOCK_OP_RW);
	cr_assert_eq(p.len, 5);
	close(s);
}

Test(vsock, credit_stall_and_resume)
{
	static uint8_t big[65536], data[HXV_RXBUF];
	struct hxv_conn c = conn(1002, HPORT);
	struct vsock_pkt p;
	uint32_t got = 0;
	int lst, s;

	start(NULL);
	c.buf_alloc = 8192;             /* small, and not updated while data comes */
	lst = hxv_listen(&v, HXV_NAME "_5000");
	s = guest_connect(&c, lst);
	memset(big, 0x5a, sizeof(big));
	cr_assert_eq(send(s, big, sizeof(big), MSG_DONTWAIT), (ssize_t)sizeof(big));
	while (got < 8192) {
		p = expect(&c, VIRTIO_VSOCK_OP_RW);
		got += p.len;
	}
	cr_assert_eq(got, 8192, "the worker sent past our buf_alloc");
	expect_nothing();               /* stalled on credit */
	c.fwd_cnt = 8192;               /* consumed: CREDIT_UPDATE resumes it */
	send_op(&c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	while (got < 16384) {
		cr_assert_eq(hxv_recv(&v, &p, data, sizeof(data), HX_TIMEOUT_MS), 1);
		cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RW);
		got += p.len;
	}
	cr_assert_eq(got, 16384);
	expect_nothing();
	/* the other way: the worker's credit to us ends at its buf_alloc; a host that reads
	 * nothing makes the guest stall, and reading resumes it with a CREDIT_UPDATE */
	close(s);
	close(lst);
}

Test(vsock, host_side_stall_bounded_by_buf_alloc)
{
	static uint8_t b[32768];
	const char *args[] = { "--buf-alloc=65536", NULL };
	struct hxv_conn c = conn(1003, HPORT);
	struct vsock_pkt p;
	uint64_t sent = 0;
	int lst, s, one = 4096;

	start(args);
	lst = hxv_listen(&v, HXV_NAME "_5000");
	s = guest_connect(&c, lst);
	cr_assert_eq(c.peer_buf_alloc, 65536);
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	/* the host reads nothing: the guest may send the socket's buffers plus 64 KiB */
	while (hxv_credit(&c) && sent < (8u << 20)) {
		uint32_t n = hxv_credit(&c) < sizeof(b) ? hxv_credit(&c) : sizeof(b);

		p = hxv_pkt(&c, VIRTIO_VSOCK_OP_RW, n);
		cr_assert_eq(hxv_send(&v, &p, b, n), 0);
		c.tx_cnt += n;
		sent += n;
		/* credit updates from the worker, as the socket takes some */
		while (hxv_recv(&v, &p, b, sizeof(b), 20) == 1) {
			cr_assert_eq(p.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			c.peer_fwd_cnt = p.fwd_cnt;
		}
	}
	cr_assert_eq(hxv_credit(&c), 0, "the guest's credit never ran out");
	cr_assert_lt(sent, 8u << 20);
	/* past the credit: reset, the worker holds no more than it advertised */
	p = hxv_pkt(&c, VIRTIO_VSOCK_OP_RW, 100);
	cr_assert_eq(hxv_send(&v, &p, b, 100), 0);
	expect(&c, VIRTIO_VSOCK_OP_RST);
	cr_assert(hx_worker_alive(&v.w));
	close(s);
	close(lst);
}

Test(vsock, rst_on_port_nobody_listens_on)
{
	struct hxv_conn c = conn(1004, 6000);

	start(NULL);
	send_op(&c, VIRTIO_VSOCK_OP_REQUEST, 0);
	expect(&c, VIRTIO_VSOCK_OP_RST);
}

Test(vsock, guest_shuts_down_sending_then_host)
{
	uint8_t b[16];
	struct hxv_conn c = conn(1005, HPORT);
	struct vsock_pkt p;
	int lst, s;

	start(NULL);
	lst = hxv_listen(&v, HXV_NAME "_5000");
	s = guest_connect(&c, lst);
	p = hxv_pkt(&c, VIRTIO_VSOCK_OP_RW, 3);
	cr_assert_eq(hxv_send(&v, &p, "abc", 3), 0);
	send_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND);
	cr_assert_eq(hxv_wait_readable(s, HX_TIMEOUT_MS), 1);
	cr_assert_eq(read(s, b, sizeof(b)), 3);
	cr_assert_eq(hxv_wait_readable(s, HX_TIMEOUT_MS), 1);
	cr_assert_eq(read(s, b, sizeof(b)), 0, "host sees EOF after the guest's data");
	/* the other direction still works */
	cr_assert_eq(write(s, "xyz", 3), 3);
	p = expect(&c, VIRTIO_VSOCK_OP_RW);
	cr_assert_eq(p.len, 3);
	/* host closes its side too: both directions are done, an RST ends the connection */
	shutdown(s, SHUT_WR);
	expect(&c, VIRTIO_VSOCK_OP_RST);
	expect_nothing();
	close(s);
	close(lst);
}

Test(vsock, host_shuts_down_sending_then_guest)
{
	uint8_t b[16];
	struct hxv_conn c;
	struct vsock_pkt p;
	int s;

	start(NULL);
	s = host_connect(&c, 99);
	cr_assert_eq(write(s, "abc", 3), 3);
	shutdown(s, SHUT_WR);
	p = expect(&c, VIRTIO_VSOCK_OP_RW);
	cr_assert_eq(p.len, 3);
	p = expect(&c, VIRTIO_VSOCK_OP_SHUTDOWN);
	cr_assert_eq(p.flags, VIRTIO_VSOCK_SHUTDOWN_SEND, "half-close: only SEND");
	/* the guest can still send */
	p = hxv_pkt(&c, VIRTIO_VSOCK_OP_RW, 4);
	cr_assert_eq(hxv_send(&v, &p, "wxyz", 4), 0);
	cr_assert_eq(hxv_wait_readable(s, HX_TIMEOUT_MS), 1);
	cr_assert_eq(read(s, b, sizeof(b)), 4);
	/* host closes whole; the guest shuts down both ways: RST ends it */
	send_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN,
		VIRTIO_VSOCK_SHUTDOWN_SEND | VIRTIO_VSOCK_SHUTDOWN_RCV);
	expect(&c, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(hx_wait_closed(s, HX_TIMEOUT_MS), 1);
	close(s);
}

Test(vsock, thousand_connections_opened_and_closed)
{
	static int fds[1000];
	struct rlimit rl;
	struct hxv_conn c;
	int lst;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	start(NULL);
	lst = hxv_listen(&v, HXV_NAME "_5000");
	for (unsigned i = 0; i < 1000; i++) {
		c = conn(20000 + i, HPORT);
		fds[i] = guest_connect(&c, lst);
	}
	for (unsigned i = 0; i < 1000; i++) {
		c = conn(20000 + i, HPORT);
		send_op(&c, VIRTIO_VSOCK_OP_RST, 0);
		close(fds[i]);
	}
	expect_nothing();
	/* all gone from the table: the same ports connect again, and data flows */
	for (unsigned i = 0; i < 1000; i++) {
		c = conn(20000 + i, HPORT);
		fds[i] = guest_connect(&c, lst);
		close(fds[i]);
		/* the host closed: SHUTDOWN (both ways), then our RST */
		expect(&c, VIRTIO_VSOCK_OP_SHUTDOWN);
		send_op(&c, VIRTIO_VSOCK_OP_RST, 0);
	}
	c = conn(30000, HPORT);
	fds[0] = guest_connect(&c, lst);
	both_ways(&c, fds[0], 10000);
	close(fds[0]);
	close(lst);
}

Test(vsock, connection_limit)
{
	const char *args[] = { "--max-conns=8", NULL };
	struct hxv_conn c;
	int lst, fds[8];
	char path[128];

	start(args);
	lst = hxv_listen(&v, HXV_NAME "_5000");
	for (unsigned i = 0; i < 8; i++) {
		c = conn(100 + i, HPORT);
		fds[i] = guest_connect(&c, lst);
	}
	c = conn(200, HPORT);
	send_op(&c, VIRTIO_VSOCK_OP_REQUEST, 0);
	expect(&c, VIRTIO_VSOCK_OP_RST);
	/* a host peer past the limit is accepted and closed */
	hxv_path(&v, HXV_NAME, path, sizeof(path));
	int s = hx_unix_connect(path, HX_TIMEOUT_MS);
	cr_assert_eq(hx_wait_closed(s, HX_TIMEOUT_MS), 1);
	close(s);
	/* one closes, one more fits */
	c = conn(100, HPORT);
	send_op(&c, VIRTIO_VSOCK_OP_RST, 0);
	close(fds[0]);
	c = conn(201, HPORT);
	fds[0] = guest_connect(&c, lst);
	for (unsigned i = 0; i < 8; i++)
		close(fds[i]);
	close(lst);
}

Test(vsock, host_peer_junk_line_closed)
{
	static const char *const junk[] = {
		"GET / HTTP/1.0\r\n", "CONNECT x\n", "CONNECT 99999999999\n",
		"CONNECT 1111111111111111111111111111111111111",
	};
	char path[128];

	start(NULL);
	hxv_path(&v, HXV_NAME, path, sizeof(path));
	for (unsigned i = 0; i < 4; i++) {
		int s = hx_unix_connect(path, HX_TIMEOUT_MS);

		cr_assert_geq(s, 0);
		cr_assert_eq(write(s, junk[i], strlen(junk[i])), (ssize_t)strlen(junk[i]));
		cr_assert_eq(hx_wait_closed(s, HX_TIMEOUT_MS), 1, "'%s' not closed", junk[i]);
		close(s);
	}
	expect_nothing();
	cr_assert(hx_worker_alive(&v.w));
}

static void raw_hdr(struct vsock_pkt p, uint32_t desc_len)
{
	uint8_t b[VSOCK_HDR_LEN + 64] = { 0 };
	struct virtio_vsock_hdr h;

	vsock_hdr_encode(&p, &h);
	memcpy(b, &h, sizeof(h));
	cr_assert_eq(hxv_send_raw(&v, b, sizeof(b), desc_len), 0);
}

Test(vsock, hostile_packets)
{
	static uint8_t b[100000];
	struct hxv_conn c = conn(1006, HPORT), g = conn(1007, 7000);
	struct vsock_pkt p;
	int lst, s;

	start(NULL);
	lst = hxv_listen(&v, HXV_NAME "_5000");
	/* wrong CIDs: dropped, no answer */
	p = hxv_pkt(&c, VIRTIO_VSOCK_OP_REQUEST, 0);
	p.src_cid = 43;
	raw_hdr(p, VSOCK_HDR_LEN);
	p = hxv_pkt(&c, VIRTIO_VSOCK_OP_REQUEST, 0);
	p.dst_cid = 1;
	raw_hdr(p, VSOCK_HDR_LEN);
	cr_assert_eq(hxv_send_raw(&v, b, 10, 10), 0);      /* shorter than a header */
	expect_nothing();
	/* unknown op, unknown type, bad lengths: RST */
	p = hxv_pkt(&g, 42, 0);
	raw_hdr(p, VSOCK_HDR_LEN);
	expect(&g, VIRTIO_VSOCK_OP_RST);
	p = hxv_pkt(&g, VIRTIO_VSOCK_OP_REQUEST, 0);
	p.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	raw_hdr(p, VSOCK_HDR_LEN);
	expect(&g, VIRTIO_VSOCK_OP_RST);
	p = hxv_pkt(&g, VIRTIO_VSOCK_OP_RW, 1000);          /* len beyond the chain */
	raw_hdr(p, VSOCK_HDR_LEN + 64);
	expect(&g, VIRTIO_VSOCK_OP_RST);
	p = hxv_pkt(&g, VIRTIO_VSOCK_OP_RW, 0xffffffffu);
	raw_hdr(p, VSOCK_HDR_LEN + 64);
	expect(&g, VIRTIO_VSOCK_OP_RST);
	p = hxv_pkt(&g, VIRTIO_VSOCK_OP_REQUEST, 8);        /* payload on a REQUEST */
	raw_hdr(p, VSOCK_HDR_LEN + 8);
	expect(&g, VIRTIO_VSOCK_OP_RST);
	/* data, credit update, shutdown for no connection: RST; an RST for none: nothing */
	p = hxv_pkt(&g, VIRTIO_VSOCK_OP_RW, 10);
	raw_hdr(p, VSOCK_HDR_LEN + 10);
	expect(&g, VIRTIO_VSOCK_OP_RST);
	send_op(&g, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	expect(&g, VIRTIO_VSOCK_OP_RST);
	send_op(&g, VIRTIO_VSOCK_OP_RST, 0);
	expect_nothing();
	/* zero credit: a guest advertising buf_alloc 0 gets no data, however much waits */
	c.buf_alloc = 0;
	s = guest_connect(&c, lst);
	cr_assert_eq(send(s, b, 1000, MSG_DONTWAIT), 1000);
	expect_nothing();
	/* and a guest that ignores its credit (the host reads nothing) is reset once it is
	 * past what the worker advertised: the worker never holds more than buf_alloc */
	bool reset = false;
	for (unsigned i = 0; i < 200 && !reset; i++) {
		struct vsock_pkt q = hxv_pkt(&c, VIRTIO_VSOCK_OP_RW, 60000);

		cr_assert_eq(hxv_send(&v, &q, b, 60000), 0);
		while (!reset && hxv_recv(&v, &p, b, sizeof(b), i < 199 ? 0 : 1000) == 1) {
			cr_assert(p.op == VIRTIO_VSOCK_OP_RST ||
				  p.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE, "op %u", p.op);
			reset = p.op == VIRTIO_VSOCK_OP_RST;
		}
	}
	cr_assert(reset, "a guest past its credit was not reset");
	/* what was still in flight behind the reset is for no connection: RSTs too */
	while (hxv_recv(&v, &p, b, sizeof(b), QUIET_MS) == 1)
		cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(hx_wait_closed(s, HX_TIMEOUT_MS), 1);
	close(s);
	/* a REQUEST flood for ports nobody listens on: RSTs, bounded; the worker lives */
	for (unsigned i = 0; i < 300; i++) {
		struct hxv_conn f = conn(40000 + i, 9);

		send_op(&f, VIRTIO_VSOCK_OP_REQUEST, 0);
	}
	while (hxv_recv(&v, &p, b, sizeof(b), QUIET_MS) == 1)
		cr_assert_eq(p.op, VIRTIO_VSOCK_OP_RST);
	cr_assert(hx_worker_alive(&v.w));
	/* still serving */
	c = conn(1008, HPORT);
	s = guest_connect(&c, lst);
	both_ways(&c, s, 50000);
	close(s);
	close(lst);
}
