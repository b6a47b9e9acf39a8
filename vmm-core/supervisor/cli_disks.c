/* The disk options of the command line: -drive, -device virtio-blk-device /
 * vhost-user-blk-device and -chardev, bound together once the whole line is read, and the
 * slot order of the disks (command-line order, at most 6 as in StratoVirt). */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli_disks.h"
#include "util.h"

/* QEMU's rule for ids: a letter, then letters, digits, '-', '.', '_'. */
static int copy_id(struct cli_state *st, const char *opt, const char *key, char *dst,
		   const char *val)
{
	int ret = cli_need_val(st, opt, key, val);

	if (ret)
		return ret;
	if (!isalpha((unsigned char)val[0]))
		return cli_fail(st, "%s: %s '%s' must start with a letter", opt, key, val);
	for (const char *p = val; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-._", *p))
			return cli_fail(st, "%s: %s '%s' may only hold letters, digits, '-', '.', '_'",
				    opt, key, val);
	if (strlen(val) > VM_ID_MAX)
		return cli_fail(st, "%s: %s '%s' is too long (max %d)", opt, key, val, VM_ID_MAX);
	strcpy(dst, val);
	return 0;
}

static int copy_serial(struct cli_state *st, const char *opt, const char *key, char *dst,
		       const char *val)
{
	int ret = cli_need_val(st, opt, key, val);

	if (ret)
		return ret;
	for (const char *p = val; *p; p++)
		if (!isprint((unsigned char)*p))
			return cli_fail(st, "%s: %s may only hold printable characters", opt, key);
	if (strlen(val) > VM_SERIAL_MAX)
		return cli_fail(st, "%s: %s '%s' is too long (max %d bytes)", opt, key, val,
			    VM_SERIAL_MAX);
	strcpy(dst, val);
	return 0;
}

static int drive_id(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return copy_id(st, opt, key, st->drive->id, val);
}

static int drive_file(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	int ret = cli_need_val(st, opt, key, val);

	return ret ? ret : cli_copy_str(st, opt, st->drive->file, sizeof(st->drive->file), val);
}

static int drive_ro(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return cli_prop_bool(st, opt, key, val, &st->drive->readonly);
}

static int drive_direct(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return cli_prop_bool(st, opt, key, val, &st->drive->direct);
}

static int drive_serial(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return copy_serial(st, opt, key, st->drive->serial, val);
}

static int drive_iops(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	uint64_t n;
	int ret = cli_prop_range(st, opt, key, val, true, 0, VM_MAX_IOPS, &n);

	if (!ret)
		st->drive->iops = (uint32_t)n;
	return ret;
}

static int drive_iothread(struct cli_state *st, const char *opt, const char *key,
			  const char *val)
{
	return copy_id(st, opt, key, st->drive->iothread, val);
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
	{ "id", drive_id },
	{ "file", drive_file },
	{ "readonly", drive_ro },
	{ "direct", drive_direct },
	{ "serial", drive_serial },
	{ "iops", drive_iops },
	{ "throttling.iops-total", drive_iops },
	{ "iothread", drive_iothread },
	{ "if", drive_if },
	{ "format", drive_format },
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
	ret = cli_props_parse(st, o->name, arg, NULL, drive_props, ARRAY_SIZE(drive_props));
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

static int chardev_id(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return copy_id(st, opt, key, st->chardev->id, val);
}

static int chardev_path(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	int ret = cli_need_val(st, opt, key, val);

	return ret ? ret : cli_copy_str(st, opt, st->chardev->path, sizeof(st->chardev->path), val);
}

static int chardev_server(struct cli_state *st, const char *opt, const char *key,
			  const char *val)
{
	return cli_prop_bool(st, opt, key, val, &st->chardev->server);
}

static int chardev_nowait(struct cli_state *st, const char *opt, const char *key,
			  const char *val)
{
	return cli_prop_bool(st, opt, key, val, &st->chardev->nowait);
}

static const struct prop_desc chardev_props[] = {
	{ "backend", chardev_backend },
	{ "id", chardev_id },
	{ "path", chardev_path },
	{ "server", chardev_server },
	{ "nowait", chardev_nowait },
};

int cli_opt_chardev(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	struct vm_config *c = st->cfg;
	struct vm_chardev *ch;
	int ret;

	if (c->nchardevs == VM_MAX_CHARDEVS)
		return cli_fail(st, "%s: at most %d character devices", o->name, VM_MAX_CHARDEVS);
	ch = st->chardev = &c->chardevs[c->nchardevs];
	memset(ch, 0, sizeof(*ch));
	/* "socket,id=..." names the backend; the older "id=,path=" form has no backend word */
	ret = cli_props_parse(st, o->name, arg, "backend", chardev_props, ARRAY_SIZE(chardev_props));
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

/* -device: the leading bare word (or driver=) picks the property table. */
static int dev_driver(struct cli_state *st UNUSED, const char *opt UNUSED,
		      const char *key UNUSED, const char *val UNUSED)
{
	return 0;
}

static int blk_drive(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return copy_id(st, opt, key, st->blkdev->drive, val);
}

static int blk_id(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return copy_id(st, opt, key, st->blkdev->id, val);
}

static int blk_serial(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	st->blkdev->has_serial = true;
	return copy_serial(st, opt, key, st->blkdev->serial, val);
}

static int blk_iothread(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return copy_id(st, opt, key, st->blkdev->iothread, val);
}

static const struct prop_desc blk_dev_props[] = {
	{ "driver", dev_driver },
	{ "drive", blk_drive },
	{ "id", blk_id },
	{ "serial", blk_serial },
	{ "iothread", blk_iothread },
};

static int vub_chardev(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return copy_id(st, opt, key, st->vub->chardev, val);
}

static int vub_id(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return copy_id(st, opt, key, st->vub->dev_id, val);
}

static const struct prop_desc vub_props[] = {
	{ "driver", dev_driver },
	{ "chardev", vub_chardev },
	{ "id", vub_id },
};

static int device_blk(struct cli_state *st, const char *opt, const struct props *pr)
{
	struct blk_device *b;
	int ret;

	if (st->nblkdevs + st->cfg->nvhost_user_blk == VM_MAX_DISKS)
		return cli_fail(st, "%s: at most %d disk devices", opt, VM_MAX_DISKS);
	b = st->blkdev = &st->blkdevs[st->nblkdevs];
	memset(b, 0, sizeof(*b));
	ret = cli_props_apply(st, opt, pr, blk_dev_props, ARRAY_SIZE(blk_dev_props));
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
	v = st->vub = &c->vhost_user_blk[c->nvhost_user_blk];
	memset(v, 0, sizeof(*v));
	v->seq = st->seq;
	ret = cli_props_apply(st, opt, pr, vub_props, ARRAY_SIZE(vub_props));
	if (ret)
		return ret;
	if (!v->chardev[0])
		return cli_fail(st, "%s: vhost-user-blk-device needs chardev=", opt);
	c->nvhost_user_blk++;
	return 0;
}

int cli_opt_device(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	struct props pr;
	const char *drv = NULL;
	int ret = cli_props_split(st, o->name, arg, "driver", &pr);

	if (ret)
		return ret;
	for (unsigned i = 0; i < pr.n; i++)
		if (!strcmp(pr.p[i].key, "driver"))
			drv = pr.p[i].val;
	if (!drv || !*drv)
		return cli_fail(st, "%s: a driver is required", o->name);
	/* virtio-blk-mmio is the QMP device_add spelling of the same device */
	if (!strcmp(drv, "virtio-blk-device") || !strcmp(drv, "virtio-blk-mmio"))
		return device_blk(st, o->name, &pr);
	if (!strcmp(drv, "vhost-user-blk-device"))
		return device_vub(st, o->name, &pr);
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
	}
	return 0;
}

static int bind_vhost_user(struct cli_state *st)
{
	struct vm_config *c = st->cfg;
	bool used[VM_MAX_CHARDEVS] = { false };

	for (unsigned i = 0; i < c->nvhost_user_blk; i++) {
		const char *id = c->vhost_user_blk[i].chardev;
		unsigned j;

		for (j = 0; j < c->nchardevs && strcmp(c->chardevs[j].id, id); j++)
			;
		if (j == c->nchardevs)
			return cli_fail(st, "-device: chardev '%s' is not defined", id);
		if (used[j])
			return cli_fail(st, "-device: chardev '%s' is used by more than one device", id);
		/* bulkhead connects to the backend; a listening chardev would wait for it */
		if (c->chardevs[j].server)
			return cli_fail(st, "-device: chardev '%s' must be a client socket (no server) "
				    "for vhost-user-blk-device", id);
		used[j] = true;
	}
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

	if ((ret = bind_blk_devices(st)) || (ret = bind_vhost_user(st)))
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
			"iothread=%s,device=%s\n", i, d->id, d->file, cli_onoff(d->readonly),
			cli_onoff(d->direct), d->serial, d->iops, d->iothread, d->dev_id);
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
