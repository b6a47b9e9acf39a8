/* bulkhead-blk: the process. Parses the command line, opens (or adopts) the image, and runs
 * a libevent loop that serves one vhost-user frontend at a time: on --fd the connection the
 * supervisor made, on --socket-path each frontend that connects, one after the other. */
#include "blk.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <event2/event.h>

#include "log.h"
#include "sandbox.h"
#include "util.h"

#define WATCH_MAX (2 + 3 * VU_MAX_QUEUES + 8)

struct watch {
	struct event *ev;
	void (*cb)(void *arg);
	void *arg;
	int fd;
};

struct mainloop {
	struct event_base *base;
	struct blk_opts opts;
	struct blk_dev dev;
	char role[8 + BLK_NAME_MAX];
	struct event *listen_ev, *efd_ev, *timer_ev, *sig_ev[2];
	int listen_fd, conn_fd;
	bool connected;
	bool unlink_socket;
	struct watch w[WATCH_MAX];
};

static struct mainloop ml = { .listen_fd = -1, .conn_fd = -1 };

/* ---- fd watching for the vhost-user library -------------------------------------------- */

static void disconnect(struct mainloop *m);

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;

	(void)fd;
	(void)what;
	/* w may be freed by the callback (the library replacing a kick fd): use it first */
	w->cb(w->arg);
	if (ml.connected && ml.dev.vu.broken)
		disconnect(&ml);
}

static void watch_add(void *loop, int fd, void (*cb)(void *arg), void *arg)
{
	struct mainloop *m = loop;

	for (unsigned i = 0; i < WATCH_MAX; i++) {
		struct watch *w = &m->w[i];

		if (w->ev)
			continue;
		w->ev = event_new(m->base, fd, EV_READ | EV_PERSIST, on_watch, w);
		if (!w->ev || event_add(w->ev, NULL) < 0)
			break;
		w->fd = fd;
		w->cb = cb;
		w->arg = arg;
		return;
	}
	/* the library asks for at most a socket and three fds per queue: this is a bug */
	log_warnx("cannot watch fd %d", fd);
	if (m->connected)
		m->dev.vu.broken = true;
}

static void watch_free(struct watch *w)
{
	event_free(w->ev);
	w->ev = NULL;
	w->fd = -1;
}

static void watch_del(void *loop, int fd)
{
	struct mainloop *m = loop;

	for (unsigned i = 0; i < WATCH_MAX; i++)
		if (m->w[i].ev && m->w[i].fd == fd)
			watch_free(&m->w[i]);
}

/* ---- the connection ---------------------------------------------------------------------- */

static void disconnect(struct mainloop *m)
{
	/* guest memory is unmapped by vu_dev_exit: no I/O into it may still be running */
	blk_dev_drain(&m->dev, -1);
	vu_dev_exit(&m->dev.vu);
	for (unsigned i = 0; i < WATCH_MAX; i++)
		if (m->w[i].ev)
			watch_free(&m->w[i]);
	closep(&m->conn_fd);
	m->connected = false;
	memset(m->dev.q_stalled, 0, sizeof(m->dev.q_stalled));
	log_info("frontend disconnected");
	if (m->listen_ev)
		event_add(m->listen_ev, NULL);
	else
		event_base_loopbreak(m->base);
}

static int connect_fd(struct mainloop *m, int fd)
{
	const struct vu_watch watch = { watch_add, watch_del, m };
	int r;

	m->conn_fd = fd;
	m->connected = true;
	/* every log line already starts with the role: the library adds only its own context */
	r = vu_dev_init(&m->dev.vu, NULL, fd, m->opts.num_queues, &blk_vu_ops, &watch,
			&m->dev);
	if (r < 0) {
		log_warnx("vhost-user setup: %s", strerror(-r));
		m->connected = false;
		closep(&m->conn_fd);
		return r;
	}
	return 0;
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct mainloop *m = arg;
	int s;

	(void)what;
	s = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	/* one frontend at a time: the next waits in the backlog until this one is gone */
	event_del(m->listen_ev);
	if (connect_fd(m, s) < 0)
		event_add(m->listen_ev, NULL);
	else
		log_info("frontend connected");
}

static int listen_on(struct mainloop *m, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int s;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* a stale socket from an earlier run would make bind fail; never remove anything else */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 1) < 0) {
		log_warn("%s", path);
		if (s >= 0)
			close(s);
		return -1;
	}
	m->unlink_socket = true;
	m->listen_fd = s;
	m->listen_ev = event_new(m->base, s, EV_READ | EV_PERSIST, on_accept, m);
	return m->listen_ev ? event_add(m->listen_ev, NULL) : -1;
}

static int adopt_socket(struct mainloop *m, int fd)
{
	int type;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
		log_warnx("--fd=%d: not a stream socket", fd);
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return connect_fd(m, fd);
}

/* ---- loop services ------------------------------------------------------------------------ */

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

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: exiting", (int)sig);
	event_base_loopbreak(arg);
}

static void arm_timer(struct blk_dev *d, uint64_t ns)
{
	struct mainloop *m = d->loop;
	struct timeval tv = { ns / 1000000000ULL, (ns % 1000000000ULL + 999) / 1000 };

	evtimer_add(m->timer_ev, &tv);
}

static int setup_loop(struct mainloop *m)
{
	const struct blk_hooks hooks = { .arm_timer = arm_timer };
	int r;

	m->base = event_base_new();
	if (!m->base)
		return -ENOMEM;
	m->dev.loop = m;
	r = blk_dev_init(&m->dev, &hooks, m->opts.iops);
	if (r < 0) {
		log_warnx("io_uring: %s", strerror(-r));
		return r;
	}
	m->efd_ev = event_new(m->base, m->dev.efd, EV_READ | EV_PERSIST, on_completion, &m->dev);
	m->timer_ev = evtimer_new(m->base, on_timer, &m->dev);
	m->sig_ev[0] = evsignal_new(m->base, SIGTERM, on_signal, m->base);
	m->sig_ev[1] = evsignal_new(m->base, SIGINT, on_signal, m->base);
	if (!m->efd_ev || !m->timer_ev || !m->sig_ev[0] || !m->sig_ev[1])
		return -ENOMEM;
	event_add(m->efd_ev, NULL);
	event_add(m->sig_ev[0], NULL);
	event_add(m->sig_ev[1], NULL);
	return 0;
}

static void teardown(struct mainloop *m)
{
	if (m->connected) {
		m->listen_ev = NULL;        /* no re-arming on the way out */
		disconnect(m);
	}
	if (m->dev.pool)
		blk_dev_exit(&m->dev);
	blk_disk_close(&m->dev.disk);
	if (m->unlink_socket)
		unlink(m->opts.socket_path);
	closep(&m->listen_fd);
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
		r = m->opts.socket_path ? listen_on(m, m->opts.socket_path)
					: adopt_socket(m, m->opts.fd);
	/* ---- sandbox (issue 5): the image, the socket and the io_uring are held; nothing more
	 * is opened. libevent's epoll fd and signal pipe are close-on-exec fds we made. ---- */
	if (r == 0) {
		int keep[] = { m->dev.disk.fd, m->conn_fd, m->listen_fd, m->dev.ring.ring_fd,
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
		event_base_dispatch(m->base);
	}
	teardown(m);
	return r == 0 ? 0 : 1;
}
