/* The worker-kind table (worker_kinds.h). */
#include "worker_kinds.h"

#include <endian.h>
#include <stddef.h>
#include <string.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_fs.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_vsock.h>

#include "config.h"
#include "ipc.h"
#include "ipc_qmp.h"
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
static void blk_empty_config(uint8_t *cfg, const uint8_t mac[6])
{
	struct virtio_blk_config c;

	(void)mac;
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

/* ---- net: bulkhead-net (dev-net/) ---- */

/* struct virtio_net_config up to supported_hash_types: MAC, status, queue pairs, MTU, speed,
 * duplex and the RSS limits */
#define NET_CONFIG_LEN 24
/* What an empty NIC slot offers: VERSION_1, MAC, STATUS. A NIC plugged in later serves the
 * driver with what it accepted at boot: no offloads, one queue pair. */
#define NET_EMPTY_FEATURES ((1ULL << 32) | (1ULL << VIRTIO_NET_F_MAC) | \
			    (1ULL << VIRTIO_NET_F_STATUS))

/* The slot's MAC (the driver reads it once, at probe: a NIC plugged later keeps it), link down. */
static void net_empty_config(uint8_t *cfg, const uint8_t mac[6])
{
	struct virtio_net_config c;

	memset(&c, 0, sizeof(c));
	memcpy(c.mac, mac, sizeof(c.mac));
	c.max_virtqueue_pairs = htole16(1);
	memcpy(cfg, &c, NET_CONFIG_LEN);
}

/* Link down, everything else as the driver knows it. */
static void net_unplugged_config(uint8_t *cfg)
{
	memset(cfg + offsetof(struct virtio_net_config, status), 0, sizeof(uint16_t));
}

static uint64_t net_queues(uint64_t pairs, uint64_t features, const uint8_t *cfg)
{
	(void)cfg;
	return 2 * pairs + !!(features & (1ULL << VIRTIO_NET_F_CTRL_VQ));
}

static const char *const net_drivers[] = { "virtio-net-mmio", "virtio-net-device", NULL };

/* ---- the fixed kinds: vsock, rng, console ---- */

/* Their slot exists only with a device, whose worker gives the config space before the guest
 * runs, and is never unplugged: nothing to write into the caller's zeroed buffer, at boot or
 * after. (vsock's config is the CID; virtio-rng has none; the console offers neither SIZE nor
 * MULTIPORT, so its fields mean nothing.) */
static void fixed_empty_config(uint8_t *cfg, const uint8_t mac[6])
{
	(void)cfg;
	(void)mac;
}

static void fixed_unplugged_config(uint8_t *cfg)
{
	(void)cfg;
}

#define VSOCK_CONFIG_LEN 8        /* struct virtio_vsock_config: guest_cid */

static const char *const vsock_drivers[] = { "vsock", "vhost-vsock-device", NULL };

static const char *const rng_drivers[] = { "virtio-rng-device", NULL };

#define CONSOLE_CONFIG_LEN 12     /* struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr */

/* the port; its bus, virtio-serial-device, is the command line's business (cli_console.c) */
static const char *const console_drivers[] = { "virtconsole", NULL };

/* ---- fs: vhost-user-fs-device, an external virtiofsd ---- */

#define FS_CONFIG_LEN 40          /* struct virtio_fs_config: tag[36], num_request_queues */

static void fs_config(uint8_t *cfg, const struct core_config *c)
{
	struct virtio_fs_config f;

	memset(&f, 0, sizeof(f));
	memcpy(f.tag, c->fs_tag, strnlen(c->fs_tag, sizeof(f.tag)));
	f.num_request_queues = htole32(c->fs_request_queues);
	memcpy(cfg, &f, FS_CONFIG_LEN);
}

/* hiprio and the request queues, whatever GET_QUEUE_NUM said (virtiofsd has no MQ) */
static uint64_t fs_queues(uint64_t nq, uint64_t features, const uint8_t *cfg)
{
	uint32_t req;

	(void)nq;
	(void)features;
	memcpy(&req, cfg + offsetof(struct virtio_fs_config, num_request_queues), sizeof(req));
	return 1 + (uint64_t)le32toh(req);
}

static const char *const fs_drivers[] = { "vhost-user-fs-device", NULL };

const struct worker_kind_desc worker_kinds[WORKER_KIND_MAX] = {
	[WORKER_BLK] = {
		.name = "blk",
		.noun = "drive",
		.slot_class = "disk",
		.program = "bulkhead-blk",
		.build_dir = "dev-blk",
		.sandbox = SANDBOX_DEV_BLK,
		.ipc_dev = IPC_DEV_BLK,
		.ipc_dev_external = IPC_DEV_VHOST_USER_BLK,
		.virtio_id = VIRTIO_ID_BLOCK,
		.first_slot = 0,
		.nslots = VM_MAX_DISKS,  /* StratoVirt microvm: six disk slots from boot */
		.config_len = BLK_CONFIG_LEN,
		.empty_config = blk_empty_config,
		.unplugged_config = blk_unplugged_config,
		.empty_features = BLK_EMPTY_FEATURES,
		.empty_queues = 1,
		.drivers = blk_drivers,
		.restart_burst = 5,
		.restart_window_s = 10,
	},
	[WORKER_NET] = {
		.name = "net",
		.noun = "netdev",
		.slot_class = "NIC",
		.program = "bulkhead-net",
		.build_dir = "dev-net",
		.sandbox = SANDBOX_DEV_NET,
		.ipc_dev = IPC_DEV_NET,
		.ipc_dev_external = IPC_DEV_VHOST_USER_NET,
		.virtio_id = VIRTIO_ID_NET,
		.first_slot = VM_MAX_DISKS,
		.nslots = VM_MAX_NICS,  /* StratoVirt microvm: two NIC slots from boot */
		.config_len = NET_CONFIG_LEN,
		.empty_config = net_empty_config,
		.unplugged_config = net_unplugged_config,
		.empty_features = NET_EMPTY_FEATURES,
		.empty_queues = 2,      /* receiveq1, transmitq1 */
		.queues = net_queues,
		.drivers = net_drivers,
		.restart_burst = 5,
		.restart_window_s = 10,
	},
	[WORKER_VSOCK] = {
		.name = "vsock",
		.noun = "vsock",
		.slot_class = "vsock",
		.program = "bulkhead-vsock",
		.build_dir = "dev-vsock",
		.sandbox = SANDBOX_DEV_VSOCK,
		.ipc_dev = IPC_DEV_VSOCK,
		.ipc_dev_external = IPC_DEV_VHOST_USER_VSOCK,
		.virtio_id = VIRTIO_ID_VSOCK,
		.first_slot = VM_MAX_DISKS + VM_MAX_NICS,
		.nslots = VM_MAX_VSOCKS,
		.config_len = VSOCK_CONFIG_LEN,
		.empty_config = fixed_empty_config,
		.unplugged_config = fixed_unplugged_config,
		.empty_features = 1ULL << 32,
		.empty_queues = 3,      /* rx, tx, event */
		.drivers = vsock_drivers,
		.fixed = true,
		.restart_burst = 5,
		.restart_window_s = 10,
	},
	[WORKER_RNG] = {
		.name = "rng",
		.noun = "rng",
		.slot_class = "rng",
		.program = "bulkhead-rng",
		.build_dir = "dev-rng",
		.sandbox = SANDBOX_DEV_RNG,
		.ipc_dev = IPC_DEV_RNG,
		.ipc_dev_external = IPC_DEV_NONE,
		.virtio_id = VIRTIO_ID_RNG,
		.first_slot = VM_MAX_DISKS + VM_MAX_NICS + VM_MAX_VSOCKS,
		.nslots = VM_MAX_RNGS,
		.config_len = 0,
		.empty_config = fixed_empty_config,
		.unplugged_config = fixed_unplugged_config,
		.empty_features = 1ULL << 32,
		.empty_queues = 1,      /* requestq */
		.drivers = rng_drivers,
		.fixed = true,
		.restart_burst = 5,
		.restart_window_s = 10,
	},
	[WORKER_CONSOLE] = {
		.name = "console",
		.noun = "console",
		.slot_class = "console",
		.program = "bulkhead-hvc",
		.build_dir = "dev-console",
		.sandbox = SANDBOX_DEV_CONSOLE,
		.ipc_dev = IPC_DEV_CONSOLE,
		.ipc_dev_external = IPC_DEV_NONE,
		.virtio_id = VIRTIO_ID_CONSOLE,
		.first_slot = VM_MAX_DISKS + VM_MAX_NICS + VM_MAX_VSOCKS + VM_MAX_RNGS,
		.nslots = VM_MAX_CONSOLES,
		.config_len = CONSOLE_CONFIG_LEN,
		.empty_config = fixed_empty_config,
		.unplugged_config = fixed_unplugged_config,
		.empty_features = 1ULL << 32,
		.empty_queues = 2,      /* receiveq0, transmitq0 */
		.drivers = console_drivers,
		.fixed = true,
		.restart_burst = 5,
		.restart_window_s = 10,
	},
	[WORKER_FS] = {
		.name = "fs",
		.noun = "fs",
		.slot_class = "virtio-fs",
		.program = NULL,        /* virtiofsd: the user's, started before the VM */
		.ipc_dev = IPC_DEV_NONE,
		.ipc_dev_external = IPC_DEV_VHOST_USER_FS,
		.virtio_id = VIRTIO_ID_FS,
		.first_slot = VM_MAX_DISKS + VM_MAX_NICS + VM_MAX_VSOCKS + VM_MAX_RNGS +
			      VM_MAX_CONSOLES,
		.nslots = VM_MAX_FS,
		.config_len = FS_CONFIG_LEN,
		.empty_config = fixed_empty_config,
		.unplugged_config = fixed_unplugged_config,
		.frontend_config = fs_config,
		.empty_features = 1ULL << 32,
		.empty_queues = 2,      /* hiprio, one request queue */
		.queues = fs_queues,
		.drivers = fs_drivers,
		.fixed = true,
	},
};

_Static_assert(VM_MAX_DISKS + VM_MAX_NICS + VM_MAX_VSOCKS + VM_MAX_RNGS + VM_MAX_CONSOLES +
	       VM_MAX_FS == WORKER_SLOTS, "the core's slots: disks, NICs, vsock, rng, console, fs");
_Static_assert(sizeof(struct virtio_fs_config) == FS_CONFIG_LEN, "FS_CONFIG_LEN");
_Static_assert(VM_FS_TAG_MAX == sizeof(((struct virtio_fs_config *)0)->tag), "VM_FS_TAG_MAX");
_Static_assert(sizeof(struct virtio_vsock_config) == VSOCK_CONFIG_LEN, "VSOCK_CONFIG_LEN");
_Static_assert(WORKER_SLOTS <= IPC_MAX_SLOTS, "IPC_MAX_SLOTS");
_Static_assert(VM_MAX_NICS == QMP_MAX_NICS, "query-net-stats has room for every NIC slot");
_Static_assert(IPC_DEV_ID_MAX == QMP_ID_MAX && VM_ID_MAX < IPC_DEV_ID_MAX, "device ids");
_Static_assert(BLK_CONFIG_LEN <= WORKER_CONFIG_MAX, "WORKER_CONFIG_MAX");
_Static_assert(NET_CONFIG_LEN == offsetof(struct virtio_net_config, supported_hash_types) + 4,
	       "NET_CONFIG_LEN");

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

bool worker_slot_takes(unsigned slot, uint32_t ipc_dev)
{
	int k = worker_kind_of_slot(slot);

	return k >= 0 && ipc_dev != IPC_DEV_NONE &&
	       (ipc_dev == worker_kinds[k].ipc_dev || ipc_dev == worker_kinds[k].ipc_dev_external);
}
