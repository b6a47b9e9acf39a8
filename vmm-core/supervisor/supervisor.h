/* The supervisor: the privileged launcher that opens host resources named by the
 * configuration, spawns the core as an exec'd child, reaps it and turns the outcome into an
 * exit status. It never touches /dev/kvm or guest memory. Included by the supervisor only. */
#ifndef BULKHEAD_SUPERVISOR_H
#define BULKHEAD_SUPERVISOR_H

#include "config.h"

/* Exit statuses of `bulkhead` */
#define EXIT_VM_ENDED   0   /* the guest reset or powered off */
#define EXIT_VM_FAILED  1   /* a fatal error; one line on stderr (or the -D log) says why */
#define EXIT_USAGE      2   /* bad command line */

int supervisor_run(const struct vm_config *cfg);

#endif
