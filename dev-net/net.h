/* bulkhead-net: a vhost-user-net backend over tap queues. This header holds the pure device
 * model (features, config space, the virtio-net header and anti-spoofing checks, control
 * queue commands, the command line), testable without a socket or a tap, and the data path
 * (io.c) that plugs into the vhost-user backend library. */
#ifndef BULKHEAD_NET_H
#define BULKHEAD_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>

#include "iov.h"
#include "net_rss.h"
#include "net_stats.h"
#include "sandbox.h"
#include "virtq.h"
#include "vu_backend.h"

#define NET_MAX_PAIRS    NET_STATS_MAX_PAIRS
#define NET_NAME_MAX     24
#define NET_HDR_LEN      12u    /* virtio_net_hdr_mrg_rxbuf: VERSION_1 or MRG_RXBUF */
#define NET_HDR_LEN_LEGACY 10u  /* virtio_net_hdr: a legacy driver without MRG_RXBUF */
#define NET_ETH_HLEN     14u
/* Largest frame either way: a 64 KiB GSO frame plus its Ethernet and VLAN headers. */
#define NET_FRAME_MAX    (65536u + 14u)
/* Largest frame a tap without receive offloads hands us: 1500 MTU + Ethernet + VLAN. */
#define NET_FRAME_SMALL  (1500u + 14u + 4u)
#define NET_TX_IOV_CAP   256u   /* segments of one TX chain (Linux uses up to 19) */
#define NET_RX_IOV_CAP   32u    /* segments of one RX chain (Linux "big packets": 19) */
#define NET_RX_RESERVE   64u    /* RX chains held for the next frames: 64 mergeable buffers
				 * of >= 1518 bytes cover a 64 KiB frame */
#define NET_CTRL_IOV_CAP 64u    /* segments of one control command */
#define NET_BUDGET       256u   /* frames per queue per wakeup before the loop runs others */

/* ---- command line ---------------------------------------------------------------------- */

struct net_opts {
	const char *socket_path;    /* --socket-path: listen, one frontend at a time */
	int fd;                     /* --fd: an already connected socket, or -1 */
	bool print_caps;            /* --print-capabilities */
	int tap_fd[NET_MAX_PAIRS];  /* --tap-fd, repeated: one per queue pair, in order */
	unsigned ntap_fd;
	const char *tap;            /* --tap=IFNAME: opened by the worker (started by hand) */
	unsigned pairs;             /* --queues */
	uint8_t mac[6];             /* --mac */
	char name[NET_NAME_MAX + 1];
	int stats_fd;               /* --stats-fd, or -1 */
	/* --rss-map-fds=CFG,KEY,TABLE: the steering program's maps (common/net_rss.h), which
	 * the supervisor attached to the tap; with them, and --queues > 1, F_RSS is offered */
	int rss_fd[NET_RSS_MAPS];
	bool rss;
	bool no_seccomp;            /* --disable-seccomp */
	struct sandbox_opts runas;  /* --runas=UID:GID (runas.runas, uid, gid) */
};

/* Parse argv. Returns 0, or -EINVAL with a one-line reason in err (no trailing newline). */
int net_opts_parse(struct net_opts *o, int argc, char **argv, char *err, size_t errlen);
extern const char net_capabilities[];   /* the --print-capabilities JSON line */

/* ---- taps (tap.c) ----------------------------------------------------------------------- */

/* Check an adopted tap queue fd (a tap, with IFF_NO_PI and IFF_VNET_HDR, multi-queue when
 * pairs > 1; a queue a previous worker detached is attached again) and make it nonblocking.
 * ifname (IFNAMSIZ bytes) receives its interface name. 0 or -1 with a line logged. */
int net_tap_adopt(int fd, unsigned pairs, char *ifname);
/* Open `pairs` queues of the existing tap ifname (--tap). 0 or -1 with a line logged. */
int net_tap_open(const char *ifname, unsigned pairs, int *fds);
/* TUN_F_* offloads for the acked virtio features (what the tap may hand the guest). */
unsigned net_tap_offloads(uint64_t features);
/* The virtio-net header size both sides use for the acked features. */
unsigned net_hdr_len(uint64_t features);

/* ---- device model (net.c) ---------------------------------------------------------------- */

struct net_model {
	uint8_t mac[6];
	unsigned pairs;             /* queue pairs offered (max_virtqueue_pairs) */
	uint64_t features;          /* acked */
	bool rss;                   /* the steering maps are there: F_RSS is offered */
};

uint64_t net_features(const struct net_model *m);
/* Config read of [offset, offset+len) of struct virtio_net_config (zero past it). 0/-EINVAL. */
int net_config_read(const struct net_model *m, uint8_t *buf, uint32_t offset, uint32_t len);
bool net_mac_valid_unicast(const uint8_t mac[6]);

/* What a queue index is for, under the acked features. */
enum net_qrole { NET_Q_NONE, NET_Q_RX, NET_Q_TX, NET_Q_CTRL };
enum net_qrole net_qrole(const struct net_model *m, unsigned qidx, unsigned *pair);
/* Queues the frontend may set up: rx/tx for every pair, then the control queue. */
static inline unsigned net_nqueues(unsigned pairs)
{
	return 2 * pairs + 1;
}

/* Verdict on a TX chain. */
enum net_tx_verdict {
	NET_TX_OK,
	NET_TX_WRITABLE,    /* a device-writable buffer in a TX chain */
	NET_TX_SHORT,       /* less than a header and an Ethernet header */
	NET_TX_LONG,        /* more than a header and NET_FRAME_MAX */
	NET_TX_BAD_HDR,     /* flags, gso_type, gso_size, csum or hdr_len not acceptable */
	NET_TX_SPOOFED,     /* source MAC is not ours */
};

/* Check a popped TX chain against the acked features and our MAC. head receives the
 * virtio-net and Ethernet headers the checks looked at (one read of guest memory). */
enum net_tx_verdict net_tx_check(const struct net_model *m, const struct vq_elem *e,
				 uint8_t head[NET_HDR_LEN + NET_ETH_HLEN]);
const char *net_tx_verdict_str(enum net_tx_verdict v);
/* The header fields alone (frame_len: bytes after the virtio-net header). */
bool net_hdr_ok(const struct net_model *m, const struct virtio_net_hdr *h, uint64_t frame_len);

/* ---- receive-side scaling (rss.c) ------------------------------------------------------ */

/* The steering program's maps as the worker sees them: mmapped (main.c), or plain memory in
 * the unit test. cfg NULL: no maps, no F_RSS. */
struct net_rss_maps {
	struct net_rss_cfg *cfg;
	struct net_rss_key *key;
	struct net_rss_table *table;
};

/* The largest RSS_CONFIG: header, a full table, max_tx_vq, key length and a 40-byte key. */
#define NET_RSS_CONFIG_MAX (8u + 2u * NET_RSS_TABLE_MAX + 3u + NET_RSS_KEY_LEN)

/* One VIRTIO_NET_CTRL_MQ_RSS_CONFIG, checked. */
struct net_rss_conf {
	uint32_t hash_types;
	uint16_t table_len;
	uint16_t unclassified;
	uint16_t table[NET_RSS_TABLE_MAX];
	uint16_t max_tx_vq;
	uint8_t key[NET_RSS_KEY_LEN];
	unsigned pairs_used;        /* max_tx_vq, or more when a queue named needs it */
};

/* Parse struct virtio_net_rss_config (len bytes) for a device of `pairs` queue pairs: types
 * we hash, a table of 2^n <= 128 entries, every queue < pairs, 1 <= max_tx_vq <= pairs, a
 * 40-byte key, nothing after it. 0 or -EINVAL. */
int net_rss_parse(const uint8_t *buf, size_t len, unsigned pairs, struct net_rss_conf *c);
/* Write c into the maps: disabled, then the table, key and rest, then enabled. */
void net_rss_write(const struct net_rss_maps *m, const struct net_rss_conf *c);
/* What the maps hold while the driver configured no RSS: flows spread over `pairs`. */
void net_rss_spread(const struct net_rss_maps *m, unsigned pairs);

/* State the control queue changes. */
struct net_ctrl_state {
	unsigned vq_pairs;          /* VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET: pairs in use */
	struct net_rss_maps rss;    /* RSS_CONFIG writes here (cfg NULL: no RSS) */
};

/*
 * Answer one control command: e->iov holds class, command and data (readable), then at
 * least one writable byte for the ack. Returns VIRTIO_NET_OK / VIRTIO_NET_ERR (to be
 * written to the ack byte), or -EINVAL when the chain has no header or no ack byte (the
 * queue is broken then).
 */
int net_ctrl(const struct net_model *m, struct net_ctrl_state *s, const struct vq_elem *e);

/* ---- the device and its data path (io.c) ---------------------------------------------- */

struct net_dev;

/* Event-loop services the data path asks for (main.c); NULL members are skipped. */
struct net_hooks {
	/* watch tap queue `pair` for readability (RX) and writability (a held TX frame) */
	void (*tap_watch)(struct net_dev *d, unsigned pair, bool rd, bool wr);
};

struct net_rx {
	struct vq_elem el[NET_RX_RESERVE];  /* popped chains, in pop order from `first` */
	struct iovec (*iov)[NET_RX_IOV_CAP];
	unsigned first, count;
	bool stalled;               /* waiting for the guest to add buffers (a kick) */
};

struct net_tx {
	struct vq_elem el;
	struct iovec iov[NET_TX_IOV_CAP];
	uint8_t head[NET_HDR_LEN + NET_ETH_HLEN];  /* the checked headers, our copy */
	struct iovec wv[NET_TX_IOV_CAP + 1];        /* what goes to writev */
	unsigned nwv;
	bool held;                  /* el popped, the tap said EAGAIN: retried when writable */
};

struct net_pair {
	int tap;
	bool attached;              /* multi-queue tap: this queue is attached (TUNSETQUEUE) */
	bool rd, wr;                /* what the loop is asked to watch */
	struct net_rx rx;
	struct net_tx tx;
};

struct net_dev {
	struct vu_dev vu;           /* the generic vhost-user part */
	struct net_model model;
	struct net_ctrl_state ctrl;
	struct net_hooks hooks;
	void *loop;                 /* the hooks' own state */
	bool multiqueue_tap;        /* taps opened with IFF_MULTI_QUEUE */
	unsigned hdr_len;           /* virtio-net header bytes for the acked features */
	bool mergeable;             /* VIRTIO_NET_F_MRG_RXBUF acked */
	struct net_pair pair[NET_MAX_PAIRS];
	struct net_stats *stats;    /* shared page (--stats-fd) or own memory */
	struct ratelimit rl;        /* guest-triggerable log lines */
};

extern const struct vu_dev_ops net_vu_ops;

/* Set up for `pairs` tap fds (taken over) with mac; stats is the page to count in (already
 * initialised with net_stats_attach). 0 or -ENOMEM. */
int net_dev_init(struct net_dev *d, const int *taps, unsigned pairs, const uint8_t mac[6],
		 struct net_stats *stats, const struct net_hooks *hooks);
void net_dev_exit(struct net_dev *d);
/* Give the device the steering maps (after net_dev_init): F_RSS is offered from now on. */
void net_dev_rss(struct net_dev *d, const struct net_rss_maps *m);
/* The loop's readiness callbacks for tap queue `pair`. */
void net_tap_readable(struct net_dev *d, unsigned pair);
void net_tap_writable(struct net_dev *d, unsigned pair);
/* The frontend went away: hand back every popped chain before guest memory is unmapped. */
void net_dev_disconnect(struct net_dev *d);

/* Initialise (or, same version and pair count, keep counting in) a stats page. */
void net_stats_attach(struct net_stats *s, unsigned pairs);

#endif
