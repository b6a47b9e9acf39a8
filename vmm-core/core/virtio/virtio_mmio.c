/* virtio-mmio v2 register file and status machine. Everything a guest writes is checked here;
 * a driver that breaks the protocol gets DEVICE_NEEDS_RESET and a rate-limited log line. */
#include "virtio_mmio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "le.h"
#include "util.h"

#define VMMIO_VERSION_2 2

void vmmio_init(struct vmmio *t, const char *name, unsigned gsi, const struct vmmio_ops *ops,
		void *opaque, void (*raise_irq)(void *, unsigned), void *irq_opaque,
		const struct guest_mem *mem)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->name = name;
	t->gsi = gsi;
	t->ops = ops;
	t->opaque = opaque;
	t->raise_irq = raise_irq;
	t->irq_opaque = irq_opaque;
	t->mem = mem;
	t->queue_num_max = VMMIO_QUEUE_NUM_MAX_DEFAULT;
	t->rl = (struct ratelimit)RATELIMIT_INIT(5000, 10);
}

void vmmio_exit(struct vmmio *t)
{
	pthread_mutex_destroy(&t->lock);
}

static void raise_config_irq(struct vmmio *t)
{
	t->int_status |= VMMIO_INT_CONFIG;
	if (t->raise_irq)
		t->raise_irq(t->irq_opaque, t->gsi);
}

void vmmio_needs_reset(struct vmmio *t, const char *why)
{
	if (!(t->status & VMMIO_S_NEEDS_RESET))
		log_warnx_rl(&t->rl, "%s: device needs reset: %s", t->name, why);
	t->status |= VMMIO_S_NEEDS_RESET;
	/* virtio 1.1 §2.1.2: with DRIVER_OK set, NEEDS_RESET comes with a config interrupt */
	if (t->status & VMMIO_S_DRIVER_OK)
		raise_config_irq(t);
}

void vmmio_set_backend(struct vmmio *t, uint32_t device_id, uint64_t features, unsigned nqueues)
{
	bool live = t->status & VMMIO_S_FEATURES_OK;

	features &= VMMIO_FEATURES_MASK;
	if (nqueues > VMMIO_MAX_QUEUES)
		nqueues = VMMIO_MAX_QUEUES;
	if (live && (t->driver_features & ~features))
		vmmio_needs_reset(t, "the new backend lacks features the driver accepted");
	else if (live && device_id != t->device_id)
		vmmio_needs_reset(t, "the new backend is a different device");
	for (unsigned i = nqueues; live && i < t->nqueues; i++)
		if (t->q[i].ready)
			vmmio_needs_reset(t, "the new backend has fewer queues");
	t->device_id = device_id;
	t->device_features = features;
	t->nqueues = nqueues;
}

void vmmio_set_config(struct vmmio *t, const uint8_t *buf, uint32_t len)
{
	if (len > VMMIO_CONFIG_MAX)
		len = VMMIO_CONFIG_MAX;
	if (len == t->config_len && !memcmp(buf, t->config, len))
		return;
	memset(t->config, 0, sizeof(t->config));
	memcpy(t->config, buf, len);
	t->config_len = len;
	t->config_generation++;
	/* a driver that has not looked yet reads the new copy anyway; only a live one is told */
	if (t->status & VMMIO_S_DRIVER_OK)
		raise_config_irq(t);
}

int vmmio_refresh_config(struct vmmio *t, uint32_t len)
{
	uint8_t buf[VMMIO_CONFIG_MAX] = { 0 };
	int r;

	if (len > VMMIO_CONFIG_MAX)
		len = VMMIO_CONFIG_MAX;
	r = t->ops->get_config ? t->ops->get_config(t, buf, len) : -ENOTSUP;
	if (r)
		return r;
	vmmio_set_config(t, buf, len);
	return 0;
}

/* ---- queues ---- */

static bool is_pow2(uint32_t n)
{
	return n && !(n & (n - 1));
}

static bool ring_ok(const struct vmmio *t, uint64_t gpa, uint64_t len, uint64_t align)
{
	return (gpa & (align - 1)) == 0 && t->mem && guest_ptr(t->mem, gpa, len) != NULL;
}

/* Everything the driver set up for queue i, checked before any backend sees it. */
static const char *queue_problem(const struct vmmio *t, unsigned i)
{
	const struct vmmio_queue *q = &t->q[i];
	uint64_t n = q->num;

	if (!is_pow2(q->num) || q->num > t->queue_num_max)
		return "queue size is zero, not a power of two or above QueueNumMax";
	/* sizes include the EVENT_IDX words so either negotiation result fits */
	if (!ring_ok(t, q->desc, 16 * n, 16))
		return "descriptor table outside guest RAM or misaligned";
	if (!ring_ok(t, q->avail, 6 + 2 * n, 2))
		return "available ring outside guest RAM or misaligned";
	if (!ring_ok(t, q->used, 6 + 8 * n, 4))
		return "used ring outside guest RAM or misaligned";
	return NULL;
}

static int check_queues(struct vmmio *t)
{
	char why[128];

	for (unsigned i = 0; i < t->nqueues; i++) {
		const char *p;

		if (!t->q[i].ready)
			continue;
		p = queue_problem(t, i);
		if (p) {
			snprintf(why, sizeof(why), "queue %u: %s", i, p);
			vmmio_needs_reset(t, why);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- status machine ---- */

static void do_reset(struct vmmio *t)
{
	if (t->started && t->ops->reset)
		t->ops->reset(t);
	t->started = false;
	t->status = 0;
	t->dev_feat_sel = t->drv_feat_sel = t->queue_sel = 0;
	t->driver_features = 0;
	t->int_status = 0;
	memset(t->q, 0, sizeof(t->q));
}

static bool features_ok(const struct vmmio *t)
{
	return t->device_id && !(t->driver_features & ~t->device_features) &&
	       (t->driver_features & (1ULL << VMMIO_F_VERSION_1));
}

static void driver_ok(struct vmmio *t)
{
	int r;

	if (check_queues(t))
		return;
	r = t->ops->start ? t->ops->start(t) : -ENOTSUP;
	if (r) {
		char why[96];

		snprintf(why, sizeof(why), "the backend did not start: %s", strerror(-r));
		vmmio_needs_reset(t, why);
		return;
	}
	t->started = true;
}

static void set_status(struct vmmio *t, uint32_t v)
{
	uint32_t keep = t->status & VMMIO_S_NEEDS_RESET, added;

	if (v == 0) {
		do_reset(t);
		return;
	}
	v &= 0xff & ~VMMIO_S_NEEDS_RESET;     /* NEEDS_RESET is the device's to set */
	if ((t->status & ~VMMIO_S_NEEDS_RESET) & ~v) {
		log_warnx_rl(&t->rl, "%s: driver cleared status bits (0x%x -> 0x%x); ignored",
			     t->name, t->status, v);
		return;
	}
	added = v & ~t->status;
	if ((added & VMMIO_S_FEATURES_OK) && !features_ok(t)) {
		log_warnx_rl(&t->rl, "%s: driver features 0x%" PRIx64 " refused (offered 0x%" PRIx64
			     ")", t->name, t->driver_features, t->device_features);
		v &= ~VMMIO_S_FEATURES_OK;
		added &= ~VMMIO_S_FEATURES_OK;
	}
	if ((added & VMMIO_S_DRIVER_OK) && (!(v & VMMIO_S_FEATURES_OK) || keep)) {
		log_warnx_rl(&t->rl, "%s: DRIVER_OK without FEATURES_OK or after a failure; ignored",
			     t->name);
		v &= ~VMMIO_S_DRIVER_OK;
		added &= ~VMMIO_S_DRIVER_OK;
	}
	t->status = v | keep;
	if (added & VMMIO_S_DRIVER_OK)
		driver_ok(t);
}

/* ---- registers ---- */

static uint32_t read_reg(struct vmmio *t, uint64_t off)
{
	const struct vmmio_queue *q = t->queue_sel < t->nqueues ? &t->q[t->queue_sel] : NULL;

	switch (off) {
	case VMMIO_MAGIC_VALUE:      return VMMIO_MAGIC;
	case VMMIO_VERSION:          return VMMIO_VERSION_2;
	case VMMIO_DEVICE_ID:        return t->device_id;
	case VMMIO_VENDOR_ID:        return VMMIO_VENDOR;
	case VMMIO_DEVICE_FEATURES:
		return t->dev_feat_sel < 2 ? (uint32_t)(t->device_features >> (32 * t->dev_feat_sel)) : 0;
	case VMMIO_QUEUE_NUM_MAX:    return q ? t->queue_num_max : 0;
	case VMMIO_QUEUE_NUM:        return q ? q->num : 0;
	case VMMIO_QUEUE_READY:      return q ? q->ready : 0;
	case VMMIO_INTERRUPT_STATUS:
		/* the worker's irqfd cannot latch a bit here; say "rings" so the driver scans them */
		return t->int_status |
		       (t->worker_backed && (t->status & VMMIO_S_DRIVER_OK) ? VMMIO_INT_VRING : 0);
	case VMMIO_STATUS:           return t->status;
	case VMMIO_CONFIG_GENERATION: return t->config_generation;
	case VMMIO_SHM_LEN_LOW:
	case VMMIO_SHM_LEN_HIGH:
	case VMMIO_SHM_BASE_LOW:
	case VMMIO_SHM_BASE_HIGH:
		/* no region has the selected id: its length reads as -1 (virtio 1.2 4.2.2), which
		 * tells virtio-fs there is no DAX window (0 would be a region at 0 of length 0) */
		return 0xffffffffu;
	default:
		log_warnx_rl(&t->rl, "%s: read of unknown register 0x%" PRIx64, t->name, off);
		return 0;
	}
}

static void set_half(uint64_t *v, uint32_t sel, uint32_t val)
{
	uint64_t mask = 0xffffffffULL << (32 * sel);

	*v = (*v & ~mask) | ((uint64_t)val << (32 * sel));
}

static void write_features(struct vmmio *t, uint32_t val)
{
	if (t->status & (VMMIO_S_FEATURES_OK | VMMIO_S_DRIVER_OK) || t->drv_feat_sel > 1) {
		log_warnx_rl(&t->rl, "%s: DriverFeatures write after FEATURES_OK or with selector %u;"
			     " ignored", t->name, t->drv_feat_sel);
		return;
	}
	set_half(&t->driver_features, t->drv_feat_sel, val);
}

static void write_queue(struct vmmio *t, uint64_t off, uint32_t val)
{
	struct vmmio_queue *q;

	if (t->queue_sel >= t->nqueues || (t->status & (VMMIO_S_DRIVER_OK | VMMIO_S_NEEDS_RESET))) {
		log_warnx_rl(&t->rl, "%s: queue %u register 0x%" PRIx64 " written %s; ignored",
			     t->name, t->queue_sel, off,
			     t->queue_sel >= t->nqueues ? "for a queue that does not exist" :
			     "after DRIVER_OK");
		return;
	}
	q = &t->q[t->queue_sel];
	switch (off) {
	case VMMIO_QUEUE_NUM:        q->num = val; break;
	case VMMIO_QUEUE_READY:      q->ready = val & 1; break;
	case VMMIO_QUEUE_DESC_LOW:   set_half(&q->desc, 0, val); break;
	case VMMIO_QUEUE_DESC_HIGH:  set_half(&q->desc, 1, val); break;
	case VMMIO_QUEUE_AVAIL_LOW:  set_half(&q->avail, 0, val); break;
	case VMMIO_QUEUE_AVAIL_HIGH: set_half(&q->avail, 1, val); break;
	case VMMIO_QUEUE_USED_LOW:   set_half(&q->used, 0, val); break;
	case VMMIO_QUEUE_USED_HIGH:  set_half(&q->used, 1, val); break;
	}
}

static void write_reg(struct vmmio *t, uint64_t off, uint32_t val)
{
	switch (off) {
	case VMMIO_DEVICE_FEATURES_SEL: t->dev_feat_sel = val; break;
	case VMMIO_DRIVER_FEATURES_SEL: t->drv_feat_sel = val; break;
	case VMMIO_DRIVER_FEATURES:     write_features(t, val); break;
	case VMMIO_QUEUE_SEL:           t->queue_sel = val; break;
	case VMMIO_SHM_SEL:             break;     /* every id reads as absent */
	case VMMIO_QUEUE_NUM:
	case VMMIO_QUEUE_READY:
	case VMMIO_QUEUE_DESC_LOW:
	case VMMIO_QUEUE_DESC_HIGH:
	case VMMIO_QUEUE_AVAIL_LOW:
	case VMMIO_QUEUE_AVAIL_HIGH:
	case VMMIO_QUEUE_USED_LOW:
	case VMMIO_QUEUE_USED_HIGH:     write_queue(t, off, val); break;
	case VMMIO_QUEUE_NOTIFY:
		/* the ioeventfd takes valid kicks while a backend runs; one that lands here
		 * anyway (a write of another width, or before the backend runs) goes on to it */
		if (val >= t->nqueues)
			log_warnx_rl(&t->rl, "%s: notify for queue %u of %u", t->name, val, t->nqueues);
		else if (t->ops->notify)
			t->ops->notify(t, val);
		break;
	case VMMIO_INTERRUPT_ACK:       t->int_status &= ~(val & VMMIO_INT_CONFIG); break;
	case VMMIO_STATUS:              set_status(t, val); break;
	default:
		log_warnx_rl(&t->rl, "%s: write of 0x%x to read-only or unknown register 0x%" PRIx64,
			     t->name, val, off);
	}
}

static void read_config(struct vmmio *t, uint64_t off, uint8_t *data, unsigned len)
{
	memset(data, 0, len);
	if (len != 1 && len != 2 && len != 4 && len != 8) {
		log_warnx_rl(&t->rl, "%s: config read of width %u", t->name, len);
		return;
	}
	if (range_within(off, len, 0, t->config_len))
		memcpy(data, t->config + off, len);
}

void vmmio_read(struct vmmio *t, uint64_t offset, void *data, unsigned len)
{
	vmmio_lock(t);
	t->accesses++;
	if (offset >= VMMIO_CONFIG) {
		read_config(t, offset - VMMIO_CONFIG, data, len);
	} else if (len != 4 || (offset & 3)) {
		log_warnx_rl(&t->rl, "%s: read of width %u at 0x%" PRIx64 "; only 32-bit accesses"
			     " are defined", t->name, len, offset);
		memset(data, 0, len);
	} else {
		le_put32(data, read_reg(t, offset));
	}
	vmmio_unlock(t);
}

void vmmio_write(struct vmmio *t, uint64_t offset, const void *data, unsigned len)
{
	vmmio_lock(t);
	t->accesses++;
	if (offset >= VMMIO_CONFIG)
		/* virtio-blk has nothing writable without CONFIG_WCE, which is not offered */
		log_warnx_rl(&t->rl, "%s: config space write at 0x%" PRIx64 " ignored", t->name,
			     offset);
	else if (len != 4 || (offset & 3))
		log_warnx_rl(&t->rl, "%s: write of width %u at 0x%" PRIx64 " ignored", t->name,
			     len, offset);
	else
		write_reg(t, offset, le_get32(data));
	vmmio_unlock(t);
}

static void bus_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	vmmio_read(opaque, offset, data, len);
}

static void bus_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	vmmio_write(opaque, offset, data, len);
}

const struct bus_dev_ops vmmio_bus_ops = { .read = bus_read, .write = bus_write };
