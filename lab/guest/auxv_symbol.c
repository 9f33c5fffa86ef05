// SPDX-License-Identifier: GPL-2.0
// entrylab-cflags: abi_calls.S
/*
 * auxv_symbol: the vDSO entry point as a 32-bit program sees it.
 *
 *   auxv-symbol/vdso_sym/elf             AT_SYSINFO_EHDR points at an ELF image:
 *                                        magic, ELFCLASS32, little-endian,
 *                                        ET_DYN, e_machine 3 (EM_386), a
 *                                        PT_DYNAMIC and a .dynsym
 *   auxv-symbol/vdso_sym/equals-at_sysinfo  __kernel_vsyscall in that .dynsym
 *                                        is a FUNC and equals AT_SYSINFO
 *   auxv-symbol/glibc/sysinfo            glibc's own copy (%gs:0x10) equals
 *                                        AT_SYSINFO, so glibc's syscalls go
 *                                        through __kernel_vsyscall
 *   auxv-symbol/<path>/landing-pad       where the kernel says the call is:
 *                                        the eip a tracer sees at the
 *                                        syscall-entry stop of getpid made
 *                                        through each path. For the vDSO
 *                                        paths that is int80_landing_pad
 *                                        (do_fast_syscall_32 sets regs->ip to
 *                                        it), inside __kernel_vsyscall, with
 *                                        `cd 80` (int $0x80) at eip - 2; for
 *                                        the inline int $0x80 it is the
 *                                        instruction after ours.
 *
 * The host checks the landing pad's offset from AT_SYSINFO against the
 * entry model (the same on every profile).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "abi_calls.h"

#define MARKER 0xa0c5a000u /* getpid's (ignored) ebx, + path */

/* The vDSO's .dynsym entry for name, or NULL. */
static const Elf32_Sym *vdso_dynsym(const Elf32_Ehdr *eh, const char *name, int *have_dynsym)
{
	const unsigned char *base = (const unsigned char *)eh;
	const Elf32_Shdr *sh = (const Elf32_Shdr *)(base + eh->e_shoff);

	*have_dynsym = 0;
	for (int i = 0; eh->e_shoff && i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		*have_dynsym = 1;
		const Elf32_Sym *sym = (const Elf32_Sym *)(base + sh[i].sh_offset);
		const char *str = (const char *)(base + sh[sh[i].sh_link].sh_offset);
		for (size_t j = 0; j < sh[i].sh_size / sizeof(Elf32_Sym); j++)
			if (sym[j].st_name && !strcmp(str + sym[j].st_name, name))
				return &sym[j];
	}
	return NULL;
}

static void check_elf(const Elf32_Ehdr *eh, uint32_t sysinfo, const Elf32_Sym *kv,
		      int have_dynsym)
{
	char obs[512];
	int dynamic = 0;
	uint32_t lo = ~0u, hi = 0;
	const Elf32_Phdr *ph = (const Elf32_Phdr *)((const char *)eh + eh->e_phoff);

	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_DYNAMIC)
			dynamic = 1;
		if (ph[i].p_type == PT_LOAD) {
			lo = ph[i].p_vaddr < lo ? ph[i].p_vaddr : lo;
			hi = ph[i].p_vaddr + ph[i].p_memsz > hi ? ph[i].p_vaddr + ph[i].p_memsz : hi;
		}
	}
	uint32_t base = (uint32_t)(uintptr_t)eh;
	int inside = lo != ~0u && sysinfo >= base + lo && sysinfo < base + hi;
	int ok = !memcmp(eh->e_ident, ELFMAG, SELFMAG) && eh->e_ident[EI_CLASS] == ELFCLASS32 &&
		 eh->e_ident[EI_DATA] == ELFDATA2LSB && eh->e_type == ET_DYN &&
		 eh->e_machine == EM_386 && dynamic && have_dynsym && inside;
	snprintf(obs, sizeof(obs),
		 "{\"magic\":%s,\"class\":%d,\"data\":%d,\"type\":%d,\"machine\":%d,"
		 "\"pt_dynamic\":%s,\"dynsym\":%s,\"at_sysinfo_inside_load\":%s,"
		 "\"ehdr\":\"%#x\"}",
		 memcmp(eh->e_ident, ELFMAG, SELFMAG) ? "false" : "true", eh->e_ident[EI_CLASS],
		 eh->e_ident[EI_DATA], eh->e_type, eh->e_machine, dynamic ? "true" : "false",
		 have_dynsym ? "true" : "false", inside ? "true" : "false", base);
	el_result("auxv-symbol/vdso_sym/elf", ok ? "pass" : "fail", obs,
		  "{\"magic\":true,\"class\":1,\"data\":1,\"type\":3,\"machine\":3,"
		  "\"pt_dynamic\":true,\"dynsym\":true,\"at_sysinfo_inside_load\":true}",
		  "AT_SYSINFO_EHDR %#x: %s", base,
		  ok ? "a 32-bit i386 ELF shared object with PT_DYNAMIC and .dynsym, AT_SYSINFO "
		       "inside its PT_LOAD" : "not the expected ELF image");

	uint32_t sym = kv ? base + kv->st_value : 0;
	ok = kv && ELF32_ST_TYPE(kv->st_info) == STT_FUNC && sym == sysinfo;
	snprintf(obs, sizeof(obs),
		 "{\"at_sysinfo\":\"%#x\",\"kernel_vsyscall\":\"%#x\",\"st_value\":\"%#x\","
		 "\"st_size\":%u,\"func\":%s,\"offset_in_image\":\"%#x\"}",
		 sysinfo, sym, kv ? kv->st_value : 0, kv ? kv->st_size : 0,
		 kv && ELF32_ST_TYPE(kv->st_info) == STT_FUNC ? "true" : "false",
		 sysinfo - base);
	el_result("auxv-symbol/vdso_sym/equals-at_sysinfo", ok ? "pass" : "fail", obs, NULL,
		  "__kernel_vsyscall %#x %s AT_SYSINFO %#x", sym, sym == sysinfo ? "==" : "!=",
		  sysinfo);
}

/* Tracee: getpid through every path, ebx = MARKER + path. */
static void tracee(void)
{
	if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
		_exit(10);
	raise(SIGSTOP);
	for (int p = 0; p < ABI_NPATHS; p++) {
		abi_setup();
		abi_in.eax = __NR_getpid;
		abi_in.ebx = MARKER + (uint32_t)p;
		if (abi_use_path((enum abi_path)p))
			abi_call();
	}
	_exit(0);
}

/* Tracer: the eip at each marked getpid's syscall-entry stop. */
static int trace(pid_t pid, uint32_t ip[ABI_NPATHS], uint32_t word[ABI_NPATHS])
{
	int status, sig = 0;

	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
		return -1;
	ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, pid, 0, sig) != 0 || waitpid(pid, &status, 0) != pid)
			return -1;
		sig = 0;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return status;
		if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			sig = WSTOPSIG(status);
			continue;
		}
		struct __ptrace_syscall_info info;
		if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info) <= 0)
			return -1;
		uint32_t p = (uint32_t)info.entry.args[0] - MARKER;
		if (info.op != PTRACE_SYSCALL_INFO_ENTRY || info.entry.nr != __NR_getpid ||
		    p >= ABI_NPATHS)
			continue;
		ip[p] = (uint32_t)info.instruction_pointer;
		errno = 0;
		word[p] = (uint32_t)ptrace(PTRACE_PEEKTEXT, pid, (void *)(uintptr_t)(ip[p] - 2), 0);
	}
}

int main(void)
{
	const Elf32_Ehdr *eh = el_vdso_ehdr();
	uint32_t sysinfo = (uint32_t)el_at_sysinfo();
	int have_dynsym = 0;
	const Elf32_Sym *kv = NULL;
	char obs[512], test[64];

	if (!eh || !sysinfo) {
		el_result("auxv-symbol/vdso_sym/elf", "fail", NULL, NULL,
			  "no vDSO: AT_SYSINFO_EHDR %p, AT_SYSINFO %#x", (const void *)eh, sysinfo);
		return 1;
	}
	if (!memcmp(eh->e_ident, ELFMAG, SELFMAG))
		kv = vdso_dynsym(eh, "__kernel_vsyscall", &have_dynsym);
	check_elf(eh, sysinfo, kv, have_dynsym);

	uint32_t glibc = abi_glibc_sysinfo();
	snprintf(obs, sizeof(obs), "{\"gs_0x10\":\"%#x\",\"at_sysinfo\":\"%#x\"}", glibc, sysinfo);
	el_result("auxv-symbol/glibc/sysinfo", glibc == sysinfo ? "pass" : "fail", obs, NULL,
		  "glibc's sysinfo (%%gs:0x10) %#x %s AT_SYSINFO %#x", glibc,
		  glibc == sysinfo ? "==" : "!=", sysinfo);

	/* The kernel's view: eip at the syscall-entry stop, per path. */
	uint32_t ip[ABI_NPATHS] = { 0 }, word[ABI_NPATHS] = { 0 };
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		tracee();
	int status = trace(pid, ip, word);
	if (status == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	uint32_t kv_lo = kv ? (uint32_t)(uintptr_t)eh + kv->st_value : 0;
	uint32_t kv_hi = kv ? kv_lo + kv->st_size : 0;
	uint32_t scan = (uint32_t)el_landing_pad();
	for (int p = 0; p < ABI_NPATHS; p++) {
		snprintf(test, sizeof(test), "auxv-symbol/%s/landing-pad", abi_path_name[p]);
		if (!ip[p]) {
			el_result(test, "error", NULL, NULL, "no syscall-entry stop seen (status %#x)",
				  status);
			continue;
		}
		int int80 = (word[p] & 0xffff) == 0x80cd;
		int raw = p == ABI_INT80;
		int in_stub = ip[p] > kv_lo && ip[p] <= kv_hi;
		int ok = int80 && (raw ? ip[p] == (uint32_t)(uintptr_t)abi_after_int80 :
					 in_stub && ip[p] == scan);
		char off[16] = "null";
		if (!raw)
			snprintf(off, sizeof(off), "%d", (int32_t)(ip[p] - sysinfo));
		snprintf(obs, sizeof(obs),
			 "{\"entry_ip\":\"%#x\",\"bytes_before\":\"%02x %02x\",\"offset\":%s,"
			 "\"in_kernel_vsyscall\":%s,\"is_scan_pad\":%s,\"is_after_inline_int80\":%s}",
			 ip[p], word[p] & 0xff, (word[p] >> 8) & 0xff, off,
			 in_stub ? "true" : "false", ip[p] == scan ? "true" : "false",
			 ip[p] == (uint32_t)(uintptr_t)abi_after_int80 ? "true" : "false");
		el_result(test, ok ? "pass" : "fail", obs, NULL,
			  "syscall-entry eip %#x (%s%s), bytes before it: %02x %02x",
			  ip[p], raw ? "after the inline int $0x80" : "__kernel_vsyscall+",
			  raw ? "" : off, word[p] & 0xff, (word[p] >> 8) & 0xff);
	}
	return 0;
}
