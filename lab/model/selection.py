"""Which entry instruction Linux 6.1 patches into ``__kernel_vsyscall``, and why.

The stub (arch/x86/entry/vdso/vdso32/system_call.S) carries one alternative site:

* 64-bit kernels: ``ALTERNATIVE_2 "", "movl %esp,%ebp; sysenter", X86_FEATURE_SYSENTER32,
  "movl %ecx,%ebp; syscall", X86_FEATURE_SYSCALL32``. Both features are synthetic: the vendor's
  ``early_init_*()`` sets one of them under ``#ifdef CONFIG_X86_64`` without looking at CPUID.
* 32-bit kernels: ``ALTERNATIVE "", "movl %esp,%ebp; sysenter", X86_FEATURE_SEP`` -- the CPUID
  bit, for every vendor; SYSCALL is never used (the 32-bit kernel has no entry for it).

init_vdso_image() (arch/x86/entry/vdso/vma.c) runs apply_alternatives() on the image from
sysenter_setup() (arch/x86/entry/vdso/vdso32-setup.c): a subsys_initcall on 64-bit kernels, and
called from identify_boot_cpu() (arch/x86/kernel/cpu/common.c) on 32-bit ones, so in both cases
after the boot CPU's features are final.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.model.kernel import KernelFacts
from lab.model.paths import CpuIdentity, EntryPath, check_kernel_bits

__all__ = [
    "VENDORS",
    "X86_FEATURE_SEP",
    "X86_FEATURE_SYSCALL32",
    "X86_FEATURE_SYSENTER32",
    "Selection",
    "VendorInfo",
    "kernel_features",
    "pentium_pro_sep_erratum",
    "pentium_pro_sep_erratum_7",
    "select_path",
    "vendor_info",
]

# arch/x86/include/asm/cpufeatures.h (word*32 + bit): the numbers stored in .altinstructions.
X86_FEATURE_SEP = 0 * 32 + 11
X86_FEATURE_SYSCALL32 = 3 * 32 + 14
X86_FEATURE_SYSENTER32 = 3 * 32 + 15

FEATURE_NAMES: dict[int, str] = {
    X86_FEATURE_SEP: "X86_FEATURE_SEP",
    X86_FEATURE_SYSCALL32: "X86_FEATURE_SYSCALL32",
    X86_FEATURE_SYSENTER32: "X86_FEATURE_SYSENTER32",
}


@dataclass(frozen=True)
class VendorInfo:
    """One ``struct cpu_dev`` of arch/x86/kernel/cpu/*.c, as far as the entry path cares."""

    c_vendor: str  # the cpu_dev's c_vendor (kernel's short name)
    source: str  # file that defines the cpu_dev
    early_init: str | None  # its c_early_init, where the 64-bit synthetic flag is set
    compat_feature: int | None  # feature early_init sets on CONFIG_X86_64, if any
    kernel_bits: frozenset[int]  # kernels that build this cpu_dev (CPU_SUP_*_32 are 32-bit only)


_BOTH = frozenset({32, 64})
_ONLY32 = frozenset({32})

# Keyed by c_ident (the exact strings get_cpu_vendor() strcmp()s). 6.1 has no "AMDisbetter!"
# alias any more: amd.c's c_ident is { "AuthenticAMD" } alone, so that string is an unknown
# vendor. Transmeta is the only cpu_dev with two identities.
VENDORS: dict[str, VendorInfo] = {
    "GenuineIntel": VendorInfo(
        "Intel", "arch/x86/kernel/cpu/intel.c", "early_init_intel", X86_FEATURE_SYSENTER32, _BOTH
    ),
    "AuthenticAMD": VendorInfo(
        "AMD", "arch/x86/kernel/cpu/amd.c", "early_init_amd", X86_FEATURE_SYSCALL32, _BOTH
    ),
    "HygonGenuine": VendorInfo(
        "Hygon", "arch/x86/kernel/cpu/hygon.c", "early_init_hygon", X86_FEATURE_SYSCALL32, _BOTH
    ),
    "CentaurHauls": VendorInfo(
        "Centaur",
        "arch/x86/kernel/cpu/centaur.c",
        "early_init_centaur",
        X86_FEATURE_SYSENTER32,
        _BOTH,
    ),
    "  Shanghai  ": VendorInfo(
        "zhaoxin",
        "arch/x86/kernel/cpu/zhaoxin.c",
        "early_init_zhaoxin",
        X86_FEATURE_SYSENTER32,
        _BOTH,
    ),
    "CyrixInstead": VendorInfo("Cyrix", "arch/x86/kernel/cpu/cyrix.c", None, None, _ONLY32),
    "Geode by NSC": VendorInfo("NSC", "arch/x86/kernel/cpu/cyrix.c", None, None, _ONLY32),
    "GenuineTMx86": VendorInfo("Transmeta", "arch/x86/kernel/cpu/transmeta.c", None, None, _ONLY32),
    "TransmetaCPU": VendorInfo("Transmeta", "arch/x86/kernel/cpu/transmeta.c", None, None, _ONLY32),
    # umc.c's c_ident is "UMC UMC UMC" (11 characters), so it can never strcmp-equal a
    # 12-character CPUID vendor string; kept for completeness, unreachable like in the kernel.
    "UMC UMC UMC": VendorInfo("UMC", "arch/x86/kernel/cpu/umc.c", None, None, _ONLY32),
    "Vortex86 SoC": VendorInfo("Vortex", "arch/x86/kernel/cpu/vortex.c", None, None, _ONLY32),
}


def vendor_info(vendor: str, kernel_bits: int) -> VendorInfo | None:
    """The cpu_dev get_cpu_vendor() (common.c) picks, or None for default_cpu ("Unknown")."""
    info = VENDORS.get(vendor)
    if info is None or kernel_bits not in info.kernel_bits:
        return None
    return info


def pentium_pro_sep_erratum(cpu: CpuIdentity) -> bool:
    """True if intel_workarounds() (intel.c, 32-bit only) clears X86_FEATURE_SEP on this CPU.

    The 6.1 test is ``(c->x86<<8 | c->x86_model<<4 | c->x86_stepping) < 0x633`` -- a packed
    bitwise OR, not "model < 3 and stepping < 3": family 6 model 3 stepping 2 and family 6 model 1
    stepping 9 both lose SEP ("Pentium Pro reports SEP but doesn't have it until model 3 mask 3").
    Only for GenuineIntel, and only when family/model/stepping are known.
    """
    if cpu.vendor != "GenuineIntel" or not cpu.fms_known:
        return False
    assert cpu.family is not None and cpu.model is not None and cpu.stepping is not None
    return (cpu.family << 8 | cpu.model << 4 | cpu.stepping) < 0x633


def kernel_features(
    kernel_bits: int, cpu: CpuIdentity, *, kernel: KernelFacts | None = None
) -> frozenset[int]:
    """The entry-related feature bits boot_cpu_has() reports when the vDSO is patched.

    Only X86_FEATURE_SEP, X86_FEATURE_SYSENTER32 and X86_FEATURE_SYSCALL32 are modelled (6.1);
    with ``kernel``, that version's bits (SYSFAST32 on 7.x), numbered as its cpufeatures.h says,
    after FRED and clearcpuid= (lab/model/versioned.py).
    """
    check_kernel_bits(kernel_bits)
    if kernel is not None:
        from lab.model.versioned import versioned_features

        return versioned_features(kernel_bits, cpu, kernel).features
    features: set[int] = set()
    if cpu.has_sep and not (kernel_bits == 32 and pentium_pro_sep_erratum(cpu)):
        features.add(X86_FEATURE_SEP)
    if kernel_bits == 64:
        info = vendor_info(cpu.vendor, 64)
        if info is not None and info.compat_feature is not None:
            features.add(info.compat_feature)
    return frozenset(features)


@dataclass(frozen=True)
class Selection:
    """The entry path the patched stub executes, with the reason in one plain sentence."""

    path: EntryPath
    reason: str
    citations: tuple[str, ...] = ()  # file:line (version) for each rule used; () for the 6.1 API
    rules: str = "6.1"  # the kernel series whose rules decided
    assumed: bool = False  # the rules were borrowed for a version the model does not know


def _select_64(cpu: CpuIdentity) -> Selection:
    info = vendor_info(cpu.vendor, 64)
    if info is None:
        known32 = VENDORS.get(cpu.vendor)
        extra = (
            f" ({known32.source} is built only into 32-bit kernels)" if known32 is not None else ""
        )
        return Selection(
            EntryPath.INT80,
            f"64-bit kernel, vendor {cpu.vendor!r} matches no c_ident{extra}, so "
            "get_cpu_vendor() in arch/x86/kernel/cpu/common.c falls back to default_cpu, "
            "nothing sets X86_FEATURE_SYSENTER32 or X86_FEATURE_SYSCALL32, and the "
            "ALTERNATIVE_2 in arch/x86/entry/vdso/vdso32/system_call.S keeps its nops "
            "before int $0x80.",
        )
    if info.compat_feature == X86_FEATURE_SYSENTER32:
        return Selection(
            EntryPath.SYSENTER,
            f"64-bit kernel, vendor {cpu.vendor!r}: {info.early_init}() in {info.source} sets "
            "X86_FEATURE_SYSENTER32 unconditionally (CPUID SEP is not consulted), so "
            "apply_alternatives() patches 'movl %esp,%ebp; sysenter' into __kernel_vsyscall "
            "(arch/x86/entry/vdso/vdso32/system_call.S).",
        )
    if info.compat_feature == X86_FEATURE_SYSCALL32:
        return Selection(
            EntryPath.SYSCALL,
            f"64-bit kernel, vendor {cpu.vendor!r}: {info.early_init}() in {info.source} sets "
            "X86_FEATURE_SYSCALL32, so apply_alternatives() patches 'movl %ecx,%ebp; syscall' "
            "into __kernel_vsyscall (arch/x86/entry/vdso/vdso32/system_call.S).",
        )
    raise AssertionError(f"vendor table entry for {cpu.vendor!r} has no 64-bit feature")


def _select_32(cpu: CpuIdentity) -> Selection:
    if cpu.has_sep and pentium_pro_sep_erratum(cpu):
        return Selection(
            EntryPath.INT80,
            f"32-bit kernel, GenuineIntel family {cpu.family} model {cpu.model} stepping "
            f"{cpu.stepping} is below 6/3/3, so intel_workarounds() in "
            "arch/x86/kernel/cpu/intel.c clears X86_FEATURE_SEP (Pentium Pro erratum) and the "
            "ALTERNATIVE in arch/x86/entry/vdso/vdso32/system_call.S keeps its nops before "
            "int $0x80.",
        )
    if cpu.has_sep:
        return Selection(
            EntryPath.SYSENTER,
            f"32-bit kernel, CPUID reports SEP (vendor {cpu.vendor!r} does not matter), so the "
            "ALTERNATIVE on X86_FEATURE_SEP in arch/x86/entry/vdso/vdso32/system_call.S "
            "patches in 'movl %esp,%ebp; sysenter' and enable_sep_cpu() in "
            "arch/x86/kernel/cpu/common.c programs the SYSENTER MSRs.",
        )
    return Selection(
        EntryPath.INT80,
        "32-bit kernel without CPUID SEP: the ALTERNATIVE on X86_FEATURE_SEP in "
        "arch/x86/entry/vdso/vdso32/system_call.S keeps its nops before int $0x80 (a 32-bit "
        "kernel never uses SYSCALL).",
    )


def pentium_pro_sep_erratum_7(cpu: CpuIdentity) -> bool:
    """The 7.x form of the SEP erratum test (arch/x86/kernel/cpu/intel.c:405-407 in 7.2,
    :440-442 in 7.3): ``x86_vfm < INTEL_PENTIUM_II_KLAMATH || (x86_vfm == KLAMATH &&
    stepping < 3)``, KLAMATH = family 6 model 3; no packed-OR aliasing (D14)."""
    if cpu.vendor != "GenuineIntel" or not cpu.fms_known:
        return False
    assert cpu.family is not None and cpu.model is not None and cpu.stepping is not None
    fm = (cpu.family, cpu.model)
    return fm < (6, 3) or (fm == (6, 3) and cpu.stepping < 3)


def select_path(
    kernel_bits: int, cpu: CpuIdentity, *, kernel: KernelFacts | None = None
) -> Selection:
    """Predict the instruction ``__kernel_vsyscall`` uses on this kernel and CPU.

    Without ``kernel``: Linux 6.1, as always. With it: that version's rules
    (lab/model/versioned.py), each cited with file:line and version.
    """
    check_kernel_bits(kernel_bits)
    if kernel is not None:
        from lab.model.versioned import versioned_selection

        return versioned_selection(kernel_bits, cpu, kernel)
    return _select_64(cpu) if kernel_bits == 64 else _select_32(cpu)
