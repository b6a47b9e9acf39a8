/* Supervisor only: its state and the interfaces between its files. supervisor.c (start,
 * the main loop, reaping, the exit status) uses all of them; the others use only what is
 * declared above their own section and never supervisor.c:
 *   spawn.c    making children: fork or clone, -runas, the child's fd setup, restart pacing
 *   workers.c  device workers of every kind: spawn, restart, fail-stop, detach, stop
 *   kinds.c    what each worker kind needs from the supervisor (opened at boot, fds, argv)
 *   qmpd.c     the QMP listening socket and bulkhead-qmpd on it
 *   hotplug.c  the host side of hotplug: opening images, a worker per device_add
 */
#ifndef BULKHEAD_SUPERVISOR_PRIV_H
#define BULKHEAD_SUPERVISOR_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <termios.h>

#include "config.h"
#include "ipc.h"
#include "ipc_qmp.h"
#include "log.h"
#include "worker_kinds.h"

#define SUP_MAX_NODES     (VM_MAX_DRIVES + 16)
#define RESTART_MAX_BURST 8           /* the longest restart_burst a policy may have */

/* The latest restarts of one child, for its restart policy. */
struct restarts {
	uint64_t ns[RESTART_MAX_BURST];   /* ring of the latest restart times */
	unsigned n;
};

/* What one worker serves, opened by us and kept here so every (re)start of a worker gets the
 * same open file. blk: an image, from a -drive or a blockdev-add. */
struct sup_node {
	bool used;
	bool hotplug;                 /* from blockdev-add: blockdev-del may drop it */
	enum worker_kind kind;
	struct vm_drive d;            /* blk: d.id is the node-name */
	int fd;
	int slot;                     /* the worker serving it, or -1 */
};

/* The worker of one slot of the core, of the kind that slot holds. */
struct worker {
	enum worker_kind kind;
	struct sup_node *node;        /* NULL: no worker in this slot */
	unsigned slot;
	pid_t pid;                    /* -1 when not running */
	char dev_id[QMP_ID_MAX];      /* device_add id ("" for command-line devices) */
	struct restarts rs;
};

struct supervisor {
	const struct vm_config *cfg;
	struct core_config_fds fds;
	int log_fd;                   /* -D file, or -1 */
	int null_fd;
	int ipc;                      /* our end of the core's socket */
	int sigfd;
	pid_t core_pid;
	pid_t parent;                 /* our pid, for the children's PDEATHSIG check */
	int self_pidfd;               /* our pidfd, for that check in a child's own pid namespace */
	bool no_pidns;                /* the host refused CLONE_NEWPID: workers share our pid ns */
	bool runas;                   /* -runas: every child drops to run_uid/run_gid */
	uid_t run_uid;
	gid_t run_gid;
	int sandbox_report[2];        /* where children's SIGSYS handlers name the syscall */
	/* -hotplug-dir, resolved at startup; blockdev-add opens only files inside one */
	unsigned nhotplug_dirs;
	char hotplug_dirs[VM_MAX_HOTPLUG_DIRS][PATH_MAX];
	bool tty_raw;
	struct termios tty;
	bool have_exit;
	struct vm_exit_info exit;
	struct sup_node node[SUP_MAX_NODES];
	struct worker worker[WORKER_SLOTS];   /* by slot */
	int ext_fd[WORKER_SLOTS];     /* connected external backends, by slot; -1 otherwise */
	bool ending;                  /* the core is gone: restart nothing */

	/* QMP: the listening socket is ours; qmpd only accepts on it */
	int qmp_fd;
	char qmp_abs[PATH_MAX];       /* to remove it at exit, whatever our cwd is then */
	dev_t qmp_dev;
	ino_t qmp_ino;
	pid_t qmpd_pid;
	struct restarts qmpd_rs;
	uint64_t qmpd_due_ns;         /* a delayed restart, 0 for none */
};

/* ---- spawn.c ---- */
/* Record one restart; false when `burst` of them happened within window_ns. */
bool sup_restart_allowed(struct restarts *r, unsigned burst, uint64_t window_ns);
/* Where a helper program lives (next to bulkhead, in the build tree, or libexecdir). */
int sup_helper_path(const char *prog, const char *subdir, char *buf, size_t len);
/* In a forked child: PDEATHSIG, plain signal mask, stdin/stdout to /dev/null, the log on
 * stderr; then fds[i] becomes fd 3+i and every other fd is closed. _exit(127) on failure. */
void sup_child_setup(struct supervisor *s, const int *fds, unsigned nfds, bool keep_stdio);
/* -runas USER[:GROUP] to ids (s->runas, run_uid, run_gid); -1 after one line on stderr. */
int sup_resolve_runas(struct supervisor *s);
/* "--runas=UID:GID" for a worker, or "" without -runas */
void sup_runas_arg(const struct supervisor *s, char *buf, size_t len);
/* fork(), or with pidns a clone into a new pid namespace (falls back to fork where refused) */
pid_t sup_fork(struct supervisor *s, bool pidns);
int sup_self_pidfd(void);
/* "was killed by seccomp (syscall openat)", "was killed by signal ...", "exited with ..." */
void sup_describe_exit(const struct supervisor *s, pid_t pid, int status, char *buf,
		       size_t len);

/* ---- kinds.c ---- */
#define SUP_WORKER_ARGS 16

/* A worker's argv after "PROGRAM --fd=3", its strings in buf. */
struct sup_args {
	char *argv[SUP_WORKER_ARGS];
	unsigned n;
	char buf[2 * VM_PATH_MAX];
	size_t used;
};

struct sup_kind_ops {
	/* Open what the configuration names for this kind (nodes, external backends); -1 after
	 * one line on stderr. */
	int (*open_boot)(struct supervisor *s);
	/* How many of the kind's slots, from its first, the configuration's own devices fill. */
	unsigned (*nboot)(const struct vm_config *c);
	/* The fds the worker of n gets after its socket (as fd 4, 5, ...); how many. */
	unsigned (*fds)(const struct sup_node *n, int *fds, unsigned max);
	/* Its options (what n says); -1 when they do not fit. */
	int (*args)(const struct sup_node *n, struct sup_args *a);
};

extern const struct sup_kind_ops *const sup_kind_ops[WORKER_KIND_MAX];
/* "bulkhead: OPT: cannot open 'PATH': ERRNO" on stderr; -1 */
int sup_open_error(const char *opt, const char *path);
/* Append one printf-formatted argument; -1 when full. */
PRINTF(2, 3) int sup_arg(struct sup_args *a, const char *fmt, ...);

/* ---- workers.c ---- */
/* Spawn the worker of w (w->node set); *fd = the core's end of its socket. 0 or -errno. */
int sup_worker_spawn(struct supervisor *s, struct worker *w, int *fd);
/* Start every worker the configuration has, hand external backends to the core. */
int sup_workers_start(struct supervisor *s);
/* A child ended: if it was a worker, restart it or pause the VM; false if it was none. */
bool sup_worker_reaped(struct supervisor *s, pid_t pid, int status);
/* Whether slot holds one of the configuration's own devices (never hot-unplugged). */
bool sup_slot_from_config(const struct supervisor *s, unsigned slot);
/* device_del: the worker goes (SIGTERM) and is reaped, not restarted. */
void sup_worker_detach(struct worker *w);
/* The VM is over: the workers saw their sockets close; wait a moment, then insist. */
void sup_workers_stop(struct supervisor *s);

/* ---- qmpd.c ---- */
int sup_qmp_open(struct supervisor *s);
void sup_qmp_close(struct supervisor *s);
int sup_qmpd_start(struct supervisor *s);
void sup_qmpd_died(struct supervisor *s, int status);
/* poll timeout for a delayed qmpd restart (-1: none), and the restart when it is due */
int sup_qmpd_timeout(const struct supervisor *s);
void sup_qmpd_tick(struct supervisor *s);
void sup_qmpd_stop(struct supervisor *s);

/* ---- hotplug.c ---- */
/* -hotplug-dir: resolve each directory (realpath); -1 after one line on stderr. */
int sup_hotplug_dirs_open(struct supervisor *s);
/* One IPC_HOTPLUG_REQUEST from the core: do it and answer. */
void sup_hotplug(struct supervisor *s, struct ipc_msg *msg);

#endif
