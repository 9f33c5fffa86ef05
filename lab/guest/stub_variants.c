// SPDX-License-Identifier: GPL-2.0
// entrylab-cflags: stub_variants.S
/*
 * stub_variants: try __kernel_vsyscall designs from user space (the stubs
 * are in stub_variants.S) against the running kernel's entry code.
 *
 * Three properties, each run for each stub in a child process of its own, so
 * that a crash (SIGILL from an instruction this CPU does not have, SIGSEGV
 * from a bad stack) is an observation and not the end of the program:
 *
 *   regs/<stub>     write(pipe, buf, 16) with markers in every register: the
 *                   16 bytes must arrive and ebx..ebp, esp and DF must come
 *                   back unchanged (CF PF AF ZF SF OF are set too; a change
 *                   there is reported as flags-changed, which the i386 psABI
 *                   allows a call)
 *   restart/<stub>  read(pipe, buf, 8) blocks; a SIGUSR1 handler with
 *                   SA_RESTART interrupts it, later data completes it
 *   fork/<stub>     fork(): parent and child must both return to the caller
 *
 * Each line reports per process ("caller", and "child" for fork) how the
 * stub came back: outcome ok, flags-changed, wrong-result, regs-changed,
 * misreturn-1/2 (its `ret` took a word one or two slots above the return
 * address), or the signal it died of and where. Values are named where they are recognised:
 * in.<reg> (what the caller had in reg), ret (the return address),
 * catch1/2 (the words above it), vdso:int80_landing_pad, stub+0xN. The
 * guest's status says whether the property held; lab/model/variants.py
 * predicts which stub design works on this kernel and CPU, and why.
 *
 * Usage: stub_variants [stub-name ...]   (default: all)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "entrylab.h"

/* stub_variants.S */
int stub_call(void (*stub)(void), const uint32_t in[8]);
extern uint32_t stub_got[9], stub_pad_hit, stub_esp_before;
extern char stub_return_ok[], stub_misreturn1[], stub_misreturn2[];
#define DECLARE(n) extern char stub_##n[], stub_##n##_end[];
DECLARE(proposal_2015_sysenter) DECLARE(proposal_2015_syscall) DECLARE(proposal_2015_int80)
DECLARE(shipped_sysenter) DECLARE(shipped_syscall) DECLARE(shipped_int80)
DECLARE(legacy_sysenter) DECLARE(legacy_syscall) DECLARE(legacy_int80)

static const struct variant {
	const char *name;
	char *start, *end;
} variants[] = {
#define V(n, s) { s, stub_##n, stub_##n##_end }
	V(proposal_2015_sysenter, "proposal-2015-sysenter"),
	V(proposal_2015_syscall, "proposal-2015-syscall"),
	V(proposal_2015_int80, "proposal-2015-int80"),
	V(shipped_sysenter, "shipped-sysenter"),
	V(shipped_syscall, "shipped-syscall"),
	V(shipped_int80, "shipped-int80"),
	V(legacy_sysenter, "legacy-sysenter"),
	V(legacy_syscall, "legacy-syscall"),
	V(legacy_int80, "legacy-int80"),
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

/*
 * Register markers. ebp is arg 6 for a __kernel_vsyscall caller; 0xeb90 is
 * below vm.mmap_min_addr, so a stub that makes the kernel use it as a stack
 * pointer gets a fault, not someone else's memory.
 */
#define M_ESI 0x1e51e51eu
#define M_EDI 0x1ed11ed1u
#define M_EBP 0x0000eb90u
#define M_FLAGS 0x00000ed7u /* CF PF AF ZF SF DF OF, IF, bit 1 */
#define FLAGS_CHECKED 0x00000cd5u
static const char *const reg_names[8] = { "eax", "ebx", "ecx", "edx", "esi", "edi", "ebp",
					  "eflags" };

/* State of the running child (the "runner"); crash reports use it. */
static const struct variant *cur;
static const char *role = "caller";
static uint32_t cur_in[8];
static int report_fd = -1;
static uintptr_t vdso_lo, vdso_hi, pad;

/* Name a value the way the model does (see the header comment). */
static void name_value(char *out, size_t cap, uint32_t v)
{
	for (int r = 1; r < 7; r++)
		if (v == cur_in[r]) {
			snprintf(out, cap, "in.%s", reg_names[r]);
			return;
		}
	if (v == (uintptr_t)stub_return_ok)
		snprintf(out, cap, "ret");
	else if (v == (uintptr_t)stub_misreturn1)
		snprintf(out, cap, "catch1");
	else if (v == (uintptr_t)stub_misreturn2)
		snprintf(out, cap, "catch2");
	else if (pad && v == pad)
		snprintf(out, cap, "vdso:int80_landing_pad");
	else if (pad && v == pad - 2)
		snprintf(out, cap, "vdso:int80_landing_pad-2");
	else if (v >= vdso_lo && v < vdso_hi)
		snprintf(out, cap, "vdso+0x%lx", (unsigned long)(v - vdso_lo));
	else if (cur && v >= (uintptr_t)cur->start && v < (uintptr_t)cur->end)
		snprintf(out, cap, "stub+0x%lx", (unsigned long)(v - (uintptr_t)cur->start));
	else
		snprintf(out, cap, "0x%08x", v);
}

/* One line to the parent; a single write, so lines from two processes never mix. */
static void report(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n = snprintf(line, sizeof(line), "{\"role\":\"%s\",", role);

	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	line[n++] = '}';
	line[n++] = '\n';
	(void)!write(report_fd, line, (size_t)n);
}

/* SIGILL/SIGSEGV/SIGBUS/SIGTRAP/SIGFPE: on the alternate stack, since esp may be garbage. */
static void on_crash(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	char eip[48], esp[48], addr[48];

	name_value(eip, sizeof(eip), (uint32_t)uc->uc_mcontext.gregs[REG_EIP]);
	name_value(esp, sizeof(esp), (uint32_t)uc->uc_mcontext.gregs[REG_ESP]);
	name_value(addr, sizeof(addr), (uint32_t)(uintptr_t)si->si_addr);
	report("\"outcome\":\"SIG%s\",\"eip\":\"%s\",\"esp\":\"%s\",\"fault_addr\":\"%s\"",
	       sigabbrev_np(sig) ? sigabbrev_np(sig) : "?", eip, esp, addr);
	_exit(3);
}

static void crash_handlers(void)
{
	static char altstack[65536];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa;
	static const int sigs[] = { SIGILL, SIGSEGV, SIGBUS, SIGTRAP, SIGFPE };

	sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_crash;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/*
 * Report how the stub came back: how (0 ret, 1/2 misreturn), the registers
 * that changed (by name), whether the stub's own landing pad ran, and the
 * caller's verdict on the syscall's result. extra is more JSON members.
 */
static int report_return(int how, const char *result, int result_ok, const char *extra)
{
	char changed[512] = "{", v[48];
	int regs_ok = 1;

	for (int r = 1; r < 7; r++) {
		if (stub_got[r] == cur_in[r])
			continue;
		name_value(v, sizeof(v), stub_got[r]);
		snprintf(changed + strlen(changed), sizeof(changed) - strlen(changed),
			 "%s\"%s\":\"%s\"", changed[1] ? "," : "", reg_names[r], v);
		regs_ok = 0;
	}
	int32_t esp_delta = (int32_t)(stub_got[8] - stub_esp_before);
	uint32_t flags = (stub_got[7] ^ cur_in[7]) & FLAGS_CHECKED;
	if (esp_delta) {
		snprintf(changed + strlen(changed), sizeof(changed) - strlen(changed),
			 "%s\"esp\":\"%+d\"", changed[1] ? "," : "", esp_delta);
		regs_ok = 0;
	}
	if (flags)
		snprintf(changed + strlen(changed), sizeof(changed) - strlen(changed),
			 "%s\"eflags\":\"^0x%x\"", changed[1] ? "," : "", flags);
	strncat(changed, "}", sizeof(changed) - strlen(changed) - 1);
	/* The i386 psABI lets a call clobber the status flags, not DF. */
	int flags_ok = !(flags & 0x400);
	const char *outcome = how == 1	 ? "misreturn-1"
			      : how == 2 ? "misreturn-2"
			      : !result_ok ? "wrong-result"
			      : !regs_ok   ? "regs-changed"
			      : flags	   ? "flags-changed"
					   : "ok";
	report("\"outcome\":\"%s\",\"result\":\"%s\",\"changed\":%s,\"own_pad\":%s%s", outcome,
	       result, changed, stub_pad_hit ? "true" : "false", extra ? extra : "");
	return how == 0 && result_ok && regs_ok && flags_ok;
}

/* Describe the result of a write/read of n bytes that should move want[0..n). */
static int data_result(char *out, size_t cap, int32_t eax, int32_t n, const char *got,
		       const char *want)
{
	if (eax == n && !memcmp(got, want, (size_t)n)) {
		snprintf(out, cap, "ok");
		return 1;
	}
	if (eax == n && !memcmp(got, stub_return_ok, (size_t)n))
		snprintf(out, cap, "arg2=ret"); /* the kernel used the return address as buffer */
	else if (eax < 0 && eax > -4096)
		snprintf(out, cap, "-%s", strerrorname_np(-eax) ? strerrorname_np(-eax) : "E?");
	else
		snprintf(out, cap, "%d", eax);
	return 0;
}

/* ---- the three properties (each runs in its own runner process) ---- */

static int prop_regs(void)
{
	static const char buf[16] = "entrylab-regs-16";
	char back[16] = { 0 }, result[32];
	int p[2];

	if (pipe(p))
		return 2;
	uint32_t in[8] = { __NR_write, (uint32_t)p[1], (uint32_t)(uintptr_t)buf, sizeof(buf),
			   M_ESI, M_EDI, M_EBP, M_FLAGS };
	memcpy(cur_in, in, sizeof(in));
	int how = stub_call((void (*)(void))cur->start, in);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	(void)!read(p[0], back, sizeof(back));
	int ok = data_result(result, sizeof(result), (int32_t)stub_got[0], sizeof(buf), back, buf);
	return report_return(how, result, ok, NULL) ? 0 : 1;
}

static volatile int restart_hits;
static volatile uint32_t restart_eip;

static void on_usr1(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	restart_hits++;
	restart_eip = (uint32_t)((ucontext_t *)ucv)->uc_mcontext.gregs[REG_EIP];
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int prop_restart(void)
{
	static const char msg[8] = "restart!";
	char buf[8] = { 0 }, result[32], extra[128], at[48];
	struct sigaction sa;
	int p[2];

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	if (pipe(p))
		return 2;
	pid_t poker = fork();
	if (poker == 0) { /* interrupt the blocked read, then satisfy it */
		close(report_fd);
		sleep_ms(300);
		kill(getppid(), SIGUSR1);
		sleep_ms(200);
		(void)!write(p[1], msg, sizeof(msg));
		_exit(0);
	}
	uint32_t in[8] = { __NR_read, (uint32_t)p[0], (uint32_t)(uintptr_t)buf, sizeof(buf),
			   M_ESI, M_EDI, M_EBP, M_FLAGS };
	memcpy(cur_in, in, sizeof(in));
	int how = stub_call((void (*)(void))cur->start, in);
	waitpid(poker, NULL, 0);
	int ok = data_result(result, sizeof(result), (int32_t)stub_got[0], sizeof(msg), buf, msg);
	name_value(at, sizeof(at), restart_eip);
	snprintf(extra, sizeof(extra), ",\"handler_runs\":%d,\"interrupted_at\":\"%s\"",
		 restart_hits, restart_hits ? at : "");
	return report_return(how, result, ok && restart_hits == 1, extra) ? 0 : 1;
}

static int prop_fork(void)
{
	uint32_t in[8] = { __NR_fork, 0x1eb11eb1, 0x1ec11ec1, 0x1ed01ed0,
			   M_ESI, M_EDI, M_EBP, M_FLAGS };
	char result[32];
	int status = 0;

	memcpy(cur_in, in, sizeof(in));
	int how = stub_call((void (*)(void))cur->start, in);
	int32_t pid = (int32_t)stub_got[0];
	if (pid == 0) {
		role = "child";
		_exit(report_return(how, "ok", 1, NULL) ? 0 : 1);
	}
	if (pid < 0) {
		data_result(result, sizeof(result), pid, 0, "", "");
		return report_return(how, result, 0, NULL) ? 0 : 1;
	}
	waitpid(pid, &status, 0);
	return report_return(how, "ok", 1, NULL) ? 0 : 1;
}

static const struct property {
	const char *name;
	int (*run)(void);
} properties[] = { { "regs", prop_regs }, { "restart", prop_restart }, { "fork", prop_fork } };

/* The stub's bytes, so the host can check them against the model. */
static void hex_bytes(char *out, size_t cap, const struct variant *v)
{
	out[0] = 0;
	for (const unsigned char *p = (const unsigned char *)v->start;
	     p < (const unsigned char *)v->end && strlen(out) + 4 < cap; p++)
		snprintf(out + strlen(out), cap - strlen(out), "%s%02x", out[0] ? " " : "", *p);
}

/* Run one property x stub in a runner child; print its result line. */
static void run_one(const struct property *prop, const struct variant *v)
{
	char test[64], lines[4096] = "", caller[1100] = "null", child[1100] = "null", stub[256];
	int p[2], status = 0, timed_out = 0;

	snprintf(test, sizeof(test), "%s/%s", prop->name, v->name);
	if (pipe(p)) {
		el_result(test, "error", NULL, NULL, "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		setpgid(0, 0);
		report_fd = p[1];
		cur = v;
		crash_handlers();
		_exit(prop->run());
	}
	close(p[1]);
	/* Collect report lines until every writer is gone (or 20 s). */
	size_t len = 0;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { p[0], POLLIN, 0 };
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = 20000 - (now.tv_sec - t0.tv_sec) * 1000 -
			    (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
			timed_out = 1;
			kill(-pid, SIGKILL);
			break;
		}
		ssize_t n = read(p[0], lines + len, sizeof(lines) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	lines[len] = 0;
	close(p[0]);
	waitpid(pid, &status, 0);
	kill(-pid, SIGKILL); /* anything the runner left behind */
	for (char *line = strtok(lines, "\n"); line; line = strtok(NULL, "\n")) {
		if (strstr(line, "\"role\":\"child\""))
			snprintf(child, sizeof(child), "%s", line);
		else if (strstr(line, "\"role\":\"caller\""))
			snprintf(caller, sizeof(caller), "%s", line);
	}
	hex_bytes(stub, sizeof(stub), v);
	char obs[3072], runner[32];
	if (timed_out)
		snprintf(runner, sizeof(runner), "timeout");
	else if (WIFSIGNALED(status))
		snprintf(runner, sizeof(runner), "signal %d", WTERMSIG(status));
	else
		snprintf(runner, sizeof(runner), "exit %d", WEXITSTATUS(status));
	snprintf(obs, sizeof(obs), "{\"stub\":\"%s\",\"runner\":\"%s\",\"caller\":%s,\"child\":%s}",
		 stub, runner, caller, child);
	int held = !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	el_result(test, held ? "pass" : "fail", obs, NULL, "%s %s through %s (runner: %s)",
		  prop->name, held ? "holds" : "does not hold", v->name, runner);
}

int main(int argc, char **argv)
{
	const Elf32_Ehdr *eh = el_vdso_ehdr();
	const Elf32_Phdr *ph = (const Elf32_Phdr *)((const char *)eh + eh->e_phoff);

	vdso_lo = vdso_hi = (uintptr_t)eh;
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && (uintptr_t)eh + ph[i].p_memsz > vdso_hi)
			vdso_hi = (uintptr_t)eh + ph[i].p_memsz;
	pad = el_landing_pad();
	printf("vdso at 0x%lx, int80_landing_pad 0x%lx, stub_return_ok %p\n",
	       (unsigned long)vdso_lo, (unsigned long)pad, (void *)stub_return_ok);
	for (unsigned i = 0; i < NVARIANTS; i++) {
		int wanted = argc < 2;
		for (int a = 1; a < argc; a++)
			wanted |= !strcmp(argv[a], variants[i].name);
		if (!wanted)
			continue;
		for (unsigned j = 0; j < sizeof(properties) / sizeof(properties[0]); j++)
			run_one(&properties[j], &variants[i]);
	}
	return 0;
}
