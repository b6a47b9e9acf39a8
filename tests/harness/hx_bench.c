/* hx-bench: random-I/O load through the vhost-user harness against any vhost-user-blk
 * backend listening on a unix socket (bulkhead-blk, qemu-storage-daemon), for a bounded time.
 * It kicks as a Linux driver does (only when the backend asks: EVENT_IDX or NO_NOTIFY), and
 * counts the CPU time of the backend process (its pid from SO_PEERCRED).
 *
 * usage: hx-bench --socket=PATH [--rw=randread|randwrite] [--qd=N] [--bs=BYTES]
 *                 [--seconds=S] [--idle=S] [--no-event-idx]
 * prints: bench_stats.h's result line; with --idle, then stays attached and idle for S
 * seconds and prints "idle_cpu_pct=X" (the backend's CPU time over that time). Exit 0, or 1
 * on any error status or lost request. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_stats.h"
#include "harness.h"

struct opts {
	const char *sock;
	bool write;
	unsigned qd, bs, seconds, idle;
	unsigned attach_opts;
};

static int parse(struct opts *o, int argc, char **argv)
{
	*o = (struct opts){ .qd = 1, .bs = 4096, .seconds = 5 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strncmp(a, "--socket=", 9))
			o->sock = a + 9;
		else if (!strcmp(a, "--rw=randread"))
			o->write = false;
		else if (!strcmp(a, "--rw=randwrite"))
			o->write = true;
		else if (!strncmp(a, "--qd=", 5))
			o->qd = (unsigned)atoi(a + 5);
		else if (!strncmp(a, "--bs=", 5))
			o->bs = (unsigned)atoi(a + 5);
		else if (!strncmp(a, "--seconds=", 10))
			o->seconds = (unsigned)atoi(a + 10);
		else if (!strncmp(a, "--idle=", 7))
			o->idle = (unsigned)atoi(a + 7);
		else if (!strcmp(a, "--no-event-idx"))
			o->attach_opts |= HX_NO_EVENT_IDX;
		else
			return -EINVAL;
	}
	if (!o->sock || o->qd < 1 || o->qd > 42 || o->bs < 512 || o->bs % 512 ||
	    o->bs > HX_SLOT_DATA || o->seconds < 1 || o->seconds > 600 || o->idle > 600)
		return -EINVAL;
	return 0;
}

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64: cheap and good enough to scatter offsets */
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t submitted_at[HX_MAX_SLOTS];

static int submit(struct hx *h, const struct opts *o, uint64_t blocks, uint64_t *seed)
{
	int slot = hx_slot_get(h, 0);
	uint64_t sector = (rnd(seed) % blocks) * (o->bs / 512);

	if (slot < 0)
		return slot;
	submitted_at[slot] = mono_ns();
	return hx_blk_submit(h, 0, (unsigned)slot,
			     o->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, sector, o->bs);
}

static int run(struct hx *h, const struct opts *o, uint64_t capacity, pid_t backend)
{
	uint64_t blocks = capacity * 512 / o->bs, seed = 0x9e3779b97f4a7c15ULL;
	uint64_t end = hx_now_ms() + o->seconds * 1000ULL;
	unsigned inflight = 0;
	struct bench_stats st;
	struct hx_done d;
	int r;

	if (blocks == 0)
		return -ENOSPC;
	if (bench_begin(&st, backend) < 0)
		return -ENOMEM;
	for (;;) {
		uint64_t now = hx_now_ms();
		unsigned fresh = 0;
		while (now < end && inflight < o->qd && submit(h, o, blocks, &seed) >= 0) {
			inflight++;
			fresh++;
		}
		if (inflight == 0)
			break;
		if (fresh)
			hx_notify(h, 0);
		r = hx_wait(h, 0, HX_TIMEOUT_MS, &d);
		if (r <= 0) {
			fprintf(stderr, "hx-bench: requests lost (%s)\n",
				r < 0 ? strerror(-r) : "nothing completed in time");
			bench_free(&st);
			return 1;
		}
		do {
			unsigned slot = d.head / HX_SLOT_DESCS;

			bench_done(&st, mono_ns() - submitted_at[slot],
				   *hx_slot_status(h, 0, slot) == VIRTIO_BLK_S_OK);
			inflight--;
		} while ((r = hx_wait(h, 0, 0, &d)) == 1);
	}
	bench_end(&st);
	bench_print(&st);
	r = st.errors ? 1 : 0;
	bench_free(&st);
	return r;
}

/* Attached and idle for o->idle seconds: how much of a core the backend used meanwhile. */
static void idle(const struct opts *o, pid_t backend)
{
	int64_t c0 = bench_cpu_us(backend), c1;
	uint64_t t0 = mono_ns();

	sleep(o->idle);
	c1 = bench_cpu_us(backend);
	if (c0 < 0 || c1 < c0)
		printf("idle_cpu_pct=n/a\n");
	else
		printf("idle_cpu_pct=%.2f\n",
		       100.0 * (double)(c1 - c0) * 1000.0 / (double)(mono_ns() - t0));
}

int main(int argc, char **argv)
{
	struct ucred peer = { 0 };
	socklen_t plen = sizeof(peer);
	struct opts o;
	struct hx h;
	uint64_t cap = 0;
	int fd, r;

	if (parse(&o, argc, argv) < 0) {
		fprintf(stderr, "usage: hx-bench --socket=PATH [--rw=randread|randwrite] [--qd=1..42] "
			"[--bs=BYTES] [--seconds=S] [--idle=S] [--no-event-idx]\n");
		return 2;
	}
	fd = hx_unix_connect(o.sock, HX_TIMEOUT_MS);
	if (fd < 0 || hx_init(&h, 32ULL << 20) < 0) {
		fprintf(stderr, "hx-bench: cannot connect to %s\n", o.sock);
		return 1;
	}
	/* no pid (0): the CPU time is ours, which is not the backend's: say n/a instead */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) < 0 || peer.pid <= 0)
		peer.pid = -1;
	r = hx_attach(&h, fd, 1, HX_QSIZE, o.attach_opts);
	if (r == 0)
		r = vuf_get_config(&h.f, 0, (uint8_t *)&cap, sizeof(cap));
	if (r < 0) {
		fprintf(stderr, "hx-bench: attach: %s\n", strerror(-r));
		hx_exit(&h);
		return 1;
	}
	r = run(&h, &o, le64toh(cap), peer.pid);
	if (r == 0 && o.idle)
		idle(&o, peer.pid);
	hx_exit(&h);
	return r < 0 ? 1 : r;
}
