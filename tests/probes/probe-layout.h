/* Fixed addresses of the probe image, shared by entry.S, the linker script's asserts and the C
 * code. They are absolute constants (not symbols) so the assembler can split handler and TSS
 * addresses into descriptor fields at assembly time: no ring-0 loops are needed to build the
 * IDT, the GDT or the page tables, which matters because guest ring 0 is emulated here. */
#ifndef PROBE_LAYOUT_H
#define PROBE_LAYOUT_H

#define PROBE_BASE        0x100000   /* load address and ELF entry (1 MiB) */
#define PROBE_STUBS       0x101000   /* 256 interrupt stubs, 16 bytes each */
#define PROBE_STUB_SIZE   16
#define PROBE_IDT         0x102000   /* 256 gates, 16 bytes each */
#define PROBE_GDT         0x103000   /* our GDT (see SEL_* below) */
#define PROBE_TSS         0x103100   /* 64-bit TSS, 104 bytes */
#define PROBE_TSS_LIMIT   0x67
#define PROBE_AP_COUNT    0x103800   /* u32 incremented (lock) by every AP that reached long mode */
#define PROBE_AP_NEXT     0x103804   /* u32 next AP stack slot */
#define PROBE_PML4        0x104000   /* identity map 0..4 GiB, 2 MiB pages, User|RW */
#define PROBE_PDPT        0x105000
#define PROBE_PD          0x106000   /* 4 pages: 0x106000..0x109fff */
#define PROBE_END_FIXED   0x10a000   /* C code and data follow */

/* Real-mode trampoline for the APs: copied here by the BSP; SIPI vector = address >> 12 */
#define PROBE_TRAMP       0x10000
#define PROBE_TRAMP_MAX   0x1000

/* Selectors of our GDT */
#define SEL_KCODE         0x08
#define SEL_KDATA         0x10
#define SEL_UDATA         0x1b       /* 0x18 | RPL 3 */
#define SEL_UCODE         0x23       /* 0x20 | RPL 3 */
#define SEL_TSS           0x28

/* RFLAGS for ring 3: IOPL=3 (ring 3 may use in/out and cli), IF=0, reserved bit 1 */
#define PROBE_USER_RFLAGS 0x3002

#endif
