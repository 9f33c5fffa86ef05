/*
 * mremap_vdso: move the vDSO with mremap() called through __kernel_vsyscall
 * itself, so the kernel must move the caller's ip into the new mapping
 * (vdso_fix_landing(), arch/x86/entry/vdso/vma.c) or the call returns to
 * the old, now unmapped, address and dies of SIGSEGV.
 *
 * 6.1/6.12 move ip only if it is the old int80 landing pad of an ia32
 * syscall; 7.2+ move any ip inside the image (docs/kernel-versions.md D9).
 * The two differ where the stub returns elsewhere than the landing pad: the
 * 7.x `int $0x80; ret` stub (SYSFAST32 clear) returns to stub+2.
 *
 * Runs in a child; result mremap-vdso/vdso_sym/moved, observed: survived,
 * the signal that killed it, and whether the moved stub still works.
 * Also reports the names of the mappings right below the vDSO
 * (mremap-vdso/maps, [vvar] on 6.x, [vvar] + [vvar_vclock] on 7.x, D10).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "entrylab.h"

/* <linux/mman.h> values; glibc's <sys/mman.h> shows them only with _GNU_SOURCE. */
#define EL_MREMAP_MAYMOVE 1
#define EL_MREMAP_FIXED 2

/* The vDSO's size from /proc/self/maps, and the names of the mappings below it. */
static size_t vdso_size(uintptr_t base, char *below, size_t cap)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[256], name[64];
	unsigned long lo, hi;
	size_t size = 0;

	below[0] = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		name[0] = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %63s", &lo, &hi, name) < 2)
			continue;
		if (lo == base) {
			size = hi - lo;
			break;
		}
		if (name[0] == '[' && strncmp(name, "[vvar", 5) == 0 &&
		    strlen(below) + strlen(name) + 2 < cap) {
			if (below[0])
				strcat(below, " ");
			strcat(below, name);
		}
	}
	fclose(f);
	return size;
}

static uintptr_t target; /* in memory: all six argument registers are taken */

/* exit_group by raw int $0x80: glibc's own system calls enter through the old AT_SYSINFO. */
static void __attribute__((noreturn)) raw_exit(int code)
{
	asm volatile("int $0x80" : : "a"(__NR_exit_group), "b"(code) : "memory");
	__builtin_unreachable();
}

static void child(uintptr_t base, uintptr_t vsyscall, size_t size)
{
	void *to = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long me = getpid(), ret;

	if (to == MAP_FAILED)
		_exit(10);
	/* mremap(base, size, size, MAYMOVE|FIXED, to) through the stub being moved. */
	target = vsyscall;
	asm volatile("call *%[fn]"
		     : "=a"(ret)
		     : "a"(__NR_mremap), "b"(base), "c"(size), "d"(size),
		       "S"(EL_MREMAP_MAYMOVE | EL_MREMAP_FIXED), "D"(to), [fn] "m"(target)
		     : "memory", "cc");
	if (ret != (long)(uintptr_t)to)
		raw_exit(11);
	/* The moved stub must still work. */
	uintptr_t moved = (uintptr_t)to + (vsyscall - base);
	asm volatile("call *%[fn]" : "=a"(ret) : "a"(__NR_getpid), [fn] "r"(moved)
		     : "memory", "cc", "ecx", "edx");
	raw_exit(ret == me ? 0 : 12);
}

int main(void)
{
	uintptr_t base = (uintptr_t)el_vdso_ehdr(), vsyscall = el_at_sysinfo();
	char below[128], obs[512];
	size_t size;
	int st = 0;
	pid_t pid;

	if (!base || !vsyscall) {
		el_result("mremap-vdso/vdso_sym/moved", "skip", NULL, NULL, "no vDSO");
		return 0;
	}
	size = vdso_size(base, below, sizeof below);
	snprintf(obs, sizeof obs, "{\"below_vdso\":\"%s\"}", below);
	el_result("mremap-vdso/maps", "pass", obs, NULL, "mappings below the vDSO: %s", below);
	if (!size) {
		el_result("mremap-vdso/vdso_sym/moved", "error", NULL, NULL,
			  "no [vdso] line at %#lx in /proc/self/maps", (unsigned long)base);
		return 1;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		child(base, vsyscall, size);
	if (waitpid(pid, &st, 0) != pid)
		return 1;
	snprintf(obs, sizeof obs,
		 "{\"survived\":%s,\"exit\":%d,\"signal\":%d,\"vdso_size\":%zu}",
		 WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "true" : "false",
		 WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0, size);
	el_result("mremap-vdso/vdso_sym/moved", "pass", obs, NULL,
		  WIFSIGNALED(st) ? "the child died of signal %d" : "the child exited %d",
		  WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	return 0;
}
