/* Fuzz the kernel loader: an arbitrary file handed to -kernel (and as -initrd) must be refused
 * or loaded, never crash the core or write outside guest RAM. What loads goes on through
 * boot_params (with a command line whose length follows the input's, against the kernel's
 * cmdline_size) and the boot CPU state. Oracles: the initrd lies above the kernel and inside
 * low RAM (also for other RAM sizes, with the kernel's initrd_addr_max), an ELF entry point
 * is guest RAM, and an accepted command line fits the kernel's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot.h"
#include "fuzzlib.h"
#include "layout.h"


/*
 * Where the initrd of this size would go for the kernel's initrd_addr_max (from the file) in
 * other RAM sizes, and their e820 maps: pure arithmetic on untrusted header values, checked
 * against what the boot protocol asks (page-aligned, above the kernel, below both limits).
 */
static void placements(const struct boot_image *img, uint64_t size)
{
	static const uint64_t ram[] = { 256ULL << 20, 3ULL << 30, 3ULL << 30 | 4096, 8ULL << 30 };

	for (unsigned i = 0; i < sizeof(ram) / sizeof(ram[0]); i++) {
		struct guest_mem m;
		struct e820_entry tbl[BOOT_E820_MAX];
		uint64_t low, at;
		unsigned n;

		guest_mem_layout(&m, ram[i]);
		low = guest_low_ram_end(&m);
		at = boot_initrd_place(size, low, img->load_end, img->initrd_addr_max);
		CHECK(!at || (at % 4096 == 0 && at >= img->load_end && at + size <= low &&
			      at + size - 1 <= img->initrd_addr_max));
		n = boot_build_e820(&m, tbl, BOOT_E820_MAX);
		for (unsigned k = 1; k < n; k++)
			CHECK(tbl[k].addr >= tbl[k - 1].addr + tbl[k - 1].size);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	static int fd = -1;
	static char cmdline[4096];
	struct boot_image img;
	struct boot_params_args a = { .cmdline = cmdline };
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	char err[256];
	/* mostly a usual length; one input in eight up to 4 KiB, past most kernels' limit */
	size_t n = size % 8 == 7 ? (size * 7) % sizeof(cmdline) : size % 200;

	if (fd < 0) {
		if (guest_mem_init(&mem, 256 << 20, -1, false))
			abort();
		fd = memfd_create("fuzz-kernel", 0);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	memset(cmdline, 'x', n);
	cmdline[n] = '\0';
	if (boot_load_kernel(&mem, fd, &img, err, sizeof(err)) != 0)
		return 0;
	/* (a bzImage's entry is at a fixed offset into its payload, whatever its size) */
	CHECK(img.bzimage || guest_ptr(&mem, img.entry, 1) != NULL);
	placements(&img, size);
	if (boot_load_initrd(&mem, fd, &img, &a.initrd_addr, &a.initrd_size, err,
			     sizeof(err)) == 0)
		CHECK(a.initrd_addr >= img.load_end && a.initrd_size == size &&
		      a.initrd_addr + a.initrd_size <= guest_low_ram_end(&mem));
	if (boot_write_params(&mem, &img, &a, err, sizeof(err)) == 0)
		CHECK(n <= img.cmdline_size);
	memset(&sregs, 0, sizeof(sregs));
	CHECK(boot_setup_cpu(&mem, &img, &regs, &sregs) == 0 && regs.rip == img.entry);
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
