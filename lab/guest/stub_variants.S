/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stub_variants.S: __kernel_vsyscall designs as user-space code, and a
 * harness that calls one with every register under control.
 *
 * Each stub is the design as written, plus one instruction: STUB_PAD_HIT
 * (`movl $1, stub_pad_hit`, no register or flag changes) right where the
 * kernel of that design would come back, so the caller can tell whether the
 * stub's own landing pad ran or the kernel sent it somewhere else (on 6.1:
 * the vDSO's int80_landing_pad). The host strips it before comparing the
 * bytes with lab/model/variants.py.
 *
 *   proposal_2015_*  LKML 2015-08-26 (Lutomirski), exactly as written,
 *                    including `movl 8(%esp),%ecx`; the 3-byte alternative
 *                    site holds sysenter, `syscall; hlt` or nops
 *   shipped_*        arch/x86/entry/vdso/vdso32/system_call.S (4.3 .. 6.1),
 *                    its three ALTERNATIVE_2 outcomes
 *   legacy_*         Linux 4.2 arch/x86/entry/vdso/vdso32/{sysenter,syscall,
 *                    int80}.S, one image per entry method
 */
#define STUB_PAD_HIT	movl $1, stub_pad_hit

#define STUB(name)	.globl stub_##name, stub_##name##_end; .type stub_##name,@function; stub_##name:
#define END(name)	stub_##name##_end: .size stub_##name, .-stub_##name

	.data
	.globl stub_pad_hit, stub_how, stub_got, stub_esp_before
stub_target:	.long 0
stub_esp_before: .long 0
stub_pad_hit:	.long 0
stub_how:	.long 0
stub_got:	.space 36	/* eax ebx ecx edx esi edi ebp eflags esp */

	.text
/*
 * int stub_call(void (*stub)(void), const uint32_t in[8])
 * in = eax ebx ecx edx esi edi ebp eflags, loaded right before
 * `call *stub`. Above the return address the harness leaves two catch
 * addresses: a stub that pops one or two words too many before its `ret`
 * lands on stub_misreturn1/2 instead of running off into the caller's
 * stack. Returns 0 (normal return), 1 or 2 (misreturn); the registers found
 * on return are in stub_got (esp as it was, eflags with DF then cleared).
 */
	.globl stub_call, stub_return_ok, stub_misreturn1, stub_misreturn2
	.type stub_call,@function
stub_call:
	pushl	%ebp
	pushl	%ebx
	pushl	%esi
	pushl	%edi
	movl	20(%esp), %eax
	movl	%eax, stub_target
	movl	24(%esp), %eax
	pushl	$stub_misreturn2
	pushl	$stub_misreturn1
	movl	%esp, stub_esp_before
	pushl	28(%eax)
	popfl
	movl	4(%eax), %ebx
	movl	8(%eax), %ecx
	movl	12(%eax), %edx
	movl	16(%eax), %esi
	movl	20(%eax), %edi
	movl	24(%eax), %ebp
	movl	(%eax), %eax
	call	*stub_target
stub_return_ok:
	movl	$0, stub_how
	jmp	stub_collect
stub_misreturn1:
	movl	$1, stub_how
	jmp	stub_collect
stub_misreturn2:
	movl	$2, stub_how
stub_collect:			/* mov and jmp leave the flags alone */
	movl	%eax, stub_got
	movl	%ebx, stub_got+4
	movl	%ecx, stub_got+8
	movl	%edx, stub_got+12
	movl	%esi, stub_got+16
	movl	%edi, stub_got+20
	movl	%ebp, stub_got+24
	movl	%esp, stub_got+32
	pushfl
	popl	stub_got+28
	cld
	movl	stub_esp_before, %esp
	addl	$8, %esp
	popl	%edi
	popl	%esi
	popl	%ebx
	popl	%ebp
	movl	stub_how, %eax
	ret
	.size stub_call, .-stub_call

/* ---- (a) the 2015 proposal, as written ---- */

STUB(proposal_2015_sysenter)
	pushl	%ecx
	pushl	%edx
	movl	%esp, %edx
	sysenter
	nop			/* alternative site: 3 bytes (syscall; hlt) */
	movl	%edx, %esp
	movl	(%esp), %edx
	movl	8(%esp), %ecx	/* as written: 8(%esp) is the return address */
	int	$0x80
	STUB_PAD_HIT		/* vsyscall_after_int80 */
	popl	%edx
	popl	%ecx
	ret
END(proposal_2015_sysenter)

STUB(proposal_2015_syscall)
	pushl	%ecx
	pushl	%edx
	movl	%esp, %edx
	syscall
	hlt			/* "keep weird binary tracers from utterly screwing up" */
	movl	%edx, %esp
	movl	(%esp), %edx
	movl	8(%esp), %ecx
	int	$0x80
	STUB_PAD_HIT
	popl	%edx
	popl	%ecx
	ret
END(proposal_2015_syscall)

STUB(proposal_2015_int80)
	pushl	%ecx
	pushl	%edx
	movl	%esp, %edx
	nop
	nop
	nop
	movl	%edx, %esp
	movl	(%esp), %edx
	movl	8(%esp), %ecx
	int	$0x80
	STUB_PAD_HIT
	popl	%edx
	popl	%ecx
	ret
END(proposal_2015_int80)

/* ---- (b) the shipped stub (4.3+), its three alternatives ---- */

STUB(shipped_sysenter)
	pushl	%ecx
	pushl	%edx
	pushl	%ebp
	movl	%esp, %ebp
	sysenter
	int	$0x80
	STUB_PAD_HIT		/* int80_landing_pad */
	popl	%ebp
	popl	%edx
	popl	%ecx
	ret
END(shipped_sysenter)

STUB(shipped_syscall)
	pushl	%ecx
	pushl	%edx
	pushl	%ebp
	movl	%ecx, %ebp
	syscall
	int	$0x80
	STUB_PAD_HIT
	popl	%ebp
	popl	%edx
	popl	%ecx
	ret
END(shipped_syscall)

STUB(shipped_int80)
	pushl	%ecx
	pushl	%edx
	pushl	%ebp
	.byte	0x90, 0x90, 0x90, 0x90	/* the unpatched 4-byte site */
	int	$0x80
	STUB_PAD_HIT
	popl	%ebp
	popl	%edx
	popl	%ecx
	ret
END(shipped_int80)

/* ---- (c) Linux 4.2's per-method stubs ---- */

STUB(legacy_sysenter)		/* vdso32/sysenter.S */
	pushl	%ecx
	pushl	%edx
	pushl	%ebp
	movl	%esp, %ebp
	sysenter
	.space	7, 0x90
	int	$0x80		/* restart point (SYSENTER_RETURN - 2) */
	STUB_PAD_HIT		/* VDSO32_SYSENTER_RETURN */
	popl	%ebp
	popl	%edx
	popl	%ecx
	ret
END(legacy_sysenter)

STUB(legacy_syscall)		/* vdso32/syscall.S */
	pushl	%ebp
	movl	%ecx, %ebp
	syscall
	STUB_PAD_HIT		/* where SYSRETL came back on 4.2 */
	movl	%ebp, %ecx
	popl	%ebp
	ret
END(legacy_syscall)

STUB(legacy_int80)		/* vdso32/int80.S */
	int	$0x80
	STUB_PAD_HIT
	ret
END(legacy_int80)

	.section .note.GNU-stack,"",@progbits
