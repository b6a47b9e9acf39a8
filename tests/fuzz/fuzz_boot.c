/* Fuzz the kernel loader: an arbitrary file handed to -kernel (and as -initrd) must be refused
 * or loaded, never crash the core or write outside guest RAM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot.h"
#include "layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	static int fd = -1;
	struct boot_image img;
	struct boot_params_args a = { .cmdline = "console=ttyS0" };
	char err[256];

	if (fd < 0) {
		if (guest_mem_init(&mem, 256 << 20, -1, false))
			abort();
		fd = memfd_create("fuzz-kernel", 0);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	if (boot_load_kernel(&mem, fd, &img, err, sizeof(err)) == 0) {
		boot_load_initrd(&mem, fd, &img, &a.initrd_addr, &a.initrd_size, err, sizeof(err));
		boot_write_params(&mem, &img, &a, err, sizeof(err));
	}
	return 0;
}

/* Seeds: the start of a bzImage header and of an ELF64 header, to get past the magic checks. */
size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	if (cap < 4096)
		return 0;
	memset(buf, 0, 4096);
	if (i % 3 == 0) {
		buf[0x1f1] = 4;                         /* setup_sects */
		memcpy(buf + 0x1fe, "\x55\xaa", 2);
		memcpy(buf + 0x202, "HdrS", 4);
		buf[0x206] = 0x0f; buf[0x207] = 0x02;   /* protocol 2.15 */
		buf[0x236] = 0x01;                      /* XLF_KERNEL_64 */
		buf[0x260] = 0x00; buf[0x262] = 0x10;   /* init_size 1 MiB */
		return 4096;
	}
	if (i % 3 == 1) {
		memcpy(buf, "\x7f" "ELF\x02\x01\x01", 7);
		buf[16] = 2;  buf[18] = 62;             /* ET_EXEC, EM_X86_64 */
		buf[32] = 64;                           /* e_phoff */
		buf[54] = 56; buf[56] = 1;              /* e_phentsize, e_phnum */
		buf[64] = 1;                            /* PT_LOAD */
		buf[64 + 0x19] = 0x00; buf[64 + 0x1a] = 0x10; /* p_paddr 1 MiB */
		buf[64 + 0x20] = 0x10;                  /* p_filesz */
		buf[64 + 0x28] = 0x10;                  /* p_memsz */
		return 4096;
	}
	return 0;
}
