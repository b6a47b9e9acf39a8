/* Sandbox profile of bulkhead-vsock (DESIGN.md §6; the worker itself is still to come): after
 * setup it holds the listening socket of the VM's unix path (passed by the supervisor) and
 * accepts host connections on it. It never calls socket(): connections towards host port P
 * (<uds_path>_P) are to be made for it by the supervisor and passed down, like taps. */
#include "sandbox.h"

static const struct sandbox_rule rules[] = {
	SB_ALLOW(epoll_wait, "the event loop (libevent's epoll backend)"),
	SB_ALLOW(epoll_ctl, "the event loop: connections come and go"),
	SB_ALLOW(gettimeofday, "libevent gettime(): every 5 s of loop time it re-reads the wall "
		 "clock; the vDSO falls back to this syscall (clocksource not vDSO-capable), "
		 "vdso=0 always"),
	SB_ALLOW(poll, "vhost_user.c: waiting for the rest of a message"),
	SB_ALLOW(accept4, "a host process connecting to the VM's unix socket"),
	SB_ALLOW(read, "host connection data; kick eventfds"),
	SB_ALLOW(recvfrom, "host connection data; vhost-user payloads"),
	SB_ALLOW(sendto, "data to host connections"),
	SB_ALLOW(recvmsg, "vhost_user.c vu_msg_recv; connections passed by the supervisor"),
	SB_ALLOW(sendmsg, "vhost_user.c vu_msg_send"),
	SB_ALLOW(shutdown, "a guest closing one direction of a stream"),
	SB_ALLOW(memfd_create, "vu_backend.c get_inflight_fd: the inflight area"),
	SB_ALLOW(ftruncate, "vu_backend.c get_inflight_fd (guest RAM's seals refuse it)"),
};

static const struct sandbox_fd fds[] = {
	{ "socket:*", "vhost-user, the VM's listening socket, host connections" },
	{ "anon_inode:[eventpoll]", "libevent" },
	{ "pipe:*", "libevent's signal pipe; the SIGSYS report to the supervisor" },
	{ "anon_inode:[eventfd]", "kick and call eventfds" },
	{ "/memfd:bulkhead-ram*", "guest RAM" },
	{ "/memfd:vu-inflight*", "the inflight area" },
	{ NULL, NULL },
};

const struct sandbox_profile sandbox_profile_dev_vsock = {
	.name = "dev-vsock",
	.what = "bulkhead-vsock: from after it holds its sockets, before its event loop",
	.rules = rules,
	.nrules = sizeof(rules) / sizeof(rules[0]),
	.base = true,
	.nofile_extra = 288,
	.fds = fds,
};
