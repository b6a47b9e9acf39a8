/* bulkhead-net command line: the vhost-user backend program conventions (--socket-path, --fd,
 * --print-capabilities) and the tap, MAC and queue options. Every error is one line for the
 * caller to print; main exits 2 on it. */
#include "net.h"
#include "opts.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>

const char net_capabilities[] = "{\"type\": \"net\"}";

enum {
	OPT_SOCKET = 1000, OPT_FD, OPT_CAPS, OPT_TAPFD, OPT_TAP, OPT_QUEUES, OPT_MAC, OPT_NAME,
	OPT_STATS, OPT_NO_SECCOMP, OPT_RUNAS, OPT_RSS,
};

static const struct option longopts[] = {
	{ "socket-path", required_argument, NULL, OPT_SOCKET },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "print-capabilities", no_argument, NULL, OPT_CAPS },
	{ "tap-fd", required_argument, NULL, OPT_TAPFD },
	{ "tap", required_argument, NULL, OPT_TAP },
	{ "queues", required_argument, NULL, OPT_QUEUES },
	{ "mac", required_argument, NULL, OPT_MAC },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "stats-fd", required_argument, NULL, OPT_STATS },
	{ "rss-map-fds", required_argument, NULL, OPT_RSS },
	{ "disable-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "runas", required_argument, NULL, OPT_RUNAS },
	{ NULL, 0, NULL, 0 },
};

/* xx:xx:xx:xx:xx:xx, exactly, unicast and not all zero. */
static int mac(struct net_opts *o, const char *arg, char *err, size_t errlen)
{
	if (strlen(arg) != 17)
		return opt_fail(err, errlen, "--mac: want xx:xx:xx:xx:xx:xx, got '%s'", arg);
	for (int i = 0; i < 6; i++) {
		int hi = hexval(arg[3 * i]), lo = hexval(arg[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && arg[3 * i + 2] != ':'))
			return opt_fail(err, errlen, "--mac: want xx:xx:xx:xx:xx:xx, got '%s'", arg);
		o->mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (!net_mac_valid_unicast(o->mac))
		return opt_fail(err, errlen, "--mac: %s is not a unicast address", arg);
	return 0;
}

/* --rss-map-fds=CFG,KEY,TABLE: exactly three descriptors, in that order. */
static int rss_fds(struct net_opts *o, const char *arg, char *err, size_t errlen)
{
	const char *p = arg;

	for (unsigned i = 0; i < NET_RSS_MAPS; i++) {
		size_t n = strcspn(p, ",");
		char num[16];

		/* a comma after every one but the last, and none after that */
		if (!n || n >= sizeof(num) || (i + 1 < NET_RSS_MAPS) != (p[n] == ','))
			return opt_fail(err, errlen, "--rss-map-fds: want CFG,KEY,TABLE, got '%s'",
					arg);
		memcpy(num, p, n);
		num[n] = 0;
		if (opt_fd("rss-map-fds", num, &o->rss_fd[i], err, errlen) < 0)
			return -EINVAL;
		p += n + 1;
	}
	o->rss = true;
	return 0;
}

static int one(void *ctx, int c, const char *arg, char *err, size_t errlen)
{
	struct net_opts *o = ctx;
	unsigned long long v;

	switch (c) {
	case OPT_SOCKET:
		return opt_socket_path(arg, &o->socket_path, err, errlen);
	case OPT_FD:
		return opt_fd("fd", arg, &o->fd, err, errlen);
	case OPT_CAPS:
		o->print_caps = true;
		return 0;
	case OPT_TAPFD:
		if (o->ntap_fd == NET_MAX_PAIRS)
			return opt_fail(err, errlen, "--tap-fd: more than %u", NET_MAX_PAIRS);
		return opt_fd("tap-fd", arg, &o->tap_fd[o->ntap_fd++], err, errlen);
	case OPT_TAP:
		if (!*arg || strlen(arg) >= IFNAMSIZ || strpbrk(arg, " \t\n/:"))
			return opt_fail(err, errlen, "--tap: want an interface name of 1..%u "
					"characters", IFNAMSIZ - 1);
		o->tap = arg;
		return 0;
	case OPT_QUEUES:
		if (!opt_number(arg, 1, NET_MAX_PAIRS, &v))
			return opt_fail(err, errlen, "--queues: want 1..%u queue pairs, got '%s'",
					NET_MAX_PAIRS, arg);
		o->pairs = (unsigned)v;
		return 0;
	case OPT_MAC:
		return mac(o, arg, err, errlen);
	case OPT_NAME:
		return opt_name(arg, NET_NAME_MAX, o->name, sizeof(o->name), err, errlen);
	case OPT_STATS:
		return opt_fd("stats-fd", arg, &o->stats_fd, err, errlen);
	case OPT_RSS:
		return rss_fds(o, arg, err, errlen);
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

/* No descriptor may be named twice: the tap queues, the socket, the stats page, the maps. */
static int distinct_fds(const struct net_opts *o, char *err, size_t errlen)
{
	int all[NET_MAX_PAIRS + 2 + NET_RSS_MAPS];
	unsigned n = 0;

	for (unsigned i = 0; i < o->ntap_fd; i++)
		all[n++] = o->tap_fd[i];
	for (unsigned i = 0; o->rss && i < NET_RSS_MAPS; i++)
		all[n++] = o->rss_fd[i];
	if (o->fd >= 0)
		all[n++] = o->fd;
	if (o->stats_fd >= 0)
		all[n++] = o->stats_fd;
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < i; j++)
			if (all[i] == all[j])
				return opt_fail(err, errlen, "descriptor %d is named twice", all[i]);
	return 0;
}

/* What must hold once every option is read. */
static int check(struct net_opts *o, char *err, size_t errlen)
{
	if (o->print_caps)
		return 0;
	if (!!o->socket_path == (o->fd >= 0))
		return opt_fail(err, errlen, "exactly one of --socket-path and --fd is required");
	if (!!o->tap == (o->ntap_fd > 0))
		return opt_fail(err, errlen, "exactly one of --tap and --tap-fd is required");
	if (!o->pairs)
		o->pairs = o->ntap_fd ? o->ntap_fd : 1;
	if (o->ntap_fd && o->ntap_fd != o->pairs)
		return opt_fail(err, errlen, "--queues=%u but %u --tap-fd given: one tap queue per "
				"queue pair", o->pairs, o->ntap_fd);
	if (o->rss && o->pairs < 2)
		return opt_fail(err, errlen, "--rss-map-fds: steering needs --queues of 2 or more");
	return distinct_fds(o, err, errlen);
}

int net_opts_parse(struct net_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	static const uint8_t def_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	int r;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->stats_fd = -1;
	memcpy(o->mac, def_mac, 6);
	r = opt_parse(argc, argv, longopts, one, o, err, errlen);
	return r < 0 ? r : check(o, err, errlen);
}
