/* SPDX-License-Identifier: GPL-2.0 */
/*
 * entrylab.h: what every guest program shares (header-only, gcc -m32 -static).
 *
 * Result protocol: one JSON object per line on stdout, which the host parses
 * (lab/checks.py, parse_result_lines):
 *
 *   {"entrylab":1,"test":"<name>","status":"pass|fail|skip|divergence|error",
 *    "message":"...","observed":<json>,"expected":<json>}
 *
 * "observed"/"expected" are optional raw JSON values (objects, strings,
 * numbers). Any other output line is free text the report keeps as context.
 */
#ifndef ENTRYLAB_H
#define ENTRYLAB_H

#include <elf.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>

/* Append s to buf as JSON string content (no quotes), escaping as needed. */
static inline void el_json_escape(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(buf);

	for (; *s && n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", c);
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n] = 0;
}

/*
 * Print one result line. observed/expected are raw JSON (or NULL to omit).
 * The message is printf-style. Flushed at once, so a crash after it loses
 * nothing already reported.
 */
static inline void el_result(const char *test, const char *status,
			     const char *observed, const char *expected,
			     const char *fmt, ...)
{
	char msg[2048], line[8192] = "{\"entrylab\":1,\"test\":\"";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	el_json_escape(line, sizeof(line), test);
	strncat(line, "\",\"status\":\"", sizeof(line) - strlen(line) - 1);
	el_json_escape(line, sizeof(line), status);
	strncat(line, "\",\"message\":\"", sizeof(line) - strlen(line) - 1);
	el_json_escape(line, sizeof(line), msg);
	strncat(line, "\"", sizeof(line) - strlen(line) - 1);
	if (observed) {
		strncat(line, ",\"observed\":", sizeof(line) - strlen(line) - 1);
		strncat(line, observed, sizeof(line) - strlen(line) - 1);
	}
	if (expected) {
		strncat(line, ",\"expected\":", sizeof(line) - strlen(line) - 1);
		strncat(line, expected, sizeof(line) - strlen(line) - 1);
	}
	strncat(line, "}\n", sizeof(line) - strlen(line) - 1);
	fputs(line, stdout);
	fflush(stdout);
}

/* AT_SYSINFO: the entry point libc calls for system calls (__kernel_vsyscall). */
static inline uintptr_t el_at_sysinfo(void)
{
	return (uintptr_t)getauxval(AT_SYSINFO);
}

/* AT_SYSINFO_EHDR: where the vDSO's ELF header is mapped. */
static inline const Elf32_Ehdr *el_vdso_ehdr(void)
{
	return (const Elf32_Ehdr *)(uintptr_t)getauxval(AT_SYSINFO_EHDR);
}

/*
 * Address of a symbol in the vDSO's dynamic symbol table, or 0.
 * Walks the section headers (the vDSO image keeps them) to .dynsym and its
 * string table; st_value is relative to the image base.
 */
static inline uintptr_t el_vdso_sym(const char *name)
{
	const Elf32_Ehdr *eh = el_vdso_ehdr();
	const unsigned char *base = (const unsigned char *)eh;

	if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0)
		return 0;
	const Elf32_Shdr *sh = (const Elf32_Shdr *)(base + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		const Elf32_Sym *sym = (const Elf32_Sym *)(base + sh[i].sh_offset);
		const char *str = (const char *)(base + sh[sh[i].sh_link].sh_offset);
		size_t count = sh[i].sh_size / sizeof(Elf32_Sym);
		for (size_t j = 0; j < count; j++) {
			if (sym[j].st_name && strcmp(str + sym[j].st_name, name) == 0)
				return (uintptr_t)base + sym[j].st_value;
		}
	}
	return 0;
}

/*
 * The int $0x80 landing pad of __kernel_vsyscall: the address right after the
 * first `cd 80` in the stub's first 32 bytes (0 if there is none). The host
 * decodes the stub properly (lab/model); guest programs only need the address.
 */
static inline uintptr_t el_landing_pad(void)
{
	const unsigned char *p = (const unsigned char *)el_at_sysinfo();

	if (!p)
		return 0;
	for (int i = 0; i + 1 < 32; i++) {
		if (p[i] == 0xcd && p[i + 1] == 0x80)
			return (uintptr_t)(p + i + 2);
		if (p[i] == 0xc3)
			break;
	}
	return 0;
}

/*
 * Tracers: a child that did PTRACE_TRACEME and raise(SIGSTOP). el_trace_attach()
 * waits for that stop and asks for syscall stops marked SIGTRAP | 0x80 (and
 * the child killed with its tracer). el_trace_next() resumes it with
 * PTRACE_SYSCALL, delivering *sig, to its next stop: EL_AT_SYSCALL, or
 * EL_AT_SIGNAL with *sig = the signal (SIGSTOP already dropped), or
 * EL_EXITED with *sig = its exit status (128 + signal if killed); -1 if
 * ptrace or waitpid failed.
 */
enum { EL_EXITED = 0, EL_AT_SYSCALL = 1, EL_AT_SIGNAL = 2 };

static inline int el_trace_attach(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st))
		return -1;
	return ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL) ? -1
											   : 0;
}

static inline int el_trace_next(pid_t pid, int *sig)
{
	int st;

	if (ptrace(PTRACE_SYSCALL, pid, 0, *sig) != 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		*sig = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		return EL_EXITED;
	}
	if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
		*sig = 0;
		return EL_AT_SYSCALL;
	}
	*sig = WSTOPSIG(st) == SIGSTOP ? 0 : WSTOPSIG(st);
	return EL_AT_SIGNAL;
}

#endif /* ENTRYLAB_H */
