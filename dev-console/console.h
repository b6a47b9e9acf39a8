/* bulkhead-hvc: a vhost-user virtio-console backend (device id 3, port 0 only: no
 * MULTIPORT, no SIZE, no EMERG_WRITE) whose host side is one unix stream socket. A host client
 * (a runtime, socat, a person) connects to read the guest's hvc0 and type into it; it may come
 * and go at any time without the guest noticing. Guest output goes through a byte ring of
 * --buffer bytes: with no client the oldest bytes are dropped (a console nobody reads must not
 * stall the guest), with a slow client the transmitq is left alone until it drains. This header
 * holds the command line (opts.c), the ring (buf.c), the device (console.c) and the host
 * client (host.c); none of them knows the event loop: main.c does what con_hooks ask. */
#ifndef BULKHEAD_CONSOLE_H
#define BULKHEAD_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "log.h"
#include "sandbox.h"
#include "virtq.h"
#include "vu_backend.h"

#define CON_Q_RX             0u             /* receiveq(port0): device -> guest */
#define CON_Q_TX             1u             /* transmitq(port0): guest -> device */
#define CON_NQUEUES          2u
#define CON_NAME_MAX         24
#define CON_BUFFER_MIN       4096ull        /* --buffer=, bytes of guest output kept */
#define CON_BUFFER_MAX       (16ull << 20)
#define CON_BUFFER_DEFAULT   65536u
#define CON_CONFIG_SIZE      12u            /* struct virtio_console_config */
/* Segments of one chain (a Linux guest uses one); more breaks the queue (vq_pop). Also
 * IOV_MAX: what one readv takes. */
#define CON_IOV_CAP          1024u
#define CON_BUDGET           64u            /* chains per queue per wakeup */
#define CON_LISTEN_BACKLOG   16

/* ---- command line ---------------------------------------------------------------------- */

struct con_opts {
	const char *socket_path;    /* --socket-path: vhost-user, one frontend at a time */
	int fd;                     /* --fd: an already connected vhost-user socket, or -1 */
	int listen_fd;              /* --listen-fd: the host socket, bound and listening, or -1 */
	const char *chardev_path;   /* --chardev-path: by hand, the worker binds it */
	uint32_t buffer;            /* --buffer */
	bool print_caps;            /* --print-capabilities */
	bool version;               /* --version */
	char name[CON_NAME_MAX + 1];
	bool no_seccomp;            /* --disable-seccomp */
	struct sandbox_opts runas;  /* --runas=UID:GID */
};

/* Parse argv. Returns 0, or -EINVAL with a one-line reason in err (no trailing newline). */
int con_opts_parse(struct con_opts *o, int argc, char **argv, char *err, size_t errlen);
extern const char con_capabilities[];       /* the --print-capabilities JSON line */

/* ---- the output ring (buf.c) ------------------------------------------------------------- */

struct con_buf {
	uint8_t *data;
	uint32_t cap;
	uint32_t head;              /* oldest byte */
	uint32_t len;
};

int con_buf_init(struct con_buf *b, uint32_t cap);        /* 0 or -ENOMEM */
void con_buf_exit(struct con_buf *b);
static inline uint32_t con_buf_room(const struct con_buf *b) { return b->cap - b->len; }
/* Append up to n bytes, as many as there is room for; returns how many. */
uint32_t con_buf_put(struct con_buf *b, const void *src, size_t n);
/* Append all n bytes, dropping the oldest ones (and, past cap, the start of src) to make
 * room; returns the bytes dropped. */
uint64_t con_buf_put_over(struct con_buf *b, const void *src, size_t n);
/* The buffered bytes, oldest first, as at most two iovecs; returns how many. */
unsigned con_buf_iov(const struct con_buf *b, struct iovec v[2]);
/* Forget the n oldest bytes (n <= len): they were sent. */
void con_buf_drop(struct con_buf *b, uint32_t n);

/* ---- the device (console.c, host.c) ------------------------------------------------------ */

struct con_dev;

/* Event-loop services the device asks for (main.c). */
struct con_hooks {
	/* make the watches match the device: the listener while accepting, the client's
	 * readability (edge-triggered) while one is attached, its writability while wr_watch */
	void (*watch)(struct con_dev *d);
	/* the client fd is about to be closed: drop its watches */
	void (*forget)(struct con_dev *d);
	/* call con_resume soon: a pass stopped at its budget, or room came back */
	void (*later)(struct con_dev *d);
};

/* What one frontend's guest did (logged when it goes). */
struct con_stats {
	uint64_t out_bytes;         /* guest output taken from the transmitq */
	uint64_t sent_bytes;        /* output written to clients */
	uint64_t in_bytes;          /* client input put in receive buffers */
	uint64_t dropped;           /* output dropped with no client and the ring full */
	uint64_t clients;           /* clients accepted */
	uint64_t bad_chains;        /* chains that broke a queue */
};

struct con_dev {
	struct vu_dev vu;           /* the generic vhost-user part */
	uint64_t features;
	int listen_fd;              /* nonblocking, listening */
	int client_fd;              /* the attached client, or -1 */
	bool accepting;             /* no client: the listener is watched */
	bool wr_watch;              /* the client said EAGAIN with output left */
	bool tx_blocked;            /* a client is attached and the ring is full */
	bool holding;               /* tx_elem is popped and only partly copied */
	uint64_t held_off;          /* bytes of tx_elem already in the ring */
	struct vq_elem tx_elem;
	struct con_buf out;
	struct con_hooks hooks;
	void *loop;                 /* the hooks' state */
	struct con_stats stats;
	struct ratelimit rl;        /* client errors */
	struct iovec tx_iov[CON_IOV_CAP];
	struct iovec rx_iov[CON_IOV_CAP];
};

extern const struct vu_dev_ops con_vu_ops;

/* Set up the device on listen_fd (nonblocking, listening) with a ring of buffer bytes.
 * 0, -EINVAL or -ENOMEM. */
int con_dev_init(struct con_dev *d, int listen_fd, uint32_t buffer, const struct con_hooks *h);
void con_dev_exit(struct con_dev *d);
/* The frontend went away: the held chain is finished, statistics logged and reset. */
void con_dev_disconnect(struct con_dev *d);
void con_log_stats(struct con_dev *d);
/* A deferred pass (con_hooks.later): both queues again. */
void con_resume(struct con_dev *d);
/* Queue passes (console.c): guest output into the ring, client input into the guest. */
void con_tx_process(struct con_dev *d);
void con_rx_process(struct con_dev *d);

/* The host side (host.c). */
void con_accept(struct con_dev *d);              /* the listener is readable */
void con_client_readable(struct con_dev *d);     /* input, EOF or hang-up */
void con_client_writable(struct con_dev *d);
/* Write what the ring holds to the client, as much as it takes now. */
void con_flush(struct con_dev *d);
/* Close the client (EOF, error): the ring keeps what it did not read; the next is accepted. */
void con_client_close(struct con_dev *d, const char *why);
/* No receive buffer to read into: close the client if it hung up both ways. */
void con_client_idle_check(struct con_dev *d);

#endif
