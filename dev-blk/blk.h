/* bulkhead-blk: a vhost-user-blk backend over one raw image. This header holds the pure
 * device model (request parsing and bounds checks, config space, features, the IOPS token
 * bucket, the command line), testable without a socket, and the io_uring request engine that
 * plugs into the vhost-user backend library. */
#ifndef BULKHEAD_BLK_H
#define BULKHEAD_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_blk.h>
#include <liburing.h>

#include "iov.h"
#include "virtq.h"
#include "vu_backend.h"

#define BLK_SECTOR_SHIFT     9
#define BLK_SECTOR_SIZE      512u
#define BLK_HDR_SIZE         16u        /* struct virtio_blk_outhdr */
#define BLK_SEG_SIZE         16u        /* struct virtio_blk_discard_write_zeroes */
#define BLK_SEG_MAX          126u       /* data segments per request, as QEMU (128 - 2) */
#define BLK_IOV_CAP          (BLK_SEG_MAX + 8)  /* + header, status and split headers */
#define BLK_MAX_DISCARD_SECTORS     (1u << 21)  /* 1 GiB per discard */
/* Write-zeroes may fall back to writing a zero buffer: BLK_ZERO_IOVS x BLK_ZERO_BUF bytes. */
#define BLK_ZERO_BUF         (64u * 1024)
#define BLK_ZERO_IOVS        128u
#define BLK_MAX_WRITE_ZEROES_SECTORS (BLK_ZERO_IOVS * BLK_ZERO_BUF / BLK_SECTOR_SIZE)
#define BLK_SERIAL_MAX       VIRTIO_BLK_ID_BYTES
#define BLK_NAME_MAX         24
#define BLK_MAX_QUEUES       16
#define BLK_IOPS_MAX         1000000u
#define BLK_POOL_SIZE        256u       /* requests in flight in io_uring at once */
#define BLK_BATCH            4u         /* requests popped between two submits and pushes */
/* Off unless asked for: on the 2-vCPU machines scripts/bench-blk.sh ran on, a 32 us window
 * (QEMU's iothread default) gained nothing at QD32 and lost at QD1, and on a host of many
 * small VMs a spinning worker takes CPU their vCPUs need. */
#define BLK_POLL_US_DEFAULT  0u
#define BLK_POLL_US_MAX      1000u

/* ---- command line ---------------------------------------------------------------------- */

struct blk_opts {
	const char *socket_path;    /* --socket-path: listen, one frontend at a time */
	int fd;                     /* --fd: an already connected socket, or -1 */
	bool print_caps;            /* --print-capabilities */
	const char *blk_file;       /* --blk-file */
	int blk_fd;                 /* --blk-fd (opened by the supervisor), or -1 */
	bool read_only;
	bool direct;
	char serial[BLK_SERIAL_MAX + 1];
	uint32_t iops;              /* 0 = unlimited */
	unsigned num_queues;
	uint32_t poll_us;           /* --poll-us: longest polling window; 0 = never poll */
	char name[BLK_NAME_MAX + 1];
	bool no_seccomp;            /* --disable-seccomp: the sandbox without its filter */
	bool runas;                 /* --runas=UID:GID: the ids the sandbox drops to */
	uint32_t runas_uid, runas_gid;
};

/* Parse argv. Returns 0, or -EINVAL with a one-line reason in err (no trailing newline). */
int blk_opts_parse(struct blk_opts *o, int argc, char **argv, char *err, size_t errlen);
extern const char blk_capabilities[];   /* the --print-capabilities JSON line */

/* ---- the disk -------------------------------------------------------------------------- */

struct blk_disk {
	int fd;
	uint64_t capacity;          /* in 512-byte sectors (image size rounded down) */
	uint32_t blk_size;          /* 512, or 4096 when O_DIRECT needs it */
	bool read_only;
	bool direct;
	bool flush_failed;          /* sticky: once a flush failed, durability is unknown */
	char serial[BLK_SERIAL_MAX];
	unsigned num_queues;
};

/* Open (or adopt --blk-fd) the image named by o and size it. Returns 0 or -errno (logged). */
int blk_disk_open(struct blk_disk *d, const struct blk_opts *o);
void blk_disk_close(struct blk_disk *d);

uint64_t blk_features(const struct blk_disk *d);
/* Fill the config space (little-endian) for this disk. */
void blk_config(const struct blk_disk *d, struct virtio_blk_config *cfg);
/* Config read of [offset, offset+len) (zero past the struct). 0 or -EINVAL. */
int blk_config_read(const struct blk_disk *d, uint8_t *buf, uint32_t offset, uint32_t len);

/* ---- requests -------------------------------------------------------------------------- */

enum blk_op {
	BLK_OP_NONE,        /* complete at once with req.result */
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,
	BLK_OP_GET_ID,
	BLK_OP_DISCARD,     /* punch hole; advisory */
	BLK_OP_ZERO,        /* zero range, keeping the blocks */
	BLK_OP_PUNCH,       /* write zeroes with UNMAP: punch hole */
};

struct blk_req {
	uint32_t type;              /* VIRTIO_BLK_T_* from the header */
	uint64_t sector;
	enum blk_op op;
	uint8_t result;             /* VIRTIO_BLK_S_* when op == BLK_OP_NONE */
	uint8_t *status;            /* the status byte in guest memory */
	struct iovec *iov;          /* data buffers, inside elem->iov (header/status trimmed) */
	unsigned iovcnt;
	uint64_t offset;            /* byte offset of the I/O in the image */
	uint64_t len;               /* data bytes, or bytes of the discard/zero range */
	uint32_t written;           /* bytes the device wrote into the chain, status included */
};

/*
 * Parse a popped chain (elem->iov may be modified: the header and status byte are trimmed).
 * Returns 0 with r->op set (BLK_OP_NONE and r->result for requests answered at once:
 * UNSUPP for unknown types, IOERR for bad ranges, lengths, segments or writes to a read-only
 * disk), or -EINVAL when the chain has no room for the status byte: the chain is broken.
 */
int blk_req_parse(const struct blk_disk *d, struct vq_elem *elem, struct blk_req *r);
/* Copy the serial into the GET_ID buffer; sets r->written. */
void blk_req_get_id(const struct blk_disk *d, struct blk_req *r);

/* ---- IOPS limit ------------------------------------------------------------------------ */

/* Token bucket: `rate` tokens per second, up to `burst` stored; the level is kept in
 * nano-tokens so that refills at a million per second lose nothing to rounding. */
struct blk_bucket {
	uint64_t rate;              /* 0 = unlimited */
	uint64_t burst;
	uint64_t level;             /* nano-tokens */
	uint64_t last_ns;
};

void blk_bucket_init(struct blk_bucket *b, uint32_t iops, uint64_t now_ns);
/* Refill for now_ns; true when a token is available (not taken). */
bool blk_bucket_ready(struct blk_bucket *b, uint64_t now_ns);
void blk_bucket_consume(struct blk_bucket *b);
bool blk_bucket_take(struct blk_bucket *b, uint64_t now_ns);
/* Nanoseconds until the next token (0 when one is available). */
uint64_t blk_bucket_wait_ns(const struct blk_bucket *b);

/* ---- adaptive polling (poll.c) --------------------------------------------------------- */

/*
 * After the worker wakes for a kick or a completion, it polls the avail rings and the io_uring
 * completion queue for a window before it sleeps again, with the driver's kicks and the
 * completion eventfd off meanwhile: a request that comes within the window costs neither a
 * kick nor a wakeup. The window tunes itself as QEMU's AioContext polling does, by the time
 * from the start of the window that found nothing to the wakeup that brought work: within
 * the maximum but past the window, it doubles (from BLK_POLL_START_NS; a longer window would
 * have caught that work); past the maximum, it halves, to nothing below BLK_POLL_START_NS
 * (polling there is wasted: an idle disk, or reads slower than any window, as O_DIRECT ones
 * on a real disk). An idle disk costs one window after its last request, then less and less.
 */
#define BLK_POLL_START_NS    4000u

struct blk_poll {
	uint64_t max_ns;            /* --poll-us; 0: never poll */
	uint64_t window_ns;         /* the next window, in [0, max_ns] */
	uint64_t idle_since;        /* the loop sleeps, idle since then (the start of the window
				     * that found nothing); 0 while awake */
	bool polling;               /* kicks off, a window scheduled or running */
	uint64_t windows, hits;     /* windows polled, and those that found work */
};

void blk_poll_init(struct blk_poll *p, uint32_t poll_us);
/* The loop was woken at now by a kick or a completion: tune the window. */
void blk_poll_woke(struct blk_poll *p, uint64_t now);
/* The loop goes to sleep, idle since idle_since: the start of the window that found nothing,
 * or now when there was no window. */
void blk_poll_slept(struct blk_poll *p, uint64_t idle_since);

/* ---- the device and its io_uring engine (io.c) ---------------------------------------- */

struct blk_dev;

/* Event-loop services the engine asks for; NULL members are skipped (unit tests). */
struct blk_hooks {
	/* run blk_dev_resume after ns nanoseconds (IOPS limit); one timer, re-armed */
	void (*arm_timer)(struct blk_dev *d, uint64_t ns);
	uint64_t (*now_ns)(void);      /* CLOCK_MONOTONIC when NULL; tests inject a clock */
	/* a kick or a completion woke the loop (not a look of blk_dev_poll's) */
	void (*woke)(struct blk_dev *d);
};

struct blk_ioreq;

struct blk_dev {
	struct vu_dev vu;           /* the generic vhost-user part */
	struct blk_disk disk;
	struct blk_bucket bucket;
	struct blk_hooks hooks;
	void *loop;                 /* the hooks' own state */
	struct io_uring ring;
	int efd;                    /* eventfd signalled on each completion */
	struct blk_ioreq *pool, *free;
	unsigned pool_used;         /* slots handed out so far: untouched ones cost no memory */
	unsigned rr;                /* queue blk_dev_resume starts with, for fairness */
	unsigned busy;              /* requests submitted and not completed */
	unsigned q_busy[VU_MAX_QUEUES];
	uint64_t q_reqs[VU_MAX_QUEUES]; /* requests popped from each queue since the connection */
	bool q_stalled[VU_MAX_QUEUES];  /* stopped popping for lack of a request slot */
	bool throttled;             /* timer armed for the IOPS limit */
	bool queued;                /* SQEs prepared and not yet submitted */
	void *zero;                 /* BLK_ZERO_BUF zero bytes (write-zeroes fallback) */
	uint64_t features;          /* acked virtio features */
	struct ratelimit rl;
};

extern const struct vu_dev_ops blk_vu_ops;

/* Set up io_uring, the eventfd and the request pool for an opened disk. 0 or -errno. */
int blk_dev_init(struct blk_dev *d, const struct blk_hooks *hooks, uint32_t iops);
void blk_dev_exit(struct blk_dev *d);
/* Pop and start requests of queue qidx as far as slots and the IOPS budget allow. */
void blk_queue_process(struct blk_dev *d, unsigned qidx);
/* Reap completions (call when d->efd is readable). */
void blk_dev_reap(struct blk_dev *d);
/* Process every started queue (after a stall or the IOPS timer). */
void blk_dev_resume(struct blk_dev *d);
/* The IOPS timer fired: the budget has a token again. */
void blk_dev_timer(struct blk_dev *d);
/* Wait until no request of queue qidx (or of any queue, qidx < 0) is in flight. */
void blk_dev_drain(struct blk_dev *d, int qidx);
/* "requests per queue: q0 N, q1 N, ..." for the queues that had any; the counts restart. */
void blk_dev_log_stats(struct blk_dev *d);
/* One look for work without waiting: reap what io_uring completed, start what the started
 * queues have (unless throttled or out of request slots). True when it found any. */
bool blk_dev_poll(struct blk_dev *d);
/* The driver's kicks on every started queue and the completion eventfd, on or off (while the
 * loop polls). After turning them on, blk_dev_poll once more before sleeping. */
void blk_dev_kicks(struct blk_dev *d, bool on);

#endif
