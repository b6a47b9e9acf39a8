/* Probe library: what the freestanding guest probes share — serial output with a small printf,
 * string and command-line helpers, port I/O, check reporting and the ways to end the VM. */
#ifndef PROBE_H
#define PROBE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe-layout.h"

/* struct boot_params offsets (Linux Documentation/arch/x86/zero-page.rst) */
#define BP_ACPI_RSDP_ADDR   0x070
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES     0x1e8
#define BP_CMD_LINE_PTR     0x228
#define BP_E820_TABLE       0x2d0
#define BP_E820_MAX         128

#define PROBE_PORT_COM1     0x3f8
#define PROBE_PORT_I8042    0x64
#define PROBE_PORT_I8042_DATA 0x60
#define PROBE_PORT_RTC      0x70
#define PROBE_PORT_ACPI_PM  0x600
#define PROBE_LAPIC         0xfee00000UL

/* In ring 3 these fault (#GP) and entry.S performs them; the same code works in ring 0. */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "d"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "d"(port) : "memory");
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* Guest-physical memory is identity mapped, so a physical address is a pointer. */
static inline const void *phys(uint64_t pa)
{
	return (const void *)(uintptr_t)pa;
}

/* lib.c: strings (the compiler may also emit calls to memcpy/memset itself) */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);

/* Output: %s %c %d %u %x %ld %lu %lx %% (with l/ll); no width except %0Nx */
void pr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vpr(const char *fmt, va_list ap);

/* Check reporting: "PROBE OK <what>[ <details>]" / "PROBE FAIL <what>: <details>" */
void check_ok(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void check_fail(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
unsigned probe_nok(void);
unsigned probe_nfail(void);

/* Command line "key=value" words. probe_arg returns the value and its length, or NULL. */
void probe_set_cmdline(const char *cl);
const char *probe_arg(const char *key, size_t *len);
/* The nth (from 0) word with this key, for keys that repeat (virtio_mmio.device=). */
const char *probe_arg_nth(const char *key, unsigned nth, size_t *len);
bool probe_arg_is(const char *key, const char *value);
/* Decimal or 0x hex with an optional K/M/G suffix; returns false when absent or malformed. */
bool probe_arg_u64(const char *key, uint64_t *out);
/* Parse a number as above from the front of v[0..len); returns the characters used (0: none). */
size_t probe_parse_u64(const char *v, size_t len, uint64_t *out);

/* Ending the VM: each spins briefly afterwards and reports a failure if the VM is still alive. */
void probe_poweroff(void) __attribute__((noreturn));
void probe_reset_i8042(void) __attribute__((noreturn));
void probe_reset_acpi(void) __attribute__((noreturn));
void probe_delay_cycles(uint64_t cycles);

/* checks.c */
void check_cmdline(const uint8_t *bp);
void check_e820(const uint8_t *bp);
void check_acpi(const uint8_t *bp, uint64_t cpus);
void check_mptable(const uint8_t *bp, uint64_t cpus);
uint64_t acpi_dsdt_addr(const uint8_t *bp);
/* smp.c */
void check_smp(uint64_t cpus);
/* blk.c: probe=blk */
void run_blk(const uint8_t *bp);
/* Every check of probe=blk on the virtio-blk device at base (virtio_init first) */
void blk_check_device(uint64_t base);
/* wait.c: probe=wait (a guest that stays alive for QMP tests); hotplug.c: probe=hotplug */
void run_wait(void);
void run_hotplug(const uint8_t *bp);

/* Elapsed wall-clock seconds from the CMOS RTC (lib.c): the TSC rate is unknown here and a
 * paused VM should not use up a wait budget. probe_clock_poll must run at least once a
 * second; it returns the seconds elapsed since probe_clock_start. */
struct probe_clock {
	uint8_t last;
	uint64_t secs;
};
void probe_clock_start(struct probe_clock *c);
uint64_t probe_clock_poll(struct probe_clock *c);

#endif
