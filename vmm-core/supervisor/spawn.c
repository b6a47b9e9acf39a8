/* How the supervisor makes its children (issue 5): the -runas ids, resolved once before the
 * first child; the pid namespace each device worker and qmpd is cloned into; and the check a
 * new child makes that the supervisor is still there. */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
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

/* "--runas=UID:GID" for a worker's command line, or "" without -runas. */
void sup_runas_arg(const struct supervisor *s, char *buf, size_t len)
{
	if (s->runas)
		snprintf(buf, len, "--runas=%u:%u", (unsigned)s->run_uid, (unsigned)s->run_gid);
	else if (len)
		buf[0] = '\0';
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
pid_t sup_fork(struct supervisor *s, bool pidns)
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
bool sup_parent_alive(const struct supervisor *s)
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
