/*
 * The worker kinds: one entry per kind of device worker (a vhost-user backend that bulkhead
 * spawns, sandboxes and restarts), read by every process that deals with one:
 *   the supervisor  which program to run and from where, its sandbox, its restart policy
 *                   (vmm-core/supervisor/workers.c; what it opens for one and the worker's
 *                   arguments: vmm-core/supervisor/kinds.c)
 *   the core        its virtio-mmio slots, virtio device id, config space, what an empty slot
 *                   offers, the device_add drivers that go there (vmm-core/core/)
 *   qmpd            the device_add drivers it passes on
 * Adding a kind: an entry in worker_kinds[] (worker_kinds.c), its supervisor ops (kinds.c),
 * its options (vmm-core/supervisor/cli*.c), and its worker program.
 */
#ifndef BULKHEAD_WORKER_KINDS_H
#define BULKHEAD_WORKER_KINDS_H

#include <stdbool.h>
#include <stdint.h>

struct core_config;

enum worker_kind {
	WORKER_BLK,
	WORKER_NET,
	WORKER_VSOCK,
	WORKER_RNG,
	WORKER_CONSOLE,
	WORKER_FS,
	WORKER_KIND_MAX,
};

/* All the core's virtio-mmio slots, every kind's range together: 6 disks, 2 NICs, a vsock,
 * an rng, a console, a virtio-fs. */
#define WORKER_SLOTS 12

/* Longest config space any kind has (the transport's VMMIO_CONFIG_MAX is at least this). */
#define WORKER_CONFIG_MAX 256

struct worker_kind_desc {
	const char *name;             /* "blk", in log lines and tables */
	const char *noun;             /* "drive": what log lines call the thing one serves */
	const char *slot_class;       /* "disk": what QMP errors call its slots */
	const char *program;          /* the worker executable; NULL: external backends only */
	const char *build_dir;        /* the folder the build tree has it in */
	int sandbox;                  /* the worker's enum sandbox_kind (common/sandbox.h) */
	uint32_t ipc_dev;             /* IPC_DEV_*: the slot kind the core is told at boot */
	uint32_t ipc_dev_external;    /* an external vhost-user backend's, or IPC_DEV_NONE */
	uint32_t virtio_id;           /* the virtio device id DeviceID reads */
	unsigned first_slot;          /* its slots in the core: first_slot .. */
	unsigned nslots;              /*   first_slot + nslots - 1 */
	/* Config space: config_len bytes, read from the worker (VHOST_USER_GET_CONFIG) when one
	 * attaches; before that, and after an unplug, the core shows what these two write. */
	uint32_t config_len;
	/* an empty slot at boot; mac: what the supervisor chose for the slot (NICs show it) */
	void (*empty_config)(uint8_t *cfg, const uint8_t mac[6]);
	void (*unplugged_config)(uint8_t *cfg);    /* the last config once its device went */
	/* NULL, or the config space is the core's, not the backend's (virtio-fs: virtiofsd
	 * serves none): written from the core's configuration at boot, never asked for. */
	void (*frontend_config)(uint8_t *cfg, const struct core_config *c);
	/* What an empty slot offers so that the guest's driver binds at boot and sees a later
	 * hotplug: the subset of features every worker of this kind offers, and its queues. */
	uint64_t empty_features;
	unsigned empty_queues;
	/* The virtqueues of a worker whose GET_QUEUE_NUM said nq and that offers features, the
	 * device's config space being cfg (net counts queue pairs: rx and tx each, and the
	 * control queue; virtio-fs has what its config says); NULL: nq. */
	uint64_t (*queues)(uint64_t nq, uint64_t features, const uint8_t *cfg);
	const char *const *drivers;   /* -device and device_add driver names, NULL-terminated */
	/* No empty slots and no hotplug: a slot exists (in the guest's tables too) only when
	 * the command line put a device there, or when a later fixed slot has one: then it is a
	 * placeholder, DeviceID 0, which drivers skip (virtio-mmio spec). Fixed kinds' slots come
	 * after every other's. */
	bool fixed;
	/* A worker that dies is restarted at once, unless this is its restart_burst-th death
	 * within restart_window_s: then the VM pauses (fail-stop, DESIGN.md §8). */
	unsigned restart_burst;
	unsigned restart_window_s;
};

extern const struct worker_kind_desc worker_kinds[WORKER_KIND_MAX];

/* The kind whose device_add / -device driver this is; -1 for none. */
int worker_kind_by_driver(const char *driver);
/* The kind whose range holds the core's slot; -1 for none. */
int worker_kind_of_slot(unsigned slot);
/* Whether a backend of ipc_dev (enum ipc_dev_kind, not NONE) may serve slot. */
bool worker_slot_takes(unsigned slot, uint32_t ipc_dev);

#endif
