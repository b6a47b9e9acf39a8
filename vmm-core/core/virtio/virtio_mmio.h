/* The virtio-mmio v2 transport (virtio 1.1 §4.2.2) of one slot: the register file the guest's
 * virtio_mmio driver sees, feature negotiation, queue setup and the status machine. The data path
 * lives elsewhere (a vhost-user backend behind struct vmmio_ops); the transport only decides when
 * it starts and stops, and serves config space from a cached copy. No KVM here, so unit tests
 * drive it with a fake backend. Included by bulkhead-core only. */
#ifndef BULKHEAD_VIRTIO_MMIO_H
#define BULKHEAD_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "log.h"
#include "memory.h"

/* Register offsets (virtio 1.1 §4.2.2) */
#define VMMIO_MAGIC_VALUE        0x000
#define VMMIO_VERSION            0x004
#define VMMIO_DEVICE_ID          0x008
#define VMMIO_VENDOR_ID          0x00c
#define VMMIO_DEVICE_FEATURES    0x010
#define VMMIO_DEVICE_FEATURES_SEL 0x014
#define VMMIO_DRIVER_FEATURES    0x020
#define VMMIO_DRIVER_FEATURES_SEL 0x024
#define VMMIO_QUEUE_SEL          0x030
#define VMMIO_QUEUE_NUM_MAX      0x034
#define VMMIO_QUEUE_NUM          0x038
#define VMMIO_QUEUE_READY        0x044
#define VMMIO_QUEUE_NOTIFY       0x050
#define VMMIO_INTERRUPT_STATUS   0x060
#define VMMIO_INTERRUPT_ACK      0x064
#define VMMIO_STATUS             0x070
#define VMMIO_QUEUE_DESC_LOW     0x080
#define VMMIO_QUEUE_DESC_HIGH    0x084
#define VMMIO_QUEUE_AVAIL_LOW    0x090
#define VMMIO_QUEUE_AVAIL_HIGH   0x094
#define VMMIO_QUEUE_USED_LOW     0x0a0
#define VMMIO_QUEUE_USED_HIGH    0x0a4
#define VMMIO_SHM_SEL            0x0ac   /* shared memory regions: we have none */
#define VMMIO_SHM_LEN_LOW        0x0b0
#define VMMIO_SHM_LEN_HIGH       0x0b4
#define VMMIO_SHM_BASE_LOW       0x0b8
#define VMMIO_SHM_BASE_HIGH      0x0bc
#define VMMIO_CONFIG_GENERATION  0x0fc
#define VMMIO_CONFIG             0x100

#define VMMIO_MAGIC              0x74726976u   /* "virt" */
#define VMMIO_VENDOR             0x4b484c42u   /* "BLHK": bulkhead */
#define VMMIO_INT_VRING          (1u << 0)
#define VMMIO_INT_CONFIG         (1u << 1)

/* Device status bits (virtio 1.1 §2.1) */
#define VMMIO_S_ACKNOWLEDGE      0x01
#define VMMIO_S_DRIVER           0x02
#define VMMIO_S_DRIVER_OK        0x04
#define VMMIO_S_FEATURES_OK      0x08
#define VMMIO_S_NEEDS_RESET      0x40
#define VMMIO_S_FAILED           0x80

#define VMMIO_F_VERSION_1        32
/* What this transport can carry: the device-specific bits 0..23 and 50..63 (virtio 1.2
 * §6: e.g. virtio-net's RSS is bit 60), INDIRECT_DESC, EVENT_IDX, VERSION_1. Not PACKED (the
 * backends do split rings), not ACCESS_PLATFORM (no IOMMU), and never the vhost-user bit 30
 * (PROTOCOL_FEATURES), which means nothing to a guest. */
#define VMMIO_FEATURES_DEV_HIGH  (~0ULL << 50)
#define VMMIO_FEATURES_MASK      (0xffffffULL | (1ULL << 28) | (1ULL << 29) | \
				  (1ULL << VMMIO_F_VERSION_1) | VMMIO_FEATURES_DEV_HIGH)

#define VMMIO_MAX_QUEUES         17   /* a NIC's 8 queue pairs and its control queue */
#define VMMIO_QUEUE_NUM_MAX_DEFAULT 256
#define VMMIO_CONFIG_MAX         256

struct vmmio;

/* What the transport asks of whatever serves the device (vu_slot in the core, a fake in
 * tests). All are called with the transport lock held. */
struct vmmio_ops {
	/* DRIVER_OK was set with valid queues: start the data path. 0 or -errno (-> NEEDS_RESET). */
	int (*start)(struct vmmio *t);
	/* The driver reset the device (Status = 0) after a start: stop the data path. */
	void (*reset)(struct vmmio *t);
	/* Fill buf with len bytes of device config space; 0 or -errno. */
	int (*get_config)(struct vmmio *t, uint8_t *buf, uint32_t len);
	/* A QueueNotify for queue qidx (< nqueues) that reached the core, not the backend's
	 * ioeventfd: pass it on, or the driver may wait forever for its request. NULL: none. */
	void (*notify)(struct vmmio *t, unsigned qidx);
};

struct vmmio_queue {
	uint32_t num;               /* QueueNum as written; checked at start */
	bool ready;
	uint64_t desc, avail, used; /* guest-physical */
};

struct vmmio {
	pthread_mutex_t lock;
	const char *name;           /* "slot 0", for log lines */
	uint32_t device_id;         /* 0: nothing in the slot */
	unsigned gsi;
	const struct vmmio_ops *ops;
	void *opaque;               /* for ops, recovered by the caller */
	void (*raise_irq)(void *irq_opaque, unsigned gsi);
	void *irq_opaque;
	const struct guest_mem *mem;  /* rings must lie in here */
	bool worker_backed;         /* report VRING in InterruptStatus: the worker's irqfd fired */

	/* What the backend offers; set by vmmio_set_backend */
	uint64_t device_features;
	unsigned nqueues;
	uint32_t queue_num_max;
	uint8_t config[VMMIO_CONFIG_MAX];
	uint32_t config_len;
	uint32_t config_generation;

	/* Driver-visible state */
	uint32_t status;
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
	uint64_t driver_features;
	uint32_t int_status;        /* only VMMIO_INT_CONFIG is latched; VRING is reported live */
	bool started;               /* ops->start succeeded and no reset since */
	struct vmmio_queue q[VMMIO_MAX_QUEUES];

	uint64_t accesses;          /* register accesses that reached the core */
	struct ratelimit rl;
};

/*
 * Initialise an empty slot (DeviceID 0 until vmmio_set_backend). irq is raised (a pulse) for
 * config-change interrupts. mem may be NULL only in tests that never start queues.
 */
void vmmio_init(struct vmmio *t, const char *name, unsigned gsi, const struct vmmio_ops *ops,
		void *opaque, void (*raise_irq)(void *, unsigned), void *irq_opaque,
		const struct guest_mem *mem);
void vmmio_exit(struct vmmio *t);

/* Bus glue: register at the slot base with t as opaque. Each takes the lock. */
extern const struct bus_dev_ops vmmio_bus_ops;
void vmmio_read(struct vmmio *t, uint64_t offset, void *data, unsigned len);
void vmmio_write(struct vmmio *t, uint64_t offset, const void *data, unsigned len);

/*
 * With the lock held: what a (new) backend offers. features are masked to
 * VMMIO_FEATURES_MASK; nqueues capped at VMMIO_MAX_QUEUES. If the driver already accepted
 * features that the new offer lacks, the device needs a reset.
 */
void vmmio_set_backend(struct vmmio *t, uint32_t device_id, uint64_t features, unsigned nqueues);
/*
 * With the lock held: fetch config space through ops->get_config (len bytes, capped) into the
 * cache. When it differs from what the driver saw, bump ConfigGeneration, latch
 * InterruptStatus.CONFIG and raise the interrupt. Returns 0 or the get_config error.
 */
int vmmio_refresh_config(struct vmmio *t, uint32_t len);
/* With the lock held: replace the cached config space (len capped) without asking ops, e.g.
 * the "no medium" config of an empty hotplug slot; same generation/interrupt rule as above. */
void vmmio_set_config(struct vmmio *t, const uint8_t *buf, uint32_t len);
/* With the lock held: the backend broke; set DEVICE_NEEDS_RESET and tell the driver. */
void vmmio_needs_reset(struct vmmio *t, const char *why);

static inline void vmmio_lock(struct vmmio *t) { pthread_mutex_lock(&t->lock); }
static inline void vmmio_unlock(struct vmmio *t) { pthread_mutex_unlock(&t->lock); }

#endif
