/* Harness side of vhost-user-vsock tests: bulkhead-vsock spawned as the supervisor would
 * (vhost-user socket on fd 3, the socket directory on fd 4, --uds-name), and the guest
 * driver's end: RX buffers posted one descriptor each, TX packets of a header and payload,
 * and a per-connection credit record like a guest transport keeps. */
#ifndef BULKHEAD_HX_VSOCK_H
#define BULKHEAD_HX_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "harness.h"
#include "vsock.h"

#define HXV_CID     42u
#define HXV_NAME    "vm.sock"
#define HXV_RXBUF   HX_SLOT_DATA    /* a slot's whole data area: header and 65492 bytes */

struct hxv {
	struct hx h;
	struct hx_worker w;
	char dir[64];
	bool h_ready;
};

/* What the guest knows of one connection. */
struct hxv_conn {
	uint32_t gport, hport;
	uint32_t buf_alloc;                     /* what the guest advertises */
	uint32_t fwd_cnt, fwd_sent;             /* guest consumed, and told */
	uint32_t peer_buf_alloc, peer_fwd_cnt;  /* from the worker's packets */
	uint32_t tx_cnt;                        /* guest bytes sent */
};

/* Temp directory, worker (extra args NULL-terminated, may be NULL), attach, RX posted. */
int hxv_start(struct hxv *v, const char *const *args);
void hxv_stop(struct hxv *v);
/* dir/name into buf (sizeof >= 128). */
void hxv_path(const struct hxv *v, const char *name, char *buf, size_t len);
/* A listening unix socket at dir/name. */
int hxv_listen(const struct hxv *v, const char *name);

/* A header from the guest for c (src guest:gport, dst host:hport) with its credit. */
struct vsock_pkt hxv_pkt(const struct hxv_conn *c, uint16_t op, uint32_t len);
/* Send one TX packet (header, then len bytes of data, one descriptor); waits for a TX slot. */
int hxv_send(struct hxv *v, const struct vsock_pkt *p, const void *data, uint32_t len);
/* Send raw bytes as a TX chain of one descriptor of desc_len bytes (hostile tests). */
int hxv_send_raw(struct hxv *v, const void *bytes, uint32_t n, uint32_t desc_len);
/* The next RX packet: 1 with *p and up to cap data bytes, 0 on timeout, <0 on error. */
int hxv_recv(struct hxv *v, struct vsock_pkt *p, void *data, uint32_t cap, int timeout_ms);
/* Wait until fd is readable: 1, or 0 after timeout_ms. */
int hxv_wait_readable(int fd, int timeout_ms);
/* Credit the worker gives the guest's connection c right now. */
uint32_t hxv_credit(const struct hxv_conn *c);

#endif
