/* Fuzz bulkhead-blk's request parser (dev-blk/blk.c) as a hostile guest drives it: a popped
 * chain of readable and writable buffers of any sizes, each malloc'd to its exact size so ASan
 * sees a step past any of them, with the header, data and discard/write-zeroes segments from
 * the input, against a disk of the input's size, block size and read-only flag; then GET_ID
 * and a config-space read.
 *
 * Input: cfg (bit 0 read-only, bit 1 4 KiB blocks), le64 capacity in sectors, nout (& 7),
 * nin (& 7), one le16 length per buffer, then the readable bytes (header first).
 *
 * Oracles beyond "no crash": a chain without a writable byte is refused; the status byte is
 * the last writable byte; a read or write covers exactly its data buffers, whole sectors,
 * inside the disk, never a write to a read-only disk; a discard or write-zeroes range lies
 * inside the disk within its limit, never on a read-only disk; GET_ID writes at most the
 * serial and its status. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"
#include "fuzzlib.h"

#define MAX_SEG 7

static void check(const struct blk_disk *d, const struct vq_elem *e, const struct blk_req *r,
		  const struct iovec *last_in)
{
	uint64_t disk = d->capacity << BLK_SECTOR_SHIFT, max;

	/* the status byte: the last byte of the last writable buffer */
	CHECK(r->status == (uint8_t *)last_in->iov_base + last_in->iov_len - 1);
	switch (r->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		CHECK(r->len && r->len == iov_size(r->iov, r->iovcnt) && r->len % BLK_SECTOR_SIZE == 0);
		CHECK(r->offset == r->sector << BLK_SECTOR_SHIFT && r->offset <= disk &&
		      r->len <= disk - r->offset);
		CHECK(r->op == BLK_OP_READ || !d->read_only);
		CHECK(r->op == BLK_OP_WRITE || r->written == r->len + 1);
		/* the data buffers are the chain's own, past the header for a write */
		CHECK(r->iov >= e->iov && r->iov + r->iovcnt <= e->iov + e->out_num + e->in_num);
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_ZERO:
	case BLK_OP_PUNCH:
		max = r->op == BLK_OP_DISCARD ? BLK_MAX_DISCARD_SECTORS : BLK_MAX_WRITE_ZEROES_SECTORS;
		CHECK(!d->read_only && r->len && r->len <= max << BLK_SECTOR_SHIFT &&
		      r->offset <= disk && r->len <= disk - r->offset);
		break;
	case BLK_OP_NONE:
		CHECK(r->result == VIRTIO_BLK_S_OK || r->result == VIRTIO_BLK_S_IOERR ||
		      r->result == VIRTIO_BLK_S_UNSUPP);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blk_disk d = { .fd = -1, .num_queues = 1, .serial = "fuzz-serial-0123456" };
	struct iovec iov[2 * MAX_SEG], saved[2 * MAX_SEG], last_in;
	struct vq_elem e = { .iov = iov, .iov_cap = 2 * MAX_SEG };
	struct blk_req r;
	uint8_t cfg[256];
	unsigned nout, nin, n;
	size_t pos = 12;
	uint64_t cap;
	int rc;

	if (size < 12)
		return 0;
	d.read_only = data[0] & 1;
	d.blk_size = data[0] & 2 ? 4096 : 512;
	memcpy(&cap, data + 1, 8);
	d.capacity = le64toh(cap) >> (data[0] >> 2 & 31);   /* small disks too */
	nout = data[9] & MAX_SEG;
	nin = data[10] & MAX_SEG;
	n = nout + nin;
	if (size < pos + 2 * n)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		uint16_t len;

		memcpy(&len, data + pos + 2 * i, 2);
		len = le16toh(len);
		iov[i] = (struct iovec){ malloc(len ? len : 1), len };
		if (i < nout) {
			e.out_len += len;
		} else {
			memset(iov[i].iov_base, 0, len);
			e.in_len += len;
		}
	}
	pos += 2 * n;
	/* the readable buffers in order, zero-filled past the input */
	for (unsigned i = 0; i < nout; i++) {
		size_t k = size - pos < iov[i].iov_len ? size - pos : iov[i].iov_len;

		memcpy(iov[i].iov_base, data + pos, k);
		memset((uint8_t *)iov[i].iov_base + k, 0, iov[i].iov_len - k);
		pos += k;
	}
	e.out_num = nout;
	e.in_num = nin;
	memcpy(saved, iov, sizeof(iov[0]) * n);
	/* vq_pop leaves out zero-length buffers; the parser must cope with the chain it gets */
	last_in = nin ? saved[n - 1] : (struct iovec){ NULL, 0 };
	rc = blk_req_parse(&d, &e, &r);
	CHECK(rc == 0 || rc == -EINVAL);
	CHECK((rc == -EINVAL) == (!nin || !last_in.iov_len));
	if (rc == 0) {
		check(&d, &e, &r, &last_in);
		if (r.op == BLK_OP_GET_ID) {
			blk_req_get_id(&d, &r);
			CHECK(r.written >= 1 && r.written <= BLK_SERIAL_MAX + 1);
		}
	}
	blk_config_read(&d, cfg, data[11], (unsigned)data[11] * 3 % 257);
	for (unsigned i = 0; i < n; i++)
		free(saved[i].iov_base);
	return 0;
}

/* ---- seeds: a read, a write, a flush, GET_ID, a discard and write-zeroes with UNMAP ---- */

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	static const struct { uint32_t type; uint16_t out[3], in[3]; uint8_t nout, nin; } req[] = {
		{ VIRTIO_BLK_T_IN, { 16 }, { 512, 3584, 1 }, 1, 3 },
		{ VIRTIO_BLK_T_OUT, { 16, 4096 }, { 1 }, 2, 1 },
		{ VIRTIO_BLK_T_FLUSH, { 16 }, { 1 }, 1, 1 },
		{ VIRTIO_BLK_T_GET_ID, { 16 }, { 20, 1 }, 1, 2 },
		{ VIRTIO_BLK_T_DISCARD, { 16, 16 }, { 1 }, 2, 1 },
		{ VIRTIO_BLK_T_WRITE_ZEROES, { 8, 24 }, { 1 }, 2, 1 },   /* header split */
	};
	unsigned k = i % 7;
	uint64_t capacity = htole64(1ULL << 21);   /* 1 GiB */
	uint32_t type;
	uint64_t sector = htole64(8);
	uint8_t seg[16] = { 0 };
	size_t n = 0;

	if (k == 6 || cap < 256)
		return 0;
	buf[n++] = (uint8_t)((i / 7) & 3);   /* read-only, 4 KiB blocks: every combination */
	memcpy(buf + n, &capacity, 8);
	n += 8;
	buf[n++] = req[k].nout;
	buf[n++] = req[k].nin;
	buf[n++] = 16;
	for (unsigned j = 0; j < req[k].nout; j++, n += 2) {
		uint16_t v = htole16(req[k].out[j]);

		memcpy(buf + n, &v, 2);
	}
	for (unsigned j = 0; j < req[k].nin; j++, n += 2) {
		uint16_t v = htole16(req[k].in[j]);

		memcpy(buf + n, &v, 2);
	}
	type = htole32(req[k].type);
	memcpy(buf + n, &type, 4);
	memset(buf + n + 4, 0, 4);
	memcpy(buf + n + 8, &sector, 8);
	n += 16;
	if (req[k].type == VIRTIO_BLK_T_DISCARD || req[k].type == VIRTIO_BLK_T_WRITE_ZEROES) {
		uint32_t num = htole32(64), flags = htole32(req[k].type ==
					VIRTIO_BLK_T_WRITE_ZEROES ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0);

		memcpy(seg, &sector, 8);
		memcpy(seg + 8, &num, 4);
		memcpy(seg + 12, &flags, 4);
		memcpy(buf + n, seg, 16);
		n += 16;
	}
	return n;
}
