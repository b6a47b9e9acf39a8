/* The QMP command table: for each command its argument schema, the checks beyond types, and
 * either a handler answered inside qmpd or the enum qmp_cmd relayed to the core together
 * with the formatter of the core's answer. Shapes follow the StratoVirt manual. */
#include "commands.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bulkhead-config.h"
#include "log.h"
#include "util.h"
#include "worker_kinds.h"

/* Everything a command's arguments may fill: the request for the core plus members that are
 * checked here and not relayed. */
struct call_args {
	struct qmp_request req;
	char format[16];            /* blockdev-add "driver": the image format, only "raw" */
	char file_driver[16];       /* blockdev-add "file.driver": only "file" */
	char addr[24];              /* device_add "addr" as text ("0x1") */
	char bus[QMP_ID_MAX];       /* device_add "bus": microvm has one; accepted for orchestrators */
	uint8_t no_flush;           /* blockdev-add "cache.no-flush": accepted; flushes always happen */
	yajl_val enable;            /* qmp_capabilities "enable" */
	char fdname[QMP_ID_MAX];    /* getfd/closefd "fdname", netdev_add "fd" */
	char fdnames[QMP_FDNAMES_MAX];   /* netdev_add "fds" */
	uint32_t present;
};

enum { F_ADDR = 1u << 0 };

#define MSIZE(f) sizeof(((struct call_args *)0)->f)
#define STR(n, t, reqd, f) \
	{ .name = (n), .type = (t), .required = (reqd), .size = MSIZE(f), \
	  .off = offsetof(struct call_args, f) }
#define BOOL(n, f) { .name = (n), .type = ARG_BOOL, .off = offsetof(struct call_args, f) }
#define OBJ(n, reqd, s) { .name = (n), .type = ARG_OBJ, .required = (reqd), .sub = (s) }
/* A NULL name ends a schema; designated, so clang does not take it for a half-written entry. */
#define END { .name = NULL }

struct qmp_command {
	const char *name;
	uint32_t core_cmd;          /* enum qmp_cmd; 0: answered in qmpd */
	const struct qmp_arg *args; /* NULL: takes no arguments */
	int (*check)(struct call_args *a, char *desc, size_t n);
	int (*local)(struct qmp_call *c, bool *negotiated, struct qmp_fdset *fds, struct jbuf *ret);
	void (*format)(struct jbuf *out, const struct qmp_reply *r);   /* NULL: {} */
};

/* ---- schemas ---- */

static const struct qmp_arg capabilities_args[] = {
	{ .name = "enable", .type = ARG_ARRAY, .off = offsetof(struct call_args, enable) },
	END,
};

static const struct qmp_arg file_args[] = {
	STR("driver", ARG_STR, true, file_driver),
	STR("filename", ARG_STR, true, req.u.blockdev_add.filename),
	END,
};

static const struct qmp_arg cache_args[] = {
	BOOL("direct", req.u.blockdev_add.direct),
	BOOL("no-flush", no_flush),
	END,
};

static const struct qmp_arg blockdev_add_args[] = {
	STR("node-name", ARG_ID, true, req.u.blockdev_add.node_name),
	OBJ("file", true, file_args),
	OBJ("cache", false, cache_args),
	BOOL("read-only", req.u.blockdev_add.read_only),
	STR("driver", ARG_STR, false, format),
	END,
};

static const struct qmp_arg node_name_args[] = {
	STR("node-name", ARG_ID, true, req.u.id),
	END,
};

static const struct qmp_arg id_args[] = {
	STR("id", ARG_ID, true, req.u.id),
	END,
};

static const struct qmp_arg device_add_args[] = {
	STR("id", ARG_ID, true, req.u.device_add.id),
	STR("driver", ARG_STR, true, req.u.device_add.driver),
	{ .name = "addr", .type = ARG_STR, .size = MSIZE(addr),
	  .off = offsetof(struct call_args, addr), .flag = F_ADDR },
	STR("drive", ARG_ID, false, req.u.device_add.drive),
	STR("netdev", ARG_ID, false, req.u.device_add.netdev),
	STR("mac", ARG_STR, false, req.u.device_add.mac),
	STR("bus", ARG_STR, false, bus),
	END,
};

/* the tap by name, or (QEMU's spelling) fds passed with getfd: "fd":"name", "fds":"a:b" */
static const struct qmp_arg netdev_add_args[] = {
	STR("id", ARG_ID, true, req.u.netdev_add.id),
	STR("ifname", ARG_STR, false, req.u.netdev_add.ifname),
	STR("fd", ARG_ID, false, fdname),
	STR("fds", ARG_STR, false, fdnames),
	END,
};

static const struct qmp_arg fdname_args[] = {
	STR("fdname", ARG_ID, true, fdname),
	END,
};

static const struct qmp_arg balloon_args[] = {
	{ .name = "value", .type = ARG_U64, .required = true,
	  .off = offsetof(struct call_args, req.u.balloon_bytes) },
	END,
};

/* ---- checks beyond types ---- */

#define FAIL(desc, n, ...) (snprintf((desc), (n), __VA_ARGS__), -EINVAL)

static int check_blockdev_add(struct call_args *a, char *desc, size_t n)
{
	if (strcmp(a->file_driver, "file"))
		return FAIL(desc, n, "Parameter 'file.driver' expects 'file'");
	if (a->format[0] && strcmp(a->format, "raw"))
		return FAIL(desc, n, "Parameter 'driver' expects 'raw'");
	return 0;
}

/* "0x1" (StratoVirt's form) or "1" (what orchestrators send) */
static int parse_addr(const char *s, uint32_t *slot)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		int d = (*s >= '0' && *s <= '9') ? *s - '0' :
			(*s >= 'a' && *s <= 'f') ? *s - 'a' + 10 :
			(*s >= 'A' && *s <= 'F') ? *s - 'A' + 10 : 99;

		if ((unsigned)d >= base)
			return -EINVAL;
		v = v * base + (unsigned)d;
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	*slot = (uint32_t)v;
	return 0;
}

static bool mac_ok(const char *s)
{
	static const char hex[] = "0123456789abcdefABCDEF";

	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !strchr(hex, s[i]))
			return false;
	return true;
}

static bool is_blk_driver(const char *d)
{
	return worker_kind_by_driver(d) == WORKER_BLK;
}

static bool is_net_driver(const char *d)
{
	return worker_kind_by_driver(d) == WORKER_NET;
}

static int check_device_add(struct call_args *a, char *desc, size_t n)
{
	struct qmp_device_add *d = &a->req.u.device_add;

	if (!is_blk_driver(d->driver) && !is_net_driver(d->driver))
		return FAIL(desc, n, "'%.63s' is not a valid device model name", d->driver);
	if (a->present & F_ADDR) {
		if (parse_addr(a->addr, &d->addr) < 0)
			return FAIL(desc, n, "Parameter 'addr' expects a slot number such as \"0x1\"");
		d->has_addr = 1;
	}
	if (is_blk_driver(d->driver) && (d->netdev[0] || d->mac[0]))
		return FAIL(desc, n, "Parameter '%s' is unexpected for driver %s",
			    d->netdev[0] ? "netdev" : "mac", d->driver);
	if (is_net_driver(d->driver) && d->drive[0])
		return FAIL(desc, n, "Parameter 'drive' is unexpected for driver %s", d->driver);
	if (d->mac[0] && !mac_ok(d->mac))
		return FAIL(desc, n, "Parameter 'mac' expects a MAC address such as 52:54:00:12:34:56");
	return 0;
}

static int check_netdev_add(struct call_args *a, char *desc, size_t n)
{
	unsigned given = !!a->req.u.netdev_add.ifname[0] + !!a->fdname[0] + !!a->fdnames[0];

	if (given != 1)
		return FAIL(desc, n, "netdev_add needs exactly one of 'ifname', 'fd' and 'fds'");
	return 0;
}

static int check_balloon(struct call_args *a, char *desc, size_t n)
{
	if (a->req.u.balloon_bytes == 0)
		return FAIL(desc, n, "Parameter 'value' expects a size greater than zero");
	return 0;
}

/* ---- commands answered here ---- */

static int do_query_commands(struct qmp_call *c, bool *negotiated, struct qmp_fdset *fds,
			     struct jbuf *ret);

static void version_json(struct jbuf *b)
{
	char tmp[96];

	snprintf(tmp, sizeof(tmp), "{\"qemu\":{\"micro\":%d,\"minor\":%d,\"major\":%d},\"package\":",
		 QMP_QEMU_MICRO, QMP_QEMU_MINOR, QMP_QEMU_MAJOR);
	jb_lit(b, tmp);
	jb_str(b, "bulkhead " BULKHEAD_VERSION);
	jb_lit(b, "}");
}

/* -name and -uuid of the VM (qmp_identity_set) */
static struct {
	char name[256];
	char uuid[37];
} identity;

int qmp_identity_set(const char *name, const char *uuid)
{
	size_t n = strlen(name);

	if (n >= sizeof(identity.name))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return -EINVAL;
	if (*uuid && !uuid_wellformed(uuid))
		return -EINVAL;
	memcpy(identity.name, name, n + 1);
	snprintf(identity.uuid, sizeof(identity.uuid), "%s", uuid);
	return 0;
}

/* QEMU's shapes: {} without a name; the nil UUID without one */
static int do_query_name(struct qmp_call *c UNUSED, bool *negotiated UNUSED,
			 struct qmp_fdset *fds UNUSED, struct jbuf *ret)
{
	if (!identity.name[0]) {
		jb_lit(ret, "{}");
		return 0;
	}
	jb_lit(ret, "{\"name\":");
	jb_str(ret, identity.name);
	jb_lit(ret, "}");
	return 0;
}

static int do_query_uuid(struct qmp_call *c UNUSED, bool *negotiated UNUSED,
			 struct qmp_fdset *fds UNUSED, struct jbuf *ret)
{
	jb_lit(ret, "{\"UUID\":");
	jb_str(ret, identity.uuid[0] ? identity.uuid : "00000000-0000-0000-0000-000000000000");
	jb_lit(ret, "}");
	return 0;
}

static int do_capabilities(struct qmp_call *c, bool *negotiated, struct qmp_fdset *fds UNUSED,
			   struct jbuf *ret)
{
	/* no optional capabilities (such as "oob") are offered */
	if (c->enable && c->enable->u.array.len) {
		yajl_val cap = c->enable->u.array.values[0];

		snprintf(c->desc, sizeof(c->desc), "Capability '%.64s' not available",
			 YAJL_IS_STRING(cap) ? cap->u.string : "?");
		c->err_class = QMP_CLASS_GENERIC;
		return -EINVAL;
	}
	*negotiated = true;
	jb_lit(ret, "{}");
	return 0;
}

static int do_query_version(struct qmp_call *c UNUSED, bool *negotiated UNUSED,
			    struct qmp_fdset *fds UNUSED, struct jbuf *ret)
{
	version_json(ret);
	return 0;
}

PRINTF(2, 3) static int local_fail(struct qmp_call *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->desc, sizeof(c->desc), fmt, ap);
	va_end(ap);
	c->err_class = QMP_CLASS_GENERIC;
	return -EINVAL;
}

/* QEMU's getfd: the fd that came with this command (SCM_RIGHTS) gets its name */
static int do_getfd(struct qmp_call *c, bool *negotiated UNUSED, struct qmp_fdset *fds,
		    struct jbuf *ret)
{
	int r = qmp_fds_name(fds, c->fdnames);

	if (r == -ENOENT)
		return local_fail(c, "%s", "No file descriptor supplied via SCM_RIGHTS");
	if (r < 0)
		return local_fail(c, "too many named file descriptors (at most %d); closefd some",
				  QMP_FDS_MAX);
	jb_lit(ret, "{}");
	return 0;
}

static int do_closefd(struct qmp_call *c, bool *negotiated UNUSED, struct qmp_fdset *fds,
		      struct jbuf *ret)
{
	if (qmp_fds_drop(fds, c->fdnames) < 0)
		return local_fail(c, "File descriptor named '%s' not found", c->fdnames);
	jb_lit(ret, "{}");
	return 0;
}

/* ---- formatters of the core's answers ---- */

static void fmt_status(struct jbuf *b, const struct qmp_reply *r)
{
	static const char *const names[] = {
		[QMP_RUN_RUNNING] = "running", [QMP_RUN_PAUSED] = "paused",
		[QMP_RUN_SHUTDOWN] = "shutdown",
	};
	uint32_t s = r->u.runstate;

	jb_lit(b, "{\"running\":");
	jb_bool(b, s == QMP_RUN_RUNNING);
	jb_lit(b, ",\"singlestep\":false,\"status\":");
	jb_str(b, s < ARRAY_SIZE(names) && names[s] ? names[s] : "unknown");
	jb_lit(b, "}");
}

/* StratoVirt's topology for -smp N: N sockets of one core of one thread */
static void cpu_props(struct jbuf *b, uint32_t index)
{
	jb_lit(b, "\"props\":{\"core-id\":0,\"socket-id\":");
	jb_u64(b, index);
	jb_lit(b, ",\"thread-id\":0}");
}

static void qom_path(struct jbuf *b, const char *key, uint32_t index)
{
	char tmp[80];

	snprintf(tmp, sizeof(tmp), "\"%s\":\"/machine/unattached/device[%u]\"", key, index);
	jb_lit(b, tmp);
}

static void fmt_cpus(struct jbuf *b, const struct qmp_reply *r)
{
	uint32_t n = r->u.cpus.n < QMP_MAX_CPUS ? r->u.cpus.n : QMP_MAX_CPUS;

	jb_lit(b, "[");
	for (uint32_t i = 0; i < n; i++) {
		const struct qmp_cpu_info *cpu = &r->u.cpus.cpu[i];

		jb_lit(b, i ? ",{\"CPU\":" : "{\"CPU\":");
		jb_u64(b, cpu->index);
		/* the manual's "current" is true for every vCPU: each is its own thread */
		jb_lit(b, ",\"arch\":\"x86\",\"current\":true,\"halted\":");
		jb_bool(b, cpu->halted);
		jb_lit(b, ",");
		cpu_props(b, cpu->index);
		jb_lit(b, ",");
		qom_path(b, "qom_path", cpu->index);
		jb_lit(b, ",\"thread_id\":");
		jb_i64(b, cpu->thread_id);
		jb_lit(b, "}");
	}
	jb_lit(b, "]");
}

static void fmt_cpus_fast(struct jbuf *b, const struct qmp_reply *r)
{
	uint32_t n = r->u.cpus.n < QMP_MAX_CPUS ? r->u.cpus.n : QMP_MAX_CPUS;

	jb_lit(b, "[");
	for (uint32_t i = 0; i < n; i++) {
		const struct qmp_cpu_info *cpu = &r->u.cpus.cpu[i];

		jb_lit(b, i ? ",{\"arch\":\"x86\",\"cpu-index\":" : "{\"arch\":\"x86\",\"cpu-index\":");
		jb_u64(b, cpu->index);
		jb_lit(b, ",");
		cpu_props(b, cpu->index);
		jb_lit(b, ",");
		qom_path(b, "qom-path", cpu->index);
		jb_lit(b, ",\"target\":\"x86_64\",\"thread-id\":");
		jb_i64(b, cpu->thread_id);
		jb_lit(b, "}");
	}
	jb_lit(b, "]");
}

static void fmt_hotpluggable(struct jbuf *b, const struct qmp_reply *r)
{
	uint32_t n = r->u.cpus.n < QMP_MAX_CPUS ? r->u.cpus.n : QMP_MAX_CPUS;

	jb_lit(b, "[");
	for (uint32_t i = 0; i < n; i++) {
		jb_lit(b, i ? ",{" : "{");
		cpu_props(b, r->u.cpus.cpu[i].index);
		jb_lit(b, ",");
		qom_path(b, "qom-path", r->u.cpus.cpu[i].index);
		jb_lit(b, ",\"type\":\"host-x86-cpu\",\"vcpus-count\":1}");
	}
	jb_lit(b, "]");
}

static void fmt_balloon(struct jbuf *b, const struct qmp_reply *r)
{
	jb_lit(b, "{\"actual\":");
	jb_u64(b, r->u.balloon_actual);
	jb_lit(b, "}");
}

/* query-net-stats (bulkhead's own): each NIC's counters, summed and per queue pair */
static const struct {
	const char *name;
	size_t off;
} net_counters[] = {
	{ "rx-packets", offsetof(struct net_stats_pair, rx_packets) },
	{ "rx-bytes", offsetof(struct net_stats_pair, rx_bytes) },
	{ "rx-dropped", offsetof(struct net_stats_pair, rx_dropped) },
	{ "tx-packets", offsetof(struct net_stats_pair, tx_packets) },
	{ "tx-bytes", offsetof(struct net_stats_pair, tx_bytes) },
	{ "tx-spoofed", offsetof(struct net_stats_pair, tx_spoofed) },
	{ "tx-errors", offsetof(struct net_stats_pair, tx_errors) },
};

static uint64_t counter(const struct net_stats_pair *p, size_t off)
{
	uint64_t v;

	memcpy(&v, (const uint8_t *)p + off, sizeof(v));
	return v;
}

/* ,"rx-packets":N,... over pairs [0, n) */
static void fmt_counters(struct jbuf *b, const struct net_stats_pair *pair, uint32_t n)
{
	char key[32];

	for (size_t c = 0; c < ARRAY_SIZE(net_counters); c++) {
		uint64_t sum = 0;

		for (uint32_t p = 0; p < n; p++)
			sum += counter(&pair[p], net_counters[c].off);
		snprintf(key, sizeof(key), "%s\"%s\":", c ? "," : "", net_counters[c].name);
		jb_lit(b, key);
		jb_u64(b, sum);
	}
}

static void fmt_net_stats(struct jbuf *b, const struct qmp_reply *r)
{
	uint32_t n = r->u.nics.n < QMP_MAX_NICS ? r->u.nics.n : QMP_MAX_NICS;
	char tmp[24];

	jb_lit(b, "[");
	for (uint32_t i = 0; i < n; i++) {
		const struct qmp_nic_stats *nic = &r->u.nics.nic[i];
		const uint8_t *m = nic->mac;
		uint32_t np = nic->npairs < NET_STATS_MAX_PAIRS ? nic->npairs : NET_STATS_MAX_PAIRS;

		jb_lit(b, i ? ",{\"addr\":" : "{\"addr\":");
		snprintf(tmp, sizeof(tmp), "0x%x", nic->index);
		jb_str(b, tmp);
		jb_lit(b, ",\"id\":");
		jb_str(b, nic->id);
		jb_lit(b, ",\"netdev\":");
		jb_str(b, nic->netdev);
		snprintf(tmp, sizeof(tmp), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
			 m[4], m[5]);
		jb_lit(b, ",\"mac\":");
		jb_str(b, tmp);
		jb_lit(b, ",\"counted\":");
		jb_bool(b, nic->counted);
		if (nic->counted) {
			jb_lit(b, ",\"worker-starts\":");
			jb_u64(b, nic->starts);
			jb_lit(b, ",");
			fmt_counters(b, nic->pair, np);
			jb_lit(b, ",\"queues\":[");
			for (uint32_t p = 0; p < np; p++) {
				jb_lit(b, p ? ",{" : "{");
				fmt_counters(b, &nic->pair[p], 1);
				jb_lit(b, "}");
			}
			jb_lit(b, "]");
		}
		jb_lit(b, "}");
	}
	jb_lit(b, "]");
}

/* ---- the table ---- */

static const struct qmp_command commands[] = {
	{ "qmp_capabilities", 0, capabilities_args, NULL, do_capabilities, NULL },
	{ "query-version", 0, NULL, NULL, do_query_version, NULL },
	{ "query-commands", 0, NULL, NULL, do_query_commands, NULL },
	{ "query-name", 0, NULL, NULL, do_query_name, NULL },
	{ "query-uuid", 0, NULL, NULL, do_query_uuid, NULL },
	{ "getfd", 0, fdname_args, NULL, do_getfd, NULL },
	{ "closefd", 0, fdname_args, NULL, do_closefd, NULL },
	{ "query-status", QMP_CMD_QUERY_STATUS, NULL, NULL, NULL, fmt_status },
	{ "stop", QMP_CMD_STOP, NULL, NULL, NULL, NULL },
	{ "cont", QMP_CMD_CONT, NULL, NULL, NULL, NULL },
	{ "quit", QMP_CMD_QUIT, NULL, NULL, NULL, NULL },
	{ "system_reset", QMP_CMD_SYSTEM_RESET, NULL, NULL, NULL, NULL },
	{ "system_powerdown", QMP_CMD_SYSTEM_POWERDOWN, NULL, NULL, NULL, NULL },
	{ "query-cpus", QMP_CMD_QUERY_CPUS, NULL, NULL, NULL, fmt_cpus },
	{ "query-cpus-fast", QMP_CMD_QUERY_CPUS, NULL, NULL, NULL, fmt_cpus_fast },
	{ "query-hotpluggable-cpus", QMP_CMD_QUERY_HOTPLUGGABLE_CPUS, NULL, NULL, NULL,
	  fmt_hotpluggable },
	{ "blockdev-add", QMP_CMD_BLOCKDEV_ADD, blockdev_add_args, check_blockdev_add, NULL, NULL },
	{ "blockdev-del", QMP_CMD_BLOCKDEV_DEL, node_name_args, NULL, NULL, NULL },
	{ "device_add", QMP_CMD_DEVICE_ADD, device_add_args, check_device_add, NULL, NULL },
	{ "device_del", QMP_CMD_DEVICE_DEL, id_args, NULL, NULL, NULL },
	{ "netdev_add", QMP_CMD_NETDEV_ADD, netdev_add_args, check_netdev_add, NULL, NULL },
	{ "netdev_del", QMP_CMD_NETDEV_DEL, id_args, NULL, NULL, NULL },
	{ "balloon", QMP_CMD_BALLOON, balloon_args, check_balloon, NULL, NULL },
	{ "query-balloon", QMP_CMD_QUERY_BALLOON, NULL, NULL, NULL, fmt_balloon },
	{ "query-net-stats", QMP_CMD_QUERY_NET_STATS, NULL, NULL, NULL, fmt_net_stats },
};
static const size_t ncommands = ARRAY_SIZE(commands);

static int do_query_commands(struct qmp_call *c UNUSED, bool *negotiated UNUSED,
			     struct qmp_fdset *fds UNUSED, struct jbuf *ret)
{
	jb_lit(ret, "[");
	for (size_t i = 0; i < ncommands; i++) {
		jb_lit(ret, i ? ",{\"name\":" : "{\"name\":");
		jb_str(ret, commands[i].name);
		jb_lit(ret, "}");
	}
	jb_lit(ret, "]");
	return 0;
}

static const struct qmp_command *find_command(const char *name)
{
	for (size_t i = 0; i < ncommands; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

const char *qmp_command_name(const struct qmp_command *cmd)
{
	return cmd->name;
}

uint32_t qmp_command_core_cmd(const struct qmp_command *cmd)
{
	return cmd->core_cmd;
}

bool qmp_call_is_local(const struct qmp_call *c)
{
	return c->cmd->local != NULL;
}

int qmp_call_local(struct qmp_call *c, bool *negotiated, struct qmp_fdset *fds,
		   struct jbuf *ret)
{
	return c->cmd->local(c, negotiated, fds, ret);
}

/* ---- the input object ---- */

static int call_fail(struct qmp_call *c, enum qmp_class cls, const char *fmt, const char *arg)
{
	c->err_class = cls;
	snprintf(c->desc, sizeof(c->desc), fmt, arg);
	return -EINVAL;
}

/* "execute", "arguments", "id" and nothing else, as QEMU's qmp_dispatch checks them */
static int parse_envelope(yajl_val root, struct qmp_call *c, const char **name, yajl_val *args)
{
	yajl_val v;

	for (size_t i = 0; i < root->u.object.len; i++)
		if (!strcmp(root->u.object.keys[i], "id"))
			c->id = root->u.object.values[i];
	for (size_t i = 0; i < root->u.object.len; i++) {
		const char *key = root->u.object.keys[i];

		v = root->u.object.values[i];
		if (!strcmp(key, "execute")) {
			if (!YAJL_IS_STRING(v))
				return call_fail(c, QMP_CLASS_GENERIC,
						 "QMP input member '%s' must be a string", key);
			*name = v->u.string;
		} else if (!strcmp(key, "arguments")) {
			if (!YAJL_IS_OBJECT(v))
				return call_fail(c, QMP_CLASS_GENERIC,
						 "QMP input member '%s' must be an object", key);
			*args = v;
		} else if (strcmp(key, "id")) {
			return call_fail(c, QMP_CLASS_GENERIC,
					 "QMP input member '%.64s' is unexpected", key);
		}
	}
	if (!*name)
		return call_fail(c, QMP_CLASS_GENERIC, "QMP input lacks member '%s'", "execute");
	return 0;
}

static int negotiation(const struct qmp_command *cmd, bool negotiated, struct qmp_call *c)
{
	bool caps = cmd->local == do_capabilities;

	if (!negotiated && !caps)
		return call_fail(c, QMP_CLASS_COMMAND_NOT_FOUND, "%s",
				 "Expecting capabilities negotiation with 'qmp_capabilities'");
	if (negotiated && caps)
		return call_fail(c, QMP_CLASS_COMMAND_NOT_FOUND, "%s",
				 "Capabilities negotiation is already complete, command ignored");
	return 0;
}

static int parse_arguments(const struct qmp_command *cmd, yajl_val args, struct qmp_call *c)
{
	static const struct qmp_arg none[] = { END };
	struct call_args a;

	memset(&a, 0, sizeof(a));
	c->err_class = QMP_CLASS_GENERIC;
	if (args && qmp_args_parse(args, cmd->args ? cmd->args : none, "", &a, &a.present,
				   c->desc, sizeof(c->desc)) < 0)
		return -EINVAL;
	if (!args && cmd->args && qmp_args_parse(&(struct yajl_val_s){ .type = yajl_t_object },
						 cmd->args, "", &a, &a.present, c->desc,
						 sizeof(c->desc)) < 0)
		return -EINVAL;
	if (cmd->check && cmd->check(&a, c->desc, sizeof(c->desc)) < 0)
		return -EINVAL;
	c->req = a.req;
	c->req.cmd = cmd->core_cmd;
	c->enable = a.enable;
	snprintf(c->fdnames, sizeof(c->fdnames), "%s", a.fdnames[0] ? a.fdnames : a.fdname);
	return 0;
}

int qmp_call_parse(yajl_val root, bool negotiated, struct qmp_call *c)
{
	const char *name = NULL;
	yajl_val args = NULL;
	int r;

	memset(c, 0, sizeof(*c));
	if (!YAJL_IS_OBJECT(root))
		return call_fail(c, QMP_CLASS_GENERIC, "%s", "QMP input must be a JSON object");
	r = parse_envelope(root, c, &name, &args);
	if (r < 0)
		return r;
	c->cmd = find_command(name);
	if (!c->cmd)
		return call_fail(c, QMP_CLASS_COMMAND_NOT_FOUND,
				 "The command %.64s has not been found", name);
	r = negotiation(c->cmd, negotiated, c);
	if (r < 0)
		return r;
	return parse_arguments(c->cmd, args, c);
}

/* ---- whole messages ---- */

void qmp_format_greeting(struct jbuf *out)
{
	jb_lit(out, "{\"QMP\":{\"version\":");
	version_json(out);
	jb_lit(out, ",\"capabilities\":[]}}\r\n");
}

static void end_message(struct jbuf *out, const char *id_json)
{
	if (id_json) {
		jb_lit(out, ",\"id\":");
		jb_lit(out, id_json);
	}
	jb_lit(out, "}\r\n");
}

void qmp_format_return(struct jbuf *out, const char *value_json, const char *id_json)
{
	jb_lit(out, "{\"return\":");
	jb_lit(out, value_json);
	end_message(out, id_json);
}

void qmp_format_error(struct jbuf *out, enum qmp_class cls, const char *desc,
		      const char *id_json)
{
	static const char *const names[] = {
		[QMP_CLASS_GENERIC] = "GenericError",
		[QMP_CLASS_COMMAND_NOT_FOUND] = "CommandNotFound",
		[QMP_CLASS_DEVICE_NOT_FOUND] = "DeviceNotFound",
		[QMP_CLASS_DEVICE_NOT_ACTIVE] = "DeviceNotActive",
	};

	jb_lit(out, "{\"error\":{\"class\":\"");
	jb_lit(out, (unsigned)cls < ARRAY_SIZE(names) ? names[cls] : "GenericError");
	jb_lit(out, "\",\"desc\":");
	jb_str(out, desc);
	jb_lit(out, "}");
	end_message(out, id_json);
}

static enum qmp_class class_of(uint32_t err)
{
	switch (err) {
	case QMP_ERR_DEVICE_NOT_FOUND:
		return QMP_CLASS_DEVICE_NOT_FOUND;
	case QMP_ERR_DEVICE_NOT_ACTIVE:
		return QMP_CLASS_DEVICE_NOT_ACTIVE;
	default:
		return QMP_CLASS_GENERIC;
	}
}

void qmp_format_reply(struct jbuf *out, const struct qmp_command *cmd,
		      const struct qmp_reply *r, const char *id_json)
{
	if (r->error != QMP_OK) {
		qmp_format_error(out, class_of(r->error), r->desc[0] ? r->desc : "Command failed",
				 id_json);
		return;
	}
	jb_lit(out, "{\"return\":");
	if (cmd->format)
		cmd->format(out, r);
	else
		jb_lit(out, "{}");
	end_message(out, id_json);
}
