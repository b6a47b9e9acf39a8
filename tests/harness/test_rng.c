/* bulkhead-rng end to end (suite 'rng'): the harness is the frontend and the guest's
 * virtio-rng driver, posting device-writable buffers on the requestq. The worker gets
 * /dev/urandom as the supervisor gives it (an open fd, --source-fd=4), or opens it itself
 * (--filename, by hand). It always runs under its seccomp filter: no test passes
 * --disable-seccomp, and each checks the worker is still alive with Seccomp: 2 (a missing
 * rule would have killed it with SIGSYS). Its stderr goes to a file the tests read. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <termios.h>

#include "harness.h"

#define Q        0u         /* the requestq */
#define QUIET_MS 300

struct rig {
	struct hx h;
	struct hx_worker w;
	char dir[64], log[96], sock[96];
	bool h_ready;
};

static struct rig R;

static const char *rng_bin(void)
{
	const char *b = getenv("BULKHEAD_RNG");

	return b && *b ? b : "build/dev-rng/bulkhead-rng";
}

static void down(void)
{
	char cmd[128];

	if (R.h_ready)
		hx_exit(&R.h);
	R.h_ready = false;
	hx_worker_kill(&R.w);
	if (R.dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", R.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "test-rng: %s failed\n", cmd);
	}
	R.dir[0] = 0;
}

static void up(void)
{
	memset(&R, 0, sizeof(R));
	R.w.pid = -1;
	R.w.sock = -1;
	snprintf(R.dir, sizeof(R.dir), "/tmp/hx-rng-XXXXXX");
	cr_assert_not_null(mkdtemp(R.dir));
	snprintf(R.log, sizeof(R.log), "%s/stderr", R.dir);
	snprintf(R.sock, sizeof(R.sock), "%s/rng.sock", R.dir);
}

TestSuite(rng, .init = up, .fini = down, .timeout = 60);

/* Spawn the worker with its stderr in R.log: over a socketpair (--fd=3) unless path_mode
 * (--socket-path), with fd 4 the source when src >= 0. */
static void spawn(const char *const *args, int src, bool path_mode)
{
	int logfd = open(R.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int saved = dup(2), r;

	cr_assert(logfd >= 0 && saved >= 0);
	/* the child inherits fd 2: ours points at the log while it forks */
	fflush(stderr);
	dup2(logfd, 2);
	r = hx_worker_spawn_fds(&R.w, rng_bin(), path_mode ? R.sock : NULL, args,
				src >= 0 ? &src : NULL, src >= 0 ? 1 : 0);
	dup2(saved, 2);
	close(saved);
	close(logfd);
	cr_assert_eq(r, 0, "spawn: %s", strerror(-r));
}

/* The worker with src on --source-fd=4 and extra args, attached. */
static void start_src(int src, const char *const *extra)
{
	const char *args[16] = { "--source-fd=4" };
	unsigned n = 1;
	int r;

	cr_assert_geq(src, 0);
	for (; extra && *extra && n < 15; extra++)
		args[n++] = *extra;
	spawn(args, src, false);
	close(src);
	cr_assert_eq(hx_init(&R.h, 16ULL << 20), 0);
	R.h_ready = true;
	r = hx_attach(&R.h, R.w.sock, 1, HX_QSIZE, 0);
	R.w.sock = -1;
	cr_assert_eq(r, 0, "attach: %s", strerror(-r));
}

/* The worker with /dev/urandom on --source-fd=4. */
static void start(const char *const *extra)
{
	start_src(open("/dev/urandom", O_RDONLY | O_CLOEXEC), extra);
}

static char *log_text(void)
{
	static char buf[16384];
	int fd = open(R.log, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Alive, under its seccomp filter, and no rule missing so far. */
static void expect_sandboxed(void)
{
	char path[64], buf[4096];
	int fd;
	ssize_t n;

	cr_assert(hx_worker_alive(&R.w), "the worker died; its stderr:\n%s", log_text());
	snprintf(path, sizeof(path), "/proc/%d/status", (int)R.w.pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	cr_expect(strstr(buf, "Seccomp:\t2"), "not under a seccomp filter:\n%s", buf);
	cr_expect_null(strstr(log_text(), "seccomp:"), "a blocked syscall:\n%s", log_text());
}

/* ---- requests ------------------------------------------------------------------------------ */

/* Post a request of one writable buffer of len bytes in slot s (zeroed first); no kick. */
static uint16_t post(unsigned s, uint32_t len)
{
	uint16_t head = (uint16_t)(s * HX_SLOT_DESCS);

	memset(hx_slot_data(&R.h, Q, s), 0, HX_SLOT_DATA);
	hx_desc(&R.h, Q, head, hx_slot_data_gpa(&R.h, Q, s), len, VRING_DESC_F_WRITE, 0);
	R.h.q[Q].slot_busy[s] = true;
	hx_publish(&R.h, Q, head);
	return head;
}

static struct hx_done done(int timeout_ms)
{
	struct hx_done d;
	int r = hx_wait(&R.h, Q, timeout_ms, &d);

	cr_assert_eq(r, 1, "no completion: %d; worker stderr:\n%s", r, log_text());
	cr_assert_not(d.stray, "completion of head %u nobody posted", d.head);
	return d;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* One request of len bytes in slot s, served in full. */
static const uint8_t *request(unsigned s, uint32_t len)
{
	uint16_t head = post(s, len);
	struct hx_done d;

	cr_assert_eq(hx_kick(&R.h, Q), 0);
	d = done(HX_TIMEOUT_MS);
	cr_assert_eq(d.head, head);
	cr_assert_eq(d.len, len, "got %u bytes of %u", d.len, len);
	return hx_slot_data(&R.h, Q, s);
}

/* (1) 4096 bytes that are not all zero and differ between requests; the worker's statistics
 * when the frontend goes (--fd mode: then it exits, 0). */
Test(rng, random_bytes_differ)
{
	const uint8_t *a, *b;

	start(NULL);
	a = request(0, 4096);
	b = request(1, 4096);
	cr_expect_not(all_zero(a, 4096), "4096 zero bytes");
	cr_expect_not(all_zero(b, 4096), "4096 zero bytes");
	cr_expect_neq(memcmp(a, b, 4096), 0, "two requests got the same bytes");
	cr_expect(all_zero(a + 4096, HX_SLOT_DATA - 4096), "bytes past the buffer written");
	expect_sandboxed();
	hx_detach(&R.h);
	int st = hx_worker_wait(&R.w, HX_TIMEOUT_MS);
	cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x:\n%s", st,
		  log_text());
	cr_expect(strstr(log_text(), "served 2 requests, 8192 bytes"), "no statistics:\n%s",
		  log_text());
}

/* (2) A request of three writable descriptors is filled across them, and nothing else. */
Test(rng, three_descriptors)
{
	static const uint32_t off[3] = { 0, 1000, 5000 }, len[3] = { 100, 700, 3000 };
	uint8_t *data;
	uint16_t head;
	struct hx_done d;

	start(NULL);
	data = hx_slot_data(&R.h, Q, 2);
	memset(data, 0, HX_SLOT_DATA);
	head = 2 * HX_SLOT_DESCS;
	for (unsigned i = 0; i < 3; i++)
		hx_desc(&R.h, Q, (uint16_t)(head + i), hx_slot_data_gpa(&R.h, Q, 2) + off[i], len[i],
			VRING_DESC_F_WRITE | (i < 2 ? VRING_DESC_F_NEXT : 0), (uint16_t)(head + i + 1));
	R.h.q[Q].slot_busy[2] = true;
	hx_publish(&R.h, Q, head);
	cr_assert_eq(hx_kick(&R.h, Q), 0);
	d = done(HX_TIMEOUT_MS);
	cr_assert_eq(d.head, head);
	cr_expect_eq(d.len, 3800, "used len %u, want all 3800 bytes", d.len);
	for (unsigned i = 0; i < 3; i++) {
		uint32_t end = off[i] + len[i], next = i < 2 ? off[i + 1] : 8192;

		cr_expect_not(all_zero(data + off[i], len[i]), "buffer %u not filled", i);
		cr_expect(all_zero(data + end, next - end), "bytes after buffer %u written", i);
	}
	expect_sandboxed();
}

/* (3) A chain with a device-readable descriptor breaks the queue: logged, nothing completed,
 * and the worker stays alive and answers the vhost-user socket. */
Test(rng, readable_descriptor_breaks_queue)
{
	uint16_t head = 3 * HX_SLOT_DESCS;
	uint64_t gpa, feat = 0;
	struct hx_done d;

	start(NULL);
	gpa = hx_slot_data_gpa(&R.h, Q, 3);
	request(0, 64);
	hx_desc(&R.h, Q, head, gpa, 16, VRING_DESC_F_NEXT, (uint16_t)(head + 1));
	hx_desc(&R.h, Q, (uint16_t)(head + 1), gpa + 4096, 64, VRING_DESC_F_WRITE, 0);
	R.h.q[Q].slot_busy[3] = true;
	hx_publish(&R.h, Q, head);
	cr_assert_eq(hx_kick(&R.h, Q), 0);
	cr_expect_eq(hx_wait(&R.h, Q, QUIET_MS, &d), 0, "the bad chain was completed");
	/* a good request after it is not served either: the queue is broken until a reset */
	post(4, 64);
	cr_assert_eq(hx_kick(&R.h, Q), 0);
	cr_expect_eq(hx_wait(&R.h, Q, QUIET_MS, &d), 0, "a broken queue served a request");
	cr_assert_eq(vuf_get_features(&R.h.f, &feat), 0, "GET_FEATURES after the break");
	cr_expect(feat & (1ULL << VIRTIO_F_VERSION_1), "features %#llx", (unsigned long long)feat);
	expect_sandboxed();
	cr_expect(strstr(log_text(), "device-readable"), "the break is not logged:\n%s",
		  log_text());
}

/* (4) --max-bytes=1024 --period=1000: four requests of 4096 bytes get at most 1024 bytes in
 * the first period, more after it (loose timing: what arrived in the first 0.9 s, and the
 * total after 2.5 s). */
Test(rng, rate_limit)
{
	const char *const args[] = { "--max-bytes=1024", "--period=1000", NULL };
	uint64_t t0, first = 0, total = 0, now;
	struct hx_done d;

	start(args);
	for (unsigned s = 0; s < 4; s++)
		post(s, 4096);
	t0 = hx_now_ms();
	cr_assert_eq(hx_kick(&R.h, Q), 0);
	while ((now = hx_now_ms()) < t0 + 2500) {
		int r = hx_wait(&R.h, Q, (int)(t0 + 2500 - now), &d);

		cr_assert_geq(r, 0);
		if (r == 0)
			break;
		cr_expect_leq(d.len, 1024, "one request got %u bytes", d.len);
		if (hx_now_ms() < t0 + 900)
			first += d.len;
		total += d.len;
	}
	cr_expect_gt(first, 0, "nothing in the first period");
	cr_expect_leq(first, 1024, "%llu bytes in the first 0.9 s", (unsigned long long)first);
	cr_expect_gt(total, 1024, "only %llu bytes in 2.5 s", (unsigned long long)total);
	expect_sandboxed();
}

/* --filename=/dev/urandom (started by hand: the worker opens it before its sandbox), over
 * --socket-path. */
Test(rng, filename_and_socket_path)
{
	const char *const args[] = { "--filename=/dev/urandom", "--name=hand", NULL };
	const uint8_t *a;
	int fd, r;

	spawn(args, -1, true);
	fd = hx_worker_connect(&R.w, HX_TIMEOUT_MS);
	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	cr_assert_eq(hx_init(&R.h, 16ULL << 20), 0);
	R.h_ready = true;
	r = hx_attach(&R.h, fd, 1, HX_QSIZE, 0);
	cr_assert_eq(r, 0, "attach: %s", strerror(-r));
	a = request(0, 4096);
	cr_expect_not(all_zero(a, 4096));
	expect_sandboxed();
	cr_expect(strstr(log_text(), "rng/hand: "), "no role in the log:\n%s", log_text());
}

/* Exit status and stderr of a worker that must refuse to start. */
static int refused(const char *const *args, int src)
{
	int st;

	spawn(args, src, false);
	st = hx_worker_wait(&R.w, HX_TIMEOUT_MS);
	cr_assert(st >= 0 && WIFEXITED(st), "the worker did not exit: %#x", st);
	return WEXITSTATUS(st);
}

/* (5) A source that is a regular file is refused at startup, by --filename or as an fd:
 * exit status 1 (the command line was fine; the source is not: the same status as any
 * failed setup, as bulkhead-vsock's directory that is no directory), one clear line. A bad
 * command line exits 2 with a "bulkhead-rng: " line. */
Test(rng, regular_file_refused)
{
	char file[128], opt[160];
	const char *by_name[] = { opt, NULL };
	const char *by_fd[] = { "--source-fd=4", NULL };
	const char *usage[] = { "--source-fd=4", "--max-bytes=2147483649", NULL };
	int fd;

	snprintf(file, sizeof(file), "%s/seed.bin", R.dir);
	snprintf(opt, sizeof(opt), "--filename=%s", file);
	fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "0123456789abcdef", 16), 16);
	cr_expect_eq(refused(by_name, -1), 1);
	cr_expect(strstr(log_text(), "not a character device"), "%s", log_text());
	cr_expect(strstr(log_text(), file), "the message does not name the file:\n%s", log_text());
	cr_expect_eq(refused(by_fd, fd), 1);
	cr_expect(strstr(log_text(), "--source-fd=4: not a character device"), "%s", log_text());
	cr_expect_eq(refused(usage, fd), 2);
	cr_expect(strstr(log_text(), "bulkhead-rng: --max-bytes: want 0..2147483648, got "
			 "'2147483649'\n"), "%s", log_text());
	close(fd);
}

/* CPU time the worker used so far, in clock ticks (utime + stime of /proc/PID/stat). */
static long cpu_ticks(void)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)R.w.pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	p = strrchr(buf, ')');
	cr_assert_not_null(p);
	/* after "pid (comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime */
	cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			    &st), 2);
	return (long)(ut + st);
}

/* A source with nothing to give yet (a raw pty slave: EAGAIN until its master writes): the
 * request waits, with no completion, until bytes come; then a short read is served as it
 * is. */
Test(rng, source_eagain_then_short_read)
{
	struct termios t;
	struct hx_done d;
	uint16_t head;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), s;

	cr_assert_geq(m, 0);
	cr_assert(grantpt(m) == 0 && unlockpt(m) == 0);
	s = open(ptsname(m), O_RDONLY | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(s, 0);
	cr_assert_eq(tcgetattr(s, &t), 0);
	cfmakeraw(&t);
	cr_assert_eq(tcsetattr(s, TCSANOW, &t), 0);
	start_src(s, NULL);
	head = post(0, 64);
	cr_assert_eq(hx_kick(&R.h, Q), 0);
	cr_expect_eq(hx_wait(&R.h, Q, QUIET_MS, &d), 0, "served from an empty source");
	cr_assert_eq(write(m, "0123456789abcdef", 16), 16);
	d = done(HX_TIMEOUT_MS);
	cr_expect_eq(d.head, head);
	cr_expect_eq(d.len, 16, "a short read of 16 bytes served as %u", d.len);
	cr_expect_arr_eq(hx_slot_data(&R.h, Q, 0), "0123456789abcdef", 16);
	expect_sandboxed();
	close(s);
	close(m);
}

/* A source at EOF (/dev/null: a character device, always "readable", never a byte): nothing
 * is served, the worker says so once and retries once a second instead of spinning. */
Test(rng, source_eof_no_spin)
{
	struct hx_done d;
	long before;

	start_src(open("/dev/null", O_RDONLY | O_CLOEXEC), NULL);
	post(0, 64);
	cr_assert_eq(hx_kick(&R.h, Q), 0);
	before = cpu_ticks();
	cr_expect_eq(hx_wait(&R.h, Q, 2500, &d), 0, "served %u bytes from /dev/null", d.len);
	cr_expect_leq(cpu_ticks() - before, 10, "the worker spun: %ld ticks in 2.5 s",
		      cpu_ticks() - before);
	cr_expect(strstr(log_text(), "entropy source: end of file; retrying in 1000 ms"), "%s",
		  log_text());
	expect_sandboxed();
}
