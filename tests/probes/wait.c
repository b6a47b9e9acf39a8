/* probe=wait: a guest that stays alive for the QMP tests and shows from outside whether its
 * vCPU runs. Words of the command line:
 *   wait.secs=N      end after N seconds of guest run time (RTC; default 300, at most 3600)
 *   wait.kbd=poweroff  power off once the i8042 has delivered bytes (a guest acting on the
 *                    Ctrl-Alt-Del that system_powerdown may inject)
 * Output: PROBE READY wait, then PROBE TICK <n> once a second while the vCPU runs -- a paused
 * VM prints nothing, which is what the stop/cont test watches -- and PROBE KBD 0xHH for
 * every byte read from the i8042. All polling, in ring 3; no interrupts. */
#include "probe.h"

#define WAIT_DEFAULT_SECS  300
#define WAIT_MAX_SECS      3600
#define POLL_CYCLES        1000000ULL   /* ~0.3-1 ms between polls */
#define I8042_OBF          0x01

/* Returns true when a byte was read from the keyboard controller. */
static bool poll_kbd(void)
{
	uint8_t v;

	if (!(inb(PROBE_PORT_I8042) & I8042_OBF))
		return false;
	v = inb(PROBE_PORT_I8042_DATA);
	pr("PROBE KBD 0x%02x\n", v);
	return true;
}

void run_wait(void)
{
	uint64_t secs = WAIT_DEFAULT_SECS, tick = 0, kbd = 0, quiet = 0;
	bool kbd_off = probe_arg_is("wait.kbd", "poweroff");
	struct probe_clock clk;

	probe_arg_u64("wait.secs", &secs);
	if (secs > WAIT_MAX_SECS)
		secs = WAIT_MAX_SECS;
	probe_clock_start(&clk);
	pr("PROBE READY wait secs=%lu\n", secs);
	while (tick < secs) {
		uint64_t now = probe_clock_poll(&clk);

		if (poll_kbd()) {
			kbd++;
			quiet = 0;
		} else if (kbd && kbd_off && ++quiet > 200) {
			/* the whole key sequence has arrived: act like a guest's power button */
			check_ok("wait-kbd", "%lu bytes, powering off", kbd);
			return;
		}
		if (now != tick) {
			tick = now;
			pr("PROBE TICK %lu\n", tick);
		}
		probe_delay_cycles(POLL_CYCLES);
	}
	check_ok("wait", "%lu s elapsed, %lu keyboard bytes", tick, kbd);
}
