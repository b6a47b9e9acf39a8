/* bulkhead-blk: the process. Parses the command line, opens (or adopts) the image, and runs
 * a libevent loop that serves one vhost-user frontend at a time: on --fd the connection the
 * supervisor made, on --socket-path each frontend that connects, one after the other. */
#include "blk.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "log.h"
#include "sandbox.h"
#include "util.h"
#include "vu_loop.h"

struct mainloop {
	struct vu_loop loop;
	struct blk_opts opts;
	struct blk_dev dev;
	char role[8 + BLK_NAME_MAX];
	struct event *efd_ev, *timer_ev, *poll_ev;
	struct blk_poll poll;
};

static struct mainloop ml;

static void on_completion(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	blk_dev_reap(arg);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	blk_dev_timer(arg);
}

static void arm_timer(struct blk_dev *d, uint64_t ns)
{
	struct mainloop *m = d->loop;
	struct timeval tv = { ns / 1000000000ULL, (ns % 1000000000ULL + 999) / 1000 };

	evtimer_add(m->timer_ev, &tv);
}

/* ---- polling (blk.h): a window runs as an active event, so that the vhost-user socket,
 * signals and timers get their turn between two windows that found work ---- */

static void poll_window(struct mainloop *m)
{
	event_active(m->poll_ev, EV_READ, 0);
}

/* A kick or a completion woke the loop: poll after this one, with kicks off. */
static void on_wake(struct blk_dev *d)
{
	struct mainloop *m = d->loop;
	struct blk_poll *p = &m->poll;
	uint64_t now;

	if (!p->max_ns || p->polling)
		return;
	now = mono_ns();
	blk_poll_woke(p, now);
	if (!p->window_ns) {
		blk_poll_slept(p, now);     /* straight back to sleep after this wakeup */
		return;
	}
	p->polling = true;
	blk_dev_kicks(d, false);
	poll_window(m);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct mainloop *m = arg;
	struct blk_poll *p = &m->poll;
	uint64_t start = mono_ns(), now;

	(void)fd;
	(void)what;
	if (!p->polling)
		return;
	p->windows++;
	do {
		if (blk_dev_poll(&m->dev)) {
			p->hits++;
			poll_window(m);
			return;
		}
		__builtin_ia32_pause();
		now = mono_ns();
	} while (now - start < p->window_ns);
	/* nothing came: kicks back on, then one more look for what came while they were off */
	blk_dev_kicks(&m->dev, true);
	if (blk_dev_poll(&m->dev)) {
		blk_dev_kicks(&m->dev, false);
		poll_window(m);
		return;
	}
	p->polling = false;
	blk_poll_slept(p, start);
}

/* The frontend is gone: no request may still be running into its memory. */
static void blk_disconnect(void *priv)
{
	struct blk_dev *d = priv;
	struct mainloop *m = d->loop;
	struct blk_poll *p = &m->poll;

	if (p->polling) {
		event_del(m->poll_ev);
		blk_dev_kicks(d, true);
		p->polling = false;
	}
	blk_dev_drain(d, -1);
	blk_dev_log_stats(d);
	if (p->max_ns)
		log_info("polling: %llu windows, %llu found work; window now %llu us",
			 (unsigned long long)p->windows, (unsigned long long)p->hits,
			 (unsigned long long)(p->window_ns / 1000));
	p->windows = p->hits = 0;
	memset(d->q_stalled, 0, sizeof(d->q_stalled));
}

static int setup_loop(struct mainloop *m)
{
	const struct blk_hooks hooks = { .arm_timer = arm_timer, .woke = on_wake };
	const struct vu_loop_dev dev = { &m->dev.vu, m->opts.num_queues, &blk_vu_ops, &m->dev,
					 blk_disconnect };
	struct event_base *base;
	int r;

	if (vu_loop_init(&m->loop, &dev) < 0)
		return -ENOMEM;
	base = m->loop.base;
	m->dev.loop = m;
	r = blk_dev_init(&m->dev, &hooks, m->opts.iops);
	if (r < 0) {
		log_warnx("io_uring: %s", strerror(-r));
		return r;
	}
	m->efd_ev = event_new(base, m->dev.efd, EV_READ | EV_PERSIST, on_completion, &m->dev);
	m->timer_ev = evtimer_new(base, on_timer, &m->dev);
	m->poll_ev = event_new(base, -1, 0, on_poll, m);
	if (!m->efd_ev || !m->timer_ev || !m->poll_ev)
		return -ENOMEM;
	blk_poll_init(&m->poll, m->opts.poll_us);
	event_add(m->efd_ev, NULL);
	return 0;
}

static void teardown(struct mainloop *m)
{
	if (m->efd_ev)
		event_free(m->efd_ev);
	if (m->timer_ev)
		event_free(m->timer_ev);
	/* the disconnect in vu_loop_exit still stops a poller: its event goes after */
	vu_loop_exit(&m->loop);
	if (m->poll_ev)
		event_free(m->poll_ev);
	if (m->dev.pool)
		blk_dev_exit(&m->dev);
	blk_disk_close(&m->dev.disk);
}

int main(int argc, char **argv)
{
	struct mainloop *m = &ml;
	char err[256];
	int r;

	if (blk_opts_parse(&m->opts, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "bulkhead-blk: %s\n", err);
		return 2;
	}
	if (m->opts.print_caps) {
		printf("%s\n", blk_capabilities);
		return 0;
	}
	if (m->opts.name[0])
		snprintf(m->role, sizeof(m->role), "blk/%.*s", BLK_NAME_MAX, m->opts.name);
	else
		snprintf(m->role, sizeof(m->role), "blk");
	log_init(m->role, STDERR_FILENO);
	signal(SIGPIPE, SIG_IGN);       /* a frontend that vanished is an error return, not death */
	if (blk_disk_open(&m->dev.disk, &m->opts) < 0)
		return 1;
	r = setup_loop(m);
	if (r == 0)
		r = m->opts.socket_path ? vu_loop_listen(&m->loop, m->opts.socket_path)
					: vu_loop_adopt(&m->loop, m->opts.fd);
	/* ---- sandbox (issue 5): the image, the socket and the io_uring are held; nothing more
	 * is opened. libevent's epoll fd and signal pipe are close-on-exec fds we made. ---- */
	if (r == 0) {
		int keep[] = { m->dev.disk.fd, m->loop.conn_fd, m->loop.listen_fd, m->dev.ring.ring_fd,
			       m->dev.efd };
		struct sandbox_opts so = { .no_seccomp = m->opts.no_seccomp, .keep_cloexec = true,
					   .runas = m->opts.runas, .uid = m->opts.runas_uid,
					   .gid = m->opts.runas_gid };

		r = sandbox_enter(SANDBOX_DEV_BLK, keep, sizeof(keep) / sizeof(keep[0]), &so);
	}
	if (r == 0) {
		char polling[32] = "no polling";

		if (m->opts.poll_us)
			snprintf(polling, sizeof(polling), "polling up to %u us", m->opts.poll_us);
		log_info("serving %llu sectors%s%s, %u queue(s), %s",
			 (unsigned long long)m->dev.disk.capacity,
			 m->dev.disk.read_only ? ", read-only" : "",
			 m->dev.disk.direct ? ", O_DIRECT" : "", m->opts.num_queues, polling);
		vu_loop_run(&m->loop);
	}
	teardown(m);
	return r == 0 ? 0 : 1;
}
