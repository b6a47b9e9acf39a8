/* Harness guest RAM and the driver side of split rings: descriptor chains for virtio-blk
 * requests, avail publication with release ordering, used consumption with acquire ordering,
 * EVENT_IDX used_event, and bounded waits on the call eventfd. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define SLOT_STRIDE (4096 + HX_SLOT_DATA)   /* header page (hdr at 0, status at 64), then data */

uint64_t hx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int hx_init(struct hx *h, uint64_t ram0_size)
{
	uint64_t total = ram0_size + HX_RAM1_SIZE;

	memset(h, 0, sizeof(*h));
	h->inflight_fd = -1;
	h->f.sock = -1;
	h->memfd = memfd_create("hx-ram", MFD_CLOEXEC);
	if (h->memfd < 0)
		return -errno;
	if (ftruncate(h->memfd, (off_t)total) < 0)
		goto fail;
	h->ram = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, h->memfd, 0);
	if (h->ram == MAP_FAILED)
		goto fail;
	h->ram0_size = ram0_size;
	h->bump = 4096;     /* keep the first page unused: a harmless in-RAM target */
	return 0;
fail:
	close(h->memfd);
	h->memfd = -1;
	h->ram = NULL;
	return -errno;
}

void hx_exit(struct hx *h)
{
	unsigned i;

	hx_detach(h);
	for (i = 0; i < HX_MAX_QUEUES; i++) {
		if (h->q[i].kick_fd > 0)
			close(h->q[i].kick_fd);
		if (h->q[i].call_fd > 0)
			close(h->q[i].call_fd);
		h->q[i].kick_fd = h->q[i].call_fd = 0;
	}
	if (h->inflight)
		munmap(h->inflight, h->inflight_info.mmap_size);
	h->inflight = NULL;
	if (h->inflight_fd >= 0)
		close(h->inflight_fd);
	h->inflight_fd = -1;
	if (h->ram)
		munmap(h->ram, h->ram0_size + HX_RAM1_SIZE);
	h->ram = NULL;
	if (h->memfd >= 0)
		close(h->memfd);
	h->memfd = -1;
}

uint64_t hx_alloc(struct hx *h, uint64_t size, uint64_t align)
{
	uint64_t off = (h->bump + align - 1) & ~(align - 1);

	if (off + size > h->ram0_size)
		return 0;
	h->bump = off + size;
	memset(h->ram + off, 0, size);
	return HX_GPA_BASE + off;
}

uint64_t hx_ram1_gpa(const struct hx *h)
{
	return HX_GPA_BASE + h->ram0_size;
}

uint64_t hx_ram_end(const struct hx *h)
{
	return HX_GPA_BASE + h->ram0_size + HX_RAM1_SIZE;
}

void *hx_ptr(struct hx *h, uint64_t gpa, uint64_t len)
{
	if (gpa < HX_GPA_BASE || gpa > hx_ram_end(h) || len > hx_ram_end(h) - gpa)
		return NULL;
	return h->ram + (gpa - HX_GPA_BASE);
}

/* --- slots ----------------------------------------------------------------------------------- */

static uint64_t slot_gpa(struct hx *h, unsigned q, unsigned slot)
{
	return h->q[q].slot_gpa + (uint64_t)slot * SLOT_STRIDE;
}

uint64_t hx_slot_hdr_gpa(struct hx *h, unsigned q, unsigned slot)
{
	return slot_gpa(h, q, slot);
}

uint64_t hx_slot_status_gpa(struct hx *h, unsigned q, unsigned slot)
{
	return slot_gpa(h, q, slot) + 64;
}

uint64_t hx_slot_data_gpa(struct hx *h, unsigned q, unsigned slot)
{
	return slot_gpa(h, q, slot) + 4096;
}

uint8_t *hx_slot_data(struct hx *h, unsigned q, unsigned slot)
{
	return hx_ptr(h, hx_slot_data_gpa(h, q, slot), HX_SLOT_DATA);
}

uint8_t *hx_slot_status(struct hx *h, unsigned q, unsigned slot)
{
	return hx_ptr(h, hx_slot_status_gpa(h, q, slot), 1);
}

int hx_slot_get(struct hx *h, unsigned q)
{
	unsigned s;

	for (s = 0; s < h->q[q].nslots; s++)
		if (!h->q[q].slot_busy[s])
			return (int)s;
	return -EBUSY;
}

int hx_queue_layout(struct hx *h, unsigned q, uint16_t num)
{
	struct hx_queue *vq = &h->q[q];

	if (vq->desc && vq->num == num)
		return 0;
	vq->num = num;
	vq->desc_gpa = hx_alloc(h, 16ULL * num, 4096);
	vq->avail_gpa = hx_alloc(h, 6 + 2ULL * num, 4096);
	vq->used_gpa = hx_alloc(h, 6 + 8ULL * num, 4096);
	vq->nslots = num / HX_SLOT_DESCS;
	if (vq->nslots > HX_MAX_SLOTS)
		vq->nslots = HX_MAX_SLOTS;
	vq->slot_gpa = hx_alloc(h, (uint64_t)vq->nslots * SLOT_STRIDE, 4096);
	if (!vq->desc_gpa || !vq->avail_gpa || !vq->used_gpa || !vq->slot_gpa)
		return -ENOMEM;
	vq->desc = hx_ptr(h, vq->desc_gpa, 16ULL * num);
	vq->avail = hx_ptr(h, vq->avail_gpa, 6 + 2ULL * num);
	vq->used = hx_ptr(h, vq->used_gpa, 6 + 8ULL * num);
	vq->slot_hva = hx_ptr(h, vq->slot_gpa, 1);
	return 0;
}

/* --- chains ---------------------------------------------------------------------------------- */

void hx_desc(struct hx *h, unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	     uint16_t next)
{
	struct vring_desc *d = &h->q[q].desc[i % h->q[q].num];

	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

void hx_publish(struct hx *h, unsigned q, uint16_t head)
{
	struct hx_queue *vq = &h->q[q];

	vq->avail->ring[vq->avail_idx % vq->num] = htole16(head);
	vq->avail_idx++;
	/* The ring entry (and every descriptor before it) must be visible before the index. */
	__atomic_store_n(&vq->avail->idx, htole16(vq->avail_idx), __ATOMIC_RELEASE);
}

int hx_kick(struct hx *h, unsigned q)
{
	uint64_t one = 1;

	/* Order the avail->idx store before the kick (the backend may read it on wakeup). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (write(h->q[q].kick_fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

int hx_notify(struct hx *h, unsigned q)
{
	struct hx_queue *vq = &h->q[q];
	uint16_t old = vq->kicked_idx, now = vq->avail_idx, ev;

	/* as virtqueue_kick_prepare: the avail->idx store is visible before we read what the
	 * device asked for, which it writes before it looks at avail->idx again */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->kicked_idx = now;
	if (h->event_idx) {
		ev = le16toh(__atomic_load_n((uint16_t *)(void *)&vq->used->ring[vq->num],
					     __ATOMIC_RELAXED));
		if (!vring_need_event(ev, now, old))
			return 0;
	} else if (le16toh(__atomic_load_n(&vq->used->flags, __ATOMIC_RELAXED)) &
		   VRING_USED_F_NO_NOTIFY) {
		return 0;
	}
	return hx_kick(h, q);
}

bool hx_blk_data_in(uint32_t type)
{
	return type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
}

int hx_blk_submit(struct hx *h, unsigned q, unsigned slot, uint32_t type, uint64_t sector,
		  uint32_t len)
{
	struct hx_queue *vq = &h->q[q];
	uint16_t head = (uint16_t)(slot * HX_SLOT_DESCS), d = head;
	struct virtio_blk_outhdr *hdr;

	if (slot >= vq->nslots || len > HX_SLOT_DATA)
		return -EINVAL;
	hdr = hx_ptr(h, hx_slot_hdr_gpa(h, q, slot), sizeof(*hdr));
	hdr->type = htole32(type);
	hdr->ioprio = 0;
	hdr->sector = htole64(sector);
	*hx_slot_status(h, q, slot) = 0xee;   /* not a valid status: the device must overwrite it */
	hx_desc(h, q, d, hx_slot_hdr_gpa(h, q, slot), sizeof(*hdr), VRING_DESC_F_NEXT, d + 1);
	d++;
	if (len) {
		hx_desc(h, q, d, hx_slot_data_gpa(h, q, slot), len,
			VRING_DESC_F_NEXT | (hx_blk_data_in(type) ? VRING_DESC_F_WRITE : 0), d + 1);
		d++;
	}
	hx_desc(h, q, d, hx_slot_status_gpa(h, q, slot), 1, VRING_DESC_F_WRITE, 0);
	vq->slot_busy[slot] = true;
	hx_publish(h, q, head);
	return head;
}

/* --- completions ----------------------------------------------------------------------------- */

static uint16_t used_idx(struct hx_queue *vq)
{
	return le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
}

uint16_t hx_used_pending(struct hx *h, unsigned q)
{
	return (uint16_t)(used_idx(&h->q[q]) - h->q[q].last_used);
}

static void take(struct hx *h, unsigned q, struct hx_done *d)
{
	struct hx_queue *vq = &h->q[q];
	struct vring_used_elem *e = &vq->used->ring[vq->last_used % vq->num];
	uint32_t id = le32toh(e->id);

	d->head = (uint16_t)id;
	d->len = le32toh(e->len);
	d->stray = true;
	vq->last_used++;
	if (id / HX_SLOT_DESCS < vq->nslots && id % HX_SLOT_DESCS == 0) {
		d->stray = !vq->slot_busy[id / HX_SLOT_DESCS];
		vq->slot_busy[id / HX_SLOT_DESCS] = false;
	}
}

/* Tell the device (EVENT_IDX) we want an interrupt for the next used entry, then re-check. */
static bool arm(struct hx *h, unsigned q)
{
	struct hx_queue *vq = &h->q[q];

	if (h->event_idx) {
		__atomic_store_n(&vq->avail->ring[vq->num], htole16(vq->last_used), __ATOMIC_RELAXED);
		/* The used_event store must be visible before we read used->idx again. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	return used_idx(vq) != vq->last_used;
}

int hx_wait(struct hx *h, unsigned q, int timeout_ms, struct hx_done *d)
{
	struct hx_queue *vq = &h->q[q];
	uint64_t deadline = hx_now_ms() + (uint64_t)timeout_ms, v;
	struct pollfd p = { .fd = vq->call_fd, .events = POLLIN };

	for (;;) {
		if (arm(h, q)) {
			take(h, q, d);
			return 1;
		}
		uint64_t now = hx_now_ms();
		if (now >= deadline)
			break;
		int r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == 0 && used_idx(vq) != vq->last_used) {
			/* The driver asked for an interrupt (used_event, no NO_INTERRUPT) and the
			 * device completed silently: a lost notification hangs a real guest. */
			fprintf(stderr, "hx: q%u: used->idx moved without a call notification\n", q);
			return -ENOTCONN;
		}
		if (r > 0 && read(vq->call_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return -errno;
	}
	return 0;
}

int hx_blk_do(struct hx *h, unsigned q, uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	struct hx_done d;
	int slot = hx_slot_get(h, q), head, r;

	if (slot < 0)
		return slot;
	if (len && !hx_blk_data_in(type))
		memcpy(hx_slot_data(h, q, slot), buf, len);
	else if (len)
		memset(hx_slot_data(h, q, slot), 0xa5, len);
	head = hx_blk_submit(h, q, slot, type, sector, len);
	if (head < 0)
		return head;
	r = hx_kick(h, q);
	if (r < 0)
		return r;
	r = hx_wait(h, q, HX_TIMEOUT_MS, &d);
	if (r <= 0)
		return r < 0 ? r : -ETIMEDOUT;
	if (d.head != head || d.stray) {
		fprintf(stderr, "hx: completion for head %u, expected %d\n", d.head, head);
		return -EPROTO;
	}
	if (len && hx_blk_data_in(type))
		memcpy(buf, hx_slot_data(h, q, slot), len);
	return *hx_slot_status(h, q, slot);
}
