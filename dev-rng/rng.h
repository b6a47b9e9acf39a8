/* bulkhead-rng: a vhost-user virtio-rng backend (device id 4, one queue "requestq", no feature
 * bits of its own, no config space). The guest posts device-writable buffers; each is filled
 * from an entropy source, a character device opened before the sandbox, with readv() straight
 * into guest memory, optionally under a rate limit of max-bytes per period (QEMU's and
 * StratoVirt's virtio-rng properties). This header holds the command line (opts.c) and the
 * device (rng.c), which has no event loop: main.c watches the source and keeps the timer,
 * told what to do through rng_hooks. */
#ifndef BULKHEAD_RNG_H
#define BULKHEAD_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "log.h"
#include "sandbox.h"
#include "virtq.h"
#include "vu_backend.h"

#define RNG_Q_REQUEST        0u
#define RNG_NQUEUES          1u
#define RNG_NAME_MAX         24
#define RNG_MAX_BYTES_MAX    (1ull << 31)   /* max-bytes=, per period (config.h's limit) */
#define RNG_PERIOD_MIN       1ull           /* period=, milliseconds */
#define RNG_PERIOD_MAX       1000000ull
#define RNG_PERIOD_DEFAULT   1000u
/* Segments of one chain: a Linux guest posts one buffer per request; more than this breaks
 * the queue (vq_pop). It is also IOV_MAX, what one readv takes. */
#define RNG_IOV_CAP          1024u
/* Bytes served into one chain at most (a virtio device may write less than offered): a chain
 * of many large buffers must not keep the loop reading for long. */
#define RNG_CHAIN_MAX        (64u << 10)
#define RNG_BUDGET           64u            /* chains per wakeup */
#define RNG_RETRY_MS         1000u          /* after EOF or an error of the source */

/* ---- command line ---------------------------------------------------------------------- */

struct rng_opts {
	const char *socket_path;    /* --socket-path: vhost-user, one frontend at a time */
	int fd;                     /* --fd: an already connected vhost-user socket, or -1 */
	int source_fd;              /* --source-fd: the entropy source, already open, or -1 */
	const char *filename;       /* --filename: by hand, the worker opens it */
	uint64_t max_bytes;         /* --max-bytes: per period; 0 is no limit */
	unsigned period_ms;         /* --period */
	bool print_caps;            /* --print-capabilities */
	bool version;               /* --version */
	char name[RNG_NAME_MAX + 1];
	bool no_seccomp;            /* --disable-seccomp */
	struct sandbox_opts runas;  /* --runas=UID:GID */
};

/* Parse argv. Returns 0, or -EINVAL with a one-line reason in err (no trailing newline). */
int rng_opts_parse(struct rng_opts *o, int argc, char **argv, char *err, size_t errlen);
extern const char rng_capabilities[];       /* the --print-capabilities JSON line */

/* ---- the device (rng.c) ------------------------------------------------------------------ */

struct rng_dev;

/* Event-loop services the device asks for (main.c). Each ends in one later rng_resume. */
struct rng_hooks {
	/* call rng_resume once the source is readable (one shot) */
	void (*source_watch)(struct rng_dev *d);
	/* call rng_resume in ms milliseconds (replaces a pending one) */
	void (*timer)(struct rng_dev *d, uint64_t ms);
	/* call rng_resume soon: a pass stopped at its budget with work left */
	void (*later)(struct rng_dev *d);
};

/* Why requests are not being served right now. */
enum rng_wait {
	RNG_SERVING,
	RNG_WAIT_SOURCE,        /* the source said EAGAIN: source_watch is armed */
	RNG_WAIT_PERIOD,        /* the period's bytes are spent: timer armed for the next one */
	RNG_WAIT_RETRY,         /* the source failed or hit EOF: timer armed for a retry */
};

/* What one frontend got (logged when it goes). */
struct rng_stats {
	uint64_t requests;          /* chains served */
	uint64_t bytes;
	uint64_t throttled;         /* times the rate limit made requests wait */
	uint64_t source_errors;     /* EOF or errors from the source */
	uint64_t bad_chains;        /* chains that broke the queue */
};

struct rng_dev {
	struct vu_dev vu;           /* the generic vhost-user part */
	uint64_t features;
	int src_fd;                 /* nonblocking character device */
	uint64_t max_bytes;         /* 0: no limit */
	uint64_t period_ms;
	uint64_t budget;            /* bytes left in the current period */
	uint64_t period_start_ms;
	bool period_started;
	enum rng_wait wait;
	struct rng_hooks hooks;
	void *loop;                 /* the hooks' state */
	struct rng_stats stats;
	struct ratelimit rl;        /* source errors */
	struct iovec iov[RNG_IOV_CAP];  /* a popped chain */
	struct iovec rd[RNG_IOV_CAP];   /* the part of it one fill reads into */
};

extern const struct vu_dev_ops rng_vu_ops;

/* Set up the device on src_fd (already nonblocking); max_bytes 0 is no limit, period_ms
 * 1..RNG_PERIOD_MAX. 0 or -EINVAL. */
int rng_dev_init(struct rng_dev *d, int src_fd, uint64_t max_bytes, unsigned period_ms,
		 const struct rng_hooks *hooks);
void rng_dev_exit(struct rng_dev *d);
/* A hook fired (the source is readable, a timer ran out, a deferred pass): serve again. */
void rng_resume(struct rng_dev *d);
/* The frontend went away: nothing is held in guest memory; its statistics are logged. */
void rng_dev_disconnect(struct rng_dev *d);
/* Log and reset the statistics. */
void rng_log_stats(struct rng_dev *d);

#endif
