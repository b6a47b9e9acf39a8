/* uring-bench: the baseline for scripts/bench-blk.sh — random reads or writes straight on a
 * file with io_uring (no vhost-user, no rings in between), same block size, queue depth and
 * time bound as hx-bench.
 *
 * usage: uring-bench --file=PATH [--rw=randread|randwrite] [--qd=N] [--bs=BYTES]
 *                    [--seconds=S] [--direct]
 * prints: bench_stats.h's result line (the CPU time is this process's: it is driver and
 * backend in one); exit 0, or 1 on any failed I/O. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"

#define MAX_QD 256

struct opts {
	const char *file;
	bool write, direct;
	unsigned qd, bs, seconds;
};

static int parse(struct opts *o, int argc, char **argv)
{
	*o = (struct opts){ .qd = 1, .bs = 4096, .seconds = 5 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strncmp(a, "--file=", 7))
			o->file = a + 7;
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
		else if (!strcmp(a, "--direct"))
			o->direct = true;
		else
			return -EINVAL;
	}
	if (!o->file || o->qd < 1 || o->qd > MAX_QD || o->bs < 512 || o->bs % 512 ||
	    o->bs > (1 << 20) || o->seconds < 1 || o->seconds > 600)
		return -EINVAL;
	return 0;
}

/* one in-flight request: its buffer and when it was queued */
struct req {
	void *buf;
	uint64_t queued;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void queue_one(struct io_uring *ring, const struct opts *o, int fd, struct req *q,
		      uint64_t blocks, uint64_t *seed)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	off_t off = (off_t)((rnd(seed) % blocks) * o->bs);

	if (o->write)
		io_uring_prep_write(sqe, fd, q->buf, o->bs, off);
	else
		io_uring_prep_read(sqe, fd, q->buf, o->bs, off);
	io_uring_sqe_set_data(sqe, q);
	q->queued = mono_ns();
}

static int run(struct io_uring *ring, const struct opts *o, int fd, uint8_t *bufs,
	       uint64_t blocks)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL, end;
	struct req reqs[MAX_QD];
	struct bench_stats st;
	struct io_uring_cqe *cqe;
	unsigned inflight, i;
	int r = 0;

	if (bench_begin(&st, 0) < 0)
		return -ENOMEM;
	end = st.start_ns + o->seconds * 1000000000ULL;
	for (i = 0; i < o->qd; i++) {
		reqs[i].buf = bufs + (size_t)i * o->bs;
		queue_one(ring, o, fd, &reqs[i], blocks, &seed);
	}
	inflight = o->qd;
	while (inflight) {
		unsigned head, n = 0;

		r = io_uring_submit_and_wait(ring, 1);
		if (r < 0)
			break;
		r = 0;
		io_uring_for_each_cqe(ring, head, cqe) {
			struct req *q = io_uring_cqe_get_data(cqe);
			uint64_t now = mono_ns();

			bench_done(&st, now - q->queued, cqe->res == (int)o->bs);
			n++;
			inflight--;
			if (now < end) {
				queue_one(ring, o, fd, q, blocks, &seed);
				inflight++;
			}
		}
		io_uring_cq_advance(ring, n);
	}
	if (r == 0) {
		bench_end(&st);
		bench_print(&st);
		r = st.errors ? 1 : 0;
	}
	bench_free(&st);
	return r;
}

int main(int argc, char **argv)
{
	struct io_uring ring;
	struct opts o;
	struct stat st;
	void *bufs;
	int fd, r;

	if (parse(&o, argc, argv) < 0) {
		fprintf(stderr, "usage: uring-bench --file=PATH [--rw=randread|randwrite] [--qd=N] "
			"[--bs=BYTES] [--seconds=S] [--direct]\n");
		return 2;
	}
	fd = open(o.file, (o.write ? O_RDWR : O_RDONLY) | (o.direct ? O_DIRECT : 0) | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < (off_t)o.bs) {
		fprintf(stderr, "uring-bench: %s: %s\n", o.file, strerror(errno));
		return 1;
	}
	if (posix_memalign(&bufs, 4096, (size_t)o.qd * o.bs) != 0)
		return 1;
	memset(bufs, 0x5a, (size_t)o.qd * o.bs);
	r = io_uring_queue_init(o.qd < 8 ? 8 : o.qd, &ring, 0);
	if (r < 0) {
		fprintf(stderr, "uring-bench: io_uring_queue_init: %s\n", strerror(-r));
		return 1;
	}
	r = run(&ring, &o, fd, bufs, (uint64_t)st.st_size / o.bs);
	io_uring_queue_exit(&ring);
	free(bufs);
	close(fd);
	if (r < 0)
		fprintf(stderr, "uring-bench: %s\n", strerror(-r));
	return r < 0 ? 1 : r;
}
