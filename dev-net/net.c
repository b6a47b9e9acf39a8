/* bulkhead-net device model: features, config space, queue roles, the checks on what the
 * guest transmits (virtio-net header, lengths, source MAC) and the control queue commands.
 * Pure functions of their arguments: no tap, no socket (tests/unit/dev-net). */
#include "net.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include <sys/param.h>

#include "util.h"

#define BIT(b) (1ULL << (b))

uint64_t net_features(const struct net_model *m)
{
	uint64_t f = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |
		     BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CSUM) |
		     BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |
		     BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
		     BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) |
		     BIT(VIRTIO_NET_F_GUEST_ECN) | BIT(VIRTIO_RING_F_EVENT_IDX) |
		     BIT(VIRTIO_RING_F_INDIRECT_DESC) | BIT(VIRTIO_NET_F_CTRL_VQ);

	if (m->pairs > 1)
		f |= BIT(VIRTIO_NET_F_MQ);
	/* the steering program picks the tap queue; no HASH_REPORT: it never fills the hash */
	if (m->pairs > 1 && m->rss)
		f |= BIT(VIRTIO_NET_F_RSS);
	return f;
}

bool net_mac_valid_unicast(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	/* bit 0 of the first octet is the group bit: a NIC's own address is never a group */
	return !(mac[0] & 1) && memcmp(mac, zero, 6) != 0;
}

int net_config_read(const struct net_model *m, uint8_t *buf, uint32_t offset, uint32_t len)
{
	struct virtio_net_config c;
	uint64_t end = (uint64_t)offset + len;

	/* the vhost-user config space is at most 256 bytes */
	if (end > 256)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	memcpy(c.mac, m->mac, 6);
	c.status = htole16(VIRTIO_NET_S_LINK_UP);
	c.max_virtqueue_pairs = htole16((uint16_t)m->pairs);
	if (m->rss) {
		c.rss_max_key_size = NET_RSS_KEY_LEN;
		c.rss_max_indirection_table_length = htole16(NET_RSS_TABLE_MAX);
		c.supported_hash_types = htole32(NET_RSS_HASH_TYPES);
	}
	memset(buf, 0, len);
	if (offset < sizeof(c))
		memcpy(buf, (uint8_t *)&c + offset, MIN((size_t)len, sizeof(c) - offset));
	return 0;
}

enum net_qrole net_qrole(const struct net_model *m, unsigned qidx, unsigned *pair)
{
	bool mq = m->features & BIT(VIRTIO_NET_F_MQ);
	unsigned pairs = mq ? m->pairs : 1;
	/* the spec puts the control queue at 2N with MQ, else at 2 (§5.1.2) */
	unsigned ctrl = 2 * pairs;

	*pair = qidx / 2;
	if ((m->features & BIT(VIRTIO_NET_F_CTRL_VQ)) && qidx == ctrl)
		return NET_Q_CTRL;
	if (qidx >= ctrl)
		return NET_Q_NONE;
	return qidx % 2 ? NET_Q_TX : NET_Q_RX;
}

/* ---- transmit checks ---------------------------------------------------------------------- */

static bool has(const struct net_model *m, unsigned bit)
{
	return m->features & BIT(bit);
}

bool net_hdr_ok(const struct net_model *m, const struct virtio_net_hdr *h, uint64_t frame_len)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	uint16_t gso_size = le16toh(h->gso_size), hdr_len = le16toh(h->hdr_len);
	uint16_t cs = le16toh(h->csum_start), co = le16toh(h->csum_offset);

	/* DATA_VALID and RSC_INFO only go to the driver */
	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return false;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (!has(m, VIRTIO_NET_F_CSUM) || (uint64_t)cs + co + 2 > frame_len))
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		/* ECN applies to segmentation; without it the bit means a confused driver */
		return !(h->gso_type & VIRTIO_NET_HDR_GSO_ECN);
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!has(m, VIRTIO_NET_F_HOST_TSO4))
			return false;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!has(m, VIRTIO_NET_F_HOST_TSO6))
			return false;
		break;
	default:
		return false;   /* UDP/UFO and USO are not offered */
	}
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(m, VIRTIO_NET_F_HOST_ECN))
		return false;
	return gso_size != 0 && hdr_len <= frame_len;
}

enum net_tx_verdict net_tx_check(const struct net_model *m, const struct vq_elem *e,
				 uint8_t head[NET_HDR_LEN + NET_ETH_HLEN])
{
	unsigned hl = net_hdr_len(m->features);
	struct virtio_net_hdr h;

	if (e->in_num)
		return NET_TX_WRITABLE;
	if (e->out_len < hl + NET_ETH_HLEN)
		return NET_TX_SHORT;
	if (e->out_len > hl + NET_FRAME_MAX)
		return NET_TX_LONG;
	/* header and Ethernet header may be split across any number of buffers; one copy,
	 * so the guest cannot change them between the check and the write either way */
	if (!iov_read(e->iov, e->out_num, 0, head, hl + NET_ETH_HLEN))
		return NET_TX_SHORT;
	memcpy(&h, head, sizeof(h));
	if (!net_hdr_ok(m, &h, e->out_len - hl))
		return NET_TX_BAD_HDR;
	/* Ethernet source address: bytes 6..11 of the frame */
	if (memcmp(head + hl + 6, m->mac, 6) != 0)
		return NET_TX_SPOOFED;
	return NET_TX_OK;
}

const char *net_tx_verdict_str(enum net_tx_verdict v)
{
	switch (v) {
	case NET_TX_OK:       return "ok";
	case NET_TX_WRITABLE: return "writable buffer in a TX chain";
	case NET_TX_SHORT:    return "shorter than the headers";
	case NET_TX_LONG:     return "longer than a 64 KiB frame";
	case NET_TX_BAD_HDR:  return "bad virtio-net header";
	case NET_TX_SPOOFED:  return "source MAC is not the NIC's";
	}
	return "?";
}

/* ---- control queue -------------------------------------------------------------------- */

struct cmd {
	const struct vq_elem *e;
	uint64_t len;               /* data bytes after class and command */
};

/* Gather n data bytes at off (after the 2-byte class/command header). */
static bool data(const struct cmd *c, uint64_t off, void *dst, size_t n)
{
	return off + n <= c->len && iov_read(c->e->iov, c->e->out_num, 2 + off, dst, n);
}

/* VIRTIO_NET_CTRL_MAC_TABLE_SET: two tables (unicast, multicast), each a le32 count and that
 * many addresses, filling the data exactly. Acked without filtering: the tap delivers what
 * the host sends, and a NIC may always pass more than its filter asks. */
static int mac_table(const struct cmd *c)
{
	uint64_t off = 0;

	for (int t = 0; t < 2; t++) {
		uint32_t n;

		if (!data(c, off, &n, 4))
			return VIRTIO_NET_ERR;
		n = le32toh(n);
		off += 4;
		if ((uint64_t)n * 6 > c->len - off)
			return VIRTIO_NET_ERR;
		off += (uint64_t)n * 6;
	}
	return off == c->len ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
}

static int ctrl_mac(const struct cmd *c, uint8_t cmd)
{
	switch (cmd) {
	case VIRTIO_NET_CTRL_MAC_TABLE_SET:
		return mac_table(c);
	case VIRTIO_NET_CTRL_MAC_ADDR_SET:
		/* anti-spoofing: the guest may only be the address it was given */
	default:
		return VIRTIO_NET_ERR;
	}
}

static int ctrl_rx(const struct cmd *c, uint8_t cmd)
{
	uint8_t on;

	/* promiscuous and all-multicast are how the tap delivers anyway */
	if (cmd != VIRTIO_NET_CTRL_RX_PROMISC && cmd != VIRTIO_NET_CTRL_RX_ALLMULTI)
		return VIRTIO_NET_ERR;
	if (c->len != 1 || !data(c, 0, &on, 1) || on > 1)
		return VIRTIO_NET_ERR;
	return VIRTIO_NET_OK;
}

/* VIRTIO_NET_CTRL_MQ_RSS_CONFIG: checked whole before the maps change, then the pairs in use
 * follow it as they follow VQ_PAIRS_SET (§5.1.6.5.7.1). */
static int ctrl_rss(const struct net_model *m, struct net_ctrl_state *s, const struct cmd *c)
{
	uint8_t buf[NET_RSS_CONFIG_MAX];
	struct net_rss_conf conf;

	if (!has(m, VIRTIO_NET_F_RSS) || !s->rss.cfg || c->len > sizeof(buf) ||
	    !data(c, 0, buf, c->len) || net_rss_parse(buf, c->len, m->pairs, &conf) < 0)
		return VIRTIO_NET_ERR;
	net_rss_write(&s->rss, &conf);
	s->vq_pairs = conf.pairs_used;
	return VIRTIO_NET_OK;
}

static int ctrl_mq(const struct net_model *m, struct net_ctrl_state *s, const struct cmd *c,
		   uint8_t cmd)
{
	uint16_t n;

	if (!(m->features & BIT(VIRTIO_NET_F_MQ)))
		return VIRTIO_NET_ERR;
	switch (cmd) {
	case VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET:
		if (c->len != 2 || !data(c, 0, &n, 2))
			return VIRTIO_NET_ERR;
		n = le16toh(n);
		if (n < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || n > m->pairs)
			return VIRTIO_NET_ERR;
		s->vq_pairs = n;
		/* multiqueue without RSS: whatever RSS_CONFIG set before no longer holds */
		if (s->rss.cfg)
			net_rss_spread(&s->rss, n);
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MQ_RSS_CONFIG:
		return ctrl_rss(m, s, c);
	default:
		return VIRTIO_NET_ERR;
	}
}

int net_ctrl(const struct net_model *m, struct net_ctrl_state *s, const struct vq_elem *e)
{
	struct cmd c = { e, 0 };
	uint8_t hdr[2];

	if (!e->in_num || !e->out_num || e->out_len < 2 ||
	    !iov_read(e->iov, e->out_num, 0, hdr, 2))
		return -EINVAL;
	c.len = e->out_len - 2;
	switch (hdr[0]) {
	case VIRTIO_NET_CTRL_RX:  return ctrl_rx(&c, hdr[1]);
	case VIRTIO_NET_CTRL_MAC: return ctrl_mac(&c, hdr[1]);
	case VIRTIO_NET_CTRL_MQ:  return ctrl_mq(m, s, &c, hdr[1]);
	default:                  return VIRTIO_NET_ERR;
	}
}
