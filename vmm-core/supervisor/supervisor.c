/* The supervisor process: opens what the configuration names, spawns the core, the device
 * workers (workers.c) and qmpd (qmpd.c), waits for the core while it reaps and restarts the
 * others and answers the core's hotplug requests (hotplug.c), and maps how the VM ended to
 * bulkhead's exit status. */
#include "supervisor.h"
#include "supervisor_priv.h"

#include "ipc.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "sandbox.h"
#include "util.h"

static const struct ipc_peer core_peer = {
	.name = "core",
	.allowed = (1u << IPC_VM_EXIT) | (1u << IPC_HOTPLUG_REQUEST),
};

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
		return sup_open_error("-kernel", c->kernel);
	if (c->initrd[0]) {
		s->fds.initrd = open(c->initrd, O_RDONLY | O_CLOEXEC);
		if (s->fds.initrd < 0)
			return sup_open_error("-initrd", c->initrd);
	}
	if (c->mem_path[0]) {
		s->fds.mem = open_mem_path(c->mem_path);
		if (s->fds.mem < 0)
			return sup_open_error("-mem-path", c->mem_path);
	}
	if (c->log_to_file && c->log_file[0]) {
		s->log_fd = open(c->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (s->log_fd < 0)
			return sup_open_error("-D", c->log_file);
		log_set_fd(s->log_fd);
	}
	s->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (s->null_fd < 0)
		return sup_open_error("supervisor", "/dev/null");
	for (int k = 0; k < WORKER_KIND_MAX; k++)
		if (sup_kind_ops[k]->open_boot(s) < 0)
			return -1;
	return 0;
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

/* Its sandbox options come with its configuration (send_config). */
static int spawn_core(struct supervisor *s)
{
	struct sup_child c = { .program = "bulkhead-core", .sock_type = SOCK_SEQPACKET,
			       .keep_stdio = s->cfg->serial_stdio };

	sup_arg(&c.args, "--ipc-fd=3");
	s->core_pid = sup_spawn(s, &c, &s->ipc);
	return s->core_pid < 0 ? -1 : 0;
}

/* The core reads the stats pages through read-only fds of its own: reopened, not dup()ed,
 * so that neither the fd nor a mapping of it can write. */
static int stats_for_core(struct supervisor *s, struct core_config *cc, struct core_config_fds *f)
{
	char path[64];

	for (unsigned i = 0; i < IPC_MAX_SLOTS; i++)
		f->stats[i] = -1;
	for (unsigned i = 0; i < WORKER_SLOTS; i++) {
		if (s->stats_fd[i] < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", s->stats_fd[i]);
		f->stats[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (f->stats[i] < 0)
			return sup_open_error("stats page", path);
		cc->stats_slots |= 1u << i;
	}
	return 0;
}

static int send_config(struct supervisor *s)
{
	const struct vm_config *c = s->cfg;
	struct core_config cc = { .ncpus = c->ncpus, .mem_size = c->mem_size };
	struct core_config_fds f = s->fds;
	int r;

	cc.flags = (c->acpi ? CORE_F_ACPI : 0) | (c->dump_guest_core ? CORE_F_DUMP_CORE : 0) |
		   (c->disable_seccomp ? CORE_F_NO_SECCOMP : 0) |
		   (c->serial_stdio ? CORE_F_SERIAL_STDIO : 0) |
		   (s->fds.initrd >= 0 ? CORE_F_INITRD : 0) | (s->fds.mem >= 0 ? CORE_F_MEM_FD : 0) |
		   (s->runas ? CORE_F_RUNAS : 0);
	cc.runas_uid = s->runas ? s->run_uid : 0;
	cc.runas_gid = s->runas ? s->run_gid : 0;
	snprintf(cc.name, sizeof(cc.name), "%s", c->name);
	for (unsigned i = 0; i < c->ndisks; i++) {
		const struct vm_disk *d = &c->disks[i];

		cc.slot_kind[i] = d->kind == VM_DISK_DRIVE ? IPC_DEV_BLK : IPC_DEV_VHOST_USER_BLK;
		snprintf(cc.slot_dev_id[i], sizeof(cc.slot_dev_id[i]), "%s",
			 d->kind == VM_DISK_DRIVE ? c->drives[d->index].dev_id :
						    c->vhost_user_blk[d->index].dev_id);
	}
	for (unsigned i = 0; i < c->nnets; i++) {
		unsigned slot = worker_kinds[WORKER_NET].first_slot + i;

		cc.slot_kind[slot] = c->nets[i].chardev[0] ? IPC_DEV_VHOST_USER_NET : IPC_DEV_NET;
		snprintf(cc.slot_dev_id[slot], sizeof(cc.slot_dev_id[slot]), "%s", c->nets[i].dev_id);
	}
	if (c->vsock.present) {
		unsigned slot = worker_kinds[WORKER_VSOCK].first_slot;

		cc.slot_kind[slot] = c->vsock.chardev[0] ? IPC_DEV_VHOST_USER_VSOCK : IPC_DEV_VSOCK;
		snprintf(cc.slot_dev_id[slot], sizeof(cc.slot_dev_id[slot]), "%s", c->vsock.id);
	}
	if (c->rng.present) {
		unsigned slot = worker_kinds[WORKER_RNG].first_slot;

		cc.slot_kind[slot] = IPC_DEV_RNG;
		snprintf(cc.slot_dev_id[slot], sizeof(cc.slot_dev_id[slot]), "%s", c->rng.id);
	}
	if (c->console.present) {
		unsigned slot = worker_kinds[WORKER_CONSOLE].first_slot;

		cc.slot_kind[slot] = IPC_DEV_CONSOLE;
		snprintf(cc.slot_dev_id[slot], sizeof(cc.slot_dev_id[slot]), "%s", c->console.id);
	}
	if (c->fs.present) {
		unsigned slot = worker_kinds[WORKER_FS].first_slot;

		cc.slot_kind[slot] = IPC_DEV_VHOST_USER_FS;
		snprintf(cc.slot_dev_id[slot], sizeof(cc.slot_dev_id[slot]), "%s", c->fs.id);
		snprintf(cc.fs_tag, sizeof(cc.fs_tag), "%s", c->fs.tag);
		cc.fs_request_queues = c->fs.request_queues;
	}
	memcpy(cc.slot_mac, s->slot_mac, sizeof(s->slot_mac));
	snprintf(cc.cmdline, sizeof(cc.cmdline), "%s", c->cmdline);
	r = stats_for_core(s, &cc, &f);
	if (!r) {
		r = ipc_core_config_send(s->ipc, &cc, &f);
		if (r < 0)
			log_warnx("sending the configuration to the core: %s", strerror(-r));
	}
	for (unsigned i = 0; i < IPC_MAX_SLOTS; i++)
		closep(&f.stats[i]);
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

		sup_describe_exit(s, s->core_pid, status, how, sizeof(how));
		log_warnx("the core %s", how);
	}
	else
		log_warnx("the core exited with status %d", WEXITSTATUS(status));
	return EXIT_VM_FAILED;
}

/* Reap every child that ended (signalfd merges SIGCHLDs). Returns the exit status once the
 * core is gone, or -1 to keep waiting. A worker stopped by device_del is no longer in
 * worker[] and is just reaped. */
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
		sup_worker_reaped(s, pid, status);
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

static void release_nodes(struct supervisor *s)
{
	for (unsigned i = 0; i < SUP_MAX_NODES; i++)
		if (s->node[i].used)
			sup_node_close(&s->node[i]);
	for (unsigned i = 0; i < WORKER_SLOTS; i++) {
		closep(&s->ext_fd[i]);
		closep(&s->stats_fd[i]);
	}
}

/* Start the VM: core, workers, qmpd. Failing here kills the core; wait_core() says why. */
static void start_vm(struct supervisor *s)
{
	if (send_config(s) < 0 || sup_workers_start(s) < 0 ||
	    (s->qmp.fd >= 0 && sup_qmpd_start(s) < 0))
		kill(s->core_pid, SIGKILL);
}

int supervisor_run(const struct vm_config *cfg)
{
	/* static: the node table holds a vm_drive (with its path) per image */
	static struct supervisor s;
	int rc = EXIT_VM_FAILED;

	s = (struct supervisor){ .cfg = cfg, .fds = { .kernel = -1, .initrd = -1, .mem = -1 }, .log_fd = -1, .null_fd = -1,
				 .ipc = -1, .sigfd = -1, .qmp = { .fd = -1 }, .qmpd_pid = -1,
				 .self_pidfd = -1, .sandbox_report = { -1, -1 } };
	for (unsigned i = 0; i < WORKER_SLOTS; i++) {
		s.ext_fd[i] = -1;
		s.stats_fd[i] = -1;
		s.worker[i] = (struct worker){ .slot = i, .pid = -1 };
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
	if (!cfg->disable_seccomp && sandbox_report_pipe(s.sandbox_report) < 0)
		log_warn("sandbox report pipe (seccomp kills will not name the syscall)");
	if (spawn_core(&s) < 0)
		goto out;
	tty_raw(&s);
	start_vm(&s);
	release(&s);
	rc = wait_core(&s);
out:
	sup_workers_stop(&s);
	sup_qmpd_stop(&s);
	sup_qmp_close(&s);
	tty_restore(&s);
	release(&s);
	release_nodes(&s);
	closep(&s.self_pidfd);
	if (cfg->daemonize && cfg->pidfile[0] && s.core_pid > 0)
		unlink(cfg->pidfile);
	return rc;
}
