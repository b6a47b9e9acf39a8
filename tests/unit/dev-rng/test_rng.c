/* bulkhead-rng's command line (dev-rng/opts.c): the defaults, the vhost-user socket and the
 * entropy source (exactly one of each), the rate limit's bounds, and the exact one-line
 * message of every refusal (main prints it after "bulkhead-rng: " and exits 2). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "rng.h"

static char err[256];
static struct rng_opts o;

static int parse(const char *a, const char *b, const char *c, const char *d)
{
	char *argv[] = { "bulkhead-rng", (char *)a, (char *)b, (char *)c, (char *)d, NULL };
	int argc = 1;

	err[0] = '\0';
	while (argv[argc])
		argc++;
	return rng_opts_parse(&o, argc, argv, err, sizeof(err));
}

/* The options must be refused with exactly this line. */
static void refused(const char *want, const char *a, const char *b, const char *c,
		    const char *d)
{
	cr_assert_eq(parse(a, b, c, d), -EINVAL, "accepted; want '%s'", want);
	cr_expect_str_eq(err, want);
}

Test(rng, defaults)
{
	cr_assert_eq(parse("--fd=3", "--source-fd=4", NULL, NULL), 0, "%s", err);
	cr_expect_eq(o.fd, 3);
	cr_expect_eq(o.source_fd, 4);
	cr_expect_null(o.filename);
	cr_expect_null(o.socket_path);
	cr_expect_eq(o.max_bytes, 0, "no limit by default");
	cr_expect_eq(o.period_ms, RNG_PERIOD_DEFAULT);
	cr_expect_eq(o.period_ms, 1000);
	cr_expect_str_eq(o.name, "");
	cr_expect_not(o.no_seccomp);
	cr_expect_not(o.runas.runas);
}

Test(rng, every_option)
{
	cr_assert_eq(parse("--socket-path=/tmp/rng.sock", "--filename=/dev/urandom",
			   "--max-bytes=1024", "--period=250"), 0, "%s", err);
	cr_expect_str_eq(o.socket_path, "/tmp/rng.sock");
	cr_expect_str_eq(o.filename, "/dev/urandom");
	cr_expect_eq(o.source_fd, -1);
	cr_expect_eq(o.max_bytes, 1024);
	cr_expect_eq(o.period_ms, 250);
	cr_assert_eq(parse("--fd=3", "--source-fd=4", "--name=rng0", "--disable-seccomp"), 0,
		     "%s", err);
	cr_expect_str_eq(o.name, "rng0");
	cr_expect(o.no_seccomp);
	cr_assert_eq(parse("--fd=3", "--source-fd=4", "--runas=65534:65533", NULL), 0, "%s", err);
	cr_expect(o.runas.runas && o.runas.uid == 65534 && o.runas.gid == 65533);
	cr_assert_eq(parse("--print-capabilities", NULL, NULL, NULL), 0, "%s", err);
	cr_expect(o.print_caps);
	cr_expect_str_eq(rng_capabilities, "{\"type\": \"rng\"}");
	cr_assert_eq(parse("--version", NULL, NULL, NULL), 0, "%s", err);
	cr_expect(o.version);
}

/* The edges are accepted: max-bytes 0 (no limit) and 2^31, period 1 and 1000000. */
Test(rng, limits_at_the_edges)
{
	cr_assert_eq(parse("--fd=3", "--source-fd=4", "--max-bytes=0", "--period=1"), 0, "%s",
		     err);
	cr_expect_eq(o.max_bytes, 0);
	cr_expect_eq(o.period_ms, 1);
	cr_assert_eq(parse("--fd=3", "--source-fd=4", "--max-bytes=2147483648",
			   "--period=1000000"), 0, "%s", err);
	cr_expect_eq(o.max_bytes, RNG_MAX_BYTES_MAX);
	cr_expect_eq(o.period_ms, 1000000);
}

Test(rng, limit_errors)
{
	refused("--max-bytes: want 0..2147483648, got '2147483649'",
		"--fd=3", "--source-fd=4", "--max-bytes=2147483649", NULL);
	refused("--max-bytes: want 0..2147483648, got '99999999999999999999999'",
		"--fd=3", "--source-fd=4", "--max-bytes=99999999999999999999999", NULL);
	refused("--max-bytes: want 0..2147483648, got '-1'",
		"--fd=3", "--source-fd=4", "--max-bytes=-1", NULL);
	refused("--max-bytes: want 0..2147483648, got '1k'",
		"--fd=3", "--source-fd=4", "--max-bytes=1k", NULL);
	refused("--max-bytes: want 0..2147483648, got ''",
		"--fd=3", "--source-fd=4", "--max-bytes=", NULL);
	refused("--period: want 1..1000000, got '0'",
		"--fd=3", "--source-fd=4", "--period=0", NULL);
	refused("--period: want 1..1000000, got '1000001'",
		"--fd=3", "--source-fd=4", "--period=1000001", NULL);
	refused("--period: want 1..1000000, got '+5'",
		"--fd=3", "--source-fd=4", "--period=+5", NULL);
}

Test(rng, socket_and_source_errors)
{
	refused("exactly one of --socket-path and --fd is required",
		"--source-fd=4", NULL, NULL, NULL);
	refused("exactly one of --socket-path and --fd is required",
		"--fd=3", "--socket-path=/tmp/r.sock", "--source-fd=4", NULL);
	refused("exactly one of --source-fd and --filename is required",
		"--fd=3", NULL, NULL, NULL);
	refused("exactly one of --source-fd and --filename is required",
		"--fd=3", "--source-fd=4", "--filename=/dev/urandom", NULL);
	refused("descriptor 3 is named twice", "--fd=3", "--source-fd=3", NULL, NULL);
	refused("--fd: not a file descriptor: 'x'", "--fd=x", "--source-fd=4", NULL, NULL);
	refused("--source-fd: not a file descriptor: '-1'", "--fd=3", "--source-fd=-1", NULL,
		NULL);
	refused("--filename: want a path", "--fd=3", "--filename=", NULL, NULL);
	refused("--socket-path: want 1..107 bytes", "--socket-path=", "--source-fd=4", NULL, NULL);
}

Test(rng, other_errors)
{
	refused("--name: want 1..24 characters without spaces or '/'",
		"--fd=3", "--source-fd=4", "--name=a/b", NULL);
	refused("--name: want 1..24 characters without spaces or '/'",
		"--fd=3", "--source-fd=4", "--name=0123456789012345678901234", NULL);
	refused("--runas: want UID:GID, got 'nobody'",
		"--fd=3", "--source-fd=4", "--runas=nobody", NULL);
	refused("unknown or ambiguous option: --guest-cid=3",
		"--fd=3", "--source-fd=4", "--guest-cid=3", NULL);
	refused("unexpected argument: stray", "--fd=3", "--source-fd=4", "stray", NULL);
}
