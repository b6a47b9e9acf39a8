/* The disk options of the command line: -drive, -device virtio-blk-device /
 * vhost-user-blk-device (and the -device dispatch, NICs included) and -chardev, bound together once the whole line is read, and the
 * slot order of the disks (command-line order, at most 6 as in StratoVirt). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli_props.h"
#include "util.h"
#include "worker_kinds.h"

static int drive_iops(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	uint64_t n;
	int ret = cli_prop_range(st, opt, key, val, true, 0, VM_MAX_IOPS, &n);

	if (!ret)
		st->drive->iops = (uint32_t)n;
	return ret;
}

static int drive_poll_us(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	uint64_t n;
	int ret = cli_prop_range(st, opt, key, val, true, 0, VM_MAX_POLL_US, &n);

	if (!ret) {
		st->drive->has_poll_us = true;
		st->drive->poll_us = (uint32_t)n;
	}
	return ret;
}

/* Spellings newer orchestrators add that mean nothing else here. */
static int drive_if(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	if (!val || strcmp(val, "none"))
		return cli_fail(st, "%s: %s must be 'none'", opt, key);
	return 0;
}

static int drive_format(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	if (!val || strcmp(val, "raw"))
		return cli_fail(st, "%s: %s '%s' is not supported (only 'raw')", opt, key,
			    val ? val : "");
	return 0;
}

static const struct prop_desc drive_props[] = {
	PROP_FIELD("id", PROP_ID, struct vm_drive, id),
	PROP_FIELD("file", PROP_STR, struct vm_drive, file),
	PROP_FIELD("readonly", PROP_BOOL, struct vm_drive, readonly),
	PROP_FIELD("direct", PROP_BOOL, struct vm_drive, direct),
	PROP_FIELD("serial", PROP_SERIAL, struct vm_drive, serial),
	PROP_HANDLER("iops", drive_iops),
	PROP_HANDLER("throttling.iops-total", drive_iops),
	PROP_FIELD("iothread", PROP_ID, struct vm_drive, iothread),
	PROP_HANDLER("poll-us", drive_poll_us),
	PROP_HANDLER("if", drive_if),
	PROP_HANDLER("format", drive_format),
};

int cli_opt_drive(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	struct vm_config *c = st->cfg;
	struct vm_drive *d;
	int ret;

	if (c->ndrives == VM_MAX_DRIVES)
		return cli_fail(st, "%s: at most %d drives", o->name, VM_MAX_DRIVES);
	d = st->drive = &c->drives[c->ndrives];
	memset(d, 0, sizeof(*d));
	d->seq = st->seq;
	ret = cli_props_parse(st, o->name, arg, NULL, drive_props, ARRAY_SIZE(drive_props), d);
	if (ret)
		return ret;
	if (!d->id[0])
		return cli_fail(st, "%s: property 'id' is required", o->name);
	if (!d->file[0])
		return cli_fail(st, "%s: property 'file' is required", o->name);
	for (unsigned i = 0; i < c->ndrives; i++)
		if (!strcmp(c->drives[i].id, d->id))
			return cli_fail(st, "%s: id '%s' is used by another drive", o->name, d->id);
	c->ndrives++;
	return 0;
}

static int chardev_backend(struct cli_state *st, const char *opt, const char *key UNUSED,
			   const char *val)
{
	if (!val || strcmp(val, "socket"))
		return cli_fail(st, "%s: backend '%s' is not supported (only 'socket')", opt,
			    val ? val : "");
	return 0;
}

static const struct prop_desc chardev_props[] = {
	PROP_HANDLER("backend", chardev_backend),
	PROP_FIELD("id", PROP_ID, struct vm_chardev, id),
	PROP_FIELD("path", PROP_STR, struct vm_chardev, path),
	PROP_FIELD("server", PROP_BOOL, struct vm_chardev, server),
	PROP_FIELD("nowait", PROP_BOOL, struct vm_chardev, nowait),
};

int cli_opt_chardev(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	struct vm_config *c = st->cfg;
	struct vm_chardev *ch;
	int ret;

	if (c->nchardevs == VM_MAX_CHARDEVS)
		return cli_fail(st, "%s: at most %d character devices", o->name, VM_MAX_CHARDEVS);
	ch = &c->chardevs[c->nchardevs];
	memset(ch, 0, sizeof(*ch));
	/* "socket,id=..." names the backend; the older "id=,path=" form has no backend word */
	ret = cli_props_parse(st, o->name, arg, "backend", chardev_props,
			      ARRAY_SIZE(chardev_props), ch);
	if (ret)
		return ret;
	if (!ch->id[0])
		return cli_fail(st, "%s: property 'id' is required", o->name);
	if (!ch->path[0])
		return cli_fail(st, "%s: property 'path' is required", o->name);
	for (unsigned i = 0; i < c->nchardevs; i++)
		if (!strcmp(c->chardevs[i].id, ch->id))
			return cli_fail(st, "%s: id '%s' is used by another chardev", o->name, ch->id);
	c->nchardevs++;
	return 0;
}

static int blk_serial(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	st->blkdev->has_serial = true;
	return cli_copy_serial(st, opt, key, st->blkdev->serial, sizeof(st->blkdev->serial),
			       val);
}

static int blk_queues(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	uint64_t n;
	int ret = cli_prop_range(st, opt, key, val, true, 1, VM_MAX_BLK_QUEUES, &n);

	if (!ret)
		st->blkdev->num_queues = (unsigned)n;
	return ret;
}

static const struct prop_desc blk_dev_props[] = {
	PROP_HANDLER("driver", cli_prop_ignore),
	PROP_FIELD("drive", PROP_ID, struct blk_device, drive),
	PROP_FIELD("id", PROP_ID, struct blk_device, id),
	PROP_HANDLER("serial", blk_serial),
	PROP_FIELD("iothread", PROP_ID, struct blk_device, iothread),
	PROP_HANDLER("num-queues", blk_queues),
};

static const struct prop_desc vub_props[] = {
	PROP_HANDLER("driver", cli_prop_ignore),
	PROP_FIELD("chardev", PROP_ID, struct vm_vhost_user_blk, chardev),
	PROP_FIELD("id", PROP_ID, struct vm_vhost_user_blk, dev_id),
};

static int device_blk(struct cli_state *st, const char *opt, const struct props *pr)
{
	struct blk_device *b;
	int ret;

	if (st->nblkdevs + st->cfg->nvhost_user_blk == VM_MAX_DISKS)
		return cli_fail(st, "%s: at most %d disk devices", opt, VM_MAX_DISKS);
	b = st->blkdev = &st->blkdevs[st->nblkdevs];
	memset(b, 0, sizeof(*b));
	ret = cli_props_apply(st, opt, pr, blk_dev_props, ARRAY_SIZE(blk_dev_props), b);
	if (!ret)
		ret = cli_check_dev_id(st, opt, b->id);
	if (ret)
		return ret;
	if (!b->drive[0])
		return cli_fail(st, "%s: virtio-blk-device needs drive=", opt);
	st->nblkdevs++;
	return 0;
}

static int device_vub(struct cli_state *st, const char *opt, const struct props *pr)
{
	struct vm_config *c = st->cfg;
	struct vm_vhost_user_blk *v;
	int ret;

	if (st->nblkdevs + c->nvhost_user_blk == VM_MAX_DISKS)
		return cli_fail(st, "%s: at most %d disk devices", opt, VM_MAX_DISKS);
	v = &c->vhost_user_blk[c->nvhost_user_blk];
	memset(v, 0, sizeof(*v));
	v->seq = st->seq;
	ret = cli_props_apply(st, opt, pr, vub_props, ARRAY_SIZE(vub_props), v);
	if (!ret)
		ret = cli_check_dev_id(st, opt, v->dev_id);
	if (ret)
		return ret;
	if (!v->chardev[0])
		return cli_fail(st, "%s: vhost-user-blk-device needs chardev=", opt);
	c->nvhost_user_blk++;
	return 0;
}

/* -device: the leading bare word (or driver=) picks the property table. */
int cli_opt_device(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	struct props pr;
	const char *drv;
	int ret = cli_props_split(st, o->name, arg, "driver", &pr);

	if (ret)
		return ret;
	drv = cli_props_get(&pr, "driver");
	if (!drv || !*drv)
		return cli_fail(st, "%s: a driver is required", o->name);
	/* the disk worker's drivers (common/worker_kinds.c): virtio-blk-device, and
	 * virtio-blk-mmio, the QMP device_add spelling of the same device */
	if (worker_kind_by_driver(drv) == WORKER_BLK)
		return device_blk(st, o->name, &pr);
	if (!strcmp(drv, "vhost-user-blk-device"))
		return device_vub(st, o->name, &pr);
	if (cli_is_net_driver(drv))
		return cli_device_net(st, o->name, &pr);
	if (cli_is_vsock_driver(drv))
		return cli_device_vsock(st, o->name, drv, &pr);
	if (cli_is_rng_driver(drv))
		return cli_device_rng(st, o->name, &pr);
	if (cli_is_console_driver(drv))
		return cli_device_console(st, o->name, drv, &pr);
	if (cli_is_fs_driver(drv))
		return cli_device_fs(st, o->name, &pr);
	return cli_fail(st, "%s: driver '%s' is not supported", o->name, drv);
}

/* Bind each virtio-blk-device to its drive (either may come first on the line). */
static int bind_blk_devices(struct cli_state *st)
{
	struct vm_config *c = st->cfg;

	for (unsigned i = 0; i < st->nblkdevs; i++) {
		const struct blk_device *b = &st->blkdevs[i];
		struct vm_drive *d = NULL;

		for (unsigned j = 0; j < c->ndrives; j++)
			if (!strcmp(c->drives[j].id, b->drive))
				d = &c->drives[j];
		if (!d)
			return cli_fail(st, "-device: drive '%s' is not defined", b->drive);
		if (d->has_device)
			return cli_fail(st, "-device: drive '%s' is used by more than one device",
				    b->drive);
		d->has_device = true;
		strcpy(d->dev_id, b->id);
		if (b->has_serial)
			strcpy(d->serial, b->serial);
		if (b->iothread[0])
			strcpy(d->iothread, b->iothread);
		d->num_queues = b->num_queues;
	}
	return 0;
}

/* What a device wants of its chardev: a client socket for an external vhost-user backend
 * (bulkhead connects to it), a server one for the console (bulkhead listens there and starts
 * the VM without waiting for a client), either for virtio-fs (bulkhead connects to
 * virtiofsd's socket; Kata writes server,nowait on that chardev all the same). */
enum chardev_use { CHARDEV_CLIENT, CHARDEV_SERVER, CHARDEV_CONNECT_ANYWAY };

/* One device per chardev, one that exists, of the kind the device wants. */
static int use_chardev(struct cli_state *st, bool *used, const char *opt, const char *id,
		       enum chardev_use want)
{
	struct vm_config *c = st->cfg;
	const struct vm_chardev *ch;
	unsigned j;

	for (j = 0; j < c->nchardevs && strcmp(c->chardevs[j].id, id); j++)
		;
	if (j == c->nchardevs)
		return cli_fail(st, "%s: chardev '%s' is not defined", opt, id);
	if (used[j])
		return cli_fail(st, "%s: chardev '%s' is used by more than one device", opt, id);
	ch = &c->chardevs[j];
	/* bulkhead connects to the backend; a listening chardev would wait for it */
	if (want == CHARDEV_CLIENT && ch->server)
		return cli_fail(st, "%s: chardev '%s' must be a client socket (no server) for a "
			    "vhost-user backend", opt, id);
	if (want == CHARDEV_SERVER && !(ch->server && ch->nowait))
		return cli_fail(st, "%s: chardev '%s' must be server,nowait for virtconsole "
			    "(bulkhead listens there; the VM does not wait for a client)", opt, id);
	used[j] = true;
	return 0;
}

/* -device vhost-user-blk-device, -netdev vhost-user, -device vhost-user-vsock-device, the
 * console's virtconsole and -device vhost-user-fs-device */
static int bind_chardevs(struct cli_state *st)
{
	struct vm_config *c = st->cfg;
	bool used[VM_MAX_CHARDEVS] = { false };
	int ret;

	for (unsigned i = 0; i < c->nvhost_user_blk; i++)
		if ((ret = use_chardev(st, used, "-device", c->vhost_user_blk[i].chardev,
					       CHARDEV_CLIENT)))
			return ret;
	for (unsigned i = 0; i < c->nnets; i++)
		if (c->nets[i].chardev[0] &&
		    (ret = use_chardev(st, used, "-netdev", c->nets[i].chardev, CHARDEV_CLIENT)))
			return ret;
	if (c->vsock.chardev[0] &&
	    (ret = use_chardev(st, used, "-device", c->vsock.chardev, CHARDEV_CLIENT)))
		return ret;
	if (c->console.present) {
		if ((ret = use_chardev(st, used, "-device", c->console.chardev, CHARDEV_SERVER)))
			return ret;
		for (unsigned j = 0; j < c->nchardevs; j++)
			if (!strcmp(c->chardevs[j].id, c->console.chardev))
				snprintf(c->console.path, sizeof(c->console.path), "%s",
					 c->chardevs[j].path);
	}
	if (c->fs.present &&
	    (ret = use_chardev(st, used, "-device", c->fs.chardev, CHARDEV_CONNECT_ANYWAY)))
		return ret;
	return 0;
}

static unsigned disk_seq(const struct vm_config *c, const struct vm_disk *d)
{
	return d->kind == VM_DISK_DRIVE ? c->drives[d->index].seq : c->vhost_user_blk[d->index].seq;
}

/* Slots in command-line order: a drive where its -drive is, a vhost-user disk where its
 * -device is. */
int cli_resolve_disks(struct cli_state *st)
{
	struct vm_config *c = st->cfg;
	int ret;

	if ((ret = bind_blk_devices(st)) || (ret = bind_chardevs(st)))
		return ret;
	if (c->ndrives + c->nvhost_user_blk > VM_MAX_DISKS)
		return cli_fail(st, "-device: at most %d disks in all (-drive and vhost-user-blk-device)",
			    VM_MAX_DISKS);
	c->ndisks = 0;
	for (unsigned i = 0; i < c->ndrives; i++)
		c->disks[c->ndisks++] = (struct vm_disk){ VM_DISK_DRIVE, i };
	for (unsigned i = 0; i < c->nvhost_user_blk; i++)
		c->disks[c->ndisks++] = (struct vm_disk){ VM_DISK_VHOST_USER, i };
	for (unsigned i = 1; i < c->ndisks; i++)
		for (unsigned j = i; j > 0 && disk_seq(c, &c->disks[j]) < disk_seq(c, &c->disks[j - 1]);
		     j--) {
			struct vm_disk t = c->disks[j];

			c->disks[j] = c->disks[j - 1];
			c->disks[j - 1] = t;
		}
	return 0;
}

void cli_print_devices(FILE *out, const struct vm_config *c)
{
	for (unsigned i = 0; i < c->ndrives; i++) {
		const struct vm_drive *d = &c->drives[i];

		fprintf(out, "drive.%u=id=%s,file=%s,readonly=%s,direct=%s,serial=%s,iops=%u,"
			"iothread=%s,device=%s", i, d->id, d->file, cli_onoff(d->readonly),
			cli_onoff(d->direct), d->serial, d->iops, d->iothread, d->dev_id);
		/* only when given: the defaults are the worker's (and the vCPUs') */
		if (d->num_queues)
			fprintf(out, ",num-queues=%u", d->num_queues);
		if (d->has_poll_us)
			fprintf(out, ",poll-us=%u", d->poll_us);
		fputc('\n', out);
	}
	for (unsigned i = 0; i < c->nchardevs; i++) {
		const struct vm_chardev *ch = &c->chardevs[i];

		fprintf(out, "chardev.%u=id=%s,path=%s,server=%s,nowait=%s\n", i, ch->id, ch->path,
			cli_onoff(ch->server), cli_onoff(ch->nowait));
	}
	for (unsigned i = 0; i < c->ndisks; i++) {
		const struct vm_disk *d = &c->disks[i];

		if (d->kind == VM_DISK_DRIVE)
			fprintf(out, "slot.%u=virtio-blk,drive=%s\n", i, c->drives[d->index].id);
		else
			fprintf(out, "slot.%u=vhost-user-blk,chardev=%s,id=%s\n", i,
				c->vhost_user_blk[d->index].chardev,
				c->vhost_user_blk[d->index].dev_id);
	}
}
