/* try-syscall (in the spirit of bubblewrap's): for each process kind, fork a child that runs
 * the real sandbox_enter() of that kind, then tries one forbidden operation; the child must
 * die of SIGSYS (with "seccomp: NAME blocked" on stderr and NAME on the report fd) or be
 * refused with EPERM. Another child per kind does what the kind needs and must succeed, then
 * waits while we inspect it from outside (/proc/PID/status, fd table, root directory).
 * The time calls each kind makes are issued as raw system calls, as glibc makes them when
 * the vDSO cannot answer (vdso=0, or a clocksource it cannot read): those the kind needs must
 * go through, the others (and setting the clock) must trap.
 * Last, the runner under a parent that refuses namespaces must say which it skipped and why.
 *
 * usage: try-syscall [KIND...]     (default: every kind); exit 0 when every check passed */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/kvm.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

#define RAM_SIZE   (1 << 20)
#define EXIT_EPERM 10      /* the child's op was refused with EPERM/EACCES */
#define EXIT_ALLOWED 20    /* the op went through: the sandbox failed */
#define EXIT_SETUP 30      /* sandbox_enter itself failed */
#define EXIT_FAILED 40     /* an op the kind needs failed */

/* What every child starts from: fds made before the sandbox, as a real process holds them. */
struct world {
	int ram;               /* sealed memfd, like guest RAM */
	void *ram_map;
	int sp[2];             /* socketpair: vhost-user / IPC stand-in */
	int listen_fd;         /* a listening unix socket with one pending connection */
	int client_fd;
	int clients[16], nclients;
	int efd;               /* eventfd */
	int rng;               /* /dev/urandom: dev-rng's entropy source */
	int epfd;
	struct io_uring ring;
	pid_t victim;          /* another process, for kill/ptrace */
	pid_t parent;          /* us, as the children's QMP client */
	char dir[64];
};

static struct world W;
static int failures;
static enum sandbox_kind cur;
static bool no_seccomp;    /* the -disable-seccomp check */

static void say(bool ok, const char *fmt, ...) PRINTF(2, 3);
static void say(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %s: ", ok ? "ok  " : "FAIL", sandbox_profile(cur)->name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static int sealed_memfd(void)
{
	int fd = memfd_create("bulkhead-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, RAM_SIZE) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -1;
	return fd;
}

static int listener(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/l.sock", W.dir);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 64) < 0)
		return -1;
	return s;
}

/* A pending connection for the next child that accepts one. */
static int reconnect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	/* the older ones stay open: a child may still have to accept one of them */
	if (W.nclients == sizeof(W.clients) / sizeof(W.clients[0]))
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/l.sock", W.dir);
	W.client_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (W.client_fd < 0)
		return -1;
	W.clients[W.nclients++] = W.client_fd;
	return connect(W.client_fd, (struct sockaddr *)&sa, sizeof(sa));
}

static int world_init(void)
{
	struct epoll_event ev = { .events = EPOLLIN };

	snprintf(W.dir, sizeof(W.dir), "/tmp/try-syscall.XXXXXX");
	if (!mkdtemp(W.dir))
		return -1;
	W.ram = sealed_memfd();
	W.ram_map = W.ram < 0 ? MAP_FAILED :
		    mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, W.ram, 0);
	if (W.ram_map == MAP_FAILED || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, W.sp) < 0)
		return -1;
	W.listen_fd = listener();
	W.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* not close-on-exec: like the source the supervisor passes, an inherited fd, which dev-blk
	 * (keep_cloexec) must close since it does not list it */
	W.rng = open("/dev/urandom", O_RDONLY | O_NONBLOCK);
	W.epfd = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = W.efd;
	if (W.listen_fd < 0 || W.efd < 0 || W.rng < 0 || W.epfd < 0 || epoll_ctl(W.epfd, EPOLL_CTL_ADD, W.efd, &ev) < 0)
		return -1;
	if (io_uring_queue_init(8, &W.ring, 0) < 0)
		return -1;
	W.parent = getpid();
	W.victim = fork();
	if (W.victim == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	return W.victim < 0 ? -1 : 0;
}

static void world_exit(void)
{
	if (W.victim > 0) {
		kill(W.victim, SIGKILL);
		waitpid(W.victim, NULL, 0);
	}
	io_uring_queue_exit(&W.ring);
	for (int i = 0; i < W.nclients; i++)
		close(W.clients[i]);
	char p[96];
	snprintf(p, sizeof(p), "%s/l.sock", W.dir);
	unlink(p);
	rmdir(W.dir);
}

/* ---- in the child ------------------------------------------------------------------------- */

/* What each kind holds when it enters its sandbox (stand-ins for its real fds). dev-blk
 * enters like dev-blk/main.c: its listed fds plus the ones it opened itself (keep_cloexec). */
static void enter(void)
{
	int core[] = { W.ram, W.sp[1], W.efd };
	int all[] = { W.ram, W.sp[1], W.listen_fd, W.efd, W.epfd, W.ring.ring_fd };
	int qmpd[] = { W.sp[1], W.listen_fd, W.epfd };
	int net[] = { W.ram, W.sp[1], W.efd, W.epfd };
	int vsock[] = { W.ram, W.sp[1], W.listen_fd, W.efd, W.epfd };
	int rng[] = { W.ram, W.sp[1], W.listen_fd, W.efd, W.epfd, W.rng };
	/* dev-console: the listener stands for both the vhost-user one and the console's */
	int console[] = { W.ram, W.sp[1], W.listen_fd, W.efd, W.epfd };
	struct sandbox_opts o = { .keep_cloexec = cur == SANDBOX_DEV_BLK, .no_seccomp = no_seccomp };
	const int *keep = all;
	unsigned n = 6;

	switch (cur) {
	case SANDBOX_CORE_CONTROL:
	case SANDBOX_CORE_VCPU: keep = core; n = 3; break;
	case SANDBOX_QMPD: keep = qmpd; n = 3; break;
	case SANDBOX_DEV_NET: keep = net; n = 4; break;
	case SANDBOX_DEV_VSOCK: keep = vsock; n = 5; break;
	case SANDBOX_DEV_RNG: keep = rng; n = 6; break;
	case SANDBOX_DEV_CONSOLE: keep = console; n = 5; break;
	default: break;
	}
	if (sandbox_enter(cur == SANDBOX_CORE_VCPU ? SANDBOX_CORE_CONTROL : cur, keep, n, &o) < 0)
		_exit(EXIT_SETUP);
}

/* The result of a forbidden op that returned instead of trapping. */
static void refused(long r)
{
	if (r < 0 && (errno == EPERM || errno == EACCES))
		_exit(EXIT_EPERM);
	dprintf(2, "the call returned %ld (%s)\n", r, r < 0 ? strerror(errno) : "success");
	_exit(EXIT_ALLOWED);
}

static void op_open(void) { refused(open("/etc/passwd", O_RDONLY)); }
static void op_openat(void) { refused(syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY)); }
static void op_execve(void)
{
	char *argv[] = { (char *)"true", NULL };
	refused(execve("/bin/true", argv, argv + 1));
}
static void op_fork(void) { refused(syscall(SYS_fork)); }
static void op_clone(void) { refused(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)); }
static void op_socket(void) { refused(socket(AF_INET, SOCK_STREAM, 0)); }
static void op_socket_unix(void) { refused(socket(AF_UNIX, SOCK_STREAM, 0)); }
static void op_ptrace(void) { refused(ptrace(PTRACE_ATTACH, W.victim, 0, 0)); }
static void op_mount(void) { refused(mount("none", "/", "tmpfs", 0, NULL)); }
static void op_ftruncate(void) { refused(ftruncate(W.ram, 0)); }
static void op_fallocate(void)
{
	refused(fallocate(W.ram, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
}
static void op_mprotect(void) { refused(mprotect(W.ram_map, 4096, PROT_READ | PROT_EXEC)); }
static void op_mmap_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	refused(p == MAP_FAILED ? -1 : 0);
}
static void op_kill(void) { refused(kill(W.victim, SIGKILL)); }
static void op_tgkill(void) { refused(syscall(SYS_tgkill, W.victim, W.victim, SIGKILL)); }
static void op_unshare(void) { refused(unshare(CLONE_NEWUSER)); }
static void op_uring_setup(void)
{
	struct io_uring r;
	int e = io_uring_queue_init(4, &r, 0);
	errno = -e;
	refused(e < 0 ? -1 : 0);
}
static void op_ioctl(void) { refused(ioctl(W.ram, KVM_CREATE_VM, 0)); }
static void op_madv_remove(void) { refused(madvise(W.ram_map, 4096, MADV_REMOVE)); }

struct forbidden {
	const char *what;
	const char *syscall;   /* the name the SIGSYS report must give; NULL: none can be */
	void (*fn)(void);
};

static const struct forbidden forbidden[] = {
	{ "open a file", "openat", op_open },
	{ "openat", "openat", op_openat },
	{ "execve", "execve", op_execve },
	{ "fork", "fork", op_fork },
	{ "clone without CLONE_THREAD", "clone", op_clone },
	{ "socket(AF_INET)", "socket", op_socket },
	{ "socket(AF_UNIX)", "socket", op_socket_unix },
	{ "ptrace another process", "ptrace", op_ptrace },
	{ "mount", "mount", op_mount },
	{ "ftruncate the sealed guest memfd", "ftruncate", op_ftruncate },
	{ "fallocate(PUNCH_HOLE) on the guest memfd", "fallocate", op_fallocate },
	{ "madvise(MADV_REMOVE) on guest memory", "madvise", op_madv_remove },
	{ "mprotect(PROT_EXEC)", "mprotect", op_mprotect },
	{ "mmap(PROT_EXEC)", "mmap", op_mmap_exec },
	{ "kill another process", "kill", op_kill },
	{ "tgkill another process", "tgkill", op_tgkill },
	{ "unshare", "unshare", op_unshare },
	{ "io_uring_setup", "io_uring_setup", op_uring_setup },
	{ "ioctl outside the profile (KVM_CREATE_VM)", "ioctl", op_ioctl },
};

/* core-vcpu: the op runs in a thread that stacked the vCPU filter, as vcpu.c does. */
static void *vcpu_thread(void *arg)
{
	void (*fn)(void) = (void (*)(void))arg;

	if (sandbox_thread_enter() < 0)
		_exit(EXIT_SETUP);
	fn();
	return NULL;
}

static void run_in_kind(void (*fn)(void))
{
	pthread_t t;

	enter();
	if (cur != SANDBOX_CORE_VCPU)
		fn();
	else if (pthread_create(&t, NULL, vcpu_thread, (void *)fn) == 0)
		pthread_join(t, NULL);
	_exit(0);
}

/* vCPU threads may not do what only the control thread does */
static void *spin(void *a) { return a; }
static void op_thread(void)
{
	pthread_t t;
	int r = pthread_create(&t, NULL, spin, NULL);
	errno = r;
	refused(r ? -1 : 0);
}
static void op_read(void) { char c; refused(read(W.efd, &c, 1)); }
static void op_sigaction(void) { refused(syscall(SYS_rt_sigaction, SIGUSR2, NULL, NULL, 8)); }
static void op_tgkill_self(void) { refused(syscall(SYS_tgkill, getpid(), getpid(), 0)); }

static const struct forbidden vcpu_only[] = {
	/* glibc blocks every signal around clone3: the kernel kills without running the handler */
	{ "pthread_create from a vCPU thread", NULL, op_thread },
	{ "read (stdin is the control thread's)", "read", op_read },
	{ "rt_sigaction", "rt_sigaction", op_sigaction },
	{ "tgkill (kicks come from the control thread)", "tgkill", op_tgkill_self },
};

/* dev-console moves bytes with sendmsg and readv only, on sockets it was given or accepted:
 * what a worker with a host socket might otherwise reach for is refused. */
static void op_shutdown(void) { refused(shutdown(W.sp[1], SHUT_WR)); }
static void op_writev(void)
{
	struct iovec iov = { (void *)"x", 1 };
	refused(writev(W.sp[1], &iov, 1));
}
static void op_listen(void) { refused(listen(W.sp[1], 1)); }
static void op_sendto(void) { refused(sendto(W.sp[1], "x", 1, MSG_NOSIGNAL, NULL, 0)); }

static const struct forbidden console_only[] = {
	{ "shutdown (no half-close of a client)", "shutdown", op_shutdown },
	{ "writev (output goes with sendmsg and MSG_NOSIGNAL)", "writev", op_writev },
	{ "sendto (no caller)", "sendto", op_sendto },
	{ "listen (the listener was made before the sandbox)", "listen", op_listen },
};

/* ---- time calls without the vDSO ----------------------------------------------------------- */

#define KIND(k)        (1u << (k))
#define KINDS_ALL      (KIND(SANDBOX_KIND_MAX) - 1)
#define KINDS_CORE     (KIND(SANDBOX_CORE_CONTROL) | KIND(SANDBOX_CORE_VCPU))
/* the kinds whose loop is libevent's: its gettime() re-reads the wall clock every 5 s */
#define KINDS_LIBEVENT (KIND(SANDBOX_QMPD) | KIND(SANDBOX_DEV_BLK) | KIND(SANDBOX_DEV_NET) | \
			KIND(SANDBOX_DEV_VSOCK) | KIND(SANDBOX_DEV_RNG) | KIND(SANDBOX_DEV_CONSOLE))

static struct timespec tc_ts;
static struct timeval tc_tv;

static long tc_mono(void) { return syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &tc_ts); }
static long tc_coarse(void) { return syscall(SYS_clock_gettime, CLOCK_MONOTONIC_COARSE, &tc_ts); }
static long tc_real(void) { return syscall(SYS_clock_gettime, CLOCK_REALTIME, &tc_ts); }
static long tc_gettimeofday(void) { return syscall(SYS_gettimeofday, &tc_tv, NULL); }
static long tc_time(void) { return syscall(SYS_time, NULL); }
static long tc_getres(void) { return syscall(SYS_clock_getres, CLOCK_MONOTONIC, &tc_ts); }
static long tc_nanosleep(void)
{
	struct timespec t = { 0, 1 };
	return syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &t, NULL);
}
static long tc_getcpu(void) { unsigned c; return syscall(SYS_getcpu, &c, NULL, NULL); }
static long tc_settimeofday(void)
{
	struct timeval tv = { 0, 0 };
	return syscall(SYS_settimeofday, &tv, NULL);
}
static long tc_clock_settime(void)
{
	struct timespec t = { 0, 0 };
	return syscall(SYS_clock_settime, CLOCK_REALTIME, &t);
}
static long tc_adjtimex(void)
{
	struct timex tx = { .modes = 0 };     /* a read: it would succeed if it got through */
	return syscall(SYS_adjtimex, &tx);
}

struct time_call {
	const char *what;
	const char *syscall;
	long (*call)(void);
	unsigned kinds;        /* the kinds that make it (must be allowed); the others trap */
};

/* What each kind makes (the profiles' time rules, from their call sites), and what none does. */
static const struct time_call time_calls[] = {
	{ "clock_gettime(CLOCK_MONOTONIC): log.c, io.c token bucket", "clock_gettime",
	  tc_mono, KINDS_ALL },
	{ "clock_gettime(CLOCK_MONOTONIC_COARSE): libevent's monotonic clock", "clock_gettime",
	  tc_coarse, KINDS_ALL },
	{ "clock_gettime(CLOCK_REALTIME): control.c event timestamps", "clock_gettime", tc_real,
	  KINDS_ALL },
	{ "gettimeofday: libevent gettime()", "gettimeofday", tc_gettimeofday, KINDS_LIBEVENT },
	{ "time: rtc.c host_now", "time", tc_time, KINDS_CORE },
	{ "clock_getres (no caller)", "clock_getres", tc_getres, 0 },
	{ "clock_nanosleep (no caller)", "clock_nanosleep", tc_nanosleep, 0 },
	{ "getcpu (no caller)", "getcpu", tc_getcpu, 0 },
	{ "settimeofday", "settimeofday", tc_settimeofday, 0 },
	{ "clock_settime", "clock_settime", tc_clock_settime, 0 },
	{ "adjtimex", "adjtimex", tc_adjtimex, 0 },
};

static const struct time_call *cur_tc;     /* the one the next child issues */

static void tc_forbidden(void) { refused(cur_tc->call()); }

static void tc_allowed(void)
{
	char line[256];
	long r = cur_tc->call();
	int n;

	if (r >= 0)
		return;
	n = snprintf(line, sizeof(line), "%s returned %ld: %s\n", cur_tc->syscall, r,
		     strerror(errno));
	if (write(2, line, (size_t)n) < 0)
		_exit(EXIT_FAILED + 1);
	_exit(EXIT_FAILED);
}

/* ---- forbidden operations: one child each ------------------------------------------------ */

static size_t read_all(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return got;
}

/* Fork a child with stderr on a pipe (and the SIGSYS report fd); returns its pid. With
 * pidns, a kind the supervisor clones into its own pid namespace is cloned so here too: the
 * SIGSYS report must then still name the pid we know it by, not its 1. */
static pid_t spawn_ns(void (*body)(void *), void *arg, int *err_rd, int *rep_rd, bool pidns)
{
	int ep[2], rp[2];
	pid_t pid;

	if (pipe2(ep, O_CLOEXEC) < 0 || sandbox_report_pipe(rp) < 0)
		return -1;
	fflush(stdout);
	if (pidns && sandbox_profile(cur)->pidns)
		pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, 0L);
	else
		pid = fork();
	if (pid == 0) {
		char v[16];

		dup2(ep[1], 2);
		snprintf(v, sizeof(v), "%d", rp[1]);
		setenv(SANDBOX_REPORT_ENV, v, 1);
		body(arg);
		_exit(0);
	}
	close(ep[1]);
	close(rp[1]);
	*err_rd = ep[0];
	*rep_rd = rp[0];
	return pid;
}

static pid_t spawn(void (*body)(void *), void *arg, int *err_rd, int *rep_rd)
{
	return spawn_ns(body, arg, err_rd, rep_rd, false);
}

static void forbidden_body(void *arg)
{
	run_in_kind(((const struct forbidden *)arg)->fn);
}

static void check_forbidden(const struct forbidden *f)
{
	char err[4096], desc[160], want[96];
	int efd, rfd, status;
	pid_t pid = spawn_ns(forbidden_body, (void *)f, &efd, &rfd, true);

	if (pid < 0) {
		say(false, "%s: cannot fork", f->what);
		return;
	}
	read_all(efd, err, sizeof(err));
	for (char *c = err; *c; c++)
		*c = *c == '\n' && c[1] ? '|' : *c;
	waitpid(pid, &status, 0);
	sandbox_describe_exit(pid, status, rfd, desc, sizeof(desc));
	close(efd);
	close(rfd);
	snprintf(want, sizeof(want), "seccomp: %s blocked", f->syscall ?: "");
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
		char rep[96];

		snprintf(rep, sizeof(rep), "(syscall %s)", f->syscall ?: "unknown");
		say((!f->syscall || strstr(err, want)) && strstr(desc, rep), "%s: killed by SIGSYS; stderr '%s', "
		    "supervisor would log '%s'", f->what, strtok(err, "\n") ?: "", desc);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_EPERM) {
		say(true, "%s: refused with EPERM", f->what);
	} else {
		say(false, "%s: NOT blocked (%s); child stderr: %s", f->what, desc, err);
	}
	if (f->fn == op_kill || f->fn == op_tgkill || f->fn == op_ptrace)
		say(kill(W.victim, 0) == 0, "%s: the other process is untouched", f->what);
}

/* A time call the kind makes, raw, in a child of that kind (core-vcpu: in a stacked thread). */
static void allowed_body(void *arg)
{
	(void)arg;
	run_in_kind(tc_allowed);
}

static void check_time_allowed(const struct time_call *t)
{
	char err[4096], desc[160];
	int efd, rfd, status;
	pid_t pid = spawn_ns(allowed_body, NULL, &efd, &rfd, true);

	if (pid < 0) {
		say(false, "%s: cannot fork", t->what);
		return;
	}
	read_all(efd, err, sizeof(err));
	waitpid(pid, &status, 0);
	sandbox_describe_exit(pid, status, rfd, desc, sizeof(desc));
	close(efd);
	close(rfd);
	say(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "time, raw syscall: %s: allowed (%s)%s%s", t->what, desc, *err ? "; stderr: " : "", strtok(err, "\n") ?: "");
}

static void check_time(void)
{
	for (unsigned i = 0; i < sizeof(time_calls) / sizeof(time_calls[0]); i++) {
		const struct time_call *t = &time_calls[i];
		struct forbidden f = { t->what, t->syscall, tc_forbidden };

		cur_tc = t;        /* the child, forked below, issues it */
		if (t->kinds & KIND(cur))
			check_time_allowed(t);
		else
			check_forbidden(&f);
	}
}

/* ---- what each kind needs: one child, then inspected from outside ------------------------- */

/* write(), not dprintf(): glibc's dprintf calls lseek, which no profile allows */
#define NEED(cond, what) do { if (!(cond)) need_failed(what); } while (0)

static void need_failed(const char *what)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "need %s: %s\n", what, strerror(errno));

	if (write(2, line, (size_t)n) < 0)
		_exit(EXIT_FAILED + 1);
	_exit(EXIT_FAILED);
}

static void on_usr1(int s) { (void)s; }
static void *idle(void *a) { poll(NULL, 0, -1); return a; }

static void need_common(void)
{
	struct stat st;
	struct timespec ts;
	char *p = malloc(8 << 20);
	uint64_t one = 1;

	NEED(p, "malloc (mmap)");
	memset(p, 1, 8 << 20);
	free(p);
	((volatile char *)W.ram_map)[4096] = 7;
	NEED(fstat(W.sp[1], &st) == 0, "fstat");
	NEED(clock_gettime(CLOCK_MONOTONIC, &ts) == 0, "clock_gettime");
	NEED(write(W.efd, &one, 8) == 8 || cur == SANDBOX_QMPD, "write to an eventfd");
}

static void need_msg(void)
{
	char b[8];
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { b, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	NEED(recvmsg(W.sp[1], &mh, MSG_CMSG_CLOEXEC) == 1, "recvmsg");
	mh.msg_controllen = sizeof(cbuf);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &W.sp[1], sizeof(int));
	NEED(sendmsg(W.sp[1], &mh, MSG_NOSIGNAL) == 1, "sendmsg with an fd");
}

static void need_core(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct pollfd pf = { .fd = W.efd, .events = POLLIN };
	pthread_t t;
	int e;

	need_msg();
	NEED(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
	NEED(pthread_create(&t, NULL, idle, NULL) == 0, "pthread_create");
	NEED(pthread_kill(t, SIGUSR1) == 0, "pthread_kill of our own thread");
	NEED(poll(&pf, 1, 0) == 1, "poll");
	NEED((e = eventfd(0, EFD_CLOEXEC)) >= 0, "eventfd");
	close(e);
	/* the filter lets KVM_RUN through; a memfd is no vCPU, so the kernel says ENOTTY */
	NEED(ioctl(W.ram, KVM_RUN, 0) < 0 && errno == ENOTTY, "ioctl(KVM_RUN) reaching the kernel");
}

static void *vcpu_need(void *a)
{
	struct pollfd pf = { .fd = W.efd, .events = POLLIN };
	int e;

	NEED(sandbox_thread_enter() == 0, "sandbox_thread_enter");
	NEED(ioctl(W.ram, KVM_RUN, 0) < 0 && errno == ENOTTY, "ioctl(KVM_RUN) in the vCPU thread");
	NEED(ioctl(W.ram, KVM_IOEVENTFD, 0) < 0 && errno == ENOTTY, "ioctl(KVM_IOEVENTFD)");
	NEED(poll(&pf, 1, 0) == 1, "poll (vhost-user reply wait)");
	NEED((e = eventfd(0, EFD_CLOEXEC)) >= 0, "eventfd (new kick)");
	close(e);
	need_msg();
	return a;
}

static void need_uring(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&W.ring);
	struct io_uring_cqe *cqe;
	char buf[16];

	io_uring_prep_read(sqe, W.ram, buf, sizeof(buf), 4096);
	NEED(io_uring_submit(&W.ring) == 1, "io_uring_enter (submit)");
	NEED(io_uring_wait_cqe(&W.ring, &cqe) == 0 && cqe->res == sizeof(buf) && buf[0] == 7,
	     "io_uring read of guest memory");
	io_uring_cqe_seen(&W.ring, cqe);
}

static void need_blk(void)
{
	struct epoll_event ev;
	int m, c;

	need_msg();
	need_uring();
	NEED(epoll_wait(W.epfd, &ev, 1, 0) == 1, "epoll_wait");
	NEED((m = memfd_create("vu-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING)) >= 0, "memfd_create");
	NEED(ftruncate(m, 4096) == 0, "ftruncate of the new inflight area");
	NEED(fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0, "F_ADD_SEALS");
	NEED((c = accept4(W.listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0, "accept4");
	NEED(unlink("/x") < 0 && errno == EPERM, "unlink answered EPERM");
}

static void need_qmpd(void)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct epoll_event ev;
	int c, fl;

	need_msg();
	NEED((c = accept4(W.listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0, "accept4");
	NEED(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && cr.pid == W.parent,
	     "SO_PEERCRED");
	NEED((fl = fcntl(c, F_GETFL)) >= 0 && fcntl(c, F_SETFL, fl | O_NONBLOCK) == 0, "F_SETFL");
	NEED(send(c, "{}", 2, MSG_NOSIGNAL) == 2, "send");
	NEED(epoll_wait(W.epfd, &ev, 1, 0) >= 0, "epoll_wait");
}

static void need_net(void)
{
	char b[4] = "ab";
	struct iovec iov = { b, 2 };

	need_msg();
	NEED(writev(W.sp[1], &iov, 1) == 2, "writev (tap stand-in)");
	NEED(ioctl(W.ram, TUNSETOFFLOAD, 0) < 0 && errno != EPERM, "ioctl(TUNSETOFFLOAD) "
	     "reaching the kernel");
	NEED(ioctl(W.ram, TUNSETVNETHDRSZ, &(int){ 12 }) < 0 && errno != EPERM,
	     "ioctl(TUNSETVNETHDRSZ) reaching the kernel");
	NEED(ioctl(W.ram, TUNSETQUEUE, &(struct ifreq){ .ifr_flags = IFF_DETACH_QUEUE }) < 0 &&
	     errno != EPERM, "ioctl(TUNSETQUEUE) reaching the kernel");
	NEED(unlink("/x") < 0 && errno == EPERM, "unlink answered EPERM");
}

static void need_vsock(void)
{
	int c;

	need_msg();
	NEED((c = accept4(W.listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0, "accept4");
	NEED(send(c, "x", 1, MSG_NOSIGNAL) == 1, "send to a host connection");
	NEED(shutdown(c, SHUT_WR) == 0, "shutdown");
}

static void need_rng(void)
{
	char b[64];
	struct iovec iov[2] = { { b, 16 }, { b + 16, 48 } };
	struct epoll_event ev;
	int c;

	need_msg();
	NEED(readv(W.rng, iov, 2) == 64, "readv from the entropy source");
	NEED(epoll_wait(W.epfd, &ev, 1, 0) >= 0, "epoll_wait");
	NEED((c = accept4(W.listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0, "accept4");
	NEED(unlink("/x") < 0 && errno == EPERM, "unlink answered EPERM");
}

/* dev-console: a client accepted on the listener, output sent to it (MSG_NOSIGNAL), its input
 * read with readv (into guest buffers), its hang-up looked at with poll; no shutdown, no
 * writev, no socket or connect (refused with the forbidden set). */
static void need_console(void)
{
	char b[8];
	struct iovec iov[2] = { { b, 1 }, { b + 1, 7 } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 1 };
	struct pollfd pf;
	struct epoll_event ev;
	int c;

	need_msg();
	NEED((c = accept4(W.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0, "accept4");
	b[0] = 'x';
	NEED(sendmsg(c, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == 1, "sendmsg to the client");
	NEED(readv(c, iov, 2) < 0 && errno == EAGAIN, "readv from the client (nothing yet)");
	pf = (struct pollfd){ .fd = c, .events = POLLIN };
	NEED(poll(&pf, 1, 0) >= 0, "poll of the client");
	NEED(epoll_wait(W.epfd, &ev, 1, 0) >= 0, "epoll_wait");
	NEED(unlink("/x") < 0 && errno == EPERM, "unlink answered EPERM");
}

static void needed_body(void *arg)
{
	int leak = open("/dev/null", O_RDONLY);     /* inherited junk: must be closed */
	int own = eventfd(0, EFD_CLOEXEC);          /* made by the process: dev-blk keeps it */
	pthread_t t;

	(void)arg;
	NEED(leak == 50 || dup2(leak, 50) == 50, "dup2");
	NEED(own >= 0 && dup2(own, 51) == 51 && fcntl(51, F_SETFD, FD_CLOEXEC) == 0, "eventfd");
	enter();
	need_common();
	switch (cur) {
	case SANDBOX_CORE_CONTROL: need_core(); break;
	case SANDBOX_CORE_VCPU:
		NEED(pthread_create(&t, NULL, vcpu_need, NULL) == 0, "pthread_create");
		pthread_join(t, NULL);
		break;
	case SANDBOX_DEV_BLK: need_blk(); break;
	case SANDBOX_QMPD: need_qmpd(); break;
	case SANDBOX_DEV_NET: need_net(); break;
	case SANDBOX_DEV_RNG: need_rng(); break;
	case SANDBOX_DEV_CONSOLE: need_console(); break;
	default: need_vsock(); break;
	}
	NEED(write(W.sp[1], "R", 1) == 1, "telling the parent");
	for (;;)
		poll(NULL, 0, -1);     /* pause() is no syscall any profile needs */
}

/* ---- from outside ----------------------------------------------------------------------- */

static bool status_has(pid_t pid, const char *want)
{
	char path[64], buf[4096];
	int fd;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read_all(fd, buf, sizeof(buf));
	close(fd);
	return n && strstr(buf, want);
}

static bool root_is_empty(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	d = opendir(path);
	if (!d)
		return false;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n == 0;
}

static bool fd_listed(const char *target)
{
	for (const struct sandbox_fd *f = sandbox_profile(cur)->fds; f->glob; f++)
		if (!strcmp(f->glob, target) || !fnmatch(f->glob, target, 0))
			return true;
	return false;
}

static void check_fds(pid_t pid)
{
	char path[96], target[256];
	DIR *d;
	struct dirent *e;
	bool ok = true, own = false;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d) {
		say(false, "outside: cannot list %s", path);
		return;
	}
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		ssize_t n;

		if (e->d_name[0] == '.' || fd <= 2)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		own |= fd == 51;
		if (fd == 50 || !fd_listed(target)) {
			say(false, "outside: fd %d -> %s is not in the profile", fd, target);
			ok = false;
		}
	}
	closedir(d);
	say(ok, "outside: every fd above 2 is one the profile lists; the inherited one is closed");
	say(own == (cur == SANDBOX_DEV_BLK), "outside: an fd the process opened itself (cloexec) "
	    "%s", cur == SANDBOX_DEV_BLK ? "is kept (keep_cloexec)" : "not on the list is closed");
}

static bool same_ns(pid_t pid, const char *ns)
{
	char a[64], b[64], ta[64] = "", tb[64] = "";

	snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid, ns);
	snprintf(b, sizeof(b), "/proc/self/ns/%s", ns);
	if (readlink(a, ta, sizeof(ta) - 1) < 0 || readlink(b, tb, sizeof(tb) - 1) < 0)
		return true;
	return !strcmp(ta, tb);
}

static void inspect(pid_t pid)
{
	static const char *const ns[] = { "user", "ipc", "uts", "net", "mnt" };

	say(status_has(pid, "\nSeccomp:\t2\n"), "outside: /proc/PID/status shows Seccomp: 2");
	say(status_has(pid, "\nNoNewPrivs:\t1\n"), "outside: /proc/PID/status shows NoNewPrivs: 1");
	say(status_has(pid, "\nCapEff:\t0000000000000000\n") &&
	    status_has(pid, "\nCapBnd:\t0000000000000000\n"), "outside: no capabilities, empty "
	    "bounding set");
	say(root_is_empty(pid), "outside: /proc/PID/root is an empty directory");
	for (unsigned i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		say(!same_ns(pid, ns[i]), "outside: in its own %s namespace", ns[i]);
	check_fds(pid);
}

/* Wait for the child's "R" on the socketpair; false if it died or took too long. */
static bool wait_ready(pid_t pid)
{
	char c;

	for (int i = 0; i < 100; i++) {
		struct pollfd pf = { .fd = W.sp[0], .events = POLLIN };

		if (poll(&pf, 1, 100) == 1 && read(W.sp[0], &c, 1) == 1 && c == 'R')
			return true;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return false;
	}
	return false;
}

static void stop(pid_t pid, int efd, int rfd, char *err, size_t cap)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	read_all(efd, err, cap);
	close(efd);
	close(rfd);
}

static void check_needed(void)
{
	char err[4096];
	int efd, rfd;
	pid_t pid;

	if (reconnect() < 0 || write(W.sp[0], "m", 1) != 1) {
		say(false, "cannot set up the needed-operations child");
		return;
	}
	pid = spawn(needed_body, NULL, &efd, &rfd);
	if (pid < 0 || !wait_ready(pid)) {
		stop(pid, efd, rfd, err, sizeof(err));
		say(false, "what the kind needs failed: %s", err);
		return;
	}
	say(true, "what the kind needs still works");
	inspect(pid);
	stop(pid, efd, rfd, err, sizeof(err));
}

/* ---- the runner under a parent that refuses namespaces; -disable-seccomp ---------------- */

static void refused_body(void *arg)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

	(void)arg;
	/* the host says no to user namespaces (EPERM) and to network ones (EINVAL) */
	if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EINVAL), SCMP_SYS(unshare), 1,
			     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWNET, CLONE_NEWNET)) ||
	    seccomp_load(ctx))
		_exit(EXIT_SETUP);
	enter();
	if (write(W.sp[1], "R", 1) == 1)
		for (;;)
			poll(NULL, 0, -1);
	_exit(1);
}

static void check_refused(void)
{
	char err[4096];
	int efd, rfd;
	pid_t pid;

	cur = SANDBOX_DEV_BLK;
	pid = spawn(refused_body, NULL, &efd, &rfd);
	if (pid < 0 || !wait_ready(pid)) {
		stop(pid, efd, rfd, err, sizeof(err));
		say(false, "refused namespaces: the runner did not go on: %s", err);
		return;
	}
	say(same_ns(pid, "user") && same_ns(pid, "net") && !same_ns(pid, "ipc") &&
	    !same_ns(pid, "mnt"), "refused namespaces: user and net skipped, the others entered");
	say(root_is_empty(pid) && status_has(pid, "\nSeccomp:\t2\n"), "refused namespaces: "
	    "empty root and seccomp all the same");
	stop(pid, efd, rfd, err, sizeof(err));
	/* forked, not cloned into a pid namespace as the supervisor does for dev-blk */
	say(strstr(err, "user namespace skipped: unshare: Operation not permitted") &&
	    strstr(err, "net namespace skipped: unshare: Invalid argument") &&
	    strstr(err, "pid namespace skipped: not started as pid 1 of its own"),
	    "refused namespaces: the log names each skipped namespace and why: %s", err);
}

static void disabled_body(void *arg)
{
	int s;

	(void)arg;
	no_seccomp = true;
	enter();
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s >= 0 && write(W.sp[1], "R", 1) == 1)
		for (;;)
			poll(NULL, 0, -1);
	_exit(1);
}

static void check_disabled(void)
{
	char err[4096];
	int efd, rfd;
	pid_t pid;

	cur = SANDBOX_DEV_BLK;
	pid = spawn(disabled_body, NULL, &efd, &rfd);
	if (pid < 0 || !wait_ready(pid)) {
		stop(pid, efd, rfd, err, sizeof(err));
		say(false, "-disable-seccomp: the child failed: %s", err);
		return;
	}
	say(status_has(pid, "\nSeccomp:\t0\n") && status_has(pid, "\nNoNewPrivs:\t1\n") &&
	    root_is_empty(pid), "-disable-seccomp: no filter, but no_new_privs and the empty root");
	stop(pid, efd, rfd, err, sizeof(err));
	say(strstr(err, "-disable-seccomp") && strstr(err, "WITHOUT its seccomp filter"),
	    "-disable-seccomp: said loudly in the log");
}

static void run_kind(enum sandbox_kind k)
{
	cur = k;
	for (unsigned i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
		check_forbidden(&forbidden[i]);
	for (unsigned i = 0; k == SANDBOX_CORE_VCPU && i < sizeof(vcpu_only) / sizeof(vcpu_only[0]); i++)
		check_forbidden(&vcpu_only[i]);
	for (unsigned i = 0; k == SANDBOX_DEV_CONSOLE &&
			     i < sizeof(console_only) / sizeof(console_only[0]); i++)
		check_forbidden(&console_only[i]);
	check_time();
	check_needed();
}

int main(int argc, char **argv)
{
	log_init("try-syscall", 2);
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0) {
		printf("try-syscall: needs root (the sandbox is tested as CI runs it)\n");
		return 1;
	}
	if (world_init() < 0) {
		perror("try-syscall: setting up");
		world_exit();
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		int k = sandbox_kind_from_name(argv[i]);

		if (k < 0) {
			printf("try-syscall: unknown kind '%s'\n", argv[i]);
			failures++;
			continue;
		}
		run_kind((enum sandbox_kind)k);
	}
	if (argc == 1) {
		for (int k = 0; k < SANDBOX_KIND_MAX; k++)
			run_kind((enum sandbox_kind)k);
		check_refused();
		check_disabled();
	}
	world_exit();
	printf("try-syscall: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
