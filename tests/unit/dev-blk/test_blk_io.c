/* Unit tests of bulkhead-blk's io_uring engine over a real split ring in local memory (no
 * socket, no event loop: blk_dev_drain waits for the kernel): data reaches the image,
 * ENOSPC/EIO become IOERR, a failed flush keeps failing, write-zeroes works where the file
 * system cannot zero a range, the IOPS limit delays requests without dropping any, and a
 * chain without a status byte breaks the queue. */
#include <criterion/criterion.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk.h"

#define QN      64
#define MEMSZ   (4u << 20)
#define DATA    (64u << 10)     /* data buffers start here in "guest" memory */
#define DISK_SECTORS 4096ULL    /* 2 MiB images */

struct fx {
	uint8_t *mem;
	struct vq_mem vm;
	struct blk_dev d;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx, next_desc;
	uint64_t next_data;
	char path[64];
};

static uint64_t fake_now;
static uint64_t timer_ns;
static unsigned timer_calls;

static uint64_t clock_fake(void) { return fake_now; }
static void timer_fake(struct blk_dev *d, uint64_t ns) { (void)d; timer_ns = ns; timer_calls++; }

/* An image of DISK_SECTORS in dir (NULL: none), the ring, and the engine. */
static void fx_init(struct fx *f, const char *dir, uint32_t iops)
{
	const struct blk_hooks hooks = { .arm_timer = timer_fake, .now_ns = clock_fake };
	struct vu_queue *q;

	memset(f, 0, sizeof(*f));
	f->mem = aligned_alloc(4096, MEMSZ);
	cr_assert_not_null(f->mem);
	memset(f->mem, 0, MEMSZ);
	f->vm.nr = 1;
	f->vm.r[0] = (struct vq_region){ .gpa = 0, .size = MEMSZ, .uaddr = 0, .hva = f->mem };
	f->desc = (void *)f->mem;
	f->avail = (void *)(f->mem + 4096);
	f->used = (void *)(f->mem + 8192);
	f->next_data = DATA;
	f->d.disk.fd = -1;
	if (dir) {
		snprintf(f->path, sizeof(f->path), "%s/test-blk-io-XXXXXX", dir);
		f->d.disk.fd = mkstemp(f->path);
		cr_assert_geq(f->d.disk.fd, 0);
		/* gone from the directory at once: a failing assertion leaves nothing behind */
		unlink(f->path);
		cr_assert_eq(ftruncate(f->d.disk.fd, DISK_SECTORS * 512), 0);
	}
	f->d.disk.capacity = DISK_SECTORS;
	f->d.disk.blk_size = 512;
	f->d.disk.num_queues = 1;
	fake_now = 1000000000ULL;
	timer_calls = 0;
	cr_assert_eq(blk_dev_init(&f->d, &hooks, iops), 0);
	f->d.vu.nqueues = 1;
	q = &f->d.vu.q[0];
	q->started = q->enabled = true;
	q->kick_fd = q->call_fd = q->err_fd = -1;
	cr_assert_eq(vq_setup(&q->vq, "test q0", &f->vm, QN, f->desc, f->avail, f->used, false), 0);
}

static void fx_fini(struct fx *f)
{
	blk_dev_exit(&f->d);
	vq_teardown(&f->d.vu.q[0].vq);
	blk_disk_close(&f->d.disk);
	free(f->mem);
}

/* Reserve len bytes of guest memory; returns its guest address. */
static uint64_t galloc(struct fx *f, uint32_t len)
{
	uint64_t a = f->next_data;

	f->next_data += (len + 511) & ~511u;
	cr_assert_leq(f->next_data, MEMSZ);
	return a;
}

static void *hva(struct fx *f, uint64_t gpa) { return f->mem + gpa; }

struct buf { uint64_t gpa; uint32_t len; bool w; };

/* Put a chain of bufs on the avail ring; returns its head. */
static uint16_t post(struct fx *f, const struct buf *b, unsigned n)
{
	uint16_t head = f->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t id = (head + i) % QN;
		struct vring_desc *d = &f->desc[id];

		d->addr = htole64(b[i].gpa);
		d->len = htole32(b[i].len);
		d->flags = htole16((b[i].w ? VRING_DESC_F_WRITE : 0) |
				   (i + 1 < n ? VRING_DESC_F_NEXT : 0));
		d->next = htole16((id + 1) % QN);
	}
	f->next_desc = (head + n) % QN;
	f->avail->ring[f->avail_idx % QN] = htole16(head);
	__atomic_store_n(&f->avail->idx, htole16(++f->avail_idx), __ATOMIC_RELEASE);
	return head;
}

/* header + optional data + status; returns the gpa of the status byte */
static uint64_t request(struct fx *f, uint32_t type, uint64_t sector, uint64_t data,
			uint32_t len, bool data_writable)
{
	uint64_t h = galloc(f, 16), st = galloc(f, 1);
	uint32_t t = htole32(type);
	uint64_t s = htole64(sector);
	struct buf b[3];
	unsigned n = 0;

	memcpy(hva(f, h), &t, 4);
	memset(hva(f, h) + 4, 0, 4);
	memcpy(hva(f, h) + 8, &s, 8);
	*(uint8_t *)hva(f, st) = 0xee;
	b[n++] = (struct buf){ h, 16, false };
	if (len)
		b[n++] = (struct buf){ data, len, data_writable };
	b[n++] = (struct buf){ st, 1, true };
	post(f, b, n);
	return st;
}

/* Process and wait for every completion. */
static void run(struct fx *f)
{
	blk_queue_process(&f->d, 0);
	blk_dev_drain(&f->d, -1);
}

static uint8_t status(struct fx *f, uint64_t st) { return *(uint8_t *)hva(f, st); }
static uint16_t used_idx(struct fx *f) { return le16toh(f->used->idx); }

Test(io, write_read_flush_reach_the_image)
{
	struct fx f;
	uint64_t wbuf, rbuf, st1, st2, st3;
	uint8_t file[4096];

	fx_init(&f, "/tmp", 0);
	wbuf = galloc(&f, 4096);
	rbuf = galloc(&f, 4096);
	for (unsigned i = 0; i < 4096; i++)
		((uint8_t *)hva(&f, wbuf))[i] = i * 7 + 1;
	st1 = request(&f, VIRTIO_BLK_T_OUT, 100, wbuf, 4096, false);
	run(&f);
	cr_assert_eq(status(&f, st1), VIRTIO_BLK_S_OK);
	cr_assert_eq(pread(f.d.disk.fd, file, 4096, 100 * 512), 4096);
	cr_assert_arr_eq(file, hva(&f, wbuf), 4096);

	st2 = request(&f, VIRTIO_BLK_T_IN, 100, rbuf, 4096, true);
	st3 = request(&f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	run(&f);
	cr_assert_eq(status(&f, st2), VIRTIO_BLK_S_OK);
	cr_assert_eq(status(&f, st3), VIRTIO_BLK_S_OK);
	cr_assert_arr_eq(hva(&f, rbuf), hva(&f, wbuf), 4096);
	cr_assert_eq(used_idx(&f), 3);
	/* used lengths: write = status only; read = data + status */
	cr_assert_eq(le32toh(f.used->ring[0].len), 1);
	cr_assert_eq(le32toh(f.used->ring[1].len) + le32toh(f.used->ring[2].len), 4097 + 1);
	cr_assert_eq(f.d.busy, 0);
	fx_fini(&f);
}

/* io_uring is not filtered by seccomp: the worker's ring must refuse what it never needs */
Test(io, ring_refuses_operations_outside_the_data_path)
{
	struct fx f;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;

	fx_init(&f, "/tmp", 0);
	sqe = io_uring_get_sqe(&f.d.ring);
	cr_assert_not_null(sqe);
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/passwd", O_RDONLY, 0);
	io_uring_sqe_set_data(sqe, NULL);
	cr_assert_eq(io_uring_submit_and_wait(&f.d.ring, 1), 1);
	cr_assert_eq(io_uring_peek_cqe(&f.d.ring, &cqe), 0);
	cr_assert_eq(cqe->res, -EACCES, "OPENAT through the ring: %d", cqe->res);
	io_uring_cqe_seen(&f.d.ring, cqe);
	cr_assert_lt(io_uring_register_eventfd(&f.d.ring, f.d.efd), 0,
		     "no further registration after the restrictions");
	fx_fini(&f);
}

Test(io, get_id_and_bad_requests_complete_at_once)
{
	struct fx f;
	uint64_t id, st1, st2, st3;

	fx_init(&f, "/tmp", 0);
	memcpy(f.d.disk.serial, "disk-7", 6);
	id = galloc(&f, 20);
	st1 = request(&f, VIRTIO_BLK_T_GET_ID, 0, id, 20, true);
	st2 = request(&f, 99, 0, 0, 0, false);
	st3 = request(&f, VIRTIO_BLK_T_IN, DISK_SECTORS, galloc(&f, 512), 512, true);
	run(&f);
	cr_assert_eq(status(&f, st1), VIRTIO_BLK_S_OK);
	cr_assert_str_eq(hva(&f, id), "disk-7");
	cr_assert_eq(status(&f, st2), VIRTIO_BLK_S_UNSUPP);
	cr_assert_eq(status(&f, st3), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(used_idx(&f), 3);
	fx_fini(&f);
}

/* /dev/full: every write fails with ENOSPC, reads give zeroes, fdatasync fails. */
Test(io, enospc_is_ioerr_and_failed_flush_is_sticky)
{
	struct fx f;
	uint64_t buf, st1, st2, st3, st4;
	int good;

	fx_init(&f, NULL, 0);
	f.d.disk.fd = open("/dev/full", O_RDWR | O_CLOEXEC);
	cr_assert_geq(f.d.disk.fd, 0);
	buf = galloc(&f, 1024);
	memset(hva(&f, buf), 0x5a, 1024);
	st1 = request(&f, VIRTIO_BLK_T_OUT, 0, buf, 1024, false);
	st2 = request(&f, VIRTIO_BLK_T_IN, 0, buf, 1024, true);
	run(&f);
	cr_assert_eq(status(&f, st1), VIRTIO_BLK_S_IOERR, "ENOSPC must reach the guest");
	cr_assert_eq(status(&f, st2), VIRTIO_BLK_S_OK);
	cr_assert_eq(((uint8_t *)hva(&f, buf))[1023], 0);

	st3 = request(&f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	run(&f);
	cr_assert_eq(status(&f, st3), VIRTIO_BLK_S_IOERR);
	/* the same descriptor number now names a file whose fdatasync works: a flush must still
	 * fail, because what the failed flush covered is not known to be durable */
	snprintf(f.path, sizeof(f.path), "/tmp/test-blk-io-XXXXXX");
	good = mkstemp(f.path);
	cr_assert_geq(good, 0);
	unlink(f.path);
	cr_assert_eq(dup2(good, f.d.disk.fd), f.d.disk.fd);
	close(good);
	cr_assert_eq(fdatasync(f.d.disk.fd), 0);
	st4 = request(&f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	run(&f);
	cr_assert_eq(status(&f, st4), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(used_idx(&f), 4);
	fx_fini(&f);
}

static void zero_range(const char *dir, bool unmap)
{
	struct fx f;
	uint64_t seg, st;
	uint8_t ff[8192], back[8192 + 1024], zero[8192] = { 0 };
	uint64_t sgl[2];
	uint32_t nf[2];

	fx_init(&f, dir, 0);
	memset(ff, 0xff, sizeof(ff));
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pwrite(f.d.disk.fd, ff, sizeof(ff), i * sizeof(ff)), (ssize_t)sizeof(ff));
	seg = galloc(&f, 16);
	sgl[0] = htole64(8);             /* sectors 8..23 */
	nf[0] = htole32(16);
	nf[1] = htole32(unmap ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0);
	memcpy(hva(&f, seg), sgl, 8);
	memcpy(hva(&f, seg) + 8, nf, 8);
	st = request(&f, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, 16, false);
	run(&f);
	cr_assert_eq(status(&f, st), VIRTIO_BLK_S_OK, "%s unmap=%d", dir, unmap);
	cr_assert_eq(pread(f.d.disk.fd, back, sizeof(back), 3584), (ssize_t)sizeof(back));
	cr_assert_eq(back[511], 0xff, "sector 7 untouched");
	cr_assert_arr_eq(back + 512, zero, 8192, "%s unmap=%d: sectors 8..23 zero", dir, unmap);
	cr_assert_eq(back[512 + 8192], 0xff, "sector 24 untouched");
	fx_fini(&f);
}

/* ext4 zeroes and punches; tmpfs cannot zero a range, so that goes through written zeroes */
Test(io, write_zeroes)
{
	zero_range("/tmp", false);
	zero_range("/tmp", true);
	zero_range("/dev/shm", false);
	zero_range("/dev/shm", true);
}

Test(io, discard)
{
	struct fx f;
	uint64_t seg, st;
	uint8_t s[16] = { 0 };

	fx_init(&f, "/tmp", 0);
	s[0] = 8;                   /* sector 8, 8 sectors */
	s[8] = 8;
	seg = galloc(&f, 16);
	memcpy(hva(&f, seg), s, 16);
	st = request(&f, VIRTIO_BLK_T_DISCARD, 0, seg, 16, false);
	run(&f);
	cr_assert_eq(status(&f, st), VIRTIO_BLK_S_OK);
	fx_fini(&f);
}

Test(io, iops_limit_delays_and_never_drops)
{
	struct fx f;
	uint64_t st[5];

	fx_init(&f, "/tmp", 10);        /* 10/s, burst 1 */
	for (int i = 0; i < 5; i++)
		st[i] = request(&f, VIRTIO_BLK_T_IN, i, galloc(&f, 512), 512, true);
	run(&f);
	cr_assert_eq(used_idx(&f), 1, "only the burst passes at once");
	cr_assert_eq(timer_calls, 1);
	cr_assert_eq(timer_ns, 100000000ULL);
	/* the timer firing early changes nothing and re-arms for the rest */
	fake_now += 50000000ULL;
	blk_dev_timer(&f.d);
	blk_dev_drain(&f.d, -1);
	cr_assert_eq(used_idx(&f), 1);
	cr_assert_eq(timer_calls, 2);
	cr_assert_eq(timer_ns, 50000000ULL);
	for (int i = 0; i < 4; i++) {
		fake_now += 100000000ULL;
		blk_dev_timer(&f.d);
		blk_dev_drain(&f.d, -1);
		cr_assert_eq(used_idx(&f), 2 + i);
	}
	for (int i = 0; i < 5; i++)
		cr_assert_eq(status(&f, st[i]), VIRTIO_BLK_S_OK);
	fx_fini(&f);
}

Test(io, chain_without_status_breaks_the_queue)
{
	struct fx f;
	uint64_t h;
	struct buf b[2];

	fx_init(&f, "/tmp", 0);
	h = galloc(&f, 16);
	memset(hva(&f, h), 0, 16);     /* an IN request */
	b[0] = (struct buf){ h, 16, false };
	b[1] = (struct buf){ galloc(&f, 512), 512, false };
	post(&f, b, 2);
	request(&f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	run(&f);
	cr_assert(f.d.vu.q[0].vq.broken);
	cr_assert_eq(used_idx(&f), 0, "nothing is processed after a broken chain");
	fx_fini(&f);
}

Test(io, many_in_flight)
{
	struct fx f;
	uint64_t st[QN - 1], buf[QN - 1];
	uint8_t back[512];

	/* more requests than fit in one ring pass: wrap the descriptor table twice over */
	fx_init(&f, "/tmp", 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 21; i++) {
			buf[i] = galloc(&f, 512);
			memset(hva(&f, buf[i]), round * 21 + i, 512);
			st[i] = request(&f, VIRTIO_BLK_T_OUT, round * 21 + i, buf[i], 512, false);
		}
		run(&f);
		for (int i = 0; i < 21; i++)
			cr_assert_eq(status(&f, st[i]), VIRTIO_BLK_S_OK);
	}
	cr_assert_eq(used_idx(&f), 63);
	for (int s = 0; s < 63; s++) {
		cr_assert_eq(pread(f.d.disk.fd, back, 512, s * 512), 512);
		cr_assert_eq(back[0], s);
		cr_assert_eq(back[511], s);
	}
	fx_fini(&f);
}

/* ---- polling: blk_dev_poll finds work without a kick, blk_dev_kicks turns kicks off ---- */

static unsigned woke_calls;
static void woke_count(struct blk_dev *d) { (void)d; woke_calls++; }

/* Wait (bounded) until io_uring has a completion to reap. */
static void wait_cqe(struct fx *f)
{
	for (int i = 0; i < 2000 && !io_uring_cq_ready(&f->d.ring); i++)
		usleep(1000);
	cr_assert(io_uring_cq_ready(&f->d.ring), "io_uring completed nothing in 2 s");
}

Test(io, poll_finds_requests_and_completions_without_kicks)
{
	struct fx f;
	uint64_t st, buf;

	fx_init(&f, "/tmp", 0);
	woke_calls = 0;
	f.d.hooks.woke = woke_count;
	cr_assert_not(blk_dev_poll(&f.d), "nothing posted, nothing found");
	blk_dev_kicks(&f.d, false);
	cr_assert_eq(le16toh(f.used->flags), VRING_USED_F_NO_NOTIFY);
	cr_assert(*f.d.ring.cq.kflags & IORING_CQ_EVENTFD_DISABLED);
	buf = galloc(&f, 4096);
	memset(hva(&f, buf), 0x5a, 4096);
	st = request(&f, VIRTIO_BLK_T_OUT, 8, buf, 4096, false);
	/* a write to the page cache may complete inside the submit: either way it is found */
	cr_assert(blk_dev_poll(&f.d), "a posted request was not found by a look");
	if (used_idx(&f) == 0) {
		wait_cqe(&f);
		cr_assert(blk_dev_poll(&f.d), "a completion was not found by a look");
	}
	cr_assert_eq(used_idx(&f), 1);
	cr_assert_eq(status(&f, st), VIRTIO_BLK_S_OK);
	cr_assert_eq(woke_calls, 0, "a look is not a wakeup");
	blk_dev_kicks(&f.d, true);
	cr_assert_eq(le16toh(f.used->flags), 0);
	cr_assert_not(*f.d.ring.cq.kflags & IORING_CQ_EVENTFD_DISABLED);
	/* a kick and a completion wakeup are */
	request(&f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	blk_vu_ops.queue_kick(&f.d.vu, 0);
	cr_assert_eq(woke_calls, 1);
	blk_dev_drain(&f.d, -1);
	blk_dev_reap(&f.d);
	cr_assert_eq(woke_calls, 2);
	fx_fini(&f);
}

Test(io, poll_leaves_a_throttled_queue_to_its_timer)
{
	struct fx f;

	fx_init(&f, "/tmp", 10);        /* 10/s, burst 1 */
	request(&f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	request(&f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	cr_assert(blk_dev_poll(&f.d));
	blk_dev_drain(&f.d, -1);
	cr_assert_eq(used_idx(&f), 1, "only the burst passes");
	cr_assert(f.d.throttled);
	/* a poller must not spin on a request it may not start: not found, not started */
	cr_assert_not(blk_dev_poll(&f.d));
	cr_assert_eq(used_idx(&f), 1);
	fake_now += 100000000ULL;
	blk_dev_timer(&f.d);
	blk_dev_drain(&f.d, -1);
	cr_assert_eq(used_idx(&f), 2);
	fx_fini(&f);
}

/* The image shrank below the capacity the guest was told: a short read is continued, and
 * end of file is an I/O error, not zeroes the guest would take for data. */
Test(io, short_read_continues_and_eof_is_ioerr)
{
	struct fx f;
	uint64_t buf, st1, st2;
	uint8_t sector[512];

	fx_init(&f, "/tmp", 0);
	cr_assert_eq(ftruncate(f.d.disk.fd, 1024), 0);
	memset(sector, 0x3c, sizeof(sector));
	cr_assert_eq(pwrite(f.d.disk.fd, sector, 512, 512), 512);
	buf = galloc(&f, 1024);
	st1 = request(&f, VIRTIO_BLK_T_IN, 1, buf, 1024, true);     /* 512 bytes, then EOF */
	st2 = request(&f, VIRTIO_BLK_T_IN, 1, galloc(&f, 512), 512, true);
	run(&f);
	cr_assert_eq(status(&f, st1), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(status(&f, st2), VIRTIO_BLK_S_OK);
	cr_assert_eq(((uint8_t *)hva(&f, buf))[511], 0x3c, "the first part was read");
	fx_fini(&f);
}
