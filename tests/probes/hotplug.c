/* probe=hotplug: a guest that watches an empty virtio-mmio disk slot, uses the disk the host
 * hot-plugs into it (QMP blockdev-add + device_add) and sees it leave again (device_del).
 * Words of the command line:
 *   hp.slot=N     the slot, in DSDT order = "addr":"0xN" of device_add (default 1)
 *   hp.cycles=C   attach/detach cycles (default 1, at most 4)
 *   hp.secs=S     wait at most S seconds of guest time (RTC) for each change (default 60)
 *   hp.linger=L   then stay alive L more seconds (default 0), so the host can still talk
 *                 QMP to the VM (blockdev-del after the last device_del) and end it itself
 *   and the blk.* words of probe=blk (blk.c) for the checks run on each attached disk.
 * The host and the probe coordinate only through behaviour: the probe prints
 *   PROBE OK hotplug-empty slot=N devid=2 sectors=0 gen=G
 *   PROBE READY hotplug-attach cycle=K      (the host may plug the disk now)
 *   PROBE OK hotplug-attach cycle=K sectors=S gen=G, then the probe=blk checks
 *   PROBE READY hotplug-detach cycle=K      (the host may unplug it now)
 *   PROBE OK hotplug-detach cycle=K gen=G
 * An attached disk is seen as a non-zero capacity, a detached one as capacity 0 ("no
 * medium"); each change must come with a new ConfigGeneration, or a real driver would
 * never re-read the config. Polling in ring 3, every wait bounded. */
#include "probe.h"
#include "virtio.h"

#define HP_DEFAULT_SECS  60
#define HP_MAX_CYCLES    4
#define POLL_CYCLES      2000000ULL   /* ~0.5-2 ms between polls */

struct slot_view {
	uint64_t sectors;
	uint32_t gen;
};

static void look(uint64_t base, struct slot_view *v)
{
	struct vio_dev d = { .base = base };

	virtio_config_read(&d, 0, &v->sectors, 8);
	v->gen = vmmio_read(base, VMMIO_CONFIG_GEN);
}

/* Poll until the slot shows a disk (want_disk) or none; false after the time is up. */
static bool wait_change(uint64_t base, bool want_disk, uint64_t secs, struct slot_view *v)
{
	struct probe_clock clk;

	probe_clock_start(&clk);
	while (probe_clock_poll(&clk) < secs) {
		look(base, v);
		if ((v->sectors != 0) == want_disk)
			return true;
		probe_delay_cycles(POLL_CYCLES);
	}
	return false;
}

static void linger(void)
{
	uint64_t secs = 0;
	struct probe_clock clk;

	if (!probe_arg_u64("hp.linger", &secs) || !secs)
		return;
	probe_clock_start(&clk);
	while (probe_clock_poll(&clk) < secs)
		probe_delay_cycles(POLL_CYCLES);
}

static bool check_empty(uint64_t slot, uint64_t base, struct slot_view *v)
{
	uint32_t magic = vmmio_read(base, VMMIO_MAGIC), ver = vmmio_read(base, VMMIO_VERSION);
	uint32_t devid = vmmio_read(base, VMMIO_DEVICE_ID);

	look(base, v);
	if (magic != VMMIO_MAGIC_VALUE || ver != 2 || devid != 2 || v->sectors) {
		check_fail("hotplug-empty", "slot %lu: magic 0x%x version %u devid %u sectors %lu,"
			   " want an empty disk slot (devid 2, capacity 0)", slot, magic, ver, devid,
			   v->sectors);
		return false;
	}
	check_ok("hotplug-empty", "slot=%lu devid=2 sectors=0 gen=%u", slot, v->gen);
	return true;
}

/* One attach/detach cycle; false when the host did not act in time (no point going on). */
static bool cycle(uint64_t k, uint64_t base, uint64_t secs, struct slot_view *v)
{
	uint32_t gen0 = v->gen;

	pr("PROBE READY hotplug-attach cycle=%lu\n", k);
	if (!wait_change(base, true, secs, v)) {
		check_fail("hotplug-attach", "cycle %lu: no disk after %lu s", k, secs);
		return false;
	}
	if (v->gen == gen0)
		check_fail("hotplug-attach", "cycle %lu: capacity %lu but ConfigGeneration still %u",
			   k, v->sectors, v->gen);
	else
		check_ok("hotplug-attach", "cycle=%lu sectors=%lu gen=%u", k, v->sectors, v->gen);
	blk_check_device(base);
	gen0 = v->gen;
	pr("PROBE READY hotplug-detach cycle=%lu\n", k);
	if (!wait_change(base, false, secs, v)) {
		check_fail("hotplug-detach", "cycle %lu: disk still there after %lu s", k, secs);
		return false;
	}
	if (v->gen == gen0)
		check_fail("hotplug-detach", "cycle %lu: capacity 0 but ConfigGeneration still %u",
			   k, v->gen);
	else
		check_ok("hotplug-detach", "cycle=%lu gen=%u", k, v->gen);
	return true;
}

void run_hotplug(const uint8_t *bp)
{
	struct vio_slot s[VIO_MAX_SLOTS];
	uint64_t dsdt = acpi_dsdt_addr(bp), slot = 1, cycles = 1, secs = HP_DEFAULT_SECS;
	struct slot_view v;
	unsigned n;

	probe_arg_u64("hp.slot", &slot);
	probe_arg_u64("hp.cycles", &cycles);
	probe_arg_u64("hp.secs", &secs);
	if (cycles < 1 || cycles > HP_MAX_CYCLES) {
		check_fail("args", "hp.cycles=<1-%u>", HP_MAX_CYCLES);
		return;
	}
	n = dsdt ? virtio_find_slots_dsdt(dsdt, s, VIO_MAX_SLOTS) :
		   virtio_find_slots_cmdline(s, VIO_MAX_SLOTS);
	if (slot >= n) {
		check_fail("hotplug-slot", "%u slots, hp.slot=%lu wanted", n, slot);
		return;
	}
	if (!check_empty(slot, s[slot].base, &v))
		return;
	for (uint64_t k = 1; k <= cycles; k++)
		if (!cycle(k, s[slot].base, secs, &v))
			return;
	check_ok("hotplug-done", "cycles=%lu", cycles);
	linger();
}
