/*
 * 8250/16550A UART (COM1, ttyS0): what Linux's 8250 driver probes and uses. Output is
 * synchronous (written to out_fd during the THR write), so the transmitter is always empty;
 * input comes from the host through serial_receive() into a 64-byte receive FIFO.
 *
 * Accesses wider than one byte act on the byte at the accessed offset only; the other bytes
 * of a read are zero and the other bytes of a write are ignored. A UART has no wider
 * registers, and a guest doing this is broken, not attacking anything useful.
 */
#include "devices.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* register offsets */
#define UART_RBR 0	/* read, DLAB=0 */
#define UART_IER 1	/* DLAB=0 */
#define UART_IIR 2	/* read */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI   0x01	/* receive data available */
#define IER_THRI  0x02	/* transmitter holding register empty */
#define IER_MASK  0x0f

#define IIR_NONE  0x01
#define IIR_THRI  0x02
#define IIR_RDI   0x04
#define IIR_FIFO  0xc0	/* FIFOs enabled: what makes Linux say 16550A */

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB  0x80

#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT1  0x04
#define MCR_OUT2  0x08
#define MCR_LOOP  0x10
#define MCR_MASK  0x1f

#define LSR_DR    0x01
#define LSR_OE    0x02
#define LSR_THRE  0x20
#define LSR_TEMT  0x40

#define MSR_CTS   0x10
#define MSR_DSR   0x20
#define MSR_RI    0x40
#define MSR_DCD   0x80

/* What the interrupt identification register reports now (without the FIFO bits). */
static uint8_t irq_source(const struct serial *s)
{
	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI;
	if ((s->ier & IER_THRI) && s->thr_int_pending)
		return IIR_THRI;
	return IIR_NONE;
}

/*
 * Recompute IIR and drive the line. The line is level-triggered and only touched on a
 * change, so a guest cannot turn every register access into a KVM_IRQ_LINE ioctl. Called
 * with the lock held so two vCPUs cannot reorder a raise and a lower.
 */
static void update_irq(struct serial *s)
{
	uint8_t src = irq_source(s);
	bool level = src != IIR_NONE;

	s->iir = src | ((s->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
	if (level == s->irq_level)
		return;
	s->irq_level = level;
	if (s->irq.set_level)
		s->irq.set_level(s->irq.opaque, s->gsi, level);
}

static void rx_push(struct serial *s, uint8_t byte)
{
	if (s->rx_count == SERIAL_RX_FIFO) {
		s->lsr |= LSR_OE;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_FIFO] = byte;
	s->rx_count++;
}

static uint8_t rx_pop(struct serial *s)
{
	uint8_t byte;

	if (!s->rx_count)
		return 0;
	byte = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
	s->rx_count--;
	return byte;
}

static void emit(struct serial *s, uint8_t byte)
{
	ssize_t n;

	if (s->out_fd < 0)
		return;
	do {
		n = write(s->out_fd, &byte, 1);
	} while (n < 0 && errno == EINTR);
	/* any other failure (EAGAIN, EPIPE): the byte is lost, as on a disconnected line */
}

static void write_thr(struct serial *s, uint8_t v)
{
	if (s->mcr & MCR_LOOP)
		rx_push(s, v);
	else
		emit(s, v);
	/* the byte left at once, so THR is empty again: a new THRE interrupt is due */
	s->thr_int_pending = true;
}

static void write_ier(struct serial *s, uint8_t v)
{
	uint8_t old = s->ier;

	s->ier = v & IER_MASK;
	/*
	 * Enabling THRI while THR is empty raises the interrupt at once; Linux's startup test
	 * toggles IER and expects exactly this (otherwise it marks the port UART_BUG_THRE).
	 */
	if ((s->ier & IER_THRI) && !(old & IER_THRI))
		s->thr_int_pending = true;
}

static void write_fcr(struct serial *s, uint8_t v)
{
	if (v & FCR_CLEAR_RX) {
		s->rx_head = 0;
		s->rx_count = 0;
	}
	/* only the enable and trigger bits stick; the clear bits self-clear */
	s->fcr = v & 0xc9;
}

static void reg_write(struct serial *s, uint64_t off, uint8_t v)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (off) {
	case UART_RBR:
		if (dlab)
			s->dll = v;
		else
			write_thr(s, v);
		break;
	case UART_IER:
		if (dlab)
			s->dlm = v;
		else
			write_ier(s, v);
		break;
	case UART_IIR:
		write_fcr(s, v);
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & MCR_MASK;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default:
		/* LSR and MSR writes are a factory-test feature; ignored */
		break;
	}
}

/* In loopback the modem outputs are wired back to the modem inputs (8250 datasheet). */
static uint8_t read_msr(const struct serial *s)
{
	uint8_t m = 0;

	if (!(s->mcr & MCR_LOOP))
		return s->msr;
	if (s->mcr & MCR_DTR)
		m |= MSR_DSR;
	if (s->mcr & MCR_RTS)
		m |= MSR_CTS;
	if (s->mcr & MCR_OUT1)
		m |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

static uint8_t read_lsr(struct serial *s)
{
	uint8_t v = LSR_THRE | LSR_TEMT | (s->lsr & LSR_OE);

	if (s->rx_count)
		v |= LSR_DR;
	s->lsr &= ~LSR_OE;	/* error bits clear on read */
	return v;
}

static uint8_t read_iir(struct serial *s)
{
	uint8_t v = s->iir;

	/* reading IIR acknowledges a THRE interrupt, but only when it is the one reported */
	if ((v & 0x0f) == IIR_THRI)
		s->thr_int_pending = false;
	return v;
}

static uint8_t reg_read(struct serial *s, uint64_t off)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (off) {
	case UART_RBR:
		return dlab ? s->dll : rx_pop(s);
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR:
		return read_iir(s);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return read_lsr(s);
	case UART_MSR:
		return read_msr(s);
	case UART_SCR:
		return s->scr;
	default:
		return 0xff;	/* not reachable through an 8-byte registration */
	}
}

static uint8_t serial_read(void *opaque, uint64_t offset)
{
	struct serial *s = opaque;
	uint8_t v;

	pthread_mutex_lock(&s->lock);
	v = reg_read(s, offset);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return v;
}

static void serial_write(void *opaque, uint64_t offset, uint8_t v)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	reg_write(s, offset, v);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

const struct bus_dev_ops serial_ops = {
	.read8 = serial_read,
	.write8 = serial_write,
};

void serial_init(struct serial *s, int out_fd, struct irq_sink irq, unsigned gsi)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->irq = irq;
	s->gsi = gsi;
	/* power-on state of a PC UART after the BIOS: 9600 baud divisor, OUT2 (IRQ gate) on */
	s->dll = 0x0c;
	s->mcr = MCR_OUT2;
	s->msr = MSR_DCD | MSR_DSR | MSR_CTS;	/* a terminal is always attached */
	s->iir = IIR_NONE;
}

void serial_exit(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_count < SERIAL_RX_FIFO)
		rx_push(s, buf[n++]);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_rx_room(struct serial *s)
{
	size_t room;

	pthread_mutex_lock(&s->lock);
	room = SERIAL_RX_FIFO - s->rx_count;
	pthread_mutex_unlock(&s->lock);
	return room;
}
