"""What the CPU does with SYSENTER / SYSCALL executed by a 32-bit process, on silicon and
under QEMU's TCG (which differ): the instruction's fate before any kernel code runs.

Used by the stub-variants model (lab/model/variants.py) and the raw-fast-insn predictions; each
rule cites the vendor manual or the QEMU source it comes from.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from lab.model.paths import CpuIdentity, check_kernel_bits
from lab.model.selection import X86_FEATURE_SEP, kernel_features, vendor_info


class Executor(enum.Enum):
    """Who executes the guest's instructions."""

    SILICON = "silicon"
    TCG = "tcg"


class Fate(enum.Enum):
    ENTERS = "enters"  # the kernel's entry code runs
    UD = "#UD"  # invalid opcode: SIGILL at the instruction
    GP = "#GP"  # general protection: SIGSEGV at the instruction
    PANIC = "panic"  # the guest kernel dies (double fault)
    UNKNOWN = "unknown"  # no documentation to go by


@dataclass(frozen=True)
class InsnFate:
    fate: Fate
    why: str


@dataclass(frozen=True)
class Platform:
    """The facts about a guest the variants model needs."""

    kernel_bits: int
    cpu: CpuIdentity  # vendor and /proc/cpuinfo flags (sep, pti, pcid)
    executor: Executor
    qemu_version: tuple[int, int] = (7, 2)

    @property
    def c_vendor(self) -> str | None:
        """The kernel's cpu_dev name (Intel, AMD, Hygon, Centaur, zhaoxin) or None (unknown)."""
        info = vendor_info(self.cpu.vendor, self.kernel_bits)
        return info.c_vendor if info else None


def qemu_version_tuple(text: str) -> tuple[int, int]:
    """``"7.2.22"`` or ``"QEMU emulator version 7.2.22 (Debian ...)"`` -> (7, 2); (0, 0) if none."""
    m = re.search(r"(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


_QEMU_81 = (
    "QEMU >= 8.1 (target/i386/tcg/translate.c, 'AMD only supports SYSENTER/SYSEXIT in 32-bit "
    "mode', June 2023): SYSENTER is #UD whenever long mode is active and the vendor is not Intel"
)
_QEMU_72 = (
    "QEMU < 8.1 (target/i386/tcg/translate.c case 0x134: 'if (CODE64(s) && cpuid_vendor1 != "
    "CPUID_VENDOR_INTEL_1) goto illegal_op'): compatibility mode is not CODE64, so SYSENTER "
    "runs for every vendor"
)


def _sysenter_fate(p: Platform) -> InsnFate:
    if p.kernel_bits == 32:
        if X86_FEATURE_SEP in kernel_features(32, p.cpu):
            return InsnFate(
                Fate.ENTERS,
                "32-bit kernel with SEP: enable_sep_cpu() (arch/x86/kernel/cpu/common.c) "
                "programmed MSR_IA32_SYSENTER_CS/ESP/EIP, entry_SYSENTER_32 "
                "(arch/x86/entry/entry_32.S) runs",
            )
        if p.executor is Executor.TCG:
            return InsnFate(
                Fate.GP,
                "no SEP: enable_sep_cpu() never wrote MSR_IA32_SYSENTER_CS; QEMU's "
                "helper_sysenter() does not look at CPUID and raises #GP(0) because "
                "SYSENTER_CS is 0 (target/i386/tcg/seg_helper.c)",
            )
        return InsnFate(
            Fate.UD,
            "a CPU without SEP (CPUID.01H:EDX[11]) has no SYSENTER: invalid opcode (on a CPU "
            "with SEP whose MSR_IA32_SYSENTER_CS is 0 it would be #GP(0), Intel SDM Vol. 2B "
            "SYSENTER)",
        )
    vendor = p.c_vendor
    if p.executor is Executor.TCG:
        if p.qemu_version >= (8, 1) and p.cpu.vendor != "GenuineIntel":
            return InsnFate(Fate.UD, _QEMU_81)
        return InsnFate(
            Fate.ENTERS,
            _QEMU_72 + "; syscall_init() (arch/x86/kernel/cpu/common.c) programs the SYSENTER "
            "MSRs with wrmsrl_safe() for every vendor, so entry_SYSENTER_compat "
            "(arch/x86/entry/entry_64_compat.S) runs",
        )
    if vendor in ("Intel", "Centaur", "zhaoxin"):
        return InsnFate(
            Fate.ENTERS,
            f"{vendor} CPUs execute SYSENTER in compatibility mode (Intel SDM Vol. 2B SYSENTER; "
            "the kernel relies on it: early_init_{intel,centaur,zhaoxin}() set "
            "X86_FEATURE_SYSENTER32), entry_SYSENTER_compat runs",
        )
    if vendor in ("AMD", "Hygon"):
        return InsnFate(
            Fate.UD,
            "AMD64 APM Vol. 3 SYSENTER: invalid opcode in long mode (the syscall_init() comment "
            "says so too: 'AMD doesn't allow SYSENTER in long mode')",
        )
    return InsnFate(
        Fate.UNKNOWN, f"no silicon documentation for vendor {p.cpu.vendor!r} in long mode"
    )


def _syscall_fate(p: Platform) -> InsnFate:
    if p.kernel_bits == 32:
        return InsnFate(
            Fate.UD,
            "32-bit kernels never set EFER.SCE (SYSCALL is #UD: Intel SDM / AMD APM SYSCALL; "
            "qemu-system-i386 does not even decode it, translate.c has it under TARGET_X86_64)",
        )
    vendor = p.c_vendor
    if p.executor is Executor.TCG:
        if vendor == "Intel":
            return InsnFate(
                Fate.PANIC,
                "QEMU runs SYSCALL in compatibility mode for every vendor and jumps to "
                "MSR_CSTAR, but syscall_init() -> wrmsrl_cstar() (arch/x86/kernel/cpu/common.c) "
                "skips that MSR on Intel ('Intel CPUs do not support 32-bit SYSCALL'): CSTAR is "
                "0, the CPU enters ring 0 at RIP 0 still on the user stack, the #PF cannot be "
                "delivered (SMAP) and the guest dies of a double fault",
            )
        return InsnFate(
            Fate.ENTERS,
            "QEMU runs SYSCALL in compatibility mode (helper_syscall: only EFER.SCE is "
            "checked) and jumps to MSR_CSTAR = entry_SYSCALL_compat (syscall_init())",
        )
    if vendor in ("AMD", "Hygon"):
        return InsnFate(
            Fate.ENTERS,
            "AMD CPUs execute SYSCALL in compatibility mode through MSR_CSTAR = "
            "entry_SYSCALL_compat (syscall_init(), arch/x86/kernel/cpu/common.c)",
        )
    if vendor == "Intel":
        return InsnFate(
            Fate.UD,
            "Intel SDM Vol. 2B SYSCALL: 'not recognized in compatibility mode' (#UD)",
        )
    return InsnFate(
        Fate.UNKNOWN, f"no silicon documentation for SYSCALL in compatibility mode on {vendor!r}"
    )


def insn_fate(insn: str, platform: Platform) -> InsnFate:
    """What ``sysenter`` or ``syscall`` does when a 32-bit process executes it."""
    check_kernel_bits(platform.kernel_bits)
    if insn == "sysenter":
        return _sysenter_fate(platform)
    if insn == "syscall":
        return _syscall_fate(platform)
    raise ValueError(f"not a fast entry instruction: {insn!r}")
