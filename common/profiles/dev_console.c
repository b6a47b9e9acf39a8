/* Sandbox profile of bulkhead-hvc: loaded by dev-console/main.c once it holds its
 * vhost-user socket (or listening socket) and the console's listening socket (an fd the
 * supervisor bound, or --chardev-path bound by hand before this point), before its loop runs.
 * From then on all it does is vhost-user messages, guest-memory mappings, accepting one client
 * at a time on that listener, and moving bytes: readv from the client straight into guest
 * buffers, sendmsg from its output ring to the client. No socket(), connect() or open(): it
 * makes nothing new but the accepted client. */
#include <errno.h>
#include <fcntl.h>

#include "sandbox.h"

static const struct sandbox_rule rules[] = {
	SB_ALLOW(epoll_wait, "vu_loop.c vu_loop_run: libevent's epoll backend"),
	SB_ALLOW(epoll_ctl, "vu_loop.c watches, main.c watch: kick fds, the listener and the "
		 "client's readability and writability come and go"),
	SB_ALLOW(gettimeofday, "libevent gettime(): every 5 s of loop time it re-reads the wall "
		 "clock; the vDSO falls back to this syscall (clocksource not vDSO-capable), "
		 "vdso=0 always"),
	SB_ALLOW(poll, "vhost_user.c: waiting for the rest of a message; host.c "
		 "con_client_idle_check: did the client hang up both ways (POLLHUP)"),
	SB_ALLOW(read, "vu_backend.c kicks; libevent's signal pipe"),
	SB_ALLOW(readv, "console.c rx_one: client input straight into guest receive buffers"),
	SB_ALLOW(recvmsg, "vhost_user.c vu_msg_recv: requests with memory/kick/call fds"),
	SB_ALLOW(recvfrom, "vhost_user.c: recv() of a request's payload"),
	SB_ALLOW(sendmsg, "vhost_user.c vu_msg_send: replies (the inflight fd); host.c "
		 "con_flush: guest output to the client (MSG_NOSIGNAL | MSG_DONTWAIT)"),
	SB_ALLOW(accept4, "host.c con_accept: the next console client on the listener; "
		 "vu_loop.c on_accept: --socket-path, the next frontend (no socket())"),
	SB_ALLOW(memfd_create, "vu_backend.c get_inflight_fd: the inflight area"),
	SB_ALLOW(ftruncate, "vu_backend.c get_inflight_fd sizes the new area; guest RAM's "
		 "seals (F_SEAL_SHRINK|F_SEAL_GROW) refuse it there"),
	SB_ALLOW1(fcntl, SB_ARG_EQ(1, F_ADD_SEALS), "vu_backend.c get_inflight_fd: sealed so "
		  "no holder can shrink it under another's mapping"),
	SB_ERRNO(unlink, EPERM, "vu_loop.c vu_loop_exit: --socket-path removes its socket, which "
		 "is outside the sandbox's empty root; whoever made the path removes it"),
};

static const struct sandbox_fd fds[] = {
	{ "socket:*", "the vhost-user connection (or --socket-path listener), the console's "
	  "listener (--listen-fd, or --chardev-path by hand) and its one client" },
	{ "anon_inode:[eventpoll]", "libevent" },
	{ "pipe:*", "libevent's signal pipe (SIGTERM, SIGINT); the SIGSYS report to the supervisor" },
	{ "anon_inode:[eventfd]", "kick and call eventfds" },
	{ "/memfd:bulkhead-ram*", "guest RAM from SET_MEM_TABLE" },
	{ "/memfd:vu-inflight*", "the inflight area" },
	{ NULL, NULL },
};

const struct sandbox_profile sandbox_profile_dev_console = {
	.name = "dev-console",
	.what = "bulkhead-hvc: from after it holds its vhost-user socket and the console's "
		"listener, before its event loop",
	.rules = rules,
	.nrules = sizeof(rules) / sizeof(rules[0]),
	.base = true,
	.pidns = true,     /* supervisor/workers.c sup_worker_spawn: CLONE_NEWPID */
	/* up to 8 regions, the inflight area, 3 eventfds for each of its two queues, a socket,
	 * the client, slack */
	.nofile_extra = 64,
	.fds = fds,
};
