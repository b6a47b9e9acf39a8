/* Stream throughput of bulkhead-vsock (unix-socket mode) against a raw AF_UNIX socketpair on
 * the same machine, same run, 64 KiB writes (scripts/bench-vsock.sh). Host -> guest: a host
 * thread writes into the connection, the harness (the guest transport) takes RX packets and
 * returns credit; guest -> host: the guest sends 64 KiB RW packets within its credit, a host
 * thread reads. The raw baseline moves the same bytes through a socketpair between two
 * threads. Prints MB/s each and the ratios. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "hx_vsock.h"

#define CHUNK   65536u

static uint64_t total = 512ull << 20;
static uint8_t wbuf[CHUNK], rbuf[HXV_RXBUF];

struct side {
	int fd;
	uint64_t bytes;
};

static void *writer(void *arg)
{
	struct side *s = arg;

	for (uint64_t done = 0; done < s->bytes;) {
		ssize_t n = write(s->fd, wbuf, CHUNK);

		if (n <= 0)
			break;
		done += (uint64_t)n;
	}
	return NULL;
}

static void *reader(void *arg)
{
	static uint8_t b[CHUNK];
	struct side *s = arg;

	for (uint64_t done = 0; done < s->bytes;) {
		ssize_t n = read(s->fd, b, sizeof(b));

		if (n <= 0)
			break;
		done += (uint64_t)n;
	}
	return NULL;
}

static double mbps(uint64_t bytes, uint64_t ms)
{
	return (double)bytes / 1e6 / ((double)(ms ? ms : 1) / 1000.0);
}

static double raw(void)
{
	int sv[2];
	pthread_t t;
	struct side s;
	uint64_t t0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	s = (struct side){ sv[0], total };
	t0 = hx_now_ms();
	pthread_create(&t, NULL, writer, &s);
	struct side r = { sv[1], total };
	reader(&r);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
	return mbps(total, hx_now_ms() - t0);
}

static int connect_guest(struct hxv *v, struct hxv_conn *c, int lst)
{
	struct vsock_pkt p = hxv_pkt(c, VIRTIO_VSOCK_OP_REQUEST, 0);

	if (hxv_send(v, &p, NULL, 0) < 0 || hxv_recv(v, &p, rbuf, sizeof(rbuf), 5000) != 1 ||
	    p.op != VIRTIO_VSOCK_OP_RESPONSE)
		return -EPROTO;
	c->peer_buf_alloc = p.buf_alloc;
	c->peer_fwd_cnt = p.fwd_cnt;
	return accept4(lst, NULL, NULL, SOCK_CLOEXEC);
}

static double h2g(struct hxv *v, struct hxv_conn *c, int s)
{
	pthread_t t;
	struct side w = { s, total };
	uint64_t got = 0, t0 = hx_now_ms();
	struct vsock_pkt p;

	pthread_create(&t, NULL, writer, &w);
	while (got < total) {
		if (hxv_recv(v, &p, rbuf, sizeof(rbuf), 5000) != 1)
			break;
		if (p.op != VIRTIO_VSOCK_OP_RW)
			continue;
		got += p.len;
		c->fwd_cnt += p.len;
		if (c->fwd_cnt - c->fwd_sent >= c->buf_alloc / 2) {
			p = hxv_pkt(c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
			hxv_send(v, &p, NULL, 0);
			c->fwd_sent = c->fwd_cnt;
		}
	}
	if (got < total)
		shutdown(s, SHUT_RDWR);     /* the writer would wait forever */
	pthread_join(t, NULL);
	return got < total ? -1 : mbps(total, hx_now_ms() - t0);
}

/* Credit packets from the worker, without waiting. */
static void take_credit(struct hxv *v, struct hxv_conn *c, int timeout_ms)
{
	struct vsock_pkt p;

	while (hxv_recv(v, &p, rbuf, sizeof(rbuf), timeout_ms) == 1) {
		c->peer_buf_alloc = p.buf_alloc;
		c->peer_fwd_cnt = p.fwd_cnt;
		timeout_ms = 0;
	}
}

static double g2h(struct hxv *v, struct hxv_conn *c, int s)
{
	pthread_t t;
	struct side r = { s, total };
	uint64_t sent = 0, t0 = hx_now_ms();

	pthread_create(&t, NULL, reader, &r);
	while (sent < total) {
		/* a TX slot holds the header and 65492 bytes */
		uint32_t max = HX_SLOT_DATA - VSOCK_HDR_LEN;
		uint32_t n = hxv_credit(c) < max ? hxv_credit(c) : max;
		struct vsock_pkt p;

		if (!n) {
			take_credit(v, c, 5000);
			continue;
		}
		p = hxv_pkt(c, VIRTIO_VSOCK_OP_RW, n);
		if (hxv_send(v, &p, wbuf, n) < 0)
			break;
		c->tx_cnt += n;
		sent += n;
		take_credit(v, c, 0);
	}
	if (sent < total)
		shutdown(s, SHUT_RDWR);     /* the reader would wait forever */
	pthread_join(t, NULL);
	return sent < total ? -1 : mbps(total, hx_now_ms() - t0);
}

int main(int argc, char **argv)
{
	struct hxv v;
	struct hxv_conn c = { .gport = 1000, .hport = 5000, .buf_alloc = 256 << 10 };
	double r0, a, b;
	int lst, s;

	if (argc > 1)
		total = strtoull(argv[1], NULL, 0) << 20;
	memset(wbuf, 0x5a, sizeof(wbuf));
	if (hxv_start(&v, NULL) < 0 || (lst = hxv_listen(&v, HXV_NAME "_5000")) < 0 ||
	    (s = connect_guest(&v, &c, lst)) < 0) {
		fprintf(stderr, "hx-vsock-bench: setup failed\n");
		hxv_stop(&v);
		return 1;
	}
	r0 = raw();
	a = h2g(&v, &c, s);
	b = g2h(&v, &c, s);
	printf("raw socketpair %.0f MB/s; vsock host->guest %.0f MB/s (%.2fx); guest->host "
	       "%.0f MB/s (%.2fx)\n", r0, a, a / r0, b, b / r0);
	close(s);
	close(lst);
	hxv_stop(&v);
	return a < 0 || b < 0;
}
