/* The qmpd server on libevent: accepts clients on the listening socket it was given (checking
 * SO_PEERCRED), feeds each one's bytes to its session, relays requests to the core over the
 * SOCK_SEQPACKET core socket and routes the core's replies and events back. */
#ifndef BULKHEAD_QMPD_SERVER_H
#define BULKHEAD_QMPD_SERVER_H

#include <sys/types.h>

#define QMPD_MAX_CLIENTS 128
#define QMPD_OUT_MAX     (1024 * 1024)   /* a client's unread output beyond this: disconnected */

struct event_base;
struct qmpd_server;

/* Both fds become the server's (made non-blocking, closed by qmpd_server_free). Clients with
 * uid 0 or allowed_uid may talk. Returns NULL on failure (errno set). */
struct qmpd_server *qmpd_server_new(struct event_base *base, int listen_fd, int core_fd,
				    uid_t allowed_uid);
void qmpd_server_free(struct qmpd_server *srv);
/* Run until the core connection ends: 0 on an orderly close, -EPROTO when the core broke
 * the protocol, another -errno on a socket error. */
int qmpd_server_run(struct qmpd_server *srv);
unsigned qmpd_server_nclients(const struct qmpd_server *srv);

#endif
