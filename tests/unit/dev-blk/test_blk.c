/* Unit tests of bulkhead-blk's device model: request parsing and bounds checks over hand-made
 * iovecs, GET_ID, config space and features, the IOPS token bucket with an injected clock,
 * the command line, opening images; and the io_uring engine over a real split ring in local
 * memory (io section below). */
#include <criterion/criterion.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "blk.h"

#define CAP 2048ULL     /* 1 MiB disk */

static struct blk_disk disk(bool ro)
{
	struct blk_disk d = { .fd = -1, .capacity = CAP, .blk_size = 512, .read_only = ro,
			      .num_queues = 1 };
	memcpy(d.serial, "SN-1", 4);
	return d;
}

/* A chain being built: readable buffers, then writable ones. */
struct chain {
	struct iovec iov[BLK_IOV_CAP];
	struct vq_elem e;
};

static void add(struct chain *c, void *p, size_t len, bool writable)
{
	cr_assert(writable || c->e.in_num == 0, "test bug: readable after writable");
	c->iov[c->e.out_num + c->e.in_num] = (struct iovec){ p, len };
	if (writable)
		c->e.in_num++;
	else
		c->e.out_num++;
	c->e.iov = c->iov;
	c->e.iov_cap = BLK_IOV_CAP;
}

static void hdr(uint8_t out[16], uint32_t type, uint64_t sector)
{
	uint32_t t = htole32(type), prio = 0;
	uint64_t s = htole64(sector);

	memcpy(out, &t, 4);
	memcpy(out + 4, &prio, 4);
	memcpy(out + 8, &s, 8);
}

static void seg(uint8_t out[16], uint64_t sector, uint32_t num, uint32_t flags)
{
	uint64_t s = htole64(sector);
	uint32_t n = htole32(num), f = htole32(flags);

	memcpy(out, &s, 8);
	memcpy(out + 8, &n, 4);
	memcpy(out + 12, &f, 4);
}

/* Parse a simple request: header, optional data (readable for OUT-like types, writable for
 * IN/GET_ID), status. Returns the parse result; fills r. */
static int simple(const struct blk_disk *d, uint32_t type, uint64_t sector, void *data,
		  size_t len, bool data_writable, uint8_t *status, struct blk_req *r)
{
	static uint8_t h[16];
	struct chain c = { 0 };

	hdr(h, type, sector);
	add(&c, h, 16, false);
	if (len)
		add(&c, data, len, data_writable);
	add(&c, status, 1, true);
	return blk_req_parse(d, &c.e, r);
}

Test(req, read_two_buffers)
{
	struct blk_disk d = disk(false);
	uint8_t h[16], a[512], b[1024], st = 0xff;
	struct chain c = { 0 };
	struct blk_req r;

	hdr(h, VIRTIO_BLK_T_IN, 10);
	add(&c, h, 16, false);
	add(&c, a, sizeof(a), true);
	add(&c, b, sizeof(b), true);
	add(&c, &st, 1, true);
	cr_assert_eq(blk_req_parse(&d, &c.e, &r), 0);
	cr_assert_eq(r.op, BLK_OP_READ);
	cr_assert_eq(r.offset, 10 * 512);
	cr_assert_eq(r.len, 1536);
	cr_assert_eq(r.iovcnt, 2);
	cr_assert_eq(r.iov[0].iov_base, a);
	cr_assert_eq(r.iov[1].iov_base, b);
	cr_assert_eq(r.iov[1].iov_len, 1024);
	cr_assert_eq(r.status, &st);
	cr_assert_eq(r.written, 1537);
}

Test(req, header_split_and_data_in_same_buffer)
{
	struct blk_disk d = disk(false);
	uint8_t h[16], tail[4 + 512], st;
	struct chain c = { 0 };
	struct blk_req r;

	/* 5 + 7 + (4 header bytes followed by 512 data bytes) */
	hdr(h, VIRTIO_BLK_T_OUT, 7);
	memcpy(tail, h + 12, 4);
	memset(tail + 4, 0xab, 512);
	add(&c, h, 5, false);
	add(&c, h + 5, 7, false);
	add(&c, tail, sizeof(tail), false);
	add(&c, &st, 1, true);
	cr_assert_eq(blk_req_parse(&d, &c.e, &r), 0);
	cr_assert_eq(r.type, VIRTIO_BLK_T_OUT);
	cr_assert_eq(r.op, BLK_OP_WRITE);
	cr_assert_eq(r.offset, 7 * 512);
	cr_assert_eq(r.len, 512);
	cr_assert_eq(r.iovcnt, 1);
	cr_assert_eq(r.iov[0].iov_base, tail + 4);
	cr_assert_eq(r.written, 1);
}

Test(req, status_is_last_byte_of_a_data_buffer)
{
	struct blk_disk d = disk(false);
	uint8_t h[16], buf[1025];
	struct chain c = { 0 };
	struct blk_req r;

	hdr(h, VIRTIO_BLK_T_IN, 0);
	add(&c, h, 16, false);
	add(&c, buf, sizeof(buf), true);
	cr_assert_eq(blk_req_parse(&d, &c.e, &r), 0);
	cr_assert_eq(r.op, BLK_OP_READ);
	cr_assert_eq(r.status, buf + 1024);
	cr_assert_eq(r.len, 1024);
	cr_assert_eq(r.iovcnt, 1);
}

Test(req, no_status_byte_is_a_broken_chain)
{
	struct blk_disk d = disk(false);
	uint8_t h[16], data[512];
	struct chain c = { 0 };
	struct blk_req r;

	hdr(h, VIRTIO_BLK_T_OUT, 0);
	add(&c, h, 16, false);
	add(&c, data, sizeof(data), false);
	cr_assert_eq(blk_req_parse(&d, &c.e, &r), -EINVAL);

	struct chain e = { 0 };
	e.e.iov = e.iov;
	cr_assert_eq(blk_req_parse(&d, &e.e, &r), -EINVAL, "empty chain");
}

Test(req, short_header_is_ioerr)
{
	struct blk_disk d = disk(false);
	uint8_t h[16], st;
	struct chain c = { 0 };
	struct blk_req r;

	hdr(h, VIRTIO_BLK_T_IN, 0);
	add(&c, h, 10, false);
	add(&c, &st, 1, true);
	cr_assert_eq(blk_req_parse(&d, &c.e, &r), 0);
	cr_assert_eq(r.op, BLK_OP_NONE);
	cr_assert_eq(r.result, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(r.status, &st);

	/* a status byte alone: no header at all */
	struct chain e = { 0 };
	add(&e, &st, 1, true);
	cr_assert_eq(blk_req_parse(&d, &e.e, &r), 0);
	cr_assert_eq(r.result, VIRTIO_BLK_S_IOERR);
}

Test(req, bounds)
{
	struct blk_disk d = disk(false);
	static uint8_t data[1024];
	uint8_t st;
	struct blk_req r;
	const struct { uint64_t sector; size_t len; uint8_t want; } cases[] = {
		{ 0, 512, VIRTIO_BLK_S_OK },
		{ CAP - 1, 512, VIRTIO_BLK_S_OK },
		{ CAP - 2, 1024, VIRTIO_BLK_S_OK },
		{ CAP - 1, 1024, VIRTIO_BLK_S_IOERR },      /* runs past the end */
		{ CAP, 512, VIRTIO_BLK_S_IOERR },
		{ UINT64_MAX, 512, VIRTIO_BLK_S_IOERR },    /* sector * 512 overflows */
		{ (UINT64_MAX >> 9), 512, VIRTIO_BLK_S_IOERR },
		{ (UINT64_MAX >> 9) + 1, 512, VIRTIO_BLK_S_IOERR },
		{ 1ULL << 55, 512, VIRTIO_BLK_S_IOERR },
		{ 0, 511, VIRTIO_BLK_S_IOERR },             /* not a multiple of 512 */
		{ 0, 513, VIRTIO_BLK_S_IOERR },
		{ 3, 1000, VIRTIO_BLK_S_IOERR },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int w = 0; w < 2; w++) {
			uint32_t type = w ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;

			cr_assert_eq(simple(&d, type, cases[i].sector, data, cases[i].len, !w,
					    &st, &r), 0);
			if (cases[i].want == VIRTIO_BLK_S_OK) {
				cr_assert_eq(r.op, w ? BLK_OP_WRITE : BLK_OP_READ, "case %zu", i);
				cr_assert_eq(r.offset, cases[i].sector * 512);
			} else {
				cr_assert_eq(r.op, BLK_OP_NONE, "case %zu type %u", i, type);
				cr_assert_eq(r.result, cases[i].want, "case %zu", i);
			}
		}
	}
}

Test(req, zero_length_read_completes_ok)
{
	struct blk_disk d = disk(false);
	uint8_t st;
	struct blk_req r;

	cr_assert_eq(simple(&d, VIRTIO_BLK_T_IN, CAP, NULL, 0, true, &st, &r), 0);
	cr_assert_eq(r.op, BLK_OP_NONE);
	cr_assert_eq(r.result, VIRTIO_BLK_S_OK);
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_IN, CAP + 1, NULL, 0, true, &st, &r), 0);
	cr_assert_eq(r.result, VIRTIO_BLK_S_IOERR);
}

Test(req, read_only)
{
	struct blk_disk d = disk(true);
	static uint8_t data[512], s[16];
	uint8_t st;
	struct blk_req r;

	cr_assert_eq(simple(&d, VIRTIO_BLK_T_OUT, 0, data, 512, false, &st, &r), 0);
	cr_assert_eq(r.op, BLK_OP_NONE);
	cr_assert_eq(r.result, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_IN, 0, data, 512, true, &st, &r), 0);
	cr_assert_eq(r.op, BLK_OP_READ);
	seg(s, 0, 8, 0);
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_DISCARD, 0, s, 16, false, &st, &r), 0);
	cr_assert_eq(r.result, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, s, 16, false, &st, &r), 0);
	cr_assert_eq(r.result, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false, &st, &r), 0);
	cr_assert_eq(r.op, BLK_OP_FLUSH);
}

Test(req, unknown_types_are_unsupp)
{
	struct blk_disk d = disk(false);
	uint8_t st;
	struct blk_req r;
	const uint32_t types[] = { 2, 3, 5, 14, 0x80000000u, UINT32_MAX };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		cr_assert_eq(simple(&d, types[i], 0, NULL, 0, false, &st, &r), 0);
		cr_assert_eq(r.op, BLK_OP_NONE);
		cr_assert_eq(r.result, VIRTIO_BLK_S_UNSUPP, "type %#x", types[i]);
	}
}

Test(req, get_id)
{
	struct blk_disk d = disk(false);
	uint8_t h[16], a[7], b[13], st;
	struct chain c = { 0 };
	struct blk_req r;

	memset(a, 0xee, sizeof(a));
	memset(b, 0xee, sizeof(b));
	hdr(h, VIRTIO_BLK_T_GET_ID, 0);
	add(&c, h, 16, false);
	add(&c, a, sizeof(a), true);
	add(&c, b, sizeof(b), true);
	add(&c, &st, 1, true);
	cr_assert_eq(blk_req_parse(&d, &c.e, &r), 0);
	cr_assert_eq(r.op, BLK_OP_GET_ID);
	blk_req_get_id(&d, &r);
	cr_assert_eq(r.written, 21);
	cr_assert_arr_eq(a, "SN-1\0\0\0", 7);
	for (size_t i = 0; i < sizeof(b); i++)
		cr_assert_eq(b[i], 0, "NUL padded");

	/* a full 20-byte serial carries no NUL; a short buffer gets what fits */
	memcpy(d.serial, "ABCDEFGHIJKLMNOPQRST", 20);
	uint8_t small[5];
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_GET_ID, 0, small, sizeof(small), true, &st, &r), 0);
	blk_req_get_id(&d, &r);
	cr_assert_arr_eq(small, "ABCDE", 5);
	cr_assert_eq(r.written, 6);
}

Test(req, discard_and_write_zeroes)
{
	struct blk_disk d = disk(false);
	uint8_t s[32], st;
	struct blk_req r;

	seg(s, 16, 8, 0);
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_DISCARD, 0, s, 16, false, &st, &r), 0);
	cr_assert_eq(r.op, BLK_OP_DISCARD);
	cr_assert_eq(r.offset, 16 * 512);
	cr_assert_eq(r.len, 8 * 512);

	cr_assert_eq(simple(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, s, 16, false, &st, &r), 0);
	cr_assert_eq(r.op, BLK_OP_ZERO);
	seg(s, 16, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, s, 16, false, &st, &r), 0);
	cr_assert_eq(r.op, BLK_OP_PUNCH);
	cr_assert_eq(r.len, 8 * 512);

	/* UNMAP on a discard and unknown flags: UNSUPP */
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_DISCARD, 0, s, 16, false, &st, &r), 0);
	cr_assert_eq(r.result, VIRTIO_BLK_S_UNSUPP);
	seg(s, 16, 8, 2);
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, s, 16, false, &st, &r), 0);
	cr_assert_eq(r.op, BLK_OP_NONE);
	cr_assert_eq(r.result, VIRTIO_BLK_S_UNSUPP);

	/* two segments (max_discard_seg is 1), half a segment, none */
	seg(s, 0, 8, 0);
	seg(s + 16, 8, 8, 0);
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_DISCARD, 0, s, 32, false, &st, &r), 0);
	cr_assert_eq(r.result, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_DISCARD, 0, s, 8, false, &st, &r), 0);
	cr_assert_eq(r.result, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_DISCARD, 0, NULL, 0, false, &st, &r), 0);
	cr_assert_eq(r.result, VIRTIO_BLK_S_IOERR);
}

Test(req, range_segment_bounds)
{
	struct blk_disk d = disk(false);
	uint8_t s[16], st;
	struct blk_req r;
	const struct { uint64_t sector; uint32_t num; uint8_t want; } cases[] = {
		{ CAP - 8, 8, VIRTIO_BLK_S_OK },
		{ CAP - 8, 9, VIRTIO_BLK_S_IOERR },
		{ CAP, 1, VIRTIO_BLK_S_IOERR },
		{ UINT64_MAX, 1, VIRTIO_BLK_S_IOERR },
		{ (UINT64_MAX >> 9) - 1, 4, VIRTIO_BLK_S_IOERR },
		{ 0, UINT32_MAX, VIRTIO_BLK_S_IOERR },
		{ 0, 0, VIRTIO_BLK_S_OK },                 /* nothing to do */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		seg(s, cases[i].sector, cases[i].num, 0);
		cr_assert_eq(simple(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, s, 16, false, &st, &r), 0);
		if (cases[i].want == VIRTIO_BLK_S_OK && cases[i].num)
			cr_assert_eq(r.op, BLK_OP_ZERO, "case %zu", i);
		else
			cr_assert_eq(r.result, cases[i].want, "case %zu", i);
	}
	/* larger than max_write_zeroes_sectors / max_discard_sectors, even when inside the disk */
	d.capacity = 1ULL << 40;
	seg(s, 0, BLK_MAX_WRITE_ZEROES_SECTORS + 1, 0);
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, s, 16, false, &st, &r), 0);
	cr_assert_eq(r.result, VIRTIO_BLK_S_IOERR);
	seg(s, 0, BLK_MAX_DISCARD_SECTORS + 1, 0);
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_DISCARD, 0, s, 16, false, &st, &r), 0);
	cr_assert_eq(r.result, VIRTIO_BLK_S_IOERR);
	seg(s, 0, BLK_MAX_DISCARD_SECTORS, 0);
	cr_assert_eq(simple(&d, VIRTIO_BLK_T_DISCARD, 0, s, 16, false, &st, &r), 0);
	cr_assert_eq(r.op, BLK_OP_DISCARD);
}

Test(req, segment_split_across_buffers)
{
	struct blk_disk d = disk(false);
	uint8_t h[16], s[16], st;
	struct chain c = { 0 };
	struct blk_req r;

	hdr(h, VIRTIO_BLK_T_DISCARD, 0);
	seg(s, 100, 4, 0);
	add(&c, h, 16, false);
	add(&c, s, 3, false);
	add(&c, s + 3, 13, false);
	add(&c, &st, 1, true);
	cr_assert_eq(blk_req_parse(&d, &c.e, &r), 0);
	cr_assert_eq(r.op, BLK_OP_DISCARD);
	cr_assert_eq(r.offset, 100 * 512);
	cr_assert_eq(r.len, 4 * 512);
}

Test(iov, read_and_advance)
{
	uint8_t a[3] = { 1, 2, 3 }, b[2] = { 4, 5 }, c[4] = { 6, 7, 8, 9 }, out[5];
	struct iovec v[3] = { { a, 3 }, { b, 2 }, { c, 4 } }, *p = v;
	unsigned n = 3;

	cr_assert(iov_read(v, 3, 2, out, 5));
	cr_assert_arr_eq(out, ((uint8_t[]){ 3, 4, 5, 6, 7 }), 5);
	cr_assert_not(iov_read(v, 3, 5, out, 5), "only 4 bytes past 5");
	iov_advance(&p, &n, 4);
	cr_assert_eq(n, 2);
	cr_assert_eq(p->iov_base, b + 1);
	cr_assert_eq(p->iov_len, 1);
	iov_advance(&p, &n, 1);
	cr_assert_eq(n, 1);
	cr_assert_eq(p->iov_base, c);
	iov_advance(&p, &n, 4);
	cr_assert_eq(n, 0);
}

/* ---- config space and features ------------------------------------------------------------ */

Test(config, contents)
{
	struct blk_disk d = disk(false);
	struct virtio_blk_config c;
	uint8_t buf[256], part[8];

	d.capacity = 12345;
	d.num_queues = 4;
	blk_config(&d, &c);
	cr_assert_eq(le64toh(c.capacity), 12345);
	cr_assert_eq(le32toh(c.seg_max), BLK_SEG_MAX);
	cr_assert_eq(le32toh(c.blk_size), 512);
	cr_assert_eq(le16toh(c.num_queues), 4);
	cr_assert_eq(le32toh(c.max_discard_seg), 1);
	cr_assert_eq(le32toh(c.discard_sector_alignment), 1);
	cr_assert_eq(le32toh(c.max_discard_sectors), BLK_MAX_DISCARD_SECTORS);
	cr_assert_eq(le32toh(c.max_write_zeroes_sectors), BLK_MAX_WRITE_ZEROES_SECTORS);
	cr_assert_eq(le32toh(c.max_write_zeroes_seg), 1);
	cr_assert_eq(c.write_zeroes_may_unmap, 1);
	cr_assert_eq(c.size_max, 0);

	/* the raw layout a driver reads: capacity at 0, seg_max at 12, blk_size at 20,
	 * num_queues at 34 */
	cr_assert_eq(blk_config_read(&d, buf, 0, sizeof(buf)), 0);
	cr_assert_eq(buf[0], 12345 & 0xff);
	cr_assert_eq(buf[1], 12345 >> 8);
	cr_assert_eq(buf[12], BLK_SEG_MAX);
	cr_assert_eq(buf[20] | buf[21] << 8, 512);
	cr_assert_eq(buf[34], 4);
	for (size_t i = sizeof(c); i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0, "zero past the struct");
	cr_assert_eq(blk_config_read(&d, part, 20, 4), 0);
	cr_assert_arr_eq(part, buf + 20, 4);
	cr_assert_eq(blk_config_read(&d, part, 253, 4), -EINVAL);
	cr_assert_eq(blk_config_read(&d, part, UINT32_MAX, 2), -EINVAL);

	d.blk_size = 4096;
	blk_config(&d, &c);
	cr_assert_eq(le32toh(c.blk_size), 4096);
	cr_assert_eq(le32toh(c.discard_sector_alignment), 8);
}

Test(config, features)
{
	struct blk_disk d = disk(false);
	uint64_t f = blk_features(&d);

	cr_assert(f & 1ULL << VIRTIO_F_VERSION_1);
	cr_assert(f & 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	cr_assert(f & 1ULL << VIRTIO_RING_F_EVENT_IDX);
	cr_assert(f & 1ULL << VIRTIO_BLK_F_SEG_MAX);
	cr_assert(f & 1ULL << VIRTIO_BLK_F_BLK_SIZE);
	cr_assert(f & 1ULL << VIRTIO_BLK_F_FLUSH);
	cr_assert(f & 1ULL << VIRTIO_BLK_F_DISCARD);
	cr_assert(f & 1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	cr_assert_not(f & 1ULL << VIRTIO_BLK_F_RO);
	cr_assert_not(f & 1ULL << VIRTIO_BLK_F_MQ);
	cr_assert_not(f & 1ULL << VIRTIO_BLK_F_CONFIG_WCE);
	d.num_queues = 2;
	d.read_only = true;
	f = blk_features(&d);
	cr_assert(f & 1ULL << VIRTIO_BLK_F_MQ);
	cr_assert(f & 1ULL << VIRTIO_BLK_F_RO);
	cr_assert_not(f & 1ULL << VIRTIO_BLK_F_DISCARD);
}

/* ---- token bucket --------------------------------------------------------------------------- */

#define MS 1000000ULL

Test(bucket, unlimited)
{
	struct blk_bucket b;

	blk_bucket_init(&b, 0, 0);
	for (int i = 0; i < 100000; i++)
		cr_assert(blk_bucket_take(&b, 0));
	cr_assert_eq(blk_bucket_wait_ns(&b), 0);
}

Test(bucket, rate_and_wait)
{
	struct blk_bucket b;
	uint64_t t = 5 * 1000 * MS;

	blk_bucket_init(&b, 10, t);        /* burst 1 */
	cr_assert(blk_bucket_take(&b, t));
	cr_assert_not(blk_bucket_take(&b, t));
	cr_assert_eq(blk_bucket_wait_ns(&b), 100 * MS);
	cr_assert_not(blk_bucket_take(&b, t + 99 * MS));
	cr_assert_eq(blk_bucket_wait_ns(&b), 1 * MS);
	cr_assert(blk_bucket_take(&b, t + 100 * MS));
	cr_assert_not(blk_bucket_take(&b, t + 100 * MS));
	/* a long pause refills only up to the burst */
	t += 3600 * 1000 * MS;
	cr_assert(blk_bucket_take(&b, t));
	cr_assert_not(blk_bucket_take(&b, t));
	/* a clock that steps back gives nothing */
	cr_assert_not(blk_bucket_take(&b, t - 500 * MS));
}

/* Over 10 simulated seconds at 1 ms steps, exactly rate*10 + burst requests pass. */
static void run_rate(uint32_t iops)
{
	struct blk_bucket b;
	uint64_t passed = 0, burst = iops / 10 ? iops / 10 : 1;

	blk_bucket_init(&b, iops, 0);
	for (uint64_t t = 0; t <= 10 * 1000 * MS; t += MS)
		while (blk_bucket_take(&b, t))
			passed++;
	cr_assert_eq(passed, (uint64_t)iops * 10 + burst, "iops %u: %lu passed", iops,
		     (unsigned long)passed);
}

Test(bucket, long_run_exact)
{
	run_rate(1);
	run_rate(7);
	run_rate(1000);
	run_rate(333333);
	run_rate(BLK_IOPS_MAX);
}

Test(bucket, wait_is_enough)
{
	struct blk_bucket b;
	uint64_t t = 0;

	blk_bucket_init(&b, 3, 0);
	cr_assert(blk_bucket_take(&b, t));
	for (int i = 0; i < 30; i++) {
		uint64_t w = blk_bucket_wait_ns(&b);

		cr_assert_gt(w, 0);
		cr_assert_not(blk_bucket_ready(&b, t + w - 1));
		t += w;
		cr_assert(blk_bucket_take(&b, t), "token after waiting %lu ns", (unsigned long)w);
	}
	/* 30 tokens at 3/s took 10 s (ceil rounding: at most 30 ns more) */
	cr_assert_geq(t, 10 * 1000 * MS - 30);
	cr_assert_leq(t, 10 * 1000 * MS + 30);
}

/* ---- command line ----------------------------------------------------------------------------- */

static int parse(struct blk_opts *o, char *err, const char *a0, ...)
{
	char *argv[32] = { "bulkhead-blk" };
	int argc = 1;
	va_list ap;

	va_start(ap, a0);
	for (const char *a = a0; a; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	err[0] = 0;
	return blk_opts_parse(o, argc, argv, err, 256);
}

Test(opts, good)
{
	struct blk_opts o;
	char err[256];

	cr_assert_eq(parse(&o, err, "--socket-path=/tmp/s", "--blk-file=d.img", NULL), 0, "%s", err);
	cr_assert_str_eq(o.socket_path, "/tmp/s");
	cr_assert_str_eq(o.blk_file, "d.img");
	cr_assert_eq(o.fd, -1);
	cr_assert_eq(o.blk_fd, -1);
	cr_assert_eq(o.num_queues, 1);
	cr_assert_eq(o.iops, 0);
	cr_assert_eq(o.poll_us, BLK_POLL_US_DEFAULT);
	cr_assert_not(o.read_only);

	cr_assert_eq(parse(&o, err, "--fd=3", "--blk-fd", "4", "--read-only", "--direct",
			   "--serial=ABCDEFGHIJKLMNOPQRST", "--iops=1000000", "--num-queues=16",
			   "--name=rootfs", "--poll-us=1000", NULL), 0, "%s", err);
	cr_assert_eq(o.poll_us, 1000);
	cr_assert_eq(o.fd, 3);
	cr_assert_eq(o.blk_fd, 4);
	cr_assert(o.read_only && o.direct);
	cr_assert_str_eq(o.serial, "ABCDEFGHIJKLMNOPQRST");
	cr_assert_eq(o.iops, 1000000);
	cr_assert_eq(o.num_queues, 16);
	cr_assert_str_eq(o.name, "rootfs");
	cr_assert_not(o.runas);

	cr_assert_eq(parse(&o, err, "--fd=3", "--blk-fd=4", "--runas=65534:65533", NULL), 0, "%s",
		     err);
	cr_assert(o.runas);
	cr_assert_eq(o.runas_uid, 65534);
	cr_assert_eq(o.runas_gid, 65533);

	cr_assert_eq(parse(&o, err, "--print-capabilities", NULL), 0);
	cr_assert(o.print_caps);
	cr_assert_str_eq(blk_capabilities,
			 "{\"type\": \"block\", \"features\": [\"read-only\", \"blk-file\"]}");
}

Test(opts, errors)
{
	struct blk_opts o;
	char err[256];
	const char *bad[][4] = {
		{ "--blk-file=d", NULL },                                   /* no socket */
		{ "--socket-path=/s", NULL },                               /* no image */
		{ "--socket-path=/s", "--fd=3", "--blk-file=d", NULL },     /* both */
		{ "--fd=3", "--blk-file=d", "--blk-fd=4", NULL },           /* both */
		{ "--fd=3", "--blk-fd=3", NULL },                           /* same fd */
		{ "--fd=-1", "--blk-file=d", NULL },
		{ "--fd=3x", "--blk-file=d", NULL },
		{ "--fd=99999999999", "--blk-file=d", NULL },
		{ "--fd=", "--blk-file=d", NULL },
		{ "--fd=3", "--blk-file=d", "--iops=1000001", NULL },
		{ "--fd=3", "--blk-file=d", "--iops=-1", NULL },
		{ "--fd=3", "--blk-file=d", "--iops=+5", NULL },
		{ "--fd=3", "--blk-file=d", "--num-queues=0", NULL },
		{ "--fd=3", "--blk-file=d", "--num-queues=17", NULL },
		{ "--fd=3", "--blk-file=d", "--poll-us=1001", NULL },
		{ "--fd=3", "--blk-file=d", "--poll-us=-1", NULL },
		{ "--fd=3", "--blk-file=d", "--poll-us=", NULL },
		{ "--fd=3", "--blk-file=d", "--serial=ABCDEFGHIJKLMNOPQRSTU", NULL },
		{ "--fd=3", "--blk-file=d", "--name=", NULL },
		{ "--fd=3", "--blk-file=d", "--name=a/b", NULL },
		{ "--fd=3", "--blk-file=d", "--name=0123456789012345678901234", NULL },
		{ "--fd=3", "--blk-file=", NULL },
		{ "--fd=3", "--blk-file=d", "--bogus", NULL },
		{ "--fd=3", "--blk-file=d", "stray", NULL },
		{ "--fd=3", "--blk-file=d", "--read-only=yes", NULL },
		{ "--fd=3", "--blk-file=d", "--iops", NULL },               /* missing argument */
		{ "--fd=3", "--blk-file=d", "--runas=nobody", NULL },       /* names: not here */
		{ "--fd=3", "--blk-file=d", "--runas=65534", NULL },
		{ "--fd=3", "--blk-file=d", "--runas=65534:", NULL },
		{ "--fd=3", "--blk-file=d", "--runas=:1", NULL },
		{ "--fd=3", "--blk-file=d", "--runas=1:-1", NULL },
		{ "--fd=3", "--blk-file=d", "--runas=4294967295:1", NULL },
		{ "--fd=3", "--blk-file=d", "-x", NULL },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(&o, err, bad[i][0], bad[i][1], bad[i][2], bad[i][3]), -EINVAL,
			     "case %zu accepted", i);
		cr_assert_neq(err[0], 0, "case %zu: no message", i);
		cr_assert_null(strchr(err, '\n'), "case %zu: one line", i);
	}
	char longpath[200];
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "--socket-path=/", 15);
	longpath[sizeof(longpath) - 1] = 0;
	cr_assert_eq(parse(&o, err, longpath, "--blk-file=d", NULL), -EINVAL);
}

/* ---- opening images ------------------------------------------------------------------------- */

/* An unlinked image reached through /proc/self/fd: nothing is left behind, even when an
 * assertion ends the test early. */
static char *temp_image(uint64_t size)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test-blk-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(ftruncate(fd, size), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return path;
}

Test(disk, open_sizes_and_modes)
{
	char *path = temp_image(1 * 1024 * 1024 + 100);
	struct blk_opts o = { .fd = 3, .blk_fd = -1, .blk_file = path, .num_queues = 2 };
	struct blk_disk d;
	int fd;

	memcpy(o.serial, "xyz", 4);
	cr_assert_eq(blk_disk_open(&d, &o), 0);
	cr_assert_eq(d.capacity, 2048, "tail of 100 bytes is not addressable");
	cr_assert_eq(d.blk_size, 512);
	cr_assert_eq(d.num_queues, 2);
	cr_assert_str_eq(d.serial, "xyz");
	cr_assert_eq(fcntl(d.fd, F_GETFL) & O_ACCMODE, O_RDWR);
	blk_disk_close(&d);
	cr_assert_eq(d.fd, -1);

	/* a read-only fd from the supervisor is refused unless --read-only says so */
	fd = open(path, O_RDONLY);
	o.blk_file = NULL;
	o.blk_fd = fd;
	cr_assert_eq(blk_disk_open(&d, &o), -EBADF);
	o.read_only = true;
	cr_assert_eq(blk_disk_open(&d, &o), 0);
	cr_assert(d.read_only);
	cr_assert_eq(d.fd, fd);
	blk_disk_close(&d);

	o.blk_fd = 1000;        /* not open */
	cr_assert_lt(blk_disk_open(&d, &o), 0);
	o.blk_fd = -1;
	o.blk_file = "/nonexistent/image";
	cr_assert_eq(blk_disk_open(&d, &o), -ENOENT);
	o.blk_file = "/dev/null";   /* a character device has no size */
	cr_assert_eq(blk_disk_open(&d, &o), -EINVAL);
}

/* ---- the polling window's arithmetic ---- */

Test(poll, off_stays_off)
{
	struct blk_poll p;

	blk_poll_init(&p, 0);
	cr_assert_eq(p.window_ns, 0);
	blk_poll_slept(&p, 1000);
	blk_poll_woke(&p, 1100);
	cr_assert_eq(p.window_ns, 0, "a quick wakeup must not start polling when it is off");
}

Test(poll, quick_wakeups_grow_the_window_to_the_maximum)
{
	struct blk_poll p;
	uint64_t t = 1000000;

	blk_poll_init(&p, 32);
	cr_assert_eq(p.window_ns, BLK_POLL_START_NS);
	for (uint64_t want = 8000; want <= 32000; want *= 2) {
		blk_poll_slept(&p, t);
		t += 20000;                     /* woken 20 us later: within the maximum */
		blk_poll_woke(&p, t);
		cr_assert_eq(p.window_ns, want);
	}
	blk_poll_slept(&p, t);
	blk_poll_woke(&p, t + 32000);
	cr_assert_eq(p.window_ns, 32000, "capped at --poll-us");
}

Test(poll, long_sleeps_shrink_it_to_nothing_and_a_quick_one_restarts_it)
{
	struct blk_poll p;
	uint64_t t = 5000;

	blk_poll_init(&p, 32);
	for (int i = 0; i < 20; i++) {
		blk_poll_slept(&p, t);
		t += 1000000000;                /* an idle disk: a second between requests */
		blk_poll_woke(&p, t);
	}
	cr_assert_eq(p.window_ns, 0, "an idle disk must end up not polling at all");
	blk_poll_slept(&p, t);
	blk_poll_woke(&p, t + 1000);
	cr_assert_eq(p.window_ns, BLK_POLL_START_NS);
}

Test(poll, a_wakeup_while_awake_or_within_the_window_changes_nothing)
{
	struct blk_poll p;

	blk_poll_init(&p, 100);
	blk_poll_woke(&p, 123456789);
	cr_assert_eq(p.window_ns, BLK_POLL_START_NS);
	blk_poll_slept(&p, 1000);
	blk_poll_woke(&p, 1000 + BLK_POLL_START_NS);
	cr_assert_eq(p.window_ns, BLK_POLL_START_NS, "the window was long enough");
	blk_poll_slept(&p, 0);                  /* a clock at 0 still counts as asleep */
	blk_poll_woke(&p, 10000);
	cr_assert_eq(p.window_ns, 2 * BLK_POLL_START_NS);
}

/* An O_DIRECT read slower than the maximum window: polling for it is wasted every time. */
Test(poll, work_slower_than_the_maximum_turns_polling_off)
{
	struct blk_poll p;
	uint64_t t = 1000;

	blk_poll_init(&p, 32);
	for (int i = 0; i < 8; i++) {
		blk_poll_slept(&p, t);          /* the window started at t and found nothing */
		t += 60000;                     /* the completion 60 us after it started */
		blk_poll_woke(&p, t);
	}
	cr_assert_eq(p.window_ns, 0);
}
