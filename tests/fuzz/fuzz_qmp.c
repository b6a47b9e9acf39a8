/* Fuzz qmpd's input path: arbitrary bytes as one client's stream, cut into reads of varying
 * size, through framing, yajl, the envelope and every command's argument validation, with
 * descriptors passed ahead of the bytes (getfd, closefd, netdev_add "fd"/"fds"). A fake core
 * answers each relayed request. Oracles beyond "no crash": every message qmpd emits is one
 * valid JSON object ending in "\r\n", every request it relays passes the core's own decoder
 * with exactly the fds it takes along (qmpd must never send what the core would refuse), and
 * no descriptor outlives the session.
 *
 * Input: byte 0 bits 0-5 the read size, bits 6-7 descriptors the client passes first; the
 * rest is the stream. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "ipc_qmp.h"
#include "session.h"

static uint32_t tag;
static struct qmp_request last;

static void check_output(struct qmp_session *s, const char *p, size_t n)
{
	char *copy;
	yajl_val v;

	(void)s;
	if (n < 3 || p[n - 2] != '\r' || p[n - 1] != '\n')
		abort();
	copy = malloc(n + 1);
	if (!copy)
		abort();
	memcpy(copy, p, n);
	copy[n] = '\0';
	v = yajl_tree_parse(copy, NULL, 0);
	if (!YAJL_IS_OBJECT(v))
		abort();
	yajl_tree_free(v);
	free(copy);
}

static int relay(struct qmp_session *s, struct qmp_request *req)
{
	struct ipc_msg m = { .hdr = { IPC_QMP_REQUEST, sizeof(*req) } };
	struct qmp_request back;

	req->tag = ++tag;
	memcpy(m.payload, req, sizeof(*req));
	/* the message carries what the session took for it, as server.c sends it */
	m.nfds = s->fds.ntaken;
	memcpy(m.fds, s->fds.taken, sizeof(int) * s->fds.ntaken);
	if (ipc_qmp_request_decode(&m, &back) != 0)
		abort();
	qmp_fds_release_taken(&s->fds);
	last = *req;
	return 0;
}

static const struct qmp_session_ops ops = { .write = check_output, .relay = relay };

/* what a core might answer: success with data for the request's command, or an error */
static void answer(struct qmp_session *s, unsigned variant)
{
	static struct qmp_reply r;

	memset(&r, 0, sizeof(r));
	r.tag = last.tag;
	r.cmd = last.cmd;
	if (variant % 3 == 2) {
		r.error = QMP_ERR_DEVICE_NOT_FOUND;
		strcpy(r.desc, "Device 'x\" \xff' not found");
	} else {
		r.u.cpus.n = 1 + variant % 4;
		for (uint32_t i = 0; i < r.u.cpus.n; i++)
			r.u.cpus.cpu[i].index = i;
		if (r.cmd == QMP_CMD_QUERY_STATUS)
			r.u.runstate = QMP_RUN_RUNNING + variant % 3;
	}
	qmp_session_reply(s, &r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int devnull = -1;
	struct qmp_session s;
	size_t off = 0, chunk;
	unsigned rounds = 0;
	int fds[3], before;

	if (size < 1)
		return 0;
	if (devnull < 0 && (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		abort();
	/* a -name that needs escaping, for query-name's output check */
	if (qmp_identity_set("vm \"\\\t", "") != -EINVAL ||
	    qmp_identity_set("vm \"0\"\\ \xc3\xa9/", "4f1e2d3c-abcd-4ef0-9a8b-0123456789ab") < 0)
		abort();
	before = fcntl(devnull, F_DUPFD, 0);
	close(before);
	qmp_session_init(&s, &ops);
	qmp_session_start(&s);
	for (unsigned i = 0; i < (unsigned)data[0] >> 6; i++)
		fds[i] = fcntl(devnull, F_DUPFD_CLOEXEC, 0);
	qmp_session_received_fds(&s, fds, (unsigned)data[0] >> 6);
	/* the first byte picks the read size, so values straddle reads in many ways */
	chunk = 1 + (data[0] & 63) % 61;
	data++;
	size--;
	while (off < size && !s.dead && rounds++ < 100000) {
		size_t n = size - off < chunk ? size - off : chunk;

		off += qmp_session_feed(&s, (const char *)data + off, n);
		while (s.waiting && !s.dead)
			answer(&s, (unsigned)(off + tag));
	}
	qmp_session_exit(&s);
	/* the session closed every descriptor the client gave it */
	if (fcntl(devnull, F_DUPFD, 0) != before)
		abort();
	close(before);
	return 0;
}

static const char *const seeds[] = {
	"{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-status\",\"id\":1}\n",
	"{\"execute\":\"qmp_capabilities\"}{\"execute\":\"blockdev-add\",\"arguments\":"
	"{\"node-name\":\"drive-0\",\"file\":{\"driver\":\"file\",\"filename\":\"/a\"},"
	"\"cache\":{\"direct\":true},\"read-only\":false}}",
	"{\"execute\":\"qmp_capabilities\"}{\"execute\":\"device_add\",\"arguments\":{\"id\":"
	"\"drive-0\",\"driver\":\"virtio-blk-mmio\",\"addr\":\"0x1\"},\"id\":[1,{\"a\":null}]}",
	"{\"execute\":\"qmp_capabilities\"}{\"execute\":\"device_add\",\"arguments\":{\"id\":"
	"\"net-0\",\"driver\":\"virtio-net-mmio\",\"addr\":\"0x0\",\"mac\":\"52:54:00:12:34:56\"}}",
	"{\"execute\":\"qmp_capabilities\"}{\"execute\":\"balloon\",\"arguments\":{\"value\":"
	"2147483648}}{\"execute\":\"query-cpus\"}{\"execute\":\"query-cpus-fast\"}",
	"{\"execute\":\"qmp_capabilities\"}{\"execute\":\"netdev_add\",\"arguments\":{\"id\":"
	"\"net-0\",\"ifname\":\"tap0\"}}{\"execute\":\"device_del\",\"arguments\":{\"id\":\"a\"}}",
	"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]] {\"execute\":\"x\"}",
	"{\"execute\":\"qmp_capabilities\"}{\"execute\":\"netdev_add\",\"arguments\":{\"id\":"
	"\"n\",\"ifname\":\"\"}}{\"execute\":\"blockdev-add\",\"arguments\":{\"node-name\":"
	"\"d\",\"file\":{\"driver\":\"file\",\"filename\":\"\"}}}",
	"{\"execute\":\"qmp_capabilities\",\"id\":\"\\u00e9\\\"\"} 42 \"s\" } ] , {\"id\":1e3}",
};

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	/* i / 3: with i % 9 the strings at 2, 5 and 8 would always fall on the random third */
	const char *s = seeds[(i / 3) % (sizeof(seeds) / sizeof(seeds[0]))];
	size_t n = strlen(s);

	if (i % 3 == 2 || cap < n + 1)
		return 0;
	buf[0] = (uint8_t)(i / 3);
	memcpy(buf + 1, s, n);
	return n + 1;
}
