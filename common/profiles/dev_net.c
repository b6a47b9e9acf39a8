/* Sandbox profile of bulkhead-net: loaded by dev-net/main.c once it holds its tap queues and
 * its vhost-user socket (or listening socket), before the event loop runs. From then on all
 * it does is vhost-user messages, guest-memory mappings, and frames between the taps and the
 * rings. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include "sandbox.h"

static const struct sandbox_rule rules[] = {
	SB_ALLOW(epoll_wait, "vu_loop.c vu_loop_run: libevent's epoll backend"),
	SB_ALLOW(epoll_ctl, "vu_loop.c watches, main.c tap_watch: kick fds, the socket and the "
		 "taps' read/write interest come and go"),
	SB_ALLOW(gettimeofday, "libevent gettime(): every 5 s of loop time it re-reads the wall "
		 "clock; the vDSO falls back to this syscall (clocksource not vDSO-capable), "
		 "vdso=0 always"),
	SB_ALLOW(poll, "vhost_user.c: waiting for the rest of a message"),
	SB_ALLOW(read, "vu_backend.c kicks; libevent's signal pipe"),
	SB_ALLOW(readv, "io.c rx_step: a frame from the tap straight into guest buffers"),
	SB_ALLOW(writev, "io.c tx_step: a frame from guest buffers to the tap"),
	SB_ALLOW(recvmsg, "vhost_user.c vu_msg_recv: requests with memory/kick/call fds"),
	SB_ALLOW(recvfrom, "vhost_user.c: recv() of a request's payload"),
	SB_ALLOW(sendmsg, "vhost_user.c vu_msg_send: replies (the inflight fd)"),
	SB_ALLOW(accept4, "vu_loop.c on_accept: --socket-path, the next frontend (no socket())"),
	SB_IOCTL(TUNSETOFFLOAD, "io.c set_features: the offloads the driver acked"),
	SB_IOCTL(TUNSETVNETHDRSZ, "io.c set_features: the virtio-net header size"),
	SB_IOCTL(TUNSETQUEUE, "io.c attach: a multi-queue tap's queue follows its pair's use"),
	SB_ALLOW(memfd_create, "vu_backend.c get_inflight_fd: the inflight area"),
	SB_ALLOW(ftruncate, "vu_backend.c get_inflight_fd sizes the new area; guest RAM's "
		 "seals (F_SEAL_SHRINK|F_SEAL_GROW) refuse it there"),
	SB_ALLOW1(fcntl, SB_ARG_EQ(1, F_ADD_SEALS), "vu_backend.c get_inflight_fd: sealed so "
		  "no holder can shrink it under another's mapping"),
	SB_ERRNO(unlink, EPERM, "vu_loop.c vu_loop_exit: --socket-path removes its socket, which "
		 "is outside the sandbox's empty root; whoever made the path removes it"),
};

static const struct sandbox_fd fds[] = {
	{ "socket:*", "the vhost-user connection (or --socket-path listener)" },
	{ "/dev/net/tun", "tap queues the supervisor opened (--tap-fd)" },
	{ "anon_inode:[eventpoll]", "libevent" },
	{ "pipe:*", "libevent's signal pipe (SIGTERM, SIGINT); the SIGSYS report to the supervisor" },
	{ "anon_inode:[eventfd]", "kick and call eventfds" },
	{ "/memfd:bulkhead-ram*", "guest RAM from SET_MEM_TABLE" },
	{ "/memfd:vu-inflight*", "the inflight area" },
	{ NULL, NULL },
};

const struct sandbox_profile sandbox_profile_dev_net = {
	.name = "dev-net",
	.what = "bulkhead-net: from after it holds its taps and socket, before its event loop",
	.rules = rules,
	.nrules = sizeof(rules) / sizeof(rules[0]),
	.base = true,
	.pidns = true,     /* supervisor/workers.c sup_worker_spawn: CLONE_NEWPID */
	/* up to 8 regions, the inflight area, 3 eventfds per queue for 17 queues, a socket */
	.nofile_extra = 160,
	.fds = fds,
};
