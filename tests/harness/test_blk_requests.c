/* End-to-end tests of bulkhead-blk through the vhost-user harness: every request type and
 * error path, checked against the image on the host, config space, several queues, O_DIRECT,
 * the IOPS limit, and well-formed chain shapes (split header, indirect, zero-length parts). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "fixture.h"

static struct fx x;

static void up(bool path_mode, unsigned nq, const char *const *args)
{
	cr_assert_eq(fx_setup(&x, FX_IMG_SIZE), 0, "fixture setup");
	cr_assert_eq(fx_start(&x, path_mode, args), 0, "spawn %s", hx_blk_bin());
	int r = fx_attach(&x, nq, 0);
	cr_assert_eq(r, 0, "attach: %s", strerror(-r));
}

static void down(void)
{
	/* the worker must have survived everything the test did */
	bool alive = hx_worker_alive(&x.w);
	fx_teardown(&x);
	cr_expect(alive, "worker died during the test");
}

TestSuite(blk, .fini = down, .timeout = 60);

static int do_rw(unsigned q, uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	return hx_blk_do(&x.h, q, type, sector, buf, len);
}

Test(blk, read_matches_image)
{
	static uint8_t buf[HX_SLOT_DATA], want[HX_SLOT_DATA];
	static const uint32_t lens[] = { 512, 4096, 8192, HX_SLOT_DATA };
	static const uint64_t sectors[] = { 0, 1, 77, FX_IMG_SIZE / 512 - 128 };

	up(false, 1, NULL);
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(do_rw(0, VIRTIO_BLK_T_IN, sectors[i], buf, lens[i]), VIRTIO_BLK_S_OK);
		fx_pattern(want, sectors[i], lens[i], 0);
		cr_assert_arr_eq(buf, want, lens[i], "read of sector %lu, %u bytes",
				 (unsigned long)sectors[i], lens[i]);
	}
}

Test(blk, read_used_len_counts_written_bytes)
{
	struct hx_done d;
	int slot, head;

	up(false, 1, NULL);
	slot = hx_slot_get(&x.h, 0);
	head = hx_blk_submit(&x.h, 0, slot, VIRTIO_BLK_T_IN, 8, 4096);
	hx_kick(&x.h, 0);
	cr_assert_eq(hx_wait(&x.h, 0, HX_TIMEOUT_MS, &d), 1);
	cr_assert_eq(d.head, head);
	cr_assert_eq(*hx_slot_status(&x.h, 0, slot), VIRTIO_BLK_S_OK);
	/* virtio: used.len is the number of bytes written into the buffer: data + status */
	cr_expect_eq(d.len, 4097, "used len %u", d.len);
}

Test(blk, write_reaches_image_and_reads_back)
{
	static uint8_t buf[16384], back[16384];

	up(false, 1, NULL);
	fx_pattern(buf, 100, sizeof(buf), 9);
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_OUT, 100, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	cr_assert(fx_host_has(&x, 100, sizeof(buf), 9), "host image lacks the written data");
	cr_assert(fx_host_has(&x, 99, 512, 0), "sector before the write changed");
	cr_assert(fx_host_has(&x, 132, 512, 0), "sector after the write changed");
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_IN, 100, back, sizeof(back)), VIRTIO_BLK_S_OK);
	cr_assert_arr_eq(back, buf, sizeof(buf));
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), VIRTIO_BLK_S_OK);
}

Test(blk, get_id_returns_serial)
{
	static const char *const args[] = { "--serial=bh-serial-0123", NULL };
	char id[VIRTIO_BLK_ID_BYTES + 1] = { 0 };

	up(false, 1, args);
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES), VIRTIO_BLK_S_OK);
	cr_assert_str_eq(id, "bh-serial-0123");
	for (unsigned i = strlen("bh-serial-0123"); i < VIRTIO_BLK_ID_BYTES; i++)
		cr_assert_eq(id[i], 0, "byte %u after the serial is not NUL", i);
}

/* One discard / write-zeroes segment of nsect sectors at sector. */
static int dwz(unsigned q, uint32_t type, uint64_t sector, uint32_t nsect, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = htole64(sector), .num_sectors = htole32(nsect), .flags = htole32(flags),
	};
	return do_rw(q, type, 0, &seg, sizeof(seg));
}

static int is_hole(uint64_t off)
{
	return lseek(x.imgfd, (off_t)off, SEEK_HOLE) == (off_t)off;
}

Test(blk, discard_punches_hole)
{
	up(false, 1, NULL);
	cr_assert(x.h.features & (1ULL << VIRTIO_BLK_F_DISCARD), "no VIRTIO_BLK_F_DISCARD");
	cr_assert(!is_hole(1 << 20), "image already has a hole");
	cr_assert_eq(dwz(0, VIRTIO_BLK_T_DISCARD, 2048, 2048, 0), VIRTIO_BLK_S_OK);
	cr_assert(is_hole(1 << 20), "discarded range is not a hole on the host");
	cr_assert(fx_host_has(&x, 2047, 512, 0), "sector before the discard changed");
	cr_assert(fx_host_has(&x, 4096, 512, 0), "sector after the discard changed");
}

Test(blk, write_zeroes_without_unmap)
{
	uint8_t buf[4096];

	up(false, 1, NULL);
	cr_assert(x.h.features & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES), "no F_WRITE_ZEROES");
	cr_assert_eq(dwz(0, VIRTIO_BLK_T_WRITE_ZEROES, 300, 24, 0), VIRTIO_BLK_S_OK);
	cr_assert(fx_host_zero(&x, 300 * 512, 24 * 512), "range not zero on the host");
	cr_assert(fx_host_has(&x, 299, 512, 0) && fx_host_has(&x, 324, 512, 0),
		  "neighbours of the zeroed range changed");
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_IN, 300, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0, "device read byte %u not zero", i);
}

Test(blk, write_zeroes_with_unmap_deallocates)
{
	up(false, 1, NULL);
	cr_assert_eq(dwz(0, VIRTIO_BLK_T_WRITE_ZEROES, 4096, 2048,
			 VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP), VIRTIO_BLK_S_OK);
	cr_assert(fx_host_zero(&x, 4096 * 512, 2048 * 512), "range not zero on the host");
	cr_assert(is_hole(4096 * 512), "UNMAP did not deallocate the range");
	cr_assert(fx_host_has(&x, 4095, 512, 0) && fx_host_has(&x, 6144, 512, 0));
}

Test(blk, discard_write_zeroes_bad_segments)
{
	uint64_t cap = FX_IMG_SIZE / 512;
	struct virtio_blk_discard_write_zeroes two[2] = {
		{ .sector = htole64(0), .num_sectors = htole32(8) },
		{ .sector = htole64(64), .num_sectors = htole32(8) },
	};

	up(false, 1, NULL);
	cr_assert_eq(dwz(0, VIRTIO_BLK_T_DISCARD, cap - 8, 16, 0), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(dwz(0, VIRTIO_BLK_T_WRITE_ZEROES, UINT64_MAX - 2, 8, 0), VIRTIO_BLK_S_IOERR);
	/* max_discard_seg / max_write_zeroes_seg is 1 */
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_WRITE_ZEROES, 0, two, sizeof(two)), VIRTIO_BLK_S_IOERR);
	cr_assert(fx_host_has(&x, 0, 4096, 0) && fx_host_has(&x, 64, 4096, 0),
		  "a refused write-zeroes changed the image");
	cr_assert(fx_host_has(&x, cap - 8, 4096, 0), "a refused discard changed the image");
}

Test(blk, read_only_refuses_writes)
{
	static const char *const args[] = { "--read-only", NULL };
	uint8_t buf[4096];
	struct stat st, st0;

	up(false, 1, args);
	fstat(x.imgfd, &st0);
	cr_assert(x.h.features & (1ULL << VIRTIO_BLK_F_RO), "no VIRTIO_BLK_F_RO");
	memset(buf, 0x5a, sizeof(buf));
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_OUT, 10, buf, sizeof(buf)), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(dwz(0, VIRTIO_BLK_T_WRITE_ZEROES, 10, 8, 0), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(dwz(0, VIRTIO_BLK_T_DISCARD, 10, 8, 0), VIRTIO_BLK_S_IOERR);
	cr_assert(fx_host_has(&x, 10, sizeof(buf), 0), "read-only image was modified");
	fstat(x.imgfd, &st);
	cr_assert_eq(st.st_blocks, st0.st_blocks, "read-only image lost blocks");
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_IN, 10, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	cr_assert(buf[0] == fx_byte(10, 0, 0));
}

Test(blk, out_of_range_is_ioerr)
{
	uint64_t cap = FX_IMG_SIZE / 512;
	uint8_t buf[1024];
	struct stat st;

	up(false, 1, NULL);
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_IN, cap - 1, buf, 512), VIRTIO_BLK_S_OK);
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_IN, cap, buf, 512), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_IN, cap - 1, buf, 1024), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_IN, UINT64_MAX, buf, 512), VIRTIO_BLK_S_IOERR);
	/* sector * 512 overflows 64 bits to a small offset */
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_IN, 1ULL << 55, buf, 512), VIRTIO_BLK_S_IOERR);
	memset(buf, 0x77, sizeof(buf));
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_OUT, cap, buf, 512), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_OUT, (1ULL << 55) + 4, buf, 512), VIRTIO_BLK_S_IOERR);
	fstat(x.imgfd, &st);
	cr_assert_eq((uint64_t)st.st_size, FX_IMG_SIZE, "an out-of-range write grew the image");
	cr_assert(fx_host_has(&x, 4, 512, 0), "a wrapped write reached the image");
}

Test(blk, length_not_multiple_of_512_is_ioerr)
{
	uint8_t buf[1000];

	up(false, 1, NULL);
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_IN, 0, buf, 100), VIRTIO_BLK_S_IOERR);
	memset(buf, 0x33, sizeof(buf));
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_OUT, 20, buf, 1000), VIRTIO_BLK_S_IOERR);
	cr_assert(fx_host_has(&x, 20, 1024, 0), "a refused write changed the image");
}

Test(blk, unknown_type_is_unsupp)
{
	uint8_t buf[512] = { 0 };

	up(false, 1, NULL);
	cr_assert_eq(do_rw(0, 0x77, 0, buf, 512), VIRTIO_BLK_S_UNSUPP);
	cr_assert_eq(do_rw(0, 0x77, 0, NULL, 0), VIRTIO_BLK_S_UNSUPP);
	/* the legacy SCSI command type is not offered either */
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_SCSI_CMD, 0, buf, 512), VIRTIO_BLK_S_UNSUPP);
	/* and the queue still works */
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_IN, 0, buf, 512), VIRTIO_BLK_S_OK);
}

Test(blk, config_space)
{
	static const char *const args[] = { "--num-queues=2", NULL };
	struct virtio_blk_config c;
	uint64_t n = 0;

	up(false, 2, args);
	cr_assert_eq(vuf_get_queue_num(&x.h.f, &n), 0);
	cr_assert_eq(n, 2);
	memset(&c, 0xff, sizeof(c));
	cr_assert_eq(vuf_get_config(&x.h.f, 0, (uint8_t *)&c, sizeof(c)), 0);
	cr_assert_eq(le64toh(c.capacity), FX_IMG_SIZE / 512);
	cr_assert(x.h.features & (1ULL << VIRTIO_BLK_F_BLK_SIZE));
	cr_assert_eq(le32toh(c.blk_size), 512);
	cr_assert(x.h.features & (1ULL << VIRTIO_BLK_F_SEG_MAX));
	cr_assert(le32toh(c.seg_max) >= 1 && le32toh(c.seg_max) <= HX_QSIZE,
		  "seg_max %u", le32toh(c.seg_max));
	cr_assert(x.h.features & (1ULL << VIRTIO_BLK_F_MQ));
	cr_assert_eq(le16toh(c.num_queues), 2);
	cr_assert_eq(le32toh(c.max_discard_seg), 1);
	cr_assert_eq(le32toh(c.max_write_zeroes_seg), 1);
	cr_assert(le32toh(c.max_discard_sectors) > 0);
	/* a partial read at an offset gives the same bytes */
	uint64_t cap = 0;
	cr_assert_eq(vuf_get_config(&x.h.f, 0, (uint8_t *)&cap, 8), 0);
	cr_assert_eq(le64toh(cap), FX_IMG_SIZE / 512);
}

Test(blk, two_queues_share_the_disk)
{
	static const char *const args[] = { "--num-queues=2", NULL };
	static uint8_t buf[8192], back[8192];

	up(true, 2, args);
	for (unsigned i = 0; i < 8; i++) {
		unsigned wq = i % 2, rq = 1 - wq;
		fx_pattern(buf, 1000 + i * 16, sizeof(buf), (uint8_t)(40 + i));
		cr_assert_eq(do_rw(wq, VIRTIO_BLK_T_OUT, 1000 + i * 16, buf, sizeof(buf)),
			     VIRTIO_BLK_S_OK);
		cr_assert_eq(do_rw(rq, VIRTIO_BLK_T_IN, 1000 + i * 16, back, sizeof(back)),
			     VIRTIO_BLK_S_OK);
		cr_assert_arr_eq(back, buf, sizeof(buf), "q%u wrote, q%u read other data", wq, rq);
	}
	for (unsigned i = 0; i < 8; i++)
		cr_assert(fx_host_has(&x, 1000 + i * 16, sizeof(buf), (uint8_t)(40 + i)));
}

/* Keep depth requests in flight on q until total completed; each checks its own status. A
 * driver that kicks only when the device asks (as_asked: EVENT_IDX or NO_NOTIFY, as Linux
 * does) hangs here, "request lost", if a polling worker ever leaves kicks off and sleeps. */
static void stream_kicking(unsigned q, unsigned depth, unsigned total, uint32_t type,
			   bool as_asked)
{
	unsigned sent = 0, done = 0;
	struct hx_done d;

	while (done < total) {
		while (sent < total && sent - done < depth) {
			int slot = hx_slot_get(&x.h, q);
			cr_assert(slot >= 0);
			uint64_t sector = (sent * 8) % (FX_IMG_SIZE / 512);
			if (type == VIRTIO_BLK_T_OUT)
				fx_pattern(hx_slot_data(&x.h, q, slot), sector, 4096, 3);
			hx_blk_submit(&x.h, q, slot, type, sector, 4096);
			sent++;
		}
		if (as_asked)
			hx_notify(&x.h, q);
		else
			hx_kick(&x.h, q);
		cr_assert_eq(hx_wait(&x.h, q, HX_TIMEOUT_MS, &d), 1, "request %u lost", done);
		cr_assert_eq(*hx_slot_status(&x.h, q, d.head / HX_SLOT_DESCS), VIRTIO_BLK_S_OK);
		done++;
	}
}

static void stream(unsigned q, unsigned depth, unsigned total, uint32_t type)
{
	stream_kicking(q, depth, total, type, false);
}

Test(blk, queue_depth_32)
{
	up(false, 1, NULL);
	stream(0, 32, 2048, VIRTIO_BLK_T_OUT);
	for (unsigned i = 0; i < 2048; i++)
		cr_assert(fx_host_has(&x, (i * 8) % (FX_IMG_SIZE / 512), 4096, 3), "write %u", i);
}

Test(blk, without_event_idx)
{
	cr_assert_eq(fx_setup(&x, FX_IMG_SIZE), 0);
	cr_assert_eq(fx_start(&x, false, NULL), 0);
	cr_assert_eq(fx_attach(&x, 1, HX_NO_EVENT_IDX), 0);
	cr_assert(!x.h.event_idx);
	stream(0, 16, 512, VIRTIO_BLK_T_IN);
}

Test(blk, direct_io)
{
	static const char *const args[] = { "--direct", NULL };
	static uint8_t buf[8192], back[8192];

	up(false, 1, args);
	fx_pattern(buf, 64, sizeof(buf), 21);
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_OUT, 64, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), VIRTIO_BLK_S_OK);
	cr_assert(fx_host_has(&x, 64, sizeof(buf), 21));
	cr_assert_eq(do_rw(0, VIRTIO_BLK_T_IN, 64, back, sizeof(back)), VIRTIO_BLK_S_OK);
	cr_assert_arr_eq(back, buf, sizeof(buf));
}

Test(blk, iops_limit_delays_but_completes)
{
	static const char *const args[] = { "--iops=200", NULL };

	up(false, 1, args);
	/* more than one second's budget: the excess must wait, never be dropped or failed */
	stream(0, 32, 300, VIRTIO_BLK_T_IN);
}

/* Polling (--poll-us): the worker turns kicks off while it polls and on before it sleeps;
 * with a driver that kicks only when asked, every request must still complete, at QD1 (the
 * window keeps finding work, or gives up between two requests) and QD32, with and without
 * EVENT_IDX, on two queues, with O_DIRECT and under an IOPS limit (a throttled queue left to
 * its timer), and the data must be what was written. */
static void polling_case(const char *const *args, unsigned opts, unsigned nq)
{
	cr_assert_eq(fx_setup(&x, FX_IMG_SIZE), 0);
	cr_assert_eq(fx_start(&x, false, args), 0);
	cr_assert_eq(fx_attach(&x, nq, opts), 0);
	for (unsigned q = 0; q < nq; q++) {
		stream_kicking(q, 1, 300, VIRTIO_BLK_T_OUT, true);
		stream_kicking(q, 32, 1000, VIRTIO_BLK_T_IN, true);
		/* pauses longer than the window: the worker sleeps, kicks on, between requests */
		for (unsigned i = 0; i < 5; i++) {
			usleep(20000);
			stream_kicking(q, 1, 3, VIRTIO_BLK_T_IN, true);
		}
	}
	for (unsigned i = 0; i < 300; i++)
		cr_assert(fx_host_has(&x, (i * 8) % (FX_IMG_SIZE / 512), 4096, 3), "write %u", i);
}

Test(blk, polling)
{
	static const char *const args[] = { "--poll-us=50", NULL };

	polling_case(args, 0, 1);
}

Test(blk, polling_without_event_idx)
{
	static const char *const args[] = { "--poll-us=50", NULL };

	polling_case(args, HX_NO_EVENT_IDX, 1);
}

Test(blk, polling_two_queues_direct)
{
	static const char *const args[] = { "--poll-us=1000", "--num-queues=2", "--direct", NULL };

	polling_case(args, 0, 2);
}

Test(blk, polling_under_iops_limit)
{
	static const char *const args[] = { "--poll-us=50", "--iops=500", NULL };

	up(false, 1, args);
	stream_kicking(0, 32, 700, VIRTIO_BLK_T_IN, true);
}

/* Well-formed chain shapes other than header/data/status. */
Test(blk, split_header_indirect_and_zero_length_parts)
{
	up(false, 1, NULL);
	struct hx *h = &x.h;
	uint64_t hdr = hx_slot_hdr_gpa(h, 0, 0), data = hx_slot_data_gpa(h, 0, 0);
	uint64_t st = hx_slot_status_gpa(h, 0, 0), ind;
	struct virtio_blk_outhdr *oh = hx_ptr(h, hdr, 16);
	struct hx_done d;
	uint8_t want[2048];

	/* header split 5 + 11 bytes, data in two pieces around a zero-length buffer */
	oh->type = htole32(VIRTIO_BLK_T_IN);
	oh->sector = htole64(50);
	hx_desc(h, 0, 0, hdr, 5, VRING_DESC_F_NEXT, 1);
	hx_desc(h, 0, 1, hdr + 5, 11, VRING_DESC_F_NEXT, 2);
	hx_desc(h, 0, 2, data, 1024, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	hx_desc(h, 0, 3, data + 1024, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 4);
	hx_desc(h, 0, 4, data + 1024, 1024, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 5);
	hx_desc(h, 0, 5, st, 1, VRING_DESC_F_WRITE, 0);
	*(uint8_t *)hx_ptr(h, st, 1) = 0xee;
	hx_publish(h, 0, 0);
	hx_kick(h, 0);
	cr_assert_eq(hx_wait(h, 0, HX_TIMEOUT_MS, &d), 1);
	cr_assert_eq(d.head, 0);
	cr_assert_eq(*(uint8_t *)hx_ptr(h, st, 1), VIRTIO_BLK_S_OK);
	fx_pattern(want, 50, sizeof(want), 0);
	cr_assert_arr_eq(hx_ptr(h, data, 2048), want, sizeof(want));

	/* the same request through an indirect table */
	cr_assert(h->features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
	ind = hx_alloc(h, 3 * 16, 16);
	struct vring_desc *t3 = hx_ptr(h, ind, 48);
	oh->sector = htole64(60);
	t3[0] = (struct vring_desc){ htole64(hdr), htole32(16), htole16(VRING_DESC_F_NEXT), htole16(1) };
	t3[1] = (struct vring_desc){ htole64(data), htole32(2048),
				     htole16(VRING_DESC_F_NEXT | VRING_DESC_F_WRITE), htole16(2) };
	t3[2] = (struct vring_desc){ htole64(st), htole32(1), htole16(VRING_DESC_F_WRITE), 0 };
	hx_desc(h, 0, 9, ind, 48, VRING_DESC_F_INDIRECT, 0);
	hx_publish(h, 0, 9);
	hx_kick(h, 0);
	cr_assert_eq(hx_wait(h, 0, HX_TIMEOUT_MS, &d), 1);
	cr_assert_eq(d.head, 9);
	cr_assert_eq(*(uint8_t *)hx_ptr(h, st, 1), VIRTIO_BLK_S_OK);
	fx_pattern(want, 60, sizeof(want), 0);
	cr_assert_arr_eq(hx_ptr(h, data, 2048), want, sizeof(want));
}
