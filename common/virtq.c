/* Split-ring virtqueue (virtio 1.1 §2.6) for device backends; see virtq.h.
 *
 * The rings live in memory the guest shares with us and may rewrite at any moment, so every
 * ring field and descriptor is read exactly once into a local and every check runs on that
 * copy (no double fetch); every index is bounded before use and every buffer must lie wholly
 * inside one guest RAM region. In-flight bookkeeping follows the vhost-user spec's "Inflight
 * I/O tracking" for split queues, as QEMU's libvhost-user does it. */
#include "virtq.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define INFLIGHT_VERSION     1
#define INFLIGHT_ALIGN       64
/* A broken queue logs once; a guest that resets and re-breaks it gets one line per window. */
#define VQ_LOG_INTERVAL_MS   10000
#define VQ_LOG_BURST         1

/* ---- guest memory ---- */

static void *translate(const struct vq_mem *m, uint64_t addr, uint64_t len, bool uva)
{
	unsigned nr = m->nr < VQ_MAX_REGIONS ? m->nr : VQ_MAX_REGIONS;

	for (unsigned i = 0; i < nr; i++) {
		const struct vq_region *r = &m->r[i];
		uint64_t base = uva ? r->uaddr : r->gpa;

		if (r->hva && range_within(addr, len, base, r->size))
			return r->hva + (addr - base);
	}
	return NULL;
}

void *vq_gpa_to_hva(const struct vq_mem *m, uint64_t gpa, uint64_t len)
{
	return translate(m, gpa, len, false);
}

void *vq_uva_to_hva(const struct vq_mem *m, uint64_t uva, uint64_t len)
{
	return translate(m, uva, len, true);
}

size_t vq_inflight_queue_size(uint16_t queue_size)
{
	/* QEMU's vu_inflight_queue_size(): the frontend sizes the fd from what the backend
	 * reports, so use the same formula. Rounding 16*n + 2 up to 64 always leaves room for
	 * the 16-byte header, since 16*n is a multiple of 16. */
	return ALIGN_UP(sizeof(struct vq_inflight_desc) * (size_t)queue_size + sizeof(uint16_t),
			(size_t)INFLIGHT_ALIGN);
}

/* ---- ring field access ---- */

/* A shared 16-bit ring field, loaded once. */
static inline uint16_t ld16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline void st16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

/* used_event lives after the avail ring, avail_event after the used ring (§2.6.7/2.6.8). */
static inline uint16_t *used_event(const struct vq *vq)
{
	return &vq->avail->ring[vq->num];
}

static inline uint16_t *avail_event(const struct vq *vq)
{
	return (uint16_t *)(void *)&vq->used->ring[vq->num];
}

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static void read_desc(const uint8_t *table, unsigned i, struct desc *d)
{
	struct vring_desc raw;

	memcpy(&raw, table + (size_t)i * sizeof(raw), sizeof(raw));
	/* Compiler barrier: the loads from guest memory happen here, once; the compiler may
	 * not replace later uses of the copy with fresh loads from the shared table. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
}

static inline bool busy_test(const struct vq *vq, uint16_t h)
{
	return vq->busy[h >> 3] & (1u << (h & 7));
}

static inline void busy_set(struct vq *vq, uint16_t h, bool on)
{
	if (on)
		vq->busy[h >> 3] |= (uint8_t)(1u << (h & 7));
	else
		vq->busy[h >> 3] &= (uint8_t)~(1u << (h & 7));
}

/* ---- setup ---- */

int vq_setup(struct vq *vq, const char *name, const struct vq_mem *mem, uint16_t num,
	     void *desc, void *avail, void *used, bool event_idx)
{
	struct ratelimit rl = vq->rl;
	uint8_t *busy;

	if (!num || (num & (num - 1)) || num > VQ_MAX_SIZE || !mem || !desc || !avail || !used)
		return -EINVAL;
	/* the index fields are accessed atomically, which needs natural alignment */
	if ((uintptr_t)avail % 2 || (uintptr_t)used % 4)
		return -EINVAL;
	busy = calloc((num + 7u) / 8u, 1);
	if (!busy)
		return -ENOMEM;
	vq_teardown(vq);
	memset(vq, 0, sizeof(*vq));
	vq->rl = rl.interval_ms ? rl : (struct ratelimit)RATELIMIT_INIT(VQ_LOG_INTERVAL_MS,
									VQ_LOG_BURST);
	vq->name = name ? name : "vq";
	vq->num = num;
	vq->mem = mem;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->event_idx = event_idx;
	vq->busy = busy;
	/* what a previous backend already completed stays completed */
	vq->used_idx = ld16(&vq->used->idx);
	/* kicks are on: a previous backend may have died polling, with NO_NOTIFY set */
	st16(&vq->used->flags, 0);
	vq->ready = true;
	return 0;
}

static void drop_resubmit(struct vq *vq)
{
	free(vq->resubmit);
	vq->resubmit = NULL;
	vq->resubmit_nr = vq->resubmit_pos = 0;
}

void vq_teardown(struct vq *vq)
{
	drop_resubmit(vq);
	free(vq->busy);
	vq->busy = NULL;
	vq->ready = false;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->inflight = NULL;
}

void vq_set_base(struct vq *vq, uint16_t last_avail_idx)
{
	vq->last_avail_idx = last_avail_idx;
}

uint16_t vq_get_base(const struct vq *vq)
{
	return vq->last_avail_idx;
}

void vq_break(struct vq *vq, const char *fmt, ...)
{
	char why[192];
	va_list ap;

	if (vq->broken)
		return;
	vq->broken = true;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_warnx_rl(&vq->rl, "%s: queue broken, needs reset: %s", vq->name ? vq->name : "vq",
		     why);
}

/* ---- inflight area ---- */

static void inflight_init(struct vq *vq, struct vq_inflight *a)
{
	memset(a->desc, 0, sizeof(a->desc[0]) * vq->num);
	a->features = 0;
	a->version = INFLIGHT_VERSION;
	a->desc_num = vq->num;
	a->last_batch_head = 0;
	a->used_idx = vq->used_idx;
	vq->inflight_counter = 0;
}

struct pending {
	uint64_t counter;
	uint16_t head;
};

static int by_counter(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	return (x->counter > y->counter) - (x->counter < y->counter);
}

/* Queue every head still marked in flight for resubmission, oldest first. */
static int collect_resubmit(struct vq *vq, struct vq_inflight *a)
{
	struct pending *p = calloc(vq->num, sizeof(*p));
	unsigned n = 0;

	if (!p)
		return -ENOMEM;
	for (unsigned i = 0; i < vq->num; i++) {
		uint8_t f = __atomic_load_n(&a->desc[i].inflight, __ATOMIC_RELAXED);

		if (f > 1) {
			free(p);
			vq_break(vq, "inflight area: entry %u has flag %u", i, f);
			return -EINVAL;
		}
		if (f)
			p[n++] = (struct pending){ a->desc[i].counter, (uint16_t)i };
	}
	qsort(p, n, sizeof(*p), by_counter);
	vq->resubmit = n ? malloc(n * sizeof(*vq->resubmit)) : NULL;
	if (n && !vq->resubmit) {
		free(p);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++)
		vq->resubmit[i] = p[i].head;
	vq->resubmit_nr = n;
	vq->inflight_counter = n ? p[n - 1].counter : 0;
	free(p);
	return 0;
}

static int inflight_recover(struct vq *vq, struct vq_inflight *a)
{
	uint16_t used = ld16(&vq->used->idx);
	uint16_t lbh = a->last_batch_head;
	int rc;

	if (a->version != INFLIGHT_VERSION || a->desc_num != vq->num || lbh >= vq->num) {
		vq_break(vq, "inflight area inconsistent (version %u, %u entries, last head %u)",
			 a->version, a->desc_num, lbh);
		return -EINVAL;
	}
	vq->used_idx = used;
	vq->signalled_used_valid = false;
	if (a->used_idx != used) {
		/* The old backend published used->idx for last_batch_head and died before it
		 * cleared that head: the guest has it back, so it is not in flight. */
		__atomic_store_n(&a->desc[lbh].inflight, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&a->used_idx, used, __ATOMIC_RELEASE);
	}
	rc = collect_resubmit(vq, a);
	if (rc)
		return rc;
	/* Every avail entry consumed so far is either completed (counted in used->idx) or one
	 * of the heads being resubmitted: skip exactly those (libvhost-user does the same). */
	vq->last_avail_idx = (uint16_t)(used + vq->resubmit_nr);
	if (vq->resubmit_nr)
		log_info("%s: resubmitting %u in-flight requests", vq->name, vq->resubmit_nr);
	return 0;
}

int vq_set_inflight(struct vq *vq, struct vq_inflight *area, bool fresh)
{
	int rc;

	if (!vq->ready || !area)
		return -EINVAL;
	drop_resubmit(vq);
	vq->inflight = area;
	/* an all-zero area was never used by a backend: nothing to recover */
	if (fresh || (area->version == 0 && area->desc_num == 0)) {
		inflight_init(vq, area);
		return 0;
	}
	rc = inflight_recover(vq, area);
	if (rc)
		vq->inflight = NULL;
	return rc;
}

static void inflight_get(struct vq *vq, uint16_t head)
{
	struct vq_inflight_desc *d;

	if (!vq->inflight)
		return;
	d = &vq->inflight->desc[head];
	d->counter = ++vq->inflight_counter;
	/* the counter first: a record marked in flight always carries its order */
	__atomic_store_n(&d->inflight, 1, __ATOMIC_RELEASE);
}

static void inflight_put(struct vq *vq, uint16_t head)
{
	if (!vq->inflight)
		return;
	__atomic_store_n(&vq->inflight->desc[head].inflight, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&vq->inflight->used_idx, vq->used_idx, __ATOMIC_RELEASE);
}

/* ---- popping a chain ---- */

struct walk {
	const uint8_t *table;   /* descriptor table being walked (ring or indirect) */
	unsigned max;           /* its number of entries: bounds next and the chain length */
	bool indirect;
	bool seen_write;
	uint16_t head;
};

static int fail(struct vq *vq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct vq *vq, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	vq_break(vq, "%s", why);
	return -EIO;
}

static int enter_indirect(struct vq *vq, const struct desc *d, struct walk *w, unsigned count)
{
	if (w->indirect)
		return fail(vq, "head %u: nested indirect table", w->head);
	if (count > 1)
		return fail(vq, "head %u: indirect descriptor not at the head", w->head);
	if (d->flags & VRING_DESC_F_NEXT)
		return fail(vq, "head %u: indirect descriptor with NEXT", w->head);
	if (d->len == 0 || d->len % sizeof(struct vring_desc) ||
	    d->len / sizeof(struct vring_desc) > VQ_MAX_INDIRECT)
		return fail(vq, "head %u: indirect table of %u bytes", w->head, d->len);
	w->table = vq_gpa_to_hva(vq->mem, d->addr, d->len);
	if (!w->table)
		return fail(vq, "head %u: indirect table %#" PRIx64 "+%u outside guest RAM",
			    w->head, d->addr, d->len);
	w->max = d->len / sizeof(struct vring_desc);
	w->indirect = true;
	return 0;
}

static int add_seg(struct vq *vq, struct vq_elem *e, const struct desc *d, struct walk *w)
{
	bool wr = d->flags & VRING_DESC_F_WRITE;
	unsigned n = e->out_num + e->in_num;
	void *p;

	/* the device may rely on all it reads coming before all it writes (§2.6.4.2) */
	if (!wr && w->seen_write)
		return fail(vq, "head %u: readable buffer after a writable one", w->head);
	w->seen_write |= wr;
	if (d->len == 0)
		return 0;
	p = vq_gpa_to_hva(vq->mem, d->addr, d->len);
	if (!p)
		return fail(vq, "head %u: buffer %#" PRIx64 "+%u outside guest RAM", w->head,
			    d->addr, d->len);
	if (n >= e->iov_cap)
		return fail(vq, "head %u: more than %u segments", w->head, e->iov_cap);
	e->iov[n].iov_base = p;
	e->iov[n].iov_len = d->len;
	if (wr) {
		e->in_num++;
		e->in_len += d->len;
	} else {
		e->out_num++;
		e->out_len += d->len;
	}
	return 0;
}

/* Walk the chain at head (< num) into e. A chain may visit at most as many descriptors as
 * its table holds, so a loop ends there. */
static int walk_chain(struct vq *vq, uint16_t head, struct vq_elem *e)
{
	struct walk w = { (const uint8_t *)vq->desc, vq->num, false, false, head };
	unsigned i = head, count = 0;
	struct desc d;
	int rc;

	e->head = head;
	e->out_num = e->in_num = 0;
	e->out_len = e->in_len = 0;
	for (;;) {
		if (++count > w.max)
			return fail(vq, "head %u: chain longer than %u", head, w.max);
		read_desc(w.table, i, &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			rc = enter_indirect(vq, &d, &w, count);
			if (rc)
				return rc;
			i = 0;
			count = 0;
			continue;
		}
		rc = add_seg(vq, e, &d, &w);
		if (rc)
			return rc;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= w.max)
			return fail(vq, "head %u: next %u >= %u", head, d.next, w.max);
		i = d.next;
	}
}

static inline uint16_t avail_idx(const struct vq *vq)
{
	/* acquire: the ring entries the driver wrote before idx are visible after this load */
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
}

/* 1 with *head read from the next avail entry, 0 when there is none, -EIO when broken. */
static int next_avail(struct vq *vq, uint16_t *head)
{
	uint16_t pending = (uint16_t)(avail_idx(vq) - vq->last_avail_idx);

	if (!pending && vq->event_idx && !vq->kicks_off) {
		/* Ask for a kick at the next entry, then look again: a driver that added one
		 * before it saw the new avail_event would not kick, and we would sleep on it. */
		st16(avail_event(vq), vq->last_avail_idx);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		pending = (uint16_t)(avail_idx(vq) - vq->last_avail_idx);
	}
	if (pending > vq->num)
		return fail(vq, "avail idx is %u entries ahead of %u (queue size %u)", pending,
			    vq->last_avail_idx, vq->num);
	if (!pending)
		return 0;
	*head = ld16(&vq->avail->ring[vq->last_avail_idx & (vq->num - 1)]);
	return 1;
}

static int pop_resubmit(struct vq *vq, struct vq_elem *e)
{
	uint16_t head = vq->resubmit[vq->resubmit_pos++];

	/* the driver has not had this chain back, so it still describes the same request */
	if (walk_chain(vq, head, e))
		return -EIO;
	busy_set(vq, head, true);
	/* the list stays until teardown: vq_rewind may hand the head back to it */
	e->resubmitted = true;
	return 1;
}

int vq_pop(struct vq *vq, struct vq_elem *e)
{
	uint16_t head = 0;
	int rc;

	if (vq->broken)
		return -EIO;
	if (!vq->ready)
		return 0;
	if (vq->resubmit_pos < vq->resubmit_nr)
		return pop_resubmit(vq, e);
	rc = next_avail(vq, &head);
	if (rc <= 0)
		return rc;
	if (head >= vq->num)
		return fail(vq, "head %u >= queue size %u", head, vq->num);
	if (busy_test(vq, head))
		return fail(vq, "head %u made available while in flight", head);
	if (walk_chain(vq, head, e))
		return -EIO;
	e->resubmitted = false;
	vq->last_avail_idx++;
	if (vq->event_idx && !vq->kicks_off)
		st16(avail_event(vq), vq->last_avail_idx);
	busy_set(vq, head, true);
	inflight_get(vq, head);
	return 1;
}

/* ---- completing ---- */

int vq_push(struct vq *vq, uint16_t head, uint32_t written)
{
	struct vring_used_elem *u;
	uint16_t old = vq->used_idx;

	if (vq->broken || !vq->ready)
		return -EIO;
	if (head >= vq->num || !busy_test(vq, head))
		return -EINVAL;
	if (vq->inflight)
		__atomic_store_n(&vq->inflight->last_batch_head, head, __ATOMIC_RELAXED);
	u = &vq->used->ring[old & (vq->num - 1)];
	__atomic_store_n(&u->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&u->len, htole32(written), __ATOMIC_RELAXED);
	vq->used_idx = (uint16_t)(old + 1);
	/* release: the element (and last_batch_head) are visible before the index that
	 * publishes them */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
	inflight_put(vq, head);
	busy_set(vq, head, false);
	/* after 2^16 pushes without a notification signalled_used is meaningless */
	if ((int16_t)(vq->used_idx - vq->signalled_used) < (uint16_t)(vq->used_idx - old))
		vq->signalled_used_valid = false;
	return 0;
}

int vq_rewind(struct vq *vq, const struct vq_elem *const *elems, unsigned n)
{
	if (vq->broken || !vq->ready)
		return -EIO;
	for (unsigned i = 0; i < n; i++)
		if (elems[i]->head >= vq->num || !busy_test(vq, elems[i]->head))
			return -EINVAL;
	/* newest first: each one is then the last pop of its source */
	for (unsigned i = n; i-- > 0;) {
		uint16_t head = elems[i]->head;

		if (elems[i]->resubmitted) {
			/* still in flight in the shared record: it stays marked there */
			if (!vq->resubmit_pos || vq->resubmit[vq->resubmit_pos - 1] != head)
				return -EINVAL;
			vq->resubmit_pos--;
		} else {
			vq->last_avail_idx--;
			if (vq->inflight) {
				__atomic_store_n(&vq->inflight->desc[head].inflight, 0,
						 __ATOMIC_RELEASE);
				vq->inflight_counter--;
			}
		}
		busy_set(vq, head, false);
	}
	/* a kick is wanted for the entries handed back, as for any not yet consumed */
	if (vq->event_idx && !vq->kicks_off)
		st16(avail_event(vq), vq->last_avail_idx);
	return 0;
}

int vq_push_batch(struct vq *vq, const struct vring_used_elem *el, unsigned n)
{
	uint16_t old = vq->used_idx;

	if (vq->broken || !vq->ready)
		return -EIO;
	if (!n || n > vq->num)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (el[i].id >= vq->num || !busy_test(vq, (uint16_t)el[i].id))
			return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		struct vring_used_elem *u = &vq->used->ring[(uint16_t)(old + i) & (vq->num - 1)];

		__atomic_store_n(&u->id, htole32(el[i].id), __ATOMIC_RELAXED);
		__atomic_store_n(&u->len, htole32(el[i].len), __ATOMIC_RELAXED);
	}
	/* a backend dying between the index store and the inflight clears leaves the batch's
	 * last head recorded: recovery (inflight_recover) then knows the batch was published.
	 * Only that one head is covered, as in libvhost-user; the others of the batch stay
	 * marked and are resubmitted - a duplicate, never a loss. */
	if (vq->inflight)
		__atomic_store_n(&vq->inflight->last_batch_head, (uint16_t)el[n - 1].id,
				 __ATOMIC_RELAXED);
	vq->used_idx = (uint16_t)(old + n);
	/* release: every element is visible before the index that publishes them all at once
	 * (a mergeable RX packet's buffers must appear together) */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
	for (unsigned i = 0; i < n; i++) {
		inflight_put(vq, (uint16_t)el[i].id);
		busy_set(vq, (uint16_t)el[i].id, false);
	}
	if ((int16_t)(vq->used_idx - vq->signalled_used) < (uint16_t)(vq->used_idx - old))
		vq->signalled_used_valid = false;
	return 0;
}

bool vq_avail_pending(const struct vq *vq)
{
	if (vq->broken || !vq->ready)
		return false;
	return vq->resubmit_pos < vq->resubmit_nr || avail_idx(vq) != vq->last_avail_idx;
}

void vq_kicks(struct vq *vq, bool on)
{
	if (vq->broken || !vq->ready)
		return;
	vq->kicks_off = !on;
	if (vq->event_idx) {
		/* off: an avail_event behind the entries not yet consumed is one no new entry
		 * crosses (until the 16-bit index wraps: one kick in 65536) */
		st16(avail_event(vq), (uint16_t)(vq->last_avail_idx - (on ? 0 : 1)));
	} else {
		st16(&vq->used->flags, on ? 0 : VRING_USED_F_NO_NOTIFY);
	}
	/* the store must be visible before the caller looks at avail->idx again */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool vq_should_notify(struct vq *vq)
{
	uint16_t old, new;
	bool valid;

	if (vq->broken || !vq->ready)
		return false;
	/* the used entries must be visible before we read the driver's suppression state,
	 * or a driver checking used->idx in between would miss both */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(ld16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	valid = vq->signalled_used_valid;
	old = vq->signalled_used;
	new = vq->used_idx;
	vq->signalled_used_valid = true;
	vq->signalled_used = new;
	return !valid || vring_need_event(ld16(used_event(vq)), new, old);
}
