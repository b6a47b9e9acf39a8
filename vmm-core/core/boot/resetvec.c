/*
 * The reset-vector stub (see resetvec.h). Why the guest gets there: on a hardware-reduced
 * ACPI platform with no DMI quirk, Linux's reboot_init() picks BOOT_EFI; without EFI runtime
 * services efi_reboot() returns and the next method is BOOT_BIOS, machine_real_restart(),
 * which drops to real mode and far-jumps to F000:FFF0 (arch/x86/kernel/reboot.c). The ACPI
 * reset register and the i8042 are only tried first with reboot=a / reboot=k.
 *
 * Pulsing the i8042 reset line ends the VM exactly like reboot=k (i8042.c requests the
 * reset), with or without ACPI tables. The cli/hlt loop after it is never reached on
 * bulkhead, but keeps a CPU that somehow returns from the out from running into whatever
 * follows 1 MiB.
 */
#include "resetvec.h"

#include <errno.h>
#include <string.h>
#include "layout.h"

const uint8_t resetvec_stub[8] = {
	0xb0, 0xfe,     /* mov $0xfe, %al      controller command: pulse the reset line */
	0xe6, 0x64,     /* out %al, $0x64      (PORT_I8042_CMD) */
	0xfa,           /* 1: cli */
	0xf4,           /*    hlt */
	0xeb, 0xfc,     /*    jmp 1b */
};

int resetvec_install(const struct guest_mem *m)
{
	/* the 16 bytes from the vector to 1 MiB: the stub, then hlt (0xf4) padding */
	uint8_t *p = guest_ptr(m, LAYOUT_RESET_VECTOR, 16);

	if (!p)
		return -EFAULT;
	memset(p, 0xf4, 16);
	memcpy(p, resetvec_stub, sizeof(resetvec_stub));
	return 0;
}
