/* A QMP client's getfd/closefd file descriptors (see fds.h). */
#include "fds.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void qmp_fds_init(struct qmp_fdset *f)
{
	memset(f, 0, sizeof(*f));
}

void qmp_fds_close(struct qmp_fdset *f)
{
	for (unsigned i = 0; i < f->npending; i++)
		close(f->pending[i]);
	for (unsigned i = 0; i < f->nnamed; i++)
		close(f->named[i].fd);
	qmp_fds_release_taken(f);
	qmp_fds_init(f);
}

unsigned qmp_fds_received(struct qmp_fdset *f, const int *fds, unsigned n)
{
	unsigned dropped = 0;

	for (unsigned i = 0; i < n; i++) {
		if (f->npending + f->nnamed < QMP_FDS_MAX) {
			f->pending[f->npending++] = fds[i];
		} else {
			close(fds[i]);
			dropped++;
		}
	}
	return dropped;
}

static int find(const struct qmp_fdset *f, const char *name)
{
	for (unsigned i = 0; i < f->nnamed; i++)
		if (!strcmp(f->named[i].name, name))
			return (int)i;
	return -1;
}

int qmp_fds_name(struct qmp_fdset *f, const char *name)
{
	int i = find(f, name);
	int fd;

	if (!f->npending)
		return -ENOENT;
	fd = f->pending[0];
	memmove(f->pending, f->pending + 1, --f->npending * sizeof(int));
	if (i >= 0) {
		close(f->named[i].fd);
		f->named[i].fd = fd;
		return 0;
	}
	/* received and named together never pass QMP_FDS_MAX, and this one was received */
	snprintf(f->named[f->nnamed].name, sizeof(f->named[0].name), "%s", name);
	f->named[f->nnamed++].fd = fd;
	return 0;
}

static void remove_named(struct qmp_fdset *f, unsigned i)
{
	f->named[i] = f->named[--f->nnamed];
}

int qmp_fds_drop(struct qmp_fdset *f, const char *name)
{
	int i = find(f, name);

	if (i < 0)
		return -ENOENT;
	close(f->named[i].fd);
	remove_named(f, (unsigned)i);
	return 0;
}

int qmp_fds_take(struct qmp_fdset *f, const char *names, char *what, size_t len)
{
	unsigned idx[QMP_NETDEV_FDS_MAX], n = 0;
	const char *p = names;

	for (;;) {
		size_t l = strcspn(p, ":");
		char name[QMP_ID_MAX];
		int i;

		snprintf(what, len, "%.*s", (int)l, p);
		if (l == 0 || l >= sizeof(name))
			return -EINVAL;
		if (n == QMP_NETDEV_FDS_MAX)
			return -E2BIG;
		memcpy(name, p, l);
		name[l] = '\0';
		i = find(f, name);
		if (i < 0)
			return -ENOENT;
		for (unsigned k = 0; k < n; k++)
			if (idx[k] == (unsigned)i)
				return -EINVAL;
		idx[n++] = (unsigned)i;
		if (!p[l])
			break;
		p += l + 1;
	}
	qmp_fds_release_taken(f);
	for (unsigned k = 0; k < n; k++)
		f->taken[f->ntaken++] = f->named[idx[k]].fd;
	/* highest index first: remove_named's swap then never moves one still to remove */
	for (unsigned k = 1; k < n; k++)
		for (unsigned j = k; j > 0 && idx[j - 1] < idx[j]; j--) {
			unsigned t = idx[j];

			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	for (unsigned k = 0; k < n; k++)
		remove_named(f, idx[k]);
	return 0;
}

void qmp_fds_release_taken(struct qmp_fdset *f)
{
	for (unsigned i = 0; i < f->ntaken; i++)
		close(f->taken[i]);
	f->ntaken = 0;
}
