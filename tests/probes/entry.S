/* Ring-0 part of the probes: the 64-bit entry, our GDT/TSS/IDT, static page tables, the
 * interrupt stubs and the AP trampoline. Everything the CPU reads from memory is laid out at
 * assembly time (.rept, absolute addresses from probe-layout.h) because guest ring 0 is
 * emulated here (~1.5 us per instruction): the boot CPU runs about 25 ring-0 instructions and
 * then drops to ring 3, where the checks run natively. */
#include "probe-layout.h"

	.section .boot, "awx"
	.code64
	.globl _start
_start:
	/* RSI = struct boot_params (Linux 64-bit boot protocol) */
	movq	%rsi, probe_boot_params
	/* Our page tables set the User bit everywhere so ring 3 can reach the LAPIC and the
	 * firmware tables; SMEP/SMAP would then forbid ring 0 to run or touch this image. */
	movq	%cr4, %rax
	andq	$~0x300000, %rax
	movq	%rax, %cr4
	lgdt	gdt_ptr
	lidt	idt_ptr
	movl	$PROBE_PML4, %eax
	movq	%rax, %cr3
	movl	$SEL_KDATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	pushq	$SEL_KCODE
	pushq	$1f
	lretq
1:	movl	$SEL_TSS, %eax
	ltr	%ax
	movq	$probe_kstack_top, %rsp
	/* iretq to ring 3 with IOPL 3 and interrupts off */
	pushq	$SEL_UDATA
	pushq	$probe_ustack_top
	pushq	$PROBE_USER_RFLAGS
	pushq	$SEL_UCODE
	pushq	$probe_user_entry
	iretq

	/* Common interrupt path: save the GPRs, hand the frame to C (which prints the vector
	 * and powers off, so a fault never becomes a silent hang). */
trap_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	movq	%cr2, %rsi
	cld
	call	probe_trap
2:	cli
	hlt
	jmp	2b

	/* #GP: this KVM runs ring 3 with the hardware IOPL forced to 0 whatever RFLAGS we iretq
	 * with, so "outb %al,%dx" (0xee) and "inb %dx,%al" (0xec) in ring 3 fault. Perform them
	 * here and step over them: about ten emulated instructions per port access. (A DPL-3
	 * "int $n" service gate was tried first: it raised #UD in ring 3.) Anything else is a
	 * real #GP and goes to trap_common. */
gp_entry:
	testb	$3, 16(%rsp)			/* CS of the frame: err, rip, cs */
	jz	7f
	pushq	%rsi
	movq	16(%rsp), %rsi			/* rsi, err, rip */
	cmpb	$0xee, (%rsi)
	jne	6f
	outb	%al, %dx
	jmp	5f
6:	cmpb	$0xec, (%rsi)
	jne	8f
	inb	%dx, %al
5:	incq	16(%rsp)
	popq	%rsi
	addq	$8, %rsp			/* drop the error code */
	iretq
8:	popq	%rsi
7:	pushq	$13
	jmp	trap_common

gdt_ptr:
	.word	0x37
	.quad	PROBE_GDT
idt_ptr:
	.word	256 * 16 - 1
	.quad	PROBE_IDT

	/* 256 stubs at PROBE_STUBS + 16 * vector; vectors without a CPU error code push 0 */
	.org	PROBE_STUBS - PROBE_BASE
	.set	vec, 0
	.rept	256
	.org	PROBE_STUBS - PROBE_BASE + vec * PROBE_STUB_SIZE
	.set	haserr, (vec == 8) | ((vec >= 10) & (vec <= 14)) | (vec == 17) | (vec == 21) | (vec == 29) | (vec == 30)
	.if	vec == 13
	jmp	gp_entry
	.else
	.ifeq	haserr
	pushq	$0
	.endif
	pushq	$vec
	jmp	trap_common
	.endif
	.set	vec, vec + 1
	.endr

	/* IDT: interrupt gates (0x8e, DPL 0) to the stubs, kernel code selector, no IST */
	.org	PROBE_IDT - PROBE_BASE
	.set	vec, 0
	.rept	256
	.set	h, PROBE_STUBS + vec * PROBE_STUB_SIZE
	.quad	(h & 0xffff) | (SEL_KCODE << 16) | (0x8e << 40) | ((h >> 16) << 48)
	.quad	0
	.set	vec, vec + 1
	.endr

	/* GDT: null, kernel code64, kernel data, user data, user code64, TSS (16 bytes) */
	.org	PROBE_GDT - PROBE_BASE
	.quad	0
	.quad	0x00af9a000000ffff
	.quad	0x00cf92000000ffff
	.quad	0x00cff2000000ffff
	.quad	0x00affa000000ffff
	.quad	PROBE_TSS_LIMIT | ((PROBE_TSS & 0xffff) << 16) | (((PROBE_TSS >> 16) & 0xff) << 32) | (0x89 << 40) | (((PROBE_TSS >> 24) & 0xff) << 56)
	.quad	0

	/* TSS: RSP0 is where the CPU switches to when ring 3 takes an interrupt. The I/O bitmap
	 * offset points past the limit: no bitmap, IOPL alone decides. */
	.org	PROBE_TSS - PROBE_BASE
	.long	0
	.quad	probe_kstack_top
	.fill	0x66 - 12, 1, 0
	.word	0x68

	.org	PROBE_AP_COUNT - PROBE_BASE
	.long	0
	.long	0

	/* Identity map of 0..4 GiB with 2 MiB pages, Present|RW|User (0x7; PS for 2 MiB) */
	.org	PROBE_PML4 - PROBE_BASE
	.quad	PROBE_PDPT | 0x7
	.fill	511, 8, 0
	.org	PROBE_PDPT - PROBE_BASE
	.quad	(PROBE_PD + 0x0000) | 0x7
	.quad	(PROBE_PD + 0x1000) | 0x7
	.quad	(PROBE_PD + 0x2000) | 0x7
	.quad	(PROBE_PD + 0x3000) | 0x7
	.fill	508, 8, 0
	.org	PROBE_PD - PROBE_BASE
	.set	pa, 0
	.rept	2048
	.quad	pa | 0x87
	.set	pa, pa + 0x200000
	.endr
	.org	PROBE_END_FIXED - PROBE_BASE

	.text
	/* Ring 3 starts here with the user stack set up by the iretq above */
	.globl	probe_user_entry
probe_user_entry:
	movq	probe_boot_params, %rdi
	call	probe_main
3:	call	probe_poweroff
	jmp	3b

	/* AP trampoline, copied to PROBE_TRAMP by the BSP and started by SIPI in real mode
	 * (CS = PROBE_TRAMP >> 4, IP = 0). It goes straight to long mode with our page tables,
	 * counts itself and halts. Only position-independent 16-bit code before the far jump. */
	.globl	probe_tramp_start, probe_tramp_end, probe_tramp_real
	.code16
probe_tramp_start:
	cli
	movw	%cs, %ax
	movw	%ax, %ds
	/* count APs that ran real-mode code at all: tells "SIPI did nothing" from "stuck later" */
	lock incw	(probe_tramp_real - probe_tramp_start)
	lgdtl	(tramp_gdtp - probe_tramp_start)
	lidtl	(tramp_idtp - probe_tramp_start)
	movl	$0x20, %eax			/* CR4.PAE */
	movl	%eax, %cr4
	movl	$PROBE_PML4, %eax
	movl	%eax, %cr3
	movl	$0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	orl	$0x100, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$0x80000001, %eax		/* PG | PE */
	movl	%eax, %cr0
	ljmpl	$SEL_KCODE, $(PROBE_TRAMP + tramp64 - probe_tramp_start)
	.code64
tramp64:
	movl	$SEL_KDATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	/* a private stack, only used if this AP takes an exception */
	movl	$1, %eax
	lock xaddl	%eax, PROBE_AP_NEXT
	andl	$0xff, %eax
	incl	%eax
	shll	$10, %eax
	addq	$probe_ap_stacks, %rax
	movq	%rax, %rsp
	lock incl	PROBE_AP_COUNT
4:	cli
	hlt
	jmp	4b
	.balign	4
tramp_gdtp:
	.word	0x37
	.long	PROBE_GDT
tramp_idtp:
	.word	256 * 16 - 1
	.long	PROBE_IDT
probe_tramp_real:
	.word	0
probe_tramp_end:

	.bss
	.balign	16
	.globl	probe_boot_params
probe_boot_params:
	.quad	0
	.balign	4096
	.space	8192
probe_kstack_top:
	.space	65536
probe_ustack_top:
	.globl	probe_ap_stacks
probe_ap_stacks:
	.space	256 * 1024 + 1024

	.section .note.GNU-stack, "", @progbits
