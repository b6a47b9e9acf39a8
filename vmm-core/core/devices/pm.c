/*
 * The hardware-reduced ACPI power-management port that the FADT points at: sleep control
 * (offset 0, SLP_TYP = S5 with SLP_EN powers the VM off), sleep status (offset 1,
 * write-1-to-clear) and the reset register (offset 2, ACPI_PM_RESET_VALUE resets).
 *
 * The FADT declares each register 8 bits wide; a wider access acts on its first byte only
 * and the other bytes of a read are zero.
 */
#include "devices.h"

#include <string.h>
#include "layout.h"

#define PM_SLEEP_CTL 0
#define PM_SLEEP_STS 1
#define PM_RESET     2

#define SLP_EN       0x20
#define SLP_TYP(v)   (((v) >> 2) & 7)

static uint8_t pm_read(void *opaque, uint64_t offset)
{
	struct acpi_pm *p = opaque;

	/* no lock: the state is one byte, accessed atomically */
	return offset == PM_SLEEP_STS ? __atomic_load_n(&p->sleep_sts, __ATOMIC_SEQ_CST) : 0;
}

static void request(struct acpi_pm *p, enum vm_exit_reason why)
{
	if (p->ctl.request_exit)
		p->ctl.request_exit(p->ctl.opaque, why);
}

static void pm_write(void *opaque, uint64_t offset, uint8_t v)
{
	struct acpi_pm *p = opaque;

	switch (offset) {
	case PM_SLEEP_CTL:
		/* only S5 is offered by the DSDT; other sleep states would need resume support */
		if ((v & SLP_EN) && SLP_TYP(v) == ACPI_S5_SLP_TYP)
			request(p, VM_EXIT_POWEROFF);
		break;
	case PM_SLEEP_STS:
		__atomic_fetch_and(&p->sleep_sts, (uint8_t)~v, __ATOMIC_SEQ_CST);
		break;
	case PM_RESET:
		if (v == ACPI_PM_RESET_VALUE)
			request(p, VM_EXIT_RESET);
		break;
	default:
		break;
	}
}

const struct bus_dev_ops acpi_pm_ops = {
	.read8 = pm_read,
	.write8 = pm_write,
};

void acpi_pm_init(struct acpi_pm *p, struct vm_ctl ctl)
{
	memset(p, 0, sizeof(*p));
	p->ctl = ctl;
}
