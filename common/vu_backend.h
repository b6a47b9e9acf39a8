/* vhost-user backend dispatcher: handles the frontend's messages for one device, maps guest
 * memory and rings, and calls the device through a const ops table. No event loop inside:
 * the caller watches fds through vu_watch callbacks (libevent in the workers, a plain loop in
 * tests). */
#ifndef BULKHEAD_VU_BACKEND_H
#define BULKHEAD_VU_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "vhost_user.h"
#include "virtq.h"

/* 16 block queues, or 8 net queue pairs and the control queue */
#define VU_MAX_QUEUES 17

struct vu_dev;

/* Device behaviour, given by each worker (dev-blk, ...). */
struct vu_dev_ops {
	uint64_t (*get_features)(struct vu_dev *dev);           /* virtio device features */
	uint64_t (*get_protocol_features)(struct vu_dev *dev);  /* beyond what the library adds */
	void (*set_features)(struct vu_dev *dev, uint64_t features);
	/* config space read at [offset, offset+len); return 0 or -errno */
	int (*get_config)(struct vu_dev *dev, uint8_t *buf, uint32_t offset, uint32_t len);
	int (*set_config)(struct vu_dev *dev, const uint8_t *buf, uint32_t offset, uint32_t len);
	/* what GET_QUEUE_NUM reports when it is not nqueues: a net device counts queue pairs
	 * (QEMU's vhost-user netdev compares it with queues=); NULL for nqueues */
	uint64_t (*get_queue_num)(struct vu_dev *dev);
	/* the queue's kick fd fired (or it was just started with work pending) */
	void (*queue_kick)(struct vu_dev *dev, unsigned qidx);
	/* queue started (rings, kick and enable in place) / being stopped (GET_VRING_BASE) */
	void (*queue_start)(struct vu_dev *dev, unsigned qidx);
	void (*queue_stop)(struct vu_dev *dev, unsigned qidx);
	/* The queue's rings are served by the host kernel (a vhost device the backend bridges
	 * to): the device hands them over in queue_start (rings, base, kick and call fds) and
	 * takes them back in queue_stop, setting the queue's base to where the kernel got
	 * (vq_set_base) - a new call or kick fd on a running queue is a stop and a start. Its
	 * kick fd is not watched here and no in-flight area applies. NULL: none is. */
	bool (*queue_in_kernel)(struct vu_dev *dev, unsigned qidx);
};

/* How the library asks its host to watch an fd for readability. */
struct vu_watch {
	void (*add)(void *loop, int fd, void (*cb)(void *arg), void *arg);
	void (*del)(void *loop, int fd);
	void *loop;
};

struct vu_queue {
	struct vq vq;
	uint16_t num;               /* from SET_VRING_NUM */
	uint16_t base;              /* from SET_VRING_BASE, applied when the queue starts */
	struct vu_vring_addr addr;  /* from SET_VRING_ADDR */
	bool addr_set;
	bool enabled;
	bool started;
	int kick_fd, call_fd, err_fd;
	struct vu_dev *dev;
	unsigned idx;
};

struct vu_dev {
	const char *name;           /* log prefix, e.g. "blk/rootfs" */
	int sock;
	unsigned nqueues;           /* queues the frontend may set up (and GET_QUEUE_NUM) */
	uint64_t features;          /* acked by SET_FEATURES */
	uint64_t protocol_features; /* acked by SET_PROTOCOL_FEATURES */
	struct vq_mem mem;
	void *mmap_base[VU_MAX_REGIONS];
	uint64_t mmap_size[VU_MAX_REGIONS];
	struct vu_queue q[VU_MAX_QUEUES];
	void *inflight_base;        /* mapped VHOST_USER_SET_INFLIGHT_FD / GET_INFLIGHT_FD area */
	uint64_t inflight_size;
	uint16_t inflight_nqueues;  /* layout of that area (SET_INFLIGHT_FD) */
	uint16_t inflight_qsize;
	int inflight_fd;
	const struct vu_dev_ops *ops;
	struct vu_watch watch;
	bool broken;                /* the connection must be closed */
	bool sock_watched;
	void *priv;                 /* the device's own state */
};

/*
 * Initialise for a connected socket; nqueues 1..VU_MAX_QUEUES. Watches sock for messages and
 * dispatches them from the watch callback; when the connection fails there, the device is
 * marked broken and every fd it watched is unwatched (so an event loop with nothing else to
 * do returns); the owner then calls vu_dev_exit.
 */
int vu_dev_init(struct vu_dev *dev, const char *name, int sock, unsigned nqueues,
		const struct vu_dev_ops *ops, const struct vu_watch *watch, void *priv);
/*
 * Read and handle one message (call when sock is readable). Returns 0 to keep going, or <0
 * when the connection must be closed (EOF, malformed message, failed request): the caller
 * then calls vu_dev_exit. Never aborts on anything the frontend sends.
 */
int vu_dev_dispatch(struct vu_dev *dev);
/* Stop queues, unmap memory and inflight area, close fds (not sock: the caller owns it). */
void vu_dev_exit(struct vu_dev *dev);

/* Signal the queue's call eventfd when vq_should_notify says the driver wants it. */
void vu_queue_notify(struct vu_dev *dev, unsigned qidx);

#endif
