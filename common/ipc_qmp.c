/* Encoders and decoders of the control-path messages (common/ipc_qmp.h). Every decoder checks
 * the message type, the exact payload size, the fd count, NUL termination of every string and
 * the range of every enum, because each side re-validates what a peer sent (STYLE.md). */
#include "ipc_qmp.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

bool qmp_id_ok(const char *s)
{
	size_t n = strnlen(s, QMP_ID_MAX);

	if (n == 0 || n == QMP_ID_MAX || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-._", s[i]))
			return false;
	return true;
}

/* a string field must end inside its array; `nonempty` also refuses "" */
static bool str_ok(const char *s, size_t cap, bool nonempty)
{
	if (!memchr(s, '\0', cap))
		return false;
	return !nonempty || s[0] != '\0';
}

#define STR_OK(f, nonempty) str_ok((f), sizeof(f), (nonempty))

static bool flag_ok(uint8_t v)
{
	return v <= 1;
}

/* the header says what the payload is; anything else is a lying peer */
static bool frame_ok(const struct ipc_msg *m, uint32_t type, size_t size)
{
	return m->hdr.type == type && m->hdr.len == size && m->nfds == 0;
}

/* netdev_add names a tap, or carries its queues: never both, never more than fit */
static bool tap_given_ok(const char *ifname, uint32_t nfds)
{
	return nfds <= QMP_NETDEV_FDS_MAX && !ifname[0] == !!nfds;
}

static unsigned request_nfds(const struct qmp_request *r)
{
	return r->cmd == QMP_CMD_NETDEV_ADD ? r->u.netdev_add.nfds : 0;
}

int ipc_qmp_request_send(int sock, const struct qmp_request *r, const int *fds)
{
	unsigned n = request_nfds(r);

	if (n > QMP_NETDEV_FDS_MAX || (n && !fds))
		return -EINVAL;
	return ipc_send(sock, IPC_QMP_REQUEST, r, sizeof(*r), fds, n);
}

static bool blockdev_add_ok(const struct qmp_blockdev_add *b)
{
	return STR_OK(b->node_name, true) && STR_OK(b->filename, true) &&
	       flag_ok(b->read_only) && flag_ok(b->direct);
}

static bool device_add_ok(const struct qmp_device_add *d)
{
	return STR_OK(d->id, true) && STR_OK(d->driver, true) && STR_OK(d->drive, false) &&
	       STR_OK(d->netdev, false) && STR_OK(d->mac, false) && flag_ok(d->has_addr);
}

static bool request_args_ok(const struct qmp_request *r)
{
	switch (r->cmd) {
	case QMP_CMD_BLOCKDEV_ADD:
		return blockdev_add_ok(&r->u.blockdev_add);
	case QMP_CMD_DEVICE_ADD:
		return device_add_ok(&r->u.device_add);
	case QMP_CMD_NETDEV_ADD:
		return STR_OK(r->u.netdev_add.id, true) && STR_OK(r->u.netdev_add.ifname, false) &&
		       tap_given_ok(r->u.netdev_add.ifname, r->u.netdev_add.nfds);
	case QMP_CMD_BLOCKDEV_DEL:
	case QMP_CMD_DEVICE_DEL:
	case QMP_CMD_NETDEV_DEL:
		return STR_OK(r->u.id, true);
	default:
		/* no arguments, or balloon's u64 where every value is representable */
		return true;
	}
}

int ipc_qmp_request_decode(const struct ipc_msg *m, struct qmp_request *r)
{
	if (m->hdr.type != IPC_QMP_REQUEST || m->hdr.len != sizeof(*r))
		return -EPROTO;
	memcpy(r, m->payload, sizeof(*r));
	if (r->cmd < QMP_CMD_QUERY_STATUS || r->cmd >= QMP_CMD_MAX || !request_args_ok(r) ||
	    m->nfds != request_nfds(r))
		return -EPROTO;
	return 0;
}

int ipc_qmp_reply_send(int sock, const struct qmp_reply *r)
{
	return ipc_send(sock, IPC_QMP_REPLY, r, sizeof(*r), NULL, 0);
}

static bool cpus_ok(const struct qmp_reply *r)
{
	if (r->u.cpus.n < 1 || r->u.cpus.n > QMP_MAX_CPUS)
		return false;
	for (uint32_t i = 0; i < r->u.cpus.n; i++)
		if (r->u.cpus.cpu[i].index >= QMP_MAX_CPUS || !flag_ok(r->u.cpus.cpu[i].halted))
			return false;
	return true;
}

static bool nics_ok(const struct qmp_reply *r)
{
	if (r->u.nics.n > QMP_MAX_NICS)
		return false;
	for (uint32_t i = 0; i < r->u.nics.n; i++) {
		const struct qmp_nic_stats *n = &r->u.nics.nic[i];

		if (n->index >= QMP_MAX_NICS || !STR_OK(n->id, false) || !STR_OK(n->netdev, false) ||
		    !flag_ok(n->counted) || n->npairs > NET_STATS_MAX_PAIRS)
			return false;
	}
	return true;
}

/* the data of a successful reply, per command */
static bool reply_data_ok(const struct qmp_reply *r)
{
	switch (r->cmd) {
	case QMP_CMD_QUERY_STATUS:
		return r->u.runstate >= QMP_RUN_RUNNING && r->u.runstate <= QMP_RUN_SHUTDOWN;
	case QMP_CMD_QUERY_CPUS:
	case QMP_CMD_QUERY_HOTPLUGGABLE_CPUS:
		return cpus_ok(r);
	case QMP_CMD_QUERY_NET_STATS:
		return nics_ok(r);
	default:
		return true;
	}
}

int ipc_qmp_reply_decode(const struct ipc_msg *m, struct qmp_reply *r)
{
	if (!frame_ok(m, IPC_QMP_REPLY, sizeof(*r)))
		return -EPROTO;
	memcpy(r, m->payload, sizeof(*r));
	if (r->cmd < QMP_CMD_QUERY_STATUS || r->cmd >= QMP_CMD_MAX || r->error >= QMP_ERR_MAX ||
	    !STR_OK(r->desc, false))
		return -EPROTO;
	if (r->error == QMP_OK && !reply_data_ok(r))
		return -EPROTO;
	return 0;
}

int ipc_qmp_event_send(int sock, const struct qmp_event *e)
{
	return ipc_send(sock, IPC_QMP_EVENT, e, sizeof(*e), NULL, 0);
}

int ipc_qmp_event_decode(const struct ipc_msg *m, struct qmp_event *e)
{
	if (!frame_ok(m, IPC_QMP_EVENT, sizeof(*e)))
		return -EPROTO;
	memcpy(e, m->payload, sizeof(*e));
	if (e->kind < QMP_EV_STOP || e->kind >= QMP_EV_MAX || !flag_ok(e->guest) ||
	    !STR_OK(e->reason, false) || !STR_OK(e->device, false) ||
	    e->microseconds >= 1000000)
		return -EPROTO;
	if ((e->kind == QMP_EV_DEVICE_DELETED || e->kind == QMP_EV_BACKEND_FAILED) &&
	    e->device[0] == '\0')
		return -EPROTO;
	return 0;
}

int ipc_hotplug_request_send(int sock, const struct hotplug_request *r, const int *fds)
{
	if (r->nfds > QMP_NETDEV_FDS_MAX || (r->nfds && !fds))
		return -EINVAL;
	return ipc_send(sock, IPC_HOTPLUG_REQUEST, r, sizeof(*r), fds, r->nfds);
}

static bool hotplug_args_ok(const struct hotplug_request *r)
{
	if (r->nfds && r->op != HOTPLUG_NETDEV_ADD)
		return false;
	switch (r->op) {
	case HOTPLUG_BLOCKDEV_ADD:
		return r->node_name[0] && r->filename[0];
	case HOTPLUG_NETDEV_ADD:
		return r->node_name[0] && tap_given_ok(r->filename, r->nfds);
	case HOTPLUG_BLOCKDEV_DEL:
	case HOTPLUG_NETDEV_DEL:
		return r->node_name[0];
	case HOTPLUG_DEVICE_ADD:
		return r->slot < IPC_MAX_SLOTS && r->node_name[0] && r->device_id[0];
	case HOTPLUG_DEVICE_DEL:
		return r->slot < IPC_MAX_SLOTS;
	default:
		return false;
	}
}

int ipc_hotplug_request_decode(const struct ipc_msg *m, struct hotplug_request *r)
{
	if (m->hdr.type != IPC_HOTPLUG_REQUEST || m->hdr.len != sizeof(*r))
		return -EPROTO;
	memcpy(r, m->payload, sizeof(*r));
	if (m->nfds != r->nfds)
		return -EPROTO;
	if (r->op < HOTPLUG_BLOCKDEV_ADD || r->op >= HOTPLUG_OP_MAX ||
	    !STR_OK(r->node_name, false) || !STR_OK(r->device_id, false) ||
	    !STR_OK(r->filename, false) || !STR_OK(r->mac, false) || !flag_ok(r->read_only) ||
	    !flag_ok(r->direct) ||
	    !hotplug_args_ok(r))
		return -EPROTO;
	return 0;
}

int ipc_hotplug_reply_send(int sock, const struct hotplug_reply *r, int fd)
{
	return ipc_send(sock, IPC_HOTPLUG_REPLY, r, sizeof(*r), fd >= 0 ? &fd : NULL, fd >= 0);
}

/* An error reply carries no fd; a success carries at most one (only DEVICE_ADD's). On success
 * the fd (or -1) moves out of m so that ipc_msg_close_fds() does not close it. */
int ipc_hotplug_reply_decode(struct ipc_msg *m, struct hotplug_reply *r, int *fd)
{
	*fd = -1;
	if (m->hdr.type != IPC_HOTPLUG_REPLY || m->hdr.len != sizeof(*r) || m->nfds > 1)
		return -EPROTO;
	memcpy(r, m->payload, sizeof(*r));
	if (r->error >= QMP_ERR_MAX || !STR_OK(r->desc, false) ||
	    (r->error != QMP_OK && m->nfds))
		return -EPROTO;
	if (m->nfds) {
		*fd = m->fds[0];
		m->nfds = 0;
	}
	return 0;
}
