// SPDX-License-Identifier: GPL-2.0
/*
 * syscall_restart.c - system-call restart lands on the int $0x80 at landing pad - 2.
 *
 * When a system call is interrupted and must be restarted, the kernel sets
 * ax = orig_ax (or restart_syscall's number for -ERESTART_RESTARTBLOCK) and
 * ip -= 2 (arch/x86/kernel/signal.c: handle_signal, arch_do_signal_or_restart).
 * For a __kernel_vsyscall caller ip is the landing pad (do_fast_syscall_32 put
 * it there even after SYSENTER/SYSCALL), so ip - 2 is the stub's own
 * `int $0x80`: the restart re-enters through int80 with the saved arguments.
 *
 * For each call path (int80, at_sysinfo, vdso_sym, glibc) this program checks:
 *   sa_restart_read    read() on an empty pipe, SIGUSR1 with SA_RESTART: the
 *                      handler sees eip = restart point, eax = __NR_read; the
 *                      read restarts and returns the data the handler wrote.
 *   nanosleep_handler  clock_nanosleep + SIGUSR1 handler: -ERESTART_RESTARTBLOCK
 *                      becomes -EINTR even with SA_RESTART, eip is not moved.
 *   restart_syscall    clock_nanosleep + SIGSTOP/SIGCONT (no handler): the
 *                      task sleeps on in restart_syscall (nr 0, seen in
 *                      /proc/<pid>/syscall) and the sleep returns 0.
 *   ptrace_read        a tracer interrupts read(): exit stop eax = -ERESTARTSYS,
 *                      after the handler rt_sigreturn's exit stop shows
 *                      eip = restart point, then read is entered again with the
 *                      original six arguments.
 *   ptrace_nanosleep   a tracer interrupts clock_nanosleep and suppresses the
 *                      signal: exit stop eax = -ERESTART_RESTARTBLOCK, next
 *                      entry stop is restart_syscall (nr 0).
 *
 * Result lines: test "restart/<path>/<check>", observed = what happened,
 * expected = this program's own expectation (the host compares with the model).
 */
#define _GNU_SOURCE
#include "entrylab.h"
#include "control_calls.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>

#define MSG "restarted!"
#define MSGLEN 10
#define ERESTARTSYS 512
#define ERESTART_RESTARTBLOCK 516
#define M_ESI 0x51515151u /* markers in unused argument registers */
#define M_EDI 0xd1d1d1d1u
#define M_EBP 0xb0b0b0b0u

#ifndef PTRACE_GET_SYSCALL_INFO
#define PTRACE_GET_SYSCALL_INFO 0x420e
#endif
struct el_sysinfo { /* struct ptrace_syscall_info (include/uapi/linux/ptrace.h) */
	uint8_t op; /* 1 entry, 2 exit */
	uint8_t pad[3];
	uint32_t arch;
	uint64_t ip, sp;
	union {
		struct {
			uint64_t nr, args[6];
		} entry;
		struct {
			int64_t rval;
			uint8_t is_error;
		} exit;
	};
};

static volatile sig_atomic_t nsig;
static volatile uint32_t sig_eip, sig_eax;
static int write_on_signal = -1; /* the handler writes MSG here when >= 0 */

static void on_usr1(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	(void)si;
	nsig++;
	sig_eip = (uint32_t)uc->uc_mcontext.gregs[REG_EIP];
	sig_eax = (uint32_t)uc->uc_mcontext.gregs[REG_EAX];
	if (write_on_signal >= 0 && write(write_on_signal, MSG, MSGLEN) != MSGLEN)
		_exit(99);
}

static void set_handler(int sig, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* Where a restart must land: the int $0x80 two bytes before the return point. */
static const char *restart_point(enum el_path p, int minus2, char *buf, size_t cap)
{
	uintptr_t ret = p == EL_INT80 ? (uintptr_t)el_int80_ret + 2 : el_landing_pad();

	return el_where(ret - (minus2 ? 2 : 0), buf, cap);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One system call through path p; glibc uses its own wrappers. Returns -errno on error. */
static long call_read(enum el_path p, struct el_regs *r, int fd, char *buf, size_t len)
{
	if (p == EL_GLIBC) {
		ssize_t n = read(fd, buf, len);
		return n < 0 ? -errno : n;
	}
	*r = (struct el_regs){ SYS_read, (uint32_t)fd, (uint32_t)(uintptr_t)buf, (uint32_t)len,
			       M_ESI, M_EDI, M_EBP };
	el_call32(r, el_path_entry(p));
	return (int32_t)r->eax;
}

static long call_sleep(enum el_path p, struct el_regs *r, const struct timespec *req,
		       struct timespec *rem)
{
	if (p == EL_GLIBC)
		return -clock_nanosleep(CLOCK_MONOTONIC, 0, req, rem);
	*r = (struct el_regs){ SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, (uint32_t)(uintptr_t)req,
			       (uint32_t)(uintptr_t)rem, M_EDI, M_EBP };
	el_call32(r, el_path_entry(p));
	return (int32_t)r->eax;
}

/* ebx..ebp as the caller loaded them (eax excluded: it is the result). */
static int regs_kept(enum el_path p, const struct el_regs *r, uint32_t b, uint32_t c, uint32_t d,
		     uint32_t si)
{
	if (p == EL_GLIBC)
		return 1; /* glibc's registers are not ours to check */
	return r->ebx == b && r->ecx == c && r->edx == d && r->esi == si && r->edi == M_EDI &&
	       r->ebp == M_EBP;
}

static const long sleep_nrs[] = { SYS_clock_nanosleep, SYS_nanosleep, 407 /* _time64 */ };

/* A helper child: wait until the parent blocks in one of nrs, then signal it. */
static pid_t signal_when_blocked(const long *nrs, int n, int sig)
{
	pid_t parent = getpid(), h = fork();

	if (h == 0) {
		unsigned long pc, sp;
		el_wait_blocked(parent, nrs, n, 20000, &pc, &sp);
		kill(parent, sig);
		_exit(0);
	}
	return h;
}

static void test_read(enum el_path p)
{
	char test[80], where[32], want[32], obs[1024], exp[512], buf[64] = { 0 };
	struct el_regs r;
	const long nrs[] = { SYS_read };
	int fds[2];
	long ret;

	snprintf(test, sizeof(test), "restart/%s/sa_restart_read", el_path_names[p]);
	if (pipe(fds) != 0) {
		el_result(test, "error", NULL, NULL, "pipe: %s", strerror(errno));
		return;
	}
	write_on_signal = fds[1];
	set_handler(SIGUSR1, SA_RESTART);
	nsig = 0;
	pid_t h = signal_when_blocked(nrs, 1, SIGUSR1);
	ret = call_read(p, &r, fds[0], buf, sizeof(buf));
	waitpid(h, NULL, 0);
	write_on_signal = -1;
	int kept = regs_kept(p, &r, (uint32_t)fds[0], (uint32_t)(uintptr_t)buf, sizeof(buf), M_ESI);
	int data = ret == MSGLEN && memcmp(buf, MSG, MSGLEN) == 0;
	el_where(sig_eip, where, sizeof(where));
	restart_point(p, 1, want, sizeof(want));
	snprintf(obs, sizeof(obs),
		 "{\"ret\":%ld,\"data_ok\":%s,\"signals\":%d,\"handler_eip\":\"%s\","
		 "\"handler_eax\":%d,\"regs_kept\":%s}",
		 ret, data ? "true" : "false", (int)nsig, where, (int32_t)sig_eax,
		 kept ? "true" : "false");
	snprintf(exp, sizeof(exp),
		 "{\"ret\":%d,\"data_ok\":true,\"signals\":1,\"handler_eip\":\"%s\","
		 "\"handler_eax\":%d,\"regs_kept\":true}",
		 MSGLEN, want, SYS_read);
	int ok = data && nsig == 1 && strcmp(where, want) == 0 && sig_eax == SYS_read && kept;
	el_result(test, ok ? "pass" : "fail", obs, exp,
		  "SA_RESTART read: handler saw eip %s eax %d, read returned %ld", where,
		  (int32_t)sig_eax, ret);
	close(fds[0]);
	close(fds[1]);
}

static void test_sleep_handler(enum el_path p)
{
	char test[80], where[32], want[32], obs[1024], exp[512];
	struct timespec req = { 5, 0 }, rem = { 0, 0 };
	struct el_regs r;

	snprintf(test, sizeof(test), "restart/%s/nanosleep_handler", el_path_names[p]);
	set_handler(SIGUSR1, SA_RESTART);
	nsig = 0;
	pid_t h = signal_when_blocked(sleep_nrs, 3, SIGUSR1);
	double t0 = now();
	long ret = call_sleep(p, &r, &req, &rem);
	double dt = now() - t0;
	waitpid(h, NULL, 0);
	int kept = regs_kept(p, &r, CLOCK_MONOTONIC, 0, (uint32_t)(uintptr_t)&req,
			     (uint32_t)(uintptr_t)&rem);
	el_where(sig_eip, where, sizeof(where));
	restart_point(p, 0, want, sizeof(want));
	snprintf(obs, sizeof(obs),
		 "{\"ret\":%ld,\"rem_ok\":%s,\"seconds\":%.3f,\"signals\":%d,"
		 "\"handler_eip\":\"%s\",\"handler_eax\":%d,\"regs_kept\":%s}",
		 ret, rem.tv_sec > 0 || rem.tv_nsec > 0 ? "true" : "false", dt, (int)nsig, where,
		 (int32_t)sig_eax, kept ? "true" : "false");
	snprintf(exp, sizeof(exp),
		 "{\"ret\":%d,\"rem_ok\":true,\"signals\":1,\"handler_eip\":\"%s\","
		 "\"handler_eax\":%d,\"regs_kept\":true}",
		 -EINTR, want, -EINTR);
	int ok = ret == -EINTR && nsig == 1 && strcmp(where, want) == 0 &&
		 (int32_t)sig_eax == -EINTR && kept && dt < 5.0;
	el_result(test, ok ? "pass" : "fail", obs, exp,
		  "interrupted sleep with handler: returned %ld after %.2fs, handler eip %s", ret,
		  dt, where);
}

/* SIGSTOP + SIGCONT while asleep: no handler, so the kernel restarts via restart_syscall. */
static void test_restart_syscall(enum el_path p)
{
	char test[80], where[32] = "none", want[32], obs[1024], exp[512];
	struct timespec req = { 1, 500000000 }, rem = { 0, 0 };
	struct el_regs r;
	int rep[2];
	pid_t parent = getpid();

	snprintf(test, sizeof(test), "restart/%s/restart_syscall", el_path_names[p]);
	if (pipe(rep) != 0)
		return;
	pid_t h = fork();
	if (h == 0) {
		unsigned long seen[3] = { 0, 0, 0 }, pc = 0, sp = 0; /* nr, pc, found */
		const long zero[] = { 0 };
		char path[64], st[512];
		long nr = el_wait_blocked(parent, sleep_nrs, 3, 20000, &pc, &sp);
		seen[0] = (unsigned long)nr;
		kill(parent, SIGSTOP);
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)parent);
		for (int i = 0; i < 5000; i++) { /* state field: "pid (comm) T ..." */
			FILE *f = fopen(path, "r");
			char *c = f && fgets(st, sizeof(st), f) ? strrchr(st, ')') : NULL;
			if (f)
				fclose(f);
			if (c && c[1] == ' ' && c[2] == 'T')
				break;
			usleep(1000);
		}
		kill(parent, SIGCONT);
		if (el_wait_blocked(parent, zero, 1, 5000, &pc, &sp) == 0) {
			seen[1] = pc;
			seen[2] = 1;
		}
		if (write(rep[1], seen, sizeof(seen)) != sizeof(seen))
			_exit(1);
		_exit(0);
	}
	double t0 = now();
	long ret = call_sleep(p, &r, &req, &rem);
	double dt = now() - t0;
	unsigned long seen[3] = { 0, 0, 0 };
	if (read(rep[0], seen, sizeof(seen)) != sizeof(seen))
		seen[2] = 0;
	waitpid(h, NULL, 0);
	close(rep[0]);
	close(rep[1]);
	if (seen[2])
		el_where(seen[1], where, sizeof(where));
	restart_point(p, 0, want, sizeof(want));
	int kept = regs_kept(p, &r, CLOCK_MONOTONIC, 0, (uint32_t)(uintptr_t)&req,
			     (uint32_t)(uintptr_t)&rem);
	snprintf(obs, sizeof(obs),
		 "{\"ret\":%ld,\"seconds\":%.3f,\"sleep_nr\":%ld,\"restart_nr_seen\":%s,"
		 "\"restart_pc\":\"%s\",\"regs_kept\":%s}",
		 ret, dt, (long)seen[0], seen[2] ? "0" : "null", where, kept ? "true" : "false");
	snprintf(exp, sizeof(exp),
		 "{\"ret\":0,\"min_seconds\":1.5,\"restart_nr_seen\":0,\"restart_pc\":\"%s\","
		 "\"regs_kept\":true}",
		 want);
	int ok = ret == 0 && dt >= 1.5 && seen[2] && strcmp(where, want) == 0 && kept;
	el_result(test, ok ? "pass" : "fail", obs, exp,
		  "stopped and continued sleep: returned %ld after %.2fs, restart_syscall %s at %s",
		  ret, dt, seen[2] ? "seen" : "not seen", where);
}

/* ---- ptrace-driven restarts ---------------------------------------------------------------- */

static const char *nr_name(long nr)
{
	switch (nr) {
	case 0:
		return "restart_syscall";
	case SYS_read:
		return "read";
	case SYS_kill:
		return "kill";
	case SYS_rt_sigreturn:
		return "rt_sigreturn";
	case SYS_clock_nanosleep:
	case 407:
		return "clock_nanosleep";
	default:
		return "other";
	}
}

/* The tracee: stop, then one read or one sleep through path p; exit 0 if it completed. */
static void tracee(enum el_path p, int sleep, int fd)
{
	struct el_regs r;
	char buf[64] = { 0 };
	struct timespec req = { 0, 300000000 };

	ptrace(PTRACE_TRACEME, 0, 0, 0);
	set_handler(SIGUSR1, SA_RESTART);
	kill(getpid(), SIGSTOP);
	if (sleep) {
		long ret = call_sleep(p, &r, &req, NULL);
		_exit(ret == 0 ? 0 : 10);
	}
	long ret = call_read(p, &r, fd, buf, sizeof(buf));
	if (ret != MSGLEN || memcmp(buf, MSG, MSGLEN) != 0)
		_exit(11);
	_exit(regs_kept(p, &r, (uint32_t)fd, (uint32_t)(uintptr_t)buf, sizeof(buf), M_ESI) ? 0
											   : 12);
}

/*
 * Drive the tracee with PTRACE_SYSCALL and write down every stop. For read: send
 * SIGUSR1 at the read entry stop, deliver it (handler, SA_RESTART), feed the pipe
 * when read is entered again. For sleep: send SIGWINCH at the entry stop and
 * suppress it, so that the kernel restarts through restart_syscall.
 */
static void test_ptrace(enum el_path p, int sleep)
{
	char test[80], w[32], want_ret[32], want_rst[32], obs[4096], exp[1024];
	struct el_json log = { .n = 0 };
	int fds[2], status, inject = 0, rounds = 0;
	long entry1 = -1, exit1 = 0, restart_nr = -1, exit2 = 0, last_nr = -1;
	char sigret_eip[32] = "none", restart_eip[32] = "none";
	long sigret_eax = 0;
	int args_same = -1, child_ok = 0;
	uint64_t args1[6];

	snprintf(test, sizeof(test), "restart/%s/ptrace_%s", el_path_names[p],
		 sleep ? "nanosleep" : "read");
	if (pipe(fds) != 0)
		return;
	pid_t c = fork();
	if (c == 0)
		tracee(p, sleep, fds[0]);
	waitpid(c, &status, 0); /* its SIGSTOP */
	ptrace(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);
	el_jcat(&log, "[");
	while (rounds++ < 64) {
		struct el_sysinfo si;
		struct user_regs_struct regs;

		if (ptrace(PTRACE_SYSCALL, c, 0, inject) != 0)
			break;
		inject = 0;
		if (waitpid(c, &status, 0) != c || !WIFSTOPPED(status))
			break;
		ptrace(PTRACE_GETREGS, c, 0, &regs);
		if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			int sig = WSTOPSIG(status);
			el_jcat(&log, "%s\"signal %d\"", log.n > 1 ? "," : "", sig);
			inject = sig == SIGUSR1 ? sig : 0; /* deliver SIGUSR1, suppress the rest */
			continue;
		}
		memset(&si, 0, sizeof(si));
		ptrace(PTRACE_GET_SYSCALL_INFO, c, (void *)sizeof(si), &si);
		el_where((uintptr_t)regs.eip, w, sizeof(w));
		if (si.op == 1) { /* entry */
			long nr = (long)si.entry.nr;
			el_jcat(&log, "%s\"entry %s(%ld) eip=%s\"", log.n > 1 ? "," : "",
				nr_name(nr), nr, w);
			last_nr = nr;
			if (entry1 < 0 && nr != SYS_kill) {
				entry1 = nr;
				memcpy(args1, si.entry.args, sizeof(args1));
				kill(c, sleep ? SIGWINCH : SIGUSR1);
			} else if (entry1 >= 0 && restart_nr < 0 && nr != SYS_rt_sigreturn) {
				restart_nr = nr;
				snprintf(restart_eip, sizeof(restart_eip), "%s", w);
				args_same = memcmp(args1, si.entry.args, sizeof(args1)) == 0;
				if (!sleep && write(fds[1], MSG, MSGLEN) != MSGLEN)
					break;
			}
		} else { /* exit */
			el_jcat(&log, "%s\"exit %s eax=%ld eip=%s\"", log.n > 1 ? "," : "",
				nr_name(last_nr), (long)(int32_t)regs.eax, w);
			if (last_nr == SYS_rt_sigreturn) {
				snprintf(sigret_eip, sizeof(sigret_eip), "%s", w);
				sigret_eax = (int32_t)regs.eax;
			} else if (restart_nr >= 0) {
				exit2 = (int32_t)regs.eax;
				break;
			} else if (entry1 >= 0) {
				exit1 = (int32_t)regs.eax;
			}
		}
	}
	el_jcat(&log, "]");
	ptrace(PTRACE_CONT, c, 0, 0);
	if (waitpid(c, &status, 0) == c)
		child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	kill(c, SIGKILL);
	close(fds[0]);
	close(fds[1]);

	restart_point(p, 0, want_ret, sizeof(want_ret));
	restart_point(p, 1, want_rst, sizeof(want_rst));
	snprintf(obs, sizeof(obs),
		 "{\"first_nr\":%ld,\"exit1_eax\":%ld,\"sigreturn_eip\":\"%s\","
		 "\"sigreturn_eax\":%ld,\"restart_nr\":%ld,\"restart_entry_eip\":\"%s\","
		 "\"args_same\":%s,\"exit2_eax\":%ld,\"tracee_ok\":%s,\"stops\":%s}",
		 entry1, exit1, sigret_eip, sigret_eax, restart_nr, restart_eip,
		 args_same < 0 ? "null" : args_same ? "true" : "false", exit2,
		 child_ok ? "true" : "false", log.s);
	int ok;
	if (sleep) {
		snprintf(exp, sizeof(exp),
			 "{\"exit1_eax\":%d,\"restart_nr\":0,\"restart_entry_eip\":\"%s\","
			 "\"exit2_eax\":0,\"tracee_ok\":true}",
			 -ERESTART_RESTARTBLOCK, want_ret);
		ok = exit1 == -ERESTART_RESTARTBLOCK && restart_nr == 0 &&
		     strcmp(restart_eip, want_ret) == 0 && exit2 == 0 && child_ok;
	} else {
		snprintf(exp, sizeof(exp),
			 "{\"exit1_eax\":%d,\"sigreturn_eip\":\"%s\",\"sigreturn_eax\":%d,"
			 "\"restart_nr\":%d,\"restart_entry_eip\":\"%s\",\"args_same\":true,"
			 "\"exit2_eax\":%d,\"tracee_ok\":true}",
			 -ERESTARTSYS, want_rst, SYS_read, SYS_read, want_ret, MSGLEN);
		ok = exit1 == -ERESTARTSYS && strcmp(sigret_eip, want_rst) == 0 &&
		     sigret_eax == SYS_read && restart_nr == SYS_read &&
		     strcmp(restart_eip, want_ret) == 0 && args_same == 1 && exit2 == MSGLEN &&
		     child_ok;
	}
	el_result(test, ok ? "pass" : "fail", obs, exp,
		  "tracer: first exit eax %ld, restarted nr %ld entered at %s, final eax %ld", exit1,
		  restart_nr, restart_eip, exit2);
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;

	if (!el_landing_pad()) {
		el_result("restart/setup", "error", NULL, NULL, "no int $0x80 in __kernel_vsyscall");
		return 1;
	}
	for (int p = 0; p < EL_NPATHS; p++) {
		if (only && strcmp(only, el_path_names[p]) != 0)
			continue;
		if (p != EL_GLIBC && !el_path_entry((enum el_path)p)) {
			el_result("restart/setup", "error", NULL, NULL, "no entry for %s",
				  el_path_names[p]);
			continue;
		}
		test_read((enum el_path)p);
		test_sleep_handler((enum el_path)p);
		test_restart_syscall((enum el_path)p);
		test_ptrace((enum el_path)p, 0);
		test_ptrace((enum el_path)p, 1);
	}
	return 0;
}
