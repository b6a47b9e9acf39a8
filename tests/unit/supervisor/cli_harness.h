/* What the command-line tests share (test_cli.c, test_cli_net.c): parse an argument list,
 * capture cli_print_config, and compare with a golden output or an exact one-line error. */
#ifndef BULKHEAD_TEST_CLI_HARNESS_H
#define BULKHEAD_TEST_CLI_HARNESS_H

#include "cli.h"

struct run {
	enum cli_result res;
	struct vm_config cfg;
	char err[512];
	char *out;               /* what cli_parse printed (help/version) */
	char *config;            /* cli_print_config output */
};

void run_free(struct run *r);
/* Each takes a NULL-terminated argument list (argv[0] is supplied). */
void run_args(struct run *r, ...);
void expect_golden(const char *golden, ...);
void expect_error(const char *want, ...);
/* Parse -kernel /k plus one option; return the result for field checks. */
struct run parse2(const char *opt, const char *arg);

#define ERR(...) expect_error(__VA_ARGS__, NULL)
#define GOLDEN(...) expect_golden(__VA_ARGS__, NULL)

/* cli_print_config's lines before the devices', for a line with only -kernel and devices. */
#define BASE_CONFIG(kernel) \
	"name=\n" "uuid=\n" "machine.acpi=on\n" "machine.dump-guest-core=on\n" \
	"machine.mem-share=off\n" "kernel=" kernel "\n" "initrd=\n" "append=\n" "smp=1\n" \
	"mem=268435456\n" "mem-path=\n" "serial=\n" "log=\n" "daemonize=off\n" "pidfile=\n" \
	"disable-seccomp=off\n"

#endif
