/* Unit tests for the fallback instruction emulator (vmm-core/core/kvm/emulate.c): decoding and
 * register/FPU effects, without KVM. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emulate.h"

Test(emulate, decodes_only_what_it_can_apply)
{
	struct emu_op op;

	cr_assert(emu_decode((const uint8_t *)"\x0f\x01\xca", 3, &op));
	cr_assert_eq(op.kind, EMU_CLAC);
	cr_assert_eq(op.len, 3);
	cr_assert(emu_decode((const uint8_t *)"\x0f\x01\xcb", 3, &op));
	cr_assert_eq(op.kind, EMU_STAC);
	cr_assert_not(emu_decode((const uint8_t *)"\x0f\x01", 2, &op), "truncated");
	cr_assert_not(emu_decode((const uint8_t *)"\x0f\x01\xcc", 3, &op));
	cr_assert_not(emu_decode((const uint8_t *)"\xf0\x48\x0f\xc7\x4d\x20", 6, &op),
		      "cmpxchg16b is not emulated: the VM must stop with a diagnosis");
	/* popcnt %rdi,%rax = f3 48 0f b8 c7 */
	cr_assert(emu_decode((const uint8_t *)"\xf3\x48\x0f\xb8\xc7", 5, &op));
	cr_assert_eq(op.kind, EMU_POPCNT);
	cr_assert_eq(op.len, 5);
	cr_assert_eq(op.dst, 0);
	cr_assert_eq(op.src, 7);
	cr_assert_eq(op.width, 64);
	/* popcnt %r9d,%r10d = f3 45 0f b8 d1 */
	cr_assert(emu_decode((const uint8_t *)"\xf3\x45\x0f\xb8\xd1", 5, &op));
	cr_assert_eq(op.dst, 10);
	cr_assert_eq(op.src, 9);
	cr_assert_eq(op.width, 32);
	cr_assert_not(emu_decode((const uint8_t *)"\xf3\x48\x0f\xb8\x07", 5, &op),
		      "memory operand is refused, not guessed");
}

Test(emulate, applies_register_effects)
{
	struct kvm_regs r = { .rip = 0x1000, .rflags = 0x2 | (1ULL << 6) };
	struct emu_op op;

	emu_decode((const uint8_t *)"\x0f\x01\xcb", 3, &op);
	cr_assert_not(emu_apply(&op, &r));
	cr_assert(r.rflags & (1ULL << 18), "stac sets AC");
	cr_assert_eq(r.rip, 0x1003);
	emu_decode((const uint8_t *)"\x0f\x01\xca", 3, &op);
	emu_apply(&op, &r);
	cr_assert_not(r.rflags & (1ULL << 18), "clac clears AC");
	emu_decode((const uint8_t *)"\xcc", 1, &op);
	cr_assert(emu_apply(&op, &r), "int3 asks for #BP");
	cr_assert_eq(r.rip, 0x1007, "#BP is a trap: RIP after the instruction");
	r.rdi = 0xf0f0000000000001ULL;
	r.rax = 0xdead;
	emu_decode((const uint8_t *)"\xf3\x48\x0f\xb8\xc7", 5, &op);
	emu_apply(&op, &r);
	cr_assert_eq(r.rax, 9);
	cr_assert_not(r.rflags & (1ULL << 6), "ZF clear for a non-zero source");
	r.r9 = 0xffffffff00000000ULL;
	r.r10 = ~0ULL;
	emu_decode((const uint8_t *)"\xf3\x45\x0f\xb8\xd1", 5, &op);
	emu_apply(&op, &r);
	cr_assert_eq(r.r10, 0, "32-bit popcnt sees only the low half and zero-extends");
	cr_assert(r.rflags & (1ULL << 6), "ZF set for a zero source");
}

Test(emulate, decodes_fpu_memory_operands)
{
	struct kvm_regs r = { .rip = 0x1000, .rsp = 0x8000, .rbx = 0x100, .r12 = 0x40 };
	struct emu_op op;

	/* ldmxcsr 0x4(%rsp) = 0f ae 54 24 04 (the instruction a Debian 6.1 kernel stopped on) */
	cr_assert(emu_decode((const uint8_t *)"\x0f\xae\x54\x24\x04", 5, &op));
	cr_assert_eq(op.kind, EMU_LDMXCSR);
	cr_assert_eq(op.len, 5);
	cr_assert_eq(emu_mem_addr(&op, &r), 0x8004);
	cr_assert_eq(emu_mem_len(&op), 4);
	/* fxsave64 (%rbx) = 48 0f ae 03 */
	cr_assert(emu_decode((const uint8_t *)"\x48\x0f\xae\x03", 4, &op));
	cr_assert_eq(op.kind, EMU_FXSAVE);
	cr_assert(op.rex_w);
	cr_assert_eq(emu_mem_addr(&op, &r), 0x100);
	cr_assert_eq(emu_mem_len(&op), 512);
	/* fxrstor 0x10(%rbx,%r12,8) = 42 0f ae 4c e3 10 (REX.X extends the index) */
	cr_assert(emu_decode((const uint8_t *)"\x42\x0f\xae\x4c\xe3\x10", 6, &op));
	cr_assert_eq(op.kind, EMU_FXRSTOR);
	cr_assert_eq(emu_mem_addr(&op, &r), 0x100 + 0x40 * 8 + 0x10);
	/* stmxcsr 0x20(%rip) = 0f ae 1d 20 00 00 00: relative to the next instruction */
	cr_assert(emu_decode((const uint8_t *)"\x0f\xae\x1d\x20\x00\x00\x00", 7, &op));
	cr_assert_eq(op.kind, EMU_STMXCSR);
	cr_assert_eq(emu_mem_addr(&op, &r), 0x1000 + 7 + 0x20);
	cr_assert_not(emu_decode((const uint8_t *)"\x0f\xae\x6c\x24", 4, &op), "xrstor is refused");
	cr_assert_not(emu_decode((const uint8_t *)"\x0f\xae\x54\x24", 4, &op), "truncated displacement");
	cr_assert_not(emu_decode((const uint8_t *)"\x0f\xae\xd0", 3, &op), "register form");
}

Test(emulate, fxsave_image_round_trip)
{
	struct kvm_fpu a = { .fcw = 0x37f, .fsw = 0x1234, .ftwx = 0x81, .last_opcode = 0x7ff,
			     .last_ip = 0xffffffff81000000ULL, .last_dp = 0x1122334455ULL,
			     .mxcsr = 0x1f80 }, b;
	uint8_t img[EMU_FXSAVE_SIZE];

	for (unsigned i = 0; i < 8; i++)
		memset(a.fpr[i], (int)(0x10 + i), 10);
	for (unsigned i = 0; i < 16; i++)
		memset(a.xmm[i], (int)(0x80 + i), 16);
	emu_fxsave_image(&a, true, img);
	cr_assert_eq(img[0], 0x7f);
	cr_assert_eq(img[24], 0x80, "MXCSR at offset 24");
	cr_assert_eq(img[25], 0x1f);
	cr_assert_eq(img[32 + 16 * 3], 0x13, "ST3 at 32 + 16*3");
	cr_assert_eq(img[160 + 16 * 15 + 15], 0x8f, "XMM15 ends at 415");
	memset(&b, 0xee, sizeof(b));
	emu_fxrstor_image(img, true, &b);
	cr_assert_eq(b.fcw, a.fcw);
	cr_assert_eq(b.fsw, a.fsw);
	cr_assert_eq(b.ftwx, a.ftwx);
	cr_assert_eq(b.last_ip, a.last_ip);
	cr_assert_eq(b.mxcsr, a.mxcsr);
	cr_assert_arr_eq(b.fpr, a.fpr, sizeof(a.fpr));
	cr_assert_arr_eq(b.xmm, a.xmm, sizeof(a.xmm));
	emu_fxsave_image(&a, false, img);
	emu_fxrstor_image(img, false, &b);
	cr_assert_eq(b.last_ip, 0x81000000ULL, "the legacy form keeps 32 bits of FIP");
}
