/* Test harness acting as a vhost-user FRONTEND for block backends: it owns a memfd "guest RAM"
 * and split rings inside it (playing both the VMM and the guest driver), attaches a backend
 * (bulkhead-blk over a socketpair or a unix socket, or qemu-storage-daemon) through
 * common/vu_frontend.h, submits virtio-blk requests, kicks the kick eventfd and waits on the
 * call eventfd with a timeout: a broken backend makes a test fail, never hang. */
#ifndef BULKHEAD_HARNESS_H
#define BULKHEAD_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "vhost_user.h"
#include "vu_frontend.h"

#define HX_MAX_QUEUES   8            /* a net device: 3 pairs and its control queue */
#define HX_QSIZE        128          /* default queue size */
#define HX_SLOT_DESCS   3            /* header, data, status: slot s owns descriptors 3s..3s+2 */
#define HX_MAX_SLOTS    64
#define HX_SLOT_DATA    (64 * 1024)  /* data bytes per slot */
#define HX_GPA_BASE     0x100000ULL  /* RAM starts at 1 MiB: address 0 is outside guest RAM */
#define HX_RAM1_SIZE    0x100000ULL  /* second region, gpa-adjacent to the first */
#define HX_TIMEOUT_MS   5000         /* default bound for any wait */

/* A spawned backend process. */
struct hx_worker {
	pid_t pid;
	int sock;              /* our end in --fd mode, else -1 */
	char path[108];        /* --socket-path mode: the listening socket, else "" */
};

struct hx_queue {
	uint16_t num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	int kick_fd, call_fd;
	uint16_t avail_idx;      /* next avail index we publish */
	uint16_t last_used;      /* next used entry we consume */
	uint16_t kicked_idx;     /* avail_idx at the last hx_notify */
	uint64_t slot_gpa;       /* slot area: nslots * slot stride */
	uint8_t *slot_hva;
	unsigned nslots;
	bool slot_busy[HX_MAX_SLOTS];
	uint32_t rx_buflen;      /* net RX: bytes each posted slot offers (net.c) */
};

struct hx {
	int memfd;
	uint8_t *ram;            /* region 0 then region 1, one mapping */
	uint64_t ram0_size;
	uint64_t bump;           /* next free offset in region 0 */
	struct vu_front f;
	bool connected;
	uint64_t features;       /* acked virtio features */
	bool event_idx;
	unsigned nq;
	uint16_t qsize;
	struct hx_queue q[HX_MAX_QUEUES];
	int inflight_fd;         /* kept across backend restarts */
	void *inflight;
	struct vu_inflight inflight_info;
};

/* Attach options. */
#define HX_NO_EVENT_IDX  (1u << 0)   /* do not negotiate VIRTIO_RING_F_EVENT_IDX */
#define HX_NO_INFLIGHT   (1u << 1)   /* skip GET/SET_INFLIGHT_FD */
#define HX_NO_ENABLE     (1u << 2)   /* leave rings disabled (no SET_VRING_ENABLE) */
#define HX_NET           (1u << 3)   /* GET_QUEUE_NUM counts queue pairs (vhost-user-net) */

/* --- guest RAM and rings ------------------------------------------------------------------- */

/* RAM of ram0_size bytes (region 0, at HX_GPA_BASE) plus HX_RAM1_SIZE (region 1, right after
 * it in gpa). Returns 0 or -errno. */
int hx_init(struct hx *h, uint64_t ram0_size);
void hx_exit(struct hx *h);
/* Lay out queue q's rings and slots in region 0 (once; they survive backend restarts). */
int hx_queue_layout(struct hx *h, unsigned q, uint16_t num);
/* Region 0 bump allocation, zeroed; returns the gpa (0 when out of room). */
uint64_t hx_alloc(struct hx *h, uint64_t size, uint64_t align);
/* Host pointer of gpa in either region, or NULL (len bytes must fit). */
void *hx_ptr(struct hx *h, uint64_t gpa, uint64_t len);
uint64_t hx_ram_end(const struct hx *h);    /* first gpa after all RAM */
uint64_t hx_ram1_gpa(const struct hx *h);   /* start of region 1 */

/* --- attach ---------------------------------------------------------------------------------- */

/* Full handshake on a connected socket (owned by h afterwards): features, protocol features,
 * owner, mem table, inflight (GET then SET, as QEMU does), and nq queues of qsize each
 * (num, base, addr, call, kick, enable). Returns 0 or -errno. */
int hx_attach(struct hx *h, int sock, unsigned nq, uint16_t qsize, unsigned opts);
/* Re-attach the same rings to a new backend after the old one died: the kept inflight fd
 * goes out with SET_INFLIGHT_FD and each ring's base is its used->idx. */
int hx_reattach(struct hx *h, int sock, unsigned opts);
/* Close the connection (rings and RAM stay). */
void hx_detach(struct hx *h);

/* --- requests ------------------------------------------------------------------------------ */

/* Data buffer of a slot (HX_SLOT_DATA bytes) and its gpa. */
uint8_t *hx_slot_data(struct hx *h, unsigned q, unsigned slot);
uint64_t hx_slot_data_gpa(struct hx *h, unsigned q, unsigned slot);
uint8_t *hx_slot_status(struct hx *h, unsigned q, unsigned slot);
uint64_t hx_slot_hdr_gpa(struct hx *h, unsigned q, unsigned slot);
uint64_t hx_slot_status_gpa(struct hx *h, unsigned q, unsigned slot);
/* A free slot index or -EBUSY. */
int hx_slot_get(struct hx *h, unsigned q);

/* Whether a request type's data goes to the device (readable) or comes from it. */
bool hx_blk_data_in(uint32_t type);

/* Build a chain in slot: header (type, sector), data (len bytes of the slot's buffer; none
 * when len is 0), status byte; publish it on the avail ring. Does not kick. Returns head. */
int hx_blk_submit(struct hx *h, unsigned q, unsigned slot, uint32_t type, uint64_t sector,
		  uint32_t len);
/* Write one descriptor / publish any head (hostile tests build chains by hand). */
void hx_desc(struct hx *h, unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	     uint16_t next);
void hx_publish(struct hx *h, unsigned q, uint16_t head);
int hx_kick(struct hx *h, unsigned q);
/* Kick only when the device asked for it (EVENT_IDX avail_event, else no
 * VRING_USED_F_NO_NOTIFY), as a Linux driver does; hx_kick always kicks. 0 or -errno. */
int hx_notify(struct hx *h, unsigned q);

struct hx_done {
	uint16_t head;
	uint32_t len;
	bool stray;     /* the head was not outstanding (a completion nobody asked for) */
};
/* Next used element of q: 1 with *d filled, 0 when none arrived within timeout_ms, <0 on
 * error; -ENOTCONN when the used ring moved but the call eventfd was never signalled (a lost
 * interrupt). Waits on the call eventfd with poll(). */
int hx_wait(struct hx *h, unsigned q, int timeout_ms, struct hx_done *d);
/* Used elements not consumed yet. */
uint16_t hx_used_pending(struct hx *h, unsigned q);

/* Synchronous request: copy buf in (for writes), submit, kick, wait, copy out (for reads).
 * Returns the status byte (VIRTIO_BLK_S_*) or -errno (-ETIMEDOUT when nothing came back). */
int hx_blk_do(struct hx *h, unsigned q, uint32_t type, uint64_t sector, void *buf, uint32_t len);

/* --- processes and sockets ----------------------------------------------------------------- */

/* Path of bulkhead-blk (env BULKHEAD_BLK, else a build-tree guess). */
const char *hx_blk_bin(void);
/* Spawn bin with args (NULL-terminated) plus --fd=N over a socketpair (sock_path NULL) or plus
 * --socket-path=sock_path. The child dies with us (PDEATHSIG). Returns 0 or -errno. */
int hx_worker_spawn(struct hx_worker *w, const char *bin, const char *sock_path,
		    const char *const *args);
/* The same, with extra fds handed to the child as 4, 5, ... (tap queues, a stats memfd). */
int hx_worker_spawn_fds(struct hx_worker *w, const char *bin, const char *sock_path,
			const char *const *args, const int *fds, unsigned nfds);
/* Connect to w->path, retrying while the worker starts (bounded by timeout_ms). Returns fd. */
int hx_worker_connect(struct hx_worker *w, int timeout_ms);
/* Connect to any unix socket path with retries; returns fd or -errno. */
int hx_unix_connect(const char *path, int timeout_ms);
/* Still running (not exited, not killed)? */
bool hx_worker_alive(struct hx_worker *w);
/* Wait up to timeout_ms for exit; returns the wait status or -ETIMEDOUT. */
int hx_worker_wait(struct hx_worker *w, int timeout_ms);
/* SIGKILL (if running) and reap; returns the wait status (or -ECHILD when already reaped). */
int hx_worker_kill(struct hx_worker *w);
/* Proportional set size of pid in KiB from /proc/PID/smaps_rollup, or -errno. */
long hx_pss_kib(pid_t pid);

/* Wait until the peer closes sock (EOF or reset) within timeout_ms: 1 closed, 0 not. */
int hx_wait_closed(int sock, int timeout_ms);
/* Send raw bytes with fds (SCM_RIGHTS) in one sendmsg. Returns 0 or -errno. */
int hx_send_raw(int sock, const void *buf, size_t len, const int *fds, unsigned nfds);

/* Monotonic milliseconds. */
uint64_t hx_now_ms(void);

#endif
