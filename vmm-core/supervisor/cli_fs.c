/* The virtio-fs device of the command line: -device vhost-user-fs-device,chardev=C,tag=T[,id=]
 * [,num-request-queues=N] on -chardev socket,id=C,path=P, where the user's virtiofsd listens
 * (QEMU's and Kata's spelling). One per VM, in the fs slot; bulkhead spawns nothing for it. */
#include <stdio.h>
#include <string.h>

#include "cli_props.h"
#include "util.h"
#include "worker_kinds.h"

bool cli_is_fs_driver(const char *drv)
{
	return worker_kind_by_driver(drv) == WORKER_FS;
}

static int fs_tag(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return cli_copy_serial(st, opt, key, st->cfg->fs.tag, sizeof(st->cfg->fs.tag), val);
}

static int fs_request_queues(struct cli_state *st, const char *opt, const char *key,
			     const char *val)
{
	uint64_t n;
	int ret = cli_prop_range(st, opt, key, val, true, 1, VM_FS_MAX_REQUEST_QUEUES, &n);

	if (!ret)
		st->cfg->fs.request_queues = (unsigned)n;
	return ret;
}

static const struct prop_desc fs_props[] = {
	PROP_HANDLER("driver", cli_prop_ignore),
	PROP_FIELD("id", PROP_ID, struct vm_fs, id),
	PROP_FIELD("chardev", PROP_ID, struct vm_fs, chardev),
	PROP_HANDLER("tag", fs_tag),
	PROP_HANDLER("num-request-queues", fs_request_queues),
};

int cli_device_fs(struct cli_state *st, const char *opt, const struct props *pr)
{
	struct vm_fs *f = &st->cfg->fs;
	int ret;

	if (f->present)
		return cli_fail(st, "%s: at most %d vhost-user-fs-device", opt, VM_MAX_FS);
	memset(f, 0, sizeof(*f));
	f->request_queues = 1;
	ret = cli_props_apply(st, opt, pr, fs_props, ARRAY_SIZE(fs_props), f);
	if (!ret)
		ret = cli_check_dev_id(st, opt, f->id);
	if (!ret && !f->chardev[0])
		ret = cli_fail(st, "%s: vhost-user-fs-device needs chardev= (the socket virtiofsd "
			       "listens on)", opt);
	if (!ret && !f->tag[0])
		ret = cli_fail(st, "%s: vhost-user-fs-device needs tag= (what the guest mounts)",
			       opt);
	if (ret)
		return ret;
	f->present = true;
	return 0;
}

void cli_print_fs(FILE *out, const struct vm_config *c)
{
	const struct vm_fs *f = &c->fs;

	if (f->present)
		fprintf(out, "fs=id=%s,chardev=%s,tag=%s,num-request-queues=%u\n", f->id,
			f->chardev, f->tag, f->request_queues);
}
