/*
 * fast_return: which instruction took a traced __kernel_vsyscall call back to
 * user mode, observed per call rather than inferred from its cost.
 *
 * usage: fast_return [--calls N]
 *
 * A traced child calls getpid through __kernel_vsyscall N times with ebx = 0
 * ("kept": the tracer leaves eip on the landing pad) and N times with
 * ebx = MOVE ("moved": the tracer moves eip to a copy of the landing pad in
 * this program, so the kernel must use IRET: do_fast_syscall_32() returns
 * false when regs->ip != landing pad, arch/x86/entry/syscall_32.c:346 in 7.2,
 * entry/common.c in 6.1). At each getpid exit stop the tracer also writes
 * ecx = MAGIC. Hardware execute breakpoints (DR0 on the vDSO's landing pad,
 * DR1 on the copy) stop the child on its first user instruction after the
 * return, where the tracer reads ecx:
 *   MAGIC            IRET restored pt_regs->cx
 *   == return eip    SYSRETL (64-bit kernel: the CPU's eip comes from ecx,
 *                    entry_64_compat.S sysret32_from_system_call)
 *   == user esp      SYSEXIT (32-bit kernel: entry_32.S loads ecx = esp,
 *                    edx = eip before sysexit)
 * Results: fast-return/kept and fast-return/moved, observed = counts per
 * return instruction, so a mixture is visible rather than averaged away.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "entrylab.h"

#define MOVE 0x5a5a
#define MAGIC 0x5eedc0deu
#define MAX_CALLS 1000

extern char fr_pad_copy[];
static uintptr_t vsyscall;

asm(".pushsection .text\n"
    ".globl fr_pad_copy\n"
    /* The landing pad of __kernel_vsyscall (vdso32/system_call.S), copied. */
    "fr_pad_copy:\n"
    "	popl %ebp; popl %edx; popl %ecx\n"
    "	ret\n"
    ".popsection\n");

/* getpid through __kernel_vsyscall with ebx = how. */
static long call_vsyscall(long how)
{
	long ret;

	asm volatile("call *%[fn]"
		     : "=a"(ret)
		     : "a"(__NR_getpid), "b"(how), [fn] "r"(vsyscall)
		     : "memory", "cc", "ecx", "edx");
	return ret;
}

static void child(int calls)
{
	if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
		_exit(3);
	raise(SIGSTOP);
	for (int i = 0; i < calls; i++) {
		call_vsyscall(0);
		call_vsyscall(MOVE);
	}
	_exit(0);
}

struct tally {
	int iret, sysretl, sysexit, other;
	uint32_t last_other;
};

static int poke_debugreg(pid_t pid, int n, uint32_t value)
{
	return (int)ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[n]),
			   (void *)(uintptr_t)value);
}

/* Classify one stop on a breakpoint: what ecx says about the return insn. */
static void classify(struct tally *t, const struct user_regs_struct *r)
{
	if ((uint32_t)r->ecx == MAGIC)
		t->iret++;
	else if ((uint32_t)r->ecx == (uint32_t)r->eip)
		t->sysretl++;
	else if ((uint32_t)r->ecx == (uint32_t)r->esp)
		t->sysexit++;
	else {
		t->other++;
		t->last_other = (uint32_t)r->ecx;
	}
}

static int tracer(pid_t pid, uintptr_t pad, struct tally *kept, struct tally *moved,
		  int *stops)
{
	struct user_regs_struct r;
	int pending = 0; /* 1 kept, 2 moved: the call whose return is next */

	if (el_trace_attach(pid))
		return -1;
	/* DR7: L0 and L1 enabled, both execute breakpoints of length 1 (RW = LEN = 0). */
	if (poke_debugreg(pid, 0, (uint32_t)pad) || poke_debugreg(pid, 1, (uint32_t)fr_pad_copy) ||
	    poke_debugreg(pid, 7, 0x5))
		return -2;
	for (int sig = 0;;) {
		int at = el_trace_next(pid, &sig);

		if (at <= EL_EXITED)
			return at < 0 ? -1 : sig;
		if (ptrace(PTRACE_GETREGS, pid, 0, &r) != 0)
			return -1;
		if (at == EL_AT_SIGNAL && sig == SIGTRAP) {
			/*
			 * A breakpoint: the first user instruction after a return
			 * (libc's own system calls pass the landing pad too).
			 */
			if (pending)
				classify(pending == 1 ? kept : moved, &r);
			pending = 0;
			(*stops)++;
			sig = 0;
			continue;
		}
		if (at == EL_AT_SIGNAL)
			continue;
		if (r.orig_eax != __NR_getpid || r.eax == -ENOSYS)
			continue; /* an entry stop, or another system call */
		pending = r.ebx == MOVE ? 2 : 1;
		r.ecx = (long)MAGIC;
		if (r.ebx == MOVE)
			r.eip = (long)(uintptr_t)fr_pad_copy;
		if (ptrace(PTRACE_SETREGS, pid, 0, &r) != 0)
			return -1;
	}
}

static void report(const char *test, const struct tally *t, int calls)
{
	char obs[256];

	snprintf(obs, sizeof obs,
		 "{\"calls\":%d,\"iret\":%d,\"sysretl\":%d,\"sysexit\":%d,\"other\":%d,"
		 "\"other_ecx\":\"0x%x\"}",
		 calls, t->iret, t->sysretl, t->sysexit, t->other, t->last_other);
	el_result(test, "pass", obs, NULL, "iret %d, sysretl %d, sysexit %d, other %d of %d",
		  t->iret, t->sysretl, t->sysexit, t->other, calls);
}

int main(int argc, char **argv)
{
	int calls = 50, stops = 0, rc;
	struct tally kept = {0}, moved = {0};
	uintptr_t pad;
	pid_t pid;

	for (int i = 1; i + 1 < argc; i += 2)
		if (!strcmp(argv[i], "--calls"))
			calls = atoi(argv[i + 1]);
	if (calls < 1 || calls > MAX_CALLS) {
		el_result("fast-return/usage", "error", NULL, NULL, "--calls must be 1..%d",
			  MAX_CALLS);
		return 2;
	}
	vsyscall = el_at_sysinfo();
	pad = el_landing_pad();
	if (!vsyscall || !pad) {
		el_result("fast-return/kept", "skip", NULL, NULL,
			  "no AT_SYSINFO or no int $0x80 landing pad in __kernel_vsyscall");
		return 0;
	}
	pid = fork();
	if (pid == 0)
		child(calls);
	rc = tracer(pid, pad, &kept, &moved, &stops);
	if (rc != 0) {
		el_result("fast-return/kept", "error", NULL, NULL,
			  "tracer result %d (-2: debug registers refused), errno %d", rc, errno);
		return 1;
	}
	report("fast-return/kept", &kept, calls);
	report("fast-return/moved", &moved, calls);
	return 0;
}
