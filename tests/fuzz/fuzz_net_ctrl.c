/* Fuzz bulkhead-net's pure parsers without queues or taps, at a rate the full data path
 * (fuzz_net.c) cannot reach: a control command (class, command, data: MAC tables, RX modes,
 * VQ_PAIRS_SET, RSS_CONFIG) through net_ctrl, the RSS_CONFIG body through net_rss_parse, and
 * the same bytes as a TX chain through net_tx_check, the buffers cut where the input says,
 * each malloc'd to its exact size so ASan sees a read past any of them.
 *
 * Input: cfg (bits 0-2 pairs - 1, bit 3 steering maps), le64 features acked, nseg (& 7),
 * nseg le16 cut points, then the command bytes.
 *
 * Oracles: an accepted RSS_CONFIG (and whatever net_ctrl leaves in the maps) names only queue
 * pairs the device has, in a power-of-two table (the BPF program indexes with it); the pairs
 * in use stay within 1..pairs; a TX chain passed as OK carries our source MAC, a length
 * within the frame limits and a header net_hdr_ok accepts. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_net.h>

#include "fuzzlib.h"
#include "net.h"

#define MAX_SEG 8

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static void check_maps(const struct net_rss_cfg *c, const struct net_rss_table *t,
		       unsigned pairs)
{
	if (!c->enabled)
		return;
	CHECK(c->table_len && c->table_len <= NET_RSS_TABLE_MAX &&
	      !(c->table_len & (c->table_len - 1)));
	CHECK(c->default_queue < pairs && !(c->hash_types & ~NET_RSS_HASH_TYPES));
	for (unsigned i = 0; i < c->table_len; i++)
		CHECK(t->q[i] < pairs);
}

static void check_conf(const struct net_rss_conf *c, unsigned pairs)
{
	CHECK(c->table_len && c->table_len <= NET_RSS_TABLE_MAX &&
	      !(c->table_len & (c->table_len - 1)));
	for (unsigned i = 0; i < c->table_len; i++)
		CHECK(c->table[i] < pairs);
	CHECK(c->unclassified < pairs && c->max_tx_vq >= 1 && c->max_tx_vq <= pairs);
	CHECK(c->pairs_used >= c->max_tx_vq && c->pairs_used <= pairs);
}

static void tx(const struct net_model *m, const struct vq_elem *e)
{
	uint8_t head[NET_HDR_LEN + NET_ETH_HLEN];
	struct vq_elem out = *e;
	unsigned hl = net_hdr_len(m->features);
	struct virtio_net_hdr h;

	out.in_num = 0;
	out.in_len = 0;
	if (net_tx_check(m, &out, head) != NET_TX_OK)
		return;
	CHECK(out.out_len >= hl + NET_ETH_HLEN && out.out_len <= hl + NET_FRAME_MAX);
	CHECK(!memcmp(head + hl + 6, m->mac, 6));
	memcpy(&h, head, sizeof(h));
	CHECK(net_hdr_ok(m, &h, out.out_len - hl));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct net_rss_cfg cfg;
	static struct net_rss_key key;
	static struct net_rss_table table;
	struct net_model m = { .pairs = 1 };
	struct net_ctrl_state s = { .vq_pairs = 1 };
	struct iovec iov[MAX_SEG + 1];
	struct vq_elem e = { .iov = iov, .iov_cap = MAX_SEG + 1 };
	struct net_rss_conf conf;
	uint16_t cut[MAX_SEG];
	uint64_t f;
	uint8_t ack = 0xa5, c;
	unsigned nseg;
	size_t pos = 0;
	int r;

	if (size < 10)
		return 0;
	c = data[0];
	memcpy(&f, data + 1, 8);
	m.pairs = (c & 7) + 1;
	m.rss = c & 8;
	memcpy(m.mac, MAC, 6);
	m.features = le64toh(f) & net_features(&m);
	nseg = data[9] & 7;
	data += 10;
	size -= 10;
	if (size < 2 * nseg)
		return 0;
	memcpy(cut, data, 2 * nseg);
	data += 2 * nseg;
	size -= 2 * nseg;

	/* readable buffers at the cut points (cuts past the end or backwards are skipped) */
	for (unsigned i = 0; i <= nseg; i++) {
		size_t end = i < nseg ? le16toh(cut[i]) : size;

		if (end > size || end < pos)
			continue;
		iov[e.out_num].iov_base = malloc(end - pos ? end - pos : 1);
		iov[e.out_num].iov_len = end - pos;
		memcpy(iov[e.out_num].iov_base, data + pos, end - pos);
		e.out_len += end - pos;
		e.out_num++;
		pos = end;
	}
	iov[e.out_num] = (struct iovec){ &ack, 1 };
	e.in_num = 1;
	e.in_len = 1;

	memset(&cfg, 0, sizeof(cfg));
	if (m.rss)
		s.rss = (struct net_rss_maps){ &cfg, &key, &table };
	r = net_ctrl(&m, &s, &e);
	CHECK(r == -EINVAL || r == VIRTIO_NET_OK || r == VIRTIO_NET_ERR);
	CHECK(s.vq_pairs >= 1 && s.vq_pairs <= m.pairs);
	check_maps(&cfg, &table, m.pairs);

	/* the body of an RSS_CONFIG, whatever class and command said */
	if (size >= 2 && net_rss_parse(data + 2, size - 2, m.pairs, &conf) == 0)
		check_conf(&conf, m.pairs);

	tx(&m, &e);
	for (unsigned i = 0; i < e.out_num; i++)
		free(iov[i].iov_base);
	return 0;
}

/* ---- seeds: each command the device knows, and a TX frame ---- */

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	struct net_model m = { .pairs = 4, .rss = true };
	uint64_t f = htole64(net_features(&m));
	uint8_t cmd[NET_RSS_CONFIG_MAX + 2];
	size_t n = 0, at;

	if (i % 7 == 6 || cap < 10 + 4 + sizeof(cmd))
		return 0;
	buf[0] = 3 | 8;   /* 4 pairs, steering maps */
	memcpy(buf + 1, &f, 8);
	buf[9] = 1;       /* one cut, after the class and command */
	buf[10] = 2;
	buf[11] = 0;
	switch (i % 7) {
	case 0:   /* RSS_CONFIG: every hash type, a table of 8 over 4 pairs, 40-byte key */
		cmd[n++] = VIRTIO_NET_CTRL_MQ;
		cmd[n++] = VIRTIO_NET_CTRL_MQ_RSS_CONFIG;
		memcpy(cmd + n, (uint8_t[]){ 0x3f, 0, 0, 0, 7, 0, 0, 0 }, 8);
		n += 8;
		for (unsigned k = 0; k < 8; k++) {
			cmd[n++] = (uint8_t)(k % 4);
			cmd[n++] = 0;
		}
		cmd[n++] = 4;
		cmd[n++] = 0;
		cmd[n++] = NET_RSS_KEY_LEN;
		for (unsigned k = 0; k < NET_RSS_KEY_LEN; k++)
			cmd[n++] = (uint8_t)(0x6d + k);
		break;
	case 1:
		memcpy(cmd, (uint8_t[]){ VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 3, 0 }, 4);
		n = 4;
		break;
	case 2:   /* MAC_TABLE_SET: one unicast, two multicast addresses */
		memcpy(cmd, (uint8_t[]){ VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
					 1, 0, 0, 0, 0x52, 0x54, 0, 1, 2, 3,
					 2, 0, 0, 0, 0x01, 0, 0x5e, 0, 0, 1, 0x33, 0x33, 0, 0, 0, 1 }, 28);
		n = 28;
		break;
	case 3:
		memcpy(cmd, (uint8_t[]){ VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, 1 }, 3);
		n = 3;
		break;
	case 4:
		memcpy(cmd, (uint8_t[]){ VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
					 0x52, 0x54, 0, 1, 2, 3 }, 8);
		n = 8;
		break;
	default:  /* a TX frame: a TSO header, then Ethernet from our MAC, cut after the header */
		memset(cmd, 0, 12 + 14 + 40);
		cmd[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		cmd[1] = VIRTIO_NET_HDR_GSO_TCPV4;
		cmd[2] = 54;
		cmd[4] = 0xa8;
		cmd[5] = 0x05;
		cmd[6] = 34;
		cmd[8] = 16;
		memset(cmd + 12, 0xff, 6);
		memcpy(cmd + 18, MAC, 6);
		cmd[24] = 0x08;
		n = 12 + 14 + 40;
		buf[10] = 12;
		break;
	}
	at = 12;
	memcpy(buf + at, cmd, n);
	return at + n;
}
