/* bulkhead-net device model without a process: the command line (every error line), features,
 * config space, queue roles, tap offloads, the TX checks (header, lengths, anti-spoofing), the
 * control queue commands with good and bad lengths, and RSS_CONFIG into plain memory standing
 * in for the steering program's maps. */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "net.h"

#define BIT(b) (1ULL << (b))

static int parse(struct net_opts *o, char *err, const char *const *args)
{
	char *argv[32] = { (char *)"bulkhead-net" };
	int n = 1;

	for (; *args; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	err[0] = '\0';
	return net_opts_parse(o, n, argv, err, 256);
}

Test(opts, good)
{
	const char *a[] = { "--fd=3", "--tap-fd=4", "--tap-fd=5", "--mac=02:AB:cd:00:00:01",
			    "--name=eth0", "--stats-fd=6", "--disable-seccomp", "--runas=1000:100",
			    NULL };
	struct net_opts o;
	char err[256];

	cr_assert_eq(parse(&o, err, a), 0, "%s", err);
	cr_assert_eq(o.fd, 3);
	cr_assert_eq(o.ntap_fd, 2);
	cr_assert_eq(o.tap_fd[1], 5);
	cr_assert_eq(o.pairs, 2, "queues defaults to the number of --tap-fd");
	cr_assert_arr_eq(o.mac, ((uint8_t[]){ 0x02, 0xab, 0xcd, 0, 0, 1 }), 6);
	cr_assert_str_eq(o.name, "eth0");
	cr_assert_eq(o.stats_fd, 6);
	cr_assert(o.no_seccomp && o.runas.runas && o.runas.uid == 1000 && o.runas.gid == 100);
}

Test(opts, defaults_and_tap)
{
	const char *a[] = { "--socket-path=/tmp/x.sock", "--tap=tap0", "--queues=4", NULL };
	struct net_opts o;
	char err[256];

	cr_assert_eq(parse(&o, err, a), 0, "%s", err);
	cr_assert_str_eq(o.tap, "tap0");
	cr_assert_eq(o.pairs, 4);
	cr_assert_arr_eq(o.mac, ((uint8_t[]){ 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }), 6);
	cr_assert_eq(o.stats_fd, -1);
}

Test(opts, capabilities)
{
	const char *a[] = { "--print-capabilities", NULL };
	struct net_opts o;
	char err[256];

	cr_assert_eq(parse(&o, err, a), 0);
	cr_assert(o.print_caps);
	cr_assert_str_eq(net_capabilities, "{\"type\": \"net\"}");
}

Test(opts, every_error)
{
	static const struct {
		const char *args[6];
		const char *msg;
	} bad[] = {
		{ { "--tap=t", NULL }, "exactly one of --socket-path and --fd is required" },
		{ { "--fd=3", "--socket-path=/s", "--tap=t", NULL },
		  "exactly one of --socket-path and --fd is required" },
		{ { "--fd=3", NULL }, "exactly one of --tap and --tap-fd is required" },
		{ { "--fd=3", "--tap=t", "--tap-fd=4", NULL },
		  "exactly one of --tap and --tap-fd is required" },
		{ { "--fd=x", NULL }, "--fd: not a file descriptor: 'x'" },
		{ { "--fd=3", "--tap-fd=-1", NULL }, "--tap-fd: not a file descriptor: '-1'" },
		{ { "--fd=3", "--tap-fd=4", "--stats-fd=", NULL }, "--stats-fd: not a file descriptor: ''" },
		{ { "--fd=3", "--tap=", NULL }, "--tap: want an interface name of 1..15 characters" },
		{ { "--fd=3", "--tap=abcdefghijklmnop", NULL },
		  "--tap: want an interface name of 1..15 characters" },
		{ { "--fd=3", "--tap=t", "--queues=0", NULL }, "--queues: want 1..8 queue pairs, got '0'" },
		{ { "--fd=3", "--tap=t", "--queues=9", NULL }, "--queues: want 1..8 queue pairs, got '9'" },
		{ { "--fd=3", "--tap-fd=4", "--queues=2", NULL },
		  "--queues=2 but 1 --tap-fd given: one tap queue per queue pair" },
		{ { "--fd=3", "--tap=t", "--mac=52:54:00:12:34", NULL },
		  "--mac: want xx:xx:xx:xx:xx:xx, got '52:54:00:12:34'" },
		{ { "--fd=3", "--tap=t", "--mac=52-54-00-12-34-56", NULL },
		  "--mac: want xx:xx:xx:xx:xx:xx, got '52-54-00-12-34-56'" },
		{ { "--fd=3", "--tap=t", "--mac=5g:54:00:12:34:56", NULL },
		  "--mac: want xx:xx:xx:xx:xx:xx, got '5g:54:00:12:34:56'" },
		{ { "--fd=3", "--tap=t", "--mac=01:00:5e:00:00:01", NULL },
		  "--mac: 01:00:5e:00:00:01 is not a unicast address" },
		{ { "--fd=3", "--tap=t", "--mac=00:00:00:00:00:00", NULL },
		  "--mac: 00:00:00:00:00:00 is not a unicast address" },
		{ { "--fd=3", "--tap=t", "--name=a/b", NULL },
		  "--name: want 1..24 characters without spaces or '/'" },
		{ { "--fd=3", "--tap=t", "--runas=me", NULL }, "--runas: want UID:GID, got 'me'" },
		{ { "--fd=3", "--tap-fd=3", NULL }, "descriptor 3 is named twice" },
		{ { "--fd=3", "--tap-fd=4", "--stats-fd=4", NULL }, "descriptor 4 is named twice" },
		{ { "--fd=3", "--tap=t", "--bogus", NULL }, "unknown or ambiguous option: --bogus" },
		{ { "--fd=3", "--tap", NULL }, "bad option or missing argument: --tap" },
		{ { "--fd=3", "--tap=t", "extra", NULL }, "unexpected argument: extra" },
		{ { "--socket-path=", "--tap=t", NULL }, "--socket-path: want 1..107 bytes" },
	};
	struct net_opts o;
	char err[256];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(parse(&o, err, bad[i].args), -EINVAL, "case %u accepted", i);
		cr_expect_str_eq(err, bad[i].msg, "case %u", i);
	}
}

Test(opts, nine_tap_fds)
{
	const char *a[] = { "--fd=3", "--tap-fd=4", "--tap-fd=5", "--tap-fd=6", "--tap-fd=7",
			    "--tap-fd=8", "--tap-fd=9", "--tap-fd=10", "--tap-fd=11", "--tap-fd=12",
			    NULL };
	struct net_opts o;
	char err[256];

	cr_assert_eq(parse(&o, err, a), -EINVAL);
	cr_assert_str_eq(err, "--tap-fd: more than 8");
}

/* ---- features, config, roles ---------------------------------------------------------------- */

static struct net_model model(unsigned pairs, uint64_t acked)
{
	struct net_model m = { .mac = { 0x52, 0x54, 0, 1, 2, 3 }, .pairs = pairs, .features = acked };

	return m;
}

Test(model, features)
{
	struct net_model m1 = model(1, 0), m2 = model(2, 0);
	uint64_t want = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |
			BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CSUM) |
			BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |
			BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
			BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) |
			BIT(VIRTIO_NET_F_GUEST_ECN) | BIT(VIRTIO_RING_F_EVENT_IDX) |
			BIT(VIRTIO_RING_F_INDIRECT_DESC) | BIT(VIRTIO_NET_F_CTRL_VQ);

	cr_assert_eq(net_features(&m1), want);
	cr_assert_eq(net_features(&m2), want | BIT(VIRTIO_NET_F_MQ));
	cr_assert_not(net_features(&m2) & BIT(VIRTIO_NET_F_RSS), "no F_RSS without the steering maps");
	cr_assert_not(net_features(&m2) & BIT(VIRTIO_NET_F_CTRL_MAC_ADDR));
}

Test(model, config)
{
	struct net_model m = model(3, 0);
	struct virtio_net_config c;
	uint8_t buf[256];

	cr_assert_eq(net_config_read(&m, (uint8_t *)&c, 0, sizeof(c)), 0);
	cr_assert_arr_eq(c.mac, m.mac, 6);
	cr_assert_eq(le16toh(c.status), VIRTIO_NET_S_LINK_UP);
	cr_assert_eq(le16toh(c.max_virtqueue_pairs), 3);
	/* partial reads, reads past the struct read zero, beyond 256 refused */
	cr_assert_eq(net_config_read(&m, buf, 6, 2), 0);
	cr_assert_eq(buf[0] | buf[1] << 8, VIRTIO_NET_S_LINK_UP);
	memset(buf, 0xff, sizeof(buf));
	cr_assert_eq(net_config_read(&m, buf, 200, 56), 0);
	for (unsigned i = 0; i < 56; i++)
		cr_assert_eq(buf[i], 0);
	cr_assert_eq(net_config_read(&m, buf, 250, 7), -EINVAL);
	cr_assert_eq(net_config_read(&m, buf, 0xffffffffu, 2), -EINVAL);
}

Test(model, queue_roles)
{
	struct net_model mq = model(2, BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_CTRL_VQ));
	struct net_model nomq = model(2, BIT(VIRTIO_NET_F_CTRL_VQ));
	struct net_model noctrl = model(2, BIT(VIRTIO_NET_F_MQ));
	unsigned p;

	cr_assert_eq(net_nqueues(2), 5);
	cr_assert_eq(net_qrole(&mq, 0, &p), NET_Q_RX);
	cr_assert_eq(net_qrole(&mq, 3, &p), NET_Q_TX);
	cr_assert_eq(p, 1);
	cr_assert_eq(net_qrole(&mq, 4, &p), NET_Q_CTRL);
	cr_assert_eq(net_qrole(&mq, 5, &p), NET_Q_NONE);
	/* without MQ the control queue is index 2 whatever max_virtqueue_pairs says */
	cr_assert_eq(net_qrole(&nomq, 2, &p), NET_Q_CTRL);
	cr_assert_eq(net_qrole(&nomq, 3, &p), NET_Q_NONE);
	cr_assert_eq(net_qrole(&noctrl, 4, &p), NET_Q_NONE);
}

Test(model, header_size_and_offloads)
{
	cr_assert_eq(net_hdr_len(BIT(VIRTIO_F_VERSION_1)), 12);
	cr_assert_eq(net_hdr_len(BIT(VIRTIO_NET_F_MRG_RXBUF)), 12);
	cr_assert_eq(net_hdr_len(0), 10);
	cr_assert_eq(net_tap_offloads(BIT(VIRTIO_NET_F_GUEST_TSO4)), 0,
		     "TSO without checksum offload: the tap would refuse it");
	cr_assert_eq(net_tap_offloads(BIT(VIRTIO_NET_F_GUEST_CSUM)), TUN_F_CSUM);
	cr_assert_eq(net_tap_offloads(BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
				      BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN)),
		     TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN);
	cr_assert_eq(net_tap_offloads(BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_ECN)),
		     TUN_F_CSUM, "ECN only with segmentation");
}

Test(model, unicast)
{
	cr_assert(net_mac_valid_unicast((uint8_t[]){ 0x52, 0x54, 0, 0, 0, 1 }));
	cr_assert_not(net_mac_valid_unicast((uint8_t[]){ 0x33, 0x33, 0, 0, 0, 1 }));
	cr_assert_not(net_mac_valid_unicast((uint8_t[]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }));
	cr_assert_not(net_mac_valid_unicast((uint8_t[]){ 0, 0, 0, 0, 0, 0 }));
}

/* ---- transmit checks ---------------------------------------------------------------------- */

#define ALL_TX (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) | \
		BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN))

static uint8_t frame[70000];
static struct iovec iov[4];

/* A chain of a 12-byte header and a frame of len bytes from src, split in two buffers
 * inside the Ethernet source address (the check must gather across buffers). */
static struct vq_elem chain(const struct virtio_net_hdr *h, uint32_t len, const uint8_t *src)
{
	struct vq_elem e = { .iov = iov, .iov_cap = 4 };

	memset(frame, 0, 12);
	memcpy(frame, h, sizeof(*h));
	memset(frame + 12, 0xff, 6);
	memcpy(frame + 18, src, 6);
	iov[0] = (struct iovec){ frame, 15 };
	iov[1] = (struct iovec){ frame + 15, 6 };
	iov[2] = (struct iovec){ frame + 21, 12 + len - 21 };
	e.out_num = 3;
	e.out_len = 12 + len;
	return e;
}

Test(tx, verdicts)
{
	struct net_model m = model(1, ALL_TX);
	static const uint8_t other[6] = { 0x52, 0x54, 0, 1, 2, 4 };
	struct virtio_net_hdr h = { 0 };
	uint8_t head[NET_HDR_LEN + NET_ETH_HLEN];
	struct vq_elem e;

	e = chain(&h, 60, m.mac);
	cr_assert_eq(net_tx_check(&m, &e, head), NET_TX_OK);
	cr_assert_arr_eq(head + 18, m.mac, 6, "the checked copy holds the source address");
	e = chain(&h, 60, other);
	cr_assert_eq(net_tx_check(&m, &e, head), NET_TX_SPOOFED);
	e = chain(&h, 13, m.mac);
	cr_assert_eq(net_tx_check(&m, &e, head), NET_TX_SHORT);
	e = chain(&h, 14, m.mac);
	cr_assert_eq(net_tx_check(&m, &e, head), NET_TX_OK, "an Ethernet header alone is a frame");
	e = chain(&h, NET_FRAME_MAX, m.mac);
	cr_assert_eq(net_tx_check(&m, &e, head), NET_TX_OK);
	e = chain(&h, NET_FRAME_MAX + 1, m.mac);
	cr_assert_eq(net_tx_check(&m, &e, head), NET_TX_LONG);
	e = chain(&h, 60, m.mac);
	e.in_num = 1;
	cr_assert_eq(net_tx_check(&m, &e, head), NET_TX_WRITABLE);
	/* a legacy header is 10 bytes: the source address sits 2 bytes earlier */
	m.features = BIT(VIRTIO_NET_F_CSUM);
	e = chain(&h, 60, m.mac);
	cr_assert_eq(net_tx_check(&m, &e, head), NET_TX_SPOOFED);
	cr_assert_str_eq(net_tx_verdict_str(NET_TX_SPOOFED), "source MAC is not the NIC's");
}

Test(tx, headers)
{
	struct net_model m = model(1, ALL_TX);
	struct virtio_net_hdr tso = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				      .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54,
				      .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
	struct virtio_net_hdr h;

	cr_assert(net_hdr_ok(&m, &tso, 65000));
	h = tso, h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	cr_assert(net_hdr_ok(&m, &h, 65000));
	h = tso, h.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	cr_assert(net_hdr_ok(&m, &h, 65000));
	h = tso, h.gso_size = 0;
	cr_assert_not(net_hdr_ok(&m, &h, 65000), "TSO without a segment size");
	h = tso, h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	cr_assert_not(net_hdr_ok(&m, &h, 65000), "UFO is not offered");
	h = tso, h.gso_type = 7;
	cr_assert_not(net_hdr_ok(&m, &h, 65000));
	h = tso, h.hdr_len = 60001;
	cr_assert_not(net_hdr_ok(&m, &h, 60000), "header length beyond the frame");
	h = tso, h.csum_start = 59990;
	cr_assert_not(net_hdr_ok(&m, &h, 60000), "checksum beyond the frame");
	h = tso, h.csum_start = 0xffff, h.csum_offset = 0xffff;
	cr_assert_not(net_hdr_ok(&m, &h, 65000), "no 16-bit wrap");
	h = (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_DATA_VALID };
	cr_assert_not(net_hdr_ok(&m, &h, 100), "a receive-only flag");
	h = (struct virtio_net_hdr){ .gso_type = VIRTIO_NET_HDR_GSO_ECN };
	cr_assert_not(net_hdr_ok(&m, &h, 100), "ECN without segmentation");
	h = (struct virtio_net_hdr){ 0 };
	cr_assert(net_hdr_ok(&m, &h, 100));
	/* what the driver did not ack it may not use */
	m.features = BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO6);
	cr_assert_not(net_hdr_ok(&m, &tso, 65000), "TSO4 not acked");
	h = tso, h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN;
	cr_assert_not(net_hdr_ok(&m, &h, 65000), "ECN not acked");
	m.features = 0;
	h = (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				     .csum_offset = 6 };
	cr_assert_not(net_hdr_ok(&m, &h, 100), "checksum offload not acked");
}

/* ---- control queue -------------------------------------------------------------------- */

static uint8_t cbuf[512], ack, pad[64];

/* class, command, len data bytes (the first `len` of data), one ack byte */
static struct vq_elem cmd(uint8_t cls, uint8_t c, const void *data, uint32_t len)
{
	struct vq_elem e = { .iov = iov, .iov_cap = 4 };

	cbuf[0] = cls;
	cbuf[1] = c;
	memcpy(cbuf + 2, data, len);
	iov[0] = (struct iovec){ cbuf, 2 + len };
	iov[1] = (struct iovec){ &ack, 1 };
	e.out_num = 1;
	e.out_len = 2 + len;
	e.in_num = 1;
	e.in_len = 1;
	return e;
}

#define CTRL(m, s, cls, c, d, l) ({ struct vq_elem e_ = cmd(cls, c, d, l); net_ctrl(m, s, &e_); })

Test(ctrl, mq_pairs)
{
	struct net_model m = model(4, BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_CTRL_VQ));
	struct net_ctrl_state s = { .vq_pairs = 1 };
	uint16_t n;

	n = htole16(4);
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &n, 2),
		     VIRTIO_NET_OK);
	cr_assert_eq(s.vq_pairs, 4);
	n = htole16(5);
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &n, 2),
		     VIRTIO_NET_ERR);
	n = 0;
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &n, 2),
		     VIRTIO_NET_ERR);
	n = htole16(2);
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &n, 1),
		     VIRTIO_NET_ERR, "short");
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, pad, 3),
		     VIRTIO_NET_ERR, "long");
	cr_assert_eq(s.vq_pairs, 4, "refused commands change nothing");
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, pad, 40),
		     VIRTIO_NET_ERR, "RSS is not offered without the maps");
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MQ, 9, &n, 2), VIRTIO_NET_ERR);
	m.features = BIT(VIRTIO_NET_F_CTRL_VQ);
	n = htole16(1);
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &n, 2),
		     VIRTIO_NET_ERR, "MQ not acked");
}

Test(ctrl, mac_and_rx)
{
	struct net_model m = model(1, BIT(VIRTIO_NET_F_CTRL_VQ));
	struct net_ctrl_state s = { .vq_pairs = 1 };
	uint8_t t[4 + 12 + 4 + 6] = { 2, 0, 0, 0 };
	uint8_t on = 1, two = 2;

	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, m.mac, 6),
		     VIRTIO_NET_ERR, "the guest may only be itself");
	t[16] = 1;          /* 2 unicast, 1 multicast */
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, t, sizeof(t)),
		     VIRTIO_NET_OK);
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, t,
			  sizeof(t) - 1), VIRTIO_NET_ERR, "table cut short");
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, t, 10),
		     VIRTIO_NET_ERR, "second count missing");
	t[3] = 0x40;        /* 2^30 + 2 entries: the count must not overflow the length check */
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, t, sizeof(t)),
		     VIRTIO_NET_ERR);
	t[3] = 0;
	uint8_t longer[sizeof(t) + 1] = { 0 };
	memcpy(longer, t, sizeof(t));
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, longer,
			  sizeof(longer)), VIRTIO_NET_ERR, "trailing bytes");
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1),
		     VIRTIO_NET_OK);
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1),
		     VIRTIO_NET_OK);
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &two, 1),
		     VIRTIO_NET_ERR);
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 0),
		     VIRTIO_NET_ERR);
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, &on, 1),
		     VIRTIO_NET_ERR, "CTRL_RX_EXTRA is not offered");
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_VLAN, 0, &on, 1), VIRTIO_NET_ERR);
	cr_assert_eq(CTRL(&m, &s, 200, 0, NULL, 0), VIRTIO_NET_ERR);
}

Test(ctrl, broken_chains)
{
	struct net_model m = model(1, BIT(VIRTIO_NET_F_CTRL_VQ));
	struct net_ctrl_state s = { .vq_pairs = 1 };
	struct vq_elem e;
	uint8_t on = 1;

	e = cmd(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1);
	e.in_num = 0;
	cr_assert_eq(net_ctrl(&m, &s, &e), -EINVAL, "no ack byte");
	e = cmd(VIRTIO_NET_CTRL_RX, 0, NULL, 0);
	iov[0].iov_len = 1;
	e.out_len = 1;
	cr_assert_eq(net_ctrl(&m, &s, &e), -EINVAL, "no room for class and command");
	/* class, command and data split across buffers are fine */
	e = cmd(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1);
	struct iovec split[3] = { { cbuf, 1 }, { cbuf + 1, 2 }, { &ack, 1 } };
	e.iov = split;
	e.out_num = 2;
	cr_assert_eq(net_ctrl(&m, &s, &e), VIRTIO_NET_OK);
}

/* ---- receive-side scaling ------------------------------------------------------------------ */

Test(opts, rss_map_fds)
{
	const char *good[] = { "--fd=3", "--tap-fd=4", "--tap-fd=5", "--rss-map-fds=6,7,8", NULL };
	const char *bad[][6] = {
		{ "--fd=3", "--tap-fd=4", "--tap-fd=5", "--rss-map-fds=6,7", NULL },
		{ "--fd=3", "--tap-fd=4", "--tap-fd=5", "--rss-map-fds=6,7,8,9", NULL },
		{ "--fd=3", "--tap-fd=4", "--tap-fd=5", "--rss-map-fds=6,,8", NULL },
		{ "--fd=3", "--tap-fd=4", "--tap-fd=5", "--rss-map-fds=6,7,8,", NULL },
		{ "--fd=3", "--tap-fd=4", "--tap-fd=5", "--rss-map-fds=6,x,8", NULL },
	};
	const char *dup[] = { "--fd=3", "--tap-fd=4", "--tap-fd=5", "--rss-map-fds=6,5,8", NULL };
	const char *one[] = { "--fd=3", "--tap-fd=4", "--rss-map-fds=6,7,8", NULL };
	struct net_opts o;
	char err[256];

	cr_assert_eq(parse(&o, err, good), 0, "%s", err);
	cr_assert(o.rss);
	cr_assert_eq(o.rss_fd[0], 6);
	cr_assert_eq(o.rss_fd[2], 8);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(&o, err, bad[i]), -EINVAL, "%s accepted", bad[i][3]);
		cr_assert(strstr(err, "--rss-map-fds"), "%s", err);
	}
	cr_assert_eq(parse(&o, err, dup), -EINVAL);
	cr_assert_str_eq(err, "descriptor 5 is named twice");
	cr_assert_eq(parse(&o, err, one), -EINVAL);
	cr_assert_str_eq(err, "--rss-map-fds: steering needs --queues of 2 or more");
}

/* The maps, as plain memory; refused commands must leave every byte as it was. */
static struct net_rss_cfg map_cfg;
static struct net_rss_key map_key;
static struct net_rss_table map_table;

static struct net_ctrl_state rss_state(void)
{
	struct net_ctrl_state s = { .vq_pairs = 1, .rss = { &map_cfg, &map_key, &map_table } };

	memset(&map_cfg, 0xa5, sizeof(map_cfg));
	memset(&map_key, 0xa5, sizeof(map_key));
	memset(&map_table, 0xa5, sizeof(map_table));
	return s;
}

static bool maps_untouched(void)
{
	const uint8_t *p[3] = { (uint8_t *)&map_cfg, map_key.b, (uint8_t *)map_table.q };
	const size_t n[3] = { sizeof(map_cfg), sizeof(map_key), sizeof(map_table) };

	for (unsigned m = 0; m < 3; m++)
		for (size_t i = 0; i < n[m]; i++)
			if (p[m][i] != 0xa5)
				return false;
	return true;
}

/* struct virtio_net_rss_config: table of mask + 1 entries (queue i % nq + q0), key of keylen
 * bytes 0, 1, 2, ...; returns its length. */
static size_t rss_cmd(uint8_t *b, uint32_t types, uint16_t mask, uint16_t unclassified,
		      uint16_t q0, uint16_t nq, uint16_t max_tx, uint8_t keylen)
{
	size_t off = 8;

	memcpy(b, &(uint32_t){ htole32(types) }, 4);
	memcpy(b + 4, &(uint16_t){ htole16(mask) }, 2);
	memcpy(b + 6, &(uint16_t){ htole16(unclassified) }, 2);
	for (unsigned i = 0; i <= mask; i++, off += 2)
		memcpy(b + off, &(uint16_t){ htole16((uint16_t)(q0 + i % nq)) }, 2);
	memcpy(b + off, &(uint16_t){ htole16(max_tx) }, 2);
	b[off + 2] = keylen;
	for (unsigned i = 0; i < keylen; i++)
		b[off + 3 + i] = (uint8_t)i;
	return off + 3 + keylen;
}

#define RSS_CFG(m, s, d, l) CTRL(m, s, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, d, l)
#define ALL (VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv6)

Test(rss, features_and_config)
{
	struct net_model m = model(4, 0), one = model(1, 0);
	struct virtio_net_config c;

	m.rss = one.rss = true;
	cr_assert(net_features(&m) & BIT(VIRTIO_NET_F_RSS));
	cr_assert_not(net_features(&m) & BIT(VIRTIO_NET_F_HASH_REPORT), "the hash is never filled");
	cr_assert_not(net_features(&one) & BIT(VIRTIO_NET_F_RSS), "one pair has nothing to steer");
	cr_assert_eq(net_config_read(&m, (uint8_t *)&c, 0, sizeof(c)), 0);
	cr_assert_eq(c.rss_max_key_size, 40);
	cr_assert_eq(le16toh(c.rss_max_indirection_table_length), 128);
	cr_assert_eq(le32toh(c.supported_hash_types), 0x3f, "IPv4/TCPv4/UDPv4/IPv6/TCPv6/UDPv6");
	m.rss = false;
	cr_assert_eq(net_config_read(&m, (uint8_t *)&c, 0, sizeof(c)), 0);
	cr_assert_eq(c.rss_max_key_size, 0);
	cr_assert_eq(c.supported_hash_types, 0);
}

/* Well-formed lengths, wrong values: refused for a device of 4 pairs. */
struct bad_rss {
	uint32_t types;
	uint16_t mask, unclassified, q0, max_tx;
	uint8_t keylen;
	const char *why;
};

static const struct bad_rss bad[] = {
	{ ALL, 2, 0, 0, 4, 40, "mask 2 is not 2^n - 1" },
	{ ALL, 5, 0, 0, 4, 40, "mask 5 is not 2^n - 1" },
	{ ALL, 7, 0, 1, 4, 40, "table names queue 4 of 4" },
	{ ALL, 7, 4, 0, 4, 40, "unclassified queue 4 of 4" },
	{ ALL, 7, 0, 0, 0, 40, "max_tx_vq 0" },
	{ ALL, 7, 0, 0, 5, 40, "max_tx_vq 5 of 4" },
	{ ALL, 7, 0, 0, 4, 39, "39-byte key" },
	{ ALL, 7, 0, 0, 4, 41, "41-byte key" },
	{ VIRTIO_NET_RSS_HASH_TYPE_IP_EX, 7, 0, 0, 4, 40, "a hash type we do not compute" },
};

Test(rss, malformed_refused_maps_untouched)
{
	struct net_model m = model(4, BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_CTRL_VQ) |
				       BIT(VIRTIO_NET_F_RSS));
	struct net_ctrl_state s = rss_state();
	static uint8_t b[600];
	size_t n;

	m.rss = true;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bad_rss *c = &bad[i];

		n = rss_cmd(b, c->types, c->mask, c->unclassified, c->q0, 4, c->max_tx, c->keylen);
		cr_assert_eq(RSS_CFG(&m, &s, b, n), VIRTIO_NET_ERR, "%s", c->why);
	}
	n = rss_cmd(b, ALL, 255, 0, 0, 4, 4, 40);
	cr_assert_eq(net_rss_parse(b, n, 4, &(struct net_rss_conf){ 0 }), -EINVAL,
		     "a 256-entry table");
	cr_assert_eq(RSS_CFG(&m, &s, b, 500), VIRTIO_NET_ERR, "longer than any valid command");
	n = rss_cmd(b, ALL, 7, 0, 0, 4, 4, 40);
	cr_assert_eq(RSS_CFG(&m, &s, b, n - 1), VIRTIO_NET_ERR, "key one byte short");
	cr_assert_eq(RSS_CFG(&m, &s, b, n + 1), VIRTIO_NET_ERR, "a byte after the key");
	cr_assert_eq(RSS_CFG(&m, &s, b, 7), VIRTIO_NET_ERR, "shorter than the header");
	cr_assert_eq(RSS_CFG(&m, &s, b, 8 + 16 + 2), VIRTIO_NET_ERR, "ends after max_tx_vq");
	cr_assert(maps_untouched(), "a refused command wrote the maps");
	cr_assert_eq(s.vq_pairs, 1, "a refused command changed the pairs");
	/* the same valid command where RSS is not acked, or there are no maps */
	m.features &= ~BIT(VIRTIO_NET_F_RSS);
	cr_assert_eq(RSS_CFG(&m, &s, b, n), VIRTIO_NET_ERR, "F_RSS not acked");
	m.features |= BIT(VIRTIO_NET_F_RSS);
	s.rss.cfg = NULL;
	cr_assert_eq(RSS_CFG(&m, &s, b, n), VIRTIO_NET_ERR, "no maps");
	cr_assert(maps_untouched());
}

Test(rss, valid_writes_the_maps)
{
	struct net_model m = model(4, BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_NET_F_CTRL_VQ) |
				       BIT(VIRTIO_NET_F_RSS));
	struct net_ctrl_state s = rss_state();
	static uint8_t b[400];
	uint32_t types = VIRTIO_NET_RSS_HASH_TYPE_TCPv4 | VIRTIO_NET_RSS_HASH_TYPE_UDPv6;
	uint16_t two = htole16(2);
	size_t n;

	m.rss = true;
	/* table 2, 3, 2, 3, ...: pair 3 is named, so 4 pairs are in use although max_tx_vq is 2 */
	n = rss_cmd(b, types, 7, 1, 2, 2, 2, 40);
	cr_assert_eq(RSS_CFG(&m, &s, b, n), VIRTIO_NET_OK);
	cr_assert_eq(map_cfg.enabled, 1);
	cr_assert_eq(map_cfg.hash_types, types);
	cr_assert_eq(map_cfg.table_len, 8);
	cr_assert_eq(map_cfg.default_queue, 1);
	for (unsigned i = 0; i < 8; i++)
		cr_assert_eq(map_table.q[i], 2 + i % 2, "entry %u", i);
	for (unsigned i = 0; i < 40; i++)
		cr_assert_eq(map_key.b[i], i);
	cr_assert_eq(s.vq_pairs, 4);
	/* one entry, all to queue 0 */
	n = rss_cmd(b, 0, 0, 0, 0, 1, 1, 40);
	cr_assert_eq(RSS_CFG(&m, &s, b, n), VIRTIO_NET_OK);
	cr_assert_eq(map_cfg.table_len, 1);
	cr_assert_eq(map_cfg.hash_types, 0);
	cr_assert_eq(s.vq_pairs, 1);
	/* VQ_PAIRS_SET: no RSS configuration any more, flows spread over the pairs in use */
	cr_assert_eq(CTRL(&m, &s, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &two, 2),
		     VIRTIO_NET_OK);
	cr_assert_eq(map_cfg.enabled, 1);
	cr_assert_eq(map_cfg.hash_types, NET_RSS_HASH_TYPES);
	cr_assert_eq(map_cfg.table_len, 128);
	cr_assert_eq(map_cfg.default_queue, 0);
	for (unsigned i = 0; i < 128; i++)
		cr_assert_eq(map_table.q[i], i % 2);
	cr_assert_eq(map_key.b[0], 0x6d, "the default key");
}

/* ---- stats page ---------------------------------------------------------------------------- */

Test(stats, attach_keeps_counting)
{
	static struct net_stats s;

	memset(&s, 0xa5, sizeof(s));
	net_stats_attach(&s, 2);
	cr_assert_eq(s.magic, NET_STATS_MAGIC);
	cr_assert_eq(s.version, NET_STATS_VERSION);
	cr_assert_eq(s.generation, 1);
	cr_assert_eq(s.pair[1].tx_errors, 0, "garbage cleared");
	net_stats_add(&s.pair[1].rx_packets, 3);
	net_stats_attach(&s, 2);
	cr_assert_eq(s.generation, 2);
	cr_assert_eq(net_stats_get(&s.pair[1].rx_packets), 3, "a restart keeps the counters");
	net_stats_attach(&s, 1);
	cr_assert_eq(s.generation, 1, "another layout starts over");
	cr_assert_eq(s.pair[1].rx_packets, 0);
}
