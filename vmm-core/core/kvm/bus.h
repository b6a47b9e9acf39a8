/* Included by bulkhead-core only (sandboxed). */
/* Port-I/O and MMIO dispatch for devices emulated in the core, and the small callbacks those
 * devices use to raise interrupts and to end the VM. Ranges are registered before the vCPUs
 * start and never change afterwards, so lookups from vCPU threads take no lock. */
#ifndef BULKHEAD_BUS_H
#define BULKHEAD_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* A device gives read/write, or read8/write8 when its registers are all one byte wide (the
 * legacy PC devices): those see the access's first byte only, and the other bytes of a wider
 * read are zero. A missing write ignores writes; a missing read reads all-ones. */
struct bus_dev_ops {
	/* offset is relative to the registered base; len is 1, 2, 4 or 8 */
	void (*read)(void *opaque, uint64_t offset, void *data, unsigned len);
	void (*write)(void *opaque, uint64_t offset, const void *data, unsigned len);
	uint8_t (*read8)(void *opaque, uint64_t offset);
	void (*write8)(void *opaque, uint64_t offset, uint8_t v);
};

#define BUS_MAX_RANGES 64

struct bus_range {
	uint64_t base, len;
	const struct bus_dev_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;          /* "pio" or "mmio", for log lines */
	struct bus_range r[BUS_MAX_RANGES];
	unsigned nr;
};

void bus_init(struct bus *b, const char *name);
/* Returns 0, -EEXIST on overlap, -ENOSPC when full. */
int bus_register(struct bus *b, uint64_t base, uint64_t len, const char *name,
		 const struct bus_dev_ops *ops, void *opaque);
/*
 * Route one access. Returns false when no device claims addr; the caller then logs once per
 * address (rate-limited) and reads return all-ones.
 */
bool bus_access(struct bus *b, uint64_t addr, void *data, unsigned len, bool is_write);
/* One access to one device through its ops, as bus_access makes it. */
void bus_dev_access(const struct bus_dev_ops *ops, void *opaque, uint64_t offset, void *data,
		    unsigned len, bool is_write);

/* How a core device raises an interrupt line (KVM_IRQ_LINE in the real VM, a recorder in tests). */
struct irq_sink {
	void (*set_level)(void *opaque, unsigned gsi, int level);
	void *opaque;
};

enum vm_exit_reason {
	VM_EXIT_NONE = 0,
	VM_EXIT_RESET,      /* i8042 reset, ACPI reset register, triple fault */
	VM_EXIT_POWEROFF,   /* ACPI S5 */
	VM_EXIT_ERROR,      /* a vCPU hit something it cannot go on from */
};

/* How a core device asks the VM to end (reset or power-off). */
struct vm_ctl {
	void (*request_exit)(void *opaque, enum vm_exit_reason why);
	void *opaque;
};

#endif
