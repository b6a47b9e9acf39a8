/* bulkhead-core: the VM built from the supervisor's configuration -- KVM, guest RAM, the core's
 * devices, one virtio-mmio slot per disk, the firmware tables and the guest kernel. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include "acpi.h"
#include "boot.h"
#include "core.h"
#include "layout.h"
#include "mptable.h"
#include "resetvec.h"

#define IRQ_KBD 1           /* ISA IRQ 1: the i8042's keyboard interrupt */

void vm_init(struct vm *vm)
{
	pthread_mutex_init(&vm->exit_lock, NULL);
	pthread_mutex_init(&vm->run_lock, NULL);
	pthread_cond_init(&vm->run_cond, NULL);
	vm->exit_efd = eventfd(0, EFD_CLOEXEC);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
}

/* The GED exists only where the DSDT describes it; system_powerdown uses it when the guest
 * will read that DSDT. */
static int register_ged(struct vm *vm, const struct core_config *c, struct irq_sink irq)
{
	if (!(c->flags & CORE_F_ACPI))
		return 0;
	ged_init(&vm->ged, irq, LAYOUT_GED_GSI);
	vm->powerdown_by_ged = !machine_cmdline_acpi_off(c->cmdline);
	return bus_register(&vm->mmio, LAYOUT_GED_BASE, LAYOUT_GED_SIZE, "ged", &ged_ops, &vm->ged);
}

static int register_devices(struct vm *vm, const struct core_config *c)
{
	struct irq_sink irq = { kvm_irq_set_level, vm };
	struct vm_ctl ctl = { vm_request_exit_cb, vm };
	int r;

	serial_init(&vm->serial, (c->flags & CORE_F_SERIAL_STDIO) ? 1 : -1, irq, IRQ_COM1);
	i8042_init(&vm->i8042, ctl);
	i8042_set_irq(&vm->i8042, irq, IRQ_KBD);
	rtc_init(&vm->rtc, c->mem_size);
	acpi_pm_init(&vm->pm, ctl);
	if ((r = bus_register(&vm->pio, PORT_COM1, 8, "serial", &serial_ops, &vm->serial)) ||
	    (r = bus_register(&vm->pio, PORT_I8042_DATA, 1, "i8042", &i8042_data_ops, &vm->i8042)) ||
	    (r = bus_register(&vm->pio, PORT_I8042_CMD, 1, "i8042", &i8042_cmd_ops, &vm->i8042)) ||
	    (r = bus_register(&vm->pio, PORT_CMOS_INDEX, 2, "rtc", &rtc_ops, &vm->rtc)) ||
	    (r = bus_register(&vm->pio, PORT_ACPI_PM, PORT_ACPI_PM_LEN, "acpi-pm", &acpi_pm_ops, &vm->pm)))
		return r;
	return register_ged(vm, c, irq);
}

/* The slots of every worker kind at fixed addresses, described to the guest by the tables built
 * next: the command line's devices fill the first ones of their kind, the rest wait for
 * hotplug empty. A fixed kind's slot exists only up to the last one with a device; one
 * without a device before it stays a placeholder (DeviceID 0, no backend ever). */
static int create_slots(struct vm *vm, const struct core_config *c)
{
	unsigned n = 0;
	int r;

	for (unsigned i = 0; i < WORKER_SLOTS; i++) {
		int kind = worker_kind_of_slot(i);

		if (kind < 0)
			return -EINVAL;
		if (!worker_kinds[kind].fixed || c->slot_kind[i] != IPC_DEV_NONE)
			n = i + 1;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct worker_kind_desc *kind = &worker_kinds[worker_kind_of_slot(i)];

		vm->desc.mmio[i] = (struct mmio_slot_desc){
			.base = LAYOUT_VIRTIO_MMIO_BASE + i * LAYOUT_VIRTIO_MMIO_SIZE,
			.size = LAYOUT_VIRTIO_MMIO_SIZE,
			.irq = LAYOUT_VIRTIO_FIRST_IRQ + i,
		};
		r = vu_slot_init(&vm->slots[i], vm, i, kind,
				 c->slot_kind[i] != IPC_DEV_NONE &&
				 c->slot_kind[i] == kind->ipc_dev_external);
		if (r)
			return r;
		if (c->slot_kind[i] == IPC_DEV_NONE && !kind->fixed)
			vu_slot_set_empty(&vm->slots[i], c->slot_mac[i]);
		if (c->slot_kind[i] != IPC_DEV_NONE && kind->frontend_config)
			vu_slot_set_frontend_config(&vm->slots[i], c);
	}
	vm->desc.nmmio = n;
	return 0;
}

/* ACPI tables by default; with acpi=off an MP table and virtio_mmio.device= on the cmdline. */
static int build_tables(struct vm *vm, const struct core_config *c, char *cmdline, size_t cap,
			uint64_t *rsdp, char *err, size_t errlen)
{
	void *p;
	long n;

	*rsdp = 0;
	if (c->flags & CORE_F_ACPI) {
		p = guest_ptr(&vm->mem, LAYOUT_ACPI_BASE, LAYOUT_ACPI_SIZE);
		n = p ? acpi_build(p, LAYOUT_ACPI_SIZE, LAYOUT_ACPI_BASE, &vm->desc) : -EFAULT;
		*rsdp = LAYOUT_ACPI_BASE;
	} else {
		p = guest_ptr(&vm->mem, LAYOUT_MPTABLE_BASE, LAYOUT_MPTABLE_SIZE);
		n = p ? mptable_build(p, LAYOUT_MPTABLE_SIZE, LAYOUT_MPTABLE_BASE, &vm->desc) : -EFAULT;
		if (n >= 0 && machine_append_mmio_cmdline(cmdline, cap, &vm->desc) < 0)
			n = -ENOSPC;
	}
	if (n < 0) {
		snprintf(err, errlen, "building %s tables: %s", (c->flags & CORE_F_ACPI) ? "ACPI" : "MP",
			 strerror((int)-n));
		return (int)n;
	}
	return 0;
}

static int load_guest(struct vm *vm, const struct core_config *c, const struct core_config_fds *f,
		      char *err, size_t errlen)
{
	struct boot_image img;
	struct boot_params_args args = { 0 };
	struct kvm_regs regs = { 0 };
	struct kvm_sregs sregs;
	char cmdline[sizeof(c->cmdline) + 1024];
	int r;

	snprintf(cmdline, sizeof(cmdline), "%s", c->cmdline);
	r = boot_load_kernel(&vm->mem, f->kernel, &img, err, errlen);
	if (r)
		return r;
	if (f->initrd >= 0) {
		r = boot_load_initrd(&vm->mem, f->initrd, &img, &args.initrd_addr, &args.initrd_size,
				     err, errlen);
		if (r)
			return r;
	}
	r = build_tables(vm, c, cmdline, sizeof(cmdline), &args.rsdp_addr, err, errlen);
	if (r)
		return r;
	r = resetvec_install(&vm->mem);
	if (r) {
		snprintf(err, errlen, "writing the reset-vector stub: %s", strerror(-r));
		return r;
	}
	args.cmdline = cmdline;
	r = boot_write_params(&vm->mem, &img, &args, err, errlen);
	if (r)
		return r;
	if (ioctl(vm->vcpus[0].fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(err, errlen, "KVM_GET_SREGS: %s", strerror(errno));
		return -errno;
	}
	r = boot_setup_cpu(&vm->mem, &img, &regs, &sregs);
	if (!r)
		r = vcpu_set_boot_state(&vm->vcpus[0], &regs, &sregs);
	if (r)
		snprintf(err, errlen, "setting up the boot CPU: %s", strerror(-r));
	return r;
}

int vm_build(struct vm *vm, const struct core_config *c, const struct core_config_fds *f,
	     char *err, size_t errlen)
{
	int r;

	vm->ncpus = c->ncpus;
	vm->desc.ncpus = c->ncpus;
	r = kvm_vm_create(vm, err, errlen);
	if (r)
		return r;
	r = guest_mem_init(&vm->mem, c->mem_size, f->mem, c->flags & CORE_F_DUMP_CORE);
	if (!r)
		r = kvm_vm_map_memory(vm);
	if (r) {
		snprintf(err, errlen, "guest memory (%" PRIu64 " MiB): %s", c->mem_size >> 20,
			 strerror(-r));
		return r;
	}
	r = register_devices(vm, c);
	if (!r)
		r = create_slots(vm, c);
	if (r) {
		snprintf(err, errlen, "registering core devices: %s", strerror(-r));
		return r;
	}
	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->ncpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		r = vcpu_create(vm, i);
		if (r) {
			snprintf(err, errlen, "creating vCPU %u: %s", i, strerror(-r));
			return r;
		}
	}
	return load_guest(vm, c, f, err, errlen);
}
