// SPDX-License-Identifier: GPL-2.0
// entrylab-cflags: -lgcc_eh
/*
 * vdso_cfi: can libgcc's unwinder (what debuggers, backtrace() and C++
 * exceptions rely on) walk from inside __kernel_vsyscall back to its caller
 * with nothing but the vDSO's own CFI? (LKML 2015-08-26, "Thing 2".)
 *
 *   unwind-blocked/<path>/eintr    read() of an empty pipe blocks in the
 *   unwind-blocked/<path>/restart  kernel; a SIGALRM handler (raw
 *       rt_sigaction without SA_RESTORER, so the kernel returns through the
 *       vDSO's __kernel_rt_sigreturn) calls _Unwind_Backtrace. The walk must
 *       go handler -> __kernel_rt_sigreturn (a signal frame: its CIE says
 *       "zRS") -> the interrupted pc -> the caller, with ebx ecx edx esi edi
 *       ebp as the caller had them and the stub frame's CFA equal to the
 *       caller's esp before the call. Without SA_RESTART the interrupted pc
 *       is int80_landing_pad (-EINTR); with it the kernel has already done
 *       ip -= 2, so it is the stub's int $0x80 (the handler then feeds the
 *       pipe so that the restarted read completes).
 *   unwind-step/<path>             TF set around one call through the stub:
 *       the SIGTRAP handler unwinds at every instruction it stops on, like
 *       tools/testing/selftests/x86/unwind_vdso.c.
 *   unwind-trampoline/rt           as unwind-blocked/at_sysinfo/eintr, but the
 *       SIGALRM handler returns with TF set, so SIGTRAP stops at each
 *       instruction of __kernel_rt_sigreturn up to its int $0x80.
 *   unwind-trampoline/sigreturn    the same with a SIGALRM handler without
 *       SA_SIGINFO, which returns through __kernel_sigreturn (its popl %eax
 *       moves the CFA's base). From there
 *       libgcc looks the trampoline up at its pc (the frame before it is a
 *       signal frame), so this walk uses the vDSO's own CFI for the
 *       trampoline on every series -- unlike the walk from the handler, where
 *       libgcc looks up __kernel_rt_sigreturn - 1, which on 7.2+ is in no FDE
 *       (it then matches the code bytes: x86_fallback_frame_state()).
 *
 * Each walk reports fde_trampoline (_Unwind_Find_FDE at the trampoline - 1,
 * libgcc's lookup from the handler), fde_trampoline_pc (at the trampoline
 * itself) and tramp_cfa: the CFA libgcc gave the trampoline frame, named
 * "saved_esp" (the interrupted esp: 6.x's CFI, libgcc's fallback) or
 * "sigcontext" (the sigcontext's address: 7.2+'s CFI).
 *
 * Paths: at_sysinfo and vdso_sym call the stub from cfi_call below (the two
 * only differ in how the address was found); int80 is the control without a
 * vDSO frame; glibc is read() from a C function, whose frame must be reached
 * through glibc's own CFI.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/ucontext.h>
#include <unistd.h>
#include <unwind.h>

#include "entrylab.h"

#define M_ESI 0x51515151u
#define M_EDI 0xd1d1d1d1u
#define M_EBP 0xb9b9b9b9u
#define MAX_FRAMES 24

/* libgcc exports it; unwind-dw2-fde.h is not installed. */
struct dwarf_eh_bases {
	void *tbase, *dbase, *func;
};
const void *_Unwind_Find_FDE(void *pc, struct dwarf_eh_bases *bases);

/*
 * long cfi_call(fn, nr, a1, a2, a3): call fn (the stub) with eax=nr, ebx/ecx/
 * edx = a1..a3 and markers in esi/edi/ebp; cfi_call_esp is esp just before
 * the call, cfi_call_ret its return address. cfi_tf != 0 sets TF first.
 * cfi_int80 is the same with an inline int $0x80 instead of the call. The
 * markers are the M_* values above, written out in the asm.
 */
uint32_t cfi_fn, cfi_call_esp, cfi_tf;
long cfi_call(uintptr_t fn, long nr, long a1, long a2, long a3);
long cfi_int80(long nr, long a1, long a2, long a3);
extern char cfi_call_ret[], cfi_int80_ret[];
asm(".text\n"
    /* shared loader: nr a1 a2 a3 at 28(%esp) = own ret, 4 pushes, ret, fn slot */
    "cfi_load:\n"
    "	movl 28(%esp), %eax\n	movl 32(%esp), %ebx\n"
    "	movl 36(%esp), %ecx\n	movl 40(%esp), %edx\n"
    "	movl $0x51515151, %esi\n	movl $0xd1d1d1d1, %edi\n"
    "	movl $0xb9b9b9b9, %ebp\n	ret\n"
    ".globl cfi_call\n"
    "cfi_call:\n"
    "	pushl %ebp\n	pushl %ebx\n	pushl %esi\n	pushl %edi\n"
    "	movl 20(%esp), %eax\n	movl %eax, cfi_fn\n"
    "	call cfi_load\n"
    "	cmpl $0, cfi_tf\n	je 1f\n"
    "	pushfl\n	orl $0x100, (%esp)\n	popfl\n"
    "1:	movl %esp, cfi_call_esp\n"
    "	call *cfi_fn\n"
    ".globl cfi_call_ret\n"
    "cfi_call_ret:\n"
    "	popl %edi\n	popl %esi\n	popl %ebx\n	popl %ebp\n	ret\n"
    ".globl cfi_int80\n"
    "cfi_int80:\n"
    "	pushl %ebp\n	pushl %ebx\n	pushl %esi\n	pushl %edi\n"
    "	pushl $0\n" /* so that cfi_load finds the args where cfi_call has them */
    "	call cfi_load\n"
    "	movl %esp, cfi_call_esp\n"
    "	int $0x80\n"
    ".globl cfi_int80_ret\n"
    "cfi_int80_ret:\n"
    "	addl $4, %esp\n"
    "	popl %edi\n	popl %esi\n	popl %ebx\n	popl %ebp\n	ret\n");

/* The glibc path's caller: its own section gives its bounds (__start_/__stop_). */
extern char __start_cfi_glibc_caller[], __stop_cfi_glibc_caller[];
static volatile long glibc_result;
__attribute__((noinline, section("cfi_glibc_caller"))) long glibc_read(int fd, char *buf)
{
	long n = read(fd, buf, 1);

	glibc_result = n; /* not a tail call: this frame stays on the stack */
	return n;
}

/* The signal handlers' section, to name their frames. */
extern char __start_cfi_handlers[], __stop_cfi_handlers[];
#define HANDLER __attribute__((noinline, section("cfi_handlers")))

/* Where things are, for naming unwound pcs. */
static uintptr_t vsys, vsys_end, rt_sigret, sigret, pad, vdso_lo, vdso_hi;
/* The interrupted esp and the sigcontext of the signal being judged. */
static uintptr_t sig_sp, sig_sc;

static void where(char *out, size_t cap, uintptr_t pc)
{
	if (pc >= vsys && pc < vsys_end)
		snprintf(out, cap, "vdso:__kernel_vsyscall+0x%lx", (unsigned long)(pc - vsys));
	else if (pc == rt_sigret)
		snprintf(out, cap, "vdso:__kernel_rt_sigreturn");
	else if (pc > rt_sigret && pc < rt_sigret + 9) /* mov; int $0x80; ud2 on 7.x */
		snprintf(out, cap, "vdso:__kernel_rt_sigreturn+0x%lx", (unsigned long)(pc - rt_sigret));
	else if (sigret && pc > sigret && pc < sigret + 10) /* pop; mov; int $0x80; ud2 */
		snprintf(out, cap, "vdso:__kernel_sigreturn+0x%lx", (unsigned long)(pc - sigret));
	else if (pc == sigret)
		snprintf(out, cap, "vdso:__kernel_sigreturn");
	else if (pc >= vdso_lo && pc < vdso_hi)
		snprintf(out, cap, "vdso+0x%lx", (unsigned long)(pc - vdso_lo));
	else if (pc == (uintptr_t)cfi_call_ret)
		snprintf(out, cap, "caller:cfi_call_ret");
	else if (pc == (uintptr_t)cfi_int80_ret)
		snprintf(out, cap, "caller:cfi_int80_ret");
	else if (pc == (uintptr_t)cfi_int80_ret - 2)
		snprintf(out, cap, "caller:cfi_int80_ret-2");
	else if (pc >= (uintptr_t)read && pc < (uintptr_t)read + 0x100)
		snprintf(out, cap, "glibc:read+0x%lx", (unsigned long)(pc - (uintptr_t)read));
	else if (pc >= (uintptr_t)__start_cfi_handlers && pc < (uintptr_t)__stop_cfi_handlers)
		snprintf(out, cap, "handler");
	else if (pc >= (uintptr_t)__start_cfi_glibc_caller && pc < (uintptr_t)__stop_cfi_glibc_caller)
		snprintf(out, cap, "caller:glibc_read+0x%lx",
			 (unsigned long)(pc - (uintptr_t)__start_cfi_glibc_caller));
	else
		snprintf(out, cap, "0x%08lx", (unsigned long)pc);
}

/* Where libgcc found the FDE for pc: in the vDSO, in this binary, or nowhere. */
static const char *fde_source(uintptr_t pc)
{
	struct dwarf_eh_bases bases;
	const void *fde = _Unwind_Find_FDE((void *)pc, &bases);

	if (!fde)
		return "none";
	return ((uintptr_t)fde >= vdso_lo && (uintptr_t)fde < vdso_hi) ? "vdso" : "binary";
}

/* What a CFA libgcc computed for a trampoline frame is. */
static void cfa_kind(char *out, size_t cap, uintptr_t cfa, uintptr_t sp, uintptr_t sc)
{
	if (cfa == sp)
		snprintf(out, cap, "saved_esp");
	else if (cfa == sc)
		snprintf(out, cap, "sigcontext");
	else
		snprintf(out, cap, "0x%08lx", (unsigned long)cfa);
}

/* One _Unwind_Backtrace walk. */
struct walk {
	int n;
	uintptr_t ip[MAX_FRAMES], cfa[MAX_FRAMES];
	int sigframe[MAX_FRAMES];
	int caller; /* index of the frame at the caller, or -1 */
	uint32_t gr[8]; /* eax ecx edx ebx esp ebp esi edi there (DWARF order) */
};

static _Unwind_Reason_Code trace_fn(struct _Unwind_Context *ctx, void *opaque)
{
	struct walk *w = opaque;
	int before = 0;
	uintptr_t ip = _Unwind_GetIPInfo(ctx, &before);

	if (w->n >= MAX_FRAMES)
		return _URC_NORMAL_STOP;
	w->ip[w->n] = ip;
	w->cfa[w->n] = _Unwind_GetCFA(ctx);
	w->sigframe[w->n] = before;
	if (ip == (uintptr_t)cfi_call_ret || ip == (uintptr_t)cfi_int80_ret ||
	    ip == (uintptr_t)cfi_int80_ret - 2 || /* int $0x80 rewound by a restart */
	    (ip >= (uintptr_t)__start_cfi_glibc_caller && ip < (uintptr_t)__stop_cfi_glibc_caller)) {
		w->caller = w->n;
		for (int r = 0; r < 8; r++)
			w->gr[r] = r == 4 ? 0 : (uint32_t)_Unwind_GetGR(ctx, r);
		w->n++;
		return _URC_NORMAL_STOP;
	}
	w->n++;
	return _URC_NO_REASON;
}

HANDLER static void do_walk(struct walk *w)
{
	memset(w, 0, sizeof(*w));
	w->caller = -1;
	_Unwind_Backtrace(trace_fn, w);
}

/*
 * Judge one walk taken in a handler that interrupted pc. want: the caller's
 * ebx ecx edx (esi edi ebp are the markers) or NULL when not checked (glibc).
 * Writes a verdict into msg and the observation JSON into obs; returns 1 if
 * the walk is right.
 */
static int judge(const struct walk *w, uintptr_t pc, const uint32_t *want, char *msg, size_t mcap,
		 char *obs, size_t ocap)
{
	char frames[1024] = "[", name[64];
	int tramp = -1, ok = 1;

	for (int i = 0; i < w->n; i++) {
		where(name, sizeof(name), w->ip[i]);
		snprintf(frames + strlen(frames), sizeof(frames) - strlen(frames), "%s\"%s%s\"",
			 i ? "," : "", name, w->sigframe[i] ? " (S)" : "");
		if (w->ip[i] == rt_sigret && tramp < 0)
			tramp = i;
	}
	strncat(frames, "]", sizeof(frames) - strlen(frames) - 1);
	msg[0] = 0;
	if (tramp < 0) {
		snprintf(msg, mcap, "no __kernel_rt_sigreturn frame");
		ok = 0;
	} else if (tramp + 1 >= w->n || w->ip[tramp + 1] != pc) {
		where(name, sizeof(name), pc);
		snprintf(msg, mcap, "frame after the trampoline is not the interrupted pc %s", name);
		ok = 0;
	} else if (w->caller < 0) {
		snprintf(msg, mcap, "the walk never reached the caller");
		ok = 0;
	}
	/*
	 * libgcc's _Unwind_GetCFA(ctx) for a frame is the CFA of the frame it
	 * was unwound from: at the caller that is the stub frame's CFA, which
	 * must be the caller's esp before its call (or before its int $0x80).
	 */
	int cfa_ok = ok && want ? w->cfa[w->caller] == cfi_call_esp : -1;
	if (cfa_ok == 0) {
		snprintf(msg, mcap, "CFA of the stub frame 0x%lx != caller esp 0x%x",
			 (unsigned long)w->cfa[w->caller], cfi_call_esp);
		ok = 0;
	}
	/* In the stub the caller comes right after the stub frame; int80 has none. */
	int depth = pc >= vsys && pc < vsys_end ? 2 : 1;
	if (ok && want && w->caller != tramp + depth) {
		snprintf(msg, mcap, "caller reached %d frames after the trampoline, expected %d",
			 w->caller - tramp, depth);
		ok = 0;
	}
	char regs[256] = "{";
	if (ok && want) {
		static const int dw[6] = { 3, 1, 2, 6, 7, 5 }; /* ebx ecx edx esi edi ebp */
		static const char *const nm[6] = { "ebx", "ecx", "edx", "esi", "edi", "ebp" };
		uint32_t exp[6] = { want[0], want[1], want[2], M_ESI, M_EDI, M_EBP };
		for (int r = 0; r < 6; r++) {
			if (w->gr[dw[r]] == exp[r])
				continue;
			snprintf(regs + strlen(regs), sizeof(regs) - strlen(regs),
				 "%s\"%s\":\"0x%08x\"", regs[1] ? "," : "", nm[r], w->gr[dw[r]]);
			ok = 0;
		}
		if (!ok)
			snprintf(msg, mcap, "caller's registers not recovered");
	}
	strncat(regs, "}", sizeof(regs) - strlen(regs) - 1);
	char kind[16] = "null";
	if (tramp >= 0 && tramp + 1 < w->n)
		cfa_kind(kind, sizeof(kind), w->cfa[tramp + 1], sig_sp, sig_sc);
	where(name, sizeof(name), pc);
	snprintf(obs, ocap,
		 "{\"interrupted\":\"%s\",\"frames\":%s,\"cfa_ok\":%s,\"wrong_regs\":%s,"
		 "\"fde_interrupted\":\"%s\",\"fde_trampoline\":\"%s\","
		 "\"fde_trampoline_pc\":\"%s\",\"tramp_cfa\":\"%s\"}",
		 name, frames, cfa_ok < 0 ? "null" : cfa_ok ? "true" : "false", regs,
		 fde_source(pc), fde_source(rt_sigret - 1), fde_source(rt_sigret), kind);
	return ok;
}

/* Install handler for sig with raw rt_sigaction: no SA_RESTORER, so the
 * kernel makes the vDSO's __kernel_rt_sigreturn the handler's return address. */
static void set_handler(int sig, void (*fn)(int, siginfo_t *, void *), unsigned long flags)
{
	struct {
		void (*handler)(int, siginfo_t *, void *);
		unsigned long flags;
		void (*restorer)(void);
		uint32_t mask[2];
	} ksa = { fn, SA_SIGINFO | flags, NULL, { 0, 0 } };

	if (syscall(SYS_rt_sigaction, sig, &ksa, NULL, 8) != 0) {
		perror("rt_sigaction");
		exit(1);
	}
}

/* ---- unwind-blocked ---- */

static struct walk alarm_walk;
static uintptr_t alarm_pc, alarm_sp, alarm_sc;
static int alarm_feed_fd = -1;

HANDLER __attribute__((used)) void on_alarm(int sig, siginfo_t *si, void *ucv);
HANDLER __attribute__((used)) void on_alarm(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	(void)si;
	alarm_pc = (uintptr_t)uc->uc_mcontext.gregs[REG_EIP];
	alarm_sp = (uintptr_t)uc->uc_mcontext.gregs[REG_ESP];
	alarm_sc = (uintptr_t)&uc->uc_mcontext; /* struct sigcontext_32 */
	do_walk(&alarm_walk);
	if (alarm_feed_fd >= 0)
		(void)!write(alarm_feed_fd, "x", 1); /* the restarted read gets this */
}

static void blocked(const char *path, int restart)
{
	char test[64], msg[256], obs[2048];
	int p[2];
	char buf[4];
	long ret;
	struct itimerval it = { { 0, 0 }, { 0, 300000 } };

	snprintf(test, sizeof(test), "unwind-blocked/%s/%s", path, restart ? "restart" : "eintr");
	if (pipe(p)) {
		el_result(test, "error", NULL, NULL, "pipe: %s", strerror(errno));
		return;
	}
	set_handler(SIGALRM, on_alarm, restart ? SA_RESTART : 0);
	alarm_feed_fd = restart ? p[1] : -1;
	alarm_pc = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	if (!strcmp(path, "int80"))
		ret = cfi_int80(__NR_read, p[0], (long)buf, 1);
	else if (!strcmp(path, "glibc"))
		ret = glibc_read(p[0], buf) < 0 ? -errno : glibc_result;
	else
		ret = cfi_call(!strcmp(path, "at_sysinfo") ? el_at_sysinfo()
							  : el_vdso_sym("__kernel_vsyscall"),
			       __NR_read, p[0], (long)buf, 1);
	close(p[0]);
	close(p[1]);

	uint32_t want[3] = { (uint32_t)p[0], (uint32_t)(uintptr_t)buf, 1 };
	sig_sp = alarm_sp;
	sig_sc = alarm_sc;
	int ok = judge(&alarm_walk, alarm_pc, strcmp(path, "glibc") ? want : NULL, msg,
		       sizeof(msg), obs, sizeof(obs));
	long expect = restart ? 1 : -EINTR;
	if (ok && ret != expect) {
		snprintf(msg, sizeof(msg), "read returned %ld, expected %ld", ret, expect);
		ok = 0;
	}
	snprintf(obs + strlen(obs) - 1, sizeof(obs) - strlen(obs) + 1, ",\"read\":%ld}", ret);
	if (ok) {
		char name[64];
		where(name, sizeof(name), alarm_pc);
		snprintf(msg, sizeof(msg), "unwound from %s through __kernel_rt_sigreturn to the caller",
			 name);
	}
	el_result(test, ok ? "pass" : "fail", obs, NULL, "%s", msg);
}

/* ---- unwind-step ---- */

#define MAX_STOPS 32
static struct {
	uintptr_t pc;
	int ok;
	char msg[96];
} stops[MAX_STOPS];
static int nstops, left_stub;
static const uint32_t step_args[3] = { 0x1b1b1b1b, 0x1c1c1c1c, 0x1d1d1d1d };

HANDLER static void on_trap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_EIP];
	struct walk w;
	char obs[2048];

	(void)sig;
	(void)si;
	if (pc == (uintptr_t)cfi_call_ret) { /* back in the caller: stop stepping */
		uc->uc_mcontext.gregs[REG_EFL] &= ~0x100;
		left_stub = 1;
		return;
	}
	if (pc < vsys || pc >= vsys_end || nstops >= MAX_STOPS)
		return; /* the call instruction itself, before the stub */
	do_walk(&w);
	sig_sp = (uintptr_t)uc->uc_mcontext.gregs[REG_ESP];
	sig_sc = (uintptr_t)&uc->uc_mcontext;
	stops[nstops].pc = pc;
	stops[nstops].ok = judge(&w, pc, step_args, stops[nstops].msg, sizeof(stops[nstops].msg),
				 obs, sizeof(obs));
	nstops++;
}

static void step(const char *path)
{
	char test[64], obs[2048] = "{\"stops\":[";
	int bad = 0;

	snprintf(test, sizeof(test), "unwind-step/%s", path);
	set_handler(SIGTRAP, on_trap, 0);
	nstops = left_stub = 0;
	cfi_tf = 1;
	long ret = cfi_call(!strcmp(path, "at_sysinfo") ? el_at_sysinfo()
							: el_vdso_sym("__kernel_vsyscall"),
			    __NR_getppid, step_args[0], step_args[1], step_args[2]);
	cfi_tf = 0;
	for (int i = 0; i < nstops; i++) {
		snprintf(obs + strlen(obs), sizeof(obs) - strlen(obs),
			 "%s{\"offset\":%lu,\"ok\":%s%s%s%s}", i ? "," : "",
			 (unsigned long)(stops[i].pc - vsys), stops[i].ok ? "true" : "false",
			 stops[i].ok ? "" : ",\"why\":\"", stops[i].ok ? "" : stops[i].msg,
			 stops[i].ok ? "" : "\"");
		bad += !stops[i].ok;
	}
	snprintf(obs + strlen(obs), sizeof(obs) - strlen(obs),
		 "],\"returned\":%s,\"getppid_ok\":%s}", left_stub ? "true" : "false",
		 ret == getppid() ? "true" : "false");
	if (!nstops || bad || !left_stub || ret != getppid())
		el_result(test, "fail", obs, NULL,
			  "%d of %d single-step stops in __kernel_vsyscall did not unwind to the "
			  "caller%s",
			  bad, nstops, left_stub ? "" : " (never got back to the caller)");
	else
		el_result(test, "pass", obs, NULL,
			  "unwound to the caller from all %d single-step stops in the stub", nstops);
}

/* ---- unwind-trampoline ---- */

/*
 * SIGALRM entry for unwind-trampoline: on_alarm, then return into
 * __kernel_rt_sigreturn with TF set. A popfl that sets TF traps after the
 * instruction that follows it, so the first stop is the trampoline's first
 * instruction (a stop in here anyway is ignored by on_tramp_trap).
 */
void cfi_alarm_tf(int sig, siginfo_t *si, void *ucv);
asm(".pushsection cfi_handlers,\"ax\",@progbits\n"
    ".globl cfi_alarm_tf\n"
    "cfi_alarm_tf:\n"
    "	pushl 12(%esp)\n	pushl 12(%esp)\n	pushl 12(%esp)\n"
    "	call on_alarm\n"
    "	addl $12, %esp\n"
    "	pushfl\n	orl $0x100, (%esp)\n	popfl\n"
    "	ret\n"
    ".popsection\n");

/*
 * The same for a handler without SA_SIGINFO: the kernel's struct
 * sigframe_ia32 is pretcode, sig, sc, so the sigcontext is at 8(%esp).
 */
void cfi_alarm_tf_plain(int sig);
HANDLER __attribute__((used)) void on_alarm_plain(int sig, uint32_t *sc);
HANDLER __attribute__((used)) void on_alarm_plain(int sig, uint32_t *sc)
{
	(void)sig;
	alarm_pc = sc[REG_EIP]; /* struct sigcontext_32 is laid out as glibc's gregs */
	alarm_sp = sc[REG_ESP];
	alarm_sc = (uintptr_t)sc;
}
asm(".pushsection cfi_handlers,\"ax\",@progbits\n"
    ".globl cfi_alarm_tf_plain\n"
    "cfi_alarm_tf_plain:\n"
    "	leal 8(%esp), %eax\n	pushl %eax\n	pushl 8(%esp)\n"
    "	call on_alarm_plain\n"
    "	addl $8, %esp\n"
    "	pushfl\n	orl $0x100, (%esp)\n	popfl\n"
    "	ret\n"
    ".popsection\n");

#define MAX_TSTOPS 4
static struct {
	uintptr_t pc;
	int ok;
	char msg[128];
	char obs[1024];
} tstops[MAX_TSTOPS];
static int ntstops, tstray;
static uintptr_t tramp_base, tramp_int80;
static uint32_t tramp_want[3];

/*
 * A walk from a SIGTRAP at pc inside the SIGALRM frame's trampoline must go
 * handler -> __kernel_rt_sigreturn (SIGTRAP's frame, from the handler) ->
 * pc (S) -> the pc SIGALRM interrupted, the landing pad (S) -> the caller,
 * with the caller's registers and the stub frame's CFA = the caller's esp.
 */
static int judge_tramp(const struct walk *w, uintptr_t pc, uintptr_t trap_sp, uintptr_t trap_sc,
		       char *msg, size_t mcap, char *obs, size_t ocap)
{
	char frames[512] = "[", name[64], inner[16] = "null", outer[16] = "null";
	int t = -1, ok = 1;

	for (int i = 0; i < w->n; i++) {
		where(name, sizeof(name), w->ip[i]);
		snprintf(frames + strlen(frames), sizeof(frames) - strlen(frames), "%s\"%s%s\"",
			 i ? "," : "", name, w->sigframe[i] ? " (S)" : "");
		if (w->ip[i] == rt_sigret && t < 0)
			t = i;
	}
	strncat(frames, "]", sizeof(frames) - strlen(frames) - 1);
	msg[0] = 0;
	if (t < 0 || t + 2 >= w->n) {
		snprintf(msg, mcap, "no __kernel_rt_sigreturn frame with three frames after it");
		ok = 0;
	} else if (w->ip[t + 1] != pc || !w->sigframe[t + 1]) {
		snprintf(msg, mcap, "the frame after SIGTRAP's trampoline is not the stopped pc (S)");
		ok = 0;
	} else if (w->ip[t + 2] != alarm_pc || !w->sigframe[t + 2]) {
		snprintf(msg, mcap, "the trampoline's frame did not unwind to SIGALRM's pc (S)");
		ok = 0;
	} else if (w->caller != t + 3) {
		snprintf(msg, mcap, "the caller is not right after the stub frame");
		ok = 0;
	} else if (w->cfa[w->caller] != cfi_call_esp) {
		snprintf(msg, mcap, "CFA of the stub frame 0x%lx != caller esp 0x%x",
			 (unsigned long)w->cfa[w->caller], cfi_call_esp);
		ok = 0;
	} else {
		static const int dw[6] = { 3, 1, 2, 6, 7, 5 };
		uint32_t exp[6] = { tramp_want[0], tramp_want[1], tramp_want[2], M_ESI, M_EDI, M_EBP };
		for (int r = 0; r < 6; r++)
			if (w->gr[dw[r]] != exp[r])
				ok = 0;
		if (!ok)
			snprintf(msg, mcap, "caller's registers not recovered");
	}
	if (t >= 0 && t + 1 < w->n)
		cfa_kind(outer, sizeof(outer), w->cfa[t + 1], trap_sp, trap_sc);
	if (t >= 0 && t + 2 < w->n)
		cfa_kind(inner, sizeof(inner), w->cfa[t + 2], alarm_sp, alarm_sc);
	snprintf(obs, ocap,
		 "{\"frames\":%s,\"fde_pc\":\"%s\",\"tramp_cfa\":\"%s\",\"outer_cfa\":\"%s\"}",
		 frames, fde_source(pc), inner, outer);
	return ok;
}

static void tf_off(ucontext_t *uc)
{
	uc->uc_mcontext.gregs[REG_EFL] &= ~0x100;
}

HANDLER static void on_tramp_trap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_EIP];
	struct walk w;

	(void)sig;
	(void)si;
	if (pc >= (uintptr_t)__start_cfi_handlers && pc < (uintptr_t)__stop_cfi_handlers)
		return; /* still in cfi_alarm_tf: keep stepping */
	if (pc < tramp_base || pc > tramp_int80 || ntstops >= MAX_TSTOPS) {
		tstray++;
		tf_off(uc);
		return;
	}
	do_walk(&w);
	tstops[ntstops].pc = pc;
	tstops[ntstops].ok =
		judge_tramp(&w, pc, (uintptr_t)uc->uc_mcontext.gregs[REG_ESP],
			    (uintptr_t)&uc->uc_mcontext, tstops[ntstops].msg,
			    sizeof(tstops[ntstops].msg), tstops[ntstops].obs,
			    sizeof(tstops[ntstops].obs));
	ntstops++;
	if (pc == tramp_int80)
		tf_off(uc); /* let the int $0x80 (rt_sigreturn) run untraced */
}

static void trampoline(int plain)
{
	const char *test = plain ? "unwind-trampoline/sigreturn" : "unwind-trampoline/rt";
	const char *sym = plain ? "__kernel_sigreturn" : "__kernel_rt_sigreturn";
	const unsigned char *code;
	char obs[6144] = "{\"stops\":[";
	struct itimerval it = { { 0, 0 }, { 0, 300000 } };
	int p[2], bad = 0;
	char buf[4];

	tramp_base = plain ? sigret : rt_sigret;
	tramp_int80 = 0;
	code = (const unsigned char *)tramp_base;
	for (int i = 0; tramp_base && i < 16 && !tramp_int80; i++)
		if (code[i] == 0xcd && code[i + 1] == 0x80)
			tramp_int80 = tramp_base + i;
	if (!tramp_int80 || pipe(p)) {
		el_result(test, "error", NULL, NULL, "no %s with an int $0x80, or pipe", sym);
		return;
	}
	tramp_want[0] = (uint32_t)p[0];
	tramp_want[1] = (uint32_t)(uintptr_t)buf;
	tramp_want[2] = 1;
	if (plain) {
		/* no SA_SIGINFO, no SA_RESTORER: the kernel returns through __kernel_sigreturn */
		struct {
			void (*handler)(int);
			unsigned long flags;
			void (*restorer)(void);
			uint32_t mask[2];
		} ksa = { cfi_alarm_tf_plain, 0, NULL, { 0, 0 } };
		if (syscall(SYS_rt_sigaction, SIGALRM, &ksa, NULL, 8) != 0) {
			perror("rt_sigaction");
			exit(1);
		}
	} else {
		set_handler(SIGALRM, cfi_alarm_tf, 0);
	}
	set_handler(SIGTRAP, on_tramp_trap, 0);
	alarm_feed_fd = -1;
	alarm_pc = 0;
	ntstops = tstray = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	long ret = cfi_call(el_at_sysinfo(), __NR_read, p[0], (long)buf, 1);
	close(p[0]);
	close(p[1]);
	for (int i = 0; i < ntstops; i++) {
		snprintf(obs + strlen(obs), sizeof(obs) - strlen(obs),
			 "%s{\"offset\":%lu,\"ok\":%s,\"why\":\"%s\",\"walk\":%s}", i ? "," : "",
			 (unsigned long)(tstops[i].pc - tramp_base), tstops[i].ok ? "true" : "false",
			 tstops[i].msg, tstops[i].obs);
		bad += !tstops[i].ok;
	}
	char name[64];
	where(name, sizeof(name), alarm_pc);
	snprintf(obs + strlen(obs), sizeof(obs) - strlen(obs),
		 "],\"interrupted\":\"%s\",\"stray\":%d,\"read\":%ld,"
		 "\"fde_trampoline\":\"%s\",\"fde_trampoline_pc\":\"%s\"}",
		 name, tstray, ret, fde_source(tramp_base - 1), fde_source(tramp_base));
	int ok = ntstops && !bad && !tstray && ret == -EINTR &&
		 tstops[ntstops - 1].pc == tramp_int80;
	if (ok)
		el_result(test, "pass", obs, NULL,
			  "unwound to the caller from all %d stops in %s", ntstops, sym);
	else
		el_result(test, "fail", obs, NULL,
			  "%d of %d stops in %s did not unwind (%d stray, read %ld)", bad, ntstops,
			  sym, tstray, ret);
}

int main(void)
{
	const Elf32_Ehdr *eh = el_vdso_ehdr();
	const Elf32_Phdr *ph = (const Elf32_Phdr *)((const char *)eh + eh->e_phoff);
	static const char *const paths[] = { "at_sysinfo", "vdso_sym", "int80", "glibc" };

	vdso_lo = vdso_hi = (uintptr_t)eh;
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && (uintptr_t)eh + ph[i].p_memsz > vdso_hi)
			vdso_hi = (uintptr_t)eh + ph[i].p_memsz;
	vsys = el_vdso_sym("__kernel_vsyscall");
	pad = el_landing_pad();
	vsys_end = pad ? pad + 4 : vsys + 16; /* pop ebp; pop edx; pop ecx; ret */
	rt_sigret = el_vdso_sym("__kernel_rt_sigreturn");
	sigret = el_vdso_sym("__kernel_sigreturn");
	if (!vsys || !pad || !rt_sigret) {
		el_result("unwind-blocked", "error", NULL, NULL, "vDSO symbols missing");
		return 1;
	}
	printf("vdso 0x%lx-0x%lx __kernel_vsyscall 0x%lx landing pad 0x%lx rt_sigreturn 0x%lx\n",
	       (unsigned long)vdso_lo, (unsigned long)vdso_hi, (unsigned long)vsys,
	       (unsigned long)pad, (unsigned long)rt_sigret);
	for (unsigned i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		blocked(paths[i], 0);
		blocked(paths[i], 1);
	}
	step("at_sysinfo");
	step("vdso_sym");
	trampoline(0);
	trampoline(1);
	return 0;
}
