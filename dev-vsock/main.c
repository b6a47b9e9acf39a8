/* bulkhead-vsock: the process. Parses the command line, takes the socket directory (the fd
 * the supervisor passed, or the directory of --uds-path when started by hand), enters its
 * sandbox, makes that directory its working directory once, listens on the VM's socket there
 * and runs the vhost-user loop (common/vu_loop) with a read/write event per host connection. */
#include "vsock.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <event2/event.h>

#include "log.h"
#include "sandbox.h"
#include "util.h"
#include "vu_loop.h"

#define LISTEN_BACKLOG 128
#define VHOST_FDS_MAX  160      /* 8 regions, the inflight area, 3 eventfds per queue, slack */

struct mainloop {
	struct vu_loop loop;
	struct vsock_opts opts;
	struct vsock_dev dev;
	char role[8 + VSOCK_NAME_MAX];
	char dirbuf[4096];
	const char *uds_name;
	int dir_fd, listen_fd;
	struct event *listen_ev, *tx_ev;
};

static struct mainloop ml;

/* ---- events ------------------------------------------------------------------------------ */

static void on_conn(evutil_socket_t fd, short what, void *arg)
{
	struct vsock_conn *c = arg;

	(void)fd;
	/* a read may close c: the write side is only looked at when it was not */
	if (what & EV_READ)
		vsock_conn_readable(&ml.dev, c);
	else if (what & EV_WRITE)
		vsock_conn_writable(&ml.dev, c);
}

static int set_ev(struct vsock_conn *c, unsigned i, short what, bool on)
{
	struct event *ev = c->ev[i];

	if (!ev && !on)
		return 0;
	if (!ev) {
		ev = event_new(ml.loop.base, c->fd, what | EV_PERSIST, on_conn, c);
		if (!ev)
			return -1;
		c->ev[i] = ev;
	}
	return on ? event_add(ev, NULL) : event_del(ev);
}

static int conn_watch(struct vsock_dev *d, struct vsock_conn *c)
{
	(void)d;
	if (set_ev(c, 0, EV_READ, c->rd_watch) < 0 || set_ev(c, 1, EV_WRITE, c->wr_watch) < 0) {
		log_warnx("cannot watch a host connection");
		return -1;
	}
	return 0;
}

static void conn_forget(struct vsock_dev *d, struct vsock_conn *c)
{
	(void)d;
	for (unsigned i = 0; i < 2; i++)
		if (c->ev[i])
			event_free(c->ev[i]);
	c->ev[0] = c->ev[1] = NULL;
}

static void on_tx_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	vsock_tx_resume(arg);
}

static void tx_later(struct vsock_dev *d)
{
	(void)d;
	event_active(ml.tx_ev, EV_TIMEOUT, 0);
}

static void on_listen(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	vsock_accept(arg);
}

static void vsock_disconnect(void *priv)
{
	vsock_dev_disconnect(priv);
}

/* ---- the socket directory ----------------------------------------------------------------- */

/* --uds-path=DIR/NAME by hand: the worker opens DIR itself; then the same code as with an fd
 * from the supervisor. */
static int open_dir(struct mainloop *m)
{
	const struct vsock_opts *o = &m->opts;
	struct stat st;

	if (o->uds_path) {
		const char *slash = strrchr(o->uds_path, '/');

		snprintf(m->dirbuf, sizeof(m->dirbuf), "%.*s",
			 slash ? (int)(slash - o->uds_path) : 1, slash ? o->uds_path : ".");
		if (!m->dirbuf[0])
			snprintf(m->dirbuf, sizeof(m->dirbuf), "/");
		m->uds_name = slash ? slash + 1 : o->uds_path;
		m->dir_fd = open(m->dirbuf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (m->dir_fd < 0) {
			log_warn("--uds-path: %s", m->dirbuf);
			return -1;
		}
	} else {
		m->uds_name = o->uds_name;
		m->dir_fd = o->uds_dir_fd;
		fcntl(m->dir_fd, F_SETFD, FD_CLOEXEC);
	}
	if (fstat(m->dir_fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_warnx("--uds-dir-fd=%d: not a directory", m->dir_fd);
		return -1;
	}
	/* a stale socket from an earlier run would make bind fail; never remove anything else */
	if (fstatat(m->dir_fd, m->uds_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(st.st_mode))
		unlinkat(m->dir_fd, m->uds_name, 0);
	return 0;
}

/* The VM's socket, bound by its bare name in the socket directory: before the sandbox, so
 * bind and listen are no part of the profile. */
static int listen_uds(struct mainloop *m)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	if (fchdir(m->dir_fd) < 0) {
		log_warn("fchdir to the socket directory");
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", m->uds_name);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s, LISTEN_BACKLOG) < 0) {
		log_warn("%s", m->uds_name);
		if (s >= 0)
			close(s);
		return -1;
	}
	m->listen_fd = s;
	m->dev.listen_fd = s;
	m->listen_ev = event_new(m->loop.base, s, EV_READ | EV_PERSIST, on_listen, &m->dev);
	return m->listen_ev ? event_add(m->listen_ev, NULL) : -1;
}

/* In the sandbox: the pivot to the empty root left us in "/"; every connect from now on is
 * a bare name relative to the socket directory, so that is where we live. */
static int enter_dir(struct mainloop *m)
{
	if (fchdir(m->dir_fd) < 0) {
		log_warn("fchdir to the socket directory");
		return -1;
	}
	return 0;
}

/* ---- the process -------------------------------------------------------------------------- */

static int setup(struct mainloop *m)
{
	const struct vsock_hooks hooks = { conn_watch, conn_forget, tx_later };
	const struct vu_loop_dev dev = { &m->dev.vu, VSOCK_NQUEUES, &vsock_vu_ops, &m->dev,
					 vsock_disconnect };
	const struct sandbox_profile *p = sandbox_profile(SANDBOX_DEV_VSOCK);
	bool kernel = m->opts.vhost_fd >= 0;

	/* every connection is an fd: the sandbox's RLIMIT_NOFILE must leave room for them */
	if (m->opts.max_conns + VHOST_FDS_MAX > p->nofile_extra) {
		log_warnx("--max-conns=%u: the sandbox allows %u", m->opts.max_conns,
			  p->nofile_extra - VHOST_FDS_MAX);
		return -1;
	}
	if (!kernel && open_dir(m) < 0)
		return -1;
	if (vsock_dev_init(&m->dev, m->opts.guest_cid, m->opts.buf_alloc, m->opts.max_conns,
			   -1, m->uds_name, &hooks) < 0 || vu_loop_init(&m->loop, &dev) < 0)
		return -1;
	m->dev.loop = m;
	m->tx_ev = event_new(m->loop.base, -1, 0, on_tx_later, &m->dev);
	if (!m->tx_ev)
		return -1;
	if (kernel ? vsock_kernel_init(&m->dev, m->opts.vhost_fd) < 0 : listen_uds(m) < 0)
		return -1;
	if (m->opts.socket_path)
		return vu_loop_listen(&m->loop, m->opts.socket_path);
	return vu_loop_adopt(&m->loop, m->opts.fd);
}

static int enter_sandbox(struct mainloop *m)
{
	int keep[] = { m->loop.conn_fd, m->loop.listen_fd, m->dir_fd, m->listen_fd,
		       m->opts.vhost_fd };
	struct sandbox_opts so = m->opts.runas;

	/* ---- the vhost-user socket and the directory are held; host sockets are made inside
	 * the directory only. libevent's fds are close-on-exec ones we made (keep_cloexec). */
	so.no_seccomp = m->opts.no_seccomp;
	so.keep_cloexec = true;
	return sandbox_enter(SANDBOX_DEV_VSOCK, keep, ARRAY_SIZE(keep), &so);
}

static void teardown(struct mainloop *m)
{
	vsock_dev_exit(&m->dev);
	if (m->listen_ev)
		event_free(m->listen_ev);
	if (m->tx_ev)
		event_free(m->tx_ev);
	m->listen_ev = m->tx_ev = NULL;
	vu_loop_exit(&m->loop);
	closep(&m->listen_fd);
	/* the VM's socket stays: the sandbox may not unlink, and whoever made the directory
	 * removes it (a restarted worker replaces it) */
}

static void log_stats(const struct vsock_stats *s)
{
	log_info("connections %llu opened, %llu closed; bad packets %llu, wrong CID %llu, past "
		 "credit %llu, no connection %llu, refused %llu, table full %llu, bad CONNECT "
		 "lines %llu, RSTs dropped %llu",
		 (unsigned long long)s->conns_opened, (unsigned long long)s->conns_closed,
		 (unsigned long long)s->bad_pkts, (unsigned long long)s->bad_cid,
		 (unsigned long long)s->over_credit, (unsigned long long)s->no_conn,
		 (unsigned long long)s->refused, (unsigned long long)s->conns_full,
		 (unsigned long long)s->bad_lines, (unsigned long long)s->rst_dropped);
}

int main(int argc, char **argv)
{
	struct mainloop *m = &ml;
	char err[256];
	int r;

	if (vsock_opts_parse(&m->opts, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "bulkhead-vsock: %s\n", err);
		return 2;
	}
	if (m->opts.print_caps) {
		printf("%s\n", vsock_capabilities);
		return 0;
	}
	if (m->opts.name[0])
		snprintf(m->role, sizeof(m->role), "vsock/%.*s", VSOCK_NAME_MAX, m->opts.name);
	else
		snprintf(m->role, sizeof(m->role), "vsock");
	log_init(m->role, STDERR_FILENO);
	signal(SIGPIPE, SIG_IGN);       /* a peer that vanished is an error return, not death */
	m->dir_fd = m->listen_fd = -1;
	r = setup(m);
	if (r == 0)
		r = enter_sandbox(m);
	if (r == 0 && m->dir_fd >= 0)
		r = enter_dir(m);
	if (r == 0) {
		if (m->opts.vhost_fd >= 0)
			log_info("serving guest cid %llu through the kernel's vhost-vsock",
				 (unsigned long long)m->opts.guest_cid);
		else
			log_info("serving guest cid %llu on %s, %u connections of %u bytes at most",
				 (unsigned long long)m->opts.guest_cid, m->uds_name,
				 m->opts.max_conns, m->opts.buf_alloc);
		vu_loop_run(&m->loop);
		log_stats(&m->dev.stats);
	}
	teardown(m);
	return r == 0 ? 0 : 1;
}
