/* Included by bulkhead-core only (sandboxed). */
/* Legacy devices emulated in the core: 8250 UART, i8042, CMOS/RTC, and the hardware-reduced
 * ACPI power-management port (sleep control/status and reset registers). */
#ifndef BULKHEAD_DEVICES_H
#define BULKHEAD_DEVICES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bus.h"

/* ---- 8250/16550A UART at 0x3f8, IRQ 4 ---- */
#define SERIAL_RX_FIFO 64

struct serial {
	pthread_mutex_t lock;
	int out_fd;                 /* guest output goes here (-1: dropped) */
	struct irq_sink irq;
	unsigned gsi;
	uint8_t ier, iir, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	uint8_t rx[SERIAL_RX_FIFO];
	unsigned rx_head, rx_count;
	bool thr_int_pending;       /* THRE interrupt pending until IIR read or THR written */
	bool irq_level;
};
extern const struct bus_dev_ops serial_ops;
void serial_init(struct serial *s, int out_fd, struct irq_sink irq, unsigned gsi);
void serial_exit(struct serial *s);
/* Feed host input (stdin) to the guest; returns how many bytes fit in the FIFO. */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);
/* Room left in the receive FIFO, so the caller can stop reading its input when full. */
size_t serial_rx_room(struct serial *s);

/* ---- i8042 keyboard controller: enough for Linux's probe and `reboot=k` ---- */
#define I8042_QUEUE 8
struct i8042 {
	pthread_mutex_t lock;
	struct vm_ctl ctl;
	uint8_t status, cmd_byte, pending_cmd, out;   /* out: last byte read from 0x60 */
	uint8_t outport;
	uint8_t queue[I8042_QUEUE];   /* output buffer bytes waiting for the guest */
	bool queue_aux[I8042_QUEUE];  /* byte came from the aux (mouse) side */
	unsigned q_head, q_count;
	struct irq_sink irq;          /* IRQ 1 for host key presses; set_level NULL: none */
	unsigned gsi;
};
/* Both with the same struct i8042 as opaque: 0x60 (len 1) and 0x64 (len 1). */
extern const struct bus_dev_ops i8042_data_ops;
extern const struct bus_dev_ops i8042_cmd_ops;
void i8042_init(struct i8042 *k, struct vm_ctl ctl);
/* Host key presses (QMP system_powerdown for a guest without ACPI; with ACPI it is the GED's
 * power button): Ctrl-Alt-Del, press and release, as Firecracker's SendCtrlAltDel does.
 * Queued as the controller delivers them (set 1 when the command byte asks for translation,
 * set 2 otherwise), with an IRQ 1 edge per byte while the keyboard interrupt is enabled. */
void i8042_set_irq(struct i8042 *k, struct irq_sink irq, unsigned gsi);
void i8042_send_ctrl_alt_del(struct i8042 *k);

/* ---- CMOS/RTC (MC146818) at 0x70/0x71: date and time from the host clock, in BCD ---- */
struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	bool nmi_disabled;
	uint8_t regs[128];          /* CMOS RAM; clock registers computed on read */
	int64_t (*now)(void);       /* seconds since the epoch; injectable for tests */
};
extern const struct bus_dev_ops rtc_ops;     /* register at 0x70, len 2 */
void rtc_init(struct rtc *r, uint64_t ram_size);

/* ---- ACPI PM: sleep control (S5 → power off), sleep status, reset register ---- */
struct acpi_pm {
	struct vm_ctl ctl;
	uint8_t sleep_sts;
};
extern const struct bus_dev_ops acpi_pm_ops; /* register at PORT_ACPI_PM, PORT_ACPI_PM_LEN */
void acpi_pm_init(struct acpi_pm *p, struct vm_ctl ctl);

#endif
