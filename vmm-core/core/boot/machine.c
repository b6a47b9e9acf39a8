/* Machine description helpers: the virtio-mmio kernel command-line convention used when the
 * guest boots without ACPI (Linux CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, as StratoVirt/kvmtool),
 * and whether a command line turns ACPI off. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "machine.h"

/* " virtio_mmio.device=<size>@0x<base>:<irq>" is at most 20 + 20 + 2 + 16 + 1 + 10 chars */
#define MMIO_ARG_MAX 80

static int format_slot(char *out, size_t cap, const struct mmio_slot_desc *s)
{
	int n;

	/* the kernel parses <size> with memparse(), so "4K" and plain bytes both work */
	if (s->size == 4 * KiB)
		n = snprintf(out, cap, " virtio_mmio.device=4K@0x%" PRIx64 ":%u", s->base, s->irq);
	else
		n = snprintf(out, cap, " virtio_mmio.device=%" PRIu64 "@0x%" PRIx64 ":%u",
			     s->size, s->base, s->irq);
	if (n < 0 || (size_t)n >= cap)
		return -EINVAL;
	return n;
}

int machine_append_mmio_cmdline(char *cmdline, size_t cap, const struct machine_desc *d)
{
	char arg[MMIO_ARG_MAX];
	size_t len, add = 0, pos;
	unsigned i;
	int n;

	if (d->nmmio > LAYOUT_VIRTIO_MMIO_SLOTS)
		return -EINVAL;
	len = strnlen(cmdline, cap);
	if (len == cap)
		return -EINVAL;         /* not NUL-terminated within cap */
	/* measure first so a command line that cannot take every slot stays untouched */
	for (i = 0; i < d->nmmio; i++) {
		n = format_slot(arg, sizeof(arg), &d->mmio[i]);
		if (n < 0)
			return n;
		add += (size_t)n;
	}
	if (add >= cap - len)
		return -ENOSPC;
	pos = len;
	for (i = 0; i < d->nmmio; i++)
		pos += (size_t)format_slot(cmdline + pos, cap - pos, &d->mmio[i]);
	return 0;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

bool machine_cmdline_acpi_off(const char *cmdline)
{
	static const char word[] = "acpi=off";
	const char *p = cmdline;

	/* a whole word only: "xacpi=off" or "acpi=offline" are someone else's parameters */
	while ((p = strstr(p, word)) != NULL) {
		char after = p[sizeof(word) - 1];

		if ((p == cmdline || blank(p[-1])) && (after == '\0' || blank(after)))
			return true;
		p++;
	}
	return false;
}
