/* Guest physical address map of the bulkhead microvm (x86_64). One place for every fixed
 * address so the boot loader, the tables and the devices agree. Included by bulkhead-core only. */
#ifndef BULKHEAD_LAYOUT_H
#define BULKHEAD_LAYOUT_H

#include "util.h"

/* Low memory used by the boot path */
#define LAYOUT_GDT            0x500ULL        /* boot GDT: null, code64, data, tss */
#define LAYOUT_IDT            0x520ULL        /* empty IDT (limit 0) */
#define LAYOUT_BOOT_PARAMS    0x7000ULL       /* struct boot_params (zero page), 4 KiB */
#define LAYOUT_PML4           0x9000ULL       /* boot page tables: identity map of 0..4 GiB */
#define LAYOUT_PDPT           0xa000ULL
#define LAYOUT_PD             0xb000ULL       /* 4 pages: 0xb000..0xefff, 2 MiB pages */
#define LAYOUT_CMDLINE        0x20000ULL      /* kernel command line */
#define LAYOUT_CMDLINE_MAX    0x10000ULL
#define LAYOUT_EBDA           0x9fc00ULL      /* e820 RAM is [0, EBDA); EBDA..1 MiB reserved */
#define LAYOUT_LOWMEM_END     0xa0000ULL
#define LAYOUT_ACPI_BASE      0xe0000ULL      /* RSDP first, then the tables; Linux scans here */
#define LAYOUT_ACPI_SIZE      0x10000ULL
#define LAYOUT_MPTABLE_BASE   0xf0000ULL      /* MP floating pointer + table (acpi=off) */
#define LAYOUT_MPTABLE_SIZE   0xfff0ULL       /* up to the reset vector */
#define LAYOUT_RESET_VECTOR   0xffff0ULL      /* F000:FFF0: resetvec.c's stub, 16 bytes */
#define LAYOUT_HIGHMEM_START  0x100000ULL     /* 1 MiB */
#define LAYOUT_KERNEL_LOAD    0x1000000ULL    /* bzImage protected-mode code (16 MiB) */
#define LAYOUT_BOOT_STACK     0x8ff0ULL       /* initial RSP for the boot CPU */

/* 32-bit MMIO hole; guests larger than this keep the rest above 4 GiB */
#define LAYOUT_MMIO_HOLE      0xc0000000ULL   /* 3 GiB */
#define LAYOUT_HIGH_RAM_START 0x100000000ULL  /* 4 GiB */

/* virtio-mmio slots: one 4 KiB window each, interrupts from the IOAPIC */
#define LAYOUT_VIRTIO_MMIO_BASE 0xd0000000ULL
#define LAYOUT_VIRTIO_MMIO_SIZE 0x1000ULL
#define LAYOUT_VIRTIO_MMIO_SLOTS 16
#define LAYOUT_VIRTIO_FIRST_IRQ  5

/* ACPI Generic Event Device (ged.c): the power button of hardware-reduced ACPI. GSIs 5-20
 * can go to virtio-mmio slots, 9 is named as the SCI, 21-23 are free: take 22, so a slot
 * table that ends on the last pin (23) still fits. */
#define LAYOUT_GED_BASE       0xfea00000ULL   /* below the IOAPIC, where QEMU microvm has it */
#define LAYOUT_GED_SIZE       0x1000ULL
#define LAYOUT_GED_GSI        22

#define LAYOUT_IOAPIC_BASE    0xfec00000ULL
#define LAYOUT_LAPIC_BASE     0xfee00000ULL
#define LAYOUT_IOAPIC_PINS    24

/* Port I/O */
#define PORT_I8042_DATA       0x60
#define PORT_I8042_CMD        0x64
#define PORT_CMOS_INDEX       0x70
#define PORT_CMOS_DATA        0x71
#define PORT_COM1             0x3f8
#define IRQ_COM1              4
#define PORT_ACPI_PM          0x600   /* hardware-reduced ACPI: sleep control/status, reset */
#define PORT_ACPI_PM_LEN      4
#define ACPI_PM_SLEEP_CTL     (PORT_ACPI_PM + 0)
#define ACPI_PM_SLEEP_STS     (PORT_ACPI_PM + 1)
#define ACPI_PM_RESET         (PORT_ACPI_PM + 2)
#define ACPI_PM_RESET_VALUE   0x1
#define ACPI_S5_SLP_TYP       5       /* value the DSDT's \_S5 package hands the OS */

#endif
