/* The steering program itself (dev-net/rss.bpf.c), loaded with the supervisor's loader and run
 * with BPF_PROG_TEST_RUN on crafted frames: the queue it returns must be the one a Toeplitz
 * hash computed here picks from the table, for IPv4/IPv6 with TCP/UDP under each hash type,
 * and the default queue for what has no enabled hash type, for non-IP frames and while
 * disabled. The maps are written through mmap, as bulkhead-net writes them. Needs bpf() (root
 * here). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/virtio_net.h>

#include "net_rss.h"
#include "supervisor_priv.h"

/* The verification key and vectors of Microsoft's RSS specification (also the virtio spec's
 * reference): IPv4 66.9.149.187:2794 -> 161.142.100.80:1766, IPv6 3ffe:2501:200:1fff::7:2794
 * -> 3ffe:2501:200:3::1:1766. */
static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};
static const uint8_t v4_src[4] = { 66, 9, 149, 187 }, v4_dst[4] = { 161, 142, 100, 80 };
static const uint8_t v6_src[16] = { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff,
				    0, 0, 0, 0, 0, 0, 0, 7 };
static const uint8_t v6_dst[16] = { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03,
				    0, 0, 0, 0, 0, 0, 0, 1 };

static struct sup_rss rss = { -1, { -1, -1, -1 } };
static struct net_rss_cfg *cfg;
static struct net_rss_key *key;
static struct net_rss_table *table;

static void *map(int fd)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	cr_assert_neq(p, MAP_FAILED, "mmap of a map: %m");
	return p;
}

static void up(void)
{
	char err[160];
	int r = sup_rss_load(&rss, err, sizeof(err));

	cr_assert_eq(r, 0, "load: %s", err);
	cfg = map(rss.map_fd[0]);
	key = map(rss.map_fd[1]);
	table = map(rss.map_fd[2]);
}

static void down(void)
{
	sup_rss_close(&rss);
}

TestSuite(prog, .init = up, .fini = down);

/* Toeplitz over in[0..n) with k, the reference the program must match. */
static uint32_t toeplitz(const uint8_t *in, size_t n, const uint8_t *k)
{
	uint32_t hash = 0, win = (uint32_t)k[0] << 24 | k[1] << 16 | k[2] << 8 | k[3];

	for (size_t i = 0; i < n; i++)
		for (int b = 7; b >= 0; b--) {
			if (in[i] >> b & 1)
				hash ^= win;
			win = win << 1 | (k[i + 4] >> b & 1);
		}
	return hash;
}

Test(prog, reference_matches_the_spec_vectors)
{
	uint8_t in[36];

	memcpy(in, v4_src, 4);
	memcpy(in + 4, v4_dst, 4);
	cr_assert_eq(toeplitz(in, 8, ms_key), 0x323e8fc2);
	memcpy(in + 8, "\x0a\xea\x06\xe6", 4);          /* ports 2794, 1766 */
	cr_assert_eq(toeplitz(in, 12, ms_key), 0x51ccc178);
	memcpy(in, v6_src, 16);
	memcpy(in + 16, v6_dst, 16);
	cr_assert_eq(toeplitz(in, 32, ms_key), 0x2cc18cd5);
	memcpy(in + 32, "\x0a\xea\x06\xe6", 4);
	cr_assert_eq(toeplitz(in, 36, ms_key), 0x40207d3d);
}

/* Ethernet, then IPv4 or IPv6 from src to dst with protocol proto, then the ports. */
static size_t frame(uint8_t *f, int v6, uint8_t proto, uint16_t sport, uint16_t dport)
{
	size_t l3 = v6 ? 40 : 20;

	memset(f, 0, 128);
	memcpy(f, "\x52\x54\x00\x12\x34\x56\x02\x00\x00\x00\x00\x01", 12);
	if (v6) {
		f[12] = 0x86, f[13] = 0xdd;
		f[14] = 0x60;
		f[14 + 5] = 20;
		f[14 + 6] = proto;
		f[14 + 7] = 64;
		memcpy(f + 14 + 8, v6_src, 16);
		memcpy(f + 14 + 24, v6_dst, 16);
	} else {
		f[12] = 0x08, f[13] = 0x00;
		f[14] = 0x45;
		f[14 + 3] = 40;
		f[14 + 8] = 64;
		f[14 + 9] = proto;
		memcpy(f + 14 + 12, v4_src, 4);
		memcpy(f + 14 + 16, v4_dst, 4);
	}
	f[14 + l3] = (uint8_t)(sport >> 8), f[15 + l3] = (uint8_t)sport;
	f[16 + l3] = (uint8_t)(dport >> 8), f[17 + l3] = (uint8_t)dport;
	return 14 + l3 + 20;
}

static uint32_t run(const uint8_t *f, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = (uint32_t)len,
		    .repeat = 1);
	int r = bpf_prog_test_run_opts(rss.prog_fd, &o);

	cr_assert_eq(r, 0, "BPF_PROG_TEST_RUN: %s", strerror(-r));
	return o.retval;
}

/* The queue the table gives for the hash of the frame's fields (n input bytes). */
static uint16_t expect(const uint8_t *f, int v6, size_t n)
{
	uint8_t in[36];
	size_t alen = v6 ? 16 : 4, l3 = v6 ? 40 : 20;

	memcpy(in, f + 14 + (v6 ? 8 : 12), 2 * alen);
	memcpy(in + 2 * alen, f + 14 + l3, 4);
	return table->q[toeplitz(in, n, key->b) & (cfg->table_len - 1)];
}

static void configure(uint32_t types, uint16_t len, uint16_t def)
{
	cfg->enabled = 0;
	memcpy(key->b, ms_key, 40);
	/* a table whose entries tell the hash's low bits apart */
	for (unsigned i = 0; i < NET_RSS_TABLE_MAX; i++)
		table->q[i] = (uint16_t)((i * 37 + 11) % 128);
	cfg->hash_types = types;
	cfg->table_len = len;
	cfg->default_queue = def;
	cfg->enabled = 1;
}

Test(prog, four_tuples_and_addresses)
{
	uint8_t f[128];
	size_t n;

	configure(0x3f, 128, 200);
	/* the spec's vectors: exact low 7 bits through the table */
	n = frame(f, 0, 6, 2794, 1766);
	cr_assert_eq(run(f, n), table->q[0x51ccc178 & 127], "TCPv4 vector");
	n = frame(f, 1, 6, 2794, 1766);
	cr_assert_eq(run(f, n), table->q[0x40207d3d & 127], "TCPv6 vector");
	n = frame(f, 0, 1, 0, 0);                           /* ICMP: addresses only */
	cr_assert_eq(run(f, n), table->q[0x323e8fc2 & 127], "IPv4 vector");
	n = frame(f, 1, 58, 0, 0);
	cr_assert_eq(run(f, n), table->q[0x2cc18cd5 & 127], "IPv6 vector");
	/* many flows, both families, both protocols */
	for (unsigned p = 0; p < 64; p++) {
		for (int v6 = 0; v6 < 2; v6++) {
			uint16_t sp = (uint16_t)(1000 + p * 977), dp = (uint16_t)(80 + p);

			n = frame(f, v6, 17, sp, dp);
			cr_assert_eq(run(f, n), expect(f, v6, v6 ? 36 : 12), "UDPv%d flow %u",
				     v6 ? 6 : 4, p);
			n = frame(f, v6, 6, sp, dp);
			cr_assert_eq(run(f, n), expect(f, v6, v6 ? 36 : 12), "TCPv%d flow %u",
				     v6 ? 6 : 4, p);
		}
	}
}

Test(prog, hash_types_the_guest_enabled)
{
	uint8_t f[128];
	size_t n;

	/* UDP hashed on addresses only when UDPv4 is off but IPv4 is on */
	configure(VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4, 64, 201);
	n = frame(f, 0, 17, 5000, 53);
	cr_assert_eq(run(f, n), expect(f, 0, 8));
	n = frame(f, 0, 6, 5000, 53);
	cr_assert_eq(run(f, n), expect(f, 0, 12));
	/* IPv6 not enabled at all: the default queue */
	n = frame(f, 1, 6, 5000, 53);
	cr_assert_eq(run(f, n), 201);
	/* only TCPv6: UDPv6 and IPv4 get the default queue */
	configure(VIRTIO_NET_RSS_HASH_TYPE_TCPv6, 128, 202);
	n = frame(f, 1, 6, 5000, 53);
	cr_assert_eq(run(f, n), expect(f, 1, 36));
	n = frame(f, 1, 17, 5000, 53);
	cr_assert_eq(run(f, n), 202);
	n = frame(f, 0, 6, 5000, 53);
	cr_assert_eq(run(f, n), 202);
	/* an IPv4 fragment has no ports to hash: addresses, when IPv4 is on */
	configure(0x3f, 128, 203);
	n = frame(f, 0, 17, 5000, 53);
	f[14 + 6] = 0x20;                                   /* more fragments */
	cr_assert_eq(run(f, n), expect(f, 0, 8));
	configure(VIRTIO_NET_RSS_HASH_TYPE_UDPv4, 128, 204);
	cr_assert_eq(run(f, n), 204);
}

Test(prog, default_queue_for_the_rest)
{
	uint8_t f[128];
	size_t n;

	configure(0x3f, 128, 7);
	n = frame(f, 0, 6, 1, 2);
	f[12] = 0x08, f[13] = 0x06;                         /* ARP */
	cr_assert_eq(run(f, n), 7);
	f[12] = 0x88, f[13] = 0xb5;
	cr_assert_eq(run(f, n), 7);
	n = frame(f, 0, 6, 1, 2);
	f[14] = 0x65;                                       /* says IPv6 in an IPv4 frame */
	cr_assert_eq(run(f, n), 7);
	/* a TCP frame cut after the IP header: no ports, so addresses, or nothing */
	n = frame(f, 0, 6, 2794, 1766);
	cr_assert_eq(run(f, 14 + 20), table->q[0x323e8fc2 & 127], "no ports: IPv4 hash");
	configure(VIRTIO_NET_RSS_HASH_TYPE_TCPv4, 128, 7);
	cr_assert_eq(run(f, 14 + 20), 7, "no ports, no IPv4 hash type");
	/* disabled: the default queue whatever the frame */
	n = frame(f, 0, 6, 2794, 1766);
	cfg->enabled = 0;
	cfg->default_queue = 9;
	cr_assert_eq(run(f, n), 9);
	/* a table length the worker never writes is not trusted */
	configure(0x3f, 96, 5);
	cr_assert_eq(run(f, n), 5);
}
