/* The sandbox runner: fds, namespaces with an empty root, rlimits, capabilities, no_new_privs
 * and the seccomp allowlist of one process kind (profiles in common/profiles/). */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define MAX_KEEP    64
/* x86_64 syscall numbers stop below this; names for the SIGSYS report */
#define NAMES_MAX   512
/* where the empty root is mounted before pivot_root; private to our mount namespace */
#define NEWROOT_AT  "/tmp"
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1       /* si_code of a SIGSYS raised by a seccomp filter */
#endif

static const struct sandbox_profile *const profiles[SANDBOX_KIND_MAX] = {
	[SANDBOX_CORE_CONTROL] = &sandbox_profile_core_control,
	[SANDBOX_CORE_VCPU] = &sandbox_profile_core_vcpu,
	[SANDBOX_QMPD] = &sandbox_profile_qmpd,
	[SANDBOX_DEV_BLK] = &sandbox_profile_dev_blk,
	[SANDBOX_DEV_NET] = &sandbox_profile_dev_net,
	[SANDBOX_DEV_VSOCK] = &sandbox_profile_dev_vsock,
	[SANDBOX_DEV_RNG] = &sandbox_profile_dev_rng,
	[SANDBOX_DEV_CONSOLE] = &sandbox_profile_dev_console,
};

const struct sandbox_profile *sandbox_profile(enum sandbox_kind kind)
{
	return (unsigned)kind < SANDBOX_KIND_MAX ? profiles[kind] : NULL;
}

int sandbox_kind_from_name(const char *name)
{
	for (unsigned i = 0; i < SANDBOX_KIND_MAX; i++)
		if (!strcmp(profiles[i]->name, name))
			return (int)i;
	return -1;
}

/* ---- the seccomp filter ---------------------------------------------------------------- */

static int add_rule(scmp_filter_ctx ctx, const struct sandbox_rule *r)
{
	struct scmp_arg_cmp cmp[SANDBOX_MAX_ARGS];
	int nr = seccomp_syscall_resolve_name(r->syscall);

	if (nr == __NR_SCMP_ERROR || r->nargs > SANDBOX_MAX_ARGS)
		return -EINVAL;
	for (unsigned i = 0; i < r->nargs; i++) {
		const struct sandbox_arg *a = &r->args[i];

		/* SCMP_CMP_EQ ignores datum_b; it is spelled out so no field is left implicit */
		if (a->op == SB_EQ)
			cmp[i] = SCMP_CMP(a->index, SCMP_CMP_EQ, a->value, 0);
		else if (a->op == SB_SELF_PID)
			cmp[i] = SCMP_CMP(a->index, SCMP_CMP_EQ, (uint64_t)getpid(), 0);
		else
			cmp[i] = SCMP_CMP(a->index, SCMP_CMP_MASKED_EQ, a->mask, a->value);
	}
	return seccomp_rule_add_array(ctx, r->err ? SCMP_ACT_ERRNO((uint32_t)r->err) :
				      SCMP_ACT_ALLOW, nr, r->nargs, cmp);
}

static int add_rules(scmp_filter_ctx ctx, const struct sandbox_profile *p)
{
	int r;

	for (unsigned i = 0; i < p->nrules; i++) {
		r = add_rule(ctx, &p->rules[i]);
		if (r < 0) {
			log_warnx("sandbox %s: rule %u (%s): %s", p->name, i, p->rules[i].syscall,
				  strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Anything not allowed traps: the SIGSYS handler names the call, then the process dies. */
static scmp_filter_ctx build_filter(const struct sandbox_profile *p, bool tsync)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);

	if (!ctx)
		return NULL;
	if ((tsync && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0) ||
	    (p->base && add_rules(ctx, &sandbox_profile_base) < 0) || add_rules(ctx, p) < 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

int sandbox_validate(enum sandbox_kind kind)
{
	const struct sandbox_profile *p = sandbox_profile(kind);
	scmp_filter_ctx ctx = p ? build_filter(p, kind != SANDBOX_CORE_VCPU) : NULL;

	if (!ctx)
		return -EINVAL;
	seccomp_release(ctx);
	return 0;
}

/* The per-thread program, exported at sandbox_enter so a thread only has to install it. */
static struct sock_fprog thread_prog;

static int export_thread_filter(const struct sandbox_profile *p)
{
	scmp_filter_ctx ctx = build_filter(p, false);
	int fd = memfd_create("sandbox-bpf", MFD_CLOEXEC), r = -ENOMEM;
	struct stat st;
	void *buf = NULL;

	if (!ctx || fd < 0)
		goto out;
	r = seccomp_export_bpf(ctx, fd);
	if (r == 0 && (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % 8 ||
		       st.st_size > 65536))
		r = -EINVAL;
	if (r == 0 && (!(buf = malloc((size_t)st.st_size)) ||
		       pread(fd, buf, (size_t)st.st_size, 0) != st.st_size))
		r = -EIO;
	if (r == 0) {
		thread_prog.len = (unsigned short)(st.st_size / 8);
		thread_prog.filter = buf;
		buf = NULL;
	}
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	if (ctx)
		seccomp_release(ctx);
	return r;
}

int sandbox_thread_enter(void)
{
	if (!thread_prog.filter)
		return 0;
	/* no TSYNC: this thread only, on top of the process filter it inherited */
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &thread_prog) < 0 ? -errno : 0;
}

/* ---- the SIGSYS report --------------------------------------------------------------- */

static const char *syscall_names[NAMES_MAX];
static int report_fd = -1;
/* our pid as the supervisor knows it: getpid() is 1 in a worker's own pid namespace */
static pid_t report_pid;

static void load_names(void)
{
	for (int nr = 0; nr < NAMES_MAX; nr++)
		if (!syscall_names[nr])
			syscall_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
}

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, unsigned v)
{
	char num[16];
	size_t k = sizeof(num) - 1;

	num[k] = '\0';
	do
		num[--k] = (char)('0' + v % 10);
	while ((v /= 10) && k > 0);
	return put(buf, at, cap, num + k);
}

/* Async-signal-safe: fixed buffers and write() only. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[128], rep[128];
	const char *name = NULL;
	int nr = si->si_syscall;
	size_t n = 0, m = 0;

	(void)sig;
	(void)uc;
	/* a SIGSYS someone sent us names no syscall: just die of it */
	if (si->si_code != SYS_SECCOMP)
		syscall(SYS_ptrace, -1L, 0L, 0L, 0L);
	if (nr >= 0 && nr < NAMES_MAX)
		name = syscall_names[nr];
	n = put(line, n, sizeof(line), "seccomp: ");
	n = name ? put(line, n, sizeof(line), name) :
		   put_num(line, put(line, n, sizeof(line), "syscall "), sizeof(line), (unsigned)nr);
	n = put(line, n, sizeof(line), " blocked\n");
	if (write(2, line, n) < 0) {
		/* nothing left to tell it to */
	}
	m = put_num(rep, m, sizeof(rep), report_pid > 0 ? (unsigned)report_pid :
		    (unsigned)syscall(SYS_getpid));
	m = put(rep, m, sizeof(rep), " ");
	m = name ? put(rep, m, sizeof(rep), name) : put_num(rep, m, sizeof(rep), (unsigned)nr);
	m = put(rep, m, sizeof(rep), "\n");
	if (report_fd >= 0 && write(report_fd, rep, m) < 0) {
		/* the supervisor then reports SIGSYS without the name */
	}
	/* SIGSYS is blocked while we run: the kernel kills us with it for this second one */
	syscall(SYS_ptrace, -1L, 0L, 0L, 0L);
	_exit(128 + SIGSYS);
}

static int install_sigsys(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	load_names();
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}

/* The supervisor's pipe for the report, named in the environment; -1 without one. */
static int report_fd_from_env(void)
{
	const char *s = getenv(SANDBOX_REPORT_ENV);
	char *end;
	long fd;

	if (!s)
		return -1;
	errno = 0;
	fd = strtol(s, &end, 10);
	if (errno || *end || fd < 3 || fd > 1024 || fcntl((int)fd, F_GETFD) < 0)
		return -1;
	return (int)fd;
}

int sandbox_report_pipe(int fds[2])
{
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	fds[0] = p[0];
	fds[1] = fcntl(p[1], F_DUPFD_CLOEXEC, 100);
	close(p[1]);
	if (fds[1] < 0) {
		close(p[0]);
		return -errno;
	}
	return 0;
}

/* The name pid's handler wrote, if its line is in what the pipe holds now; a child can
 * write anything there, so only a syscall-name-like word is believed. */
static bool report_name(pid_t pid, int fd, char *name, size_t len)
{
	char buf[1024], *line, *save = NULL;
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	bool found = false;

	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *end;
		long p = strtol(line, &end, 10);

		if (p != pid || *end != ' ' || strspn(end + 1, "abcdefghijklmnopqrstuvwxyz0123456789_ ")
		    != strlen(end + 1))
			continue;
		snprintf(name, len, "%s", end + 1);
		found = true;
	}
	return found;
}

void sandbox_describe_exit(pid_t pid, int status, int report_rd, char *buf, size_t len)
{
	char name[64];

	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		snprintf(buf, len, "was killed by seccomp (syscall %s)",
			 report_name(pid, report_rd, name, sizeof(name)) ? name : "unknown");
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %s", strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* ---- printing the effective rules ------------------------------------------------------- */

static void format_arg(char *buf, size_t len, const struct sandbox_arg *a)
{
	if (a->op == SB_SELF_PID)
		snprintf(buf, len, "arg%u == getpid()", a->index);
	else if (a->op == SB_EQ)
		snprintf(buf, len, "arg%u == %s", a->index, a->name);
	else if (a->mask == 0xffffffffu)
		snprintf(buf, len, "arg%u == %s (%#llx)", a->index, a->name,
			 (unsigned long long)a->value);
	else if (a->value == 0)
		snprintf(buf, len, "!(arg%u & %s)", a->index, a->name);
	else
		snprintf(buf, len, "arg%u & %s", a->index, a->name);
}

static void print_rules(FILE *out, const struct sandbox_profile *p)
{
	for (unsigned i = 0; i < p->nrules; i++) {
		const struct sandbox_rule *r = &p->rules[i];
		char cond[160] = "", one[96], act[24] = "allow";

		for (unsigned k = 0; k < r->nargs && k < SANDBOX_MAX_ARGS; k++) {
			format_arg(one, sizeof(one), &r->args[k]);
			snprintf(cond + strlen(cond), sizeof(cond) - strlen(cond), "%s%s",
				 k ? " && " : "if ", one);
		}
		if (r->err)
			snprintf(act, sizeof(act), "errno(%s)", strerrorname_np(r->err));
		fprintf(out, "%-13s %-16s %-40s # %s\n", act, r->syscall, cond, r->why);
	}
}

void sandbox_print_profile(FILE *out, enum sandbox_kind kind)
{
	const struct sandbox_profile *p = sandbox_profile(kind);

	if (!p)
		return;
	fprintf(out, "# sandbox profile %s: %s\n", p->name, p->what);
	fprintf(out, "# anything else: SIGSYS, \"seccomp: NAME blocked\" on stderr, the process "
		"dies%s\n", kind == SANDBOX_CORE_VCPU ? " (stacked on core-control)" : "");
	fprintf(out, "# rlimits: NOFILE = highest kept fd + 1 + %u, NPROC %s, CORE 0 unless "
		"dump-guest-core\n", p->nofile_extra, p->threads ? "unchanged (threads)" : "0");
	/* the core keeps the host's pid namespace: query-cpus reports host thread ids */
	fprintf(out, "# namespaces where the host allows: user ipc uts net mount (empty read-only "
		"root; user: not with -runas); pid: %s\n",
		p->pidns ? "its own, as pid 1 (the supervisor clones it so)" : "its parent's");
	if (p->base)
		print_rules(out, &sandbox_profile_base);
	print_rules(out, p);
	for (const struct sandbox_fd *f = p->fds; f && f->glob; f++)
		fprintf(out, "fd %-40s # %s\n", f->glob, f->why);
}

/* ---- fds ------------------------------------------------------------------------------- */

static bool listed(int fd, const int *keep, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (keep[i] == fd)
			return true;
	return false;
}

/* An fd this process opened itself carries FD_CLOEXEC (every bulkhead open does, and so do
 * libevent's); an inherited one cannot have had it, or exec would have closed it. */
static bool own_fd(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	return fl >= 0 && (fl & FD_CLOEXEC);
}

static int close_listed_only(const int *keep, unsigned n, int *maxfd)
{
	int sorted[MAX_KEEP], next = 0;

	memcpy(sorted, keep, n * sizeof(int));
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			int t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (unsigned i = 0; i < n; i++) {
		if (sorted[i] > next && close_range((unsigned)next, (unsigned)sorted[i] - 1, 0) < 0)
			return -errno;
		next = sorted[i] + 1;
		*maxfd = sorted[i];
	}
	return close_range((unsigned)next, ~0U, 0) < 0 ? -errno : 0;
}

static int close_fds(const int *keep, unsigned n, bool keep_cloexec, int *maxfd)
{
	DIR *d;
	struct dirent *e;
	int fds[1024], nfds = 0;

	*maxfd = 2;
	if (!keep_cloexec)
		return close_listed_only(keep, n, maxfd);
	d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	while ((e = readdir(d)) && nfds < (int)ARRAY_SIZE(fds))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			fds[nfds++] = atoi(e->d_name);
	closedir(d);
	if (nfds == (int)ARRAY_SIZE(fds))
		return -EMFILE;
	for (int i = 0; i < nfds; i++) {
		if (listed(fds[i], keep, n) || own_fd(fds[i])) {
			if (fds[i] > *maxfd)
				*maxfd = fds[i];
		} else {
			close(fds[i]);
		}
	}
	return 0;
}

/* ---- namespaces and the empty root ------------------------------------------------------ */

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		r = -errno;
	close(fd);
	return r;
}

/* Inside, we keep our ids (root stays 0), mapped to the same ids outside: one each. */
static int map_ids(uid_t uid, gid_t gid)
{
	char m[64];
	int r;

	snprintf(m, sizeof(m), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if ((r = write_file("/proc/self/uid_map", m)))
		return r;
	if ((r = write_file("/proc/self/setgroups", "deny")) && r != -ENOENT)
		return r;
	snprintf(m, sizeof(m), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	return write_file("/proc/self/gid_map", m);
}

static bool try_unshare(int flag, const char *ns, const char *kind)
{
	if (unshare(flag) == 0)
		return true;
	log_warnx("sandbox %s: %s namespace skipped: unshare: %s", kind, ns, strerror(errno));
	return false;
}

/* A fresh tmpfs as /, the old root detached, then read-only: /proc/PID/root is empty. */
static int pivot_to_empty_root(const char **step)
{
	*step = "making / private";
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	*step = "mounting the new root";
	if (mount("tmpfs", NEWROOT_AT, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=16k,nr_inodes=16,mode=0555") < 0)
		return -errno;
	*step = "pivot_root";
	/* pivot_root(".", "."): the old root ends up stacked on the new one, then goes */
	if (chdir(NEWROOT_AT) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		return -errno;
	*step = "detaching the old root";
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return -errno;
	*step = "remounting / read-only";
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
		  MS_NOEXEC, NULL) < 0)
		return -errno;
	return 0;
}

/*
 * With -runas the process is real root until drop_ids, and root needs no user namespace to
 * make the others; one would even be in the way: a process inside may map only its own ids
 * (so the -runas ones would not exist there, and unmapped SO_PEERCRED uids would all read as
 * 65534, nobody), and mapping them after the switch needs the process dumpable, open to
 * ptrace by any other process of that uid meanwhile.
 */
static void enter_namespaces(const struct sandbox_profile *p, const struct sandbox_opts *o)
{
	const char *kind = p->name;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	const char *step;
	int r;

	if (o->runas)
		log_debug("sandbox %s: user namespace skipped: -runas (root makes the others, then "
			  "becomes uid %u)", kind, (unsigned)o->uid);
	else if (try_unshare(CLONE_NEWUSER, "user", kind) && (r = map_ids(uid, gid)))
		log_warnx("sandbox %s: user namespace without id maps: %s", kind, strerror(-r));
	try_unshare(CLONE_NEWIPC, "ipc", kind);
	try_unshare(CLONE_NEWUTS, "uts", kind);
	try_unshare(CLONE_NEWNET, "net", kind);
	/* pid: a process cannot move itself into a new pid namespace (unsharing one would only
	 * make every later thread creation fail, CLONE_THREAD across pid namespaces), so the
	 * supervisor clones the workers into theirs; the core stays in the host's */
	if (p->pidns && getpid() != 1)
		log_warnx("sandbox %s: pid namespace skipped: not started as pid 1 of its own",
			  kind);
	if (try_unshare(CLONE_NEWNS, "mount", kind) && (r = pivot_to_empty_root(&step)))
		log_warnx("sandbox %s: empty root skipped: %s: %s", kind, step, strerror(-r));
}

/* ---- rlimits and capabilities ----------------------------------------------------------- */

static int set_limit(int res, rlim_t v)
{
	struct rlimit rl = { v, v };

	return setrlimit(res, &rl) < 0 ? -errno : 0;
}

static int set_rlimits(const struct sandbox_profile *p, int maxfd, bool dump_core)
{
	int r;

	if ((r = set_limit(RLIMIT_NOFILE, (rlim_t)maxfd + 1 + p->nofile_extra)))
		return r;
	/* counted per uid (and never for root): only where the process makes no threads */
	if (!p->threads && (r = set_limit(RLIMIT_NPROC, 0)))
		return r;
	return dump_core ? 0 : set_limit(RLIMIT_CORE, 0);
}

/* -runas: the ids every child of a root supervisor runs as, with no supplementary groups.
 * Checked afterwards: a half-done switch must not pass for done. */
static int drop_ids(const struct sandbox_opts *o)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (!o->runas)
		return 0;
	if (setgroups(0, NULL) < 0 || setresgid(o->gid, o->gid, o->gid) < 0 ||
	    setresuid(o->uid, o->uid, o->uid) < 0)
		return -errno;
	if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
	    r != o->uid || e != o->uid || s != o->uid || rg != o->gid || eg != o->gid ||
	    sg != o->gid || getgroups(0, NULL) != 0)
		return -EPERM;
	return 0;
}

static int drop_caps(const struct sandbox_opts *o)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	int r;

	/* the bounding set first: dropping from it needs CAP_SETPCAP, which capset removes */
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EPERM)
			return -errno;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* the ids between the two: setresuid needs CAP_SETUID, which capset takes away */
	if ((r = drop_ids(o)))
		return r;
	memset(d, 0, sizeof(d));
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

/* ---- the process as the supervisor sees it ---------------------------------------------- */

/* A worker in its own pid namespace is pid 1 there, with parent 0. The host's /proc, still
 * mounted when we start, shows the pids the supervisor knows. */
static pid_t host_pid(void)
{
	char buf[24];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);

	if (n <= 0)
		return getpid();
	buf[n] = '\0';
	return (pid_t)atoi(buf);
}

/* Our parent as the host's /proc shows it, through procfd (/proc/self, which outlives the
 * pivot): getppid() says 0 to a namespace's pid 1 whether or not its parent still lives. */
static pid_t host_ppid(int procfd)
{
	char buf[512], *p;
	int fd = procfd >= 0 ? openat(procfd, "stat", O_RDONLY | O_CLOEXEC) : -1, ppid;
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return getppid();
	buf[n] = '\0';
	/* "pid (comm) S ppid ...": comm may hold anything, ')' included */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return getppid();
	return ppid;
}

int sandbox_parse_runas(const char *s, struct sandbox_opts *o)
{
	unsigned long u, g;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	u = strtoul(s, &end, 10);
	if (errno || *end != ':' || end[1] < '0' || end[1] > '9' || u >= UINT32_MAX)
		return -EINVAL;
	g = strtoul(end + 1, &end, 10);
	if (errno || *end || g >= UINT32_MAX)
		return -EINVAL;
	o->runas = true;
	o->uid = (uid_t)u;
	o->gid = (gid_t)g;
	return 0;
}

/* ---- the whole sequence ----------------------------------------------------------------- */

static int load_filters(enum sandbox_kind kind, const struct sandbox_profile *p)
{
	scmp_filter_ctx ctx = build_filter(p, true);
	int r;

	if (!ctx)
		return -EINVAL;
	r = kind == SANDBOX_CORE_CONTROL ? export_thread_filter(profiles[SANDBOX_CORE_VCPU]) : 0;
	if (!r)
		r = install_sigsys();
	if (!r)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

static int keep_list(const int *keep, unsigned nkeep, int *all)
{
	unsigned n = 0;

	if (nkeep + 4 > MAX_KEEP)
		return -E2BIG;
	for (int fd = 0; fd <= 2; fd++)
		all[n++] = fd;
	for (unsigned i = 0; i < nkeep; i++)
		if (keep[i] >= 0 && !listed(keep[i], all, n))
			all[n++] = keep[i];
	report_fd = report_fd_from_env();
	if (report_fd >= 0 && !listed(report_fd, all, n))
		all[n++] = report_fd;
	return (int)n;
}

/* Namespaces, rlimits, capabilities and ids, no_new_privs, PDEATHSIG: all but the filter. */
static int confine(const struct sandbox_profile *p, int maxfd, const struct sandbox_opts *o)
{
	int procfd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC), r = 0;
	pid_t parent = host_ppid(procfd);

	report_pid = host_pid();
	enter_namespaces(p, o);
	if ((r = set_rlimits(p, maxfd, o->dump_core)) || (r = drop_caps(o))) {
		log_warnx("sandbox %s: %s: %s", p->name, o->runas ? "rlimits, capabilities or "
			  "-runas ids" : "rlimits or capabilities", strerror(-r));
	} else if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		   prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		r = -errno;
	} else if (host_ppid(procfd) != parent) {
		/* credentials changed above, which clears PDEATHSIG; and the parent may be gone */
		r = -ESRCH;
	}
	if (procfd >= 0)
		close(procfd);
	return r;
}

int sandbox_enter(enum sandbox_kind kind, const int *keep, unsigned nkeep,
		  const struct sandbox_opts *o)
{
	const struct sandbox_profile *p = sandbox_profile(kind);
	int all[MAX_KEEP], n, maxfd, r;

	if (!p || kind == SANDBOX_CORE_VCPU)
		return -EINVAL;
	if ((n = keep_list(keep, nkeep, all)) < 0)
		return n;
	/* glibc opens /etc/localtime on the first gmtime/localtime (rtc.c): now, not later */
	tzset();
	if ((r = close_fds(all, (unsigned)n, o->keep_cloexec, &maxfd))) {
		log_warnx("sandbox %s: closing fds: %s", p->name, strerror(-r));
		return r;
	}
	if ((r = confine(p, maxfd, o)))
		return r;
	if (o->no_seccomp) {
		log_warnx("*** -disable-seccomp: %s runs WITHOUT its seccomp filter (namespaces, "
			  "rlimits and capabilities still apply) ***", p->name);
		return 0;
	}
	r = load_filters(kind, p);
	if (r)
		log_warnx("sandbox %s: loading the seccomp filter: %s", p->name, strerror(-r));
	return r;
}
