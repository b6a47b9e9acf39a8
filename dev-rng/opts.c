/* bulkhead-rng command line: the vhost-user backend program conventions (--socket-path, --fd,
 * --print-capabilities), the entropy source (an fd from the supervisor, or --filename by
 * hand), and the rate limit (--max-bytes per --period, QEMU's and StratoVirt's virtio-rng
 * properties). Every error is one line for the caller to print; main exits 2 on it. */
#include "rng.h"
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char rng_capabilities[] = "{\"type\": \"rng\"}";

enum {
	OPT_SOCKET = 1000, OPT_FD, OPT_CAPS, OPT_SOURCE_FD, OPT_FILENAME, OPT_MAX_BYTES,
	OPT_PERIOD, OPT_NAME, OPT_NO_SECCOMP, OPT_RUNAS, OPT_VERSION,
};

static const struct option longopts[] = {
	{ "socket-path", required_argument, NULL, OPT_SOCKET },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "print-capabilities", no_argument, NULL, OPT_CAPS },
	{ "source-fd", required_argument, NULL, OPT_SOURCE_FD },
	{ "filename", required_argument, NULL, OPT_FILENAME },
	{ "max-bytes", required_argument, NULL, OPT_MAX_BYTES },
	{ "period", required_argument, NULL, OPT_PERIOD },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "disable-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "runas", required_argument, NULL, OPT_RUNAS },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static int number(const char *opt, const char *arg, unsigned long long min,
		  unsigned long long max, unsigned long long *v, char *err, size_t errlen)
{
	if (!opt_number(arg, min, max, v))
		return opt_fail(err, errlen, "--%s: want %llu..%llu, got '%s'", opt, min, max, arg);
	return 0;
}

static int one(void *ctx, int c, const char *arg, char *err, size_t errlen)
{
	struct rng_opts *o = ctx;
	unsigned long long v;

	switch (c) {
	case OPT_SOCKET:
		return opt_socket_path(arg, &o->socket_path, err, errlen);
	case OPT_FD:
		return opt_fd("fd", arg, &o->fd, err, errlen);
	case OPT_CAPS:
		o->print_caps = true;
		return 0;
	case OPT_SOURCE_FD:
		return opt_fd("source-fd", arg, &o->source_fd, err, errlen);
	case OPT_FILENAME:
		if (!*arg)
			return opt_fail(err, errlen, "--filename: want a path");
		o->filename = arg;
		return 0;
	case OPT_MAX_BYTES:
		if (number("max-bytes", arg, 0, RNG_MAX_BYTES_MAX, &v, err, errlen))
			return -EINVAL;
		o->max_bytes = v;
		return 0;
	case OPT_PERIOD:
		if (number("period", arg, RNG_PERIOD_MIN, RNG_PERIOD_MAX, &v, err, errlen))
			return -EINVAL;
		o->period_ms = (unsigned)v;
		return 0;
	case OPT_NAME:
		return opt_name(arg, RNG_NAME_MAX, o->name, sizeof(o->name), err, errlen);
	case OPT_NO_SECCOMP:
		o->no_seccomp = true;
		return 0;
	case OPT_RUNAS:
		/* numeric: the supervisor resolved the names before spawning us */
		if (sandbox_parse_runas(arg, &o->runas) < 0)
			return opt_fail(err, errlen, "--runas: want UID:GID, got '%s'", arg);
		return 0;
	case OPT_VERSION:
		o->version = true;
		return 0;
	}
	return opt_fail(err, errlen, "internal: option %d", c);
}

/* What must hold once every option is read. */
static int check(const struct rng_opts *o, char *err, size_t errlen)
{
	if (o->print_caps || o->version)
		return 0;
	if (!!o->socket_path == (o->fd >= 0))
		return opt_fail(err, errlen, "exactly one of --socket-path and --fd is required");
	if (!!o->filename == (o->source_fd >= 0))
		return opt_fail(err, errlen, "exactly one of --source-fd and --filename is required");
	if (o->source_fd >= 0 && o->source_fd == o->fd)
		return opt_fail(err, errlen, "descriptor %d is named twice", o->fd);
	return 0;
}

int rng_opts_parse(struct rng_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	int r;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->source_fd = -1;
	o->period_ms = RNG_PERIOD_DEFAULT;
	r = opt_parse(argc, argv, longopts, one, o, err, errlen);
	return r < 0 ? r : check(o, err, errlen);
}
