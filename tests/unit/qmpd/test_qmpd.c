/* Unit tests of qmpd: the JSON framer (split and merged values, strings, depth and size caps),
 * argument validation per command, the exact JSON of greeting, replies, errors and events
 * (compared with the StratoVirt manual's exchanges), in-order replies while a request is at
 * the core; then the server over real sockets with a fake core on a SOCK_SEQPACKET pair
 * (the manual's stop/cont/quit sequence, 64 clients, a client that never reads, oversized
 * input, peer credentials, a core that breaks the protocol) and the bulkhead-qmpd binary. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "bulkhead-config.h"
#include "ipc_qmp.h"
#include "json.h"
#include "server.h"
#include "session.h"

#define GREETING "{\"QMP\":{\"version\":{\"qemu\":{\"micro\":0,\"minor\":0,\"major\":5}," \
		 "\"package\":\"bulkhead " BULKHEAD_VERSION "\"},\"capabilities\":[]}}\r\n"
#define RET_EMPTY "{\"return\":{}}\r\n"
#define GENERIC(d) "{\"error\":{\"class\":\"GenericError\",\"desc\":\"" d "\"}}\r\n"

/* ================= framer ================= */

struct frames {
	char got[16][256];
	int n, deep, big;
};

/* feed text in chunks of `step` bytes (0: all at once), collecting complete values */
static void frame_all(const char *text, size_t step, struct frames *out)
{
	static char buf[QMP_IN_CAP];
	struct qmp_framer f;
	struct qmp_frame fr;
	size_t len = 0, total = strlen(text), given = 0;

	memset(out, 0, sizeof(*out));
	qmp_framer_init(&f);
	while (given < total || len) {
		size_t n = step && total - given > step ? step : total - given;
		enum qmp_frame_status st;

		memcpy(buf + len, text + given, n);
		len += n;
		given += n;
		do {
			st = qmp_framer_next(&f, buf, len, &fr);
			if (st == QMP_FRAME_READY && out->n < 16)
				snprintf(out->got[out->n++], 256, "%.*s", (int)fr.len, buf + fr.off);
			out->deep += st == QMP_FRAME_TOO_DEEP;
			out->big += st == QMP_FRAME_TOO_BIG;
			memmove(buf, buf + fr.consumed, len - fr.consumed);
			len -= fr.consumed;
		} while (st != QMP_FRAME_MORE);
		if (given == total)
			break;
	}
}

Test(framer, merged_values_and_whitespace)
{
	struct frames fr;

	frame_all("  {\"a\":1}\r\n{\"b\":[1,{\"c\":2}]}  [3] \"s\" 42 ", 0, &fr);
	cr_assert_eq(fr.n, 5);
	cr_assert_str_eq(fr.got[0], "{\"a\":1}");
	cr_assert_str_eq(fr.got[1], "{\"b\":[1,{\"c\":2}]}");
	cr_assert_str_eq(fr.got[2], "[3]");
	cr_assert_str_eq(fr.got[3], "\"s\"");
	cr_assert_str_eq(fr.got[4], "42");
}

Test(framer, values_split_across_reads_at_every_byte)
{
	const char *text = "{\"execute\":\"x\",\"id\":\"}{\\\"]\"}{\"k\":\"\\\\\"}";

	for (size_t step = 1; step < strlen(text); step++) {
		struct frames fr;

		frame_all(text, step, &fr);
		cr_assert_eq(fr.n, 2, "step %zu", step);
		cr_assert_str_eq(fr.got[0], "{\"execute\":\"x\",\"id\":\"}{\\\"]\"}");
		cr_assert_str_eq(fr.got[1], "{\"k\":\"\\\\\"}");
	}
}

Test(framer, incomplete_value_waits)
{
	struct frames fr;

	frame_all("{\"a\":[1,2", 0, &fr);
	cr_assert_eq(fr.n, 0);
	frame_all("42", 0, &fr);    /* a bare number needs its terminator, as in QEMU */
	cr_assert_eq(fr.n, 0);
}

Test(framer, stray_closers_are_values_of_their_own)
{
	struct frames fr;

	frame_all("}]:,{}", 0, &fr);
	cr_assert_eq(fr.n, 5);
	cr_assert_str_eq(fr.got[0], "}");
	cr_assert_str_eq(fr.got[3], ",");
	cr_assert_str_eq(fr.got[4], "{}");
}

static char *nested(unsigned depth, const char *inner)
{
	static char buf[4096];
	size_t n = 0;

	for (unsigned i = 0; i < depth; i++)
		buf[n++] = '[';
	n += (size_t)sprintf(buf + n, "%s", inner);
	for (unsigned i = 0; i < depth; i++)
		buf[n++] = ']';
	buf[n] = '\0';
	return buf;
}

Test(framer, depth_cap_reports_once_skips_and_recovers)
{
	struct frames fr;
	char text[4200];

	snprintf(text, sizeof(text), "%s{\"ok\":1}", nested(QMP_DEPTH_MAX, "1"));
	frame_all(text, 0, &fr);
	cr_assert_eq(fr.deep, 0);
	cr_assert_eq(fr.n, 2, "depth %d is allowed", QMP_DEPTH_MAX);

	snprintf(text, sizeof(text), "%s{\"ok\":1}", nested(QMP_DEPTH_MAX + 40, "\"]]]\""));
	for (size_t step = 0; step < 9; step += 4) {
		frame_all(text, step, &fr);
		cr_assert_eq(fr.deep, 1, "step %zu", step);
		cr_assert_eq(fr.n, 1);
		cr_assert_str_eq(fr.got[0], "{\"ok\":1}");
	}
}

Test(framer, size_cap)
{
	static char text[QMP_MSG_MAX + 64];
	struct frames fr;
	size_t n;

	/* exactly QMP_MSG_MAX bytes is allowed */
	n = (size_t)sprintf(text, "{\"id\":\"");
	memset(text + n, 'x', QMP_MSG_MAX - n - 2);
	strcpy(text + QMP_MSG_MAX - 2, "\"}");
	frame_all(text, 4096, &fr);
	cr_assert_eq(fr.big, 0);
	cr_assert_eq(fr.n, 1);
	/* one more byte is not, whether or not the value ever ends */
	text[QMP_MSG_MAX - 2] = 'x';
	strcpy(text + QMP_MSG_MAX - 1, "\"}");
	frame_all(text, 4096, &fr);
	cr_assert_eq(fr.big, 1);
	cr_assert_eq(fr.n, 0);
}

Test(framer, nul_bytes_and_escapes_are_flagged)
{
	struct qmp_framer f;
	struct qmp_frame fr;

	qmp_framer_init(&f);
	cr_assert_eq(qmp_framer_next(&f, "{\"a\":\"x\\u0000\"}", 15, &fr), QMP_FRAME_READY);
	cr_assert(fr.has_nul);
	cr_assert_eq(qmp_framer_next(&f, "{\"a\":\"x\\u0001\"}", 15, &fr), QMP_FRAME_READY);
	cr_assert_not(fr.has_nul);
	cr_assert_eq(qmp_framer_next(&f, "{\"a\":\0}", 7, &fr), QMP_FRAME_READY);
	cr_assert(fr.has_nul);
}

/* ================= output ================= */

Test(json, string_escaping)
{
	struct jbuf b;

	jb_init(&b);
	jb_str(&b, "a\"b\\c\n\x01\x7f" "\xc3\xa9" "\xff" "\xed\xa0\x80" "\xf0\x9f\x98\x80");
	cr_assert_str_eq(b.p, "\"a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9\\ufffd\\ufffd\\ufffd\\ufffd"
			      "\xf0\x9f\x98\x80\"");
	jb_free(&b);
}

Test(json, values_reserialize_exactly)
{
	char err[128];
	yajl_val v = yajl_tree_parse("{\"a\" : [1.50e3, -0, true, null, {\"\\u00e9\":\"\\n\"}]}",
				     err, sizeof(err));
	struct jbuf b;

	cr_assert_not_null(v, "%s", err);
	jb_init(&b);
	cr_assert_eq(json_write_value(&b, v, 8), 0);
	cr_assert_str_eq(b.p, "{\"a\":[1.50e3,-0,true,null,{\"\xc3\xa9\":\"\\n\"}]}");
	jb_reset(&b);
	cr_assert_eq(json_write_value(&b, v, 2), -E2BIG);
	jb_free(&b);
	yajl_tree_free(v);
}

/* ================= sessions without sockets ================= */

static struct qmp_session S;
static struct jbuf cap;
static struct qmp_request relayed[8];
static int nrelayed, relay_result;
static uint32_t tags;
static int relayed_fds[QMP_NETDEV_FDS_MAX];   /* inode numbers of what the last relay carried */
static unsigned nrelayed_fds;

static void cap_write(struct qmp_session *s, const char *p, size_t n)
{
	(void)s;
	jb_raw(&cap, p, n);
}

static int cap_relay(struct qmp_session *s, struct qmp_request *req)
{
	(void)s;
	if (relay_result)
		return relay_result;
	req->tag = ++tags;
	relayed[nrelayed++ % 8] = *req;
	/* the server sends s->fds.taken with the request, then closes them */
	nrelayed_fds = s->fds.ntaken;
	for (unsigned i = 0; i < s->fds.ntaken; i++) {
		struct stat st;

		cr_assert_eq(fstat(s->fds.taken[i], &st), 0);
		relayed_fds[i] = (int)st.st_ino;
	}
	qmp_fds_release_taken(&s->fds);
	return 0;
}

static const struct qmp_session_ops cap_ops = { .write = cap_write, .relay = cap_relay };

/* everything written since the last call */
static const char *take(void)
{
	static char *last;

	free(last);
	last = strdup(cap.len ? cap.p : "");
	jb_reset(&cap);
	return last;
}

static void feed(const char *s)
{
	cr_assert_eq(qmp_session_feed(&S, s, strlen(s)), strlen(s));
}

static void feed_expect(const char *in, const char *out)
{
	feed(in);
	cr_assert_str_eq(take(), out, "input %s", in);
}

static void sess_setup(void)
{
	jb_init(&cap);
	nrelayed = relay_result = 0;
	qmp_session_init(&S, &cap_ops);
	qmp_session_start(&S);
}

static void sess_teardown(void)
{
	qmp_session_exit(&S);
	jb_free(&cap);
}

static void negotiate(void)
{
	take();
	feed_expect("{\"execute\":\"qmp_capabilities\"}", RET_EMPTY);
}

/* answer the last relayed request */
static void core_answers(struct qmp_reply *r)
{
	r->tag = relayed[(nrelayed - 1) % 8].tag;
	r->cmd = relayed[(nrelayed - 1) % 8].cmd;
	qmp_session_reply(&S, r);
}

TestSuite(session, .init = sess_setup, .fini = sess_teardown);

Test(session, greeting_and_negotiation)
{
	cr_assert_str_eq(take(), GREETING);
	feed_expect("{\"execute\":\"query-status\"}",
		    "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"Expecting capabilities "
		    "negotiation with 'qmp_capabilities'\"}}\r\n");
	feed_expect("{\"execute\":\"query-version\",\"id\":\"v\"}",
		    "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"Expecting capabilities "
		    "negotiation with 'qmp_capabilities'\"},\"id\":\"v\"}\r\n");
	feed_expect("{\"execute\":\"foo\"}",
		    "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"The command foo has not "
		    "been found\"}}\r\n");
	cr_assert_eq(nrelayed, 0);
	feed_expect("{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}",
		    GENERIC("Capability 'oob' not available"));
	feed_expect("{\"execute\":\"qmp_capabilities\",\"id\":1}", "{\"return\":{},\"id\":1}\r\n");
	feed_expect("{\"execute\":\"qmp_capabilities\"}",
		    "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"Capabilities negotiation "
		    "is already complete, command ignored\"}}\r\n");
	feed("{\"execute\":\"query-status\"}");
	cr_assert_eq(nrelayed, 1);
	cr_assert_eq(relayed[0].cmd, QMP_CMD_QUERY_STATUS);
}

Test(session, local_queries)
{
	negotiate();
	feed_expect("{\"execute\":\"query-version\"}",
		    "{\"return\":{\"qemu\":{\"micro\":0,\"minor\":0,\"major\":5},\"package\":"
		    "\"bulkhead " BULKHEAD_VERSION "\"}}\r\n");
	feed("{\"execute\":\"query-commands\"}");
	const char *out = take();
	cr_assert(strncmp(out, "{\"return\":[{\"name\":\"qmp_capabilities\"},", 39) == 0, "%s", out);
	const char *names[] = { "query-status", "stop", "cont", "quit", "system_reset",
		"system_powerdown", "query-cpus", "query-cpus-fast", "query-hotpluggable-cpus",
		"blockdev-add", "blockdev-del", "device_add", "device_del", "netdev_add",
		"netdev_del", "balloon", "query-balloon", "query-net-stats", "getfd", "closefd",
		"query-version", "query-name", "query-uuid" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char want[64];

		snprintf(want, sizeof(want), "{\"name\":\"%s\"}", names[i]);
		cr_assert_not_null(strstr(out, want), "%s missing", names[i]);
	}
}

/* -name/-uuid as bulkhead-qmpd's --name/--uuid give them; what qmp_identity_set refuses makes
 * bulkhead-qmpd exit with its usage line, leaving the previous values in place */
Test(session, query_name_and_uuid)
{
	char name[300];

	negotiate();
	feed_expect("{\"execute\":\"query-name\"}", "{\"return\":{}}\r\n");
	feed_expect("{\"execute\":\"query-uuid\"}",
		    "{\"return\":{\"UUID\":\"00000000-0000-0000-0000-000000000000\"}}\r\n");
	cr_assert_eq(qmp_identity_set("vm \"1\"\\ \xc3\xa9", "4f1e2d3c-ABCD-4ef0-9a8b-0123456789ab"), 0);
	feed_expect("{\"execute\":\"query-name\",\"id\":7}",
		    "{\"return\":{\"name\":\"vm \\\"1\\\"\\\\ \xc3\xa9\"},\"id\":7}\r\n");
	feed_expect("{\"execute\":\"query-uuid\"}",
		    "{\"return\":{\"UUID\":\"4f1e2d3c-ABCD-4ef0-9a8b-0123456789ab\"}}\r\n");
	cr_expect_eq(qmp_identity_set("a\nb", ""), -EINVAL, "a control character");
	cr_expect_eq(qmp_identity_set("a\x7f", ""), -EINVAL, "DEL");
	memset(name, 'n', 256);
	name[256] = '\0';
	cr_expect_eq(qmp_identity_set(name, ""), -EINVAL, "256 bytes");
	name[255] = '\0';
	cr_expect_eq(qmp_identity_set(name, ""), 0, "255 bytes");
	cr_expect_eq(qmp_identity_set("", "4f1e2d3c-abcd-4ef0-9a8b-0123456789a"), -EINVAL, "short");
	cr_expect_eq(qmp_identity_set("", "4f1e2d3c-abcd-4ef0-9a8b-0123456789abc"), -EINVAL,
		     "long");
	cr_expect_eq(qmp_identity_set("", "4f1e2d3c-abcd-4ef0-9a8b+0123456789ab"), -EINVAL,
		     "a misplaced dash");
	cr_expect_eq(qmp_identity_set("", "4f1e2d3c-abcd-4ef0-9a8b-0123456789ag"), -EINVAL,
		     "not hex");
	cr_assert_eq(qmp_identity_set("", ""), 0);
	feed_expect("{\"execute\":\"query-name\"}", "{\"return\":{}}\r\n");
}

Test(session, id_is_echoed_as_the_same_value)
{
	negotiate();
	feed_expect("{\"id\":\"abc\",\"execute\":\"query-version\",\"arguments\":{}}",
		    "{\"return\":{\"qemu\":{\"micro\":0,\"minor\":0,\"major\":5},\"package\":"
		    "\"bulkhead " BULKHEAD_VERSION "\"},\"id\":\"abc\"}\r\n");
	feed_expect("{\"execute\":\"nope\",\"id\":{\"n\":[1.50,null,\"\\u00e9\"]}}",
		    "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"The command nope has not "
		    "been found\"},\"id\":{\"n\":[1.50,null,\"\xc3\xa9\"]}}\r\n");
	feed_expect("{\"id\":-7}", "{\"error\":{\"class\":\"GenericError\",\"desc\":\"QMP input "
		    "lacks member 'execute'\"},\"id\":-7}\r\n");
}

Test(session, malformed_input_keeps_the_connection)
{
	const char *out;

	negotiate();
	feed("{\"execute\":}\n");
	out = take();
	cr_assert(!strncmp(out, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"JSON parse "
			   "error, ", 56), "%s", out);
	cr_assert_eq(strstr(out, "\r\n") - out, (long)strlen(out) - 2, "one line: %s", out);
	cr_assert_not(S.dead);
	feed_expect("[1,2]", GENERIC("QMP input must be a JSON object"));
	feed_expect("\"str\"", GENERIC("QMP input must be a JSON object"));
	feed_expect("42 ", GENERIC("QMP input must be a JSON object"));
	feed_expect("{\"execute\":1}", GENERIC("QMP input member 'execute' must be a string"));
	feed_expect("{\"execute\":\"stop\",\"arguments\":[]}",
		    GENERIC("QMP input member 'arguments' must be an object"));
	feed_expect("{\"execute\":\"stop\",\"foo\":1}", GENERIC("QMP input member 'foo' is unexpected"));
	feed_expect("{\"execute\":\"query-version\",\"id\":\"a\\u0000b\"}",
		    GENERIC("JSON parse error, NUL characters are not supported"));
	feed("{\"execute\":\"\xff\"}");
	cr_assert(!strncmp(take(), "{\"error\":{\"class\":\"GenericError\",\"desc\":\"JSON parse", 50));
	cr_assert_eq(nrelayed, 0);
	feed("{\"execute\":\"stop\"}");
	cr_assert_eq(nrelayed, 1, "still usable");
}

Test(session, deep_nesting_is_refused_and_skipped)
{
	char text[4300];

	negotiate();
	snprintf(text, sizeof(text), "{\"execute\":\"query-version\",\"id\":%s}",
		 nested(QMP_DEPTH_MAX - 1, "7"));
	feed(text);
	cr_assert_not_null(strstr(take(), "\"return\""), "depth 32 is fine");
	snprintf(text, sizeof(text), "{\"execute\":\"stop\",\"id\":%s}{\"execute\":\"stop\"}",
		 nested(200, "7"));
	feed_expect(text, GENERIC("JSON parse error, nesting too deep (at most 32 levels)"));
	cr_assert_eq(nrelayed, 1, "the deep one is dropped, the next one runs");
	cr_assert_not(S.dead);
}

Test(session, oversized_message_closes)
{
	static char text[QMP_MSG_MAX + 100];

	negotiate();
	memset(text, ' ', sizeof(text) - 1);
	memcpy(text, "{\"execute\":\"stop\",\"id\":\"", 24);
	memset(text + 24, 'x', QMP_MSG_MAX);
	text[sizeof(text) - 1] = '\0';
	qmp_session_feed(&S, text, strlen(text));
	cr_assert_str_eq(take(), GENERIC("JSON parse error, message too large (at most 65536 bytes)"));
	cr_assert(S.dead);
	cr_assert_eq(nrelayed, 0);
}

struct arg_case {
	const char *args;        /* the command and its arguments */
	const char *desc;        /* the expected GenericError, NULL: relayed */
};

static void run_cases(const struct arg_case *c, size_t n)
{
	char in[8192], want[1024];

	negotiate();
	for (size_t i = 0; i < n; i++) {
		int before = nrelayed;

		snprintf(in, sizeof(in), "{\"execute\":%s}", c[i].args);
		feed(in);
		if (c[i].desc) {
			snprintf(want, sizeof(want), GENERIC("%s"), c[i].desc);
			cr_assert_str_eq(take(), want, "input %s", in);
			cr_assert_eq(nrelayed, before);
		} else {
			cr_assert_str_eq(take(), "", "input %s", in);
			cr_assert_eq(nrelayed, before + 1, "input %s", in);
			struct qmp_reply r = { 0 };
			core_answers(&r);
			take();
		}
	}
}

#define FILE_OK "\"file\":{\"driver\":\"file\",\"filename\":\"/img\"}"

Test(session, blockdev_arguments)
{
	static char long_path[QMP_PATH_MAX + 200];
	const struct arg_case cases[] = {
		{ "\"blockdev-add\",\"arguments\":{" FILE_OK "}", "Parameter 'node-name' is missing" },
		{ "\"blockdev-add\",\"arguments\":{\"node-name\":\"d\"}", "Parameter 'file' is missing" },
		{ "\"blockdev-add\"", "Parameter 'node-name' is missing" },
		{ "\"blockdev-add\",\"arguments\":{\"node-name\":\"d\",\"file\":{\"driver\":\"file\"}}",
		  "Parameter 'file.filename' is missing" },
		{ "\"blockdev-add\",\"arguments\":{\"node-name\":\"d\"," FILE_OK ",\"foo\":1}",
		  "Parameter 'foo' is unexpected" },
		{ "\"blockdev-add\",\"arguments\":{\"node-name\":\"d\",\"file\":{\"driver\":\"file\","
		  "\"filename\":\"/i\",\"x\":1}}", "Parameter 'file.x' is unexpected" },
		{ "\"blockdev-add\",\"arguments\":{\"node-name\":1," FILE_OK "}",
		  "Parameter 'node-name' expects a string" },
		{ "\"blockdev-add\",\"arguments\":{\"node-name\":\"0d\"," FILE_OK "}",
		  "Parameter 'node-name' expects an identifier" },
		{ "\"blockdev-add\",\"arguments\":{\"node-name\":\"d\"," FILE_OK ",\"read-only\":\"yes\"}",
		  "Parameter 'read-only' expects a boolean" },
		{ "\"blockdev-add\",\"arguments\":{\"node-name\":\"d\"," FILE_OK ",\"cache\":true}",
		  "Parameter 'cache' expects an object" },
		{ "\"blockdev-add\",\"arguments\":{\"node-name\":\"d\"," FILE_OK ",\"cache\":{\"direct\":1}}",
		  "Parameter 'cache.direct' expects a boolean" },
		{ "\"blockdev-add\",\"arguments\":{\"node-name\":\"d\",\"file\":{\"driver\":\"nbd\","
		  "\"filename\":\"/i\"}}", "Parameter 'file.driver' expects 'file'" },
		{ "\"blockdev-add\",\"arguments\":{\"node-name\":\"d\",\"file\":{\"driver\":\"file\","
		  "\"filename\":\"\"}}", "Parameter 'file.filename' must not be empty" },
		{ "\"blockdev-add\",\"arguments\":{\"node-name\":\"d\"," FILE_OK ",\"driver\":\"qcow2\"}",
		  "Parameter 'driver' expects 'raw'" },
		{ "\"blockdev-add\",\"arguments\":{\"node-name\":\"d\",\"node-name\":\"e\"," FILE_OK "}",
		  "Parameter 'node-name' is duplicated" },
		{ "\"blockdev-add\",\"arguments\":{\"node-name\":\"d\"," FILE_OK ",\"driver\":\"raw\","
		  "\"cache\":{\"direct\":true,\"no-flush\":false},\"read-only\":true}", NULL },
		{ "\"blockdev-del\",\"arguments\":{}", "Parameter 'node-name' is missing" },
		{ "\"blockdev-del\",\"arguments\":{\"node-name\":\"d\"}", NULL },
		{ long_path, "Parameter 'file.filename' is too long (at most 4095 bytes)" },
	};
	int n = sprintf(long_path, "\"blockdev-add\",\"arguments\":{\"node-name\":\"d\","
			"\"file\":{\"driver\":\"file\",\"filename\":\"");
	memset(long_path + n, 'p', QMP_PATH_MAX);
	strcpy(long_path + n + QMP_PATH_MAX, "\"}}");

	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(session, blockdev_add_request_fields)
{
	negotiate();
	feed("{\"execute\":\"blockdev-add\",\"arguments\":{\"node-name\":\"drive-0\",\"file\":"
	     "{\"driver\":\"file\",\"filename\":\"/path/to/block\"},\"cache\":{\"direct\":true},"
	     "\"read-only\":false}}");
	cr_assert_eq(nrelayed, 1);
	cr_assert_eq(relayed[0].cmd, QMP_CMD_BLOCKDEV_ADD);
	cr_assert_str_eq(relayed[0].u.blockdev_add.node_name, "drive-0");
	cr_assert_str_eq(relayed[0].u.blockdev_add.filename, "/path/to/block");
	cr_assert_eq(relayed[0].u.blockdev_add.direct, 1);
	cr_assert_eq(relayed[0].u.blockdev_add.read_only, 0);
}

Test(session, device_arguments)
{
	char long_id[200];
	const struct arg_case cases[] = {
		{ "\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-mmio\"}",
		  "Parameter 'id' is missing" },
		{ "\"device_add\",\"arguments\":{\"id\":\"d\"}", "Parameter 'driver' is missing" },
		{ "\"device_add\",\"arguments\":{\"id\":\"d\",\"driver\":\"virtio-blk-mmio\",\"addr\":1}",
		  "Parameter 'addr' expects a string" },
		{ "\"device_add\",\"arguments\":{\"id\":\"d\",\"driver\":\"virtio-blk-mmio\",\"addr\":\"0xZ\"}",
		  "Parameter 'addr' expects a slot number such as \\\"0x1\\\"" },
		{ "\"device_add\",\"arguments\":{\"id\":\"d\",\"driver\":\"virtio-blk-mmio\",\"addr\":\"\"}",
		  "Parameter 'addr' expects a slot number such as \\\"0x1\\\"" },
		{ "\"device_add\",\"arguments\":{\"id\":\"d\",\"driver\":\"e1000\"}",
		  "'e1000' is not a valid device model name" },
		{ "\"device_add\",\"arguments\":{\"id\":\"d\",\"driver\":\"virtio-blk-mmio\",\"lun\":0}",
		  "Parameter 'lun' is unexpected" },
		{ "\"device_add\",\"arguments\":{\"id\":\"d\",\"driver\":\"virtio-blk-mmio\",\"netdev\":\"n\"}",
		  "Parameter 'netdev' is unexpected for driver virtio-blk-mmio" },
		{ "\"device_add\",\"arguments\":{\"id\":\"n\",\"driver\":\"virtio-net-mmio\",\"drive\":\"d\"}",
		  "Parameter 'drive' is unexpected for driver virtio-net-mmio" },
		{ "\"device_add\",\"arguments\":{\"id\":\"n\",\"driver\":\"virtio-net-mmio\",\"mac\":\"52:54\"}",
		  "Parameter 'mac' expects a MAC address such as 52:54:00:12:34:56" },
		{ "\"device_add\",\"arguments\":{\"id\":\"n\",\"driver\":\"virtio-net-mmio\","
		  "\"mac\":\"52:54:00:12:34:567\"}", "Parameter 'mac' is too long (at most 17 bytes)" },
		{ "\"device_add\",\"arguments\":{\"id\":\"n\",\"driver\":\"virtio-net-mmio\",\"addr\":\"0x0\","
		  "\"netdev\":\"n\",\"mac\":\"52:54:00:12:34:56\"}", NULL },
		{ "\"device_add\",\"arguments\":{\"id\":\"d\",\"driver\":\"virtio-blk-mmio\",\"addr\":\"0x1\"}",
		  NULL },
		{ long_id, "Parameter 'id' is too long (at most 63 bytes)" },
		{ "\"device_del\"", "Parameter 'id' is missing" },
		{ "\"device_del\",\"arguments\":{\"id\":\"d\",\"x\":1}", "Parameter 'x' is unexpected" },
		{ "\"device_del\",\"arguments\":{\"id\":[]}", "Parameter 'id' expects a string" },
		{ "\"device_del\",\"arguments\":{\"id\":\"d\"}", NULL },
		{ "\"netdev_add\",\"arguments\":{\"id\":\"n\"}",
		  "netdev_add needs exactly one of 'ifname', 'fd' and 'fds'" },
		{ "\"netdev_add\",\"arguments\":{\"id\":\"n\",\"ifname\":\"t\",\"fd\":\"f\"}",
		  "netdev_add needs exactly one of 'ifname', 'fd' and 'fds'" },
		{ "\"netdev_add\",\"arguments\":{\"id\":\"n\",\"fds\":\"a\",\"fd\":\"f\"}",
		  "netdev_add needs exactly one of 'ifname', 'fd' and 'fds'" },
		{ "\"netdev_add\",\"arguments\":{\"id\":\"n\",\"fd\":\"f\"}",
		  "File descriptor named 'f' not found" },
		{ "\"netdev_add\",\"arguments\":{\"id\":\"n\",\"fds\":\":b\"}",
		  "Parameter 'fds' expects distinct fd names, not ''" },
		{ "\"getfd\",\"arguments\":{\"fdname\":\"f\"}",
		  "No file descriptor supplied via SCM_RIGHTS" },
		{ "\"getfd\"", "Parameter 'fdname' is missing" },
		{ "\"closefd\",\"arguments\":{\"fdname\":\"f\"}",
		  "File descriptor named 'f' not found" },
		{ "\"netdev_add\",\"arguments\":{\"id\":\"n\",\"ifname\":\"\"}",
		  "netdev_add needs exactly one of 'ifname', 'fd' and 'fds'" },
		{ "\"netdev_add\",\"arguments\":{\"id\":\"\",\"ifname\":\"t\"}",
		  "Parameter 'id' must not be empty" },
		{ "\"device_add\",\"arguments\":{\"id\":\"d\",\"driver\":\"\"}",
		  "Parameter 'driver' must not be empty" },
		{ "\"netdev_add\",\"arguments\":{\"id\":\"n\",\"ifname\":\"tap0\"}", NULL },
		{ "\"netdev_del\",\"arguments\":{\"id\":\"n\"}", NULL },
	};
	int n = sprintf(long_id, "\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-mmio\",\"id\":\"");
	memset(long_id + n, 'i', QMP_ID_MAX);
	strcpy(long_id + n + QMP_ID_MAX, "\"}");

	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

Test(session, device_add_addr_forms)
{
	negotiate();
	feed("{\"execute\":\"device_add\",\"arguments\":{\"id\":\"drive-0\",\"driver\":"
	     "\"virtio-blk-mmio\",\"addr\":\"0x1\"}}");
	cr_assert_eq(nrelayed, 1);
	cr_assert_eq(relayed[0].cmd, QMP_CMD_DEVICE_ADD);
	cr_assert_str_eq(relayed[0].u.device_add.id, "drive-0");
	cr_assert_str_eq(relayed[0].u.device_add.driver, "virtio-blk-mmio");
	cr_assert_str_eq(relayed[0].u.device_add.drive, "");
	cr_assert_eq(relayed[0].u.device_add.has_addr, 1);
	cr_assert_eq(relayed[0].u.device_add.addr, 1);
	core_answers(&(struct qmp_reply){ 0 });
	feed("{\"execute\":\"device_add\",\"arguments\":{\"id\":\"d\",\"driver\":\"virtio-blk-device\","
	     "\"drive\":\"rootfs\",\"addr\":\"11\",\"bus\":\"b\"}}");
	cr_assert_eq(nrelayed, 2);
	cr_assert_eq(relayed[1].u.device_add.addr, 11);
	cr_assert_str_eq(relayed[1].u.device_add.drive, "rootfs");
	core_answers(&(struct qmp_reply){ 0 });
	feed("{\"execute\":\"device_add\",\"arguments\":{\"id\":\"d\",\"driver\":\"virtio-blk-mmio\"}}");
	cr_assert_eq(relayed[2].u.device_add.has_addr, 0);
}

Test(session, balloon_and_argumentless_commands)
{
	const struct arg_case cases[] = {
		{ "\"balloon\"", "Parameter 'value' is missing" },
		{ "\"balloon\",\"arguments\":{\"value\":-1}", "Parameter 'value' expects a non-negative integer" },
		{ "\"balloon\",\"arguments\":{\"value\":\"1\"}", "Parameter 'value' expects a non-negative integer" },
		{ "\"balloon\",\"arguments\":{\"value\":1.5}", "Parameter 'value' expects a non-negative integer" },
		{ "\"balloon\",\"arguments\":{\"value\":99999999999999999999}",
		  "Parameter 'value' expects a non-negative integer" },
		{ "\"balloon\",\"arguments\":{\"value\":0}", "Parameter 'value' expects a size greater than zero" },
		{ "\"balloon\",\"arguments\":{\"value\":2147483648}", NULL },
		{ "\"query-status\",\"arguments\":{\"a\":1}", "Parameter 'a' is unexpected" },
		{ "\"stop\",\"arguments\":{}", NULL },
		{ "\"cont\"", NULL },
		{ "\"system_reset\"", NULL },
		{ "\"system_powerdown\"", NULL },
		{ "\"query-balloon\"", NULL },
	};

	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
	cr_assert_eq(relayed[0].cmd, QMP_CMD_BALLOON);
	cr_assert_eq(relayed[0].u.balloon_bytes, 2147483648ULL);
}

static void query(const char *cmd, const char *id)
{
	char in[256];

	snprintf(in, sizeof(in), "{\"execute\":\"%s\"%s%s}", cmd, id ? ",\"id\":" : "", id ? id : "");
	feed(in);
	cr_assert_str_eq(take(), "", "nothing before the core answers");
}

Test(session, core_answers_in_the_manual_shapes)
{
	struct qmp_reply r = { 0 };

	negotiate();
	query("query-status", "\"a\"");
	r.u.runstate = QMP_RUN_RUNNING;
	core_answers(&r);
	cr_assert_str_eq(take(), "{\"return\":{\"running\":true,\"singlestep\":false,\"status\":"
				 "\"running\"},\"id\":\"a\"}\r\n");
	query("query-status", NULL);
	r.u.runstate = QMP_RUN_PAUSED;
	core_answers(&r);
	cr_assert_str_eq(take(), "{\"return\":{\"running\":false,\"singlestep\":false,\"status\":"
				 "\"paused\"}}\r\n");

	memset(&r, 0, sizeof(r));
	r.u.cpus.n = 2;
	r.u.cpus.cpu[0] = (struct qmp_cpu_info){ .index = 0, .thread_id = 8439 };
	r.u.cpus.cpu[1] = (struct qmp_cpu_info){ .index = 1, .thread_id = 8440 };
	query("query-cpus", NULL);
	core_answers(&r);
	cr_assert_str_eq(take(), "{\"return\":[{\"CPU\":0,\"arch\":\"x86\",\"current\":true,\"halted\":false,\"props\":{\"core-id\":0,\"socket-id\":0,\"thread-id\":0},\"qom_path\":\"/machine/unattached/device[0]\",\"thread_id\":8439},{\"CPU\":1,\"arch\":\"x86\",\"current\":true,\"halted\":false,\"props\":{\"core-id\":0,\"socket-id\":1,\"thread-id\":0},\"qom_path\":\"/machine/unattached/device[1]\",\"thread_id\":8440}]}\r\n");
	query("query-hotpluggable-cpus", NULL);
	r.cmd = QMP_CMD_QUERY_HOTPLUGGABLE_CPUS;
	core_answers(&r);
	cr_assert_str_eq(take(), "{\"return\":[{\"props\":{\"core-id\":0,\"socket-id\":0,\"thread-id\":0},\"qom-path\":\"/machine/unattached/device[0]\",\"type\":\"host-x86-cpu\",\"vcpus-count\":1},{\"props\":{\"core-id\":0,\"socket-id\":1,\"thread-id\":0},\"qom-path\":\"/machine/unattached/device[1]\",\"type\":\"host-x86-cpu\",\"vcpus-count\":1}]}\r\n");
	r.u.cpus.n = 1;
	r.u.cpus.cpu[0].halted = 1;
	query("query-cpus-fast", "7");
	core_answers(&r);
	cr_assert_str_eq(take(), "{\"return\":[{\"arch\":\"x86\",\"cpu-index\":0,\"props\":{\"core-id\":0,\"socket-id\":0,\"thread-id\":0},\"qom-path\":\"/machine/unattached/device[0]\",\"target\":\"x86_64\",\"thread-id\":8439}],\"id\":7}\r\n");

	memset(&r, 0, sizeof(r));
	r.u.balloon_actual = 2147483648ULL;
	query("query-balloon", NULL);
	core_answers(&r);
	cr_assert_str_eq(take(), "{\"return\":{\"actual\":2147483648}}\r\n");
}

/* bulkhead's own query: per NIC the sums, then each queue pair; a NIC without counters says
 * so and shows none */
Test(session, net_stats_sum_the_queue_pairs)
{
	struct qmp_reply *r = calloc(1, sizeof(*r));
	struct qmp_nic_stats *n;

	cr_assert_not_null(r);
	negotiate();
	r->u.nics.n = 2;
	n = &r->u.nics.nic[0];
	*n = (struct qmp_nic_stats){ .index = 1, .id = "net-1", .netdev = "tap-1",
				     .mac = { 0x52, 0x54, 0, 0xab, 0xcd, 0xef }, .counted = 1,
				     .npairs = 2, .starts = 3 };
	n->pair[0] = (struct net_stats_pair){ 1, 100, 2, 3, 300, 4, 5, 0 };
	n->pair[1] = (struct net_stats_pair){ 10, 1000, 20, 30, 3000, 40, 50, 0 };
	n->pair[2].rx_packets = 999;    /* past npairs: not shown, not summed */
	r->u.nics.nic[1] = (struct qmp_nic_stats){ .index = 0, .netdev = "ext" };
	query("query-net-stats", "1");
	core_answers(r);
	cr_assert_str_eq(take(), "{\"return\":[{\"addr\":\"0x1\",\"id\":\"net-1\",\"netdev\":"
		"\"tap-1\",\"mac\":\"52:54:00:ab:cd:ef\",\"counted\":true,\"worker-starts\":3,"
		"\"rx-packets\":11,\"rx-bytes\":1100,\"rx-dropped\":22,\"tx-packets\":33,"
		"\"tx-bytes\":3300,\"tx-spoofed\":44,\"tx-errors\":55,\"queues\":["
		"{\"rx-packets\":1,\"rx-bytes\":100,\"rx-dropped\":2,\"tx-packets\":3,"
		"\"tx-bytes\":300,\"tx-spoofed\":4,\"tx-errors\":5},"
		"{\"rx-packets\":10,\"rx-bytes\":1000,\"rx-dropped\":20,\"tx-packets\":30,"
		"\"tx-bytes\":3000,\"tx-spoofed\":40,\"tx-errors\":50}]},"
		"{\"addr\":\"0x0\",\"id\":\"\",\"netdev\":\"ext\",\"mac\":\"00:00:00:00:00:00\","
		"\"counted\":false}],\"id\":1}\r\n");
	free(r);
}

static int inode(int fd)
{
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	return (int)st.st_ino;
}

/* QEMU's getfd: fds that came with the input get names, netdev_add "fds" takes them along to
 * the core (consumed: a second use fails), closefd drops one; a client holds at most
 * QMP_FDS_MAX, and what is past that is closed as it arrives */
Test(session, getfd_closefd_and_netdev_add_fds)
{
	int p[2], q[2], flood[QMP_FDS_MAX + 2], ino_p, ino_q;

	negotiate();
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(pipe(q), 0);
	ino_p = inode(p[0]);
	ino_q = inode(q[0]);
	qmp_session_received_fds(&S, p, 2);
	feed_expect("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"tapq0\"}}", RET_EMPTY);
	feed_expect("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"tapq1\"}}", RET_EMPTY);
	/* the same name again: the old fd is closed and replaced */
	qmp_session_received_fds(&S, q, 1);
	feed_expect("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"tapq1\"}}", RET_EMPTY);
	cr_assert_eq(fcntl(p[1], F_GETFD), -1, "the replaced fd was closed");
	feed("{\"execute\":\"netdev_add\",\"arguments\":{\"id\":\"net-0\",\"fds\":\"tapq1:tapq0\"}}");
	cr_assert_eq(nrelayed, 1);
	cr_assert_eq(relayed[0].cmd, QMP_CMD_NETDEV_ADD);
	cr_assert_str_eq(relayed[0].u.netdev_add.ifname, "");
	cr_assert_eq(relayed[0].u.netdev_add.nfds, 2);
	cr_assert_eq(nrelayed_fds, 2);
	cr_assert_eq(relayed_fds[0], ino_q, "in the order the names were given");
	cr_assert_eq(relayed_fds[1], ino_p);
	cr_assert_eq(fcntl(q[0], F_GETFD), -1, "sent, and closed in qmpd");
	core_answers(&(struct qmp_reply){ 0 });
	cr_assert_str_eq(take(), RET_EMPTY);
	feed_expect("{\"execute\":\"closefd\",\"arguments\":{\"fdname\":\"tapq0\"}}",
		    GENERIC("File descriptor named 'tapq0' not found"));
	close(q[1]);
	/* a flood: QMP_FDS_MAX are kept, the rest closed at once */
	for (unsigned i = 0; i < QMP_FDS_MAX + 2; i++)
		flood[i] = dup(0);
	qmp_session_received_fds(&S, flood, QMP_FDS_MAX + 2);
	cr_assert_eq(fcntl(flood[QMP_FDS_MAX], F_GETFD), -1);
	cr_assert_eq(fcntl(flood[QMP_FDS_MAX + 1], F_GETFD), -1);
	cr_assert_geq(fcntl(flood[0], F_GETFD), 0);
	for (unsigned i = 0; i < QMP_FDS_MAX; i++) {
		char in[128];

		snprintf(in, sizeof(in), "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"f%u\"}}", i);
		feed_expect(in, RET_EMPTY);
	}
	feed_expect("{\"execute\":\"netdev_add\",\"arguments\":{\"id\":\"n\",\"fds\":"
		    "\"f0:f1:f2:f3:f4:f5:f6:f7:f0\"}}",
		    GENERIC("Parameter 'fds' names more than 8 fds"));
	feed_expect("{\"execute\":\"netdev_add\",\"arguments\":{\"id\":\"n\",\"fds\":\"f0:f0\"}}",
		    GENERIC("Parameter 'fds' expects distinct fd names, not 'f0'"));
	feed_expect("{\"execute\":\"closefd\",\"arguments\":{\"fdname\":\"f3\"}}", RET_EMPTY);
	cr_assert_eq(fcntl(flood[3], F_GETFD), -1, "closefd closed it");
	/* the session's end closes what it still holds */
	qmp_session_exit(&S);
	cr_assert_eq(fcntl(flood[0], F_GETFD), -1);
	qmp_session_init(&S, &cap_ops);
}

Test(session, core_errors_carry_their_class)
{
	struct qmp_reply r = { .error = QMP_ERR_DEVICE_NOT_FOUND };

	negotiate();
	strcpy(r.desc, "Device 'drive-9' not found");
	feed("{\"execute\":\"device_del\",\"arguments\":{\"id\":\"drive-9\"},\"id\":3}");
	core_answers(&r);
	cr_assert_str_eq(take(), "{\"error\":{\"class\":\"DeviceNotFound\",\"desc\":\"Device "
				 "'drive-9' not found\"},\"id\":3}\r\n");
	r.error = QMP_ERR_DEVICE_NOT_ACTIVE;
	strcpy(r.desc, "No balloon device has been activated");
	query("query-balloon", NULL);
	core_answers(&r);
	cr_assert_str_eq(take(), "{\"error\":{\"class\":\"DeviceNotActive\",\"desc\":\"No balloon "
				 "device has been activated\"}}\r\n");
	r.error = QMP_ERR_GENERIC;
	strcpy(r.desc, "slot \"busy\"\n");
	query("stop", NULL);
	core_answers(&r);
	cr_assert_str_eq(take(), GENERIC("slot \\\"busy\\\"\\n"));
}

Test(session, replies_stay_in_order_while_the_core_works)
{
	struct qmp_reply r = { 0 };

	negotiate();
	feed("{\"execute\":\"stop\",\"id\":1}{\"execute\":\"query-version\",\"id\":2}"
	     "{\"execute\":\"bad\",\"id\":3}{\"execute\":\"cont\",\"id\":4}{\"execute\":\"qu");
	cr_assert_eq(nrelayed, 1);
	cr_assert_str_eq(take(), "");
	cr_assert_not(qmp_session_wants_input(&S), "input waits while a request is at the core");
	/* a stale or foreign answer changes nothing */
	qmp_session_reply(&S, &(struct qmp_reply){ .tag = 999, .cmd = QMP_CMD_STOP });
	cr_assert_str_eq(take(), "");
	core_answers(&r);
	cr_assert_str_eq(take(), "{\"return\":{},\"id\":1}\r\n"
		"{\"return\":{\"qemu\":{\"micro\":0,\"minor\":0,\"major\":5},\"package\":\"bulkhead "
		BULKHEAD_VERSION "\"},\"id\":2}\r\n"
		"{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"The command bad has not been "
		"found\"},\"id\":3}\r\n");
	cr_assert_eq(nrelayed, 2);
	cr_assert_eq(relayed[1].cmd, QMP_CMD_CONT);
	core_answers(&r);
	cr_assert_str_eq(take(), "{\"return\":{},\"id\":4}\r\n");
	cr_assert(qmp_session_wants_input(&S));
	feed("it\"}");
	cr_assert_eq(relayed[2].cmd, QMP_CMD_QUIT, "the rest of a split message completes it");
}

Test(session, mismatched_reply_and_unreachable_core)
{
	negotiate();
	query("stop", "1");
	qmp_session_reply(&S, &(struct qmp_reply){ .tag = relayed[0].tag, .cmd = QMP_CMD_CONT });
	cr_assert_str_eq(take(), "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Internal error: "
				 "mismatched reply\"},\"id\":1}\r\n");
	relay_result = -EPIPE;
	feed_expect("{\"execute\":\"stop\"}", GENERIC("The VM is not reachable"));
	cr_assert(qmp_session_wants_input(&S));
}

Test(events, manual_shapes)
{
	struct qmp_event e = { .kind = QMP_EV_STOP, .seconds = 1583908726, .microseconds = 162739 };
	struct jbuf b;

	jb_init(&b);
	qmp_format_event(&b, &e);
	cr_assert_str_eq(b.p, "{\"event\":\"STOP\",\"data\":{},\"timestamp\":{\"seconds\":1583908726,"
			      "\"microseconds\":162739}}\r\n");
	jb_reset(&b);
	e = (struct qmp_event){ .kind = QMP_EV_SHUTDOWN, .seconds = 1590563776,
				.microseconds = 519808 };
	strcpy(e.reason, "host-qmp-quit");
	qmp_format_event(&b, &e);
	cr_assert_str_eq(b.p, "{\"event\":\"SHUTDOWN\",\"data\":{\"guest\":false,\"reason\":"
			      "\"host-qmp-quit\"},\"timestamp\":{\"seconds\":1590563776,"
			      "\"microseconds\":519808}}\r\n");
	jb_reset(&b);
	e = (struct qmp_event){ .kind = QMP_EV_DEVICE_DELETED, .seconds = 1598513162,
				.microseconds = 367129 };
	strcpy(e.device, "drive-0");
	qmp_format_event(&b, &e);
	cr_assert_str_eq(b.p, "{\"event\":\"DEVICE_DELETED\",\"data\":{\"device\":\"drive-0\","
			      "\"path\":\"drive-0\"},\"timestamp\":{\"seconds\":1598513162,"
			      "\"microseconds\":367129}}\r\n");
	jb_reset(&b);
	e = (struct qmp_event){ .kind = QMP_EV_RESET, .guest = 1, .seconds = 5 };
	qmp_format_event(&b, &e);
	cr_assert_str_eq(b.p, "{\"event\":\"RESET\",\"data\":{\"guest\":true},\"timestamp\":"
			      "{\"seconds\":5,\"microseconds\":0}}\r\n");
	jb_reset(&b);
	e = (struct qmp_event){ .kind = QMP_EV_BALLOON_CHANGE, .actual = 1073741824, .seconds = 1 };
	qmp_format_event(&b, &e);
	cr_assert_str_eq(b.p, "{\"event\":\"BALLOON_CHANGE\",\"data\":{\"actual\":1073741824},"
			      "\"timestamp\":{\"seconds\":1,\"microseconds\":0}}\r\n");
	jb_reset(&b);
	e = (struct qmp_event){ .kind = QMP_EV_RESUME, .seconds = 1583908853, .microseconds = 411394 };
	qmp_format_event(&b, &e);
	cr_assert_str_eq(b.p, "{\"event\":\"RESUME\",\"data\":{},\"timestamp\":{\"seconds\":1583908853,"
			      "\"microseconds\":411394}}\r\n");
	jb_free(&b);
}

