/* vcpu_exit_guest_end (vmm-core/core/kvm/vcpu_exit.c): which KVM exits are the guest ending the VM.
 * A triple fault is a reset (as on a PC and in QEMU), not an error. */
#include <criterion/criterion.h>
#include <linux/kvm.h>

#include "vcpu_exit.h"

Test(vcpu_exit, triple_fault_is_a_reset)
{
	cr_assert_eq(vcpu_exit_guest_end(KVM_EXIT_SHUTDOWN, 0), VM_EXIT_RESET);
	/* system_event.type is not KVM_EXIT_SHUTDOWN's: whatever it holds does not matter */
	cr_assert_eq(vcpu_exit_guest_end(KVM_EXIT_SHUTDOWN, KVM_SYSTEM_EVENT_SHUTDOWN),
		     VM_EXIT_RESET);
}

Test(vcpu_exit, system_events)
{
	cr_assert_eq(vcpu_exit_guest_end(KVM_EXIT_SYSTEM_EVENT, KVM_SYSTEM_EVENT_SHUTDOWN),
		     VM_EXIT_POWEROFF);
	cr_assert_eq(vcpu_exit_guest_end(KVM_EXIT_SYSTEM_EVENT, KVM_SYSTEM_EVENT_RESET),
		     VM_EXIT_RESET);
	cr_assert_eq(vcpu_exit_guest_end(KVM_EXIT_SYSTEM_EVENT, KVM_SYSTEM_EVENT_CRASH),
		     VM_EXIT_NONE, "a crash event is an error, not a clean end");
	cr_assert_eq(vcpu_exit_guest_end(KVM_EXIT_SYSTEM_EVENT, 0xffffffffu), VM_EXIT_NONE);
}

Test(vcpu_exit, other_exits_are_not_a_guest_end)
{
	static const uint32_t others[] = {
		KVM_EXIT_UNKNOWN, KVM_EXIT_IO, KVM_EXIT_MMIO, KVM_EXIT_HLT, KVM_EXIT_FAIL_ENTRY,
		KVM_EXIT_INTR, KVM_EXIT_INTERNAL_ERROR, 0xffffffffu,
	};

	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		cr_assert_eq(vcpu_exit_guest_end(others[i], KVM_SYSTEM_EVENT_RESET), VM_EXIT_NONE,
			     "exit %u", others[i]);
}
