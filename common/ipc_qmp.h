/* Typed messages of the control path (DESIGN.md §2, §7): qmpd turns QMP JSON into one
 * struct qmp_request, the core answers with a struct qmp_reply and broadcasts struct
 * qmp_event; host resources for hotplug are asked of the supervisor with struct
 * hotplug_request. JSON never crosses into the core. All structs are fixed-size and
 * pointer-free; every decoder checks the exact size, NUL-terminated strings and ranges. */
#ifndef BULKHEAD_IPC_QMP_H
#define BULKHEAD_IPC_QMP_H

#include <stdbool.h>
#include <stdint.h>

#include "ipc.h"
#include "net_stats.h"

#define QMP_ID_MAX    64      /* device / node / netdev ids (incl. NUL) */
#define QMP_PATH_MAX  4096
#define QMP_DESC_MAX  256
#define QMP_MAX_CPUS  254
#define QMP_MAX_NICS  2       /* the NIC slots (common/worker_kinds.c) */

enum qmp_cmd {
	QMP_CMD_QUERY_STATUS = 1,
	QMP_CMD_STOP,
	QMP_CMD_CONT,
	QMP_CMD_QUIT,
	QMP_CMD_SYSTEM_RESET,
	QMP_CMD_SYSTEM_POWERDOWN,
	QMP_CMD_QUERY_CPUS,             /* also query-cpus-fast */
	QMP_CMD_QUERY_HOTPLUGGABLE_CPUS,
	QMP_CMD_BLOCKDEV_ADD,
	QMP_CMD_BLOCKDEV_DEL,
	QMP_CMD_DEVICE_ADD,
	QMP_CMD_DEVICE_DEL,
	QMP_CMD_NETDEV_ADD,
	QMP_CMD_NETDEV_DEL,
	QMP_CMD_BALLOON,
	QMP_CMD_QUERY_BALLOON,
	QMP_CMD_QUERY_NET_STATS,        /* bulkhead's query-net-stats: the NICs' counters */
	QMP_CMD_MAX,
};

/* QMP error classes a reply can carry (0 = success). */
enum qmp_err {
	QMP_OK = 0,
	QMP_ERR_GENERIC,            /* GenericError */
	QMP_ERR_DEVICE_NOT_FOUND,   /* DeviceNotFound */
	QMP_ERR_DEVICE_NOT_ACTIVE,  /* DeviceNotActive (e.g. no balloon) */
	QMP_ERR_MAX,
};

struct qmp_blockdev_add {
	char node_name[QMP_ID_MAX];
	char filename[QMP_PATH_MAX];
	uint8_t read_only, direct;
};

struct qmp_device_add {
	char id[QMP_ID_MAX];
	char driver[QMP_ID_MAX];     /* "virtio-blk-mmio" (also "virtio-blk-device"); net later */
	char drive[QMP_ID_MAX];      /* node-name of a blockdev-add; empty: same as id */
	char netdev[QMP_ID_MAX];
	uint32_t addr;               /* slot number from "addr":"0xN" */
	uint8_t has_addr;
	char mac[18];
};

#define QMP_NETDEV_FDS_MAX 8  /* tap queues of netdev_add "fds" (VM_MAX_NET_QUEUES) */

/* The tap by name, or (QMP getfd, then "fd"/"fds") as nfds queue fds the message carries. */
struct qmp_netdev_add {
	char id[QMP_ID_MAX];
	char ifname[QMP_ID_MAX];     /* "" with fds */
	uint32_t nfds;
};

struct qmp_request {
	uint32_t tag;                /* qmpd's own request number; echoed in the reply */
	uint32_t cmd;                /* enum qmp_cmd */
	union {
		struct qmp_blockdev_add blockdev_add;
		struct qmp_device_add device_add;
		struct qmp_netdev_add netdev_add;
		char id[QMP_ID_MAX];     /* blockdev-del node-name, device_del id, netdev_del id */
		uint64_t balloon_bytes;
	} u;
};

/* run states of query-status */
enum qmp_runstate { QMP_RUN_RUNNING = 1, QMP_RUN_PAUSED, QMP_RUN_SHUTDOWN };

struct qmp_cpu_info {
	uint32_t index;              /* cpu-index */
	int32_t thread_id;           /* the vCPU thread's TID */
	uint8_t halted;
};

/* One NIC of query-net-stats: what its worker counted in the slot's stats page. */
struct qmp_nic_stats {
	uint32_t index;              /* its NIC slot: device_add's "addr" */
	char id[QMP_ID_MAX];         /* its device_add or -device id; "" when it has none */
	char netdev[QMP_ID_MAX];     /* its netdev (or chardev) id */
	uint8_t mac[6];
	uint8_t counted;             /* a worker keeps counters for it (0: no page, or none yet) */
	uint32_t npairs;             /* pair[0..npairs) are set, at most NET_STATS_MAX_PAIRS */
	uint64_t starts;             /* how many workers served the slot so far (restarts + 1) */
	struct net_stats_pair pair[NET_STATS_MAX_PAIRS];
};

struct qmp_reply {
	uint32_t tag;
	uint32_t cmd;
	uint32_t error;              /* enum qmp_err */
	char desc[QMP_DESC_MAX];     /* error text, when error != 0 */
	union {
		uint32_t runstate;       /* query-status */
		struct {
			uint32_t n;
			struct qmp_cpu_info cpu[QMP_MAX_CPUS];
		} cpus;                  /* query-cpus, query-hotpluggable-cpus */
		uint64_t balloon_actual; /* query-balloon */
		struct {
			uint32_t n;
			struct qmp_nic_stats nic[QMP_MAX_NICS];
		} nics;                  /* query-net-stats */
	} u;
};

enum qmp_event_kind {
	QMP_EV_STOP = 1,
	QMP_EV_RESUME,
	QMP_EV_SHUTDOWN,             /* data: guest (bool), reason */
	QMP_EV_RESET,                /* data: guest (bool) */
	QMP_EV_POWERDOWN,
	QMP_EV_DEVICE_DELETED,       /* data: device (id), path */
	QMP_EV_BALLOON_CHANGE,       /* data: actual */
	QMP_EV_BACKEND_FAILED,       /* bulkhead-specific: a worker could not be restarted */
	QMP_EV_MAX,
};

struct qmp_event {
	uint32_t kind;               /* enum qmp_event_kind */
	uint8_t guest;               /* SHUTDOWN/RESET: initiated by the guest */
	char reason[QMP_ID_MAX];     /* SHUTDOWN: "host-qmp-quit", "guest-shutdown", "guest-reset" */
	char device[QMP_ID_MAX];     /* DEVICE_DELETED / BACKEND_FAILED */
	uint64_t seconds;            /* timestamp, CLOCK_REALTIME, taken by the core */
	uint32_t microseconds;
	uint64_t actual;             /* BALLOON_CHANGE */
};

/* core -> supervisor: host-side work of hotplug (the core may not open files or spawn) */
enum hotplug_op {
	HOTPLUG_BLOCKDEV_ADD = 1,    /* open filename; remember it under node_name */
	HOTPLUG_BLOCKDEV_DEL,        /* close it (refused while a device uses it) */
	HOTPLUG_DEVICE_ADD,          /* spawn the slot's worker on node_name; reply fd = socket */
	HOTPLUG_DEVICE_DEL,          /* stop the worker of slot */
	HOTPLUG_NETDEV_ADD,          /* attach to the tap named by filename; node_name is its id */
	HOTPLUG_NETDEV_DEL,          /* close it (refused while a NIC uses it) */
	HOTPLUG_OP_MAX,
};

struct hotplug_request {
	uint32_t tag;
	uint32_t op;                 /* enum hotplug_op */
	uint32_t slot;
	char node_name[QMP_ID_MAX];
	char device_id[QMP_ID_MAX];
	char filename[QMP_PATH_MAX];  /* BLOCKDEV_ADD: the image; NETDEV_ADD: the tap's name */
	uint8_t read_only, direct;
	char mac[18];                 /* DEVICE_ADD of a NIC: device_add's mac, or "" */
	uint32_t nfds;                /* NETDEV_ADD without a filename: the tap queue fds the
				       * message carries (QMP getfd), 1..QMP_NETDEV_FDS_MAX */
};

struct hotplug_reply {
	uint32_t tag;
	uint32_t error;              /* enum qmp_err */
	char desc[QMP_DESC_MAX];
};

/* Encoders send one message; decoders return 0 or -EPROTO (size, NUL, range, fd count). */
/* QEMU's rule for ids and node names: a letter, then letters, digits, '-', '.', '_'; checked
 * by the core and again by the supervisor. */
bool qmp_id_ok(const char *s);

/* Requests and hotplug requests may carry fds: netdev_add's tap queues (fds: as many as the
 * struct's nfds says, NULL when none). Their decoders check that the message carries exactly
 * those and leave them in m->fds for the caller to take. */
int ipc_qmp_request_send(int sock, const struct qmp_request *r, const int *fds);
int ipc_qmp_request_decode(const struct ipc_msg *m, struct qmp_request *r);
int ipc_qmp_reply_send(int sock, const struct qmp_reply *r);
int ipc_qmp_reply_decode(const struct ipc_msg *m, struct qmp_reply *r);
int ipc_qmp_event_send(int sock, const struct qmp_event *e);
int ipc_qmp_event_decode(const struct ipc_msg *m, struct qmp_event *e);
int ipc_hotplug_request_send(int sock, const struct hotplug_request *r, const int *fds);
int ipc_hotplug_request_decode(const struct ipc_msg *m, struct hotplug_request *r);
/* fd < 0: none (errors); a successful DEVICE_ADD reply carries the backend socket */
int ipc_hotplug_reply_send(int sock, const struct hotplug_reply *r, int fd);
int ipc_hotplug_reply_decode(struct ipc_msg *m, struct hotplug_reply *r, int *fd);

#endif
