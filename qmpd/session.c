/* A QMP client session: framing, parsing, dispatch and in-order replies (see session.h). */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define RBUF_MIN     4096     /* first allocation; most messages are a few dozen bytes */
#define SCRATCH_KEEP 16384    /* a scratch buffer bigger than this is released after use */

static struct ratelimit rl_core = RATELIMIT_INIT(1000, 5);

void qmp_session_init(struct qmp_session *s, const struct qmp_session_ops *ops)
{
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	qmp_fds_init(&s->fds);
	qmp_framer_init(&s->framer);
	jb_init(&s->out);
}

void qmp_session_exit(struct qmp_session *s)
{
	free(s->in);
	free(s->pending_id);
	jb_free(&s->out);
	qmp_fds_close(&s->fds);
	s->in = s->pending_id = NULL;
}

/* hand the scratch message to the client, then clear it */
static void flush(struct qmp_session *s)
{
	if (s->out.failed)
		s->dead = true;   /* out of memory: a half message would desynchronize the client */
	else if (s->out.len)
		s->ops->write(s, s->out.p, s->out.len);
	if (s->out.cap > SCRATCH_KEEP)
		jb_free(&s->out);
	else
		jb_reset(&s->out);
}

void qmp_session_start(struct qmp_session *s)
{
	qmp_format_greeting(&s->out);
	flush(s);
}

bool qmp_session_wants_input(const struct qmp_session *s)
{
	return !s->waiting && !s->dead;
}

static void send_error(struct qmp_session *s, enum qmp_class cls, const char *desc,
		       const char *id)
{
	qmp_format_error(&s->out, cls, desc, id);
	flush(s);
}

/* netdev_add "fd"/"fds": the named fds go along (and are consumed, as in QEMU) */
static int take_fds(struct qmp_session *s, struct qmp_call *c, const char *id)
{
	char what[QMP_ID_MAX + 16], desc[QMP_DESC_MAX];
	int r;

	if (c->req.cmd != QMP_CMD_NETDEV_ADD || !c->fdnames[0])
		return 0;
	r = qmp_fds_take(&s->fds, c->fdnames, what, sizeof(what));
	if (r == -ENOENT)
		snprintf(desc, sizeof(desc), "File descriptor named '%s' not found", what);
	else if (r == -E2BIG)
		snprintf(desc, sizeof(desc), "Parameter 'fds' names more than %d fds",
			 QMP_NETDEV_FDS_MAX);
	else if (r < 0)
		snprintf(desc, sizeof(desc), "Parameter 'fds' expects distinct fd names, "
			 "not '%s'", what);
	if (r < 0) {
		send_error(s, QMP_CLASS_GENERIC, desc, id);
		return r;
	}
	c->req.u.netdev_add.nfds = s->fds.ntaken;
	return 0;
}

static int relay(struct qmp_session *s, struct qmp_call *c, const char *id)
{
	int r = take_fds(s, c, id);

	if (r < 0)
		return r;
	r = s->ops->relay(s, &c->req);
	if (r < 0) {
		qmp_fds_release_taken(&s->fds);
		log_warnx_rl(&rl_core, "cannot send %s to the core: %s",
			     qmp_command_name(c->cmd), strerror(-r));
		send_error(s, QMP_CLASS_GENERIC, "The VM is not reachable", id);
		return r;
	}
	if (id && !(s->pending_id = strdup(id))) {
		s->dead = true;   /* the reply could not carry its id */
		return -ENOMEM;
	}
	s->pending = c->cmd;
	s->pending_tag = c->req.tag;
	s->waiting = true;
	return 0;
}

static void run_local(struct qmp_session *s, struct qmp_call *c, const char *id)
{
	struct jbuf ret;

	jb_init(&ret);
	if (qmp_call_local(c, &s->negotiated, &s->fds, &ret) < 0)
		qmp_format_error(&s->out, c->err_class, c->desc, id);
	else if (ret.failed)
		s->out.failed = true;
	else
		qmp_format_return(&s->out, ret.p, id);
	jb_free(&ret);
	flush(s);
}

static void dispatch(struct qmp_session *s, yajl_val root)
{
	struct jbuf idj;
	struct qmp_call c;
	const char *id = NULL;
	int r;

	jb_init(&idj);
	r = qmp_call_parse(root, s->negotiated, &c);
	if (c.id) {
		/* framed input nests at most QMP_DEPTH_MAX levels, so only memory can fail here */
		if (json_write_value(&idj, c.id, QMP_DEPTH_MAX + 1) < 0 || idj.failed) {
			s->dead = true;
			goto out;
		}
		id = idj.p;
	}
	if (r < 0)
		send_error(s, c.err_class, c.desc, id);
	else if (qmp_call_is_local(&c))
		run_local(s, &c, id);
	else
		relay(s, &c, id);
out:
	jb_free(&idj);
}

static void handle_message(struct qmp_session *s, char *p, size_t n, bool has_nul)
{
	char err[256], desc[QMP_DESC_MAX];
	yajl_val root;
	char saved;

	if (has_nul) {
		send_error(s, QMP_CLASS_GENERIC,
			   "JSON parse error, NUL characters are not supported", NULL);
		return;
	}
	/* yajl_tree_parse wants a C string: the byte after the message is borrowed (in[] always
	 * has one spare byte past cap) */
	saved = p[n];
	p[n] = '\0';
	root = yajl_tree_parse(p, err, sizeof(err));
	p[n] = saved;
	if (!root) {
		char why[160];

		json_error_text(err, why, sizeof(why));
		snprintf(desc, sizeof(desc), "JSON parse error, %s", why);
		send_error(s, QMP_CLASS_GENERIC, desc, NULL);
		return;
	}
	dispatch(s, root);
	yajl_tree_free(root);
}

static void process(struct qmp_session *s)
{
	struct qmp_frame fr;
	enum qmp_frame_status st;

	while (!s->waiting && !s->dead) {
		st = qmp_framer_next(&s->framer, s->in + s->head, s->len - s->head, &fr);
		if (st == QMP_FRAME_READY)
			handle_message(s, s->in + s->head + fr.off, fr.len, fr.has_nul);
		else if (st == QMP_FRAME_TOO_DEEP)
			send_error(s, QMP_CLASS_GENERIC,
				   "JSON parse error, nesting too deep (at most 32 levels)", NULL);
		else if (st == QMP_FRAME_TOO_BIG) {
			send_error(s, QMP_CLASS_GENERIC,
				   "JSON parse error, message too large (at most 65536 bytes)", NULL);
			s->dead = true;
		}
		s->head += fr.consumed;
		if (st == QMP_FRAME_MORE)
			break;
	}
	if (s->head == s->len)
		s->head = s->len = 0;
}

char *qmp_session_rbuf(struct qmp_session *s, size_t *n)
{
	*n = 0;
	if (!qmp_session_wants_input(s))
		return NULL;
	if (s->head && s->cap - s->len < RBUF_MIN) {
		memmove(s->in, s->in + s->head, s->len - s->head);
		s->len -= s->head;
		s->head = 0;
	}
	if (s->cap - s->len < RBUF_MIN && s->cap < QMP_IN_CAP) {
		size_t cap = s->cap ? s->cap * 2 : RBUF_MIN;
		char *p;

		if (cap > QMP_IN_CAP)
			cap = QMP_IN_CAP;
		p = realloc(s->in, cap + 1);   /* +1: handle_message borrows the byte past a message */
		if (!p) {
			s->dead = true;
			return NULL;
		}
		s->in = p;
		s->cap = cap;
	}
	*n = s->cap - s->len;
	return *n ? s->in + s->len : NULL;
}

void qmp_session_received_fds(struct qmp_session *s, const int *fds, unsigned n)
{
	unsigned dropped = qmp_fds_received(&s->fds, fds, n);

	if (dropped)
		log_warnx_rl(&rl_core, "a client holds %d fds already; %u more closed", QMP_FDS_MAX,
			     dropped);
}

void qmp_session_received(struct qmp_session *s, size_t n)
{
	s->len += n;
	process(s);
}

void qmp_session_reply(struct qmp_session *s, const struct qmp_reply *r)
{
	if (!s->waiting || r->tag != s->pending_tag)
		return;
	if (r->cmd != qmp_command_core_cmd(s->pending)) {
		log_warnx_rl(&rl_core, "the core answered %s with command %u",
			     qmp_command_name(s->pending), r->cmd);
		qmp_format_error(&s->out, QMP_CLASS_GENERIC, "Internal error: mismatched reply",
				 s->pending_id);
	} else {
		qmp_format_reply(&s->out, s->pending, r, s->pending_id);
	}
	free(s->pending_id);
	s->pending_id = NULL;
	s->pending = NULL;
	s->waiting = false;
	flush(s);
	process(s);
}

size_t qmp_session_feed(struct qmp_session *s, const char *data, size_t n)
{
	size_t done = 0, room;
	char *p;

	while (done < n && (p = qmp_session_rbuf(s, &room)) != NULL) {
		if (room > n - done)
			room = n - done;
		memcpy(p, data + done, room);
		done += room;
		qmp_session_received(s, room);
	}
	return done;
}
