/* bulkhead-blk command line: the vhost-user backend program conventions (--socket-path,
 * --fd, --print-capabilities, --blk-file, --read-only) and bulkhead's extensions. Every
 * error is one line for the caller to print; main exits 2 on it. */
#include "blk.h"
#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

const char blk_capabilities[] = "{\"type\": \"block\", \"features\": [\"read-only\", \"blk-file\"]}";

enum {
	OPT_SOCKET = 1000, OPT_FD, OPT_CAPS, OPT_FILE, OPT_BLKFD, OPT_RO, OPT_DIRECT,
	OPT_SERIAL, OPT_IOPS, OPT_QUEUES, OPT_POLL_US, OPT_NAME, OPT_NO_SECCOMP, OPT_RUNAS,
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
	{ "poll-us", required_argument, NULL, OPT_POLL_US },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "disable-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "runas", required_argument, NULL, OPT_RUNAS },
	{ NULL, 0, NULL, 0 },
};

/* --runas=UID:GID, numeric: the supervisor resolved the names before spawning us. */
static int runas(struct blk_opts *o, const char *arg, char *err, size_t errlen)
{
	const char *colon = strchr(arg, ':');
	unsigned long long u, g;
	char uid[16];

	if (!colon || colon - arg >= (long)sizeof(uid))
		return opt_fail(err, errlen, "--runas: want UID:GID, got '%s'", arg);
	memcpy(uid, arg, (size_t)(colon - arg));
	uid[colon - arg] = '\0';
	if (!opt_number(uid, 0, UINT32_MAX - 1, &u) || !opt_number(colon + 1, 0, UINT32_MAX - 1, &g))
		return opt_fail(err, errlen, "--runas: want UID:GID, got '%s'", arg);
	o->runas = true;
	o->runas_uid = (uint32_t)u;
	o->runas_gid = (uint32_t)g;
	return 0;
}

static int one(void *ctx, int c, const char *arg, char *err, size_t errlen)
{
	struct blk_opts *o = ctx;
	unsigned long long v;

	switch (c) {
	case OPT_SOCKET:
		return opt_socket_path(arg, &o->socket_path, err, errlen);
	case OPT_FD:
		return opt_fd("fd", arg, &o->fd, err, errlen);
	case OPT_BLKFD:
		return opt_fd("blk-fd", arg, &o->blk_fd, err, errlen);
	case OPT_CAPS:
		o->print_caps = true;
		return 0;
	case OPT_FILE:
		if (!*arg)
			return opt_fail(err, errlen, "--blk-file: empty path");
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
			return opt_fail(err, errlen, "--serial: longer than %u bytes", BLK_SERIAL_MAX);
		snprintf(o->serial, sizeof(o->serial), "%s", arg);
		return 0;
	case OPT_IOPS:
		if (!opt_number(arg, 0, BLK_IOPS_MAX, &v))
			return opt_fail(err, errlen, "--iops: want 0..%u, got '%s'", BLK_IOPS_MAX, arg);
		o->iops = v;
		return 0;
	case OPT_QUEUES:
		if (!opt_number(arg, 1, BLK_MAX_QUEUES, &v))
			return opt_fail(err, errlen, "--num-queues: want 1..%u, got '%s'",
				    BLK_MAX_QUEUES, arg);
		o->num_queues = v;
		return 0;
	case OPT_POLL_US:
		if (!opt_number(arg, 0, BLK_POLL_US_MAX, &v))
			return opt_fail(err, errlen, "--poll-us: want 0..%u, got '%s'",
				    BLK_POLL_US_MAX, arg);
		o->poll_us = v;
		return 0;
	case OPT_NAME:
		return opt_name(arg, BLK_NAME_MAX, o->name, sizeof(o->name), err, errlen);
	case OPT_NO_SECCOMP:
		o->no_seccomp = true;
		return 0;
	case OPT_RUNAS:
		return runas(o, arg, err, errlen);
	}
	return opt_fail(err, errlen, "internal: option %d", c);
}

/* What must hold once every option is read. */
static int check(const struct blk_opts *o, char *err, size_t errlen)
{
	if (o->print_caps)
		return 0;
	if (!!o->socket_path == (o->fd >= 0))
		return opt_fail(err, errlen, "exactly one of --socket-path and --fd is required");
	if (!!o->blk_file == (o->blk_fd >= 0))
		return opt_fail(err, errlen, "exactly one of --blk-file and --blk-fd is required");
	if (o->fd >= 0 && o->fd == o->blk_fd)
		return opt_fail(err, errlen, "--fd and --blk-fd name the same descriptor");
	return 0;
}

int blk_opts_parse(struct blk_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	int r;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->blk_fd = -1;
	o->num_queues = 1;
	o->poll_us = BLK_POLL_US_DEFAULT;
	r = opt_parse(argc, argv, longopts, one, o, err, errlen);
	return r < 0 ? r : check(o, err, errlen);
}
