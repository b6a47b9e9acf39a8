/* CPUID fix-ups: what KVM supports, with APIC ids and topology that match the MADT/MP table
 * (one socket, ncpus cores, one thread per core). */
#include <stdint.h>
#include "vm.h"

#define CPUID_HYPERVISOR (1u << 31)     /* leaf 1 ECX */
#define LEVEL_TYPE_SMT  1
#define LEVEL_TYPE_CORE 2

static unsigned order_base_2(unsigned n)
{
	unsigned s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

static void fix_topology_leaf(struct kvm_cpuid_entry2 *e, unsigned apic_id, unsigned ncpus)
{
	e->edx = apic_id;
	switch (e->index) {
	case 0:  /* SMT level: one thread per core */
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (LEVEL_TYPE_SMT << 8) | 0;
		break;
	case 1:  /* core level: ncpus cores in the package */
		e->eax = order_base_2(ncpus);
		e->ebx = ncpus;
		e->ecx = (LEVEL_TYPE_CORE << 8) | 1;
		break;
	default: /* invalid level ends the enumeration */
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;
		break;
	}
}

void cpuid_fixup(struct kvm_cpuid2 *c, unsigned apic_id, unsigned ncpus)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffffu) | (apic_id << 24) |
				 ((ncpus > 255 ? 255 : ncpus) << 16);
			e->ecx |= CPUID_HYPERVISOR;
			if (ncpus > 1)
				e->edx |= 1u << 28;     /* HTT: the logical count field is valid */
			break;
		case 4:  /* cores per package - 1 in EAX[31:26], threads sharing the cache */
			if ((e->eax & 0x1f) == 0)
				break;
			e->eax &= 0x3fff;        /* keep type, level, flags */
			e->eax |= (ncpus - 1) << 26;
			if (((e->eax >> 5) & 7) == 3)       /* L3 is shared by the package */
				e->eax |= (ncpus - 1) << 14;
			break;
		case 0xb:
		case 0x1f:
			fix_topology_leaf(e, apic_id, ncpus);
			break;
		case 0xa:  /* no architectural PMU: we do not virtualise counters */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		}
	}
}
