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
	/* argv words separated by NULs; sizeof - 1 drops the literal's own terminator */
	static const char s0[] = "-kernel\0/k\0-smp\0cpus=4\0-m\0 1G\0-machine\0type=microvm,acpi=off";
	static const char s1[] = "-name\0vm1\0-uuid\0 01234567-89ab-cdef-0123-456789abcdef\0-kernel\0/k\0-D";
	static const char s2[] = "-kernel\0/k\0-append\0console=ttyS0\0-serial\0stdio\0-mem-path\0/dev/hugepages";
	static const struct { const char *s; size_t n; } seeds[] = {
		{ s0, sizeof(s0) - 1 }, { s1, sizeof(s1) - 1 }, { s2, sizeof(s2) - 1 },
	};
	size_t n = seeds[i % 3].n < cap ? seeds[i % 3].n : cap;

	memcpy(buf, seeds[i % 3].s, n);
	return n;
}
