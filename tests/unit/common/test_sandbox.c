/* The sandbox profiles as data (common/profiles/): every rule commented and resolvable, none
 * allowing what no bulkhead process may do after setup, the argument filters where they
 * matter, core-vcpu narrower than core-control; the printed form; the supervisor's reading
 * of a child's SIGSYS report. The runner itself is exercised by try-syscall (suite sandbox). */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>

#include "sandbox.h"

/* Never allowed after setup, in any kind (DESIGN.md §1; issue 5). */
static const char *const forbidden[] = {
	"open", "openat", "openat2", "creat", "execve", "execveat", "fork", "vfork", "socket",
	"socketpair", "ptrace", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
	"kill", "tkill", "fallocate", "io_uring_setup", "io_uring_register", "bpf",
	"process_vm_readv", "process_vm_writev", "init_module", "finit_module", "kexec_load",
	"reboot", "pkey_mprotect", "userfaultfd", "perf_event_open", "keyctl", "add_key",
	"connect", "bind", "listen", "setuid", "setgid", "capset", "prctl", "link", "symlink",
	"rename", "mkdir", "chmod", "truncate",
	/* reading the clock is allowed where a call site needs it; setting it never */
	"settimeofday", "clock_settime", "adjtimex", "clock_adjtime",
};

static void for_each_rule(void (*fn)(const struct sandbox_profile *, const struct sandbox_rule *))
{
	for (int k = 0; k < SANDBOX_KIND_MAX; k++) {
		const struct sandbox_profile *p = sandbox_profile(k);

		for (unsigned i = 0; i < p->nrules; i++)
			fn(p, &p->rules[i]);
	}
	for (unsigned i = 0; i < sandbox_profile_base.nrules; i++)
		fn(&sandbox_profile_base, &sandbox_profile_base.rules[i]);
}

static void well_formed(const struct sandbox_profile *p, const struct sandbox_rule *r)
{
	cr_expect(r->why && strlen(r->why) > 10, "%s: %s has no comment naming its call site",
		  p->name, r->syscall);
	cr_expect(seccomp_syscall_resolve_name(r->syscall) != __NR_SCMP_ERROR,
		  "%s: unknown syscall %s", p->name, r->syscall);
	cr_expect(r->nargs <= SANDBOX_MAX_ARGS);
	for (unsigned i = 0; i < r->nargs; i++)
		cr_expect(r->args[i].index < 6 && r->args[i].name, "%s: %s arg %u", p->name,
			  r->syscall, i);
}

Test(sandbox, every_rule_commented_and_resolvable)
{
	for_each_rule(well_formed);
	for (int k = 0; k < SANDBOX_KIND_MAX; k++)
		cr_expect_eq(sandbox_validate(k), 0, "libseccomp refuses %s", sandbox_profile(k)->name);
}

/* The one exception (DESIGN.md §1): bulkhead-vsock connects a unix stream to NAME_<port> in
 * its socket directory for each guest connection; socket() only with AF_UNIX (checked in
 * arguments_filtered), connect() only on what that socket() made. */
static bool vsock_exception(const struct sandbox_profile *p, const struct sandbox_rule *r)
{
	return p == &sandbox_profile_dev_vsock &&
	       (!strcmp(r->syscall, "socket") || !strcmp(r->syscall, "connect"));
}

static void not_forbidden(const struct sandbox_profile *p, const struct sandbox_rule *r)
{
	if (r->err || vsock_exception(p, r))
		return;     /* a rule that fails the call allows nothing */
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
		cr_expect(strcmp(r->syscall, forbidden[i]), "%s allows %s", p->name, r->syscall);
}

Test(sandbox, no_rule_allows_the_forbidden_set)
{
	for_each_rule(not_forbidden);
}

static bool has_arg(const struct sandbox_rule *r, unsigned idx, int op, uint64_t mask,
		    uint64_t value)
{
	for (unsigned i = 0; i < r->nargs; i++)
		if (r->args[i].index == idx && r->args[i].op == op &&
		    (op == SB_SELF_PID || (r->args[i].mask == mask && r->args[i].value == value)))
			return true;
	return false;
}

static void arguments_filtered(const struct sandbox_profile *p, const struct sandbox_rule *r)
{
	const char *s = r->syscall;

	if (r->err)
		return;
	if (!strcmp(s, "mmap") || !strcmp(s, "mprotect"))
		cr_expect(has_arg(r, 2, SB_MASKED_EQ, PROT_EXEC, 0), "%s: %s may be executable",
			  p->name, s);
	if (!strcmp(s, "clone"))
		cr_expect(has_arg(r, 0, SB_MASKED_EQ, CLONE_THREAD, CLONE_THREAD),
			  "%s: clone not limited to threads", p->name);
	if (!strcmp(s, "socket"))
		cr_expect(has_arg(r, 0, SB_EQ, 0, AF_UNIX), "%s: socket not limited to AF_UNIX",
			  p->name);
	if (!strcmp(s, "ioctl"))
		cr_expect(r->nargs == 1 && r->args[0].index == 1 && r->args[0].mask == 0xffffffffu,
			  "%s: ioctl without a request number", p->name);
	if (!strcmp(s, "tgkill"))
		cr_expect(has_arg(r, 0, SB_SELF_PID, 0, 0), "%s: tgkill of other processes", p->name);
	/* never MADV_REMOVE (holes in guest RAM) or an unfiltered advice; sanitizer builds add the
	 * two their runtime needs */
	if (!strcmp(s, "madvise"))
		cr_expect(has_arg(r, 2, SB_EQ, 0, MADV_DONTNEED)
#ifdef __SANITIZE_ADDRESS__
			  || has_arg(r, 2, SB_EQ, 0, MADV_NOHUGEPAGE) ||
			  has_arg(r, 2, SB_EQ, 0, MADV_DONTDUMP)
#endif
			  , "%s: madvise unfiltered", p->name);
	cr_expect(strcmp(s, "clone3"), "%s: clone3 allowed (its flags cannot be filtered)", p->name);
}

Test(sandbox, arguments_filtered_where_it_matters)
{
	for_each_rule(arguments_filtered);
}

static bool allows(const struct sandbox_profile *p, const char *sc)
{
	const struct sandbox_profile *sets[2] = { p, p->base ? &sandbox_profile_base : NULL };

	for (int s = 0; s < 2; s++)
		for (unsigned i = 0; sets[s] && i < sets[s]->nrules; i++)
			if (!sets[s]->rules[i].err && !strcmp(sets[s]->rules[i].syscall, sc))
				return true;
	return false;
}

/* The SIGSYS handler writes its report and exit_group ends every process; ptrace is what the
 * handler calls to be killed for certain, so it must be trapped everywhere. */
Test(sandbox, every_kind_can_report_and_exit)
{
	for (int k = 0; k < SANDBOX_KIND_MAX; k++) {
		const struct sandbox_profile *p = sandbox_profile(k);

		cr_expect(allows(p, "write") && allows(p, "exit_group") && allows(p, "rt_sigreturn"),
			  "%s", p->name);
		cr_expect(!allows(p, "ptrace"), "%s", p->name);
		cr_expect(p->fds && p->fds[0].glob, "%s lists no fds", p->name);
		for (const struct sandbox_fd *f = p->fds; f->glob; f++)
			cr_expect(f->why && *f->why, "%s: fd %s has no comment", p->name, f->glob);
	}
}

/* Stacked filters intersect: a vCPU rule the control filter lacks would be dead, and the
 * vCPU filter must take away what only the control thread does. */
Test(sandbox, vcpu_narrower_than_control)
{
	const struct sandbox_profile *v = sandbox_profile(SANDBOX_CORE_VCPU);
	const struct sandbox_profile *c = sandbox_profile(SANDBOX_CORE_CONTROL);

	for (unsigned i = 0; i < v->nrules; i++)
		cr_expect(allows(c, v->rules[i].syscall), "core-vcpu allows %s, core-control not",
			  v->rules[i].syscall);
	cr_expect(v->nrules < c->nrules);
	cr_expect(!allows(v, "clone") && !allows(v, "tgkill") && !allows(v, "rt_sigaction") &&
		  !allows(v, "read") && !allows(v, "seccomp"));
	cr_expect(allows(c, "clone") && allows(c, "tgkill") && allows(c, "read"));
}

/*
 * Time without the vDSO (vdso=0, or a clocksource the vDSO cannot read): glibc's time functions
 * become system calls, and each kind must allow exactly those its code and libraries make.
 * clock_gettime everywhere (log.c, control.c, io.c, libevent's monotonic clock); gettimeofday
 * where libevent runs the loop (its gettime() re-reads the wall clock every 5 s: bulkhead-blk
 * died of that); time in the core, in both filters a vCPU thread runs under (rtc.c); nothing
 * else. try-syscall issues each one raw in every kind's real sandbox.
 */
Test(sandbox, time_calls_without_vdso)
{
	static const char *const none[] = { "clock_getres", "clock_nanosleep", "nanosleep",
					    "getcpu" };
	const unsigned core = 1u << SANDBOX_CORE_CONTROL | 1u << SANDBOX_CORE_VCPU;

	for (int k = 0; k < SANDBOX_KIND_MAX; k++) {
		const struct sandbox_profile *p = sandbox_profile(k);
		bool is_core = core & (1u << k);

		cr_expect(allows(p, "clock_gettime"), "%s: no clock_gettime", p->name);
		cr_expect_eq(allows(p, "gettimeofday"), !is_core, "%s: gettimeofday %s", p->name,
			     is_core ? "allowed, nothing calls it" : "missing (libevent gettime)");
		cr_expect_eq(allows(p, "time"), is_core, "%s: time %s", p->name,
			     is_core ? "missing (rtc.c host_now)" : "allowed, nothing calls it");
		for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
			cr_expect(!allows(p, none[i]), "%s allows %s: no call site needs it",
				  p->name, none[i]);
	}
}

Test(sandbox, names)
{
	for (int k = 0; k < SANDBOX_KIND_MAX; k++)
		cr_expect_eq(sandbox_kind_from_name(sandbox_profile(k)->name), k);
	cr_expect_eq(sandbox_kind_from_name("dev-blk"), SANDBOX_DEV_BLK);
	cr_expect_eq(sandbox_kind_from_name("core"), -1);
	cr_expect_null(sandbox_profile(SANDBOX_KIND_MAX));
	cr_expect_eq(sandbox_enter(SANDBOX_CORE_VCPU, NULL, 0, &(struct sandbox_opts){ 0 }),
		     -EINVAL, "core-vcpu is a thread filter, not a process sandbox");
}

static unsigned count_lines(const char *buf, const char *prefix)
{
	unsigned n = 0;

	for (const char *l = buf; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		n += !strncmp(l, prefix, strlen(prefix));
	return n;
}

Test(sandbox, printing)
{
	for (int k = 0; k < SANDBOX_KIND_MAX; k++) {
		const struct sandbox_profile *p = sandbox_profile(k);
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		unsigned nfds = 0, want = p->nrules + (p->base ? sandbox_profile_base.nrules : 0);

		sandbox_print_profile(f, k);
		fclose(f);
		for (const struct sandbox_fd *d = p->fds; d->glob; d++)
			nfds++;
		cr_expect_eq(count_lines(buf, "allow ") + count_lines(buf, "errno("), want,
			     "%s: one line per rule", p->name);
		cr_expect_eq(count_lines(buf, "fd "), nfds);
		cr_expect_eq(count_lines(buf, "# sandbox profile "), 1);
		for (unsigned i = 0; i < p->nrules; i++)
			cr_expect(strstr(buf, p->rules[i].why), "%s: comment of %s not printed",
				  p->name, p->rules[i].syscall);
		free(buf);
	}
}

Test(sandbox, printed_conditions)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	sandbox_print_profile(f, SANDBOX_CORE_CONTROL);
	fclose(f);
	cr_expect(strstr(buf, "ioctl            if arg1 == KVM_RUN (0xae80)"), "%s", buf);
	cr_expect(strstr(buf, "mmap             if !(arg2 & PROT_EXEC)"));
	cr_expect(strstr(buf, "clone            if arg0 & CLONE_THREAD"));
	cr_expect(strstr(buf, "tgkill           if arg0 == getpid()"));
	cr_expect(strstr(buf, "errno(ENOSYS)  clone3") || strstr(buf, "errno(ENOSYS) clone3"));
	free(buf);
}

static int report(const char *text)
{
	int p[2];

	cr_assert_eq(sandbox_report_pipe(p), 0);
	cr_assert_gt(p[1], 99, "the write end sits high, out of the children's dup2 range");
	cr_assert_eq(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
	close(p[1]);
	return p[0];
}

Test(sandbox, describe_exit)
{
	char buf[128];
	int fd = report("123 openat\n456 socket\n");

	sandbox_describe_exit(456, W_EXITCODE(0, SIGSYS), fd, buf, sizeof(buf));
	cr_expect_str_eq(buf, "was killed by seccomp (syscall socket)");
	close(fd);
	fd = report("123 openat\n");
	sandbox_describe_exit(789, W_EXITCODE(0, SIGSYS), fd, buf, sizeof(buf));
	cr_expect_str_eq(buf, "was killed by seccomp (syscall unknown)");
	close(fd);
	/* what a child writes there is not believed unless it looks like a syscall name */
	fd = report("5 open%at;rm\n");
	sandbox_describe_exit(5, W_EXITCODE(0, SIGSYS), fd, buf, sizeof(buf));
	cr_expect_str_eq(buf, "was killed by seccomp (syscall unknown)");
	sandbox_describe_exit(5, W_EXITCODE(0, SIGKILL), fd, buf, sizeof(buf));
	cr_expect_str_eq(buf, "was killed by signal Killed");
	sandbox_describe_exit(5, W_EXITCODE(3, 0), -1, buf, sizeof(buf));
	cr_expect_str_eq(buf, "exited with status 3");
	close(fd);
}

/* --runas=UID:GID as the supervisor passes it to bulkhead-qmpd: numbers only, both given. */
Test(sandbox, parse_runas)
{
	const char *bad[] = { "", "65534", "65534:", ":65534", "nobody:1", "1:nogroup", "-1:1",
			      "1:-1", "+1:1", "1:1:1", "1:1 ", "4294967295:1", "1:4294967295",
			      "99999999999999999999:1" };
	struct sandbox_opts o = { 0 };

	cr_expect_eq(sandbox_parse_runas("65534:65533", &o), 0);
	cr_expect(o.runas);
	cr_expect_eq(o.uid, 65534);
	cr_expect_eq(o.gid, 65533);
	cr_expect_eq(sandbox_parse_runas("0:0", &o), 0);
	cr_expect(o.uid == 0 && o.gid == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = (struct sandbox_opts){ 0 };
		cr_expect_eq(sandbox_parse_runas(bad[i], &o), -EINVAL, "'%s' accepted", bad[i]);
		cr_expect_not(o.runas, "'%s' set runas", bad[i]);
	}
}

/* Which kinds get a pid namespace, said where the rules are printed: the workers the
 * supervisor clones into one, not the core (query-cpus reports host thread ids). */
Test(sandbox, printed_pid_namespace)
{
	for (int k = 0; k < SANDBOX_KIND_MAX; k++) {
		const struct sandbox_profile *p = sandbox_profile(k);
		bool want = k == SANDBOX_DEV_BLK || k == SANDBOX_DEV_NET || k == SANDBOX_DEV_VSOCK ||
			    k == SANDBOX_DEV_RNG || k == SANDBOX_DEV_CONSOLE || k == SANDBOX_QMPD;
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		sandbox_print_profile(f, k);
		fclose(f);
		cr_expect_eq(p->pidns, want, "%s: pidns %d", p->name, p->pidns);
		cr_expect(strstr(buf, want ? "pid: its own, as pid 1" : "pid: its parent's\n"),
			  "%s: %s", p->name, buf);
		free(buf);
	}
}
