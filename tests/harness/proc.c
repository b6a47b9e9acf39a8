/* Harness processes and sockets: spawn a backend over a socketpair (--fd) or a listening path
 * (--socket-path), connect with bounded retries, check liveness without blocking, reap, read
 * PSS, and raw socket helpers for malformed-message tests. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MAX_ARGS 32

const char *hx_blk_bin(void)
{
	const char *b = getenv("BULKHEAD_BLK");

	return b && *b ? b : "build/dev-blk/bulkhead-blk";
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

#define MAX_EXTRA_FDS 16

/* Move fd to want (clearing close-on-exec); the source numbers are above every target. */
static void place(int fd, int want)
{
	if (fd != want && dup2(fd, want) < 0)
		_exit(126);
	if (fd == want)
		fcntl(want, F_SETFD, 0);
}

/* In the child: the socket end on fd 3, the extra fds on 4.., everything else above 2
 * closed, die with the parent. */
static void child_exec(const char *bin, const char *const *argv, int sock, const int *fds,
		       unsigned nfds, pid_t parent)
{
	int high[MAX_EXTRA_FDS + 1], n = 0, first_free;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)    /* the parent died before PDEATHSIG was armed */
		_exit(125);
	/* out of the way of the targets first, so no dup2 clobbers a source */
	if (sock >= 0)
		high[n++] = fcntl(sock, F_DUPFD, 100);
	for (unsigned i = 0; i < nfds; i++)
		high[n++] = fcntl(fds[i], F_DUPFD, 100);
	for (int i = 0; i < n; i++)
		if (high[i] < 0)
			_exit(126);
	n = 0;
	if (sock >= 0)
		place(high[n++], 3);
	for (unsigned i = 0; i < nfds; i++)
		place(high[n++], 4 + (int)i);
	if (sock < 0 && nfds)
		close(3);       /* not a target: whatever the parent had there */
	first_free = nfds ? 4 + (int)nfds : sock >= 0 ? 4 : 3;
	for (int fd = first_free; fd < 1024; fd++)
		close(fd);
	execv(bin, (char *const *)argv);
	fprintf(stderr, "hx: exec %s: %s\n", bin, strerror(errno));
	_exit(127);
}

int hx_worker_spawn(struct hx_worker *w, const char *bin, const char *sock_path,
		    const char *const *args)
{
	return hx_worker_spawn_fds(w, bin, sock_path, args, NULL, 0);
}

int hx_worker_spawn_fds(struct hx_worker *w, const char *bin, const char *sock_path,
			const char *const *args, const int *fds, unsigned nfds)
{
	const char *argv[MAX_ARGS + 3];
	char opt[160];
	int sv[2] = { -1, -1 }, n = 0;

	if (nfds > MAX_EXTRA_FDS)
		return -EINVAL;
	memset(w, 0, sizeof(*w));
	w->sock = -1;
	argv[n++] = bin;
	for (; args && *args && n < MAX_ARGS; args++)
		argv[n++] = *args;
	if (sock_path) {
		snprintf(w->path, sizeof(w->path), "%s", sock_path);
		snprintf(opt, sizeof(opt), "--socket-path=%s", sock_path);
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return -errno;
		snprintf(opt, sizeof(opt), "--fd=3");
	}
	argv[n++] = opt;
	argv[n] = NULL;
	pid_t parent = getpid();
	w->pid = fork();
	if (w->pid < 0) {
		int e = -errno;
		if (sv[0] >= 0) {
			close(sv[0]);
			close(sv[1]);
		}
		return e;
	}
	if (w->pid == 0)
		child_exec(bin, argv, sv[1], fds, nfds, parent);
	if (sv[1] >= 0)
		close(sv[1]);
	w->sock = sv[0];
	return 0;
}

int hx_unix_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	uint64_t deadline = hx_now_ms() + (uint64_t)timeout_ms;
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		int e = errno;
		close(fd);
		if ((e != ENOENT && e != ECONNREFUSED) || hx_now_ms() >= deadline)
			return -e;
		sleep_ms(10);
	}
}

int hx_worker_connect(struct hx_worker *w, int timeout_ms)
{
	uint64_t deadline = hx_now_ms() + (uint64_t)timeout_ms;
	int fd;

	/* retry in short steps so a worker that died at startup fails fast */
	do {
		fd = hx_unix_connect(w->path, 100);
		if (fd >= 0 || (fd != -ENOENT && fd != -ECONNREFUSED))
			return fd;
		if (!hx_worker_alive(w))
			return -ESRCH;
	} while (hx_now_ms() < deadline);
	return fd;
}

bool hx_worker_alive(struct hx_worker *w)
{
	int st;

	if (w->pid <= 0)
		return false;
	if (waitpid(w->pid, &st, WNOHANG) != 0) {
		w->pid = -1;    /* exited (reaped now) or not our child */
		return false;
	}
	return kill(w->pid, 0) == 0;
}

int hx_worker_wait(struct hx_worker *w, int timeout_ms)
{
	uint64_t deadline = hx_now_ms() + (uint64_t)timeout_ms;
	int st;

	if (w->pid <= 0)
		return -ECHILD;
	for (;;) {
		pid_t r = waitpid(w->pid, &st, WNOHANG);
		if (r == w->pid) {
			w->pid = -1;
			return st;
		}
		if (r < 0)
			return -errno;
		if (hx_now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(5);
	}
}

int hx_worker_kill(struct hx_worker *w)
{
	int st = -ECHILD;

	if (w->pid > 0) {
		kill(w->pid, SIGKILL);
		if (waitpid(w->pid, &st, 0) < 0)
			st = -errno;
		w->pid = -1;
	}
	if (w->sock >= 0)
		close(w->sock);
	w->sock = -1;
	if (w->path[0])
		unlink(w->path);
	return st;
}

long hx_pss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pss: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int hx_wait_closed(int sock, int timeout_ms)
{
	uint64_t deadline = hx_now_ms() + (uint64_t)timeout_ms;
	struct pollfd p = { .fd = sock, .events = POLLIN };
	char buf[256];

	for (;;) {
		uint64_t now = hx_now_ms();
		if (now >= deadline)
			return 0;
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		ssize_t n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		/* a reply before the close is allowed (e.g. a NACK); keep reading to the EOF */
	}
}

int hx_send_raw(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	char ctl[CMSG_SPACE(sizeof(int) * 16)];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > 16)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;
		memset(ctl, 0, sizeof(ctl));
		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) != (ssize_t)len)
		return -errno;
	return 0;
}
