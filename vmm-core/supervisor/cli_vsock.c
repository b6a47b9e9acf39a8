/* The vsock device of the command line: -device vsock (the older manual), vhost-vsock-device
 * (Kata's spelling) and vhost-user-vsock-device (an external backend). One per VM, in the
 * vsock slot. */
#include <stdio.h>
#include <string.h>

#include "cli_props.h"
#include "util.h"
#include "worker_kinds.h"

/* PATH_<port> (the host's listeners, beside the VM's socket) must fit a unix socket address
 * too: '_' and 10 digits after the path, and the NUL. */
#define VSOCK_UDS_PATH_MAX (VM_SUN_PATH_MAX - 12)
#define VSOCK_FD_MIN 3
#define VSOCK_FD_MAX 65535

bool cli_is_vsock_driver(const char *drv)
{
	return worker_kind_by_driver(drv) == WORKER_VSOCK || !strcmp(drv, "vhost-user-vsock-device");
}

static int vsock_cid(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	return cli_prop_range(st, opt, key, val, true, VM_VSOCK_CID_MIN, VM_VSOCK_CID_MAX,
			      &st->cfg->vsock.guest_cid);
}

static int vsock_uds_path(struct cli_state *st, const char *opt, const char *key,
			  const char *val)
{
	struct vm_vsock *v = &st->cfg->vsock;
	const char *base;
	int ret = cli_need_val(st, opt, key, val);

	if (ret)
		return ret;
	if (strlen(val) > VSOCK_UDS_PATH_MAX)
		return cli_fail(st, "%s: %s is longer than %d characters (%s_<port> must fit a unix "
			    "socket address)", opt, key, VSOCK_UDS_PATH_MAX, key);
	base = strrchr(val, '/');
	base = base ? base + 1 : val;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return cli_fail(st, "%s: %s '%s' does not name a socket in a directory", opt, key,
			    val);
	snprintf(v->uds_path, sizeof(v->uds_path), "%s", val);
	return 0;
}

static int vsock_vhostfd(struct cli_state *st, const char *opt, const char *key,
			 const char *val)
{
	uint64_t fd;
	int ret = cli_prop_range(st, opt, key, val, true, VSOCK_FD_MIN, VSOCK_FD_MAX, &fd);

	if (!ret)
		st->cfg->vsock.vhostfd = (int)fd;
	return ret;
}

static const struct prop_desc vsock_props[] = {
	PROP_HANDLER("driver", cli_prop_ignore),
	PROP_FIELD("id", PROP_ID, struct vm_vsock, id),
	PROP_HANDLER("guest-cid", vsock_cid),
	PROP_HANDLER("uds-path", vsock_uds_path),
	PROP_HANDLER("vhostfd", vsock_vhostfd),
};

static const struct prop_desc vhost_user_vsock_props[] = {
	PROP_HANDLER("driver", cli_prop_ignore),
	PROP_FIELD("id", PROP_ID, struct vm_vsock, id),
	PROP_FIELD("chardev", PROP_ID, struct vm_vsock, chardev),
};

/* Our worker in kernel mode (the host's /dev/vhost-vsock, as StratoVirt and Kata mean it;
 * vhostfd= is Kata's already open one) or in unix-socket mode (uds-path=), or an external
 * backend. */
static int check_vsock(struct cli_state *st, const char *opt, const struct vm_vsock *v)
{
	if (v->chardev[0])
		return 0;
	if (!v->id[0])
		return cli_fail(st, "%s: property 'id' is required", opt);
	if (!v->guest_cid)
		return cli_fail(st, "%s: property 'guest-cid' is required", opt);
	if (v->vhostfd >= 0 && v->uds_path[0])
		return cli_fail(st, "%s: vhostfd= (the kernel's vhost-vsock) and uds-path= (unix "
			    "sockets) exclude each other", opt);
	return 0;
}

int cli_device_vsock(struct cli_state *st, const char *opt, const char *drv,
		     const struct props *pr)
{
	struct vm_vsock *v = &st->cfg->vsock;
	bool external = !strcmp(drv, "vhost-user-vsock-device");
	int ret;

	if (v->present)
		return cli_fail(st, "%s: at most %d vsock device", opt, VM_MAX_VSOCKS);
	memset(v, 0, sizeof(*v));
	v->vhostfd = -1;
	ret = external ? cli_props_apply(st, opt, pr, vhost_user_vsock_props,
					 ARRAY_SIZE(vhost_user_vsock_props), v) :
			 cli_props_apply(st, opt, pr, vsock_props, ARRAY_SIZE(vsock_props), v);
	if (!ret)
		ret = cli_check_dev_id(st, opt, v->id);
	if (!ret && external && !v->chardev[0])
		ret = cli_fail(st, "%s: vhost-user-vsock-device needs chardev=", opt);
	if (!ret)
		ret = check_vsock(st, opt, v);
	if (ret)
		return ret;
	v->present = true;
	return 0;
}

void cli_print_vsock(FILE *out, const struct vm_config *c)
{
	const struct vm_vsock *v = &c->vsock;

	if (!v->present)
		return;
	if (v->chardev[0])
		fprintf(out, "vsock=vhost-user,chardev=%s,id=%s\n", v->chardev, v->id);
	else
		fprintf(out, "vsock=id=%s,guest-cid=%llu,uds-path=%s,vhostfd=%d\n", v->id,
			(unsigned long long)v->guest_cid, v->uds_path, v->vhostfd);
}
