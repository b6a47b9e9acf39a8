/* The sandbox runner (DESIGN.md §1): once a child holds the fds it will ever need, it closes
 * the rest, leaves the host's namespaces for an empty root, drops capabilities and rlimits,
 * and loads the seccomp allowlist of its process kind. The allowlists themselves are data in
 * common/profiles/, one file per kind, every rule commented with the call site needing it. */
#ifndef BULKHEAD_SANDBOX_H
#define BULKHEAD_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum sandbox_kind {
	SANDBOX_CORE_CONTROL,   /* bulkhead-core, whole process (vCPU threads inherit it) */
	SANDBOX_CORE_VCPU,      /* stacked on top of it by every vCPU thread: narrower */
	SANDBOX_QMPD,
	SANDBOX_DEV_BLK,
	SANDBOX_DEV_NET,
	SANDBOX_DEV_VSOCK,
	SANDBOX_DEV_RNG,
	SANDBOX_DEV_CONSOLE,
	SANDBOX_KIND_MAX,
};

/* How a rule compares one syscall argument. */
enum sandbox_op {
	SB_EQ,           /* arg == value */
	SB_MASKED_EQ,    /* (arg & mask) == value */
	SB_SELF_PID,     /* arg == getpid() of the process entering the sandbox */
};

struct sandbox_arg {
	uint8_t index;           /* 0..5 */
	uint8_t op;              /* enum sandbox_op */
	uint64_t mask;
	uint64_t value;
	const char *name;        /* the value's symbolic name, for printing */
};

#define SANDBOX_MAX_ARGS 2

struct sandbox_rule {
	const char *syscall;     /* resolved with libseccomp; unknown names are an error */
	uint8_t nargs;
	struct sandbox_arg args[SANDBOX_MAX_ARGS];
	int err;                 /* 0: allow; otherwise fail the call with this errno */
	const char *why;         /* the call site that needs it */
};

/* What the fd table may hold once the sandbox is on (fds 0-2 are what the supervisor chose):
 * a glob over readlink(/proc/PID/fd/N). "@image" stands for the image the supervisor opened. */
struct sandbox_fd {
	const char *glob;
	const char *why;
};

struct sandbox_profile {
	const char *name;                  /* "dev-blk"; what --print-sandbox-profile takes */
	const char *what;                  /* one line: the process and when the filter goes on */
	const struct sandbox_rule *rules;
	unsigned nrules;
	bool base;                         /* also the libc/process basics of profiles/base.c */
	bool threads;                      /* creates threads (or io_uring workers): no NPROC 0 */
	bool pidns;                        /* the supervisor starts it as pid 1 of its own pid
					    * namespace (a process cannot enter one itself) */
	unsigned nofile_extra;             /* fds it may open beyond those it keeps */
	const struct sandbox_fd *fds;      /* ends with { NULL } */
};

/* Argument conditions, so profiles read as one line per rule. */
#define SB_ARG_EQ(i, v)           { .index = (i), .op = SB_EQ, .value = (v), .name = #v }
#define SB_ARG_NOT(i, bit)        { .index = (i), .op = SB_MASKED_EQ, .mask = (bit), .value = 0, \
				    .name = #bit }
#define SB_ARG_HAS(i, bit)        { .index = (i), .op = SB_MASKED_EQ, .mask = (bit), \
				    .value = (bit), .name = #bit }
/* ioctl request numbers are 32 bits; mask so a sign-extended one compares the same */
#define SB_ARG_REQ(i, v, n)       { .index = (i), .op = SB_MASKED_EQ, .mask = 0xffffffffu, \
				    .value = (v), .name = (n) }
#define SB_ARG_SELF(i)            { .index = (i), .op = SB_SELF_PID, .name = "getpid()" }

#define SB_ALLOW(sc, w)           { .syscall = #sc, .why = (w) }
#define SB_ALLOW1(sc, a, w)       { .syscall = #sc, .nargs = 1, .args = { a }, .why = (w) }
#define SB_ALLOW2(sc, a, b, w)    { .syscall = #sc, .nargs = 2, .args = { a, b }, .why = (w) }
#define SB_ERRNO(sc, e, w)        { .syscall = #sc, .err = (e), .why = (w) }
#define SB_IOCTL(req, w)          SB_ALLOW1(ioctl, SB_ARG_REQ(1, req, #req), w)

extern const struct sandbox_profile sandbox_profile_base;
extern const struct sandbox_profile sandbox_profile_core_control;
extern const struct sandbox_profile sandbox_profile_core_vcpu;
extern const struct sandbox_profile sandbox_profile_qmpd;
extern const struct sandbox_profile sandbox_profile_dev_blk;
extern const struct sandbox_profile sandbox_profile_dev_net;
extern const struct sandbox_profile sandbox_profile_dev_vsock;
extern const struct sandbox_profile sandbox_profile_dev_rng;
extern const struct sandbox_profile sandbox_profile_dev_console;

const struct sandbox_profile *sandbox_profile(enum sandbox_kind kind);
/* "dev-blk" -> SANDBOX_DEV_BLK; -1 for an unknown name */
int sandbox_kind_from_name(const char *name);

struct sandbox_opts {
	bool no_seccomp;         /* -disable-seccomp: everything but the filter, said loudly */
	bool dump_core;          /* dump-guest-core=on: keep RLIMIT_CORE */
	bool keep_cloexec;       /* also keep fds this process opened itself (see sandbox.c) */
	bool runas;              /* -runas: become uid/gid, no supplementary groups (needs root) */
	uid_t uid;
	gid_t gid;
};

/* "--runas=UID:GID" as the supervisor passes it to a worker: 0, or -EINVAL. */
int sandbox_parse_runas(const char *s, struct sandbox_opts *o);

/*
 * Apply kind's sandbox to the calling process, which must still be single-threaded (user
 * namespaces refuse anything else). Closes every fd not in keep[] (and, with keep_cloexec,
 * not marked close-on-exec), enters what namespaces the host allows (logging each one it
 * skips, and why), pivots into an empty read-only root, sets rlimits, drops all capabilities
 * (and with o->runas its uid and gid, leaving no supplementary groups), no_new_privs,
 * PR_SET_PDEATHSIG(SIGKILL), then loads the seccomp filter. A blocked syscall
 * writes "seccomp: NAME blocked" to stderr and to the report fd (see below), then the process
 * dies of SIGSYS. Returns 0 or -errno; on error the caller must not go on.
 */
int sandbox_enter(enum sandbox_kind kind, const int *keep, unsigned nkeep,
		  const struct sandbox_opts *o);

/*
 * The narrower per-thread filter (core-vcpu): sandbox_enter(SANDBOX_CORE_CONTROL) builds it,
 * each vCPU thread loads it for itself (no TSYNC) on top of the inherited process filter.
 * A no-op returning 0 when no filter was built (-disable-seccomp, or no sandbox at all).
 */
int sandbox_thread_enter(void);

/* Build kind's filter with libseccomp without loading it: 0, or -EINVAL when a rule does not
 * resolve (unknown syscall name, bad argument). */
int sandbox_validate(enum sandbox_kind kind);

/* Print the effective rules of kind, one per line with its comment. */
void sandbox_print_profile(FILE *out, enum sandbox_kind kind);

/*
 * Why a child died, for the supervisor's log. The env var names the fd in the child (the
 * write end of one pipe the supervisor shares among its children) on which the SIGSYS
 * handler writes "PID NAME\n". sandbox_report_pipe makes that pipe (read end non-blocking,
 * write end at a high number so a child's dup2s to 3, 4, ... cannot clobber it);
 * sandbox_describe_exit reads what is there after reaping pid and picks pid's line.
 */
#define SANDBOX_REPORT_ENV "BULKHEAD_SANDBOX_REPORT_FD"
int sandbox_report_pipe(int fds[2]);
void sandbox_describe_exit(pid_t pid, int status, int report_rd, char *buf, size_t len);

#endif
