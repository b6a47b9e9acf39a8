/* Sandbox profile of bulkhead-blk: loaded by dev-blk/main.c once it holds its image fd, its
 * vhost-user socket (or listening socket) and its io_uring, before the event loop runs. From
 * then on all it does is vhost-user messages, guest-memory mappings, and io_uring I/O. */
#include <errno.h>
#include <fcntl.h>

#include "sandbox.h"

static const struct sandbox_rule rules[] = {
	SB_ALLOW(epoll_wait, "main.c event_base_dispatch: libevent's epoll backend"),
	SB_ALLOW(epoll_ctl, "main.c watch_add/watch_del: kick fds and the socket come and go"),
	SB_ALLOW(gettimeofday, "libevent gettime(): every 5 s of loop time it re-reads the wall "
		 "clock; the vDSO falls back to this syscall (clocksource not vDSO-capable), "
		 "vdso=0 always"),
	SB_ALLOW(read, "libevent's signal pipe; io.c completion eventfd; vu_backend.c kicks"),
	SB_ALLOW(poll, "vhost_user.c: waiting for the rest of a message"),
	SB_ALLOW(recvmsg, "vhost_user.c vu_msg_recv: requests with memory/kick/call fds"),
	SB_ALLOW(recvfrom, "vhost_user.c: recv() of a request's payload"),
	SB_ALLOW(sendmsg, "vhost_user.c vu_msg_send: replies (the inflight fd)"),
	SB_ALLOW(accept4, "main.c on_accept: --socket-path, the next frontend (no socket())"),
	SB_ALLOW(io_uring_enter, "io.c: submitting requests and reaping completions"),
	SB_ALLOW(memfd_create, "vu_backend.c get_inflight_fd: the inflight area"),
	SB_ALLOW(ftruncate, "vu_backend.c get_inflight_fd sizes the new area; guest RAM's "
		 "seals (F_SEAL_SHRINK|F_SEAL_GROW) refuse it there"),
	SB_ALLOW1(fcntl, SB_ARG_EQ(1, F_ADD_SEALS), "vu_backend.c get_inflight_fd: sealed so "
		  "no holder can shrink it under another's mapping"),
	SB_ERRNO(unlink, EPERM, "main.c teardown: --socket-path removes its socket, which is "
		 "outside the sandbox's empty root; whoever made the path removes it"),
};

static const struct sandbox_fd fds[] = {
	{ "socket:*", "the vhost-user connection (or --socket-path listener)" },
	{ "@image", "the disk image the supervisor opened (--blk-fd)" },
	{ "anon_inode:[eventpoll]", "libevent" },
	{ "pipe:*", "libevent's signal pipe (SIGTERM, SIGINT); the SIGSYS report to the supervisor" },
	{ "anon_inode:[io_uring]", "io.c blk_dev_init" },
	{ "anon_inode:[eventfd]", "io.c completion eventfd; kick and call eventfds" },
	{ "/memfd:bulkhead-ram*", "guest RAM from SET_MEM_TABLE" },
	{ "/memfd:vu-inflight*", "the inflight area" },
	{ NULL, NULL },
};

const struct sandbox_profile sandbox_profile_dev_blk = {
	.name = "dev-blk",
	.what = "bulkhead-blk: from after its io_uring is set up, before its event loop runs",
	.rules = rules,
	.nrules = sizeof(rules) / sizeof(rules[0]),
	.base = true,
	.threads = true,   /* io_uring's io-wq workers count against RLIMIT_NPROC */
	.pidns = true,     /* supervisor/workers.c sup_worker_spawn: CLONE_NEWPID */
	/* up to 8 regions, the inflight area, 3 eventfds per queue for 8 queues, a socket */
	.nofile_extra = 128,
	.fds = fds,
};
