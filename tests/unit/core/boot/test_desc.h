/* Shared by the firmware-table tests: a machine description with n virtio-mmio slots laid out
 * as the core lays them out. */
#ifndef BULKHEAD_TEST_DESC_H
#define BULKHEAD_TEST_DESC_H

#include "machine.h"

static inline struct machine_desc make_desc(unsigned ncpus, unsigned nmmio)
{
	struct machine_desc d = { .ncpus = ncpus, .nmmio = nmmio };

	for (unsigned i = 0; i < nmmio; i++) {
		d.mmio[i].base = LAYOUT_VIRTIO_MMIO_BASE + i * LAYOUT_VIRTIO_MMIO_SIZE;
		d.mmio[i].size = LAYOUT_VIRTIO_MMIO_SIZE;
		d.mmio[i].irq = LAYOUT_VIRTIO_FIRST_IRQ + i;
	}
	return d;
}

#endif
