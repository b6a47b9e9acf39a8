/* Framed, typed messages with SCM_RIGHTS over SOCK_SEQPACKET. */
#include "ipc.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

int ipc_send(int sock, uint32_t type, const void *payload, size_t len,
	     const int *fds, unsigned nfds)
{
	struct ipc_hdr hdr = { .type = type, .len = (uint32_t)len };
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	if (len > IPC_MAX_PAYLOAD || nfds > IPC_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *cm;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(hdr) + len ? 0 : -EPIPE;
}

void ipc_msg_close_fds(struct ipc_msg *msg)
{
	for (unsigned i = 0; i < msg->nfds; i++)
		if (msg->fds[i] >= 0)
			close(msg->fds[i]);
	msg->nfds = 0;
}

/* Take every fd the kernel handed us, even from a malformed control message, so that none leak. */
static void collect_fds(struct msghdr *mh, struct ipc_msg *msg, bool *bad)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
			*bad = true;
			continue;
		}
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (msg->nfds < IPC_MAX_FDS)
				msg->fds[msg->nfds++] = fd;
			else {
				close(fd);
				*bad = true;
			}
		}
	}
}

int ipc_recv(int sock, const struct ipc_peer *peer, struct ipc_msg *msg)
{
	struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg->hdr) + sizeof(msg->payload) };
	union {
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf) };
	bool bad = false;
	ssize_t n;

	msg->nfds = 0;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	collect_fds(&mh, msg, &bad);
	if (n == 0 && !msg->nfds)
		return 0;
	if (bad || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(msg->hdr) ||
	    msg->hdr.len != (size_t)n - sizeof(msg->hdr) || msg->hdr.type >= IPC_TYPE_MAX ||
	    msg->hdr.type >= 32 || !(peer->allowed & (1u << msg->hdr.type))) {
		ipc_msg_close_fds(msg);
		return -EPROTO;
	}
	return 1;
}

static bool nul_terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

int ipc_core_config_send(int sock, const struct core_config *c, const struct core_config_fds *f)
{
	int fds[IPC_MAX_FDS];
	unsigned n = 0;

	fds[n++] = f->kernel;
	if (c->flags & CORE_F_INITRD)
		fds[n++] = f->initrd;
	if (c->flags & CORE_F_MEM_FD)
		fds[n++] = f->mem;
	for (unsigned i = 0; i < IPC_MAX_SLOTS; i++) {
		if (!(c->stats_slots & (1u << i)))
			continue;
		if (n == IPC_MAX_FDS)
			return -E2BIG;
		fds[n++] = f->stats[i];
	}
	return ipc_send(sock, IPC_CORE_CONFIG, c, sizeof(*c), fds, n);
}

int ipc_core_config_decode(struct ipc_msg *msg, struct core_config *c, struct core_config_fds *f)
{
	unsigned want, i = 0;

	if (msg->hdr.type != IPC_CORE_CONFIG || msg->hdr.len != sizeof(*c))
		return -EPROTO;
	memcpy(c, msg->payload, sizeof(*c));
	want = 1 + !!(c->flags & CORE_F_INITRD) + !!(c->flags & CORE_F_MEM_FD) +
	       (unsigned)__builtin_popcount(c->stats_slots);
	if (msg->nfds != want || (c->flags & ~CORE_F_ALL) ||
	    (c->stats_slots >> IPC_MAX_SLOTS))
		return -EPROTO;
	/* the supervisor validated these too; the core checks again rather than trust a peer */
	for (i = 0; i < IPC_MAX_SLOTS; i++) {
		if (c->slot_kind[i] >= IPC_DEV_KIND_MAX ||
		    !nul_terminated(c->slot_dev_id[i], sizeof(c->slot_dev_id[i])))
			return -EINVAL;
		if (c->slot_kind[i] == IPC_DEV_VHOST_USER_FS &&
		    (!c->fs_tag[0] || !c->fs_request_queues))
			return -EINVAL;
	}
	if (!nul_terminated(c->fs_tag, sizeof(c->fs_tag)) ||
	    c->fs_request_queues > VM_FS_MAX_REQUEST_QUEUES)
		return -EINVAL;
	i = 0;
	if (c->ncpus < VM_MIN_CPUS || c->ncpus > VM_MAX_CPUS ||
	    c->mem_size < VM_MIN_MEM || c->mem_size > VM_MAX_MEM ||
	    !nul_terminated(c->name, sizeof(c->name)) ||
	    !nul_terminated(c->cmdline, sizeof(c->cmdline)))
		return -EINVAL;
	f->kernel = msg->fds[i++];
	f->initrd = (c->flags & CORE_F_INITRD) ? msg->fds[i++] : -1;
	f->mem = (c->flags & CORE_F_MEM_FD) ? msg->fds[i++] : -1;
	for (unsigned s = 0; s < IPC_MAX_SLOTS; s++)
		f->stats[s] = (c->stats_slots & (1u << s)) ? msg->fds[i++] : -1;
	msg->nfds = 0;
	return 0;
}

int ipc_vm_exit_send(int sock, const struct vm_exit_info *e)
{
	return ipc_send(sock, IPC_VM_EXIT, e, sizeof(*e), NULL, 0);
}

int ipc_vm_exit_decode(const struct ipc_msg *msg, struct vm_exit_info *e)
{
	if (msg->hdr.type != IPC_VM_EXIT || msg->hdr.len != sizeof(*e) || msg->nfds)
		return -EPROTO;
	memcpy(e, msg->payload, sizeof(*e));
	if (e->reason < IPC_EXIT_RESET || e->reason > IPC_EXIT_ERROR ||
	    !nul_terminated(e->detail, sizeof(e->detail)))
		return -EPROTO;
	return 0;
}

int ipc_backend_attach_send(int sock, const struct backend_attach *a, int fd)
{
	return ipc_send(sock, IPC_BACKEND_ATTACH, a, sizeof(*a), &fd, 1);
}

int ipc_backend_attach_decode(struct ipc_msg *msg, struct backend_attach *a, int *fd)
{
	if (msg->hdr.type != IPC_BACKEND_ATTACH || msg->hdr.len != sizeof(*a) || msg->nfds != 1)
		return -EPROTO;
	memcpy(a, msg->payload, sizeof(*a));
	if (a->slot >= IPC_MAX_SLOTS || a->kind == IPC_DEV_NONE || a->kind >= IPC_DEV_KIND_MAX ||
	    !nul_terminated(a->name, sizeof(a->name)) || a->name[0] == '\0')
		return -EPROTO;
	*fd = msg->fds[0];
	msg->nfds = 0;
	return 0;
}

int ipc_qmpd_attach_send(int sock, int fd)
{
	return ipc_send(sock, IPC_QMPD_ATTACH, NULL, 0, &fd, 1);
}

int ipc_qmpd_attach_decode(struct ipc_msg *msg, int *fd)
{
	if (msg->hdr.type != IPC_QMPD_ATTACH || msg->hdr.len != 0 || msg->nfds != 1)
		return -EPROTO;
	*fd = msg->fds[0];
	msg->nfds = 0;
	return 0;
}

int ipc_backend_failed_send(int sock, const struct backend_failed *b)
{
	return ipc_send(sock, IPC_BACKEND_FAILED, b, sizeof(*b), NULL, 0);
}

int ipc_backend_failed_decode(const struct ipc_msg *msg, struct backend_failed *b)
{
	if (msg->hdr.type != IPC_BACKEND_FAILED || msg->hdr.len != sizeof(*b) || msg->nfds)
		return -EPROTO;
	memcpy(b, msg->payload, sizeof(*b));
	if (b->slot >= IPC_MAX_SLOTS || !nul_terminated(b->name, sizeof(b->name)) || !b->name[0])
		return -EPROTO;
	return 0;
}
