/* bulkhead-vsock: a vhost-user-vsock backend whose host side is unix sockets in one directory
 * (the Firecracker / Cloud Hypervisor scheme: a host process connects to NAME and says
 * "CONNECT <port>\n"; a guest connecting to host port P reaches the listener NAME_P). This
 * header holds the command line, the pure stream-protocol model (packet checks, credit
 * accounting, the connection table, the CONNECT line, the per-connection byte ring) that
 * tests/unit/dev-vsock links without sockets, and the data path (io.c) that plugs into the
 * vhost-user backend library. */
#ifndef BULKHEAD_VSOCK_H
#define BULKHEAD_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_vsock.h>

#include "iov.h"
#include "log.h"
#include "sandbox.h"
#include "virtq.h"
#include "vu_backend.h"

#define VSOCK_HDR_LEN        44u            /* sizeof(struct virtio_vsock_hdr), packed */
#define VSOCK_HOST_CID       2u             /* VMADDR_CID_HOST: the only peer we are */
#define VSOCK_CID_MIN        3ull           /* 0-2 are reserved, 2^32-1 is VMADDR_CID_ANY */
#define VSOCK_CID_MAX        0xfffffffeull
#define VSOCK_Q_RX           0u
#define VSOCK_Q_TX           1u
#define VSOCK_Q_EVENT        2u
#define VSOCK_NQUEUES        3u
#define VSOCK_NAME_MAX       24
/* NAME_<port> must fit sun_path (108): the name, '_', 10 digits, NUL */
#define VSOCK_UDS_NAME_MAX   96u
#define VSOCK_CONNS_DEFAULT  1024u
#define VSOCK_CONNS_MAX      1024u   /* the sandbox's RLIMIT_NOFILE leaves room for this */
/* What we advertise as buf_alloc: the most guest bytes one connection may have in flight
 * that its host peer has not taken yet; each buffers at most this much (io.c). */
#define VSOCK_BUF_ALLOC_DEFAULT (256u << 10)
#define VSOCK_BUF_ALLOC_MIN  4096u
#define VSOCK_BUF_ALLOC_MAX  (16u << 20)
/* Largest payload of one RW packet either way (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_PKT_MAX        (64u << 10)
/* "CONNECT 4294967295\n" is 19 bytes: a line longer than this is junk */
#define VSOCK_LINE_MAX       32u
/* Host ports we pick for host-initiated connections (what "OK <hostport>" names). */
#define VSOCK_LOCAL_PORT_FIRST (1u << 30)
#define VSOCK_RST_QUEUE      256u           /* RSTs owed for packets with no connection */
#define VSOCK_IOV_CAP        64u            /* segments of one chain */
#define VSOCK_BUDGET         256u           /* chains per queue per wakeup */
#define VSOCK_HASH           4096u          /* buckets of the connection table */

/* ---- command line ---------------------------------------------------------------------- */

struct vsock_opts {
	const char *socket_path;    /* --socket-path: vhost-user, one frontend at a time */
	int fd;                     /* --fd: an already connected vhost-user socket, or -1 */
	bool print_caps;            /* --print-capabilities */
	uint64_t guest_cid;         /* --guest-cid */
	int uds_dir_fd;             /* --uds-dir-fd: the socket directory, or -1 */
	const char *uds_name;       /* --uds-name: the VM's socket inside it */
	const char *uds_path;       /* --uds-path=DIR/NAME: by hand, the worker opens DIR */
	int vhost_fd;               /* --vhost-fd: kernel mode's /dev/vhost-vsock, or -1 */
	unsigned max_conns;         /* --max-conns */
	uint32_t buf_alloc;         /* --buf-alloc */
	char name[VSOCK_NAME_MAX + 1];
	bool no_seccomp;            /* --disable-seccomp */
	struct sandbox_opts runas;  /* --runas=UID:GID */
};

/* Parse argv. Returns 0, or -EINVAL with a one-line reason in err (no trailing newline). */
int vsock_opts_parse(struct vsock_opts *o, int argc, char **argv, char *err, size_t errlen);
extern const char vsock_capabilities[];     /* the --print-capabilities JSON line */
/* A socket name inside the directory: 1..VSOCK_UDS_NAME_MAX characters, no '/', not "." or
 * "..": bind/connect can never leave the directory by construction. */
bool vsock_uds_name_ok(const char *name);

/* ---- the packet model (conn.c) ---------------------------------------------------------- */

/* A header in host byte order. */
struct vsock_pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags;
	uint32_t buf_alloc, fwd_cnt;
};

void vsock_hdr_decode(const struct virtio_vsock_hdr *h, struct vsock_pkt *p);
void vsock_hdr_encode(const struct vsock_pkt *p, struct virtio_vsock_hdr *h);

/* What to do with a packet from the guest. */
enum vsock_verdict {
	VSOCK_OK,
	VSOCK_BAD_CID,      /* not from guest_cid or not to the host: dropped, no answer */
	VSOCK_BAD_TYPE,     /* not STREAM: RST */
	VSOCK_BAD_OP,       /* unknown op: RST */
	VSOCK_BAD_LEN,      /* len beyond the chain or VSOCK_PKT_MAX, or on a non-RW op: RST */
	VSOCK_BAD_FLAGS,    /* SHUTDOWN flags outside RCV|SEND: RST */
};

/* Check a decoded header against our CIDs; payload is the chain's bytes after the header. */
enum vsock_verdict vsock_pkt_check(const struct vsock_pkt *p, uint64_t guest_cid,
				   uint64_t payload);
const char *vsock_verdict_str(enum vsock_verdict v);

/* The CONNECT line of a host peer, in the first n bytes it sent: 1 with *port and *linelen
 * (bytes up to and including '\n') when complete, 0 when more is needed, -EINVAL when what
 * is there can never become one (junk, a number out of range, an overlong line). */
int vsock_connect_line(const char *buf, size_t n, uint32_t *port, size_t *linelen);

/* ---- a connection ----------------------------------------------------------------------- */

/* Guest bytes not yet taken by the host socket: a ring of at most buf_alloc bytes,
 * allocated while it holds anything. */
struct vsock_buf {
	uint8_t *data;
	uint32_t cap, head, len;
};

/* Copy n bytes of iov (from byte skip) in; -ENOSPC (nothing copied) beyond cap, -ENOMEM. */
int vsock_buf_put(struct vsock_buf *b, uint32_t cap, const struct iovec *iov, unsigned cnt,
		  uint64_t skip, uint32_t n);
/* The held bytes as at most two segments; returns how many. */
unsigned vsock_buf_iov(const struct vsock_buf *b, struct iovec v[2]);
/* Drop n held bytes from the front; the memory goes when the ring is empty. */
void vsock_buf_drop(struct vsock_buf *b, uint32_t n);
void vsock_buf_free(struct vsock_buf *b);

enum vsock_state {
	VSOCK_LINE,         /* a host peer was accepted; waiting for its CONNECT line */
	VSOCK_CONNECTING,   /* we sent REQUEST for a host peer; waiting for RESPONSE */
	VSOCK_RESPONDING,   /* the guest asked, the host listener took it; RESPONSE owed */
	VSOCK_ESTABLISHED,
};

/* Control packets owed to the guest, sent as RX buffers come. */
#define VSOCK_PEND_REQUEST   (1u << 0)
#define VSOCK_PEND_RESPONSE  (1u << 1)
#define VSOCK_PEND_CREDIT    (1u << 2)
#define VSOCK_PEND_SHUTDOWN  (1u << 3)

struct vsock_conn {
	uint32_t lport, gport;      /* the host-side port, the guest's port */
	int fd;                     /* the host socket */
	enum vsock_state state;
	unsigned pending;           /* VSOCK_PEND_* */
	uint32_t shut_sent;         /* SHUTDOWN flags told to the guest */
	uint32_t shut_rcvd;         /* SHUTDOWN flags the guest sent */
	bool host_eof;              /* the host socket read EOF */
	bool rd_ready;              /* the host socket has data (or EOF) we have not read */
	bool rd_watch, wr_watch;    /* what the loop watches (main.c) */
	/* towards the guest: its buffer and how much of what we sent it consumed */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* from the guest: bytes received, bytes the host socket took, fwd_cnt it last saw */
	uint32_t rx_cnt, fwd_cnt, fwd_cnt_sent;
	struct vsock_buf buf;
	struct vsock_conn *hnext;           /* hash chain */
	struct vsock_conn *pnext, *rnext;   /* pending-control and ready lists */
	bool on_pend, on_ready, hashed;
	struct vsock_conn *anext, *aprev;   /* every connection of the table */
	char line[VSOCK_LINE_MAX];  /* VSOCK_LINE: what the host peer sent of its line */
	unsigned line_len;
	void *ev[2];                /* main.c's read and write events */
};

/* Bytes we may send the guest now: its buf_alloc minus what is in flight (0 when the guest
 * claims to have consumed more than we sent, or shrank its buffer under it). */
uint32_t vsock_peer_credit(const struct vsock_conn *c);
/* Whether n more guest bytes fit what we advertised (buf_alloc) on top of those held. */
bool vsock_rx_fits(const struct vsock_conn *c, uint32_t buf_alloc, uint32_t n);
/* Whether the guest should hear our fwd_cnt now: it has used up half of its window
 * since it last heard it (it may be waiting for exactly that). */
bool vsock_credit_update_due(const struct vsock_conn *c, uint32_t buf_alloc);
/* Take buf_alloc and fwd_cnt from a guest packet of this connection. */
void vsock_peer_update(struct vsock_conn *c, const struct vsock_pkt *p);

/* ---- the connection table ---------------------------------------------------------------- */

struct vsock_table {
	struct vsock_conn *hash[VSOCK_HASH];
	struct vsock_conn *all;     /* every connection, hashed or not */
	unsigned n, max;            /* connections held (any state), the limit */
	uint32_t next_port;
};

void vsock_table_init(struct vsock_table *t, unsigned max);
bool vsock_table_full(const struct vsock_table *t);
/* A new connection (counted, not yet hashed), fd -1; NULL when full or out of memory. */
struct vsock_conn *vsock_conn_new(struct vsock_table *t);
/* Hash c under (lport, gport); -EEXIST when that pair is taken. */
int vsock_conn_hash(struct vsock_table *t, struct vsock_conn *c, uint32_t lport,
		    uint32_t gport);
struct vsock_conn *vsock_conn_find(const struct vsock_table *t, uint32_t lport, uint32_t gport);
/* Unhash, unlink, uncount and free c (its buffer too; not its fd, nor the device's lists). */
void vsock_conn_free(struct vsock_table *t, struct vsock_conn *c);
/* A host port for a host-initiated connection to gport, from VSOCK_LOCAL_PORT_FIRST up,
 * not in use with gport. */
uint32_t vsock_local_port(struct vsock_table *t, uint32_t gport);

/* ---- the device and its data path (io.c) ------------------------------------------------- */

struct vsock_dev;

/* Event-loop services the data path asks for (main.c). */
struct vsock_hooks {
	/* watch c's host socket for readability / writability (c->rd_watch, c->wr_watch
	 * already say what); 0 or -1 when the loop cannot */
	int (*conn_watch)(struct vsock_dev *d, struct vsock_conn *c);
	/* c is going away: drop its events */
	void (*conn_forget)(struct vsock_dev *d, struct vsock_conn *c);
	/* call vsock_tx_resume soon: a TX pass stopped at its budget */
	void (*tx_later)(struct vsock_dev *d);
};

/* Counters of what the guest and host peers did wrong (logged rate-limited). */
struct vsock_stats {
	uint64_t bad_pkts;          /* dropped or RST'd for their header */
	uint64_t bad_cid;
	uint64_t over_credit;       /* RW beyond the buf_alloc we advertised: RST */
	uint64_t no_conn;           /* a packet for no connection: RST */
	uint64_t refused;           /* guest REQUEST no listener took: RST */
	uint64_t conns_full;        /* REQUEST or accept past --max-conns */
	uint64_t bad_lines;         /* host peers closed for their CONNECT line */
	uint64_t rst_dropped;       /* RSTs owed when the RST queue was full */
	uint64_t conns_opened, conns_closed;
};

struct vsock_rst {
	uint32_t src_port, dst_port;    /* as the RST goes: ours, the guest's */
};

struct vsock_dev {
	struct vu_dev vu;           /* the generic vhost-user part */
	uint64_t features;
	uint64_t guest_cid;
	uint32_t buf_alloc;
	int listen_fd;              /* NAME in the socket directory (cwd) */
	const char *uds_name;
	struct vsock_table tab;
	struct vsock_conn *pend_head, *pend_tail;   /* owe control packets */
	struct vsock_conn *ready_head, *ready_tail; /* host data to read, credit to send it */
	struct vsock_rst rst[VSOCK_RST_QUEUE];
	unsigned rst_first, rst_count;
	bool rx_stalled;            /* no RX buffers: waiting for a kick */
	bool in_rx;                 /* rx_process running (a close inside it queues an RST) */
	/* No queue of this frontend started yet (set at init and when a frontend goes). */
	bool fresh;
	bool reset_owed;            /* a TRANSPORT_RESET event waits for an event buffer */
	/* kernel mode (kernel.c): the /dev/vhost-vsock that serves RX and TX, or -1 */
	int vhost_fd;
	uint64_t vhost_features;    /* what it offers of what we serve */
	bool vhost_running;
	struct vsock_hooks hooks;
	void *loop;                 /* the hooks' state */
	struct vsock_stats stats;
	struct ratelimit rl;
	struct iovec iov_tx[VSOCK_IOV_CAP], iov_rx[VSOCK_IOV_CAP];
	struct iovec iov[VSOCK_IOV_CAP];    /* a TX packet's payload */
};

extern const struct vu_dev_ops vsock_vu_ops;

/* ---- kernel mode (kernel.c) -------------------------------------------------------------- */

/* Serve RX and TX through the open /dev/vhost-vsock fd (its guest CID already set): take
 * ownership and read its features. Before the sandbox. 0, or -1 after a log line. */
int vsock_kernel_init(struct vsock_dev *d, int fd);
/* Hand queue qidx (RX or TX) to the kernel / take it back (its base from the kernel). */
void vsock_kernel_start(struct vsock_dev *d, unsigned qidx);
void vsock_kernel_stop(struct vsock_dev *d, unsigned qidx);

/* Set up the device; listen_fd is the VM's listening socket (nonblocking), uds_name its
 * name (NULL in kernel mode: no host sockets of ours). 0 or -EINVAL. */
int vsock_dev_init(struct vsock_dev *d, uint64_t guest_cid, uint32_t buf_alloc,
		   unsigned max_conns, int listen_fd, const char *uds_name,
		   const struct vsock_hooks *hooks);
/* Close every connection. */
void vsock_dev_exit(struct vsock_dev *d);
/* The loop's callbacks: the VM's socket has a host peer waiting; c's socket is readable /
 * writable; a deferred TX pass. */
void vsock_accept(struct vsock_dev *d);
void vsock_conn_readable(struct vsock_dev *d, struct vsock_conn *c);
void vsock_conn_writable(struct vsock_dev *d, struct vsock_conn *c);
void vsock_tx_resume(struct vsock_dev *d);
/* Between io.c and host.c: owe c's guest the control packets in bits; close c (with rst,
 * the guest hears it); make the loop watch what c's state needs; owe an RST for a packet of
 * no connection; fill RX buffers with what is owed and what host sockets have. */
void vsock_pend(struct vsock_dev *d, struct vsock_conn *c, unsigned bits);
void vsock_conn_close(struct vsock_dev *d, struct vsock_conn *c, bool rst);
void vsock_conn_sync(struct vsock_dev *d, struct vsock_conn *c);
void vsock_rst_queue(struct vsock_dev *d, uint32_t src_port, uint32_t dst_port);
void vsock_rx_process(struct vsock_dev *d);
/* host.c: c's CONNECT line (state VSOCK_LINE); a guest REQUEST with no connection yet. */
void vsock_read_line(struct vsock_dev *d, struct vsock_conn *c);
void vsock_guest_connect(struct vsock_dev *d, const struct vsock_pkt *p);
/* The frontend went away: every connection is reset (the guest that knew them is gone or
 * will be told by a transport reset), before guest memory is unmapped. */
void vsock_dev_disconnect(struct vsock_dev *d);

#endif
