// SPDX-License-Identifier: GPL-2.0
// entrylab-cflags: abi_calls.S
/*
 * ptrace_modify: what a tracer's register changes at the syscall stops do.
 *
 * The tracee (a child) calls pwritev2(fd, iov, iovcnt, pos_lo, pos_hi, flags)
 * -- six arguments in ebx, ecx, edx, esi, edi, ebp -- with values that can
 * only fail: fd -16, iov NULL, iovcnt 0, pos 0x80000000_00000000, flags
 * 0xffff0000. At the syscall-entry stop the tracer (the parent, PTRACE_SYSCALL)
 * replaces all six: a memfd, two iovecs, 2, 100, 0, 0. The call can only
 * write "ptrace-" "entry" at offset 100 of the memfd if every one of the six
 * changes became an argument:
 *
 *   ptrace-modify/<path>/entry   result and file contents
 *
 * At the syscall-exit stop the tracer changes ecx, edx and ebp once more.
 * The seed (LKML 2015-08-26) calls that "asking for serious trouble": the
 * __kernel_vsyscall stub pops its saved ecx/edx/ebp after the landing pad, so
 * its caller gets the values it had before the call; an inline int $0x80
 * caller gets what the tracer wrote:
 *
 *   ptrace-modify/<path>/exit    which value each register ended with:
 *                                "orig" (before the call), "entry" (the
 *                                tracer's entry-stop value), "exit" (the
 *                                tracer's exit-stop value) or "other"
 *
 * glibc's syscall() pushes and pops ebx, esi, edi and ebp itself, so its
 * caller always sees "orig" there; ecx and edx are what the vDSO stub left.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "abi_calls.h"

/* The original (failing) arguments. */
#define ORIG_FD 0xfffffff0u	/* -16: EBADF */
#define ORIG_IOV 0u		/* NULL: EFAULT */
#define ORIG_CNT 0u		/* writes nothing */
#define ORIG_POSLO 0u
#define ORIG_POSHI 0x80000000u	/* negative position: EINVAL */
#define ORIG_FLAGS 0xffff0000u	/* unknown RWF_* flags: EOPNOTSUPP */
/* What the tracer writes at the syscall-exit stop. */
#define EXIT_ECX 0x0ec10ec1u
#define EXIT_EDX 0x0ed10ed1u
#define EXIT_EBP 0x0eb10eb1u
#define POS 100

static char part1[] = "ptrace-", part2[] = "entry";
static struct iovec iov[2] = { { part1, 7 }, { part2, 5 } };
static int memfd;

/* Per path, written by the tracee into shared memory. */
struct seen {
	int done;
	struct abi_regs in, out;
	char data[32]; /* bytes at POS */
	long size;     /* file size afterwards */
	uint32_t entry_ip; /* from the tracer */
	uint32_t tracer_args[6];
	int entry_stops, exit_stops;
};
static struct seen *seen;

static uint32_t entry_val(int i) /* the tracer's entry-stop values, ebx..ebp */
{
	const uint32_t v[6] = { (uint32_t)memfd, (uint32_t)(uintptr_t)iov, 2, POS, 0, 0 };
	return v[i];
}

static void tracee(void)
{
	if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
		_exit(10);
	raise(SIGSTOP);
	for (int p = 0; p < ABI_NPATHS; p++) {
		struct seen *s = &seen[p];

		if (ftruncate(memfd, 0) != 0)
			_exit(11);
		abi_setup();
		abi_in.eax = __NR_pwritev2;
		abi_in.ebx = ORIG_FD;
		abi_in.ecx = ORIG_IOV;
		abi_in.edx = ORIG_CNT;
		abi_in.esi = ORIG_POSLO;
		abi_in.edi = ORIG_POSHI;
		abi_in.ebp = ORIG_FLAGS;
		if (!abi_use_path((enum abi_path)p))
			continue;
		s->in = abi_in;
		errno = 0;
		abi_call();
		s->out = abi_out;
		if (p == ABI_GLIBC && (int32_t)abi_out.eax == -1)
			s->out.eax = (uint32_t)-errno;
		memset(s->data, 0, sizeof(s->data));
		if (pread(memfd, s->data, sizeof(s->data) - 1, POS) < 0)
			s->data[0] = 0;
		s->size = lseek(memfd, 0, SEEK_END);
		s->done = 1;
	}
	_exit(0);
}

static const char *which(uint32_t v, uint32_t orig, uint32_t entry, uint32_t exit_v)
{
	if (v == exit_v)
		return "exit";
	if (v == entry)
		return "entry";
	if (v == orig)
		return "orig";
	return "other";
}

/* The parent: stop at every syscall, change the marked one's registers. */
static int tracer(pid_t pid)
{
	int status, armed = -1, path = 0;

	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
		return -1;
	ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);
	int sig = 0;
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, pid, 0, sig) != 0)
			return -1;
		sig = 0;
		if (waitpid(pid, &status, 0) != pid)
			return -1;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return status;
		if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			sig = WSTOPSIG(status);
			continue;
		}
		struct __ptrace_syscall_info info;
		struct user_regs_struct r;
		if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info) <= 0 ||
		    ptrace(PTRACE_GETREGS, pid, 0, &r) != 0)
			return -1;
		if (info.op == PTRACE_SYSCALL_INFO_ENTRY && info.entry.nr == __NR_pwritev2 &&
		    (uint32_t)info.entry.args[0] == ORIG_FD) {
			/* Which path: the tracee runs them in order. */
			while (path < ABI_NPATHS && seen[path].entry_stops)
				path++;
			if (path >= ABI_NPATHS)
				continue;
			struct seen *s = &seen[path];
			s->entry_stops++;
			s->entry_ip = (uint32_t)r.eip;
			const long got[6] = { r.ebx, r.ecx, r.edx, r.esi, r.edi, r.ebp };
			for (int i = 0; i < 6; i++)
				s->tracer_args[i] = (uint32_t)got[i];
			r.ebx = (long)entry_val(0);
			r.ecx = (long)entry_val(1);
			r.edx = (long)entry_val(2);
			r.esi = (long)entry_val(3);
			r.edi = (long)entry_val(4);
			r.ebp = (long)entry_val(5);
			if (ptrace(PTRACE_SETREGS, pid, 0, &r) != 0)
				return -1;
			armed = path;
		} else if (info.op == PTRACE_SYSCALL_INFO_EXIT && armed >= 0) {
			seen[armed].exit_stops++;
			r.ecx = (long)EXIT_ECX;
			r.edx = (long)EXIT_EDX;
			r.ebp = (long)EXIT_EBP;
			if (ptrace(PTRACE_SETREGS, pid, 0, &r) != 0)
				return -1;
			armed = -1;
		}
	}
}

static void report(int p)
{
	struct seen *s = &seen[p];
	const char *path = abi_path_name[p];
	char test[64], obs[2048];

	snprintf(test, sizeof(test), "ptrace-modify/%s/entry", path);
	if (!s->done || s->entry_stops != 1) {
		el_result(test, "error", NULL, NULL, "tracee did not finish (done %d, %d entry stops)",
			  s->done, s->entry_stops);
		return;
	}
	/* The call succeeds only if all six entry-stop changes were its arguments. */
	const char *want = "ptrace-entry";
	int32_t ret = (int32_t)s->out.eax;
	int ok = ret == 12 && strcmp(s->data, want) == 0 && s->size == POS + 12;
	uint32_t pad = (uint32_t)el_landing_pad();
	const char *ip_at = s->entry_ip == pad ? "landing_pad" :
			    s->entry_ip == (uint32_t)(uintptr_t)abi_after_int80 ? "after_int80" :
										  "other";
	/* What the tracer saw at the entry stop: the caller's arguments? */
	const uint32_t orig[6] = { ORIG_FD, ORIG_IOV, ORIG_CNT, ORIG_POSLO, ORIG_POSHI,
				   ORIG_FLAGS };
	int args_seen = !memcmp(orig, s->tracer_args, sizeof(orig));
	snprintf(obs, sizeof(obs),
		 "{\"result\":%d,\"data_at_%d\":\"", ret, POS);
	el_json_escape(obs, sizeof(obs), s->data);
	abi_cat(obs, sizeof(obs),
		"\",\"file_size\":%ld,\"tracer_saw_orig_args\":%s,\"entry_ip\":\"%s\","
		"\"exit_stops\":%d}",
		s->size, args_seen ? "true" : "false", ip_at, s->exit_stops);
	el_result(test, ok && args_seen ? "pass" : "fail", obs,
		  "{\"result\":12,\"data_at_100\":\"ptrace-entry\",\"file_size\":112}",
		  "pwritev2 after the tracer's entry-stop changes returned %d, wrote \"%s\" "
		  "at %d (file size %ld); tracer saw %s arguments at ip %s",
		  ret, s->data, POS, s->size, args_seen ? "the original" : "other", ip_at);

	/* Exit stop: what did each register end up as? */
	snprintf(test, sizeof(test), "ptrace-modify/%s/exit", path);
	const uint32_t in[6] = { s->in.ebx, s->in.ecx, s->in.edx,
				 s->in.esi, s->in.edi, s->in.ebp };
	const uint32_t out[6] = { s->out.ebx, s->out.ecx, s->out.edx,
				  s->out.esi, s->out.edi, s->out.ebp };
	const uint32_t ex[6] = { 0, EXIT_ECX, EXIT_EDX, 0, 0, EXIT_EBP };
	static const char *const names[6] = { "ebx", "ecx", "edx", "esi", "edi", "ebp" };
	/* The documented design: int80 sees the exit values, the stub pops orig. */
	static const char *const exp_int80[6] = { "entry", "exit", "exit", "entry", "entry", "exit" };
	static const char *const exp_vsys[6] = { "entry", "orig", "orig", "entry", "entry", "orig" };
	static const char *const exp_glibc[6] = { "orig", "orig", "orig", "orig", "orig", "orig" };
	const char *const *exp = p == ABI_INT80 ? exp_int80 : p == ABI_GLIBC ? exp_glibc : exp_vsys;
	char expj[256] = "{", msg[256] = "";
	int match = 1;
	snprintf(obs, sizeof(obs), "{\"final\":{");
	for (int i = 0; i < 6; i++) {
		/* exit value 0 marks "not changed at exit" (ebx/esi/edi) */
		const char *w = which(out[i], in[i], entry_val(i), ex[i] ? ex[i] : 0xdeadbeefu);
		abi_cat(obs, sizeof(obs), "%s\"%s\":\"%s\"", i ? "," : "", names[i], w);
		abi_cat(expj, sizeof(expj), "%s\"%s\":\"%s\"", i ? "," : "", names[i], exp[i]);
		abi_cat(msg, sizeof(msg), "%s%s=%s", i ? " " : "", names[i], w);
		if (strcmp(w, exp[i]) != 0)
			match = 0;
	}
	abi_cat(obs, sizeof(obs), "},\"values\":{\"ecx\":\"%#x\",\"edx\":\"%#x\",\"ebp\":\"%#x\"},"
		"\"result\":%d}", s->out.ecx, s->out.edx, s->out.ebp, ret);
	abi_cat(expj, sizeof(expj), "}");
	el_result(test, match ? "pass" : "fail", obs, expj,
		  "after exit-stop changes of ecx/edx/ebp the caller has: %s", msg);
}

int main(void)
{
	memfd = (int)syscall(SYS_memfd_create, "ptrace-modify", 0);
	seen = mmap(NULL, sizeof(*seen) * ABI_NPATHS, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (memfd < 0 || seen == MAP_FAILED) {
		el_result("ptrace-modify/int80/entry", "error", NULL, NULL,
			  "memfd_create/mmap: %s", strerror(errno));
		return 1;
	}
	memset(seen, 0, sizeof(*seen) * ABI_NPATHS);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		tracee();
	int status = tracer(pid);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		el_result("ptrace-modify/int80/entry", "error", NULL, NULL,
			  "tracer/tracee failed (status %#x, errno %s)", status, strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	for (int p = 0; p < ABI_NPATHS; p++)
		report(p);
	return 0;
}
