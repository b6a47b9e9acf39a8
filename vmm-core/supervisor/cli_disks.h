/* Supervisor only: the disk options of the command line (cli_disks.c), for cli.c's option
 * table. */
#ifndef BULKHEAD_CLI_DISKS_H
#define BULKHEAD_CLI_DISKS_H

#include <stdio.h>

#include "cli_props.h"

int cli_opt_drive(struct cli_state *st, const struct cli_opt *o, const char *arg);
int cli_opt_device(struct cli_state *st, const struct cli_opt *o, const char *arg);
int cli_opt_chardev(struct cli_state *st, const struct cli_opt *o, const char *arg);
/* Bind devices to drives and chardevs, and number the disks' slots in command-line order. */
int cli_resolve_disks(struct cli_state *st);
void cli_print_devices(FILE *out, const struct vm_config *c);

#endif
