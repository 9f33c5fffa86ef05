// SPDX-License-Identifier: GPL-2.0
/*
 * raw_fast_insn.c - SYSENTER and SYSCALL executed by user code outside the vDSO.
 *
 * Usage: raw_fast_insn <int80|sysenter|sysenter/noframe|syscall|syscall/noframe>
 * One probe per run (the host runs them one by one: a probe may kill the guest
 * kernel, and that must not cost the others). The probe runs in a child
 * process, so a fatal signal is an observation, not a crash of the test.
 *
 * What can happen (the host predicts which, lab/model/silicon.py):
 *  - the CPU refuses the instruction: #UD -> SIGILL at the instruction, or
 *    #GP -> SIGSEGV at the instruction (SYSENTER with IA32_SYSENTER_CS = 0);
 *  - the instruction enters the kernel: Linux treats it as a vDSO call
 *    (do_fast_syscall_32 in arch/x86/entry/common.c): the user stack pointer
 *    comes from ebp (SYSENTER) or esp (SYSCALL), arg 6 is read from it, and the
 *    kernel returns to the vDSO's landing pad, which pops ebp, edx, ecx and
 *    returns. So the probe pushes a frame like __kernel_vsyscall's --
 *    [ebp slot, edx slot, ecx slot, return address] -- and expects to come back
 *    at its return address with the slot values ("returned@slot");
 *  - noframe: ebp = 0 (SYSENTER) or esp = 0 (SYSCALL): the arg-6 read faults,
 *    the kernel returns -EFAULT to the landing pad with esp = 0, and the first
 *    pop faults: SIGSEGV at stub+9 with eax = -14 (seen on the sigaltstack).
 *  - int80: the control, `int $0x80` inline: returns after the instruction.
 * Result line: test "raw-fast-insn/<probe>", observed = outcome and registers;
 * the verdict (pass / divergence from silicon) is the host's.
 */
#define _GNU_SOURCE
#include "entrylab.h"
#include "control_calls.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>

#define SLOT_EBP 0xeb0eb0ebu
#define SLOT_EDX 0xedd0edd0u
#define SLOT_ECX 0xecc0ecc0u

/* What the probe saw; on a MAP_SHARED page so that the parent can read it. */
struct probe {
	uint32_t how; /* 1 back at the frame's return address, 2 after the instruction, 3 signal */
	uint32_t regs[8]; /* eax ebx ecx edx esi edi ebp esp, at return or from the ucontext */
	uint32_t eip, signo, code, addr;
	uint32_t saved_esp; /* esp before the probe built its frame */
};
static struct probe *out;

/*
 * The probes: el_probe_<kind>() save the callee-saved registers and esp,
 * build the frame, load markers and getpid (eax = 20), execute the
 * instruction at el_insn_<kind>, and come back through el_probe_back (the
 * frame's return address) or el_probe_inline (fell through).
 */
void el_probe_int80(void), el_probe_sysenter(void), el_probe_sysenter_noframe(void);
void el_probe_syscall(void), el_probe_syscall_noframe(void);
extern const char el_insn_int80[], el_insn_sysenter[], el_insn_sysenter_noframe[];
extern const char el_insn_syscall[], el_insn_syscall_noframe[];
uint32_t el_probe_how, el_probe_regs[8], el_saved_esp;
#define PROLOGUE                                                                         \
	"	pushl %ebp\n	pushl %ebx\n	pushl %esi\n	pushl %edi\n"                \
	"	movl %esp, el_saved_esp\n"
#define FRAME                                                                            \
	"	pushl $el_probe_back\n	pushl $0xecc0ecc0\n	pushl $0xedd0edd0\n"       \
	"	pushl $0xeb0eb0eb\n"
#define MARKERS                                                                          \
	"	movl $20, %eax\n	movl $0x11111111, %ebx\n	movl $0x22222222, %ecx\n" \
	"	movl $0x33333333, %edx\n	movl $0x44444444, %esi\n"                    \
	"	movl $0x55555555, %edi\n"
asm(".pushsection .text\n"
    ".globl el_probe_int80\nel_probe_int80:\n" PROLOGUE MARKERS
    "	movl $0x66666666, %ebp\n"
    ".globl el_insn_int80\nel_insn_int80:\n	int $0x80\n	jmp el_probe_inline\n"

    ".globl el_probe_sysenter\nel_probe_sysenter:\n" PROLOGUE FRAME MARKERS
    "	movl %esp, %ebp\n" /* as __kernel_vsyscall: SYSENTER loses esp */
    ".globl el_insn_sysenter\nel_insn_sysenter:\n	sysenter\n	jmp el_probe_inline\n"

    ".globl el_probe_sysenter_noframe\nel_probe_sysenter_noframe:\n" PROLOGUE MARKERS
    "	xorl %ebp, %ebp\n"
    ".globl el_insn_sysenter_noframe\nel_insn_sysenter_noframe:\n	sysenter\n"
    "	jmp el_probe_inline\n"

    ".globl el_probe_syscall\nel_probe_syscall:\n" PROLOGUE FRAME MARKERS
    "	movl %ecx, %ebp\n" /* as __kernel_vsyscall: SYSCALL overwrites ecx */
    ".globl el_insn_syscall\nel_insn_syscall:\n	syscall\n	jmp el_probe_inline\n"

    ".globl el_probe_syscall_noframe\nel_probe_syscall_noframe:\n" PROLOGUE MARKERS
    "	movl %ecx, %ebp\n	xorl %esp, %esp\n"
    ".globl el_insn_syscall_noframe\nel_insn_syscall_noframe:\n	syscall\n"
    "	jmp el_probe_inline\n"

    "el_probe_back:\n	movl $1, el_probe_how\n	jmp el_probe_save\n"
    "el_probe_inline:\n	movl $2, el_probe_how\n"
    "el_probe_save:\n"
    "	movl %eax, el_probe_regs+0\n	movl %ebx, el_probe_regs+4\n"
    "	movl %ecx, el_probe_regs+8\n	movl %edx, el_probe_regs+12\n"
    "	movl %esi, el_probe_regs+16\n	movl %edi, el_probe_regs+20\n"
    "	movl %ebp, el_probe_regs+24\n	movl %esp, el_probe_regs+28\n"
    "	movl el_saved_esp, %esp\n"
    "	popl %edi\n	popl %esi\n	popl %ebx\n	popl %ebp\n	ret\n"
    ".popsection\n");

static const struct {
	const char *name;
	void (*probe)(void);
	const char *insn;
} probes[] = {
	{ "int80", el_probe_int80, el_insn_int80 },
	{ "sysenter", el_probe_sysenter, el_insn_sysenter },
	{ "sysenter/noframe", el_probe_sysenter_noframe, el_insn_sysenter_noframe },
	{ "syscall", el_probe_syscall, el_insn_syscall },
	{ "syscall/noframe", el_probe_syscall_noframe, el_insn_syscall_noframe },
};

/* Any fatal signal of the probe: write down where and what, then leave. */
static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	static const int r[8] = { REG_EAX, REG_EBX, REG_ECX, REG_EDX,
				  REG_ESI, REG_EDI, REG_EBP, REG_ESP };

	out->how = 3;
	out->saved_esp = el_saved_esp;
	for (int i = 0; i < 8; i++)
		out->regs[i] = (uint32_t)uc->uc_mcontext.gregs[r[i]];
	out->eip = (uint32_t)uc->uc_mcontext.gregs[REG_EIP];
	out->signo = (uint32_t)sig;
	out->code = (uint32_t)si->si_code;
	out->addr = (uint32_t)(uintptr_t)si->si_addr;
	_exit(3);
}

static void run_probe(void (*probe)(void))
{
	static char altstack[65536];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0 };
	struct sigaction sa;
	const int sigs[] = { SIGILL, SIGSEGV, SIGBUS, SIGTRAP, SIGFPE };

	sigaltstack(&ss, NULL); /* the noframe probes leave esp = 0 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	probe();
	out->how = el_probe_how;
	out->saved_esp = el_saved_esp;
	memcpy(out->regs, el_probe_regs, sizeof(out->regs));
	_exit(0);
}

static const char *signame(uint32_t s)
{
	return s == SIGILL ? "SIGILL" : s == SIGSEGV ? "SIGSEGV" : s == SIGBUS ? "SIGBUS"
	       : s == SIGTRAP ? "SIGTRAP" : s == SIGFPE ? "SIGFPE" : "SIG?";
}

int main(int argc, char **argv)
{
	char test[64], outcome[64], where[32], obs[1024];
	int k = -1, status = 0;

	for (unsigned i = 0; argc > 1 && i < sizeof(probes) / sizeof(probes[0]); i++)
		if (!strcmp(argv[1], probes[i].name))
			k = (int)i;
	if (k < 0) {
		fprintf(stderr, "usage: raw_fast_insn <int80|sysenter|sysenter/noframe|syscall|"
				"syscall/noframe>\n");
		return 2;
	}
	snprintf(test, sizeof(test), "raw-fast-insn/%s", probes[k].name);
	out = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (out == MAP_FAILED) {
		el_result(test, "error", NULL, NULL, "mmap: %s", strerror(errno));
		return 1;
	}
	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		run_probe(probes[k].probe);
	waitpid(c, &status, 0);

	uint32_t *g = out->regs;
	if (out->how == 1)
		snprintf(outcome, sizeof(outcome), "returned@slot");
	else if (out->how == 2)
		snprintf(outcome, sizeof(outcome), "returned-inline");
	else if (out->how == 3)
		snprintf(outcome, sizeof(outcome), "%s@%s", signame(out->signo),
			 out->eip == (uint32_t)(uintptr_t)probes[k].insn
				 ? "insn"
				 : el_where(out->eip, where, sizeof(where)));
	else if (WIFSIGNALED(status))
		snprintf(outcome, sizeof(outcome), "killed:%s", signame((uint32_t)WTERMSIG(status)));
	else
		snprintf(outcome, sizeof(outcome), "none");
	snprintf(obs, sizeof(obs),
		 "{\"outcome\":\"%s\",\"eax\":%d,\"pid_ok\":%s,\"ecx\":\"0x%x\",\"edx\":\"0x%x\","
		 "\"ebp\":\"0x%x\",\"ebx\":\"0x%x\",\"esi\":\"0x%x\",\"edi\":\"0x%x\","
		 "\"esp_ok\":%s,\"esp\":\"0x%x\",\"si_code\":%d,\"si_addr\":\"0x%x\","
		 "\"landing_pad\":\"%s\"}",
		 outcome, (int32_t)g[0], g[0] == (uint32_t)c ? "true" : "false", g[2], g[3], g[6],
		 g[1], g[4], g[5], g[7] == out->saved_esp ? "true" : "false", g[7],
		 out->how == 3 ? (int)out->code : 0, out->how == 3 ? out->addr : 0,
		 el_where(el_landing_pad(), where, sizeof(where)));
	/*
	 * Self-check only what must hold whatever the CPU does: the probe child
	 * came back or died by a signal we caught, nothing else. The host judges
	 * the outcome against silicon and the kernel (lab/model/silicon.py).
	 */
	int sane = out->how == 1 || out->how == 2 || out->how == 3;
	el_result(test, sane ? "pass" : "error", obs, NULL, "%s %s: %s", probes[k].name,
		  out->how == 3 ? "faulted" : "completed", outcome);
	return 0;
}
