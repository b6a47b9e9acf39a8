/* The supervisor's side of the control path: the QMP listening socket (created here, mode
 * 0600, removed at exit), bulkhead-qmpd spawned and restarted on it, and the host half of disk
 * hotplug that the core may not do itself (opening images, spawning and stopping
 * bulkhead-blk). Every request from the core is checked again here. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bulkhead-config.h"
#include "log.h"
#include "supervisor_priv.h"
#include "util.h"

#define QMP_BACKLOG 64
#define QMPD_STOP_WAIT_MS 500

/* ---- the QMP socket ---- */

static int qmp_error(const char *path, const char *why)
{
	fprintf(stderr, "bulkhead: QMP socket '%s': %s\n", path, why);
	return -1;
}

/* A socket nobody listens on is what a killed bulkhead leaves behind: it may be replaced.
 * Anything else at PATH (a file, a live socket) is not ours to remove. */
static int check_stale(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : qmp_error(path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return qmp_error(path, "exists and is not a socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return qmp_error(path, strerror(errno));
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (r == 0)
		return qmp_error(path, "in use by a running process");
	if (errno != ECONNREFUSED)
		return qmp_error(path, strerror(errno));
	log_info("QMP socket '%s' is stale; replacing it", path);
	return unlink(path) < 0 ? qmp_error(path, strerror(errno)) : 0;
}

int sup_qmp_open(struct supervisor *s)
{
	const char *path = s->cfg->qmp_path;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int r;

	if (check_stale(path) < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	s->qmp_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->qmp_fd < 0)
		return qmp_error(path, strerror(errno));
	/* 0600 from the start: no moment in which another user could connect */
	old = umask(0177);
	r = bind(s->qmp_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(s->qmp_fd, QMP_BACKLOG) < 0 || stat(path, &st) < 0) {
		qmp_error(path, strerror(errno));
		closep(&s->qmp_fd);
		return -1;
	}
	s->qmp_dev = st.st_dev;
	s->qmp_ino = st.st_ino;
	/* -daemonize changes our directory: remember where a relative path pointed */
	if (path[0] == '/' || !getcwd(s->qmp_abs, sizeof(s->qmp_abs) - VM_SUN_PATH_MAX - 1))
		snprintf(s->qmp_abs, sizeof(s->qmp_abs), "%s", path);
	else
		snprintf(s->qmp_abs + strlen(s->qmp_abs), sizeof(s->qmp_abs) - strlen(s->qmp_abs),
			 "/%s", path);
	return 0;
}

void sup_qmp_close(struct supervisor *s)
{
	struct stat st;

	if (s->qmp_fd < 0)
		return;
	closep(&s->qmp_fd);
	/* only our own socket: someone may have replaced it meanwhile */
	if (lstat(s->qmp_abs, &st) == 0 && st.st_dev == s->qmp_dev && st.st_ino == s->qmp_ino)
		unlink(s->qmp_abs);
}

/* ---- bulkhead-qmpd ---- */

/* fd 3: the listening socket, fd 4: its end of the new core<->qmpd pair. */
static void exec_qmpd(struct supervisor *s, const char *path, int core_end)
{
	char a_uid[32], a_runas[48];
	char *argv[7] = { (char *)"bulkhead-qmpd", (char *)"--listen-fd=3",
			  (char *)"--core-fd=4", a_uid };
	int fds[2] = { s->qmp_fd, core_end }, n = 4;

	sup_child_setup(s, fds, 2, false);
	/* qmpd lets this uid (the VM's: the -runas user, else ours) and root talk to it */
	snprintf(a_uid, sizeof(a_uid), "--uid=%u", s->runas ? (unsigned)s->run_uid :
		 (unsigned)getuid());
	sup_runas_arg(s, a_runas, sizeof(a_runas));
	if (a_runas[0])
		argv[n++] = a_runas;
	if (s->cfg->disable_seccomp)
		argv[n++] = (char *)"--disable-seccomp";
	argv[n] = NULL;
	execv(path, argv);
	dprintf(2, "bulkhead: exec %s: %s\n", path, strerror(errno));
	_exit(127);
}

int sup_qmpd_start(struct supervisor *s)
{
	char path[PATH_MAX + 32];
	int sv[2], r;

	if (sup_helper_path("bulkhead-qmpd", "qmpd", path, sizeof(path)) < 0) {
		log_warnx("cannot find bulkhead-qmpd next to bulkhead or in %s", BULKHEAD_LIBEXECDIR);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("socketpair");
		return -1;
	}
	s->qmpd_pid = sup_fork(s, true);
	if (s->qmpd_pid == 0)
		exec_qmpd(s, path, sv[1]);
	close(sv[1]);
	if (s->qmpd_pid < 0) {
		log_warn("fork");
		close(sv[0]);
		return -1;
	}
	/* the core's end goes to the core; we keep neither, so each sees the other's EOF */
	r = ipc_qmpd_attach_send(s->ipc, sv[0]);
	close(sv[0]);
	if (r < 0)
		log_warnx("handing qmpd to the core: %s", strerror(-r));
	return r < 0 ? -1 : 0;
}

/* The VM outlives qmpd: start another on the same listening socket; clients reconnect. A
 * qmpd that keeps dying is restarted when the oldest of its last restarts leaves the window,
 * not in a tight loop. */
/* The core has ended (maybe not reaped yet): then qmpd left because of it. */
static bool core_gone(const struct supervisor *s)
{
	siginfo_t si = { 0 };

	if (s->ipc < 0)
		return true;
	return waitid(P_PID, (id_t)s->core_pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       si.si_pid == s->core_pid;
}

void sup_qmpd_died(struct supervisor *s, int status)
{
	s->qmpd_pid = -1;
	if (s->ending || s->have_exit || s->qmp_fd < 0 || core_gone(s))
		return;
	log_warnx("qmpd %s %d; restarting it", WIFSIGNALED(status) ? "was killed by signal" :
		  "exited with status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	if (!sup_restart_allowed(&s->qmpd_rs)) {
		s->qmpd_due_ns = s->qmpd_rs.ns[s->qmpd_rs.n % RESTART_BURST] + RESTART_WINDOW_NS;
		log_warnx("qmpd restarted %d times within %llu s; next try in a while", RESTART_BURST,
			  RESTART_WINDOW_NS / 1000000000ULL);
		return;
	}
	if (sup_qmpd_start(s) < 0)
		s->qmpd_due_ns = sup_mono_ns() + RESTART_WINDOW_NS / RESTART_BURST;
}

int sup_qmpd_timeout(const struct supervisor *s)
{
	uint64_t now = sup_mono_ns();

	if (!s->qmpd_due_ns)
		return -1;
	return s->qmpd_due_ns <= now ? 0 : (int)((s->qmpd_due_ns - now) / 1000000 + 1);
}

void sup_qmpd_tick(struct supervisor *s)
{
	if (!s->qmpd_due_ns || sup_mono_ns() < s->qmpd_due_ns)
		return;
	s->qmpd_due_ns = 0;
	if (s->ending || s->have_exit || s->qmpd_pid > 0)
		return;
	s->qmpd_rs.ns[s->qmpd_rs.n++ % RESTART_BURST] = sup_mono_ns();
	if (sup_qmpd_start(s) < 0)
		s->qmpd_due_ns = sup_mono_ns() + RESTART_WINDOW_NS / RESTART_BURST;
}

static bool wait_exit(pid_t pid, int ms)
{
	for (int t = 0; t < ms / 10; t++) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return true;
		usleep(10000);
	}
	return false;
}

/* The core is gone, so qmpd has read its last event (SHUTDOWN) and sees EOF: give it a moment
 * to write that to its clients before it is told to go. SIGKILL, not SIGTERM: qmpd has no
 * handler and, as pid 1 of its own pid namespace, would ignore any signal without one. */
void sup_qmpd_stop(struct supervisor *s)
{
	pid_t pid = s->qmpd_pid;

	s->qmpd_pid = -1;
	s->qmpd_due_ns = 0;
	if (pid <= 0)
		return;
	if (wait_exit(pid, QMPD_STOP_WAIT_MS))
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* ---- disk hotplug, host side ---- */

PRINTF(3, 4) static uint32_t fail(struct hotplug_reply *r, uint32_t err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->desc, sizeof(r->desc), fmt, ap);
	va_end(ap);
	r->error = err;
	return err;
}

static struct blk_node *find_node(struct supervisor *s, const char *name)
{
	for (unsigned i = 0; i < SUP_MAX_NODES; i++)
		if (s->node[i].used && !strcmp(s->node[i].d.id, name))
			return &s->node[i];
	return NULL;
}

/* Every device id in use: the command line's -device ids and the hot-plugged ones. */
static bool device_id_used(const struct supervisor *s, const char *id)
{
	const struct vm_config *c = s->cfg;

	for (unsigned i = 0; i < c->ndrives; i++)
		if (!strcmp(c->drives[i].dev_id, id))
			return true;
	for (unsigned i = 0; i < c->nvhost_user_blk; i++)
		if (!strcmp(c->vhost_user_blk[i].dev_id, id))
			return true;
	for (unsigned i = 0; i < VM_MAX_DISKS; i++)
		if (s->blk[i].node && !strcmp(s->blk[i].dev_id, id))
			return true;
	return false;
}

/* ---- -hotplug-dir ---- */

int sup_hotplug_dirs_open(struct supervisor *s)
{
	const struct vm_config *c = s->cfg;
	struct stat st;

	for (unsigned i = 0; i < c->nhotplug_dirs; i++) {
		const char *why = NULL;

		/* resolved once: a path is inside when what it opens has the real dir as prefix */
		if (!realpath(c->hotplug_dirs[i], s->hotplug_dirs[i]) ||
		    stat(s->hotplug_dirs[i], &st) < 0)
			why = strerror(errno);
		else if (!S_ISDIR(st.st_mode))
			why = "not a directory";
		if (why) {
			fprintf(stderr, "bulkhead: -hotplug-dir: '%s': %s\n", c->hotplug_dirs[i], why);
			return -1;
		}
	}
	s->nhotplug_dirs = c->nhotplug_dirs;
	return 0;
}

/*
 * Is fd inside a -hotplug-dir? Its /proc/self/fd link is the path of what was actually opened,
 * every symlink followed and every ".." gone, so a link inside pointing out is out. (A hard link
 * placed in the directory is in it: whoever may write there decides what is there.)
 */
static bool inside_hotplug_dirs(const struct supervisor *s, int fd)
{
	char link[32], path[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0 || path[0] != '/')
		return false;
	path[n] = '\0';
	for (unsigned i = 0; i < s->nhotplug_dirs; i++) {
		const char *d = s->hotplug_dirs[i];
		size_t len = strlen(d);

		if (!strcmp(d, "/") || (!strncmp(path, d, len) && path[len] == '/'))
			return true;
	}
	return false;
}

/*
 * The image a QMP client names: O_PATH first (no open side effects on whatever it names), then
 * the -hotplug-dir check and the file type on that, then the real open of exactly that inode
 * through /proc/self/fd -- never the name again, which could point elsewhere by then.
 */
static int open_image(struct supervisor *s, const struct hotplug_request *h,
		      struct hotplug_reply *r)
{
	int flags = (h->read_only ? O_RDONLY : O_RDWR) | (h->direct ? O_DIRECT : 0) | O_CLOEXEC |
		    O_NOCTTY;
	int pfd = open(h->filename, O_PATH | O_CLOEXEC), fd = -1;
	char link[32];
	struct stat st;

	if (pfd < 0) {
		fail(r, QMP_ERR_GENERIC, "Could not open '%s': %s", h->filename, strerror(errno));
		return -1;
	}
	if (s->nhotplug_dirs && !inside_hotplug_dirs(s, pfd))
		fail(r, QMP_ERR_GENERIC, "'%s' is outside the allowed hotplug directories",
		     h->filename);
	else if (fstat(pfd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)))
		fail(r, QMP_ERR_GENERIC, "'%s' is not a regular file or block device", h->filename);
	else {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", pfd);
		fd = open(link, flags);
		if (fd < 0)
			fail(r, QMP_ERR_GENERIC, "Could not open '%s': %s", h->filename,
			     strerror(errno));
	}
	close(pfd);
	return fd;
}

/*
 * Open an image named by a QMP client. Safe because: qmpd only talks to the VM's uid and root
 * (SO_PEERCRED), and the socket is ours, mode 0600; with -hotplug-dir only files inside those
 * directories; O_RDONLY when read-only, never O_CREAT; only regular files and block devices;
 * the worker gets the fd, never the path.
 */
static uint32_t blockdev_add(struct supervisor *s, const struct hotplug_request *h,
			     struct hotplug_reply *r)
{
	struct blk_node *n = NULL;
	int fd;

	if (!qmp_id_ok(h->node_name) || strlen(h->filename) >= VM_PATH_MAX)
		return fail(r, QMP_ERR_GENERIC, "invalid node-name or filename");
	if (find_node(s, h->node_name))
		return fail(r, QMP_ERR_GENERIC, "Duplicate nodes with node-name='%s'", h->node_name);
	for (unsigned i = 0; !n && i < SUP_MAX_NODES; i++)
		if (!s->node[i].used)
			n = &s->node[i];
	if (!n)
		return fail(r, QMP_ERR_GENERIC, "too many block nodes");
	fd = open_image(s, h, r);
	if (fd < 0)
		return r->error;
	*n = (struct blk_node){ .used = true, .hotplug = true, .fd = fd, .slot = -1,
				.d = { .readonly = h->read_only, .direct = h->direct } };
	snprintf(n->d.id, sizeof(n->d.id), "%s", h->node_name);
	snprintf(n->d.file, sizeof(n->d.file), "%s", h->filename);
	log_info("blockdev-add %s: %s%s%s", n->d.id, n->d.file, h->read_only ? ", read-only" : "",
		 h->direct ? ", O_DIRECT" : "");
	return QMP_OK;
}

static uint32_t blockdev_del(struct supervisor *s, const struct hotplug_request *h,
			     struct hotplug_reply *r)
{
	struct blk_node *n = find_node(s, h->node_name);

	if (!n || !n->hotplug)
		return fail(r, QMP_ERR_GENERIC, "Failed to find node with node-name='%s'",
			    h->node_name);
	if (n->slot >= 0)
		return fail(r, QMP_ERR_GENERIC, "Node '%s' is busy: a device uses it", n->d.id);
	closep(&n->fd);
	memset(n, 0, sizeof(*n));
	return QMP_OK;
}

/* Checks, then a new bulkhead-blk for the node; *fd = the core's end of its socket. */
static uint32_t device_add(struct supervisor *s, const struct hotplug_request *h,
			   struct hotplug_reply *r, int *fd)
{
	struct blk_node *n = find_node(s, h->node_name);
	struct blk_worker *w;

	if (h->slot >= VM_MAX_DISKS || h->slot < s->cfg->ndisks || s->blk[h->slot].node)
		return fail(r, QMP_ERR_GENERIC, "slot %u is not a free disk slot", h->slot);
	if (!qmp_id_ok(h->device_id) || device_id_used(s, h->device_id))
		return fail(r, QMP_ERR_GENERIC, "Duplicate ID '%s' for device", h->device_id);
	if (!n || !n->hotplug || n->slot >= 0)
		return fail(r, QMP_ERR_GENERIC, "drive '%s' is unknown or in use", h->node_name);
	w = &s->blk[h->slot];
	*w = (struct blk_worker){ .node = n, .slot = h->slot, .pid = -1 };
	snprintf(w->dev_id, sizeof(w->dev_id), "%s", h->device_id);
	if (sup_spawn_blk(s, w, fd) < 0) {
		*w = (struct blk_worker){ .slot = h->slot, .pid = -1 };
		return fail(r, QMP_ERR_GENERIC, "starting bulkhead-blk for '%s' failed", n->d.id);
	}
	n->slot = (int)h->slot;
	log_info("device_add %s: slot %u, drive %s", h->device_id, h->slot, n->d.id);
	return QMP_OK;
}

/* The core already detached the slot; the worker sees EOF. It is reaped, not restarted: it is
 * no longer in blk[]. */
static uint32_t device_del(struct supervisor *s, const struct hotplug_request *h,
			   struct hotplug_reply *r)
{
	struct blk_worker *w = h->slot < VM_MAX_DISKS ? &s->blk[h->slot] : NULL;

	if (!w || !w->node || h->slot < s->cfg->ndisks)
		return fail(r, QMP_ERR_DEVICE_NOT_FOUND, "no hot-plugged device in slot %u", h->slot);
	if (w->pid > 0)
		kill(w->pid, SIGTERM);
	w->node->slot = -1;
	log_info("device_del %s: slot %u", w->dev_id, h->slot);
	*w = (struct blk_worker){ .slot = h->slot, .pid = -1 };
	return QMP_OK;
}

void sup_hotplug(struct supervisor *s, struct ipc_msg *msg)
{
	struct hotplug_request h;
	struct hotplug_reply r = { 0 };
	int fd = -1, e;

	if (ipc_hotplug_request_decode(msg, &h) < 0) {
		log_warnx("bad hotplug request from the core; stopping it");
		kill(s->core_pid, SIGKILL);
		return;
	}
	r.tag = h.tag;
	switch (h.op) {
	case HOTPLUG_BLOCKDEV_ADD:
		blockdev_add(s, &h, &r);
		break;
	case HOTPLUG_BLOCKDEV_DEL:
		blockdev_del(s, &h, &r);
		break;
	case HOTPLUG_DEVICE_ADD:
		device_add(s, &h, &r, &fd);
		break;
	default:
		device_del(s, &h, &r);
	}
	e = ipc_hotplug_reply_send(s->ipc, &r, fd);
	if (e < 0)
		log_warnx("answering the core: %s", strerror(-e));
	closep(&fd);
}
