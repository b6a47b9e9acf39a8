/* Harness side of vhost-user-net tests: the host end (a network namespace of the test's own,
 * a tap whose queue fds go to bulkhead-net the way the supervisor passes them, and a packet
 * socket on the tap to see and inject frames) and the guest driver's end (TX chains of a
 * virtio-net header and a frame, posted mergeable RX buffers, control commands). */
#ifndef BULKHEAD_HX_NET_H
#define BULKHEAD_HX_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_net.h>

#include "harness.h"

#define HXN_MAX_QUEUES 4
#define HXN_ETHERTYPE  0x88b5   /* IEEE local experimental: our test frames, nothing else */

struct hx_tap {
	char name[16];
	int fds[HXN_MAX_QUEUES];
	unsigned nq;
	int ifindex;
	int pkt;                 /* AF_PACKET socket bound to the tap, with PACKET_VNET_HDR */
};

/* Enter a new network namespace (unshare; as root no user namespace is needed) with IPv6
 * off, so the host stack sends nothing of its own out of the tap. 0 or -errno. The namespace
 * goes away with the last process in it: the test's fork and the worker it spawned. */
int hxn_netns_enter(void);
/* A tap with IFF_VNET_HDR (multi-queue when nq > 1), up, and the packet socket. 0/-errno. */
int hxn_tap_create(struct hx_tap *t, const char *name, unsigned nq);
void hxn_tap_close(struct hx_tap *t);
/* Send a frame out of the tap (towards the worker), with a virtio-net header (NULL: none). */
int hxn_tap_send(struct hx_tap *t, const struct virtio_net_hdr *vh, const void *frame,
		 size_t len);
/* Next frame the tap received (from the worker) of this ethertype, or 0 after timeout_ms;
 * *vh receives the packet socket's virtio-net header (GSO of the skb). Returns its length. */
long hxn_tap_recv(struct hx_tap *t, uint16_t ethertype, struct virtio_net_hdr *vh, void *buf,
		  size_t cap, int timeout_ms);

/* An Ethernet frame of len bytes: dst, src, HXN_ETHERTYPE, then a pattern from seed. */
void hxn_frame(uint8_t *f, size_t len, const uint8_t dst[6], const uint8_t src[6], uint8_t seed);

/* Guest: post nbufs RX buffers of buflen bytes each (slots 0..nbufs-1 of queue q), kick. */
int hxn_rx_post(struct hx *h, unsigned q, unsigned nbufs, uint32_t buflen);
/* Guest: the next received frame, header included (its num_buffers buffers gathered into
 * out, the buffers posted again). Returns its length, 0 on timeout, <0 on error. */
long hxn_rx_recv(struct hx *h, unsigned q, uint8_t *out, size_t cap, int timeout_ms,
		 unsigned *nbufs);
/* Guest: queue a TX chain (12-byte header descriptor, frame descriptor) in slot, and kick.
 * Returns the head. */
int hxn_tx(struct hx *h, unsigned q, unsigned slot, const struct virtio_net_hdr_mrg_rxbuf *vh,
	   const void *frame, uint32_t len);
/* Guest: a control command; returns the ack byte (VIRTIO_NET_OK/ERR) or -errno. */
int hxn_ctrl(struct hx *h, unsigned q, uint8_t cls, uint8_t cmd, const void *data,
	     uint32_t len);

#endif
