/* Host-side test of the probe's virtio-mmio blk driver (virtio.c, blk.c, args.c, checks.c
 * compiled for the host): the slots come from the core's real ACPI builder (mapped at the
 * guest address 0xe0000 of this process) or its real virtio_mmio.device= writer, the device
 * is mock-blk.c. Each test checks the PROBE OK/FAIL lines the probe would print and what
 * the device saw, so a driver that skips a check or breaks the virtio protocol fails here
 * without KVM. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "acpi.h"
#include "machine.h"
#include "mock-blk.h"
#include "probe.h"
#include "virtio.h"

#define FW_BASE  0xe0000UL
#define FW_SIZE  0x20000UL
#define SLOT0    0xd0000000UL

/* ---- what lib.c provides in the guest: output to a buffer, check counters ---- */

static char out[1 << 16];
static size_t outlen;
static unsigned nok, nfail;

void vpr(const char *fmt, va_list ap)
{
	int n = vsnprintf(out + outlen, sizeof(out) - outlen, fmt, ap);

	if (n > 0)
		outlen = outlen + (size_t)n < sizeof(out) ? outlen + (size_t)n : sizeof(out) - 1;
}

void pr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpr(fmt, ap);
	va_end(ap);
}

static void report(const char *tag, const char *what, const char *fmt, va_list ap)
{
	pr("PROBE %s %s%s", tag, what, *tag == 'F' ? ": " : fmt && *fmt ? " " : "");
	if (fmt)
		vpr(fmt, ap);
	pr("\n");
}

void check_ok(const char *what, const char *fmt, ...)
{
	va_list ap;

	nok++;
	va_start(ap, fmt);
	report("OK", what, fmt, ap);
	va_end(ap);
}

void check_fail(const char *what, const char *fmt, ...)
{
	va_list ap;

	nfail++;
	va_start(ap, fmt);
	report("FAIL", what, fmt, ap);
	va_end(ap);
}

unsigned probe_nok(void)
{
	return nok;
}

unsigned probe_nfail(void)
{
	return nfail;
}

/* ---- the machine around the driver ---- */

static uint8_t boot_params[4096];
static char cmdline[4096];

/* nslots slots at 0xd0000000 + i * 4 KiB, GSI 5 + i, described the way the core does it */
static void machine(bool acpi, unsigned nslots, const char *args)
{
	struct machine_desc d = { .ncpus = 1, .nmmio = nslots };
	void *fw = mmap((void *)FW_BASE, FW_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	uint64_t rsdp = FW_BASE;

	cr_assert(fw == (void *)FW_BASE, "cannot map the firmware area at 0x%lx", FW_BASE);
	for (unsigned i = 0; i < nslots; i++)
		d.mmio[i] = (struct mmio_slot_desc){ SLOT0 + i * 0x1000, 0x1000, 5 + i };
	snprintf(cmdline, sizeof(cmdline), "probe=blk probe.token=t %s", args);
	if (acpi) {
		cr_assert_gt(acpi_build(fw, 0x10000, FW_BASE, &d), 0);
		memcpy(boot_params + BP_ACPI_RSDP_ADDR, &rsdp, 8);
	} else {
		cr_assert_eq(machine_append_mmio_cmdline(cmdline, sizeof(cmdline), &d), 0);
	}
	probe_set_cmdline(cmdline);
}

/* A disk as the integration test makes it: sector 0 all 0xa5, 4 KiB block k >= 1 all k. */
static void disk_fill(void)
{
	memset(mock.disk, 0, sizeof(mock.disk));
	memset(mock.disk, 0xa5, 512);
	for (unsigned k = 1; k < MOCK_SECTORS / 8; k++)
		memset(mock.disk + k * 4096, (int)(k & 0xff), 4096);
}

static void setup(bool acpi, bool ro, const char *args)
{
	machine(acpi, 3, args);
	mock_init(SLOT0, ro);
	disk_fill();
}

static void want(const char *line)
{
	cr_assert(strstr(out, line), "no '%s' in the probe output:\n%s", line, out);
}

static void no_violation(void)
{
	cr_assert_str_empty(mock.violation, "driver broke the virtio protocol: %s\n%s",
			    mock.violation, out);
}

#define RW_ARGS "blk.expect=a5 blk.write=3c blk.serial=mockserial blk.sectors=2048 blk.fill=1"

/* ---- a correct device ---- */

Test(probe_blk, full_run_acpi)
{
	uint8_t sec1[512];

	setup(true, false, RW_ARGS " blk.loop=600");
	run_blk(boot_params);
	no_violation();
	cr_assert_eq(nfail, 0, "%s", out);
	want("PROBE OK virtio-discover acpi slots=3");
	want("PROBE INFO virtio-mmio slot 0: 0xd0000000 size 0x1000 irq 5");
	want("PROBE INFO virtio-mmio slot 2: 0xd0002000 size 0x1000 irq 7");
	want("PROBE OK blk-init slot 0xd0000000 features 0x100000244 of 0x100000244 queue 128");
	want("PROBE OK blk-capacity sectors=2048");
	want("PROBE OK blk-read0 pattern=0xa5");
	want("PROBE OK blk-write1 pattern=0x3c read back");
	want("PROBE OK blk-flush");
	want("PROBE OK blk-getid serial=mockserial");
	want("PROBE OK blk-read-past-end sector 2048: IOERR");
	want("PROBE OK blk-rw VIRTIO_BLK_F_RO not offered");
	want("PROBE OK blk-loop reads=600 data-checked=1");
	want("PROBE OK blk-status 0xf");
	memset(sec1, 0x3c, sizeof(sec1));
	cr_assert(!memcmp(mock.disk + 512, sec1, 512), "sector 1 does not hold the pattern");
	/* read0, write + read back, flush, get_id, past end, the loop: one notify each */
	cr_assert_eq(mock.nreq, 606);
	cr_assert_eq(mock.nnotify, 606);
	cr_assert_gt(mock.nwrap, 0, "chains never wrapped around the descriptor table");
}

Test(probe_blk, cmdline_discovery_picks_slot)
{
	setup(false, false, RW_ARGS " blk.slot=2 blk.loop=10");
	mock.base = SLOT0 + 0x2000;
	run_blk(boot_params);
	no_violation();
	cr_assert_eq(nfail, 0, "%s", out);
	want("PROBE OK virtio-discover cmdline slots=3");
	want("PROBE OK blk-init slot 0xd0002000");
}

Test(probe_blk, small_queue_wraps)
{
	setup(true, false, RW_ARGS " blk.loop=100");
	mock.qmax = 24;   /* not a power of two: the driver must pick 16 */
	run_blk(boot_params);
	no_violation();
	cr_assert_eq(nfail, 0, "%s", out);
	want("queue 16");
	cr_assert_gt(mock.nwrap, 0);
}

Test(probe_blk, readonly)
{
	setup(true, true, "blk.expect=a5 blk.ro=1 blk.sectors=2048");
	run_blk(boot_params);
	no_violation();
	cr_assert_eq(nfail, 0, "%s", out);
	want("PROBE OK blk-ro write answered IOERR");
	cr_assert_eq(mock.disk[512], 0, "the read-only disk changed");
}

/* ---- devices the probe must catch ---- */

Test(probe_blk, ro_flag_missing)
{
	setup(true, false, "blk.ro=1");
	mock.ro = true;   /* refuses writes but does not say so */
	run_blk(boot_params);
	want("PROBE FAIL blk-ro: VIRTIO_BLK_F_RO not offered");
}

Test(probe_blk, ro_flag_on_writable_disk)
{
	setup(true, false, "");
	mock.features |= 1ULL << 5;
	run_blk(boot_params);
	want("PROBE FAIL blk-rw: VIRTIO_BLK_F_RO offered for a writable disk");
}

Test(probe_blk, ro_disk_that_writes)
{
	setup(true, true, "blk.ro=1");
	mock.ro = false;
	run_blk(boot_params);
	want("PROBE FAIL blk-ro: write answered status 0, want IOERR");
}

Test(probe_blk, silent_device_times_out)
{
	setup(true, false, RW_ARGS " blk.loop=10");
	mock.fault = MOCK_SILENT;
	run_blk(boot_params);
	want("PROBE FAIL blk-read0: request type 0 sector 0: timed out waiting for used->idx");
	want("PROBE FAIL blk-write1: request type 1 sector 1: device abandoned");
	cr_assert(!strstr(out, "PROBE OK blk-read0"));
	cr_assert_eq(mock.nnotify, 1, "the driver kept posting to a dead device");
}

Test(probe_blk, bad_used_id)
{
	setup(true, false, RW_ARGS);
	mock.fault = MOCK_BAD_ID;
	run_blk(boot_params);
	want("PROBE FAIL blk-read0: request type 0 sector 0: device broke the ring protocol");
}

Test(probe_blk, used_len_too_big)
{
	setup(true, false, RW_ARGS);
	mock.fault = MOCK_USED_LEN_HUGE;
	run_blk(boot_params);
	want("PROBE FAIL blk-read0: used len 4609 exceeds the 513 writable bytes");
}

Test(probe_blk, read_past_end_ok)
{
	setup(true, false, RW_ARGS);
	mock.fault = MOCK_PAST_END_OK;
	run_blk(boot_params);
	want("PROBE FAIL blk-read-past-end: sector 2048: status 0, want IOERR");
}

Test(probe_blk, corrupt_data_in_loop)
{
	setup(true, false, RW_ARGS " blk.loop=50");
	mock.fault = MOCK_CORRUPT_BLOCK5;
	run_blk(boot_params);
	want("PROBE FAIL blk-loop: read 4 (block 5): byte 100 is 0xfa, want 0x5");
}

Test(probe_blk, write_dropped)
{
	setup(true, false, RW_ARGS);
	mock.fault = MOCK_WRITE_DROPPED;
	run_blk(boot_params);
	want("PROBE FAIL blk-write1: read back: status 0, data 0x0");
}

Test(probe_blk, wrong_sector0)
{
	setup(true, false, RW_ARGS);
	mock.disk[300] = 0;
	run_blk(boot_params);
	want("PROBE FAIL blk-read0: byte 300 is 0x0, expected 0xa5");
}

Test(probe_blk, wrong_serial)
{
	setup(true, false, RW_ARGS);
	mock.serial = "otherserial";
	run_blk(boot_params);
	want("PROBE FAIL blk-getid: serial 'otherserial', expected blk.serial");
}

Test(probe_blk, wrong_capacity)
{
	setup(true, false, "blk.sectors=4096");
	run_blk(boot_params);
	want("PROBE FAIL blk-capacity: 2048 sectors, expected 4096");
}

Test(probe_blk, no_flush)
{
	setup(true, false, RW_ARGS);
	mock.features &= ~(1ULL << 9);
	run_blk(boot_params);
	want("PROBE FAIL blk-flush: VIRTIO_BLK_F_FLUSH not offered");
}

Test(probe_blk, not_a_virtio_device)
{
	setup(true, false, RW_ARGS);
	mock.magic = 0xffffffff;
	run_blk(boot_params);
	want("PROBE FAIL blk-init: slot 0xd0000000: MagicValue 0xffffffff");
	cr_assert_eq(mock.nnotify, 0);
}

Test(probe_blk, legacy_device)
{
	setup(true, false, RW_ARGS);
	mock.version = 1;
	run_blk(boot_params);
	want("PROBE FAIL blk-init: slot 0xd0000000: Version 1, want 2");
}

Test(probe_blk, empty_slot)
{
	setup(true, false, RW_ARGS);
	mock.device_id = 0;
	run_blk(boot_params);
	want("PROBE FAIL blk-init: slot 0xd0000000: DeviceID 0, want 2");
}

Test(probe_blk, no_version_1)
{
	setup(true, false, RW_ARGS);
	mock.features &= ~(1ULL << 32);
	run_blk(boot_params);
	no_violation();
	want("PROBE FAIL blk-init: slot 0xd0000000: VIRTIO_F_VERSION_1 not offered");
	cr_assert(mock.status & VSTAT_FAILED, "the driver did not set FAILED");
}

Test(probe_blk, features_refused)
{
	setup(true, false, RW_ARGS);
	mock.refuse_features_ok = true;
	run_blk(boot_params);
	no_violation();
	want("PROBE FAIL blk-init: slot 0xd0000000: FEATURES_OK did not stick");
}

Test(probe_blk, queue_too_small)
{
	setup(true, false, RW_ARGS);
	mock.qmax = 2;
	run_blk(boot_params);
	want("PROBE FAIL blk-init: slot 0xd0000000: QueueNumMax too small (0x2)");
}

Test(probe_blk, slot_beyond_the_table)
{
	setup(true, false, "blk.slot=3");
	run_blk(boot_params);
	want("PROBE FAIL virtio-discover: acpi: 3 slots, blk.slot=3 wanted");
}

/* ---- command-line words ---- */

Test(probe_args, numbers_and_repeated_keys)
{
	uint64_t v = 0;

	probe_set_cmdline("a=1 virtio_mmio.device=4K@0xd0000000:5 b=0x10 virtio_mmio.device=x c=2M");
	cr_assert(probe_arg_u64("b", &v) && v == 16);
	cr_assert(probe_arg_u64("c", &v) && v == 2 << 20);
	cr_assert(!probe_arg_u64("virtio_mmio.device", &v));
	cr_assert_eq(probe_parse_u64("4K@", 3, &v), 2);
	cr_assert_eq(v, 4096);
	cr_assert_eq(probe_parse_u64("@1", 2, &v), 0);
	cr_assert_not_null(probe_arg_nth("virtio_mmio.device", 1, &(size_t){ 0 }));
	cr_assert_null(probe_arg_nth("virtio_mmio.device", 2, &(size_t){ 0 }));
}

Test(probe_args, malformed_cmdline_slots_are_skipped)
{
	struct vio_slot s[4];

	probe_set_cmdline("virtio_mmio.device=4K@0xd0000000 virtio_mmio.device=4K@0xd0001000:6x "
			  "virtio_mmio.device=@0xd0002000:7 virtio_mmio.device=0x200@0xd0003000:8");
	cr_assert_eq(virtio_find_slots_cmdline(s, 4), 1);
	cr_assert_eq(s[0].base, 0xd0003000);
	cr_assert_eq(s[0].size, 0x200);
	cr_assert_eq(s[0].irq, 8);
}
