/* bulkhead-blk command line: the vhost-user backend program conventions (--socket-path,
 * --fd, --print-capabilities, --blk-file, --read-only) and bulkhead's extensions. Every
 * error is one line for the caller to print; main exits 2 on it. */
#include "blk.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

const char blk_capabilities[] = "{\"type\": \"block\", \"features\": [\"read-only\", \"blk-file\"]}";

enum {
	OPT_SOCKET = 1000, OPT_FD, OPT_CAPS, OPT_FILE, OPT_BLKFD, OPT_RO, OPT_DIRECT,
	OPT_SERIAL, OPT_IOPS, OPT_QUEUES, OPT_NAME, OPT_NO_SECCOMP, OPT_RUNAS,
};

static const struct option longopts[] = {
	{ "socket-path", required_argument, NULL, OPT_SOCKET },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "print-capabilities", no_argument, NULL, OPT_CAPS },
	{ "blk-file", required_argument, NULL, OPT_FILE },
	{ "blk-fd", required_argument, NULL, OPT_BLKFD },
	{ "read-only", no_argument, NULL, OPT_RO },
	{ "direct", no_argument, NULL, OPT_DIRECT },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "iops", required_argument, NULL, OPT_IOPS },
	{ "num-queues", required_argument, NULL, OPT_QUEUES },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "disable-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "runas", required_argument, NULL, OPT_RUNAS },
	{ NULL, 0, NULL, 0 },
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Decimal only, no sign, no trailing text, within [min, max]. */
static bool number(const char *s, unsigned long long min, unsigned long long max,
		   unsigned long long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && !*end && *v >= min && *v <= max;
}

/* --runas=UID:GID, numeric: the supervisor resolved the names before spawning us. */
static int runas(struct blk_opts *o, const char *arg, char *err, size_t errlen)
{
	const char *colon = strchr(arg, ':');
	unsigned long long u, g;
	char uid[16];

	if (!colon || colon - arg >= (long)sizeof(uid))
		return fail(err, errlen, "--runas: want UID:GID, got '%s'", arg);
	memcpy(uid, arg, (size_t)(colon - arg));
	uid[colon - arg] = '\0';
	if (!number(uid, 0, UINT32_MAX - 1, &u) || !number(colon + 1, 0, UINT32_MAX - 1, &g))
		return fail(err, errlen, "--runas: want UID:GID, got '%s'", arg);
	o->runas = true;
	o->runas_uid = (uint32_t)u;
	o->runas_gid = (uint32_t)g;
	return 0;
}

static int one(struct blk_opts *o, int c, const char *arg, char *err, size_t errlen)
{
	unsigned long long v;

	switch (c) {
	case OPT_SOCKET:
		if (!*arg || strlen(arg) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return fail(err, errlen, "--socket-path: want 1..%zu bytes",
				    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		o->socket_path = arg;
		return 0;
	case OPT_FD:
	case OPT_BLKFD:
		if (!number(arg, 0, INT_MAX, &v))
			return fail(err, errlen, "--%s: not a file descriptor: '%s'",
				    c == OPT_FD ? "fd" : "blk-fd", arg);
		*(c == OPT_FD ? &o->fd : &o->blk_fd) = (int)v;
		return 0;
	case OPT_CAPS:
		o->print_caps = true;
		return 0;
	case OPT_FILE:
		if (!*arg)
			return fail(err, errlen, "--blk-file: empty path");
		o->blk_file = arg;
		return 0;
	case OPT_RO:
		o->read_only = true;
		return 0;
	case OPT_DIRECT:
		o->direct = true;
		return 0;
	case OPT_SERIAL:
		if (strlen(arg) > BLK_SERIAL_MAX)
			return fail(err, errlen, "--serial: longer than %u bytes", BLK_SERIAL_MAX);
		snprintf(o->serial, sizeof(o->serial), "%s", arg);
		return 0;
	case OPT_IOPS:
		if (!number(arg, 0, BLK_IOPS_MAX, &v))
			return fail(err, errlen, "--iops: want 0..%u, got '%s'", BLK_IOPS_MAX, arg);
		o->iops = v;
		return 0;
	case OPT_QUEUES:
		if (!number(arg, 1, VU_MAX_QUEUES, &v))
			return fail(err, errlen, "--num-queues: want 1..%u, got '%s'",
				    VU_MAX_QUEUES, arg);
		o->num_queues = v;
		return 0;
	case OPT_NAME:
		if (!*arg || strlen(arg) > BLK_NAME_MAX || strpbrk(arg, " \t\n/"))
			return fail(err, errlen, "--name: want 1..%u characters without spaces or '/'",
				    BLK_NAME_MAX);
		snprintf(o->name, sizeof(o->name), "%s", arg);
		return 0;
	case OPT_NO_SECCOMP:
		o->no_seccomp = true;
		return 0;
	case OPT_RUNAS:
		return runas(o, arg, err, errlen);
	}
	return fail(err, errlen, "internal: option %d", c);
}

/* What must hold once every option is read. */
static int check(const struct blk_opts *o, char *err, size_t errlen)
{
	if (o->print_caps)
		return 0;
	if (!!o->socket_path == (o->fd >= 0))
		return fail(err, errlen, "exactly one of --socket-path and --fd is required");
	if (!!o->blk_file == (o->blk_fd >= 0))
		return fail(err, errlen, "exactly one of --blk-file and --blk-fd is required");
	if (o->fd >= 0 && o->fd == o->blk_fd)
		return fail(err, errlen, "--fd and --blk-fd name the same descriptor");
	return 0;
}

int blk_opts_parse(struct blk_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	int c, r;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->blk_fd = -1;
	o->num_queues = 1;
	optind = 0;         /* 0: full reinitialisation, so tests can parse repeatedly */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1];

			if (optopt)
				return fail(err, errlen, "bad option or missing argument: %s", bad);
			return fail(err, errlen, "unknown or ambiguous option: %s", bad);
		}
		r = one(o, c, optarg, err, errlen);
		if (r < 0)
			return r;
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument: %s", argv[optind]);
	return check(o, err, errlen);
}
