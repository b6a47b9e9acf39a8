/* qmpd's server over real sockets: the test plays the supervisor (it makes the listening
 * socket, in the abstract namespace so no file is left behind), the clients and the core (the
 * other end of a SOCK_SEQPACKET pair); the server runs its libevent loop in a thread, and the
 * last tests run the bulkhead-qmpd binary itself. Every wait has a 10 s poll limit that only
 * turns a hang into a failure; nothing asserts on timing. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "bulkhead-config.h"
#include "ipc_qmp.h"
#include "server.h"

#define GREETING "{\"QMP\":{\"version\":{\"qemu\":{\"micro\":0,\"minor\":0,\"major\":5}," \
		 "\"package\":\"bulkhead " BULKHEAD_VERSION "\"},\"capabilities\":[]}}\r\n"
#define RET_EMPTY "{\"return\":{}}\r\n"
#define WAIT_MS 10000

static struct {
	int lfd, core, srv_core;
	struct sockaddr_un addr;
	socklen_t alen;
	struct event_base *base;
	struct qmpd_server *srv;
	pthread_t th;
	int result;
} F;

static void *serve(void *arg)
{
	(void)arg;
	F.result = qmpd_server_run(F.srv);
	return NULL;
}

static void make_listener(void)
{
	static unsigned seq;

	F.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(F.lfd, 0);
	memset(&F.addr, 0, sizeof(F.addr));
	F.addr.sun_family = AF_UNIX;
	snprintf(F.addr.sun_path + 1, sizeof(F.addr.sun_path) - 1, "bulkhead-qmpd-test-%d-%u",
		 (int)getpid(), seq++);
	F.alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			     strlen(F.addr.sun_path + 1));
	cr_assert_eq(bind(F.lfd, (struct sockaddr *)&F.addr, F.alen), 0);
	cr_assert_eq(listen(F.lfd, 256), 0);
}

static void make_core_pair(void)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	F.core = sv[0];
	F.srv_core = sv[1];
}

static void start(uid_t allowed)
{
	signal(SIGPIPE, SIG_IGN);
	make_listener();
	make_core_pair();
	F.base = event_base_new();
	cr_assert_not_null(F.base);
	F.srv = qmpd_server_new(F.base, F.lfd, F.srv_core, allowed);
	cr_assert_not_null(F.srv);
	cr_assert_eq(pthread_create(&F.th, NULL, serve, NULL), 0);
}

/* the core goes away: the server must end; returns its result */
static int finish(void)
{
	close(F.core);
	pthread_join(F.th, NULL);
	qmpd_server_free(F.srv);
	event_base_free(F.base);
	return F.result;
}

static void wait_fd(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };

	cr_assert_eq(poll(&p, 1, WAIT_MS), 1, "fd %d did not become ready", fd);
}

/* ---- a client ---- */

static int cl_connect(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&F.addr, F.alen), 0);
	return fd;
}

static void cl_send(int fd, const char *s)
{
	cr_assert_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* one message: everything up to and including "\r\n"; NULL at EOF */
static const char *cl_line(int fd)
{
	static char buf[65536];
	size_t n = 0;

	while (n < sizeof(buf) - 1) {
		ssize_t r;

		wait_fd(fd, POLLIN);
		r = recv(fd, buf + n, 1, 0);
		if (r == 0 && n == 0)
			return NULL;
		cr_assert_eq(r, 1, "recv: %s", r < 0 ? strerror(errno) : "EOF mid-line");
		if (buf[n++] == '\n' && n > 1 && buf[n - 2] == '\r')
			break;
	}
	buf[n] = '\0';
	return buf;
}

static void cl_expect(int fd, const char *want)
{
	const char *got = cl_line(fd);

	cr_assert_not_null(got, "EOF, wanted %s", want);
	cr_assert_str_eq(got, want);
}

static void cl_expect_eof(int fd)
{
	char c;
	ssize_t r;

	wait_fd(fd, POLLIN);
	r = recv(fd, &c, 1, 0);
	cr_assert(r == 0 || (r < 0 && errno == ECONNRESET), "expected EOF, got %zd", r);
}

static int cl_open(void)
{
	int fd = cl_connect();

	cl_expect(fd, GREETING);
	cl_send(fd, "{\"execute\":\"qmp_capabilities\"}\n");
	cl_expect(fd, RET_EMPTY);
	return fd;
}

/* ---- the core ---- */

static void core_recv(struct qmp_request *r)
{
	static const struct ipc_peer qmpd_peer = { "qmpd", 1u << IPC_QMP_REQUEST };
	struct ipc_msg m;

	wait_fd(F.core, POLLIN);
	cr_assert_eq(ipc_recv(F.core, &qmpd_peer, &m), 1);
	cr_assert_eq(ipc_qmp_request_decode(&m, r), 0);
}

static void core_reply(const struct qmp_request *q, struct qmp_reply *r)
{
	r->tag = q->tag;
	r->cmd = q->cmd;
	cr_assert_eq(ipc_qmp_reply_send(F.core, r), 0);
}

static void core_event(uint32_t kind, const char *reason)
{
	struct qmp_event e = { .kind = kind, .seconds = 1583908726, .microseconds = 162739 };

	if (reason)
		strcpy(e.reason, reason);
	cr_assert_eq(ipc_qmp_event_send(F.core, &e), 0);
}

/* one command relayed to the core and its answer, with an event first when ev != 0 */
static void round_trip(int fd, const char *cmd, uint32_t want, uint32_t ev, const char *reason,
		       struct qmp_reply *r)
{
	struct qmp_request q;

	cl_send(fd, cmd);
	core_recv(&q);
	cr_assert_eq(q.cmd, want);
	if (ev)
		core_event(ev, reason);
	core_reply(&q, r);
}

#define TS "\"timestamp\":{\"seconds\":1583908726,\"microseconds\":162739}}\r\n"

Test(server, manual_stop_status_cont_quit)
{
	struct qmp_reply r = { 0 };
	int fd;

	start(getuid());
	fd = cl_open();
	round_trip(fd, "{\"execute\":\"stop\"}", QMP_CMD_STOP, QMP_EV_STOP, NULL, &r);
	cl_expect(fd, "{\"event\":\"STOP\",\"data\":{}," TS);
	cl_expect(fd, RET_EMPTY);
	r.u.runstate = QMP_RUN_PAUSED;
	round_trip(fd, "{ \"execute\": \"query-status\" }", QMP_CMD_QUERY_STATUS, 0, NULL, &r);
	cl_expect(fd, "{\"return\":{\"running\":false,\"singlestep\":false,\"status\":\"paused\"}}\r\n");
	round_trip(fd, "{\"execute\":\"cont\"}", QMP_CMD_CONT, QMP_EV_RESUME, NULL, &r);
	cl_expect(fd, "{\"event\":\"RESUME\",\"data\":{}," TS);
	cl_expect(fd, RET_EMPTY);
	r.u.runstate = QMP_RUN_RUNNING;
	round_trip(fd, "{ \"execute\": \"query-status\" }", QMP_CMD_QUERY_STATUS, 0, NULL, &r);
	cl_expect(fd, "{\"return\":{\"running\":true,\"singlestep\":false,\"status\":\"running\"}}\r\n");
	round_trip(fd, "{\"execute\":\"quit\"}", QMP_CMD_QUIT, QMP_EV_SHUTDOWN, "host-qmp-quit", &r);
	cl_expect(fd, "{\"event\":\"SHUTDOWN\",\"data\":{\"guest\":false,\"reason\":\"host-qmp-quit\"}," TS);
	cl_expect(fd, RET_EMPTY);
	/* the VM ends: the core closes, qmpd stops and its clients see EOF */
	cr_assert_eq(finish(), 0);
	cl_expect_eof(fd);
	close(fd);
}

Test(server, events_reach_only_negotiated_clients)
{
	int a, b, c;

	start(getuid());
	a = cl_open();
	b = cl_connect();
	cl_expect(b, GREETING);
	c = cl_open();
	core_event(QMP_EV_POWERDOWN, NULL);
	cl_expect(a, "{\"event\":\"POWERDOWN\",\"data\":{}," TS);
	cl_expect(c, "{\"event\":\"POWERDOWN\",\"data\":{}," TS);
	/* b's next line is the answer to its own command, not the event */
	cl_send(b, "{\"execute\":\"query-status\"}");
	cl_expect(b, "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"Expecting capabilities "
		     "negotiation with 'qmp_capabilities'\"}}\r\n");
	cr_assert_eq(finish(), 0);
	close(a);
	close(b);
	close(c);
}

Test(server, sixty_four_clients_with_a_slow_core)
{
	enum { N = 64 };
	int fd[N], small = 4096;
	struct qmp_request q;
	struct qmp_reply r = { .u.runstate = QMP_RUN_RUNNING };
	char cmd[96], want[160];

	start(getuid());
	/* a tiny send buffer toward the core: most requests must wait in qmpd's queue */
	cr_assert_eq(setsockopt(F.srv_core, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	for (int i = 0; i < N; i++)
		fd[i] = cl_open();
	for (int i = 0; i < N; i++) {
		snprintf(cmd, sizeof(cmd), "{\"execute\":\"query-status\",\"id\":%d}", i);
		cl_send(fd[i], cmd);
	}
	for (int i = 0; i < N; i++) {
		core_recv(&q);
		cr_assert_eq(q.cmd, QMP_CMD_QUERY_STATUS);
		core_reply(&q, &r);
	}
	for (int i = 0; i < N; i++) {
		snprintf(want, sizeof(want), "{\"return\":{\"running\":true,\"singlestep\":false,"
			 "\"status\":\"running\"},\"id\":%d}\r\n", i);
		cl_expect(fd[i], want);
	}
	cr_assert_eq(finish(), 0);
	for (int i = 0; i < N; i++)
		close(fd[i]);
}

Test(server, client_that_never_reads_is_disconnected)
{
	static const char cmd[] = "{\"execute\":\"query-version\"}";
	size_t sent = 0, got = 0;
	char buf[65536];
	int fd, other;

	start(getuid());
	fd = cl_open();
	other = cl_open();
	/* replies are ~3x the requests: qmpd's output for fd passes its cap long before 8 MiB */
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (sent < 8u * 1024 * 1024) {
		ssize_t w = send(fd, cmd, sizeof(cmd) - 1, MSG_NOSIGNAL);

		if (w < 0 && errno == EAGAIN) {
			wait_fd(fd, POLLOUT | POLLHUP);
			continue;
		}
		if (w < 0)
			break;      /* EPIPE / ECONNRESET: qmpd closed us */
		sent += (size_t)w;
	}
	cr_assert_lt(sent, 8u * 1024 * 1024, "qmpd never closed the connection");
	/* what we did receive is bounded by qmpd's cap plus the kernel's buffers */
	for (;;) {
		ssize_t n;

		wait_fd(fd, POLLIN);
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	cr_assert_lt(got, QMPD_OUT_MAX + 4u * 1024 * 1024);
	/* the others are unaffected */
	cl_send(other, "{\"execute\":\"query-version\",\"id\":1}");
	cr_assert_not_null(strstr(cl_line(other), "\"id\":1}"));
	cr_assert_eq(finish(), 0);
	close(fd);
	close(other);
}

Test(server, oversized_message_then_disconnect_others_fine)
{
	static char big[70000];
	int fd, other;

	start(getuid());
	fd = cl_open();
	other = cl_open();
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "{\"execute\":\"stop\",\"id\":\"", 24);
	cl_send(fd, big);
	cl_expect(fd, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"JSON parse error, message "
		      "too large (at most 65536 bytes)\"}}\r\n");
	cl_expect_eof(fd);
	/* malformed input on another client gets an error and the connection stays usable */
	cl_send(other, "{\"execute\" \"stop\"}\n");
	cr_assert_not_null(strstr(cl_line(other), "JSON parse error"));
	cl_send(other, "{\"execute\":\"query-version\",\"id\":2}");
	cr_assert_not_null(strstr(cl_line(other), "\"id\":2}"));
	cr_assert_eq(finish(), 0);
	close(fd);
	close(other);
}

Test(server, half_closed_client_still_gets_its_answer)
{
	struct qmp_request q;
	struct qmp_reply r = { .u.runstate = QMP_RUN_RUNNING };
	int fd;

	start(getuid());
	fd = cl_open();
	/* what `socat` does with a here-string: send, shut down the sending side, read */
	cl_send(fd, "{\"execute\":\"query-status\"}\n");
	shutdown(fd, SHUT_WR);
	core_recv(&q);
	core_reply(&q, &r);
	cl_expect(fd, "{\"return\":{\"running\":true,\"singlestep\":false,\"status\":\"running\"}}\r\n");
	cl_expect_eof(fd);
	cr_assert_eq(finish(), 0);
	close(fd);
}

Test(server, out_of_fds_then_a_client_leaves)
{
	struct rlimit rl;
	int c1, c2, s3, lowest;

	start(getuid());
	c1 = cl_open();
	c2 = cl_connect();
	cl_expect(c2, GREETING);
	s3 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s3, 0);
	/* the process (server thread included) may open no fd more: c3's accept fails */
	lowest = dup(0);
	close(lowest);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = (rlim_t)lowest;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_assert_eq(connect(s3, (struct sockaddr *)&F.addr, F.alen), 0);
	cl_send(c1, "{\"execute\":\"query-version\",\"id\":1}");
	cr_assert_not_null(strstr(cl_line(c1), "\"id\":1}"), "qmpd still serves its clients");
	close(c2);
	/* c2's server side is freed: s3 is accepted into an fd now free */
	cl_expect(s3, GREETING);
	cr_assert_eq(finish(), 0);
	close(c1);
	close(s3);
}

/* in a child with uid `as`: 0 when qmpd greeted us, 1 when it closed at once */
static int connect_as(uid_t as)
{
	pid_t pid = fork();
	int st;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char buf[16];
		int fd;
		ssize_t n;

		if (setresgid(as, as, as) || setresuid(as, as, as))
			_exit(3);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&F.addr, F.alen) < 0)
			_exit(4);
		n = recv(fd, buf, sizeof(buf), MSG_WAITALL);
		_exit(n == (ssize_t)sizeof(buf) && !memcmp(buf, "{\"QMP\":", 7) ? 0 : n == 0 ? 1 : 5);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

Test(server, peer_credentials)
{
	cr_assert_eq(geteuid(), 0, "this test needs root (CI runs as root)");
	start(4242);
	cr_assert_eq(connect_as(4243), 1, "a stranger is closed without a greeting");
	cr_assert_eq(connect_as(4242), 0, "the VM's uid is served");
	cr_assert_eq(connect_as(0), 0, "root is served");
	cr_assert_eq(finish(), 0);
}

Test(server, core_breaking_the_protocol_stops_qmpd)
{
	struct core_config cfg = { 0 };

	start(getuid());
	/* a type the core may not send to qmpd */
	cr_assert_eq(ipc_send(F.core, IPC_CORE_CONFIG, &cfg, sizeof(cfg), NULL, 0), 0);
	pthread_join(F.th, NULL);
	cr_assert_eq(F.result, -EPROTO);
	qmpd_server_free(F.srv);
	event_base_free(F.base);
	close(F.core);
}

Test(server, reply_to_a_request_never_made_stops_qmpd)
{
	struct qmp_reply r = { .tag = 77, .cmd = QMP_CMD_STOP };

	start(getuid());
	cr_assert_eq(ipc_qmp_reply_send(F.core, &r), 0);
	pthread_join(F.th, NULL);
	cr_assert_eq(F.result, -EPROTO);
	qmpd_server_free(F.srv);
	event_base_free(F.base);
	close(F.core);
}

/* ---- the binary ---- */

static pid_t spawn(const char *a1, const char *a2, const char *a3)
{
	const char *exe = getenv("BULKHEAD_QMPD");
	pid_t pid;

	cr_assert_not_null(exe, "BULKHEAD_QMPD is not set (meson sets it)");
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* the fds the supervisor passes: without CLOEXEC, by number */
		fcntl(F.lfd, F_SETFD, 0);
		fcntl(F.srv_core, F_SETFD, 0);
		execl(exe, exe, a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int st;

	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "status 0x%x", st);
	return WEXITSTATUS(st);
}

Test(binary, serves_and_exits_when_the_core_goes)
{
	char a1[32], a2[32];
	struct qmp_request q;
	struct qmp_reply r = { .u.runstate = QMP_RUN_PAUSED };
	pid_t pid;
	int fd;

	make_listener();
	make_core_pair();
	snprintf(a1, sizeof(a1), "--listen-fd=%d", F.lfd);
	snprintf(a2, sizeof(a2), "--core-fd=%d", F.srv_core);
	pid = spawn(a1, a2, "--uid=0");
	close(F.srv_core);
	fd = cl_open();
	cl_send(fd, "{\"execute\":\"query-status\",\"id\":\"s\"}");
	core_recv(&q);
	core_reply(&q, &r);
	cl_expect(fd, "{\"return\":{\"running\":false,\"singlestep\":false,\"status\":\"paused\"},"
		      "\"id\":\"s\"}\r\n");
	close(F.core);
	cr_assert_eq(wait_exit(pid), 0);
	cl_expect_eof(fd);
	close(fd);
	close(F.lfd);
}

Test(binary, refuses_bad_arguments_and_fds)
{
	char a1[32], a2[32];

	make_listener();
	make_core_pair();
	cr_assert_eq(wait_exit(spawn("--listen-fd=3", NULL, NULL)), 2, "--core-fd missing");
	cr_assert_eq(wait_exit(spawn("--listen-fd=x", "--core-fd=4", NULL)), 2);
	cr_assert_eq(wait_exit(spawn("--bogus", NULL, NULL)), 2);
	/* fds swapped: the listening socket is not a seqpacket socket */
	snprintf(a1, sizeof(a1), "--listen-fd=%d", F.srv_core);
	snprintf(a2, sizeof(a2), "--core-fd=%d", F.lfd);
	cr_assert_eq(wait_exit(spawn(a1, a2, NULL)), 1);
	close(F.core);
	close(F.srv_core);
	close(F.lfd);
}
