/* bulkhead-hvc command line: the vhost-user backend program conventions (--socket-path,
 * --fd, --print-capabilities), the host socket (a listening fd from the supervisor, or
 * --chardev-path bound by hand) and the output ring's size. Every error is one line for the
 * caller to print; main exits 2 on it. */
#include "console.h"
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

const char con_capabilities[] = "{\"type\": \"console\"}";

enum {
	OPT_SOCKET = 1000, OPT_FD, OPT_CAPS, OPT_LISTEN_FD, OPT_CHARDEV, OPT_BUFFER, OPT_NAME,
	OPT_NO_SECCOMP, OPT_RUNAS, OPT_VERSION,
};

static const struct option longopts[] = {
	{ "socket-path", required_argument, NULL, OPT_SOCKET },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "print-capabilities", no_argument, NULL, OPT_CAPS },
	{ "listen-fd", required_argument, NULL, OPT_LISTEN_FD },
	{ "chardev-path", required_argument, NULL, OPT_CHARDEV },
	{ "buffer", required_argument, NULL, OPT_BUFFER },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "disable-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "runas", required_argument, NULL, OPT_RUNAS },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* --chardev-path: the worker binds it, so it must fit sun_path. */
static int chardev_path(struct con_opts *o, const char *arg, char *err, size_t errlen)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	if (!*arg || strlen(arg) > max)
		return opt_fail(err, errlen, "--chardev-path: want 1..%zu bytes", max);
	o->chardev_path = arg;
	return 0;
}

static int one(void *ctx, int c, const char *arg, char *err, size_t errlen)
{
	struct con_opts *o = ctx;
	unsigned long long v;

	switch (c) {
	case OPT_SOCKET:
		return opt_socket_path(arg, &o->socket_path, err, errlen);
	case OPT_FD:
		return opt_fd("fd", arg, &o->fd, err, errlen);
	case OPT_CAPS:
		o->print_caps = true;
		return 0;
	case OPT_LISTEN_FD:
		return opt_fd("listen-fd", arg, &o->listen_fd, err, errlen);
	case OPT_CHARDEV:
		return chardev_path(o, arg, err, errlen);
	case OPT_BUFFER:
		if (!opt_number(arg, CON_BUFFER_MIN, CON_BUFFER_MAX, &v))
			return opt_fail(err, errlen, "--buffer: want %llu..%llu, got '%s'",
					CON_BUFFER_MIN, CON_BUFFER_MAX, arg);
		o->buffer = (uint32_t)v;
		return 0;
	case OPT_NAME:
		return opt_name(arg, CON_NAME_MAX, o->name, sizeof(o->name), err, errlen);
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
static int check(const struct con_opts *o, char *err, size_t errlen)
{
	if (o->print_caps || o->version)
		return 0;
	if (!!o->socket_path == (o->fd >= 0))
		return opt_fail(err, errlen, "exactly one of --socket-path and --fd is required");
	if (!!o->chardev_path == (o->listen_fd >= 0))
		return opt_fail(err, errlen, "exactly one of --listen-fd and --chardev-path is "
				"required");
	if (o->listen_fd >= 0 && o->listen_fd == o->fd)
		return opt_fail(err, errlen, "descriptor %d is named twice", o->fd);
	/* binding the second would replace the first as a stale socket */
	if (o->chardev_path && o->socket_path && !strcmp(o->chardev_path, o->socket_path))
		return opt_fail(err, errlen, "--chardev-path and --socket-path name the same path");
	return 0;
}

int con_opts_parse(struct con_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	int r;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->listen_fd = -1;
	o->buffer = CON_BUFFER_DEFAULT;
	r = opt_parse(argc, argv, longopts, one, o, err, errlen);
	return r < 0 ? r : check(o, err, errlen);
}
