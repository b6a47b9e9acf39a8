/* bulkhead-vsock command line: the vhost-user backend program conventions (--socket-path,
 * --fd, --print-capabilities), the guest CID, the socket directory (an fd and a name from the
 * supervisor, or --uds-path by hand) or, in kernel mode, an open /dev/vhost-vsock
 * (--vhost-fd), and the limits. Every error is one line for the caller
 * to print; main exits 2 on it. */
#include "vsock.h"
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char vsock_capabilities[] = "{\"type\": \"vsock\"}";

enum {
	OPT_SOCKET = 1000, OPT_FD, OPT_CAPS, OPT_CID, OPT_DIRFD, OPT_UDSNAME, OPT_UDSPATH,
	OPT_CONNS, OPT_BUF, OPT_NAME, OPT_NO_SECCOMP, OPT_RUNAS, OPT_VHOSTFD,
};

static const struct option longopts[] = {
	{ "socket-path", required_argument, NULL, OPT_SOCKET },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "print-capabilities", no_argument, NULL, OPT_CAPS },
	{ "guest-cid", required_argument, NULL, OPT_CID },
	{ "uds-dir-fd", required_argument, NULL, OPT_DIRFD },
	{ "uds-name", required_argument, NULL, OPT_UDSNAME },
	{ "uds-path", required_argument, NULL, OPT_UDSPATH },
	{ "vhost-fd", required_argument, NULL, OPT_VHOSTFD },
	{ "max-conns", required_argument, NULL, OPT_CONNS },
	{ "buf-alloc", required_argument, NULL, OPT_BUF },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "disable-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "runas", required_argument, NULL, OPT_RUNAS },
	{ NULL, 0, NULL, 0 },
};

bool vsock_uds_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n && n <= VSOCK_UDS_NAME_MAX && !strchr(name, '/') && strcmp(name, ".") &&
	       strcmp(name, "..");
}

/* --uds-path=DIR/NAME: the name part must be a valid name; DIR is what main opens. */
static int uds_path(struct vsock_opts *o, const char *arg, char *err, size_t errlen)
{
	const char *slash = strrchr(arg, '/');

	if (!vsock_uds_name_ok(slash ? slash + 1 : arg))
		return opt_fail(err, errlen, "--uds-path: want DIR/NAME with a NAME of 1..%u "
				"characters, got '%s'", VSOCK_UDS_NAME_MAX, arg);
	o->uds_path = arg;
	return 0;
}

static int number(const char *opt, const char *arg, unsigned long long min,
		  unsigned long long max, unsigned long long *v, char *err, size_t errlen)
{
	if (!opt_number(arg, min, max, v))
		return opt_fail(err, errlen, "--%s: want %llu..%llu, got '%s'", opt, min, max, arg);
	return 0;
}

static int one(void *ctx, int c, const char *arg, char *err, size_t errlen)
{
	struct vsock_opts *o = ctx;
	unsigned long long v;

	switch (c) {
	case OPT_SOCKET:
		return opt_socket_path(arg, &o->socket_path, err, errlen);
	case OPT_FD:
		return opt_fd("fd", arg, &o->fd, err, errlen);
	case OPT_CAPS:
		o->print_caps = true;
		return 0;
	case OPT_CID:
		if (number("guest-cid", arg, VSOCK_CID_MIN, VSOCK_CID_MAX, &v, err, errlen))
			return -EINVAL;
		o->guest_cid = v;
		return 0;
	case OPT_DIRFD:
		return opt_fd("uds-dir-fd", arg, &o->uds_dir_fd, err, errlen);
	case OPT_UDSNAME:
		if (!vsock_uds_name_ok(arg))
			return opt_fail(err, errlen, "--uds-name: want 1..%u characters without '/', "
					"got '%s'", VSOCK_UDS_NAME_MAX, arg);
		o->uds_name = arg;
		return 0;
	case OPT_UDSPATH:
		return uds_path(o, arg, err, errlen);
	case OPT_VHOSTFD:
		return opt_fd("vhost-fd", arg, &o->vhost_fd, err, errlen);
	case OPT_CONNS:
		if (number("max-conns", arg, 1, VSOCK_CONNS_MAX, &v, err, errlen))
			return -EINVAL;
		o->max_conns = (unsigned)v;
		return 0;
	case OPT_BUF:
		if (number("buf-alloc", arg, VSOCK_BUF_ALLOC_MIN, VSOCK_BUF_ALLOC_MAX, &v, err, errlen))
			return -EINVAL;
		o->buf_alloc = (uint32_t)v;
		return 0;
	case OPT_NAME:
		return opt_name(arg, VSOCK_NAME_MAX, o->name, sizeof(o->name), err, errlen);
	case OPT_NO_SECCOMP:
		o->no_seccomp = true;
		return 0;
	case OPT_RUNAS:
		/* numeric: the supervisor resolved the names before spawning us */
		if (sandbox_parse_runas(arg, &o->runas) < 0)
			return opt_fail(err, errlen, "--runas: want UID:GID, got '%s'", arg);
		return 0;
	}
	return opt_fail(err, errlen, "internal: option %d", c);
}

/* What must hold once every option is read. */
static int check(struct vsock_opts *o, char *err, size_t errlen)
{
	if (o->print_caps)
		return 0;
	if (!!o->socket_path == (o->fd >= 0))
		return opt_fail(err, errlen, "exactly one of --socket-path and --fd is required");
	if (!o->guest_cid)
		return opt_fail(err, errlen, "--guest-cid is required");
	if (o->vhost_fd >= 0) {
		if (o->uds_path || o->uds_dir_fd >= 0 || o->uds_name)
			return opt_fail(err, errlen, "--vhost-fd (kernel mode) excludes --uds-path, "
					"--uds-dir-fd and --uds-name");
		if (o->vhost_fd == o->fd)
			return opt_fail(err, errlen, "descriptor %d is named twice", o->fd);
		return 0;
	}
	if (o->uds_path && (o->uds_dir_fd >= 0 || o->uds_name))
		return opt_fail(err, errlen, "--uds-path excludes --uds-dir-fd and --uds-name");
	if (!o->uds_path && (o->uds_dir_fd < 0 || !o->uds_name))
		return opt_fail(err, errlen, "want --uds-dir-fd with --uds-name, --uds-path, or "
				"--vhost-fd");
	if (o->uds_dir_fd >= 0 && o->uds_dir_fd == o->fd)
		return opt_fail(err, errlen, "descriptor %d is named twice", o->fd);
	return 0;
}

int vsock_opts_parse(struct vsock_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	int r;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->uds_dir_fd = -1;
	o->vhost_fd = -1;
	o->max_conns = VSOCK_CONNS_DEFAULT;
	o->buf_alloc = VSOCK_BUF_ALLOC_DEFAULT;
	r = opt_parse(argc, argv, longopts, one, o, err, errlen);
	return r < 0 ? r : check(o, err, errlen);
}
