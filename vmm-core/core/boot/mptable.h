/* Included by bulkhead-core only (sandboxed). */
/* Intel MultiProcessor Specification 1.4 table, used instead of ACPI with acpi=off. */
#ifndef BULKHEAD_MPTABLE_H
#define BULKHEAD_MPTABLE_H

#include <stddef.h>
#include <stdint.h>
#include "machine.h"

/*
 * Build the MP floating pointer followed by the MP configuration table into buf, which the
 * guest sees at gpa_base. Returns bytes used or -ENOSPC / -EINVAL (too many CPUs).
 */
long mptable_build(void *buf, size_t len, uint64_t gpa_base, const struct machine_desc *d);

#endif
