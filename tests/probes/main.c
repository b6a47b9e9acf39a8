/* Probe entry (ring 3): the kernel command line selects what to check, e.g.
 *   probe=basic expect.cpus=4 expect.mem=256M expect.acpi=1 probe.token=XYZ [probe.end=reset]
 *   probe=fault fault.kind=ud|pf|gp|triple   (triple: the #UD handler then triple-faults)
 *   probe=blk blk.expect=a5 blk.write=3c ... (see blk.c)
 *   probe=wait [wait.secs=N]            stay alive for QMP tests (see wait.c)
 *   probe=hotplug hp.slot=N [blk.*]     use a disk hot-plugged by QMP (see hotplug.c)
 * Output is line-based for the integration tests: PROBE START, PROBE OK/FAIL per check,
 * PROBE DONE <n> ok <m> failed, then the VM ends the way probe.end says. */
#include "probe.h"

void probe_main(const uint8_t *bp) __attribute__((noreturn));

static void run_basic(const uint8_t *bp)
{
	uint64_t cpus = 1, acpi = 1, aps = 1;

	check_e820(bp);
	probe_arg_u64("expect.acpi", &acpi);
	probe_arg_u64("probe.aps", &aps);
	if (!probe_arg_u64("expect.cpus", &cpus) || cpus < 1 || cpus > 255) {
		check_fail("args", "expect.cpus=<1-255> missing or out of range");
		return;
	}
	if (acpi)
		check_acpi(bp, cpus);
	else
		check_mptable(bp, cpus);
	if (aps)
		check_smp(cpus);
}

/* Each of these must trap into the IDT handler, which prints PROBE TRAP and powers off. */
static void run_fault(void)
{
	if (probe_arg_is("fault.kind", "pf")) {
		pr("PROBE INFO reading unmapped 0x200000000\n");
		(void)*(volatile uint64_t *)0x200000000UL;
	} else if (probe_arg_is("fault.kind", "gp")) {
		pr("PROBE INFO executing hlt in ring 3\n");
		__asm__ volatile("hlt");
	} else {
		pr("PROBE INFO executing ud2 in ring 3\n");
		__asm__ volatile("ud2");
	}
	check_fail("fault", "the faulting instruction returned");
}

static void __attribute__((noreturn)) end_vm(void)
{
	if (probe_arg_is("probe.end", "reset"))
		probe_reset_i8042();
	if (probe_arg_is("probe.end", "acpi-reset"))
		probe_reset_acpi();
	probe_poweroff();
}

void probe_main(const uint8_t *bp)
{
	pr("PROBE START\n");
	check_cmdline(bp);
	if (probe_arg_is("probe", "fault"))
		run_fault();
	else if (probe_arg_is("probe", "blk"))
		run_blk(bp);
	else if (probe_arg_is("probe", "wait"))
		run_wait();
	else if (probe_arg_is("probe", "hotplug"))
		run_hotplug(bp);
	else if (probe_arg_is("probe", "basic") || !probe_arg("probe", &(size_t){0}))
		run_basic(bp);
	else
		check_fail("args", "unknown probe= (want basic, fault, blk, wait or hotplug)");
	pr("PROBE DONE %u ok %u failed\n", probe_nok(), probe_nfail());
	end_vm();
}
