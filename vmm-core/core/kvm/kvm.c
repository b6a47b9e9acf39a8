/* KVM VM setup for the core: the VM fd, in-kernel irqchip and PIT, memory slots, IRQ lines,
 * and the single place where the VM's end is decided. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "vm.h"

/* Below the IOAPIC, inside the 32-bit MMIO hole, where nothing else lives (Intel VMX needs them;
 * harmless elsewhere). */
#define KVM_TSS_ADDR          0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define CPUID_MAX_ENTRIES     256

static int need_cap(struct vm *vm, int cap, const char *name, char *err, size_t errlen)
{
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, cap) > 0)
		return 0;
	snprintf(err, errlen, "KVM lacks %s", name);
	return -ENOTSUP;
}

static int get_supported_cpuid(struct vm *vm)
{
	size_t sz = sizeof(struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);

	vm->cpuid = calloc(1, sz);
	if (!vm->cpuid)
		return -ENOMEM;
	vm->cpuid->nent = CPUID_MAX_ENTRIES;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, vm->cpuid) < 0)
		return -errno;
	return 0;
}

#define KVM_TRY(call, what)                                              \
	do {                                                             \
		if ((call) < 0) {                                        \
			snprintf(err, errlen, "%s: %s", what, strerror(errno)); \
			return -errno;                                   \
		}                                                        \
	} while (0)

int kvm_vm_create(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int r;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		snprintf(err, errlen, "cannot open /dev/kvm: %s", strerror(errno));
		return -errno;
	}
	r = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION) {
		snprintf(err, errlen, "KVM API version %d, need %d", r, KVM_API_VERSION);
		return -ENOTSUP;
	}
	if ((r = need_cap(vm, KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", err, errlen)) ||
	    (r = need_cap(vm, KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", err, errlen)) ||
	    (r = need_cap(vm, KVM_CAP_PIT2, "KVM_CAP_PIT2", err, errlen)) ||
	    (r = need_cap(vm, KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", err, errlen)))
		return r;
	KVM_TRY(vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0), "KVM_CREATE_VM");
	KVM_TRY(vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0), "KVM_GET_VCPU_MMAP_SIZE");
	KVM_TRY(ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR), "KVM_SET_TSS_ADDR");
	{
		uint64_t ident = KVM_IDENTITY_MAP_ADDR;
		/* not every KVM implements it (PVM does not need it); failure is not fatal */
		if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0)
			log_debug("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	}
	KVM_TRY(ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
	KVM_TRY(ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit), "KVM_CREATE_PIT2");
	r = get_supported_cpuid(vm);
	if (r) {
		snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-r));
		return r;
	}
	return 0;
}

int kvm_vm_map_memory(struct vm *vm)
{
	for (unsigned i = 0; i < vm->mem.nr; i++) {
		const struct guest_region *g = &vm->mem.r[i];
		struct kvm_userspace_memory_region r = {
			.slot = i,
			.guest_phys_addr = g->gpa,
			.memory_size = g->size,
			.userspace_addr = (uint64_t)(uintptr_t)g->hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return -errno;
	}
	return 0;
}

void kvm_irq_set_level(void *opaque, unsigned gsi, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn("KVM_IRQ_LINE gsi %u", gsi);
}

/* An edge for config-change interrupts raised by the core: the slots' GSIs are edge-triggered
 * in the DSDT, and a worker's irqfd pulses the same line the same way. */
void kvm_irq_pulse(void *opaque, unsigned gsi)
{
	kvm_irq_set_level(opaque, gsi, 1);
	kvm_irq_set_level(opaque, gsi, 0);
}

int kvm_ioeventfd(struct vm *vm, uint64_t addr, unsigned len, uint64_t datamatch, int fd,
		  bool assign)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

int kvm_irqfd(struct vm *vm, unsigned gsi, int fd, bool assign)
{
	struct kvm_irqfd irq = { .fd = (uint32_t)fd, .gsi = gsi,
				 .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN };

	return ioctl(vm->vm_fd, KVM_IRQFD, &irq) < 0 ? -errno : 0;
}

void vm_request_exit(struct vm *vm, enum vm_exit_reason why, const char *detail)
{
	int expected = VM_EXIT_NONE;
	uint64_t one = 1;

	pthread_mutex_lock(&vm->exit_lock);
	if (atomic_compare_exchange_strong(&vm->exit_reason, &expected, (int)why) && detail)
		snprintf(vm->exit_detail, sizeof(vm->exit_detail), "%s", detail);
	pthread_mutex_unlock(&vm->exit_lock);
	if (write(vm->exit_efd, &one, sizeof(one)) < 0)
		log_warn("exit eventfd");
}

void vm_request_exit_cb(void *opaque, enum vm_exit_reason why)
{
	vm_request_exit(opaque, why, NULL);
}

void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; vm->vcpus && i < vm->ncpus; i++) {
		if (vm->vcpus[i].run)
			munmap(vm->vcpus[i].run, vm->run_size);
		if (vm->vcpus[i].fd >= 0)
			close(vm->vcpus[i].fd);
	}
	free(vm->vcpus);
	free(vm->cpuid);
	guest_mem_exit(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->exit_efd >= 0)
		close(vm->exit_efd);
}
