/*
 * CMOS/RTC (MC146818) at 0x70 (index, bit 7 = NMI disable) and 0x71 (data). The date and
 * time come from r->now() at each read, in BCD with a 24-hour clock, so the guest's
 * wall clock starts right without the device running a timer. The memory-size bytes are
 * filled the way QEMU does, for firmware and tools that read them.
 *
 * Accesses wider than one byte act on the byte at the accessed offset only (an outw to
 * 0x70 sets the index and does not touch 0x71); other bytes of a read are zero.
 */
#include "devices.h"

#include <string.h>
#include <time.h>
#include "layout.h"

#define REG_SEC      0x00
#define REG_MIN      0x02
#define REG_HOUR     0x04
#define REG_WDAY     0x06
#define REG_MDAY     0x07
#define REG_MONTH    0x08
#define REG_YEAR     0x09
#define REG_A        0x0a
#define REG_B        0x0b
#define REG_C        0x0c
#define REG_D        0x0d
#define REG_CENTURY  0x32

#define REG_A_VALUE  0x26	/* 32.768 kHz time base, 1024 Hz rate; UIP (bit 7) never set */
#define REG_B_VALUE  0x02	/* 24-hour mode, BCD, no interrupts */
#define REG_D_VALUE  0x80	/* VRT: RAM and time are valid */

static int64_t host_now(void)
{
	return (int64_t)time(NULL);
}

static uint8_t bcd(unsigned v)
{
	return (uint8_t)(((v / 10 % 10) << 4) | (v % 10));
}

/* Broken-down UTC time, or the epoch if the clock source gives something gmtime rejects. */
static void now_tm(const struct rtc *r, struct tm *tm)
{
	time_t t = (time_t)(r->now ? r->now() : host_now());

	if (!gmtime_r(&t, tm) || tm->tm_year < -1900 || tm->tm_year > 9999 - 1900) {
		t = 0;
		gmtime_r(&t, tm);
	}
}

/* Clock and control registers: computed at read time, writes dropped. */
static bool is_computed(uint8_t idx)
{
	switch (idx) {
	case REG_SEC: case REG_MIN: case REG_HOUR: case REG_WDAY:
	case REG_MDAY: case REG_MONTH: case REG_YEAR: case REG_CENTURY:
	case REG_A: case REG_B: case REG_C: case REG_D:
		return true;
	default:
		return false;
	}
}

static uint8_t computed_value(const struct rtc *r, uint8_t idx)
{
	struct tm tm;
	unsigned year;

	switch (idx) {
	case REG_A: return REG_A_VALUE;
	case REG_B: return REG_B_VALUE;
	case REG_C: return 0;	/* no interrupt flags: the RTC raises no interrupts */
	case REG_D: return REG_D_VALUE;
	}
	now_tm(r, &tm);
	year = (unsigned)(tm.tm_year + 1900);
	switch (idx) {
	case REG_SEC: return bcd((unsigned)tm.tm_sec);
	case REG_MIN: return bcd((unsigned)tm.tm_min);
	case REG_HOUR: return bcd((unsigned)tm.tm_hour);
	case REG_WDAY: return bcd((unsigned)tm.tm_wday + 1);	/* Sunday = 1 */
	case REG_MDAY: return bcd((unsigned)tm.tm_mday);
	case REG_MONTH: return bcd((unsigned)tm.tm_mon + 1);
	case REG_YEAR: return bcd(year % 100);
	default: return bcd(year / 100);	/* REG_CENTURY */
	}
}

static uint8_t rtc_read(void *opaque, uint64_t offset)
{
	struct rtc *r = opaque;
	uint8_t v;

	if (offset != 1)
		return 0xff;	/* the index register is write-only */
	pthread_mutex_lock(&r->lock);
	v = is_computed(r->index) ? computed_value(r, r->index) : r->regs[r->index];
	pthread_mutex_unlock(&r->lock);
	return v;
}

static void rtc_write(void *opaque, uint64_t offset, uint8_t v)
{
	struct rtc *r = opaque;

	pthread_mutex_lock(&r->lock);
	if (offset == 0) {
		r->nmi_disabled = v & 0x80;
		r->index = v & 0x7f;
	} else if (offset == 1 && !is_computed(r->index)) {
		r->regs[r->index] = v;
	}
	/*
	 * Writes to the clock and control registers are dropped: the clock always follows the
	 * host, so a guest setting the time (hwclock --systohc) changes nothing, and register B
	 * stays 24h/BCD so what we return keeps matching the format the guest believes in.
	 */
	pthread_mutex_unlock(&r->lock);
}

const struct bus_dev_ops rtc_ops = {
	.read8 = rtc_read,
	.write8 = rtc_write,
};

static void set16(struct rtc *r, uint8_t idx, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	r->regs[idx] = (uint8_t)v;
	r->regs[idx + 1] = (uint8_t)(v >> 8);
}

/* Memory size bytes as QEMU's pc_cmos_init fills them (SeaBIOS reads 0x34/0x35, 0x5b-0x5d). */
static void set_memory_size(struct rtc *r, uint64_t ram_size)
{
	uint64_t low = ram_size < LAYOUT_MMIO_HOLE ? ram_size : LAYOUT_MMIO_HOLE;
	uint64_t high = ram_size - low;
	uint64_t ext_kib = ram_size > MiB ? (ram_size - MiB) / KiB : 0;
	uint64_t high64k;

	set16(r, 0x15, 640);			/* base memory, KiB */
	set16(r, 0x17, ext_kib);		/* extended memory above 1 MiB, KiB */
	set16(r, 0x30, ext_kib);
	set16(r, 0x34, low > 16 * MiB ? (low - 16 * MiB) / (64 * KiB) : 0);
	high64k = high / (64 * KiB);
	if (high64k > 0xffffff)
		high64k = 0xffffff;
	r->regs[0x5b] = (uint8_t)high64k;
	r->regs[0x5c] = (uint8_t)(high64k >> 8);
	r->regs[0x5d] = (uint8_t)(high64k >> 16);
}

void rtc_init(struct rtc *r, uint64_t ram_size)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->now = host_now;
	set_memory_size(r, ram_size);
}
