/* SPDX-License-Identifier: GPL-2.0 */
/*
 * control_calls.h: what the entry-control programs (syscall_restart,
 * single_step, fork_clone, raw_fast_insn) share. Include it once per program,
 * after entrylab.h: it defines two global assembly functions.
 *
 * Call paths (names as in the lab's reports):
 *   int80       raw `int $0x80`: el_int80_ret below, an `int $0x80; ret`
 *   at_sysinfo  call *getauxval(AT_SYSINFO)
 *   vdso_sym    call __kernel_vsyscall from the vDSO's dynamic symbol table
 *   glibc       glibc's own wrapper / syscall()
 *
 * el_call32() runs one system call with every register controlled, in the
 * style of raw_syscall_helper_32.S in the kernel's tools/testing/selftests/x86.
 *
 * el_where() names an address for the host: "stub+N" (from AT_SYSINFO),
 * "int80+N" (from el_int80_ret), or a hex address. The host's model
 * predictions use the same words (lab/suites/control.py).
 */
#ifndef CONTROL_CALLS_H
#define CONTROL_CALLS_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* eax = system call number / return value; ebx..ebp = arguments 1..6. */
struct el_regs {
	uint32_t eax, ebx, ecx, edx, esi, edi, ebp;
};

/*
 * void el_call32(struct el_regs *r, uintptr_t entry):
 * load eax..ebp from *r, `call *entry`, store eax..ebp back into *r.
 * el_int80_ret: `int $0x80; ret` -- the raw int80 path as a callable entry.
 */
void el_call32(struct el_regs *r, uintptr_t entry);
void el_int80_ret(void);
asm(".pushsection .text\n"
    ".globl el_call32\n"
    ".type el_call32, @function\n"
    "el_call32:\n"
    "	pushl %ebp\n"
    "	pushl %ebx\n"
    "	pushl %esi\n"
    "	pushl %edi\n"
    "	movl 20(%esp), %eax\n" /* r */
    "	movl 4(%eax), %ebx\n"
    "	movl 8(%eax), %ecx\n"
    "	movl 12(%eax), %edx\n"
    "	movl 16(%eax), %esi\n"
    "	movl 20(%eax), %edi\n"
    "	movl 24(%eax), %ebp\n"
    "	movl 0(%eax), %eax\n"
    "	call *24(%esp)\n" /* entry */
    "	pushl %eax\n"
    "	movl 24(%esp), %eax\n" /* r again (one more word on the stack) */
    "	popl 0(%eax)\n"
    "	movl %ebx, 4(%eax)\n"
    "	movl %ecx, 8(%eax)\n"
    "	movl %edx, 12(%eax)\n"
    "	movl %esi, 16(%eax)\n"
    "	movl %edi, 20(%eax)\n"
    "	movl %ebp, 24(%eax)\n"
    "	popl %edi\n"
    "	popl %esi\n"
    "	popl %ebx\n"
    "	popl %ebp\n"
    "	ret\n"
    ".size el_call32, .-el_call32\n"
    ".globl el_int80_ret\n"
    ".type el_int80_ret, @function\n"
    "el_int80_ret:\n"
    "	int $0x80\n"
    "	ret\n"
    ".size el_int80_ret, .-el_int80_ret\n"
    ".popsection\n");

enum el_path { EL_INT80, EL_AT_SYSINFO, EL_VDSO_SYM, EL_GLIBC, EL_NPATHS };

static const char *const el_path_names[EL_NPATHS] = { "int80", "at_sysinfo", "vdso_sym", "glibc" };

/* The address a path calls, or 0 for glibc (which has no single entry) or a missing vDSO. */
static inline uintptr_t el_path_entry(enum el_path p)
{
	switch (p) {
	case EL_INT80:
		return (uintptr_t)el_int80_ret;
	case EL_AT_SYSINFO:
		return el_at_sysinfo();
	case EL_VDSO_SYM:
		return el_vdso_sym("__kernel_vsyscall");
	default:
		return 0;
	}
}

/*
 * Name an address the way the host does: stub+N (N < 16, from AT_SYSINFO),
 * vdso+0xN (elsewhere in the first 16 KiB of the vDSO), int80+N (from
 * el_int80_ret), or hex.
 */
static inline const char *el_where(uintptr_t addr, char *buf, size_t cap)
{
	uintptr_t stub = el_at_sysinfo(), raw = (uintptr_t)el_int80_ret;
	uintptr_t vdso = (uintptr_t)el_vdso_ehdr();

	if (stub && addr >= stub && addr < stub + 16)
		snprintf(buf, cap, "stub+%u", (unsigned)(addr - stub));
	else if (vdso && addr >= vdso && addr < vdso + 16384)
		snprintf(buf, cap, "vdso+0x%x", (unsigned)(addr - vdso));
	else if (addr >= raw && addr < raw + 3)
		snprintf(buf, cap, "int80+%u", (unsigned)(addr - raw));
	else
		snprintf(buf, cap, "0x%lx", (unsigned long)addr);
	return buf;
}

/* A growing JSON text: el_jcat(&j, fmt, ...) appends (silently truncated at the cap). */
struct el_json {
	char s[2048];
	size_t n;
};

static inline void el_jcat(struct el_json *j, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (j->n >= sizeof(j->s) - 1)
		return;
	va_start(ap, fmt);
	w = vsnprintf(j->s + j->n, sizeof(j->s) - j->n, fmt, ap);
	va_end(ap);
	if (w > 0)
		j->n += (size_t)w;
	if (j->n >= sizeof(j->s))
		j->n = sizeof(j->s) - 1;
}

/*
 * Wait until task pid is blocked in one of the system calls nrs[0..n-1]
 * (/proc/<pid>/syscall: "nr arg1 .. arg6 sp pc" while blocked). Returns the
 * nr and fills pc/sp, or -1 after about timeout_ms.
 */
static inline long el_wait_blocked(pid_t pid, const long *nrs, int n, int timeout_ms,
				   unsigned long *pc, unsigned long *sp)
{
	char path[64], line[256];

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	for (int t = 0; t < timeout_ms; t++) {
		FILE *f = fopen(path, "r");
		long nr;
		unsigned long a[6], s, p;

		if (f && fgets(line, sizeof(line), f) &&
		    sscanf(line, "%ld %lx %lx %lx %lx %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2],
			   &a[3], &a[4], &a[5], &s, &p) == 9) {
			for (int i = 0; i < n; i++) {
				if (nr == nrs[i]) {
					fclose(f);
					*pc = p;
					*sp = s;
					return nr;
				}
			}
		}
		if (f)
			fclose(f);
		usleep(1000);
	}
	return -1;
}

#endif /* CONTROL_CALLS_H */
