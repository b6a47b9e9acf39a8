/* Malformed vhost-user messages sent raw to a real bulkhead-blk: wrong sizes, wrong fd counts,
 * unknown requests, bad region tables, truncated frames. The worker must close that
 * connection without crashing; with --socket-path it then accepts a new connection that
 * works end to end. With --fd it may exit, but never by a signal. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

static struct fx x;
static int memfd = -1, evfd = -1;

static void down(void)
{
	if (memfd >= 0)
		close(memfd);
	if (evfd >= 0)
		close(evfd);
	memfd = evfd = -1;
	fx_teardown(&x);
}

TestSuite(messages, .fini = down, .timeout = 60);

struct raw {
	struct vu_hdr hdr;
	uint8_t p[VU_MAX_PAYLOAD];
	size_t len;             /* bytes of payload to send (may differ from hdr.size) */
	int fds[VU_MAX_FDS];
	unsigned nfds;
	bool shut;              /* half-close after sending (truncated frames) */
	size_t hdr_bytes;       /* send only this much of the header (0: all 12) */
};

static void msg(struct raw *m, uint32_t req, uint32_t size)
{
	memset(m, 0, sizeof(*m));
	m->hdr.request = req;
	m->hdr.flags = VU_HDR_VERSION;
	m->hdr.size = size;
	m->len = size;
}

static void put64(struct raw *m, size_t off, uint64_t v)
{
	memcpy(m->p + off, &v, 8);
}

static void put32(struct raw *m, size_t off, uint32_t v)
{
	memcpy(m->p + off, &v, 4);
}

static void add_fd(struct raw *m, int fd)
{
	m->fds[m->nfds++] = fd;
}

/* A SET_MEM_TABLE with n regions over the 1 MiB memfd, region i at gpa i MiB (disjoint). */
static void mem_table(struct raw *m, unsigned n, unsigned nfds)
{
	msg(m, VU_SET_MEM_TABLE, 8 + 32 * n);
	put32(m, 0, n);
	for (unsigned i = 0; i < n && i < 100; i++) {
		put64(m, 8 + 32 * i, (uint64_t)i << 20);             /* gpa */
		put64(m, 8 + 32 * i + 8, 1 << 20);                   /* size */
		put64(m, 8 + 32 * i + 16, 0x7f0000000000ULL + ((uint64_t)i << 20));  /* uaddr */
		put64(m, 8 + 32 * i + 24, 0);                        /* mmap_offset */
	}
	for (unsigned i = 0; i < nfds; i++)
		add_fd(m, memfd);
}

static void region(struct raw *m, unsigned i, uint64_t gpa, uint64_t size, uint64_t uaddr,
		   uint64_t off)
{
	put64(m, 8 + 32 * i, gpa);
	put64(m, 8 + 32 * i + 8, size);
	put64(m, 8 + 32 * i + 16, uaddr);
	put64(m, 8 + 32 * i + 24, off);
}

/* Features, protocol features and owner, as a frontend would do first. */
static void preamble(int sock)
{
	struct vu_front f;
	uint64_t feat, pf;

	vuf_init(&f, sock, HX_TIMEOUT_MS);
	cr_assert_eq(vuf_get_features(&f, &feat), 0);
	cr_assert_eq(vuf_get_protocol_features(&f, &pf), 0);
	cr_assert_eq(vuf_set_protocol_features(&f, pf & ((1ULL << VU_PROTOCOL_F_MQ) |
		     (1ULL << VU_PROTOCOL_F_CONFIG) | (1ULL << VU_PROTOCOL_F_INFLIGHT_SHMFD))), 0);
	cr_assert_eq(vuf_set_owner(&f), 0);
}

static void send_raw(int sock, struct raw *m)
{
	uint8_t buf[sizeof(m->hdr) + VU_MAX_PAYLOAD];
	size_t hb = m->hdr_bytes ? m->hdr_bytes : sizeof(m->hdr);

	memcpy(buf, &m->hdr, sizeof(m->hdr));
	memcpy(buf + sizeof(m->hdr), m->p, m->len);
	/* the worker may already have closed: EPIPE/ECONNRESET are fine here */
	hx_send_raw(sock, buf, m->hdr_bytes ? hb : sizeof(m->hdr) + m->len, m->fds, m->nfds);
	if (m->shut)
		shutdown(sock, SHUT_WR);
}

static void setup_fds(void)
{
	memfd = memfd_create("hx-msg", MFD_CLOEXEC);
	cr_assert(memfd >= 0);
	cr_assert_eq(ftruncate(memfd, 1 << 20), 0);
	evfd = eventfd(0, EFD_CLOEXEC);
	cr_assert(evfd >= 0);
}

/* --socket-path: the bad message closes the connection, the next connection works. */
static void run_path(void (*build)(struct raw *m), bool with_preamble)
{
	struct raw m;
	int sock, r;

	setup_fds();
	cr_assert_eq(fx_setup(&x, FX_IMG_SIZE), 0);
	cr_assert_eq(fx_start(&x, true, NULL), 0);
	sock = hx_worker_connect(&x.w, HX_TIMEOUT_MS);
	cr_assert_geq(sock, 0, "connect: %s", strerror(-sock));
	if (with_preamble)
		preamble(sock);
	build(&m);
	send_raw(sock, &m);
	cr_assert_eq(hx_wait_closed(sock, HX_TIMEOUT_MS), 1,
		     "the worker kept a connection that sent a malformed message");
	close(sock);
	cr_assert(hx_worker_alive(&x.w), "the worker died");
	r = fx_fresh_io(&x, 64, 0x42);
	cr_assert_eq(r, 0, "the next connection does not work: %s", strerror(-r));
	cr_assert(hx_worker_alive(&x.w), "the worker died");
}

/* --fd: the worker closes (or exits); if it exits, it does so normally. */
static void run_fd(void (*build)(struct raw *m))
{
	struct raw m;
	int sock, st;

	setup_fds();
	cr_assert_eq(fx_setup(&x, FX_IMG_SIZE), 0);
	cr_assert_eq(fx_start(&x, false, NULL), 0);
	sock = fx_connect(&x);
	preamble(sock);
	build(&m);
	send_raw(sock, &m);
	cr_assert_eq(hx_wait_closed(sock, HX_TIMEOUT_MS), 1, "connection not closed");
	close(sock);
	st = hx_worker_wait(&x.w, 2000);
	if (st >= 0)
		cr_assert(!WIFSIGNALED(st), "the worker died by signal %d", WTERMSIG(st));
	else
		cr_assert(hx_worker_alive(&x.w));
}

#define CASE(name, ...) \
	static void build_##name(struct raw *m) { __VA_ARGS__ } \
	Test(messages, name) { run_path(build_##name, true); }
#define CASE_EARLY(name, ...) \
	static void build_##name(struct raw *m) { __VA_ARGS__ } \
	Test(messages, name) { run_path(build_##name, false); }

/* --- sizes ------------------------------------------------------------------------------------ */
CASE(set_features_short, { msg(m, VU_SET_FEATURES, 4); })
CASE(set_features_long, { msg(m, VU_SET_FEATURES, 16); })
CASE(get_features_with_payload, { msg(m, VU_GET_FEATURES, 8); })
CASE(set_vring_num_short, { msg(m, VU_SET_VRING_NUM, 4); })
CASE(set_vring_addr_short, { msg(m, VU_SET_VRING_ADDR, 24); })
CASE(set_vring_base_long, { msg(m, VU_SET_VRING_BASE, 12); })
CASE(payload_above_max, { msg(m, VU_SET_FEATURES, 0x100000); m->len = 8; })
CASE(payload_size_4g, { msg(m, VU_SET_FEATURES, 0xffffffffu); m->len = 8; })
CASE(get_config_too_big, {
	msg(m, VU_GET_CONFIG, VU_CONFIG_HDR_SIZE + 300);
	put32(m, 4, 300);
})
CASE(get_config_size_field_lies, {
	msg(m, VU_GET_CONFIG, VU_CONFIG_HDR_SIZE + 8);
	put32(m, 4, 200);
})
CASE(mem_table_size_disagrees_with_nregions, { mem_table(m, 2, 2); m->hdr.size = m->len = 8 + 32; })
/* a frame cut short: the header promises 8 bytes, 4 arrive, then EOF */
CASE(truncated_payload, { msg(m, VU_SET_FEATURES, 8); m->len = 4; m->shut = true; })
CASE(truncated_header, { msg(m, VU_GET_FEATURES, 0); m->hdr_bytes = 6; m->shut = true; })

/* --- header --------------------------------------------------------------------------------- */
CASE(unknown_request, { msg(m, 77, 0); })
CASE(request_zero, { msg(m, 0, 0); })
CASE(request_huge, { msg(m, 0xffffffffu, 8); })
CASE(no_version_flag, { msg(m, VU_GET_FEATURES, 0); m->hdr.flags = 0; })
CASE_EARLY(unknown_request_first, { msg(m, 200, 0); })

/* --- fd counts ------------------------------------------------------------------------------ */
CASE(fd_with_set_features, { msg(m, VU_SET_FEATURES, 8); add_fd(m, evfd); })
CASE(mem_table_missing_fd, { mem_table(m, 1, 0); })
CASE(mem_table_extra_fd, { mem_table(m, 1, 2); })
CASE(vring_kick_without_fd_or_nofd, { msg(m, VU_SET_VRING_KICK, 8); put64(m, 0, 0); })
CASE(vring_call_two_fds, { msg(m, VU_SET_VRING_CALL, 8); put64(m, 0, 0); add_fd(m, evfd);
			   add_fd(m, evfd); })
CASE(vring_kick_nofd_with_fd, { msg(m, VU_SET_VRING_KICK, 8); put64(m, 0, VU_VRING_NOFD);
				add_fd(m, evfd); })
CASE(set_inflight_without_fd, {
	msg(m, VU_SET_INFLIGHT_FD, sizeof(struct vu_inflight));
	put64(m, 0, 4096);
})

/* --- region tables ---------------------------------------------------------------------------- */
CASE(mem_table_zero_regions, { mem_table(m, 0, 0); })
CASE(mem_table_nine_regions, { mem_table(m, 9, 8); })
CASE(mem_table_overlap_gpa, {
	mem_table(m, 2, 2);
	region(m, 0, 0, 1 << 20, 0x7f0000000000ULL, 0);
	region(m, 1, 1 << 19, 1 << 19, 0x7f0000200000ULL, 0);
})
CASE(mem_table_overlap_uaddr, {
	mem_table(m, 2, 2);
	region(m, 0, 0, 1 << 20, 0x7f0000000000ULL, 0);
	region(m, 1, 4 << 20, 1 << 20, 0x7f0000080000ULL, 0);
})
CASE(mem_table_region_size_zero, { mem_table(m, 1, 1); region(m, 0, 0, 0, 0x7f0000000000ULL, 0); })
CASE(mem_table_huge_region, { mem_table(m, 1, 1);
			      region(m, 0, 0, 1ULL << 62, 0x7f0000000000ULL, 0); })
CASE(mem_table_gpa_wraps, { mem_table(m, 1, 1);
			    region(m, 0, UINT64_MAX - 4095, 1 << 20, 0x7f0000000000ULL, 0); })
CASE(mem_table_offset_overflows, { mem_table(m, 1, 1);
				   region(m, 0, 0, 1 << 20, 0x7f0000000000ULL, UINT64_MAX - 10); })
CASE(mem_table_fd_not_mappable, { mem_table(m, 1, 0); add_fd(m, evfd); })

/* --- ring requests with bad values ------------------------------------------------------------- */
CASE(vring_num_not_power_of_two, { msg(m, VU_SET_VRING_NUM, 8); put32(m, 4, 3); })
CASE(vring_num_zero, { msg(m, VU_SET_VRING_NUM, 8); put32(m, 4, 0); })
CASE(vring_num_too_big, { msg(m, VU_SET_VRING_NUM, 8); put32(m, 4, 65536); })
CASE(vring_index_out_of_range, { msg(m, VU_SET_VRING_NUM, 8); put32(m, 0, 99); put32(m, 4, 128); })
CASE(set_inflight_wrong_size, {
	msg(m, VU_SET_INFLIGHT_FD, sizeof(struct vu_inflight));
	put64(m, 0, 1ULL << 40);   /* mmap_size */
	put64(m, 8, 0);
	memcpy(m->p + 16, &(uint16_t){ 1 }, 2);
	memcpy(m->p + 18, &(uint16_t){ 128 }, 2);
	add_fd(m, memfd);
})

/* --- the same through --fd ------------------------------------------------------------------- */
static void build_fd_unknown(struct raw *m) { msg(m, 77, 0); }
static void build_fd_mem_overlap(struct raw *m)
{
	mem_table(m, 2, 2);
	region(m, 1, 1 << 19, 1 << 19, 0x7f0000200000ULL, 0);
}
static void build_fd_too_big(struct raw *m) { msg(m, VU_SET_FEATURES, 0x100000); m->len = 8; }

Test(messages, fd_mode_unknown_request) { run_fd(build_fd_unknown); }
Test(messages, fd_mode_overlapping_regions) { run_fd(build_fd_mem_overlap); }
Test(messages, fd_mode_payload_above_max) { run_fd(build_fd_too_big); }
