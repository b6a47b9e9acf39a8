/* Decoder and register effects for the fallback instructions of emulate.h. */
#include "emulate.h"

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

bool emu_decode(const uint8_t *p, size_t len, struct emu_op *op)
{
	*op = (struct emu_op){ EMU_NONE, 0, 0, 0, 0 };
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
	return decode_popcnt(p, len, op);
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
	case EMU_FWAIT:
	case EMU_NONE:
	default:
		return false;
	}
}

const char *emu_name(enum emu_kind k)
{
	static const char *const names[] = {
		[EMU_NONE] = "none", [EMU_CLAC] = "clac", [EMU_STAC] = "stac",
		[EMU_FWAIT] = "fwait", [EMU_INT3] = "int3", [EMU_POPCNT] = "popcnt",
	};
	return k < ARRAY_SIZE(names) ? names[k] : "?";
}
