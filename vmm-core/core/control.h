/* The core's control path (DESIGN.md §2, §7): what the supervisor and qmpd may send in each
 * phase, QMP requests turned into actions on the VM (stop/cont, quit, reset, power button,
 * vCPU queries), the hotplug state of every worker slot with the supervisor doing the
 * host-side half, and the events the core reports. The VM itself sits behind an ops table so
 * unit tests drive all of it with fakes and no KVM. Included by bulkhead-core only. */
#ifndef BULKHEAD_CONTROL_H
#define BULKHEAD_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "config.h"
#include "ipc.h"
#include "ipc_qmp.h"
#include "worker_kinds.h"

#define CTL_MAX_NODES  16             /* blockdev-add'ed images the core keeps track of */

/* What the control path does to the VM. Every call is made from the core's main thread. */
struct control_ops {
	void (*pause)(void *o);             /* returns once no vCPU runs guest code */
	void (*resume)(void *o);
	void (*end)(void *o, enum vm_exit_reason why, const char *detail);
	void (*powerdown)(void *o);         /* press the power button (Ctrl-Alt-Del) */
	unsigned (*cpus)(void *o, struct qmp_cpu_info *out, unsigned max);
	/* give slot a vhost-user socket (ownership passes, also on error); 0 or -errno */
	int (*attach)(void *o, unsigned slot, int fd, const char *name, bool hotplug);
	void (*unplug)(void *o, unsigned slot);
};

enum ctl_slot_state {
	CTL_SLOT_EMPTY = 0,   /* "no medium", a NIC with its link down */
	CTL_SLOT_BOOT,        /* a device from the command line */
	CTL_SLOT_ADDING,      /* device_add waiting for the supervisor's worker */
	CTL_SLOT_PLUGGED,     /* a hot-plugged device */
	CTL_SLOT_REMOVING,    /* device_del: detached, the supervisor is stopping the worker */
};

struct ctl_slot {
	uint8_t state;                /* enum ctl_slot_state */
	uint32_t kind;                /* CTL_SLOT_BOOT: the enum ipc_dev_kind it was given */
	bool attached;                /* a backend came at least once (boot slots) */
	char id[QMP_ID_MAX];          /* device_add id, or a boot device's -device id ("" without) */
	char node[QMP_ID_MAX];        /* its node-name or netdev id (boot: the backend's name) */
};

/* A blockdev-add node or a netdev_add tap, by name. */
struct ctl_node {
	bool used;
	uint8_t kind;                 /* enum worker_kind */
	char name[QMP_ID_MAX];
	int slot;                     /* the device using it, or -1 */
};

struct control {
	const struct control_ops *ops;
	void *opaque;
	int sup;                      /* the supervisor's socket (not owned) */
	int qmpd;                     /* the current qmpd's socket, or -1 */
	unsigned qmpd_gen;            /* bumped by every QMPD_ATTACH */
	bool paused;
	bool end_announced;           /* SHUTDOWN already sent */
	struct ctl_slot slot[WORKER_SLOTS];
	struct ctl_node node[CTL_MAX_NODES];
	uint8_t mac[WORKER_SLOTS][6];              /* NIC slots: the MAC the slot shows */
	const struct net_stats *stats[WORKER_SLOTS];  /* NIC slots: the worker's counters
						       * (read-only shared page), or NULL */
	/* the one request the supervisor is working on; qmpd is not read meanwhile */
	struct {
		bool active;
		struct hotplug_request req;
		uint32_t qmp_tag, qmp_cmd;
		unsigned qmpd_gen;
		bool failed;              /* undoing a device_add: answer `desc` when done */
		char desc[QMP_DESC_MAX];
	} pend;
	uint32_t next_tag;
};

/* boot_kind[slot] (WORKER_SLOTS of them): what the command line put there, or IPC_DEV_NONE. */
void control_init(struct control *c, const struct control_ops *ops, void *opaque, int sup,
		  const uint32_t *boot_kind);
void control_exit(struct control *c);
/* What else the configuration says about the slots: boot devices' ids, NICs' MACs, stats pages
 * (f->stats, taken over: mapped read-only, then closed). 0, or -EINVAL for a page on a slot
 * that is no NIC's or one that could shrink under us; -errno from mmap. */
int control_slots_config(struct control *c, const struct core_config *cc,
			 struct core_config_fds *f);
/* Boot slots still waiting for their first backend. */
unsigned control_boot_waiting(const struct control *c);
/* One message from the supervisor. 0, or -EPROTO / -EPIPE: the supervisor is gone or broke
 * the protocol, and the VM must end. */
int control_on_supervisor(struct control *c);
/* The qmpd socket to poll, or -1 (none, or a hotplug request is pending). */
int control_qmpd_fd(const struct control *c);
/* One request from qmpd; a qmpd that breaks the protocol or goes away is dropped (the
 * supervisor starts another). */
void control_on_qmpd(struct control *c);
/* The VM is ending for `why`: send what QMP clients must hear first (SHUTDOWN, RESET). */
void control_vm_ending(struct control *c, enum vm_exit_reason why);

#endif
