/* Unit tests for the core's control path (vmm-core/core/control.c): QMP requests, events and
 * hotplug over real sockets, with a fake VM behind its ops. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* The first nboot slots hold kinds[] from boot, the others are empty. */
static void ctl_start(unsigned nboot, const uint32_t *kinds)
{
	uint32_t boot_kind[WORKER_SLOTS] = { 0 };
	int sv[2];

	memset(&FV, 0, sizeof(FV));
	for (unsigned i = 0; i < nboot; i++)
		boot_kind[i] = kinds[i];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	control_init(&CTL, &fake_ctl_ops, NULL, sv[0], boot_kind);
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
	cr_assert_eq(ipc_qmp_request_send(qmpd_peer, r, NULL), 0);
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
	strcpy(r.u.netdev_add.ifname, "tap0:1");
	ask(&r);
	cr_assert(strstr(expect_reply(QMP_CMD_NETDEV_ADD, QMP_ERR_GENERIC).desc, "Invalid ifname"));
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
	refused(dev_req("vdc", "disk2", 6), QMP_CMD_DEVICE_ADD, "addr 0x6 is not a disk slot (0x0-0x5)");
	refused(dev_req("vdc", "disk1", 3), QMP_CMD_DEVICE_ADD, "already in use by device 'vdb'");
	refused(dev_req("vdc", "nosuch", 3), QMP_CMD_DEVICE_ADD, "Unknown drive");
	refused(dev_req("vdc", "", 3), QMP_CMD_DEVICE_ADD, "Unknown drive 'vdc'");
	refused(dev_req("-bad", "disk2", 3), QMP_CMD_DEVICE_ADD, "Invalid id");
	r = dev_req("vdc", "disk2", 3);
	strcpy(r.u.device_add.driver, "virtio-net-mmio");
	refused(r, QMP_CMD_DEVICE_ADD, "Unknown netdev 'vdc' (netdev_add it first)");
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

/* ---- control.c: NIC hotplug: netdev_add, device_add into the NIC slots, netdev_del ---- */

static void add_netdev(const char *id, const char *ifname)
{
	struct qmp_request r = { .cmd = QMP_CMD_NETDEV_ADD };
	struct hotplug_request h;

	strcpy(r.u.netdev_add.id, id);
	strcpy(r.u.netdev_add.ifname, ifname);
	ask(&r);
	h = sup_expect(HOTPLUG_NETDEV_ADD);
	cr_assert_str_eq(h.node_name, id);
	cr_assert_str_eq(h.filename, ifname);
	sup_answer(&h, QMP_OK, "", -1);
	expect_reply(QMP_CMD_NETDEV_ADD, QMP_OK);
}

static struct qmp_request nic_req(const char *id, const char *netdev, int addr)
{
	struct qmp_request r = dev_req(id, "", addr);

	strcpy(r.u.device_add.driver, "virtio-net-mmio");
	strcpy(r.u.device_add.netdev, netdev);
	return r;
}

Test(control, nic_hotplug)
{
	static const uint32_t boot[] = { IPC_DEV_BLK };
	const unsigned eth0 = worker_kinds[WORKER_NET].first_slot;
	struct qmp_request r;
	struct hotplug_request h;
	int p[2];

	ctl_stop();
	ctl_start(1, boot);
	add_netdev("net-0", "tap0");
	/* a netdev is no drive, and a drive no netdev */
	add_node("disk1", "/img/one");
	refused(nic_req("nic", "disk1", -1), QMP_CMD_DEVICE_ADD, "Unknown netdev 'disk1'");
	refused(dev_req("vdb", "net-0", -1), QMP_CMD_DEVICE_ADD, "Unknown drive 'net-0'");
	refused(nic_req("nic", "net-0", 2), QMP_CMD_DEVICE_ADD, "addr 0x2 is not a NIC slot (0x0-0x1)");
	r = (struct qmp_request){ .cmd = QMP_CMD_NETDEV_ADD };
	strcpy(r.u.netdev_add.id, "disk1");
	strcpy(r.u.netdev_add.ifname, "tap1");
	refused(r, QMP_CMD_NETDEV_ADD, "Duplicate nodes with id='disk1'");
	/* the manual's form: device_add's id names the netdev, addr 0x1 is eth1 */
	r = nic_req("net-0", "", 1);
	strcpy(r.u.device_add.mac, "52:54:00:12:34:56");
	ask(&r);
	h = sup_expect(HOTPLUG_DEVICE_ADD);
	cr_assert_eq(h.slot, eth0 + 1);
	cr_assert_str_eq(h.node_name, "net-0");
	cr_assert_str_eq(h.mac, "52:54:00:12:34:56");
	cr_assert_eq(pipe(p), 0);
	close(p[1]);
	sup_answer(&h, QMP_OK, "", p[0]);
	close(p[0]);
	expect_reply(QMP_CMD_DEVICE_ADD, QMP_OK);
	cr_assert_eq(FV.last_slot, eth0 + 1);
	refused(nic_req("nic2", "net-0", -1), QMP_CMD_DEVICE_ADD,
		"netdev 'net-0' is already in use by device 'net-0'");
	r = (struct qmp_request){ .cmd = QMP_CMD_NETDEV_DEL };
	strcpy(r.u.id, "net-0");
	refused(r, QMP_CMD_NETDEV_DEL, "busy");
	strcpy(r.u.id, "disk1");
	refused(r, QMP_CMD_NETDEV_DEL, "Failed to find node with id='disk1'");
	/* device_del, then netdev_del reaches the supervisor */
	r = (struct qmp_request){ .cmd = QMP_CMD_DEVICE_DEL };
	strcpy(r.u.id, "net-0");
	ask(&r);
	h = sup_expect(HOTPLUG_DEVICE_DEL);
	cr_assert_eq(h.slot, eth0 + 1);
	sup_answer(&h, QMP_OK, "", -1);
	expect_reply(QMP_CMD_DEVICE_DEL, QMP_OK);
	expect_event(QMP_EV_DEVICE_DELETED);
	r = (struct qmp_request){ .cmd = QMP_CMD_NETDEV_DEL };
	strcpy(r.u.id, "net-0");
	ask(&r);
	h = sup_expect(HOTPLUG_NETDEV_DEL);
	cr_assert_str_eq(h.node_name, "net-0");
	sup_answer(&h, QMP_OK, "", -1);
	expect_reply(QMP_CMD_NETDEV_DEL, QMP_OK);
	ctl_stop();
}

/* A stats page as the supervisor makes one (sealed memfd), written as a worker would; *ro is
 * the read-only fd the core gets. */
static struct net_stats *stats_page(int *ro, unsigned seals)
{
	int fd = memfd_create("stats", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	char path[64];
	struct net_stats *s;

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, NET_STATS_FD_MIN), 0);
	if (seals)
		cr_assert_eq(fcntl(fd, F_ADD_SEALS, seals), 0);
	s = mmap(NULL, NET_STATS_FD_MIN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(s, MAP_FAILED);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	*ro = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(*ro, 0);
	close(fd);
	return s;
}

/* query-net-stats: the NIC slots in use, with what their workers counted; the core maps the
 * page read-only and believes nothing it says beyond the numbers */
Test(control, net_stats)
{
	static const uint32_t boot[] = { IPC_DEV_BLK };
	const unsigned eth0 = worker_kinds[WORKER_NET].first_slot;
	struct core_config cc = { .stats_slots = 3u << eth0 };
	struct core_config_fds f;
	struct net_stats *s0, *s1;
	struct backend_attach a = { .slot = eth0, .kind = IPC_DEV_NET, .name = "tap-a" };
	struct qmp_reply r;
	int p[2];

	ctl_stop();
	ctl_start(1, boot);
	CTL.slot[eth0] = (struct ctl_slot){ .state = CTL_SLOT_BOOT, .kind = IPC_DEV_NET };
	CTL.slot[eth0 + 1] = (struct ctl_slot){ .state = CTL_SLOT_PLUGGED, .id = "nic1",
						 .node = "net-1" };
	for (unsigned i = 0; i < IPC_MAX_SLOTS; i++)
		f.stats[i] = -1;
	/* a page that could shrink under the core is refused; so is one on a disk slot */
	s0 = stats_page(&f.stats[eth0], 0);
	cr_assert_eq(control_slots_config(&CTL, &cc, &f), -EINVAL);
	cr_assert_eq(f.stats[eth0], -1, "taken over, also on error");
	munmap(s0, NET_STATS_FD_MIN);
	s0 = stats_page(&f.stats[0], F_SEAL_SHRINK | F_SEAL_GROW);
	cr_assert_eq(control_slots_config(&CTL, &cc, &f), -EINVAL);
	munmap(s0, NET_STATS_FD_MIN);

	s0 = stats_page(&f.stats[eth0], F_SEAL_SHRINK | F_SEAL_GROW);
	s1 = stats_page(&f.stats[eth0 + 1], F_SEAL_SHRINK | F_SEAL_GROW);
	cc.slot_mac[eth0][0] = 0x52;
	cc.slot_mac[eth0][5] = 0x07;
	strcpy(cc.slot_dev_id[eth0], "nic0");
	cr_assert_eq(control_slots_config(&CTL, &cc, &f), 0);
	refused(nic_req("nic0", "", -1), QMP_CMD_DEVICE_ADD, "Duplicate ID 'nic0' for device");
	/* eth0's worker came (its name is the netdev's) and counts on two pairs; eth1's page
	 * was never set up by a worker */
	cr_assert_eq(pipe(p), 0);
	close(p[1]);
	cr_assert_eq(ipc_backend_attach_send(sup_peer, &a, p[0]), 0);
	close(p[0]);
	cr_assert_eq(control_on_supervisor(&CTL), 0);
	s0->version = NET_STATS_VERSION;
	s0->npairs = 2;
	s0->generation = 2;
	s0->pair[0].tx_spoofed = 5;
	s0->pair[1].rx_bytes = 1ULL << 40;
	s0->pair[2].rx_bytes = 77;
	s0->magic = NET_STATS_MAGIC;
	ask_cmd(QMP_CMD_QUERY_NET_STATS);
	r = expect_reply(QMP_CMD_QUERY_NET_STATS, QMP_OK);
	cr_assert_eq(r.u.nics.n, 2);
	cr_assert_eq(r.u.nics.nic[0].index, 0);
	cr_assert_str_eq(r.u.nics.nic[0].id, "nic0", "the boot NIC's -device id");
	cr_assert_str_eq(r.u.nics.nic[0].netdev, "tap-a");
	cr_assert_eq(r.u.nics.nic[0].mac[0], 0x52);
	cr_assert_eq(r.u.nics.nic[0].mac[5], 0x07);
	cr_assert_eq(r.u.nics.nic[0].counted, 1);
	cr_assert_eq(r.u.nics.nic[0].starts, 2);
	cr_assert_eq(r.u.nics.nic[0].npairs, 2);
	cr_assert_eq(r.u.nics.nic[0].pair[0].tx_spoofed, 5);
	cr_assert_eq(r.u.nics.nic[0].pair[1].rx_bytes, 1ULL << 40);
	cr_assert_eq(r.u.nics.nic[0].pair[2].rx_bytes, 0, "past npairs: not copied");
	cr_assert_eq(r.u.nics.nic[1].index, 1);
	cr_assert_str_eq(r.u.nics.nic[1].id, "nic1");
	cr_assert_str_eq(r.u.nics.nic[1].netdev, "net-1");
	cr_assert_eq(r.u.nics.nic[1].counted, 0);
	/* a lying worker: npairs past the page's room is cut to it */
	s0->npairs = 1000;
	ask_cmd(QMP_CMD_QUERY_NET_STATS);
	r = expect_reply(QMP_CMD_QUERY_NET_STATS, QMP_OK);
	cr_assert_eq(r.u.nics.nic[0].npairs, NET_STATS_MAX_PAIRS);
	/* an empty NIC slot is not listed */
	CTL.slot[eth0 + 1].state = CTL_SLOT_EMPTY;
	ask_cmd(QMP_CMD_QUERY_NET_STATS);
	r = expect_reply(QMP_CMD_QUERY_NET_STATS, QMP_OK);
	cr_assert_eq(r.u.nics.n, 1);
	munmap(s0, NET_STATS_FD_MIN);
	munmap(s1, NET_STATS_FD_MIN);
	ctl_stop();
}

/* netdev_add with the tap's queues as fds (QMP getfd): the core passes them to the supervisor
 * as they came and keeps no copy */
Test(control, netdev_add_fds_go_to_the_supervisor)
{
	struct qmp_request r = { .tag = 77, .cmd = QMP_CMD_NETDEV_ADD };
	struct ipc_msg *m = calloc(1, sizeof(*m));
	struct hotplug_request h;
	struct stat a, b;
	int p[2], before;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	strcpy(r.u.netdev_add.id, "net-0");
	r.u.netdev_add.nfds = 2;
	before = count_fds();
	cr_assert_eq(ipc_qmp_request_send(qmpd_peer, &r, p), 0);
	control_on_qmpd(&CTL);
	cr_assert_eq(count_fds(), before, "the core kept none of them");
	cr_assert_eq(ipc_recv(sup_peer, &as_sup, m), 1);
	cr_assert_eq(ipc_hotplug_request_decode(m, &h), 0);
	cr_assert_eq(h.op, HOTPLUG_NETDEV_ADD);
	cr_assert_eq(h.nfds, 2);
	cr_assert_str_eq(h.filename, "");
	cr_assert_eq(m->nfds, 2);
	cr_assert_eq(fstat(m->fds[1], &a), 0);
	cr_assert_eq(fstat(p[1], &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino, "in their order");
	ipc_msg_close_fds(m);
	free(m);
	sup_answer(&h, QMP_OK, "", -1);
	expect_reply(QMP_CMD_NETDEV_ADD, QMP_OK);
	close(p[0]);
	close(p[1]);
}
