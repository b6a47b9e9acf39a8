/* bulkhead-qmpd: the QMP server process. The supervisor creates the listening socket (it alone
 * may create files) and the core connection and starts us with
 *   bulkhead-qmpd --listen-fd=N --core-fd=M [--uid=U] [--runas=UID:GID] [--name=NAME]
 *                 [--uuid=UUID]
 * We check both fds, then serve until the core connection ends; the supervisor restarts us
 * if we die, and the VM outlives us. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "bulkhead-config.h"
#include "log.h"
#include "sandbox.h"
#include "commands.h"
#include "server.h"

struct opts {
	int listen_fd, core_fd;
	long long uid;
	bool no_seccomp;
	struct sandbox_opts runas;   /* --runas=UID:GID (numeric: the supervisor resolved it) */
	const char *name, *uuid;     /* -name and -uuid, for query-name and query-uuid */
};

static void usage(void)
{
	fprintf(stderr, "usage: bulkhead-qmpd --listen-fd=N --core-fd=M [--uid=U] "
		"[--runas=UID:GID] [--name=NAME] [--uuid=UUID]\n");
	exit(2);
}

static long long number(const char *s, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > max)
		usage();
	return v;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	o->listen_fd = o->core_fd = -1;
	o->uid = -1;
	o->no_seccomp = false;
	o->runas = (struct sandbox_opts){ 0 };
	o->name = o->uuid = "";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strncmp(a, "--listen-fd=", 12))
			o->listen_fd = (int)number(a + 12, INT_MAX);
		else if (!strncmp(a, "--core-fd=", 10))
			o->core_fd = (int)number(a + 10, INT_MAX);
		else if (!strncmp(a, "--uid=", 6))
			o->uid = number(a + 6, UINT32_MAX - 1);
		else if (!strncmp(a, "--runas=", 8)) {
			if (sandbox_parse_runas(a + 8, &o->runas) < 0)
				usage();
		} else if (!strncmp(a, "--name=", 7))
			o->name = a + 7;
		else if (!strncmp(a, "--uuid=", 7))
			o->uuid = a + 7;
		else if (!strcmp(a, "--disable-seccomp"))
			o->no_seccomp = true;   /* sandbox (issue 5): all of it but the filter */
		else if (!strcmp(a, "--version")) {
			printf("bulkhead-qmpd %s\n", BULKHEAD_VERSION);
			exit(0);
		} else
			usage();
	}
	if (o->listen_fd < 0 || o->core_fd < 0 || o->listen_fd == o->core_fd)
		usage();
	if (qmp_identity_set(o->name, o->uuid) < 0)
		usage();
}

/* the fd must be a socket of this type; a listening one if listening */
static void check_socket(int fd, int type, bool listening, const char *what)
{
	int v = 0;
	socklen_t len = sizeof(v);
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		fatalx("%s fd %d is not a socket", what, fd);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != type)
		fatalx("%s fd %d has the wrong socket type", what, fd);
	len = sizeof(v);
	if (listening && (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v))
		fatalx("%s fd %d is not listening", what, fd);
}

int main(int argc, char **argv)
{
	struct event_base *base;
	struct qmpd_server *srv;
	struct opts o;
	int r;

	log_init("qmpd", STDERR_FILENO);
	parse_args(argc, argv, &o);
	check_socket(o.listen_fd, SOCK_STREAM, true, "--listen-fd");
	check_socket(o.core_fd, SOCK_SEQPACKET, false, "--core-fd");
	/* a client that vanishes mid-reply must cost an EPIPE, not the process */
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	if (!base)
		fatalx("event_base_new failed");
	srv = qmpd_server_new(base, o.listen_fd, o.core_fd,
			      o.uid >= 0 ? (uid_t)o.uid : getuid());
	if (!srv)
		fatal("cannot start the server");
	/* ---- sandbox (issue 5): both sockets are held and the loop is set up; from here on
	 * the qmpd profile. libevent's epoll fd and signal pipe are close-on-exec fds we made. */
	{
		int keep[] = { o.listen_fd, o.core_fd };
		struct sandbox_opts so = { .no_seccomp = o.no_seccomp, .keep_cloexec = true,
					   .runas = o.runas.runas, .uid = o.runas.uid,
					   .gid = o.runas.gid };

		if (sandbox_enter(SANDBOX_QMPD, keep, 2, &so) < 0)
			fatalx("cannot enter the sandbox");
	}
	log_debug("serving QMP (listen fd %d, core fd %d)", o.listen_fd, o.core_fd);
	r = qmpd_server_run(srv);
	qmpd_server_free(srv);
	event_base_free(base);
	return r == 0 ? 0 : 1;
}
