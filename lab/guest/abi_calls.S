/* SPDX-License-Identifier: GPL-2.0 */
/*
 * abi_calls.S: make one system call with every register under control and
 * capture every register afterwards (the entry-abi suite; see abi_calls.h).
 *
 * abi_call() loads abi_in completely -- general registers, esp, eflags and
 * all six segment registers (cs via a far jump) -- then either executes an
 * inline `int $0x80` (abi_target == 0) or does `call *abi_target` (AT_SYSINFO,
 * the __kernel_vsyscall symbol, or abi_glibc_thunk). Right after the call it
 * stores everything into abi_out before touching a single register or flag,
 * then restores the caller's world from static storage. Nothing in between
 * depends on the stack or on the segment registers being the usual ones:
 * only absolute addresses are used, and every loaded segment is flat.
 *
 * Like raw_syscall_helper_32.S in tools/testing/selftests/x86, but wider.
 */

#define R_EAX		0
#define R_EBX		4
#define R_ECX		8
#define R_EDX		12
#define R_ESI		16
#define R_EDI		20
#define R_EBP		24
#define R_ESP		28
#define R_EFLAGS	32
#define R_CS		36
#define R_SS		40
#define R_DS		44
#define R_ES		48
#define R_FS		52
#define R_GS		56

	.data
	.balign 4
	.globl abi_in, abi_out, abi_eff_eflags, abi_target, abi_resumed
	.globl abi_glibc_fn, abi_args
abi_in:		.space 60	/* struct abi_regs: what to load */
abi_out:	.space 60	/* struct abi_regs: what came back */
abi_eff_eflags:	.long 0		/* eflags as they really were before the call */
abi_target:	.long 0		/* 0: inline int $0x80, else the address to call */
abi_resumed:	.long 0		/* 1: we came back through abi_resume */
abi_glibc_fn:	.long 0		/* abi_glibc_thunk calls this ... */
abi_args:	.space 24	/* ... with these six stack arguments */
saved_esp:	.long 0
saved_cs:	.long 0
saved_ss:	.long 0
saved_ds:	.long 0
saved_es:	.long 0
saved_fs:	.long 0
saved_gs:	.long 0
far_ptr:	.long 0		/* offset:selector for ljmp */
		.word 0, 0

	.text
	.globl abi_call
	.type abi_call, @function
abi_call:
	pushl	%ebp
	pushl	%ebx
	pushl	%esi
	pushl	%edi
	pushfl
	movl	%esp, saved_esp
	movw	%cs, saved_cs
	movw	%ss, saved_ss
	movw	%ds, saved_ds
	movw	%es, saved_es
	movw	%fs, saved_fs
	movw	%gs, saved_gs
	movl	$0, abi_resumed

	/*
	 * Switch to abi_in.cs: a far jump to the next instruction. Not lret:
	 * QEMU 7.2's TCG pops a far return's stack with supervisor accesses,
	 * which SMAP refuses (qemu issue #249, fixed in 9.1); a guest kernel
	 * with SMAP on oopses at that lret. ljmp does not touch the stack.
	 */
	movl	$1f, far_ptr
	movw	abi_in + R_CS, %ax
	movw	%ax, far_ptr + 4
	ljmp	*far_ptr
1:	movw	abi_in + R_SS, %ss
	movl	abi_in + R_ESP, %esp
	movw	abi_in + R_ES, %es
	movw	abi_in + R_FS, %fs
	movw	abi_in + R_GS, %gs
	movw	abi_in + R_DS, %ds
	cmpl	$0, abi_target
	je	2f

	/* call *abi_target: __kernel_vsyscall (or the glibc thunk) */
	pushl	abi_in + R_EFLAGS
	popfl
	pushfl
	popl	abi_eff_eflags
	movl	abi_in + R_EBX, %ebx
	movl	abi_in + R_ECX, %ecx
	movl	abi_in + R_EDX, %edx
	movl	abi_in + R_ESI, %esi
	movl	abi_in + R_EDI, %edi
	movl	abi_in + R_EBP, %ebp
	movl	abi_in + R_EAX, %eax
	call	*abi_target
	jmp	.Lsave

	/* inline int $0x80 */
2:	pushl	abi_in + R_EFLAGS
	popfl
	pushfl
	popl	abi_eff_eflags
	movl	abi_in + R_EBX, %ebx
	movl	abi_in + R_ECX, %ecx
	movl	abi_in + R_EDX, %edx
	movl	abi_in + R_ESI, %esi
	movl	abi_in + R_EDI, %edi
	movl	abi_in + R_EBP, %ebp
	movl	abi_in + R_EAX, %eax
	.globl abi_int80_insn
abi_int80_insn:
	int	$0x80
	.globl abi_after_int80
abi_after_int80:
	jmp	.Lsave

	/*
	 * A signal handler may point the saved eip here (sigreturn-modify):
	 * record that, then save exactly like a normal return.
	 */
	.globl abi_resume
abi_resume:
	movl	$1, abi_resumed

	/* mov and push/pop change no flag: eflags are still the call's. */
.Lsave:
	movl	%eax, abi_out + R_EAX
	movl	%ebx, abi_out + R_EBX
	movl	%ecx, abi_out + R_ECX
	movl	%edx, abi_out + R_EDX
	movl	%esi, abi_out + R_ESI
	movl	%edi, abi_out + R_EDI
	movl	%ebp, abi_out + R_EBP
	movl	%esp, abi_out + R_ESP
	movl	$0, abi_out + R_CS
	movl	$0, abi_out + R_SS
	movl	$0, abi_out + R_DS
	movl	$0, abi_out + R_ES
	movl	$0, abi_out + R_FS
	movl	$0, abi_out + R_GS
	movw	%cs, abi_out + R_CS
	movw	%ss, abi_out + R_SS
	movw	%ds, abi_out + R_DS
	movw	%es, abi_out + R_ES
	movw	%fs, abi_out + R_FS
	movw	%gs, abi_out + R_GS
	pushfl
	popl	abi_out + R_EFLAGS

	/* Back to the caller's stack, segments and cs, then its eflags. */
	movw	saved_ss, %ss
	movl	saved_esp, %esp
	movw	saved_ds, %ds
	movw	saved_es, %es
	movw	saved_fs, %fs
	movw	saved_gs, %gs
	movl	$3f, far_ptr		/* mov: no flag changes */
	movl	saved_cs, %eax
	movw	%ax, far_ptr + 4
	ljmp	*far_ptr
3:	popfl
	popl	%edi
	popl	%esi
	popl	%ebx
	popl	%ebp
	ret
	.size abi_call, .-abi_call

/*
 * glibc's path: abi_target = abi_glibc_thunk calls abi_glibc_fn (e.g. glibc's
 * syscall()) as a C function, with abi_in.eax and abi_args[0..5] as its
 * stack arguments. The registers abi_call loaded are live across the call,
 * so what the caller gets back in callee-saved registers is glibc's doing.
 */
	.globl abi_glibc_thunk
	.type abi_glibc_thunk, @function
abi_glibc_thunk:
	pushl	abi_args + 20
	pushl	abi_args + 16
	pushl	abi_args + 12
	pushl	abi_args + 8
	pushl	abi_args + 4
	pushl	abi_args + 0
	pushl	abi_in + R_EAX
	call	*abi_glibc_fn
	leal	28(%esp), %esp		/* lea: leaves eflags alone */
	ret
	.size abi_glibc_thunk, .-abi_glibc_thunk

	.section .note.GNU-stack, "", %progbits
