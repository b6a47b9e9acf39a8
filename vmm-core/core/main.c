/* bulkhead-core: receives the VM description from the supervisor, builds the VM (KVM, guest
 * RAM, kernel, firmware tables, core devices), runs the vCPUs and reports how the VM ended. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "core.h"
#include "log.h"
#include "sandbox.h"

/* What the supervisor may send at boot: the configuration, once. After it, control.c's
 * table applies (backends, qmpd, hotplug answers). */
static const struct ipc_peer supervisor_boot = {
	.name = "supervisor",
	.allowed = 1u << IPC_CORE_CONFIG,
};

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

int main(int argc, char **argv)
{
	static struct vm vm = { .kvm_fd = -1, .vm_fd = -1, .exit_efd = -1 };
	static struct control ctl;
	struct core_config c;
	struct core_config_fds f = { .kernel = -1, .initrd = -1, .mem = -1 };
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
	for (unsigned i = 0; !r && i < IPC_MAX_SLOTS; i++)
		if (c.slot_kind[i] != IPC_DEV_NONE && !worker_slot_takes(i, c.slot_kind[i]))
			r = -EINVAL;     /* no such slot, or one of another kind */
	if (r)
		fatalx("bad configuration from the supervisor: %s", strerror(-r));
	vm_init(&vm);
	control_init(&ctl, &vm_control_ops, &vm, ipc, c.slot_kind);
	r = control_slots_config(&ctl, &c, &f);
	if (r)
		fatalx("bad stats page from the supervisor: %s", strerror(-r));
	r = vm_build(&vm, &c, &f, err, sizeof(err));
	closep(&f.kernel);
	closep(&f.initrd);
	if (r) {
		vm_request_exit(&vm, VM_EXIT_ERROR, err[0] ? err : strerror(-r));
		return vm_report_exit(&vm, ipc);
	}
	vm_boot_attach(&vm, &ctl, ipc);
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
	vm_run_loop(&vm, &ctl, ipc, c.flags & CORE_F_SERIAL_STDIO);
	vcpu_kick_all(&vm);
	vcpu_join_all(&vm);
	/* QMP clients hear SHUTDOWN/RESET before the supervisor learns the VM is over */
	control_vm_ending(&ctl, atomic_load(&vm.exit_reason));
	/* report first: the supervisor then knows the workers' EOF is no crash to restart */
	rc = vm_report_exit(&vm, ipc);
	for (unsigned i = 0; i < vm.desc.nmmio; i++)
		vu_slot_exit(&vm.slots[i]);
	control_exit(&ctl);
	vm_destroy(&vm);
	return rc;
}
