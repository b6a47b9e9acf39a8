/* A QMP client's file descriptors, as QEMU's getfd and closefd handle them: fds arrive with
 * SCM_RIGHTS on the client's socket, a getfd names the oldest one not named yet, netdev_add's
 * "fd"/"fds" takes named ones along to the core (they are consumed, as in QEMU), closefd drops
 * one. qmpd never uses them: the supervisor checks what they are. A client holds at most
 * QMP_FDS_MAX, received or named; more are closed as they arrive. */
#ifndef BULKHEAD_QMPD_FDS_H
#define BULKHEAD_QMPD_FDS_H

#include <stddef.h>

#include "ipc_qmp.h"

#define QMP_FDS_MAX      8
#define QMP_FDNAMES_MAX  (QMP_NETDEV_FDS_MAX * QMP_ID_MAX)   /* "a:b:..." of netdev_add fds */

struct qmp_named_fd {
	char name[QMP_ID_MAX];
	int fd;
};

struct qmp_fdset {
	int pending[QMP_FDS_MAX];            /* received, not named yet: oldest first */
	unsigned npending;
	struct qmp_named_fd named[QMP_FDS_MAX];
	unsigned nnamed;
	int taken[QMP_NETDEV_FDS_MAX];       /* going to the core with the pending request */
	unsigned ntaken;
};

void qmp_fds_init(struct qmp_fdset *f);
/* Close every fd the set holds. */
void qmp_fds_close(struct qmp_fdset *f);
/* n fds came with the client's input; those that do not fit are closed. Returns how many. */
unsigned qmp_fds_received(struct qmp_fdset *f, const int *fds, unsigned n);
/* getfd: the oldest received fd gets the name (one already named so is closed and replaced).
 * 0, -ENOENT (no fd was received), -ENOSPC (QMP_FDS_MAX named already). */
int qmp_fds_name(struct qmp_fdset *f, const char *name);
/* closefd: 0 or -ENOENT. */
int qmp_fds_drop(struct qmp_fdset *f, const char *name);
/* netdev_add "fds": move the fds named in the ':'-separated list to taken[]. 0, or -ENOENT
 * (what names the missing one), -E2BIG (more than QMP_NETDEV_FDS_MAX), -EINVAL (a name
 * twice or empty); on error nothing moves. */
int qmp_fds_take(struct qmp_fdset *f, const char *names, char *what, size_t len);
/* Close what was taken: the core has its own copies now, or the request failed. */
void qmp_fds_release_taken(struct qmp_fdset *f);

#endif
