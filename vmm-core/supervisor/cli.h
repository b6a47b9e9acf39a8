/* Included by bulkhead (the supervisor, privileged) only. */
/* StratoVirt-compatible command line of `bulkhead`, parsed into struct vm_config. */
#ifndef BULKHEAD_CLI_H
#define BULKHEAD_CLI_H

#include <stdio.h>
#include "config.h"

enum cli_result {
	CLI_OK = 0,       /* run the VM described by cfg */
	CLI_EXIT_OK,      /* --help / --version printed; exit 0 */
	CLI_ERROR,        /* err holds one line naming the option; exit 2 */
};

/*
 * Parse argv (argv[0] is the program) into cfg, filling defaults first. --help and --version
 * print to out. On CLI_ERROR, err holds a single line such as
 * "-smp: '0' is out of range (1-254)".
 */
enum cli_result cli_parse(int argc, char **argv, struct vm_config *cfg, FILE *out,
			  char *err, size_t errlen);

/* Print cfg as "key=value" lines in a fixed order (golden tests, --print-config). */
void cli_print_config(FILE *out, const struct vm_config *cfg);

#endif
