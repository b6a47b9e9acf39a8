/* bulkhead-net receive-side scaling: VIRTIO_NET_CTRL_MQ_RSS_CONFIG parsed and checked against
 * the device, and written into the steering program's maps (common/net_rss.h), which main.c
 * mmaps from the fds the supervisor passed (the unit test hands plain memory). No bpf() here:
 * the supervisor loaded and attached the program. */
#include "net.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/* The key the driver gets when it configured nothing (VQ_PAIRS_SET, or no F_RSS): the
 * verification key of Microsoft's RSS specification, the usual NIC default. */
static const uint8_t default_key[NET_RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

static uint16_t le16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* One queue pair index from the command: below the device's pairs; *used the pairs it needs. */
static bool queue_ok(uint16_t q, unsigned pairs, unsigned *used)
{
	if (q >= pairs)
		return false;
	if (q + 1u > *used)
		*used = q + 1u;
	return true;
}

int net_rss_parse(const uint8_t *buf, size_t len, unsigned pairs, struct net_rss_conf *c)
{
	uint16_t mask;
	size_t off, n;

	/* hash_types, indirection_table_mask, unclassified_queue */
	if (len < 8)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->hash_types = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
			(uint32_t)buf[3] << 24;
	mask = le16_at(buf + 4);
	c->unclassified = le16_at(buf + 6);
	/* the table is a power of two long, at most rss_max_indirection_table_length */
	if ((c->hash_types & ~NET_RSS_HASH_TYPES) || mask >= NET_RSS_TABLE_MAX ||
	    (mask & (mask + 1u)) || !queue_ok(c->unclassified, pairs, &c->pairs_used))
		return -EINVAL;
	n = mask + 1u;
	/* the table, max_tx_vq, hash_key_length, then exactly that many key bytes */
	off = 8 + 2 * n;
	if (len < off + 3)
		return -EINVAL;
	c->table_len = (uint16_t)n;
	for (size_t i = 0; i < n; i++) {
		c->table[i] = le16_at(buf + 8 + 2 * i);
		if (!queue_ok(c->table[i], pairs, &c->pairs_used))
			return -EINVAL;
	}
	c->max_tx_vq = le16_at(buf + off);
	if (!c->max_tx_vq || c->max_tx_vq > pairs || buf[off + 2] != NET_RSS_KEY_LEN ||
	    len != off + 3 + NET_RSS_KEY_LEN)
		return -EINVAL;
	memcpy(c->key, buf + off + 3, NET_RSS_KEY_LEN);
	/* like VQ_PAIRS_SET: the pairs in use, which must cover every queue the table names */
	if (c->max_tx_vq > c->pairs_used)
		c->pairs_used = c->max_tx_vq;
	return 0;
}

void net_rss_write(const struct net_rss_maps *m, const struct net_rss_conf *c)
{
	struct net_rss_cfg *cfg = m->cfg;

	/* off first, on last: the program reads enabled before anything else (rss.bpf.c) */
	__atomic_store_n(&cfg->enabled, 0, __ATOMIC_RELEASE);
	memcpy(m->table->q, c->table, sizeof(m->table->q));
	memcpy(m->key->b, c->key, NET_RSS_KEY_LEN);
	cfg->hash_types = c->hash_types;
	cfg->table_len = c->table_len;
	cfg->default_queue = c->unclassified;
	__atomic_store_n(&cfg->enabled, 1, __ATOMIC_RELEASE);
}

void net_rss_spread(const struct net_rss_maps *m, unsigned pairs)
{
	struct net_rss_conf c = { .hash_types = NET_RSS_HASH_TYPES,
				  .table_len = NET_RSS_TABLE_MAX, .max_tx_vq = (uint16_t)pairs,
				  .pairs_used = pairs };

	/* The program stays on the tap whatever the driver does, so "RSS off" cannot mean
	 * "the tap's own flow hash": a table spreading flows over the pairs in use stands in
	 * for it. All to queue 0 would starve every other pair the driver enabled. */
	for (unsigned i = 0; i < NET_RSS_TABLE_MAX; i++)
		c.table[i] = (uint16_t)(pairs ? i % pairs : 0);
	memcpy(c.key, default_key, NET_RSS_KEY_LEN);
	net_rss_write(m, &c);
}
