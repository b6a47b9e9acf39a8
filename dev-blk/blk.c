/* bulkhead-blk device model: the image, virtio-blk features and config space, request
 * parsing with every bounds check, and the IOPS token bucket. Nothing here does I/O on guest
 * data or knows about an event loop, so all of it is unit-tested over hand-made iovecs. */
#include "blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/param.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "log.h"
#include "util.h"

/* ---- the disk -------------------------------------------------------------------------- */

/* Adopt the supervisor's fd: it must be able to do what we advertise. */
static int adopt_fd(struct blk_disk *d, const struct blk_opts *o)
{
	int fl = fcntl(o->blk_fd, F_GETFL);

	if (fl < 0) {
		log_warn("--blk-fd=%d", o->blk_fd);
		return -EBADF;
	}
	if (!o->read_only && (fl & O_ACCMODE) == O_RDONLY) {
		log_warnx("--blk-fd=%d is open read-only; pass --read-only", o->blk_fd);
		return -EBADF;
	}
	if (o->direct && !(fl & O_DIRECT) && fcntl(o->blk_fd, F_SETFL, fl | O_DIRECT) < 0) {
		log_warn("--blk-fd=%d: cannot set O_DIRECT", o->blk_fd);
		return -EINVAL;
	}
	d->direct = o->direct || (fl & O_DIRECT);
	d->fd = o->blk_fd;
	return 0;
}

static int open_file(struct blk_disk *d, const struct blk_opts *o)
{
	int fl = (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (o->direct ? O_DIRECT : 0);

	d->fd = open(o->blk_file, fl);
	if (d->fd < 0) {
		int err = errno;
		log_warn("%s", o->blk_file);
		return -err;
	}
	d->direct = o->direct;
	return 0;
}

/*
 * With O_DIRECT the device's logical block size decides the alignment the guest must keep.
 * Probe it: a 512-byte read at a 512- (not 4096-) aligned address either works or fails with
 * EINVAL, in which case the guest gets blk_size 4096 and aligns its requests to that.
 */
static uint32_t probe_blk_size(int fd)
{
	uint8_t *buf;
	ssize_t n;
	int ssz = 0;
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && ioctl(fd, BLKSSZGET, &ssz) == 0)
		return ssz > (int)BLK_SECTOR_SIZE ? 4096 : BLK_SECTOR_SIZE;
	buf = aligned_alloc(8192, 8192);
	if (!buf)
		return 4096;
	n = pread(fd, buf + BLK_SECTOR_SIZE, BLK_SECTOR_SIZE, 0);
	free(buf);
	return (n < 0 && errno == EINVAL) ? 4096 : BLK_SECTOR_SIZE;
}

static int disk_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*size = st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	return -EINVAL;
}

int blk_disk_open(struct blk_disk *d, const struct blk_opts *o)
{
	uint64_t size = 0;
	int r;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	r = o->blk_fd >= 0 ? adopt_fd(d, o) : open_file(d, o);
	if (r < 0)
		return r;
	r = disk_size(d->fd, &size);
	if (r < 0) {
		log_warnx("image: not a regular file or block device (%s)", strerror(-r));
		blk_disk_close(d);
		return r;
	}
	d->read_only = o->read_only;
	d->blk_size = d->direct ? probe_blk_size(d->fd) : BLK_SECTOR_SIZE;
	/* a tail smaller than one block is not addressable */
	d->capacity = ALIGN_DOWN(size, (uint64_t)d->blk_size) >> BLK_SECTOR_SHIFT;
	memcpy(d->serial, o->serial, strnlen(o->serial, BLK_SERIAL_MAX));
	d->num_queues = o->num_queues;
	return 0;
}

void blk_disk_close(struct blk_disk *d)
{
	closep(&d->fd);
}

/* ---- features and config space --------------------------------------------------------- */

uint64_t blk_features(const struct blk_disk *d)
{
	uint64_t f = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_RING_F_INDIRECT_DESC |
		     1ULL << VIRTIO_RING_F_EVENT_IDX | 1ULL << VIRTIO_BLK_F_SEG_MAX |
		     1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH;

	if (d->read_only)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	else
		f |= 1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	if (d->num_queues > 1)
		f |= 1ULL << VIRTIO_BLK_F_MQ;
	return f;
}

void blk_config(const struct blk_disk *d, struct virtio_blk_config *c)
{
	memset(c, 0, sizeof(*c));
	c->capacity = htole64(d->capacity);
	c->seg_max = htole32(BLK_SEG_MAX);
	c->blk_size = htole32(d->blk_size);
	c->num_queues = htole16(d->num_queues);
	c->max_discard_sectors = htole32(BLK_MAX_DISCARD_SECTORS);
	c->max_discard_seg = htole32(1);
	c->discard_sector_alignment = htole32(d->blk_size >> BLK_SECTOR_SHIFT);
	c->max_write_zeroes_sectors = htole32(BLK_MAX_WRITE_ZEROES_SECTORS);
	c->max_write_zeroes_seg = htole32(1);
	c->write_zeroes_may_unmap = 1;
}

int blk_config_read(const struct blk_disk *d, uint8_t *buf, uint32_t offset, uint32_t len)
{
	/* frontends built against newer headers may ask for more: those fields read as zero */
	uint8_t space[VU_MAX_CONFIG] = { 0 };
	struct virtio_blk_config c;

	if (offset > sizeof(space) || len > sizeof(space) - offset)
		return -EINVAL;
	blk_config(d, &c);
	memcpy(space, &c, sizeof(c));
	memcpy(buf, space + offset, len);
	return 0;
}

/* ---- iovec helpers ---------------------------------------------------------------------- */

/* ---- requests -------------------------------------------------------------------------- */

/* [sector*512, +len) inside the disk, all arithmetic overflow-checked */
static bool range_ok(const struct blk_disk *d, uint64_t sector, uint64_t len)
{
	if (sector > d->capacity)
		return false;
	return range_within(sector << BLK_SECTOR_SHIFT, len, 0,
			    d->capacity << BLK_SECTOR_SHIFT);
}

static int answer(struct blk_req *r, uint8_t status)
{
	r->op = BLK_OP_NONE;
	r->result = status;
	return 0;
}

static int parse_rw(const struct blk_disk *d, struct blk_req *r, bool write)
{
	r->len = iov_size(r->iov, r->iovcnt);
	if (r->len % BLK_SECTOR_SIZE || !range_ok(d, r->sector, r->len))
		return answer(r, VIRTIO_BLK_S_IOERR);
	if (write && d->read_only)
		return answer(r, VIRTIO_BLK_S_IOERR);
	r->offset = r->sector << BLK_SECTOR_SHIFT;
	r->op = write ? BLK_OP_WRITE : BLK_OP_READ;
	if (!write)
		r->written = r->len + 1;
	if (!r->len)
		return answer(r, VIRTIO_BLK_S_OK);
	return 0;
}

/* DISCARD and WRITE_ZEROES: exactly one segment {le64 sector, le32 num, le32 flags}. */
static int parse_range(const struct blk_disk *d, struct blk_req *r, bool discard)
{
	uint8_t seg[BLK_SEG_SIZE];
	uint64_t sector;
	uint32_t num, flags, max;

	if (d->read_only || iov_size(r->iov, r->iovcnt) != BLK_SEG_SIZE ||
	    !iov_read(r->iov, r->iovcnt, 0, seg, sizeof(seg)))
		return answer(r, VIRTIO_BLK_S_IOERR);
	memcpy(&sector, seg, 8);
	memcpy(&num, seg + 8, 4);
	memcpy(&flags, seg + 12, 4);
	sector = le64toh(sector);
	num = le32toh(num);
	flags = le32toh(flags);
	/* virtio 1.1 5.2.6.2: unknown flags, or UNMAP on a discard, are UNSUPP */
	if (flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
	    (discard && flags))
		return answer(r, VIRTIO_BLK_S_UNSUPP);
	max = discard ? BLK_MAX_DISCARD_SECTORS : BLK_MAX_WRITE_ZEROES_SECTORS;
	if (num > max || !range_ok(d, sector, (uint64_t)num << BLK_SECTOR_SHIFT))
		return answer(r, VIRTIO_BLK_S_IOERR);
	if (!num)
		return answer(r, VIRTIO_BLK_S_OK);
	r->offset = sector << BLK_SECTOR_SHIFT;
	r->len = (uint64_t)num << BLK_SECTOR_SHIFT;
	if (discard)
		r->op = BLK_OP_DISCARD;
	else
		r->op = (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ? BLK_OP_PUNCH : BLK_OP_ZERO;
	return 0;
}

/* Take the status byte off the end of the writable part; false if there is none. */
static bool take_status(struct vq_elem *e, struct blk_req *r)
{
	struct iovec *last;

	if (!e->in_num)
		return false;
	last = &e->iov[e->out_num + e->in_num - 1];
	if (!last->iov_len)
		return false;
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	if (--last->iov_len == 0)
		e->in_num--;
	return true;
}

static int dispatch(const struct blk_disk *d, struct vq_elem *e, struct blk_req *r)
{
	struct iovec *out = e->iov, *in = e->iov + e->out_num;
	unsigned out_num = e->out_num;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		r->iov = in;
		r->iovcnt = e->in_num;
		break;
	default:
		iov_advance(&out, &out_num, BLK_HDR_SIZE);
		r->iov = out;
		r->iovcnt = out_num;
		break;
	}
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		return parse_rw(d, r, false);
	case VIRTIO_BLK_T_OUT:
		return parse_rw(d, r, true);
	case VIRTIO_BLK_T_FLUSH:
		r->op = BLK_OP_FLUSH;
		return 0;
	case VIRTIO_BLK_T_GET_ID:
		r->op = BLK_OP_GET_ID;
		return 0;
	case VIRTIO_BLK_T_DISCARD:
		return parse_range(d, r, true);
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return parse_range(d, r, false);
	default:
		return answer(r, VIRTIO_BLK_S_UNSUPP);
	}
}

int blk_req_parse(const struct blk_disk *d, struct vq_elem *e, struct blk_req *r)
{
	struct virtio_blk_outhdr hdr;

	memset(r, 0, sizeof(*r));
	r->written = 1;
	if (!take_status(e, r))
		return -EINVAL;
	/* the header may be split across any number of readable buffers */
	if (!iov_read(e->iov, e->out_num, 0, &hdr, sizeof(hdr))) {
		r->type = UINT32_MAX;
		return answer(r, VIRTIO_BLK_S_IOERR);
	}
	r->type = le32toh(hdr.type);
	r->sector = le64toh(hdr.sector);
	return dispatch(d, e, r);
}

void blk_req_get_id(const struct blk_disk *d, struct blk_req *r)
{
	uint8_t id[BLK_SERIAL_MAX] = { 0 };
	uint64_t left = BLK_SERIAL_MAX, done = 0;

	memcpy(id, d->serial, sizeof(id));
	/* a serial of 20 bytes has no NUL, as the spec allows */
	for (unsigned i = 0; i < r->iovcnt && left; i++) {
		size_t c = MIN(r->iov[i].iov_len, left);

		memcpy(r->iov[i].iov_base, id + done, c);
		done += c;
		left -= c;
	}
	r->written = done + 1;
}

/* ---- IOPS token bucket ----------------------------------------------------------------- */

#define NSEC 1000000000ULL

void blk_bucket_init(struct blk_bucket *b, uint32_t iops, uint64_t now_ns)
{
	b->rate = iops;
	/* a tenth of a second of burst, as QEMU's throttling defaults to */
	b->burst = MAX(iops / 10, 1u);
	b->level = b->burst * NSEC;
	b->last_ns = now_ns;
}

bool blk_bucket_ready(struct blk_bucket *b, uint64_t now_ns)
{
	uint64_t dt, cap = (b->burst + 1) * NSEC - 1;

	if (!b->rate)
		return true;
	dt = now_ns > b->last_ns ? now_ns - b->last_ns : 0;
	b->last_ns = MAX(now_ns, b->last_ns);
	/* Full means `burst` whole tokens plus the progress towards the next one: capping at
	 * burst*NSEC would throw that progress away whenever the loop polls late. Past a full
	 * refill the exact time does not matter; this also keeps dt*rate small. */
	if (dt >= 2 * NSEC)
		b->level = cap;
	else
		b->level = MIN(b->level + dt * b->rate, cap);
	return b->level >= NSEC;
}

void blk_bucket_consume(struct blk_bucket *b)
{
	if (b->rate && b->level >= NSEC)
		b->level -= NSEC;
}

bool blk_bucket_take(struct blk_bucket *b, uint64_t now_ns)
{
	if (!blk_bucket_ready(b, now_ns))
		return false;
	blk_bucket_consume(b);
	return true;
}

uint64_t blk_bucket_wait_ns(const struct blk_bucket *b)
{
	if (!b->rate || b->level >= NSEC)
		return 0;
	return (NSEC - b->level + b->rate - 1) / b->rate;
}
