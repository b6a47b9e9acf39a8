/* The supervisor's half of each worker kind (the other half, shared with the core and qmpd, is
 * common/worker_kinds.c): what it opens for the kind at boot and which options a worker of the
 * kind gets. Everything else about workers is the same for every kind (workers.c). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/param.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/vhost.h>
#include <sys/un.h>
#include <unistd.h>

#include "memfd.h"
#include "net_stats.h"
#include "supervisor_priv.h"
#include "tap.h"
#include "util.h"

int sup_open_error(const char *opt, const char *path)
{
	fprintf(stderr, "bulkhead: %s: cannot open '%s': %s\n", opt, path, strerror(errno));
	return -1;
}

/* ---- blk: -drive / blockdev-add images, bulkhead-blk ---- */

/* Opening the image is the privileged step the worker cannot do itself; the path came from
 * our own command line, and the worker gets only the fd, read-only when the disk is. */
static int open_drive(struct supervisor *s, const struct vm_drive *d, unsigned slot)
{
	int flags = (d->readonly ? O_RDONLY : O_RDWR) | (d->direct ? O_DIRECT : 0) | O_CLOEXEC;
	struct sup_node *n = &s->node[slot];

	*n = (struct sup_node){ .used = true, .kind = WORKER_BLK, .d = *d, .nfds = 1,
				.slot = (int)slot };
	snprintf(n->id, sizeof(n->id), "%s", d->id);
	s->worker[slot] = (struct worker){ .kind = WORKER_BLK, .node = n, .slot = slot, .pid = -1 };
	n->fds[0] = open(d->file, flags);
	return n->fds[0] < 0 ? sup_open_error("-drive", d->file) : 0;
}

static const struct vm_chardev *find_chardev(const struct vm_config *c, const char *id)
{
	for (unsigned i = 0; i < c->nchardevs; i++)
		if (!strcmp(c->chardevs[i].id, id))
			return &c->chardevs[i];
	return NULL;
}

/* An external vhost-user backend (qemu-storage-daemon, a bulkhead-net started by hand, ...)
 * in slot: we connect to its -chardev (the command line checked it exists), the core speaks. */
static int connect_chardev(struct supervisor *s, unsigned slot, const char *id)
{
	const struct vm_chardev *ch = find_chardev(s->cfg, id);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (!ch)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ch->path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "bulkhead: -chardev %s: cannot connect to '%s': %s\n", ch->id,
			ch->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	s->ext_fd[slot] = fd;
	snprintf(s->ext_name[slot], sizeof(s->ext_name[slot]), "%s", ch->id);
	return 0;
}

/* Disk i of the command line is slot i; its node (a -drive) is node[i]. */
static int blk_open_boot(struct supervisor *s)
{
	const struct vm_config *c = s->cfg;

	for (unsigned i = 0; i < c->ndisks; i++) {
		const struct vm_disk *d = &c->disks[i];

		if (d->kind == VM_DISK_DRIVE ? open_drive(s, &c->drives[d->index], i) :
		    connect_chardev(s, i, c->vhost_user_blk[d->index].chardev))
			return -1;
	}
	return 0;
}

static unsigned blk_nboot(const struct vm_config *c)
{
	return c->ndisks;
}

/* A disk has the queues its -device asks for, else one per vCPU (hotplugged disks too). */
static unsigned blk_queues(const struct supervisor *s, const struct vm_drive *d)
{
	return d->num_queues ? d->num_queues : MIN(s->cfg->ncpus, (unsigned)VM_MAX_BLK_QUEUES);
}

static int blk_args(const struct supervisor *s, const struct sup_node *n, struct sup_args *a)
{
	const struct vm_drive *d = &n->d;

	if (sup_arg(a, "--blk-fd=4") < 0 ||
	    (d->readonly && sup_arg(a, "--read-only") < 0) ||
	    (d->direct && sup_arg(a, "--direct") < 0) ||
	    (d->serial[0] && sup_arg(a, "--serial=%s", d->serial) < 0) ||
	    (d->iops && sup_arg(a, "--iops=%u", d->iops) < 0) ||
	    sup_arg(a, "--num-queues=%u", blk_queues(s, d)) < 0 ||
	    (d->has_poll_us && sup_arg(a, "--poll-us=%u", d->poll_us) < 0))
		return -1;
	return sup_arg(a, "--name=%s", d->id);
}

static const struct sup_kind_ops blk_ops = {
	.open_boot = blk_open_boot,
	.nboot = blk_nboot,
	.args = blk_args,
};

/* ---- net: -netdev taps, bulkhead-net ---- */

/* Every NIC slot gets a MAC at start: a NIC without mac= shows it, and so does an empty slot,
 * whose driver reads it once, at boot: a NIC plugged in later keeps it. 52:54:00 is the
 * locally administered prefix QEMU and libvirt use; the rest is random per VM. */
static void pick_macs(struct supervisor *s)
{
	const struct worker_kind_desc *k = &worker_kinds[WORKER_NET];

	for (unsigned i = k->first_slot; i < k->first_slot + k->nslots; i++) {
		uint8_t *m = s->slot_mac[i];

		m[0] = 0x52, m[1] = 0x54, m[2] = 0x00;
		if (getrandom(m + 3, 3, 0) != 3)
			m[3] = 0x12, m[4] = 0x34, m[5] = (uint8_t)(0x56 + i);
	}
}

void sup_net_rss(struct sup_node *n)
{
	struct sup_rss r;
	char err[160];

	if (n->net.queues < 2)
		return;
	if (sup_rss_attach(n->fds[0], &r, err, sizeof(err)) < 0) {
		log_warnx("netdev %s: no receive-side scaling (%s); the tap's flow hash picks "
			  "the queue", n->id, err);
		return;
	}
	memcpy(n->fds + n->net.queues, r.map_fd, sizeof(r.map_fd));
	n->nfds = n->net.queues + NET_RSS_MAPS;
}

/* fds= (Kata): every inherited fd a queue of one tap; ours to keep from every other child
 * (sup_spawn hands out only what it is told). */
static int check_inherited(const struct vm_net *v, char *err, size_t errlen)
{
	char ifname[IFNAMSIZ];

	if (tap_check_queues(v->fds, v->nfds, ifname, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < v->nfds; i++)
		fcntl(v->fds[i], F_SETFD, FD_CLOEXEC);
	return 0;
}

/* Every NIC slot's counters live in a page of their own that outlives its workers: a
 * restarted worker counts on, the core reads it (query-net-stats). Sealed: no worker can
 * shrink it under the core's mapping. */
static int stats_pages(struct supervisor *s)
{
	const struct worker_kind_desc *k = &worker_kinds[WORKER_NET];

	for (unsigned i = k->first_slot; i < k->first_slot + k->nslots; i++) {
		s->stats_fd[i] = memfd_sealed("bulkhead-net-stats", NET_STATS_FD_MIN);
		if (s->stats_fd[i] < 0) {
			fprintf(stderr, "bulkhead: NIC counters: memfd: %s\n", strerror(-s->stats_fd[i]));
			return -1;
		}
	}
	return 0;
}

/* NIC i of the command line is NIC slot i; its node is node[slot]. */
static int net_open_boot(struct supervisor *s)
{
	const struct vm_config *c = s->cfg;
	unsigned first = worker_kinds[WORKER_NET].first_slot;
	char err[160];

	pick_macs(s);
	if (stats_pages(s) < 0)
		return -1;
	for (unsigned i = 0; i < c->nnets; i++) {
		const struct vm_net *v = &c->nets[i];
		unsigned slot = first + i;
		struct sup_node *n = &s->node[slot];

		if (v->chardev[0]) {
			if (connect_chardev(s, slot, v->chardev) < 0)
				return -1;
			continue;
		}
		*n = (struct sup_node){ .used = true, .kind = WORKER_NET, .net = *v,
					.nfds = v->queues, .slot = (int)slot };
		snprintf(n->id, sizeof(n->id), "%s", v->id);
		if (!v->has_mac)
			memcpy(n->net.mac, s->slot_mac[slot], 6);
		memcpy(s->slot_mac[slot], n->net.mac, 6);
		s->worker[slot] = (struct worker){ .kind = WORKER_NET, .node = n, .slot = slot,
						   .pid = -1 };
		for (unsigned q = 0; q < SUP_NODE_FDS; q++)
			n->fds[q] = -1;
		if (v->ifname[0] ? tap_open(v->ifname, v->queues, n->fds, err, sizeof(err)) :
		    check_inherited(v, err, sizeof(err))) {
			fprintf(stderr, "bulkhead: -netdev %s: %s\n", v->id, err);
			return -1;
		}
		if (!v->ifname[0])
			memcpy(n->fds, v->fds, v->nfds * sizeof(int));
		sup_net_rss(n);
	}
	return 0;
}

static unsigned net_nboot(const struct vm_config *c)
{
	return c->nnets;
}

static int net_args(const struct supervisor *s UNUSED, const struct sup_node *n,
		    struct sup_args *a)
{
	const uint8_t *m = n->net.mac;
	unsigned nq = n->net.queues;

	for (unsigned q = 0; q < nq; q++)
		if (sup_arg(a, "--tap-fd=%u", 4 + q) < 0)
			return -1;
	if (n->nfds > nq &&
	    sup_arg(a, "--rss-map-fds=%u,%u,%u", 4 + nq, 5 + nq, 6 + nq) < 0)
		return -1;
	if (sup_arg(a, "--queues=%u", nq) < 0 ||
	    sup_arg(a, "--mac=%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]))
		return -1;
	return sup_arg(a, "--name=%s", n->id);
}

static const struct sup_kind_ops net_ops = {
	.open_boot = net_open_boot,
	.nboot = net_nboot,
	.args = net_args,
};

/* ---- vsock: -device vsock, bulkhead-vsock ---- */

/* The VM's socket's name in its directory (unix-socket mode). */
static const char *uds_name(const struct vm_vsock *v)
{
	const char *slash = strrchr(v->uds_path, '/');

	return slash ? slash + 1 : v->uds_path;
}

/* Kernel mode: the guest's CID on a /dev/vhost-vsock (ours, or Kata's vhostfd). The CID is
 * the host's to check: another VM's is refused here, by the kernel. 0, or -1 after a line. */
static int vhost_vsock_cid(int fd, const char *what, uint64_t cid)
{
	if (ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &cid) == 0)
		return 0;
	if (errno == EADDRINUSE)
		log_warnx("-device vsock: guest-cid %llu is in use by another VM on this host",
			  (unsigned long long)cid);
	else
		log_warnx("-device vsock: %s: setting the guest's CID: %s%s", what, strerror(errno),
			  errno == ENOTTY ? " (not a /dev/vhost-vsock)" : "");
	return -1;
}

static int vhost_vsock_open(uint64_t cid)
{
	int fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		log_warnx("-device vsock: cannot open /dev/vhost-vsock: %s (load vhost_vsock, or "
			  "give uds-path=PATH for unix-socket vsock)", strerror(errno));
		return -1;
	}
	if (vhost_vsock_cid(fd, "/dev/vhost-vsock", cid) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Unix-socket mode: the worker binds and connects only inside the directory of uds-path; we
 * open that, it gets the fd (node fd 4) and the socket's bare name. */
static int open_uds_dir(struct sup_node *n)
{
	const char *path = n->vsock.uds_path, *slash = strrchr(path, '/');
	char dir[VM_SUN_PATH_MAX];

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	n->nfds = 1;
	n->fds[0] = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (n->fds[0] < 0)
		return sup_open_error("-device vsock: uds-path", dir[0] ? dir : "/");
	log_info("vsock %s: guest cid %llu, unix-socket mode at %s", n->id,
		 (unsigned long long)n->vsock.guest_cid, path);
	return 0;
}

/* Kernel mode (no uds-path): Kata's vhostfd, or /dev/vhost-vsock opened now, with the CID
 * set, so that a host without vhost_vsock or a CID in use ends the start with one line. That
 * fd serves the first start (start_fd); every later one opens its own. */
static int open_kernel(struct sup_node *n)
{
	struct vm_vsock *v = &n->vsock;

	if (v->vhostfd >= 0) {
		if (fcntl(v->vhostfd, F_SETFD, FD_CLOEXEC) < 0) {
			log_warnx("-device vsock: vhostfd=%d: %s", v->vhostfd, strerror(errno));
			v->vhostfd = -1;
			return -1;
		}
		if (vhost_vsock_cid(v->vhostfd, "vhostfd", v->guest_cid) < 0)
			return -1;
	} else if ((v->vhostfd = vhost_vsock_open(v->guest_cid)) < 0) {
		return -1;
	}
	log_info("vsock %s: guest cid %llu, kernel mode (the host's vhost-vsock)", n->id,
		 (unsigned long long)v->guest_cid);
	return 0;
}

/* The node and worker of a fixed kind's one slot (vsock, rng, console), named id; the caller
 * fills in its configuration and opens what it serves. */
static struct sup_node *fixed_node(struct supervisor *s, enum worker_kind kind, const char *id)
{
	unsigned slot = worker_kinds[kind].first_slot;
	struct sup_node *n = &s->node[slot];

	*n = (struct sup_node){ .used = true, .kind = kind, .slot = (int)slot, .fds = { -1 } };
	snprintf(n->id, sizeof(n->id), "%s", id);
	s->worker[slot] = (struct worker){ .kind = kind, .node = n, .slot = slot, .pid = -1 };
	return n;
}

static int vsock_open_boot(struct supervisor *s)
{
	const struct vm_vsock *v = &s->cfg->vsock;
	struct sup_node *n;

	if (!v->present)
		return 0;
	if (v->chardev[0])
		return connect_chardev(s, worker_kinds[WORKER_VSOCK].first_slot, v->chardev);
	n = fixed_node(s, WORKER_VSOCK, v->id);
	n->vsock = *v;
	return v->uds_path[0] ? open_uds_dir(n) : open_kernel(n);
}

static unsigned vsock_nboot(const struct vm_config *c)
{
	return c->vsock.present;
}

/* Kernel mode: the device of this start (the one opened at boot, then a new one each time). */
static int vsock_start_fd(struct supervisor *s, struct sup_node *n, int *fd)
{
	(void)s;
	*fd = -1;
	if (n->vsock.uds_path[0])
		return 0;
	*fd = n->vsock.vhostfd >= 0 ? n->vsock.vhostfd : vhost_vsock_open(n->vsock.guest_cid);
	n->vsock.vhostfd = -1;
	return *fd < 0 ? -1 : 0;
}

static int vsock_args(const struct supervisor *s UNUSED, const struct sup_node *n,
		      struct sup_args *a)
{
	const struct vm_vsock *v = &n->vsock;

	if (v->uds_path[0] ?
	    sup_arg(a, "--uds-dir-fd=4") < 0 || sup_arg(a, "--uds-name=%s", uds_name(v)) < 0 :
	    sup_arg(a, "--vhost-fd=%u", 4 + n->nfds) < 0)
		return -1;
	if (sup_arg(a, "--guest-cid=%llu", (unsigned long long)v->guest_cid) < 0)
		return -1;
	return sup_arg(a, "--name=%s", n->id);
}

/* The VM's socket goes with the VM (its workers are stopped by now); the host's listeners
 * beside it are their owners'. */
static void vsock_close(struct sup_node *n)
{
	const char *name = uds_name(&n->vsock);
	struct stat st;

	closep(&n->vsock.vhostfd);
	if (n->nfds && fstatat(n->fds[0], name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(st.st_mode))
		unlinkat(n->fds[0], name, 0);
}

static const struct sup_kind_ops vsock_ops = {
	.open_boot = vsock_open_boot,
	.nboot = vsock_nboot,
	.args = vsock_args,
	.start_fd = vsock_start_fd,
};

/* ---- rng: -object rng-random + -device virtio-rng-device, bulkhead-rng ---- */

/* The entropy source: a character device (a regular file would run dry, and a guest that
 * reads on would get nothing), opened here like a disk image, nonblocking for the worker. */
static int rng_open_boot(struct supervisor *s)
{
	const struct vm_rng *r = &s->cfg->rng;
	struct sup_node *n;
	struct stat st;

	if (!r->present)
		return 0;
	n = fixed_node(s, WORKER_RNG, r->object);
	n->rng = *r;
	n->fds[0] = open(r->filename, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (n->fds[0] < 0)
		return sup_open_error("-object rng-random: filename", r->filename);
	n->nfds = 1;
	if (fstat(n->fds[0], &st) < 0 || !S_ISCHR(st.st_mode)) {
		fprintf(stderr, "bulkhead: -object rng-random: filename '%s' is not a character "
			"device (such as /dev/urandom)\n", r->filename);
		return -1;
	}
	return 0;
}

static unsigned rng_nboot(const struct vm_config *c)
{
	return c->rng.present;
}

static int rng_args(const struct supervisor *s UNUSED, const struct sup_node *n,
		    struct sup_args *a)
{
	const struct vm_rng *r = &n->rng;

	if (sup_arg(a, "--source-fd=4") < 0 || sup_arg(a, "--period=%llu",
							(unsigned long long)r->period_ms) < 0 ||
	    sup_arg(a, "--max-bytes=%llu", (unsigned long long)r->max_bytes) < 0)
		return -1;
	return sup_arg(a, "--name=%s", r->id[0] ? r->id : r->object);
}

static const struct sup_kind_ops rng_ops = {
	.open_boot = rng_open_boot,
	.nboot = rng_nboot,
	.args = rng_args,
};

/* ---- console: virtconsole on a -chardev socket we listen on, bulkhead-hvc ---- */

/* The socket the console's clients connect to is made here (the worker creates no files) and
 * kept across worker restarts: a client reconnects to the same path. */
static int console_open_boot(struct supervisor *s)
{
	const struct vm_console *c = &s->cfg->console;
	struct sup_node *n;

	if (!c->present)
		return 0;
	n = fixed_node(s, WORKER_CONSOLE, c->chardev);
	n->console.cfg = *c;
	if (sup_listen_unix(&n->console.sock, "-chardev console socket", c->path) < 0)
		return -1;
	n->fds[0] = n->console.sock.fd;
	n->console.sock.fd = -1;        /* the node's now: sup_node_close closes it */
	n->nfds = 1;
	return 0;
}

static unsigned console_nboot(const struct vm_config *c)
{
	return c->console.present;
}

static int console_args(const struct supervisor *s UNUSED, const struct sup_node *n,
			struct sup_args *a)
{
	const struct vm_console *c = &n->console.cfg;

	if (sup_arg(a, "--listen-fd=4") < 0)
		return -1;
	return sup_arg(a, "--name=%s", c->id[0] ? c->id : c->chardev);
}

static const struct sup_kind_ops console_ops = {
	.open_boot = console_open_boot,
	.nboot = console_nboot,
	.args = console_args,
};

/* ---- fs: vhost-user-fs-device, the user's virtiofsd ---- */

/* Nothing to spawn: the virtiofsd the user started (Kata starts it before the VM) listens at
 * the chardev's path, and the core speaks to it like any external backend. */
static int fs_open_boot(struct supervisor *s)
{
	const struct vm_fs *f = &s->cfg->fs;

	if (!f->present)
		return 0;
	return connect_chardev(s, worker_kinds[WORKER_FS].first_slot, f->chardev);
}

static unsigned fs_nboot(const struct vm_config *c)
{
	return c->fs.present;
}

static const struct sup_kind_ops fs_ops = {
	.open_boot = fs_open_boot,
	.nboot = fs_nboot,
};

void sup_node_close(struct sup_node *n)
{
	if (n->kind == WORKER_NET && n->nfds > n->net.queues)
		sup_rss_detach(n->fds[0]);
	if (n->kind == WORKER_VSOCK)
		vsock_close(n);
	if (n->kind == WORKER_CONSOLE)
		sup_listener_close(&n->console.sock);
	for (unsigned i = 0; i < n->nfds; i++)
		closep(&n->fds[i]);
}

const struct sup_kind_ops *const sup_kind_ops[WORKER_KIND_MAX] = {
	[WORKER_BLK] = &blk_ops,
	[WORKER_NET] = &net_ops,
	[WORKER_VSOCK] = &vsock_ops,
	[WORKER_RNG] = &rng_ops,
	[WORKER_CONSOLE] = &console_ops,
	[WORKER_FS] = &fs_ops,
};
