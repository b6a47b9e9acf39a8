/* The typed internal message layer (DESIGN.md §2): framed messages over SOCK_SEQPACKET with
 * fd passing, a fixed maximum size, one encode/decode pair per message type that checks the
 * exact payload size and fd count, and a per-peer table of the types that peer may send. */
#ifndef BULKHEAD_IPC_H
#define BULKHEAD_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define IPC_MAX_PAYLOAD 8192
#define IPC_MAX_FDS     8

enum ipc_type {
	IPC_CORE_CONFIG = 1,   /* supervisor -> core: what to boot; fds: kernel[, initrd][, mem] */
	IPC_VM_EXIT,           /* core -> supervisor: the VM ended, and why */
	IPC_BACKEND_ATTACH,    /* supervisor -> core: a vhost-user backend for a slot; fd: socket */
	/* common/ipc_qmp.h: the control path qmpd -> core -> supervisor */
	IPC_QMPD_ATTACH,       /* supervisor -> core: a (re)started qmpd; fd: the core<->qmpd socket */
	IPC_QMP_REQUEST,       /* qmpd -> core: one typed command */
	IPC_QMP_REPLY,         /* core -> qmpd: its answer */
	IPC_QMP_EVENT,         /* core -> qmpd: an event for every negotiated client */
	IPC_HOTPLUG_REQUEST,   /* core -> supervisor: open / spawn / drop a host resource */
	IPC_HOTPLUG_REPLY,     /* supervisor -> core: its answer; fd: a backend socket on success */
	IPC_BACKEND_FAILED,    /* supervisor -> core: a worker cannot be restarted; pause the VM */
	IPC_TYPE_MAX,
};

struct ipc_hdr {
	uint32_t type;
	uint32_t len;          /* payload bytes following the header */
};

struct ipc_msg {
	struct ipc_hdr hdr;
	uint8_t payload[IPC_MAX_PAYLOAD];
	int fds[IPC_MAX_FDS];
	unsigned nfds;
};

/* Which message types a peer may send us; anything else closes the connection. */
struct ipc_peer {
	const char *name;
	uint32_t allowed;      /* bit (1u << type) */
};

/* Send one message. Returns 0 or -errno. */
int ipc_send(int sock, uint32_t type, const void *payload, size_t len,
	     const int *fds, unsigned nfds);
/*
 * Receive one message from peer. Returns 1 on success, 0 on orderly EOF, -EPROTO for a
 * truncated/oversized message, a type the peer may not send, or a header length that does not
 * match what arrived; received fds are closed on every error path.
 */
int ipc_recv(int sock, const struct ipc_peer *peer, struct ipc_msg *msg);
/* Close any fds still held by msg. */
void ipc_msg_close_fds(struct ipc_msg *msg);

/* ---- IPC_CORE_CONFIG ---- */
#define CORE_F_ACPI          (1u << 0)
#define CORE_F_DUMP_CORE     (1u << 1)
#define CORE_F_SERIAL_STDIO  (1u << 2)
#define CORE_F_INITRD        (1u << 3)   /* an initrd fd follows the kernel fd */
#define CORE_F_MEM_FD        (1u << 4)   /* a hugetlbfs fd follows */
#define CORE_F_NO_SECCOMP    (1u << 5)   /* -disable-seccomp: sandbox without the filter */
#define CORE_F_RUNAS         (1u << 6)   /* -runas: drop to runas_uid/gid in the sandbox */
#define CORE_F_ALL           0x7fu

/* virtio-mmio slots the core creates, and what may be attached to each */
#define IPC_MAX_SLOTS        16
#define IPC_DEV_ID_MAX       64   /* a device id with its NUL (QMP_ID_MAX) */
enum ipc_dev_kind {
	IPC_DEV_NONE = 0,
	IPC_DEV_BLK,           /* bulkhead-blk, restarted by the supervisor when it dies */
	IPC_DEV_VHOST_USER_BLK,  /* an external vhost-user-blk backend; not restarted */
	IPC_DEV_NET,           /* bulkhead-net, restarted by the supervisor when it dies */
	IPC_DEV_VHOST_USER_NET,  /* an external vhost-user-net backend; not restarted */
	IPC_DEV_VSOCK,         /* bulkhead-vsock, restarted by the supervisor when it dies */
	IPC_DEV_VHOST_USER_VSOCK,  /* an external vhost-user-vsock backend; not restarted */
	IPC_DEV_RNG,           /* bulkhead-rng, restarted by the supervisor when it dies */
	IPC_DEV_CONSOLE,       /* bulkhead-hvc, restarted by the supervisor when it dies */
	IPC_DEV_VHOST_USER_FS,   /* an external virtio-fs backend (virtiofsd); not restarted */
	IPC_DEV_KIND_MAX,
};

struct core_config {
	uint32_t flags;
	uint32_t ncpus;
	uint64_t mem_size;
	char name[256];
	char cmdline[4096];
	/* what each slot holds at boot (enum ipc_dev_kind); NONE: empty until a hotplug */
	uint32_t slot_kind[IPC_MAX_SLOTS];
	uint8_t slot_mac[IPC_MAX_SLOTS][6];  /* a NIC slot's MAC, shown while it is empty */
	char slot_dev_id[IPC_MAX_SLOTS][IPC_DEV_ID_MAX];  /* -device id= of a boot device, or "" */
	uint32_t runas_uid, runas_gid;       /* with CORE_F_RUNAS */
	/* Slots (bit n: slot n) whose worker counts in a shared page (common/net_stats.h) that
	 * the core may read for QMP: a read-only fd each follows the others, in slot order. */
	uint32_t stats_slots;
	/* The virtio-fs slot's config space, which the core shows (virtiofsd serves none): the
	 * tag (NUL-terminated here; no NUL in the 36 bytes the guest reads when it is 36 long)
	 * and the request queues, 1..VM_FS_MAX_REQUEST_QUEUES, when a slot is VHOST_USER_FS. */
	char fs_tag[VM_FS_TAG_MAX + 1];
	uint32_t fs_request_queues;
};

struct core_config_fds {
	int kernel, initrd, mem;   /* -1 when absent */
	int stats[IPC_MAX_SLOTS];  /* by slot, with stats_slots; -1 for the others */
};

int ipc_core_config_send(int sock, const struct core_config *c, const struct core_config_fds *f);
/* Validates ranges, flags, NUL termination and that the fd count matches the flags and
 * stats_slots; on success takes the fds out of msg. Returns 0 or -EPROTO / -EINVAL. */
int ipc_core_config_decode(struct ipc_msg *msg, struct core_config *c, struct core_config_fds *f);

/* ---- IPC_VM_EXIT ---- */
enum ipc_exit_reason { IPC_EXIT_RESET = 1, IPC_EXIT_POWEROFF, IPC_EXIT_ERROR };

struct vm_exit_info {
	uint32_t reason;
	char detail[512];          /* one line for the user when reason == IPC_EXIT_ERROR */
};

int ipc_vm_exit_send(int sock, const struct vm_exit_info *e);
int ipc_vm_exit_decode(const struct ipc_msg *msg, struct vm_exit_info *e);

/* ---- IPC_BACKEND_ATTACH ---- */
#define IPC_BACKEND_NAME_MAX 64

struct backend_attach {
	uint32_t slot;             /* < IPC_MAX_SLOTS; the core checks it against its slots */
	uint32_t kind;             /* enum ipc_dev_kind, not NONE */
	char name[IPC_BACKEND_NAME_MAX];   /* drive or chardev id, for log lines */
};

/* One fd: the connected vhost-user socket (the core's end). */
int ipc_backend_attach_send(int sock, const struct backend_attach *a, int fd);
/* Exact size, exactly one fd, slot/kind in range, a non-empty NUL-terminated name; on success
 * takes the fd out of msg into *fd. Returns 0 or -EPROTO. */
int ipc_backend_attach_decode(struct ipc_msg *msg, struct backend_attach *a, int *fd);

/* ---- IPC_QMPD_ATTACH: no payload, one fd (the core's end of a new core<->qmpd pair) ---- */
int ipc_qmpd_attach_send(int sock, int fd);
/* Empty payload and exactly one fd; on success takes the fd out of msg. 0 or -EPROTO. */
int ipc_qmpd_attach_decode(struct ipc_msg *msg, int *fd);

/* ---- IPC_BACKEND_FAILED: fail-stop without losing data (DESIGN.md §8) ---- */
struct backend_failed {
	uint32_t slot;             /* < IPC_MAX_SLOTS */
	char name[IPC_BACKEND_NAME_MAX];   /* the drive, for the BACKEND_FAILED event */
};

int ipc_backend_failed_send(int sock, const struct backend_failed *b);
/* Exact size, no fd, slot in range, a non-empty NUL-terminated name. 0 or -EPROTO. */
int ipc_backend_failed_decode(const struct ipc_msg *msg, struct backend_failed *b);

#endif
