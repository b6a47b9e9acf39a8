/* bulkhead: parse the command line, then become the supervisor. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "sandbox.h"
#include "supervisor.h"

/* --print-sandbox-profile KIND: the rules that kind of child runs under (common/profiles/). */
static int print_sandbox_profile(const char *name)
{
	int kind = sandbox_kind_from_name(name);

	if (kind < 0) {
		fprintf(stderr, "bulkhead: --print-sandbox-profile: unknown kind '%s'; one of:", name);
		for (int k = 0; k < SANDBOX_KIND_MAX; k++)
			fprintf(stderr, " %s", sandbox_profile(k)->name);
		fprintf(stderr, "\n");
		return EXIT_USAGE;
	}
	sandbox_print_profile(stdout, kind);
	return 0;
}

int main(int argc, char **argv)
{
	static struct vm_config cfg;
	char err[512];

	log_init("bulkhead", 2);
	if (argc == 3 && !strcmp(argv[1], "--print-sandbox-profile"))
		return print_sandbox_profile(argv[2]);
	switch (cli_parse(argc, argv, &cfg, stdout, err, sizeof(err))) {
	case CLI_OK:
		break;
	case CLI_EXIT_OK:
		return 0;
	case CLI_ERROR:
	default:
		fprintf(stderr, "bulkhead: %s\n", err);
		return EXIT_USAGE;
	}
	return supervisor_run(&cfg);
}
