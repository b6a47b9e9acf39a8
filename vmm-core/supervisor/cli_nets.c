/* The network options of the command line: -netdev tap (a named tap or Kata's inherited tap
 * fds) bound to a -device virtio-net-device once the whole line is read, the older manual's
 * -netdev id=,netdev=TAP that is a NIC by itself, and the NIC slot order (-netdev order, at
 * most 2 as in StratoVirt's microvm). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli_props.h"
#include "util.h"
#include "worker_kinds.h"

#define NET_FD_MIN 3              /* 0-2 are stdio, never a tap */
#define NET_FD_MAX 65535

static bool mac_given(const uint8_t *mac)
{
	/* copy_mac (cli_props.c) refuses the zero address, so zero means "not given" */
	return mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5];
}

/*
 * A tap's name as Linux takes it (dev_valid_name): 1-15 characters, no '/', ':' or space, not
 * "." or "..". '%' is refused too: TUNSETIFF reads "tap%d" as a template and would create a
 * new tap under another name instead of opening the one named.
 */
static int net_ifname(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	size_t len;
	bool ok;
	int ret = cli_need_val(st, opt, key, val);

	if (ret)
		return ret;
	len = strlen(val);
	ok = len >= 1 && len <= VM_IFNAME_MAX && strcmp(val, ".") && strcmp(val, "..");
	for (const char *p = val; ok && *p; p++)
		ok = isgraph((unsigned char)*p) && !strchr("/:%", *p);
	if (!ok)
		return cli_fail(st, "%s: %s '%s' is not an interface name (1-%d printable characters, "
			    "no '/', ':', '%%' or spaces)", opt, key, val, VM_IFNAME_MAX);
	strcpy(st->net->ifname, val);
	return 0;
}

/* fds=N[:M...]: the tap queues Kata opened and passed down, one per queue pair. */
static int net_fds(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	struct vm_net *n = st->net;
	const char *p, *end;
	uint64_t fd;
	int ret = cli_need_val(st, opt, key, val);

	if (ret)
		return ret;
	for (p = val;; p = end + 1) {
		if (cli_parse_dec(p, &fd, &end) || (*end && *end != ':') || fd < NET_FD_MIN ||
		    fd > NET_FD_MAX)
			return cli_fail(st, "%s: %s '%s' is not a ':'-separated list of fd numbers "
				    "(%d-%d)", opt, key, val, NET_FD_MIN, NET_FD_MAX);
		if (n->nfds == VM_MAX_NET_QUEUES)
			return cli_fail(st, "%s: %s '%s' has more than %d fds (one per queue pair)",
				    opt, key, val, VM_MAX_NET_QUEUES);
		for (unsigned i = 0; i < n->nfds; i++)
			if (n->fds[i] == (int)fd)
				return cli_fail(st, "%s: %s '%s' names fd %d twice", opt, key, val,
					    (int)fd);
		n->fds[n->nfds++] = (int)fd;
		if (!*end)
			return 0;
	}
}

static int net_queues(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	uint64_t q;
	int ret = cli_prop_range(st, opt, key, val, true, 1, VM_MAX_NET_QUEUES, &q);

	if (!ret)
		st->net->queues = (unsigned)q;
	return ret;
}

static int net_vhost(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	bool on;
	int ret = cli_prop_bool(st, opt, key, val, &on);

	if (!ret && on)
		return cli_fail(st, "%s: vhost=on is not supported (bulkhead's NICs are always served "
			    "by a sandboxed vhost-user worker)", opt);
	return ret;
}

static const struct prop_desc tap_props[] = {
	PROP_HANDLER("type", cli_prop_ignore),
	PROP_FIELD("id", PROP_ID, struct vm_net, id),
	PROP_HANDLER("ifname", net_ifname),
	PROP_HANDLER("fds", net_fds),
	PROP_HANDLER("queues", net_queues),
	PROP_HANDLER("vhost", net_vhost),
};

/* QEMU's -netdev vhost-user: an external backend bulkhead connects to (bind_vhost_user checks
 * the chardev); the backend, not bulkhead, decides its queue pairs and gives the MAC. */
static const struct prop_desc vhost_user_props[] = {
	PROP_HANDLER("type", cli_prop_ignore),
	PROP_FIELD("id", PROP_ID, struct vm_net, id),
	PROP_FIELD("chardev", PROP_ID, struct vm_net, chardev),
};

/* The older manual's form: no backend word, and the NIC's own properties on the netdev. */
static const struct prop_desc nic_netdev_props[] = {
	PROP_FIELD("id", PROP_ID, struct vm_net, id),
	PROP_HANDLER("netdev", net_ifname),
	PROP_FIELD("mac", PROP_MAC, struct vm_net, mac),
	PROP_FIELD("iothread", PROP_ID, struct vm_net, iothread),
};

static int check_tap(struct cli_state *st, const char *opt, struct vm_net *n)
{
	if (!n->ifname[0] == !n->nfds)
		return cli_fail(st, "%s: tap needs exactly one of ifname= and fds=", opt);
	if (n->nfds && n->queues && n->queues != n->nfds)
		return cli_fail(st, "%s: queues=%u does not match the %u fds", opt, n->queues,
			    n->nfds);
	if (n->nfds)
		n->queues = n->nfds;
	/* with ifname and no queues=, the device's mq= decides (cli_resolve_nets) */
	return 0;
}

static int check_nic_netdev(struct cli_state *st, const char *opt, struct vm_net *n)
{
	if (!n->ifname[0])
		return cli_fail(st, "%s: property 'netdev' is required", opt);
	n->queues = 1;
	n->has_mac = mac_given(n->mac);
	n->has_device = true;
	strcpy(n->dev_id, n->id);
	return cli_check_dev_id(st, opt, n->dev_id);
}

static int parse_netdev(struct cli_state *st, const char *opt, const struct props *pr,
			struct vm_net *n)
{
	const char *type = cli_props_get(pr, "type");
	bool vhost_user = type && !strcmp(type, "vhost-user");
	int ret;

	if (type && !vhost_user && strcmp(type, "tap"))
		return cli_fail(st, "%s: backend '%s' is not supported (tap, vhost-user)", opt, type);
	if (vhost_user)
		ret = cli_props_apply(st, opt, pr, vhost_user_props, ARRAY_SIZE(vhost_user_props),
				      n);
	else if (type)
		ret = cli_props_apply(st, opt, pr, tap_props, ARRAY_SIZE(tap_props), n);
	else
		ret = cli_props_apply(st, opt, pr, nic_netdev_props, ARRAY_SIZE(nic_netdev_props),
				      n);
	if (ret)
		return ret;
	if (!n->id[0])
		return cli_fail(st, "%s: property 'id' is required", opt);
	for (struct vm_net *o = st->cfg->nets; o < n; o++)
		if (!strcmp(o->id, n->id))
			return cli_fail(st, "%s: id '%s' is used by another netdev", opt, n->id);
	if (vhost_user) {
		n->queues = 1;      /* a placeholder: the backend says how many (GET_QUEUE_NUM) */
		return n->chardev[0] ? 0 : cli_fail(st, "%s: vhost-user needs chardev=", opt);
	}
	return type ? check_tap(st, opt, n) : check_nic_netdev(st, opt, n);
}

int cli_opt_netdev(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	struct vm_config *c = st->cfg;
	struct props pr;
	struct vm_net *n;
	int ret = cli_props_split(st, o->name, arg, "type", &pr);

	if (ret)
		return ret;
	if (c->nnets == VM_MAX_NICS)
		return cli_fail(st, "%s: at most %d NICs", o->name, VM_MAX_NICS);
	n = st->net = &c->nets[c->nnets];
	memset(n, 0, sizeof(*n));
	n->seq = st->seq;
	ret = parse_netdev(st, o->name, &pr, n);
	if (!ret)
		c->nnets++;
	return ret;
}

/* The net worker's drivers (common/worker_kinds.c): virtio-net-device, and virtio-net-mmio,
 * the QMP device_add spelling of the same device. */
bool cli_is_net_driver(const char *drv)
{
	return worker_kind_by_driver(drv) == WORKER_NET;
}

static int nic_mq(struct cli_state *st, const char *opt, const char *key, const char *val)
{
	st->nicdev->has_mq = true;
	return cli_prop_bool(st, opt, key, val, &st->nicdev->mq);
}

static const struct prop_desc nic_props[] = {
	PROP_HANDLER("driver", cli_prop_ignore),
	PROP_FIELD("netdev", PROP_ID, struct nic_device, netdev),
	PROP_FIELD("id", PROP_ID, struct nic_device, id),
	PROP_FIELD("mac", PROP_MAC, struct nic_device, mac),
	PROP_HANDLER("mq", nic_mq),
	PROP_FIELD("iothread", PROP_ID, struct nic_device, iothread),
};

int cli_device_net(struct cli_state *st, const char *opt, const struct props *pr)
{
	struct nic_device *d;
	int ret;

	if (st->nnicdevs == VM_MAX_NICS)
		return cli_fail(st, "%s: at most %d NICs", opt, VM_MAX_NICS);
	d = st->nicdev = &st->nicdevs[st->nnicdevs];
	memset(d, 0, sizeof(*d));
	ret = cli_props_apply(st, opt, pr, nic_props, ARRAY_SIZE(nic_props), d);
	if (!ret)
		ret = cli_check_dev_id(st, opt, d->id);
	if (ret)
		return ret;
	if (!d->netdev[0])
		return cli_fail(st, "%s: virtio-net-device needs netdev=", opt);
	st->nnicdevs++;
	return 0;
}

/* Give the tap its device's properties; the queue count is settled here, as mq= is the
 * device's and queues=/fds= the netdev's. */
static int bind_nic(struct cli_state *st, const struct nic_device *d, struct vm_net *n)
{
	n->has_device = true;
	strcpy(n->dev_id, d->id);
	/* the backend's config space is what the guest reads; bulkhead cannot make it another */
	if (n->chardev[0] && mac_given(d->mac))
		return cli_fail(st, "-device: mac= cannot apply to netdev '%s': its vhost-user "
			    "backend gives the NIC its MAC", n->id);
	if (n->chardev[0]) {
		if (d->has_mq)
			return cli_fail(st, "-device: mq= cannot apply to netdev '%s': its vhost-user "
				    "backend decides its queue pairs", n->id);
		return 0;
	}
	if (mac_given(d->mac)) {
		memcpy(n->mac, d->mac, sizeof(n->mac));
		n->has_mac = true;
	}
	if (d->iothread[0])
		strcpy(n->iothread, d->iothread);
	if (!n->queues)
		n->queues = d->has_mq && d->mq ? 2 : 1;
	if (d->has_mq && !d->mq && n->queues > 1)
		return cli_fail(st, "-device: mq=off but netdev '%s' has %u queue pairs", n->id,
			    n->queues);
	return 0;
}

int cli_resolve_nets(struct cli_state *st)
{
	struct vm_config *c = st->cfg;
	int ret;

	for (unsigned i = 0; i < st->nnicdevs; i++) {
		const struct nic_device *d = &st->nicdevs[i];
		struct vm_net *n = NULL;

		for (unsigned j = 0; j < c->nnets; j++)
			if (!strcmp(c->nets[j].id, d->netdev))
				n = &c->nets[j];
		if (!n)
			return cli_fail(st, "-device: netdev '%s' is not defined", d->netdev);
		/* an older-form netdev is a NIC already, so it counts as used */
		if (n->has_device)
			return cli_fail(st, "-device: netdev '%s' is used by more than one device",
				    d->netdev);
		if ((ret = bind_nic(st, d, n)))
			return ret;
	}
	/* StratoVirt's microvm has no unattached netdevs: each one is a NIC slot */
	for (unsigned i = 0; i < c->nnets; i++)
		if (!c->nets[i].has_device)
			return cli_fail(st, "-netdev: '%s' is not used by any -device "
				    "virtio-net-device", c->nets[i].id);
	return 0;
}

void cli_print_nets(FILE *out, const struct vm_config *c)
{
	for (unsigned i = 0; i < c->nnets; i++) {
		const struct vm_net *n = &c->nets[i];
		const uint8_t *m = n->mac;

		fprintf(out, "net.%u=id=%s,ifname=%s,fds=", i, n->id, n->ifname);
		for (unsigned f = 0; f < n->nfds; f++)
			fprintf(out, "%s%d", f ? ":" : "", n->fds[f]);
		fprintf(out, ",queues=%u,mac=", n->queues);
		if (n->has_mac)
			fprintf(out, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
				m[5]);
		fprintf(out, ",iothread=%s,device=%s", n->iothread, n->dev_id);
		if (n->chardev[0])
			fprintf(out, ",chardev=%s", n->chardev);
		fprintf(out, "\n");
	}
}
