/* bulkhead-core only: the steps of its main() (main.c), apart so each file has one job. */
#ifndef BULKHEAD_CORE_H
#define BULKHEAD_CORE_H

#include <stdbool.h>
#include <stddef.h>

#include "control.h"
#include "ipc.h"
#include "vm.h"

/* build.c */
/* Locks, the exit eventfd and the two buses of a zeroed vm. */
void vm_init(struct vm *vm);
/* KVM, guest RAM, devices, slots, vCPUs, firmware tables and the kernel from the supervisor's
 * configuration; on failure -errno and one line in err. */
int vm_build(struct vm *vm, const struct core_config *c, const struct core_config_fds *f,
	     char *err, size_t errlen);

/* loop.c */
/* What control.c may do to the VM (pause, end, power down, attach and unplug backends). */
extern const struct control_ops vm_control_ops;
/* Wait for the first backend of every boot disk, before any vCPU can see DeviceID. */
void vm_boot_attach(struct vm *vm, struct control *ctl, int ipc);
/* Until the VM ends: the supervisor, qmpd, serial input and backend hang-ups. */
void vm_run_loop(struct vm *vm, struct control *ctl, int ipc, bool serial_in);
/* Tell the supervisor how the VM ended; the core's exit status. */
int vm_report_exit(struct vm *vm, int ipc);

#endif
