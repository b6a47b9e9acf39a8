/* Decoder and register effects for the fallback instructions of emulate.h. */
#include "emulate.h"

#include <string.h>

#include "le.h"
#include "util.h"

#define RFLAGS_CF (1ULL << 0)
#define RFLAGS_PF (1ULL << 2)
#define RFLAGS_AF (1ULL << 4)
#define RFLAGS_ZF (1ULL << 6)
#define RFLAGS_SF (1ULL << 7)
#define RFLAGS_OF (1ULL << 11)
#define RFLAGS_AC (1ULL << 18)

static bool decode_popcnt(const uint8_t *p, size_t len, struct emu_op *op)
{
	size_t i = 0;
	bool opsize16 = false;
	uint8_t rex = 0, modrm;

	if (i < len && p[i] == 0x66) {
		opsize16 = true;
		i++;
	}
	if (i >= len || p[i++] != 0xf3)
		return false;
	if (i < len && (p[i] & 0xf0) == 0x40)
		rex = p[i++];
	if (i + 3 > len || p[i] != 0x0f || p[i + 1] != 0xb8)
		return false;
	modrm = p[i + 2];
	if ((modrm >> 6) != 3)
		return false;   /* memory operands would need the full address decoder */
	op->kind = EMU_POPCNT;
	op->len = (unsigned)(i + 3);
	op->dst = ((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0);
	op->src = (modrm & 7) | ((rex & 1) ? 8 : 0);
	op->width = (rex & 8) ? 64 : opsize16 ? 16 : 32;
	return true;
}

/* ModRM + SIB + displacement of a memory operand; returns the bytes used or 0 if refused. */
static size_t decode_modrm_mem(const uint8_t *p, size_t len, uint8_t rex, struct emu_mem *m)
{
	uint8_t modrm, mod, rm;
	size_t i = 1;

	if (len < 1)
		return 0;
	modrm = p[0];
	mod = modrm >> 6;
	rm = modrm & 7;
	if (mod == 3)
		return 0;
	*m = (struct emu_mem){ false, -1, -1, 1, 0 };
	if (rm == 4) {
		uint8_t sib;

		if (len < 2)
			return 0;
		sib = p[i++];
		m->scale = 1u << (sib >> 6);
		if ((((sib >> 3) & 7) | ((rex & 2) ? 8 : 0)) != 4)
			m->index = ((sib >> 3) & 7) | ((rex & 2) ? 8 : 0);
		if ((sib & 7) == 5 && mod == 0)
			mod = 2;        /* no base, disp32 */
		else
			m->base = (sib & 7) | ((rex & 1) ? 8 : 0);
	} else if (rm == 5 && mod == 0) {
		m->rip_relative = true;
		mod = 2;
	} else {
		m->base = rm | ((rex & 1) ? 8 : 0);
	}
	if (mod == 1) {
		if (i + 1 > len)
			return 0;
		m->disp = (int8_t)p[i++];
	} else if (mod == 2) {
		if (i + 4 > len)
			return 0;
		m->disp = (int32_t)le_get32(p + i);
		i += 4;
	}
	return i;
}

/* [rex] 0f ae /0../3 with a memory operand: fxsave, fxrstor, ldmxcsr, stmxcsr */
static bool decode_0fae(const uint8_t *p, size_t len, struct emu_op *op)
{
	static const enum emu_kind kinds[4] = { EMU_FXSAVE, EMU_FXRSTOR, EMU_LDMXCSR, EMU_STMXCSR };
	size_t i = 0, n;
	uint8_t rex = 0, reg;

	if (len && (p[0] & 0xf0) == 0x40)
		rex = p[i++];
	if (i + 3 > len || p[i] != 0x0f || p[i + 1] != 0xae)
		return false;
	reg = (p[i + 2] >> 3) & 7;
	if (reg > 3)
		return false;   /* xsave/xrstor/clflush family: not ours */
	n = decode_modrm_mem(p + i + 2, len - i - 2, rex, &op->mem);
	if (!n)
		return false;
	op->kind = kinds[reg];
	op->rex_w = rex & 8;
	op->len = (unsigned)(i + 2 + n);
	return true;
}

bool emu_decode(const uint8_t *p, size_t len, struct emu_op *op)
{
	memset(op, 0, sizeof(*op));
	if (len >= 3 && p[0] == 0x0f && p[1] == 0x01 && (p[2] == 0xca || p[2] == 0xcb)) {
		op->kind = p[2] == 0xca ? EMU_CLAC : EMU_STAC;
		op->len = 3;
		return true;
	}
	if (len >= 1 && (p[0] == 0x9b || p[0] == 0xcc)) {
		op->kind = p[0] == 0x9b ? EMU_FWAIT : EMU_INT3;
		op->len = 1;
		return true;
	}
	return decode_popcnt(p, len, op) || decode_0fae(p, len, op);
}

/* kvm_regs keeps the GPRs in its own order; map x86 register numbers onto it */
static uint64_t *gpr(struct kvm_regs *r, unsigned n)
{
	uint64_t *const map[16] = {
		(uint64_t *)&r->rax, (uint64_t *)&r->rcx, (uint64_t *)&r->rdx, (uint64_t *)&r->rbx,
		(uint64_t *)&r->rsp, (uint64_t *)&r->rbp, (uint64_t *)&r->rsi, (uint64_t *)&r->rdi,
		(uint64_t *)&r->r8, (uint64_t *)&r->r9, (uint64_t *)&r->r10, (uint64_t *)&r->r11,
		(uint64_t *)&r->r12, (uint64_t *)&r->r13, (uint64_t *)&r->r14, (uint64_t *)&r->r15,
	};
	return map[n & 15];
}

static void apply_popcnt(const struct emu_op *op, struct kvm_regs *r)
{
	uint64_t src = *gpr(r, op->src), *dst = gpr(r, op->dst);
	uint64_t mask = op->width == 64 ? ~0ULL : (1ULL << op->width) - 1;
	uint64_t count = (uint64_t)__builtin_popcountll(src & mask);

	if (op->width == 16)
		*dst = (*dst & ~0xffffULL) | count;
	else
		*dst = count;   /* 32-bit results zero-extend into the full register */
	r->rflags &= ~(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF);
	if ((src & mask) == 0)
		r->rflags |= RFLAGS_ZF;
}

bool emu_apply(const struct emu_op *op, struct kvm_regs *r)
{
	r->rip += op->len;
	switch (op->kind) {
	case EMU_CLAC:
		r->rflags &= ~RFLAGS_AC;
		return false;
	case EMU_STAC:
		r->rflags |= RFLAGS_AC;
		return false;
	case EMU_POPCNT:
		apply_popcnt(op, r);
		return false;
	case EMU_INT3:
		return true;
	default:
		/* fwait is a no-op here; memory forms are completed by the caller */
		return false;
	}
}

const char *emu_name(enum emu_kind k)
{
	static const char *const names[] = {
		[EMU_NONE] = "none", [EMU_CLAC] = "clac", [EMU_STAC] = "stac",
		[EMU_FWAIT] = "fwait", [EMU_INT3] = "int3", [EMU_POPCNT] = "popcnt",
		[EMU_FXSAVE] = "fxsave", [EMU_FXRSTOR] = "fxrstor", [EMU_LDMXCSR] = "ldmxcsr",
		[EMU_STMXCSR] = "stmxcsr",
	};
	return k < ARRAY_SIZE(names) ? names[k] : "?";
}

uint64_t emu_mem_addr(const struct emu_op *op, const struct kvm_regs *regs)
{
	struct kvm_regs r = *regs;
	uint64_t a = (uint64_t)op->mem.disp;

	if (op->mem.rip_relative)
		a += regs->rip + op->len;
	if (op->mem.base >= 0)
		a += *gpr(&r, (unsigned)op->mem.base);
	if (op->mem.index >= 0)
		a += *gpr(&r, (unsigned)op->mem.index) * op->mem.scale;
	return a;
}

unsigned emu_mem_len(const struct emu_op *op)
{
	switch (op->kind) {
	case EMU_FXSAVE:
	case EMU_FXRSTOR:
		return EMU_FXSAVE_SIZE;
	case EMU_LDMXCSR:
	case EMU_STMXCSR:
		return 4;
	default:
		return 0;
	}
}

/* Layout: Intel SDM Vol. 1, 10.5.1 "FXSAVE Area" (64-bit and legacy forms of FIP/FDP). */
#define FX_MXCSR_MASK 0xffffu

void emu_fxsave_image(const struct kvm_fpu *f, bool rex_w, uint8_t out[EMU_FXSAVE_SIZE])
{
	memset(out, 0, EMU_FXSAVE_SIZE);
	le_put16(out + 0, f->fcw);
	le_put16(out + 2, f->fsw);
	out[4] = f->ftwx;
	le_put16(out + 6, f->last_opcode);
	if (rex_w) {
		le_put64(out + 8, f->last_ip);
		le_put64(out + 16, f->last_dp);
	} else {
		le_put32(out + 8, (uint32_t)f->last_ip);
		le_put32(out + 16, (uint32_t)f->last_dp);
	}
	le_put32(out + 24, f->mxcsr);
	le_put32(out + 28, FX_MXCSR_MASK);
	for (unsigned i = 0; i < 8; i++)
		memcpy(out + 32 + 16 * i, f->fpr[i], 10);
	for (unsigned i = 0; i < 16; i++)
		memcpy(out + 160 + 16 * i, f->xmm[i], 16);
}

void emu_fxrstor_image(const uint8_t in[EMU_FXSAVE_SIZE], bool rex_w, struct kvm_fpu *f)
{
	f->fcw = le_get16(in + 0);
	f->fsw = le_get16(in + 2);
	f->ftwx = in[4];
	f->last_opcode = le_get16(in + 6);
	f->last_ip = rex_w ? le_get64(in + 8) : le_get32(in + 8);
	f->last_dp = rex_w ? le_get64(in + 16) : le_get32(in + 16);
	f->mxcsr = le_get32(in + 24) & FX_MXCSR_MASK;
	for (unsigned i = 0; i < 8; i++) {
		memset(f->fpr[i], 0, 16);
		memcpy(f->fpr[i], in + 32 + 16 * i, 10);
	}
	for (unsigned i = 0; i < 16; i++)
		memcpy(f->xmm[i], in + 160 + 16 * i, 16);
}
