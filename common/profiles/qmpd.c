/* Sandbox profile of bulkhead-qmpd: loaded by qmpd/main.c once it holds its listening socket
 * and its socket to the core. After that it accepts QMP clients, reads and writes JSON, and
 * passes typed messages to the core; it creates no socket and opens no file. */
#include <fcntl.h>
#include <sys/socket.h>

#include "sandbox.h"

static const struct sandbox_rule rules[] = {
	SB_ALLOW(epoll_wait, "the event loop (libevent's epoll backend)"),
	SB_ALLOW(epoll_ctl, "the event loop: clients come and go"),
	SB_ALLOW(poll, "the event loop (libevent's poll backend); waits on the core socket"),
	SB_ALLOW(accept4, "a new QMP client on the listening socket (no socket())"),
	SB_ALLOW2(getsockopt, SB_ARG_EQ(1, SOL_SOCKET), SB_ARG_EQ(2, SO_PEERCRED),
		  "peer credentials of a new client"),
	SB_ALLOW(read, "QMP input from clients; libevent's signal pipe"),
	SB_ALLOW(sendto, "QMP replies and events to clients (send)"),
	SB_ALLOW(writev, "QMP output through libevent buffers"),
	SB_ALLOW(recvmsg, "QMP input from clients, with the fds a getfd names (server.c "
		 "client_recv); ipc.c ipc_recv: replies and events from the core"),
	SB_ALLOW(sendmsg, "ipc.c ipc_send: typed requests to the core"),
	SB_ALLOW(shutdown, "closing a client that broke the protocol"),
	SB_ALLOW1(fcntl, SB_ARG_EQ(1, F_GETFL), "evutil_make_socket_nonblocking on a client"),
	SB_ALLOW1(fcntl, SB_ARG_EQ(1, F_SETFL), "evutil_make_socket_nonblocking on a client"),
	SB_ALLOW(gettimeofday, "libevent gettime(): every 5 s of loop time it re-reads the wall "
		 "clock; the vDSO falls back to this syscall (clocksource not vDSO-capable), "
		 "vdso=0 always. QMP event timestamps come from the core (control.c)"),
};

static const struct sandbox_fd fds[] = {
	{ "socket:*", "the QMP listening socket, its clients, the core" },
	/* and whatever a client passed for getfd (qmpd/fds.h: at most QMP_FDS_MAX per client,
	 * never used here; the supervisor checks what they are) */
	{ "anon_inode:[eventpoll]", "libevent" },
	{ "pipe:*", "libevent's signal pipe; the SIGSYS report to the supervisor" },
	{ NULL, NULL },
};

const struct sandbox_profile sandbox_profile_qmpd = {
	.name = "qmpd",
	.what = "bulkhead-qmpd: from after it holds its listening socket and core socket",
	.rules = rules,
	.nrules = sizeof(rules) / sizeof(rules[0]),
	.base = true,
	.pidns = true,         /* hotplug.c sup_qmpd_start: clone(CLONE_NEWPID) */
	.nofile_extra = 80,    /* clients */
	.fds = fds,
};
