/* Sandbox profile of bulkhead-vsock: loaded by dev-vsock/main.c once it holds its vhost-user
 * socket, the socket directory (an fd) and the VM's listening socket, before its loop runs.
 * The one exception to "no socket()" among the workers (DESIGN.md §1): for a guest connecting
 * to host port P it makes an AF_UNIX stream and connects it to NAME_P, a bare name relative
 * to its working directory - the socket directory, entered with fchdir on the directory fd
 * (the empty root's pivot moved it). No open(), no bind/listen after setup, no path with '/'
 * is ever built, and the empty root has nothing else to reach. In kernel mode it holds an
 * open /dev/vhost-vsock instead (taken over before the sandbox) and may hand that device the
 * rings: the vhost ioctls below, nothing else of it. */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/vhost.h>

#include "sandbox.h"

static const struct sandbox_rule rules[] = {
	SB_ALLOW(epoll_wait, "vu_loop.c vu_loop_run: libevent's epoll backend"),
	SB_ALLOW(epoll_ctl, "vu_loop.c watches, main.c conn_watch: kick fds and host "
		 "connections come and go"),
	SB_ALLOW(gettimeofday, "libevent gettime(): every 5 s of loop time it re-reads the wall "
		 "clock; the vDSO falls back to this syscall (clocksource not vDSO-capable), "
		 "vdso=0 always"),
	SB_ALLOW(poll, "vhost_user.c: waiting for the rest of a message; io.c host_eof: did "
		 "the host peer close both ways (POLLHUP)"),
	SB_ALLOW(read, "vu_backend.c kicks; libevent's signal pipe"),
	SB_ALLOW(readv, "io.c rx_data: host connection data straight into a guest RX buffer"),
	SB_ALLOW(recvmsg, "vhost_user.c vu_msg_recv: requests with memory/kick/call fds"),
	SB_ALLOW(recvfrom, "vhost_user.c: recv() of a request's payload; host.c vsock_read_line: a "
		 "host peer's CONNECT line (MSG_PEEK, then exactly the line)"),
	SB_ALLOW(sendmsg, "vhost_user.c vu_msg_send; io.c conn_rw/flush: guest data to a host "
		 "connection (MSG_NOSIGNAL)"),
	SB_ALLOW(sendto, "io.c conn_response: the \"OK <port>\" line to a host peer"),
	SB_ALLOW(accept4, "host.c vsock_accept: a host process connecting to the VM's socket; "
		 "vu_loop.c on_accept: --socket-path, the next frontend"),
	SB_ALLOW(shutdown, "io.c conn_finish: the guest closed its sending side (SHUT_WR)"),
	SB_ALLOW2(socket, SB_ARG_EQ(0, AF_UNIX), SB_ARG_EQ(1, SOCK_STREAM | SOCK_NONBLOCK |
							    SOCK_CLOEXEC),
		  "host.c vsock_guest_connect: the host end of a guest connection to NAME_<port>; unix "
		  "streams only, and only nonblocking close-on-exec ones"),
	SB_ALLOW(connect, "host.c vsock_guest_connect: NAME_<port>, a bare name in the working "
		 "directory (the socket directory); unix sockets only, by the rule above"),
	SB_ALLOW(fchdir, "main.c enter_dir: back into the socket directory after the pivot to "
		 "the empty root; the only directory fd the process holds"),
	SB_ALLOW(memfd_create, "vu_backend.c get_inflight_fd: the inflight area"),
	SB_ALLOW(ftruncate, "vu_backend.c get_inflight_fd sizes the new area; guest RAM's "
		 "seals (F_SEAL_SHRINK|F_SEAL_GROW) refuse it there"),
	SB_ALLOW1(fcntl, SB_ARG_EQ(1, F_ADD_SEALS), "vu_backend.c get_inflight_fd: sealed so "
		  "no holder can shrink it under another's mapping"),
	SB_IOCTL(VHOST_SET_MEM_TABLE, "kernel.c set_mem: the guest memory as we map it, at every "
		 "ring hand-over"),
	SB_IOCTL(VHOST_SET_FEATURES, "kernel.c vsock_kernel_start: the features the driver took"),
	SB_IOCTL(VHOST_SET_VRING_NUM, "kernel.c vsock_kernel_start: a ring's size"),
	SB_IOCTL(VHOST_SET_VRING_BASE, "kernel.c vsock_kernel_start: where the ring resumes"),
	SB_IOCTL(VHOST_SET_VRING_ADDR, "kernel.c vsock_kernel_start: the ring in our mapping"),
	SB_IOCTL(VHOST_SET_VRING_KICK, "kernel.c vsock_kernel_start: the frontend's kick eventfd"),
	SB_IOCTL(VHOST_SET_VRING_CALL, "kernel.c vsock_kernel_start: the frontend's call eventfd"),
	SB_IOCTL(VHOST_GET_VRING_BASE, "kernel.c vsock_kernel_stop: where the kernel got"),
	SB_IOCTL(VHOST_VSOCK_SET_RUNNING, "kernel.c set_running: start and stop the kernel's side"),
	SB_ERRNO(unlink, EPERM, "vu_loop.c vu_loop_exit: --socket-path removes its socket, which "
		 "is outside the sandbox's empty root; whoever made the path removes it"),
};

static const struct sandbox_fd fds[] = {
	{ "socket:*", "vhost-user, the VM's listening socket, host connections" },
	{ "/*", "the socket directory (--uds-dir-fd, or the directory of --uds-path)" },
	{ "anon_inode:[eventpoll]", "libevent" },
	{ "pipe:*", "libevent's signal pipe; the SIGSYS report to the supervisor" },
	{ "anon_inode:[eventfd]", "kick and call eventfds" },
	{ "/memfd:bulkhead-ram*", "guest RAM" },
	{ "/memfd:vu-inflight*", "the inflight area" },
	{ "/dev/vhost-vsock", "kernel mode: the kernel's vsock device (--vhost-fd)" },
	{ NULL, NULL },
};

const struct sandbox_profile sandbox_profile_dev_vsock = {
	.name = "dev-vsock",
	.what = "bulkhead-vsock: from after it holds its vhost-user socket and socket "
		"directory, before it listens and runs its loop",
	.rules = rules,
	.nrules = sizeof(rules) / sizeof(rules[0]),
	.base = true,
	.pidns = true,     /* supervisor/workers.c sup_worker_spawn: CLONE_NEWPID */
	/* one fd per host connection (--max-conns is at most 1024: dev-vsock/vsock.h
	 * VSOCK_CONNS_MAX), plus 160 for vhost-user (8 regions, the inflight area, 3
	 * eventfds per queue) and the listening socket. Kept under 4096, the kernel's default
	 * hard RLIMIT_NOFILE: a sandboxed process cannot raise its hard limit. */
	.nofile_extra = 1024 + 192,
	.fds = fds,
};
