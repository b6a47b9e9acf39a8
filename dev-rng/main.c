/* bulkhead-rng: the process. Parses the command line, takes the entropy source (the fd the
 * supervisor passed, or --filename opened here when started by hand), checks it is a
 * character device, enters its sandbox and runs the vhost-user loop (common/vu_loop) with
 * three events of its own for the device: the source's readability, a timer (the rate
 * limit's period, a retry), and a deferred pass. */
#include "rng.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <event2/event.h>

#include "bulkhead-config.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"
#include "vu_loop.h"

struct mainloop {
	struct vu_loop loop;
	struct rng_opts opts;
	struct rng_dev dev;
	char role[8 + RNG_NAME_MAX];
	int src_fd;
	struct event *src_ev, *timer_ev, *later_ev;
};

static struct mainloop ml;

/* ---- events ------------------------------------------------------------------------------ */

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rng_resume(arg);
}

static void source_watch(struct rng_dev *d)
{
	(void)d;
	if (event_add(ml.src_ev, NULL) < 0)
		log_warnx("cannot watch the entropy source");
}

static void timer(struct rng_dev *d, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	(void)d;
	if (evtimer_add(ml.timer_ev, &tv) < 0)
		log_warnx("cannot arm the timer");
}

static void later(struct rng_dev *d)
{
	(void)d;
	event_active(ml.later_ev, EV_TIMEOUT, 0);
}

static void rng_disconnect(void *priv)
{
	rng_dev_disconnect(priv);
}

/* ---- the entropy source ------------------------------------------------------------------- */

/* --filename by hand: the worker opens it itself; then the same checks as for an fd from the
 * supervisor. Only a character device will do: a regular file would run dry, and from then on
 * the guest would get nothing. */
static int open_source(struct mainloop *m)
{
	const struct rng_opts *o = &m->opts;
	char what[160];
	struct stat st;
	int fl;

	if (o->filename) {
		snprintf(what, sizeof(what), "--filename=%s", o->filename);
		m->src_fd = open(o->filename, O_RDONLY | O_CLOEXEC);
		if (m->src_fd < 0) {
			log_warn("%s", what);
			return -1;
		}
	} else {
		snprintf(what, sizeof(what), "--source-fd=%d", o->source_fd);
		m->src_fd = o->source_fd;
		fcntl(m->src_fd, F_SETFD, FD_CLOEXEC);
	}
	if (fstat(m->src_fd, &st) < 0) {
		log_warn("%s", what);
		return -1;
	}
	if (!S_ISCHR(st.st_mode)) {
		log_warnx("%s: not a character device (such as /dev/urandom): a regular file "
			  "would run dry", what);
		return -1;
	}
	fl = fcntl(m->src_fd, F_GETFL);
	if (fl < 0 || fcntl(m->src_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		log_warn("%s: O_NONBLOCK", what);
		return -1;
	}
	return 0;
}

/* ---- the process -------------------------------------------------------------------------- */

static int setup(struct mainloop *m)
{
	const struct rng_hooks hooks = { source_watch, timer, later };
	const struct vu_loop_dev dev = { &m->dev.vu, RNG_NQUEUES, &rng_vu_ops, &m->dev,
					 rng_disconnect };

	if (open_source(m) < 0)
		return -1;
	if (rng_dev_init(&m->dev, m->src_fd, m->opts.max_bytes, m->opts.period_ms, &hooks) < 0 ||
	    vu_loop_init(&m->loop, &dev) < 0)
		return -1;
	m->dev.loop = m;
	m->src_ev = event_new(m->loop.base, m->src_fd, EV_READ, on_resume, &m->dev);
	m->timer_ev = evtimer_new(m->loop.base, on_resume, &m->dev);
	m->later_ev = event_new(m->loop.base, -1, 0, on_resume, &m->dev);
	if (!m->src_ev || !m->timer_ev || !m->later_ev)
		return -1;
	if (m->opts.socket_path)
		return vu_loop_listen(&m->loop, m->opts.socket_path);
	return vu_loop_adopt(&m->loop, m->opts.fd);
}

static int enter_sandbox(struct mainloop *m)
{
	int keep[] = { m->loop.conn_fd, m->loop.listen_fd, m->src_fd };
	struct sandbox_opts so = m->opts.runas;

	/* the vhost-user socket and the source are held; libevent's fds are close-on-exec ones
	 * we made (keep_cloexec) */
	so.no_seccomp = m->opts.no_seccomp;
	so.keep_cloexec = true;
	return sandbox_enter(SANDBOX_DEV_RNG, keep, ARRAY_SIZE(keep), &so);
}

static void teardown(struct mainloop *m)
{
	struct event **ev[] = { &m->src_ev, &m->timer_ev, &m->later_ev };

	vu_loop_exit(&m->loop);
	rng_dev_exit(&m->dev);
	for (unsigned i = 0; i < ARRAY_SIZE(ev); i++) {
		if (*ev[i])
			event_free(*ev[i]);
		*ev[i] = NULL;
	}
	closep(&m->src_fd);
}

int main(int argc, char **argv)
{
	struct mainloop *m = &ml;
	char err[256];
	int r;

	if (rng_opts_parse(&m->opts, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "bulkhead-rng: %s\n", err);
		return 2;
	}
	if (m->opts.print_caps || m->opts.version) {
		if (m->opts.print_caps)
			printf("%s\n", rng_capabilities);
		else
			printf("bulkhead-rng %s\n", BULKHEAD_VERSION);
		return 0;
	}
	if (m->opts.name[0])
		snprintf(m->role, sizeof(m->role), "rng/%.*s", RNG_NAME_MAX, m->opts.name);
	else
		snprintf(m->role, sizeof(m->role), "rng");
	log_init(m->role, STDERR_FILENO);
	signal(SIGPIPE, SIG_IGN);       /* a peer that vanished is an error return, not death */
	m->src_fd = -1;
	r = setup(m);
	if (r == 0)
		r = enter_sandbox(m);
	if (r == 0) {
		if (m->opts.max_bytes)
			log_info("serving entropy, at most %llu bytes per %u ms",
				 (unsigned long long)m->opts.max_bytes, m->opts.period_ms);
		else
			log_info("serving entropy, no rate limit");
		vu_loop_run(&m->loop);
	}
	teardown(m);
	return r == 0 ? 0 : 1;
}
