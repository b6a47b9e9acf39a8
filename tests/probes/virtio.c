/* Minimal virtio-mmio v2 driver for the ring-3 probes (see virtio.h): slot discovery, device
 * bring-up and synchronous requests on one split queue, polled. Nothing here trusts the
 * device: table scans are bounded, used elements are checked against the chain we posted and
 * every wait has a deadline. */
#include "probe.h"
#include "virtio.h"

/* Rings of the one queue: descriptors at 0, avail at 2 KiB, used at 4 KiB (virtio 1.x only
 * needs 16/2/4-byte alignment; page-aligning keeps the layout legacy-compatible anyway). */
#define RING_AVAIL_OFF 2048
#define RING_USED_OFF  4096
static uint8_t ring_mem[8192] __attribute__((aligned(4096)));

#define CONFIG_GEN_TRIES 100

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* ---- discovery ---- */

/* The resources of one LNRO0005 device live in its _CRS buffer, between its _HID string and
 * the next device's. Memory32Fixed is 0x86 0x09 0x00 RW base32 len32; Extended Interrupt is
 * 0x89 len16 flags count irq32[count]. */
static bool crs_scan(const uint8_t *t, uint32_t from, uint32_t end, struct vio_slot *s)
{
	bool mem = false;

	s->irq = 0;
	for (uint32_t p = from; p + 3 <= end; p++) {
		if (!mem && t[p] == 0x86 && t[p + 1] == 0x09 && t[p + 2] == 0 && p + 12 <= end) {
			s->base = get32(t + p + 4);
			s->size = get32(t + p + 8);
			mem = true;
		} else if (t[p] == 0x89 && get16(t + p + 1) >= 6 && p + 9 <= end && t[p + 4] >= 1) {
			s->irq = get32(t + p + 5);
		}
	}
	return mem;
}

static bool is_lnro(const uint8_t *t, uint32_t off, uint32_t len)
{
	/* StringPrefix 0x0d, "LNRO0005", NUL */
	return off + 10 <= len && t[off] == 0x0d && !memcmp(t + off + 1, "LNRO0005", 9);
}

unsigned virtio_find_slots_dsdt(uint64_t dsdt, struct vio_slot *out, unsigned max)
{
	const uint8_t *t = phys(dsdt);
	uint32_t len = get32(t + 4), off = 36, end;
	unsigned n = 0;

	while (off < len && n < max) {
		if (!is_lnro(t, off, len)) {
			off++;
			continue;
		}
		for (end = off + 10; end < len && !is_lnro(t, end, len); end++)
			;
		if (crs_scan(t, off + 10, end, &out[n]))
			n++;
		off = end;
	}
	return n;
}

/* "<size>@<base>:<irq>" as Linux's virtio_mmio.device= takes it (size may carry K/M/G) */
static bool parse_cmdline_slot(const char *v, size_t len, struct vio_slot *s)
{
	size_t i = probe_parse_u64(v, len, &s->size), k;
	uint64_t irq;

	if (!i || i >= len || v[i++] != '@')
		return false;
	k = probe_parse_u64(v + i, len - i, &s->base);
	if (!k || (i += k) >= len || v[i++] != ':')
		return false;
	k = probe_parse_u64(v + i, len - i, &irq);
	if (!k || i + k != len || irq > 255)
		return false;
	s->irq = (unsigned)irq;
	return true;
}

unsigned virtio_find_slots_cmdline(struct vio_slot *out, unsigned max)
{
	unsigned n = 0;
	const char *v;
	size_t len;

	for (unsigned i = 0; n < max && (v = probe_arg_nth("virtio_mmio.device", i, &len)); i++)
		if (parse_cmdline_slot(v, len, &out[n]))
			n++;
	return n;
}

/* ---- bring-up ---- */

static uint32_t rd(struct vio_dev *d, unsigned off)
{
	return vmmio_read(d->base, off);
}

static void wr(struct vio_dev *d, unsigned off, uint32_t v)
{
	vmmio_write(d->base, off, v);
}

static void wr64(struct vio_dev *d, unsigned off, const volatile void *p)
{
	uint64_t pa = (uint64_t)(uintptr_t)p;

	wr(d, off, (uint32_t)pa);
	wr(d, off + 4, (uint32_t)(pa >> 32));
}

static int init_fail(struct vio_dev *d, const char *what, const char *why, uint64_t val)
{
	wr(d, VMMIO_STATUS, rd(d, VMMIO_STATUS) | VSTAT_FAILED);
	check_fail(what, "slot 0x%lx: %s (0x%lx)", d->base, why, val);
	return VIO_EDEV;
}

static int identify(struct vio_dev *d, uint32_t want_id, const char *what)
{
	uint32_t magic = rd(d, VMMIO_MAGIC), ver = rd(d, VMMIO_VERSION);

	d->device_id = rd(d, VMMIO_DEVICE_ID);
	if (magic != VMMIO_MAGIC_VALUE) {
		check_fail(what, "slot 0x%lx: MagicValue 0x%x", d->base, magic);
		return VIO_EDEV;
	}
	if (ver != 2) {
		check_fail(what, "slot 0x%lx: Version %u, want 2 (virtio 1.x)", d->base, ver);
		return VIO_EDEV;
	}
	if (d->device_id != want_id) {
		check_fail(what, "slot 0x%lx: DeviceID %u, want %u", d->base, d->device_id, want_id);
		return VIO_EDEV;
	}
	return 0;
}

static int negotiate(struct vio_dev *d, uint64_t want, const char *what)
{
	uint32_t st;

	wr(d, VMMIO_DEV_FEAT_SEL, 0);
	d->dev_features = rd(d, VMMIO_DEV_FEATURES);
	wr(d, VMMIO_DEV_FEAT_SEL, 1);
	d->dev_features |= (uint64_t)rd(d, VMMIO_DEV_FEATURES) << 32;
	if (!(d->dev_features & (1ULL << VIRTIO_F_VERSION_1)))
		return init_fail(d, what, "VIRTIO_F_VERSION_1 not offered", d->dev_features);
	d->features = d->dev_features & (want | 1ULL << VIRTIO_F_VERSION_1);
	wr(d, VMMIO_DRV_FEAT_SEL, 0);
	wr(d, VMMIO_DRV_FEATURES, (uint32_t)d->features);
	wr(d, VMMIO_DRV_FEAT_SEL, 1);
	wr(d, VMMIO_DRV_FEATURES, (uint32_t)(d->features >> 32));
	wr(d, VMMIO_STATUS, VSTAT_ACK | VSTAT_DRIVER | VSTAT_FEATURES_OK);
	st = rd(d, VMMIO_STATUS);
	if (!(st & VSTAT_FEATURES_OK))
		return init_fail(d, what, "FEATURES_OK did not stick", st);
	return 0;
}

static int queue_setup(struct vio_dev *d, const char *what)
{
	uint32_t max, n = VIO_QUEUE_MAX;

	wr(d, VMMIO_QUEUE_SEL, 0);
	if (rd(d, VMMIO_QUEUE_READY))
		return init_fail(d, what, "QueueReady is set after reset", 1);
	max = rd(d, VMMIO_QUEUE_NUM_MAX);
	while (n > max)
		n >>= 1;   /* split rings want a power of two */
	if (n < VIO_CHAIN_MAX)
		return init_fail(d, what, "QueueNumMax too small", max);
	memset(ring_mem, 0, sizeof(ring_mem));
	d->qsize = (uint16_t)n;
	d->desc = (struct vring_desc_s *)ring_mem;
	d->avail = (volatile uint16_t *)(ring_mem + RING_AVAIL_OFF);
	d->used = (volatile uint16_t *)(ring_mem + RING_USED_OFF);
	/* we poll used->idx; an interrupt would only reach a masked IOAPIC pin */
	d->avail[0] = VQ_AVAIL_F_NO_INTERRUPT;
	wr(d, VMMIO_QUEUE_NUM, n);
	wr64(d, VMMIO_QUEUE_DESC, d->desc);
	wr64(d, VMMIO_QUEUE_DRIVER, d->avail);
	wr64(d, VMMIO_QUEUE_DEVICE, d->used);
	wr(d, VMMIO_QUEUE_READY, 1);
	if (rd(d, VMMIO_QUEUE_READY) != 1)
		return init_fail(d, what, "QueueReady did not stick", 0);
	return 0;
}

int virtio_init(struct vio_dev *d, uint64_t base, uint32_t want_id, uint64_t want_features,
		const char *what)
{
	uint32_t st;
	int err;

	memset(d, 0, sizeof(*d));
	d->base = base;
	err = identify(d, want_id, what);
	if (err)
		return err;
	wr(d, VMMIO_STATUS, 0);
	st = rd(d, VMMIO_STATUS);
	if (st)
		return init_fail(d, what, "Status not 0 after reset", st);
	wr(d, VMMIO_STATUS, VSTAT_ACK);
	wr(d, VMMIO_STATUS, VSTAT_ACK | VSTAT_DRIVER);
	err = negotiate(d, want_features, what);
	if (!err)
		err = queue_setup(d, what);
	if (err)
		return err;
	wr(d, VMMIO_STATUS, VSTAT_ACK | VSTAT_DRIVER | VSTAT_FEATURES_OK | VSTAT_DRIVER_OK);
	st = rd(d, VMMIO_STATUS);
	if ((st & (VSTAT_NEEDS_RESET | VSTAT_FAILED)) || !(st & VSTAT_DRIVER_OK))
		return init_fail(d, what, "bad Status after DRIVER_OK", st);
	return 0;
}

void virtio_config_read(struct vio_dev *d, unsigned off, void *dst, unsigned n)
{
	uint8_t *out = dst;
	uint32_t gen, w;

	for (int tries = 0; tries < CONFIG_GEN_TRIES; tries++) {
		gen = rd(d, VMMIO_CONFIG_GEN);
		for (unsigned i = 0; i + 4 <= n; i += 4) {
			w = rd(d, VMMIO_CONFIG + off + i);
			memcpy(out + i, &w, 4);
		}
		if (rd(d, VMMIO_CONFIG_GEN) == gen)
			return;
	}
}

uint32_t virtio_status(struct vio_dev *d)
{
	return rd(d, VMMIO_STATUS);
}

/* ---- requests ---- */

static uint16_t post_chain(struct vio_dev *d, const struct vio_buf *b, unsigned n)
{
	uint16_t head = d->next_desc, idx = head;

	for (unsigned i = 0; i < n; i++) {
		struct vring_desc_s *e = &d->desc[idx];

		e->addr = (uint64_t)(uintptr_t)b[i].addr;
		e->len = b[i].len;
		e->next = (uint16_t)((idx + 1) % d->qsize);
		e->flags = (uint16_t)((b[i].device_writes ? VQ_DESC_F_WRITE : 0) |
				      (i + 1 < n ? VQ_DESC_F_NEXT : 0));
		idx = e->next;
	}
	/* chains rotate through the table so the device sees wrapping next indices */
	d->next_desc = idx;
	d->avail[2 + d->avail_idx % d->qsize] = head;
	/* the ring entry and descriptors before the index that publishes them (x86 keeps
	 * store order; the compiler must too) */
	__asm__ volatile("" ::: "memory");
	d->avail[1] = ++d->avail_idx;
	/* the device may be reading avail->idx right now from another host thread; make the
	 * index globally visible before the doorbell */
	__asm__ volatile("mfence" ::: "memory");
	return head;
}

static int wait_used(struct vio_dev *d, uint64_t max_cycles)
{
	uint64_t t0 = rdtsc();

	while (d->used[1] == d->used_seen) {
		if (rdtsc() - t0 > max_cycles) {
			d->broken = true;
			return VIO_ETIMEDOUT;
		}
		cpu_relax();
	}
	/* load of used->idx before the element it covers */
	__asm__ volatile("" ::: "memory");
	return 0;
}

int virtio_request(struct vio_dev *d, const struct vio_buf *b, unsigned n, uint32_t *used_len,
		   uint64_t max_cycles)
{
	const volatile struct vring_used_elem_s *elems;
	uint16_t head, slot;
	int err;

	if (d->broken)
		return VIO_EBROKEN;
	if (!n || n > VIO_CHAIN_MAX || n > d->qsize)
		return VIO_EDEV;
	head = post_chain(d, b, n);
	vmmio_write(d->base, VMMIO_QUEUE_NOTIFY, 0);
	err = wait_used(d, max_cycles);
	if (err)
		return err;
	elems = (const volatile struct vring_used_elem_s *)((uintptr_t)d->used + 4);
	slot = d->used_seen++ % d->qsize;
	/* one chain in flight, so exactly one completion naming our head */
	if (d->used[1] != d->used_seen || elems[slot].id != head) {
		d->broken = true;
		return VIO_EPROTO;
	}
	*used_len = elems[slot].len;
	return 0;
}

const char *virtio_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case VIO_ETIMEDOUT:
		return "timed out waiting for used->idx";
	case VIO_EPROTO:
		return "device broke the ring protocol (used id or count)";
	case VIO_EDEV:
		return "device not usable";
	case VIO_EBROKEN:
		return "device abandoned after an earlier timeout";
	default:
		return "unknown error";
	}
}
