/*
 * Which vCPU exits are the guest ending the VM (see vcpu_exit.h).
 *
 * A triple fault (KVM_EXIT_SHUTDOWN) is a reset, not an error: a PC's chipset turns the
 * CPU's shutdown cycle into a reset, QEMU does the same (it exits instead only under
 * -no-reboot, which is what bulkhead always does with a reset), and Linux uses it on purpose
 * as its last reboot method (reboot=t, and BOOT_TRIPLE after the others failed).
 */
#include "vcpu_exit.h"

#include <linux/kvm.h>

enum vm_exit_reason vcpu_exit_guest_end(uint32_t exit_reason, uint32_t system_event_type)
{
	if (exit_reason == KVM_EXIT_SHUTDOWN)
		return VM_EXIT_RESET;
	if (exit_reason != KVM_EXIT_SYSTEM_EVENT)
		return VM_EXIT_NONE;
	switch (system_event_type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		return VM_EXIT_POWEROFF;
	case KVM_SYSTEM_EVENT_RESET:
		return VM_EXIT_RESET;
	default:
		return VM_EXIT_NONE;   /* crash, wakeup, suspend, SEV termination: not ours */
	}
}
