/* The guest's virtio console: -device virtio-serial-device[,id=] (the bus) with
 * -device virtconsole,chardev=C[,id=][,nr=0] (its one port, hvc0) on a
 * -chardev socket,id=C,path=P,server,nowait that bulkhead listens on; served by
 * bulkhead-hvc (dev-console/; "hvc", as Linux names the device: a process name keeps 15
 * characters). One per VM, in the console slot. */
#include <stdio.h>
#include <string.h>

#include "cli_props.h"
#include "util.h"
#include "worker_kinds.h"

#define SERIAL_BUS_DRIVER "virtio-serial-device"

bool cli_is_console_driver(const char *drv)
{
	return worker_kind_by_driver(drv) == WORKER_CONSOLE || !strcmp(drv, SERIAL_BUS_DRIVER);
}

static int console_nr(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	uint64_t nr;
	int ret = cli_prop_range(st, opt, key, val, true, 0, 0, &nr);

	return ret ? cli_fail(st, "%s: %s must be 0: the console is the one port there is", opt,
			      key) : 0;
}

static const struct prop_desc bus_props[] = {
	PROP_HANDLER("driver", cli_prop_ignore),
	PROP_FIELD("id", PROP_ID, struct vm_console, bus_id),
};

static const struct prop_desc port_props[] = {
	PROP_HANDLER("driver", cli_prop_ignore),
	PROP_FIELD("id", PROP_ID, struct vm_console, id),
	PROP_FIELD("chardev", PROP_ID, struct vm_console, chardev),
	PROP_HANDLER("nr", console_nr),
};

int cli_device_console(struct cli_state *st, const char *opt, const char *drv,
		       const struct props *pr)
{
	struct vm_console *c = &st->cfg->console;
	struct vm_console v = { 0 };
	bool bus = !strcmp(drv, SERIAL_BUS_DRIVER);
	int ret;

	if (bus ? c->has_bus : c->present)
		return cli_fail(st, "%s: at most %d %s", opt, VM_MAX_CONSOLES,
				bus ? "virtio-serial-device" : "virtconsole");
	ret = bus ? cli_props_apply(st, opt, pr, bus_props, ARRAY_SIZE(bus_props), &v) :
		    cli_props_apply(st, opt, pr, port_props, ARRAY_SIZE(port_props), &v);
	if (!ret)
		ret = cli_check_dev_id(st, opt, bus ? v.bus_id : v.id);
	if (!ret && !bus && !v.chardev[0])
		ret = cli_fail(st, "%s: virtconsole needs chardev=", opt);
	if (ret)
		return ret;
	if (bus) {
		memcpy(c->bus_id, v.bus_id, sizeof(c->bus_id));
		c->has_bus = true;
	} else {
		memcpy(c->id, v.id, sizeof(c->id));
		memcpy(c->chardev, v.chardev, sizeof(c->chardev));
		c->present = true;
	}
	return 0;
}

/* The port needs its bus and the bus its port: nothing on the line may go unused. */
int cli_resolve_console(struct cli_state *st)
{
	const struct vm_console *c = &st->cfg->console;

	if (c->present && !c->has_bus)
		return cli_fail(st, "-device virtconsole: needs a -device virtio-serial-device");
	if (c->has_bus && !c->present)
		return cli_fail(st, "-device virtio-serial-device: no virtconsole on it (bulkhead "
				"serves the console port only)");
	return 0;
}

void cli_print_console(FILE *out, const struct vm_config *c)
{
	const struct vm_console *v = &c->console;

	if (v->present)
		fprintf(out, "console=bus=%s,id=%s,chardev=%s,path=%s\n", v->bus_id, v->id,
			v->chardev, v->path);
}
