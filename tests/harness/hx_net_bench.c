/* hx-net-bench: frames per second through bulkhead-net between the harness (the guest's
 * rings) and a tap, against a plain read/write loop on the same tap in the same run. Single
 * queue pair, 1514-byte frames (1500 MTU). Runs in a network namespace of its own.
 *
 * usage: hx-net-bench --bin=PATH [--seconds=S] [--rounds=N]
 * prints one line per measurement ("tx raw-tap pps=... gbps=...") and the ratios. With
 * --rounds=N each direction alternates raw and bulkhead N times, S/N seconds each, and sums:
 * on a machine whose other load comes and goes, both sides of a ratio then see the same
 * share of it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hx_net.h"

#define FRAME 1514u
#define QSIZE 256
#define RXBUF 2048u

static const uint8_t NIC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t PEER[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

static atomic_bool stop_send;

/* Frames moved in so many milliseconds (summed over rounds). */
struct result {
	uint64_t frames, ms;
};

static struct result rate(uint64_t frames, uint64_t ms)
{
	return (struct result){ frames, ms };
}

static void add(struct result *sum, struct result r)
{
	sum->frames += r.frames;
	sum->ms += r.ms;
}

static double pps(struct result r)
{
	return (double)r.frames * 1000.0 / (double)(r.ms ? r.ms : 1);
}

/* The host side sends frames into the tap as fast as it can until told to stop. */
static void *sender(void *arg)
{
	struct hx_tap *t = arg;
	uint8_t f[FRAME];

	hxn_frame(f, FRAME, NIC, PEER, 1);
	while (!atomic_load(&stop_send))
		hxn_tap_send(t, NULL, f, FRAME);
	return NULL;
}

/* ---- baseline: the tap fd directly ---------------------------------------------------------- */

/* The worker shares the tap's file description and made it nonblocking; the raw loops block
 * as they always did (a raw reader finding the tap empty sleeps in read, it does not spin).
 * The worker does not touch the tap meanwhile: its TX ring is empty and it holds too few RX
 * buffers to read (rx_drain). */
static void tap_blocking(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? fl & ~O_NONBLOCK : fl | O_NONBLOCK);
}

static struct result raw_tx(int fd, unsigned ms)
{
	uint8_t buf[12 + FRAME] = { 0 };
	uint64_t n = 0, t0 = hx_now_ms(), end = t0 + ms;

	hxn_frame(buf + 12, FRAME, PEER, NIC, 2);
	tap_blocking(fd, true);
	while (hx_now_ms() < end)
		for (int i = 0; i < 64; i++)
			n += write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf);
	tap_blocking(fd, false);
	return rate(n, hx_now_ms() - t0);
}

static struct result raw_rx(struct hx_tap *t, unsigned ms)
{
	uint8_t buf[12 + 65550];
	uint64_t n = 0, t0, end;
	pthread_t th;

	tap_blocking(t->fds[0], true);
	atomic_store(&stop_send, false);
	pthread_create(&th, NULL, sender, t);
	t0 = hx_now_ms();
	end = t0 + ms;
	while (hx_now_ms() < end)
		n += read(t->fds[0], buf, sizeof(buf)) > 0;
	uint64_t took = hx_now_ms() - t0;
	atomic_store(&stop_send, true);
	pthread_join(th, NULL);
	tap_blocking(t->fds[0], false);
	return rate(n, took);
}

/* ---- through bulkhead-net ---------------------------------------------------------------- */

static struct result worker_tx(struct hx *h, unsigned ms)
{
	struct hx_queue *q = &h->q[1];
	uint64_t n = 0, t0 = hx_now_ms(), end = t0 + ms;
	struct virtio_net_hdr_mrg_rxbuf vh = { 0 };
	struct hx_done d;
	unsigned inflight = 0;

	for (unsigned s = 0; s < q->nslots; s++) {
		memcpy(hx_ptr(h, hx_slot_hdr_gpa(h, 1, s), sizeof(vh)), &vh, sizeof(vh));
		hxn_frame(hx_slot_data(h, 1, s), FRAME, PEER, NIC, 3);
		hx_desc(h, 1, (uint16_t)(s * HX_SLOT_DESCS), hx_slot_hdr_gpa(h, 1, s), 12,
			VRING_DESC_F_NEXT, (uint16_t)(s * HX_SLOT_DESCS + 1));
		hx_desc(h, 1, (uint16_t)(s * HX_SLOT_DESCS + 1), hx_slot_data_gpa(h, 1, s), FRAME,
			0, 0);
	}
	for (;;) {
		bool more = hx_now_ms() < end;
		int slot;

		while (more && (slot = hx_slot_get(h, 1)) >= 0) {
			q->slot_busy[slot] = true;
			hx_publish(h, 1, (uint16_t)(slot * HX_SLOT_DESCS));
			inflight++;
		}
		if (more)
			hx_notify(h, 1);
		if (!inflight)
			break;
		if (hx_wait(h, 1, HX_TIMEOUT_MS, &d) != 1)
			break;
		do {
			inflight--;
			n++;
		} while (hx_wait(h, 1, 0, &d) == 1);
	}
	return rate(n, hx_now_ms() - t0);
}

/* Post a receive buffer (again). */
static void rx_post(struct hx *h, unsigned slot)
{
	uint16_t head = (uint16_t)(slot * HX_SLOT_DESCS);

	hx_desc(h, 0, head, hx_slot_data_gpa(h, 0, slot), RXBUF, VRING_DESC_F_WRITE, 0);
	h->q[0].slot_busy[slot] = true;
	hx_publish(h, 0, head);
}

/* Take buffers back without posting more (the sender still running fills them) until none
 * come for 100 ms: the worker then lacks the room for a largest frame and stops reading the
 * tap, which is the raw loop's alone until the next worker round. */
static void rx_drain(struct hx *h)
{
	struct hx_done d;

	while (hx_wait(h, 0, 100, &d) == 1)
		;
}

static struct result worker_rx(struct hx *h, struct hx_tap *t, unsigned ms)
{
	uint64_t n = 0, t0, end;
	struct hx_done d;
	pthread_t th;

	for (unsigned s = 0; s < h->q[0].nslots; s++)
		if (!h->q[0].slot_busy[s])
			rx_post(h, s);
	hx_kick(h, 0);
	atomic_store(&stop_send, false);
	pthread_create(&th, NULL, sender, t);
	t0 = hx_now_ms();
	end = t0 + ms;
	while (hx_now_ms() < end) {
		if (hx_wait(h, 0, 100, &d) != 1)
			continue;
		do {
			rx_post(h, d.head / HX_SLOT_DESCS);
			n++;
		} while (hx_wait(h, 0, 0, &d) == 1);
		hx_notify(h, 0);
	}
	uint64_t took = hx_now_ms() - t0;
	rx_drain(h);
	atomic_store(&stop_send, true);
	pthread_join(th, NULL);
	return rate(n, took);
}

static void show(const char *what, struct result r)
{
	printf("%-14s pps=%.0f gbps=%.3f\n", what, pps(r), pps(r) * FRAME * 8 / 1e9);
}

int main(int argc, char **argv)
{
	const char *bin = NULL;
	unsigned secs = 3, rounds = 1, ms;
	struct hx_tap t;
	struct hx_worker w;
	struct hx h;
	struct result rtx = { 0 }, rrx = { 0 }, wtx = { 0 }, wrx = { 0 };
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--bin=", 6))
			bin = argv[i] + 6;
		else if (!strncmp(argv[i], "--seconds=", 10))
			secs = (unsigned)atoi(argv[i] + 10);
		else if (!strncmp(argv[i], "--rounds=", 9))
			rounds = (unsigned)atoi(argv[i] + 9);
		else
			bin = NULL, i = argc;
	}
	if (!bin || secs < 1 || secs > 120 || rounds < 1 || rounds > 100) {
		fprintf(stderr, "usage: hx-net-bench --bin=PATH [--seconds=1..120] "
			"[--rounds=1..100]\n");
		return 2;
	}
	ms = secs * 1000 / rounds;
	if ((r = hxn_netns_enter()) < 0 || (r = hxn_tap_create(&t, "bhb0", 1)) < 0) {
		fprintf(stderr, "hx-net-bench: namespace/tap: %s\n", strerror(-r));
		return 1;
	}
	static const char *const args[] = { "--tap-fd=4", NULL };
	if ((r = hx_worker_spawn_fds(&w, bin, NULL, args, t.fds, 1)) < 0 ||
	    (r = hx_init(&h, 64ULL << 20)) < 0 ||
	    (r = hx_attach(&h, w.sock, 3, QSIZE, HX_NET)) < 0) {
		fprintf(stderr, "hx-net-bench: worker: %s\n", strerror(-r));
		return 1;
	}
	w.sock = -1;
	/* the worker reads the tap only while it has RX buffers: between RX rounds it fills
	 * those it holds and stops, leaving the tap to the raw loop */
	for (unsigned i = 0; i < rounds; i++) {
		add(&rtx, raw_tx(t.fds[0], ms));
		add(&wtx, worker_tx(&h, ms));
	}
	for (unsigned i = 0; i < rounds; i++) {
		add(&rrx, raw_rx(&t, ms));
		add(&wrx, worker_rx(&h, &t, ms));
	}
	show("tx raw-tap", rtx);
	show("tx bulkhead", wtx);
	show("rx raw-tap", rrx);
	show("rx bulkhead", wrx);
	printf("ratio tx bulkhead/raw=%.2f rx bulkhead/raw=%.2f\n", pps(wtx) / pps(rtx),
	       pps(wrx) / pps(rrx));
	hx_exit(&h);
	hx_worker_kill(&w);
	hxn_tap_close(&t);
	return 0;
}
