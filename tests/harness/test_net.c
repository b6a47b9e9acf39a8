/* bulkhead-net end to end (suite 'net'): the harness is the frontend and the guest driver, a
 * tap in a network namespace of the test's own is the host side. Each test runs in its own
 * process (criterion forks), enters a fresh namespace, creates the tap there and hands its
 * queue fds to the worker as the supervisor would; the namespace and the tap vanish with the
 * test process and the worker. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/virtio_config.h>

#include <seccomp.h>

#include "hx_net.h"
#include "net_stats.h"
#include "supervisor_priv.h"    /* sup_rss_attach: the supervisor's RSS loader */

#define QUIET_MS 300
#define RXBUF    2048u
#define RXBUFS   40u

static const uint8_t NIC[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0x01 };
static const uint8_t PEER[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x77 };

struct nx {
	struct hx_tap tap;
	struct hx_worker w;
	struct hx h;
	bool h_ready;
	int stats_fd;
	struct net_stats *stats;
	unsigned pairs, nq;
	bool want_rss;              /* start() attaches the steering program as the supervisor */
	struct sup_rss rss;         /* its maps, for the worker (-1: none) */
};

static struct nx x = { .stats_fd = -1, .rss = { -1, { -1, -1, -1 } } };

static const char *net_bin(void)
{
	const char *b = getenv("BULKHEAD_NET");

	return b && *b ? b : "build/dev-net/bulkhead-net";
}

static void down(void)
{
	if (x.h_ready)
		hx_exit(&x.h);
	x.h_ready = false;
	hx_worker_kill(&x.w);
	hxn_tap_close(&x.tap);
	if (x.stats)
		munmap(x.stats, NET_STATS_FD_MIN);
	if (x.stats_fd >= 0)
		close(x.stats_fd);
	sup_rss_close(&x.rss);
}

TestSuite(net, .fini = down, .timeout = 60);

/* The worker on the tap's queues (fds 4..), the stats memfd and the RSS maps (after them). */
static void spawn(void)
{
	char tapfd[NET_STATS_MAX_PAIRS][24], statsfd[24], queues[24], rss[48];
	const char *args[24];
	int fds[HXN_MAX_QUEUES + 1 + NET_RSS_MAPS];
	unsigned n = 0, nf = 0;

	for (unsigned i = 0; i < x.pairs; i++) {
		snprintf(tapfd[i], sizeof(tapfd[i]), "--tap-fd=%u", 4 + i);
		args[n++] = tapfd[i];
		fds[nf++] = x.tap.fds[i];
	}
	snprintf(statsfd, sizeof(statsfd), "--stats-fd=%u", 4 + x.pairs);
	fds[nf++] = x.stats_fd;
	snprintf(queues, sizeof(queues), "--queues=%u", x.pairs);
	args[n++] = statsfd;
	args[n++] = queues;
	args[n++] = "--mac=52:54:00:ab:cd:01";
	args[n++] = "--name=hx";
	if (x.rss.map_fd[0] >= 0) {
		snprintf(rss, sizeof(rss), "--rss-map-fds=%u,%u,%u", 4 + nf, 5 + nf, 6 + nf);
		for (unsigned i = 0; i < NET_RSS_MAPS; i++)
			fds[nf++] = x.rss.map_fd[i];
		args[n++] = rss;
	}
	args[n] = NULL;
	cr_assert_eq(hx_worker_spawn_fds(&x.w, net_bin(), NULL, args, fds, nf), 0);
}

static void attach(unsigned nq)
{
	int sock = x.w.sock, r;

	x.w.sock = -1;
	r = hx_attach(&x.h, sock, nq, HX_QSIZE, HX_NET);
	cr_assert_eq(r, 0, "attach: %s", strerror(-r));
	x.nq = nq;
	for (unsigned p = 0; p < x.pairs; p++)
		cr_assert_eq(hxn_rx_post(&x.h, 2 * p, RXBUFS, RXBUF), 0);
}

/* Namespace, tap with `pairs` queues, stats page, worker, attached with nq queues. */
static void start(unsigned pairs, unsigned nq)
{
	int r;

	r = hxn_netns_enter();
	cr_assert_eq(r, 0, "netns: %s", strerror(-r));
	r = hxn_tap_create(&x.tap, "bhx0", pairs);
	cr_assert_eq(r, 0, "tap: %s", strerror(-r));
	x.pairs = pairs;
	if (x.want_rss) {
		char err[160];

		r = sup_rss_attach(x.tap.fds[0], &x.rss, err, sizeof(err));
		cr_assert_eq(r, 0, "the supervisor's loader: %s", err);
	}
	x.stats_fd = memfd_create("bulkhead-net-stats", MFD_CLOEXEC);
	cr_assert(x.stats_fd >= 0 && ftruncate(x.stats_fd, NET_STATS_FD_MIN) == 0);
	x.stats = mmap(NULL, NET_STATS_FD_MIN, PROT_READ, MAP_SHARED, x.stats_fd, 0);
	cr_assert(x.stats != MAP_FAILED);
	spawn();
	cr_assert_eq(hx_init(&x.h, 64ULL << 20), 0);
	x.h_ready = true;
	attach(nq);
}

static uint64_t stat_of(unsigned p, size_t off)
{
	return net_stats_get((const uint64_t *)((const uint8_t *)&x.stats->pair[p] + off));
}
#define STAT(p, f) stat_of(p, offsetof(struct net_stats_pair, f))

static const struct virtio_net_hdr_mrg_rxbuf plain = { 0 };

/* Guest sends frame on pair p's TX queue; the completion comes back with len 0. */
static void tx(unsigned p, unsigned slot, const struct virtio_net_hdr_mrg_rxbuf *vh,
	       const uint8_t *f, uint32_t len)
{
	struct hx_done d;
	int head = hxn_tx(&x.h, 2 * p + 1, slot, vh, f, len);

	cr_assert_geq(head, 0);
	cr_assert_eq(hx_wait(&x.h, 2 * p + 1, HX_TIMEOUT_MS, &d), 1, "no TX completion");
	cr_assert_eq(d.head, head);
	cr_assert_eq(d.len, 0);
}

/* The frame shows up on the tap unchanged. */
static void expect_on_tap(const uint8_t *f, uint32_t len)
{
	static uint8_t got[70000];
	struct virtio_net_hdr vh;
	long n = hxn_tap_recv(&x.tap, HXN_ETHERTYPE, &vh, got, sizeof(got), HX_TIMEOUT_MS);

	cr_assert_eq(n, (long)len, "tap got %ld bytes, want %u", n, len);
	cr_assert_arr_eq(got, f, len);
}

static void expect_nothing_on_tap(void)
{
	static uint8_t got[70000];
	struct virtio_net_hdr vh;

	cr_assert_eq(hxn_tap_recv(&x.tap, HXN_ETHERTYPE, &vh, got, sizeof(got), QUIET_MS), 0,
		     "a dropped frame reached the tap");
}

/* A valid frame still goes through pair p. */
static void still_sends(unsigned p, uint8_t seed)
{
	uint8_t f[600];

	hxn_frame(f, sizeof(f), PEER, NIC, seed);
	tx(p, 1, &plain, f, sizeof(f));
	expect_on_tap(f, sizeof(f));
}

Test(net, frames_both_ways)
{
	static uint8_t f[1514], got[2048];
	unsigned nb;
	long n;

	start(1, 3);
	cr_assert_eq(x.stats->magic, NET_STATS_MAGIC);
	cr_assert_eq(x.stats->npairs, 1);
	hxn_frame(f, 200, PEER, NIC, 1);
	tx(0, 0, &plain, f, 200);
	expect_on_tap(f, 200);

	hxn_frame(f, sizeof(f), NIC, PEER, 2);
	cr_assert_eq(hxn_tap_send(&x.tap, NULL, f, sizeof(f)), 0);
	n = hxn_rx_recv(&x.h, 0, got, sizeof(got), HX_TIMEOUT_MS, &nb);
	cr_assert_eq(n, 12 + (long)sizeof(f), "guest got %ld bytes", n);
	cr_assert_eq(nb, 1);
	cr_assert_arr_eq(got + 12, f, sizeof(f));

	cr_assert_eq(STAT(0, tx_packets), 1);
	cr_assert_eq(STAT(0, tx_bytes), 200);
	cr_assert_eq(STAT(0, rx_packets), 1);
	cr_assert_eq(STAT(0, rx_bytes), sizeof(f));
	cr_assert_eq(STAT(0, tx_errors) + STAT(0, tx_spoofed) + STAT(0, rx_dropped), 0);
}

/* An IPv4/TCP frame of len bytes from src to dst (headers valid enough for GSO). */
static void tcp_frame(uint8_t *f, uint32_t len, const uint8_t dst[6], const uint8_t src[6])
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(f + 14, 0, 40);
	f[14] = 0x45;
	f[16] = (uint8_t)((len - 14) >> 8);
	f[17] = (uint8_t)(len - 14);
	f[22] = 64;
	f[23] = 6;                                  /* TCP */
	memcpy(f + 26, "\x0a\x00\x00\x02\x0a\x00\x00\x01", 8);
	f[34 + 12] = 5 << 4;                        /* data offset: 20 bytes */
	f[34 + 13] = 0x18;                          /* PSH|ACK */
	for (uint32_t i = 54; i < len; i++)
		f[i] = (uint8_t)(i * 13);
}

static const struct virtio_net_hdr_mrg_rxbuf tso4 = {
	.hdr = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		 .hdr_len = 54, .gso_size = 1448, .csum_start = 34, .csum_offset = 16 },
};

Test(net, tso_64k_from_guest)
{
	static uint8_t f[65536], got[70000];
	const uint32_t len = 65000;
	struct virtio_net_hdr vh;
	uint64_t payload = 0;
	long n;

	start(1, 3);
	cr_assert(x.h.features & (1ULL << VIRTIO_NET_F_HOST_TSO4));
	tcp_frame(f, len, PEER, NIC);
	tx(0, 0, &tso4, f, len);
	/* the tap keeps it one GSO skb (the packet socket reports its gso), or segments */
	while (payload < len - 54) {
		n = hxn_tap_recv(&x.tap, 0x0800, &vh, got, sizeof(got), HX_TIMEOUT_MS);
		cr_assert_gt(n, 54, "only %llu of %u payload bytes arrived",
			     (unsigned long long)payload, len - 54);
		if (n == len) {
			cr_assert_eq(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
			cr_assert_eq(vh.gso_size, 1448);
			cr_assert_arr_eq(got + 54, f + 54, len - 54);
		} else {
			cr_assert_leq(n, 1514);
		}
		payload += (uint64_t)n - 54;
	}
	cr_assert_eq(payload, len - 54);
	cr_assert_eq(STAT(0, tx_bytes), len);
}

Test(net, tso_64k_to_guest_mergeable)
{
	static uint8_t f[65536], got[70000];
	const uint32_t len = 60000;
	struct virtio_net_hdr vh = tso4.hdr;
	struct virtio_net_hdr_mrg_rxbuf gh;
	unsigned nb;
	long n;

	start(1, 3);
	cr_assert(x.h.features & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	cr_assert(x.h.features & (1ULL << VIRTIO_NET_F_GUEST_TSO4));
	tcp_frame(f, len, NIC, PEER);
	cr_assert_eq(hxn_tap_send(&x.tap, &vh, f, len), 0);
	n = hxn_rx_recv(&x.h, 0, got, sizeof(got), HX_TIMEOUT_MS, &nb);
	cr_assert_eq(n, 12 + (long)len, "guest got %ld bytes", n);
	cr_assert_eq(nb, (12 + len + RXBUF - 1) / RXBUF, "%u buffers", nb);
	memcpy(&gh, got, sizeof(gh));
	cr_assert_eq(gh.hdr.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	cr_assert_eq(gh.hdr.gso_size, 1448);
	cr_assert_arr_eq(got + 12 + 54, f + 54, len - 54);
	cr_assert_eq(STAT(0, rx_packets), 1);
}

Test(net, multiqueue_two_pairs)
{
	uint16_t two = htole16(2), three = htole16(3), zero = 0;
	uint8_t f0[300], f1[400];

	start(2, 5);
	cr_assert(x.h.features & (1ULL << VIRTIO_NET_F_MQ));
	cr_assert_eq(hxn_ctrl(&x.h, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &three,
			      2), VIRTIO_NET_ERR);
	cr_assert_eq(hxn_ctrl(&x.h, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &zero,
			      2), VIRTIO_NET_ERR);
	cr_assert_eq(hxn_ctrl(&x.h, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &two,
			      1), VIRTIO_NET_ERR);
	cr_assert_eq(hxn_ctrl(&x.h, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &two,
			      2), VIRTIO_NET_OK);
	hxn_frame(f0, sizeof(f0), PEER, NIC, 10);
	hxn_frame(f1, sizeof(f1), PEER, NIC, 11);
	tx(0, 0, &plain, f0, sizeof(f0));
	expect_on_tap(f0, sizeof(f0));
	tx(1, 0, &plain, f1, sizeof(f1));
	expect_on_tap(f1, sizeof(f1));
	cr_assert_eq(STAT(0, tx_packets), 1);
	cr_assert_eq(STAT(1, tx_packets), 1);
	cr_assert_eq(STAT(1, tx_bytes), sizeof(f1));
}

Test(net, spoofed_source_never_leaves)
{
	static const uint8_t other[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0x02 };
	uint8_t f[500];

	start(1, 3);
	hxn_frame(f, sizeof(f), PEER, other, 3);
	tx(0, 0, &plain, f, sizeof(f));
	expect_nothing_on_tap();
	cr_assert_eq(STAT(0, tx_spoofed), 1);
	cr_assert_eq(STAT(0, tx_packets), 0);
	still_sends(0, 4);
	cr_assert_eq(STAT(0, tx_spoofed), 1);
}

Test(net, malformed_vnet_headers_dropped)
{
	struct virtio_net_hdr_mrg_rxbuf bad[4] = { tso4, tso4, plain, plain };
	static uint8_t f[4000];

	start(1, 3);
	bad[0].hdr.gso_type = 7;                            /* no such type */
	bad[1].hdr.gso_size = 0;                            /* TSO without a segment size */
	bad[2].hdr.flags = VIRTIO_NET_HDR_F_DATA_VALID;     /* a receive-only flag */
	bad[3].hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;     /* checksum beyond the frame */
	bad[3].hdr.csum_start = 3990;
	bad[3].hdr.csum_offset = 16;
	tcp_frame(f, sizeof(f), PEER, NIC);
	for (unsigned i = 0; i < 4; i++)
		tx(0, 0, &bad[i], f, sizeof(f));
	cr_assert_eq(hxn_tap_recv(&x.tap, 0x0800, &(struct virtio_net_hdr){ 0 }, f, sizeof(f),
				  QUIET_MS), 0, "a malformed frame reached the tap");
	cr_assert_eq(STAT(0, tx_errors), 4);
	still_sends(0, 5);
	cr_assert(hx_worker_alive(&x.w));
}

/* Chains that are dropped one by one: the queue goes on. */
Test(net, hostile_tx_chains_dropped)
{
	struct hx *h = &x.h;
	uint64_t hdr, data;
	struct hx_done d;

	start(1, 3);
	hdr = hx_slot_hdr_gpa(h, 1, 0);
	data = hx_slot_data_gpa(h, 1, 0);
	memset(hx_ptr(h, hdr, 12), 0, 12);
	hxn_frame(hx_ptr(h, data, 600), 600, PEER, NIC, 6);
	/* a device-writable buffer in a TX chain */
	hx_desc(h, 1, 0, hdr, 12, VRING_DESC_F_NEXT, 1);
	hx_desc(h, 1, 1, data, 600, VRING_DESC_F_WRITE, 0);
	hx_publish(h, 1, 0);
	hx_kick(h, 1);
	cr_assert_eq(hx_wait(h, 1, HX_TIMEOUT_MS, &d), 1);
	/* shorter than header + Ethernet header */
	hx_desc(h, 1, 0, hdr, 12, VRING_DESC_F_NEXT, 1);
	hx_desc(h, 1, 1, data, 10, 0, 0);
	hx_publish(h, 1, 0);
	hx_kick(h, 1);
	cr_assert_eq(hx_wait(h, 1, HX_TIMEOUT_MS, &d), 1);
	/* absurd length, inside guest RAM: 1 MiB */
	hx_desc(h, 1, 0, hdr, 12, VRING_DESC_F_NEXT, 1);
	hx_desc(h, 1, 1, data, 1 << 20, 0, 0);
	hx_publish(h, 1, 0);
	hx_kick(h, 1);
	cr_assert_eq(hx_wait(h, 1, HX_TIMEOUT_MS, &d), 1);
	cr_assert_eq(d.len, 0);
	expect_nothing_on_tap();
	cr_assert_eq(STAT(0, tx_errors), 3);
	still_sends(0, 7);
}

/* A chain outside guest RAM breaks the TX queue: nothing more leaves on it, but the worker
 * lives, answers vhost-user messages, and RX still works. */
Test(net, address_outside_ram_stops_queue)
{
	static uint8_t f[700], got[2048];
	struct hx *h = &x.h;
	struct hx_done d;
	uint64_t feat;
	unsigned nb;

	start(1, 3);
	hx_desc(h, 1, 0, hx_slot_hdr_gpa(h, 1, 0), 12, VRING_DESC_F_NEXT, 1);
	hx_desc(h, 1, 1, hx_ram_end(h) + 4096, 600, 0, 0);
	hx_publish(h, 1, 0);
	hx_kick(h, 1);
	hxn_frame(f, 600, PEER, NIC, 8);
	cr_assert_geq(hxn_tx(h, 1, 1, &plain, f, 600), 0);
	cr_assert_eq(hx_wait(h, 1, QUIET_MS, &d), 0, "the broken TX queue completed something");
	expect_nothing_on_tap();
	cr_assert(hx_worker_alive(&x.w), "the worker died");
	cr_assert_eq(vuf_get_features(&h->f, &feat), 0, "the worker stopped answering");
	hxn_frame(f, sizeof(f), NIC, PEER, 9);
	cr_assert_eq(hxn_tap_send(&x.tap, NULL, f, sizeof(f)), 0);
	cr_assert_eq(hxn_rx_recv(h, 0, got, sizeof(got), HX_TIMEOUT_MS, &nb), 12 + (long)sizeof(f));
}

Test(net, control_commands)
{
	uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0x09 }, on = 1, two[2] = { 1, 1 };
	uint8_t table[4 + 4 + 6] = { 0, 0, 0, 0, 1, 0, 0, 0, 0x01, 0x00, 0x5e, 0, 0, 1 };

	start(1, 3);
	cr_assert(x.h.features & (1ULL << VIRTIO_NET_F_CTRL_VQ));
	cr_assert_eq(hxn_ctrl(&x.h, 2, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6),
		     VIRTIO_NET_ERR, "the guest changed its MAC");
	cr_assert_eq(hxn_ctrl(&x.h, 2, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table,
			      sizeof(table)), VIRTIO_NET_OK);
	cr_assert_eq(hxn_ctrl(&x.h, 2, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table,
			      sizeof(table) - 1), VIRTIO_NET_ERR);
	cr_assert_eq(hxn_ctrl(&x.h, 2, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1),
		     VIRTIO_NET_OK);
	cr_assert_eq(hxn_ctrl(&x.h, 2, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, two, 2),
		     VIRTIO_NET_ERR);
	cr_assert_eq(hxn_ctrl(&x.h, 2, 0x77, 0, NULL, 0), VIRTIO_NET_ERR);
	/* the MAC was never changed: frames from the old one still go out */
	still_sends(0, 12);
}

/* SIGKILL and a new worker on the same tap fds: frames flow again, counters carry on. */
Test(net, restart_on_same_taps)
{
	uint8_t f[800];
	int r;

	start(1, 3);
	still_sends(0, 20);
	hx_worker_kill(&x.w);
	spawn();
	r = hx_reattach(&x.h, x.w.sock, HX_NET);
	x.w.sock = -1;
	cr_assert_eq(r, 0, "reattach: %s", strerror(-r));
	hxn_frame(f, sizeof(f), PEER, NIC, 21);
	tx(0, 2, &plain, f, sizeof(f));
	expect_on_tap(f, sizeof(f));
	cr_assert_eq(STAT(0, tx_packets), 2, "the counters did not survive the restart");
	cr_assert_eq(net_stats_get(&x.stats->generation), 2);
}

/* ---- receive-side scaling: the supervisor's steering program on the tap ------------------- */

/* An IPv4/UDP frame to the NIC from 10.0.0.2:sport to 10.0.0.1:53, 200 bytes. */
static size_t udp_frame(uint8_t *f, uint16_t sport)
{
	memset(f, 0, 200);
	memcpy(f, NIC, 6);
	memcpy(f + 6, PEER, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[17] = 200 - 14;
	f[22] = 64;
	f[23] = 17;
	memcpy(f + 26, "\x0a\x00\x00\x02\x0a\x00\x00\x01", 8);
	f[34] = (uint8_t)(sport >> 8), f[35] = (uint8_t)sport;
	f[37] = 53;
	f[39] = 200 - 34;
	return 200;
}

/* struct virtio_net_rss_config: every hash type, a table of `len` entries (entry i is
 * queue i % spread + first), max_tx_vq 2, a 40-byte key. Returns its length. */
static uint32_t rss_config(uint8_t *b, uint16_t len, uint16_t first, uint16_t spread,
			   uint16_t unclassified)
{
	uint32_t off = 8;

	memcpy(b, &(uint32_t){ htole32(0x3f) }, 4);
	memcpy(b + 4, &(uint16_t){ htole16(len - 1) }, 2);
	memcpy(b + 6, &(uint16_t){ htole16(unclassified) }, 2);
	for (unsigned i = 0; i < len; i++, off += 2)
		memcpy(b + off, &(uint16_t){ htole16((uint16_t)(first + i % spread)) }, 2);
	memcpy(b + off, &(uint16_t){ htole16(2) }, 2);
	b[off + 2] = 40;
	for (unsigned i = 0; i < 40; i++)
		b[off + 3 + i] = (uint8_t)(i * 29 + 7);
	return off + 3 + 40;
}

/* Drain rx queue q: for each frame, the UDP source port; returns how many. */
static unsigned drain(unsigned q, uint16_t *sport, unsigned cap)
{
	static uint8_t got[2048];
	unsigned n = 0, nb;
	long len;

	while ((len = hxn_rx_recv(&x.h, q, got, sizeof(got), QUIET_MS, &nb)) > 0) {
		cr_assert_eq(len, 12 + 200, "rx queue %u: %ld bytes", q, len);
		cr_assert_lt(n, cap, "more frames than were sent");
		sport[n++] = (uint16_t)(got[12 + 34] << 8 | got[12 + 35]);
	}
	cr_assert_eq(len, 0, "rx queue %u: %ld", q, len);
	return n;
}

static void rss_start(void)
{
	x.want_rss = true;
	start(2, 5);
	cr_assert(x.h.features & (1ULL << VIRTIO_NET_F_RSS), "F_RSS not offered with the maps");
}

Test(net, rss_steers_to_queue_1)
{
	uint8_t cfg[300], f[200];
	uint16_t ports[32];
	uint8_t keysize;

	rss_start();
	cr_assert_eq(vuf_get_config(&x.h.f, offsetof(struct virtio_net_config, rss_max_key_size),
				    &keysize, 1), 0);
	cr_assert_eq(keysize, 40);
	/* one entry, queue 1; unclassified frames to queue 1 too */
	cr_assert_eq(hxn_ctrl(&x.h, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, cfg,
			      rss_config(cfg, 1, 1, 1, 1)), VIRTIO_NET_OK);
	for (uint16_t p = 0; p < 8; p++) {
		udp_frame(f, (uint16_t)(40000 + p * 131));
		cr_assert_eq(hxn_tap_send(&x.tap, NULL, f, sizeof(f)), 0);
	}
	cr_assert_eq(drain(2, ports, 32), 8, "frames missing on rx queue 1");
	cr_assert_eq(drain(0, ports, 32), 0, "a frame reached rx queue 0");
	cr_assert_eq(STAT(1, rx_packets), 8);
	/* a malformed configuration is refused and changes nothing */
	cr_assert_eq(hxn_ctrl(&x.h, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, cfg,
			      rss_config(cfg, 1, 2, 1, 1)), VIRTIO_NET_ERR, "queue 2 of 2");
	cr_assert_eq(hxn_tap_send(&x.tap, NULL, f, sizeof(f)), 0);
	cr_assert_eq(drain(2, ports, 32), 1);
	/* table to queue 0 now */
	cr_assert_eq(hxn_ctrl(&x.h, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, cfg,
			      rss_config(cfg, 1, 0, 1, 0)), VIRTIO_NET_OK);
	cr_assert_eq(hxn_tap_send(&x.tap, NULL, f, sizeof(f)), 0);
	cr_assert_eq(drain(0, ports, 32), 1);
	cr_assert_eq(drain(2, ports, 32), 0);
}

/* 24 flows, each sent twice, over a 128-entry table alternating the two queues: both queues
 * get flows, and both frames of a flow land on the same queue. */
static void spread_flows(void)
{
	uint16_t q0[64], q1[64];
	uint8_t f[200];
	unsigned n0, n1;

	for (unsigned round = 0; round < 2; round++)
		for (uint16_t p = 0; p < 24; p++) {
			udp_frame(f, (uint16_t)(20000 + p * 7));
			cr_assert_eq(hxn_tap_send(&x.tap, NULL, f, sizeof(f)), 0);
		}
	n0 = drain(0, q0, 64);
	n1 = drain(2, q1, 64);
	cr_assert_eq(n0 + n1, 48, "%u + %u frames of 48", n0, n1);
	cr_assert(n0 && n1, "all flows on one queue: %u, %u", n0, n1);
	for (unsigned i = 0; i < n0; i++)
		for (unsigned j = 0; j < n1; j++)
			cr_assert_neq(q0[i], q1[j], "flow %u on both queues", q0[i]);
}

Test(net, rss_spreads_flows)
{
	uint8_t cfg[300];

	rss_start();
	cr_assert_eq(hxn_ctrl(&x.h, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, cfg,
			      rss_config(cfg, 128, 0, 2, 0)), VIRTIO_NET_OK);
	spread_flows();
	/* VQ_PAIRS_SET after RSS: the worker's own spread takes over, flows still on both */
	cr_assert_eq(hxn_ctrl(&x.h, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
			      &(uint16_t){ htole16(2) }, 2), VIRTIO_NET_OK);
	spread_flows();
}

/* Where bpf() is refused (EPERM, as in a container's seccomp profile or a user namespace):
 * the loader says why, the worker gets no maps, offers no F_RSS, and multiqueue works on the
 * tap's own flow hash. */
Test(net, rss_refused_falls_back)
{
	scmp_filter_ctx sc = seccomp_init(SCMP_ACT_ALLOW);
	uint16_t ports[64];
	uint8_t f[200];
	unsigned n;

	cr_assert(sc && seccomp_rule_add(sc, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(bpf), 0) == 0 &&
		  seccomp_load(sc) == 0);
	seccomp_release(sc);
	cr_assert_eq(hxn_netns_enter(), 0);
	cr_assert_eq(hxn_tap_create(&x.tap, "bhx0", 2), 0);
	char err[160];
	cr_assert_eq(sup_rss_attach(x.tap.fds[0], &x.rss, err, sizeof(err)), -EPERM, "%s", err);
	cr_assert(strstr(err, "Operation not permitted"), "%s", err);
	cr_assert_eq(x.rss.map_fd[0], -1);
	hxn_tap_close(&x.tap);
	start(2, 5);
	cr_assert_not(x.h.features & (1ULL << VIRTIO_NET_F_RSS), "F_RSS without the maps");
	cr_assert_eq(hxn_ctrl(&x.h, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
			      &(uint16_t){ htole16(2) }, 2), VIRTIO_NET_OK);
	for (uint16_t p = 0; p < 16; p++) {
		udp_frame(f, (uint16_t)(30000 + p));
		cr_assert_eq(hxn_tap_send(&x.tap, NULL, f, sizeof(f)), 0);
	}
	n = drain(0, ports, 64);
	n += drain(2, ports + n, 64 - n);
	cr_assert_eq(n, 16, "%u of 16 frames arrived", n);
}
