/* The supervisor's half of each worker kind (the other half, shared with the core and qmpd, is
 * common/worker_kinds.c): what it opens for the kind at boot, which fds and options a worker of
 * the kind gets. Everything else about workers is the same for every kind (workers.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "supervisor_priv.h"
#include "util.h"

int sup_open_error(const char *opt, const char *path)
{
	fprintf(stderr, "bulkhead: %s: cannot open '%s': %s\n", opt, path, strerror(errno));
	return -1;
}

int sup_arg(struct sup_args *a, const char *fmt, ...)
{
	size_t room = sizeof(a->buf) - a->used;
	va_list ap;
	int n;

	if (a->n + 1 >= SUP_WORKER_ARGS)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(a->buf + a->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return -1;
	a->argv[a->n++] = a->buf + a->used;
	a->argv[a->n] = NULL;
	a->used += (size_t)n + 1;
	return 0;
}

/* ---- blk: -drive / blockdev-add images, bulkhead-blk ---- */

/* Opening the image is the privileged step the worker cannot do itself; the path came from
 * our own command line, and the worker gets only the fd, read-only when the disk is. */
static int open_drive(struct supervisor *s, const struct vm_drive *d, unsigned slot)
{
	int flags = (d->readonly ? O_RDONLY : O_RDWR) | (d->direct ? O_DIRECT : 0) | O_CLOEXEC;
	struct sup_node *n = &s->node[slot];

	*n = (struct sup_node){ .used = true, .kind = WORKER_BLK, .d = *d, .slot = (int)slot };
	s->worker[slot] = (struct worker){ .kind = WORKER_BLK, .node = n, .slot = slot, .pid = -1 };
	n->fd = open(d->file, flags);
	return n->fd < 0 ? sup_open_error("-drive", d->file) : 0;
}

/* An external vhost-user backend (e.g. qemu-storage-daemon): we connect, the core speaks. */
static int connect_chardev(const struct vm_chardev *ch)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ch->path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "bulkhead: -chardev %s: cannot connect to '%s': %s\n", ch->id,
			ch->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static const struct vm_chardev *find_chardev(const struct vm_config *c, const char *id)
{
	for (unsigned i = 0; i < c->nchardevs; i++)
		if (!strcmp(c->chardevs[i].id, id))
			return &c->chardevs[i];
	return NULL;
}

/* Disk i of the command line is slot i; its node (a -drive) is node[i]. */
static int blk_open_boot(struct supervisor *s)
{
	const struct vm_config *c = s->cfg;

	for (unsigned i = 0; i < c->ndisks; i++) {
		const struct vm_disk *d = &c->disks[i];
		const struct vm_chardev *ch;

		if (d->kind == VM_DISK_DRIVE) {
			if (open_drive(s, &c->drives[d->index], i) < 0)
				return -1;
			continue;
		}
		ch = find_chardev(c, c->vhost_user_blk[d->index].chardev);
		if (!ch || (s->ext_fd[i] = connect_chardev(ch)) < 0)
			return -1;
	}
	return 0;
}

static unsigned blk_nboot(const struct vm_config *c)
{
	return c->ndisks;
}

/* fd 4: the image */
static unsigned blk_fds(const struct sup_node *n, int *fds, unsigned max)
{
	if (max < 1)
		return 0;
	fds[0] = n->fd;
	return 1;
}

static int blk_args(const struct sup_node *n, struct sup_args *a)
{
	const struct vm_drive *d = &n->d;

	if (sup_arg(a, "--blk-fd=4") < 0 ||
	    (d->readonly && sup_arg(a, "--read-only") < 0) ||
	    (d->direct && sup_arg(a, "--direct") < 0) ||
	    (d->serial[0] && sup_arg(a, "--serial=%s", d->serial) < 0) ||
	    (d->iops && sup_arg(a, "--iops=%u", d->iops) < 0))
		return -1;
	return sup_arg(a, "--name=%s", d->id);
}

static const struct sup_kind_ops blk_ops = {
	.open_boot = blk_open_boot,
	.nboot = blk_nboot,
	.fds = blk_fds,
	.args = blk_args,
};

const struct sup_kind_ops *const sup_kind_ops[WORKER_KIND_MAX] = {
	[WORKER_BLK] = &blk_ops,
};
