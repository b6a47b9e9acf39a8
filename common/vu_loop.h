/* The libevent loop every vhost-user worker runs (bulkhead-blk, bulkhead-net): it watches fds
 * for the backend library (vu_watch), serves one frontend at a time (the connection the
 * supervisor made with --fd, or each frontend that connects to --socket-path in turn), and
 * stops on SIGTERM/SIGINT. Kept apart from the common library, which has no event loop
 * (STYLE.md): only worker programs link it. */
#ifndef BULKHEAD_VU_LOOP_H
#define BULKHEAD_VU_LOOP_H

#include <stdbool.h>
#include <event2/event.h>

#include "vu_backend.h"

/* a socket and three fds per queue, plus slack */
#define VU_LOOP_WATCH_MAX (2 + 3 * VU_MAX_QUEUES + 8)

/* The device the loop serves. */
struct vu_loop_dev {
	struct vu_dev *vu;
	unsigned nqueues;
	const struct vu_dev_ops *ops;
	void *priv;
	/* the connection ends: finish all that still points into guest memory (vu_dev_exit
	 * unmaps it right after); NULL when the device has nothing in flight */
	void (*disconnect)(void *priv);
};

struct vu_loop;

struct vu_loop_watch {
	struct event *ev;
	void (*cb)(void *arg);
	void *arg;
	int fd;
	struct vu_loop *loop;
};

struct vu_loop {
	struct event_base *base;     /* workers add their own events (completions, taps) */
	struct vu_loop_dev dev;
	struct event *listen_ev, *sig_ev[2];
	int listen_fd, conn_fd;
	bool connected;
	const char *socket_path;     /* unlinked on exit: the socket we bound */
	struct vu_loop_watch w[VU_LOOP_WATCH_MAX];
};

/* The event base and the signal events. 0 or -ENOMEM. */
int vu_loop_init(struct vu_loop *l, const struct vu_loop_dev *dev);
/* Listen on path (a stale socket there is replaced), accepting one frontend at a time. */
int vu_loop_listen(struct vu_loop *l, const char *path);
/* Serve the already connected stream socket fd; the loop ends when it closes. */
int vu_loop_adopt(struct vu_loop *l, int fd);
/* Run until a signal, or until an adopted connection ends. */
void vu_loop_run(struct vu_loop *l);
/* Disconnect and remove the socket we bound (on the way out of the process). */
void vu_loop_exit(struct vu_loop *l);

#endif
