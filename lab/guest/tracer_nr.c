/*
 * tracer_nr: what a 32-bit system call returns when a tracer rewrites its
 * number at the entry stop to one out of range.
 *
 * A traced child calls getpid through raw int $0x80, AT_SYSINFO and
 * __kernel_vsyscall. At each getpid entry stop the tracer (PTRACE_SYSCALL)
 * writes orig_eax = 9999 (no such system call, and not -1) and eax = MARK.
 * The child reports what eax came back as:
 *   -ENOSYS  the kernel ran __ia32_sys_ni_syscall (6.1: entry/common.c
 *            do_syscall_32_irqs_on; 7.2: entry/syscall_32.c:73-87)
 *   MARK     the kernel left eax as the tracer wrote it (7.3 drops the
 *            ni_syscall branch, docs/kernel-versions.md D8)
 * Results: tracer-nr/<path>/out-of-range, observed {"eax": "0x..."}.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "entrylab.h"

#define BOGUS_NR 9999
#define MARK 0x4d41524bu /* "MARK" */

static uintptr_t vsyscall;
static const char *const paths[] = {"int80", "at_sysinfo", "vdso_sym"};
#define NPATHS 3

static long call_path(int path)
{
	long ret;

	if (path == 0)
		asm volatile("int $0x80" : "=a"(ret) : "a"(__NR_getpid) : "memory");
	else if (path == 1)
		asm volatile("call *%%gs:0x10"
			     : "=a"(ret)
			     : "a"(__NR_getpid)
			     : "memory", "cc", "ecx", "edx");
	else
		asm volatile("call *%[fn]"
			     : "=a"(ret)
			     : "a"(__NR_getpid), [fn] "r"(vsyscall)
			     : "memory", "cc", "ecx", "edx");
	return ret;
}

/* The child reports through a pipe: the tracer must not print between stops. */
static void child(int out)
{
	long got[NPATHS];

	if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
		_exit(3);
	raise(SIGSTOP);
	for (int p = 0; p < NPATHS; p++)
		got[p] = call_path(p);
	if (write(out, got, sizeof got) != (ssize_t)sizeof got)
		_exit(4);
	_exit(0);
}

/* Rewrite every getpid at its entry stop; returns the number rewritten or < 0. */
static int tracer(pid_t pid)
{
	struct user_regs_struct r;
	int rewritten = 0, entry = 1;

	if (el_trace_attach(pid))
		return -1;
	for (int sig = 0;;) {
		int at = el_trace_next(pid, &sig);

		if (at == EL_EXITED)
			return sig == 0 ? rewritten : -10 - sig;
		if (at < 0)
			return -1;
		if (at == EL_AT_SIGNAL)
			continue;
		if (ptrace(PTRACE_GETREGS, pid, 0, &r) != 0)
			return -1;
		/* Entry and exit stops alternate; eax is -ENOSYS at an entry stop. */
		if (entry && r.orig_eax == __NR_getpid) {
			r.orig_eax = BOGUS_NR;
			r.eax = (long)MARK;
			if (ptrace(PTRACE_SETREGS, pid, 0, &r) != 0)
				return -1;
			rewritten++;
		}
		entry = !entry;
	}
}

int main(void)
{
	long got[NPATHS];
	int fds[2], n;
	pid_t pid;
	char test[64], obs[128];

	vsyscall = el_vdso_sym("__kernel_vsyscall");
	if (!vsyscall || !el_at_sysinfo()) {
		el_result("tracer-nr/vdso_sym/out-of-range", "skip", NULL, NULL,
			  "no __kernel_vsyscall / AT_SYSINFO");
		return 0;
	}
	if (pipe(fds) != 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		child(fds[1]);
	}
	close(fds[1]);
	n = tracer(pid);
	if (n != NPATHS || read(fds[0], got, sizeof got) != (ssize_t)sizeof got) {
		el_result("tracer-nr/int80/out-of-range", "error", NULL, NULL,
			  "tracer result %d (expected %d rewritten calls)", n, NPATHS);
		return 1;
	}
	for (int p = 0; p < NPATHS; p++) {
		snprintf(test, sizeof test, "tracer-nr/%s/out-of-range", paths[p]);
		snprintf(obs, sizeof obs, "{\"eax\":\"0x%lx\",\"enosys\":%s,\"mark\":%s}",
			 (unsigned long)got[p], got[p] == -ENOSYS ? "true" : "false",
			 (uint32_t)got[p] == MARK ? "true" : "false");
		el_result(test, "pass", obs, NULL, "eax 0x%lx after nr %d with eax 0x%x written",
			  (unsigned long)got[p], BOGUS_NR, MARK);
	}
	return 0;
}
