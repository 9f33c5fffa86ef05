// SPDX-License-Identifier: GPL-2.0
// entrylab-cflags: abi_calls.S
/*
 * sigreturn_modify: what a signal handler's ucontext changes do to a caller
 * blocked in a system call.
 *
 * The caller does read(pipe, bufA, 16) on an empty pipe, with ebp = a
 * sentinel; a timer (SIGALRM) interrupts it. The handler checks that the
 * saved eip is where a blocked syscall's would be, then edits the saved ecx
 * (-> bufB), edx (-> 3) and ebp (-> another sentinel):
 *
 *   sigreturn-modify/<path>/eintr    no SA_RESTART: read returns -EINTR;
 *                                    which ecx/edx/ebp does the caller get?
 *   sigreturn-modify/<path>/restart  SA_RESTART, the handler also writes to
 *                                    the pipe: the read restarts (ip -= 2,
 *                                    arch/x86/kernel/signal.c) with the
 *                                    edited registers as its arguments --
 *                                    does the data land in bufB, 3 bytes? --
 *                                    and which ecx/edx/ebp come back?
 *   sigreturn-modify/<path>/eip      no SA_RESTART, the handler also moves
 *                                    eip to abi_resume: off the landing pad,
 *                                    the stub's pops are skipped
 *
 * A __kernel_vsyscall caller normally loses the edits to the stub's "pop
 * %ebp; pop %edx; pop %ecx"; an inline int $0x80 caller keeps them. Each
 * register ends as "orig", "edited" or "other"; where the handler found eip
 * is "landing_pad", "landing_pad-2", "after_int80" or "int80_insn".
 *
 * glibc: read through syscall(); on -EINTR glibc's __syscall_error clobbers
 * edx (allowed: caller-saved) and syscall() restores ebp itself, so only ecx
 * tells anything there; moving eip out of glibc's frame is not a glibc
 * property (skip).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/ucontext.h>

#include "abi_calls.h"

enum mode { EINTR_MODE, RESTART_MODE, EIP_MODE, NMODES };
static const char *const mode_name[NMODES] = { "eintr", "restart", "eip" };

#define ORIG_CNT 16u
#define EDIT_CNT 3u
#define ORIG_EBP 0xe1e2e3e4u
#define EDIT_EBP 0x5eda5eda
static const char restart_data[] = "restarted-read";

static char bufA[32], bufB[32];
static int pipefd[2];
static volatile enum mode mode;
static volatile int delivered, strays;
static volatile uint32_t uc_eip, uc_eax;

static void arm_timer(void)
{
	struct itimerval it = { { 0, 0 }, { 0, 30000 } }; /* 30 ms, once */

	setitimer(ITIMER_REAL, &it, NULL);
}

static const char *where(uint32_t eip)
{
	uint32_t pad = (uint32_t)el_landing_pad();

	if (eip == pad)
		return "landing_pad";
	if (eip == pad - 2)
		return "landing_pad-2";
	if (eip == (uint32_t)(uintptr_t)abi_after_int80)
		return "after_int80";
	if (eip == (uint32_t)(uintptr_t)abi_int80_insn)
		return "int80_insn";
	return NULL;
}

static void handler(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *g = uc->uc_mcontext.gregs;

	(void)sig;
	(void)si;
	if (delivered)
		return;
	if (!where((uint32_t)g[REG_EIP])) { /* not blocked in the read yet */
		strays++;
		arm_timer();
		return;
	}
	delivered = 1;
	uc_eip = (uint32_t)g[REG_EIP];
	uc_eax = (uint32_t)g[REG_EAX];
	g[REG_ECX] = (greg_t)(uintptr_t)bufB;
	g[REG_EDX] = EDIT_CNT;
	g[REG_EBP] = EDIT_EBP;
	if (mode == EIP_MODE)
		g[REG_EIP] = (greg_t)(uintptr_t)abi_resume;
	if (mode == RESTART_MODE && write(pipefd[1], restart_data, strlen(restart_data)) < 0)
		g[REG_EBP] = 0; /* shows up as "other" */
}

static const char *which(uint32_t v, uint32_t orig, uint32_t edited)
{
	return v == edited ? "edited" : v == orig ? "orig" : "other";
}

static void run(enum abi_path p, enum mode m)
{
	const char *path = abi_path_name[p];
	int glibc = p == ABI_GLIBC;
	char test[64], obs[1024], exp[512];
	struct sigaction sa;

	snprintf(test, sizeof(test), "sigreturn-modify/%s/%s", path, mode_name[m]);
	if (glibc && m == EIP_MODE) {
		el_result(test, "skip", NULL, NULL,
			  "moving eip out of glibc's syscall() abandons glibc's own frame "
			  "(saved ebx/esi/edi/ebp): not a property of glibc's path");
		return;
	}
	if (pipe(pipefd) != 0) {
		el_result(test, "error", NULL, NULL, "pipe: %s", strerror(errno));
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | (m == RESTART_MODE ? SA_RESTART : 0);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	memset(bufA, 0, sizeof(bufA));
	memset(bufB, 0, sizeof(bufB));
	mode = m;
	delivered = strays = 0;

	abi_setup();
	abi_in.eax = __NR_read;
	abi_in.ebx = (uint32_t)pipefd[0];
	abi_in.ecx = (uint32_t)(uintptr_t)bufA;
	abi_in.edx = ORIG_CNT;
	abi_in.esi = 0x51525350;
	abi_in.edi = 0xf1f2f3f4;
	abi_in.ebp = ORIG_EBP;
	abi_use_path(p);
	arm_timer();
	errno = 0;
	abi_call();
	int32_t ret = (int32_t)abi_out.eax;
	if (glibc && ret == -1)
		ret = -errno;
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	close(pipefd[0]);
	close(pipefd[1]);

	const char *ecx = which(abi_out.ecx, abi_in.ecx, (uint32_t)(uintptr_t)bufB);
	const char *edx = which(abi_out.edx, ORIG_CNT, EDIT_CNT);
	const char *ebp = which(abi_out.ebp, ORIG_EBP, EDIT_EBP);
	const char *at = delivered ? where(uc_eip) : "none";
	int32_t esp_delta = (int32_t)(abi_out.esp - abi_in.esp);
	snprintf(obs, sizeof(obs),
		 "{\"result\":%d,\"handler_eip\":\"%s\",\"handler_eax\":%d,\"strays\":%d,"
		 "\"final\":{\"ecx\":\"%s\",\"edx\":\"%s\",\"ebp\":\"%s\"},\"bufA\":\"",
		 ret, at, (int32_t)uc_eax, strays, ecx, edx, ebp);
	el_json_escape(obs, sizeof(obs), bufA);
	abi_cat(obs, sizeof(obs), "\",\"bufB\":\"");
	el_json_escape(obs, sizeof(obs), bufB);
	abi_cat(obs, sizeof(obs), "\",\"resumed\":%s,\"esp_delta\":%d}",
		abi_resumed ? "true" : "false", esp_delta);

	/*
	 * The guest's own expectation is the documented design (system_call.S,
	 * signal.c); the host compares with the entry model.
	 */
	int raw = p == ABI_INT80;
	const char *vis = (raw || m == EIP_MODE) ? "edited" : "orig";
	const char *want_at = m == RESTART_MODE ? (raw ? "int80_insn" : "landing_pad-2") :
				(raw ? "after_int80" : "landing_pad");
	int32_t want_ret = m == RESTART_MODE ? (int32_t)EDIT_CNT : -EINTR;
	const char *want_edx = glibc && m == EINTR_MODE ? "n/a" : vis;
	const char *want_ebp = glibc ? "n/a" : vis;
	int ok = delivered && ret == want_ret && !strcmp(at, want_at) && !strcmp(ecx, vis) &&
		 (!strcmp(want_edx, "n/a") || !strcmp(edx, want_edx)) &&
		 (!strcmp(want_ebp, "n/a") || !strcmp(ebp, want_ebp));
	if (m == RESTART_MODE)
		ok = ok && !strcmp(bufB, "res") && bufA[0] == 0;
	if (m == EIP_MODE)
		ok = ok && abi_resumed && esp_delta == (raw ? 0 : -16);
	snprintf(exp, sizeof(exp),
		 "{\"result\":%d,\"handler_eip\":\"%s\",\"final\":{\"ecx\":\"%s\",\"edx\":\"%s\","
		 "\"ebp\":\"%s\"}%s%s}",
		 want_ret, want_at, vis, want_edx, want_ebp,
		 m == RESTART_MODE ? ",\"bufA\":\"\",\"bufB\":\"res\"" : "",
		 m == EIP_MODE ? (raw ? ",\"resumed\":true,\"esp_delta\":0" :
					",\"resumed\":true,\"esp_delta\":-16") : "");
	el_result(test, ok ? "pass" : "fail", obs, exp,
		  "read %s: handler found eip at %s, returned %d; caller has ecx=%s edx=%s "
		  "ebp=%s%s%s", mode_name[m], at, ret, ecx, edx, ebp,
		  m == RESTART_MODE ? (!strcmp(bufB, "res") ? "; restarted read used the edited "
		  "ecx/edx (3 bytes in bufB)" : "; restarted read did not use the edited ecx/edx") : "",
		  m == EIP_MODE ? (abi_resumed ? "; resumed at abi_resume" : "; did not resume") : "");
}

int main(void)
{
	for (int p = 0; p < ABI_NPATHS; p++)
		for (int m = 0; m < NMODES; m++)
			run((enum abi_path)p, (enum mode)m);
	return 0;
}
