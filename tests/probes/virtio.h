/* A minimal virtio-mmio (version 2) driver for the probes: find the slots (ACPI DSDT LNRO0005
 * devices, or virtio_mmio.device= words with acpi=off), bring one device up with one split
 * queue whose rings sit in guest RAM, and run requests synchronously by polling used->idx
 * from ring 3. No interrupts: the probe has no handler for them and needs none. Every wait is
 * bounded by an rdtsc deadline so a device that never answers becomes a PROBE FAIL. */
#ifndef PROBE_VIRTIO_H
#define PROBE_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* virtio-mmio register offsets (virtio 1.2 §4.2.2) */
#define VMMIO_MAGIC          0x000
#define VMMIO_VERSION        0x004
#define VMMIO_DEVICE_ID      0x008
#define VMMIO_VENDOR_ID      0x00c
#define VMMIO_DEV_FEATURES   0x010
#define VMMIO_DEV_FEAT_SEL   0x014
#define VMMIO_DRV_FEATURES   0x020
#define VMMIO_DRV_FEAT_SEL   0x024
#define VMMIO_QUEUE_SEL      0x030
#define VMMIO_QUEUE_NUM_MAX  0x034
#define VMMIO_QUEUE_NUM      0x038
#define VMMIO_QUEUE_READY    0x044
#define VMMIO_QUEUE_NOTIFY   0x050
#define VMMIO_INT_STATUS     0x060
#define VMMIO_INT_ACK        0x064
#define VMMIO_STATUS         0x070
#define VMMIO_QUEUE_DESC     0x080   /* low; high at +4 */
#define VMMIO_QUEUE_DRIVER   0x090
#define VMMIO_QUEUE_DEVICE   0x0a0
#define VMMIO_CONFIG_GEN     0x0fc
#define VMMIO_CONFIG         0x100

#define VMMIO_MAGIC_VALUE    0x74726976   /* "virt" */

#define VSTAT_ACK            1
#define VSTAT_DRIVER         2
#define VSTAT_DRIVER_OK      4
#define VSTAT_FEATURES_OK    8
#define VSTAT_NEEDS_RESET    0x40
#define VSTAT_FAILED         0x80

#define VIRTIO_F_VERSION_1   32

#define VQ_DESC_F_NEXT       1
#define VQ_DESC_F_WRITE      2
#define VQ_AVAIL_F_NO_INTERRUPT 1

#define VIO_MAX_SLOTS        16
#define VIO_QUEUE_MAX        128
#define VIO_QUEUE_MIN        16
#define VIO_CHAIN_MAX        4

/* Results of virtio_* calls: 0 or one of these (negative) */
enum {
	VIO_ETIMEDOUT = -1,  /* the device did not complete within the deadline */
	VIO_EPROTO = -2,     /* the device broke the protocol (bad used id/len, NEEDS_RESET) */
	VIO_EDEV = -3,       /* not a usable virtio-mmio v2 device, or feature/queue setup refused */
	VIO_EBROKEN = -4,    /* an earlier request timed out: buffers may still be in the device */
};

struct vio_slot {
	uint64_t base, size;
	unsigned irq;
};

struct vring_desc_s {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_used_elem_s {
	uint32_t id;
	uint32_t len;
};

struct vio_dev {
	uint64_t base;
	uint32_t device_id;
	uint64_t dev_features;      /* what the device offered */
	uint64_t features;          /* what was negotiated */
	uint16_t qsize;
	uint16_t avail_idx;         /* our shadow of avail->idx */
	uint16_t used_seen;         /* used->idx value we have consumed up to */
	uint16_t next_desc;         /* first descriptor of the next chain (rotates) */
	bool broken;
	struct vring_desc_s *desc;
	volatile uint16_t *avail;   /* flags, idx, ring[qsize] */
	volatile uint16_t *used;    /* flags, idx, then used elements */
};

/* One buffer of a request chain: guest-physical (== identity-mapped) address */
struct vio_buf {
	void *addr;
	uint32_t len;
	bool device_writes;
};

/* Register access. The host-side test of this driver supplies its own (a simulated device). */
#ifdef PROBE_HOST_TEST
uint32_t vmmio_read(uint64_t base, unsigned off);
void vmmio_write(uint64_t base, unsigned off, uint32_t v);
#else
static inline uint32_t vmmio_read(uint64_t base, unsigned off)
{
	return *(volatile uint32_t *)(uintptr_t)(base + off);
}

static inline void vmmio_write(uint64_t base, unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(base + off) = v;
}
#endif

/* Slots from the DSDT (dsdt != 0) or the command line; returns how many (<= max). */
unsigned virtio_find_slots_dsdt(uint64_t dsdt, struct vio_slot *out, unsigned max);
unsigned virtio_find_slots_cmdline(struct vio_slot *out, unsigned max);

/*
 * Reset the device at base, check magic/version/device id, negotiate VERSION_1 plus the wanted
 * device bits the device offers (no EVENT_IDX, no indirect), set up queue 0 with at most
 * VIO_QUEUE_MAX entries, and set DRIVER_OK. A failure is reported as "PROBE FAIL <what>: ...".
 */
int virtio_init(struct vio_dev *d, uint64_t base, uint32_t want_id, uint64_t want_features,
		const char *what);
/* Read n (<= 8) bytes of device config at off, retrying until ConfigGeneration is stable. */
void virtio_config_read(struct vio_dev *d, unsigned off, void *dst, unsigned n);
/*
 * Submit one chain of n (<= VIO_CHAIN_MAX) buffers, notify, and poll for its completion for at
 * most max_cycles TSC cycles. *used_len gets the length the device reported.
 */
int virtio_request(struct vio_dev *d, const struct vio_buf *b, unsigned n, uint32_t *used_len,
		   uint64_t max_cycles);
/* Status register after setup, for diagnostics */
uint32_t virtio_status(struct vio_dev *d);
const char *virtio_strerror(int err);

#endif
