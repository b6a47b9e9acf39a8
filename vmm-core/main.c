/* bulkhead: parse the command line, then become the supervisor. */
#include <stdio.h>

#include "cli.h"
#include "log.h"
#include "supervisor.h"

int main(int argc, char **argv)
{
	static struct vm_config cfg;
	char err[512];

	log_init("bulkhead", 2);
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
