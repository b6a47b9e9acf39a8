/* Harness for vhost-user-net (hx_net.h): the host end in a namespace of the test's own, and
 * the guest driver's TX/RX/control chains on top of the ring code in rings.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>

#include "hx_net.h"

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

int hxn_netns_enter(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	/* router solicitations and MLD reports would reach the guest side as stray frames */
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	return write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
}

static int link_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (s < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		r = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!r && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		r = -errno;
	close(s);
	return r;
}

static int packet_socket(struct hx_tap *t)
{
	struct sockaddr_ll a = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				 .sll_ifindex = t->ifindex };
	int one = 1, big = 4 << 20;

	t->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (t->pkt < 0)
		return -errno;
	/* a 64 KiB GSO frame arrives whole: room for several */
	setsockopt(t->pkt, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	if (setsockopt(t->pkt, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    bind(t->pkt, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	return 0;
}

int hxn_tap_create(struct hx_tap *t, const char *name, unsigned nq)
{
	struct ifreq ifr;

	memset(t, 0, sizeof(*t));
	t->pkt = -1;
	for (unsigned i = 0; i < HXN_MAX_QUEUES; i++)
		t->fds[i] = -1;
	if (!nq || nq > HXN_MAX_QUEUES)
		return -EINVAL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	for (t->nq = 0; t->nq < nq; t->nq++) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (nq > 1 ? IFF_MULTI_QUEUE : 0);
		t->fds[t->nq] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (t->fds[t->nq] < 0 || ioctl(t->fds[t->nq], TUNSETIFF, &ifr) < 0)
			return -errno;
	}
	t->ifindex = (int)if_nametoindex(name);
	if (!t->ifindex)
		return -ENODEV;
	int r = link_up(name);
	return r < 0 ? r : packet_socket(t);
}

void hxn_tap_close(struct hx_tap *t)
{
	for (unsigned i = 0; i < HXN_MAX_QUEUES; i++)
		if (t->fds[i] >= 0)
			close(t->fds[i]);
	if (t->pkt >= 0)
		close(t->pkt);
	memset(t, 0, sizeof(*t));
	t->pkt = -1;
	for (unsigned i = 0; i < HXN_MAX_QUEUES; i++)
		t->fds[i] = -1;
}

int hxn_tap_send(struct hx_tap *t, const struct virtio_net_hdr *vh, const void *frame,
		 size_t len)
{
	struct virtio_net_hdr none = { 0 };
	struct iovec iov[2] = { { vh ? (void *)vh : &none, sizeof(none) },
				{ (void *)frame, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	return sendmsg(t->pkt, &mh, 0) == (ssize_t)(sizeof(none) + len) ? 0 : -errno;
}

long hxn_tap_recv(struct hx_tap *t, uint16_t ethertype, struct virtio_net_hdr *vh, void *buf,
		  size_t cap, int timeout_ms)
{
	uint64_t deadline = hx_now_ms() + (uint64_t)timeout_ms;
	struct pollfd p = { .fd = t->pkt, .events = POLLIN };

	for (;;) {
		struct sockaddr_ll from;
		struct iovec iov[2] = { { vh, sizeof(*vh) }, { buf, cap } };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from),
				     .msg_iov = iov, .msg_iovlen = 2 };
		uint64_t now = hx_now_ms();
		ssize_t n;

		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
			return 0;
		n = recvmsg(t->pkt, &mh, MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		/* what the host itself sends out of the tap, and other protocols, are not ours */
		if (from.sll_pkttype == PACKET_OUTGOING || n < (ssize_t)(sizeof(*vh) + 14) ||
		    ((uint8_t *)buf)[12] != ethertype >> 8 ||
		    ((uint8_t *)buf)[13] != (ethertype & 0xff))
			continue;
		return n - (ssize_t)sizeof(*vh);
	}
}

void hxn_frame(uint8_t *f, size_t len, const uint8_t dst[6], const uint8_t src[6], uint8_t seed)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = HXN_ETHERTYPE >> 8;
	f[13] = HXN_ETHERTYPE & 0xff;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i * 7 + seed);
}

/* ---- the guest driver's side ---------------------------------------------------------------- */

static void post_slot(struct hx *h, unsigned q, unsigned slot)
{
	uint16_t head = (uint16_t)(slot * HX_SLOT_DESCS);

	hx_desc(h, q, head, hx_slot_data_gpa(h, q, slot), h->q[q].rx_buflen, VRING_DESC_F_WRITE,
		0);
	h->q[q].slot_busy[slot] = true;
	hx_publish(h, q, head);
}

int hxn_rx_post(struct hx *h, unsigned q, unsigned nbufs, uint32_t buflen)
{
	if (nbufs > h->q[q].nslots || buflen > HX_SLOT_DATA || !buflen)
		return -EINVAL;
	h->q[q].rx_buflen = buflen;
	for (unsigned s = 0; s < nbufs; s++)
		post_slot(h, q, s);
	return hx_kick(h, q);
}

long hxn_rx_recv(struct hx *h, unsigned q, uint8_t *out, size_t cap, int timeout_ms,
		 unsigned *nbufs)
{
	struct hx_done d;
	uint64_t total = 0;
	uint16_t want = 1;
	int r;

	*nbufs = 0;
	for (unsigned i = 0; i < want; i++) {
		unsigned slot;

		r = hx_wait(h, q, i ? 0 : timeout_ms, &d);
		if (r <= 0)
			return i ? -EPROTO : r;   /* a frame's buffers are published together */
		slot = d.head / HX_SLOT_DESCS;
		if (d.stray || d.len > h->q[q].rx_buflen || total + d.len > cap)
			return -EPROTO;
		memcpy(out + total, hx_slot_data(h, q, slot), d.len);
		if (i == 0) {
			if (d.len < 12)
				return -EPROTO;
			memcpy(&want, out + 10, 2);
			want = le16toh(want);
			if (!want)
				return -EPROTO;
		}
		total += d.len;
		post_slot(h, q, slot);
	}
	*nbufs = want;
	r = hx_kick(h, q);
	return r < 0 ? r : (long)total;
}

int hxn_tx(struct hx *h, unsigned q, unsigned slot, const struct virtio_net_hdr_mrg_rxbuf *vh,
	   const void *frame, uint32_t len)
{
	uint16_t head = (uint16_t)(slot * HX_SLOT_DESCS);

	if (slot >= h->q[q].nslots || len > HX_SLOT_DATA)
		return -EINVAL;
	memcpy(hx_ptr(h, hx_slot_hdr_gpa(h, q, slot), sizeof(*vh)), vh, sizeof(*vh));
	memcpy(hx_slot_data(h, q, slot), frame, len);
	hx_desc(h, q, head, hx_slot_hdr_gpa(h, q, slot), sizeof(*vh), VRING_DESC_F_NEXT,
		head + 1);
	hx_desc(h, q, head + 1, hx_slot_data_gpa(h, q, slot), len, 0, 0);
	h->q[q].slot_busy[slot] = true;
	hx_publish(h, q, head);
	int r = hx_kick(h, q);
	return r < 0 ? r : head;
}

int hxn_ctrl(struct hx *h, unsigned q, uint8_t cls, uint8_t cmd, const void *data,
	     uint32_t len)
{
	uint8_t *hdr = hx_ptr(h, hx_slot_hdr_gpa(h, q, 0), 2);
	uint8_t *ack = hx_slot_status(h, q, 0);
	uint16_t head = 0;
	struct hx_done d;
	int r;

	if (len > HX_SLOT_DATA)
		return -EINVAL;
	hdr[0] = cls;
	hdr[1] = cmd;
	*ack = 0xee;
	hx_desc(h, q, 0, hx_slot_hdr_gpa(h, q, 0), 2, VRING_DESC_F_NEXT, 1);
	if (len) {
		memcpy(hx_slot_data(h, q, 0), data, len);
		hx_desc(h, q, 1, hx_slot_data_gpa(h, q, 0), len, VRING_DESC_F_NEXT, 2);
		hx_desc(h, q, 2, hx_slot_status_gpa(h, q, 0), 1, VRING_DESC_F_WRITE, 0);
	} else {
		hx_desc(h, q, 0, hx_slot_hdr_gpa(h, q, 0), 2, VRING_DESC_F_NEXT, 2);
		hx_desc(h, q, 2, hx_slot_status_gpa(h, q, 0), 1, VRING_DESC_F_WRITE, 0);
	}
	h->q[q].slot_busy[0] = true;
	hx_publish(h, q, head);
	if ((r = hx_kick(h, q)) < 0)
		return r;
	r = hx_wait(h, q, HX_TIMEOUT_MS, &d);
	if (r <= 0)
		return r < 0 ? r : -ETIMEDOUT;
	if (d.head != head || d.len != 1)
		return -EPROTO;
	return *ack;
}
