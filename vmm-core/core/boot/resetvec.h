/* What a guest finds at the x86 reset vector F000:FFF0 (physical 0xFFFF0): a few bytes of
 * real-mode code that ask the i8042 for a CPU reset, as `reboot=k` does. There is no BIOS,
 * but Linux's default reboot on a hardware-reduced ACPI machine without EFI ends here, and
 * a guest that finds nothing at the vector spins in it forever. Included by bulkhead-core only. */
#ifndef BULKHEAD_RESETVEC_H
#define BULKHEAD_RESETVEC_H

#include <stddef.h>
#include <stdint.h>
#include "memory.h"

/* The stub's bytes, for tests: mov $0xfe,%al; out %al,$0x64; then cli; hlt in a loop. */
extern const uint8_t resetvec_stub[8];

/* Write the stub at LAYOUT_RESET_VECTOR. Returns 0, or -EFAULT when that is not guest RAM. */
int resetvec_install(const struct guest_mem *m);

#endif
