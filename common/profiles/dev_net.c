/* Sandbox profile of bulkhead-net (DESIGN.md §6; the worker itself is still to come): after
 * it holds its tap fd(s) and vhost-user socket and libbpf has loaded its programs, it moves
 * packets between the tap and guest memory and answers vhost-user messages. */
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include "sandbox.h"

static const struct sandbox_rule rules[] = {
	SB_ALLOW(epoll_wait, "the event loop (libevent's epoll backend)"),
	SB_ALLOW(epoll_ctl, "the event loop: kick fds and the socket come and go"),
	SB_ALLOW(gettimeofday, "libevent gettime(): every 5 s of loop time it re-reads the wall "
		 "clock; the vDSO falls back to this syscall (clocksource not vDSO-capable), "
		 "vdso=0 always"),
	SB_ALLOW(poll, "vhost_user.c: waiting for the rest of a message"),
	SB_ALLOW(read, "frames from the tap; kick eventfds"),
	SB_ALLOW(readv, "frames from the tap into guest buffers"),
	SB_ALLOW(writev, "frames from guest buffers to the tap"),
	SB_ALLOW(recvmsg, "vhost_user.c vu_msg_recv"),
	SB_ALLOW(recvfrom, "vhost_user.c: recv() of a request's payload"),
	SB_ALLOW(sendmsg, "vhost_user.c vu_msg_send"),
	SB_ALLOW(accept4, "--socket-path: the next frontend (no socket())"),
	SB_IOCTL(TUNSETOFFLOAD, "the offloads the driver acked (SET_FEATURES)"),
	SB_IOCTL(TUNSETVNETHDRSZ, "the vnet header size for mergeable RX buffers"),
	SB_ALLOW(memfd_create, "vu_backend.c get_inflight_fd: the inflight area"),
	SB_ALLOW(ftruncate, "vu_backend.c get_inflight_fd (guest RAM's seals refuse it)"),
};

static const struct sandbox_fd fds[] = {
	{ "socket:*", "the vhost-user connection" },
	{ "/dev/net/tun", "tap queues the supervisor opened" },
	{ "anon_inode:[eventpoll]", "libevent" },
	{ "pipe:*", "libevent's signal pipe; the SIGSYS report to the supervisor" },
	{ "anon_inode:[eventfd]", "kick and call eventfds" },
	{ "anon_inode:bpf-*", "steering/filter programs and maps" },
	{ "/memfd:bulkhead-ram*", "guest RAM" },
	{ "/memfd:vu-inflight*", "the inflight area" },
	{ NULL, NULL },
};

const struct sandbox_profile sandbox_profile_dev_net = {
	.name = "dev-net",
	.what = "bulkhead-net: from after it holds its taps and socket, before its event loop",
	.rules = rules,
	.nrules = sizeof(rules) / sizeof(rules[0]),
	.base = true,
	.nofile_extra = 160,
	.fds = fds,
};
