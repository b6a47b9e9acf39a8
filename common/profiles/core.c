/* Sandbox profiles of bulkhead-core. core-control is the process filter, loaded by
 * core/main.c once the VM is built and the boot backends are attached, before any vCPU runs;
 * the vCPU threads inherit it and each stacks core-vcpu on top (vcpu.c vcpu_thread), so what
 * a vCPU thread may do is the intersection: no thread creation, no signals to others, no
 * stdin, only the ioctls of the run loop and of a backend (re)started from a register write. */
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <linux/seccomp.h>
#include <sched.h>

#include "sandbox.h"

/* What vCPU threads do: both filters need these (the process filter is inherited). */
#define VCPU_IOCTLS                                                                        \
	SB_IOCTL(KVM_RUN, "vcpu.c vcpu_thread: the run loop"),                             \
	SB_IOCTL(KVM_GET_REGS, "vcpu.c diagnosis on a failed vCPU; emulate.c fallbacks"),   \
	SB_IOCTL(KVM_SET_REGS, "vcpu.c emulate.c fallbacks advance RIP"),                   \
	SB_IOCTL(KVM_GET_SREGS, "vcpu.c diagnosis and page walks for emulated insns"),      \
	SB_IOCTL(KVM_TRANSLATE, "vcpu.c gva_to_gpa: the instruction bytes at RIP"),         \
	SB_IOCTL(KVM_GET_FPU, "vcpu.c emulate_fpu_mem: fxsave/stmxcsr fallbacks"),          \
	SB_IOCTL(KVM_SET_FPU, "vcpu.c emulate_fpu_mem: fxrstor/ldmxcsr fallbacks"),         \
	SB_IOCTL(KVM_GET_VCPU_EVENTS, "vcpu.c: injecting #BP for an emulated int3"),        \
	SB_IOCTL(KVM_SET_VCPU_EVENTS, "vcpu.c: injecting #BP for an emulated int3"),        \
	SB_IOCTL(KVM_IRQ_LINE, "kvm.c kvm_irq_set_level: serial and config-change IRQs"),   \
	SB_IOCTL(KVM_IOEVENTFD, "vu_slot.c new_kick/teardown_kvm: a backend (re)started "   \
		 "or stopped by a register write"),                                         \
	SB_IOCTL(KVM_IRQFD, "vu_slot.c new_call/teardown_kvm: the backend's completions")

/* Without a vDSO (vdso=0) glibc's time() is the time system call; with one, __vdso_time reads
 * the coarse clock and never falls back. clock_gettime (log.c, control.c event timestamps) is
 * in profiles/base.c; nothing in the core calls gettimeofday, clock_getres or sleeps. */
#define VCPU_TIME                                                                          \
	SB_ALLOW(time, "rtc.c host_now: a vCPU thread answering a CMOS clock read; glibc "    \
		 "time() is this syscall when there is no vDSO")

/* The vhost-user frontend runs on whichever thread wrote DriverOK/Status/QueueReady. */
#define VHOST_USER_FRONTEND                                                                \
	SB_ALLOW(poll, "vhost_user.c/vu_frontend.c: wait for a backend's reply"),           \
	SB_ALLOW(sendmsg, "vhost_user.c vu_msg_send: requests with memory/kick/call fds"),   \
	SB_ALLOW(recvmsg, "vhost_user.c vu_msg_recv: replies (inflight fd)"),               \
	SB_ALLOW(recvfrom, "vhost_user.c: recv() of a reply's payload"),                    \
	SB_ALLOW(shutdown, "vu_slot.c mark_dead: the main loop then sees HUP and detaches"), \
	SB_ALLOW(eventfd2, "vu_slot.c new_kick/new_call: the data path's eventfds")

static const struct sandbox_rule control_rules[] = {
	VCPU_IOCTLS,
	VHOST_USER_FRONTEND,
	VCPU_TIME,
	SB_ALLOW(read, "core/loop.c pump_stdin: serial input"),
	SB_ALLOW1(clone, SB_ARG_HAS(0, CLONE_THREAD),
		  "vcpu.c vcpu_start: pthread_create of the vCPU threads; threads only"),
	SB_ERRNO(clone3, 38 /* ENOSYS */, "glibc pthread_create tries clone3 first; seccomp "
		 "cannot read its flags, so refuse it and glibc falls back to clone"),
	SB_ALLOW(set_robust_list, "a new vCPU thread's glibc start-up, before its own filter"),
	SB_ALLOW(rseq, "a new vCPU thread's glibc start-up, before its own filter"),
	SB_ALLOW(rt_sigaction, "vcpu.c vcpu_start: the kick handler; glibc's SIGCANCEL"),
	SB_ALLOW1(tgkill, SB_ARG_SELF(0),
		  "vcpu.c vcpu_kick_all: pthread_kill(SIGUSR1) of our own threads only"),
	SB_ALLOW(exit, "a vCPU thread returning"),
	SB_ALLOW1(seccomp, SB_ARG_EQ(0, SECCOMP_SET_MODE_FILTER),
		  "vcpu.c vcpu_thread: each vCPU thread stacks core-vcpu (a filter only narrows)"),
};

static const struct sandbox_rule vcpu_rules[] = {
	VCPU_IOCTLS,
	VHOST_USER_FRONTEND,
	VCPU_TIME,
	SB_ALLOW(exit, "vcpu_thread returning (the VM ended)"),
};

static const struct sandbox_fd core_fds[] = {
	{ "socket:*", "the supervisor IPC socket, backends' vhost-user sockets, qmpd" },
	{ "/dev/kvm", "kvm.c kvm_vm_create" },
	{ "anon_inode:kvm-vm", "kvm.c kvm_vm_create" },
	{ "anon_inode:kvm-vcpu:*", "vcpu.c vcpu_create" },
	{ "/memfd:bulkhead-ram*", "memory.c sealed_memfd: guest RAM" },
	{ "* (deleted)", "-mem-path: guest RAM in an unlinked hugetlbfs file" },
	{ "anon_inode:[eventfd]", "the exit eventfd; kick and call eventfds" },
	{ "/memfd:vu-inflight*", "a dev-blk's inflight area, kept across its restarts" },
	{ "pipe:*", "the SIGSYS report to the supervisor (" SANDBOX_REPORT_ENV ")" },
	{ NULL, NULL },
};

const struct sandbox_profile sandbox_profile_core_control = {
	.name = "core-control",
	.what = "bulkhead-core, whole process: from after the VM is built, before any vCPU runs",
	.rules = control_rules,
	.nrules = sizeof(control_rules) / sizeof(control_rules[0]),
	.base = true,
	.threads = true,
	/* 16 slots x (16 kicks, call, socket, inflight), and room for qmpd and hotplug */
	.nofile_extra = 384,
	.fds = core_fds,
};

const struct sandbox_profile sandbox_profile_core_vcpu = {
	.name = "core-vcpu",
	.what = "each vCPU thread of bulkhead-core, stacked on core-control when it starts",
	.rules = vcpu_rules,
	.nrules = sizeof(vcpu_rules) / sizeof(vcpu_rules[0]),
	.base = true,
	.threads = true,
	.fds = core_fds,
};
