/* Unit tests for the core's control path (vmm-core/core/control.c): QMP requests, events and
 * hotplug over real sockets, with a fake VM behind its ops. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <poll.h>
#include <stdio.h>

#include "control.h"
#include "ipc.h"
#include "ipc_qmp.h"
#include "vm.h"

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

struct fake_vm {
	unsigned pauses, resumes, powerdowns, unplugs, attaches;
	int end_why;
	char end_detail[128];
	int attach_ret;
	unsigned last_slot;
	bool last_hotplug;
	char last_name[64];
};

static struct fake_vm FV;
static struct control CTL;
static int sup_peer = -1, qmpd_peer = -1;   /* the test plays supervisor and qmpd */

static void f_pause(void *o) { (void)o; FV.pauses++; }
static void f_resume(void *o) { (void)o; FV.resumes++; }
static void f_powerdown(void *o) { (void)o; FV.powerdowns++; }
static void f_end(void *o, enum vm_exit_reason why, const char *detail)
{
	(void)o;
	FV.end_why = why;
	snprintf(FV.end_detail, sizeof(FV.end_detail), "%s", detail);
}
static unsigned f_cpus(void *o, struct qmp_cpu_info *out, unsigned max)
{
	(void)o;
	cr_assert_geq(max, 2);
	out[0] = (struct qmp_cpu_info){ .index = 0, .thread_id = 1234, .halted = 0 };
	out[1] = (struct qmp_cpu_info){ .index = 1, .thread_id = 1235, .halted = 1 };
	return 2;
}
static int f_attach(void *o, unsigned slot, int fd, const char *name, bool hotplug)
{
	(void)o;
	FV.attaches++;
	FV.last_slot = slot;
	FV.last_hotplug = hotplug;
	snprintf(FV.last_name, sizeof(FV.last_name), "%s", name);
	close(fd);      /* ownership passes, also on error */
	return FV.attach_ret;
}
static void f_unplug(void *o, unsigned slot) { (void)o; FV.unplugs++; FV.last_slot = slot; }

static const struct control_ops fake_ctl_ops = {
	f_pause, f_resume, f_end, f_powerdown, f_cpus, f_attach, f_unplug,
};

static const struct ipc_peer as_qmpd = { "core", (1u << IPC_QMP_REPLY) | (1u << IPC_QMP_EVENT) };
static const struct ipc_peer as_sup = { "core", 1u << IPC_HOTPLUG_REQUEST };

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* a fresh qmpd, as the supervisor hands it over */
static void attach_qmpd(void)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(ipc_qmpd_attach_send(sup_peer, sv[0]), 0);
	close(sv[0]);
	cr_assert_eq(control_on_supervisor(&CTL), 0);
	if (qmpd_peer >= 0)
		close(qmpd_peer);
	qmpd_peer = sv[1];
}

static void ctl_start(unsigned nboot, const uint32_t *kinds)
{
	int sv[2];

	memset(&FV, 0, sizeof(FV));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	control_init(&CTL, &fake_ctl_ops, NULL, sv[0], nboot, kinds);
	sup_peer = sv[1];
	qmpd_peer = -1;
	attach_qmpd();
}

static void ctl_stop(void)
{
	close(CTL.sup);
	control_exit(&CTL);
	closep(&sup_peer);
	closep(&qmpd_peer);
}

static void ctl_setup(void)
{
	ctl_start(0, NULL);
}

TestSuite(control, .init = ctl_setup, .fini = ctl_stop);

static void ask(struct qmp_request *r)
{
	static uint32_t tag = 100;

	r->tag = ++tag;
	cr_assert_eq(ipc_qmp_request_send(qmpd_peer, r), 0);
	cr_assert_eq(control_qmpd_fd(&CTL), CTL.qmpd);
	control_on_qmpd(&CTL);
}

static void ask_cmd(uint32_t cmd)
{
	struct qmp_request r = { .cmd = cmd };

	ask(&r);
}

/* Next message to qmpd: 'R' with *rep, or 'E' with *ev. */
static char next_out(struct qmp_reply *rep, struct qmp_event *ev)
{
	struct ipc_msg *m = calloc(1, sizeof(*m));
	char kind;

	cr_assert(readable(qmpd_peer), "nothing was sent to qmpd");
	cr_assert_eq(ipc_recv(qmpd_peer, &as_qmpd, m), 1);
	if (m->hdr.type == IPC_QMP_REPLY) {
		cr_assert_eq(ipc_qmp_reply_decode(m, rep), 0);
		kind = 'R';
	} else {
		cr_assert_eq(ipc_qmp_event_decode(m, ev), 0);
		kind = 'E';
	}
	free(m);
	return kind;
}

static struct qmp_reply expect_reply(uint32_t cmd, uint32_t err)
{
	struct qmp_reply rep;
	struct qmp_event ev;

	cr_assert_eq(next_out(&rep, &ev), 'R', "an event (%u) came instead of the reply", ev.kind);
	cr_assert_eq(rep.cmd, cmd);
	cr_assert_eq(rep.error, err, "error %u (%s), want %u", rep.error, rep.desc, err);
	return rep;
}

static struct qmp_event expect_event(uint32_t kind)
{
	struct qmp_reply rep;
	struct qmp_event ev;

	cr_assert_eq(next_out(&rep, &ev), 'E', "a reply came instead of event %u", kind);
	cr_assert_eq(ev.kind, kind, "event %u, want %u", ev.kind, kind);
	cr_assert_gt(ev.seconds, 1600000000, "a real CLOCK_REALTIME timestamp");
	return ev;
}

static void expect_quiet(void)
{
	cr_assert_not(readable(qmpd_peer), "unexpected message to qmpd");
	cr_assert_not(readable(sup_peer), "unexpected message to the supervisor");
}

Test(control, stop_cont_and_query_status)
{
	struct qmp_reply r;

	ask_cmd(QMP_CMD_QUERY_STATUS);
	r = expect_reply(QMP_CMD_QUERY_STATUS, QMP_OK);
	cr_assert_eq(r.u.runstate, QMP_RUN_RUNNING);
	ask_cmd(QMP_CMD_STOP);
	expect_event(QMP_EV_STOP);
	expect_reply(QMP_CMD_STOP, QMP_OK);
	cr_assert_eq(FV.pauses, 1);
	ask_cmd(QMP_CMD_STOP);
	expect_reply(QMP_CMD_STOP, QMP_OK);
	cr_assert_eq(FV.pauses, 1, "stop while paused pauses nothing and says nothing");
	ask_cmd(QMP_CMD_QUERY_STATUS);
	cr_assert_eq(expect_reply(QMP_CMD_QUERY_STATUS, QMP_OK).u.runstate, QMP_RUN_PAUSED);
	ask_cmd(QMP_CMD_CONT);
	expect_event(QMP_EV_RESUME);
	expect_reply(QMP_CMD_CONT, QMP_OK);
	cr_assert_eq(FV.resumes, 1);
	ask_cmd(QMP_CMD_CONT);
	expect_reply(QMP_CMD_CONT, QMP_OK);
	cr_assert_eq(FV.resumes, 1);
	ask_cmd(QMP_CMD_QUERY_STATUS);
	cr_assert_eq(expect_reply(QMP_CMD_QUERY_STATUS, QMP_OK).u.runstate, QMP_RUN_RUNNING);
	expect_quiet();
}

Test(control, quit_sends_shutdown_before_the_end)
{
	struct qmp_event ev;

	ask_cmd(QMP_CMD_QUIT);
	expect_reply(QMP_CMD_QUIT, QMP_OK);
	ev = expect_event(QMP_EV_SHUTDOWN);
	cr_assert_eq(ev.guest, 0);
	cr_assert_str_eq(ev.reason, "host-qmp-quit");
	cr_assert_eq(FV.end_why, VM_EXIT_POWEROFF);
	/* the main loop then reports the end; nothing is said twice */
	control_vm_ending(&CTL, VM_EXIT_POWEROFF);
	expect_quiet();
}

Test(control, system_reset_and_powerdown)
{
	struct qmp_event ev;

	ask_cmd(QMP_CMD_SYSTEM_POWERDOWN);
	expect_event(QMP_EV_POWERDOWN);
	expect_reply(QMP_CMD_SYSTEM_POWERDOWN, QMP_OK);
	cr_assert_eq(FV.powerdowns, 1);
	cr_assert_eq(FV.end_why, 0, "the guest decides what the power button does");
	ask_cmd(QMP_CMD_SYSTEM_RESET);
	expect_reply(QMP_CMD_SYSTEM_RESET, QMP_OK);
	ev = expect_event(QMP_EV_RESET);
	cr_assert_eq(ev.guest, 0);
	ev = expect_event(QMP_EV_SHUTDOWN);
	cr_assert_eq(ev.guest, 0);
	cr_assert_eq(FV.end_why, VM_EXIT_RESET);
	control_vm_ending(&CTL, VM_EXIT_RESET);
	expect_quiet();
}

Test(control, guest_initiated_ends)
{
	struct qmp_event ev;

	control_vm_ending(&CTL, VM_EXIT_RESET);
	ev = expect_event(QMP_EV_RESET);
	cr_assert_eq(ev.guest, 1);
	ev = expect_event(QMP_EV_SHUTDOWN);
	cr_assert_eq(ev.guest, 1);
	cr_assert_str_eq(ev.reason, "guest-reset");
	expect_quiet();
	ctl_stop();
	ctl_start(0, NULL);
	control_vm_ending(&CTL, VM_EXIT_POWEROFF);
	ev = expect_event(QMP_EV_SHUTDOWN);
	cr_assert_eq(ev.guest, 1);
	cr_assert_str_eq(ev.reason, "guest-shutdown");
	control_vm_ending(&CTL, VM_EXIT_ERROR);
	expect_quiet();
}

Test(control, cpus_balloon_netdev)
{
	struct qmp_request r = { .cmd = QMP_CMD_NETDEV_ADD };
	struct qmp_reply rep;

	ask_cmd(QMP_CMD_QUERY_CPUS);
	rep = expect_reply(QMP_CMD_QUERY_CPUS, QMP_OK);
	cr_assert_eq(rep.u.cpus.n, 2);
	cr_assert_eq(rep.u.cpus.cpu[1].thread_id, 1235);
	cr_assert_eq(rep.u.cpus.cpu[1].halted, 1);
	ask_cmd(QMP_CMD_QUERY_HOTPLUGGABLE_CPUS);
	cr_assert_eq(expect_reply(QMP_CMD_QUERY_HOTPLUGGABLE_CPUS, QMP_OK).u.cpus.n, 2);
	ask_cmd(QMP_CMD_QUERY_BALLOON);
	rep = expect_reply(QMP_CMD_QUERY_BALLOON, QMP_ERR_DEVICE_NOT_ACTIVE);
	cr_assert_str_eq(rep.desc, "No balloon device has been activated");
	ask_cmd(QMP_CMD_BALLOON);
	expect_reply(QMP_CMD_BALLOON, QMP_ERR_DEVICE_NOT_ACTIVE);
	strcpy(r.u.netdev_add.id, "9net");
	strcpy(r.u.netdev_add.ifname, "tap0");
	ask(&r);
	cr_assert(strstr(expect_reply(QMP_CMD_NETDEV_ADD, QMP_ERR_GENERIC).desc, "Invalid id"));
	strcpy(r.u.netdev_add.id, "net0");
	strcpy(r.u.netdev_add.ifname, "a/b");
	ask(&r);
	cr_assert(strstr(expect_reply(QMP_CMD_NETDEV_ADD, QMP_ERR_GENERIC).desc, "Invalid ifname"));
	strcpy(r.u.netdev_add.ifname, "tap0");
	ask(&r);
	cr_assert(strstr(expect_reply(QMP_CMD_NETDEV_ADD, QMP_ERR_GENERIC).desc,
			 "needs a network worker"), "validated, and still refused");
	expect_quiet();
}

/* ---- control.c: disk hotplug against a fake supervisor ---- */

static struct hotplug_request sup_expect(uint32_t op)
{
	struct ipc_msg *m = calloc(1, sizeof(*m));
	struct hotplug_request h;

	cr_assert(readable(sup_peer), "nothing was asked of the supervisor");
	cr_assert_eq(ipc_recv(sup_peer, &as_sup, m), 1);
	cr_assert_eq(ipc_hotplug_request_decode(m, &h), 0);
	cr_assert_eq(h.op, op, "op %u, want %u", h.op, op);
	free(m);
	cr_assert_eq(control_qmpd_fd(&CTL), -1, "qmpd is not read while the supervisor works");
	return h;
}

static void sup_answer(const struct hotplug_request *h, uint32_t err, const char *desc, int fd)
{
	struct hotplug_reply r = { .tag = h->tag, .error = err };

	snprintf(r.desc, sizeof(r.desc), "%s", desc);
	cr_assert_eq(ipc_hotplug_reply_send(sup_peer, &r, fd), 0);
	cr_assert_eq(control_on_supervisor(&CTL), 0);
}

static void add_node(const char *name, const char *file)
{
	struct qmp_request r = { .cmd = QMP_CMD_BLOCKDEV_ADD };
	struct hotplug_request h;

	strcpy(r.u.blockdev_add.node_name, name);
	strcpy(r.u.blockdev_add.filename, file);
	r.u.blockdev_add.read_only = 1;
	ask(&r);
	h = sup_expect(HOTPLUG_BLOCKDEV_ADD);
	cr_assert_str_eq(h.node_name, name);
	cr_assert_str_eq(h.filename, file);
	cr_assert_eq(h.read_only, 1);
	sup_answer(&h, QMP_OK, "", -1);
	expect_reply(QMP_CMD_BLOCKDEV_ADD, QMP_OK);
}

static struct qmp_request dev_req(const char *id, const char *drive, int addr)
{
	struct qmp_request r = { .cmd = QMP_CMD_DEVICE_ADD };

	strcpy(r.u.device_add.id, id);
	strcpy(r.u.device_add.driver, "virtio-blk-mmio");
	strcpy(r.u.device_add.drive, drive);
	r.u.device_add.has_addr = addr >= 0;
	r.u.device_add.addr = addr >= 0 ? (uint32_t)addr : 0;
	return r;
}

/* device_add that the core refuses by itself: the error, and the supervisor hears nothing */
static void refused(struct qmp_request r, uint32_t cmd, const char *want)
{
	struct qmp_reply rep;

	ask(&r);
	rep = expect_reply(cmd, QMP_ERR_GENERIC);
	cr_assert(strstr(rep.desc, want), "'%s' does not say '%s'", rep.desc, want);
	expect_quiet();
}

static void plug(const char *id, const char *drive, int addr, unsigned want_slot)
{
	struct qmp_request r = dev_req(id, drive, addr);
	struct hotplug_request h;
	int p[2];

	ask(&r);
	h = sup_expect(HOTPLUG_DEVICE_ADD);
	cr_assert_eq(h.slot, want_slot);
	cr_assert_str_eq(h.device_id, id);
	cr_assert_str_eq(h.node_name, drive[0] ? drive : id);
	cr_assert_eq(pipe(p), 0);
	close(p[1]);
	sup_answer(&h, QMP_OK, "", p[0]);
	close(p[0]);
	expect_reply(QMP_CMD_DEVICE_ADD, QMP_OK);
	cr_assert_eq(FV.last_slot, want_slot);
	cr_assert(FV.last_hotplug);
	cr_assert_str_eq(FV.last_name, id);
}

Test(control, hotplug_add_use_and_remove)
{
	static const uint32_t boot[] = { IPC_DEV_BLK };
	struct qmp_request r = { .cmd = QMP_CMD_DEVICE_DEL };
	struct hotplug_request h;
	struct qmp_event ev;

	ctl_stop();
	ctl_start(1, boot);
	add_node("disk1", "/img/one");
	plug("vdb", "disk1", 2, 2);
	/* every way to get it wrong, each answered by the core alone, nothing changed */
	add_node("disk2", "/img/two");
	refused(dev_req("vdb", "disk2", 3), QMP_CMD_DEVICE_ADD, "Duplicate ID");
	refused(dev_req("vdc", "disk2", 2), QMP_CMD_DEVICE_ADD, "already in use");
	refused(dev_req("vdc", "disk2", 0), QMP_CMD_DEVICE_ADD, "already in use");
	refused(dev_req("vdc", "disk2", 6), QMP_CMD_DEVICE_ADD, "not a disk slot");
	refused(dev_req("vdc", "disk1", 3), QMP_CMD_DEVICE_ADD, "already in use by device 'vdb'");
	refused(dev_req("vdc", "nosuch", 3), QMP_CMD_DEVICE_ADD, "Unknown drive");
	refused(dev_req("vdc", "", 3), QMP_CMD_DEVICE_ADD, "Unknown drive 'vdc'");
	refused(dev_req("-bad", "disk2", 3), QMP_CMD_DEVICE_ADD, "Invalid id");
	r = dev_req("vdc", "disk2", 3);
	strcpy(r.u.device_add.driver, "virtio-net-mmio");
	refused(r, QMP_CMD_DEVICE_ADD, "needs a network worker");
	strcpy(r.u.device_add.driver, "e1000");
	refused(r, QMP_CMD_DEVICE_ADD, "cannot be hot-plugged");
	r = (struct qmp_request){ .cmd = QMP_CMD_BLOCKDEV_DEL };
	strcpy(r.u.id, "disk1");
	refused(r, QMP_CMD_BLOCKDEV_DEL, "busy");
	strcpy(r.u.id, "nosuch");
	refused(r, QMP_CMD_BLOCKDEV_DEL, "Failed to find node");
	r = (struct qmp_request){ .cmd = QMP_CMD_BLOCKDEV_ADD };
	strcpy(r.u.blockdev_add.node_name, "disk1");
	strcpy(r.u.blockdev_add.filename, "/img/x");
	refused(r, QMP_CMD_BLOCKDEV_ADD, "Duplicate nodes");
	/* without addr: the first empty disk slot (0 is the boot disk's) */
	plug("vdc", "disk2", -1, 1);
	/* device_del: detach, the supervisor stops the worker, then the event */
	r = (struct qmp_request){ .cmd = QMP_CMD_DEVICE_DEL };
	strcpy(r.u.id, "nosuch");
	ask(&r);
	expect_reply(QMP_CMD_DEVICE_DEL, QMP_ERR_DEVICE_NOT_FOUND);
	strcpy(r.u.id, "vdb");
	ask(&r);
	cr_assert_eq(FV.unplugs, 1);
	cr_assert_eq(FV.last_slot, 2);
	h = sup_expect(HOTPLUG_DEVICE_DEL);
	cr_assert_eq(h.slot, 2);
	{
		/* the worker saw EOF and the supervisor restarted it before it read our request:
		 * that backend must not bring the disk back */
		struct backend_attach a = { .slot = 2, .kind = IPC_DEV_BLK, .name = "disk1" };
		unsigned n = FV.attaches;
		int fd = dup(0);

		cr_assert_eq(ipc_backend_attach_send(sup_peer, &a, fd), 0);
		close(fd);
		cr_assert_eq(control_on_supervisor(&CTL), 0);
		cr_assert_eq(FV.attaches, n, "a late backend for a slot being emptied is dropped");
	}
	sup_answer(&h, QMP_OK, "", -1);
	expect_reply(QMP_CMD_DEVICE_DEL, QMP_OK);
	ev = expect_event(QMP_EV_DEVICE_DELETED);
	cr_assert_str_eq(ev.device, "vdb");
	/* the node is free again: blockdev-del goes through, and so does a new device in 2 */
	plug("vdd", "disk1", 2, 2);
	expect_quiet();
}

Test(control, supervisor_errors_change_nothing)
{
	struct qmp_request r = { .cmd = QMP_CMD_BLOCKDEV_ADD };
	struct qmp_reply rep;
	struct hotplug_request h;

	strcpy(r.u.blockdev_add.node_name, "d");
	strcpy(r.u.blockdev_add.filename, "/missing");
	ask(&r);
	h = sup_expect(HOTPLUG_BLOCKDEV_ADD);
	sup_answer(&h, QMP_ERR_GENERIC, "Could not open '/missing': No such file or directory", -1);
	rep = expect_reply(QMP_CMD_BLOCKDEV_ADD, QMP_ERR_GENERIC);
	cr_assert_str_eq(rep.desc, "Could not open '/missing': No such file or directory");
	refused(dev_req("v", "d", 1), QMP_CMD_DEVICE_ADD, "Unknown drive");
	add_node("d", "/present");
	/* the supervisor cannot start the worker: slot and node stay free */
	r = dev_req("v", "d", 1);
	ask(&r);
	h = sup_expect(HOTPLUG_DEVICE_ADD);
	sup_answer(&h, QMP_ERR_GENERIC, "starting bulkhead-blk failed", -1);
	expect_reply(QMP_CMD_DEVICE_ADD, QMP_ERR_GENERIC);
	plug("v", "d", 1, 1);
	/* blockdev-del after device_del */
	r = (struct qmp_request){ .cmd = QMP_CMD_DEVICE_DEL };
	strcpy(r.u.id, "v");
	ask(&r);
	h = sup_expect(HOTPLUG_DEVICE_DEL);
	sup_answer(&h, QMP_OK, "", -1);
	expect_reply(QMP_CMD_DEVICE_DEL, QMP_OK);
	expect_event(QMP_EV_DEVICE_DELETED);
	r = (struct qmp_request){ .cmd = QMP_CMD_BLOCKDEV_DEL };
	strcpy(r.u.id, "d");
	ask(&r);
	h = sup_expect(HOTPLUG_BLOCKDEV_DEL);
	cr_assert_str_eq(h.node_name, "d");
	sup_answer(&h, QMP_OK, "", -1);
	expect_reply(QMP_CMD_BLOCKDEV_DEL, QMP_OK);
	refused(dev_req("v", "d", 1), QMP_CMD_DEVICE_ADD, "Unknown drive");
}

Test(control, a_worker_that_will_not_attach_is_stopped_again)
{
	struct qmp_request r = dev_req("v", "d", 4);
	struct hotplug_request h;
	int p[2];

	add_node("d", "/img");
	FV.attach_ret = -EPROTO;
	ask(&r);
	h = sup_expect(HOTPLUG_DEVICE_ADD);
	cr_assert_eq(pipe(p), 0);
	sup_answer(&h, QMP_OK, "", p[0]);
	close(p[0]);
	close(p[1]);
	cr_assert(!readable(qmpd_peer), "no answer before the worker is gone again");
	h = sup_expect(HOTPLUG_DEVICE_DEL);
	cr_assert_eq(h.slot, 4);
	sup_answer(&h, QMP_OK, "", -1);
	cr_assert(strstr(expect_reply(QMP_CMD_DEVICE_ADD, QMP_ERR_GENERIC).desc, "did not attach"));
	FV.attach_ret = 0;
	plug("v", "d", 4, 4);
	expect_quiet();
}

Test(control, supervisor_protocol)
{
	static const uint32_t boot[] = { IPC_DEV_BLK, IPC_DEV_VHOST_USER_BLK };
	struct hotplug_reply rep = { .tag = 1 };
	struct backend_attach a = { .slot = 0, .kind = IPC_DEV_BLK, .name = "root" };
	struct hotplug_request h;
	struct qmp_request r = dev_req("v", "d", 3);
	int fd = dup(0), before;

	ctl_stop();
	ctl_start(2, boot);
	cr_assert_eq(control_boot_waiting(&CTL), 2);
	cr_assert_eq(ipc_backend_attach_send(sup_peer, &a, fd), 0);
	cr_assert_eq(control_on_supervisor(&CTL), 0);
	cr_assert_eq(FV.attaches, 1);
	cr_assert_eq(control_boot_waiting(&CTL), 1);
	/* a restarted worker for a slot that is empty by now: dropped, not attached */
	a.slot = 5;
	before = count_fds();
	cr_assert_eq(ipc_backend_attach_send(sup_peer, &a, fd), 0);
	cr_assert_eq(control_on_supervisor(&CTL), 0);
	cr_assert_eq(FV.attaches, 1);
	cr_assert_eq(count_fds(), before, "its socket was closed");
	/* the wrong kind for slot 1 (a vhost-user-blk-device) is a lie */
	a.slot = 1;
	cr_assert_eq(ipc_backend_attach_send(sup_peer, &a, fd), 0);
	cr_assert_eq(control_on_supervisor(&CTL), -EPROTO);
	/* an answer to a question never asked */
	cr_assert_eq(ipc_hotplug_reply_send(sup_peer, &rep, -1), 0);
	cr_assert_eq(control_on_supervisor(&CTL), -EPROTO);
	/* an answer with the wrong tag, and one without the promised fd */
	add_node("d", "/img");
	ask(&r);
	h = sup_expect(HOTPLUG_DEVICE_ADD);
	rep.tag = h.tag + 1;
	cr_assert_eq(ipc_hotplug_reply_send(sup_peer, &rep, -1), 0);
	cr_assert_eq(control_on_supervisor(&CTL), -EPROTO);
	rep.tag = h.tag;
	cr_assert_eq(ipc_hotplug_reply_send(sup_peer, &rep, -1), 0);
	cr_assert_eq(control_on_supervisor(&CTL), -EPROTO);
	/* the boot-phase message in the run phase */
	{
		struct core_config c = { .ncpus = 1, .mem_size = 256 * MiB };
		struct core_config_fds f = { .kernel = fd, .initrd = -1, .mem = -1 };

		cr_assert_eq(ipc_core_config_send(sup_peer, &c, &f), 0);
		cr_assert_eq(control_on_supervisor(&CTL), -EPROTO);
	}
	close(sup_peer);
	sup_peer = -1;
	cr_assert_eq(control_on_supervisor(&CTL), -EPIPE);
	close(fd);
}

Test(control, qmpd_that_breaks_the_protocol_is_dropped_and_replaced)
{
	struct qmp_event e = { .kind = QMP_EV_STOP };
	struct qmp_request r = { .cmd = QMP_CMD_QUERY_STATUS, .tag = 7 };

	/* qmpd may only send requests */
	cr_assert_eq(ipc_qmp_event_send(qmpd_peer, &e), 0);
	control_on_qmpd(&CTL);
	cr_assert_eq(control_qmpd_fd(&CTL), -1);
	attach_qmpd();
	/* a request with a command out of range */
	r.cmd = QMP_CMD_MAX;
	cr_assert_eq(ipc_send(qmpd_peer, IPC_QMP_REQUEST, &r, sizeof(r), NULL, 0), 0);
	control_on_qmpd(&CTL);
	cr_assert_eq(control_qmpd_fd(&CTL), -1);
	attach_qmpd();
	ask_cmd(QMP_CMD_QUERY_STATUS);
	expect_reply(QMP_CMD_QUERY_STATUS, QMP_OK);
	/* a qmpd that goes away in the middle of a hotplug: its successor hears nothing of it */
	{
		struct qmp_request b = { .cmd = QMP_CMD_BLOCKDEV_ADD };
		struct hotplug_request h;

		strcpy(b.u.blockdev_add.node_name, "n");
		strcpy(b.u.blockdev_add.filename, "/f");
		ask(&b);
		h = sup_expect(HOTPLUG_BLOCKDEV_ADD);
		attach_qmpd();
		sup_answer(&h, QMP_OK, "", -1);
		expect_quiet();
		/* but the node exists */
		refused(b, QMP_CMD_BLOCKDEV_ADD, "Duplicate nodes");
	}
}

Test(control, backend_failure_pauses_and_tells)
{
	struct backend_failed b = { .slot = 0, .name = "rootfs" };
	struct qmp_event ev;

	cr_assert_eq(ipc_backend_failed_send(sup_peer, &b), 0);
	cr_assert_eq(control_on_supervisor(&CTL), 0);
	ev = expect_event(QMP_EV_BACKEND_FAILED);
	cr_assert_str_eq(ev.device, "rootfs");
	expect_event(QMP_EV_STOP);
	cr_assert_eq(FV.pauses, 1);
	ask_cmd(QMP_CMD_QUERY_STATUS);
	cr_assert_eq(expect_reply(QMP_CMD_QUERY_STATUS, QMP_OK).u.runstate, QMP_RUN_PAUSED);
	b.name[0] = '\0';
	cr_assert_eq(ipc_backend_failed_send(sup_peer, &b), 0);
	cr_assert_eq(control_on_supervisor(&CTL), -EPROTO, "a nameless failure is malformed");
}
