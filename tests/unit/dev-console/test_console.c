/* bulkhead-hvc's command line (dev-console/opts.c): the defaults, the vhost-user socket
 * and the host socket (exactly one of each), the buffer's bounds, and the exact one-line
 * message of every refusal (main prints it after "bulkhead-hvc: " and exits 2); and the
 * output ring (dev-console/buf.c): what fits, what is dropped, wrap-around. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "console.h"

static char err[256];
static struct con_opts o;

static int parse(const char *a, const char *b, const char *c, const char *d)
{
	char *argv[] = { "bulkhead-hvc", (char *)a, (char *)b, (char *)c, (char *)d, NULL };
	int argc = 1;

	err[0] = '\0';
	while (argv[argc])
		argc++;
	return con_opts_parse(&o, argc, argv, err, sizeof(err));
}

/* The options must be refused with exactly this line. */
static void refused(const char *want, const char *a, const char *b, const char *c,
		    const char *d)
{
	cr_assert_eq(parse(a, b, c, d), -EINVAL, "accepted; want '%s'", want);
	cr_expect_str_eq(err, want);
}

Test(console_opts, defaults)
{
	cr_assert_eq(parse("--fd=3", "--listen-fd=4", NULL, NULL), 0, "%s", err);
	cr_expect_eq(o.fd, 3);
	cr_expect_eq(o.listen_fd, 4);
	cr_expect_null(o.chardev_path);
	cr_expect_null(o.socket_path);
	cr_expect_eq(o.buffer, CON_BUFFER_DEFAULT);
	cr_expect_eq(o.buffer, 65536);
	cr_expect_str_eq(o.name, "");
	cr_expect_not(o.no_seccomp);
	cr_expect_not(o.runas.runas);
	cr_expect_not(o.print_caps);
	cr_expect_not(o.version);
}

Test(console_opts, every_option)
{
	cr_assert_eq(parse("--socket-path=/tmp/vu.sock", "--chardev-path=/tmp/con.sock",
			   "--buffer=8192", "--name=con0"), 0, "%s", err);
	cr_expect_str_eq(o.socket_path, "/tmp/vu.sock");
	cr_expect_str_eq(o.chardev_path, "/tmp/con.sock");
	cr_expect_eq(o.listen_fd, -1);
	cr_expect_eq(o.fd, -1);
	cr_expect_eq(o.buffer, 8192);
	cr_expect_str_eq(o.name, "con0");
	cr_assert_eq(parse("--fd=3", "--listen-fd=4", "--disable-seccomp",
			   "--runas=65534:65533"), 0, "%s", err);
	cr_expect(o.no_seccomp);
	cr_expect(o.runas.runas && o.runas.uid == 65534 && o.runas.gid == 65533);
	cr_assert_eq(parse("--print-capabilities", NULL, NULL, NULL), 0, "%s", err);
	cr_expect(o.print_caps);
	cr_expect_str_eq(con_capabilities, "{\"type\": \"console\"}");
	cr_assert_eq(parse("--version", NULL, NULL, NULL), 0, "%s", err);
	cr_expect(o.version);
}

/* The edges are accepted: 4096 and 16777216 bytes. */
Test(console_opts, limits_at_the_edges)
{
	cr_assert_eq(parse("--fd=3", "--listen-fd=4", "--buffer=4096", NULL), 0, "%s", err);
	cr_expect_eq(o.buffer, CON_BUFFER_MIN);
	cr_assert_eq(parse("--fd=3", "--listen-fd=4", "--buffer=16777216", NULL), 0, "%s", err);
	cr_expect_eq(o.buffer, CON_BUFFER_MAX);
}

Test(console_opts, limit_errors)
{
	refused("--buffer: want 4096..16777216, got '4095'",
		"--fd=3", "--listen-fd=4", "--buffer=4095", NULL);
	refused("--buffer: want 4096..16777216, got '16777217'",
		"--fd=3", "--listen-fd=4", "--buffer=16777217", NULL);
	refused("--buffer: want 4096..16777216, got '0'",
		"--fd=3", "--listen-fd=4", "--buffer=0", NULL);
	refused("--buffer: want 4096..16777216, got '-65536'",
		"--fd=3", "--listen-fd=4", "--buffer=-65536", NULL);
	refused("--buffer: want 4096..16777216, got '+65536'",
		"--fd=3", "--listen-fd=4", "--buffer=+65536", NULL);
	refused("--buffer: want 4096..16777216, got '64k'",
		"--fd=3", "--listen-fd=4", "--buffer=64k", NULL);
	refused("--buffer: want 4096..16777216, got ''",
		"--fd=3", "--listen-fd=4", "--buffer=", NULL);
	refused("--buffer: want 4096..16777216, got '99999999999999999999999'",
		"--fd=3", "--listen-fd=4", "--buffer=99999999999999999999999", NULL);
	refused("--socket-path: want 1..107 bytes", "--socket-path=", "--listen-fd=4", NULL, NULL);
	refused("--socket-path: want 1..107 bytes",
		"--socket-path=/tmp/0123456789012345678901234567890123456789012345678901234567890"
		"12345678901234567890123456789012345678901234567890", "--listen-fd=4", NULL, NULL);
	refused("--chardev-path: want 1..107 bytes", "--fd=3", "--chardev-path=", NULL, NULL);
	refused("--chardev-path: want 1..107 bytes", "--fd=3",
		"--chardev-path=/tmp/0123456789012345678901234567890123456789012345678901234567890"
		"12345678901234567890123456789012345678901234567890", NULL, NULL);
	refused("--name: want 1..24 characters without spaces or '/'",
		"--fd=3", "--listen-fd=4", "--name=0123456789012345678901234", NULL);
	refused("--name: want 1..24 characters without spaces or '/'",
		"--fd=3", "--listen-fd=4", "--name=", NULL);
}

Test(console_opts, socket_errors)
{
	refused("exactly one of --socket-path and --fd is required",
		"--listen-fd=4", NULL, NULL, NULL);
	refused("exactly one of --socket-path and --fd is required",
		"--fd=3", "--socket-path=/tmp/v.sock", "--listen-fd=4", NULL);
	refused("exactly one of --listen-fd and --chardev-path is required",
		"--fd=3", NULL, NULL, NULL);
	refused("exactly one of --listen-fd and --chardev-path is required",
		"--fd=3", "--listen-fd=4", "--chardev-path=/tmp/c.sock", NULL);
	refused("descriptor 3 is named twice", "--fd=3", "--listen-fd=3", NULL, NULL);
	refused("--chardev-path and --socket-path name the same path",
		"--socket-path=/tmp/x.sock", "--chardev-path=/tmp/x.sock", NULL, NULL);
	refused("--fd: not a file descriptor: 'x'", "--fd=x", "--listen-fd=4", NULL, NULL);
	refused("--listen-fd: not a file descriptor: '-1'", "--fd=3", "--listen-fd=-1", NULL,
		NULL);
	refused("--listen-fd: not a file descriptor: '2147483648'", "--fd=3",
		"--listen-fd=2147483648", NULL, NULL);
}

Test(console_opts, other_errors)
{
	refused("--name: want 1..24 characters without spaces or '/'",
		"--fd=3", "--listen-fd=4", "--name=a/b", NULL);
	refused("--runas: want UID:GID, got 'nobody'",
		"--fd=3", "--listen-fd=4", "--runas=nobody", NULL);
	refused("unknown or ambiguous option: --source-fd=5",
		"--fd=3", "--listen-fd=4", "--source-fd=5", NULL);
	refused("bad option or missing argument: --buffer", "--fd=3", "--listen-fd=4", "--buffer",
		NULL);
	refused("unexpected argument: stray", "--fd=3", "--listen-fd=4", "stray", NULL);
}

/* ---- the ring ------------------------------------------------------------------------------ */

static struct con_buf b;

static void ring_fini(void)
{
	con_buf_exit(&b);
}

TestSuite(console_buf, .fini = ring_fini);

/* The ring's bytes, oldest first, into out; returns how many. */
static size_t contents(uint8_t *out)
{
	struct iovec v[2];
	unsigned n = con_buf_iov(&b, v);
	size_t len = 0;

	for (unsigned i = 0; i < n; i++) {
		memcpy(out + len, v[i].iov_base, v[i].iov_len);
		len += v[i].iov_len;
	}
	cr_expect_eq(len, b.len);
	return len;
}

Test(console_buf, put_what_fits_and_wrap)
{
	uint8_t src[6000], got[8192];

	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 1);
	cr_assert_eq(con_buf_init(&b, 4096), 0);
	cr_expect_eq(con_buf_put(&b, src, 3000), 3000);
	cr_expect_eq(con_buf_put(&b, src + 3000, 3000), 1096, "only the room is taken");
	cr_expect_eq(con_buf_room(&b), 0);
	cr_expect_eq(con_buf_put(&b, src, 1), 0);
	con_buf_drop(&b, 2000);
	cr_expect_eq(con_buf_put(&b, src + 4096, 1500), 1500);
	/* now wrapped: 2096 bytes at the end, then 1500 at the start */
	cr_assert_eq(contents(got), 3596);
	cr_expect_arr_eq(got, src + 2000, 3596);
}

Test(console_buf, put_over_drops_the_oldest)
{
	uint8_t src[10000], got[8192];

	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 13 + 5);
	cr_assert_eq(con_buf_init(&b, 4096), 0);
	cr_expect_eq(con_buf_put_over(&b, src, 3000), 0);
	cr_expect_eq(con_buf_put_over(&b, src + 3000, 2000), 904);
	cr_assert_eq(contents(got), 4096);
	cr_expect_arr_eq(got, src + 904, 4096);
	/* more than the whole ring at once: only its last 4096 bytes stay */
	cr_expect_eq(con_buf_put_over(&b, src, 10000), 4096 + 10000 - 4096);
	cr_assert_eq(contents(got), 4096);
	cr_expect_arr_eq(got, src + 10000 - 4096, 4096);
	con_buf_drop(&b, 4096);
	cr_expect_eq(b.len, 0);
	cr_expect_eq(con_buf_iov(&b, (struct iovec[2]){ { 0 } }), 0);
}
