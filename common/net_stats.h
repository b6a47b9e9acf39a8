/* The counters bulkhead-net keeps in a shared memfd page (--stats-fd), laid out for another
 * process to read while the worker runs. The supervisor makes one sealed page per NIC slot,
 * which outlives the slot's workers; the core maps it read-only for query-net-stats.
 * One writer (the worker's single thread); every field is a uint64_t stored with a relaxed
 * atomic store, so a reader using relaxed atomic loads never sees a torn value. Counters of
 * one pair are not a consistent snapshot of each other. */
#ifndef BULKHEAD_NET_STATS_H
#define BULKHEAD_NET_STATS_H

#include <stdint.h>

#define NET_STATS_MAGIC     0x5354414e4b4c4842ULL   /* "BHLKNATS" little-endian */
#define NET_STATS_VERSION   1u
#define NET_STATS_MAX_PAIRS 8
#define NET_STATS_FD_MIN    4096u                   /* the memfd must be at least this big */

struct net_stats_pair {
	uint64_t rx_packets;        /* frames the guest received from the tap */
	uint64_t rx_bytes;          /* their bytes, without the virtio-net header */
	uint64_t rx_dropped;        /* frames read from the tap that did not fit the guest's
				     * buffers (counted, never silent) */
	uint64_t tx_packets;        /* frames written to the tap */
	uint64_t tx_bytes;          /* their bytes, without the virtio-net header */
	uint64_t tx_spoofed;        /* frames dropped: Ethernet source is not the NIC's MAC */
	uint64_t tx_errors;         /* chains dropped: malformed (writable buffer, bad length,
				     * bad header) or refused by the tap */
	uint64_t reserved;
};

struct net_stats {
	uint64_t magic;             /* NET_STATS_MAGIC once the worker initialised the page */
	uint32_t version;           /* NET_STATS_VERSION */
	uint32_t npairs;            /* pairs in use: pair[0..npairs) */
	uint64_t generation;        /* +1 each time a worker (re)starts on this page */
	uint64_t reserved;
	struct net_stats_pair pair[NET_STATS_MAX_PAIRS];
};

_Static_assert(sizeof(struct net_stats) <= NET_STATS_FD_MIN, "stats must fit the page");

/* The worker's update (single writer): a relaxed load and store, never a torn value. */
static inline void net_stats_add(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

/* A reader's load. */
static inline uint64_t net_stats_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

#endif
