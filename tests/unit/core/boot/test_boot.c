/* Unit tests for the Linux boot loader (vmm-core/core/boot/boot.c): synthetic bzImage and ELF
 * images in memfds, loaded into anonymous guest RAM and read back at guest-physical
 * addresses. */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot.h"
#include "layout.h"

/* ---- helpers ---- */

static struct guest_mem mem;
static char err[256];

static void mem_new(uint64_t size)
{
	guest_mem_layout(&mem, size);
	for (unsigned i = 0; i < mem.nr; i++) {
		void *p = mmap(NULL, mem.r[i].size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		cr_assert(p != MAP_FAILED);
		mem.r[i].hva = p;
	}
	err[0] = 0;
}

static void mem_free(void)
{
	for (unsigned i = 0; i < mem.nr; i++)
		if (mem.r[i].hva)
			munmap(mem.r[i].hva, mem.r[i].size);
	memset(&mem, 0, sizeof(mem));
}

static uint8_t *gp(uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_ptr(&mem, gpa, len);

	cr_assert_not_null(p, "gpa 0x%llx not in guest RAM", (unsigned long long)gpa);
	return p;
}

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void wr16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static int memfd_with(const void *buf, size_t len)
{
	int fd = memfd_create("test-boot", MFD_CLOEXEC);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	return fd;
}

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 7 + 3 + (i >> 9)); }

/* ---- synthetic bzImage ---- */

struct bz {
	uint8_t setup_sects;
	uint16_t version;
	uint16_t xloadflags;
	uint32_t payload_len;
	uint32_t init_size;
	uint64_t pref;
	uint32_t align;
	uint8_t reloc;
	uint32_t cmdline_size;
	uint32_t initrd_max;
};

static struct bz bz_default(void)
{
	return (struct bz){ .setup_sects = 0, .version = 0x020f, .xloadflags = 0x3,
			    .payload_len = 0x3000, .init_size = 0x800000, .pref = 0x1000000,
			    .align = 0x200000, .reloc = 1, .cmdline_size = 2048,
			    .initrd_max = 0x7fffffff };
}

static uint64_t bz_payload_off(const struct bz *b)
{
	return ((b->setup_sects ? b->setup_sects : 4) + 1ULL) * 512;
}

/* Returns a malloc'd image of *len bytes: setup sectors with a header, then the payload. */
static uint8_t *bz_build(const struct bz *b, size_t *len)
{
	uint64_t off = bz_payload_off(b);
	uint8_t *f;

	*len = off + b->payload_len;
	f = calloc(1, *len);
	cr_assert_not_null(f);
	f[0x1f1] = b->setup_sects;
	wr32(f + 0x1f4, (b->payload_len + 15) / 16);
	wr16(f + 0x1fe, 0xaa55);
	f[0x200] = 0xeb;
	f[0x201] = 0x6a;                 /* header ends at 0x26c, like Linux 6.x */
	memcpy(f + 0x202, "HdrS", 4);
	wr16(f + 0x206, b->version);
	f[0x211] = 0x81;                 /* LOADED_HIGH | CAN_USE_HEAP */
	wr32(f + 0x22c, b->initrd_max);
	wr32(f + 0x230, b->align);
	f[0x234] = b->reloc;
	wr16(f + 0x236, b->xloadflags);
	wr32(f + 0x238, b->cmdline_size);
	wr64(f + 0x258, b->pref);
	wr32(f + 0x260, b->init_size);
	f[0x26b] = 0x5a;                 /* last header byte: must be copied */
	f[0x26c] = 0x77;                 /* past the header: must not be */
	for (uint64_t i = 0; i < b->payload_len; i++)
		f[off + i] = pattern(i);
	return f;
}

static int load_buf(const uint8_t *f, size_t len, struct boot_image *img)
{
	int fd = memfd_with(f, len);
	int ret = boot_load_kernel(&mem, fd, img, err, sizeof(err));

	close(fd);
	return ret;
}

static int load_bz(const struct bz *b, struct boot_image *img)
{
	size_t len;
	uint8_t *f = bz_build(b, &len);
	int ret = load_buf(f, len, img);

	free(f);
	return ret;
}

static void check_payload(uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gp(gpa, len);

	for (uint64_t i = 0; i < len; i++)
		cr_assert_eq(p[i], pattern(i), "payload byte %llu", (unsigned long long)i);
}

TestSuite(bzimage, .fini = mem_free);

Test(bzimage, loads_payload_at_16m)
{
	struct bz b = bz_default();
	struct boot_image img;

	mem_new(256 * MiB);
	cr_assert_eq(load_bz(&b, &img), 0, "%s", err);
	cr_assert(img.bzimage);
	cr_assert_eq(img.entry, 0x1000200);
	cr_assert_eq(img.load_end, 0x1000000 + 0x800000);
	cr_assert_eq(img.protocol, 0x020f);
	cr_assert_eq(img.cmdline_size, 2048);
	cr_assert_eq(img.initrd_addr_max, 0x7fffffff);
	cr_assert_eq(img.setup_header_len, 0x26c - 0x1f1);
	cr_assert_eq(memcmp(img.setup_header + (0x202 - 0x1f1), "HdrS", 4), 0);
	cr_assert_eq(img.setup_header[0x26b - 0x1f1], 0x5a);
	cr_assert_eq(img.setup_header[0x26c - 0x1f1], 0);
	/* setup_sects == 0 means 4: payload starts at 5 * 512 in the file */
	check_payload(0x1000000, b.payload_len);
}

Test(bzimage, setup_sects_give_payload_offset)
{
	struct bz b = bz_default();
	struct boot_image img;

	b.setup_sects = 9;
	mem_new(256 * MiB);
	cr_assert_eq(load_bz(&b, &img), 0, "%s", err);
	cr_assert_eq(img.setup_header[0], 9);
	check_payload(0x1000000, b.payload_len);
}

Test(bzimage, relocatable_uses_aligned_pref_address)
{
	struct bz b = bz_default();
	struct boot_image img;

	b.pref = 0x2080000;
	mem_new(256 * MiB);
	cr_assert_eq(load_bz(&b, &img), 0, "%s", err);
	cr_assert_eq(img.entry, 0x2200000 + 0x200);
	cr_assert_eq(img.load_end, 0x2200000 + b.init_size);
	check_payload(0x2200000, b.payload_len);
}

Test(bzimage, pref_address_that_does_not_fit_falls_back)
{
	struct bz b = bz_default();
	struct boot_image img;

	b.pref = 0x3e00000;
	b.init_size = 0x1000000;
	mem_new(64 * MiB);
	cr_assert_eq(load_bz(&b, &img), 0, "%s", err);
	cr_assert_eq(img.entry, 0x1000200);
	check_payload(0x1000000, b.payload_len);
}

Test(bzimage, init_size_larger_than_ram)
{
	struct bz b = bz_default();
	struct boot_image img;

	b.init_size = 300 * MiB;
	mem_new(256 * MiB);
	cr_assert_eq(load_bz(&b, &img), -ENOMEM);
	cr_assert(strstr(err, "more than guest RAM"), "%s", err);
}

Test(bzimage, bad_magic)
{
	struct bz b = bz_default();
	struct boot_image img;
	size_t len;
	uint8_t *f = bz_build(&b, &len);

	f[0x205] = 'X';
	mem_new(256 * MiB);
	cr_assert_eq(load_buf(f, len, &img), -ENOEXEC);
	cr_assert_str_eq(err, "kernel: not a bzImage or ELF64 x86_64 image");
	free(f);
}

Test(bzimage, old_protocol)
{
	struct bz b = bz_default();
	struct boot_image img;

	b.version = 0x020a;
	mem_new(256 * MiB);
	cr_assert_eq(load_bz(&b, &img), -ENOEXEC);
	cr_assert(strstr(err, "protocol 2.10 is too old (need 2.12"), "%s", err);
	b.version = 0x020c;
	cr_assert_eq(load_bz(&b, &img), 0, "%s", err);
}

Test(bzimage, missing_xlf_kernel_64)
{
	struct bz b = bz_default();
	struct boot_image img;

	b.xloadflags = 0x2;
	mem_new(256 * MiB);
	cr_assert_eq(load_bz(&b, &img), -ENOEXEC);
	cr_assert(strstr(err, "XLF_KERNEL_64"), "%s", err);
}

Test(bzimage, truncated_files)
{
	struct bz b = bz_default();
	struct boot_image img;
	size_t len;
	uint8_t *f = bz_build(&b, &len);

	mem_new(256 * MiB);
	/* payload cut short of what syssize promises */
	cr_assert_eq(load_buf(f, len - 0x100, &img), -ENOEXEC);
	cr_assert(strstr(err, "truncated"), "%s", err);
	/* only the setup sectors */
	cr_assert_eq(load_buf(f, bz_payload_off(&b), &img), -ENOEXEC);
	cr_assert(strstr(err, "truncated"), "%s", err);
	/* the header itself cut off */
	cr_assert_eq(load_buf(f, 0x240, &img), -ENOEXEC);
	cr_assert(strstr(err, "truncated"), "%s", err);
	/* too small to be anything */
	cr_assert_eq(load_buf(f, 100, &img), -ENOEXEC);
	cr_assert_str_eq(err, "kernel: not a bzImage or ELF64 x86_64 image");
	cr_assert_eq(load_buf(f, 0, &img), -ENOEXEC);
	free(f);
}

/* ---- synthetic ELF vmlinux ---- */

#define ELF_FILE_SIZE 0x5000
#define VBASE 0xffffffff80000000ULL

/* Two PT_LOADs (the second with bss) around a PT_NOTE, Linux style: physical e_entry. */
static uint8_t *elf_build(void)
{
	uint8_t *f = calloc(1, ELF_FILE_SIZE);
	Elf64_Ehdr *e = (Elf64_Ehdr *)f;
	Elf64_Phdr *ph = (Elf64_Phdr *)(f + sizeof(*e));

	cr_assert_not_null(f);
	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS64;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_ident[EI_VERSION] = EV_CURRENT;
	e->e_type = ET_EXEC;
	e->e_machine = EM_X86_64;
	e->e_version = EV_CURRENT;
	e->e_entry = 0x1000000;
	e->e_phoff = sizeof(*e);
	e->e_ehsize = sizeof(*e);
	e->e_phentsize = sizeof(Elf64_Phdr);
	e->e_phnum = 3;
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1000, .p_vaddr = VBASE + 0x1000000,
			      .p_paddr = 0x1000000, .p_filesz = 0x3000, .p_memsz = 0x3000 };
	ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x10, .p_paddr = 0x40000000,
			      .p_filesz = 0x10, .p_memsz = 0x10 };
	ph[2] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x4000, .p_vaddr = VBASE + 0x1200000,
			      .p_paddr = 0x1200000, .p_filesz = 0x800, .p_memsz = 0x2000 };
	for (uint64_t i = 0; i < 0x3000; i++)
		f[0x1000 + i] = pattern(i);
	for (uint64_t i = 0; i < 0x800; i++)
		f[0x4000 + i] = pattern(i + 0x3000);
	return f;
}

static Elf64_Ehdr *ehdr(uint8_t *f) { return (Elf64_Ehdr *)f; }
static Elf64_Phdr *phdr(uint8_t *f, unsigned i) { return (Elf64_Phdr *)(f + 64) + i; }

static int load_elf(uint8_t *f, struct boot_image *img)
{
	int ret = load_buf(f, ELF_FILE_SIZE, img);

	free(f);
	return ret;
}

TestSuite(elf, .fini = mem_free);

Test(elf, segments_land_at_paddr)
{
	struct boot_image img;
	uint8_t *bss;

	mem_new(256 * MiB);
	memset(gp(0x1200000, 0x2000), 0xaa, 0x2000);   /* stale bytes the bss must clear */
	cr_assert_eq(load_elf(elf_build(), &img), 0, "%s", err);
	cr_assert_not(img.bzimage);
	cr_assert_eq(img.entry, 0x1000000);
	cr_assert_eq(img.load_end, 0x1202000);
	cr_assert_eq(img.protocol, 0);
	cr_assert_eq(img.cmdline_size, 2047);
	cr_assert_eq(img.initrd_addr_max, 0x7fffffff);
	check_payload(0x1000000, 0x3000);
	bss = gp(0x1200000, 0x2000);
	for (uint64_t i = 0; i < 0x800; i++)
		cr_assert_eq(bss[i], pattern(i + 0x3000));
	for (uint64_t i = 0x800; i < 0x2000; i++)
		cr_assert_eq(bss[i], 0, "bss byte 0x%llx", (unsigned long long)i);
	/* the PT_NOTE's paddr is outside RAM: it must have been skipped, not loaded */
}

Test(elf, virtual_entry_is_translated)
{
	struct boot_image img;
	uint8_t *f = elf_build();

	ehdr(f)->e_entry = VBASE + 0x1200100;
	mem_new(256 * MiB);
	cr_assert_eq(load_elf(f, &img), 0, "%s", err);
	cr_assert_eq(img.entry, 0x1200100);
}

Test(elf, entry_outside_segments)
{
	struct boot_image img;
	uint8_t *f = elf_build();

	ehdr(f)->e_entry = 0x5000000;
	mem_new(256 * MiB);
	cr_assert_eq(load_elf(f, &img), -ENOEXEC);
	cr_assert(strstr(err, "entry point"), "%s", err);
}

Test(elf, segment_outside_ram)
{
	struct boot_image img;
	uint8_t *f = elf_build();

	phdr(f, 2)->p_paddr = 0x20000000;
	mem_new(256 * MiB);
	cr_assert_eq(load_elf(f, &img), -ENOMEM);
	cr_assert_str_eq(err, "kernel: PT_LOAD segment 2 at 0x20000000 does not fit in guest RAM");
}

Test(elf, segment_straddling_ram_end_or_wrapping)
{
	struct boot_image img;
	uint8_t *f = elf_build();

	phdr(f, 2)->p_paddr = 256 * MiB - 0x1000;    /* memsz 0x2000 runs past the end */
	mem_new(256 * MiB);
	cr_assert_eq(load_elf(f, &img), -ENOMEM);
	f = elf_build();
	phdr(f, 0)->p_paddr = 0xfffffffffffff000ULL;
	cr_assert_eq(load_elf(f, &img), -ENOMEM);
}

Test(elf, huge_phnum)
{
	struct boot_image img;
	uint8_t *f = elf_build();

	ehdr(f)->e_phnum = 0xffff;
	mem_new(256 * MiB);
	cr_assert_eq(load_elf(f, &img), -ENOEXEC);
	cr_assert(strstr(err, "program header"), "%s", err);
	f = elf_build();
	ehdr(f)->e_phnum = 65;
	cr_assert_eq(load_elf(f, &img), -ENOEXEC);
	f = elf_build();
	ehdr(f)->e_phnum = 0;
	cr_assert_eq(load_elf(f, &img), -ENOEXEC);
}

Test(elf, phdrs_past_eof)
{
	struct boot_image img;
	uint8_t *f = elf_build();

	ehdr(f)->e_phoff = ELF_FILE_SIZE - 100;
	mem_new(256 * MiB);
	cr_assert_eq(load_elf(f, &img), -ENOEXEC);
	cr_assert(strstr(err, "past the end"), "%s", err);
}

Test(elf, segment_data_past_eof)
{
	struct boot_image img;
	uint8_t *f = elf_build();

	phdr(f, 2)->p_offset = ELF_FILE_SIZE - 0x400;  /* filesz 0x800 */
	mem_new(256 * MiB);
	cr_assert_eq(load_elf(f, &img), -ENOEXEC);
	cr_assert(strstr(err, "segment 2 lies past the end of the file"), "%s", err);
	f = elf_build();
	phdr(f, 0)->p_offset = 0xffffffffffffff00ULL;  /* offset + filesz wraps */
	cr_assert_eq(load_elf(f, &img), -ENOEXEC);
	f = elf_build();
	phdr(f, 2)->p_memsz = 0x400;                   /* filesz 0x800 > memsz, inside the file */
	cr_assert_eq(load_elf(f, &img), -ENOEXEC);
	cr_assert(strstr(err, "segment 2"), "%s", err);
}

Test(elf, wrong_class_machine_type)
{
	struct boot_image img;
	uint8_t *f = elf_build();

	ehdr(f)->e_machine = EM_386;
	mem_new(256 * MiB);
	cr_assert_eq(load_elf(f, &img), -ENOEXEC);
	cr_assert_str_eq(err, "kernel: not a bzImage or ELF64 x86_64 image");
	f = elf_build();
	ehdr(f)->e_ident[EI_CLASS] = ELFCLASS32;
	cr_assert_eq(load_elf(f, &img), -ENOEXEC);
	f = elf_build();
	ehdr(f)->e_type = ET_DYN;
	cr_assert_eq(load_elf(f, &img), -ENOEXEC);
	f = elf_build();
	ehdr(f)->e_phentsize = 32;
	cr_assert_eq(load_elf(f, &img), -ENOEXEC);
}

/* ---- e820 ---- */

static void check_e820(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	cr_assert_eq(e->addr, addr, "addr 0x%llx", (unsigned long long)e->addr);
	cr_assert_eq(e->size, size, "size 0x%llx", (unsigned long long)e->size);
	cr_assert_eq(e->type, type);
}

static unsigned e820_for(uint64_t ram, struct e820_entry *tbl)
{
	struct guest_mem m;

	guest_mem_layout(&m, ram);   /* no mapping needed: the map depends on the layout only */
	return boot_build_e820(&m, tbl, BOOT_E820_MAX);
}

Test(e820, ram_256m)
{
	struct e820_entry t[BOOT_E820_MAX];

	cr_assert_eq(e820_for(256 * MiB, t), 3);
	check_e820(&t[0], 0, 0x9fc00, E820_RAM);
	check_e820(&t[1], 0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED);
	check_e820(&t[2], 0x100000, 256 * MiB - 0x100000, E820_RAM);
}

Test(e820, ram_3g)
{
	struct e820_entry t[BOOT_E820_MAX];

	cr_assert_eq(e820_for(3 * GiB, t), 3);
	check_e820(&t[0], 0, 0x9fc00, E820_RAM);
	check_e820(&t[2], 0x100000, 3 * GiB - 0x100000, E820_RAM);
}

Test(e820, ram_5g_has_high_region)
{
	struct e820_entry t[BOOT_E820_MAX];

	cr_assert_eq(e820_for(5 * GiB, t), 4);
	check_e820(&t[0], 0, 0x9fc00, E820_RAM);
	check_e820(&t[1], 0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED);
	check_e820(&t[2], 0x100000, 3 * GiB - 0x100000, E820_RAM);
	check_e820(&t[3], 4 * GiB, 2 * GiB, E820_RAM);
}

Test(e820, respects_max)
{
	struct e820_entry t[2];
	struct guest_mem m;

	guest_mem_layout(&m, 5 * GiB);
	cr_assert_eq(boot_build_e820(&m, t, 2), 2);
	check_e820(&t[1], 0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED);
}

/* ---- initrd ---- */

Test(initrd, place_fits_at_top_of_ram)
{
	cr_assert_eq(boot_initrd_place(0x100000, 256 * MiB, 0x1800000, 0x7fffffff),
		     256 * MiB - 0x100000);
	/* an unaligned size is placed on a page boundary and still ends below the limit */
	cr_assert_eq(boot_initrd_place(0x1234, 256 * MiB, 0x1800000, 0x7fffffff), 0xfffe000);
}

Test(initrd, place_limited_by_initrd_addr_max)
{
	/* 3 GiB of low RAM but the kernel takes nothing above 0x37ffffff */
	cr_assert_eq(boot_initrd_place(0x200000, 3 * GiB, 0x1800000, 0x37ffffff),
		     0x38000000 - 0x200000);
	cr_assert_eq(boot_initrd_place(0x200000, 3 * GiB, 0x1800000, 0x7fffffff),
		     0x80000000 - 0x200000);
	cr_assert_eq(boot_initrd_place(0x1000, 3 * GiB, 0x1800000, 0xffffffffffffffffULL),
		     3 * GiB - 0x1000);
}

Test(initrd, place_too_big_or_over_kernel)
{
	cr_assert_eq(boot_initrd_place(300 * MiB, 256 * MiB, 0x1800000, 0x7fffffff), 0);
	/* 200 MiB would start at 56 MiB, below a kernel that ends at 64 MiB */
	cr_assert_eq(boot_initrd_place(200 * MiB, 256 * MiB, 64 * MiB, 0x7fffffff), 0);
	/* exactly touching the kernel end is fine */
	cr_assert_eq(boot_initrd_place(192 * MiB, 256 * MiB, 64 * MiB, 0x7fffffff), 64 * MiB);
	cr_assert_eq(boot_initrd_place(0, 256 * MiB, 64 * MiB, 0x7fffffff), 0);
}

TestSuite(initrd_load, .fini = mem_free);

Test(initrd_load, reads_file_into_place)
{
	struct boot_image img = { .load_end = 0x1800000, .initrd_addr_max = 0x7fffffff };
	size_t len = 10000;
	uint8_t *buf = malloc(len);
	uint64_t addr = 0, size = 0;
	int fd;

	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(i);
	fd = memfd_with(buf, len);
	mem_new(256 * MiB);
	cr_assert_eq(boot_load_initrd(&mem, fd, &img, &addr, &size, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(size, len);
	cr_assert_eq(addr, ALIGN_DOWN(256 * MiB - len, 4096));
	check_payload(addr, len);
	/* a kernel that ends too high leaves no room */
	img.load_end = 256 * MiB - 0x1000;
	cr_assert_eq(boot_load_initrd(&mem, fd, &img, &addr, &size, err, sizeof(err)), -ENOMEM);
	cr_assert(strstr(err, "initrd"), "%s", err);
	close(fd);
	free(buf);
}

Test(initrd_load, empty_file)
{
	struct boot_image img = { .load_end = 0x1800000, .initrd_addr_max = 0x7fffffff };
	uint64_t addr, size;
	int fd = memfd_with("", 0);

	mem_new(256 * MiB);
	cr_assert_eq(boot_load_initrd(&mem, fd, &img, &addr, &size, err, sizeof(err)), -EINVAL);
	close(fd);
}

/* ---- boot_params ---- */

TestSuite(params, .fini = mem_free);

static void check_bp_e820_256m(const uint8_t *bp)
{
	static const uint64_t want[3][3] = {
		{ 0, 0x9fc00, E820_RAM },
		{ 0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED },
		{ 0x100000, 256 * MiB - 0x100000, E820_RAM },
	};

	cr_assert_eq(bp[0x1e8], 3);
	for (unsigned i = 0; i < 3; i++) {
		const uint8_t *e = bp + 0x2d0 + i * 20;

		cr_assert_eq(rd64(e), want[i][0]);
		cr_assert_eq(rd64(e + 8), want[i][1]);
		cr_assert_eq(rd32(e + 16), want[i][2]);
	}
	cr_assert_eq(rd64(bp + 0x2d0 + 3 * 20), 0);
}

Test(params, bzimage_fields)
{
	struct bz b = bz_default();
	struct boot_image img;
	struct boot_params_args a = { .cmdline = "console=ttyS0 root=/dev/vda",
				      .initrd_addr = 0xff00000, .initrd_size = 0x100000,
				      .rsdp_addr = 0xe0000 };
	uint8_t *bp;

	mem_new(256 * MiB);
	cr_assert_eq(load_bz(&b, &img), 0, "%s", err);
	bp = gp(LAYOUT_BOOT_PARAMS, 4096);
	memset(bp, 0xcc, 4096);      /* stale bytes that must be zeroed */
	cr_assert_eq(boot_write_params(&mem, &img, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(bp[0x000], 0);
	cr_assert_eq(bp[0x100], 0);
	cr_assert_eq(bp[0xfff], 0);
	cr_assert_eq(rd16(bp + 0x1fe), 0xaa55);
	cr_assert_eq(memcmp(bp + 0x202, "HdrS", 4), 0);
	cr_assert_eq(rd16(bp + 0x206), 0x020f);
	cr_assert_eq(rd32(bp + 0x238), 2048);        /* rest of the header copied */
	cr_assert_eq(bp[0x26b], 0x5a);
	cr_assert_eq(bp[0x26c], 0);                  /* nothing past the header end */
	cr_assert_eq(rd16(bp + 0x1fa), 0xffff);
	cr_assert_eq(bp[0x210], 0xff);
	cr_assert_eq(bp[0x211], 0x01);               /* LOADED_HIGH, CAN_USE_HEAP cleared */
	cr_assert_eq(rd32(bp + 0x228), LAYOUT_CMDLINE);
	cr_assert_eq(rd32(bp + 0x0c8), 0);
	cr_assert_eq(rd32(bp + 0x218), 0xff00000);
	cr_assert_eq(rd32(bp + 0x21c), 0x100000);
	cr_assert_eq(rd32(bp + 0x0c0), 0);
	cr_assert_eq(rd32(bp + 0x0c4), 0);
	cr_assert_eq(rd64(bp + 0x070), 0xe0000);
	check_bp_e820_256m(bp);
	cr_assert_str_eq((char *)gp(LAYOUT_CMDLINE, 64), "console=ttyS0 root=/dev/vda");
}

Test(params, high_initrd_and_no_rsdp)
{
	struct bz b = bz_default();
	struct boot_image img;
	struct boot_params_args a = { .cmdline = "", .initrd_addr = 0x123456000ULL,
				      .initrd_size = 0x200001000ULL, .rsdp_addr = 0 };
	uint8_t *bp;

	mem_new(256 * MiB);
	cr_assert_eq(load_bz(&b, &img), 0, "%s", err);
	cr_assert_eq(boot_write_params(&mem, &img, &a, err, sizeof(err)), 0, "%s", err);
	bp = gp(LAYOUT_BOOT_PARAMS, 4096);
	cr_assert_eq(rd32(bp + 0x218), 0x23456000);
	cr_assert_eq(rd32(bp + 0x0c0), 0x1);
	cr_assert_eq(rd32(bp + 0x21c), 0x1000);
	cr_assert_eq(rd32(bp + 0x0c4), 0x2);
	cr_assert_eq(rd64(bp + 0x070), 0);
	cr_assert_eq(*gp(LAYOUT_CMDLINE, 1), 0);
}

Test(params, elf_minimal_header)
{
	struct boot_image img;
	struct boot_params_args a = { .cmdline = "quiet", .rsdp_addr = 0xe0000 };
	uint8_t *bp;

	mem_new(5 * GiB);
	cr_assert_eq(load_elf(elf_build(), &img), 0, "%s", err);
	cr_assert_eq(boot_write_params(&mem, &img, &a, err, sizeof(err)), 0, "%s", err);
	bp = gp(LAYOUT_BOOT_PARAMS, 4096);
	cr_assert_eq(rd16(bp + 0x1fe), 0xaa55);
	cr_assert_eq(memcmp(bp + 0x202, "HdrS", 4), 0);
	cr_assert_eq(rd16(bp + 0x206), 0x020c);
	cr_assert_eq(bp[0x1f1], 0);
	cr_assert_eq(bp[0x210], 0xff);
	cr_assert_eq(bp[0x211], 0x01);
	cr_assert_eq(rd32(bp + 0x228), LAYOUT_CMDLINE);
	cr_assert_eq(bp[0x1e8], 4);
	cr_assert_eq(rd64(bp + 0x2d0 + 3 * 20), 4 * GiB);
	cr_assert_eq(rd64(bp + 0x2d0 + 3 * 20 + 8), 2 * GiB);
	cr_assert_eq(rd32(bp + 0x2d0 + 3 * 20 + 16), E820_RAM);
	cr_assert_str_eq((char *)gp(LAYOUT_CMDLINE, 6), "quiet");
}

static char *long_string(size_t n)
{
	char *s = malloc(n + 1);

	memset(s, 'a', n);
	s[n] = 0;
	return s;
}

Test(params, cmdline_too_long)
{
	struct bz b = bz_default();
	struct boot_image img;
	struct boot_params_args a = { 0 };
	char *s2048 = long_string(2048), *s2049 = long_string(2049);
	char *s64k = long_string(LAYOUT_CMDLINE_MAX);

	mem_new(256 * MiB);
	cr_assert_eq(load_bz(&b, &img), 0, "%s", err);
	a.cmdline = s2049;
	cr_assert_eq(boot_write_params(&mem, &img, &a, err, sizeof(err)), -E2BIG);
	cr_assert(strstr(err, "2049"), "%s", err);
	a.cmdline = s2048;
	cr_assert_eq(boot_write_params(&mem, &img, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(strlen((char *)gp(LAYOUT_CMDLINE, 2049)), 2048);
	/* the kernel's own limit is capped by the space reserved at LAYOUT_CMDLINE */
	img.cmdline_size = 0xffffffff;
	a.cmdline = s64k;
	cr_assert_eq(boot_write_params(&mem, &img, &a, err, sizeof(err)), -E2BIG);
	s64k[LAYOUT_CMDLINE_MAX - 1] = 0;
	cr_assert_eq(boot_write_params(&mem, &img, &a, err, sizeof(err)), 0, "%s", err);
	/* ELF images get Linux's default 2047 */
	cr_assert_eq(load_elf(elf_build(), &img), 0, "%s", err);
	a.cmdline = s2048;
	cr_assert_eq(boot_write_params(&mem, &img, &a, err, sizeof(err)), -E2BIG);
	free(s2048);
	free(s2049);
	free(s64k);
}

/* ---- boot CPU ---- */

TestSuite(cpu, .fini = mem_free);

Test(cpu, gdt_and_page_tables)
{
	struct boot_image img = { .entry = 0x1000200 };
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	const uint8_t *pd;

	memset(&sregs, 0, sizeof(sregs));
	mem_new(256 * MiB);
	memset(gp(LAYOUT_PML4, 0x6000), 0xee, 0x6000);  /* stale entries must not survive */
	cr_assert_eq(boot_setup_cpu(&mem, &img, &regs, &sregs), 0);
	cr_assert_eq(rd64(gp(LAYOUT_GDT, 8)), 0);
	cr_assert_eq(rd64(gp(LAYOUT_GDT + 8, 8)), 0x00af9b000000ffffULL);
	cr_assert_eq(rd64(gp(LAYOUT_GDT + 16, 8)), 0x00cf93000000ffffULL);
	cr_assert_eq(rd64(gp(LAYOUT_GDT + 24, 8)), 0x008b00000000ffffULL);
	cr_assert_eq(rd64(gp(LAYOUT_PML4, 8)), LAYOUT_PDPT | 0x03);
	for (unsigned i = 1; i < 512; i++)
		cr_assert_eq(rd64(gp(LAYOUT_PML4 + i * 8, 8)), 0);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(rd64(gp(LAYOUT_PDPT + i * 8, 8)), (LAYOUT_PD + i * 0x1000) | 0x03);
	for (unsigned i = 4; i < 512; i++)
		cr_assert_eq(rd64(gp(LAYOUT_PDPT + i * 8, 8)), 0);
	pd = gp(LAYOUT_PD, 0x4000);
	cr_assert_eq(rd64(pd), 0x83);
	cr_assert_eq(rd64(pd + 8), 0x200083);
	cr_assert_eq(rd64(pd + 512 * 8), 0x40000083);
	cr_assert_eq(rd64(pd + 2047 * 8), 0xffe00083ULL);
	for (uint64_t i = 0; i < 2048; i++)
		cr_assert_eq(rd64(pd + i * 8), (i << 21) | 0x83);
}

static void check_seg(const struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t db,
		      uint8_t l)
{
	cr_assert_eq(s->base, 0);
	cr_assert_eq(s->limit, 0xffffffff);
	cr_assert_eq(s->selector, sel);
	cr_assert_eq(s->type, type);
	cr_assert_eq(s->present, 1);
	cr_assert_eq(s->dpl, 0);
	cr_assert_eq(s->db, db);
	cr_assert_eq(s->s, 1);
	cr_assert_eq(s->l, l);
	cr_assert_eq(s->g, 1);
}

Test(cpu, registers)
{
	struct boot_image img = { .entry = 0x1000200 };
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	memset(&regs, 0x55, sizeof(regs));
	memset(&sregs, 0, sizeof(sregs));
	sregs.apic_base = 0xfee00900;        /* from KVM_GET_SREGS: must be kept */
	sregs.cr8 = 3;
	mem_new(256 * MiB);
	cr_assert_eq(boot_setup_cpu(&mem, &img, &regs, &sregs), 0);
	cr_assert_eq(sregs.apic_base, 0xfee00900);
	cr_assert_eq(sregs.cr8, 3);
	cr_assert_eq(sregs.cr0, 0x80050033);
	cr_assert_eq(sregs.cr3, LAYOUT_PML4);
	cr_assert_eq(sregs.cr4, 0x20);
	cr_assert_eq(sregs.efer, 0x500);
	check_seg(&sregs.cs, 0x08, 11, 0, 1);
	check_seg(&sregs.ds, 0x10, 3, 1, 0);
	check_seg(&sregs.es, 0x10, 3, 1, 0);
	check_seg(&sregs.fs, 0x10, 3, 1, 0);
	check_seg(&sregs.gs, 0x10, 3, 1, 0);
	check_seg(&sregs.ss, 0x10, 3, 1, 0);
	cr_assert_eq(sregs.tr.selector, 0x18);
	cr_assert_eq(sregs.tr.type, 11);
	cr_assert_eq(sregs.tr.present, 1);
	cr_assert_eq(sregs.tr.s, 0);
	cr_assert_eq(sregs.gdt.base, LAYOUT_GDT);
	cr_assert_eq(sregs.gdt.limit, 31);
	cr_assert_eq(sregs.idt.base, LAYOUT_IDT);
	cr_assert_eq(sregs.idt.limit, 0);
	cr_assert_eq(regs.rflags, 0x2);
	cr_assert_eq(regs.rip, 0x1000200);
	cr_assert_eq(regs.rsi, LAYOUT_BOOT_PARAMS);
	cr_assert_eq(regs.rsp, LAYOUT_BOOT_STACK);
	cr_assert_eq(regs.rbp, LAYOUT_BOOT_STACK);
	cr_assert_eq(regs.rax, 0);
	cr_assert_eq(regs.rdi, 0);
}
