/* Fuzz the core's guest-facing register files as a hostile guest kernel drives them: port I/O
 * and MMIO accesses of every width through the buses to the 8250 UART, the i8042, the CMOS/RTC,
 * the ACPI PM port, the GED and a virtio-mmio slot (with a fake backend, as the unit test has),
 * interleaved with what the host side does (serial input, Ctrl-Alt-Del, GED events, backend
 * config changes and failures), and the instruction bytes the fallback emulator decodes when
 * KVM cannot (kvm/emulate.c). Each input starts from freshly initialised devices.
 *
 * Input: a 12-byte header (slot: device id, le64 features, queue count, whether start fails),
 * then ops (enum op). Oracles beyond "no crash": the UART and i8042 queues never exceed their
 * size, virtio-mmio's magic and version read the same whatever happened, a started slot has
 * DRIVER_OK set, and a decoded instruction is never longer than the bytes it came from. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "devices.h"
#include "emulate.h"
#include "ged.h"
#include "fuzzlib.h"
#include "layout.h"
#include "log.h"
#include "virtio_mmio.h"

#define RAM_SIZE    0x10000u
#define MAX_OPS     512

enum op {
	OP_ACCESS,     /* dev, le16 offset, width, le64 value (writes) */
	OP_WRITE,
	OP_SERIAL_IN,  /* len, bytes: host input for the UART */
	OP_CAD,        /* Ctrl-Alt-Del from QMP system_powerdown without ACPI */
	OP_GED,        /* le32 events */
	OP_CONFIG,     /* len, bytes: the backend's config space changed */
	OP_BROKEN,     /* the backend broke: DEVICE_NEEDS_RESET */
	OP_EMULATE,    /* 15 instruction bytes, then a register file (16 x le64) */
	OP_MAX,
};

struct range {
	struct bus *bus;
	uint64_t base, len;
};

static struct bus pio, mmio;
static struct serial ser;
static struct i8042 kbc;
static struct rtc rtc;
static struct acpi_pm pm;
static struct ged ged;
static struct vmmio slot;
static struct guest_mem mem;
static uint8_t *ram;
static uint8_t config[VMMIO_CONFIG_MAX];
static int start_ret;
static int devnull = -1;

static void set_level(void *opaque, unsigned gsi, int level)
{
	(void)opaque;
	(void)gsi;
	(void)level;
}

static void request_exit(void *opaque, enum vm_exit_reason why)
{
	(void)opaque;
	CHECK(why == VM_EXIT_RESET || why == VM_EXIT_POWEROFF);
}

static void raise_irq(void *opaque, unsigned gsi)
{
	(void)opaque;
	(void)gsi;
}

static int f_start(struct vmmio *t)
{
	CHECK(t->status & VMMIO_S_FEATURES_OK);
	return start_ret;
}

static void f_reset(struct vmmio *t)
{
	(void)t;
}

static int f_get_config(struct vmmio *t, uint8_t *buf, uint32_t len)
{
	(void)t;
	memcpy(buf, config, len < sizeof(config) ? len : sizeof(config));
	return 0;
}

/* only a queue the transport has may be passed on */
static void f_notify(struct vmmio *t, unsigned qidx)
{
	if (qidx >= t->nqueues)
		abort();
}

static const struct vmmio_ops slot_ops = { f_start, f_reset, f_get_config, f_notify };

static int64_t fixed_now(void)
{
	return 1583908726;   /* the RTC reads the same clock every run */
}

static void setup_once(void)
{
	const struct irq_sink irq = { set_level, NULL };
	const struct vm_ctl ctl = { request_exit, NULL };

	log_set_level(LOG_LVL_ERR);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ram = malloc(RAM_SIZE);
	if (devnull < 0 || !ram)
		abort();
	mem.nr = 1;
	mem.r[0] = (struct guest_region){ .gpa = 0, .size = RAM_SIZE, .hva = ram, .fd = -1 };
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	serial_init(&ser, devnull, irq, 4);
	i8042_init(&kbc, ctl);
	vmmio_init(&slot, "slot 0", LAYOUT_VIRTIO_FIRST_IRQ, &slot_ops, NULL, raise_irq, NULL,
		   &mem);
	if (bus_register(&pio, PORT_COM1, 8, "com1", &serial_ops, &ser) ||
	    bus_register(&pio, 0x60, 1, "i8042 data", &i8042_data_ops, &kbc) ||
	    bus_register(&pio, 0x64, 1, "i8042 cmd", &i8042_cmd_ops, &kbc) ||
	    bus_register(&pio, 0x70, 2, "rtc", &rtc_ops, &rtc) ||
	    bus_register(&pio, PORT_ACPI_PM, PORT_ACPI_PM_LEN, "acpi pm", &acpi_pm_ops, &pm) ||
	    bus_register(&mmio, LAYOUT_GED_BASE, GED_REG_EVT_LEN, "ged", &ged_ops, &ged) ||
	    bus_register(&mmio, LAYOUT_VIRTIO_MMIO_BASE, LAYOUT_VIRTIO_MMIO_SIZE, "slot 0",
			 &vmmio_bus_ops, &slot))
		abort();
}

/* Fresh devices for each input, so a run does not depend on the ones before it. */
static void reset_devices(const uint8_t *hdr)
{
	const struct irq_sink irq = { set_level, NULL };
	const struct vm_ctl ctl = { request_exit, NULL };
	uint64_t features;

	serial_exit(&ser);
	serial_init(&ser, devnull, irq, 4);
	i8042_init(&kbc, ctl);
	i8042_set_irq(&kbc, irq, 1);
	rtc_init(&rtc, 1ULL << 30);
	rtc.now = fixed_now;
	acpi_pm_init(&pm, ctl);
	ged_init(&ged, irq, 9);
	vmmio_exit(&slot);
	vmmio_init(&slot, "slot 0", LAYOUT_VIRTIO_FIRST_IRQ, &slot_ops, NULL, raise_irq, NULL,
		   &mem);
	slot.worker_backed = hdr[11] & 2;
	memcpy(&features, hdr + 1, 8);
	start_ret = hdr[11] & 1 ? -EIO : 0;
	memset(ram, 0, RAM_SIZE);
	memset(config, 0, sizeof(config));
	vmmio_lock(&slot);
	if (hdr[0])
		vmmio_set_backend(&slot, hdr[0], le64toh(features), hdr[9]);
	if (hdr[10])
		vmmio_refresh_config(&slot, hdr[10]);
	vmmio_unlock(&slot);
}

static const struct range ranges[] = {
	{ &pio, PORT_COM1, 8 },
	{ &pio, 0x60, 1 },
	{ &pio, 0x64, 1 },
	{ &pio, 0x70, 2 },
	{ &pio, PORT_ACPI_PM, PORT_ACPI_PM_LEN },
	{ &mmio, LAYOUT_GED_BASE, GED_REG_EVT_LEN },
	{ &mmio, LAYOUT_VIRTIO_MMIO_BASE, LAYOUT_VIRTIO_MMIO_SIZE },
};

/* One guest access: a register of a device (a little past its end too: unclaimed addresses). */
static void guest_access(struct input *in, bool is_write)
{
	const struct range *r = &ranges[take8(in) % (sizeof(ranges) / sizeof(ranges[0]))];
	unsigned len = 1u << (take8(in) & 3), off = take16(in);
	uint64_t v = 0;

	if (is_write)
		take(in, &v, 8);   /* raw bytes: an access's data as KVM passes it */
	bus_access(r->bus, r->base + off % (r->len + 4), &v, len, is_write);
}

static void emulate(struct input *in)
{
	uint8_t insn[15];
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	uint8_t img[EMU_FXSAVE_SIZE];
	struct emu_op op;

	take(in, insn, sizeof(insn));
	take(in, &regs, sizeof(regs));
	if (!emu_decode(insn, sizeof(insn) - take8(in) % 15, &op))
		return;
	CHECK(op.len >= 1 && op.len <= sizeof(insn));
	CHECK(emu_name(op.kind) != NULL);
	emu_mem_addr(&op, &regs);
	CHECK(emu_mem_len(&op) <= EMU_FXSAVE_SIZE);
	emu_apply(&op, &regs);
	if (op.kind == EMU_FXSAVE || op.kind == EMU_FXRSTOR) {
		take(in, &fpu, sizeof(fpu));
		emu_fxsave_image(&fpu, op.rex_w, img);
		emu_fxrstor_image(img, op.rex_w, &fpu);
	}
}

static void one_op(struct input *in)
{
	uint8_t buf[256];
	unsigned n, op = take8(in) % OP_MAX;

	switch (op) {
	case OP_ACCESS:
	case OP_WRITE:
		guest_access(in, op == OP_WRITE);
		break;
	case OP_SERIAL_IN:
		n = take8(in);
		take(in, buf, n);
		serial_receive(&ser, buf, n);
		break;
	case OP_CAD:
		i8042_send_ctrl_alt_del(&kbc);
		break;
	case OP_GED:
		ged_send_event(&ged, take32(in));
		break;
	case OP_CONFIG:
		n = take8(in);
		take(in, config, n);
		vmmio_lock(&slot);
		vmmio_refresh_config(&slot, n);
		vmmio_unlock(&slot);
		break;
	case OP_BROKEN:
		vmmio_lock(&slot);
		vmmio_needs_reset(&slot, "fuzz");
		vmmio_unlock(&slot);
		break;
	default:
		emulate(in);
		break;
	}
}

static void check(void)
{
	uint32_t v;

	CHECK(ser.rx_count <= SERIAL_RX_FIFO && kbc.q_count <= I8042_QUEUE);
	vmmio_read(&slot, VMMIO_MAGIC_VALUE, &v, 4);
	CHECK(v == VMMIO_MAGIC);
	vmmio_read(&slot, VMMIO_VERSION, &v, 4);
	CHECK(v == 2);
	CHECK(!slot.started || (slot.status & VMMIO_S_DRIVER_OK));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[12];
	struct input in = { data, size };

	if (devnull < 0)
		setup_once();
	take(&in, hdr, sizeof(hdr));
	reset_devices(hdr);
	for (unsigned i = 0; i < MAX_OPS && in.n; i++)
		one_op(&in);
	check();
	return 0;
}

/* ---- seeds: what Linux does with each device, and the instructions the emulator knows ---- */

/* A register access: ranges[dev] + off, 1 << w bytes. */
static void acc(struct out *o, bool wr, unsigned dev, unsigned off, unsigned w, uint64_t v)
{
	uint8_t b[4] = { wr ? OP_WRITE : OP_ACCESS, (uint8_t)dev, (uint8_t)w };
	uint16_t o16 = htole16((uint16_t)off);

	emit(o, b, 2);
	emit(o, &b[2], 1);
	emit(o, &o16, 2);
	if (wr) {
		v = htole64(v);
		emit(o, &v, 8);
	}
}

static void virtio_bring_up(struct out *o)
{
	const unsigned S = 6;   /* ranges[6]: the slot */

	acc(o, false, S, VMMIO_MAGIC_VALUE, 2, 0);
	acc(o, false, S, VMMIO_DEVICE_ID, 2, 0);
	acc(o, true, S, VMMIO_STATUS, 2, VMMIO_S_ACKNOWLEDGE);
	acc(o, true, S, VMMIO_STATUS, 2, VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER);
	acc(o, true, S, VMMIO_DEVICE_FEATURES_SEL, 2, 1);
	acc(o, false, S, VMMIO_DEVICE_FEATURES, 2, 0);
	acc(o, true, S, VMMIO_DRIVER_FEATURES_SEL, 2, 1);
	acc(o, true, S, VMMIO_DRIVER_FEATURES, 2, 1);   /* VERSION_1 */
	acc(o, true, S, VMMIO_DRIVER_FEATURES_SEL, 2, 0);
	acc(o, true, S, VMMIO_DRIVER_FEATURES, 2, 1u << 9);
	acc(o, true, S, VMMIO_STATUS, 2, 0xb);
	acc(o, false, S, VMMIO_STATUS, 2, 0);
	acc(o, true, S, VMMIO_QUEUE_SEL, 2, 0);
	acc(o, false, S, VMMIO_QUEUE_NUM_MAX, 2, 0);
	acc(o, true, S, VMMIO_QUEUE_NUM, 2, 16);
	acc(o, true, S, VMMIO_QUEUE_DESC_LOW, 2, 0x1000);
	acc(o, true, S, VMMIO_QUEUE_AVAIL_LOW, 2, 0x2000);
	acc(o, true, S, VMMIO_QUEUE_USED_LOW, 2, 0x3000);
	acc(o, true, S, VMMIO_QUEUE_READY, 2, 1);
	acc(o, true, S, VMMIO_STATUS, 2, 0xf);
	acc(o, false, S, VMMIO_CONFIG, 0, 0);
	acc(o, false, S, VMMIO_CONFIG_GENERATION, 2, 0);
	acc(o, true, S, VMMIO_QUEUE_NOTIFY, 2, 0);
	acc(o, false, S, VMMIO_INTERRUPT_STATUS, 2, 0);
	acc(o, true, S, VMMIO_INTERRUPT_ACK, 2, 3);
	acc(o, true, S, VMMIO_STATUS, 2, 0);
}

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	struct out o = { buf, 0, cap };
	/* a block device: VERSION_1, EVENT_IDX, SEG_MAX; 1 queue; 8 bytes of config */
	uint8_t hdr[12] = { 2, 0, 2, 0, 0x20, 1, 0, 0, 0, 1, 8, (uint8_t)(i & 2) };
	static const uint8_t insns[][16] = {
		{ 0x0f, 0x01, 0xca }, { 0x0f, 0x01, 0xcb }, { 0x9b }, { 0xcc },
		{ 0xf3, 0x48, 0x0f, 0xb8, 0xc1 }, { 0x48, 0x0f, 0xae, 0x44, 0x24, 0x10 },
		{ 0x0f, 0xae, 0x0d, 0x10, 0, 0, 0 }, { 0x0f, 0xae, 0x54, 0x8b, 0xf0 },
		{ 0x0f, 0xae, 0x1c, 0x25, 0, 0x10, 0, 0 },
	};

	if (i % 5 == 4)
		return 0;
	emit(&o, hdr, sizeof(hdr));
	switch (i % 5) {
	case 0:
		virtio_bring_up(&o);
		break;
	case 1:   /* the 8250 driver's probe and a line of output; host input; */
		acc(&o, true, 0, 3, 0, 0x80);           /* LCR: DLAB */
		acc(&o, true, 0, 0, 0, 1);              /* DLL */
		acc(&o, true, 0, 3, 0, 0x03);           /* 8N1 */
		acc(&o, true, 0, 2, 0, 0xc7);           /* FCR: FIFO on, clear */
		acc(&o, true, 0, 4, 0, 0x0b);           /* MCR: DTR RTS OUT2 */
		acc(&o, true, 0, 1, 0, 0x0f);           /* IER: all */
		acc(&o, false, 0, 2, 0, 0);             /* IIR */
		acc(&o, true, 0, 0, 0, 'x');
		acc(&o, false, 0, 5, 0, 0);             /* LSR */
		emit(&o, (uint8_t[]){ OP_SERIAL_IN, 3, 'a', 'b', '\r' }, 5);
		acc(&o, false, 0, 0, 0, 0);
		acc(&o, true, 0, 4, 0, 0x10);           /* MCR: loopback */
		acc(&o, true, 0, 0, 0, 'y');
		acc(&o, false, 0, 6, 0, 0);             /* MSR */
		break;
	case 2:   /* i8042: self test, command byte, CAD, reset; RTC; PM S5; GED */
		acc(&o, true, 2, 0, 0, 0xaa);
		acc(&o, false, 1, 0, 0, 0);
		acc(&o, true, 2, 0, 0, 0x60);
		acc(&o, true, 1, 0, 0, 0x47);
		emit(&o, (uint8_t[]){ OP_CAD }, 1);
		acc(&o, false, 2, 0, 0, 0);
		acc(&o, false, 1, 0, 0, 0);
		acc(&o, true, 2, 0, 0, 0xd1);
		acc(&o, true, 1, 0, 0, 0xfe);
		acc(&o, true, 3, 0, 0, 0x0b);           /* RTC register B */
		acc(&o, false, 3, 1, 0, 0);
		acc(&o, true, 3, 0, 0, 0x80 | 0x32);    /* century, NMI off */
		acc(&o, false, 3, 1, 0, 0);
		emit(&o, (uint8_t[]){ OP_GED, 2, 0, 0, 0 }, 5);
		acc(&o, false, 5, 0, 2, 0);
		acc(&o, true, 4, 0, 0, (5u << 2) | (1u << 5));   /* SLP_TYP 5, SLP_EN */
		acc(&o, true, 4, 2, 0, 0x0e);
		break;
	default:  /* every instruction of the fallback emulator, one after another */
		for (unsigned k = 0; k < sizeof(insns) / sizeof(insns[0]); k++) {
			uint8_t regs[sizeof(struct kvm_regs)] = { 0 };

			emit(&o, (uint8_t[]){ OP_EMULATE }, 1);
			emit(&o, insns[k], 15);
			emit(&o, regs, sizeof(regs));
			emit(&o, (uint8_t[]){ 0 }, 1);
		}
		emit(&o, (uint8_t[]){ OP_CONFIG, 4, 1, 2, 3, 4, OP_BROKEN }, 7);
		break;
	}
	return o.n;
}
