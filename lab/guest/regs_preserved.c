// SPDX-License-Identifier: GPL-2.0
// entrylab-cflags: abi_calls.S
/*
 * regs_preserved: a system call gives back every register but eax.
 *
 * Sentinel values go into ebx, ecx, edx, esi, edi and ebp, esp points into a
 * private stack, and eflags carry either nothing or CF PF AF ZF SF OF DF AC
 * NT. Then seven harmless system calls of 0..6 arguments (the sentinels are
 * their arguments: all of them fail early with EBADF/EINVAL, except getpid)
 * are made through each call path, and everything is compared afterwards:
 *
 *   regs-preserved/<path>/sentinels      the process's own segment registers
 *   regs-preserved/<path>/ldt-selectors  cs, ss, ds, es, fs (and gs except
 *                                        for glibc, which needs its TLS) on
 *                                        flat LDT segments of our own
 *
 * The kernel's fast paths load constant selectors (entry_64_compat.S pushes
 * $__USER32_CS/$__USER32_DS; entry_32.S's SYSEXIT path leaves __USER_DS in
 * ds/es), so with LDT selectors some may come back as the default ones; the
 * host compares which with the entry model. Here, the guest's own check is
 * the part that holds everywhere: no general register, esp or flag changes
 * (except status flags across a call of __kernel_vsyscall, which the i386
 * psABI does not preserve: the 64-bit kernel's SYSENTER entry with PTI
 * loses them, see lab/model/abi_paths.py), and a segment register either
 * keeps its value or returns to the process's default selector.
 *
 * glibc's path is a C call of syscall(): the i386 psABI lets it clobber ecx,
 * edx and the status flags and requires DF clear, so only ebx, esi, edi,
 * ebp, esp, the segments and DF/AC/NT/IF are checked there.
 *
 * TF is not set here: with TF on every instruction raises SIGTRAP; that is
 * the single-step scenario's subject.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "abi_calls.h"

static const uint32_t sentinel[6] = {
	0xb1b2b3b4, 0xc1c2c3c4, 0xd1d2d3d4, 0x51525350, 0xf1f2f3f4, 0xe1e2e3e4,
};

/* 0..6 arguments; with the sentinels as arguments each fails harmlessly. */
static const struct {
	const char *name;
	uint32_t nr;
	int err; /* expected errno (0: getpid) */
} calls[] = {
	{ "getpid", __NR_getpid, 0 },		/* 0 args */
	{ "close", __NR_close, EBADF },		/* fd 0xb1b2b3b4 */
	{ "dup2", __NR_dup2, EBADF },		/* newfd over RLIMIT_NOFILE */
	{ "write", __NR_write, EBADF },		/* bad fd */
	{ "rt_sigprocmask", __NR_rt_sigprocmask, EINVAL }, /* sigsetsize != 8 */
	{ "pread64", __NR_pread64, EINVAL },	/* negative position */
	{ "mmap2", __NR_mmap2, EBADF },		/* no MAP_ANONYMOUS, bad fd */
};
#define NCALLS (sizeof(calls) / sizeof(calls[0]))

static const char *const reg_name[13] = {
	"ebx", "ecx", "edx", "esi", "edi", "ebp", "esp",
	"cs", "ss", "ds", "es", "fs", "gs",
};
static const struct {
	const char *name;
	uint32_t bit;
} flag[] = {
	{ "CF", ABI_CF }, { "PF", ABI_PF }, { "AF", ABI_AF }, { "ZF", ABI_ZF },
	{ "SF", ABI_SF }, { "IF", ABI_IF }, { "DF", ABI_DF }, { "OF", ABI_OF },
	{ "AC", ABI_AC }, { "NT", ABI_NT },
};
#define NFLAGS (sizeof(flag) / sizeof(flag[0]))
#define STATUS_FLAGS (ABI_CF | ABI_PF | ABI_AF | ABI_ZF | ABI_SF | ABI_OF)

static uint32_t reg_of(const struct abi_regs *r, int i)
{
	const uint32_t v[13] = { r->ebx, r->ecx, r->edx, r->esi, r->edi, r->ebp, r->esp,
				 r->cs, r->ss, r->ds, r->es, r->fs, r->gs };
	return v[i];
}

static struct abi_regs deflt; /* the process's own selectors */

/* One path, one segment variant: all calls, both flag patterns. */
static void run(enum abi_path p, int ldt)
{
	int glibc = p == ABI_GLIBC;
	uint32_t checked_regs = glibc ? 0x1ff9 : 0x1fff; /* bit i: reg_name[i] */
	uint32_t checked_flags = glibc ? (ABI_DF | ABI_AC | ABI_NT | ABI_IF) : ~0u;
	uint32_t set_pattern = STATUS_FLAGS | ABI_DF | ABI_AC | ABI_NT;
	int changed_n[13] = { 0 }, flag_n[NFLAGS][2] = { { 0 } }, bad_n = 0, selftest_bad = 0;
	uint32_t changed_to[13] = { 0 }, before[13] = { 0 }, fl_before[NFLAGS], fl_after[NFLAGS];
	char bad[512] = "", test[64];

	snprintf(test, sizeof(test), "regs-preserved/%s/%s", abi_path_name[p],
		 ldt ? "ldt-selectors" : "sentinels");
	if (glibc)
		set_pattern = ABI_AC | ABI_NT; /* psABI: DF clear at calls */

	for (int pat = 0; pat < 2; pat++) {
		for (size_t c = 0; c < NCALLS; c++) {
			abi_setup();
			abi_in.eax = calls[c].nr;
			abi_in.ebx = sentinel[0];
			abi_in.ecx = sentinel[1];
			abi_in.edx = sentinel[2];
			abi_in.esi = sentinel[3];
			abi_in.edi = sentinel[4];
			abi_in.ebp = sentinel[5];
			abi_in.eflags &= ~STATUS_FLAGS;
			if (pat)
				abi_in.eflags |= set_pattern;
			if (ldt) {
				abi_in.cs = ABI_LDT_CS;
				abi_in.ss = abi_in.ds = abi_in.es = abi_in.fs = ABI_LDT_DS;
				if (!glibc)
					abi_in.gs = ABI_LDT_DS;
			}
			if (!abi_use_path(p)) {
				el_result(test, "skip", NULL, NULL, "%s: no such entry point",
					  abi_path_name[p]);
				return;
			}
			errno = 0;
			abi_call();
			int err = errno;

			/* Did the call really run, with our arguments? */
			int32_t want = calls[c].err ? -calls[c].err : (int32_t)getpid();
			int32_t got = (int32_t)abi_out.eax;
			if (glibc && calls[c].err)
				got = got == -1 ? -err : got;
			if (got != want) {
				bad_n++;
				abi_cat(bad, sizeof(bad), "%s%s:%d!=%d", bad[0] ? "," : "",
					calls[c].name, got, want);
			}

			for (int i = 0; i < 13; i++) {
				uint32_t a = reg_of(&abi_in, i), b = reg_of(&abi_out, i);
				if (!(checked_regs & (1u << i)) || a == b)
					continue;
				changed_n[i]++;
				before[i] = a;
				changed_to[i] = b;
				/* Allowed here: a segment back to the default selector. */
				if (i < 7 || !ldt || b != reg_of(&deflt, i))
					selftest_bad = 1;
			}
			for (size_t f = 0; f < NFLAGS; f++) {
				if (!(checked_flags & flag[f].bit))
					continue;
				if ((abi_eff_eflags ^ abi_out.eflags) & flag[f].bit) {
					if (!flag_n[f][0] && !flag_n[f][1]) {
						fl_before[f] = abi_eff_eflags;
						fl_after[f] = abi_out.eflags;
					}
					flag_n[f][pat]++;
					/* psABI: a call may change status flags */
					if (p == ABI_INT80 || !(flag[f].bit & STATUS_FLAGS))
						selftest_bad = 1;
				}
			}
		}
	}

	char obs[4096], msg[1024] = "";
	snprintf(obs, sizeof(obs), "{\"path\":\"%s\",\"variant\":\"%s\",\"calls\":%zu,"
		 "\"patterns\":[\"clear\",\"set\"],\"set_pattern\":\"%#x\",\"checked\":[",
		 abi_path_name[p], ldt ? "ldt-selectors" : "sentinels", NCALLS, set_pattern);
	for (int i = 0, first = 1; i < 13; i++)
		if (checked_regs & (1u << i)) {
			abi_cat(obs, sizeof(obs), "%s\"%s\"", first ? "" : ",", reg_name[i]);
			first = 0;
		}
	abi_cat(obs, sizeof(obs), "],\"flags_checked\":[");
	for (size_t f = 0, first = 1; f < NFLAGS; f++)
		if (checked_flags & flag[f].bit) {
			abi_cat(obs, sizeof(obs), "%s\"%s\"", first ? "" : ",", flag[f].name);
			first = 0;
		}
	abi_cat(obs, sizeof(obs), "],\"changed\":{");
	for (int i = 0, first = 1; i < 13; i++)
		if (changed_n[i]) {
			abi_cat(obs, sizeof(obs),
				"%s\"%s\":{\"before\":\"%#x\",\"after\":\"%#x\",\"times\":%d}",
				first ? "" : ",", reg_name[i], before[i], changed_to[i],
				changed_n[i]);
			abi_cat(msg, sizeof(msg), "%s %#x->%#x; ", reg_name[i], before[i],
				changed_to[i]);
			first = 0;
		}
	abi_cat(obs, sizeof(obs), "},\"flags_changed\":{");
	/* per flag: how often it changed with each pattern, and one example */
	for (size_t f = 0, first = 1; f < NFLAGS; f++)
		if (flag_n[f][0] || flag_n[f][1]) {
			abi_cat(obs, sizeof(obs),
				"%s\"%s\":{\"clear\":%d,\"set\":%d,\"eflags_before\":\"%#x\","
				"\"eflags_after\":\"%#x\"}",
				first ? "" : ",", flag[f].name, flag_n[f][0], flag_n[f][1],
				fl_before[f], fl_after[f]);
			abi_cat(msg, sizeof(msg), "%s changed (%d/%d); ", flag[f].name,
				flag_n[f][0], flag_n[f][1]);
			first = 0;
		}
	abi_cat(obs, sizeof(obs), "},\"bad_results\":\"%s\",\"default\":{", bad);
	for (int i = 7; i < 13; i++)
		abi_cat(obs, sizeof(obs), "%s\"%s\":\"%#x\"", i == 7 ? "" : ",", reg_name[i],
			reg_of(&deflt, i));
	abi_cat(obs, sizeof(obs), "}}");

	if (bad_n)
		abi_cat(msg, sizeof(msg), "unexpected results: %s; ", bad);
	if (strlen(msg) >= 2)
		msg[strlen(msg) - 2] = 0; /* the last "; " */
	el_result(test, (selftest_bad || bad_n) ? "fail" : "pass", obs, NULL,
		  "%zu calls x 2 flag patterns via %s: %s", NCALLS, abi_path_name[p],
		  msg[0] ? msg : "every checked register and flag came back unchanged");
}

int main(void)
{
	abi_setup();
	deflt = abi_in;
	int have_ldt = abi_setup_ldt();
	char test[64];

	for (int p = 0; p < ABI_NPATHS; p++) {
		run((enum abi_path)p, 0);
		if (have_ldt) {
			run((enum abi_path)p, 1);
		} else {
			snprintf(test, sizeof(test), "regs-preserved/%s/ldt-selectors",
				 abi_path_name[p]);
			el_result(test, "error", NULL, NULL, "modify_ldt failed: %s",
				  strerror(errno));
		}
	}
	return 0;
}
