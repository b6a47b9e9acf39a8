/* Unit tests of the control-path codec (common/ipc_qmp.c): every message round-trips over a
 * real SOCK_SEQPACKET pair, and each decoder refuses a wrong type, a size off by one, stray
 * fds, a string without its NUL, an empty id where one is required and every out-of-range
 * enum. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc_qmp.h"

static const struct ipc_peer any = { "test", ~0u };
static int sv[2];
static struct ipc_msg msg;

static void setup(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static void teardown(void)
{
	ipc_msg_close_fds(&msg);
	close(sv[0]);
	close(sv[1]);
}

TestSuite(ipc_qmp, .init = setup, .fini = teardown);

/* send a raw payload (any type, any size, optional fd) and receive it into msg */
static void raw(uint32_t type, const void *p, size_t len, int fd)
{
	cr_assert_eq(ipc_send(sv[0], type, p, len, fd >= 0 ? &fd : NULL, fd >= 0), 0);
	cr_assert_eq(ipc_recv(sv[1], &any, &msg), 1);
}

static void recv_one(void)
{
	cr_assert_eq(ipc_recv(sv[1], &any, &msg), 1);
}

static struct qmp_request blockdev_req(void)
{
	struct qmp_request r = { .tag = 7, .cmd = QMP_CMD_BLOCKDEV_ADD };

	strcpy(r.u.blockdev_add.node_name, "drive-0");
	strcpy(r.u.blockdev_add.filename, "/tmp/disk.img");
	r.u.blockdev_add.direct = 1;
	return r;
}

Test(ipc_qmp, request_round_trip)
{
	struct qmp_request r = blockdev_req(), out;

	cr_assert_eq(ipc_qmp_request_send(sv[0], &r, NULL), 0);
	recv_one();
	cr_assert_eq(msg.hdr.type, IPC_QMP_REQUEST);
	cr_assert_eq(ipc_qmp_request_decode(&msg, &out), 0);
	cr_assert_eq(memcmp(&r, &out, sizeof(r)), 0);
}

Test(ipc_qmp, request_every_plain_command_decodes)
{
	struct qmp_request r = { 0 }, out;
	const uint32_t plain[] = { QMP_CMD_QUERY_STATUS, QMP_CMD_STOP, QMP_CMD_CONT, QMP_CMD_QUIT,
		QMP_CMD_SYSTEM_RESET, QMP_CMD_SYSTEM_POWERDOWN, QMP_CMD_QUERY_CPUS,
		QMP_CMD_QUERY_HOTPLUGGABLE_CPUS, QMP_CMD_BALLOON, QMP_CMD_QUERY_BALLOON,
		QMP_CMD_QUERY_NET_STATS };

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		r.cmd = plain[i];
		raw(IPC_QMP_REQUEST, &r, sizeof(r), -1);
		cr_assert_eq(ipc_qmp_request_decode(&msg, &out), 0, "cmd %u", plain[i]);
	}
}

Test(ipc_qmp, request_size_type_and_fds)
{
	struct qmp_request r = blockdev_req(), out;
	char big[sizeof(r) + 1] = { 0 };

	raw(IPC_QMP_REQUEST, &r, sizeof(r) - 1, -1);
	cr_assert_eq(ipc_qmp_request_decode(&msg, &out), -EPROTO);
	memcpy(big, &r, sizeof(r));
	raw(IPC_QMP_REQUEST, big, sizeof(big), -1);
	cr_assert_eq(ipc_qmp_request_decode(&msg, &out), -EPROTO);
	raw(IPC_QMP_REPLY, &r, sizeof(r), -1);
	cr_assert_eq(ipc_qmp_request_decode(&msg, &out), -EPROTO);
	raw(IPC_QMP_REQUEST, &r, sizeof(r), STDIN_FILENO);
	cr_assert_eq(ipc_qmp_request_decode(&msg, &out), -EPROTO);
}

static int decode_req(struct qmp_request *r)
{
	struct qmp_request out;

	raw(IPC_QMP_REQUEST, r, sizeof(*r), -1);
	return ipc_qmp_request_decode(&msg, &out);
}

Test(ipc_qmp, request_ranges_and_strings)
{
	struct qmp_request r = blockdev_req();

	r.cmd = 0;
	cr_assert_eq(decode_req(&r), -EPROTO);
	r.cmd = QMP_CMD_MAX;
	cr_assert_eq(decode_req(&r), -EPROTO);
	r = blockdev_req();
	memset(r.u.blockdev_add.node_name, 'a', QMP_ID_MAX);
	cr_assert_eq(decode_req(&r), -EPROTO);
	r = blockdev_req();
	memset(r.u.blockdev_add.filename, 'a', QMP_PATH_MAX);
	cr_assert_eq(decode_req(&r), -EPROTO);
	r = blockdev_req();
	r.u.blockdev_add.filename[0] = '\0';
	cr_assert_eq(decode_req(&r), -EPROTO);
	r = blockdev_req();
	r.u.blockdev_add.read_only = 2;
	cr_assert_eq(decode_req(&r), -EPROTO);
	r = blockdev_req();
	r.u.blockdev_add.direct = 0xff;
	cr_assert_eq(decode_req(&r), -EPROTO);
}

Test(ipc_qmp, request_device_netdev_and_ids)
{
	struct qmp_request r = { .cmd = QMP_CMD_DEVICE_ADD };

	strcpy(r.u.device_add.id, "drive-0");
	strcpy(r.u.device_add.driver, "virtio-blk-mmio");
	r.u.device_add.has_addr = 1;
	r.u.device_add.addr = 1;
	cr_assert_eq(decode_req(&r), 0);
	memset(r.u.device_add.mac, 'x', sizeof(r.u.device_add.mac));
	cr_assert_eq(decode_req(&r), -EPROTO);
	r.u.device_add.mac[0] = '\0';
	memset(r.u.device_add.drive, 'x', QMP_ID_MAX);
	cr_assert_eq(decode_req(&r), -EPROTO);
	r.u.device_add.drive[0] = '\0';
	r.u.device_add.has_addr = 3;
	cr_assert_eq(decode_req(&r), -EPROTO);
	r.u.device_add.has_addr = 0;
	r.u.device_add.driver[0] = '\0';
	cr_assert_eq(decode_req(&r), -EPROTO);

	memset(&r, 0, sizeof(r));
	r.cmd = QMP_CMD_NETDEV_ADD;
	strcpy(r.u.netdev_add.id, "net-0");
	cr_assert_eq(decode_req(&r), -EPROTO, "empty ifname");
	strcpy(r.u.netdev_add.ifname, "tap0");
	cr_assert_eq(decode_req(&r), 0);

	const uint32_t dels[] = { QMP_CMD_BLOCKDEV_DEL, QMP_CMD_DEVICE_DEL, QMP_CMD_NETDEV_DEL };
	for (int i = 0; i < 3; i++) {
		memset(&r, 0, sizeof(r));
		r.cmd = dels[i];
		cr_assert_eq(decode_req(&r), -EPROTO, "empty id");
		memset(r.u.id, 'z', QMP_ID_MAX);
		cr_assert_eq(decode_req(&r), -EPROTO, "unterminated id");
		strcpy(r.u.id, "x");
		cr_assert_eq(decode_req(&r), 0);
	}
}

static struct qmp_reply cpus_reply(uint32_t n)
{
	struct qmp_reply r = { .tag = 3, .cmd = QMP_CMD_QUERY_CPUS };

	r.u.cpus.n = n;
	for (uint32_t i = 0; i < n && i < QMP_MAX_CPUS; i++)
		r.u.cpus.cpu[i] = (struct qmp_cpu_info){ .index = i, .thread_id = 100 + (int)i };
	return r;
}

static int decode_reply(struct qmp_reply *r)
{
	struct qmp_reply out;

	raw(IPC_QMP_REPLY, r, sizeof(*r), -1);
	return ipc_qmp_reply_decode(&msg, &out);
}

Test(ipc_qmp, reply_round_trip_and_checks)
{
	struct qmp_reply r = cpus_reply(2), out;

	cr_assert_eq(ipc_qmp_reply_send(sv[0], &r), 0);
	recv_one();
	cr_assert_eq(ipc_qmp_reply_decode(&msg, &out), 0);
	cr_assert_eq(memcmp(&r, &out, sizeof(r)), 0);

	r = cpus_reply(0);
	cr_assert_eq(decode_reply(&r), -EPROTO, "no cpus");
	r = cpus_reply(QMP_MAX_CPUS + 1);
	cr_assert_eq(decode_reply(&r), -EPROTO, "too many cpus");
	r = cpus_reply(QMP_MAX_CPUS);
	cr_assert_eq(decode_reply(&r), 0);
	r.u.cpus.cpu[5].halted = 2;
	cr_assert_eq(decode_reply(&r), -EPROTO);
	r = cpus_reply(1);
	r.u.cpus.cpu[0].index = QMP_MAX_CPUS;
	cr_assert_eq(decode_reply(&r), -EPROTO);
	/* an error reply carries no data to check */
	r.error = QMP_ERR_GENERIC;
	strcpy(r.desc, "no");
	cr_assert_eq(decode_reply(&r), 0);
	r.error = QMP_ERR_MAX;
	cr_assert_eq(decode_reply(&r), -EPROTO);
	r.error = QMP_ERR_GENERIC;
	memset(r.desc, 'd', sizeof(r.desc));
	cr_assert_eq(decode_reply(&r), -EPROTO);
}

Test(ipc_qmp, reply_runstate_and_cmd_ranges)
{
	struct qmp_reply r = { .cmd = QMP_CMD_QUERY_STATUS, .u.runstate = QMP_RUN_PAUSED };

	cr_assert_eq(decode_reply(&r), 0);
	r.u.runstate = 0;
	cr_assert_eq(decode_reply(&r), -EPROTO);
	r.u.runstate = QMP_RUN_SHUTDOWN + 1;
	cr_assert_eq(decode_reply(&r), -EPROTO);
	r.u.runstate = QMP_RUN_RUNNING;
	r.cmd = QMP_CMD_MAX;
	cr_assert_eq(decode_reply(&r), -EPROTO);
	r.cmd = QMP_CMD_QUERY_STATUS;
	raw(IPC_QMP_REPLY, &r, sizeof(r) - 4, -1);
	cr_assert_eq(ipc_qmp_reply_decode(&msg, &r), -EPROTO);
}

/* query-net-stats: a count, indexes, strings and pair counts a qmpd can trust */
Test(ipc_qmp, reply_net_stats)
{
	struct qmp_reply r = { .cmd = QMP_CMD_QUERY_NET_STATS };
	struct qmp_nic_stats ok = { .index = 1, .id = "nic", .netdev = "tap", .counted = 1,
				    .npairs = NET_STATS_MAX_PAIRS };

	cr_assert_eq(decode_reply(&r), 0, "no NIC in use");
	r.u.nics.n = QMP_MAX_NICS;
	r.u.nics.nic[0] = r.u.nics.nic[1] = ok;
	cr_assert_eq(decode_reply(&r), 0);
	r.u.nics.n = QMP_MAX_NICS + 1;
	cr_assert_eq(decode_reply(&r), -EPROTO);
	r.u.nics.n = 2;
	r.u.nics.nic[1].index = QMP_MAX_NICS;
	cr_assert_eq(decode_reply(&r), -EPROTO);
	r.u.nics.nic[1] = ok;
	r.u.nics.nic[1].npairs = NET_STATS_MAX_PAIRS + 1;
	cr_assert_eq(decode_reply(&r), -EPROTO);
	r.u.nics.nic[1] = ok;
	r.u.nics.nic[1].counted = 2;
	cr_assert_eq(decode_reply(&r), -EPROTO);
	r.u.nics.nic[1] = ok;
	memset(r.u.nics.nic[1].netdev, 'n', QMP_ID_MAX);
	cr_assert_eq(decode_reply(&r), -EPROTO);
	r.u.nics.nic[1] = ok;
	memset(r.u.nics.nic[1].id, 'i', QMP_ID_MAX);
	cr_assert_eq(decode_reply(&r), -EPROTO);
}

static int decode_event(struct qmp_event *e)
{
	struct qmp_event out;

	raw(IPC_QMP_EVENT, e, sizeof(*e), -1);
	return ipc_qmp_event_decode(&msg, &out);
}

Test(ipc_qmp, event_round_trip_and_checks)
{
	struct qmp_event e = { .kind = QMP_EV_SHUTDOWN, .seconds = 1583908726,
			       .microseconds = 162739 }, out;

	strcpy(e.reason, "host-qmp-quit");
	cr_assert_eq(ipc_qmp_event_send(sv[0], &e), 0);
	recv_one();
	cr_assert_eq(ipc_qmp_event_decode(&msg, &out), 0);
	cr_assert_eq(memcmp(&e, &out, sizeof(e)), 0);

	e.microseconds = 1000000;
	cr_assert_eq(decode_event(&e), -EPROTO);
	e.microseconds = 0;
	e.guest = 2;
	cr_assert_eq(decode_event(&e), -EPROTO);
	e.guest = 1;
	e.kind = QMP_EV_MAX;
	cr_assert_eq(decode_event(&e), -EPROTO);
	e.kind = 0;
	cr_assert_eq(decode_event(&e), -EPROTO);
	e.kind = QMP_EV_DEVICE_DELETED;
	cr_assert_eq(decode_event(&e), -EPROTO, "DEVICE_DELETED without a device");
	strcpy(e.device, "drive-0");
	cr_assert_eq(decode_event(&e), 0);
	memset(e.reason, 'r', sizeof(e.reason));
	cr_assert_eq(decode_event(&e), -EPROTO);
}

static struct hotplug_request hp_req(uint32_t op)
{
	struct hotplug_request r = { .tag = 1, .op = op, .slot = 2 };

	strcpy(r.node_name, "drive-0");
	strcpy(r.device_id, "drive-0");
	strcpy(r.filename, "/disk.img");
	return r;
}

static int decode_hp(struct hotplug_request *r)
{
	struct hotplug_request out;

	raw(IPC_HOTPLUG_REQUEST, r, sizeof(*r), -1);
	return ipc_hotplug_request_decode(&msg, &out);
}

Test(ipc_qmp, hotplug_request)
{
	struct hotplug_request r = hp_req(HOTPLUG_DEVICE_ADD), out;

	cr_assert_eq(ipc_hotplug_request_send(sv[0], &r, NULL), 0);
	recv_one();
	cr_assert_eq(ipc_hotplug_request_decode(&msg, &out), 0);
	cr_assert_eq(memcmp(&r, &out, sizeof(r)), 0);
	for (uint32_t op = HOTPLUG_BLOCKDEV_ADD; op < HOTPLUG_OP_MAX; op++) {
		r = hp_req(op);
		cr_assert_eq(decode_hp(&r), 0, "op %u", op);
	}
	r = hp_req(HOTPLUG_OP_MAX);
	cr_assert_eq(decode_hp(&r), -EPROTO);
	r = hp_req(HOTPLUG_DEVICE_ADD);
	r.slot = IPC_MAX_SLOTS;
	cr_assert_eq(decode_hp(&r), -EPROTO);
	r = hp_req(HOTPLUG_BLOCKDEV_ADD);
	r.filename[0] = '\0';
	cr_assert_eq(decode_hp(&r), -EPROTO);
	r = hp_req(HOTPLUG_BLOCKDEV_ADD);
	memset(r.filename, 'f', sizeof(r.filename));
	cr_assert_eq(decode_hp(&r), -EPROTO);
	r = hp_req(HOTPLUG_BLOCKDEV_ADD);
	r.read_only = 5;
	cr_assert_eq(decode_hp(&r), -EPROTO);
	r = hp_req(HOTPLUG_DEVICE_ADD);
	r.node_name[0] = '\0';
	cr_assert_eq(decode_hp(&r), -EPROTO);
}

/* netdev_add's tap queues (QMP getfd): as many fds as nfds says, and only there; a request
 * names its tap or carries it, never both */
Test(ipc_qmp, netdev_add_fds)
{
	struct qmp_request q = { .tag = 3, .cmd = QMP_CMD_NETDEV_ADD }, qout;
	struct hotplug_request h = { .tag = 4, .op = HOTPLUG_NETDEV_ADD, .nfds = 2 }, hout;
	int pfd[2], two[2];

	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	strcpy(q.u.netdev_add.id, "net-0");
	q.u.netdev_add.nfds = 2;
	cr_assert_eq(ipc_qmp_request_send(sv[0], &q, pfd), 0);
	recv_one();
	cr_assert_eq(msg.nfds, 2);
	cr_assert_eq(ipc_qmp_request_decode(&msg, &qout), 0);
	cr_assert_eq(qout.u.netdev_add.nfds, 2);
	ipc_msg_close_fds(&msg);
	cr_assert_eq(ipc_qmp_request_send(sv[0], &q, NULL), -EINVAL, "fds promised, none given");
	/* one fd where two are promised; a name and fds; more than fit; fds on another command */
	raw(IPC_QMP_REQUEST, &q, sizeof(q), pfd[0]);
	cr_assert_eq(ipc_qmp_request_decode(&msg, &qout), -EPROTO);
	ipc_msg_close_fds(&msg);
	q.u.netdev_add.nfds = 1;
	strcpy(q.u.netdev_add.ifname, "tap0");
	raw(IPC_QMP_REQUEST, &q, sizeof(q), pfd[0]);
	cr_assert_eq(ipc_qmp_request_decode(&msg, &qout), -EPROTO);
	ipc_msg_close_fds(&msg);
	q.u.netdev_add.ifname[0] = '\0';
	q.u.netdev_add.nfds = QMP_NETDEV_FDS_MAX + 1;
	raw(IPC_QMP_REQUEST, &q, sizeof(q), -1);
	cr_assert_eq(ipc_qmp_request_decode(&msg, &qout), -EPROTO);
	q = blockdev_req();
	raw(IPC_QMP_REQUEST, &q, sizeof(q), pfd[0]);
	cr_assert_eq(ipc_qmp_request_decode(&msg, &qout), -EPROTO);
	ipc_msg_close_fds(&msg);

	strcpy(h.node_name, "net-0");
	two[0] = pfd[0];
	two[1] = pfd[1];
	cr_assert_eq(ipc_hotplug_request_send(sv[0], &h, two), 0);
	recv_one();
	cr_assert_eq(ipc_hotplug_request_decode(&msg, &hout), 0);
	cr_assert_eq(msg.nfds, 2, "left for the supervisor to take");
	ipc_msg_close_fds(&msg);
	raw(IPC_HOTPLUG_REQUEST, &h, sizeof(h), pfd[0]);
	cr_assert_eq(ipc_hotplug_request_decode(&msg, &hout), -EPROTO);
	ipc_msg_close_fds(&msg);
	h.nfds = 1;
	strcpy(h.filename, "tap0");
	raw(IPC_HOTPLUG_REQUEST, &h, sizeof(h), pfd[0]);
	cr_assert_eq(ipc_hotplug_request_decode(&msg, &hout), -EPROTO);
	ipc_msg_close_fds(&msg);
	h = hp_req(HOTPLUG_BLOCKDEV_ADD);
	h.nfds = 1;
	raw(IPC_HOTPLUG_REQUEST, &h, sizeof(h), pfd[0]);
	cr_assert_eq(ipc_hotplug_request_decode(&msg, &hout), -EPROTO, "fds only for netdev_add");
	ipc_msg_close_fds(&msg);
	close(pfd[0]);
	close(pfd[1]);
}

Test(ipc_qmp, hotplug_reply_fd_rules)
{
	struct hotplug_reply r = { .tag = 9 }, out;
	int pfd[2], fd;

	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	cr_assert_eq(ipc_hotplug_reply_send(sv[0], &r, pfd[0]), 0);
	recv_one();
	cr_assert_eq(ipc_hotplug_reply_decode(&msg, &out, &fd), 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(msg.nfds, 0, "the fd moved out of the message");
	cr_assert_eq(write(pfd[1], "x", 1), 1);
	char c;
	cr_assert_eq(read(fd, &c, 1), 1, "the fd is the pipe's read end");
	close(fd);

	cr_assert_eq(ipc_hotplug_reply_send(sv[0], &r, -1), 0);
	recv_one();
	cr_assert_eq(ipc_hotplug_reply_decode(&msg, &out, &fd), 0);
	cr_assert_eq(fd, -1);

	/* an error with an fd is a lie; the fd stays in msg for ipc_msg_close_fds */
	r.error = QMP_ERR_GENERIC;
	strcpy(r.desc, "cannot open");
	cr_assert_eq(ipc_hotplug_reply_send(sv[0], &r, pfd[0]), 0);
	recv_one();
	cr_assert_eq(ipc_hotplug_reply_decode(&msg, &out, &fd), -EPROTO);
	cr_assert_eq(msg.nfds, 1);
	ipc_msg_close_fds(&msg);

	int two[2] = { pfd[0], pfd[1] };
	r.error = QMP_OK;
	cr_assert_eq(ipc_send(sv[0], IPC_HOTPLUG_REPLY, &r, sizeof(r), two, 2), 0);
	recv_one();
	cr_assert_eq(ipc_hotplug_reply_decode(&msg, &out, &fd), -EPROTO, "two fds");
	ipc_msg_close_fds(&msg);
	r.error = QMP_ERR_MAX;
	raw(IPC_HOTPLUG_REPLY, &r, sizeof(r), -1);
	cr_assert_eq(ipc_hotplug_reply_decode(&msg, &out, &fd), -EPROTO);
	close(pfd[0]);
	close(pfd[1]);
}

Test(ipc_qmp, ids)
{
	cr_assert(qmp_id_ok("drive-0.a_b"));
	cr_assert_not(qmp_id_ok(""));
	cr_assert_not(qmp_id_ok("0drive"));
	cr_assert_not(qmp_id_ok("a b"));
	cr_assert_not(qmp_id_ok("a/b"));
}
