/* Included by bulkhead-core only (sandboxed). */
/* How the guest itself ends the VM from a vCPU: the KVM exits that mean power-off or reset,
 * kept apart from vcpu.c's KVM_RUN loop so the policy is testable without /dev/kvm. */
#ifndef BULKHEAD_VCPU_EXIT_H
#define BULKHEAD_VCPU_EXIT_H

#include <stdint.h>
#include "bus.h"

/*
 * exit_reason is kvm_run's; system_event_type matters only for KVM_EXIT_SYSTEM_EVENT.
 * Returns VM_EXIT_POWEROFF or VM_EXIT_RESET for an end the guest asked for, VM_EXIT_NONE for
 * any other exit (the caller decides whether that is an error).
 */
enum vm_exit_reason vcpu_exit_guest_end(uint32_t exit_reason, uint32_t system_event_type);

#endif
