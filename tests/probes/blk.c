/* probe=blk: drive a virtio-blk disk on a virtio-mmio slot from ring 3 and check what a disk
 * must do. Words of the command line:
 *   blk.slot=I       which discovered slot (default 0; disks take slots in command-line order)
 *   blk.expect=HH    every byte of sector 0 holds 0xHH
 *   blk.write=HH     write sector 1 full of 0xHH, read it back (the host checks the image too)
 *   blk.serial=S     GET_ID must answer S
 *   blk.sectors=N    the capacity must be N sectors
 *   blk.ro=1         the disk is read-only: VIRTIO_BLK_F_RO offered, a write answers IOERR
 *   blk.fill=1       4 KiB block k >= 1 of the image is filled with byte k & 0xff
 *   blk.loop=N       N sequential 4 KiB reads (with blk.fill=1 each one's data is checked)
 * A read one sector past the capacity must answer IOERR. */
#include "probe.h"
#include "virtio.h"

#define VIRTIO_ID_BLOCK        2
#define VIRTIO_BLK_F_SEG_MAX   2
#define VIRTIO_BLK_F_RO        5
#define VIRTIO_BLK_F_BLK_SIZE  6
#define VIRTIO_BLK_F_FLUSH     9
#define VIRTIO_BLK_T_IN        0
#define VIRTIO_BLK_T_OUT       1
#define VIRTIO_BLK_T_FLUSH     4
#define VIRTIO_BLK_T_GET_ID    8
#define VIRTIO_BLK_S_OK        0
#define VIRTIO_BLK_S_IOERR     1
#define VIRTIO_BLK_S_UNSUPP    2
#define VIRTIO_BLK_ID_BYTES    20
#define SECTOR                 512
#define BLOCK                  4096
#define STATUS_UNSET           0xff

/* ~3-15 s at 1-5 GHz: generous for a worker that attaches lazily, still no hang. The host-side
 * test of this driver shortens it for its devices that never answer. */
#ifdef PROBE_REQ_CYCLES
#define REQ_CYCLES             PROBE_REQ_CYCLES
#else
#define REQ_CYCLES             15000000000ULL
#endif

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static struct blk_hdr hdr __attribute__((aligned(16)));
static uint8_t data[BLOCK] __attribute__((aligned(4096)));
static volatile uint8_t status;
static struct vio_dev dev;

/* One request: header, optional data buffer, status byte. Returns the virtio-blk status, or a
 * negative VIO_* error after having reported it as a failure of check `what`. */
static int blk_req(const char *what, uint32_t type, uint64_t sector, uint32_t len,
		   bool dev_writes)
{
	struct vio_buf b[3];
	uint32_t used = 0, writable = 1;
	unsigned n = 0;
	int err;

	hdr = (struct blk_hdr){ .type = type, .sector = sector };
	status = STATUS_UNSET;
	b[n++] = (struct vio_buf){ &hdr, sizeof(hdr), false };
	if (len) {
		b[n++] = (struct vio_buf){ data, len, dev_writes };
		writable += dev_writes ? len : 0;
	}
	b[n++] = (struct vio_buf){ (void *)(uintptr_t)&status, 1, true };
	err = virtio_request(&dev, b, n, &used, REQ_CYCLES);
	if (err) {
		check_fail(what, "request type %u sector %lu: %s (Status 0x%x)", type, sector,
			   virtio_strerror(err), err == VIO_ETIMEDOUT ? virtio_status(&dev) : 0);
		return err;
	}
	if (used > writable) {
		check_fail(what, "used len %u exceeds the %u writable bytes", used, writable);
		return VIO_EPROTO;
	}
	return status;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v, size_t *bad)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v) {
			*bad = i;
			return false;
		}
	return true;
}

/* "a5" or "0xa5" */
static bool arg_byte(const char *key, uint8_t *out)
{
	size_t len, i = 0;
	const char *v = probe_arg(key, &len);
	uint64_t n = 0;

	if (!v)
		return false;
	if (len > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
		i = 2;
	if (len == i || len - i > 2)
		return false;
	for (; i < len; i++) {
		char c = v[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (d < 0)
			return false;
		n = n * 16 + (uint64_t)d;
	}
	*out = (uint8_t)n;
	return true;
}

static bool find_slot(const uint8_t *bp, struct vio_slot *slot)
{
	struct vio_slot s[VIO_MAX_SLOTS];
	uint64_t dsdt = acpi_dsdt_addr(bp), want = 0;
	unsigned n;

	n = dsdt ? virtio_find_slots_dsdt(dsdt, s, VIO_MAX_SLOTS) :
		   virtio_find_slots_cmdline(s, VIO_MAX_SLOTS);
	for (unsigned i = 0; i < n; i++)
		pr("PROBE INFO virtio-mmio slot %u: 0x%lx size 0x%lx irq %u\n", i, s[i].base,
		   s[i].size, s[i].irq);
	probe_arg_u64("blk.slot", &want);
	if (want >= n) {
		check_fail("virtio-discover", "%s: %u slots, blk.slot=%lu wanted",
			   dsdt ? "acpi" : "cmdline", n, want);
		return false;
	}
	check_ok("virtio-discover", "%s slots=%u", dsdt ? "acpi" : "cmdline", n);
	*slot = s[want];
	return true;
}

static bool blk_setup(uint64_t base, uint64_t *sectors)
{
	uint64_t want = 1ULL << VIRTIO_BLK_F_RO | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
			1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_BLK_F_SEG_MAX, expect;

	if (virtio_init(&dev, base, VIRTIO_ID_BLOCK, want, "blk-init"))
		return false;
	check_ok("blk-init", "slot 0x%lx features 0x%lx of 0x%lx queue %u", base,
		 dev.features, dev.dev_features, dev.qsize);
	virtio_config_read(&dev, 0, sectors, 8);
	if (probe_arg_u64("blk.sectors", &expect) && expect != *sectors) {
		check_fail("blk-capacity", "%lu sectors, expected %lu", *sectors, expect);
		return false;
	}
	check_ok("blk-capacity", "sectors=%lu", *sectors);
	return true;
}

static void check_read0(void)
{
	uint8_t pat;
	size_t bad;
	int st;

	if (!arg_byte("blk.expect", &pat))
		return;
	memset(data, ~pat, SECTOR);
	st = blk_req("blk-read0", VIRTIO_BLK_T_IN, 0, SECTOR, true);
	if (st < 0)
		return;
	if (st != VIRTIO_BLK_S_OK)
		check_fail("blk-read0", "status %d", st);
	else if (!all_bytes(data, SECTOR, pat, &bad))
		check_fail("blk-read0", "byte %lu is 0x%x, expected 0x%x", (uint64_t)bad, data[bad], pat);
	else
		check_ok("blk-read0", "pattern=0x%x", pat);
}

static void check_write1(void)
{
	uint8_t pat;
	size_t bad;
	int st;

	if (!arg_byte("blk.write", &pat))
		return;
	memset(data, pat, SECTOR);
	st = blk_req("blk-write1", VIRTIO_BLK_T_OUT, 1, SECTOR, false);
	if (st < 0)
		return;
	if (st != VIRTIO_BLK_S_OK) {
		check_fail("blk-write1", "status %d", st);
		return;
	}
	memset(data, ~pat, SECTOR);
	st = blk_req("blk-write1", VIRTIO_BLK_T_IN, 1, SECTOR, true);
	if (st == VIRTIO_BLK_S_OK && all_bytes(data, SECTOR, pat, &bad))
		check_ok("blk-write1", "pattern=0x%x read back", pat);
	else if (st >= 0)
		check_fail("blk-write1", "read back: status %d, data 0x%x", st, data[0]);
}

static void check_flush(void)
{
	int st;

	if (!(dev.features & 1ULL << VIRTIO_BLK_F_FLUSH)) {
		check_fail("blk-flush", "VIRTIO_BLK_F_FLUSH not offered");
		return;
	}
	st = blk_req("blk-flush", VIRTIO_BLK_T_FLUSH, 0, 0, false);
	if (st == VIRTIO_BLK_S_OK)
		check_ok("blk-flush", "status OK");
	else if (st >= 0)
		check_fail("blk-flush", "status %d", st);
}

static void check_getid(void)
{
	char id[VIRTIO_BLK_ID_BYTES + 1];
	size_t len;
	const char *want = probe_arg("blk.serial", &len);
	int st;

	memset(data, 0, VIRTIO_BLK_ID_BYTES);
	st = blk_req("blk-getid", VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, true);
	if (st < 0)
		return;
	memcpy(id, data, VIRTIO_BLK_ID_BYTES);
	id[VIRTIO_BLK_ID_BYTES] = 0;
	if (st != VIRTIO_BLK_S_OK)
		check_fail("blk-getid", "status %d", st);
	else if (want && (len > VIRTIO_BLK_ID_BYTES || strnlen(id, sizeof(id)) != len ||
			  memcmp(id, want, len)))
		check_fail("blk-getid", "serial '%s', expected blk.serial", id);
	else
		check_ok("blk-getid", "serial=%s", id);
}

static void check_past_end(uint64_t sectors)
{
	int st;

	memset(data, 0, SECTOR);
	st = blk_req("blk-read-past-end", VIRTIO_BLK_T_IN, sectors, SECTOR, true);
	if (st == VIRTIO_BLK_S_IOERR)
		check_ok("blk-read-past-end", "sector %lu: IOERR", sectors);
	else if (st >= 0)
		check_fail("blk-read-past-end", "sector %lu: status %d, want IOERR", sectors, st);
}

static void check_ro(void)
{
	uint64_t ro = 0;
	bool offered = dev.features & 1ULL << VIRTIO_BLK_F_RO;
	int st;

	probe_arg_u64("blk.ro", &ro);
	if (!ro) {
		if (offered)
			check_fail("blk-rw", "VIRTIO_BLK_F_RO offered for a writable disk");
		else
			check_ok("blk-rw", "VIRTIO_BLK_F_RO not offered");
		return;
	}
	if (!offered)
		check_fail("blk-ro", "VIRTIO_BLK_F_RO not offered");
	memset(data, 0x5a, SECTOR);
	st = blk_req("blk-ro", VIRTIO_BLK_T_OUT, 1, SECTOR, false);
	if (st == VIRTIO_BLK_S_IOERR && offered)
		check_ok("blk-ro", "write answered IOERR");
	else if (st >= 0 && st != VIRTIO_BLK_S_IOERR)
		check_fail("blk-ro", "write answered status %d, want IOERR", st);
}

/* Sequential 4 KiB reads over blocks 1.. of the disk (block 0 holds the patterns above). */
static void check_loop(uint64_t sectors)
{
	uint64_t n = 0, fill = 0, blocks = sectors / 8, t0, k = 1;
	size_t bad;
	int st;

	if (!probe_arg_u64("blk.loop", &n) || !n)
		return;
	probe_arg_u64("blk.fill", &fill);
	if (blocks < 2) {
		check_fail("blk-loop", "disk of %lu sectors has no block 1", sectors);
		return;
	}
	t0 = rdtsc();
	for (uint64_t i = 0; i < n; i++, k = k + 1 < blocks ? k + 1 : 1) {
		st = blk_req("blk-loop", VIRTIO_BLK_T_IN, k * 8, BLOCK, true);
		if (st != VIRTIO_BLK_S_OK) {
			if (st >= 0)
				check_fail("blk-loop", "read %lu (block %lu): status %d", i, k, st);
			return;
		}
		if (fill && !all_bytes(data, BLOCK, (uint8_t)k, &bad)) {
			check_fail("blk-loop", "read %lu (block %lu): byte %lu is 0x%x, want 0x%x", i,
				   k, (uint64_t)bad, data[bad], (unsigned)(uint8_t)k);
			return;
		}
	}
	check_ok("blk-loop", "reads=%lu data-checked=%lu cycles/read=%lu", n, fill,
		 (rdtsc() - t0) / n);
}

void blk_check_device(uint64_t base)
{
	uint64_t sectors;

	if (!blk_setup(base, &sectors))
		return;
	check_read0();
	check_ro();
	check_write1();
	check_flush();
	check_getid();
	check_past_end(sectors);
	check_loop(sectors);
	if (virtio_status(&dev) & (VSTAT_NEEDS_RESET | VSTAT_FAILED))
		check_fail("blk-status", "Status 0x%x after the requests", virtio_status(&dev));
	else
		check_ok("blk-status", "0x%x", virtio_status(&dev));
}

void run_blk(const uint8_t *bp)
{
	struct vio_slot slot;

	if (find_slot(bp, &slot))
		blk_check_device(slot.base);
}
