/* Internals of the supervisor shared by supervisor.c (start, disks, reaping) and hotplug.c
 * (the QMP socket, qmpd, and the host side of disk hotplug). Not for other modules. */
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

/* a child that dies this often within the window is not restarted at once (see users) */
#define RESTART_BURST     5
#define RESTART_WINDOW_NS (10ULL * 1000000000ULL)
#define SUP_MAX_NODES     (VM_MAX_DRIVES + 16)

struct restarts {
	uint64_t ns[RESTART_BURST];   /* ring of the latest restart times */
	unsigned n;
};

/* An open image: a -drive, or a blockdev-add. Its fd stays here so every (re)start of a
 * worker serves the same open file. */
struct blk_node {
	bool used;
	bool hotplug;                 /* from blockdev-add: blockdev-del may drop it */
	struct vm_drive d;            /* d.id is the node-name */
	int fd;
	int slot;                     /* the worker serving it, or -1 */
};

/* The bulkhead-blk of one disk slot. */
struct blk_worker {
	struct blk_node *node;        /* NULL: no bulkhead-blk in this slot */
	unsigned slot;
	pid_t pid;                    /* -1 when not running */
	char dev_id[QMP_ID_MAX];      /* device_add id ("" for command-line disks) */
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
	/* -hotplug-dir, resolved at startup; blockdev-add opens only files inside one */
	unsigned nhotplug_dirs;
	char hotplug_dirs[VM_MAX_HOTPLUG_DIRS][PATH_MAX];
	bool tty_raw;
	struct termios tty;
	bool have_exit;
	struct vm_exit_info exit;
	struct blk_node node[SUP_MAX_NODES];
	struct blk_worker blk[VM_MAX_DISKS];   /* by slot */
	int ext_fd[VM_MAX_DISKS];     /* connected external backends, by slot; -1 otherwise */
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

/* supervisor.c */
uint64_t sup_mono_ns(void);
/* Where a helper program lives (next to bulkhead, in the build tree, or libexecdir). */
int sup_helper_path(const char *prog, const char *subdir, char *buf, size_t len);
/* In a forked child: PDEATHSIG, plain signal mask, stdin/stdout to /dev/null, the log on
 * stderr; then fds[i] becomes fd 3+i and every other fd is closed. _exit(127) on failure. */
void sup_child_setup(struct supervisor *s, const int *fds, unsigned nfds, bool keep_stdio);
/* Record one restart; false when RESTART_BURST happened within RESTART_WINDOW_NS. */
bool sup_restart_allowed(struct restarts *r);
/* Spawn the bulkhead-blk of w (w->node set); *fd = the core's end of its socket. */
int sup_spawn_blk(struct supervisor *s, struct blk_worker *w, int *fd);

/* spawn.c */
/* -runas USER[:GROUP] to ids (s->runas, run_uid, run_gid); -1 after one line on stderr. */
int sup_resolve_runas(struct supervisor *s);
/* "--runas=UID:GID" for a worker, or "" without -runas */
void sup_runas_arg(const struct supervisor *s, char *buf, size_t len);
/* fork(), or with pidns a clone into a new pid namespace (falls back to fork where refused) */
pid_t sup_fork(struct supervisor *s, bool pidns);
/* In a new child, before exec: false if the supervisor is already gone. */
bool sup_parent_alive(const struct supervisor *s);
int sup_self_pidfd(void);

/* hotplug.c */
/* -hotplug-dir: resolve each directory (realpath); -1 after one line on stderr. */
int sup_hotplug_dirs_open(struct supervisor *s);
int sup_qmp_open(struct supervisor *s);
void sup_qmp_close(struct supervisor *s);
int sup_qmpd_start(struct supervisor *s);
void sup_qmpd_died(struct supervisor *s, int status);
/* poll timeout for a delayed qmpd restart (-1: none), and the restart when it is due */
int sup_qmpd_timeout(const struct supervisor *s);
void sup_qmpd_tick(struct supervisor *s);
void sup_qmpd_stop(struct supervisor *s);
/* One IPC_HOTPLUG_REQUEST from the core: do it and answer. */
void sup_hotplug(struct supervisor *s, struct ipc_msg *msg);

#endif
