/* Restart: a stream of writes from the harness, SIGKILL of bulkhead-blk in the middle, a new
 * worker re-attached with the kept inflight fd (SET_INFLIGHT_FD) and ring bases = used->idx.
 * The new worker must resubmit what was in flight: every write completes with status OK and
 * every acknowledged write is in the image. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "fixture.h"

#define NWRITES 3000
#define DEPTH   32
#define IMG     (16ULL << 20)
#define SERIAL  "restart-serial"

static struct fx x;

static void down(void)
{
	fx_teardown(&x);
}

TestSuite(restart, .fini = down, .timeout = 120);

static uint8_t seed_of(unsigned i)
{
	return (uint8_t)(i % 250 + 1);
}

/* Heads the inflight area still marks in flight for queue 0 (as the dead worker left it). */
static unsigned inflight_marked(struct hx *h)
{
	struct {
		uint64_t features;
		uint16_t version, desc_num, last_batch_head, used_idx;
	} *q = h->inflight;
	const uint8_t *desc = (const uint8_t *)h->inflight + 16;
	unsigned n = 0;

	for (unsigned i = 0; i < q->desc_num && i < h->qsize; i++)
		n += desc[16 * i] == 1;
	return n;
}

static void kill_and_restart(unsigned *marked, const char *const *args)
{
	int st, r;

	st = hx_worker_kill(&x.w);
	cr_assert(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "the worker was not running when killed (status %d)", st);
	*marked += inflight_marked(&x.h);
	cr_assert_eq(fx_start(&x, false, args), 0);
	r = hx_reattach(&x.h, fx_connect(&x), 0);
	cr_assert_eq(r, 0, "re-attach: %s", strerror(-r));
	/* a kick as a guest would after the reconnect; the worker may have resubmitted already */
	hx_kick(&x.h, 0);
}

/* Request i: a 4 KiB write of its own sector, except every 4th is a GET_ID. GET_ID completes
 * at once while the writes before it wait for the disk, so completions are out of order at
 * the kills: only the inflight area (not used->idx alone) tells what to resubmit. */
static bool is_get_id(unsigned i)
{
	return i % 4 == 3;
}

static void submit(struct hx *h, unsigned i, unsigned *of_slot)
{
	int slot = hx_slot_get(h, 0);

	cr_assert_geq(slot, 0);
	of_slot[slot] = i;
	if (is_get_id(i)) {
		memset(hx_slot_data(h, 0, slot), 0xee, VIRTIO_BLK_ID_BYTES);
		hx_blk_submit(h, 0, slot, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES);
	} else {
		fx_pattern(hx_slot_data(h, 0, slot), (uint64_t)i * 8, 4096, seed_of(i));
		hx_blk_submit(h, 0, slot, VIRTIO_BLK_T_OUT, (uint64_t)i * 8, 4096);
	}
}

static void complete(struct hx *h, const struct hx_done *d, const unsigned *of_slot, bool *acked)
{
	unsigned slot = d->head / HX_SLOT_DESCS, i = of_slot[slot];

	cr_assert(d->head % HX_SLOT_DESCS == 0 && !d->stray,
		  "used head %u was not outstanding (completed twice?)", d->head);
	cr_assert_eq(*hx_slot_status(h, 0, slot), VIRTIO_BLK_S_OK, "request %u: status %u", i,
		     *hx_slot_status(h, 0, slot));
	if (is_get_id(i))
		cr_assert_str_eq((char *)hx_slot_data(h, 0, slot), SERIAL);
	cr_assert(!acked[i], "request %u completed twice", i);
	acked[i] = true;
}

/* True when some request at avail position >= used->idx has already completed (consumed or
 * still on the used ring): then used->idx alone would make a new worker redo it. Request i
 * sits at avail position i (one publish per request, fewer than 65536 of them). */
static bool out_of_order(struct hx *h, const unsigned *of_slot, const bool *acked, unsigned sent)
{
	struct hx_queue *vq = &h->q[0];
	uint16_t u = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));

	for (unsigned i = u; i < sent; i++)
		if (acked[i])
			return true;
	for (uint16_t p = vq->last_used; p != u; p++) {
		uint32_t head = le32toh(vq->used->ring[p % vq->num].id);
		if (head / HX_SLOT_DESCS < HX_MAX_SLOTS && of_slot[head / HX_SLOT_DESCS] >= u)
			return true;
	}
	return false;
}

static void stream_with_kills(const unsigned *kill_at, unsigned nkills,
			      const char *const *args)
{
	static unsigned of_slot[HX_MAX_SLOTS];
	static bool acked[NWRITES];
	unsigned sent = 0, done = 0, k = 0, marked = 0, outstanding = 0;
	struct hx *h = &x.h;
	struct hx_done d;

	while (done < NWRITES) {
		while (sent < NWRITES && sent - done < DEPTH)
			submit(h, sent++, of_slot);
		hx_kick(h, 0);
		/* kill once past the mark, at a moment the worker has requests in flight */
		if (k < nkills && done >= kill_at[k] &&
		    ((inflight_marked(h) && out_of_order(h, of_slot, acked, sent)) ||
		     done > kill_at[k] + 500)) {
			outstanding += sent - done;
			kill_and_restart(&marked, args);
			k++;
		}
		int r = hx_wait(h, 0, HX_TIMEOUT_MS, &d);
		cr_assert_eq(r, 1, "request lost after %u completions, %u kills (%s)", done, k,
			     r < 0 ? strerror(-r) : "timeout");
		complete(h, &d, of_slot, acked);
		done++;
	}
	cr_assert(hx_worker_alive(&x.w));
	fprintf(stderr, "restart: %u kills, %u requests outstanding at the kills, %u marked "
		"in flight in the inflight area\n", nkills, outstanding, marked);
	/* the resubmission path must actually have been exercised */
	cr_assert_gt(marked, 0, "no kill hit a request in flight; the test proved nothing");
	for (unsigned i = 0; i < NWRITES; i++)
		cr_assert(is_get_id(i) || fx_host_has(&x, (uint64_t)i * 8, 4096, seed_of(i)),
			  "acknowledged write %u is not in the image", i);
}

Test(restart, sigkill_during_write_stream)
{
	static const unsigned kills[] = { 400, 1100, 1900, 2600 };
	/* O_DIRECT keeps writes in flight long enough for the kills to land among them */
	static const char *const args[] = { "--direct", "--serial=" SERIAL, NULL };
	int r;

	cr_assert_eq(fx_setup(&x, IMG), 0);
	cr_assert_eq(fx_start(&x, false, args), 0);
	r = fx_attach(&x, 1, 0);
	cr_assert_eq(r, 0, "attach: %s", strerror(-r));
	cr_assert_geq(x.h.inflight_fd, 0, "the worker did not offer INFLIGHT_SHMFD");
	stream_with_kills(kills, 4, args);
}

/* A kill with nothing in flight: the new worker continues where the rings are. */
Test(restart, sigkill_when_idle)
{
	uint8_t buf[4096], back[4096];
	unsigned marked = 0;

	cr_assert_eq(fx_setup(&x, FX_IMG_SIZE), 0);
	cr_assert_eq(fx_start(&x, false, NULL), 0);
	cr_assert_eq(fx_attach(&x, 1, 0), 0);
	fx_pattern(buf, 40, sizeof(buf), 7);
	cr_assert_eq(hx_blk_do(&x.h, 0, VIRTIO_BLK_T_OUT, 40, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	kill_and_restart(&marked, NULL);
	cr_assert_eq(marked, 0, "an idle worker left requests marked in flight");
	cr_assert_eq(hx_blk_do(&x.h, 0, VIRTIO_BLK_T_IN, 40, back, sizeof(back)), VIRTIO_BLK_S_OK);
	cr_assert_arr_eq(back, buf, sizeof(buf));
	fx_pattern(buf, 48, sizeof(buf), 8);
	cr_assert_eq(hx_blk_do(&x.h, 0, VIRTIO_BLK_T_OUT, 48, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	cr_assert(fx_host_has(&x, 48, sizeof(buf), 8));
	/* nothing was completed twice: no stray used entries */
	cr_assert_eq(hx_used_pending(&x.h, 0), 0);
}
