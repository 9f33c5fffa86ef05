// SPDX-License-Identifier: GPL-2.0
/*
 * fork_clone.c - fork, vfork and clone(CLONE_VM) through each call path.
 *
 * A child created through __kernel_vsyscall resumes where the parent will: at
 * the stub's landing pad (do_fast_syscall_32 set regs->ip there before the
 * call ran), with the user stack pointer the kernel gave it, and then runs
 * `pop %ebp; pop %edx; pop %ecx; ret` on that stack.
 *
 *   fork     the child has a copy of the parent's stack: the pops and the ret
 *            find the parent's values, the child returns to the caller.
 *   vfork    the child borrows the parent's stack: it returns to the caller
 *            too, as long as it writes nothing there before it exits (this
 *            program's vfork child only writes globals, then exits by int80).
 *            child_pushes: the child pushes four words before it exits. Through
 *            the vDSO they land on the parent's saved ebp/edx/ecx/return
 *            address, and the parent "returns" to the child's first word (run
 *            in a sandbox process, SIGSEGV caught there); through an inline
 *            int $0x80 or glibc's vfork (which keeps its return address in ecx)
 *            they land below the parent's stack pointer and do no harm.
 *   clone_vm clone(CLONE_VM|SIGCHLD) with a new stack. Through raw int $0x80
 *            the child resumes after the int on the new stack. Through the
 *            vDSO its ebp, edx, ecx and return address come from the new
 *            stack's first four words (the seed: "the actual return address
 *            gets zapped"): 'prepared' puts a landing function in the return
 *            slot, 'zeroed' leaves zeros and the child must die with SIGSEGV
 *            at eip 0 (caught in the child; the parent is never at risk: no
 *            CLONE_THREAD, no CLONE_SIGHAND).
 *
 * Parent and child both report; a child reports through memory the parent can
 * read (MAP_SHARED for fork, the shared address space for vfork/clone).
 * Result lines: test "<fork|vfork|clone_vm>/<path>[/<stack>]", observed =
 * {"parent":..., "child":...}.
 */
#define _GNU_SOURCE
#include "entrylab.h"
#include "control_calls.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>

#define M_EBX 0x11111111u
#define M_ECX 0x22222222u
#define M_EDX 0x33333333u
#define M_ESI 0x44444444u
#define M_EDI 0x55555555u
#define M_EBP 0x66666666u
#define SLOT_EBP 0xeb0eb0ebu /* the prepared new stack: what the stub's pops will find */
#define SLOT_EDX 0xedd0edd0u
#define SLOT_ECX 0xecc0ecc0u
#define CLONE_FLAGS (CLONE_VM | SIGCHLD)

/* What a child saw, written where the parent can read it. */
struct child_report {
	uint32_t eax, ebx, ecx, edx, esi, edi, ebp, esp; /* right after it resumed */
	uint32_t pid;
	uint32_t landed; /* 1 back at the caller, 2 slot's function, 3 fn, 4 SIGSEGV, 5 after int */
	uint32_t fault_eip, fault_addr;
};

/* Globals the assembly below writes (shared with vfork/CLONE_VM children). */
struct child_report el_rep;
uint32_t el_parent_regs[8];

/*
 * el_vfork_call(entry): vfork through `call *entry` with marker registers.
 * The child stores its registers in el_rep, then getpid and exit by int80,
 * touching no stack. The parent stores its registers in el_parent_regs.
 * el_clone_int80(newsp): clone(CLONE_VM|SIGCHLD, newsp) by raw int $0x80.
 * el_clone_vdso(entry, newsp): the same through `call *entry`.
 * el_clone_landing: the function a prepared new stack "returns" to.
 */
uint32_t el_vfork_call(uintptr_t entry);
uint32_t el_vfork_dirty(uintptr_t entry), el_vfork_dirty_int80(void);
uint32_t el_clone_int80(uintptr_t newsp);
uint32_t el_clone_vdso(uintptr_t entry, uintptr_t newsp);
void el_clone_landing(void);
#define SAVE_CHILD(landed)                                                              \
	"	movl %eax, el_rep+0\n	movl %ebx, el_rep+4\n	movl %ecx, el_rep+8\n"     \
	"	movl %edx, el_rep+12\n	movl %esi, el_rep+16\n	movl %edi, el_rep+20\n"  \
	"	movl %ebp, el_rep+24\n	movl %esp, el_rep+28\n"                          \
	"	movl $" #landed ", el_rep+36\n"                                           \
	"	movl $20, %eax\n	int $0x80\n	movl %eax, el_rep+32\n" /* getpid */  \
	"	movl $1, %eax\n	xorl %ebx, %ebx\n	int $0x80\n	hlt\n" /* exit(0) */
#define SAVE_PARENT                                                                      \
	"	movl %eax, el_parent_regs+0\n	movl %ebx, el_parent_regs+4\n"             \
	"	movl %ecx, el_parent_regs+8\n	movl %edx, el_parent_regs+12\n"            \
	"	movl %esi, el_parent_regs+16\n	movl %edi, el_parent_regs+20\n"           \
	"	movl %ebp, el_parent_regs+24\n	movl %esp, el_parent_regs+28\n"
#define LOAD_MARKERS                                                                     \
	"	movl $0x11111111, %ebx\n	movl $0x22222222, %ecx\n"                    \
	"	movl $0x33333333, %edx\n	movl $0x44444444, %esi\n"                    \
	"	movl $0x55555555, %edi\n	movl $0x66666666, %ebp\n"
/* A vfork child that writes its (borrowed) stack: four pushes, then exit(0). */
#define CHILD_PUSHES                                                                     \
	"	pushl $0xbad0bad3\n	pushl $0xbad0bad2\n	pushl $0xbad0bad1\n"     \
	"	pushl $0xbad0bad0\n	movl $1, %eax\n	xorl %ebx, %ebx\n	int $0x80\n"
asm(".pushsection .text\n"
    ".globl el_vfork_call\n"
    "el_vfork_call:\n"
    "	pushl %ebp\n	pushl %ebx\n	pushl %esi\n	pushl %edi\n" LOAD_MARKERS
    "	movl $190, %eax\n" /* vfork */
    "	call *20(%esp)\n"
    "	testl %eax, %eax\n"
    "	jnz 1f\n" SAVE_CHILD(1) "1:\n" SAVE_PARENT
    "	popl %edi\n	popl %esi\n	popl %ebx\n	popl %ebp\n	ret\n"

    ".globl el_vfork_dirty\n" /* el_vfork_dirty(entry): the child pushes, then exits */
    "el_vfork_dirty:\n"
    "	pushl %ebp\n	pushl %ebx\n	pushl %esi\n	pushl %edi\n" LOAD_MARKERS
    "	movl $190, %eax\n"
    "	call *20(%esp)\n"
    "	testl %eax, %eax\n"
    "	jnz 1f\n" CHILD_PUSHES "1:\n" SAVE_PARENT
    "	popl %edi\n	popl %esi\n	popl %ebx\n	popl %ebp\n	ret\n"

    ".globl el_vfork_dirty_int80\n" /* the same with an inline int $0x80 */
    "el_vfork_dirty_int80:\n"
    "	pushl %ebp\n	pushl %ebx\n	pushl %esi\n	pushl %edi\n" LOAD_MARKERS
    "	movl $190, %eax\n"
    "	int $0x80\n"
    "	testl %eax, %eax\n"
    "	jnz 1f\n" CHILD_PUSHES "1:\n" SAVE_PARENT
    "	popl %edi\n	popl %esi\n	popl %ebx\n	popl %ebp\n	ret\n"

    ".globl el_clone_int80\n"
    "el_clone_int80:\n"
    "	pushl %ebp\n	pushl %ebx\n	pushl %esi\n	pushl %edi\n" LOAD_MARKERS
    "	movl $0x00000111, %ebx\n" /* CLONE_VM | SIGCHLD */
    "	movl 20(%esp), %ecx\n"    /* newsp */
    "	movl $120, %eax\n"        /* clone */
    "	int $0x80\n"
    "	testl %eax, %eax\n"
    "	jnz 1f\n" SAVE_CHILD(5) "1:\n" SAVE_PARENT
    "	popl %edi\n	popl %esi\n	popl %ebx\n	popl %ebp\n	ret\n"

    ".globl el_clone_vdso\n"
    "el_clone_vdso:\n"
    "	pushl %ebp\n	pushl %ebx\n	pushl %esi\n	pushl %edi\n" LOAD_MARKERS
    "	movl $0x00000111, %ebx\n"
    "	movl 24(%esp), %ecx\n"
    "	movl $120, %eax\n"
    "	call *20(%esp)\n"
    "	testl %eax, %eax\n" /* a child here would be a surprise: report it */
    "	jnz 1f\n" SAVE_CHILD(1) "1:\n" SAVE_PARENT
    "	popl %edi\n	popl %esi\n	popl %ebx\n	popl %ebp\n	ret\n"

    ".globl el_clone_landing\n"
    "el_clone_landing:\n" SAVE_CHILD(2) ".popsection\n");

static struct child_report *shm; /* fork children write here */
static uint32_t cstack[4096] __attribute__((aligned(16)));

static const char *landed_name(uint32_t landed)
{
	switch (landed) {
	case 1:
		return "returned-to-caller";
	case 5:
		return "resumed-after-int80";
	case 2:
		return "returned-to-slot";
	case 3:
		return "ran-fn";
	case 4:
		return "sigsegv";
	default:
		return "none";
	}
}

static void child_json(struct el_json *j, const struct child_report *c, enum el_path p,
		       int status, uintptr_t newsp)
{
	el_jcat(j, "\"child\":{\"fate\":\"%s\"", landed_name(c->landed));
	if (p != EL_GLIBC) /* glibc's children run glibc code: registers are not ours */
		el_jcat(j,
			",\"eax\":%d,\"ebx\":\"0x%x\",\"ecx\":\"0x%x\",\"edx\":\"0x%x\","
			"\"esi\":\"0x%x\",\"edi\":\"0x%x\",\"ebp\":\"0x%x\"",
			(int32_t)c->eax, c->ebx, c->ecx, c->edx, c->esi, c->edi, c->ebp);
	if (newsp)
		el_jcat(j, ",\"esp_from_newsp\":%d", (int)(c->esp - (uint32_t)newsp));
	if (c->landed == 4)
		el_jcat(j, ",\"fault_eip\":\"0x%x\",\"fault_addr\":\"0x%x\"", c->fault_eip,
			c->fault_addr);
	if (WIFEXITED(status))
		el_jcat(j, ",\"exit\":%d}", WEXITSTATUS(status));
	else
		el_jcat(j, ",\"killed_by\":%d}", WIFSIGNALED(status) ? WTERMSIG(status) : -1);
}

static int markers_kept(const uint32_t *r, int check_cd)
{
	return r[1] == M_EBX && r[4] == M_ESI && r[5] == M_EDI && r[6] == M_EBP &&
	       (!check_cd || (r[2] == M_ECX && r[3] == M_EDX));
}

static void report(const char *test, int ok, struct el_json *obs, const char *exp,
		   const char *what)
{
	el_result(test, ok ? "pass" : "fail", obs->s, exp, "%s", what);
}

/* fork: through el_call32 (int80 / vDSO) or glibc's fork(). */
static void test_fork(enum el_path p)
{
	struct el_json obs = { .n = 0 };
	struct el_regs r = { SYS_fork, M_EBX, M_ECX, M_EDX, M_ESI, M_EDI, M_EBP };
	char test[64];
	int status = -1;
	pid_t pid;

	snprintf(test, sizeof(test), "fork/%s", el_path_names[p]);
	memset(shm, 0, sizeof(*shm));
	if (p == EL_GLIBC) {
		pid = fork();
		r.eax = (uint32_t)pid;
	} else {
		el_call32(&r, el_path_entry(p));
		pid = (int32_t)r.eax;
	}
	if (pid == 0) {
		memcpy(shm, &r, sizeof(r));
		shm->pid = (uint32_t)syscall(SYS_getpid);
		shm->landed = 1;
		_exit(0);
	}
	waitpid(pid, &status, 0);
	int check = p != EL_GLIBC;
	uint32_t pr[8];
	memcpy(pr, &r, sizeof(r));
	uint32_t cr[8];
	memcpy(cr, shm, sizeof(r));
	int ok = pid > 0 && shm->landed == 1 && shm->eax == 0 && shm->pid == (uint32_t)pid &&
		 WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		 (!check || (markers_kept(pr, 1) && markers_kept(cr, 1)));
	el_jcat(&obs, "{\"parent\":{\"ret_is_child_pid\":%s,\"regs_kept\":%s},",
		pid > 0 && shm->pid == (uint32_t)pid ? "true" : "false",
		!check || markers_kept(pr, 1) ? "true" : "false");
	child_json(&obs, shm, p, status, 0);
	el_jcat(&obs, "}");
	report(test, ok, &obs,
	       "{\"parent\":{\"ret_is_child_pid\":true,\"regs_kept\":true},"
	       "\"child\":{\"fate\":\"returned-to-caller\",\"exit\":0}}",
	       ok ? "fork: parent and child both returned to the caller"
		  : "fork: parent or child did not come back as expected");
}

/* vfork: the child shares the parent's stack until it exits. */
static void test_vfork(enum el_path p)
{
	struct el_json obs = { .n = 0 };
	char test[64];
	int status = -1;
	pid_t pid;

	snprintf(test, sizeof(test), "vfork/%s", el_path_names[p]);
	memset(&el_rep, 0, sizeof(el_rep));
	memset(el_parent_regs, 0, sizeof(el_parent_regs));
	if (p == EL_GLIBC) {
		pid = vfork();
		if (pid == 0) {
			el_rep.landed = 1;
			el_rep.pid = (uint32_t)syscall(SYS_getpid);
			_exit(0);
		}
		el_parent_regs[0] = (uint32_t)pid;
	} else {
		pid = (pid_t)el_vfork_call(el_path_entry(p));
		pid = (int32_t)el_parent_regs[0];
	}
	waitpid(pid, &status, 0);
	int check = p != EL_GLIBC;
	int ok = pid > 0 && el_rep.landed == 1 && el_rep.pid == (uint32_t)pid && WIFEXITED(status) &&
		 WEXITSTATUS(status) == 0 &&
		 (!check || (markers_kept(el_parent_regs, 1) &&
			     markers_kept((uint32_t *)&el_rep, 1)));
	el_jcat(&obs, "{\"parent\":{\"ret_is_child_pid\":%s,\"regs_kept\":%s},",
		pid > 0 && el_rep.pid == (uint32_t)pid ? "true" : "false",
		!check || markers_kept(el_parent_regs, 1) ? "true" : "false");
	child_json(&obs, &el_rep, p, status, 0);
	el_jcat(&obs, "}");
	report(test, ok, &obs,
	       "{\"parent\":{\"ret_is_child_pid\":true,\"regs_kept\":true},"
	       "\"child\":{\"fate\":\"returned-to-caller\",\"exit\":0}}",
	       ok ? "vfork: child returned to the caller on the shared stack, parent too"
		  : "vfork: parent or child did not come back as expected");
}

/* The sandboxed parent of a stack-writing vfork child dies here: write down where. */
static void on_parent_segv(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	(void)si;
	shm->landed = 4;
	shm->fault_eip = (uint32_t)uc->uc_mcontext.gregs[REG_EIP];
	shm->ebp = (uint32_t)uc->uc_mcontext.gregs[REG_EBP];
	shm->edx = (uint32_t)uc->uc_mcontext.gregs[REG_EDX];
	shm->ecx = (uint32_t)uc->uc_mcontext.gregs[REG_ECX];
	_exit(42);
}

/*
 * vfork whose child pushes four words before it exits. The parent's fate is
 * the observation, so the parent is a sandbox process: it reports through shm.
 */
static void test_vfork_dirty(enum el_path p)
{
	struct el_json obs = { .n = 0 };
	char test[64];
	int status = -1;

	snprintf(test, sizeof(test), "vfork/%s/child_pushes", el_path_names[p]);
	memset(shm, 0, sizeof(*shm));
	pid_t sandbox = fork();
	if (sandbox == 0) {
		static char altstack[16384];
		stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0 };
		struct sigaction sa;

		sigaltstack(&ss, NULL);
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_parent_segv;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGSEGV, &sa, NULL);
		if (p == EL_GLIBC) {
			if (vfork() == 0)
				asm volatile("pushl $0xbad0bad3\n\tpushl $0xbad0bad2\n\t"
					     "pushl $0xbad0bad1\n\tpushl $0xbad0bad0\n\t"
					     "int $0x80" : : "a"(SYS_exit), "b"(0));
		} else if (p == EL_INT80) {
			el_vfork_dirty_int80();
		} else {
			el_vfork_dirty(el_path_entry(p));
		}
		shm->landed = 1;
		memcpy(shm, el_parent_regs, sizeof(el_parent_regs));
		_exit(0);
	}
	waitpid(sandbox, &status, 0);
	const char *fate = shm->landed == 1 ? "returned-to-caller"
			   : shm->landed == 4 ? "sigsegv" : "none";
	el_jcat(&obs, "{\"parent\":{\"fate\":\"%s\"", fate);
	if (shm->landed == 4)
		el_jcat(&obs,
			",\"fault_eip\":\"0x%x\",\"ebp\":\"0x%x\",\"edx\":\"0x%x\",\"ecx\":\"0x%x\"",
			shm->fault_eip, shm->ebp, shm->edx, shm->ecx);
	else if (p != EL_GLIBC)
		el_jcat(&obs, ",\"regs_kept\":%s",
			markers_kept((uint32_t *)shm, 1) ? "true" : "false");
	el_jcat(&obs, ",\"exit\":%d},\"child_pushed\":[\"0xbad0bad3\",\"0xbad0bad2\","
		      "\"0xbad0bad1\",\"0xbad0bad0\"]}",
		WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	int vdso = p == EL_AT_SYSINFO || p == EL_VDSO_SYM;
	int ok = vdso ? shm->landed == 4 && shm->fault_eip == 0xbad0bad3 && shm->ebp == 0xbad0bad0 &&
				shm->edx == 0xbad0bad1 && shm->ecx == 0xbad0bad2
		      : shm->landed == 1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	el_result(test, ok ? "pass" : "fail", obs.s,
		  vdso ? "{\"parent\":{\"fate\":\"sigsegv\",\"fault_eip\":\"0xbad0bad3\","
			 "\"ebp\":\"0xbad0bad0\",\"edx\":\"0xbad0bad1\",\"ecx\":\"0xbad0bad2\"}}"
		       : "{\"parent\":{\"fate\":\"returned-to-caller\",\"exit\":0}}",
		  "vfork child wrote its stack: parent %s", fate);
}

static int glibc_clone_fn(void *arg)
{
	(void)arg;
	uint32_t esp;
	asm volatile("movl %%esp, %0" : "=r"(esp));
	el_rep.esp = esp;
	el_rep.pid = (uint32_t)syscall(SYS_getpid);
	el_rep.landed = 3;
	return 0;
}

/* The zeroed-stack child dies here: write down where, exit 42 without libc. */
static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	el_rep.landed = 4;
	el_rep.fault_eip = (uint32_t)uc->uc_mcontext.gregs[REG_EIP];
	el_rep.fault_addr = (uint32_t)(uintptr_t)si->si_addr;
	el_rep.eax = (uint32_t)uc->uc_mcontext.gregs[REG_EAX];
	el_rep.ebx = (uint32_t)uc->uc_mcontext.gregs[REG_EBX];
	el_rep.esi = (uint32_t)uc->uc_mcontext.gregs[REG_ESI];
	el_rep.edi = (uint32_t)uc->uc_mcontext.gregs[REG_EDI];
	el_rep.esp = (uint32_t)uc->uc_mcontext.gregs[REG_ESP];
	el_rep.ebp = (uint32_t)uc->uc_mcontext.gregs[REG_EBP];
	el_rep.edx = (uint32_t)uc->uc_mcontext.gregs[REG_EDX];
	el_rep.ecx = (uint32_t)uc->uc_mcontext.gregs[REG_ECX];
	asm volatile("int $0x80" : : "a"(SYS_exit), "b"(42));
}

/*
 * clone(CLONE_VM|SIGCHLD) with a new stack. stack: 0 none needed (int80 /
 * glibc), 1 prepared return slot, 2 zeroed slots.
 */
static void test_clone(enum el_path p, int stack)
{
	static const char *const names[] = { "", "/prepared", "/zeroed" };
	struct el_json obs = { .n = 0 }, exp = { .n = 0 };
	char test[64];
	int status = -1;
	pid_t pid;
	uint32_t *newsp = &cstack[4096 - 64];

	snprintf(test, sizeof(test), "clone_vm/%s%s", el_path_names[p], names[stack]);
	memset(&el_rep, 0, sizeof(el_rep));
	memset(cstack, 0, sizeof(cstack));
	if (stack == 1) {
		newsp[0] = SLOT_EBP;
		newsp[1] = SLOT_EDX;
		newsp[2] = SLOT_ECX;
		newsp[3] = (uint32_t)(uintptr_t)el_clone_landing;
	}
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old); /* copied into the child; the parent never faults */
	if (p == EL_GLIBC)
		pid = clone(glibc_clone_fn, newsp, CLONE_FLAGS, NULL);
	else if (p == EL_INT80)
		pid = (pid_t)el_clone_int80((uintptr_t)newsp);
	else
		pid = (pid_t)el_clone_vdso(el_path_entry(p), (uintptr_t)newsp);
	waitpid(pid, &status, 0);
	sigaction(SIGSEGV, &old, NULL);

	/* The parent keeps the clone arguments: ebx = flags, ecx = newsp, the rest markers. */
	int parent_kept = p == EL_GLIBC ||
			  (el_parent_regs[1] == CLONE_FLAGS &&
			   el_parent_regs[2] == (uint32_t)(uintptr_t)newsp && el_parent_regs[3] == M_EDX &&
			   el_parent_regs[4] == M_ESI && el_parent_regs[5] == M_EDI &&
			   el_parent_regs[6] == M_EBP);
	el_jcat(&obs, "{\"parent\":{\"ret_is_child_pid\":%s,\"regs_kept\":%s},",
		pid > 0 && (el_rep.pid == (uint32_t)pid || stack == 2) ? "true" : "false",
		parent_kept ? "true" : "false");
	child_json(&obs, &el_rep, p, status, (uintptr_t)newsp);
	el_jcat(&obs, ",\"setup\":{\"flags\":\"0x%x\",\"slots\":[\"0x%x\",\"0x%x\",\"0x%x\",\"%s\"]}}",
		CLONE_FLAGS, newsp[0], newsp[1], newsp[2], stack == 1 ? "landing" : "0x0");

	/* What this program expects (the host asks the model, lab/model/clone.py). */
	int ok;
	if (stack == 0) {
		const char *fate = p == EL_GLIBC ? "ran-fn" : "resumed-after-int80";
		el_jcat(&exp, "{\"child\":{\"fate\":\"%s\",\"exit\":0}}", fate);
		ok = pid > 0 && !strcmp(landed_name(el_rep.landed), fate) &&
		     el_rep.pid == (uint32_t)pid && WIFEXITED(status) && !WEXITSTATUS(status);
		if (p == EL_INT80) /* resumes with the syscall's registers, on the new stack */
			ok = ok && el_rep.ecx == (uint32_t)(uintptr_t)newsp &&
			     el_rep.esp == (uint32_t)(uintptr_t)newsp && el_rep.ebp == M_EBP;
	} else if (stack == 1) {
		el_jcat(&exp,
			"{\"child\":{\"fate\":\"returned-to-slot\",\"ebp\":\"0x%x\",\"edx\":\"0x%x\","
			"\"ecx\":\"0x%x\",\"esp_from_newsp\":16,\"exit\":0}}",
			SLOT_EBP, SLOT_EDX, SLOT_ECX);
		ok = pid > 0 && el_rep.landed == 2 && el_rep.ebp == SLOT_EBP &&
		     el_rep.edx == SLOT_EDX && el_rep.ecx == SLOT_ECX &&
		     el_rep.esp == (uint32_t)(uintptr_t)newsp + 16 && WIFEXITED(status) &&
		     !WEXITSTATUS(status);
	} else {
		el_jcat(&exp,
			"{\"child\":{\"fate\":\"sigsegv\",\"fault_eip\":\"0x0\",\"esp_from_newsp\":16,"
			"\"exit\":42}}");
		ok = pid > 0 && el_rep.landed == 4 && el_rep.fault_eip == 0 &&
		     el_rep.esp == (uint32_t)(uintptr_t)newsp + 16 && WIFEXITED(status) &&
		     WEXITSTATUS(status) == 42;
	}
	ok = ok && parent_kept;
	el_result(test, ok ? "pass" : "fail", obs.s, exp.s, "clone(CLONE_VM) child: %s",
		  landed_name(el_rep.landed));
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;

	shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED || !el_landing_pad()) {
		el_result("fork-clone/setup", "error", NULL, NULL, "no shared page or no stub");
		return 1;
	}
	for (int p = 0; p < EL_NPATHS; p++) {
		if (only && strcmp(only, el_path_names[p]) != 0)
			continue;
		test_fork((enum el_path)p);
		test_vfork((enum el_path)p);
		test_vfork_dirty((enum el_path)p);
		if (p == EL_AT_SYSINFO || p == EL_VDSO_SYM) {
			test_clone((enum el_path)p, 1);
			test_clone((enum el_path)p, 2);
		} else {
			test_clone((enum el_path)p, 0);
		}
	}
	return 0;
}
