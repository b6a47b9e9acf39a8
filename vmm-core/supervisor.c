/* The supervisor process: opens what the configuration names, spawns the core, waits for it,
 * and maps the outcome to bulkhead's exit status. */
#include "supervisor.h"

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
#include <sys/vfs.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "bulkhead-config.h"
#include "ipc.h"
#include "log.h"
#include "util.h"

#define CORE_IPC_FD 3

static const struct ipc_peer core_peer = {
	.name = "core",
	.allowed = 1u << IPC_VM_EXIT,
};

struct supervisor {
	const struct vm_config *cfg;
	struct core_config_fds fds;
	int log_fd;                 /* -D file, or -1 */
	int null_fd;
	int ipc;                    /* our end of the core's socket */
	int sigfd;
	pid_t core_pid;
	bool tty_raw;
	struct termios tty;
	bool have_exit;
	struct vm_exit_info exit;
};

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

static int core_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, len, "%s/bulkhead-core", self);
			if (access(buf, X_OK) == 0)
				return 0;
		}
	}
	snprintf(buf, len, "%s/bulkhead-core", BULKHEAD_LIBEXECDIR);
	return access(buf, X_OK) == 0 ? 0 : -1;
}

/* In the forked child: keep exactly stdin/stdout/stderr and the IPC socket, then exec. */
static void exec_core(struct supervisor *s, const char *path, int child_sock, pid_t parent)
{
	char arg[32];
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (!s->cfg->serial_stdio) {
		dup2(s->null_fd, 0);
		dup2(s->null_fd, 1);
	}
	if (s->log_fd >= 0)
		dup2(s->log_fd, 2);
	if (dup2(child_sock, CORE_IPC_FD) < 0)
		_exit(127);
	close_range(CORE_IPC_FD + 1, ~0U, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	snprintf(arg, sizeof(arg), "--ipc-fd=%d", CORE_IPC_FD);
	execl(path, "bulkhead-core", arg, (char *)NULL);
	dprintf(2, "bulkhead: exec %s: %s\n", path, strerror(errno));
	_exit(127);
}

static int spawn_core(struct supervisor *s)
{
	char path[PATH_MAX + 32];
	pid_t parent = getpid();
	int sv[2];

	if (core_path(path, sizeof(path)) < 0) {
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
	if (s->core_pid == 0)
		exec_core(s, path, sv[1], parent);
	close(sv[1]);
	s->ipc = sv[0];
	return 0;
}

static int send_config(struct supervisor *s)
{
	const struct vm_config *c = s->cfg;
	struct core_config cc = { .ncpus = c->ncpus, .mem_size = c->mem_size };
	int r;

	cc.flags = (c->acpi ? CORE_F_ACPI : 0) | (c->dump_guest_core ? CORE_F_DUMP_CORE : 0) |
		   (c->serial_stdio ? CORE_F_SERIAL_STDIO : 0) |
		   (s->fds.initrd >= 0 ? CORE_F_INITRD : 0) | (s->fds.mem >= 0 ? CORE_F_MEM_FD : 0);
	snprintf(cc.name, sizeof(cc.name), "%s", c->name);
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
	if (r == 1 && ipc_vm_exit_decode(msg, &s->exit) == 0) {
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

/* Returns the exit status once the core is gone, or -1 to keep waiting. */
static int on_signal(struct supervisor *s)
{
	struct signalfd_siginfo si;
	int status;

	if (read(s->sigfd, &si, sizeof(si)) != sizeof(si))
		return -1;
	if (si.ssi_signo != SIGCHLD) {
		log_warnx("received signal %s; stopping the VM", strsignal((int)si.ssi_signo));
		kill(s->core_pid, SIGKILL);
		return -1;
	}
	if (waitpid(s->core_pid, &status, WNOHANG) != s->core_pid)
		return -1;
	while (s->ipc >= 0 && !s->have_exit) {
		struct pollfd p = { .fd = s->ipc, .events = POLLIN };
		if (poll(&p, 1, 0) <= 0)
			break;
		on_core_message(s);
	}
	if (s->have_exit && s->exit.reason != IPC_EXIT_ERROR && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0) {
		log_info("the guest %s", s->exit.reason == IPC_EXIT_RESET ? "reset" : "powered off");
		return EXIT_VM_ENDED;
	}
	if (s->have_exit && s->exit.detail[0])
		log_warnx("%s", s->exit.detail);
	else if (WIFSIGNALED(status))
		log_warnx("the core was killed by signal %s", strsignal(WTERMSIG(status)));
	else
		log_warnx("the core exited with status %d", WEXITSTATUS(status));
	return EXIT_VM_FAILED;
}

static int wait_core(struct supervisor *s)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = s->sigfd, .events = POLLIN },
			{ .fd = s->ipc, .events = POLLIN },
		};
		int rc;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			kill(s->core_pid, SIGKILL);
		}
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

int supervisor_run(const struct vm_config *cfg)
{
	struct supervisor s = { .cfg = cfg, .fds = { -1, -1, -1 }, .log_fd = -1, .null_fd = -1,
				.ipc = -1, .sigfd = -1 };
	int rc = EXIT_VM_FAILED;

	signal(SIGPIPE, SIG_IGN);
	if (open_resources(&s) < 0)
		goto out;
	if (cfg->daemonize && daemonize(&s) < 0)
		goto out;
	if (block_signals(&s) < 0) {
		log_warn("signals");
		goto out;
	}
	if (spawn_core(&s) < 0)
		goto out;
	tty_raw(&s);
	if (send_config(&s) < 0)
		kill(s.core_pid, SIGKILL);
	release(&s);
	rc = wait_core(&s);
out:
	tty_restore(&s);
	release(&s);
	if (cfg->daemonize && cfg->pidfile[0] && s.core_pid > 0)
		unlink(cfg->pidfile);
	return rc;
}
