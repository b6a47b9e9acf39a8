/* Simulated virtio-mmio virtio-blk device for the host-side driver test (see mock-blk.h).
 * Addresses the driver writes are host pointers (the host test's "guest RAM" is its own
 * memory), so the device dereferences them directly after checking alignment and bounds. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mock-blk.h"
#include "virtio.h"

#define F_VERSION_1  (1ULL << 32)
#define F_RO         (1ULL << 5)
#define BLK_T_IN     0
#define BLK_T_OUT    1
#define BLK_T_FLUSH  4
#define BLK_T_GET_ID 8
#define MAX_BUFS     8

struct mock_blk mock;

static void violate(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void violate(const char *fmt, ...)
{
	va_list ap;

	if (mock.violation[0])
		return;   /* keep the first one: later ones are usually consequences */
	va_start(ap, fmt);
	vsnprintf(mock.violation, sizeof(mock.violation), fmt, ap);
	va_end(ap);
}

void mock_init(uint64_t base, bool ro)
{
	memset(&mock, 0, sizeof(mock));
	mock.base = base;
	mock.magic = VMMIO_MAGIC_VALUE;
	mock.version = 2;
	mock.device_id = 2;
	mock.qmax = 256;
	mock.features = F_VERSION_1 | 1ULL << 9 | 1ULL << 6 | 1ULL << 2 | (ro ? F_RO : 0);
	mock.ro = ro;
	mock.serial = "mockserial";
}

static void reset(void)
{
	mock.status = mock.qnum = mock.qready = 0;
	mock.drv_features = mock.desc = mock.avail = mock.used = 0;
	mock.last_avail = mock.used_idx = 0;
}

uint32_t vmmio_read(uint64_t base, unsigned off)
{
	if (base != mock.base) {
		violate("read 0x%x of slot 0x%lx, the device is at 0x%lx", off, base, mock.base);
		return ~0u;
	}
	switch (off) {
	case VMMIO_MAGIC: return mock.magic;
	case VMMIO_VERSION: return mock.version;
	case VMMIO_DEVICE_ID: return mock.device_id;
	case VMMIO_VENDOR_ID: return 0x554d4551;
	case VMMIO_DEV_FEATURES:
		return mock.dev_sel > 1 ? 0 : (uint32_t)(mock.features >> (32 * mock.dev_sel));
	case VMMIO_QUEUE_NUM_MAX: return mock.qsel == 0 ? mock.qmax : 0;
	case VMMIO_QUEUE_READY: return mock.qsel == 0 ? mock.qready : 0;
	case VMMIO_INT_STATUS: return 0;
	case VMMIO_STATUS: return mock.status;
	case VMMIO_CONFIG_GEN: return 7;
	case VMMIO_CONFIG: return MOCK_SECTORS;
	case VMMIO_CONFIG + 4: return 0;
	case VMMIO_CONFIG + 20: return 512;
	}
	violate("read of register 0x%x", off);
	return 0;
}

static void write_status(uint32_t v)
{
	uint32_t old = mock.status;

	if (v == 0) {
		reset();
		return;
	}
	if ((old & ~v) && !(v & VSTAT_FAILED))
		violate("Status 0x%x -> 0x%x clears bits without a reset", old, v);
	if ((v & VSTAT_DRIVER) && !(v & VSTAT_ACK))
		violate("Status DRIVER without ACKNOWLEDGE (0x%x)", v);
	if ((v & VSTAT_FEATURES_OK) && !(old & VSTAT_FEATURES_OK)) {
		if ((mock.drv_features & ~mock.features) || !(mock.drv_features & F_VERSION_1))
			violate("FEATURES_OK with driver features 0x%lx of 0x%lx",
				mock.drv_features, mock.features);
		if (mock.refuse_features_ok)
			v &= ~(uint32_t)VSTAT_FEATURES_OK;
	}
	if ((v & VSTAT_DRIVER_OK) && (!(v & VSTAT_FEATURES_OK) || !mock.qready))
		violate("DRIVER_OK before FEATURES_OK or a ready queue (0x%x)", v);
	mock.status = v;
}

static void set_addr(uint64_t *a, unsigned off, uint32_t v)
{
	if (mock.qready || mock.qsel)
		violate("queue address 0x%x written with QueueReady set or QueueSel %u", off,
			mock.qsel);
	if (off & 4)
		*a = (*a & 0xffffffffULL) | (uint64_t)v << 32;
	else
		*a = (*a & ~0xffffffffULL) | v;
}

static void process(void);

static void write_queue(unsigned off, uint32_t v)
{
	switch (off) {
	case VMMIO_QUEUE_NUM:
		if (mock.qready || !v || v > mock.qmax || (v & (v - 1)))
			violate("QueueNum %u (max %u, ready %u)", v, mock.qmax, mock.qready);
		mock.qnum = v;
		return;
	case VMMIO_QUEUE_READY:
		if (v && (!mock.qnum || !mock.desc || !mock.avail || !mock.used ||
			  (mock.desc & 15) || (mock.avail & 1) || (mock.used & 3)))
			violate("QueueReady with num %u desc 0x%lx avail 0x%lx used 0x%lx",
				mock.qnum, mock.desc, mock.avail, mock.used);
		mock.qready = v;
		return;
	case VMMIO_QUEUE_NOTIFY:
		mock.nnotify++;
		if (v != 0 || !(mock.status & VSTAT_DRIVER_OK))
			violate("QueueNotify %u with Status 0x%x", v, mock.status);
		else
			process();
		return;
	}
	set_addr(off < VMMIO_QUEUE_DRIVER ? &mock.desc : off < VMMIO_QUEUE_DEVICE ?
		 &mock.avail : &mock.used, off, v);
}

void vmmio_write(uint64_t base, unsigned off, uint32_t v)
{
	if (base != mock.base) {
		violate("write 0x%x of slot 0x%lx, the device is at 0x%lx", off, base, mock.base);
		return;
	}
	switch (off) {
	case VMMIO_STATUS: write_status(v); return;
	case VMMIO_DEV_FEAT_SEL: mock.dev_sel = v; return;
	case VMMIO_DRV_FEAT_SEL: mock.drv_sel = v; return;
	case VMMIO_DRV_FEATURES:
		if (!(mock.status & VSTAT_DRIVER) || (mock.status & VSTAT_FEATURES_OK))
			violate("DriverFeatures written in Status 0x%x", mock.status);
		if (mock.drv_sel < 2)
			mock.drv_features = (mock.drv_features & ~(0xffffffffULL << 32 * mock.drv_sel)) |
					    (uint64_t)v << 32 * mock.drv_sel;
		return;
	case VMMIO_QUEUE_SEL: mock.qsel = v; return;
	case VMMIO_INT_ACK: return;
	case VMMIO_QUEUE_NUM: case VMMIO_QUEUE_READY: case VMMIO_QUEUE_NOTIFY:
	case VMMIO_QUEUE_DESC: case VMMIO_QUEUE_DESC + 4:
	case VMMIO_QUEUE_DRIVER: case VMMIO_QUEUE_DRIVER + 4:
	case VMMIO_QUEUE_DEVICE: case VMMIO_QUEUE_DEVICE + 4:
		write_queue(off, v);
		return;
	}
	violate("write of register 0x%x = 0x%x", off, v);
}

/* ---- the queue ---- */

struct chain {
	uint16_t head;
	unsigned n;
	uint8_t *p[MAX_BUFS];
	uint32_t len[MAX_BUFS];
	bool w[MAX_BUFS];
};

static bool walk(uint16_t head, struct chain *c)
{
	const struct vring_desc_s *d = (const struct vring_desc_s *)(uintptr_t)mock.desc;
	uint16_t i = head;

	c->head = head;
	c->n = 0;
	for (;;) {
		if (i >= mock.qnum || c->n >= MAX_BUFS) {
			violate("descriptor %u out of range or chain too long", i);
			return false;
		}
		if (c->n && c->w[c->n - 1] && !(d[i].flags & VQ_DESC_F_WRITE)) {
			violate("readable descriptor after a writable one");
			return false;
		}
		if (i < c->head && c->n)
			mock.nwrap++;
		c->p[c->n] = (uint8_t *)(uintptr_t)d[i].addr;
		c->len[c->n] = d[i].len;
		c->w[c->n++] = d[i].flags & VQ_DESC_F_WRITE;
		if (!(d[i].flags & VQ_DESC_F_NEXT))
			return true;
		i = d[i].next;
	}
}

static uint8_t rw(bool out, uint64_t sector, uint8_t *p, uint32_t len)
{
	if (len % 512 || sector > MOCK_SECTORS || len / 512 > MOCK_SECTORS - sector) {
		if (mock.fault == MOCK_PAST_END_OK && !out)
			return 0;
		return 1;
	}
	if (out && mock.ro)
		return 1;
	if (out && mock.fault != MOCK_WRITE_DROPPED)
		memcpy(mock.disk + sector * 512, p, len);
	if (!out) {
		memcpy(p, mock.disk + sector * 512, len);
		if (mock.fault == MOCK_CORRUPT_BLOCK5 && sector == 40 && len == 4096)
			p[100] ^= 0xff;
	}
	return 0;
}

/* Execute one request; returns the bytes written into the chain. */
static uint32_t execute(struct chain *c)
{
	uint32_t type, dlen = c->n == 3 ? c->len[1] : 0;
	uint64_t sector;
	uint8_t *st = c->p[c->n - 1];

	if (c->n < 2 || c->n > 3 || c->w[0] || c->len[0] != 16 || !c->w[c->n - 1] ||
	    c->len[c->n - 1] != 1) {
		violate("request chain of %u buffers does not look like hdr [data] status", c->n);
		return 0;
	}
	memcpy(&type, c->p[0], 4);
	memcpy(&sector, c->p[0] + 8, 8);
	mock.nreq++;
	if (type == BLK_T_IN && c->n == 3 && c->w[1])
		*st = rw(false, sector, c->p[1], dlen);
	else if (type == BLK_T_OUT && c->n == 3 && !c->w[1])
		*st = rw(true, sector, c->p[1], dlen);
	else if (type == BLK_T_FLUSH && c->n == 2)
		*st = 0;
	else if (type == BLK_T_GET_ID && c->n == 3 && c->w[1] && dlen >= 20)
		*st = (strncpy((char *)c->p[1], mock.serial, 20), 0);
	else
		*st = 2;
	return 1 + (c->n == 3 && c->w[1] && *st == 0 ? dlen : 0);
}

static void process(void)
{
	volatile uint16_t *avail = (volatile uint16_t *)(uintptr_t)mock.avail;
	volatile uint16_t *used = (volatile uint16_t *)(uintptr_t)mock.used;
	volatile struct vring_used_elem_s *elems =
		(volatile struct vring_used_elem_s *)(uintptr_t)(mock.used + 4);
	struct chain c;

	if (mock.fault == MOCK_SILENT)
		return;
	while (mock.last_avail != avail[1]) {
		uint16_t head = avail[2 + mock.last_avail++ % mock.qnum];
		uint32_t len;

		if (!walk(head, &c))
			return;
		len = execute(&c);
		elems[mock.used_idx % mock.qnum].id = head + (mock.fault == MOCK_BAD_ID);
		elems[mock.used_idx % mock.qnum].len = len + (mock.fault == MOCK_USED_LEN_HUGE) * 4096;
		used[1] = ++mock.used_idx;
	}
}
