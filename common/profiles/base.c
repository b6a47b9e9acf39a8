/* Sandbox profile: what every bulkhead process needs from libc and the kernel whatever it
 * does (memory, exit, signals, time, logging). Each kind's profile adds its own work. */
#include <fcntl.h>
#include <sys/mman.h>

#include "sandbox.h"

static const struct sandbox_rule rules[] = {
	SB_ALLOW(exit_group, "main() returning, fatal(): the process ends"),
	SB_ALLOW(restart_syscall, "the kernel resuming a call a signal interrupted"),
	SB_ALLOW(rt_sigreturn, "return from any signal handler (libevent's, the vCPU kick)"),
	SB_ALLOW(rt_sigprocmask, "glibc masks signals around pthread and raise internals"),
	SB_ALLOW(brk, "malloc: the main heap grows and shrinks"),
	SB_ALLOW1(mmap, SB_ARG_NOT(2, PROT_EXEC),
		  "malloc of large blocks, glibc thread arenas; never executable"),
	SB_ALLOW1(mprotect, SB_ARG_NOT(2, PROT_EXEC),
		  "glibc arena growth (PROT_NONE -> RW); never executable"),
	SB_ALLOW(munmap, "free of large blocks; unmapping guest RAM on detach"),
	SB_ALLOW1(madvise, SB_ARG_EQ(2, MADV_DONTNEED),
		  "glibc free and thread exit give pages back; not MADV_REMOVE, which would "
		  "punch holes in guest RAM"),
	SB_ALLOW(futex, "pthread mutexes (log, transport lock) and glibc internals"),
	SB_ALLOW(write, "log.c log lines on stderr; eventfd signals; the SIGSYS report"),
	SB_ALLOW(close, "dropping fds a peer sent or a detached backend held"),
	SB_ALLOW(getpid, "glibc raise()/pthread_kill(); log prefixes"),
	SB_ALLOW(gettid, "glibc pthread_kill() and abort paths"),
	SB_ALLOW(clock_gettime, "log.c ratelimit_ok, control.c event timestamps, dev-blk io.c "
		 "token bucket, libevent's monotonic clock: the syscall the vDSO falls back to "
		 "(clocksource not vDSO-capable), the only way with vdso=0"),
	SB_ALLOW(fstat, "fstat() on a received fd (older glibc entry point)"),
	SB_ALLOW1(newfstatat, SB_ARG_HAS(3, AT_EMPTY_PATH),
		  "fstat() in glibc 2.36 is newfstatat(fd, \"\", AT_EMPTY_PATH): vu_backend.c and "
		  "vu_frontend.c check the memfds they receive"),
	SB_ALLOW(getrandom, "glibc malloc seeds its tcache on first use"),
#ifdef __SANITIZE_ADDRESS__
	/* only in -Db_sanitize=address builds: what the sanitizer runtime itself calls */
	SB_ALLOW(sched_getaffinity, "sanitizer runtime: CPU count when a thread starts"),
	SB_ALLOW(sigaltstack, "sanitizer runtime: its own signal stack per thread"),
	SB_ALLOW1(madvise, SB_ARG_EQ(2, MADV_NOHUGEPAGE), "sanitizer runtime: shadow memory"),
	SB_ALLOW1(madvise, SB_ARG_EQ(2, MADV_DONTDUMP), "sanitizer runtime: shadow memory"),
#endif
};

const struct sandbox_profile sandbox_profile_base = {
	.name = "base",
	.what = "every process: memory, exit, signals, time, logging",
	.rules = rules,
	.nrules = sizeof(rules) / sizeof(rules[0]),
};
