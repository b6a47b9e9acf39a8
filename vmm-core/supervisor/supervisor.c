/* The supervisor process: opens what the configuration names, spawns the core, one
 * bulkhead-blk per disk and qmpd, hands the core each disk's vhost-user socket, restarts a
 * worker that died (or has the core pause the VM when it cannot), waits for the core, and maps
 * the outcome to bulkhead's exit status. QMP and hotplug: hotplug.c. */
#include "supervisor.h"
#include "supervisor_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "bulkhead-config.h"
#include "ipc.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

#define CORE_IPC_FD 3

static const struct ipc_peer core_peer = {
	.name = "core",
	.allowed = (1u << IPC_VM_EXIT) | (1u << IPC_HOTPLUG_REQUEST),
};

static int open_disks(struct supervisor *s);

/* One line naming the option, then the VM does not start. */
static int open_error(const char *opt, const char *path)
{
	fprintf(stderr, "bulkhead: %s: cannot open '%s': %s\n", opt, path, strerror(errno));
	return -1;
}

/* Guest RAM backing file for -mem-path: an unlinked file in that directory. */
static int open_mem_path(const char *dir)
{
	char path[VM_PATH_MAX + 32];
	struct statfs sfs;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		snprintf(path, sizeof(path), "%s/bulkhead-XXXXXX", dir);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd < 0)
			return -1;
		unlink(path);
	}
	if (fstatfs(fd, &sfs) == 0 && sfs.f_type != HUGETLBFS_MAGIC)
		log_info("-mem-path %s is not on hugetlbfs; guest RAM uses ordinary pages there", dir);
	return fd;
}

static int open_resources(struct supervisor *s)
{
	const struct vm_config *c = s->cfg;

	s->fds.kernel = open(c->kernel, O_RDONLY | O_CLOEXEC);
	if (s->fds.kernel < 0)
		return open_error("-kernel", c->kernel);
	if (c->initrd[0]) {
		s->fds.initrd = open(c->initrd, O_RDONLY | O_CLOEXEC);
		if (s->fds.initrd < 0)
			return open_error("-initrd", c->initrd);
	}
	if (c->mem_path[0]) {
		s->fds.mem = open_mem_path(c->mem_path);
		if (s->fds.mem < 0)
			return open_error("-mem-path", c->mem_path);
	}
	if (c->log_to_file && c->log_file[0]) {
		s->log_fd = open(c->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (s->log_fd < 0)
			return open_error("-D", c->log_file);
		log_set_fd(s->log_fd);
	}
	s->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (s->null_fd < 0)
		return open_error("supervisor", "/dev/null");
	return open_disks(s);
}

/* -daemonize: detach, then record our pid in the -pidfile (created exclusively). */
static int daemonize(struct supervisor *s)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	setsid();
	if (chdir("/") < 0)
		return -1;
	dup2(s->null_fd, 0);
	dup2(s->null_fd, 1);
	if (s->log_fd < 0)
		dup2(s->null_fd, 2);
	if (!s->cfg->pidfile[0])
		return 0;
	fd = open(s->cfg->pidfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_warn("-pidfile %s", s->cfg->pidfile);
		return -1;
	}
	dprintf(fd, "%d\n", (int)getpid());
	close(fd);
	return 0;
}

static void tty_raw(struct supervisor *s)
{
	struct termios raw;

	if (!s->cfg->serial_stdio || s->cfg->daemonize || !isatty(0) || tcgetattr(0, &s->tty) < 0)
		return;
	raw = s->tty;
	cfmakeraw(&raw);
	/* keep output post-processing so our own log lines still start at column 0 */
	raw.c_oflag |= OPOST;
	if (tcsetattr(0, TCSANOW, &raw) == 0)
		s->tty_raw = true;
}

static void tty_restore(struct supervisor *s)
{
	if (s->tty_raw)
		tcsetattr(0, TCSANOW, &s->tty);
	s->tty_raw = false;
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

/* Move fd to one at or above 10 so the dup2()s to 3, 4, ... cannot clobber each other. */
static int high_fd(int fd)
{
	return fcntl(fd, F_DUPFD, 10);
}

/* sandbox (issue 5): children's SIGSYS handlers write "PID SYSCALL" here (common/sandbox.h) */
static int sandbox_report[2] = { -1, -1 };

void sup_child_setup(struct supervisor *s, const int *fds, unsigned nfds, bool keep_stdio)
{
	int high[4];
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!sup_parent_alive(s) || nfds > 4)
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
	if (sandbox_report[1] >= 0 && dup2(sandbox_report[1], 3 + (int)nfds) == 3 + (int)nfds) {
		char v[16];

		snprintf(v, sizeof(v), "%u", 3 + nfds);
		setenv(SANDBOX_REPORT_ENV, v, 1);
		nfds++;
	}
	close_range(3 + nfds, ~0U, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static int spawn_core(struct supervisor *s)
{
	char path[PATH_MAX + 32], arg[32];
	int sv[2];

	if (sup_helper_path("bulkhead-core", NULL, path, sizeof(path)) < 0) {
		log_warnx("cannot find bulkhead-core next to bulkhead or in %s", BULKHEAD_LIBEXECDIR);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("socketpair");
		return -1;
	}
	s->core_pid = fork();
	if (s->core_pid < 0) {
		log_warn("fork");
		return -1;
	}
	if (s->core_pid == 0) {
		sup_child_setup(s, &sv[1], 1, s->cfg->serial_stdio);
		snprintf(arg, sizeof(arg), "--ipc-fd=%d", CORE_IPC_FD);
		execl(path, "bulkhead-core", arg, (char *)NULL);
		dprintf(2, "bulkhead: exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	s->ipc = sv[0];
	return 0;
}

/* ---- disks: images, external backends, bulkhead-blk workers ---- */

uint64_t sup_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Opening the image is the privileged step the worker cannot do itself; the path came from
 * our own command line, and the worker gets only the fd, read-only when the disk is. */
static int open_drive(struct supervisor *s, const struct vm_drive *d, unsigned slot)
{
	int flags = (d->readonly ? O_RDONLY : O_RDWR) | (d->direct ? O_DIRECT : 0) | O_CLOEXEC;
	struct blk_node *n = &s->node[slot];

	*n = (struct blk_node){ .used = true, .d = *d, .slot = (int)slot };
	s->blk[slot] = (struct blk_worker){ .node = n, .slot = slot, .pid = -1 };
	n->fd = open(d->file, flags);
	return n->fd < 0 ? open_error("-drive", d->file) : 0;
}

/* An external vhost-user backend (e.g. qemu-storage-daemon): we connect, the core speaks. */
static int connect_chardev(const struct vm_chardev *ch)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ch->path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "bulkhead: -chardev %s: cannot connect to '%s': %s\n", ch->id,
			ch->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static const struct vm_chardev *find_chardev(const struct vm_config *c, const char *id)
{
	for (unsigned i = 0; i < c->nchardevs; i++)
		if (!strcmp(c->chardevs[i].id, id))
			return &c->chardevs[i];
	return NULL;
}

/* Disk i of the command line is slot i; its node (a -drive) is node[i]. */
static int open_disks(struct supervisor *s)
{
	const struct vm_config *c = s->cfg;

	for (unsigned i = 0; i < c->ndisks; i++) {
		const struct vm_disk *d = &c->disks[i];
		const struct vm_chardev *ch;

		if (d->kind == VM_DISK_DRIVE) {
			if (open_drive(s, &c->drives[d->index], i) < 0)
				return -1;
			continue;
		}
		ch = find_chardev(c, c->vhost_user_blk[d->index].chardev);
		if (!ch || (s->ext_fd[i] = connect_chardev(ch)) < 0)
			return -1;
	}
	return 0;
}

/* In the forked child: the socket as fd 3, the image as fd 4, nothing else; then exec. */
static void exec_blk(struct supervisor *s, const char *path, struct blk_worker *w, int sock)
{
	const struct vm_drive *d = &w->node->d;
	char a_ser[32 + VM_SERIAL_MAX], a_iops[32], a_name[32 + VM_ID_MAX], a_runas[48];
	char *argv[12];
	int n = 0, fds[2] = { sock, w->node->fd };

	sup_child_setup(s, fds, 2, false);
	snprintf(a_ser, sizeof(a_ser), "--serial=%s", d->serial);
	snprintf(a_iops, sizeof(a_iops), "--iops=%u", d->iops);
	snprintf(a_name, sizeof(a_name), "--name=%s", d->id);
	argv[n++] = (char *)"bulkhead-blk";
	argv[n++] = (char *)"--fd=3";
	argv[n++] = (char *)"--blk-fd=4";
	if (d->readonly)
		argv[n++] = (char *)"--read-only";
	if (d->direct)
		argv[n++] = (char *)"--direct";
	if (d->serial[0])
		argv[n++] = a_ser;
	if (d->iops)
		argv[n++] = a_iops;
	argv[n++] = a_name;
	if (s->cfg->disable_seccomp)
		argv[n++] = (char *)"--disable-seccomp";
	sup_runas_arg(s, a_runas, sizeof(a_runas));
	if (a_runas[0])
		argv[n++] = a_runas;
	argv[n] = NULL;
	execv(path, argv);
	dprintf(2, "bulkhead: exec %s: %s\n", path, strerror(errno));
	_exit(127);
}

static int send_attach(struct supervisor *s, unsigned slot, uint32_t kind, const char *name,
		       int fd)
{
	struct backend_attach a = { .slot = slot, .kind = kind };
	int r;

	snprintf(a.name, sizeof(a.name), "%s", name);
	r = ipc_backend_attach_send(s->ipc, &a, fd);
	if (r < 0)
		log_warnx("handing slot %u to the core: %s", slot, strerror(-r));
	return r;
}

int sup_spawn_blk(struct supervisor *s, struct blk_worker *w, int *fd)
{
	char path[PATH_MAX + 32];
	int sv[2];

	if (sup_helper_path("bulkhead-blk", "dev-blk", path, sizeof(path)) < 0) {
		log_warnx("cannot find bulkhead-blk next to bulkhead or in %s", BULKHEAD_LIBEXECDIR);
		return -ENOENT;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("socketpair");
		return -errno;
	}
	w->pid = sup_fork(s, true);
	if (w->pid == 0)
		exec_blk(s, path, w, sv[1]);
	close(sv[1]);
	if (w->pid < 0) {
		log_warn("fork");
		close(sv[0]);
		return -EAGAIN;
	}
	*fd = sv[0];
	return 0;
}

/* Spawn the worker of a slot and give the core the other end of its socket. */
static int start_blk(struct supervisor *s, struct blk_worker *w)
{
	int fd, r = sup_spawn_blk(s, w, &fd);

	if (r < 0)
		return r;
	r = send_attach(s, w->slot, IPC_DEV_BLK, w->node->d.id, fd);
	close(fd);
	return r < 0 ? -EPIPE : 0;
}

static int start_disks(struct supervisor *s)
{
	const struct vm_config *c = s->cfg;

	for (unsigned i = 0; i < c->ndisks; i++)
		if (s->blk[i].node && start_blk(s, &s->blk[i]) < 0)
			return -1;
	for (unsigned i = 0; i < c->ndisks; i++) {
		const struct vm_vhost_user_blk *v;

		if (s->ext_fd[i] < 0)
			continue;
		v = &c->vhost_user_blk[c->disks[i].index];
		if (send_attach(s, i, IPC_DEV_VHOST_USER_BLK, v->chardev, s->ext_fd[i]) < 0)
			return -1;
		/* the core has its own copy now; its death must not wait for ours */
		closep(&s->ext_fd[i]);
	}
	return 0;
}

bool sup_restart_allowed(struct restarts *r)
{
	uint64_t now = sup_mono_ns(), oldest = r->ns[r->n % RESTART_BURST];

	if (r->n >= RESTART_BURST && now - oldest < RESTART_WINDOW_NS)
		return false;
	r->ns[r->n++ % RESTART_BURST] = now;
	return true;
}

/* "was killed by seccomp (syscall openat)", "was killed by signal ...", "exited with ..." */
static void describe_status(pid_t pid, int status, char *buf, size_t len)
{
	sandbox_describe_exit(pid, status, sandbox_report[0], buf, len);
}

/* Fail-stop without data loss (DESIGN.md §8): the core pauses the VM and QMP says why. */
static void backend_failed(struct supervisor *s, struct blk_worker *w)
{
	struct backend_failed b = { .slot = w->slot };

	snprintf(b.name, sizeof(b.name), "%s", w->node->d.id);
	if (ipc_backend_failed_send(s->ipc, &b) < 0)
		log_warnx("telling the core about drive %s failed", w->node->d.id);
}

static void worker_died(struct supervisor *s, struct blk_worker *w, int status)
{
	const char *id = w->node->d.id;
	char how[96];
	int r;

	pid_t pid = w->pid;

	w->pid = -1;
	/* the core ended the VM (and so closed the worker's socket): nothing to restart */
	if (s->ending || s->have_exit)
		return;
	describe_status(pid, status, how, sizeof(how));
	if (!sup_restart_allowed(&w->rs)) {
		log_warnx("drive %s: bulkhead-blk %s, %d times within %llu s; pausing the VM "
			  "(fail-stop: the disk can no longer be served)", id, how, RESTART_BURST,
			  RESTART_WINDOW_NS / 1000000000ULL);
		backend_failed(s, w);
		return;
	}
	log_warnx("drive %s: bulkhead-blk %s; restarting it", id, how);
	r = start_blk(s, w);
	if (r == -EPIPE) {
		/* the core is gone too; reaping it says why. The new worker sees EOF and exits. */
		s->ending = true;
	} else if (r < 0) {
		log_warnx("drive %s: restarting bulkhead-blk failed; pausing the VM (fail-stop)", id);
		backend_failed(s, w);
	}
}

/* The VM is over: the workers saw their sockets close; give them a moment, then insist. */
static void stop_workers(struct supervisor *s)
{
	s->ending = true;
	for (unsigned i = 0; i < VM_MAX_DISKS; i++) {
		struct blk_worker *w = &s->blk[i];

		if (w->pid <= 0)
			continue;
		kill(w->pid, SIGTERM);
		for (int t = 0; t < 100 && waitpid(w->pid, NULL, WNOHANG) == 0; t++)
			usleep(10000);
		if (kill(w->pid, SIGKILL) == 0)
			waitpid(w->pid, NULL, 0);
		w->pid = -1;
	}
}

static int send_config(struct supervisor *s)
{
	const struct vm_config *c = s->cfg;
	struct core_config cc = { .ncpus = c->ncpus, .mem_size = c->mem_size };
	int r;

	cc.flags = (c->acpi ? CORE_F_ACPI : 0) | (c->dump_guest_core ? CORE_F_DUMP_CORE : 0) |
		   (c->disable_seccomp ? CORE_F_NO_SECCOMP : 0) |
		   (c->serial_stdio ? CORE_F_SERIAL_STDIO : 0) |
		   (s->fds.initrd >= 0 ? CORE_F_INITRD : 0) | (s->fds.mem >= 0 ? CORE_F_MEM_FD : 0) |
		   (s->runas ? CORE_F_RUNAS : 0);
	cc.runas_uid = s->runas ? s->run_uid : 0;
	cc.runas_gid = s->runas ? s->run_gid : 0;
	snprintf(cc.name, sizeof(cc.name), "%s", c->name);
	cc.nslots = c->ndisks;
	for (unsigned i = 0; i < c->ndisks; i++)
		cc.slot_kind[i] = c->disks[i].kind == VM_DISK_DRIVE ? IPC_DEV_BLK :
				  IPC_DEV_VHOST_USER_BLK;
	snprintf(cc.cmdline, sizeof(cc.cmdline), "%s", c->cmdline);
	r = ipc_core_config_send(s->ipc, &cc, &s->fds);
	if (r < 0)
		log_warnx("sending the configuration to the core: %s", strerror(-r));
	return r;
}

static void on_core_message(struct supervisor *s)
{
	struct ipc_msg *msg = malloc(sizeof(*msg));
	int r;

	if (!msg)
		return;
	r = ipc_recv(s->ipc, &core_peer, msg);
	if (r == 1 && msg->hdr.type == IPC_HOTPLUG_REQUEST) {
		sup_hotplug(s, msg);
	} else if (r == 1 && ipc_vm_exit_decode(msg, &s->exit) == 0) {
		s->have_exit = true;
	} else if (r != 0) {
		/* a core that lies is a core we no longer trust to run the VM */
		log_warnx("bad message from the core; stopping it");
		kill(s->core_pid, SIGKILL);
	}
	ipc_msg_close_fds(msg);
	free(msg);
	if (r <= 0) {
		close(s->ipc);
		s->ipc = -1;
	}
}

/* The core is gone: how the VM ended, as our exit status. */
static int core_ended(struct supervisor *s, int status)
{
	s->ending = true;
	while (s->ipc >= 0 && !s->have_exit) {
		struct pollfd p = { .fd = s->ipc, .events = POLLIN };
		if (poll(&p, 1, 0) <= 0)
			break;
		on_core_message(s);
	}
	if (s->have_exit && s->exit.reason != IPC_EXIT_ERROR && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0) {
		if (s->exit.detail[0])
			log_info("%s", s->exit.detail);
		else
			log_info("the guest %s", s->exit.reason == IPC_EXIT_RESET ? "reset" :
				 "powered off");
		return EXIT_VM_ENDED;
	}
	if (s->have_exit && s->exit.detail[0])
		log_warnx("%s", s->exit.detail);
	else if (WIFSIGNALED(status)) {
		char how[96];

		describe_status(s->core_pid, status, how, sizeof(how));
		log_warnx("the core %s", how);
	}
	else
		log_warnx("the core exited with status %d", WEXITSTATUS(status));
	return EXIT_VM_FAILED;
}

/* Reap every child that ended (signalfd merges SIGCHLDs). Returns the exit status once the
 * core is gone, or -1 to keep waiting. A worker stopped by device_del is no longer in blk[]
 * and is just reaped. */
static int reap(struct supervisor *s)
{
	int status, rc = -1;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == s->core_pid) {
			rc = core_ended(s, status);
			continue;
		}
		if (pid == s->qmpd_pid) {
			sup_qmpd_died(s, status);
			continue;
		}
		for (unsigned i = 0; i < VM_MAX_DISKS; i++)
			if (s->blk[i].node && s->blk[i].pid == pid)
				worker_died(s, &s->blk[i], status);
	}
	return rc;
}

static int on_signal(struct supervisor *s)
{
	struct signalfd_siginfo si;

	if (read(s->sigfd, &si, sizeof(si)) != sizeof(si))
		return -1;
	if (si.ssi_signo != SIGCHLD) {
		log_warnx("received signal %s; stopping the VM", strsignal((int)si.ssi_signo));
		s->ending = true;
		kill(s->core_pid, SIGKILL);
		return -1;
	}
	return reap(s);
}

static int wait_core(struct supervisor *s)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = s->sigfd, .events = POLLIN },
			{ .fd = s->ipc, .events = POLLIN },
		};
		int rc, n = poll(p, 2, sup_qmpd_timeout(s));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			kill(s->core_pid, SIGKILL);
		}
		sup_qmpd_tick(s);
		if (n <= 0)
			continue;
		if (p[1].revents)
			on_core_message(s);
		if (p[0].revents && (rc = on_signal(s)) >= 0)
			return rc;
	}
}

static int block_signals(struct supervisor *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	return s->sigfd < 0 ? -1 : 0;
}

static void release(struct supervisor *s)
{
	closep(&s->fds.kernel);
	closep(&s->fds.initrd);
	closep(&s->fds.mem);
}

static void release_disks(struct supervisor *s)
{
	for (unsigned i = 0; i < SUP_MAX_NODES; i++)
		if (s->node[i].used)
			closep(&s->node[i].fd);
	for (unsigned i = 0; i < VM_MAX_DISKS; i++)
		closep(&s->ext_fd[i]);
}

/* Start the VM: core, disks, qmpd. Failing here kills the core; wait_core() says why. */
static void start_vm(struct supervisor *s)
{
	if (send_config(s) < 0 || start_disks(s) < 0 ||
	    (s->qmp_fd >= 0 && sup_qmpd_start(s) < 0))
		kill(s->core_pid, SIGKILL);
}

int supervisor_run(const struct vm_config *cfg)
{
	/* static: the node table holds a vm_drive (with its path) per image */
	static struct supervisor s;
	int rc = EXIT_VM_FAILED;

	s = (struct supervisor){ .cfg = cfg, .fds = { -1, -1, -1 }, .log_fd = -1, .null_fd = -1,
				 .ipc = -1, .sigfd = -1, .qmp_fd = -1, .qmpd_pid = -1,
				 .self_pidfd = -1 };
	for (unsigned i = 0; i < VM_MAX_DISKS; i++) {
		s.ext_fd[i] = -1;
		s.blk[i] = (struct blk_worker){ .slot = i, .pid = -1 };
	}
	signal(SIGPIPE, SIG_IGN);
	/* -runas and -hotplug-dir first: a name that does not resolve is one line, then exit 1 */
	if (sup_resolve_runas(&s) < 0 || sup_hotplug_dirs_open(&s) < 0)
		goto out;
	if (open_resources(&s) < 0 || (cfg->qmp_path[0] && sup_qmp_open(&s) < 0))
		goto out;
	if (cfg->daemonize && daemonize(&s) < 0)
		goto out;
	s.parent = getpid();
	s.self_pidfd = sup_self_pidfd();
	if (block_signals(&s) < 0) {
		log_warn("signals");
		goto out;
	}
	if (!cfg->disable_seccomp && sandbox_report_pipe(sandbox_report) < 0)
		log_warn("sandbox report pipe (seccomp kills will not name the syscall)");
	if (spawn_core(&s) < 0)
		goto out;
	tty_raw(&s);
	start_vm(&s);
	release(&s);
	rc = wait_core(&s);
out:
	stop_workers(&s);
	sup_qmpd_stop(&s);
	sup_qmp_close(&s);
	tty_restore(&s);
	release(&s);
	release_disks(&s);
	closep(&s.self_pidfd);
	if (cfg->daemonize && cfg->pidfile[0] && s.core_pid > 0)
		unlink(cfg->pidfile);
	return rc;
}
