// SPDX-License-Identifier: GPL-2.0
// entrylab-cflags: -lm
/*
 * syscall_cost.c - what one system call costs on each 32-bit call path.
 *
 * usage: syscall_cost [--mode exact|wall] [--samples N] [--warmup N] [--traced N]
 *
 * For every (call path, system call) pair the program makes W warm-up calls,
 * then N calls timed one by one with rdtsc just before and just after (lfence
 * first where the CPU has SSE2). The pairs take turns in blocks of 10 calls,
 * so a drift of the host's speed spreads over all of them:
 *
 *   none        the same call sequence without a system call (timing baseline)
 *   int80       raw `int $0x80`, arguments in registers
 *   at_sysinfo  `call *%gs:0x10`: glibc's TCB copy of AT_SYSINFO (checked equal
 *               to getauxval(AT_SYSINFO))
 *   vdso_sym    `call *` __kernel_vsyscall found in the vDSO's symbol table
 *   glibc       glibc's syscall()
 *   syscall64   64-bit kernels only: far jump to the 64-bit code segment (0x33,
 *               as the kernel selftests' thunks_32.S), `syscall` with the
 *               x86-64 number, far jump back (baseline: none64, the same jumps)
 *   vdso_fn     clock_gettime only: call __vdso_clock_gettime (no kernel entry
 *               unless the clocksource cannot be read from user space)
 *
 * System calls: getpid, getppid, pselect6 (six arguments: no fds, zero
 * timeout, no sigmask), clock_gettime(CLOCK_MONOTONIC_RAW). Not
 * CLOCK_MONOTONIC: ktime_get_ts64() (kernel/time/timekeeping.c) adds
 * wall_to_monotonic's nanoseconds, a constant of each boot, through
 * timespec64_add_ns() -> __iter_div_u64_rem(), whose loop runs once more in
 * some boots: +6 instructions (64-bit) or +14 (32-bit) from boot to boot.
 *
 * Forced IRET. A fast entry leaves through SYSRETL/SYSEXIT only while
 * regs->ip is still the landing pad (do_fast_syscall_32, arch/x86/entry/
 * common.c). A traced child calls getpid through __kernel_vsyscall; at every
 * getpid exit stop the tracer does PTRACE_GETREGS + PTRACE_SETREGS, with eip
 * either unchanged ("traced": the opportunistic fast return) or moved to
 * sc_pad_copy, a copy of the landing pad's `pop %ebp; pop %edx; pop %ecx; ret`
 * in this program ("traced-iret": ip != landing pad forces IRET). Tracer and
 * tracee do the same work in both, so the difference of the two is the
 * difference of the two kernel exit paths. The child says which it wants in
 * ebx (getpid ignores it).
 *
 * Mode: under QEMU -icount shift=0 the TSC advances one tick per guest
 * instruction, so a sample is a path length in instructions ("exact");
 * otherwise it is TSC ticks ("wall"). The host says which with --mode.
 *
 * Calibration (calib/loop): fixed user-space work timed in the same rounds;
 * "calibrated" costs divide each sample by its round's calibration median, so
 * they hold still when the host slows the whole guest down.
 *
 * Result lines: test "cost/<callpath>/<syscall>[/<detail>]", observed = {mode,
 * unit, n, min, median, p90, p99, max, mean, cv, baseline (minimum of the
 * matching none job), calib (calibration median), calibrated (median of the
 * calibrated samples), samples and calibrated_samples: [up to 100, spread over
 * the run and over the positions within a block]}; "cost/env" describes the
 * guest.
 * Status pass unless the measurement failed (a call returned a wrong value).
 */
#define _GNU_SOURCE
#include "entrylab.h"

#include <cpuid.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 100000
#define KEPT_SAMPLES 100
#define IRET_MAGIC 0x1e7

/* A system call: number and six arguments, as the call helpers load them. */
struct call {
	long nr;
	long a[6];
};

typedef long (*call_fn)(const struct call *c);

/*
 * sc_<path>(c): load eax/ebx/ecx/edx/esi/edi/ebp from *c, enter the kernel
 * the path's way, return eax. All share the same prologue and epilogue, so
 * sc_none (no kernel entry) is the timing baseline of the 32-bit paths.
 */
long sc_none(const struct call *c);
long sc_int80(const struct call *c);
long sc_gs(const struct call *c);
long sc_ptr(const struct call *c);
long sc_none64(const struct call *c);
long sc_syscall64(const struct call *c);
extern uintptr_t sc_target;
extern const char sc_pad_copy[];

#define LOAD32 "	pushl %ebp; pushl %ebx; pushl %esi; pushl %edi\n" \
	       "	movl 20(%esp), %eax\n" \
	       "	movl 4(%eax), %ebx; movl 8(%eax), %ecx; movl 12(%eax), %edx\n" \
	       "	movl 16(%eax), %esi; movl 20(%eax), %edi; movl 24(%eax), %ebp\n" \
	       "	movl (%eax), %eax\n"
#define DONE32 "	popl %edi; popl %esi; popl %ebx; popl %ebp\n	ret\n"
/* Into 64-bit mode (cs 0x33), x86-64 argument registers from *c (in eax). */
#define TO64 "	pushl %ebp; pushl %ebx; pushl %esi; pushl %edi\n" \
	     "	movl 20(%esp), %eax\n" \
	     "	ljmp $0x33, $1f\n" \
	     "1:	.code64\n" \
	     "	movl %eax, %eax; movl %esp, %esp\n" \
	     "	movl 4(%rax), %edi; movl 8(%rax), %esi; movl 12(%rax), %edx\n" \
	     "	movl 16(%rax), %r10d; movl 20(%rax), %r8d; movl 24(%rax), %r9d\n" \
	     "	movl (%rax), %eax\n"
/*
 * Back to compatibility mode (cs 0x23) by an indirect far jump through the
 * m16:32 pointer "far" (its address loaded by a mov emitted as 32-bit code:
 * the same bytes, without a 64-bit relocation). thunks_32.S uses lretq, but
 * under QEMU 7.2 TCG with SMAP a CPL3 far return reads the user stack as a
 * supervisor access and the guest kernel oopses on the page fault.
 */
#define TO32(far) "	.code32; movl $" far ", %ecx; .code64\n" \
		  "	ljmpl *(%rcx)\n" \
		  "	.code32\n" \
		  far "_to:\n" DONE32

asm(".pushsection .data\n"
    ".globl sc_target\n"
    "sc_target: .long 0\n"
    "sc_far_none64: .long sc_far_none64_to; .word 0x23\n"
    "sc_far_syscall64: .long sc_far_syscall64_to; .word 0x23\n"
    ".popsection\n"
    ".pushsection .text\n"
    ".globl sc_none, sc_int80, sc_gs, sc_ptr, sc_pad_copy, sc_none64, sc_syscall64\n"
    "sc_none:\n" LOAD32 DONE32
    "sc_int80:\n" LOAD32 "	int $0x80\n" DONE32
    "sc_gs:\n" LOAD32 "	call *%gs:0x10\n" DONE32
    "sc_ptr:\n" LOAD32 "	call *sc_target\n" DONE32
    /* The landing pad of __kernel_vsyscall (system_call.S), copied. */
    "sc_pad_copy:\n"
    "	popl %ebp; popl %edx; popl %ecx\n"
    "	ret\n"
    "sc_none64:\n" TO64 TO32("sc_far_none64")
    "sc_syscall64:\n" TO64 "	syscall\n" TO32("sc_far_syscall64")
    ".popsection\n");

static const char *mode = "wall";
static int samples = 2000, warmup = 200, traced_samples = 300;
static int have_lfence;
static int failures;

/* TSC; lfence first where the CPU has it (SSE2), so earlier work is done. */
static inline uint64_t tsc(void)
{
	uint32_t lo, hi;

	if (have_lfence)
		asm volatile("lfence" ::: "memory");
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi)::"memory");
	return ((uint64_t)hi << 32) | lo;
}

/* glibc's own path: syscall(3). */
static long sc_glibc(const struct call *c)
{
	return syscall(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
}

/* __vdso_clock_gettime(clock, ts): a plain cdecl function in the vDSO. */
static int (*vdso_clock_gettime)(long clock, void *ts);
static long sc_vdso_fn(const struct call *c)
{
	return vdso_clock_gettime(c->a[0], (void *)c->a[1]);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static uint32_t pct(const uint32_t *s, int n, int p)
{
	int rank = (n * p + 99) / 100;

	return s[rank > 0 ? rank - 1 : 0];
}

/*
 * One measurement: a call path and a system call, its samples and whether
 * every call returned what it should.
 */
struct job {
	char test[96];
	const char *sysname;
	call_fn fn;
	const struct call *c;
	long want;
	const struct job *baseline; /* its minimum is subtracted on the host */
	uint32_t *s;
	int bad;
	long got;
};

#define MAX_JOBS 32
#define BLOCK 10

static struct job jobs[MAX_JOBS];
static int njobs;

static struct job *add_job(const char *path, const char *sysname, const char *detail,
			   call_fn fn, const struct call *c, long want, const struct job *base)
{
	struct job *j = &jobs[njobs++];
	int most = samples > traced_samples ? samples : traced_samples;

	if (njobs > MAX_JOBS)
		abort();

	snprintf(j->test, sizeof(j->test), "cost/%s/%s%s", path, sysname, detail);
	j->sysname = sysname;
	j->fn = fn;
	j->c = c;
	j->want = want;
	j->baseline = base;
	j->s = calloc((size_t)most, sizeof(uint32_t));
	return j;
}

/* Time calls i0..i1-1 of job j (negative i: warm-up, not kept). */
static void run_calls(struct job *j, int i0, int i1)
{
	for (int i = i0; i < i1; i++) {
		uint64_t t0 = tsc();
		long r = j->fn(j->c);
		uint64_t t1 = tsc();

		if (r != j->want) {
			j->bad++;
			j->got = r;
		}
		if (i >= 0)
			j->s[i] = (uint32_t)(t1 - t0);
	}
}

/*
 * Warm every job up, then take n samples of each in rounds of BLOCK calls per
 * job, so that a slow drift of the host (other guests, frequency) spreads
 * over all paths instead of landing on whichever was measured at the time.
 */
static void measure_all(int n)
{
	for (int k = 0; k < njobs; k++)
		run_calls(&jobs[k], -warmup, 0);
	for (int i = 0; i < n; i += BLOCK)
		for (int k = 0; k < njobs; k++)
			run_calls(&jobs[k], i, i + BLOCK < n ? i + BLOCK : n);
}

static uint32_t min_of(const uint32_t *s, int n)
{
	uint32_t m = s[0];

	for (int i = 1; i < n; i++)
		m = s[i] < m ? s[i] : m;
	return m;
}

/*
 * Calibration: a fixed piece of user-space work, timed in the same rounds as
 * everything else. Under TCG the host's speed changes while a guest runs (a
 * busy SMT sibling halves it); dividing each sample by the median of the
 * calibration samples of its own round gives "calibrated" costs that keep
 * their value when the whole machine slows down.
 */
static long sc_calib(const struct call *c)
{
	static volatile uint32_t mem[256];
	uint32_t x = (uint32_t)c->nr;

	for (int i = 0; i < 256; i++) {
		x = x * 1103515245u + 12345u;
		mem[(x >> 8) & 255] += x;
	}
	return c->nr;
}

static struct job *calib;
static uint32_t calib_all; /* median of every calibration sample */
static uint32_t round_calib[MAX_SAMPLES / BLOCK + 1];

static uint32_t median_of(const uint32_t *s, int n)
{
	uint32_t tmp[BLOCK];

	memcpy(tmp, s, sizeof(uint32_t) * (size_t)n);
	qsort(tmp, (size_t)n, sizeof(uint32_t), cmp_u32);
	return tmp[(n - 1) / 2];
}

/* Sample i of a job divided by its round's calibration median. */
static double calibrated(const struct job *j, int i)
{
	uint32_t c = round_calib[i / BLOCK];

	return c ? (double)j->s[i] / c : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Kept sample k of n: evenly spread, and through every position in a block. */
static int kept_index(int k, int n)
{
	int step = n > KEPT_SAMPLES ? n / KEPT_SAMPLES : 1;

	return k * step + k % (step < BLOCK ? step : BLOCK);
}

/* Print one result line for job j's n samples. */
static void report(const struct job *j, int n)
{
	static uint32_t sorted[MAX_SAMPLES];
	static double norm[MAX_SAMPLES];
	const uint32_t *buf = j->s;
	uint32_t baseline = j->baseline ? min_of(j->baseline->s, n) : 0;
	char obs[6144];
	double sum = 0, sq = 0;
	int len;

	memcpy(sorted, buf, sizeof(uint32_t) * (size_t)n);
	qsort(sorted, (size_t)n, sizeof(uint32_t), cmp_u32);
	for (int i = 0; i < n; i++) {
		sum += buf[i];
		sq += (double)buf[i] * buf[i];
		norm[i] = calibrated(j, i);
	}
	qsort(norm, (size_t)n, sizeof(double), cmp_double);
	double mean = sum / n, var = sq / n - mean * mean;
	double cv = mean > 0 ? sqrt(var > 0 ? var : 0) / mean : 0;

	len = snprintf(obs, sizeof(obs),
		       "{\"mode\":\"%s\",\"unit\":\"%s\",\"syscall\":\"%s\",\"nr\":%ld,"
		       "\"n\":%d,\"min\":%u,\"median\":%u,\"p90\":%u,\"p99\":%u,\"max\":%u,"
		       "\"mean\":%.1f,\"cv\":%.4f,\"baseline\":%u,\"calib\":%u,"
		       "\"calibrated\":%.4f,\"samples\":[",
		       mode, strcmp(mode, "exact") ? "tsc" : "instructions", j->sysname, j->c->nr,
		       n, sorted[0], sorted[(n - 1) / 2], pct(sorted, n, 90), pct(sorted, n, 99),
		       sorted[n - 1], mean, cv, baseline, calib_all,
		       norm[(n - 1) / 2]);
	for (int k = 0; k < KEPT_SAMPLES && kept_index(k, n) < n; k++)
		len += snprintf(obs + len, sizeof(obs) - (size_t)len, "%s%u", k ? "," : "",
				buf[kept_index(k, n)]);
	len += snprintf(obs + len, sizeof(obs) - (size_t)len, "],\"calibrated_samples\":[");
	for (int k = 0; k < KEPT_SAMPLES && kept_index(k, n) < n; k++)
		len += snprintf(obs + len, sizeof(obs) - (size_t)len, "%s%.4f", k ? "," : "",
				calibrated(j, kept_index(k, n)));
	snprintf(obs + len, sizeof(obs) - (size_t)len, "]}");
	if (j->bad) {
		failures++;
		el_result(j->test, "fail", obs, NULL, "%d of %d calls returned %ld, expected %ld",
			  j->bad, n + warmup, j->got, j->want);
	} else {
		el_result(j->test, "pass", obs, NULL, "%s: min %u median %u %s", j->sysname,
			  sorted[0], sorted[(n - 1) / 2],
			  strcmp(mode, "exact") ? "TSC ticks" : "instructions");
	}
}

static void measure_and_report(int n)
{
	static struct call none = {__NR_getpid, {0}};
	static uint32_t sorted_calib[MAX_SAMPLES];

	calib = add_job("calib", "loop", "", sc_calib, &none, none.nr, NULL);
	measure_all(n);
	for (int r = 0; r * BLOCK < n; r++)
		round_calib[r] = median_of(calib->s + r * BLOCK,
					   n - r * BLOCK < BLOCK ? n - r * BLOCK : BLOCK);
	memcpy(sorted_calib, calib->s, sizeof(uint32_t) * (size_t)n);
	qsort(sorted_calib, (size_t)n, sizeof(uint32_t), cmp_u32);
	calib_all = sorted_calib[(n - 1) / 2];
	for (int k = 0; k < njobs; k++)
		report(&jobs[k], n);
}

static void read_line(const char *file, char *out, size_t cap)
{
	FILE *f = fopen(file, "r");

	out[0] = 0;
	if (f) {
		if (!fgets(out, (int)cap, f))
			out[0] = 0;
		fclose(f);
	}
	out[strcspn(out, "\n")] = 0;
}

/* Append ,"key":"<contents of file>" to obs. */
static void add_file(char *obs, size_t cap, const char *key, const char *file)
{
	char line[512];

	read_line(file, line, sizeof(line));
	strncat(obs, ",\"", cap - strlen(obs) - 1);
	strncat(obs, key, cap - strlen(obs) - 1);
	strncat(obs, "\":\"", cap - strlen(obs) - 1);
	el_json_escape(obs, cap, line);
	strncat(obs, "\"", cap - strlen(obs) - 1);
}

/*
 * The traced child: the same getpid through __kernel_vsyscall with the
 * opportunistic return and with a forced IRET, and raw int80 for reference.
 */
static void traced_child(uintptr_t vsyscall)
{
	static struct call keep = {__NR_getpid, {0}}, move = {__NR_getpid, {IRET_MAGIC}};
	static struct call none = {__NR_getpid, {0}};
	long pid = getpid();

	failures = 0;
	njobs = 0;
	if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0 || raise(SIGSTOP) != 0)
		_exit(2);
	sc_target = vsyscall;
	struct job *base = add_job("none", "none", "/traced", sc_none, &none, none.nr, NULL);
	add_job("vdso_sym", "getpid", "/traced", sc_ptr, &keep, pid, base);
	add_job("vdso_sym", "getpid", "/traced-iret", sc_ptr, &move, pid, base);
	add_job("int80", "getpid", "/traced", sc_int80, &keep, pid, base);
	measure_and_report(traced_samples);
	_exit(failures ? 1 : 0);
}

/* PTRACE_SYSCALL the child to its end; at getpid exit stops move eip if asked. */
static int tracer(pid_t child)
{
	struct user_regs_struct r;

	if (el_trace_attach(child))
		return -1;
	for (int sig = 0;;) {
		int at = el_trace_next(child, &sig);

		if (at <= EL_EXITED)
			return at < 0 ? -1 : sig;
		if (at == EL_AT_SIGNAL)
			continue;
		if (ptrace(PTRACE_GETREGS, child, 0, &r) != 0)
			return -1;
		if (r.orig_eax == __NR_getpid && r.eax != -ENOSYS) {
			/*
			 * eip = pad copy if asked, without a branch: under -icount the
			 * tracer's instructions are counted too, and both variants
			 * must execute the same number of them.
			 */
			asm("cmpl %[magic], %[ebx]\n\tcmove %[pad], %[eip]"
			    : [eip] "+r"(r.eip)
			    : [ebx] "r"(r.ebx), [magic] "i"(IRET_MAGIC), [pad] "r"(sc_pad_copy)
			    : "cc");
			if (ptrace(PTRACE_SETREGS, child, 0, &r) != 0)
				return -1;
		}
	}
}

static int is_64bit_kernel(void)
{
	struct utsname u;

	return uname(&u) == 0 && strcmp(u.machine, "x86_64") == 0;
}

int main(int argc, char **argv)
{
	unsigned int ea, eb, ec, ed;
	int32_t ts32[2];
	int64_t ts64[2] = {0, 0}, zero64[2] = {0, 0};
	int32_t zero32[2] = {0, 0};
	uintptr_t sysinfo = el_at_sysinfo(), vsyscall = el_vdso_sym("__kernel_vsyscall");
	uintptr_t gs_sysinfo = 0;
	int k64 = is_64bit_kernel();
	char obs[4096];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--mode"))
			mode = strcmp(argv[i + 1], "exact") ? "wall" : "exact";
		else if (!strcmp(argv[i], "--samples"))
			samples = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--warmup"))
			warmup = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--traced"))
			traced_samples = atoi(argv[i + 1]);
	}
	if (samples < 1 || samples > MAX_SAMPLES || traced_samples < 1 ||
	    traced_samples > MAX_SAMPLES || warmup < 0) {
		el_result("cost/env", "error", NULL, NULL, "bad arguments");
		return 2;
	}
	have_lfence = __get_cpuid(1, &ea, &eb, &ec, &ed) && (ed & bit_SSE2);
	asm volatile("movl %%gs:0x10, %0" : "=r"(gs_sysinfo));
	vdso_clock_gettime = (int (*)(long, void *))el_vdso_sym("__vdso_clock_gettime");

	snprintf(obs, sizeof(obs),
		 "{\"mode\":\"%s\",\"kernel_bits\":%d,\"at_sysinfo\":\"%#lx\",\"gs_sysinfo\":"
		 "\"%#lx\",\"kernel_vsyscall\":\"%#lx\",\"vdso_clock_gettime\":%s,\"lfence\":%s,"
		 "\"samples\":%d,\"warmup\":%d,\"traced_samples\":%d,\"cpus\":%ld",
		 mode, k64 ? 64 : 32, (unsigned long)sysinfo, (unsigned long)gs_sysinfo,
		 (unsigned long)vsyscall, vdso_clock_gettime ? "true" : "false",
		 have_lfence ? "true" : "false", samples, warmup, traced_samples,
		 sysconf(_SC_NPROCESSORS_ONLN));
	add_file(obs, sizeof(obs), "clocksource",
		 "/sys/devices/system/clocksource/clocksource0/current_clocksource");
	add_file(obs, sizeof(obs), "meltdown", "/sys/devices/system/cpu/vulnerabilities/meltdown");
	add_file(obs, sizeof(obs), "spectre_v2",
		 "/sys/devices/system/cpu/vulnerabilities/spectre_v2");
	add_file(obs, sizeof(obs), "cmdline", "/proc/cmdline");
	strncat(obs, "}", sizeof(obs) - strlen(obs) - 1);
	if (!sysinfo || !vsyscall || sysinfo != vsyscall || gs_sysinfo != sysinfo) {
		el_result("cost/env", "error", obs, NULL,
			  "entry points disagree: AT_SYSINFO %#lx, %%gs:0x10 %#lx, "
			  "__kernel_vsyscall %#lx",
			  (unsigned long)sysinfo, (unsigned long)gs_sysinfo, (unsigned long)vsyscall);
		return 1;
	}
	el_result("cost/env", "pass", obs, NULL, "%s mode, %d-bit kernel, %d samples per path",
		  mode, k64 ? 64 : 32, samples);
	sc_target = vsyscall;

	/* The system calls, 32-bit numbering and (for syscall64) x86-64 numbering. */
	struct {
		const char *name;
		struct call c32, c64;
		long want;
	} calls[] = {
		{"getpid", {__NR_getpid, {0}}, {39, {0}}, getpid()},
		{"getppid", {__NR_getppid, {0}}, {110, {0}}, getppid()},
		{"pselect6",
		 {__NR_pselect6, {0, 0, 0, 0, (long)zero32, 0}},
		 {270, {0, 0, 0, 0, (long)zero64, 0}},
		 0},
		{"clock_gettime",
		 {__NR_clock_gettime, {CLOCK_MONOTONIC_RAW, (long)ts32}},
		 {228, {CLOCK_MONOTONIC_RAW, (long)ts64}},
		 0},
	};
	static struct call none = {__NR_getpid, {0}};
	struct job *base = add_job("none", "none", "", sc_none, &none, none.nr, NULL);
	struct job *base64 =
		k64 ? add_job("none64", "none", "", sc_none64, &none, none.nr, NULL) : NULL;

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		const char *name = calls[i].name;
		const struct call *c = &calls[i].c32;
		long want = calls[i].want;

		add_job("int80", name, "", sc_int80, c, want, base);
		add_job("at_sysinfo", name, "", sc_gs, c, want, base);
		add_job("vdso_sym", name, "", sc_ptr, c, want, base);
		add_job("glibc", name, "", sc_glibc, c, want, base);
		if (k64)
			add_job("syscall64", name, "", sc_syscall64, &calls[i].c64, want, base64);
		if (c->nr == __NR_clock_gettime && vdso_clock_gettime)
			add_job("vdso_fn", name, "", sc_vdso_fn, c, 0, base);
	}
	measure_and_report(samples);

	/* Forced IRET against the opportunistic return, both under a tracer. */
	fflush(stdout);
	pid_t child = fork();
	if (child == 0)
		traced_child(vsyscall);
	int rc = child > 0 ? tracer(child) : -1;
	if (rc != 0) {
		failures++;
		el_result("cost/vdso_sym/getpid/traced", "error", NULL, NULL,
			  "traced child: tracer result %d", rc);
	}
	return failures ? 1 : 0;
}
