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
	struct event *efd_ev, *timer_ev;
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

/* The frontend is gone: no request may still be running into its memory. */
static void blk_disconnect(void *priv)
{
	struct blk_dev *d = priv;

	blk_dev_drain(d, -1);
	memset(d->q_stalled, 0, sizeof(d->q_stalled));
}

static int setup_loop(struct mainloop *m)
{
	const struct blk_hooks hooks = { .arm_timer = arm_timer };
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
	if (!m->efd_ev || !m->timer_ev)
		return -ENOMEM;
	event_add(m->efd_ev, NULL);
	return 0;
}

static void teardown(struct mainloop *m)
{
	if (m->efd_ev)
		event_free(m->efd_ev);
	if (m->timer_ev)
		event_free(m->timer_ev);
	vu_loop_exit(&m->loop);
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
		log_info("serving %llu sectors%s%s, %u queue(s)",
			 (unsigned long long)m->dev.disk.capacity,
			 m->dev.disk.read_only ? ", read-only" : "",
			 m->dev.disk.direct ? ", O_DIRECT" : "", m->opts.num_queues);
		vu_loop_run(&m->loop);
	}
	teardown(m);
	return r == 0 ? 0 : 1;
}
