/* Range lookup for the PIO and MMIO buses of the core. */
#include "bus.h"

#include <errno.h>
#include <string.h>
#include "util.h"

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
}

int bus_register(struct bus *b, uint64_t base, uint64_t len, const char *name,
		 const struct bus_dev_ops *ops, void *opaque)
{
	if (len == 0 || range_overflows(base, len))
		return -EINVAL;
	for (unsigned i = 0; i < b->nr; i++) {
		const struct bus_range *r = &b->r[i];
		if (base < r->base + r->len && r->base < base + len)
			return -EEXIST;
	}
	if (b->nr == BUS_MAX_RANGES)
		return -ENOSPC;
	b->r[b->nr++] = (struct bus_range){ base, len, ops, opaque, name };
	return 0;
}

void bus_dev_access(const struct bus_dev_ops *ops, void *opaque, uint64_t offset, void *data,
		    unsigned len, bool is_write)
{
	uint8_t *bytes = data;

	if (!len)
		return;
	if (is_write) {
		if (ops->write)
			ops->write(opaque, offset, data, len);
		else if (ops->write8)
			ops->write8(opaque, offset, bytes[0]);
	} else if (ops->read) {
		ops->read(opaque, offset, data, len);
	} else {
		memset(data, ops->read8 ? 0 : 0xff, len);
		if (ops->read8)
			bytes[0] = ops->read8(opaque, offset);
	}
}

bool bus_access(struct bus *b, uint64_t addr, void *data, unsigned len, bool is_write)
{
	for (unsigned i = 0; i < b->nr; i++) {
		const struct bus_range *r = &b->r[i];
		if (!range_within(addr, len, r->base, r->len))
			continue;
		bus_dev_access(r->ops, r->opaque, addr - r->base, data, len, is_write);
		return true;
	}
	return false;
}
