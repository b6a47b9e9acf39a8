/* Probe library: serial output, a tiny printf, strings, check reporting, the ways to end the
 * VM and the trap handler that turns any exception into one line of output and a power-off.
 * Runs in ring 3 except probe_trap (ring 0), so nothing here may assume either ring.
 * Command-line words live in args.c. */
#include "probe.h"

static unsigned nok, nfail;

void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

/* The core's 8250 always reports THR empty, so there is no LSR polling: every port access
 * from ring 3 is a trip through the #GP handler in emulated ring 0 (see entry.S). */
static unsigned nline;   /* characters on the current line, for probe_trap */

static void putc_serial(char c)
{
	outb(PROBE_PORT_COM1, (uint8_t)c);
	nline = c == '\n' ? 0 : nline + 1;
}

static void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

static void put_num(uint64_t v, unsigned base, bool neg, unsigned width)
{
	char buf[24];
	int i = 0;

	do {
		buf[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while ((unsigned)i < width && i < (int)sizeof(buf) - 1)
		buf[i++] = '0';
	if (neg)
		putc_serial('-');
	while (i)
		putc_serial(buf[--i]);
}

static void put_arg(char conv, int lng, va_list *ap, unsigned width)
{
	int64_t sv;
	uint64_t uv;

	switch (conv) {
	case 'd':
		sv = lng ? va_arg(*ap, int64_t) : va_arg(*ap, int);
		put_num(sv < 0 ? -(uint64_t)sv : (uint64_t)sv, 10, sv < 0, width);
		return;
	case 'u':
	case 'x':
		uv = lng ? va_arg(*ap, uint64_t) : va_arg(*ap, unsigned);
		put_num(uv, conv == 'x' ? 16 : 10, false, width);
		return;
	case 's': {
		const char *s = va_arg(*ap, const char *);
		puts_serial(s ? s : "(null)");
		return;
	}
	case 'c':
		putc_serial((char)va_arg(*ap, int));
		return;
	default:
		putc_serial('%');
		putc_serial(conv);
	}
}

void vpr(const char *fmt, va_list ap)
{
	va_list aq;

	va_copy(aq, ap);
	for (; *fmt; fmt++) {
		unsigned width = 0;
		int lng = 0;

		if (*fmt != '%') {
			putc_serial(*fmt);
			continue;
		}
		fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned)(*fmt++ - '0');
		while (*fmt == 'l')
			lng++, fmt++;
		if (!*fmt)
			break;
		if (*fmt == '%')
			putc_serial('%');
		else
			put_arg(*fmt, lng, &aq, width);
	}
	va_end(aq);
}

void pr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpr(fmt, ap);
	va_end(ap);
}

void check_ok(const char *what, const char *fmt, ...)
{
	va_list ap;

	nok++;
	pr("PROBE OK %s", what);
	if (fmt && *fmt) {
		pr(" ");
		va_start(ap, fmt);
		vpr(fmt, ap);
		va_end(ap);
	}
	pr("\n");
}

void check_fail(const char *what, const char *fmt, ...)
{
	va_list ap;

	nfail++;
	pr("PROBE FAIL %s: ", what);
	va_start(ap, fmt);
	vpr(fmt, ap);
	va_end(ap);
	pr("\n");
}

unsigned probe_nok(void)
{
	return nok;
}

unsigned probe_nfail(void)
{
	return nfail;
}

void probe_delay_cycles(uint64_t cycles)
{
	uint64_t t0 = rdtsc();

	while (rdtsc() - t0 < cycles)
		cpu_relax();
}

/* RTC register 0 (seconds, BCD as the core's RTC reports it; the value only has to change
 * once a second, so the encoding does not matter) */
static uint8_t rtc_seconds(void)
{
	outb(PROBE_PORT_RTC, 0x00);
	return inb(PROBE_PORT_RTC + 1);
}

void probe_clock_start(struct probe_clock *c)
{
	c->last = rtc_seconds();
	c->secs = 0;
}

uint64_t probe_clock_poll(struct probe_clock *c)
{
	uint8_t now = rtc_seconds();

	if (now != c->last) {
		c->last = now;
		c->secs++;
	}
	return c->secs;
}

/* ~1 s at any plausible TSC rate; long enough for the core to act on a PIO exit */
#define END_GRACE_CYCLES 3000000000ULL

static void __attribute__((noreturn)) still_alive(const char *how)
{
	probe_delay_cycles(END_GRACE_CYCLES);
	pr("PROBE FAIL end: %s did not stop the VM\n", how);
	for (;;)
		cpu_relax();
}

void probe_poweroff(void)
{
	/* SLP_TYP = 5 (the DSDT's \_S5), SLP_EN */
	outb(PROBE_PORT_ACPI_PM, (5 << 2) | (1 << 5));
	still_alive("ACPI power-off");
}

void probe_reset_i8042(void)
{
	outb(PROBE_PORT_I8042, 0xfe);
	still_alive("i8042 reset");
}

void probe_reset_acpi(void)
{
	outb(PROBE_PORT_ACPI_PM + 2, 0x01);
	still_alive("ACPI reset");
}

/* Stack frame built by the stubs and trap_common in entry.S */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

void probe_trap(const struct trap_frame *f, uint64_t cr2);

/* Ring 0 only: with an IDT of limit 0 no exception can be delivered, so the ud2 escalates
 * #UD -> #GP -> #DF -> shutdown, a triple fault (Linux's reboot=t loads an empty IDT too). */
static void __attribute__((noreturn)) triple_fault(void)
{
	static const struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) no_idt = { 0, 0 };

	pr("PROBE INFO triple fault: empty IDT, ud2 in ring 0\n");
	__asm__ volatile("lidt %0\n\tud2" : : "m"(no_idt) : "memory");
	__builtin_unreachable();
}

/* Ring 0, interrupts off: one line naming the vector, then end the VM (fault.kind=triple:
 * by triple-faulting, which the core must treat as a reset). */
void probe_trap(const struct trap_frame *f, uint64_t cr2)
{
	if (nline)
		pr("\n");   /* the trap may have hit in the middle of a line */
	pr("PROBE TRAP vector=%lu error=0x%lx rip=0x%lx cs=0x%lx rsp=0x%lx rflags=0x%lx cr2=0x%lx\n",
	   f->vector, f->error, f->rip, f->cs, f->rsp, f->rflags, cr2);
	if (probe_arg_is("fault.kind", "triple"))
		triple_fault();
	probe_poweroff();
}
