/* Included by bulkhead-core only (sandboxed). */
/* The core's view of one VM: KVM handles, guest memory, buses, vCPUs and core devices. */
#ifndef BULKHEAD_VM_H
#define BULKHEAD_VM_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "bus.h"
#include "ipc_qmp.h"
#include "devices.h"
#include "ged.h"
#include "machine.h"
#include "memory.h"
#include "vu_slot.h"

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	uint64_t exits;             /* exits to userspace, for debugging and tests */
	_Atomic int tid;            /* gettid() of the thread, for query-cpus; 0 before it runs */
	sem_t tid_ready;            /* posted once tid is set: vcpu_start waits for it */
	bool parked;                /* waiting in vcpu_park (run_lock) */
	bool done;                  /* left its run loop (run_lock) */
};

struct vm {
	int kvm_fd, vm_fd;
	int run_size;
	struct guest_mem mem;
	struct bus pio, mmio;
	struct machine_desc desc;
	unsigned ncpus;
	struct vcpu *vcpus;
	struct kvm_cpuid2 *cpuid;   /* KVM_GET_SUPPORTED_CPUID, fixed up per vCPU */

	struct serial serial;
	struct i8042 i8042;
	struct rtc rtc;
	struct acpi_pm pm;
	struct ged ged;
	bool powerdown_by_ged;      /* the guest reads ACPI: system_powerdown presses PWRB */
	struct vu_slot slots[LAYOUT_VIRTIO_MMIO_SLOTS];   /* the first desc.nmmio are in use */

	/* ending the VM: first reason wins; exit_efd wakes the main loop */
	_Atomic int exit_reason;    /* enum vm_exit_reason */
	char exit_detail[512];
	pthread_mutex_t exit_lock;
	int exit_efd;

	/* stop/cont: vCPUs park on run_cond while pause is set (all under run_lock) */
	pthread_mutex_t run_lock;
	pthread_cond_t run_cond;
	bool pause;
	uint64_t t_start_ns;        /* CLOCK_MONOTONIC at core start, for boot timing */
};

/* kvm.c */
int kvm_vm_create(struct vm *vm, char *err, size_t errlen);
int kvm_vm_map_memory(struct vm *vm);
void kvm_irq_set_level(void *opaque, unsigned gsi, int level);
void kvm_irq_pulse(void *opaque, unsigned gsi);
/* KVM_IOEVENTFD on MMIO [addr, addr+len) with DATAMATCH; assign=false removes it. */
int kvm_ioeventfd(struct vm *vm, uint64_t addr, unsigned len, uint64_t datamatch, int fd,
		  bool assign);
/* KVM_IRQFD: fd signalled -> edge on gsi; assign=false removes it. */
int kvm_irqfd(struct vm *vm, unsigned gsi, int fd, bool assign);
void vm_request_exit(struct vm *vm, enum vm_exit_reason why, const char *detail);
void vm_request_exit_cb(void *opaque, enum vm_exit_reason why);
void vm_destroy(struct vm *vm);

/* vcpu.c */
int vcpu_create(struct vm *vm, unsigned id);
/* Boot CPU only: APs wait for INIT/SIPI in the in-kernel LAPIC. */
int vcpu_set_boot_state(struct vcpu *v, const struct kvm_regs *regs, const struct kvm_sregs *sregs);
int vcpu_start(struct vcpu *v);
void vcpu_kick_all(struct vm *vm);
void vcpu_join_all(struct vm *vm);
/* stop: returns once every vCPU thread is parked (or has left its loop); idempotent. */
void vcpu_pause_all(struct vm *vm);
void vcpu_resume_all(struct vm *vm);
/* query-cpus: index, TID, halted (= not running guest code: parked or ended) */
unsigned vcpu_info(struct vm *vm, struct qmp_cpu_info *out, unsigned max);

/* cpuid.c: fix up a copy of the supported CPUID for vCPU apic_id of ncpus */
void cpuid_fixup(struct kvm_cpuid2 *c, unsigned apic_id, unsigned ncpus);

#endif
