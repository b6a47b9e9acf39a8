/* How the supervisor makes its children (issue 5): where their programs are, the -runas ids,
 * resolved once before the first child; the pid namespace each device worker and qmpd is
 * cloned into; the fds a child keeps and the check it makes that the supervisor is still
 * there; how often a child may be restarted, and how its end is told. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bulkhead-config.h"
#include "log.h"
#include "sandbox.h"
#include "supervisor_priv.h"
#include "util.h"

/* One line naming the option; then bulkhead exits 1 (the line was fine, the host says no). */
PRINTF(1, 2) static int runas_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bulkhead: -runas: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return -1;
}

/* All digits (the CLI already refused empty words): "65534" -> 65534. */
static bool numeric(const char *s, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	return !errno && !*end && *s >= '0' && *s <= '9' && *v < UINT32_MAX;
}

/*
 * -runas USER[:GROUP]: names first, as chown(1) does, then numbers. Without a group, the user's
 * primary group; a bare uid with no passwd entry has none, and guessing one (0?) would be
 * worse than asking. Only root can hand its children other ids.
 */
int sup_resolve_runas(struct supervisor *s)
{
	char user[VM_RUNAS_MAX + 1], *group;
	const struct passwd *pw;
	const struct group *gr;
	unsigned long v;

	if (!s->cfg->runas[0])
		return 0;
	if (geteuid() != 0)
		return runas_error("only root can run its children as another user (bulkhead "
				   "runs as uid %u)", (unsigned)geteuid());
	snprintf(user, sizeof(user), "%s", s->cfg->runas);
	group = strchr(user, ':');
	if (group)
		*group++ = '\0';
	pw = getpwnam(user);
	if (!pw && numeric(user, &v))
		pw = getpwuid((uid_t)v);
	if (!pw && !numeric(user, &v))
		return runas_error("unknown user '%s'", user);
	s->run_uid = pw ? pw->pw_uid : (uid_t)v;
	if (group) {
		gr = getgrnam(group);
		if (gr)
			s->run_gid = gr->gr_gid;
		else if (numeric(group, &v))
			s->run_gid = (gid_t)v;
		else
			return runas_error("unknown group '%s'", group);
	} else if (pw) {
		s->run_gid = pw->pw_gid;
	} else {
		return runas_error("uid %s has no passwd entry, so no group: give one (-runas "
				   "%s:GROUP)", user, user);
	}
	s->runas = true;
	log_info("children run as uid %u gid %u (-runas %s)", (unsigned)s->run_uid,
		 (unsigned)s->run_gid, s->cfg->runas);
	return 0;
}

int sup_arg(struct sup_args *a, const char *fmt, ...)
{
	size_t room = sizeof(a->buf) - a->used;
	va_list ap;
	int n;

	a->n += a->n == 0;      /* argv[0] is sup_spawn's */
	if (a->n + 1 >= SUP_CHILD_ARGS)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(a->buf + a->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return -1;
	a->argv[a->n++] = a->buf + a->used;
	a->argv[a->n] = NULL;
	a->used += (size_t)n + 1;
	return 0;
}

int sup_sandbox_args(const struct supervisor *s, struct sup_args *a)
{
	if (s->runas && sup_arg(a, "--runas=%u:%u", (unsigned)s->run_uid, (unsigned)s->run_gid))
		return -1;
	return s->cfg->disable_seccomp ? sup_arg(a, "--disable-seccomp") : 0;
}

/*
 * A worker is cloned into a new pid namespace, as its pid 1: there it sees no other process
 * (nothing to kill or ptrace, should its filter ever allow it), and whatever it could start
 * would die with it. clone() from here keeps it our child, so waitpid, its exit status and
 * PDEATHSIG work as after fork(). Raw clone without a new stack returns twice like fork(); we
 * are single-threaded and the child only sets up fds and execs, so glibc's fork bookkeeping
 * is not missed. Two things differ for a namespace's pid 1: getppid() is 0 (see
 * sup_parent_alive), and signals it has no handler for are ignored unless they are SIGKILL or
 * SIGSTOP, so stopping it is SIGKILL or a signal it handles (bulkhead-blk: SIGTERM).
 * The core is not cloned so: query-cpus reports its vCPU threads' ids, which must be the
 * host's. Where the host refuses pid namespaces, workers share ours and their sandbox says so.
 */
static pid_t clone_or_fork(struct supervisor *s, bool pidns)
{
	pid_t pid;

	if (pidns && !s->no_pidns) {
		pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, 0L);
		if (pid >= 0 || (errno != EPERM && errno != EINVAL && errno != ENOSPC &&
				 errno != EUSERS))
			return pid;
		log_warnx("pid namespaces refused (clone: %s); workers run in ours",
			  strerror(errno));
		s->no_pidns = true;
	}
	return fork();
}

/* In a new child: is the supervisor still there? If it died before PDEATHSIG was set, nothing
 * will kill us. In our own pid namespace getppid() is 0 whoever our parent is; then its pidfd
 * (readable once it has exited) says. */
static bool parent_alive(const struct supervisor *s)
{
	struct pollfd p = { .fd = s->self_pidfd, .events = POLLIN };
	pid_t pp = getppid();

	if (pp != 0)
		return pp == s->parent;
	return s->self_pidfd >= 0 && poll(&p, 1, 0) == 0;
}

int sup_self_pidfd(void)
{
	return (int)syscall(SYS_pidfd_open, getpid(), 0);
}

bool sup_restart_allowed(struct restarts *r, unsigned burst, uint64_t window_ns)
{
	uint64_t now = mono_ns(), oldest = r->ns[r->n % burst];

	if (r->n >= burst && now - oldest < window_ns)
		return false;
	r->ns[r->n++ % burst] = now;
	return true;
}

void sup_describe_exit(const struct supervisor *s, pid_t pid, int status, char *buf,
		       size_t len)
{
	sandbox_describe_exit(pid, status, s->sandbox_report[0], buf, len);
}

/*
 * Where a helper program lives: next to bulkhead, at `subdir` beside our directory (the build
 * tree: vmm-core/bulkhead and dev-blk/bulkhead-blk), in $BULKHEAD_LIBEXECDIR, or in the
 * configured libexecdir.
 */
int sup_helper_path(const char *prog, const char *subdir, char *buf, size_t len)
{
	char self[PATH_MAX];
	const char *env = getenv("BULKHEAD_LIBEXECDIR");
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	/* also keeps gcc's -Wformat-truncation quiet under -fsanitize=undefined (null paths) */
	if (!buf || !len)
		return -1;
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, len, "%s/%s", self, prog);
			if (access(buf, X_OK) == 0)
				return 0;
			if (subdir) {
				snprintf(buf, len, "%s/../%s/%s", self, subdir, prog);
				if (access(buf, X_OK) == 0)
					return 0;
			}
		}
	}
	if (env) {
		snprintf(buf, len, "%s/%s", env, prog);
		if (access(buf, X_OK) == 0)
			return 0;
	}
	snprintf(buf, len, "%s/%s", BULKHEAD_LIBEXECDIR, prog);
	return access(buf, X_OK) == 0 ? 0 : -1;
}

/* Move fd above every target (3, its socket, then up to SUP_CHILD_FDS and the sandbox report
 * pipe) so the dup2()s to 3, 4, ... cannot clobber each other. */
static int high_fd(int fd)
{
	return fcntl(fd, F_DUPFD, 3 + 1 + SUP_CHILD_FDS + 1);
}

/* In the new child: PDEATHSIG, plain signal mask, stdin/stdout to /dev/null unless kept, the
 * log on stderr; then fds[i] becomes fd 3+i and every other fd is closed. */
static void child_setup(struct supervisor *s, const int *fds, unsigned nfds, bool keep_stdio)
{
	int high[1 + SUP_CHILD_FDS];
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!parent_alive(s) || nfds > 1 + SUP_CHILD_FDS)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (!keep_stdio) {
		dup2(s->null_fd, 0);
		dup2(s->null_fd, 1);
	}
	if (s->log_fd >= 0)
		dup2(s->log_fd, 2);
	for (unsigned i = 0; i < nfds; i++)
		if ((high[i] = high_fd(fds[i])) < 0)
			_exit(127);
	for (unsigned i = 0; i < nfds; i++)
		if (dup2(high[i], 3 + (int)i) < 0)
			_exit(127);
	/* sandbox (issue 5): the pipe a seccomp kill names its syscall on, right after them */
	if (s->sandbox_report[1] >= 0 && dup2(s->sandbox_report[1], 3 + (int)nfds) == 3 + (int)nfds) {
		char v[16];

		snprintf(v, sizeof(v), "%u", 3 + nfds);
		setenv(SANDBOX_REPORT_ENV, v, 1);
		nfds++;
	}
	close_range(3 + nfds, ~0U, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

pid_t sup_spawn(struct supervisor *s, struct sup_child *c, int *sock)
{
	char path[PATH_MAX + 32];
	int sv[2], fds[1 + SUP_CHILD_FDS];
	pid_t pid;

	if (sup_helper_path(c->program, c->build_dir, path, sizeof(path)) < 0) {
		log_warnx("cannot find %s next to bulkhead or in %s", c->program,
			  BULKHEAD_LIBEXECDIR);
		return -1;
	}
	if (socketpair(AF_UNIX, c->sock_type | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("socketpair");
		return -1;
	}
	pid = clone_or_fork(s, c->pidns);
	if (pid == 0) {
		fds[0] = sv[1];
		memcpy(fds + 1, c->fds, c->nfds * sizeof(int));
		child_setup(s, fds, 1 + c->nfds, c->keep_stdio);
		c->args.argv[0] = (char *)c->program;
		execv(path, c->args.argv);
		dprintf(2, "bulkhead: exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	if (pid < 0) {
		log_warn("fork");
		close(sv[0]);
		return -1;
	}
	*sock = sv[0];
	return pid;
}
