/* vCPU threads: KVM_RUN loops, exit dispatch to the PIO/MMIO buses, and the diagnosis printed
 * when a vCPU cannot go on (registers and the instruction bytes at RIP). */
#include <errno.h>
#include <inttypes.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "emulate.h"
#include "log.h"
#include "sandbox.h"
#include "vcpu_exit.h"
#include "vm.h"

#define SIG_VCPU_KICK SIGUSR1
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MISC_ENABLE_FAST_STRING 1ULL

/* Unhandled accesses: logged once per address (hash set), and rate-limited overall. */
#define UNHANDLED_SLOTS 256
static uint64_t unhandled_seen[UNHANDLED_SLOTS];
static pthread_mutex_t unhandled_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ratelimit unhandled_rl = RATELIMIT_INIT(1000, 20);

static void log_unhandled(const char *bus, uint64_t addr, unsigned len, bool write)
{
	uint64_t key = (addr << 1) | (bus[0] == 'm');
	unsigned h = (unsigned)((key * 0x9e3779b97f4a7c15ULL) >> 56);
	bool first = false;

	pthread_mutex_lock(&unhandled_lock);
	for (unsigned i = 0; i < UNHANDLED_SLOTS; i++) {
		unsigned s = (h + i) % UNHANDLED_SLOTS;
		if (unhandled_seen[s] == key + 1)
			break;
		if (unhandled_seen[s] == 0) {
			unhandled_seen[s] = key + 1;
			first = true;
			break;
		}
	}
	pthread_mutex_unlock(&unhandled_lock);
	if (first)
		log_warnx_rl(&unhandled_rl, "unhandled %s %s at 0x%" PRIx64 " (len %u)%s",
			     bus, write ? "write" : "read", addr, len,
			     write ? "" : ", reads as all-ones");
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;

	/* data_offset/size/count come from KVM, not the guest; still keep inside the run page */
	if (run->io.data_offset + (uint64_t)run->io.size * run->io.count > (uint64_t)v->vm->run_size)
		return;
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (!bus_access(&v->vm->pio, run->io.port, data, run->io.size, write)) {
			log_unhandled("pio", run->io.port, run->io.size, write);
			if (!write)
				memset(data, 0xff, run->io.size);
		}
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned len = run->mmio.len > 8 ? 8 : run->mmio.len;

	if (!bus_access(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
			run->mmio.is_write)) {
		log_unhandled("mmio", run->mmio.phys_addr, len, run->mmio.is_write);
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, len);
	}
}

/* Linear address -> guest physical by walking the guest's own 4-level page tables. */
static bool gva_to_gpa(struct vcpu *v, const struct kvm_sregs *s, uint64_t gva, uint64_t *gpa)
{
	struct kvm_translation t = { .linear_address = gva };
	uint64_t table = s->cr3 & 0x000ffffffffff000ULL;

	if (ioctl(v->fd, KVM_TRANSLATE, &t) == 0 && t.valid) {
		*gpa = t.physical_address;
		return true;
	}
	if (!(s->cr0 & (1ULL << 31))) {
		*gpa = gva;
		return true;
	}
	if (!(s->efer & (1ULL << 10)))
		return false;   /* 32-bit paging: not needed by our guests' diagnostics */
	for (int level = 3; level >= 0; level--) {
		uint64_t *e = guest_ptr(&v->vm->mem, table + ((gva >> (12 + 9 * level)) & 511) * 8, 8);

		if (!e || !(*e & 1))
			return false;
		if (level == 0 || (level <= 2 && (*e & 0x80))) {
			uint64_t mask = (1ULL << (12 + 9 * level)) - 1;
			*gpa = (*e & 0x000ffffffffff000ULL & ~mask) | (gva & mask);
			return true;
		}
		table = *e & 0x000ffffffffff000ULL;
	}
	return false;
}

/* Copy up to max instruction bytes at CS:RIP; returns how many, or -1 when RIP is unmapped. */
static int read_insn(struct vcpu *v, const struct kvm_regs *r, const struct kvm_sregs *s,
		     uint8_t *buf, unsigned max, uint64_t *gpa)
{
	unsigned n = 0;

	if (!gva_to_gpa(v, s, s->cs.base + r->rip, gpa))
		return -1;
	for (; n < max; n++) {
		uint8_t *b = guest_ptr(&v->vm->mem, *gpa + n, 1);
		if (!b)
			break;
		buf[n] = *b;
	}
	return (int)n;
}

static void format_insn(struct vcpu *v, const struct kvm_regs *r, const struct kvm_sregs *s,
			char *out, size_t len)
{
	uint8_t insn[15];
	uint64_t gpa;
	int n = read_insn(v, r, s, insn, sizeof(insn), &gpa);
	size_t used = 0;

	out[0] = '\0';
	if (n < 0)
		snprintf(out, len, "(rip not mapped)");
	else if (n == 0)
		snprintf(out, len, "(rip outside guest RAM, gpa 0x%" PRIx64 ")", gpa);
	for (int i = 0; i < n && used + 4 < len; i++)
		used += snprintf(out + used, len - used, "%s%02x", i ? " " : "", insn[i]);
}

/* Copy between a guest linear range and buf, page by page (the range may cross pages). */
static bool guest_linear_rw(struct vcpu *v, const struct kvm_sregs *s, uint64_t gva,
			    uint8_t *buf, unsigned len, bool write)
{
	while (len) {
		unsigned chunk = 4096 - (unsigned)(gva & 4095);
		uint64_t gpa;
		uint8_t *p;

		if (chunk > len)
			chunk = len;
		if (!gva_to_gpa(v, s, gva, &gpa) || !(p = guest_ptr(&v->vm->mem, gpa, chunk)))
			return false;
		if (write)
			memcpy(p, buf, chunk);
		else
			memcpy(buf, p, chunk);
		gva += chunk;
		buf += chunk;
		len -= chunk;
	}
	return true;
}

/* fxsave/fxrstor/ldmxcsr/stmxcsr: move FPU/SSE state between KVM and the guest operand. */
static bool emulate_fpu_mem(struct vcpu *v, const struct emu_op *op, const struct kvm_regs *r,
			    const struct kvm_sregs *s)
{
	uint8_t img[EMU_FXSAVE_SIZE];
	uint64_t gva = emu_mem_addr(op, r);
	unsigned len = emu_mem_len(op);
	bool store = op->kind == EMU_FXSAVE || op->kind == EMU_STMXCSR;
	struct kvm_fpu fpu;

	if (ioctl(v->fd, KVM_GET_FPU, &fpu) < 0)
		return false;
	if (store) {
		if (op->kind == EMU_FXSAVE)
			emu_fxsave_image(&fpu, op->rex_w, img);
		else
			memcpy(img, &fpu.mxcsr, 4);
		return guest_linear_rw(v, s, gva, img, len, true);
	}
	if (!guest_linear_rw(v, s, gva, img, len, false))
		return false;
	if (op->kind == EMU_FXRSTOR)
		emu_fxrstor_image(img, op->rex_w, &fpu);
	else
		memcpy(&fpu.mxcsr, img, 4);
	return ioctl(v->fd, KVM_SET_FPU, &fpu) == 0;
}

/*
 * Some KVMs (PVM here) cannot emulate a few instructions in guest ring 0. Do those few
 * ourselves instead of killing the guest; anything else still ends the VM with a diagnosis.
 */
static bool emulate_fallback(struct vcpu *v)
{
	static _Atomic unsigned long counts[EMU_KIND_MAX];
	struct kvm_regs r;
	struct kvm_sregs s;
	struct emu_op op;
	uint8_t insn[15];
	uint64_t gpa;
	int n;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return false;
	n = read_insn(v, &r, &s, insn, sizeof(insn), &gpa);
	if (n <= 0 || !emu_decode(insn, (size_t)n, &op))
		return false;
	if (emu_mem_len(&op) && !emulate_fpu_mem(v, &op, &r, &s))
		return false;
	if (emu_apply(&op, &r)) {
		struct kvm_vcpu_events ev;

		if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
			return false;
		ev.exception.injected = 1;
		ev.exception.nr = 3;    /* #BP */
		ev.exception.has_error_code = 0;
		if (ioctl(v->fd, KVM_SET_REGS, &r) < 0 || ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
			return false;
	} else if (ioctl(v->fd, KVM_SET_REGS, &r) < 0) {
		return false;
	}
	if (atomic_fetch_add(&counts[op.kind], 1) == 0)
		log_info("vCPU %u: KVM could not emulate %s at rip 0x%llx; emulating it in the core "
			 "(logged once per instruction kind)", v->id, emu_name(op.kind), r.rip - op.len);
	return true;
}

/* End the VM because this vCPU cannot continue: one line for the user, a full dump in the log. */
PRINTF(2, 3) static void vcpu_fail(struct vcpu *v, const char *fmt, ...)
{
	struct kvm_regs r = { 0 };
	struct kvm_sregs s = { 0 };
	char what[128], insn[64], line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ioctl(v->fd, KVM_GET_REGS, &r);
	ioctl(v->fd, KVM_GET_SREGS, &s);
	format_insn(v, &r, &s, insn, sizeof(insn));
	snprintf(line, sizeof(line), "vCPU %u: %s at rip 0x%llx (cs 0x%x cpl %u), instruction bytes: %s",
		 v->id, what, r.rip, s.cs.selector, s.cs.dpl, insn);
	log_warnx("%s", line);
	log_warnx("vCPU %u: rax %016llx rbx %016llx rcx %016llx rdx %016llx", v->id, r.rax, r.rbx, r.rcx, r.rdx);
	log_warnx("vCPU %u: rsi %016llx rdi %016llx rbp %016llx rsp %016llx", v->id, r.rsi, r.rdi, r.rbp, r.rsp);
	log_warnx("vCPU %u: r8  %016llx r9  %016llx r10 %016llx r11 %016llx", v->id, r.r8, r.r9, r.r10, r.r11);
	log_warnx("vCPU %u: r12 %016llx r13 %016llx r14 %016llx r15 %016llx", v->id, r.r12, r.r13, r.r14, r.r15);
	log_warnx("vCPU %u: rflags %016llx cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %llx",
		  v->id, r.rflags, s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	vm_request_exit(v->vm, VM_EXIT_ERROR, line);
}

static bool internal_error(struct vcpu *v)
{
	static const char *const sub[] = {
		[KVM_INTERNAL_ERROR_EMULATION] = "emulation failure",
		[KVM_INTERNAL_ERROR_SIMUL_EX] = "simultaneous exceptions",
		[KVM_INTERNAL_ERROR_DELIVERY_EV] = "event delivery failed",
	};
	uint32_t s = v->run->internal.suberror;

	if (s == KVM_INTERNAL_ERROR_EMULATION && emulate_fallback(v))
		return true;
	vcpu_fail(v, "KVM_EXIT_INTERNAL_ERROR suberror %u (%s)", s,
		  s < ARRAY_SIZE(sub) && sub[s] ? sub[s] : "unknown");
	return false;
}

/* KVM_EXIT_SYSTEM_EVENT and KVM_EXIT_SHUTDOWN: the guest powering off or resetting
 * (vcpu_exit.c says which), or something this VMM does not expect. */
static void guest_end(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	enum vm_exit_reason why = vcpu_exit_guest_end(run->exit_reason, run->system_event.type);

	if (why == VM_EXIT_NONE) {
		vcpu_fail(v, "KVM_EXIT_SYSTEM_EVENT type %u", run->system_event.type);
		return;
	}
	/* no register dump: on AMD, KVM has already put the vCPU through INIT by now */
	if (run->exit_reason == KVM_EXIT_SHUTDOWN)
		log_info("vCPU %u: triple fault (KVM_EXIT_SHUTDOWN): a guest reset, as on a PC",
			 v->id);
	vm_request_exit(v->vm, why, NULL);
}

/* Returns false when this vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	v->exits++;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
	case KVM_EXIT_SHUTDOWN:
		guest_end(v);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		return internal_error(v);
	case KVM_EXIT_FAIL_ENTRY:
		vcpu_fail(v, "KVM_EXIT_FAIL_ENTRY (hardware reason 0x%llx)",
			  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	case KVM_EXIT_HLT:
		vcpu_fail(v, "KVM_EXIT_HLT (halt with the in-kernel irqchip should not exit)");
		return false;
	default:
		vcpu_fail(v, "unhandled KVM exit %u", run->exit_reason);
		return false;
	}
}

/* stop (QMP): wait here, outside KVM_RUN, until cont or the end of the VM. The flag is read
 * without the lock first so the common path costs one load per exit. */
static void park(struct vcpu *v)
{
	struct vm *vm = v->vm;

	if (!__atomic_load_n(&vm->pause, __ATOMIC_SEQ_CST))
		return;
	pthread_mutex_lock(&vm->run_lock);
	v->parked = true;
	pthread_cond_broadcast(&vm->run_cond);
	while (vm->pause && atomic_load(&vm->exit_reason) == VM_EXIT_NONE)
		pthread_cond_wait(&vm->run_cond, &vm->run_lock);
	v->parked = false;
	pthread_mutex_unlock(&vm->run_lock);
}

static void run_loop(struct vcpu *v)
{
	while (atomic_load(&v->vm->exit_reason) == VM_EXIT_NONE) {
		park(v);
		if (atomic_load(&v->vm->exit_reason) != VM_EXIT_NONE)
			break;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				continue;
			}
			log_warn("vCPU %u: KVM_RUN", v->id);
			vcpu_fail(v, "KVM_RUN failed");
			break;
		}
		if (!handle_exit(v))
			break;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	sigset_t set;

	atomic_store(&v->tid, (int)gettid());
	sem_post(&v->tid_ready);
	sigemptyset(&set);
	sigaddset(&set, SIG_VCPU_KICK);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (v->id == 0 && getenv("BULKHEAD_DEBUG"))
		log_debug("boot: first KVM_RUN %.3f ms after core start",
			  (mono_ns() - v->vm->t_start_ns) / 1e6);
	/* sandbox (issue 5): this thread stacks the narrower core-vcpu filter on its own */
	if (sandbox_thread_enter() == 0)
		run_loop(v);
	else
		vm_request_exit(v->vm, VM_EXIT_ERROR, "a vCPU thread could not load its filter");
	pthread_mutex_lock(&v->vm->run_lock);
	v->done = true;
	pthread_cond_broadcast(&v->vm->run_cond);
	pthread_mutex_unlock(&v->vm->run_lock);
	return NULL;
}

static int vcpu_init_lapic(struct vcpu *v)
{
	struct kvm_lapic_state l;
	uint32_t *lvt0 = (uint32_t *)&l.regs[0x350], *lvt1 = (uint32_t *)&l.regs[0x360];

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	/* LINT0 as ExtINT and LINT1 as NMI, the wiring the MP table and Linux expect */
	*lvt0 = (*lvt0 & ~0x700u) | (7u << 8);
	*lvt1 = (*lvt1 & ~0x700u) | (4u << 8);
	if (ioctl(v->fd, KVM_SET_LAPIC, &l) < 0)
		return -errno;
	return 0;
}

int vcpu_set_boot_state(struct vcpu *v, const struct kvm_regs *regs, const struct kvm_sregs *sregs)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	/*
	 * struct kvm_msrs ends in a flexible array: the union gives it room for one entry.
	 * A struct with the entry as a member after it would be a GNU extension (clang's
	 * -Wgnu-variable-sized-type-not-at-end).
	 */
	union {
		struct kvm_msrs hdr;
		uint8_t room[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} msrs = { .hdr.nmsrs = 1 };

	msrs.hdr.entries[0] = (struct kvm_msr_entry){ .index = MSR_IA32_MISC_ENABLE,
						      .data = MISC_ENABLE_FAST_STRING };
	if (ioctl(v->fd, KVM_SET_SREGS, sregs) < 0 || ioctl(v->fd, KVM_SET_REGS, regs) < 0 ||
	    ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	if (ioctl(v->fd, KVM_SET_MSRS, &msrs) != 1)
		log_debug("vCPU %u: IA32_MISC_ENABLE not set", v->id);
	return 0;
}

int vcpu_create(struct vm *vm, unsigned id)
{
	struct vcpu *v = &vm->vcpus[id];
	int r;

	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0)
		return -errno;
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return -errno;
	}
	cpuid_fixup(vm->cpuid, id, vm->ncpus);
	if (ioctl(v->fd, KVM_SET_CPUID2, vm->cpuid) < 0)
		return -errno;
	r = vcpu_init_lapic(v);
	if (r)
		return r;
	return 0;
}

static void kick_handler(int sig)
{
	(void)sig;
}

int vcpu_start(struct vcpu *v)
{
	static bool handler_set;
	int r;

	if (!handler_set) {
		struct sigaction sa = { .sa_handler = kick_handler };
		sigemptyset(&sa.sa_mask);
		sigaction(SIG_VCPU_KICK, &sa, NULL);
		handler_set = true;
	}
	sem_init(&v->tid_ready, 0, 0);
	r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (r)
		return -r;
	v->started = true;
	/* the thread records its id first thing; QMP's query-cpus may ask for it right after
	 * (a semaphore: futex is in the sandbox profile, sched_yield is not) */
	while (sem_wait(&v->tid_ready) < 0 && errno == EINTR)
		;
	return 0;
}

static void kick(struct vcpu *v)
{
	/* immediate_exit makes a KVM_RUN that has not yet entered the guest return at once;
	 * the signal interrupts one that has */
	v->run->immediate_exit = 1;
	pthread_kill(v->thread, SIG_VCPU_KICK);
}

void vcpu_kick_all(struct vm *vm)
{
	/* parked vCPUs look at exit_reason when woken */
	pthread_mutex_lock(&vm->run_lock);
	pthread_cond_broadcast(&vm->run_cond);
	pthread_mutex_unlock(&vm->run_lock);
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].started)
			kick(&vm->vcpus[i]);
}

void vcpu_join_all(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
}

static bool all_parked(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		const struct vcpu *v = &vm->vcpus[i];

		if (v->started && !v->parked && !v->done)
			return false;
	}
	return true;
}

void vcpu_pause_all(struct vm *vm)
{
	pthread_mutex_lock(&vm->run_lock);
	/* set before the kicks: a vCPU that sees immediate_exit then sees pause too */
	__atomic_store_n(&vm->pause, true, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->run_lock);
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].started)
			kick(&vm->vcpus[i]);
	/* the caller reports STOP only once no vCPU runs guest code any more */
	pthread_mutex_lock(&vm->run_lock);
	while (!all_parked(vm))
		pthread_cond_wait(&vm->run_cond, &vm->run_lock);
	pthread_mutex_unlock(&vm->run_lock);
}

void vcpu_resume_all(struct vm *vm)
{
	pthread_mutex_lock(&vm->run_lock);
	__atomic_store_n(&vm->pause, false, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&vm->run_cond);
	pthread_mutex_unlock(&vm->run_lock);
}

unsigned vcpu_info(struct vm *vm, struct qmp_cpu_info *out, unsigned max)
{
	unsigned n = vm->ncpus < max ? vm->ncpus : max;

	pthread_mutex_lock(&vm->run_lock);
	for (unsigned i = 0; i < n; i++) {
		const struct vcpu *v = &vm->vcpus[i];

		out[i] = (struct qmp_cpu_info){ .index = i, .thread_id = atomic_load(&v->tid),
						.halted = !v->started || v->parked || v->done };
	}
	pthread_mutex_unlock(&vm->run_lock);
	return n;
}
