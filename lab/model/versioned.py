"""Entry-path selection per kernel version (6.1, 6.12, 7.2, 7.3): which synthetic feature bits
the boot CPU ends up with, and which path the patched ``__kernel_vsyscall`` takes.

Rules that live only in C are written here per series, each with file:line and the version it
was read in (Debian linux-source trees, docs/kernel-versions.md D1, D3, D5, D14, D15). Feature
*numbers* are not written here: they come from ``KernelFacts.features`` (cpufeatures.h).

* 6.1 / 6.12, 64-bit: the vendor's early_init_*() sets X86_FEATURE_SYSENTER32 (Intel, Centaur,
  Zhaoxin) or X86_FEATURE_SYSCALL32 (AMD, Hygon); an unknown vendor gets neither (int $0x80).
* 7.2 / 7.3, 64-bit: get_cpu_cap() sets X86_FEATURE_SYSFAST32 on every CPU
  (``IS_ENABLED(CONFIG_X86_64) || SEP``); AMD/Hygon also set SYSCALL32, which wins the second
  alternative; so an unknown vendor now uses SYSENTER.
* FRED (6.12 with fred=on and CONFIG_X86_FRED; 7.x by default): cpu_init_fred_exceptions()
  clears both fast-path bits, so the stub stays int $0x80 (7.x: ``int $0x80; ret`` at +0).
* ``clearcpuid=`` of a bit clears it (setup_clear_cpu_cap()).
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.model.kernel import KernelFacts
from lab.model.paths import CpuIdentity, EntryPath, check_kernel_bits
from lab.model.selection import (
    X86_FEATURE_SYSENTER32,
    Selection,
    pentium_pro_sep_erratum,
    pentium_pro_sep_erratum_7,
    vendor_info,
)

__all__ = ["VersionedFeatures", "versioned_features", "versioned_selection"]

# Where each vendor's early_init sets its 64-bit flag, per series (file:line).
_VENDOR_LINES: dict[str, dict[str, str]] = {
    "6.1": {
        "Intel": "arch/x86/kernel/cpu/intel.c:354",
        "AMD": "arch/x86/kernel/cpu/amd.c:810",
        "Hygon": "arch/x86/kernel/cpu/hygon.c:275",
        "Centaur": "arch/x86/kernel/cpu/centaur.c:106",
        "zhaoxin": "arch/x86/kernel/cpu/zhaoxin.c:62",
    },
    "6.12": {
        "Intel": "arch/x86/kernel/cpu/intel.c:279",
        "AMD": "arch/x86/kernel/cpu/amd.c:632",
        "Hygon": "arch/x86/kernel/cpu/hygon.c:150",
        "Centaur": "arch/x86/kernel/cpu/centaur.c:106",
        "zhaoxin": "arch/x86/kernel/cpu/zhaoxin.c:62",
    },
    "7.2": {"AMD": "arch/x86/kernel/cpu/amd.c:644", "Hygon": "arch/x86/kernel/cpu/hygon.c:152"},
    "7.3": {"AMD": "arch/x86/kernel/cpu/amd.c:646", "Hygon": "arch/x86/kernel/cpu/hygon.c:153"},
}
_SYSFAST32_LINE = {
    "7.2": "arch/x86/kernel/cpu/common.c:1090-1091",
    "7.3": "arch/x86/kernel/cpu/common.c:1091-1092",
}
_FRED_CLEAR_LINE = {
    "6.12": "arch/x86/kernel/fred.c:70-71",
    "7.2": "arch/x86/kernel/fred.c:68-69",
    "7.3": "arch/x86/kernel/fred.c:68-69",
}
_STUB_LINE = {
    "6.1": "arch/x86/entry/vdso/vdso32/system_call.S:55-61",
    "6.12": "arch/x86/entry/vdso/vdso32/system_call.S:55-61",
    "7.2": "arch/x86/entry/vdso/vdso32/system_call.S:27,67",
    "7.3": "arch/x86/entry/vdso/vdso32/system_call.S:27,67",
}
_ERRATUM_LINE = {
    "6.1": "arch/x86/kernel/cpu/intel.c:541",
    "6.12": "arch/x86/kernel/cpu/intel.c:444",
    "7.2": "arch/x86/kernel/cpu/intel.c:405-407",
    "7.3": "arch/x86/kernel/cpu/intel.c:440-442",
}
_SYSCALL32_32BIT_CLEAR = "arch/x86/kernel/cpu/common.c:1846"  # 7.2, 32-bit early_identify_cpu


@dataclass(frozen=True)
class VersionedFeatures:
    """The entry feature bits after boot, and how they came about."""

    features: frozenset[int]
    steps: tuple[str, ...]  # one sentence per rule applied
    citations: tuple[str, ...]
    fred: bool


def versioned_features(
    kernel_bits: int, cpu: CpuIdentity, kernel: KernelFacts
) -> VersionedFeatures:
    """Feature bits boot_cpu_has() reports when init_vdso_image() patches the vDSO."""
    check_kernel_bits(kernel_bits)
    k = kernel
    sep = k.feature("X86_FEATURE_SEP")
    fast_name = k.fast_feature_name
    fast = k.feature(fast_name)
    syscall32 = k.feature("X86_FEATURE_SYSCALL32")
    feats: set[int] = set()
    steps: list[str] = []
    cites: list[str] = []
    erratum = pentium_pro_sep_erratum_7 if k.series7 else pentium_pro_sep_erratum
    if cpu.has_sep:
        if kernel_bits == 32 and erratum(cpu):
            cites.append(k.cite(_ERRATUM_LINE[k.rules]))
            steps.append(
                f"intel_workarounds() clears X86_FEATURE_SEP ({sep}) on this Pentium Pro "
                f"({k.cite(_ERRATUM_LINE[k.rules])})"
            )
        else:
            feats.add(sep)
    if k.series7:
        cite = k.cite(_SYSFAST32_LINE[k.rules])
        if kernel_bits == 64 or cpu.has_sep:
            feats.add(fast)
            cites.append(cite)
            why = "every 64-bit CPU" if kernel_bits == 64 else "CPUID SEP at get_cpu_cap() time"
            steps.append(f"get_cpu_cap() sets {fast_name} ({fast}) for {why} ({cite})")
        if kernel_bits == 64:
            info = vendor_info(cpu.vendor, 64)
            if info is not None and info.c_vendor in _VENDOR_LINES[k.rules]:
                c = k.cite(_VENDOR_LINES[k.rules][info.c_vendor])
                feats.add(syscall32)
                cites.append(c)
                steps.append(f"{info.early_init}() sets X86_FEATURE_SYSCALL32 ({syscall32}) ({c})")
        else:
            steps.append(
                "a 32-bit kernel clears X86_FEATURE_SYSCALL32 in early_identify_cpu() "
                f"({k.cite(_SYSCALL32_32BIT_CLEAR)})"
            )
    elif kernel_bits == 64:
        info = vendor_info(cpu.vendor, 64)
        if info is not None and info.compat_feature is not None:
            name = (
                "X86_FEATURE_SYSCALL32"
                if info.compat_feature != X86_FEATURE_SYSENTER32
                else fast_name
            )
            bit = syscall32 if name == "X86_FEATURE_SYSCALL32" else fast
            c = k.cite(_VENDOR_LINES[k.rules][info.c_vendor])
            feats.add(bit)
            cites.append(c)
            steps.append(f"{info.early_init}() sets {name} ({bit}) without looking at CPUID ({c})")
        else:
            steps.append(
                f"vendor {cpu.vendor!r} matches no 64-bit cpu_dev: default_cpu sets neither "
                f"{fast_name} nor X86_FEATURE_SYSCALL32 "
                f"({k.cite('arch/x86/kernel/cpu/common.c get_cpu_vendor()')})"
            )
    fred = kernel_bits == 64 and k.fred_enabled("fred" in cpu.flags)
    if fred:
        c = k.cite(_FRED_CLEAR_LINE[k.rules])
        feats -= {fast, syscall32}
        cites.append(c)
        steps.append(
            f"FRED is on, so cpu_init_fred_exceptions() clears {fast_name} and "
            f"X86_FEATURE_SYSCALL32 ({c})"
        )
    cleared = feats & k.effects.clear_features
    if cleared:
        feats -= cleared
        cites.extend(k.effects.citations)
        steps.append("clearcpuid= clears feature(s) " + ", ".join(str(b) for b in sorted(cleared)))
    return VersionedFeatures(frozenset(feats), tuple(steps), tuple(dict.fromkeys(cites)), fred)


def _path_from_features(kernel_bits: int, feats: frozenset[int], k: KernelFacts) -> EntryPath:
    fast = k.feature(k.fast_feature_name)
    syscall32 = k.feature("X86_FEATURE_SYSCALL32")
    if kernel_bits == 32 and not k.series7:
        return EntryPath.SYSENTER if k.feature("X86_FEATURE_SEP") in feats else EntryPath.INT80
    if k.series7:
        if fast not in feats:
            return EntryPath.INT80
        return EntryPath.SYSCALL if syscall32 in feats and kernel_bits == 64 else EntryPath.SYSENTER
    # ALTERNATIVE_2: the later (SYSCALL32) entry wins when both are set.
    if syscall32 in feats:
        return EntryPath.SYSCALL
    return EntryPath.SYSENTER if fast in feats else EntryPath.INT80


def versioned_selection(kernel_bits: int, cpu: CpuIdentity, kernel: KernelFacts) -> Selection:
    """The path ``kernel``'s patched ``__kernel_vsyscall`` takes on ``cpu``."""
    vf = versioned_features(kernel_bits, cpu, kernel)
    path = _path_from_features(kernel_bits, vf.features, kernel)
    stub = kernel.cite(_STUB_LINE[kernel.rules])
    if kernel.series7:
        how = {
            EntryPath.INT80: "SYSFAST32 is clear, so the first alternative keeps "
            "'int $0x80; ret' at __kernel_vsyscall+0 (no register saves)",
            EntryPath.SYSENTER: "SYSFAST32 is set and SYSCALL32 is not, so the stub runs "
            "'movl %esp,%ebp; sysenter'",
            EntryPath.SYSCALL: "SYSFAST32 and SYSCALL32 are set, so the second alternative "
            "patches in 'movl %ecx,%ebp; syscall'",
        }[path]
    else:
        how = {
            EntryPath.INT80: "no fast-path bit is set, so the alternative keeps its nops "
            "before int $0x80",
            EntryPath.SYSENTER: "the stub is patched to 'movl %esp,%ebp; sysenter'",
            EntryPath.SYSCALL: "the stub is patched to 'movl %ecx,%ebp; syscall'",
        }[path]
    if kernel_bits == 32 and vf.features and path is EntryPath.SYSENTER and kernel.series7:
        sep = kernel.feature("X86_FEATURE_SEP")
        if sep not in vf.features:
            how += (
                " although SEP was cleared later, so enable_sep_cpu() leaves the SYSENTER MSRs "
                "unset (likely #GP, not checked: docs/kernel-versions.md §6)"
            )
    assumed = f" [assumed: {kernel.reason}]" if kernel.assumed else ""
    reason = (
        f"{kernel_bits}-bit Linux {kernel.version} (rules of {kernel.rules}), vendor "
        f"{cpu.vendor!r}: " + "; ".join(vf.steps) + f"; {how} ({stub})." + assumed
    )
    return Selection(
        path,
        reason,
        citations=(*vf.citations, stub),
        rules=kernel.rules,
        assumed=kernel.assumed,
    )
