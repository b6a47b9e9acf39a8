/* Unit tests for the legacy devices of the core (serial, i8042, CMOS/RTC, ACPI PM port),
 * driven through their bus ops the way vCPU threads drive them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "devices.h"
#include "layout.h"
#include "util.h"

/* ---- recorders ---- */

#define MAX_EVENTS 64
struct irq_rec {
	unsigned n;
	unsigned gsi[MAX_EVENTS];
	int level[MAX_EVENTS];
};

static void rec_set_level(void *opaque, unsigned gsi, int level)
{
	struct irq_rec *r = opaque;

	if (r->n < MAX_EVENTS) {
		r->gsi[r->n] = gsi;
		r->level[r->n] = level;
	}
	r->n++;
}

struct ctl_rec {
	unsigned n;
	enum vm_exit_reason last;
};

static void rec_exit(void *opaque, enum vm_exit_reason why)
{
	struct ctl_rec *c = opaque;

	c->n++;
	c->last = why;
}

static uint8_t rd(const struct bus_dev_ops *ops, void *dev, uint64_t off)
{
	uint8_t v = 0xcc;

	bus_dev_access(ops, dev, off, &v, 1, false);
	return v;
}

static void wr(const struct bus_dev_ops *ops, void *dev, uint64_t off, uint8_t v)
{
	bus_dev_access(ops, dev, off, &v, 1, true);
}

/* ---- serial ---- */

static struct serial ser;
static struct irq_rec irqs;
static int pfd[2];

static void serial_setup(void)
{
	memset(&irqs, 0, sizeof(irqs));
	cr_assert_eq(pipe(pfd), 0);
	cr_assert_eq(fcntl(pfd[0], F_SETFL, O_NONBLOCK), 0);
	serial_init(&ser, pfd[1], (struct irq_sink){ rec_set_level, &irqs }, IRQ_COM1);
}

static void serial_teardown(void)
{
	serial_exit(&ser);
	close(pfd[0]);
	close(pfd[1]);
}

static ssize_t drain_pipe(char *buf, size_t len)
{
	ssize_t n = read(pfd[0], buf, len);

	if (n < 0) {
		cr_assert_eq(errno, EAGAIN);
		return 0;
	}
	return n;
}

#define SR(off) rd(&serial_ops, &ser, (off))
#define SW(off, v) wr(&serial_ops, &ser, (off), (v))

TestSuite(serial, .init = serial_setup, .fini = serial_teardown);

Test(serial, output_reaches_fd)
{
	char buf[16];

	SW(0, 'h');
	SW(0, 'i');
	SW(0, '\n');
	cr_assert_eq(drain_pipe(buf, sizeof(buf)), 3);
	cr_assert_eq(memcmp(buf, "hi\n", 3), 0);
	/* no interrupt was enabled, so none was raised */
	cr_assert_eq(irqs.n, 0);
}

Test(serial, output_dropped_without_fd)
{
	char buf[4];

	ser.out_fd = -1;
	SW(0, 'x');
	cr_assert_eq(drain_pipe(buf, sizeof(buf)), 0);
	cr_assert_eq(SR(5) & 0x60, 0x60);
}

Test(serial, dlab_switches_to_divisor_latch)
{
	char buf[4];

	SW(1, 0x05);                    /* IER */
	SW(3, 0x83);                    /* DLAB + 8N1 */
	SW(0, 0x01);                    /* DLL, not THR */
	SW(1, 0x02);                    /* DLM, not IER */
	cr_assert_eq(SR(0), 0x01);
	cr_assert_eq(SR(1), 0x02);
	cr_assert_eq(SR(3), 0x83);
	cr_assert_eq(drain_pipe(buf, sizeof(buf)), 0, "DLL write must not transmit");
	SW(3, 0x03);
	cr_assert_eq(SR(1), 0x05, "IER is back once DLAB is clear");
	SW(3, 0x80);
	cr_assert_eq(SR(0), 0x01, "divisor survives");
	cr_assert_eq(SR(1), 0x02);
}

Test(serial, lsr_and_scratch)
{
	uint8_t b = 'q';

	cr_assert_eq(SR(5), 0x60, "THRE|TEMT, no data");
	cr_assert_eq(serial_receive(&ser, &b, 1), 1);
	cr_assert_eq(SR(5), 0x61, "DR with data");
	cr_assert_eq(SR(0), 'q');
	cr_assert_eq(SR(5), 0x60);
	SW(7, 0xa5);
	cr_assert_eq(SR(7), 0xa5);
	SW(7, 0x5a);
	cr_assert_eq(SR(7), 0x5a);
}

Test(serial, loopback_like_linux_autoconfig)
{
	char buf[4];

	SW(4, 0x10 | 0x0a);             /* LOOP | RTS | OUT2 */
	cr_assert_eq(SR(6) & 0xf0, 0x90, "DCD|CTS");
	SW(4, 0x1f);
	cr_assert_eq(SR(6) & 0xf0, 0xf0);
	SW(4, 0x10);
	cr_assert_eq(SR(6) & 0xf0, 0x00);
	SW(0, 0x5a);
	cr_assert_eq(drain_pipe(buf, sizeof(buf)), 0, "loopback bytes stay inside");
	cr_assert_eq(SR(5) & 0x01, 0x01);
	cr_assert_eq(SR(0), 0x5a);
	cr_assert_eq(SR(5) & 0x01, 0x00);
	SW(4, 0x0b);                    /* loopback off: MSR shows the line again */
	cr_assert_eq(SR(6) & 0xf0, 0xb0);
	SW(0, 'z');
	cr_assert_eq(drain_pipe(buf, sizeof(buf)), 1);
	cr_assert_eq(buf[0], 'z');
}

Test(serial, fifo_bits_in_iir)
{
	cr_assert_eq(SR(2), 0x01);
	SW(2, 0x01);
	cr_assert_eq(SR(2), 0xc1);
	SW(2, 0x00);
	cr_assert_eq(SR(2), 0x01);
	SW(2, 0xc7);                    /* enable + clear both + trigger 14 */
	cr_assert_eq(SR(2), 0xc1);
}

Test(serial, rx_interrupt_raise_and_lower)
{
	const uint8_t in[] = "abc";

	SW(2, 0x01);
	SW(1, 0x01);                    /* RDI */
	cr_assert_eq(irqs.n, 0);
	cr_assert_eq(serial_receive(&ser, in, 3), 3);
	cr_assert_eq(irqs.n, 1);
	cr_assert_eq(irqs.gsi[0], IRQ_COM1);
	cr_assert_eq(irqs.level[0], 1);
	cr_assert_eq(SR(2), 0xc4);
	cr_assert_eq(SR(0), 'a');
	cr_assert_eq(SR(0), 'b');
	cr_assert_eq(irqs.n, 1, "still data: no change of level");
	cr_assert_eq(SR(0), 'c');
	cr_assert_eq(irqs.n, 2);
	cr_assert_eq(irqs.level[1], 0);
	cr_assert_eq(SR(2), 0xc1);
	cr_assert_eq(SR(0), 0, "empty RBR reads 0");
	cr_assert_eq(irqs.n, 2);
}

Test(serial, rx_interrupt_follows_ier)
{
	const uint8_t in = 'k';

	cr_assert_eq(serial_receive(&ser, &in, 1), 1);
	cr_assert_eq(irqs.n, 0, "IER clear: no interrupt");
	SW(1, 0x01);
	cr_assert_eq(irqs.n, 1);
	cr_assert_eq(irqs.level[0], 1);
	SW(1, 0x00);
	cr_assert_eq(irqs.n, 2);
	cr_assert_eq(irqs.level[1], 0);
}

Test(serial, rx_fifo_capacity_and_order)
{
	uint8_t in[100], more[10];

	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	cr_assert_eq(serial_rx_room(&ser), SERIAL_RX_FIFO);
	cr_assert_eq(serial_receive(&ser, in, sizeof(in)), SERIAL_RX_FIFO);
	cr_assert_eq(serial_rx_room(&ser), 0);
	cr_assert_eq(serial_receive(&ser, in, 1), 0);
	for (unsigned i = 0; i < 10; i++)
		cr_assert_eq(SR(0), i);
	cr_assert_eq(serial_rx_room(&ser), 10);
	for (unsigned i = 0; i < sizeof(more); i++)
		more[i] = (uint8_t)(200 + i);
	cr_assert_eq(serial_receive(&ser, more, sizeof(more)), 10);
	for (unsigned i = 10; i < SERIAL_RX_FIFO; i++)
		cr_assert_eq(SR(0), i);
	for (unsigned i = 0; i < sizeof(more); i++)
		cr_assert_eq(SR(0), 200 + i, "order across the ring wrap");
	cr_assert_eq(SR(5) & 0x01, 0);
	cr_assert_eq(serial_rx_room(&ser), SERIAL_RX_FIFO);
	cr_assert_eq(serial_receive(&ser, in, 0), 0);
}

Test(serial, fcr_clears_rx)
{
	uint8_t in[5] = "hello";

	SW(1, 0x01);
	serial_receive(&ser, in, sizeof(in));
	cr_assert_eq(irqs.n, 1);
	SW(2, 0x03);
	cr_assert_eq(SR(5) & 0x01, 0);
	cr_assert_eq(irqs.n, 2);
	cr_assert_eq(irqs.level[1], 0);
	cr_assert_eq(serial_rx_room(&ser), SERIAL_RX_FIFO);
}

Test(serial, thre_interrupt_set_and_cleared_by_iir)
{
	SW(1, 0x02);                    /* THRI: THR is empty, so pending at once */
	cr_assert_eq(irqs.n, 1);
	cr_assert_eq(irqs.level[0], 1);
	cr_assert_eq(SR(2), 0x02);
	cr_assert_eq(irqs.n, 2, "IIR read acknowledges THRE");
	cr_assert_eq(irqs.level[1], 0);
	cr_assert_eq(SR(2), 0x01);
	SW(0, 'a');                     /* transmit: THR empty again */
	cr_assert_eq(irqs.n, 3);
	cr_assert_eq(irqs.level[2], 1);
	SW(0, 'b');
	cr_assert_eq(irqs.n, 3, "level unchanged: no second raise");
	cr_assert_eq(SR(2), 0x02);
	cr_assert_eq(irqs.n, 4);
	cr_assert_eq(irqs.level[3], 0);
}

Test(serial, thre_retriggers_on_ier_toggle)
{
	/* Linux serial8250_do_startup's UART_BUG_THRE test */
	SW(1, 0x02);
	cr_assert_eq(SR(2) & 0x0f, 0x02);
	SW(1, 0x00);
	SW(1, 0x02);
	cr_assert_eq(SR(2) & 0x0f, 0x02);
	SW(1, 0x00);
	cr_assert_eq(SR(2) & 0x0f, 0x01);
	cr_assert_eq(irqs.level[irqs.n - 1], 0);
}

Test(serial, rx_has_priority_over_thre)
{
	const uint8_t in = 'r';

	SW(1, 0x03);
	cr_assert_eq(serial_receive(&ser, &in, 1), 1);
	cr_assert_eq(SR(2), 0x04);
	cr_assert_eq(SR(2), 0x04, "IIR read does not ack a THRE it did not report");
	cr_assert_eq(SR(0), 'r');
	cr_assert_eq(SR(2), 0x02, "THRE still pending underneath");
	cr_assert_eq(SR(2), 0x01);
	cr_assert_eq(irqs.n, 2, "one raise, one lower");
	cr_assert_eq(irqs.level[0], 1);
	cr_assert_eq(irqs.level[1], 0);
}

Test(serial, odd_lengths_and_offsets)
{
	static const uint64_t offs[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 255, UINT64_MAX };
	static const unsigned lens[] = { 0, 1, 2, 3, 4, 8 };
	uint8_t buf[8];

	for (unsigned i = 0; i < ARRAY_SIZE(offs); i++) {
		for (unsigned j = 0; j < ARRAY_SIZE(lens); j++) {
			memset(buf, 0x41, sizeof(buf));
			bus_dev_access(&serial_ops, &ser, offs[i], buf, lens[j], true);
			bus_dev_access(&serial_ops, &ser, offs[i], buf, lens[j], false);
		}
	}
	/* a wide read gives the register in byte 0 and zeros after it */
	SW(4, 0);
	SW(3, 0);
	memset(buf, 0xee, sizeof(buf));
	bus_dev_access(&serial_ops, &ser, 5, buf, 4, false);
	cr_assert_eq(buf[0] & 0x60, 0x60);
	cr_assert_eq(buf[1], 0);
	cr_assert_eq(buf[3], 0);
	cr_assert_eq(buf[4], 0xee, "nothing past len");
	/* a wide write stores only its first byte */
	bus_dev_access(&serial_ops, &ser, 7, (uint8_t[4]){ 0x11, 0x22, 0x33, 0x44 }, 4, true);
	cr_assert_eq(SR(7), 0x11);
}

/* ---- i8042 ---- */

static struct i8042 kbc;
static struct ctl_rec ctl;

static void i8042_setup(void)
{
	memset(&ctl, 0, sizeof(ctl));
	i8042_init(&kbc, (struct vm_ctl){ rec_exit, &ctl });
}

#define KST() rd(&i8042_cmd_ops, &kbc, 0)
#define KCMD(v) wr(&i8042_cmd_ops, &kbc, 0, (v))
#define KRD() rd(&i8042_data_ops, &kbc, 0)
#define KWR(v) wr(&i8042_data_ops, &kbc, 0, (v))

TestSuite(i8042, .init = i8042_setup);

Test(i8042, self_test)
{
	cr_assert_eq(KST() & 0x01, 0, "output buffer empty at start");
	KCMD(0xaa);
	cr_assert_eq(KST() & 0x01, 0x01);
	cr_assert_eq(KST() & 0x04, 0x04, "system flag");
	cr_assert_eq(KST() & 0x08, 0x08, "last write was a command");
	cr_assert_eq(KRD(), 0x55);
	cr_assert_eq(KST() & 0x01, 0);
	cr_assert_eq(ctl.n, 0);
}

Test(i8042, pulse_reset_requests_reset)
{
	KCMD(0xfe);
	cr_assert_eq(ctl.n, 1);
	cr_assert_eq(ctl.last, VM_EXIT_RESET);
}

Test(i8042, pulse_without_reset_bit_does_nothing)
{
	KCMD(0xff);
	KCMD(0xfd);
	cr_assert_eq(ctl.n, 0);
}

Test(i8042, output_port_reset_bit)
{
	KCMD(0xd0);
	cr_assert_eq(KRD(), 0x03, "reset line high, A20 on");
	KCMD(0xd1);
	KWR(0x03);
	cr_assert_eq(ctl.n, 0);
	KCMD(0xd1);
	KWR(0x02);                      /* bit 0 clear: reset */
	cr_assert_eq(ctl.n, 1);
	cr_assert_eq(ctl.last, VM_EXIT_RESET);
}

Test(i8042, command_byte_round_trip)
{
	KCMD(0x60);
	KWR(0x5a);
	cr_assert_eq(KST() & 0x08, 0, "last write was data");
	cr_assert_eq(KST() & 0x01, 0, "writing the command byte answers nothing");
	KCMD(0x20);
	cr_assert_eq(KRD(), 0x5a);
	KCMD(0x60);
	KWR(0x00);
	cr_assert_eq(KST() & 0x04, 0, "system flag follows command byte bit 2");
	KCMD(0x20);
	cr_assert_eq(KRD(), 0x00);
}

Test(i8042, port_enable_disable_bits)
{
	KCMD(0x60);
	KWR(0x00);
	KCMD(0xad);
	KCMD(0xa7);
	KCMD(0x20);
	cr_assert_eq(KRD(), 0x30);
	KCMD(0xae);
	KCMD(0x20);
	cr_assert_eq(KRD(), 0x20);
	KCMD(0xa8);
	KCMD(0x20);
	cr_assert_eq(KRD(), 0x00);
}

Test(i8042, interface_tests)
{
	KCMD(0xab);
	cr_assert_eq(KRD(), 0x00);
	KCMD(0xa9);
	cr_assert_eq(KST() & 0x01, 0x01);
	cr_assert_eq(KRD(), 0x00);
}

Test(i8042, keyboard_commands_acked)
{
	KWR(0xff);
	cr_assert_eq(KRD(), 0xfa);
	cr_assert_eq(KST() & 0x01, 0x01);
	cr_assert_eq(KRD(), 0xaa);
	cr_assert_eq(KST() & 0x01, 0);
	KWR(0xf4);
	cr_assert_eq(KRD(), 0xfa);
	KWR(0xed);
	KWR(0x07);
	cr_assert_eq(KRD(), 0xfa);
	cr_assert_eq(KRD(), 0xfa);
	cr_assert_eq(KST() & 0x01, 0);
	cr_assert_eq(KRD(), 0xfa, "empty buffer repeats the last byte");
}

Test(i8042, controller_reply_replaces_stale_bytes)
{
	KWR(0xf4);                      /* ACK left unread */
	KCMD(0x20);
	cr_assert_eq(KRD(), 0x65, "the command byte, not the stale ACK");
	cr_assert_eq(KST() & 0x01, 0);
}

Test(i8042, aux_loopback_sets_aux_flag)
{
	KCMD(0xd3);
	KWR(0x5a);
	cr_assert_eq(KST() & 0x21, 0x21);
	cr_assert_eq(KRD(), 0x5a);
	KCMD(0xd2);
	KWR(0x1c);
	cr_assert_eq(KST() & 0x21, 0x01);
	cr_assert_eq(KRD(), 0x1c);
}

Test(i8042, unknown_commands_ignored)
{
	KCMD(0x12);
	KCMD(0xc0);
	KCMD(0xe0);
	cr_assert_eq(KST() & 0x01, 0);
	cr_assert_eq(ctl.n, 0);
	KWR(0xf4);                      /* no stale pending command: goes to keyboard */
	cr_assert_eq(KRD(), 0xfa);
}

Test(i8042, queue_overflow_and_odd_lengths)
{
	uint8_t buf[8];

	for (unsigned i = 0; i < 100; i++)
		KWR(0xf4);
	for (unsigned i = 0; i < I8042_QUEUE; i++)
		cr_assert_eq(KRD(), 0xfa);
	cr_assert_eq(KST() & 0x01, 0);
	for (unsigned len = 0; len <= 8; len++) {
		memset(buf, 0, sizeof(buf));
		bus_dev_access(&i8042_data_ops, &kbc, 3, buf, len, false);
		bus_dev_access(&i8042_cmd_ops, &kbc, 7, buf, len, false);
		bus_dev_access(&i8042_data_ops, &kbc, 1, buf, len, true);
	}
	memset(buf, 0xee, sizeof(buf));
	bus_dev_access(&i8042_cmd_ops, &kbc, 0, buf, 4, false);
	cr_assert_eq(buf[1], 0);
	cr_assert_eq(buf[3], 0);
	bus_dev_access(&i8042_cmd_ops, &kbc, 0, (uint8_t[2]){ 0xfe, 0x00 }, 2, true);
	cr_assert_eq(ctl.n, 1, "first byte of a wide write is the command");
}

/* ---- CMOS/RTC ---- */

static struct rtc rtc;
static int64_t fixed_now(void)
{
	return 1795446245;              /* 2026-11-23 15:04:05 UTC, a Monday */
}

static uint8_t cmos(uint8_t index)
{
	wr(&rtc_ops, &rtc, 0, index);
	return rd(&rtc_ops, &rtc, 1);
}

Test(rtc, time_in_bcd)
{
	rtc_init(&rtc, 256 * MiB);
	rtc.now = fixed_now;
	cr_assert_eq(cmos(0x00), 0x05);
	cr_assert_eq(cmos(0x02), 0x04);
	cr_assert_eq(cmos(0x04), 0x15);
	cr_assert_eq(cmos(0x06), 0x02, "Monday, Sunday = 1");
	cr_assert_eq(cmos(0x07), 0x23);
	cr_assert_eq(cmos(0x08), 0x11);
	cr_assert_eq(cmos(0x09), 0x26);
	cr_assert_eq(cmos(0x32), 0x20);
}

static int64_t y2k_eve(void)
{
	return 946684799;               /* 1999-12-31 23:59:59 UTC, a Friday */
}

Test(rtc, other_century)
{
	rtc_init(&rtc, 256 * MiB);
	rtc.now = y2k_eve;
	cr_assert_eq(cmos(0x00), 0x59);
	cr_assert_eq(cmos(0x04), 0x23);
	cr_assert_eq(cmos(0x06), 0x06);
	cr_assert_eq(cmos(0x07), 0x31);
	cr_assert_eq(cmos(0x08), 0x12);
	cr_assert_eq(cmos(0x09), 0x99);
	cr_assert_eq(cmos(0x32), 0x19);
}

Test(rtc, status_registers)
{
	rtc_init(&rtc, 256 * MiB);
	cr_assert_eq(cmos(0x0a), 0x26, "UIP clear");
	cr_assert_eq(cmos(0x0b), 0x02, "24h, BCD");
	cr_assert_eq(cmos(0x0c), 0x00);
	cr_assert_eq(cmos(0x0d), 0x80);
	cr_assert(rtc.now != NULL, "host clock by default");
}

Test(rtc, nmi_bit_masked_from_index)
{
	rtc_init(&rtc, 256 * MiB);
	rtc.now = fixed_now;
	cr_assert_eq(cmos(0x80 | 0x00), 0x05);
	cr_assert(rtc.nmi_disabled);
	cr_assert_eq(cmos(0x80 | 0x32), 0x20);
	cr_assert_eq(cmos(0x80 | 0x0d), 0x80);
	cr_assert_eq(cmos(0x04), 0x15);
	cr_assert(!rtc.nmi_disabled);
	cr_assert_eq(rd(&rtc_ops, &rtc, 0), 0xff, "index port is write-only");
}

Test(rtc, memory_size_256m)
{
	rtc_init(&rtc, 256 * MiB);
	cr_assert_eq(cmos(0x34), 0x00);
	cr_assert_eq(cmos(0x35), 0x0f, "(256 - 16) MiB / 64 KiB = 0x0f00");
	cr_assert_eq(cmos(0x5b), 0);
	cr_assert_eq(cmos(0x5c), 0);
	cr_assert_eq(cmos(0x5d), 0);
	cr_assert_eq(cmos(0x15), 0x80);
	cr_assert_eq(cmos(0x16), 0x02, "640 KiB base memory");
	cr_assert_eq(cmos(0x30), 0xff);
	cr_assert_eq(cmos(0x31), 0xff, "extended memory capped");
}

Test(rtc, memory_size_6g)
{
	rtc_init(&rtc, 6 * GiB);
	/* 3 GiB below the MMIO hole: (3 GiB - 16 MiB) / 64 KiB = 0xbf00 */
	cr_assert_eq(cmos(0x34), 0x00);
	cr_assert_eq(cmos(0x35), 0xbf);
	/* 3 GiB above 4 GiB: 0x00c000 units of 64 KiB */
	cr_assert_eq(cmos(0x5b), 0x00);
	cr_assert_eq(cmos(0x5c), 0xc0);
	cr_assert_eq(cmos(0x5d), 0x00);
}

Test(rtc, memory_size_small_and_huge)
{
	rtc_init(&rtc, 8 * MiB);
	cr_assert_eq(cmos(0x34), 0);
	cr_assert_eq(cmos(0x35), 0);
	cr_assert_eq(cmos(0x30), 0x00);
	cr_assert_eq(cmos(0x31), 0x1c, "7 MiB = 7168 KiB = 0x1c00");
	rtc_init(&rtc, 2048 * GiB);
	cr_assert_eq(cmos(0x5b), 0xff, "above-4G count capped at 24 bits");
	cr_assert_eq(cmos(0x5c), 0xff);
	cr_assert_eq(cmos(0x5d), 0xff);
}

Test(rtc, cmos_ram_stored_clock_writes_ignored)
{
	rtc_init(&rtc, 256 * MiB);
	rtc.now = fixed_now;
	wr(&rtc_ops, &rtc, 0, 0x40);
	wr(&rtc_ops, &rtc, 1, 0xa5);
	wr(&rtc_ops, &rtc, 0, 0x7f);
	wr(&rtc_ops, &rtc, 1, 0x3c);
	cr_assert_eq(cmos(0x40), 0xa5);
	cr_assert_eq(cmos(0xff), 0x3c, "index 0xff is 0x7f");
	wr(&rtc_ops, &rtc, 0, 0x00);
	wr(&rtc_ops, &rtc, 1, 0x42);
	cr_assert_eq(cmos(0x00), 0x05);
	wr(&rtc_ops, &rtc, 0, 0x0b);
	wr(&rtc_ops, &rtc, 1, 0x86);
	cr_assert_eq(cmos(0x0b), 0x02, "format stays 24h BCD");
}

Test(rtc, odd_lengths_and_offsets)
{
	uint8_t buf[8];

	rtc_init(&rtc, 256 * MiB);
	rtc.now = fixed_now;
	for (uint64_t off = 0; off < 4; off++) {
		for (unsigned len = 0; len <= 8; len++) {
			memset(buf, 0x80 | (uint8_t)off, sizeof(buf));
			bus_dev_access(&rtc_ops, &rtc, off, buf, len, true);
			bus_dev_access(&rtc_ops, &rtc, off, buf, len, false);
		}
	}
	bus_dev_access(&rtc_ops, &rtc, 0, (uint8_t[2]){ 0x09, 0x77 }, 2, true);
	memset(buf, 0xee, sizeof(buf));
	bus_dev_access(&rtc_ops, &rtc, 1, buf, 1, false);
	cr_assert_eq(buf[0], 0x26);
	bus_dev_access(&rtc_ops, &rtc, 0, buf, 2, false);
	cr_assert_eq(buf[1], 0);
}

/* ---- ACPI PM ---- */

static struct acpi_pm pm;

static void pm_setup(void)
{
	memset(&ctl, 0, sizeof(ctl));
	acpi_pm_init(&pm, (struct vm_ctl){ rec_exit, &ctl });
}

TestSuite(pm, .init = pm_setup);

Test(pm, s5_powers_off)
{
	wr(&acpi_pm_ops, &pm, 0, 0x20 | (ACPI_S5_SLP_TYP << 2));
	cr_assert_eq(ctl.n, 1);
	cr_assert_eq(ctl.last, VM_EXIT_POWEROFF);
}

Test(pm, other_sleep_states_ignored)
{
	for (unsigned typ = 0; typ < 8; typ++) {
		if (typ != ACPI_S5_SLP_TYP)
			wr(&acpi_pm_ops, &pm, 0, (uint8_t)(0x20 | (typ << 2)));
	}
	wr(&acpi_pm_ops, &pm, 0, ACPI_S5_SLP_TYP << 2);   /* no SLP_EN */
	cr_assert_eq(ctl.n, 0);
}

Test(pm, reset_register)
{
	wr(&acpi_pm_ops, &pm, 2, 0x00);
	wr(&acpi_pm_ops, &pm, 2, 0x02);
	wr(&acpi_pm_ops, &pm, 2, 0xff);
	wr(&acpi_pm_ops, &pm, 3, ACPI_PM_RESET_VALUE);
	wr(&acpi_pm_ops, &pm, 1, ACPI_PM_RESET_VALUE);
	cr_assert_eq(ctl.n, 0);
	wr(&acpi_pm_ops, &pm, 2, ACPI_PM_RESET_VALUE);
	cr_assert_eq(ctl.n, 1);
	cr_assert_eq(ctl.last, VM_EXIT_RESET);
}

Test(pm, sleep_status_write_one_to_clear)
{
	pm.sleep_sts = 0x81;
	cr_assert_eq(rd(&acpi_pm_ops, &pm, 1), 0x81);
	wr(&acpi_pm_ops, &pm, 1, 0x80);
	cr_assert_eq(rd(&acpi_pm_ops, &pm, 1), 0x01);
	wr(&acpi_pm_ops, &pm, 1, 0x00);
	cr_assert_eq(rd(&acpi_pm_ops, &pm, 1), 0x01);
	cr_assert_eq(rd(&acpi_pm_ops, &pm, 0), 0);
	cr_assert_eq(rd(&acpi_pm_ops, &pm, 2), 0);
	cr_assert_eq(rd(&acpi_pm_ops, &pm, 3), 0);
}

Test(pm, odd_lengths_and_offsets)
{
	uint8_t buf[8];

	for (uint64_t off = 0; off < 16; off++) {
		for (unsigned len = 0; len <= 8; len++) {
			memset(buf, 0, sizeof(buf));
			bus_dev_access(&acpi_pm_ops, &pm, off, buf, len, true);
			bus_dev_access(&acpi_pm_ops, &pm, off, buf, len, false);
		}
	}
	cr_assert_eq(ctl.n, 0);
	bus_dev_access(&acpi_pm_ops, &pm, 0, (uint8_t[4]){ 0x34, 0, 0, 0 }, 4, true);
	cr_assert_eq(ctl.n, 1);
	cr_assert_eq(ctl.last, VM_EXIT_POWEROFF);
}
