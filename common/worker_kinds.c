/* The worker-kind table (worker_kinds.h). */
#include "worker_kinds.h"

#include <endian.h>
#include <string.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include "config.h"
#include "ipc.h"
#include "sandbox.h"

/* ---- blk: bulkhead-blk (dev-blk/) ---- */

/* struct virtio_blk_config up to write_zeroes_may_unmap and its padding: what QEMU 7.2 and
 * qemu-storage-daemon serve (they refuse a longer GET_CONFIG) */
#define BLK_CONFIG_LEN 60
#define BLK_EMPTY_SEG_MAX  126      /* dev-blk's BLK_SEG_MAX */
#define BLK_EMPTY_BLK_SIZE 512

/*
 * What every bulkhead-blk offers (dev-blk/blk.c blk_features): VERSION_1, INDIRECT_DESC,
 * EVENT_IDX, SEG_MAX, BLK_SIZE, FLUSH. Not RO, DISCARD, WRITE_ZEROES or MQ: those depend on
 * the disk, so a read-only hot-plugged disk answers writes with an I/O error instead of
 * showing RO to a driver bound before it came; a driver keeps what it accepted here.
 */
#define BLK_EMPTY_FEATURES ((1ULL << 32) | (1ULL << 28) | (1ULL << 29) | (1ULL << 2) | \
			    (1ULL << 6) | (1ULL << 9))

/* "No medium": capacity 0; segment limit and block size as the empty offer promises. */
static void blk_empty_config(uint8_t *cfg)
{
	struct virtio_blk_config c;

	memset(&c, 0, sizeof(c));
	c.seg_max = htole32(BLK_EMPTY_SEG_MAX);
	c.blk_size = htole32(BLK_EMPTY_BLK_SIZE);
	memcpy(cfg, &c, BLK_CONFIG_LEN);
}

/* Capacity 0, everything else as the driver already knows it. */
static void blk_unplugged_config(uint8_t *cfg)
{
	memset(cfg, 0, sizeof(uint64_t));
}

static const char *const blk_drivers[] = { "virtio-blk-mmio", "virtio-blk-device", NULL };

const struct worker_kind_desc worker_kinds[WORKER_KIND_MAX] = {
	[WORKER_BLK] = {
		.name = "blk",
		.noun = "drive",
		.slot_class = "disk",
		.program = "bulkhead-blk",
		.build_dir = "dev-blk",
		.sandbox = SANDBOX_DEV_BLK,
		.ipc_dev = IPC_DEV_BLK,
		.virtio_id = VIRTIO_ID_BLOCK,
		.first_slot = 0,
		.nslots = VM_MAX_DISKS,  /* StratoVirt microvm: six disk slots from boot */
		.config_len = BLK_CONFIG_LEN,
		.empty_config = blk_empty_config,
		.unplugged_config = blk_unplugged_config,
		.empty_features = BLK_EMPTY_FEATURES,
		.drivers = blk_drivers,
		.restart_burst = 5,
		.restart_window_s = 10,
	},
};

_Static_assert(VM_MAX_DISKS <= WORKER_SLOTS, "the disk slots are the core's slots");
_Static_assert(BLK_CONFIG_LEN <= WORKER_CONFIG_MAX, "WORKER_CONFIG_MAX");

int worker_kind_by_driver(const char *driver)
{
	for (int k = 0; k < WORKER_KIND_MAX; k++)
		for (const char *const *d = worker_kinds[k].drivers; *d; d++)
			if (!strcmp(*d, driver))
				return k;
	return -1;
}

int worker_kind_of_slot(unsigned slot)
{
	for (int k = 0; k < WORKER_KIND_MAX; k++)
		if (slot >= worker_kinds[k].first_slot &&
		    slot - worker_kinds[k].first_slot < worker_kinds[k].nslots)
			return k;
	return -1;
}
