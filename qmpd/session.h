/* One QMP client's protocol state, independent of sockets and event loops: the input buffer
 * and framer, capability negotiation, and the rule that requests are answered in order — while
 * one is at the core, later input waits unread (so the queue is bounded by the input buffer
 * and the kernel's socket buffer). The server gives it bytes and the core's replies; it hands
 * back output and requests for the core through ops. */
#ifndef BULKHEAD_QMPD_SESSION_H
#define BULKHEAD_QMPD_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "commands.h"
#include "json.h"

/* input buffer: one whole message plus room to read behind it */
#define QMP_IN_CAP (QMP_MSG_MAX + 4096)

struct qmp_session;

struct qmp_session_ops {
	/* queue output for the client; may set s->dead (e.g. the output cap was passed) */
	void (*write)(struct qmp_session *s, const char *p, size_t n);
	/* send req to the core, setting req->tag, with the fds s->fds.taken holds (netdev_add's);
	 * they are its to close (qmp_fds_release_taken) once sent. 0 or -errno */
	int (*relay)(struct qmp_session *s, struct qmp_request *req);
};

struct qmp_session {
	const struct qmp_session_ops *ops;
	struct qmp_framer framer;
	char *in;
	size_t head, len, cap;          /* unprocessed input is in[head, len) */
	bool negotiated;
	bool waiting;                   /* a request is at the core */
	bool dead;                      /* the connection must be closed */
	const struct qmp_command *pending;
	uint32_t pending_tag;
	char *pending_id;               /* serialized "id" of the pending request, or NULL */
	struct jbuf out;                /* scratch for one message */
	struct qmp_fdset fds;           /* getfd's (fds.h) */
};

void qmp_session_init(struct qmp_session *s, const struct qmp_session_ops *ops);
void qmp_session_exit(struct qmp_session *s);
/* send the greeting */
void qmp_session_start(struct qmp_session *s);
/* true while the session can take more input (not waiting for the core, not dead) */
bool qmp_session_wants_input(const struct qmp_session *s);
/* where to read the next bytes to, and how many fit; NULL when none do (or out of memory) */
char *qmp_session_rbuf(struct qmp_session *s, size_t *n);
/* n bytes were read to the rbuf: handle every complete message until one goes to the core */
void qmp_session_received(struct qmp_session *s, size_t n);
/* fds came with the next bytes (SCM_RIGHTS; give them first): a getfd names them, the session
 * owns them now */
void qmp_session_received_fds(struct qmp_session *s, const int *fds, unsigned n);
/* the core answered the pending request; answers it and continues with buffered input */
void qmp_session_reply(struct qmp_session *s, const struct qmp_reply *r);
/* convenience for tests and fuzzing: copy data in through rbuf/received; returns bytes taken */
size_t qmp_session_feed(struct qmp_session *s, const char *data, size_t n);

#endif
