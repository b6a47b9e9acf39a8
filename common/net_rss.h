/* Receive-side scaling for bulkhead-net: the layout of the three BPF_F_MMAPABLE array maps
 * the steering program (dev-net/rss.bpf.c) reads and bulkhead-net writes through mmap, shared
 * by the program, the worker, the supervisor's loader (vmm-core/supervisor/rss.c) and the tests.
 * Each map has one entry; an mmap of its fd at offset 0 is that entry. Plain <linux/types.h>
 * types, so the BPF program includes it too. */
#ifndef BULKHEAD_NET_RSS_H
#define BULKHEAD_NET_RSS_H

#include <linux/types.h>

#define NET_RSS_KEY_LEN    40u    /* Toeplitz key: rss_max_key_size */
#define NET_RSS_TABLE_MAX  128u   /* rss_max_indirection_table_length, a power of two */
#define NET_RSS_MAPS       3u     /* config, key, table: --rss-map-fds=CFG,KEY,TABLE order */

/* The hash types the program computes (VIRTIO_NET_RSS_HASH_TYPE_IPv4 ... UDPv6): no _EX. */
#define NET_RSS_HASH_TYPES 0x3fu

/* Map names in the object, in --rss-map-fds order (BPF_OBJ_NAME_LEN: 15 characters). */
#define NET_RSS_MAP_CFG    "rss_cfg"
#define NET_RSS_MAP_KEY    "rss_key"
#define NET_RSS_MAP_TABLE  "rss_table"
#define NET_RSS_PROG       "tun_rss_steering"

/* Map rss_cfg. With enabled == 0 every packet goes to default_queue. The worker clears
 * enabled, writes the rest, then sets it (release), so a packet sees the old or the new
 * table, never one half written, except the packets whose read straddles the switch. */
struct net_rss_cfg {
	__u32 enabled;
	__u32 hash_types;        /* VIRTIO_NET_RSS_HASH_TYPE_*, within NET_RSS_HASH_TYPES */
	__u16 table_len;         /* entries of the table in use: a power of two, 1..128 */
	__u16 default_queue;     /* unclassified packets (no enabled hash type, not IP) */
};

/* Map rss_key: the Toeplitz key. Map rss_table: the indirection table (queue pair indices). */
struct net_rss_key {
	__u8 b[NET_RSS_KEY_LEN];
};

struct net_rss_table {
	__u16 q[NET_RSS_TABLE_MAX];
};

#endif
