/* Fuzz the typed IPC layer: arbitrary datagrams (header + payload, with fds) through ipc_recv
 * and every decoder of common/ipc.c and common/ipc_qmp.c, as a lying peer would send them.
 * Each decoder sees every message, so one that fails to check the type is caught too.
 *
 * Input: [fds][datagram]. fds bits 0-3: descriptors sent with the datagram (up to 15, more
 * than IPC_MAX_FDS too). Oracles beyond "no crash": every string of an accepted message ends
 * inside its array (consumers strcpy and printf them), enums are in range, an id that passes
 * qmp_id_ok has no separator or control character, what one side accepts its encoder sends on
 * and the decoder reads back unchanged, and no descriptor leaks, whatever was accepted or
 * refused (a core that leaks one per message dies of it). */
#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzzlib.h"
#include "ipc.h"
#include "ipc_qmp.h"

#define TERMINATED(f) (memchr((f), '\0', sizeof(f)) != NULL)

static int devnull = -1;
static int rt[2] = { -1, -1 };   /* round trips: what a decoder accepted, sent again */

/* The message an encoder just sent through rt: every accepted message can be sent on by the
 * side that accepted it, and reads back the same. back(-1): that message again (to close the
 * fds a decoder left in it). */
static struct ipc_msg *back(int send_ret)
{
	static const struct ipc_peer any = { "fuzz", ~0u };
	static struct ipc_msg m2;

	if (send_ret == -1)
		return &m2;
	CHECK(send_ret == 0 && ipc_recv(rt[1], &any, &m2) == 1);
	return &m2;
}

/* An id that passes QEMU's rule (the core and the supervisor apply it to accepted requests)
 * can go into log lines and paths as it is. */
static void id_rule(const char *s)
{
	CHECK(!qmp_id_ok(s) || (isalpha((unsigned char)s[0]) && !strpbrk(s, "/ \t\r\n%")));
}

static void close_fd(int fd)
{
	CHECK(fd >= 0);
	close(fd);
}

static bool send_with_fds(int sock, const uint8_t *data, size_t size, unsigned nfds)
{
	struct iovec iov = { (void *)data, size };
	int fds[SEND_FDS_MAX];

	/* the same descriptor n times: the receiver gets n distinct ones */
	for (unsigned i = 0; i < nfds; i++)
		fds[i] = devnull;
	return send_fds(sock, &iov, 1, fds, nfds) >= 0;
}

static void core_msgs(struct ipc_msg *m)
{
	struct core_config c;
	struct core_config_fds f;
	struct vm_exit_info e;
	struct backend_attach a;
	struct backend_failed b;
	int fd;

	if (ipc_core_config_decode(m, &c, &f) == 0) {
		static struct core_config c2;
		struct core_config_fds f2;

		CHECK(TERMINATED(c.name) && TERMINATED(c.cmdline));
		CHECK(!(c.flags & ~CORE_F_ALL));
		for (unsigned i = 0; i < IPC_MAX_SLOTS; i++) {
			CHECK(c.slot_kind[i] < IPC_DEV_KIND_MAX && TERMINATED(c.slot_dev_id[i]));
			CHECK((f.stats[i] >= 0) == !!(c.stats_slots & (1u << i)));
		}
		CHECK((f.initrd >= 0) == !!(c.flags & CORE_F_INITRD));
		CHECK((f.mem >= 0) == !!(c.flags & CORE_F_MEM_FD));
		CHECK(ipc_core_config_decode(back(ipc_core_config_send(rt[0], &c, &f)), &c2,
					     &f2) == 0 && !memcmp(&c, &c2, sizeof(c)));
		for (unsigned i = 0; i < 2; i++) {
			const struct core_config_fds *p = i ? &f2 : &f;

			close_fd(p->kernel);
			if (p->initrd >= 0)
				close_fd(p->initrd);
			if (p->mem >= 0)
				close_fd(p->mem);
			for (unsigned k = 0; k < IPC_MAX_SLOTS; k++)
				if (p->stats[k] >= 0)
					close_fd(p->stats[k]);
		}
	}
	if (ipc_vm_exit_decode(m, &e) == 0) {
		static struct vm_exit_info e2;

		CHECK(TERMINATED(e.detail) && e.reason >= IPC_EXIT_RESET && e.reason <= IPC_EXIT_ERROR);
		CHECK(ipc_vm_exit_decode(back(ipc_vm_exit_send(rt[0], &e)), &e2) == 0 &&
		      !memcmp(&e, &e2, sizeof(e)));
	}
	if (ipc_backend_attach_decode(m, &a, &fd) == 0) {
		struct backend_attach a2;
		int fd2;

		CHECK(TERMINATED(a.name) && a.name[0] && a.slot < IPC_MAX_SLOTS);
		CHECK(a.kind != IPC_DEV_NONE && a.kind < IPC_DEV_KIND_MAX);
		CHECK(ipc_backend_attach_decode(back(ipc_backend_attach_send(rt[0], &a, fd)), &a2,
						&fd2) == 0 && !memcmp(&a, &a2, sizeof(a)));
		close_fd(fd);
		close_fd(fd2);
	}
	if (ipc_qmpd_attach_decode(m, &fd) == 0) {
		int fd2;

		CHECK(ipc_qmpd_attach_decode(back(ipc_qmpd_attach_send(rt[0], fd)), &fd2) == 0);
		close_fd(fd);
		close_fd(fd2);
	}
	if (ipc_backend_failed_decode(m, &b) == 0) {
		struct backend_failed b2;

		CHECK(TERMINATED(b.name) && b.name[0] && b.slot < IPC_MAX_SLOTS);
		CHECK(ipc_backend_failed_decode(back(ipc_backend_failed_send(rt[0], &b)), &b2) == 0 &&
		      !memcmp(&b, &b2, sizeof(b)));
	}
}

static void qmp_msgs(struct ipc_msg *m)
{
	static struct qmp_request r;
	static struct qmp_reply rp;
	static struct qmp_event ev;
	static struct hotplug_request h;
	static struct hotplug_reply hr;
	static struct qmp_request r2;
	static struct qmp_reply rp2;
	static struct qmp_event ev2;
	static struct hotplug_request h2;
	static struct hotplug_reply hr2;
	int fd, fd2;

	if (ipc_qmp_request_decode(m, &r) == 0) {
		CHECK(r.cmd >= QMP_CMD_QUERY_STATUS && r.cmd < QMP_CMD_MAX);
		if (r.cmd == QMP_CMD_BLOCKDEV_ADD) {
			CHECK(TERMINATED(r.u.blockdev_add.node_name) &&
			      TERMINATED(r.u.blockdev_add.filename));
			id_rule(r.u.blockdev_add.node_name);
		}
		if (r.cmd == QMP_CMD_DEVICE_ADD) {
			CHECK(TERMINATED(r.u.device_add.id) && TERMINATED(r.u.device_add.driver) &&
			      TERMINATED(r.u.device_add.drive) && TERMINATED(r.u.device_add.netdev) &&
			      TERMINATED(r.u.device_add.mac));
			id_rule(r.u.device_add.id);
			id_rule(r.u.device_add.drive);
			id_rule(r.u.device_add.netdev);
		}
		if (r.cmd == QMP_CMD_NETDEV_ADD) {
			CHECK(TERMINATED(r.u.netdev_add.id) && TERMINATED(r.u.netdev_add.ifname));
			/* a tap by name or by its queues, never both or neither */
			CHECK(!r.u.netdev_add.ifname[0] == (r.u.netdev_add.nfds > 0));
			CHECK(r.u.netdev_add.nfds == m->nfds && m->nfds <= QMP_NETDEV_FDS_MAX);
			id_rule(r.u.netdev_add.id);
		} else {
			CHECK(m->nfds == 0);
		}
		if (r.cmd == QMP_CMD_DEVICE_DEL || r.cmd == QMP_CMD_BLOCKDEV_DEL ||
		    r.cmd == QMP_CMD_NETDEV_DEL) {
			CHECK(TERMINATED(r.u.id) && r.u.id[0]);
			id_rule(r.u.id);
		}
		CHECK(ipc_qmp_request_decode(back(ipc_qmp_request_send(rt[0], &r, m->fds)), &r2) == 0 &&
		      !memcmp(&r, &r2, sizeof(r)));
		ipc_msg_close_fds(back(-1));
	}
	if (ipc_qmp_reply_decode(m, &rp) == 0) {
		CHECK(TERMINATED(rp.desc) && rp.error < QMP_ERR_MAX);
		/* qmpd formats cpus[0..n) of a successful query-cpus */
		if (!rp.error && (rp.cmd == QMP_CMD_QUERY_CPUS ||
				  rp.cmd == QMP_CMD_QUERY_HOTPLUGGABLE_CPUS))
			CHECK(rp.u.cpus.n >= 1 && rp.u.cpus.n <= QMP_MAX_CPUS);
		CHECK(ipc_qmp_reply_decode(back(ipc_qmp_reply_send(rt[0], &rp)), &rp2) == 0 &&
		      !memcmp(&rp, &rp2, sizeof(rp)));
	}
	if (ipc_qmp_event_decode(m, &ev) == 0) {
		CHECK(TERMINATED(ev.reason) && TERMINATED(ev.device) && ev.kind < QMP_EV_MAX);
		CHECK(ipc_qmp_event_decode(back(ipc_qmp_event_send(rt[0], &ev)), &ev2) == 0 &&
		      !memcmp(&ev, &ev2, sizeof(ev)));
	}
	if (ipc_hotplug_request_decode(m, &h) == 0) {
		CHECK(TERMINATED(h.node_name) && TERMINATED(h.device_id) &&
		      TERMINATED(h.filename) && TERMINATED(h.mac) && h.op < HOTPLUG_OP_MAX);
		CHECK(h.nfds == m->nfds && (!h.nfds || (h.op == HOTPLUG_NETDEV_ADD &&
							!h.filename[0])));
		id_rule(h.node_name);
		id_rule(h.device_id);
		CHECK(ipc_hotplug_request_decode(back(ipc_hotplug_request_send(rt[0], &h, m->fds)),
						 &h2) == 0 && !memcmp(&h, &h2, sizeof(h)));
		ipc_msg_close_fds(back(-1));
	}
	if (ipc_hotplug_reply_decode(m, &hr, &fd) == 0) {
		CHECK(TERMINATED(hr.desc) && hr.error < QMP_ERR_MAX);
		CHECK(fd < 0 || hr.error == QMP_OK);
		CHECK(ipc_hotplug_reply_decode(back(ipc_hotplug_reply_send(rt[0], &hr, fd)), &hr2,
					       &fd2) == 0 && !memcmp(&hr, &hr2, sizeof(hr)));
		CHECK((fd < 0) == (fd2 < 0));
		if (fd >= 0) {
			close_fd(fd);
			close_fd(fd2);
		}
	}
}

/* The lowest free descriptor: it moves when something leaked one. */
static int lowest_free(void)
{
	int fd = fcntl(devnull, F_DUPFD, 0);

	close(fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ipc_peer any = { "fuzz", ~0u };
	static struct ipc_msg msg;
	int sv[2], before;

	if (devnull < 0 && ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
			    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rt) < 0))
		abort();
	if (size < 1 || size > 1 + IPC_MAX_PAYLOAD + 64)
		return 0;
	before = lowest_free();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	if (send_with_fds(sv[0], data + 1, size - 1, data[0] & 15) &&
	    ipc_recv(sv[1], &any, &msg) == 1) {
		CHECK(msg.nfds <= IPC_MAX_FDS && msg.hdr.type < IPC_TYPE_MAX);
		core_msgs(&msg);
		qmp_msgs(&msg);
		ipc_msg_close_fds(&msg);
	}
	close(sv[0]);
	close(sv[1]);
	CHECK(lowest_free() == before);
	return 0;
}

/* ---- seeds: one well-formed message of every type, with its fds ---- */

static size_t put(uint8_t *buf, size_t cap, unsigned nfds, uint32_t type, const void *p,
		  size_t len)
{
	struct ipc_hdr h = { .type = type, .len = (uint32_t)len };

	if (1 + sizeof(h) + len > cap)
		return 0;
	buf[0] = (uint8_t)nfds;
	memcpy(buf + 1, &h, sizeof(h));
	memcpy(buf + 1 + sizeof(h), p, len);
	return 1 + sizeof(h) + len;
}

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	static union {
		struct core_config c;
		struct vm_exit_info e;
		struct backend_attach a;
		struct backend_failed b;
		struct qmp_request r;
		struct qmp_reply rp;
		struct qmp_event ev;
		struct hotplug_request h;
		struct hotplug_reply hr;
	} u;

	memset(&u, 0, sizeof(u));
	switch (i % 16) {
	case 0:
		u.c = (struct core_config){ .flags = CORE_F_ACPI | CORE_F_INITRD, .ncpus = 2,
					    .mem_size = 256 << 20,
					    .slot_kind = { IPC_DEV_BLK, IPC_DEV_NET } };
		strcpy(u.c.name, "vm1");
		strcpy(u.c.cmdline, "console=ttyS0 reboot=k panic=1");
		return put(buf, cap, 2, IPC_CORE_CONFIG, &u.c, sizeof(u.c));
	case 1:
		u.e = (struct vm_exit_info){ .reason = IPC_EXIT_ERROR, .detail = "triple fault" };
		return put(buf, cap, 0, IPC_VM_EXIT, &u.e, sizeof(u.e));
	case 2:
		u.a = (struct backend_attach){ .slot = 1, .kind = IPC_DEV_NET, .name = "net0" };
		return put(buf, cap, 1, IPC_BACKEND_ATTACH, &u.a, sizeof(u.a));
	case 3:
		return put(buf, cap, 1, IPC_QMPD_ATTACH, NULL, 0);
	case 4:
		u.b = (struct backend_failed){ .slot = 0, .name = "rootfs" };
		return put(buf, cap, 0, IPC_BACKEND_FAILED, &u.b, sizeof(u.b));
	case 5:
		u.r = (struct qmp_request){ .tag = 7, .cmd = QMP_CMD_DEVICE_ADD };
		strcpy(u.r.u.device_add.id, "net-0");
		strcpy(u.r.u.device_add.driver, "virtio-net-mmio");
		strcpy(u.r.u.device_add.netdev, "net-0");
		strcpy(u.r.u.device_add.mac, "52:54:00:12:34:56");
		return put(buf, cap, 0, IPC_QMP_REQUEST, &u.r, sizeof(u.r));
	case 6:
		u.r = (struct qmp_request){ .tag = 8, .cmd = QMP_CMD_BLOCKDEV_ADD };
		strcpy(u.r.u.blockdev_add.node_name, "drive-0");
		strcpy(u.r.u.blockdev_add.filename, "/path/to/block");
		u.r.u.blockdev_add.direct = 1;
		return put(buf, cap, 0, IPC_QMP_REQUEST, &u.r, sizeof(u.r));
	case 7:
		u.rp = (struct qmp_reply){ .tag = 7, .cmd = QMP_CMD_QUERY_CPUS };
		u.rp.u.cpus.n = 2;
		u.rp.u.cpus.cpu[1] = (struct qmp_cpu_info){ 1, 1234, 1 };
		return put(buf, cap, 0, IPC_QMP_REPLY, &u.rp, sizeof(u.rp));
	case 8:
		u.ev = (struct qmp_event){ .kind = QMP_EV_DEVICE_DELETED, .device = "drive-0",
					   .seconds = 1583908726, .microseconds = 162739 };
		return put(buf, cap, 0, IPC_QMP_EVENT, &u.ev, sizeof(u.ev));
	case 9:
		u.h = (struct hotplug_request){ .tag = 3, .op = HOTPLUG_DEVICE_ADD, .slot = 2,
						.node_name = "net-0", .device_id = "net-0",
						.mac = "52:54:00:12:34:56" };
		return put(buf, cap, 0, IPC_HOTPLUG_REQUEST, &u.h, sizeof(u.h));
	case 10:
		u.h = (struct hotplug_request){ .tag = 4, .op = HOTPLUG_NETDEV_ADD,
						.node_name = "net-0", .filename = "tap0" };
		return put(buf, cap, 0, IPC_HOTPLUG_REQUEST, &u.h, sizeof(u.h));
	case 12:   /* netdev_add with two tap queues passed by getfd */
		u.r = (struct qmp_request){ .tag = 9, .cmd = QMP_CMD_NETDEV_ADD };
		strcpy(u.r.u.netdev_add.id, "net-1");
		u.r.u.netdev_add.nfds = 2;
		return put(buf, cap, 2, IPC_QMP_REQUEST, &u.r, sizeof(u.r));
	case 13:
		u.h = (struct hotplug_request){ .tag = 5, .op = HOTPLUG_NETDEV_ADD,
						.node_name = "net-1", .nfds = 2 };
		return put(buf, cap, 2, IPC_HOTPLUG_REQUEST, &u.h, sizeof(u.h));
	case 14:   /* a core config with the stats pages of NIC slots 1 and 2 */
		u.c = (struct core_config){ .flags = CORE_F_ACPI, .ncpus = 1,
					    .mem_size = 512 << 20, .stats_slots = 6,
					    .slot_kind = { IPC_DEV_BLK, IPC_DEV_NET,
							   IPC_DEV_VHOST_USER_NET } };
		strcpy(u.c.name, "vm2");
		strcpy(u.c.slot_dev_id[1], "nic0");
		return put(buf, cap, 3, IPC_CORE_CONFIG, &u.c, sizeof(u.c));
	case 11:
		u.hr = (struct hotplug_reply){ .tag = 3 };
		return put(buf, cap, 1, IPC_HOTPLUG_REPLY, &u.hr, sizeof(u.hr));
	default:
		return 0;   /* random bytes */
	}
}
