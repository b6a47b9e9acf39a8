/* Fuzz the command-line parser: the input is split on NUL bytes into argv. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_config cfg;
	char *copy, *argv[64];
	int argc = 0;
	char err[512];
	FILE *out;

	if (size > 8192)
		return 0;
	copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[argc++] = "bulkhead";
	for (size_t i = 0; i < size && argc < 63; ) {
		argv[argc++] = copy + i;
		i += strlen(copy + i) + 1;
	}
	argv[argc] = NULL;
	out = fopen("/dev/null", "w");
	if (cli_parse(argc, argv, &cfg, out, err, sizeof(err)) == CLI_ERROR && !memchr(err, '\0', sizeof(err)))
		abort();
	fclose(out);
	free(copy);
	return 0;
}

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	static const char *const seeds[] = {
		"-kernel\0/k\0-smp\0cpus=4\0-m\0 1G\0-machine\0type=microvm,acpi=off",
		"-name\0vm1\0-uuid\0 01234567-89ab-cdef-0123-456789abcdef\0-kernel\0/k\0-D",
		"-kernel\0/k\0-append\0console=ttyS0\0-serial\0stdio\0-mem-path\0/dev/hugepages",
	};
	const char *s = seeds[i % 3];
	size_t n = 0;

	/* the seeds contain NULs: copy up to the double terminator */
	while (n + 1 < cap && !(s[n] == '\0' && s[n + 1] == '\0') && n < 200)
		n++;
	memcpy(buf, s, n);
	return n;
}
