/*
 * Fuzz -config's JSON file (cli_json.c): the input is the file's bytes, written to a memfd and
 * read back through /proc/self/fd as `bulkhead -config FILE` reads its file, then the command
 * line's checks (cli_parse) run over what it filled. Oracles: no crash, no sanitizer report,
 * and every error is one NUL-terminated line naming the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "fuzzlib.h"
#include "util.h"

static int memfd = -1;
static char path[64];

/* The file: the memfd, rewritten for each input (created once: a harness runs millions). */
static const char *write_file(const uint8_t *data, size_t size)
{
	if (memfd < 0) {
		memfd = memfd_create("fuzz-config", MFD_CLOEXEC);
		CHECK(memfd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	CHECK(ftruncate(memfd, 0) == 0);
	CHECK(size == 0 || pwrite(memfd, data, size, 0) == (ssize_t)size);
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_config cfg;
	char *argv[] = { "bulkhead", "-config", (char *)write_file(data, size), NULL };
	char err[512];
	FILE *out = fopen("/dev/null", "w");

	CHECK(out);
	if (cli_parse(3, argv, &cfg, out, err, sizeof(err)) == CLI_ERROR) {
		CHECK(memchr(err, '\0', sizeof(err)));
		CHECK(!strchr(err, '\n'));
		/* "-config FILE: ...", or check_config's line naming its option */
		CHECK(err[0] == '-');
	} else {
		cli_print_config(out, &cfg);
	}
	fclose(out);
	return 0;
}

/* Well-formed files to mutate: the manual's keys, each section once. */
size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	static const char *const seeds[] = {
		"{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"console=ttyS0\","
		" \"initrd_fs_path\": \"/i\"}, \"machine-config\": {\"type\": \"MicroVm\","
		" \"vcpu_count\": 2, \"mem_size\": 268435456, \"dump_guest_core\": false,"
		" \"mem-share\": true, \"mem_path\": \"/dev/hugepages\"}, \"serial\": {\"stdio\": true}}",
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"iothread\": [{\"id\": \"t1\"}],"
		" \"drive\": [{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\", \"read_only\": true,"
		" \"direct\": false, \"serial_num\": \"abc\", \"iothread\": \"t1\", \"iops\": 200}]}",
		"{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"net\": [{\"iface_id\": \"net0\","
		" \"host_dev_name\": \"tap0\", \"mac\": \"0e:90:df:9f:a8:88\", \"iothread\": \"t\"}],"
		" \"vsock\": {\"vsock_id\": \"v\", \"guest_cid\": 4}}",
	};
	const char *s = seeds[i % ARRAY_SIZE(seeds)];
	size_t n = strlen(s) < cap ? strlen(s) : cap;

	memcpy(buf, s, n);
	return n;
}
