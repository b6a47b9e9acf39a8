/* Linux x86 boot protocol: load a bzImage (64-bit entry) or an ELF vmlinux, place the initrd,
 * write boot_params with the e820 map and command line, and build the boot CPU state
 * (GDT, identity page tables, long mode, RSI = boot_params). Included by bulkhead-core only. */
#ifndef BULKHEAD_BOOT_H
#define BULKHEAD_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "memory.h"

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

#define BOOT_E820_MAX 128

struct boot_image {
	bool bzimage;              /* true: bzImage; false: ELF vmlinux */
	uint64_t entry;            /* guest-physical 64-bit entry point */
	uint64_t load_end;         /* first byte past the loaded kernel (for initrd placement) */
	uint16_t protocol;         /* boot protocol version (bzImage), 0 for ELF */
	uint32_t initrd_addr_max;  /* highest address the initrd may end at (inclusive) */
	uint32_t cmdline_size;     /* max command line length the kernel accepts */
	uint8_t setup_header[0x290 - 0x1f1]; /* the bzImage setup header, copied into boot_params */
	size_t setup_header_len;
};

/*
 * Load the kernel image from fd into guest memory. Recognises bzImage (needs protocol
 * >= 2.12 and XLF_KERNEL_64) and ELF64 vmlinux (EM_X86_64, PT_LOAD at p_paddr).
 * Everything read from the file is bounds-checked against the file and guest RAM.
 * On error returns -errno and writes a one-line reason into err.
 */
int boot_load_kernel(struct guest_mem *m, int fd, struct boot_image *img, char *err, size_t errlen);

/*
 * Load the initrd from fd at the highest page-aligned address that ends below both
 * img->initrd_addr_max and the top of low RAM, above the kernel. Returns 0 or -errno.
 */
int boot_load_initrd(struct guest_mem *m, int fd, const struct boot_image *img,
		     uint64_t *addr, uint64_t *size, char *err, size_t errlen);

/* Pure initrd placement (unit-tested): returns the address or 0 when it does not fit. */
uint64_t boot_initrd_place(uint64_t initrd_size, uint64_t low_ram_end, uint64_t kernel_end,
			   uint64_t initrd_addr_max);

/* Build the e820 map for m (RAM, reserved EBDA/BIOS areas, ACPI). Returns entry count. */
unsigned boot_build_e820(const struct guest_mem *m, struct e820_entry *tbl, unsigned max);

struct boot_params_args {
	const char *cmdline;       /* final command line */
	uint64_t initrd_addr, initrd_size;
	uint64_t rsdp_addr;        /* 0 when ACPI is off */
};

/*
 * Write boot_params (zero page) at LAYOUT_BOOT_PARAMS and the command line at LAYOUT_CMDLINE.
 * Fails with -E2BIG if the command line exceeds img->cmdline_size.
 */
int boot_write_params(struct guest_mem *m, const struct boot_image *img,
		      const struct boot_params_args *a, char *err, size_t errlen);

/*
 * Write the boot GDT and identity page tables (0..4 GiB, 2 MiB pages) and fill the boot CPU
 * registers for the 64-bit entry: long mode, paging, CS=code64, RIP=entry, RSI=boot_params.
 */
int boot_setup_cpu(struct guest_mem *m, const struct boot_image *img,
		   struct kvm_regs *regs, struct kvm_sregs *sregs);

#endif
