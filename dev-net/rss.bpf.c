/* The receive steering program of bulkhead-net (TUNSETSTEERINGEBPF, a socket filter whose
 * return value is the tap queue, i.e. the queue pair, a packet goes to): the Toeplitz hash of
 * the virtio-net RSS spec over the hash types the guest enabled, looked up in its indirection
 * table. Compiled with clang -target bpf, embedded in the supervisor, which loads and attaches
 * it; the worker writes the maps (common/net_rss.h) through mmap. Packets that are not IPv4 or
 * IPv6, or have no enabled hash type, go to the default (unclassified) queue. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>
#include <bpf/bpf_helpers.h>

#include "net_rss.h"

#define PROTO_TCP  6
#define PROTO_UDP  17
#define INPUT_MAX  36   /* IPv6 source, destination, two ports: key bytes 0..39 cover it */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct net_rss_cfg);
} rss_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct net_rss_key);
} rss_key SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct net_rss_table);
} rss_table SEC(".maps");

/* What gets hashed: addresses (and ports) in packet order, and how many bytes of it. */
struct input {
	__u8 b[INPUT_MAX];
	__u32 len;
};

static __always_inline int load(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	/* relative to the MAC header: tun runs us on the skb it transmits, Ethernet first */
	return bpf_skb_load_bytes_relative(skb, off, to, len, BPF_HDR_START_MAC);
}

/* The L4 ports after an IP header at l4, when the protocol's hash type is enabled. */
static __always_inline void ports(struct __sk_buff *skb, __u32 l4, __u8 proto, __u32 types,
				  __u32 tcp, __u32 udp, __u32 alen, struct input *in)
{
	if (!((proto == PROTO_TCP && (types & tcp)) || (proto == PROTO_UDP && (types & udp))))
		return;
	/* 2 * alen + 4 <= INPUT_MAX for both families */
	if (alen == 4 && load(skb, l4, in->b + 8, 4) == 0)
		in->len = 12;
	else if (alen == 16 && load(skb, l4, in->b + 32, 4) == 0)
		in->len = 36;
}

static __always_inline void ipv4(struct __sk_buff *skb, __u32 types, struct input *in)
{
	__u8 h[20];
	__u32 ihl;

	if (!(types & (VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4 |
		       VIRTIO_NET_RSS_HASH_TYPE_UDPv4)) ||
	    load(skb, ETH_HLEN, h, sizeof(h)) < 0 || (h[0] >> 4) != 4)
		return;
	ihl = (h[0] & 0xf) * 4u;
	if (ihl < 20)
		return;
	__builtin_memcpy(in->b, h + 12, 8);
	/* a fragment (offset or more-fragments set) has no ports, or only the first has */
	if (!((h[6] & 0x3f) | h[7]))
		ports(skb, ETH_HLEN + ihl, h[9], types, VIRTIO_NET_RSS_HASH_TYPE_TCPv4,
		      VIRTIO_NET_RSS_HASH_TYPE_UDPv4, 4, in);
	if (!in->len && (types & VIRTIO_NET_RSS_HASH_TYPE_IPv4))
		in->len = 8;
}

static __always_inline void ipv6(struct __sk_buff *skb, __u32 types, struct input *in)
{
	__u8 h[40];

	if (!(types & (VIRTIO_NET_RSS_HASH_TYPE_IPv6 | VIRTIO_NET_RSS_HASH_TYPE_TCPv6 |
		       VIRTIO_NET_RSS_HASH_TYPE_UDPv6)) ||
	    load(skb, ETH_HLEN, h, sizeof(h)) < 0 || (h[0] >> 4) != 6)
		return;
	__builtin_memcpy(in->b, h + 8, 32);
	/* extension headers are the _EX hash types, which are not offered: next header only */
	ports(skb, ETH_HLEN + 40, h[6], types, VIRTIO_NET_RSS_HASH_TYPE_TCPv6,
	      VIRTIO_NET_RSS_HASH_TYPE_UDPv6, 16, in);
	if (!in->len && (types & VIRTIO_NET_RSS_HASH_TYPE_IPv6))
		in->len = 32;
}

/* Toeplitz: for every set input bit (most significant first), XOR in the 32 key bits that
 * start at that bit position. */
static __always_inline __u32 toeplitz(const struct input *in, const struct net_rss_key *k)
{
	__u32 hash = 0;
	__u32 win = (__u32)k->b[0] << 24 | (__u32)k->b[1] << 16 | (__u32)k->b[2] << 8 | k->b[3];

	for (__u32 i = 0; i < INPUT_MAX; i++) {
		__u8 byte, next;

		if (i >= in->len)
			break;
		byte = in->b[i];
		next = k->b[i + 4];
		for (int bit = 7; bit >= 0; bit--) {
			if (byte & (1u << bit))
				hash ^= win;
			win = win << 1 | ((next >> bit) & 1);
		}
	}
	return hash;
}

SEC("tun_rss_steering")
int tun_rss_steering_prog(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct net_rss_cfg *c = bpf_map_lookup_elem(&rss_cfg, &zero);
	struct net_rss_key *k = bpf_map_lookup_elem(&rss_key, &zero);
	struct net_rss_table *t = bpf_map_lookup_elem(&rss_table, &zero);
	struct input in = { .len = 0 };
	__u32 types, len;
	__u16 proto;

	if (!c || !k || !t)
		return 0;
	/* clang 14 has no BPF acquire load; the JITs keep program order for plain loads on
	 * x86 (TSO), and a torn view costs at most one packet's queue choice */
	if (!*(volatile __u32 *)&c->enabled)
		return c->default_queue;
	types = c->hash_types;
	len = c->table_len;
	if (load(skb, 12, &proto, 2) < 0)
		return c->default_queue;
	proto = __builtin_bswap16(proto);
	if (proto == ETH_P_IP)
		ipv4(skb, types, &in);
	else if (proto == ETH_P_IPV6)
		ipv6(skb, types, &in);
	/* no enabled hash type applies, or a table length the worker never writes */
	if (!in.len || !len || len > NET_RSS_TABLE_MAX || (len & (len - 1)))
		return c->default_queue;
	return t->q[toeplitz(&in, k) & (len - 1) & (NET_RSS_TABLE_MAX - 1)];
}

char _license[] SEC("license") = "Dual MIT/GPL";
