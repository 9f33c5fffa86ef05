/* SPDX-License-Identifier: GPL-2.0 */
/*
 * abi_calls.h: the four ways a 32-bit program can make a system call, with
 * every register under control (entry-abi suite; the code is abi_calls.S,
 * linked in with `// entrylab-cflags: abi_calls.S`).
 *
 *   int80       inline `int $0x80`
 *   at_sysinfo  call *getauxval(AT_SYSINFO)
 *   vdso_sym    call *__kernel_vsyscall, looked up in the vDSO's .dynsym
 *   glibc       glibc's syscall(), which itself does `call *%gs:0x10`
 *               (static glibc 2.36: the TCB copy of AT_SYSINFO)
 *
 * Fill abi_in (abi_setup() gives the caller's own segments and a private
 * stack), pick a path with abi_use_path(), call abi_call(), read abi_out.
 */
#ifndef ABI_CALLS_H
#define ABI_CALLS_H

#include <asm/ldt.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "entrylab.h"

struct abi_regs {
	uint32_t eax, ebx, ecx, edx, esi, edi, ebp, esp;
	uint32_t eflags;
	uint32_t cs, ss, ds, es, fs, gs;
};
/* abi_calls.S hard-codes these offsets. */
_Static_assert(offsetof(struct abi_regs, eflags) == 32, "abi_regs layout");
_Static_assert(offsetof(struct abi_regs, gs) == 56, "abi_regs layout");

extern struct abi_regs abi_in, abi_out;
extern uint32_t abi_eff_eflags, abi_target, abi_resumed, abi_glibc_fn;
extern uint32_t abi_args[6];
void abi_call(void);
/* Code addresses inside abi_call / the thunk (for ptrace and ucontext). */
extern const char abi_int80_insn[], abi_after_int80[], abi_resume[];
void abi_glibc_thunk(void);

enum abi_path { ABI_INT80, ABI_AT_SYSINFO, ABI_VDSO_SYM, ABI_GLIBC, ABI_NPATHS };
static const char *const abi_path_name[ABI_NPATHS] = {
	"int80", "at_sysinfo", "vdso_sym", "glibc",
};

/* EFLAGS bits (Intel SDM vol. 1, 3.4.3). */
#define ABI_CF 0x0001u
#define ABI_PF 0x0004u
#define ABI_AF 0x0010u
#define ABI_ZF 0x0040u
#define ABI_SF 0x0080u
#define ABI_TF 0x0100u
#define ABI_IF 0x0200u
#define ABI_DF 0x0400u
#define ABI_OF 0x0800u
#define ABI_NT 0x4000u
#define ABI_AC 0x40000u
#define ABI_FIXED 0x0002u

/* A private stack, so that esp can hold a chosen value. */
static unsigned char abi_stack[65536] __attribute__((aligned(16)));
#define ABI_STACK_TOP ((uint32_t)(uintptr_t)(abi_stack + sizeof(abi_stack) - 0x1234) & ~3u)

static inline uint32_t abi_eflags_now(void)
{
	uint32_t f;

	__asm__ volatile("pushfl; popl %0" : "=r"(f));
	return f;
}

#define ABI_SEG(reg)                                                     \
	({                                                               \
		uint16_t _v;                                             \
		__asm__ volatile("movw %%" #reg ", %0" : "=r"(_v));      \
		(uint32_t)_v;                                            \
	})

/* abi_in := the caller's segments and eflags, a private stack, zeros. */
static inline void abi_setup(void)
{
	memset(&abi_in, 0, sizeof(abi_in));
	abi_in.cs = ABI_SEG(cs);
	abi_in.ss = ABI_SEG(ss);
	abi_in.ds = ABI_SEG(ds);
	abi_in.es = ABI_SEG(es);
	abi_in.fs = ABI_SEG(fs);
	abi_in.gs = ABI_SEG(gs);
	abi_in.esp = ABI_STACK_TOP;
	abi_in.eflags = abi_eflags_now() & ~(ABI_DF | ABI_AC | ABI_NT | ABI_TF);
	memset(&abi_out, 0, sizeof(abi_out));
}

/* glibc's sysinfo pointer: %gs:0x10 (tcbhead_t.sysinfo, glibc i386 tls.h). */
static inline uint32_t abi_glibc_sysinfo(void)
{
	uint32_t v;

	__asm__ volatile("movl %%gs:0x10, %0" : "=r"(v));
	return v;
}

/*
 * Point abi_call at a path. For glibc, abi_glibc_fn = syscall and the stack
 * arguments are abi_in's ebx..ebp (so the registers and the arguments agree).
 * Returns 0 if the path is unavailable (no AT_SYSINFO / no symbol).
 */
static inline int abi_use_path(enum abi_path p)
{
	switch (p) {
	case ABI_INT80:
		abi_target = 0;
		return 1;
	case ABI_AT_SYSINFO:
		abi_target = (uint32_t)el_at_sysinfo();
		return abi_target != 0;
	case ABI_VDSO_SYM:
		abi_target = (uint32_t)el_vdso_sym("__kernel_vsyscall");
		return abi_target != 0;
	case ABI_GLIBC:
		abi_target = (uint32_t)(uintptr_t)abi_glibc_thunk;
		abi_glibc_fn = (uint32_t)(uintptr_t)syscall;
		abi_args[0] = abi_in.ebx;
		abi_args[1] = abi_in.ecx;
		abi_args[2] = abi_in.edx;
		abi_args[3] = abi_in.esi;
		abi_args[4] = abi_in.edi;
		abi_args[5] = abi_in.ebp;
		return 1;
	default:
		return 0;
	}
}

/*
 * Flat 4 GiB LDT segments (modify_ldt(0x11), arch/x86/kernel/ldt.c): entry 0
 * is 32-bit code, entry 1 is 32-bit data. Selectors are index<<3 | TI | RPL3.
 */
#define ABI_LDT_CS 0x07u
#define ABI_LDT_DS 0x0fu
static inline int abi_setup_ldt(void)
{
	struct user_desc d;

	for (int i = 0; i < 2; i++) {
		memset(&d, 0, sizeof(d));
		d.entry_number = (unsigned int)i;
		d.base_addr = 0;
		d.limit = 0xfffff;
		d.seg_32bit = 1;
		d.limit_in_pages = 1;
		d.contents = i == 0 ? MODIFY_LDT_CONTENTS_CODE : MODIFY_LDT_CONTENTS_DATA;
		d.useable = 1;
		if (syscall(SYS_modify_ldt, 0x11, &d, sizeof(d)) != 0)
			return 0;
	}
	return 1;
}

/* snprintf onto the end of a buffer (JSON building). */
static inline void abi_cat(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void abi_cat(char *buf, size_t cap, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, cap - n, fmt, ap);
	va_end(ap);
}

#endif /* ABI_CALLS_H */
