/* bulkhead-hvc: the process. Parses the command line, takes the host socket (the
 * listening fd the supervisor passed, or --chardev-path bound here when started by hand),
 * enters its sandbox and runs the vhost-user loop (common/vu_loop) with events of its own for
 * the device: the listener, the client's readability and writability, and a deferred pass. */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <event2/event.h>

#include "bulkhead-config.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"
#include "vu_loop.h"

struct mainloop {
	struct vu_loop loop;
	struct con_opts opts;
	struct con_dev dev;
	char role[16 + CON_NAME_MAX];
	int listen_fd;
	bool listen_on, wr_on;
	struct event *listen_ev, *later_ev, *rd_ev, *wr_ev;
};

static struct mainloop ml;

/* ---- events ------------------------------------------------------------------------------ */

static void on_listen(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	con_accept(arg);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	con_client_readable(arg);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	con_client_writable(arg);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	con_resume(arg);
}

static int set_ev(struct event *ev, bool *on, bool want)
{
	if (*on == want)
		return 0;
	*on = want;
	return want ? event_add(ev, NULL) : event_del(ev);
}

/* Both client events are edge-triggered (libevent refuses to mix the two kinds on one fd):
 * readability wakes once per arrival of input or a hang-up, so a client the guest has no
 * buffers for costs nothing until something changes. */
static void watch(struct con_dev *d)
{
	int r = set_ev(ml.listen_ev, &ml.listen_on, d->accepting);

	if (d->client_fd >= 0 && !ml.rd_ev) {
		ml.rd_ev = event_new(ml.loop.base, d->client_fd, EV_READ | EV_ET | EV_PERSIST,
				     on_read, d);
		ml.wr_ev = event_new(ml.loop.base, d->client_fd, EV_WRITE | EV_ET | EV_PERSIST,
				     on_write, d);
		ml.wr_on = false;
		if (!ml.rd_ev || !ml.wr_ev || event_add(ml.rd_ev, NULL) < 0)
			r = -1;
	}
	if (ml.wr_ev && set_ev(ml.wr_ev, &ml.wr_on, d->wr_watch) < 0)
		r = -1;
	if (r < 0)
		log_warnx("cannot watch the console socket");
}

static void forget(struct con_dev *d)
{
	(void)d;
	if (ml.rd_ev)
		event_free(ml.rd_ev);
	if (ml.wr_ev)
		event_free(ml.wr_ev);
	ml.rd_ev = ml.wr_ev = NULL;
	ml.wr_on = false;
}

static void later(struct con_dev *d)
{
	(void)d;
	event_active(ml.later_ev, EV_TIMEOUT, 0);
}

static void con_disconnect(void *priv)
{
	con_dev_disconnect(priv);
}

/* ---- the host socket ---------------------------------------------------------------------- */

/* --chardev-path by hand: bound and listening here, before the sandbox (no bind or listen in
 * the profile). A stale socket is replaced; anything else at the path is left alone. */
static int bind_chardev(struct mainloop *m)
{
	const char *path = m->opts.chardev_path;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int s;

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("--chardev-path=%s: exists and is not a socket; not replacing it",
				  path);
			return -1;
		}
		unlink(path);
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s, CON_LISTEN_BACKLOG) < 0) {
		log_warn("--chardev-path=%s", path);
		if (s >= 0)
			close(s);
		return -1;
	}
	m->listen_fd = s;
	return 0;
}

/* --listen-fd from the supervisor: it bound and listens; checked, made ours. */
static int adopt_listener(struct mainloop *m)
{
	int fd = m->opts.listen_fd, type = 0, acc = 0, fl;
	socklen_t len = sizeof(type), alen = sizeof(acc);
	struct sockaddr_storage ss;
	socklen_t slen = sizeof(ss);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &slen) < 0 || ss.ss_family != AF_UNIX ||
	    type != SOCK_STREAM || !acc) {
		log_warnx("--listen-fd=%d: not a listening unix stream socket", fd);
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		log_warn("--listen-fd=%d: O_NONBLOCK", fd);
		return -1;
	}
	m->listen_fd = fd;
	return 0;
}

/* ---- the process -------------------------------------------------------------------------- */

static int setup(struct mainloop *m)
{
	const struct con_hooks hooks = { watch, forget, later };
	const struct vu_loop_dev dev = { &m->dev.vu, CON_NQUEUES, &con_vu_ops, &m->dev,
					 con_disconnect };

	if ((m->opts.chardev_path ? bind_chardev(m) : adopt_listener(m)) < 0)
		return -1;
	if (con_dev_init(&m->dev, m->listen_fd, m->opts.buffer, &hooks) < 0 ||
	    vu_loop_init(&m->loop, &dev) < 0)
		return -1;
	m->dev.loop = m;
	m->listen_ev = event_new(m->loop.base, m->listen_fd, EV_READ | EV_PERSIST, on_listen,
				 &m->dev);
	m->later_ev = event_new(m->loop.base, -1, 0, on_later, &m->dev);
	if (!m->listen_ev || !m->later_ev)
		return -1;
	watch(&m->dev);
	if (m->opts.socket_path)
		return vu_loop_listen(&m->loop, m->opts.socket_path);
	return vu_loop_adopt(&m->loop, m->opts.fd);
}

static int enter_sandbox(struct mainloop *m)
{
	int keep[] = { m->loop.conn_fd, m->loop.listen_fd, m->listen_fd };
	struct sandbox_opts so = m->opts.runas;

	/* the vhost-user socket and the console's listener are held; libevent's fds are
	 * close-on-exec ones we made (keep_cloexec) */
	so.no_seccomp = m->opts.no_seccomp;
	so.keep_cloexec = true;
	return sandbox_enter(SANDBOX_DEV_CONSOLE, keep, ARRAY_SIZE(keep), &so);
}

static void teardown(struct mainloop *m)
{
	vu_loop_exit(&m->loop);
	con_dev_exit(&m->dev);
	if (m->listen_ev)
		event_free(m->listen_ev);
	if (m->later_ev)
		event_free(m->later_ev);
	m->listen_ev = m->later_ev = NULL;
	closep(&m->listen_fd);
	/* a --chardev-path socket stays: the sandbox may not unlink, and a restarted worker
	 * replaces it */
}

int main(int argc, char **argv)
{
	struct mainloop *m = &ml;
	char err[256];
	int r;

	if (con_opts_parse(&m->opts, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "bulkhead-hvc: %s\n", err);
		return 2;
	}
	if (m->opts.print_caps || m->opts.version) {
		if (m->opts.print_caps)
			printf("%s\n", con_capabilities);
		else
			printf("bulkhead-hvc %s\n", BULKHEAD_VERSION);
		return 0;
	}
	if (m->opts.name[0])
		snprintf(m->role, sizeof(m->role), "console/%.*s", CON_NAME_MAX, m->opts.name);
	else
		snprintf(m->role, sizeof(m->role), "console");
	log_init(m->role, STDERR_FILENO);
	signal(SIGPIPE, SIG_IGN);       /* a peer that vanished is an error return, not death */
	m->listen_fd = -1;
	m->dev.client_fd = -1;     /* teardown may run before con_dev_init */
	r = setup(m);
	if (r == 0)
		r = enter_sandbox(m);
	if (r == 0) {
		log_info("serving the console, %u bytes of output buffered at most",
			 m->opts.buffer);
		vu_loop_run(&m->loop);
	}
	teardown(m);
	return r == 0 ? 0 : 1;
}
