/* What the command-line tests share (test_cli.c, test_cli_net.c, ...): parse an argument list,
 * capture cli_print_config, and compare with a golden output or an exact one-line error;
 * write the JSON files -config reads. */
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

/* ---- -config files (test_cli_json.c) ---- */

/* Each test runs in a fresh directory of its own (criterion runs tests in parallel
 * processes), so files have short fixed names and errors read "-config vm.json: ...". */
void json_dir_enter(void);
void json_dir_leave(void);
/* Write text to name in that directory; ' stands for " so the JSON reads plainly in C. */
void json_write(const char *name, const char *text);
/* Write len bytes as they are. */
void json_write_raw(const char *name, const void *p, size_t len);

#define ERR(...) expect_error(__VA_ARGS__, NULL)
#define GOLDEN(...) expect_golden(__VA_ARGS__, NULL)

/* cli_print_config's lines before the devices', for a line with only -kernel and devices. */
#define BASE_CONFIG(kernel) \
	"name=\n" "uuid=\n" "machine.acpi=on\n" "machine.dump-guest-core=on\n" \
	"machine.mem-share=off\n" "kernel=" kernel "\n" "initrd=\n" "append=\n" "smp=1\n" \
	"mem=268435456\n" "mem-path=\n" "serial=\n" "log=\n" "daemonize=off\n" "pidfile=\n" \
	"disable-seccomp=off\n"

#endif
