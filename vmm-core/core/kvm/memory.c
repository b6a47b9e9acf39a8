/* Guest RAM backed by sealed memfds (or a hugetlbfs file), one mapping per RAM region. */
#include "memory.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layout.h"
#include "memfd.h"
#include "util.h"

void guest_mem_layout(struct guest_mem *m, uint64_t ram_size)
{
	uint64_t low = ram_size < LAYOUT_MMIO_HOLE ? ram_size : LAYOUT_MMIO_HOLE;

	memset(m, 0, sizeof(*m));
	m->ram_size = ram_size;
	m->r[0] = (struct guest_region){ .gpa = 0, .size = low, .fd = -1 };
	m->nr = 1;
	if (ram_size > low) {
		m->r[1] = (struct guest_region){ .gpa = LAYOUT_HIGH_RAM_START,
						 .size = ram_size - low, .fd = -1 };
		m->nr = 2;
	}
}

static int map_region(struct guest_region *r, bool dump_core)
{
	void *p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		       r->fd, (off_t)r->fd_offset);

	if (p == MAP_FAILED)
		return -errno;
	/* dump-guest-core=off must not quietly become on */
	if (!dump_core && madvise(p, r->size, MADV_DONTDUMP) < 0) {
		int err = -errno;

		munmap(p, r->size);
		return err;
	}
	r->hva = p;
	return 0;
}

int guest_mem_init(struct guest_mem *m, uint64_t ram_size, int hugetlb_fd, bool dump_core)
{
	uint64_t off = 0;
	int err;

	guest_mem_layout(m, ram_size);
	if (hugetlb_fd >= 0 && ftruncate(hugetlb_fd, (off_t)ram_size) < 0)
		return -errno;
	for (unsigned i = 0; i < m->nr; i++) {
		struct guest_region *r = &m->r[i];

		if (hugetlb_fd >= 0) {
			r->fd = hugetlb_fd;
			r->fd_offset = off;
			off += r->size;
		} else {
			r->fd = memfd_sealed(i ? "bulkhead-ram-high" : "bulkhead-ram", r->size);
			if (r->fd < 0) {
				err = r->fd;
				goto fail;
			}
		}
		err = map_region(r, dump_core);
		if (err)
			goto fail;
	}
	return 0;
fail:
	guest_mem_exit(m);
	return err;
}

void guest_mem_exit(struct guest_mem *m)
{
	int closed = -1;

	for (unsigned i = 0; i < m->nr; i++) {
		struct guest_region *r = &m->r[i];

		if (r->hva)
			munmap(r->hva, r->size);
		/* regions may share one hugetlbfs fd: close it once */
		if (r->fd >= 0 && r->fd != closed) {
			close(r->fd);
			closed = r->fd;
		}
		r->hva = NULL;
		r->fd = -1;
	}
	m->nr = 0;
}

void *guest_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->r[i];

		if (r->hva && range_within(gpa, len, r->gpa, r->size))
			return (char *)r->hva + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t guest_low_ram_end(const struct guest_mem *m)
{
	return m->nr ? m->r[0].gpa + m->r[0].size : 0;
}
