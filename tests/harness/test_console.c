/* bulkhead-hvc end to end (suite 'console'): the harness is the frontend and the guest's
 * virtio-console driver (port 0: receiveq 0 with device-writable buffers, transmitq 1 with
 * device-readable ones); unix socket clients in a temp directory are the host side. The
 * worker gets its listening socket as the supervisor gives it (bound here, --listen-fd=4) or
 * binds it itself (--chardev-path, by hand). It always runs under its seccomp filter: no test
 * passes --disable-seccomp, and each checks the worker is still alive with Seccomp: 2 and no
 * "seccomp:" line (a missing rule would have killed it with SIGSYS). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "harness.h"

#define RXQ      0u         /* receiveq: device -> guest */
#define TXQ      1u         /* transmitq: guest -> device */
#define QUIET_MS 300

struct rig {
	struct hx h;
	struct hx_worker w;
	char dir[64], log[96], sock[96], con[96];
	bool h_ready;
	unsigned tx_next;       /* next transmitq slot (round robin) */
};

static struct rig R;

static const char *console_bin(void)
{
	const char *b = getenv("BULKHEAD_CONSOLE");

	return b && *b ? b : "build/dev-console/bulkhead-hvc";
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
			fprintf(stderr, "test-console: %s failed\n", cmd);
	}
	R.dir[0] = 0;
}

static void up(void)
{
	memset(&R, 0, sizeof(R));
	R.w.pid = -1;
	R.w.sock = -1;
	snprintf(R.dir, sizeof(R.dir), "/tmp/hx-con-XXXXXX");
	cr_assert_not_null(mkdtemp(R.dir));
	snprintf(R.log, sizeof(R.log), "%s/stderr", R.dir);
	snprintf(R.sock, sizeof(R.sock), "%s/vu.sock", R.dir);
	snprintf(R.con, sizeof(R.con), "%s/console.sock", R.dir);
}

TestSuite(console, .init = up, .fini = down, .timeout = 60);

static char *log_text(void)
{
	static char buf[32768];
	int fd = open(R.log, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Spawn the worker with its stderr in R.log: over a socketpair (--fd=3) unless path_mode
 * (--socket-path), with fd 4 the listener when lfd >= 0. */
static void spawn(const char *const *args, int lfd, bool path_mode)
{
	int logfd = open(R.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int saved = dup(2), r;

	cr_assert(logfd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(logfd, 2);
	r = hx_worker_spawn_fds(&R.w, console_bin(), path_mode ? R.sock : NULL, args,
				lfd >= 0 ? &lfd : NULL, lfd >= 0 ? 1 : 0);
	dup2(saved, 2);
	close(saved);
	close(logfd);
	cr_assert_eq(r, 0, "spawn: %s", strerror(-r));
}

/* A listening unix socket at R.con, as the supervisor binds it. */
static int listener(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(s, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", R.con);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind: %s", strerror(errno));
	cr_assert_eq(listen(s, 8), 0);
	return s;
}

/* The worker with its listener on --listen-fd=4 and extra args, attached with both queues. */
static void start(const char *const *extra)
{
	const char *args[16] = { "--listen-fd=4" };
	unsigned n = 1;
	int lfd = listener(), r;

	for (; extra && *extra && n < 15; extra++)
		args[n++] = *extra;
	spawn(args, lfd, false);
	close(lfd);
	cr_assert_eq(hx_init(&R.h, 16ULL << 20), 0);
	R.h_ready = true;
	r = hx_attach(&R.h, R.w.sock, 2, HX_QSIZE, 0);
	R.w.sock = -1;
	cr_assert_eq(r, 0, "attach: %s; stderr:\n%s", strerror(-r), log_text());
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

/* The worker's stderr has want within timeout_ms. */
static bool log_has(const char *want, int timeout_ms)
{
	uint64_t end = hx_now_ms() + (uint64_t)timeout_ms;

	do {
		if (strstr(log_text(), want))
			return true;
		usleep(10000);
	} while (hx_now_ms() < end);
	return false;
}

/* ---- the guest ------------------------------------------------------------------------------ */

static struct hx_done done(unsigned q, int timeout_ms)
{
	struct hx_done d;
	int r = hx_wait(&R.h, q, timeout_ms, &d);

	cr_assert_eq(r, 1, "no completion on queue %u: %d; worker stderr:\n%s", q, r, log_text());
	cr_assert_not(d.stray, "completion of head %u nobody posted", d.head);
	return d;
}

/* Output: len bytes of data in one transmit chain of nseg readable descriptors (in the next
 * slot), kicked; not waited for. */
static uint16_t tx_post(const void *data, uint32_t len, unsigned nseg)
{
	unsigned s = R.tx_next++ % R.h.q[TXQ].nslots;
	uint16_t head = (uint16_t)(s * HX_SLOT_DESCS);
	uint64_t gpa = hx_slot_data_gpa(&R.h, TXQ, s);
	uint32_t off = 0;

	cr_assert(len <= HX_SLOT_DATA && nseg >= 1 && nseg <= HX_SLOT_DESCS);
	cr_assert_not(R.h.q[TXQ].slot_busy[s], "transmit slot %u still busy", s);
	memcpy(hx_slot_data(&R.h, TXQ, s), data, len);
	for (unsigned i = 0; i < nseg; i++) {
		uint32_t l = i + 1 < nseg ? len / nseg : len - off;

		hx_desc(&R.h, TXQ, (uint16_t)(head + i), gpa + off, l,
			i + 1 < nseg ? VRING_DESC_F_NEXT : 0, (uint16_t)(head + i + 1));
		off += l;
	}
	R.h.q[TXQ].slot_busy[s] = true;
	hx_publish(&R.h, TXQ, head);
	return head;
}

/* Output, kicked and completed. */
static void guest_write(const void *data, uint32_t len, unsigned nseg)
{
	uint16_t head = tx_post(data, len, nseg);
	struct hx_done d;

	cr_assert_eq(hx_kick(&R.h, TXQ), 0);
	d = done(TXQ, HX_TIMEOUT_MS);
	cr_assert_eq(d.head, head);
	cr_expect_eq(d.len, 0, "a transmit buffer reported %u bytes written", d.len);
}

static void guest_puts(const char *s)
{
	guest_write(s, (uint32_t)strlen(s), 1);
}

/* A receive chain in slot s of nseg writable descriptors of lens[i] bytes (at 4 KiB apart in
 * the slot's buffer, which is zeroed); no kick. */
static uint16_t rx_post(unsigned s, const uint32_t *lens, unsigned nseg)
{
	uint16_t head = (uint16_t)(s * HX_SLOT_DESCS);
	uint64_t gpa = hx_slot_data_gpa(&R.h, RXQ, s);

	cr_assert(nseg >= 1 && nseg <= HX_SLOT_DESCS);
	memset(hx_slot_data(&R.h, RXQ, s), 0, HX_SLOT_DATA);
	for (unsigned i = 0; i < nseg; i++)
		hx_desc(&R.h, RXQ, (uint16_t)(head + i), gpa + i * 4096u, lens[i],
			VRING_DESC_F_WRITE | (i + 1 < nseg ? VRING_DESC_F_NEXT : 0),
			(uint16_t)(head + i + 1));
	R.h.q[RXQ].slot_busy[s] = true;
	hx_publish(&R.h, RXQ, head);
	return head;
}

/* ---- clients ---------------------------------------------------------------------------- */

static int client(void)
{
	int fd = hx_unix_connect(R.con, HX_TIMEOUT_MS);

	cr_assert_geq(fd, 0, "connect %s: %s", R.con, strerror(-fd));
	return fd;
}

/* Read exactly n bytes within timeout_ms. */
static void client_read(int fd, void *buf, size_t n, int timeout_ms)
{
	uint64_t end = hx_now_ms() + (uint64_t)timeout_ms;
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = (int64_t)(end - hx_now_ms());
		ssize_t r;

		cr_assert(left > 0 && poll(&p, 1, (int)left) == 1,
			  "%zu of %zu bytes from the console; worker stderr:\n%s", got, n, log_text());
		r = read(fd, (uint8_t *)buf + got, n - got);
		cr_assert_gt(r, 0, "console socket: %s", r < 0 ? strerror(errno) : "end of file");
		got += (size_t)r;
	}
}

static void client_expect(int fd, const char *want)
{
	char buf[256] = { 0 };
	size_t n = strlen(want);

	cr_assert_lt(n, sizeof(buf));
	client_read(fd, buf, n, HX_TIMEOUT_MS);
	cr_expect_str_eq(buf, want);
}

/* Nothing arrives for ms. */
static void client_quiet(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, ms) == 1) {
		ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);

		cr_expect_leq(r, 0, "the client got output it should not have ('%c')", c);
	}
}

static void client_send(int fd, const void *buf, size_t n)
{
	cr_assert_eq(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Wait for the worker to exit after the frontend went (--fd mode), status 0. */
static void detach_and_exit(void)
{
	int st;

	hx_detach(&R.h);
	st = hx_worker_wait(&R.w, HX_TIMEOUT_MS);
	cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x:\n%s", st,
		  log_text());
}

static void pattern(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)((i * 31 + seed * 7 + i / 251) & 0xff);
}

/* ---- the tests ---------------------------------------------------------------------------- */

/* (1) Output before any client is kept, and the first client gets it in order. */
Test(console, output_buffered_until_a_client)
{
	int c;

	start(NULL);
	guest_puts("hello ");
	guest_write("bulkhead\nconsole\n", 17, 3);
	guest_puts("$ ");
	c = client();
	client_expect(c, "hello bulkhead\nconsole\n$ ");
	client_quiet(c, QUIET_MS);
	guest_puts("more\n");
	client_expect(c, "more\n");
	expect_sandboxed();
	close(c);
	detach_and_exit();
	cr_expect(strstr(log_text(), "output 30 bytes"), "statistics:\n%s", log_text());
}

/* (2) With no client, --buffer=4096 keeps the newest 4096 bytes of 10000 (one chain larger
 * than the whole ring among them); the drop is counted when the frontend goes. */
Test(console, no_client_keeps_the_newest)
{
	const char *const args[] = { "--buffer=4096", "--name=c0", NULL };
	static uint8_t out[10000], got[4096];
	int c;

	start(args);
	pattern(out, sizeof(out), 1);
	guest_write(out, 3000, 2);
	guest_write(out + 3000, 5000, 3);
	guest_write(out + 8000, 2000, 1);
	c = client();
	client_read(c, got, sizeof(got), HX_TIMEOUT_MS);
	cr_expect_arr_eq(got, out + sizeof(out) - 4096, 4096, "not the last 4096 bytes");
	client_quiet(c, QUIET_MS);
	expect_sandboxed();
	close(c);
	detach_and_exit();
	cr_expect(strstr(log_text(), "console/c0: "), "no role:\n%s", log_text());
	cr_expect(strstr(log_text(), "dropped 5904 bytes, clients accepted 1"), "%s",
		  log_text());
}

/* (3) Client input lands in the posted receive buffers in order, across chains and their
 * descriptors; with no buffer posted it waits, and arrives once one is. */
Test(console, input_into_receive_buffers)
{
	static const uint32_t a_lens[2] = { 10, 20 }, b_lens[1] = { 50 }, c_lens[1] = { 16 };
	uint8_t in[70];
	struct hx_done d;
	uint16_t ha, hb, hc;
	int c;

	start(NULL);
	pattern(in, sizeof(in), 3);
	ha = rx_post(0, a_lens, 2);
	hb = rx_post(1, b_lens, 1);
	cr_assert_eq(hx_kick(&R.h, RXQ), 0);
	c = client();
	client_send(c, in, sizeof(in));
	d = done(RXQ, HX_TIMEOUT_MS);
	cr_expect_eq(d.head, ha);
	cr_expect_eq(d.len, 30, "first chain: %u bytes of 30", d.len);
	cr_expect_arr_eq(hx_slot_data(&R.h, RXQ, 0), in, 10);
	cr_expect_arr_eq(hx_slot_data(&R.h, RXQ, 0) + 4096, in + 10, 20);
	cr_expect_eq(hx_slot_data(&R.h, RXQ, 0)[10], 0, "past the first descriptor");
	d = done(RXQ, HX_TIMEOUT_MS);
	cr_expect_eq(d.head, hb);
	cr_expect_eq(d.len, 40, "second chain: %u bytes of 40", d.len);
	cr_expect_arr_eq(hx_slot_data(&R.h, RXQ, 1), in + 30, 40);
	cr_expect_eq(hx_slot_data(&R.h, RXQ, 1)[40], 0);
	/* no buffer left: the input waits in the socket */
	client_send(c, "late", 4);
	cr_expect_eq(hx_wait(&R.h, RXQ, QUIET_MS, &d), 0, "a completion with nothing posted");
	hc = rx_post(2, c_lens, 1);
	cr_assert_eq(hx_kick(&R.h, RXQ), 0);
	d = done(RXQ, HX_TIMEOUT_MS);
	cr_expect_eq(d.head, hc);
	cr_expect_eq(d.len, 4);
	cr_expect_arr_eq(hx_slot_data(&R.h, RXQ, 2), "late", 4);
	/* the client is still attached: output reaches it */
	guest_puts("ok\n");
	client_expect(c, "ok\n");
	expect_sandboxed();
	close(c);
	detach_and_exit();
	cr_expect(strstr(log_text(), "input 74 bytes"), "%s", log_text());
}

/* (4) A client leaves, the guest writes on, the next client gets what was written between. */
Test(console, reconnect_gets_what_was_missed)
{
	int c1, c2;

	start(NULL);
	c1 = client();
	guest_puts("one\n");
	client_expect(c1, "one\n");
	close(c1);
	guest_puts("two\n");
	guest_puts("three\n");
	c2 = client();
	client_expect(c2, "two\nthree\n");
	client_quiet(c2, QUIET_MS);
	expect_sandboxed();
	close(c2);
	detach_and_exit();
	cr_expect(strstr(log_text(), "dropped 0 bytes, clients accepted 2"), "%s", log_text());
}

/* (5) One client at a time: a second one waits in the backlog, gets nothing while the first
 * is attached, and is accepted when it leaves. */
Test(console, second_client_waits)
{
	int c1, c2;

	start(NULL);
	c1 = client();
	guest_puts("AAA");
	client_expect(c1, "AAA");
	c2 = client();
	guest_puts("BBB");
	client_expect(c1, "BBB");
	client_quiet(c2, QUIET_MS);
	close(c1);
	guest_puts("CCC");
	client_expect(c2, "CCC");
	client_quiet(c2, QUIET_MS);
	expect_sandboxed();
	close(c2);
}

/* (6) A transmit chain with a device-writable descriptor, and a receive chain with a
 * device-readable one, break their queue: logged, nothing completed, and the worker stays
 * alive and answers the vhost-user socket. The config space reads as 12 zero bytes. */
Test(console, wrong_shape_breaks_queue)
{
	static const uint32_t lens[1] = { 64 };
	uint8_t cfg[12];
	uint64_t gpa, feat = 0;
	struct hx_done d;
	uint16_t head;
	int c;

	start(NULL);
	guest_puts("fine\n");
	/* transmitq: readable then writable */
	head = 5 * HX_SLOT_DESCS;
	gpa = hx_slot_data_gpa(&R.h, TXQ, 5);
	hx_desc(&R.h, TXQ, head, gpa, 16, VRING_DESC_F_NEXT, (uint16_t)(head + 1));
	hx_desc(&R.h, TXQ, (uint16_t)(head + 1), gpa + 4096, 16, VRING_DESC_F_WRITE, 0);
	R.h.q[TXQ].slot_busy[5] = true;
	hx_publish(&R.h, TXQ, head);
	cr_assert_eq(hx_kick(&R.h, TXQ), 0);
	cr_expect_eq(hx_wait(&R.h, TXQ, QUIET_MS, &d), 0, "the bad chain was completed");
	R.tx_next = 6;
	tx_post("lost", 4, 1);
	cr_assert_eq(hx_kick(&R.h, TXQ), 0);
	cr_expect_eq(hx_wait(&R.h, TXQ, QUIET_MS, &d), 0, "a broken transmitq was served");
	cr_expect(log_has("transmitq: a chain of 1 device-readable and 1 device-writable", 1000),
		  "%s", log_text());
	/* receiveq: a readable descriptor, with input waiting for it */
	c = client();
	client_expect(c, "fine\n");
	client_send(c, "x", 1);
	head = 0;
	gpa = hx_slot_data_gpa(&R.h, RXQ, 0);
	hx_desc(&R.h, RXQ, head, gpa, 16, VRING_DESC_F_NEXT, 1);
	hx_desc(&R.h, RXQ, 1, gpa + 4096, 64, VRING_DESC_F_WRITE, 0);
	R.h.q[RXQ].slot_busy[0] = true;
	hx_publish(&R.h, RXQ, head);
	cr_assert_eq(hx_kick(&R.h, RXQ), 0);
	cr_expect_eq(hx_wait(&R.h, RXQ, QUIET_MS, &d), 0, "the bad chain was completed");
	rx_post(1, lens, 1);
	cr_assert_eq(hx_kick(&R.h, RXQ), 0);
	cr_expect_eq(hx_wait(&R.h, RXQ, QUIET_MS, &d), 0, "a broken receiveq was served");
	cr_expect(log_has("receiveq: a chain of 1 device-readable and 1 device-writable", 1000),
		  "%s", log_text());
	cr_assert_eq(vuf_get_features(&R.h.f, &feat), 0, "GET_FEATURES after the breaks");
	cr_expect(feat & (1ULL << VIRTIO_F_VERSION_1), "features %#llx", (unsigned long long)feat);
	cr_expect_not(feat & 0x7, "console feature bits offered: %#llx", (unsigned long long)feat);
	memset(cfg, 0xee, sizeof(cfg));
	cr_assert_eq(vuf_get_config(&R.h.f, 0, cfg, sizeof(cfg)), 0, "GET_CONFIG");
	for (unsigned i = 0; i < sizeof(cfg); i++)
		cr_expect_eq(cfg[i], 0, "config byte %u is %#x", i, cfg[i]);
	expect_sandboxed();
	close(c);
	detach_and_exit();
	cr_expect(strstr(log_text(), "bad chains 2"), "%s", log_text());
}

/* (7) A client that does not read, with the ring full, stops the transmitq: chains stay with
 * the guest. Once it reads, everything arrives in order, nothing dropped, every chain done. */
Test(console, slow_client_backpressure)
{
	const char *const args[] = { "--buffer=4096", NULL };
	enum { N = 40, LEN = 32768 };
	static uint8_t out[N * LEN], got[N * LEN];
	unsigned completed = 0;
	size_t have = 0;
	uint64_t end;
	struct hx_done d;
	int c;

	start(args);
	c = client();
	guest_puts("ready");
	client_expect(c, "ready");
	pattern(out, sizeof(out), 7);
	for (unsigned i = 0; i < N; i++)
		tx_post(out + (size_t)i * LEN, LEN, 1 + i % 3);
	cr_assert_eq(hx_kick(&R.h, TXQ), 0);
	while (hx_wait(&R.h, TXQ, QUIET_MS, &d) == 1)
		completed++;
	cr_expect_lt(completed, N, "all %u chains popped for a client that reads nothing", N);
	cr_expect_gt(completed, 0, "nothing popped at all");
	/* stalled: nothing moves while the client does not read */
	cr_expect_eq(hx_wait(&R.h, TXQ, QUIET_MS, &d), 0, "the transmitq moved on");
	expect_sandboxed();
	end = hx_now_ms() + 20000;
	while ((have < sizeof(got) || completed < N) && hx_now_ms() < end) {
		struct pollfd p = { .fd = c, .events = POLLIN };

		if (poll(&p, 1, 10) == 1) {
			ssize_t r = read(c, got + have, sizeof(got) - have);

			cr_assert_gt(r, 0);
			have += (size_t)r;
		}
		while (hx_wait(&R.h, TXQ, 0, &d) == 1)
			completed++;
	}
	cr_expect_eq(completed, N, "%u of %u chains completed", completed, N);
	cr_assert_eq(have, sizeof(got), "%zu of %zu bytes read", have, sizeof(got));
	cr_expect_arr_eq(got, out, sizeof(out), "output reordered or lost");
	client_quiet(c, QUIET_MS);
	expect_sandboxed();
	close(c);
	detach_and_exit();
	cr_expect(strstr(log_text(), "dropped 0 bytes"), "%s", log_text());
}

/* (8) By hand: --chardev-path binds the socket itself (replacing a stale socket there), over
 * --socket-path. */
Test(console, chardev_path_by_hand)
{
	char opt[160];
	const char *const args[] = { opt, "--name=hand", NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int stale, fd, c, r;

	/* a stale socket: bound, then its owner gone */
	stale = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", R.con);
	cr_assert_eq(bind(stale, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(stale);
	snprintf(opt, sizeof(opt), "--chardev-path=%s", R.con);
	spawn(args, -1, true);
	fd = hx_worker_connect(&R.w, HX_TIMEOUT_MS);
	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	cr_assert_eq(hx_init(&R.h, 16ULL << 20), 0);
	R.h_ready = true;
	r = hx_attach(&R.h, fd, 2, HX_QSIZE, 0);
	cr_assert_eq(r, 0, "attach: %s", strerror(-r));
	guest_puts("by hand\n");
	c = client();
	client_expect(c, "by hand\n");
	expect_sandboxed();
	cr_expect(strstr(log_text(), "console/hand: "), "no role in the log:\n%s", log_text());
	close(c);
}

/* Exit status of a worker that must refuse to start. */
static int refused(const char *const *args, int lfd)
{
	int st;

	spawn(args, lfd, false);
	st = hx_worker_wait(&R.w, HX_TIMEOUT_MS);
	cr_assert(st >= 0 && WIFEXITED(st), "the worker did not exit: %#x", st);
	return WEXITSTATUS(st);
}

/* (8) A regular file at --chardev-path is refused and left alone (status 1, one clear line);
 * so is a --listen-fd that is no listening socket; a bad command line exits 2. */
Test(console, refusals)
{
	char opt[160];
	const char *by_path[] = { opt, NULL };
	const char *by_fd[] = { "--listen-fd=4", NULL };
	const char *usage[] = { "--listen-fd=4", "--buffer=4095", NULL };
	char buf[8] = { 0 };
	int fd;

	fd = open(R.con, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "keep", 4), 4);
	snprintf(opt, sizeof(opt), "--chardev-path=%s", R.con);
	cr_expect_eq(refused(by_path, -1), 1);
	cr_expect(strstr(log_text(), "exists and is not a socket"), "%s", log_text());
	cr_expect(strstr(log_text(), R.con), "the message does not name the path:\n%s",
		  log_text());
	cr_expect_eq(pread(fd, buf, 4, 0), 4, "the file is gone");
	cr_expect_str_eq(buf, "keep");
	cr_expect_eq(refused(by_fd, fd), 1);
	cr_expect(strstr(log_text(), "--listen-fd=4: not a listening unix stream socket"), "%s",
		  log_text());
	cr_expect_eq(refused(usage, fd), 2);
	cr_expect(strstr(log_text(), "bulkhead-hvc: --buffer: want 4096..16777216, got "
			 "'4095'\n"), "%s", log_text());
	close(fd);
}
