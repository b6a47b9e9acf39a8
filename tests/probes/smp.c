/* AP bring-up from ring 3: copy the real-mode trampoline below 1 MiB, send INIT and two
 * SIPIs to every AP through the LAPIC ICR (user-mapped MMIO), and wait, bounded, for each AP to
 * reach long mode and count itself. */
#include "probe.h"

#define LAPIC_SVR      0x0f0
#define LAPIC_ICR_LO   0x300
#define LAPIC_ICR_HI   0x310
#define ICR_INIT       0x00004500   /* delivery mode INIT, level assert */
#define ICR_SIPI       0x00004600   /* delivery mode start-up */
#define ICR_BUSY       (1u << 12)

/* TSC cycles; the rate is unknown but 1-5 GHz, so these are ~10 ms, ~200 us and ~5 s or more */
#define INIT_DELAY     30000000ULL
#define SIPI_DELAY     600000ULL
#define AP_WAIT        15000000000ULL

extern const char probe_tramp_start[], probe_tramp_end[], probe_tramp_real[];

static void lapic_write(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)(PROBE_LAPIC + reg) = v;
}

static uint32_t lapic_read(unsigned reg)
{
	return *(volatile uint32_t *)(PROBE_LAPIC + reg);
}

static void send_ipi(unsigned apic_id, uint32_t lo)
{
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, lo);
	for (int i = 0; i < 100000 && (lapic_read(LAPIC_ICR_LO) & ICR_BUSY); i++)
		cpu_relax();
}

static volatile uint32_t *counter(uint64_t pa)
{
	return (volatile uint32_t *)(uintptr_t)pa;
}

void check_smp(uint64_t cpus)
{
	size_t tlen = (size_t)(probe_tramp_end - probe_tramp_start);
	uint64_t real_off = (uint64_t)(probe_tramp_real - probe_tramp_start);
	volatile uint16_t *real = (volatile uint16_t *)(uintptr_t)(PROBE_TRAMP + real_off);
	uint64_t t0;

	if (cpus < 2) {
		check_ok("smp", "no APs to start");
		return;
	}
	memcpy((void *)PROBE_TRAMP, probe_tramp_start, tlen);
	*real = 0;
	*counter(PROBE_AP_COUNT) = 0;
	lapic_write(LAPIC_SVR, 0x1ff);   /* software-enable, spurious vector 0xff */
	for (unsigned id = 1; id < cpus; id++) {
		send_ipi(id, ICR_INIT);
		probe_delay_cycles(INIT_DELAY);
		send_ipi(id, ICR_SIPI | (PROBE_TRAMP >> 12));
		probe_delay_cycles(SIPI_DELAY);
		send_ipi(id, ICR_SIPI | (PROBE_TRAMP >> 12));
	}
	t0 = rdtsc();
	while (*counter(PROBE_AP_COUNT) < cpus - 1 && rdtsc() - t0 < AP_WAIT)
		cpu_relax();
	if (*counter(PROBE_AP_COUNT) == cpus - 1)
		check_ok("smp", "aps=%u in %lu Mcycles", *counter(PROBE_AP_COUNT),
			 (rdtsc() - t0) / 1000000);
	else
		check_fail("smp", "%u of %lu APs reached long mode, %u ran the real-mode trampoline",
			   *counter(PROBE_AP_COUNT), cpus - 1, *real);
}
