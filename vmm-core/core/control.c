/* The core's control path: permission tables per peer and phase, QMP requests re-validated and
 * carried out, disk hotplug with the supervisor, and events. See control.h. */
#include "control.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* After CORE_CONFIG (main.c takes that one alone) the supervisor may send these. */
static const struct ipc_peer supervisor_run = {
	.name = "supervisor",
	.allowed = (1u << IPC_BACKEND_ATTACH) | (1u << IPC_QMPD_ATTACH) |
		   (1u << IPC_HOTPLUG_REPLY) | (1u << IPC_BACKEND_FAILED),
};
static const struct ipc_peer qmpd_peer = {
	.name = "qmpd",
	.allowed = 1u << IPC_QMP_REQUEST,
};

/* In a handler of request r: send an error reply and return; nothing has changed yet. */
#define REFUSE(...) \
	do { reply_err(c, r->tag, r->cmd, QMP_ERR_GENERIC, __VA_ARGS__); return; } while (0)

static struct ratelimit ctl_rl = RATELIMIT_INIT(5000, 10);

void control_init(struct control *c, const struct control_ops *ops, void *opaque, int sup,
		  const uint32_t *boot_kind)
{
	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->opaque = opaque;
	c->sup = sup;
	c->qmpd = -1;
	c->next_tag = 1;
	for (unsigned i = 0; i < WORKER_SLOTS; i++) {
		if (boot_kind[i] == IPC_DEV_NONE)
			continue;
		c->slot[i].state = CTL_SLOT_BOOT;
		c->slot[i].kind = boot_kind[i];
	}
}

void control_exit(struct control *c)
{
	closep(&c->qmpd);
	for (unsigned i = 0; i < WORKER_SLOTS; i++)
		if (c->stats[i])
			munmap((void *)c->stats[i], NET_STATS_FD_MIN);
}

/* A stats page the worker writes and we read: it must not shrink under our mapping (SIGBUS)
 * and we must not be able to write it (the fd is read-only, so is the mapping). */
static int map_stats(struct control *c, unsigned slot, int fd)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	void *p;

	if (worker_kind_of_slot(slot) != WORKER_NET || seals < 0 || !(seals & F_SEAL_SHRINK) ||
	    fstat(fd, &st) < 0 || st.st_size < NET_STATS_FD_MIN)
		return -EINVAL;
	p = mmap(NULL, NET_STATS_FD_MIN, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	c->stats[slot] = p;
	return 0;
}

int control_slots_config(struct control *c, const struct core_config *cc,
			 struct core_config_fds *f)
{
	int r = 0;

	memcpy(c->mac, cc->slot_mac, sizeof(c->mac));
	/* a boot device's id: listed by queries, and no device_add may take it */
	for (unsigned i = 0; i < WORKER_SLOTS; i++)
		if (c->slot[i].state == CTL_SLOT_BOOT)
			snprintf(c->slot[i].id, sizeof(c->slot[i].id), "%s", cc->slot_dev_id[i]);
	for (unsigned i = 0; i < IPC_MAX_SLOTS; i++) {
		if (f->stats[i] < 0)
			continue;
		if (!r)
			r = i < WORKER_SLOTS ? map_stats(c, i, f->stats[i]) : -EINVAL;
		closep(&f->stats[i]);
	}
	return r;
}

unsigned control_boot_waiting(const struct control *c)
{
	unsigned n = 0;

	for (unsigned i = 0; i < WORKER_SLOTS; i++)
		n += c->slot[i].state == CTL_SLOT_BOOT && !c->slot[i].attached;
	return n;
}

int control_qmpd_fd(const struct control *c)
{
	return c->pend.active ? -1 : c->qmpd;
}

/* ---- replies and events to qmpd ---- */

static void drop_qmpd(struct control *c, const char *why)
{
	if (c->qmpd < 0)
		return;
	log_warnx_rl(&ctl_rl, "qmpd: %s; waiting for the supervisor to start another", why);
	closep(&c->qmpd);
}

static void send_reply(struct control *c, struct qmp_reply *r)
{
	int e;

	if (c->qmpd < 0)
		return;
	e = ipc_qmp_reply_send(c->qmpd, r);
	if (e < 0)
		drop_qmpd(c, strerror(-e));
}

PRINTF(5, 6) static void reply_err(struct control *c, uint32_t tag, uint32_t cmd, uint32_t err,
				   const char *fmt, ...)
{
	struct qmp_reply r = { .tag = tag, .cmd = cmd, .error = err };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.desc, sizeof(r.desc), fmt, ap);
	va_end(ap);
	send_reply(c, &r);
}

static void event(struct control *c, uint32_t kind, bool guest, const char *reason,
		  const char *device)
{
	struct qmp_event e = { .kind = kind, .guest = guest };
	struct timespec ts;
	int r;

	if (c->qmpd < 0)
		return;     /* nobody listens; QMP events are not kept for later clients */
	clock_gettime(CLOCK_REALTIME, &ts);
	e.seconds = (uint64_t)ts.tv_sec;
	e.microseconds = (uint32_t)(ts.tv_nsec / 1000);
	snprintf(e.reason, sizeof(e.reason), "%s", reason ? reason : "");
	snprintf(e.device, sizeof(e.device), "%s", device ? device : "");
	r = ipc_qmp_event_send(c->qmpd, &e);
	if (r < 0)
		drop_qmpd(c, strerror(-r));
}

/* ---- lifecycle ---- */

static void do_stop(struct control *c)
{
	if (c->paused)
		return;
	c->ops->pause(c->opaque);
	c->paused = true;
	event(c, QMP_EV_STOP, false, NULL, NULL);
}

static void do_cont(struct control *c)
{
	if (!c->paused)
		return;
	c->ops->resume(c->opaque);
	c->paused = false;
	event(c, QMP_EV_RESUME, false, NULL, NULL);
}

/* The SHUTDOWN event goes out before the VM ends: after that nothing reads our socket. */
static void end_vm(struct control *c, enum vm_exit_reason why, bool guest, const char *reason,
		   const char *detail)
{
	if (!c->end_announced) {
		c->end_announced = true;
		if (why == VM_EXIT_RESET)
			event(c, QMP_EV_RESET, guest, reason, NULL);
		event(c, QMP_EV_SHUTDOWN, guest, reason, NULL);
	}
	if (detail)
		c->ops->end(c->opaque, why, detail);
}

void control_vm_ending(struct control *c, enum vm_exit_reason why)
{
	if (why == VM_EXIT_POWEROFF)
		end_vm(c, why, true, "guest-shutdown", NULL);
	else if (why == VM_EXIT_RESET)
		end_vm(c, why, true, "guest-reset", NULL);
	/* VM_EXIT_ERROR: the supervisor reports it; clients see the socket close */
}

/* A reply too big for the stack (the queries' data), or NULL after an error reply. */
static struct qmp_reply *big_reply(struct control *c, const struct qmp_request *r)
{
	struct qmp_reply *rep = calloc(1, sizeof(*rep));

	if (!rep) {
		reply_err(c, r->tag, r->cmd, QMP_ERR_GENERIC, "out of memory");
		return NULL;
	}
	rep->tag = r->tag;
	rep->cmd = r->cmd;
	return rep;
}

static void query_cpus(struct control *c, const struct qmp_request *r)
{
	struct qmp_reply *rep = big_reply(c, r);

	if (!rep)
		return;
	rep->u.cpus.n = c->ops->cpus(c->opaque, rep->u.cpus.cpu, QMP_MAX_CPUS);
	send_reply(c, rep);
	free(rep);
}

/* The worker writes the page: one that lies gets its own numbers reported, nothing more. */
static void copy_counters(struct qmp_nic_stats *n, const struct net_stats *s)
{
	if (!s || __atomic_load_n(&s->magic, __ATOMIC_ACQUIRE) != NET_STATS_MAGIC ||
	    s->version != NET_STATS_VERSION)
		return;
	n->counted = 1;
	n->npairs = __atomic_load_n(&s->npairs, __ATOMIC_RELAXED);
	if (n->npairs > NET_STATS_MAX_PAIRS)
		n->npairs = NET_STATS_MAX_PAIRS;
	n->starts = net_stats_get(&s->generation);
	for (unsigned p = 0; p < n->npairs; p++) {
		const uint64_t *from = (const uint64_t *)&s->pair[p];
		uint64_t *to = (uint64_t *)&n->pair[p];

		for (unsigned i = 0; i < sizeof(s->pair[p]) / sizeof(uint64_t); i++)
			to[i] = net_stats_get(&from[i]);
	}
}

/* query-net-stats: every NIC slot that holds a device */
static void query_net_stats(struct control *c, const struct qmp_request *r)
{
	const struct worker_kind_desc *k = &worker_kinds[WORKER_NET];
	struct qmp_reply *rep = big_reply(c, r);

	if (!rep)
		return;
	for (unsigned i = 0; i < k->nslots; i++) {
		unsigned slot = k->first_slot + i;
		const struct ctl_slot *s = &c->slot[slot];
		struct qmp_nic_stats *n;

		if (s->state == CTL_SLOT_EMPTY)
			continue;
		n = &rep->u.nics.nic[rep->u.nics.n++];
		n->index = i;
		snprintf(n->id, sizeof(n->id), "%s", s->id);
		snprintf(n->netdev, sizeof(n->netdev), "%s", s->node);
		memcpy(n->mac, c->mac[slot], sizeof(n->mac));
		copy_counters(n, c->stats[slot]);
	}
	send_reply(c, rep);
	free(rep);
}

static void lifecycle(struct control *c, const struct qmp_request *r)
{
	struct qmp_reply rep = { .tag = r->tag, .cmd = r->cmd };

	switch (r->cmd) {
	case QMP_CMD_QUERY_STATUS:
		rep.u.runstate = c->paused ? QMP_RUN_PAUSED : QMP_RUN_RUNNING;
		send_reply(c, &rep);
		break;
	case QMP_CMD_STOP:
		do_stop(c);
		send_reply(c, &rep);
		break;
	case QMP_CMD_CONT:
		do_cont(c);
		send_reply(c, &rep);
		break;
	case QMP_CMD_QUIT:
		send_reply(c, &rep);
		end_vm(c, VM_EXIT_POWEROFF, false, "host-qmp-quit", "quit requested over QMP");
		break;
	case QMP_CMD_SYSTEM_RESET:
		/* this microvm ends on a reset, as a guest with reboot=k does: the next boot is
		 * the orchestrator's to start */
		send_reply(c, &rep);
		end_vm(c, VM_EXIT_RESET, false, "host-qmp-system-reset",
		       "reset requested over QMP (system_reset)");
		break;
	case QMP_CMD_SYSTEM_POWERDOWN:
		event(c, QMP_EV_POWERDOWN, false, NULL, NULL);
		c->ops->powerdown(c->opaque);
		send_reply(c, &rep);
		break;
	}
}

/* ---- hotplug: validation in the core, host work by the supervisor ---- */

/* Node names are one namespace (StratoVirt: node-names and netdev ids); kind < 0: any kind. */
static struct ctl_node *find_node(struct control *c, const char *name, int kind)
{
	for (unsigned i = 0; i < CTL_MAX_NODES; i++)
		if (c->node[i].used && !strcmp(c->node[i].name, name) &&
		    (kind < 0 || c->node[i].kind == kind))
			return &c->node[i];
	return NULL;
}

static int find_device(const struct control *c, const char *id)
{
	for (unsigned i = 0; i < WORKER_SLOTS; i++)
		if (c->slot[i].state != CTL_SLOT_EMPTY && c->slot[i].id[0] && !strcmp(c->slot[i].id, id))
			return (int)i;
	return -1;
}

/* fds: what h->nfds says (netdev_add's tap queues, passed on as they came), or NULL */
static void ask_supervisor(struct control *c, const struct qmp_request *r,
			   struct hotplug_request *h, const int *fds)
{
	int e;

	h->tag = c->next_tag++;
	if (!c->next_tag)
		c->next_tag = 1;
	c->pend.active = true;
	c->pend.req = *h;
	c->pend.qmp_tag = r->tag;
	c->pend.qmp_cmd = r->cmd;
	c->pend.qmpd_gen = c->qmpd_gen;
	c->pend.failed = false;
	e = ipc_hotplug_request_send(c->sup, h, fds);
	if (e < 0) {
		/* the main loop sees the supervisor's socket close and ends the VM */
		c->pend.active = false;
		reply_err(c, r->tag, r->cmd, QMP_ERR_GENERIC, "the supervisor is not answering: %s",
			  strerror(-e));
	}
}

/* blockdev-add and netdev_add: the checks both make, then the supervisor opens the image or
 * the tap, or checks the tap's fds (`what` names the name's key in errors: "node-name", "id"). */
static void node_add(struct control *c, const struct qmp_request *r, struct hotplug_request *h,
		     const char *what, const char *name, const char *target, const int *fds)
{
	unsigned free_nodes = 0;

	if (!qmp_id_ok(name))
		REFUSE("Invalid %s '%s': a letter, then letters, digits, '-', '.', '_'", what, name);
	if (find_node(c, name, -1))
		REFUSE("Duplicate nodes with %s='%s'", what, name);
	for (unsigned i = 0; i < CTL_MAX_NODES; i++)
		free_nodes += !c->node[i].used;
	if (!free_nodes)
		REFUSE("too many block nodes and netdevs (at most %d)", CTL_MAX_NODES);
	snprintf(h->node_name, sizeof(h->node_name), "%s", name);
	snprintf(h->filename, sizeof(h->filename), "%s", target);
	ask_supervisor(c, r, h, fds);
}

/* blockdev-del and netdev_del */
static void node_del(struct control *c, const struct qmp_request *r, struct hotplug_request *h,
		     int kind, const char *what)
{
	struct ctl_node *n = find_node(c, r->u.id, kind);

	if (!n)
		REFUSE("Failed to find node with %s='%s'", what, r->u.id);
	if (n->slot >= 0)
		REFUSE("Node '%s' is busy: device '%s' uses it", n->name, c->slot[n->slot].id);
	snprintf(h->node_name, sizeof(h->node_name), "%s", n->name);
	ask_supervisor(c, r, h, NULL);
}

static void blockdev_add(struct control *c, const struct qmp_request *r)
{
	const struct qmp_blockdev_add *b = &r->u.blockdev_add;
	struct hotplug_request h = { .op = HOTPLUG_BLOCKDEV_ADD, .read_only = b->read_only,
				     .direct = b->direct };

	if (b->filename[0] == '\0')
		REFUSE("file.filename is required");
	node_add(c, r, &h, "node-name", b->node_name, b->filename, NULL);
}

/* Which slot a device_add of kind k goes to: "addr" must name an empty slot of the kind;
 * without it, the first empty one. Returns the slot or -1 with an error sent. */
static int pick_slot(struct control *c, const struct qmp_request *r,
		     const struct worker_kind_desc *k)
{
	const struct qmp_device_add *d = &r->u.device_add;
	unsigned first = k->first_slot;

	if (!d->has_addr) {
		for (unsigned i = first; i < first + k->nslots; i++)
			if (c->slot[i].state == CTL_SLOT_EMPTY)
				return (int)i;
		reply_err(c, r->tag, r->cmd, QMP_ERR_GENERIC, "no free %s slot (all %u in use)",
			  k->slot_class, k->nslots);
		return -1;
	}
	/* addr counts the kind's own slots: 0x0 is the first disk, or eth0 (StratoVirt) */
	if (d->addr >= k->nslots) {
		reply_err(c, r->tag, r->cmd, QMP_ERR_GENERIC, "addr 0x%x is not a %s slot (0x0-0x%x)",
			  d->addr, k->slot_class, k->nslots - 1);
		return -1;
	}
	if (c->slot[first + d->addr].state != CTL_SLOT_EMPTY) {
		reply_err(c, r->tag, r->cmd, QMP_ERR_GENERIC, "%s slot 0x%x is already in use",
			  k->slot_class, d->addr);
		return -1;
	}
	return (int)(first + d->addr);
}

static void device_add(struct control *c, const struct qmp_request *r)
{
	const struct qmp_device_add *d = &r->u.device_add;
	struct hotplug_request h = { .op = HOTPLUG_DEVICE_ADD };
	int kind = worker_kind_by_driver(d->driver);
	/* a disk names its drive, a NIC its netdev; without one, the one named like the device */
	const char *node = kind == WORKER_NET ? d->netdev : d->drive;
	const char *noun = kind == WORKER_NET ? "netdev" : "drive";
	struct ctl_node *n;
	int slot;

	if (kind < 0 || worker_kinds[kind].fixed)
		REFUSE("driver '%s' cannot be hot-plugged here (virtio-blk-mmio, virtio-net-mmio)",
		       d->driver);
	if (!node[0])
		node = d->id;
	if (!qmp_id_ok(d->id))
		REFUSE("Invalid id '%s': a letter, then letters, digits, '-', '.', '_'", d->id);
	if (find_device(c, d->id) >= 0)
		REFUSE("Duplicate ID '%s' for device", d->id);
	n = find_node(c, node, kind);
	if (!n)
		REFUSE("Unknown %s '%s' (%s it first)", noun, node,
		       kind == WORKER_NET ? "netdev_add" : "blockdev-add");
	if (n->slot >= 0)
		REFUSE("%s '%s' is already in use by device '%s'", noun, node, c->slot[n->slot].id);
	slot = pick_slot(c, r, &worker_kinds[kind]);
	if (slot < 0)
		return;
	c->slot[slot].state = CTL_SLOT_ADDING;
	snprintf(c->slot[slot].id, sizeof(c->slot[slot].id), "%s", d->id);
	snprintf(c->slot[slot].node, sizeof(c->slot[slot].node), "%s", n->name);
	n->slot = slot;
	h.slot = (uint32_t)slot;
	snprintf(h.node_name, sizeof(h.node_name), "%s", n->name);
	snprintf(h.device_id, sizeof(h.device_id), "%s", d->id);
	snprintf(h.mac, sizeof(h.mac), "%s", d->mac);
	ask_supervisor(c, r, &h, NULL);
}

static void slot_clear(struct control *c, unsigned slot)
{
	struct ctl_node *n = find_node(c, c->slot[slot].node, worker_kind_of_slot(slot));

	if (n && n->slot == (int)slot)
		n->slot = -1;
	memset(&c->slot[slot], 0, sizeof(c->slot[slot]));
}

static void device_del(struct control *c, const struct qmp_request *r)
{
	struct hotplug_request h = { .op = HOTPLUG_DEVICE_DEL };
	int slot = find_device(c, r->u.id);

	if (slot < 0 || c->slot[slot].state != CTL_SLOT_PLUGGED) {
		reply_err(c, r->tag, r->cmd, QMP_ERR_DEVICE_NOT_FOUND, "Device '%s' not found", r->u.id);
		return;
	}
	/* detach first: the worker's socket closing afterwards is then no crash to the core. The
	 * worker may see that EOF and be restarted before the supervisor reads our request:
	 * REMOVING makes the core drop such a late backend. */
	c->slot[slot].state = CTL_SLOT_REMOVING;
	c->ops->unplug(c->opaque, (unsigned)slot);
	h.slot = (uint32_t)slot;
	snprintf(h.node_name, sizeof(h.node_name), "%s", c->slot[slot].node);
	snprintf(h.device_id, sizeof(h.device_id), "%s", c->slot[slot].id);
	ask_supervisor(c, r, &h, NULL);
}

static bool ifname_ok(const char *s)
{
	size_t n = strnlen(s, QMP_ID_MAX);

	if (n == 0 || n >= IFNAMSIZ)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]) || s[i] == '/' || s[i] == ':')
			return false;
	return true;
}

/* A tap by name, or its queues as fds a QMP client passed (getfd); the supervisor checks them. */
static void netdev_add(struct control *c, const struct qmp_request *r, const int *fds)
{
	const struct qmp_netdev_add *a = &r->u.netdev_add;
	struct hotplug_request h = { .op = HOTPLUG_NETDEV_ADD, .nfds = a->nfds };

	if (!a->nfds && !ifname_ok(a->ifname))
		REFUSE("Invalid ifname '%s' (1-%d printable characters, no '/' or ':')", a->ifname,
		       IFNAMSIZ - 1);
	node_add(c, r, &h, "id", a->id, a->ifname, a->nfds ? fds : NULL);
}

/* fds: what the request carries (netdev_add's); they stay ours to close */
static void handle_request(struct control *c, const struct qmp_request *r, const int *fds)
{
	switch (r->cmd) {
	case QMP_CMD_QUERY_CPUS:
	case QMP_CMD_QUERY_HOTPLUGGABLE_CPUS:
		query_cpus(c, r);
		break;
	case QMP_CMD_BLOCKDEV_ADD:
		blockdev_add(c, r);
		break;
	case QMP_CMD_BLOCKDEV_DEL:
		node_del(c, r, &(struct hotplug_request){ .op = HOTPLUG_BLOCKDEV_DEL }, WORKER_BLK,
			 "node-name");
		break;
	case QMP_CMD_DEVICE_ADD:
		device_add(c, r);
		break;
	case QMP_CMD_DEVICE_DEL:
		device_del(c, r);
		break;
	case QMP_CMD_NETDEV_ADD:
		netdev_add(c, r, fds);
		break;
	case QMP_CMD_NETDEV_DEL:
		node_del(c, r, &(struct hotplug_request){ .op = HOTPLUG_NETDEV_DEL }, WORKER_NET, "id");
		break;
	case QMP_CMD_QUERY_NET_STATS:
		query_net_stats(c, r);
		break;
	case QMP_CMD_BALLOON:
	case QMP_CMD_QUERY_BALLOON:
		reply_err(c, r->tag, r->cmd, QMP_ERR_DEVICE_NOT_ACTIVE,
			  "No balloon device has been activated");
		break;
	default:
		lifecycle(c, r);
	}
}

void control_on_qmpd(struct control *c)
{
	struct ipc_msg *msg = calloc(1, sizeof(*msg));
	struct qmp_request req;
	int r;

	if (!msg)
		return;
	r = ipc_recv(c->qmpd, &qmpd_peer, msg);
	if (r == 1 && ipc_qmp_request_decode(msg, &req) == 0)
		handle_request(c, &req, msg->fds);
	else
		drop_qmpd(c, r == 0 ? "connection closed" : "protocol violation");
	ipc_msg_close_fds(msg);
	free(msg);
}

/* ---- messages from the supervisor ---- */

/*
 * A (re)started worker for a slot. Re-checked against what the slot holds: a worker restarted
 * just before a device_del reached the supervisor may arrive for a slot that is empty now;
 * that is a race, not a lie, so the socket is closed and the VM goes on.
 */
static int on_backend_attach(struct control *c, struct ipc_msg *msg)
{
	struct backend_attach a;
	struct ctl_slot *s;
	int fd;

	if (ipc_backend_attach_decode(msg, &a, &fd) < 0)
		return -EPROTO;
	s = a.slot < WORKER_SLOTS ? &c->slot[a.slot] : NULL;
	/* at boot the kind it was told; after a hotplug one of the slot's own workers */
	if (!s || !worker_slot_takes(a.slot, a.kind) ||
	    a.kind != (s->state == CTL_SLOT_BOOT ? s->kind :
		       worker_kinds[worker_kind_of_slot(a.slot)].ipc_dev)) {
		close(fd);
		return -EPROTO;
	}
	if (s->state != CTL_SLOT_BOOT && s->state != CTL_SLOT_PLUGGED) {
		log_info("slot %u: backend %s arrived for a slot being emptied; dropped", a.slot,
			 a.name);
		close(fd);
		return 0;
	}
	s->attached = true;
	if (s->state == CTL_SLOT_BOOT)
		snprintf(s->node, sizeof(s->node), "%s", a.name);
	/* a backend that fails its handshake is the supervisor's to restart, not our error */
	c->ops->attach(c->opaque, a.slot, fd, a.name, false);
	return 0;
}

static int on_qmpd_attach(struct control *c, struct ipc_msg *msg)
{
	int fd;

	if (ipc_qmpd_attach_decode(msg, &fd) < 0)
		return -EPROTO;
	closep(&c->qmpd);
	c->qmpd = fd;
	c->qmpd_gen++;
	log_debug("qmpd attached");
	return 0;
}

/* Fail-stop without data loss (DESIGN.md §8): pause, and say so over QMP. */
static int on_backend_failed(struct control *c, const struct ipc_msg *msg)
{
	struct backend_failed b;

	if (ipc_backend_failed_decode(msg, &b) < 0)
		return -EPROTO;
	log_warnx("drive %s (slot %u) cannot be served any more; pausing the VM", b.name, b.slot);
	event(c, QMP_EV_BACKEND_FAILED, false, NULL, b.name);
	do_stop(c);
	return 0;
}

/* Answer the QMP request behind the pending hotplug (to the qmpd that asked, not a newer one). */
static void finish(struct control *c, uint32_t err, const char *desc)
{
	const struct hotplug_request *h = &c->pend.req;
	struct qmp_reply r = { .tag = c->pend.qmp_tag, .cmd = c->pend.qmp_cmd, .error = err };

	c->pend.active = false;
	if (c->pend.qmpd_gen != c->qmpd_gen)
		return;
	snprintf(r.desc, sizeof(r.desc), "%s", desc ? desc : "");
	send_reply(c, &r);
	if (!err && h->op == HOTPLUG_DEVICE_DEL)
		event(c, QMP_EV_DEVICE_DELETED, false, NULL, h->device_id);
}

/* The worker came but would not attach: have the supervisor stop it, then answer the error. */
static void start_undo(struct control *c, int err)
{
	struct hotplug_request *h = &c->pend.req;
	int e;

	snprintf(c->pend.desc, sizeof(c->pend.desc), "device '%s': the disk did not attach: %s",
		 h->device_id, strerror(-err));
	c->pend.failed = true;
	h->op = HOTPLUG_DEVICE_DEL;
	h->tag = c->next_tag++;
	e = ipc_hotplug_request_send(c->sup, h, NULL);
	if (e < 0) {
		slot_clear(c, h->slot);
		finish(c, QMP_ERR_GENERIC, c->pend.desc);
	}
}

static void finish_ok(struct control *c, int fd)
{
	const struct hotplug_request *h = &c->pend.req;
	struct ctl_node *n = NULL;
	int r;

	switch (h->op) {
	case HOTPLUG_BLOCKDEV_ADD:
	case HOTPLUG_NETDEV_ADD:
		for (unsigned i = 0; !n && i < CTL_MAX_NODES; i++)
			if (!c->node[i].used)
				n = &c->node[i];
		/* node_add() checked there was room, and nothing else adds nodes */
		if (n) {
			*n = (struct ctl_node){ .used = true, .slot = -1,
				.kind = h->op == HOTPLUG_NETDEV_ADD ? WORKER_NET : WORKER_BLK };
			snprintf(n->name, sizeof(n->name), "%s", h->node_name);
		}
		break;
	case HOTPLUG_BLOCKDEV_DEL:
	case HOTPLUG_NETDEV_DEL:
		n = find_node(c, h->node_name, -1);
		if (n)
			memset(n, 0, sizeof(*n));
		break;
	case HOTPLUG_DEVICE_ADD:
		r = c->ops->attach(c->opaque, h->slot, fd, h->device_id, true);
		if (r < 0) {
			start_undo(c, r);
			return;
		}
		c->slot[h->slot].state = CTL_SLOT_PLUGGED;
		break;
	case HOTPLUG_DEVICE_DEL:
		slot_clear(c, h->slot);
		break;
	}
	finish(c, QMP_OK, NULL);
}

static int on_hotplug_reply(struct control *c, struct ipc_msg *msg)
{
	const struct hotplug_request *h = &c->pend.req;
	struct hotplug_reply rep;
	int fd;

	if (ipc_hotplug_reply_decode(msg, &rep, &fd) < 0)
		return -EPROTO;
	/* an answer nobody asked for, or an fd where none belongs, is a broken supervisor */
	if (!c->pend.active || rep.tag != h->tag ||
	    (fd >= 0) != (rep.error == QMP_OK && h->op == HOTPLUG_DEVICE_ADD && !c->pend.failed)) {
		closep(&fd);
		return -EPROTO;
	}
	if (c->pend.failed) {
		slot_clear(c, h->slot);
		finish(c, QMP_ERR_GENERIC, c->pend.desc);
	} else if (rep.error != QMP_OK) {
		/* the supervisor changed nothing: undo what the core had reserved */
		if (h->op == HOTPLUG_DEVICE_ADD || h->op == HOTPLUG_DEVICE_DEL)
			slot_clear(c, h->slot);
		finish(c, rep.error, rep.desc);
	} else {
		finish_ok(c, fd);
	}
	return 0;
}

int control_on_supervisor(struct control *c)
{
	struct ipc_msg *msg = calloc(1, sizeof(*msg));
	int r;

	if (!msg)
		return -ENOMEM;
	r = ipc_recv(c->sup, &supervisor_run, msg);
	if (r == 0) {
		r = -EPIPE;
	} else if (r == 1) {
		switch (msg->hdr.type) {
		case IPC_BACKEND_ATTACH:
			r = on_backend_attach(c, msg);
			break;
		case IPC_QMPD_ATTACH:
			r = on_qmpd_attach(c, msg);
			break;
		case IPC_HOTPLUG_REPLY:
			r = on_hotplug_reply(c, msg);
			break;
		default:
			r = on_backend_failed(c, msg);
		}
	}
	ipc_msg_close_fds(msg);
	free(msg);
	return r;
}
