/* The supervisor's side of QMP: the listening socket (listen.c: mode 0600, removed at exit),
 * and bulkhead-qmpd spawned on it and restarted when it dies; qmpd only accepts on the
 * socket and talks to the core over a pair this file hands to both. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "supervisor_priv.h"
#include "util.h"

#define QMPD_STOP_WAIT_MS 500
/* a qmpd that dies this often within the window is restarted when the oldest of those
 * restarts leaves the window, not in a tight loop */
#define QMPD_RESTART_BURST 5
#define QMPD_RESTART_WINDOW_NS (10ULL * 1000000000ULL)

/* ---- the QMP socket ---- */

int sup_qmp_open(struct supervisor *s)
{
	return sup_listen_unix(&s->qmp, "QMP socket", s->cfg->qmp_path);
}

void sup_qmp_close(struct supervisor *s)
{
	sup_listener_close(&s->qmp);
}

/* ---- bulkhead-qmpd ---- */

/* fd 3: its end of a new core<->qmpd pair, fd 4: the listening socket. */
int sup_qmpd_start(struct supervisor *s)
{
	struct sup_child c = { .program = "bulkhead-qmpd", .build_dir = "qmpd",
			       .sock_type = SOCK_SEQPACKET, .pidns = true,
			       .fds = { s->qmp.fd }, .nfds = 1 };
	int core_end, r;

	/* qmpd lets this uid (the VM's: the -runas user, else ours) and root talk to it */
	if (sup_arg(&c.args, "--core-fd=3") < 0 || sup_arg(&c.args, "--listen-fd=4") < 0 ||
	    sup_arg(&c.args, "--uid=%u", s->runas ? (unsigned)s->run_uid : (unsigned)getuid()) ||
	    sup_sandbox_args(s, &c.args) < 0)
		return -1;
	if ((s->cfg->name[0] && sup_arg(&c.args, "--name=%s", s->cfg->name) < 0) ||
	    (s->cfg->uuid[0] && sup_arg(&c.args, "--uuid=%s", s->cfg->uuid) < 0))
		return -1;
	s->qmpd_pid = sup_spawn(s, &c, &core_end);
	if (s->qmpd_pid < 0)
		return -1;
	/* the core's end goes to the core; we keep neither, so each sees the other's EOF */
	r = ipc_qmpd_attach_send(s->ipc, core_end);
	close(core_end);
	if (r < 0)
		log_warnx("handing qmpd to the core: %s", strerror(-r));
	return r < 0 ? -1 : 0;
}

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
	if (s->ending || s->have_exit || s->qmp.fd < 0 || core_gone(s))
		return;
	log_warnx("qmpd %s %d; restarting it", WIFSIGNALED(status) ? "was killed by signal" :
		  "exited with status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	s->qmpd_due_ns = mono_ns();
}

int sup_qmpd_timeout(const struct supervisor *s)
{
	uint64_t now = mono_ns();

	if (!s->qmpd_due_ns)
		return -1;
	return s->qmpd_due_ns <= now ? 0 : (int)((s->qmpd_due_ns - now) / 1000000 + 1);
}

/* The VM outlives qmpd: start another on the same listening socket; clients reconnect. A
 * qmpd that keeps dying is restarted when the oldest of its last restarts leaves the window,
 * not in a tight loop. */
void sup_qmpd_tick(struct supervisor *s)
{
	if (!s->qmpd_due_ns || mono_ns() < s->qmpd_due_ns)
		return;
	s->qmpd_due_ns = 0;
	if (s->ending || s->have_exit || s->qmpd_pid > 0)
		return;
	if (!sup_restart_allowed(&s->qmpd_rs, QMPD_RESTART_BURST, QMPD_RESTART_WINDOW_NS)) {
		s->qmpd_due_ns = s->qmpd_rs.ns[s->qmpd_rs.n % QMPD_RESTART_BURST] + QMPD_RESTART_WINDOW_NS;
		log_warnx("qmpd restarted %d times within %llu s; next try in a while", QMPD_RESTART_BURST,
			  QMPD_RESTART_WINDOW_NS / 1000000000ULL);
		return;
	}
	if (sup_qmpd_start(s) < 0)
		s->qmpd_due_ns = mono_ns() + QMPD_RESTART_WINDOW_NS / QMPD_RESTART_BURST;
}

static bool wait_exit(pid_t pid, int ms)
{
	for (int t = 0; t < ms; t++) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return true;
		usleep(1000);
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
