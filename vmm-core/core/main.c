/* bulkhead-core: receives the VM description from the supervisor, builds the VM (KVM, guest
 * RAM, kernel, firmware tables, core devices), runs the vCPUs and reports how the VM ended. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "acpi.h"
#include "boot.h"
#include "control.h"
#include "ipc.h"
#include "layout.h"
#include "log.h"
#include "mptable.h"
#include "resetvec.h"
#include "sandbox.h"
#include "vm.h"

/* What the supervisor may send at boot: the configuration, once. After it, control.c's
 * table applies (backends, qmpd, hotplug answers). */
static const struct ipc_peer supervisor_boot = {
	.name = "supervisor",
	.allowed = 1u << IPC_CORE_CONFIG,
};

#define VIRTIO_ID_BLOCK 2
#define IRQ_KBD 1           /* ISA IRQ 1: the i8042's keyboard interrupt */
/* how long the boot waits for the first backend of each slot before the vCPUs start */
#define BOOT_ATTACH_TIMEOUT_MS 10000

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The GED exists only where the DSDT describes it; system_powerdown uses it when the guest
 * will read that DSDT. */
static int register_ged(struct vm *vm, const struct core_config *c, struct irq_sink irq)
{
	if (!(c->flags & CORE_F_ACPI))
		return 0;
	ged_init(&vm->ged, irq, LAYOUT_GED_GSI);
	vm->powerdown_by_ged = !machine_cmdline_acpi_off(c->cmdline);
	return bus_register(&vm->mmio, LAYOUT_GED_BASE, LAYOUT_GED_SIZE, "ged", &ged_ops, &vm->ged);
}

static int register_devices(struct vm *vm, const struct core_config *c)
{
	struct irq_sink irq = { kvm_irq_set_level, vm };
	struct vm_ctl ctl = { vm_request_exit_cb, vm };
	int r;

	serial_init(&vm->serial, (c->flags & CORE_F_SERIAL_STDIO) ? 1 : -1, irq, IRQ_COM1);
	i8042_init(&vm->i8042, ctl);
	i8042_set_irq(&vm->i8042, irq, IRQ_KBD);
	rtc_init(&vm->rtc, c->mem_size);
	acpi_pm_init(&vm->pm, ctl);
	if ((r = bus_register(&vm->pio, PORT_COM1, 8, "serial", &serial_ops, &vm->serial)) ||
	    (r = bus_register(&vm->pio, PORT_I8042_DATA, 1, "i8042", &i8042_data_ops, &vm->i8042)) ||
	    (r = bus_register(&vm->pio, PORT_I8042_CMD, 1, "i8042", &i8042_cmd_ops, &vm->i8042)) ||
	    (r = bus_register(&vm->pio, PORT_CMOS_INDEX, 2, "rtc", &rtc_ops, &vm->rtc)) ||
	    (r = bus_register(&vm->pio, PORT_ACPI_PM, PORT_ACPI_PM_LEN, "acpi-pm", &acpi_pm_ops, &vm->pm)))
		return r;
	return register_ged(vm, c, irq);
}

/* The six disk slots at fixed addresses, described to the guest by the tables built next:
 * the command line's disks fill the first ones, the rest wait for hotplug with no medium. */
static int create_slots(struct vm *vm, const struct core_config *c)
{
	int r;

	vm->desc.nmmio = CTL_DISK_SLOTS;
	for (unsigned i = 0; i < CTL_DISK_SLOTS; i++) {
		vm->desc.mmio[i] = (struct mmio_slot_desc){
			.base = LAYOUT_VIRTIO_MMIO_BASE + i * LAYOUT_VIRTIO_MMIO_SIZE,
			.size = LAYOUT_VIRTIO_MMIO_SIZE,
			.irq = LAYOUT_VIRTIO_FIRST_IRQ + i,
		};
		r = vu_slot_init(&vm->slots[i], vm, i, VIRTIO_ID_BLOCK,
				 i < c->nslots && c->slot_kind[i] == IPC_DEV_VHOST_USER_BLK);
		if (r)
			return r;
		if (i >= c->nslots)
			vu_slot_set_empty(&vm->slots[i]);
	}
	return 0;
}

/* ACPI tables by default; with acpi=off an MP table and virtio_mmio.device= on the cmdline. */
static int build_tables(struct vm *vm, const struct core_config *c, char *cmdline, size_t cap,
			uint64_t *rsdp, char *err, size_t errlen)
{
	void *p;
	long n;

	*rsdp = 0;
	if (c->flags & CORE_F_ACPI) {
		p = guest_ptr(&vm->mem, LAYOUT_ACPI_BASE, LAYOUT_ACPI_SIZE);
		n = p ? acpi_build(p, LAYOUT_ACPI_SIZE, LAYOUT_ACPI_BASE, &vm->desc) : -EFAULT;
		*rsdp = LAYOUT_ACPI_BASE;
	} else {
		p = guest_ptr(&vm->mem, LAYOUT_MPTABLE_BASE, LAYOUT_MPTABLE_SIZE);
		n = p ? mptable_build(p, LAYOUT_MPTABLE_SIZE, LAYOUT_MPTABLE_BASE, &vm->desc) : -EFAULT;
		if (n >= 0 && machine_append_mmio_cmdline(cmdline, cap, &vm->desc) < 0)
			n = -ENOSPC;
	}
	if (n < 0) {
		snprintf(err, errlen, "building %s tables: %s", (c->flags & CORE_F_ACPI) ? "ACPI" : "MP",
			 strerror((int)-n));
		return (int)n;
	}
	return 0;
}

static int load_guest(struct vm *vm, const struct core_config *c, const struct core_config_fds *f,
		      char *err, size_t errlen)
{
	struct boot_image img;
	struct boot_params_args args = { 0 };
	struct kvm_regs regs = { 0 };
	struct kvm_sregs sregs;
	char cmdline[sizeof(c->cmdline) + 1024];
	int r;

	snprintf(cmdline, sizeof(cmdline), "%s", c->cmdline);
	r = boot_load_kernel(&vm->mem, f->kernel, &img, err, errlen);
	if (r)
		return r;
	if (f->initrd >= 0) {
		r = boot_load_initrd(&vm->mem, f->initrd, &img, &args.initrd_addr, &args.initrd_size,
				     err, errlen);
		if (r)
			return r;
	}
	r = build_tables(vm, c, cmdline, sizeof(cmdline), &args.rsdp_addr, err, errlen);
	if (r)
		return r;
	r = resetvec_install(&vm->mem);
	if (r) {
		snprintf(err, errlen, "writing the reset-vector stub: %s", strerror(-r));
		return r;
	}
	args.cmdline = cmdline;
	r = boot_write_params(&vm->mem, &img, &args, err, errlen);
	if (r)
		return r;
	if (ioctl(vm->vcpus[0].fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(err, errlen, "KVM_GET_SREGS: %s", strerror(errno));
		return -errno;
	}
	r = boot_setup_cpu(&vm->mem, &img, &regs, &sregs);
	if (!r)
		r = vcpu_set_boot_state(&vm->vcpus[0], &regs, &sregs);
	if (r)
		snprintf(err, errlen, "setting up the boot CPU: %s", strerror(-r));
	return r;
}

static int build_vm(struct vm *vm, const struct core_config *c, const struct core_config_fds *f,
		    char *err, size_t errlen)
{
	int r;

	vm->ncpus = c->ncpus;
	vm->desc.ncpus = c->ncpus;
	r = kvm_vm_create(vm, err, errlen);
	if (r)
		return r;
	r = guest_mem_init(&vm->mem, c->mem_size, f->mem, c->flags & CORE_F_DUMP_CORE);
	if (!r)
		r = kvm_vm_map_memory(vm);
	if (r) {
		snprintf(err, errlen, "guest memory (%" PRIu64 " MiB): %s", c->mem_size >> 20,
			 strerror(-r));
		return r;
	}
	r = register_devices(vm, c);
	if (!r)
		r = create_slots(vm, c);
	if (r) {
		snprintf(err, errlen, "registering core devices: %s", strerror(-r));
		return r;
	}
	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->ncpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		r = vcpu_create(vm, i);
		if (r) {
			snprintf(err, errlen, "creating vCPU %u: %s", i, strerror(-r));
			return r;
		}
	}
	return load_guest(vm, c, f, err, errlen);
}

/* Host input for the serial port, read only while the guest's receive FIFO has room. */
static void pump_stdin(struct vm *vm, bool *stdin_open)
{
	uint8_t buf[SERIAL_RX_FIFO];
	size_t room = serial_rx_room(&vm->serial);
	ssize_t n;

	if (!room)
		return;
	n = read(0, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n > 0)
		serial_receive(&vm->serial, buf, (size_t)n);
	else if (n == 0 || (errno != EINTR && errno != EAGAIN))
		*stdin_open = false;
}

/* ---- what control.c does to the VM ---- */

static void op_pause(void *o)
{
	vcpu_pause_all(o);
}

static void op_resume(void *o)
{
	vcpu_resume_all(o);
}

static void op_end(void *o, enum vm_exit_reason why, const char *detail)
{
	vm_request_exit(o, why, detail);
}

static void op_powerdown(void *o)
{
	struct vm *vm = o;

	/*
	 * A guest that reads the ACPI tables gets a power-button press (GED -> Notify (PWRB) ->
	 * KEY_POWER for acpid or logind): a stock kernel finds no i8042 there, the DSDT has no
	 * PNP0303. Without ACPI, Ctrl-Alt-Del on the i8042, as Firecracker's SendCtrlAltDel;
	 * Linux turns it into SIGINT for init. Never both: inits commonly map Ctrl-Alt-Del to
	 * a reboot, which would turn a power-down into a restart.
	 */
	if (vm->powerdown_by_ged)
		ged_send_event(&vm->ged, GED_EVT_PWR_DOWN);
	else
		i8042_send_ctrl_alt_del(&vm->i8042);
}

static unsigned op_cpus(void *o, struct qmp_cpu_info *out, unsigned max)
{
	return vcpu_info(o, out, max);
}

static int op_attach(void *o, unsigned slot, int fd, const char *name, bool hotplug)
{
	struct vm *vm = o;

	if (slot >= vm->desc.nmmio) {
		close(fd);
		return -EINVAL;
	}
	return hotplug ? vu_slot_plug(&vm->slots[slot], fd, name) :
			 vu_slot_attach(&vm->slots[slot], fd, name);
}

static void op_unplug(void *o, unsigned slot)
{
	struct vm *vm = o;

	if (slot < vm->desc.nmmio)
		vu_slot_unplug(&vm->slots[slot]);
}

static const struct control_ops vm_control_ops = {
	.pause = op_pause,
	.resume = op_resume,
	.end = op_end,
	.powerdown = op_powerdown,
	.cpus = op_cpus,
	.attach = op_attach,
	.unplug = op_unplug,
};

/* The first backend of every boot disk, before any vCPU can look at DeviceID and features. */
static void boot_attach(struct vm *vm, struct control *ctl, int ipc)
{
	unsigned want = control_boot_waiting(ctl);

	while (control_boot_waiting(ctl) > 0) {
		struct pollfd p = { .fd = ipc, .events = POLLIN };

		if (poll(&p, 1, BOOT_ATTACH_TIMEOUT_MS) <= 0) {
			log_warnx("no backend for %u of %u disks after %d ms; starting without",
				  control_boot_waiting(ctl), want, BOOT_ATTACH_TIMEOUT_MS);
			return;
		}
		if (control_on_supervisor(ctl) < 0) {
			vm_request_exit(vm, VM_EXIT_ERROR, "bad message from the supervisor");
			return;
		}
	}
}

#define POLL_FIXED 4

/* gen[i]: which backend of slot i was watched, so a HUP of a backend that was replaced in
 * the same round (the supervisor's new one came first) does not detach its successor. */
static void watch_slots(struct vm *vm, struct pollfd *p, unsigned *gen)
{
	for (unsigned i = 0; i < vm->desc.nmmio; i++) {
		p[i] = (struct pollfd){ .fd = vu_slot_fd(&vm->slots[i]), .events = POLLRDHUP };
		gen[i] = vm->slots[i].attaches;
	}
}

static void check_slots(struct vm *vm, const struct pollfd *p, const unsigned *gen)
{
	for (unsigned i = 0; i < vm->desc.nmmio; i++)
		if (p[i].revents && gen[i] == vm->slots[i].attaches)
			vu_slot_detach(&vm->slots[i], vm->slots[i].dead ? "a request failed" :
				       "the connection closed");
}

static void run_loop(struct vm *vm, struct control *ctl, int ipc, bool serial_in)
{
	bool stdin_open = serial_in;

	while (atomic_load(&vm->exit_reason) == VM_EXIT_NONE) {
		bool want_in = stdin_open && serial_rx_room(&vm->serial) > 0;
		unsigned gen[LAYOUT_VIRTIO_MMIO_SLOTS];
		struct pollfd p[POLL_FIXED + LAYOUT_VIRTIO_MMIO_SLOTS] = {
			{ .fd = vm->exit_efd, .events = POLLIN },
			{ .fd = ipc, .events = POLLIN },
			{ .fd = want_in ? 0 : -1, .events = POLLIN },
			{ .fd = control_qmpd_fd(ctl), .events = POLLIN },
		};
		int n;

		watch_slots(vm, p + POLL_FIXED, gen);
		/* with a full FIFO, look again shortly rather than spin */
		n = poll(p, POLL_FIXED + vm->desc.nmmio, stdin_open && !want_in ? 10 : -1);
		if (n < 0 && errno != EINTR)
			fatal("poll");
		if (n <= 0)
			continue;
		if (p[1].revents && control_on_supervisor(ctl) < 0) {
			/* the supervisor went away or sent something it may not: stop the VM */
			vm_request_exit(vm, VM_EXIT_ERROR, "lost the supervisor connection");
			break;
		}
		if (p[2].revents)
			pump_stdin(vm, &stdin_open);
		/* the fd may have been replaced by a QMPD_ATTACH just now: only read the one polled */
		if (p[3].revents && p[3].fd == control_qmpd_fd(ctl))
			control_on_qmpd(ctl);
		check_slots(vm, p + POLL_FIXED, gen);
	}
}

static int recv_config(int ipc, struct core_config *c, struct core_config_fds *f)
{
	struct ipc_msg *msg = calloc(1, sizeof(*msg));
	int r;

	if (!msg)
		return -ENOMEM;
	r = ipc_recv(ipc, &supervisor_boot, msg);
	if (r == 1)
		r = ipc_core_config_decode(msg, c, f);
	else if (r == 0)
		r = -EPIPE;
	ipc_msg_close_fds(msg);
	free(msg);
	return r;
}

static int report_exit(struct vm *vm, int ipc)
{
	struct vm_exit_info e = { 0 };
	int why = atomic_load(&vm->exit_reason);

	e.reason = why == VM_EXIT_RESET ? IPC_EXIT_RESET :
		   why == VM_EXIT_POWEROFF ? IPC_EXIT_POWEROFF : IPC_EXIT_ERROR;
	pthread_mutex_lock(&vm->exit_lock);
	snprintf(e.detail, sizeof(e.detail), "%s", vm->exit_detail);
	pthread_mutex_unlock(&vm->exit_lock);
	if (ipc_vm_exit_send(ipc, &e) < 0)
		log_warn("reporting the VM exit");
	return e.reason == IPC_EXIT_ERROR ? 1 : 0;
}

static int parse_ipc_fd(int argc, char **argv)
{
	char *end;
	long fd;

	if (argc != 2 || strncmp(argv[1], "--ipc-fd=", 9) != 0)
		fatalx("usage: bulkhead-core --ipc-fd=N (started by bulkhead, not by hand)");
	errno = 0;
	fd = strtol(argv[1] + 9, &end, 10);
	if (errno || *end || fd < 3 || fd > 1024)
		fatalx("bad --ipc-fd '%s'", argv[1] + 9);
	return (int)fd;
}

static void init_sync(struct vm *vm)
{
	pthread_mutex_init(&vm->exit_lock, NULL);
	pthread_mutex_init(&vm->run_lock, NULL);
	pthread_cond_init(&vm->run_cond, NULL);
	vm->exit_efd = eventfd(0, EFD_CLOEXEC);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
}

int main(int argc, char **argv)
{
	static struct vm vm = { .kvm_fd = -1, .vm_fd = -1, .exit_efd = -1 };
	static struct control ctl;
	struct core_config c;
	struct core_config_fds f = { -1, -1, -1 };
	char err[512] = "";
	sigset_t set;
	int ipc, r, rc;

	vm.t_start_ns = mono_ns();
	log_init("core", 2);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	ipc = parse_ipc_fd(argc, argv);
	/* vCPU threads unblock the kick signal themselves; everyone else ignores it */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = recv_config(ipc, &c, &f);
	if (!r && c.nslots > CTL_DISK_SLOTS)
		r = -EINVAL;     /* only the six disk slots exist */
	if (r)
		fatalx("bad configuration from the supervisor: %s", strerror(-r));
	init_sync(&vm);
	control_init(&ctl, &vm_control_ops, &vm, ipc, c.nslots, c.slot_kind);
	r = build_vm(&vm, &c, &f, err, sizeof(err));
	closep(&f.kernel);
	closep(&f.initrd);
	if (r) {
		vm_request_exit(&vm, VM_EXIT_ERROR, err[0] ? err : strerror(-r));
		return report_exit(&vm, ipc);
	}
	boot_attach(&vm, &ctl, ipc);
	log_debug("boot: VM built in %.3f ms", (mono_ns() - vm.t_start_ns) / 1e6);
	/* ---- sandbox (issue 5): the VM is built and nothing more will be opened; no vCPU has
	 * run yet. What the core holds is listed or was opened by it (close-on-exec). ---- */
	{
		int keep[] = { ipc, vm.kvm_fd, vm.vm_fd };
		struct sandbox_opts so = { .no_seccomp = c.flags & CORE_F_NO_SECCOMP,
					   .dump_core = c.flags & CORE_F_DUMP_CORE,
					   .keep_cloexec = true,
					   /* -runas: /dev/kvm was opened above, as root */
					   .runas = c.flags & CORE_F_RUNAS,
					   .uid = c.runas_uid, .gid = c.runas_gid };

		if (sandbox_enter(SANDBOX_CORE_CONTROL, keep, 3, &so) < 0)
			vm_request_exit(&vm, VM_EXIT_ERROR, "entering the core's sandbox failed");
	}
	for (unsigned i = 0; atomic_load(&vm.exit_reason) == VM_EXIT_NONE && i < vm.ncpus; i++) {
		r = vcpu_start(&vm.vcpus[i]);
		if (r) {
			snprintf(err, sizeof(err), "starting vCPU %u: %s", i, strerror(-r));
			vm_request_exit(&vm, VM_EXIT_ERROR, err);
			break;
		}
	}
	run_loop(&vm, &ctl, ipc, c.flags & CORE_F_SERIAL_STDIO);
	vcpu_kick_all(&vm);
	vcpu_join_all(&vm);
	/* QMP clients hear SHUTDOWN/RESET before the supervisor learns the VM is over */
	control_vm_ending(&ctl, atomic_load(&vm.exit_reason));
	/* report first: the supervisor then knows the workers' EOF is no crash to restart */
	rc = report_exit(&vm, ipc);
	for (unsigned i = 0; i < vm.desc.nmmio; i++)
		vu_slot_exit(&vm.slots[i]);
	control_exit(&ctl);
	vm_destroy(&vm);
	return rc;
}
