/* Included by bulkhead-core only (sandboxed). */
/* What the firmware tables describe: CPUs and virtio-mmio slots of one microvm. */
#ifndef BULKHEAD_MACHINE_H
#define BULKHEAD_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "layout.h"

struct mmio_slot_desc {
	uint64_t base;
	uint64_t size;
	unsigned irq;       /* IOAPIC pin == GSI */
};

struct machine_desc {
	unsigned ncpus;     /* vCPU i has APIC id i */
	unsigned nmmio;
	struct mmio_slot_desc mmio[LAYOUT_VIRTIO_MMIO_SLOTS];
};

/*
 * StratoVirt microvm convention for acpi=off: append " virtio_mmio.device=<size>@<base>:<irq>"
 * for each slot to cmdline (NUL-terminated, capacity cap). Returns 0 or -ENOSPC.
 */
int machine_append_mmio_cmdline(char *cmdline, size_t cap, const struct machine_desc *d);

/* Whether a guest command line says acpi=off (Kata's does): such a guest ignores the ACPI
 * tables even when the machine has them, so it needs the non-ACPI paths (MP table, i8042). */
bool machine_cmdline_acpi_off(const char *cmdline);

#endif
