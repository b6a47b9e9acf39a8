/* The host half of hotplug that the core may not do itself: opening images (blockdev-add, only
 * inside -hotplug-dir) and taps (netdev_add), a worker for each device_add and its end at
 * device_del. Every request from the core is checked again here. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "supervisor_priv.h"
#include "tap.h"
#include "util.h"

PRINTF(3, 4) static uint32_t fail(struct hotplug_reply *r, uint32_t err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->desc, sizeof(r->desc), fmt, ap);
	va_end(ap);
	r->error = err;
	return err;
}

static struct sup_node *find_node(struct supervisor *s, const char *name)
{
	for (unsigned i = 0; i < SUP_MAX_NODES; i++)
		if (s->node[i].used && !strcmp(s->node[i].id, name))
			return &s->node[i];
	return NULL;
}

/* Every device id in use: the command line's -device ids and the hot-plugged ones. */
static bool device_id_used(const struct supervisor *s, const char *id)
{
	const struct vm_config *c = s->cfg;

	for (unsigned i = 0; i < c->ndrives; i++)
		if (!strcmp(c->drives[i].dev_id, id))
			return true;
	for (unsigned i = 0; i < c->nvhost_user_blk; i++)
		if (!strcmp(c->vhost_user_blk[i].dev_id, id))
			return true;
	for (unsigned i = 0; i < c->nnets; i++)
		if (!strcmp(c->nets[i].dev_id, id))
			return true;
	for (unsigned i = 0; i < WORKER_SLOTS; i++)
		if (s->worker[i].node && !strcmp(s->worker[i].dev_id, id))
			return true;
	return false;
}

/* ---- -hotplug-dir ---- */

int sup_hotplug_dirs_open(struct supervisor *s)
{
	const struct vm_config *c = s->cfg;
	struct stat st;

	for (unsigned i = 0; i < c->nhotplug_dirs; i++) {
		const char *why = NULL;

		/* resolved once: a path is inside when what it opens has the real dir as prefix */
		if (!realpath(c->hotplug_dirs[i], s->hotplug_dirs[i]) ||
		    stat(s->hotplug_dirs[i], &st) < 0)
			why = strerror(errno);
		else if (!S_ISDIR(st.st_mode))
			why = "not a directory";
		if (why) {
			fprintf(stderr, "bulkhead: -hotplug-dir: '%s': %s\n", c->hotplug_dirs[i], why);
			return -1;
		}
	}
	s->nhotplug_dirs = c->nhotplug_dirs;
	return 0;
}

/*
 * Is fd inside a -hotplug-dir? Its /proc/self/fd link is the path of what was actually opened,
 * every symlink followed and every ".." gone, so a link inside pointing out is out. (A hard link
 * placed in the directory is in it: whoever may write there decides what is there.)
 */
static bool inside_hotplug_dirs(const struct supervisor *s, int fd)
{
	char link[32], path[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0 || path[0] != '/')
		return false;
	path[n] = '\0';
	for (unsigned i = 0; i < s->nhotplug_dirs; i++) {
		const char *d = s->hotplug_dirs[i];
		size_t len = strlen(d);

		if (!strcmp(d, "/") || (!strncmp(path, d, len) && path[len] == '/'))
			return true;
	}
	return false;
}

/*
 * The image a QMP client names: O_PATH first (no open side effects on whatever it names), then
 * the -hotplug-dir check and the file type on that, then the real open of exactly that inode
 * through /proc/self/fd -- never the name again, which could point elsewhere by then.
 */
static int open_image(struct supervisor *s, const struct hotplug_request *h,
		      struct hotplug_reply *r)
{
	int flags = (h->read_only ? O_RDONLY : O_RDWR) | (h->direct ? O_DIRECT : 0) | O_CLOEXEC |
		    O_NOCTTY;
	int pfd = open(h->filename, O_PATH | O_CLOEXEC), fd = -1;
	char link[32];
	struct stat st;

	if (pfd < 0) {
		fail(r, QMP_ERR_GENERIC, "Could not open '%s': %s", h->filename, strerror(errno));
		return -1;
	}
	if (s->nhotplug_dirs && !inside_hotplug_dirs(s, pfd))
		fail(r, QMP_ERR_GENERIC, "'%s' is outside the allowed hotplug directories",
		     h->filename);
	else if (fstat(pfd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)))
		fail(r, QMP_ERR_GENERIC, "'%s' is not a regular file or block device", h->filename);
	else {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", pfd);
		fd = open(link, flags);
		if (fd < 0)
			fail(r, QMP_ERR_GENERIC, "Could not open '%s': %s", h->filename,
			     strerror(errno));
	}
	close(pfd);
	return fd;
}

/* A free node, or NULL after the error reply. */
static struct sup_node *new_node(struct supervisor *s, const struct hotplug_request *h,
				 struct hotplug_reply *r)
{
	if (!qmp_id_ok(h->node_name) || strlen(h->filename) >= VM_PATH_MAX) {
		fail(r, QMP_ERR_GENERIC, "invalid node-name, id, filename or ifname");
		return NULL;
	}
	if (find_node(s, h->node_name)) {
		fail(r, QMP_ERR_GENERIC, "Duplicate nodes with node-name='%s'", h->node_name);
		return NULL;
	}
	for (unsigned i = 0; i < SUP_MAX_NODES; i++)
		if (!s->node[i].used)
			return &s->node[i];
	fail(r, QMP_ERR_GENERIC, "too many block nodes and netdevs");
	return NULL;
}

/*
 * Open an image named by a QMP client. Safe because: qmpd only talks to the VM's uid and root
 * (SO_PEERCRED), and the socket is ours, mode 0600; with -hotplug-dir only files inside those
 * directories; O_RDONLY when read-only, never O_CREAT; only regular files and block devices;
 * the worker gets the fd, never the path.
 */
static uint32_t blockdev_add(struct supervisor *s, const struct hotplug_request *h,
			     struct hotplug_reply *r)
{
	struct sup_node *n = new_node(s, h, r);
	int fd;

	if (!n)
		return r->error;
	fd = open_image(s, h, r);
	if (fd < 0)
		return r->error;
	*n = (struct sup_node){ .used = true, .hotplug = true, .kind = WORKER_BLK, .fds = { fd },
				.nfds = 1, .slot = -1,
				.d = { .readonly = h->read_only, .direct = h->direct } };
	snprintf(n->id, sizeof(n->id), "%s", h->node_name);
	snprintf(n->d.id, sizeof(n->d.id), "%s", h->node_name);
	snprintf(n->d.file, sizeof(n->d.file), "%s", h->filename);
	log_info("blockdev-add %s: %s%s%s", n->id, n->d.file, h->read_only ? ", read-only" : "",
		 h->direct ? ", O_DIRECT" : "");
	return QMP_OK;
}

/* blockdev-del and netdev_del: only what a hotplug added, and only while no device uses it */
static uint32_t node_del(struct supervisor *s, const struct hotplug_request *h,
			 struct hotplug_reply *r, enum worker_kind kind)
{
	struct sup_node *n = find_node(s, h->node_name);

	if (!n || !n->hotplug || n->kind != kind)
		return fail(r, QMP_ERR_GENERIC, "Failed to find node with node-name='%s'",
			    h->node_name);
	if (n->slot >= 0)
		return fail(r, QMP_ERR_GENERIC, "Node '%s' is busy: a device uses it", n->id);
	sup_node_close(n);
	memset(n, 0, sizeof(*n));
	return QMP_OK;
}

/* netdev_add: one queue of an existing tap (never one we create), or the queues of one tap a
 * QMP client passed (getfd; msg carries them): checked to be that, then ours. */
static uint32_t netdev_add(struct supervisor *s, const struct hotplug_request *h,
			   struct ipc_msg *msg, struct hotplug_reply *r)
{
	struct sup_node *n = new_node(s, h, r);
	char err[QMP_DESC_MAX / 2] = "ifname too long";
	char ifname[IFNAMSIZ];
	unsigned queues = h->nfds ? h->nfds : 1;
	int fds[QMP_NETDEV_FDS_MAX];

	if (!n)
		return r->error;
	if (h->nfds) {
		if (tap_check_queues(msg->fds, h->nfds, ifname, err, sizeof(err)) < 0)
			return fail(r, QMP_ERR_GENERIC, "netdev_add %s: %s", h->node_name, err);
		memcpy(fds, msg->fds, h->nfds * sizeof(int));
		msg->nfds = 0;
	} else {
		if (strlen(h->filename) > VM_IFNAME_MAX ||
		    tap_open(h->filename, 1, fds, err, sizeof(err)) < 0)
			return fail(r, QMP_ERR_GENERIC, "netdev_add %s: %s", h->node_name, err);
		snprintf(ifname, sizeof(ifname), "%s", h->filename);
	}
	*n = (struct sup_node){ .used = true, .hotplug = true, .kind = WORKER_NET, .nfds = queues,
				.slot = -1, .net = { .queues = queues } };
	memcpy(n->fds, fds, queues * sizeof(int));
	snprintf(n->id, sizeof(n->id), "%s", h->node_name);
	snprintf(n->net.id, sizeof(n->net.id), "%s", h->node_name);
	snprintf(n->net.ifname, sizeof(n->net.ifname), "%s", ifname);
	sup_net_rss(n);
	log_info("netdev_add %s: tap %s, %u queue pair(s)%s", n->id, ifname, queues,
		 h->nfds ? " from the client's fds" : "");
	return QMP_OK;
}

/* A NIC takes the MAC its slot showed the guest at boot: the driver read it then, once. */
static bool nic_mac_ok(const struct supervisor *s, unsigned slot, const char *mac,
		       struct hotplug_reply *r)
{
	const uint8_t *m = s->slot_mac[slot];
	char want[18];

	snprintf(want, sizeof(want), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		 m[4], m[5]);
	if (!mac[0] || !strcasecmp(mac, want))
		return true;
	fail(r, QMP_ERR_GENERIC, "mac %s: this NIC slot's driver took %s at boot; a NIC plugged "
	     "in keeps it (omit mac, or give that one)", mac, want);
	return false;
}

/* Checks, then a new worker for the node; *fd = the core's end of its socket. */
static uint32_t device_add(struct supervisor *s, const struct hotplug_request *h,
			   struct hotplug_reply *r, int *fd)
{
	struct sup_node *n = find_node(s, h->node_name);
	int kind = h->slot < WORKER_SLOTS ? worker_kind_of_slot(h->slot) : -1;
	struct worker *w;

	if (kind < 0 || sup_slot_from_config(s, h->slot) || s->worker[h->slot].node)
		return fail(r, QMP_ERR_GENERIC, "slot %u is not a free slot", h->slot);
	if (!qmp_id_ok(h->device_id) || device_id_used(s, h->device_id))
		return fail(r, QMP_ERR_GENERIC, "Duplicate ID '%s' for device", h->device_id);
	if (!n || !n->hotplug || n->slot >= 0 || (int)n->kind != kind)
		return fail(r, QMP_ERR_GENERIC, "%s '%s' is unknown or in use",
			    worker_kinds[kind].noun, h->node_name);
	if (kind == WORKER_NET) {
		if (!nic_mac_ok(s, h->slot, h->mac, r))
			return r->error;
		memcpy(n->net.mac, s->slot_mac[h->slot], sizeof(n->net.mac));
	}
	w = &s->worker[h->slot];
	*w = (struct worker){ .kind = n->kind, .node = n, .slot = h->slot, .pid = -1 };
	/* a new device counts from zero (its worker starts the page afresh without the magic) */
	if (s->stats_fd[h->slot] >= 0 &&
	    pwrite(s->stats_fd[h->slot], &(uint64_t){ 0 }, sizeof(uint64_t), 0) != sizeof(uint64_t))
		log_warn("device_add %s: resetting its counters", h->device_id);
	snprintf(w->dev_id, sizeof(w->dev_id), "%s", h->device_id);
	if (sup_worker_spawn(s, w, fd) < 0) {
		*w = (struct worker){ .slot = h->slot, .pid = -1 };
		return fail(r, QMP_ERR_GENERIC, "starting %s for '%s' failed",
			    worker_kinds[kind].program, n->id);
	}
	n->slot = (int)h->slot;
	log_info("device_add %s: slot %u, %s %s", h->device_id, h->slot, worker_kinds[kind].noun,
		 n->id);
	return QMP_OK;
}

/* The core already detached the slot; the worker sees EOF. */
static uint32_t device_del(struct supervisor *s, const struct hotplug_request *h,
			   struct hotplug_reply *r)
{
	struct worker *w = h->slot < WORKER_SLOTS ? &s->worker[h->slot] : NULL;

	if (!w || !w->node || sup_slot_from_config(s, h->slot))
		return fail(r, QMP_ERR_DEVICE_NOT_FOUND, "no hot-plugged device in slot %u", h->slot);
	log_info("device_del %s: slot %u", w->dev_id, h->slot);
	sup_worker_detach(w);
	return QMP_OK;
}

void sup_hotplug(struct supervisor *s, struct ipc_msg *msg)
{
	struct hotplug_request h;
	struct hotplug_reply r = { 0 };
	int fd = -1, e;

	if (ipc_hotplug_request_decode(msg, &h) < 0) {
		log_warnx("bad hotplug request from the core; stopping it");
		kill(s->core_pid, SIGKILL);
		return;
	}
	r.tag = h.tag;
	switch (h.op) {
	case HOTPLUG_BLOCKDEV_ADD:
		blockdev_add(s, &h, &r);
		break;
	case HOTPLUG_BLOCKDEV_DEL:
		node_del(s, &h, &r, WORKER_BLK);
		break;
	case HOTPLUG_NETDEV_ADD:
		netdev_add(s, &h, msg, &r);
		break;
	case HOTPLUG_NETDEV_DEL:
		node_del(s, &h, &r, WORKER_NET);
		break;
	case HOTPLUG_DEVICE_ADD:
		device_add(s, &h, &r, &fd);
		break;
	default:
		device_del(s, &h, &r);
	}
	e = ipc_hotplug_reply_send(s->ipc, &r, fd);
	if (e < 0)
		log_warnx("answering the core: %s", strerror(-e));
	closep(&fd);
}
