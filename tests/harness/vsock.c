/* Harness for vhost-user-vsock (hx_vsock.h): the worker with its socket directory, and the
 * guest driver's TX/RX packets on top of the ring code in rings.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "hx_vsock.h"

static const char *vsock_bin(void)
{
	const char *b = getenv("BULKHEAD_VSOCK");

	return b && *b ? b : "build/dev-vsock/bulkhead-vsock";
}

void hxv_path(const struct hxv *v, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", v->dir, name);
}

int hxv_listen(const struct hxv *v, const char *name)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	hxv_path(v, name, a.sun_path, sizeof(a.sun_path));
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1024) < 0)
		return -errno;
	return s;
}

static void post(struct hx *h, unsigned slot)
{
	uint16_t head = (uint16_t)(slot * HX_SLOT_DESCS);

	hx_desc(h, VSOCK_Q_RX, head, hx_slot_data_gpa(h, VSOCK_Q_RX, slot), HXV_RXBUF,
		VRING_DESC_F_WRITE, 0);
	h->q[VSOCK_Q_RX].slot_busy[slot] = true;
	hx_publish(h, VSOCK_Q_RX, head);
}

int hxv_start(struct hxv *v, const char *const *args)
{
	const char *argv[24] = { "--guest-cid=42", "--uds-dir-fd=4", ("--uds-name=" HXV_NAME) };
	unsigned n = 3;
	int dirfd, r;

	memset(v, 0, sizeof(*v));
	snprintf(v->dir, sizeof(v->dir), "/tmp/hx-vsock-XXXXXX");
	if (!mkdtemp(v->dir))
		return -errno;
	for (; args && *args && n < 22; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	dirfd = open(v->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	r = hx_worker_spawn_fds(&v->w, vsock_bin(), NULL, argv, &dirfd, 1);
	close(dirfd);
	if (r < 0 || (r = hx_init(&v->h, 64ULL << 20)) < 0)
		return r;
	v->h_ready = true;
	r = hx_attach(&v->h, v->w.sock, VSOCK_NQUEUES, HX_QSIZE, 0);
	v->w.sock = -1;
	if (r < 0)
		return r;
	for (unsigned s = 0; s < v->h.q[VSOCK_Q_RX].nslots; s++)
		post(&v->h, s);
	return hx_kick(&v->h, VSOCK_Q_RX);
}

void hxv_stop(struct hxv *v)
{
	char cmd[128];

	if (v->h_ready)
		hx_exit(&v->h);
	v->h_ready = false;
	hx_worker_kill(&v->w);
	if (v->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", v->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "hx: %s failed\n", cmd);
	}
	v->dir[0] = 0;
}

struct vsock_pkt hxv_pkt(const struct hxv_conn *c, uint16_t op, uint32_t len)
{
	return (struct vsock_pkt){ .src_cid = HXV_CID, .dst_cid = VSOCK_HOST_CID,
				   .src_port = c->gport, .dst_port = c->hport, .len = len,
				   .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
				   .buf_alloc = c->buf_alloc, .fwd_cnt = c->fwd_cnt };
}

uint32_t hxv_credit(const struct hxv_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* A free TX slot, reclaiming completions (bounded wait). */
static int tx_slot(struct hxv *v)
{
	struct hx_done d;
	int s, r;

	while ((s = hx_slot_get(&v->h, VSOCK_Q_TX)) < 0) {
		r = hx_wait(&v->h, VSOCK_Q_TX, HX_TIMEOUT_MS, &d);
		if (r <= 0)
			return r < 0 ? r : -ETIMEDOUT;
	}
	return s;
}

int hxv_send_raw(struct hxv *v, const void *bytes, uint32_t n, uint32_t desc_len)
{
	int s = tx_slot(v);
	uint16_t head;

	if (s < 0)
		return s;
	if (n > HX_SLOT_DATA || desc_len > HX_SLOT_DATA)
		return -EINVAL;
	head = (uint16_t)(s * HX_SLOT_DESCS);
	memcpy(hx_slot_data(&v->h, VSOCK_Q_TX, (unsigned)s), bytes, n);
	hx_desc(&v->h, VSOCK_Q_TX, head, hx_slot_data_gpa(&v->h, VSOCK_Q_TX, (unsigned)s),
		desc_len, 0, 0);
	v->h.q[VSOCK_Q_TX].slot_busy[s] = true;
	hx_publish(&v->h, VSOCK_Q_TX, head);
	return hx_kick(&v->h, VSOCK_Q_TX);
}

int hxv_send(struct hxv *v, const struct vsock_pkt *p, const void *data, uint32_t len)
{
	static uint8_t buf[HX_SLOT_DATA];
	struct virtio_vsock_hdr h;

	if (len > HX_SLOT_DATA - VSOCK_HDR_LEN)
		return -EINVAL;
	vsock_hdr_encode(p, &h);
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + VSOCK_HDR_LEN, data, len);
	return hxv_send_raw(v, buf, VSOCK_HDR_LEN + len, VSOCK_HDR_LEN + len);
}

int hxv_recv(struct hxv *v, struct vsock_pkt *p, void *data, uint32_t cap, int timeout_ms)
{
	struct hx_done d;
	struct virtio_vsock_hdr h;
	uint8_t *b;
	unsigned slot;
	int r = hx_wait(&v->h, VSOCK_Q_RX, timeout_ms, &d);

	if (r <= 0)
		return r;
	slot = d.head / HX_SLOT_DESCS;
	if (d.stray || d.len < VSOCK_HDR_LEN || d.len > HXV_RXBUF)
		return -EPROTO;
	b = hx_slot_data(&v->h, VSOCK_Q_RX, slot);
	memcpy(&h, b, sizeof(h));
	vsock_hdr_decode(&h, p);
	if (p->len != d.len - VSOCK_HDR_LEN || p->len > cap)
		return -EPROTO;
	if (p->len)
		memcpy(data, b + VSOCK_HDR_LEN, p->len);
	post(&v->h, slot);
	r = hx_kick(&v->h, VSOCK_Q_RX);
	return r < 0 ? r : 1;
}

int hxv_wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 ? 1 : 0;
}
