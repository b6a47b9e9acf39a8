/* Fallback emulation of the few instructions some KVM implementations cannot emulate in guest
 * ring 0 (seen on PVM: clac, stac, int3, fwait, popcnt). Used only when KVM_RUN reports an
 * emulation failure; the decoder and register updates are pure so they can be unit-tested. */
#ifndef BULKHEAD_EMULATE_H
#define BULKHEAD_EMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

enum emu_kind {
	EMU_NONE = 0,
	EMU_CLAC,        /* 0f 01 ca: clear RFLAGS.AC */
	EMU_STAC,        /* 0f 01 cb: set RFLAGS.AC */
	EMU_FWAIT,       /* 9b: no unmasked x87 exception can be pending in our guests' use; a no-op */
	EMU_INT3,        /* cc: inject #BP with RIP after the instruction (a trap) */
	EMU_POPCNT,      /* f3 [rex] 0f b8 /r, register source only */
};

struct emu_op {
	enum emu_kind kind;
	unsigned len;    /* instruction length in bytes */
	unsigned dst, src;   /* popcnt: register numbers 0-15 (x86 encoding order) */
	unsigned width;  /* popcnt: 16, 32 or 64 */
};

/* Decode insn[0..len). Returns false for anything this fallback does not handle. */
bool emu_decode(const uint8_t *insn, size_t len, struct emu_op *op);
/* Apply op to regs (RIP advanced past the instruction). Returns true when the vCPU must also
 * receive a #BP (EMU_INT3). */
bool emu_apply(const struct emu_op *op, struct kvm_regs *regs);
const char *emu_name(enum emu_kind k);

#endif
