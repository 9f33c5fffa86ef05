// SPDX-License-Identifier: GPL-2.0
/*
 * single_step.c - single-stepping through each system-call path.
 *
 * Two ways to step, for each call path (int80, at_sysinfo, vdso_sym, glibc):
 *
 *   tf      the program sets EFLAGS.TF itself (pushf/or/popf) around one
 *           getpid(); a SIGTRAP handler writes down the eip of every trap.
 *           SYSENTER does not clear TF, so the CPU traps at CPL0 on the first
 *           kernel instruction; the kernel swallows that (is_sysenter_singlestep
 *           in arch/x86/kernel/traps.c) and, with TF set, returns with IRET
 *           (do_fast_syscall_32). IRET loading TF traps after the *next* user
 *           instruction, so no trap is expected at the landing pad itself.
 *   ptrace  a tracer PTRACE_SINGLESTEPs the child through the same call. Here
 *           the kernel reports a step on syscall exit (syscall_exit_work ->
 *           report_single_step in kernel/entry/common.c), so the tracer is
 *           expected to stop at the landing pad.
 *
 * Checked: traps happen, nothing hangs, TF survives the call (tf), registers
 * are intact afterwards, and the sequence of eips inside __kernel_vsyscall
 * ("stub+N") equals what this program derives from the stub's own bytes
 * (the host compares the same list with the model's decoded stub).
 * Result lines: test "single-step/<path>/<tf|ptrace>".
 */
#define _GNU_SOURCE
#include "entrylab.h"
#include "control_calls.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <ucontext.h>

#define MAXTRAPS 512
#define X86_EFLAGS_TF 0x100

/*
 * el_call32_tf(r, entry): el_call32 with TF set just before the call and
 * cleared right after it (el_tf_ret is the return address).
 * el_ss_region(entry, pid): kill(pid, SIGSTOP) by int $0x80, then load marker
 * registers and call entry with eax = getpid (el_ss_start .. el_ss_ret).
 * el_glibc_getpid: the glibc path as a callable entry: syscall(SYS_getpid).
 */
void el_call32_tf(struct el_regs *r, uintptr_t entry);
void el_ss_region(uintptr_t entry, pid_t pid);
void el_glibc_getpid(void);
extern const char el_tf_ret[], el_ss_start[], el_ss_ret[];
asm(".pushsection .text\n"
    ".globl el_call32_tf\n"
    "el_call32_tf:\n"
    "	pushl %ebp\n"
    "	pushl %ebx\n"
    "	pushl %esi\n"
    "	pushl %edi\n"
    "	movl 20(%esp), %eax\n"
    "	movl 4(%eax), %ebx\n"
    "	movl 8(%eax), %ecx\n"
    "	movl 12(%eax), %edx\n"
    "	movl 16(%eax), %esi\n"
    "	movl 20(%eax), %edi\n"
    "	movl 24(%eax), %ebp\n"
    "	movl 0(%eax), %eax\n"
    "	pushfl\n"
    "	orl $0x100, (%esp)\n"
    "	popfl\n" /* TF: the first trap comes after the call */
    "	call *24(%esp)\n"
    ".globl el_tf_ret\n"
    "el_tf_ret:\n"
    "	pushfl\n"
    "	andl $0xfffffeff, (%esp)\n"
    "	popfl\n"
    "	pushl %eax\n"
    "	movl 24(%esp), %eax\n"
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
    ".globl el_ss_region\n"
    "el_ss_region:\n"
    "	pushl %ebp\n"
    "	pushl %ebx\n"
    "	pushl %esi\n"
    "	pushl %edi\n"
    "	movl 20(%esp), %esi\n"
    "	movl 24(%esp), %ebx\n"
    "	movl $37, %eax\n" /* kill(pid, SIGSTOP) */
    "	movl $19, %ecx\n"
    "	int $0x80\n"
    ".globl el_ss_start\n"
    "el_ss_start:\n"
    "	movl $0x11111111, %ebx\n"
    "	movl $0x22222222, %ecx\n"
    "	movl $0x33333333, %edx\n"
    "	movl $0x55555555, %edi\n"
    "	movl $0x66666666, %ebp\n"
    "	movl $20, %eax\n"
    "	call *%esi\n"
    ".globl el_ss_ret\n"
    "el_ss_ret:\n"
    "	nop\n"
    "	popl %edi\n"
    "	popl %esi\n"
    "	popl %ebx\n"
    "	popl %ebp\n"
    "	ret\n"
    ".globl el_glibc_getpid\n"
    "el_glibc_getpid:\n"
    "	pushl $20\n"
    "	call syscall\n"
    "	addl $4, %esp\n"
    "	ret\n"
    ".popsection\n");

static volatile uint32_t traps[MAXTRAPS];
static volatile int ntraps;

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	(void)si;
	if (ntraps < MAXTRAPS)
		traps[ntraps] = (uint32_t)uc->uc_mcontext.gregs[REG_EIP];
	ntraps++;
}

/* Bytes of a ModRM operand (ModRM, SIB, displacement) in 32-bit addressing. */
static unsigned modrm_len(const unsigned char *m)
{
	unsigned mod = m[0] >> 6, rm = m[0] & 7, len = 1;

	if (mod == 3)
		return len;
	if (rm == 4)
		len++; /* SIB */
	if (mod == 1)
		len += 1;
	else if (mod == 2 || (mod == 0 && rm == 5))
		len += 4;
	return len;
}

/*
 * What this program expects from the stub's bytes: every instruction of
 * __kernel_vsyscall up to its entry instruction (sysenter, syscall or the first
 * int $0x80), then from the landing pad to ret. Only the encodings the 6.1
 * and 7.x stubs use are known; anything else ends the walk (the host decodes properly).
 * with_pad: a ptrace step stops at the landing pad after the system call.
 */
static void expected_stub_steps(int with_pad, struct el_json *j)
{
	const unsigned char *s = (const unsigned char *)el_at_sysinfo();
	unsigned pad = (unsigned)(el_landing_pad() - (uintptr_t)s), off = 0;
	int entered = 0;

	el_jcat(j, "\"stub+0\"");
	while (off < 32) {
		unsigned len = 0, entry = 0;
		const unsigned char *b = s + off;

		if (b[0] == 0x51 || b[0] == 0x52 || b[0] == 0x55 || b[0] == 0x59 || b[0] == 0x5a ||
		    b[0] == 0x5d)
			len = 1; /* push/pop ecx, edx, ebp */
		else if (b[0] == 0x89)
			len = 2; /* mov %esp,%ebp / mov %ecx,%ebp */
		else if (b[0] == 0x0f && (b[1] == 0x34 || b[1] == 0x05))
			len = 2, entry = 1; /* sysenter / syscall */
		else if (b[0] == 0xcd && b[1] == 0x80)
			len = 2, entry = 1; /* int $0x80 */
		else if (b[0] == 0x0f && b[1] == 0x1f)
			len = 2 + modrm_len(b + 2); /* nopl: 3 bytes on 7.x's SYSFAST32 stub, 4 on 6.x */
		else if (b[0] == 0x8d && (b[1] & 0x38) == 0x30)
			len = 1 + modrm_len(b + 1); /* lea 0(%esi),%esi: a nop */
		else if (b[0] == 0xc3)
			break;
		if (!len)
			break;
		if (entry && !entered) {
			entered = 1;
			off = pad;
			if (with_pad)
				el_jcat(j, ",\"stub+%u\"", pad);
			continue;
		}
		off += len;
		el_jcat(j, ",\"stub+%u\"", off);
	}
	el_jcat(j, ",\"ret\"");
}

/* The eips a test saw, named; only stub+N, int80+N and ret are compared. */
static void name_steps(const uint32_t *eips, int n, uintptr_t ret, struct el_json *all,
		       struct el_json *cmp)
{
	char w[32];

	el_jcat(all, "[");
	el_jcat(cmp, "[");
	for (int i = 0; i < n; i++) {
		if (eips[i] == ret)
			snprintf(w, sizeof(w), "ret");
		else
			el_where(eips[i], w, sizeof(w));
		el_jcat(all, "%s\"%s\"", i ? "," : "", w);
		if (!strncmp(w, "stub+", 5) || !strncmp(w, "int80+", 6) || !strcmp(w, "ret"))
			el_jcat(cmp, "%s\"%s\"", cmp->n > 1 ? "," : "", w);
		if (eips[i] == ret)
			break;
	}
	el_jcat(all, "]");
	el_jcat(cmp, "]");
}

static void expected_steps(enum el_path p, int ptrace_mode, struct el_json *j)
{
	el_jcat(j, "[");
	if (p == EL_INT80)
		el_jcat(j, ptrace_mode ? "\"int80+0\",\"int80+2\",\"ret\"" : "\"int80+0\",\"ret\"");
	else
		expected_stub_steps(ptrace_mode, j);
	el_jcat(j, "]");
}

static uintptr_t entry_of(enum el_path p)
{
	return p == EL_GLIBC ? (uintptr_t)el_glibc_getpid : el_path_entry(p);
}

static void test_tf(enum el_path p)
{
	struct el_json all = { .n = 0 }, cmp = { .n = 0 }, want = { .n = 0 };
	struct el_regs r = { SYS_getpid, 0x11111111, 0x22222222, 0x33333333,
			     0x44444444, 0x55555555, 0x66666666 };
	struct sigaction sa;
	char test[64], obs[6500];
	uint32_t copy[MAXTRAPS];

	snprintf(test, sizeof(test), "single-step/%s/tf", el_path_names[p]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTRAP, &sa, NULL);
	syscall(SYS_getpid); /* nothing lazy left to bind */
	ntraps = 0;
	el_call32_tf(&r, entry_of(p));
	int n = ntraps < MAXTRAPS ? ntraps : MAXTRAPS;
	for (int i = 0; i < n; i++)
		copy[i] = traps[i];
	signal(SIGTRAP, SIG_DFL);

	/* TF still set after the call: the instruction after el_tf_ret trapped too. */
	int tf_kept = 0;
	for (int i = 0; i < n; i++)
		tf_kept |= copy[i] == (uint32_t)(uintptr_t)el_tf_ret + 1;
	name_steps(copy, n, (uintptr_t)el_tf_ret, &all, &cmp);
	expected_steps(p, 0, &want);
	int kept = r.eax == (uint32_t)getpid() && r.ebx == 0x11111111 && r.esi == 0x44444444 &&
		   r.edi == 0x55555555 && r.ebp == 0x66666666 &&
		   (p == EL_GLIBC || (r.ecx == 0x22222222 && r.edx == 0x33333333));
	int same = strcmp(cmp.s, want.s) == 0;
	snprintf(obs, sizeof(obs),
		 "{\"traps\":%d,\"tf_kept\":%s,\"regs_kept\":%s,\"steps\":%s,\"all\":%s}", ntraps,
		 tf_kept ? "true" : "false", kept ? "true" : "false", cmp.s, all.s);
	char exp[2300];
	snprintf(exp, sizeof(exp), "{\"tf_kept\":true,\"regs_kept\":true,\"steps\":%s}", want.s);
	el_result(test, ntraps > 0 && tf_kept && kept && same ? "pass" : "fail", obs, exp,
		  "%d SIGTRAPs with TF set across the call; compared steps %s", ntraps, cmp.s);
}

static void test_ptrace(enum el_path p)
{
	struct el_json all = { .n = 0 }, cmp = { .n = 0 }, want = { .n = 0 };
	struct user_regs_struct start, regs;
	static uint32_t eips[4096];
	char test[64], obs[6500], exp[2300];
	int status, n = 0, sigs_ok = 1, reached = 0;

	snprintf(test, sizeof(test), "single-step/%s/ptrace", el_path_names[p]);
	pid_t c = fork();
	if (c == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		el_ss_region(entry_of(p), getpid());
		_exit(0);
	}
	waitpid(c, &status, 0); /* SIGSTOP, eip = el_ss_start */
	ptrace(PTRACE_GETREGS, c, 0, &start);
	int started = WIFSTOPPED(status) && start.eip == (long)(uintptr_t)el_ss_start;
	regs = start;
	while (started && n < 4096) {
		if (ptrace(PTRACE_SINGLESTEP, c, 0, 0) != 0 || waitpid(c, &status, 0) != c ||
		    !WIFSTOPPED(status))
			break;
		sigs_ok &= WSTOPSIG(status) == SIGTRAP;
		ptrace(PTRACE_GETREGS, c, 0, &regs);
		eips[n++] = (uint32_t)regs.eip;
		if (regs.eip == (long)(uintptr_t)el_ss_ret) {
			reached = 1;
			break;
		}
	}
	ptrace(PTRACE_CONT, c, 0, 0);
	int exited = waitpid(c, &status, 0) == c && WIFEXITED(status) && !WEXITSTATUS(status);
	kill(c, SIGKILL);

	name_steps(eips, n, (uintptr_t)el_ss_ret, &all, &cmp);
	expected_steps(p, 1, &want);
	int kept = reached && regs.eax == c && regs.ebx == 0x11111111 && regs.ebp == 0x66666666 &&
		   regs.edi == 0x55555555 && regs.esi == start.esi && regs.esp == start.esp &&
		   (p == EL_GLIBC || (regs.ecx == 0x22222222 && regs.edx == 0x33333333));
	int same = strcmp(cmp.s, want.s) == 0;
	snprintf(obs, sizeof(obs),
		 "{\"stops\":%d,\"all_sigtrap\":%s,\"reached_return\":%s,\"regs_kept\":%s,"
		 "\"exited\":%s,\"steps\":%s,\"all\":%s}",
		 n, sigs_ok ? "true" : "false", reached ? "true" : "false",
		 kept ? "true" : "false", exited ? "true" : "false", cmp.s, all.s);
	snprintf(exp, sizeof(exp),
		 "{\"all_sigtrap\":true,\"reached_return\":true,\"regs_kept\":true,"
		 "\"exited\":true,\"steps\":%s}",
		 want.s);
	el_result(test, started && reached && sigs_ok && kept && exited && same ? "pass" : "fail",
		  obs, exp, "%d PTRACE_SINGLESTEP stops to the return address; compared steps %s",
		  n, cmp.s);
}

int main(void)
{
	if (!el_landing_pad()) {
		el_result("single-step/setup", "error", NULL, NULL, "no int $0x80 in the stub");
		return 1;
	}
	for (int p = 0; p < EL_NPATHS; p++) {
		if (!entry_of((enum el_path)p)) {
			el_result("single-step/setup", "error", NULL, NULL, "no entry for %s",
				  el_path_names[p]);
			continue;
		}
		test_tf((enum el_path)p);
		test_ptrace((enum el_path)p);
	}
	return 0;
}
