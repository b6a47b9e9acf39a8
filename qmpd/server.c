/* qmpd's event loop (libevent): the listening socket, the clients and the core connection.
 * Protocol logic lives in session.c; this file only moves bytes and messages. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "ipc_qmp.h"
#include "log.h"
#include "session.h"
#include "util.h"

struct client {
	struct qmp_session s;
	struct qmpd_server *srv;
	int fd;
	bool eof;                        /* the client shut down its sending side */
	struct event *ev_read, *ev_write;
	struct evbuffer *out;            /* output the socket did not take yet */
	struct qmp_request *unsent;      /* a request the core socket could not take yet */
	TAILQ_ENTRY(client) link;
	TAILQ_ENTRY(client) wait_link;
};

struct qmpd_server {
	struct event_base *base;
	int listen_fd, core_fd;
	uid_t allowed_uid;
	struct event *ev_accept, *ev_core, *ev_core_write;
	TAILQ_HEAD(, client) clients;
	TAILQ_HEAD(, client) waitq;      /* clients with an unsent request, in order */
	unsigned nclients;
	bool accept_paused;              /* out of fds: the listening socket is not watched */
	uint32_t next_tag;
	int result;
	struct jbuf event_json;
	struct ipc_msg msg;
};

/* the core may only answer and announce; anything else ends the connection (DESIGN.md §2) */
static const struct ipc_peer core_peer = {
	.name = "core",
	.allowed = (1u << IPC_QMP_REPLY) | (1u << IPC_QMP_EVENT),
};

static struct ratelimit rl_accept = RATELIMIT_INIT(1000, 5);
static struct ratelimit rl_client = RATELIMIT_INIT(1000, 5);

static void stop(struct qmpd_server *srv, int result)
{
	srv->result = result;
	event_base_loopbreak(srv->base);
}

/* ---- clients ---- */

/* everything but the fd and the list entry; for a client that never fully existed, too */
static void client_release(struct client *c)
{
	free(c->unsent);
	if (c->ev_read)
		event_free(c->ev_read);
	if (c->ev_write)
		event_free(c->ev_write);
	if (c->out)
		evbuffer_free(c->out);
	qmp_session_exit(&c->s);
	free(c);
}

static void client_free(struct client *c)
{
	struct qmpd_server *srv = c->srv;
	int fd;

	TAILQ_REMOVE(&srv->clients, c, link);
	if (c->unsent)
		TAILQ_REMOVE(&srv->waitq, c, wait_link);
	fd = c->fd;
	client_release(c);      /* events first: libevent still touches the fd on event_del */
	close(fd);
	srv->nclients--;
	if (srv->accept_paused && event_add(srv->ev_accept, NULL) == 0)
		srv->accept_paused = false;
}

/* send what the socket takes now; MSG_NOSIGNAL because a vanished client must not kill us */
static int flush_out(struct client *c)
{
	while (evbuffer_get_length(c->out)) {
		struct evbuffer_iovec v;
		ssize_t w;

		if (evbuffer_peek(c->out, -1, NULL, &v, 1) < 1)
			break;
		w = send(c->fd, v.iov_base, v.iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		evbuffer_drain(c->out, (size_t)w);
	}
	return 0;
}

/* After any call into the session: close it, or watch for input only while it takes some. */
static void client_update(struct client *c)
{
	bool idle = !c->s.waiting && !evbuffer_get_length(c->out);

	if (c->s.dead || (c->eof && idle)) {
		client_free(c);
		return;
	}
	if (!c->eof && qmp_session_wants_input(&c->s))
		event_add(c->ev_read, NULL);
	else
		event_del(c->ev_read);
}

/* recv, and the fds a client may pass for getfd (SCM_RIGHTS); a truncated set is dropped by
 * the kernel, and then the getfd that wanted one says none came */
static ssize_t client_recv(struct client *c, char *p, size_t room)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(QMP_FDS_MAX * sizeof(int))];
	} u;
	struct iovec iov = { .iov_base = p, .iov_len = room };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	ssize_t n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);

	if (n < 0)
		return n;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
		int fds[QMP_FDS_MAX];
		unsigned k;

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		k = (unsigned)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(fds, CMSG_DATA(h), k * sizeof(int));
		qmp_session_received_fds(&c->s, fds, k);
	}
	if (mh.msg_flags & MSG_CTRUNC)
		log_warnx_rl(&rl_client, "client fd %d passed more fds than %d at once; dropped",
			     c->fd, QMP_FDS_MAX);
	return n;
}

static void on_client_read(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	struct client *c = arg;
	size_t room;
	char *p = qmp_session_rbuf(&c->s, &room);
	ssize_t n;

	if (p) {
		n = client_recv(c, p, room);
		if (n > 0)
			qmp_session_received(&c->s, (size_t)n);
		else if (n == 0)
			c->eof = true;
		else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			c->s.dead = true;
	}
	client_update(c);
}

static void on_client_write(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	struct client *c = arg;

	if (flush_out(c) < 0)
		c->s.dead = true;
	else if (!evbuffer_get_length(c->out))
		event_del(c->ev_write);
	client_update(c);
}

static void client_write(struct qmp_session *s, const char *p, size_t n)
{
	struct client *c = container_of(s, struct client, s);
	ssize_t w = 0;

	if (s->dead)
		return;
	if (!evbuffer_get_length(c->out)) {
		w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			s->dead = true;
			return;
		}
		if (w < 0)
			w = 0;
	}
	if ((size_t)w == n)
		return;
	/* a client that does not read its replies or events is not given unbounded memory */
	if (evbuffer_get_length(c->out) + (n - (size_t)w) > QMPD_OUT_MAX) {
		log_warnx_rl(&rl_client, "client fd %d does not read its output; disconnecting",
			     c->fd);
		s->dead = true;
		return;
	}
	if (evbuffer_add(c->out, p + w, n - (size_t)w) < 0) {
		s->dead = true;
		return;
	}
	event_add(c->ev_write, NULL);
}

static uint32_t next_tag(struct qmpd_server *srv)
{
	if (++srv->next_tag == 0)
		srv->next_tag = 1;
	return srv->next_tag;
}

static int client_relay(struct qmp_session *s, struct qmp_request *req)
{
	struct client *c = container_of(s, struct client, s);
	struct qmpd_server *srv = c->srv;
	int r;

	req->tag = next_tag(srv);
	if (TAILQ_EMPTY(&srv->waitq)) {
		r = ipc_qmp_request_send(srv->core_fd, req, s->fds.taken);
		if (r != -EAGAIN && r != -EWOULDBLOCK) {
			qmp_fds_release_taken(&s->fds);
			return r;
		}
	}
	/* the core is slow to read: keep order, at most one request per client (session.h) */
	c->unsent = malloc(sizeof(*req));
	if (!c->unsent)
		return -ENOMEM;
	*c->unsent = *req;
	TAILQ_INSERT_TAIL(&srv->waitq, c, wait_link);
	event_add(srv->ev_core_write, NULL);
	return 0;
}

static const struct qmp_session_ops client_ops = {
	.write = client_write,
	.relay = client_relay,
};

static bool peer_allowed(struct qmpd_server *srv, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("SO_PEERCRED");
		return false;
	}
	if (cred.uid == 0 || cred.uid == srv->allowed_uid)
		return true;
	log_warnx_rl(&rl_accept, "refusing a client with uid %u (pid %d): only root and uid %u",
		     (unsigned)cred.uid, (int)cred.pid, (unsigned)srv->allowed_uid);
	return false;
}

static int client_new(struct qmpd_server *srv, int fd)
{
	struct client *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->srv = srv;
	c->fd = fd;
	qmp_session_init(&c->s, &client_ops);
	c->ev_read = event_new(srv->base, fd, EV_READ | EV_PERSIST, on_client_read, c);
	c->ev_write = event_new(srv->base, fd, EV_WRITE | EV_PERSIST, on_client_write, c);
	c->out = evbuffer_new();
	if (!c->ev_read || !c->ev_write || !c->out) {
		client_release(c);
		return -ENOMEM;
	}
	TAILQ_INSERT_TAIL(&srv->clients, c, link);
	srv->nclients++;
	qmp_session_start(&c->s);
	client_update(c);
	return 0;
}

static void on_accept(evutil_socket_t lfd, short what UNUSED, void *arg)
{
	struct qmpd_server *srv = arg;

	for (int i = 0; i < 16; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* the listening socket stays readable: stop watching it until a
				 * client leaves, or the loop would spin */
				log_warnx_rl(&rl_accept, "out of fds with %u clients; accepting "
					     "again when one leaves", srv->nclients);
				event_del(srv->ev_accept);
				srv->accept_paused = true;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
				   ratelimit_ok(&rl_accept)) {
				log_warn("accept");
			}
			return;
		}
		if (!peer_allowed(srv, fd)) {
			close(fd);
			continue;
		}
		if (srv->nclients >= QMPD_MAX_CLIENTS) {
			log_warnx_rl(&rl_accept, "%u clients already; refusing another",
				     srv->nclients);
			close(fd);
			continue;
		}
		if (client_new(srv, fd) < 0)
			close(fd);
	}
}

/* ---- the core ---- */

static void on_core_write(evutil_socket_t fd, short what UNUSED, void *arg)
{
	struct qmpd_server *srv = arg;
	struct client *c;

	while ((c = TAILQ_FIRST(&srv->waitq)) != NULL) {
		int r = ipc_qmp_request_send(fd, c->unsent, c->s.fds.taken);

		if (r == -EAGAIN || r == -EWOULDBLOCK)
			return;
		if (r < 0) {
			log_warnx("sending to the core: %s", strerror(-r));
			stop(srv, r);
			return;
		}
		TAILQ_REMOVE(&srv->waitq, c, wait_link);
		qmp_fds_release_taken(&c->s.fds);
		free(c->unsent);
		c->unsent = NULL;
	}
	event_del(srv->ev_core_write);
}

static struct client *client_by_tag(struct qmpd_server *srv, uint32_t tag)
{
	struct client *c;

	TAILQ_FOREACH(c, &srv->clients, link)
		if (c->s.waiting && c->s.pending_tag == tag)
			return c;
	return NULL;
}

static int core_reply(struct qmpd_server *srv, const struct ipc_msg *m)
{
	struct qmp_reply r;
	struct client *c;

	if (ipc_qmp_reply_decode(m, &r) < 0)
		return -EPROTO;
	c = client_by_tag(srv, r.tag);
	if (!c || c->unsent) {
		/* its client left meanwhile; a reply to a request never sent is a broken core */
		if (c || r.tag == 0 || r.tag > srv->next_tag)
			return -EPROTO;
		log_debug("dropping the reply to tag %u: its client is gone", r.tag);
		return 0;
	}
	qmp_session_reply(&c->s, &r);
	client_update(c);
	return 0;
}

static int core_event(struct qmpd_server *srv, const struct ipc_msg *m)
{
	struct qmp_event e;
	struct client *c, *next;

	if (ipc_qmp_event_decode(m, &e) < 0)
		return -EPROTO;
	jb_reset(&srv->event_json);
	qmp_format_event(&srv->event_json, &e);
	if (srv->event_json.failed)
		return 0;
	for (c = TAILQ_FIRST(&srv->clients); c; c = next) {
		next = TAILQ_NEXT(c, link);
		if (!c->s.negotiated || c->s.dead)
			continue;
		client_write(&c->s, srv->event_json.p, srv->event_json.len);
		client_update(c);
	}
	return 0;
}

static void on_core(evutil_socket_t fd, short what UNUSED, void *arg)
{
	struct qmpd_server *srv = arg;

	for (int i = 0; i < 64; i++) {
		int r = ipc_recv(fd, &core_peer, &srv->msg);

		if (r == -EAGAIN || r == -EWOULDBLOCK)
			return;
		if (r == 0) {
			log_info("the core closed the connection");
			stop(srv, 0);
			return;
		}
		if (r > 0)
			r = srv->msg.hdr.type == IPC_QMP_REPLY ? core_reply(srv, &srv->msg) :
							        core_event(srv, &srv->msg);
		ipc_msg_close_fds(&srv->msg);
		if (r < 0) {
			log_warnx("the core connection failed: %s", strerror(-r));
			stop(srv, r);
			return;
		}
	}
}

/* ---- setup ---- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

struct qmpd_server *qmpd_server_new(struct event_base *base, int listen_fd, int core_fd,
				    uid_t allowed_uid)
{
	struct qmpd_server *srv;

	if (set_nonblock(listen_fd) < 0 || set_nonblock(core_fd) < 0)
		return NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->base = base;
	srv->listen_fd = listen_fd;
	srv->core_fd = core_fd;
	srv->allowed_uid = allowed_uid;
	TAILQ_INIT(&srv->clients);
	TAILQ_INIT(&srv->waitq);
	jb_init(&srv->event_json);
	srv->ev_accept = event_new(base, listen_fd, EV_READ | EV_PERSIST, on_accept, srv);
	srv->ev_core = event_new(base, core_fd, EV_READ | EV_PERSIST, on_core, srv);
	srv->ev_core_write = event_new(base, core_fd, EV_WRITE | EV_PERSIST, on_core_write, srv);
	if (!srv->ev_accept || !srv->ev_core || !srv->ev_core_write ||
	    event_add(srv->ev_accept, NULL) < 0 || event_add(srv->ev_core, NULL) < 0) {
		qmpd_server_free(srv);
		errno = ENOMEM;
		return NULL;
	}
	return srv;
}

void qmpd_server_free(struct qmpd_server *srv)
{
	struct client *c;

	if (!srv)
		return;
	while ((c = TAILQ_FIRST(&srv->clients)) != NULL)
		client_free(c);
	if (srv->ev_accept)
		event_free(srv->ev_accept);
	if (srv->ev_core)
		event_free(srv->ev_core);
	if (srv->ev_core_write)
		event_free(srv->ev_core_write);
	close(srv->listen_fd);
	close(srv->core_fd);
	jb_free(&srv->event_json);
	free(srv);
}

int qmpd_server_run(struct qmpd_server *srv)
{
	srv->result = 0;
	if (event_base_dispatch(srv->base) < 0)
		return -EIO;
	return srv->result;
}

unsigned qmpd_server_nclients(const struct qmpd_server *srv)
{
	return srv->nclients;
}
