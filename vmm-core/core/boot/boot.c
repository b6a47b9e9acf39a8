/* Linux x86 boot protocol (Documentation/arch/x86/boot.rst): load a bzImage through its
 * 64-bit entry or an ELF vmlinux, place the initrd, write the zero page (boot_params) with
 * the e820 map and command line, and build the long-mode CPU state the kernel expects. */
#include "boot.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "layout.h"
#include "le.h"
#include "util.h"

/* Offsets inside the bzImage file; the setup header sits at the same offsets in boot_params. */
#define HDR_SETUP_SECTS     0x1f1
#define HDR_SYSSIZE         0x1f4
#define HDR_VID_MODE        0x1fa
#define HDR_BOOT_FLAG       0x1fe
#define HDR_JUMP_LEN        0x201   /* low byte of the jump: header ends at 0x202 + this */
#define HDR_MAGIC           0x202
#define HDR_VERSION         0x206
#define HDR_TYPE_OF_LOADER  0x210
#define HDR_LOADFLAGS       0x211
#define HDR_RAMDISK_IMAGE   0x218
#define HDR_RAMDISK_SIZE    0x21c
#define HDR_CMD_LINE_PTR    0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGN    0x230
#define HDR_RELOCATABLE     0x234
#define HDR_XLOADFLAGS      0x236
#define HDR_CMDLINE_SIZE    0x238
#define HDR_PREF_ADDRESS    0x258
#define HDR_INIT_SIZE       0x260
#define HDR_END_2_12        0x268   /* protocol 2.12 defines fields up to here */
#define HDR_MAX_END         0x290

/* Fields of boot_params outside the setup header */
#define BP_ACPI_RSDP_ADDR   0x070
#define BP_EXT_RAMDISK_IMG  0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES     0x1e8
#define BP_E820_TABLE       0x2d0
#define BP_SIZE             4096

#define LOADED_HIGH         0x01
#define CAN_USE_HEAP        0x80
#define XLF_KERNEL_64       0x01
#define BZ_MIN_PROTOCOL     0x020c
#define BZ_ENTRY64_OFFSET   0x200   /* startup_64 is 512 bytes into the payload */

#define ELF_MAX_PHNUM       64
#define ELF_CMDLINE_SIZE    2047        /* what Linux assumes without a setup header */
#define ELF_INITRD_MAX      0x7fffffffU

#define PAGE_SIZE_4K        4096ULL
#define PTE_PRESENT_RW      0x03ULL
#define PTE_PS              0x80ULL

#define GDT_NULL            0x0000000000000000ULL
#define GDT_CODE64          0x00af9b000000ffffULL
#define GDT_DATA            0x00cf93000000ffffULL
#define GDT_TSS             0x008b00000000ffffULL
#define SEL_CODE            0x08
#define SEL_DATA            0x10
#define SEL_TSS             0x18

#define CR0_PE 0x1ULL
#define CR0_MP 0x2ULL
#define CR0_ET 0x10ULL
#define CR0_NE 0x20ULL
#define CR0_WP 0x10000ULL
#define CR0_AM 0x40000ULL
#define CR0_PG 0x80000000ULL
#define CR4_PAE 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}


/* Read exactly len bytes at off; a file that ends early is malformed, not a partial success. */
static int read_full(int fd, void *buf, uint64_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		size_t chunk = len > (1U << 30) ? (1U << 30) : (size_t)len;
		ssize_t n = pread(fd, p, chunk, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int file_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < 0)
		return -EINVAL;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* ---- bzImage ---- */

/* Header checks that need no guest memory: magic was seen, now protocol, 64-bit entry, size. */
static int bz_check(const uint8_t *h, uint64_t fsize, uint64_t *payload_off,
		    char *err, size_t errlen)
{
	uint16_t ver = le_get16(h + HDR_VERSION);
	unsigned sects = h[HDR_SETUP_SECTS] ? h[HDR_SETUP_SECTS] : 4;
	uint64_t hdr_end = 0x202ULL + h[HDR_JUMP_LEN];
	uint64_t off = (sects + 1ULL) * 512;

	if (ver < BZ_MIN_PROTOCOL) {
		seterr(err, errlen, "kernel: bzImage protocol %u.%02u is too old "
		       "(need 2.12 for 64-bit boot)", ver >> 8, ver & 0xff);
		return -ENOEXEC;
	}
	if (hdr_end < HDR_END_2_12) {
		seterr(err, errlen, "kernel: bzImage setup header is too short (ends at 0x%llx)",
		       (unsigned long long)hdr_end);
		return -ENOEXEC;
	}
	if (fsize < hdr_end) {
		seterr(err, errlen, "kernel: bzImage is truncated (%llu bytes)",
		       (unsigned long long)fsize);
		return -ENOEXEC;
	}
	if (!(le_get16(h + HDR_XLOADFLAGS) & XLF_KERNEL_64)) {
		seterr(err, errlen, "kernel: bzImage has no 64-bit entry point (XLF_KERNEL_64 not set)");
		return -ENOEXEC;
	}
	/* syssize counts 16-byte paragraphs of the payload, rounded up: a shorter file is cut off */
	if (fsize <= off || (uint64_t)le_get32(h + HDR_SYSSIZE) * 16 > fsize - off + 15) {
		seterr(err, errlen, "kernel: bzImage is truncated (%llu bytes)",
		       (unsigned long long)fsize);
		return -ENOEXEC;
	}
	*payload_off = off;
	return 0;
}

static bool fits_low(const struct guest_mem *m, uint64_t addr, uint64_t len)
{
	return !range_overflows(addr, len) && addr + len <= guest_low_ram_end(m) &&
	       guest_ptr(m, addr, len) != NULL;
}

/*
 * Where the payload goes. A relocatable kernel may sit at its preferred address (at least
 * 16 MiB) rounded up to its alignment, or at 16 MiB when that does not fit; a
 * non-relocatable one only runs at its preferred address. The kernel decompresses in place
 * and needs `need` bytes (init_size) from there.
 */
static int bz_load_addr(const struct guest_mem *m, const uint8_t *h, uint64_t need,
			uint64_t *addr, char *err, size_t errlen)
{
	uint64_t pref = le_get64(h + HDR_PREF_ADDRESS);
	uint64_t align = le_get32(h + HDR_KERNEL_ALIGN);
	uint64_t a = pref > LAYOUT_KERNEL_LOAD ? pref : LAYOUT_KERNEL_LOAD;

	if (!h[HDR_RELOCATABLE]) {
		a = pref ? pref : LAYOUT_KERNEL_LOAD;
	} else {
		if (align && !(align & (align - 1)) && !range_overflows(a, align))
			a = ALIGN_UP(a, align);
		if (!fits_low(m, a, need))
			a = LAYOUT_KERNEL_LOAD;
	}
	if (!fits_low(m, a, need)) {
		seterr(err, errlen, "kernel: bzImage needs 0x%llx bytes at 0x%llx, more than guest RAM",
		       (unsigned long long)need, (unsigned long long)a);
		return -ENOMEM;
	}
	*addr = a;
	return 0;
}

static int load_bzimage(struct guest_mem *m, int fd, const uint8_t *h, uint64_t fsize,
			struct boot_image *img, char *err, size_t errlen)
{
	uint64_t off, len, need, addr, hdr_end;
	int ret;

	ret = bz_check(h, fsize, &off, err, errlen);
	if (ret)
		return ret;
	len = fsize - off;
	need = le_get32(h + HDR_INIT_SIZE);
	if (need < len)
		need = len;
	ret = bz_load_addr(m, h, need, &addr, err, errlen);
	if (ret)
		return ret;
	ret = read_full(fd, guest_ptr(m, addr, len), len, off);
	if (ret) {
		seterr(err, errlen, "kernel: reading bzImage payload: %s", strerror(-ret));
		return ret;
	}
	hdr_end = 0x202ULL + h[HDR_JUMP_LEN];
	if (hdr_end > HDR_MAX_END)
		hdr_end = HDR_MAX_END;
	img->bzimage = true;
	img->entry = addr + BZ_ENTRY64_OFFSET;
	img->load_end = addr + need;
	img->protocol = le_get16(h + HDR_VERSION);
	img->initrd_addr_max = le_get32(h + HDR_INITRD_ADDR_MAX);
	img->cmdline_size = le_get32(h + HDR_CMDLINE_SIZE);
	img->setup_header_len = hdr_end - HDR_SETUP_SECTS;
	memcpy(img->setup_header, h + HDR_SETUP_SECTS, img->setup_header_len);
	return 0;
}

/* ---- ELF vmlinux ---- */

static int elf_check_ehdr(const Elf64_Ehdr *e, uint64_t fsize, char *err, size_t errlen)
{
	if (e->e_ident[EI_CLASS] != ELFCLASS64 || e->e_ident[EI_DATA] != ELFDATA2LSB ||
	    e->e_machine != EM_X86_64) {
		seterr(err, errlen, "kernel: not a bzImage or ELF64 x86_64 image");
		return -ENOEXEC;
	}
	if (e->e_type != ET_EXEC) {
		seterr(err, errlen, "kernel: ELF image is not an executable (e_type %u)", e->e_type);
		return -ENOEXEC;
	}
	if (e->e_phentsize != sizeof(Elf64_Phdr) || e->e_phnum == 0 ||
	    e->e_phnum > ELF_MAX_PHNUM) {
		seterr(err, errlen, "kernel: ELF program header table is malformed "
		       "(%u entries of %u bytes)", e->e_phnum, e->e_phentsize);
		return -ENOEXEC;
	}
	if (!range_within(e->e_phoff, (uint64_t)e->e_phnum * sizeof(Elf64_Phdr), 0, fsize)) {
		seterr(err, errlen, "kernel: ELF program headers lie past the end of the file");
		return -ENOEXEC;
	}
	return 0;
}

static int elf_load_seg(struct guest_mem *m, int fd, const Elf64_Phdr *p, unsigned idx,
			uint64_t fsize, char *err, size_t errlen)
{
	uint8_t *dst;
	int ret;

	if (p->p_filesz > p->p_memsz) {
		seterr(err, errlen, "kernel: PT_LOAD segment %u has more file bytes than memory", idx);
		return -ENOEXEC;
	}
	if (!range_within(p->p_offset, p->p_filesz, 0, fsize)) {
		seterr(err, errlen, "kernel: PT_LOAD segment %u lies past the end of the file", idx);
		return -ENOEXEC;
	}
	dst = guest_ptr(m, p->p_paddr, p->p_memsz);
	if (!dst || range_overflows(p->p_paddr, p->p_memsz)) {
		seterr(err, errlen, "kernel: PT_LOAD segment %u at 0x%llx does not fit in guest RAM",
		       idx, (unsigned long long)p->p_paddr);
		return -ENOMEM;
	}
	ret = read_full(fd, dst, p->p_filesz, p->p_offset);
	if (ret) {
		seterr(err, errlen, "kernel: reading PT_LOAD segment %u: %s", idx, strerror(-ret));
		return ret;
	}
	memset(dst + p->p_filesz, 0, p->p_memsz - p->p_filesz);
	return 0;
}

/*
 * Linux's vmlinux has a physical e_entry (0x1000000) but virtual p_vaddr; other images may
 * give a virtual entry. Translate through the segment whose virtual range holds it, else
 * accept it as physical if a segment's physical range holds it.
 */
static int elf_entry(const Elf64_Phdr *ph, unsigned n, uint64_t e_entry, uint64_t *entry)
{
	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr != ph[i].p_paddr &&
		    range_within(e_entry, 1, ph[i].p_vaddr, ph[i].p_memsz)) {
			*entry = e_entry - ph[i].p_vaddr + ph[i].p_paddr;
			return 0;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type == PT_LOAD &&
		    range_within(e_entry, 1, ph[i].p_paddr, ph[i].p_memsz)) {
			*entry = e_entry;
			return 0;
		}
	}
	return -ENOEXEC;
}

static int load_elf(struct guest_mem *m, int fd, const Elf64_Ehdr *e, uint64_t fsize,
		    struct boot_image *img, char *err, size_t errlen)
{
	Elf64_Phdr ph[ELF_MAX_PHNUM];
	uint64_t end = 0;
	unsigned nload = 0;
	int ret;

	ret = elf_check_ehdr(e, fsize, err, errlen);
	if (ret)
		return ret;
	ret = read_full(fd, ph, e->e_phnum * sizeof(Elf64_Phdr), e->e_phoff);
	if (ret) {
		seterr(err, errlen, "kernel: reading ELF program headers: %s", strerror(-ret));
		return ret;
	}
	for (unsigned i = 0; i < e->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		ret = elf_load_seg(m, fd, &ph[i], i, fsize, err, errlen);
		if (ret)
			return ret;
		nload++;
		if (ph[i].p_paddr + ph[i].p_memsz > end)
			end = ph[i].p_paddr + ph[i].p_memsz;
	}
	if (!nload || elf_entry(ph, e->e_phnum, e->e_entry, &img->entry)) {
		seterr(err, errlen, "kernel: ELF entry point 0x%llx is not inside a PT_LOAD segment",
		       (unsigned long long)e->e_entry);
		return -ENOEXEC;
	}
	img->bzimage = false;
	img->load_end = end;
	img->protocol = 0;
	img->cmdline_size = ELF_CMDLINE_SIZE;
	img->initrd_addr_max = ELF_INITRD_MAX;
	img->setup_header_len = 0;
	return 0;
}

int boot_load_kernel(struct guest_mem *m, int fd, struct boot_image *img, char *err, size_t errlen)
{
	uint8_t h[HDR_MAX_END];
	uint64_t fsize = 0;
	int ret;

	memset(img, 0, sizeof(*img));
	memset(h, 0, sizeof(h));
	ret = file_size(fd, &fsize);
	if (ret) {
		seterr(err, errlen, "kernel: %s", strerror(-ret));
		return ret;
	}
	/* a short file leaves the rest of h zeroed, which fails every magic check below */
	ret = read_full(fd, h, fsize < sizeof(h) ? fsize : sizeof(h), 0);
	if (ret) {
		seterr(err, errlen, "kernel: reading header: %s", strerror(-ret));
		return ret;
	}
	if (fsize >= HDR_VERSION + 2 && !memcmp(h + HDR_MAGIC, "HdrS", 4))
		return load_bzimage(m, fd, h, fsize, img, err, errlen);
	if (fsize >= sizeof(Elf64_Ehdr) && !memcmp(h, ELFMAG, SELFMAG)) {
		Elf64_Ehdr e;

		memcpy(&e, h, sizeof(e));
		return load_elf(m, fd, &e, fsize, img, err, errlen);
	}
	seterr(err, errlen, "kernel: not a bzImage or ELF64 x86_64 image");
	return -ENOEXEC;
}

/* ---- initrd ---- */

uint64_t boot_initrd_place(uint64_t initrd_size, uint64_t low_ram_end, uint64_t kernel_end,
			   uint64_t initrd_addr_max)
{
	uint64_t limit = low_ram_end, addr;

	/* initrd_addr_max is the highest byte the initrd may occupy, hence the + 1 */
	if (initrd_addr_max < UINT64_MAX && initrd_addr_max + 1 < limit)
		limit = initrd_addr_max + 1;
	if (initrd_size == 0 || initrd_size > limit)
		return 0;
	addr = ALIGN_DOWN(limit - initrd_size, PAGE_SIZE_4K);
	if (addr < kernel_end || addr == 0)
		return 0;
	return addr;
}

int boot_load_initrd(struct guest_mem *m, int fd, const struct boot_image *img,
		     uint64_t *addr, uint64_t *size, char *err, size_t errlen)
{
	uint64_t fsize = 0, at;
	int ret;

	ret = file_size(fd, &fsize);
	if (ret) {
		seterr(err, errlen, "initrd: %s", strerror(-ret));
		return ret;
	}
	if (fsize == 0) {
		seterr(err, errlen, "initrd: file is empty");
		return -EINVAL;
	}
	at = boot_initrd_place(fsize, guest_low_ram_end(m), img->load_end, img->initrd_addr_max);
	if (!at || !guest_ptr(m, at, fsize)) {
		seterr(err, errlen, "initrd: %llu bytes do not fit in guest RAM between the kernel "
		       "(ends 0x%llx) and 0x%llx", (unsigned long long)fsize,
		       (unsigned long long)img->load_end, (unsigned long long)img->initrd_addr_max);
		return -ENOMEM;
	}
	ret = read_full(fd, guest_ptr(m, at, fsize), fsize, 0);
	if (ret) {
		seterr(err, errlen, "initrd: read: %s", strerror(-ret));
		return ret;
	}
	*addr = at;
	*size = fsize;
	return 0;
}

/* ---- e820 and boot_params ---- */

static void e820_add(struct e820_entry *tbl, unsigned max, unsigned *n,
		     uint64_t addr, uint64_t size, uint32_t type)
{
	if (*n >= max || size == 0)
		return;
	tbl[*n] = (struct e820_entry){ .addr = addr, .size = size, .type = type };
	(*n)++;
}

unsigned boot_build_e820(const struct guest_mem *m, struct e820_entry *tbl, unsigned max)
{
	uint64_t low_end = guest_low_ram_end(m);
	unsigned n = 0;

	e820_add(tbl, max, &n, 0, LAYOUT_EBDA, E820_RAM);
	/* EBDA, the ACPI tables and the MP table (0xe0000-0xfffff) must not become RAM */
	e820_add(tbl, max, &n, LAYOUT_EBDA, LAYOUT_HIGHMEM_START - LAYOUT_EBDA, E820_RESERVED);
	if (low_end > LAYOUT_HIGHMEM_START)
		e820_add(tbl, max, &n, LAYOUT_HIGHMEM_START, low_end - LAYOUT_HIGHMEM_START,
			 E820_RAM);
	for (unsigned i = 0; i < m->nr; i++) {
		if (m->r[i].gpa >= LAYOUT_HIGH_RAM_START)
			e820_add(tbl, max, &n, m->r[i].gpa, m->r[i].size, E820_RAM);
	}
	return n;
}

static void write_setup_header(uint8_t *bp, const struct boot_image *img)
{
	size_t len = img->setup_header_len;

	if (img->bzimage) {
		if (len > sizeof(img->setup_header))
			len = sizeof(img->setup_header);
		memcpy(bp + HDR_SETUP_SECTS, img->setup_header, len);
		return;
	}
	/* vmlinux has no setup header; the kernel only checks these to trust the rest */
	le_put16(bp + HDR_BOOT_FLAG, 0xaa55);
	memcpy(bp + HDR_MAGIC, "HdrS", 4);
	le_put16(bp + HDR_VERSION, BZ_MIN_PROTOCOL);
}

static void write_e820(uint8_t *bp, const struct guest_mem *m)
{
	struct e820_entry tbl[BOOT_E820_MAX];
	unsigned n = boot_build_e820(m, tbl, BOOT_E820_MAX);

	bp[BP_E820_ENTRIES] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = bp + BP_E820_TABLE + i * 20;

		le_put64(e, tbl[i].addr);
		le_put64(e + 8, tbl[i].size);
		le_put32(e + 16, tbl[i].type);
	}
}

static int write_cmdline(struct guest_mem *m, const struct boot_image *img, const char *cmdline,
			 char *err, size_t errlen)
{
	size_t len = strlen(cmdline);
	uint64_t max = img->cmdline_size;
	char *dst;

	if (max > LAYOUT_CMDLINE_MAX - 1)
		max = LAYOUT_CMDLINE_MAX - 1;
	if (len > max) {
		seterr(err, errlen, "kernel command line is %zu bytes, the kernel accepts at most %llu",
		       len, (unsigned long long)max);
		return -E2BIG;
	}
	dst = guest_ptr(m, LAYOUT_CMDLINE, len + 1);
	if (!dst) {
		seterr(err, errlen, "kernel command line does not fit in guest RAM");
		return -ENOMEM;
	}
	memcpy(dst, cmdline, len + 1);
	return 0;
}

int boot_write_params(struct guest_mem *m, const struct boot_image *img,
		      const struct boot_params_args *a, char *err, size_t errlen)
{
	uint8_t *bp = guest_ptr(m, LAYOUT_BOOT_PARAMS, BP_SIZE);
	int ret;

	if (!bp) {
		seterr(err, errlen, "boot_params do not fit in guest RAM");
		return -ENOMEM;
	}
	/* command line first so a too-long one leaves guest memory untouched */
	ret = write_cmdline(m, img, a->cmdline ? a->cmdline : "", err, errlen);
	if (ret)
		return ret;
	memset(bp, 0, BP_SIZE);
	write_setup_header(bp, img);
	le_put16(bp + HDR_VID_MODE, 0xffff);       /* "normal" text mode: no mode switch */
	bp[HDR_TYPE_OF_LOADER] = 0xff;          /* undefined/unregistered boot loader */
	/* heap_end_ptr is not set, so the kernel must not think it has a setup heap */
	bp[HDR_LOADFLAGS] = (uint8_t)((bp[HDR_LOADFLAGS] | LOADED_HIGH) & ~CAN_USE_HEAP);
	le_put32(bp + HDR_CMD_LINE_PTR, (uint32_t)LAYOUT_CMDLINE);
	le_put32(bp + BP_EXT_CMD_LINE_PTR, (uint32_t)(LAYOUT_CMDLINE >> 32));
	le_put32(bp + HDR_RAMDISK_IMAGE, (uint32_t)a->initrd_addr);
	le_put32(bp + HDR_RAMDISK_SIZE, (uint32_t)a->initrd_size);
	le_put32(bp + BP_EXT_RAMDISK_IMG, (uint32_t)(a->initrd_addr >> 32));
	le_put32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)(a->initrd_size >> 32));
	if (a->rsdp_addr)
		le_put64(bp + BP_ACPI_RSDP_ADDR, a->rsdp_addr);
	write_e820(bp, m);
	return 0;
}

/* ---- boot CPU ---- */

static int write_gdt_and_pages(struct guest_mem *m)
{
	static const uint64_t gdt[4] = { GDT_NULL, GDT_CODE64, GDT_DATA, GDT_TSS };
	uint8_t *g = guest_ptr(m, LAYOUT_GDT, sizeof(gdt));
	uint8_t *idt = guest_ptr(m, LAYOUT_IDT, 8);
	uint8_t *pml4 = guest_ptr(m, LAYOUT_PML4, PAGE_SIZE_4K);
	uint8_t *pdpt = guest_ptr(m, LAYOUT_PDPT, PAGE_SIZE_4K);
	uint8_t *pd = guest_ptr(m, LAYOUT_PD, 4 * PAGE_SIZE_4K);

	if (!g || !idt || !pml4 || !pdpt || !pd)
		return -ENOMEM;
	for (unsigned i = 0; i < ARRAY_SIZE(gdt); i++)
		le_put64(g + i * 8, gdt[i]);
	memset(idt, 0, 8);
	memset(pml4, 0, PAGE_SIZE_4K);
	memset(pdpt, 0, PAGE_SIZE_4K);
	le_put64(pml4, LAYOUT_PDPT | PTE_PRESENT_RW);
	for (unsigned i = 0; i < 4; i++)
		le_put64(pdpt + i * 8, (LAYOUT_PD + i * PAGE_SIZE_4K) | PTE_PRESENT_RW);
	/* 2048 entries of 2 MiB: the first 4 GiB mapped 1:1 */
	for (uint64_t i = 0; i < 4 * 512; i++)
		le_put64(pd + i * 8, (i << 21) | PTE_PRESENT_RW | PTE_PS);
	return 0;
}

static struct kvm_segment seg(uint16_t sel, uint8_t type, uint8_t s, uint8_t db, uint8_t l,
			      uint8_t g)
{
	return (struct kvm_segment){
		.base = 0, .limit = g ? 0xffffffff : 0xffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = db, .s = s, .l = l, .g = g,
	};
}

int boot_setup_cpu(struct guest_mem *m, const struct boot_image *img,
		   struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	struct kvm_segment data = seg(SEL_DATA, 3, 1, 1, 0, 1);
	int ret = write_gdt_and_pages(m);

	if (ret)
		return ret;
	/* the rest of sregs (apic_base, interrupt bitmap, ...) stays as KVM_GET_SREGS gave it */
	sregs->cs = seg(SEL_CODE, 11, 1, 0, 1, 1);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = seg(SEL_TSS, 11, 0, 0, 0, 0);
	sregs->gdt.base = LAYOUT_GDT;
	sregs->gdt.limit = 4 * 8 - 1;
	sregs->idt.base = LAYOUT_IDT;
	sregs->idt.limit = 0;
	/* 0x80050033, the value Linux itself runs with (its CR0_STATE, AM included) */
	sregs->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
	sregs->cr3 = LAYOUT_PML4;
	sregs->cr4 = CR4_PAE;
	sregs->efer = EFER_LME | EFER_LMA;

	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2;     /* bit 1 is reserved and reads as one */
	regs->rip = img->entry;
	regs->rsi = LAYOUT_BOOT_PARAMS;
	regs->rsp = LAYOUT_BOOT_STACK;
	regs->rbp = LAYOUT_BOOT_STACK;
	return 0;
}
