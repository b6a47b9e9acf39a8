/* Included by bulkhead-core only (sandboxed). */
/* Guest RAM: one memfd (sealed against resize) per RAM region, or a hugetlbfs file. */
#ifndef BULKHEAD_MEMORY_H
#define BULKHEAD_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	void *hva;
	int fd;             /* memfd or hugetlbfs file; what workers get */
	uint64_t fd_offset; /* offset of this region inside fd */
};

struct guest_mem {
	struct guest_region r[GUEST_MEM_MAX_REGIONS];
	unsigned nr;
	uint64_t ram_size;  /* total bytes of RAM (sum of regions) */
};

/*
 * Split ram_size into regions: [0, min(ram, 3 GiB)) and, past the MMIO hole,
 * [4 GiB, 4 GiB + rest). Fills gpa/size only (no allocation); used by unit tests too.
 */
void guest_mem_layout(struct guest_mem *m, uint64_t ram_size);

/*
 * Allocate and map guest RAM. hugetlb_fd < 0: one sealed memfd per region.
 * hugetlb_fd >= 0: an already-open (unlinked) file on hugetlbfs given by the supervisor,
 * sized and mapped here, regions at increasing offsets. dump_core=false sets MADV_DONTDUMP.
 * Returns 0 or -errno.
 */
int guest_mem_init(struct guest_mem *m, uint64_t ram_size, int hugetlb_fd, bool dump_core);
void guest_mem_exit(struct guest_mem *m);

/* Host pointer for [gpa, gpa+len) if it lies wholly inside one region, else NULL. */
void *guest_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Highest address + 1 of RAM below 4 GiB. */
uint64_t guest_low_ram_end(const struct guest_mem *m);

#endif
