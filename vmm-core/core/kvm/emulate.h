/* Included by bulkhead-core only (sandboxed). */
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
	EMU_FXSAVE,      /* [rex] 0f ae /0, memory operand: 512-byte image of the FPU/SSE state */
	EMU_FXRSTOR,     /* [rex] 0f ae /1 */
	EMU_LDMXCSR,     /* [rex] 0f ae /2: MXCSR from a 32-bit memory operand */
	EMU_STMXCSR,     /* [rex] 0f ae /3 */
	EMU_KIND_MAX,
};

/* A ModRM memory operand in 64-bit mode: base + index * scale + disp (+ next RIP). */
struct emu_mem {
	bool rip_relative;
	int base, index;     /* register numbers 0-15, -1 for none */
	unsigned scale;
	int64_t disp;
};

#define EMU_FXSAVE_SIZE 512

struct emu_op {
	enum emu_kind kind;
	unsigned len;    /* instruction length in bytes */
	unsigned dst, src;   /* popcnt: register numbers 0-15 (x86 encoding order) */
	unsigned width;  /* popcnt: 16, 32 or 64 */
	bool rex_w;      /* fxsave64/fxrstor64: 64-bit FPU IP/DP fields */
	struct emu_mem mem;  /* fxsave/fxrstor/ldmxcsr/stmxcsr */
};

/* Decode insn[0..len). Returns false for anything this fallback does not handle. */
bool emu_decode(const uint8_t *insn, size_t len, struct emu_op *op);
/* Apply op to regs (RIP advanced past the instruction). Returns true when the vCPU must also
 * receive a #BP (EMU_INT3). */
bool emu_apply(const struct emu_op *op, struct kvm_regs *regs);
const char *emu_name(enum emu_kind k);

/* Linear address of op's memory operand, given the registers before the instruction. */
uint64_t emu_mem_addr(const struct emu_op *op, const struct kvm_regs *regs);
/* Bytes the memory operand covers (512 for fxsave/fxrstor, 4 for ldmxcsr/stmxcsr, else 0). */
unsigned emu_mem_len(const struct emu_op *op);
/* FXSAVE image of fpu (rex_w: the 64-bit layout of FIP/FDP), and the reverse for FXRSTOR. */
void emu_fxsave_image(const struct kvm_fpu *fpu, bool rex_w, uint8_t out[EMU_FXSAVE_SIZE]);
void emu_fxrstor_image(const uint8_t in[EMU_FXSAVE_SIZE], bool rex_w, struct kvm_fpu *fpu);

#endif
