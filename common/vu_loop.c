/* The workers' libevent loop (see vu_loop.h). */
#include "vu_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "util.h"

/* ---- fd watching for the vhost-user library -------------------------------------------- */

static void disconnect(struct vu_loop *l);

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct vu_loop_watch *w = arg;
	struct vu_loop *l = w->loop;

	(void)fd;
	(void)what;
	/* w may be freed by the callback (the library replacing a kick fd): use it first */
	w->cb(w->arg);
	if (l->connected && l->dev.vu->broken)
		disconnect(l);
}

static void watch_add(void *loop, int fd, void (*cb)(void *arg), void *arg)
{
	struct vu_loop *l = loop;

	for (unsigned i = 0; i < VU_LOOP_WATCH_MAX; i++) {
		struct vu_loop_watch *w = &l->w[i];

		if (w->ev)
			continue;
		w->ev = event_new(l->base, fd, EV_READ | EV_PERSIST, on_watch, w);
		if (!w->ev || event_add(w->ev, NULL) < 0)
			break;
		w->fd = fd;
		w->cb = cb;
		w->arg = arg;
		w->loop = l;
		return;
	}
	/* the library asks for at most a socket and three fds per queue: this is a bug */
	log_warnx("cannot watch fd %d", fd);
	if (l->connected)
		l->dev.vu->broken = true;
}

static void watch_free(struct vu_loop_watch *w)
{
	event_free(w->ev);
	w->ev = NULL;
	w->fd = -1;
}

static void watch_del(void *loop, int fd)
{
	struct vu_loop *l = loop;

	for (unsigned i = 0; i < VU_LOOP_WATCH_MAX; i++)
		if (l->w[i].ev && l->w[i].fd == fd)
			watch_free(&l->w[i]);
}

/* ---- the connection ---------------------------------------------------------------------- */

static void disconnect(struct vu_loop *l)
{
	/* guest memory is unmapped by vu_dev_exit: no I/O into it may still be running */
	if (l->dev.disconnect)
		l->dev.disconnect(l->dev.priv);
	vu_dev_exit(l->dev.vu);
	for (unsigned i = 0; i < VU_LOOP_WATCH_MAX; i++)
		if (l->w[i].ev)
			watch_free(&l->w[i]);
	closep(&l->conn_fd);
	l->connected = false;
	log_info("frontend disconnected");
	if (l->listen_ev)
		event_add(l->listen_ev, NULL);
	else
		event_base_loopbreak(l->base);
}

static int connect_fd(struct vu_loop *l, int fd)
{
	const struct vu_watch watch = { watch_add, watch_del, l };
	int r;

	l->conn_fd = fd;
	l->connected = true;
	/* every log line already starts with the role: the library adds only its own context */
	r = vu_dev_init(l->dev.vu, NULL, fd, l->dev.nqueues, l->dev.ops, &watch, l->dev.priv);
	if (r < 0) {
		log_warnx("vhost-user setup: %s", strerror(-r));
		l->connected = false;
		closep(&l->conn_fd);
		return r;
	}
	return 0;
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct vu_loop *l = arg;
	int s;

	(void)what;
	s = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	/* one frontend at a time: the next waits in the backlog until this one is gone */
	event_del(l->listen_ev);
	if (connect_fd(l, s) < 0)
		event_add(l->listen_ev, NULL);
	else
		log_info("frontend connected");
}

int vu_loop_listen(struct vu_loop *l, const char *path)
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
	l->socket_path = path;
	l->listen_fd = s;
	l->listen_ev = event_new(l->base, s, EV_READ | EV_PERSIST, on_accept, l);
	return l->listen_ev ? event_add(l->listen_ev, NULL) : -1;
}

int vu_loop_adopt(struct vu_loop *l, int fd)
{
	int type;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
		log_warnx("--fd=%d: not a stream socket", fd);
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return connect_fd(l, fd);
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: exiting", (int)sig);
	event_base_loopbreak(arg);
}

int vu_loop_init(struct vu_loop *l, const struct vu_loop_dev *dev)
{
	memset(l, 0, sizeof(*l));
	l->listen_fd = l->conn_fd = -1;
	l->dev = *dev;
	for (unsigned i = 0; i < VU_LOOP_WATCH_MAX; i++)
		l->w[i].fd = -1;
	l->base = event_base_new();
	if (!l->base)
		return -ENOMEM;
	l->sig_ev[0] = evsignal_new(l->base, SIGTERM, on_signal, l->base);
	l->sig_ev[1] = evsignal_new(l->base, SIGINT, on_signal, l->base);
	if (!l->sig_ev[0] || !l->sig_ev[1])
		return -ENOMEM;
	event_add(l->sig_ev[0], NULL);
	event_add(l->sig_ev[1], NULL);
	return 0;
}

void vu_loop_run(struct vu_loop *l)
{
	event_base_dispatch(l->base);
}

void vu_loop_exit(struct vu_loop *l)
{
	if (!l->base)
		return;     /* vu_loop_init did not run (or failed before anything was set up) */
	if (l->listen_ev) {
		event_free(l->listen_ev);
		l->listen_ev = NULL;        /* no re-arming on the way out */
	}
	if (l->connected)
		disconnect(l);
	if (l->socket_path)
		unlink(l->socket_path);
	l->socket_path = NULL;
	closep(&l->listen_fd);
	/* The signal events and the base stay: freeing them restores the signal handlers with
	 * rt_sigaction, which the sandbox forbids; the process is about to exit anyway. */
}
