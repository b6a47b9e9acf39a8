/* Supervisor only: its state and the interfaces between its files. supervisor.c (start,
 * the main loop, reaping, the exit status) uses all of them; the others use only what is
 * declared above their own section and never supervisor.c:
 *   spawn.c    making children: fork or clone, -runas, the child's fd setup, restart pacing
 *   workers.c  device workers of every kind: spawn, restart, fail-stop, detach, stop
 *   kinds.c    what each worker kind needs from the supervisor (opened at boot, fds, argv)
 *   qmpd.c     the QMP listening socket and bulkhead-qmpd on it
 *   hotplug.c  the host side of hotplug: opening images, a worker per device_add
 *   rss.c      a multi-queue NIC's receive steering program, loaded and attached to its tap
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
#include "net_rss.h"
#include "worker_kinds.h"

#define SUP_MAX_NODES     (VM_MAX_DRIVES + 16)
#define RESTART_MAX_BURST 8           /* the longest restart_burst a policy may have */

/* The latest restarts of one child, for its restart policy. */
struct restarts {
	uint64_t ns[RESTART_MAX_BURST];   /* ring of the latest restart times */
	unsigned n;
};

/* net: a tap queue per pair, then the RSS maps (rss.c) */
#define SUP_NODE_FDS (VM_MAX_NET_QUEUES + NET_RSS_MAPS)
/* a child's fds after its socket: its node's and a stats page */
#define SUP_CHILD_FDS (SUP_NODE_FDS + 1)

/* A unix socket we listen on for others (listen.c). */
struct sup_listener {
	int fd;                       /* -1: none (or handed to a worker's node) */
	char abs[PATH_MAX];           /* to remove it at exit, whatever our cwd is then; "" */
	dev_t dev;
	ino_t ino;
};

/* What one worker serves, opened by us and kept here so every (re)start of a worker gets the
 * same open files. blk: an image, from a -drive or a blockdev-add; net: the tap's queues;
 * vsock: the directory of its unix sockets; rng: its entropy source; console: the socket its
 * clients connect to (we made it, we remove it). */
struct sup_node {
	bool used;
	bool hotplug;                 /* from blockdev-add: blockdev-del may drop it */
	enum worker_kind kind;
	char id[VM_ID_MAX + 1];       /* node-name or netdev id */
	int fds[SUP_NODE_FDS];        /* the worker's fd 4, 5, ...; net: the tap's queues,
				       * then the RSS maps when nfds > net.queues */
	unsigned nfds;
	union {
		struct vm_drive d;    /* blk */
		struct vm_net net;    /* net: its MAC is always set here */
		struct vm_vsock vsock;
		struct vm_rng rng;
		struct {
			struct vm_console cfg;
			struct sup_listener sock;     /* its fd is fds[0] */
		} console;
	};
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
	uint8_t slot_mac[WORKER_SLOTS][6];    /* NIC slots: the MAC each shows (kinds.c) */
	struct worker worker[WORKER_SLOTS];   /* by slot */
	int ext_fd[WORKER_SLOTS];     /* connected external backends, by slot; -1 otherwise */
	char ext_name[WORKER_SLOTS][VM_ID_MAX + 1];   /* their -chardev ids */
	/* NIC slots: the page every worker of the slot counts in (common/net_stats.h), the
	 * core reads for query-net-stats; -1 for other slots */
	int stats_fd[WORKER_SLOTS];
	bool ending;                  /* the core is gone: restart nothing */

	/* QMP: the listening socket is ours; qmpd only accepts on it */
	struct sup_listener qmp;
	pid_t qmpd_pid;
	struct restarts qmpd_rs;
	uint64_t qmpd_due_ns;         /* when to restart qmpd (sup_qmpd_tick), 0: no restart due */
};

/* ---- spawn.c ---- */
#define SUP_CHILD_ARGS 24           /* net: 8 --tap-fd, --rss-map-fds, --stats-fd, 7 more */

/* A child's argv: argv[0] is its program (set by sup_spawn), then what sup_arg appended. */
struct sup_args {
	char *argv[SUP_CHILD_ARGS];
	unsigned n;
	char buf[2 * VM_PATH_MAX];
	size_t used;
};

/* A helper program to start, with a socketpair to us: its end is the child's fd 3. */
struct sup_child {
	const char *program;          /* also what sup_helper_path looks for */
	const char *build_dir;        /* its folder in the build tree, or NULL: next to us */
	int sock_type;                /* SOCK_STREAM or SOCK_SEQPACKET */
	bool pidns;                   /* cloned into a pid namespace of its own */
	bool keep_stdio;              /* stdin/stdout stay (the core with -serial stdio) */
	int fds[SUP_CHILD_FDS];       /* more fds after its socket: fd 4, 5, ...; a worker's
				       * node's, then its slot's stats page */
	unsigned nfds;
	struct sup_args args;
};

/* Start c; its pid, and *sock = our end of its socket; -1 after a log line. */
pid_t sup_spawn(struct supervisor *s, struct sup_child *c, int *sock);
/* Append one printf-formatted argument; -1 when full. */
PRINTF(2, 3) int sup_arg(struct sup_args *a, const char *fmt, ...);
/* What every sandboxed helper is told: --runas=UID:GID with -runas, --disable-seccomp. */
int sup_sandbox_args(const struct supervisor *s, struct sup_args *a);
/* Record one restart; false when `burst` of them happened within window_ns. */
bool sup_restart_allowed(struct restarts *r, unsigned burst, uint64_t window_ns);
/* Where a helper program lives (next to bulkhead, in the build tree, or libexecdir). */
int sup_helper_path(const char *prog, const char *subdir, char *buf, size_t len);
/* -runas USER[:GROUP] to ids (s->runas, run_uid, run_gid); -1 after one line on stderr. */
int sup_resolve_runas(struct supervisor *s);
int sup_self_pidfd(void);
/* "was killed by seccomp (syscall openat)", "was killed by signal ...", "exited with ..." */
void sup_describe_exit(const struct supervisor *s, pid_t pid, int status, char *buf,
		       size_t len);

/* ---- kinds.c ---- */
struct sup_kind_ops {
	/* Open what the configuration names for this kind (nodes, external backends); -1 after
	 * one line on stderr. */
	int (*open_boot)(struct supervisor *s);
	/* How many of the kind's slots, from its first, the configuration's own devices fill. */
	unsigned (*nboot)(const struct vm_config *c);
	/* Its options (what n and the VM's configuration say; n->fds are its fd 4, 5, ..., a
	 * start_fd the next one); -1 when they do not fit. NULL for a kind with no program. */
	int (*args)(const struct supervisor *s, const struct sup_node *n, struct sup_args *a);
	/* NULL, or *fd = an fd for one start of the worker (-1: none this time), which alone
	 * holds it: we close ours once it is spawned (the kernel's vhost-vsock binds to the
	 * process that takes it and must go with it). 0, or -1 after a log line. */
	int (*start_fd)(struct supervisor *s, struct sup_node *n, int *fd);
};

extern const struct sup_kind_ops *const sup_kind_ops[WORKER_KIND_MAX];
/* RSS: with more than one queue pair the steering program goes on the tap and its three maps
 * after the tap queues, for the worker to offer VIRTIO_NET_F_RSS. Without it (bpf() refused,
 * e.g. in a user namespace, or the load failed) the worker offers no F_RSS and the tap's own
 * flow hash picks the queue: one line says so. */
void sup_net_rss(struct sup_node *n);
/* Close what n holds (a tap loses our steering program first). */
void sup_node_close(struct sup_node *n);
/* "bulkhead: OPT: cannot open 'PATH': ERRNO" on stderr; -1 */
int sup_open_error(const char *opt, const char *path);

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

/* ---- listen.c ---- */
/* Listen at path (what: "QMP socket", for the error line); 0, or -1 after one line on stderr. */
int sup_listen_unix(struct sup_listener *l, const char *what, const char *path);
/* Close its fd and remove its path if that is still our socket. */
void sup_listener_close(struct sup_listener *l);

/* ---- qmpd.c ---- */
int sup_qmp_open(struct supervisor *s);
void sup_qmp_close(struct supervisor *s);
int sup_qmpd_start(struct supervisor *s);
void sup_qmpd_died(struct supervisor *s, int status);
/* poll timeout for a delayed qmpd restart (-1: none), and the restart when it is due */
int sup_qmpd_timeout(const struct supervisor *s);
void sup_qmpd_tick(struct supervisor *s);
void sup_qmpd_stop(struct supervisor *s);

/* ---- rss.c ---- */
/* The steering program's fds: prog_fd until it is attached, the maps in --rss-map-fds order
 * (common/net_rss.h). Every fd is close-on-exec; -1 when not open. */
struct sup_rss {
	int prog_fd;
	int map_fd[NET_RSS_MAPS];
};

/* Load the embedded program and create its maps (no tap). 0, or -errno with a one-line
 * reason in err (-EPERM where bpf() is refused). */
int sup_rss_load(struct sup_rss *r, char *err, size_t errlen);
/* Load, attach to the tap whose queue fd is tap, and drop the program fd (the tap holds the
 * program): r keeps the map fds for the worker. 0 or -errno with err. */
int sup_rss_attach(int tap, struct sup_rss *r, char *err, size_t errlen);
void sup_rss_close(struct sup_rss *r);
/* The tap steers by its own flow hash again (the program stays on the device otherwise, and a
 * persistent tap outlives the VM). */
void sup_rss_detach(int tap);

/* ---- hotplug.c ---- */
/* -hotplug-dir: resolve each directory (realpath); -1 after one line on stderr. */
int sup_hotplug_dirs_open(struct supervisor *s);
/* One IPC_HOTPLUG_REQUEST from the core: do it and answer. */
void sup_hotplug(struct supervisor *s, struct ipc_msg *msg);

#endif
