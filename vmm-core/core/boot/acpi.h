/* Included by bulkhead-core only (sandboxed). */
/* ACPI tables for the microvm: RSDP, XSDT, FADT (hardware-reduced), MADT, DSDT. */
#ifndef BULKHEAD_ACPI_H
#define BULKHEAD_ACPI_H

#include <stddef.h>
#include <stdint.h>
#include "machine.h"

/*
 * Build all tables into buf, which the guest will see at guest-physical gpa_base
 * (pointers inside the tables are computed from it). The RSDP comes first, at gpa_base.
 * Returns the number of bytes used, or -ENOSPC when len is too small.
 */
long acpi_build(void *buf, size_t len, uint64_t gpa_base, const struct machine_desc *d);

#endif
