/* Device workers, the same for every kind (the kind's own part: kinds.c and
 * common/worker_kinds.c): spawned into their own pid namespace with their socket as fd 3 and
 * what the kind opened after it, handed to the core as a slot's backend, restarted when they
 * die -- or, past the kind's restart policy, the VM paused (fail-stop, DESIGN.md §8) -- and
 * stopped at device_del and at the end of the VM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "supervisor_priv.h"
#include "util.h"

#define WORKERS_STOP_WAIT_MS 1000   /* after SIGTERM, before SIGKILL */

#define NS_PER_S 1000000000ULL

/* Its socket as fd 3, the kind's fds from 4, then the slot's stats page if it has one; its
 * options from the kind (kinds.c). */
int sup_worker_spawn(struct supervisor *s, struct worker *w, int *fd)
{
	const struct worker_kind_desc *k = &worker_kinds[w->kind];
	const struct sup_kind_ops *ops = sup_kind_ops[w->kind];
	struct sup_child c = { .program = k->program, .build_dir = k->build_dir,
			       .sock_type = SOCK_STREAM, .pidns = true };
	int start_fd = -1;

	c.nfds = w->node->nfds;
	memcpy(c.fds, w->node->fds, c.nfds * sizeof(int));
	if (ops->start_fd && ops->start_fd(s, w->node, &start_fd) < 0)
		return -EIO;
	if (start_fd >= 0)
		c.fds[c.nfds++] = start_fd;
	if (s->stats_fd[w->slot] >= 0) {
		c.fds[c.nfds] = s->stats_fd[w->slot];
		if (sup_arg(&c.args, "--stats-fd=%u", 4 + c.nfds++) < 0)
			goto too_long;
	}
	if (sup_arg(&c.args, "--fd=3") < 0 || ops->args(s, w->node, &c.args) < 0 ||
	    sup_sandbox_args(s, &c.args) < 0)
		goto too_long;
	w->pid = sup_spawn(s, &c, fd);
	closep(&start_fd);
	return w->pid < 0 ? -EAGAIN : 0;
too_long:
	log_warnx("%s: too many arguments", k->program);
	closep(&start_fd);
	return -E2BIG;
}

/* Give the core a backend for slot (a worker's socket, or an external one). */
static int send_attach(struct supervisor *s, unsigned slot, uint32_t ipc_dev, const char *name,
		       int fd)
{
	struct backend_attach a = { .slot = slot, .kind = ipc_dev };
	int r;

	snprintf(a.name, sizeof(a.name), "%s", name);
	r = ipc_backend_attach_send(s->ipc, &a, fd);
	if (r < 0)
		log_warnx("handing slot %u to the core: %s", slot, strerror(-r));
	return r;
}

/* Spawn the worker of a slot and give the core the other end of its socket. */
static int worker_start(struct supervisor *s, struct worker *w)
{
	int fd, r = sup_worker_spawn(s, w, &fd);

	if (r < 0)
		return r;
	r = send_attach(s, w->slot, worker_kinds[w->kind].ipc_dev, w->node->id, fd);
	close(fd);
	return r < 0 ? -EPIPE : 0;
}

int sup_workers_start(struct supervisor *s)
{
	for (unsigned i = 0; i < WORKER_SLOTS; i++)
		if (s->worker[i].node && worker_start(s, &s->worker[i]) < 0)
			return -1;
	for (unsigned i = 0; i < WORKER_SLOTS; i++) {
		if (s->ext_fd[i] < 0)
			continue;
		if (send_attach(s, i, worker_kinds[worker_kind_of_slot(i)].ipc_dev_external,
				s->ext_name[i], s->ext_fd[i]) < 0)
			return -1;
		/* the core has its own copy now; its death must not wait for ours */
		closep(&s->ext_fd[i]);
	}
	return 0;
}

bool sup_slot_from_config(const struct supervisor *s, unsigned slot)
{
	int kind = worker_kind_of_slot(slot);

	return kind >= 0 &&
	       slot - worker_kinds[kind].first_slot < sup_kind_ops[kind]->nboot(s->cfg);
}

/* Fail-stop without data loss (DESIGN.md §8): the core pauses the VM and QMP says why. */
static void backend_failed(struct supervisor *s, struct worker *w)
{
	struct backend_failed b = { .slot = w->slot };

	snprintf(b.name, sizeof(b.name), "%s", w->node->id);
	if (ipc_backend_failed_send(s->ipc, &b) < 0)
		log_warnx("telling the core about %s %s failed", worker_kinds[w->kind].noun,
			  w->node->id);
}

static void worker_died(struct supervisor *s, struct worker *w, int status)
{
	const struct worker_kind_desc *k = &worker_kinds[w->kind];
	const char *id = w->node->id;
	pid_t pid = w->pid;
	char how[96];
	int r;

	w->pid = -1;
	/* the core ended the VM (and so closed the worker's socket): nothing to restart */
	if (s->ending || s->have_exit)
		return;
	sup_describe_exit(s, pid, status, how, sizeof(how));
	if (!sup_restart_allowed(&w->rs, k->restart_burst, k->restart_window_s * NS_PER_S)) {
		log_warnx("%s %s: %s %s, %u times within %u s; pausing the VM "
			  "(fail-stop: it can no longer be served)", k->noun, id, k->program, how,
			  k->restart_burst, k->restart_window_s);
		backend_failed(s, w);
		return;
	}
	log_warnx("%s %s: %s %s; restarting it", k->noun, id, k->program, how);
	r = worker_start(s, w);
	if (r == -EPIPE) {
		/* the core is gone too; reaping it says why. The new worker sees EOF and exits. */
		s->ending = true;
	} else if (r < 0) {
		log_warnx("%s %s: restarting %s failed; pausing the VM (fail-stop)", k->noun, id,
			  k->program);
		backend_failed(s, w);
	}
}

bool sup_worker_reaped(struct supervisor *s, pid_t pid, int status)
{
	for (unsigned i = 0; i < WORKER_SLOTS; i++) {
		if (s->worker[i].node && s->worker[i].pid == pid) {
			worker_died(s, &s->worker[i], status);
			return true;
		}
	}
	return false;
}

/* The worker is no longer in worker[]: when it ends it is just reaped. */
void sup_worker_detach(struct worker *w)
{
	if (w->pid > 0)
		kill(w->pid, SIGTERM);
	w->node->slot = -1;
	*w = (struct worker){ .slot = w->slot, .pid = -1 };
}

void sup_workers_stop(struct supervisor *s)
{
	unsigned left = 0;

	s->ending = true;
	/* all of them at once: each exits as soon as it has logged its counts */
	for (unsigned i = 0; i < WORKER_SLOTS; i++)
		if (s->worker[i].pid > 0 && kill(s->worker[i].pid, SIGTERM) == 0)
			left++;
	for (int t = 0; t < WORKERS_STOP_WAIT_MS && left; t++) {
		usleep(1000);
		for (unsigned i = 0; i < WORKER_SLOTS; i++) {
			struct worker *w = &s->worker[i];

			pid_t r = w->pid > 0 ? waitpid(w->pid, NULL, WNOHANG) : 0;

			/* ECHILD: reaped already, never to be signalled again (its pid may be reused) */
			if (r == w->pid || (r < 0 && errno == ECHILD)) {
				w->pid = -1;
				left--;
			}
		}
	}
	for (unsigned i = 0; i < WORKER_SLOTS; i++) {
		struct worker *w = &s->worker[i];

		if (w->pid <= 0)
			continue;
		log_warnx("%s worker (pid %d) still running %d ms after SIGTERM: killed",
			  worker_kinds[w->kind].name, (int)w->pid, WORKERS_STOP_WAIT_MS);
		if (kill(w->pid, SIGKILL) == 0)
			waitpid(w->pid, NULL, 0);
		w->pid = -1;
	}
}
