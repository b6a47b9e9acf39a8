/* bulkhead-core once the VM is built: the main loop (the supervisor's and qmpd's messages, host
 * input for the serial port, backends that hang up), what control.c does to the VM, and the
 * report of how it ended. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "core.h"
#include "log.h"

/* how long the boot waits for the first backend of each slot before the vCPUs start */
#define BOOT_ATTACH_TIMEOUT_MS 10000

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

const struct control_ops vm_control_ops = {
	.pause = op_pause,
	.resume = op_resume,
	.end = op_end,
	.powerdown = op_powerdown,
	.cpus = op_cpus,
	.attach = op_attach,
	.unplug = op_unplug,
};

/* The first backend of every boot disk, before any vCPU can look at DeviceID and features. */
void vm_boot_attach(struct vm *vm, struct control *ctl, int ipc)
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

void vm_run_loop(struct vm *vm, struct control *ctl, int ipc, bool serial_in)
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

int vm_report_exit(struct vm *vm, int ipc)
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
