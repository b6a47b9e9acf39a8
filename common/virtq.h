/* Split-ring virtqueue for device backends, with no event-loop dependency (libvhost-user
 * style): pop a descriptor chain as iovecs after every check of DESIGN.md §8, push used
 * elements, decide on notifications with EVENT_IDX, and keep the shared inflight record
 * (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) so a restarted backend can resubmit. A queue that sees
 * a bad chain is marked broken: it logs once (rate-limited) and every later call is a no-op. */
#ifndef BULKHEAD_VIRTQ_H
#define BULKHEAD_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_ring.h>

#include "log.h"

#define VQ_MAX_SIZE      32768      /* virtio split-ring maximum queue size */
#define VQ_MAX_REGIONS   8          /* vhost-user VHOST_MEMORY_BASELINE_NREGIONS */
#define VQ_MAX_INDIRECT  1024       /* cap on entries of one indirect table (len / 16) */

/* One guest RAM region as the backend mapped it. */
struct vq_region {
	uint64_t gpa;       /* guest-physical start */
	uint64_t size;
	uint64_t uaddr;     /* frontend's user address: vring addresses arrive in this space */
	uint8_t *hva;       /* where this process mapped it */
};

struct vq_mem {
	unsigned nr;
	struct vq_region r[VQ_MAX_REGIONS];
};

/* Host pointer for [gpa, gpa+len) if it lies wholly inside one region (overflow-safe), else NULL. */
void *vq_gpa_to_hva(const struct vq_mem *m, uint64_t gpa, uint64_t len);
/* Same for a frontend user address (vring addresses of VHOST_USER_SET_VRING_ADDR). */
void *vq_uva_to_hva(const struct vq_mem *m, uint64_t uva, uint64_t len);

/* The shared inflight area of one split queue, exactly as the vhost-user spec lays it out. */
struct vq_inflight_desc {
	uint8_t inflight;
	uint8_t padding[5];
	uint16_t next;
	uint64_t counter;
};

struct vq_inflight {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;
	struct vq_inflight_desc desc[];
};

/* Bytes of inflight area for one queue of queue_size, rounded as the spec/QEMU do (to 64). */
size_t vq_inflight_queue_size(uint16_t queue_size);

struct vq {
	const char *name;           /* for log lines, e.g. "blk/rootfs q0" */
	uint16_t num;               /* queue size; power of two, 1..VQ_MAX_SIZE */
	bool ready;                 /* rings set up and enabled */
	bool broken;                /* the driver broke the protocol: NEEDS_RESET */
	bool event_idx;             /* VIRTIO_RING_F_EVENT_IDX negotiated */
	const struct vq_mem *mem;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail_idx;    /* next avail entry to consume */
	uint16_t used_idx;          /* our copy of used->idx */
	uint16_t signalled_used;
	bool signalled_used_valid;
	bool kicks_off;             /* vq_kicks(false): the device polls, the driver need not kick */
	uint8_t *busy;              /* bitmap of heads popped and not yet pushed (num bits) */
	struct vq_inflight *inflight;   /* shared area for this queue, or NULL */
	uint64_t inflight_counter;
	uint16_t *resubmit;         /* heads to hand out again after a restart, oldest first */
	unsigned resubmit_nr, resubmit_pos;
	struct ratelimit rl;
};

/* One popped chain: readable (driver -> device) buffers first, then writable ones. */
struct vq_elem {
	uint16_t head;
	unsigned out_num, in_num;
	uint64_t out_len, in_len;   /* total bytes of each direction */
	struct iovec *iov;          /* caller-provided, iov_cap entries */
	unsigned iov_cap;
	bool resubmitted;           /* handed out again after a restart (for vq_rewind) */
};

/*
 * Attach rings (already translated to host pointers by the caller, which checked they lie in
 * guest RAM for their full size: 16*num, 6+2*num and 6+8*num bytes, event fields included) to
 * vq. num must be a power of two <= VQ_MAX_SIZE; avail must be 2- and used 4-byte aligned
 * (their indices are accessed atomically). vq must be zero-initialised or set up before (what
 * a previous setup allocated is freed; its rate limit is kept). The used index starts at the
 * ring's used->idx, the avail index at 0 until vq_set_base. Returns 0 or -EINVAL / -ENOMEM.
 */
int vq_setup(struct vq *vq, const char *name, const struct vq_mem *mem, uint16_t num,
	     void *desc, void *avail, void *used, bool event_idx);
void vq_teardown(struct vq *vq);

/* Start consuming at this avail index (VHOST_USER_SET_VRING_BASE). */
void vq_set_base(struct vq *vq, uint16_t last_avail_idx);
uint16_t vq_get_base(const struct vq *vq);

/*
 * Use `area` (vq_inflight_queue_size bytes inside the shared inflight fd) for this queue. With
 * fresh=true (or an all-zero area no backend has used) the area is initialised; otherwise it
 * is recovered: a half-finished used-ring batch is completed and every head still marked in
 * flight is queued for resubmission (in counter order), handed out by vq_pop before new avail
 * entries, and the avail index becomes used->idx + (heads resubmitted) so the avail entries
 * those heads came from are not consumed again.
 * Order: vq_setup, then vq_set_base, then vq_set_inflight. Recovery supersedes the base (the
 * frontend of a dead backend can only send used->idx); a vq_set_base after it would undo that.
 * Returns 0, -ENOMEM, or -EINVAL when vq is not set up or the area is inconsistent (then the
 * queue is broken).
 */
int vq_set_inflight(struct vq *vq, struct vq_inflight *area, bool fresh);

/*
 * Pop the next chain into elem. Returns 1 with elem filled, 0 when nothing is available,
 * -EIO when the queue is (or just became) broken. Checks: head and every next < num; chain
 * length <= num (loops end there); indirect tables of len % 16 == 0, 1..VQ_MAX_INDIRECT
 * entries, inside guest RAM, never nested, only as the head and without NEXT (a chain inside
 * the table is at most its entry count long); every buffer wholly inside one guest region
 * with overflow-checked arithmetic; no writable buffer before a readable one; no head popped
 * twice before it was pushed; more segments than elem->iov_cap is a broken chain too.
 * Zero-length buffers are allowed and skipped (not in iov).
 */
int vq_pop(struct vq *vq, struct vq_elem *elem);

/* Return head to the driver with `written` bytes written. -EINVAL for a head not in flight,
 * -EIO (nothing done) on a broken or torn-down queue. */
int vq_push(struct vq *vq, uint16_t head, uint32_t written);

/*
 * Hand back the n most recently popped chains (in pop order, none pushed) as if never popped:
 * the avail index moves back (or a resubmitted head returns to the resubmit list), the heads
 * are no longer in flight. A receive queue that popped buffers for a frame that did not come
 * (or did not fit) gives them back this way. 0, -EINVAL for a head not in flight, -EIO on a
 * broken or torn-down queue.
 */
int vq_rewind(struct vq *vq, const struct vq_elem *const *elems, unsigned n);

/* Push n elements (id = head, len = bytes written) and publish them with one used->idx store,
 * so the driver sees all or none (a mergeable RX packet spans several). Every head is
 * checked first: -EINVAL (nothing pushed) for one not in flight, -EIO when broken. */
int vq_push_batch(struct vq *vq, const struct vring_used_elem *el, unsigned n);

/* True when the driver wants an interrupt for what was pushed since the last notification
 * (EVENT_IDX used_event, or VRING_AVAIL_F_NO_INTERRUPT without it). */
bool vq_should_notify(struct vq *vq);

/* Is a chain waiting to be popped (a new avail entry, or one to resubmit)? A cheap look for
 * a device that polls; vq_pop still does every check. False on a broken or unready queue. */
bool vq_avail_pending(const struct vq *vq);

/*
 * Tell the driver whether it needs to kick: with false (a polling device) the used ring says
 * VRING_USED_F_NO_NOTIFY, or under EVENT_IDX avail_event goes one behind the next entry and
 * stays there; with true both ask for a kick at the next entry again. After turning kicks back on, look with
 * vq_avail_pending once more before sleeping: an entry added while they were off was not
 * kicked. No-op on a broken or unready queue.
 */
void vq_kicks(struct vq *vq, bool on);

/* Mark broken with a rate-limited log line; later pops/pushes do nothing. */
void vq_break(struct vq *vq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
