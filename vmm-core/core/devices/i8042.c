/*
 * i8042 keyboard controller: enough for Linux's i8042 probe to find a controller with a
 * keyboard port, and for `reboot=k` (command 0xFE, or 0xD1 with the reset bit clear) to
 * reset the VM. There is no keyboard input source and no interrupt; keyboard commands are
 * answered with ACKs so drivers that poll see a sane device.
 *
 * Two ops tables share one struct i8042: 0x60 (data) and 0x64 (command/status). Both ports
 * are registered with len 1, so every access arrives at offset 0 with len 1; wider or odd
 * accesses act on the first byte only (other read bytes are zero).
 */
#include "devices.h"

#include <string.h>

#define STS_OBF     0x01	/* output buffer full */
#define STS_SYS     0x04	/* system flag (POST passed), mirrors command byte bit 2 */
#define STS_CMD     0x08	/* last write went to 0x64 */
#define STS_UNLOCK  0x10	/* keyboard not inhibited */
#define STS_AUXOBF  0x20	/* output byte is from the aux port */

#define CTR_KBDINT  0x01
#define CTR_SYS     0x04
#define CTR_KBDDIS  0x10
#define CTR_AUXDIS  0x20
#define CTR_XLATE   0x40

#define OUTPORT_RESET 0x01	/* active low: clearing it resets the CPU */
#define OUTPORT_A20   0x02

/* keyboard (device) commands that need more than a plain ACK */
#define KBD_ACK     0xfa
#define KBD_ECHO    0xee
#define KBD_GETID   0xf2
#define KBD_RESET   0xff
#define KBD_BAT_OK  0xaa

static void enqueue(struct i8042 *k, uint8_t v, bool aux)
{
	unsigned slot;

	if (k->q_count == I8042_QUEUE)
		return;	/* a guest that never reads: drop, the real buffer is one byte */
	slot = (k->q_head + k->q_count) % I8042_QUEUE;
	k->queue[slot] = v;
	k->queue_aux[slot] = aux;
	k->q_count++;
}

/*
 * A controller command's answer replaces whatever was waiting: Linux reads a command's
 * result as the next output byte, so a stale keyboard ACK must not pose as, say, the
 * command byte.
 */
static void reply(struct i8042 *k, uint8_t v)
{
	k->q_head = 0;
	k->q_count = 0;
	enqueue(k, v, false);
}

static uint8_t status(const struct i8042 *k)
{
	uint8_t s = (k->status & STS_CMD) | STS_UNLOCK;

	if (k->cmd_byte & CTR_SYS)
		s |= STS_SYS;
	if (k->q_count) {
		s |= STS_OBF;
		if (k->queue_aux[k->q_head])
			s |= STS_AUXOBF;
	}
	return s;
}

/* Returns true when the command asks for a CPU reset. */
static bool controller_cmd(struct i8042 *k, uint8_t cmd)
{
	k->pending_cmd = 0;
	switch (cmd) {
	case 0x20:		/* read command byte */
		reply(k, k->cmd_byte);
		break;
	case 0x60:		/* write command byte: next data byte */
	case 0xd1:		/* write output port */
	case 0xd2:		/* write keyboard output buffer */
	case 0xd3:		/* write aux output buffer (Linux's AUX loop test) */
	case 0xd4:		/* write to aux device */
		k->pending_cmd = cmd;
		break;
	case 0xa7:
		k->cmd_byte |= CTR_AUXDIS;
		break;
	case 0xa8:
		k->cmd_byte &= ~CTR_AUXDIS;
		break;
	case 0xa9:		/* aux interface test: 0 = no error */
	case 0xab:		/* keyboard interface test */
		reply(k, 0x00);
		break;
	case 0xaa:		/* controller self-test */
		k->cmd_byte |= CTR_SYS;
		reply(k, 0x55);
		break;
	case 0xad:
		k->cmd_byte |= CTR_KBDDIS;
		break;
	case 0xae:
		k->cmd_byte &= ~CTR_KBDDIS;
		break;
	case 0xd0:		/* read output port */
		reply(k, k->outport);
		break;
	default:
		/* 0xf0-0xff pulse output lines low for the bits clear in the low nibble */
		if ((cmd & 0xf0) == 0xf0 && !(cmd & OUTPORT_RESET))
			return true;
		break;		/* anything else: ignored, like a controller that lacks it */
	}
	return false;
}

static void keyboard_cmd(struct i8042 *k, uint8_t v)
{
	switch (v) {
	case KBD_ECHO:
		enqueue(k, KBD_ECHO, false);
		break;
	case KBD_GETID:		/* MF2 keyboard */
		enqueue(k, KBD_ACK, false);
		enqueue(k, 0xab, false);
		enqueue(k, 0x83, false);
		break;
	case KBD_RESET:
		enqueue(k, KBD_ACK, false);
		enqueue(k, KBD_BAT_OK, false);
		break;
	default:		/* other commands and their parameter bytes: ACK */
		enqueue(k, KBD_ACK, false);
		break;
	}
}

/* Returns true when the write asks for a CPU reset. */
static bool data_byte(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;

	k->pending_cmd = 0;
	switch (cmd) {
	case 0x60:
		k->cmd_byte = v;
		return false;
	case 0xd1:
		k->outport = v;
		return !(v & OUTPORT_RESET);
	case 0xd2:
		enqueue(k, v, false);
		return false;
	case 0xd3:
		enqueue(k, v, true);
		return false;
	case 0xd4:
		return false;	/* no mouse is attached: the byte goes nowhere */
	default:
		keyboard_cmd(k, v);
		return false;
	}
}

/* With the lock held: one edge on IRQ 1 when a keyboard byte waits and the guest wants it. */
static void kbd_irq(struct i8042 *k)
{
	if (!k->irq.set_level || !k->q_count || k->queue_aux[k->q_head] ||
	    !(k->cmd_byte & CTR_KBDINT) || (k->cmd_byte & CTR_KBDDIS))
		return;
	k->irq.set_level(k->irq.opaque, k->gsi, 1);
	k->irq.set_level(k->irq.opaque, k->gsi, 0);
}

static void request_reset(struct i8042 *k)
{
	if (k->ctl.request_exit)
		k->ctl.request_exit(k->ctl.opaque, VM_EXIT_RESET);
}

static uint8_t data_read(void *opaque, uint64_t offset)
{
	struct i8042 *k = opaque;
	uint8_t v;

	(void)offset;
	pthread_mutex_lock(&k->lock);
	if (k->q_count) {
		k->out = k->queue[k->q_head];
		k->q_head = (k->q_head + 1) % I8042_QUEUE;
		k->q_count--;
		kbd_irq(k);	/* the guest's handler reads one byte per interrupt */
	}
	v = k->out;	/* an empty buffer reads as the last byte, like the chip */
	pthread_mutex_unlock(&k->lock);
	return v;
}

/* One byte to port 0x60 (data) or 0x64 (command); the status bit says which came last. */
static void port_write(struct i8042 *k, uint8_t v, bool cmd)
{
	bool reset;

	pthread_mutex_lock(&k->lock);
	if (cmd) {
		k->status |= STS_CMD;
		reset = controller_cmd(k, v);
	} else {
		k->status &= ~STS_CMD;
		reset = data_byte(k, v);
	}
	pthread_mutex_unlock(&k->lock);
	/* outside the lock: ending the VM may take the VM's own locks and kick vCPUs */
	if (reset)
		request_reset(k);
}

static void data_write(void *opaque, uint64_t offset, uint8_t v)
{
	(void)offset;
	port_write(opaque, v, false);
}

static uint8_t cmd_read(void *opaque, uint64_t offset)
{
	struct i8042 *k = opaque;
	uint8_t v;

	(void)offset;
	pthread_mutex_lock(&k->lock);
	v = status(k);
	pthread_mutex_unlock(&k->lock);
	return v;
}

static void cmd_write(void *opaque, uint64_t offset, uint8_t v)
{
	(void)offset;
	port_write(opaque, v, true);
}

const struct bus_dev_ops i8042_data_ops = { .read8 = data_read, .write8 = data_write };
const struct bus_dev_ops i8042_cmd_ops = { .read8 = cmd_read, .write8 = cmd_write };

void i8042_init(struct i8042 *k, struct vm_ctl ctl)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->ctl = ctl;
	/* as a BIOS leaves it: translation, system flag, keyboard interrupt; aux disabled */
	k->cmd_byte = 0x40 | CTR_AUXDIS | CTR_SYS | 0x01;
	k->outport = OUTPORT_RESET | OUTPORT_A20;
}

void i8042_set_irq(struct i8042 *k, struct irq_sink irq, unsigned gsi)
{
	pthread_mutex_lock(&k->lock);
	k->irq = irq;
	k->gsi = gsi;
	pthread_mutex_unlock(&k->lock);
}

void i8042_send_ctrl_alt_del(struct i8042 *k)
{
	/* make Ctrl, make Alt, make Del (extended), then the three breaks */
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	/* set 2 breaks are longer: only Del's fits the 8-byte buffer after the makes */
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71 };
	const uint8_t *b;
	unsigned n;
	bool was_empty;

	pthread_mutex_lock(&k->lock);
	b = (k->cmd_byte & CTR_XLATE) ? set1 : set2;
	n = (k->cmd_byte & CTR_XLATE) ? sizeof(set1) : sizeof(set2);
	was_empty = k->q_count == 0;
	for (unsigned i = 0; i < n; i++)
		enqueue(k, b[i], false);
	if (was_empty)
		kbd_irq(k);
	pthread_mutex_unlock(&k->lock);
}
