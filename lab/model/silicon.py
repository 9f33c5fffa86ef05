"""SYSENTER and SYSCALL executed by 32-bit user code outside the vDSO: silicon, then Linux 6.1.

Two questions, answered separately so that an emulator that answers the first one differently
shows up as a divergence (lab/suites/control.py, scenario raw-fast-insn):

1. What does the CPU do with the instruction in this mode (``silicon_action``)? Sources:

   * Intel SDM Vol. 2B, SYSENTER: valid in protected mode and in IA-32e mode (64-bit *and*
     compatibility mode); #GP(0) if IA32_SYSENTER_CS[15:2] = 0. CPUID.01H:EDX.SEP[bit 11] says
     whether the instruction exists; a part without it (Pentium and earlier; the Pentium Pro,
     which reports SEP but lacks the instruction) raises #UD for the unknown opcode.
   * Intel SDM Vol. 2B, SYSCALL, operation: ``IF (CS.L != 1) or (IA32_EFER.LMA != 1) or
     (IA32_EFER.SCE != 1) THEN #UD`` -- Intel implements SYSCALL in 64-bit mode only: #UD in
     compatibility mode and in legacy mode.
   * AMD APM Vol. 3, SYSENTER: #UD in long mode (64-bit and compatibility mode); valid in legacy
     protected mode. AMD APM Vol. 3, SYSCALL: valid in legacy and compatibility mode, target
     eip from MSR_CSTAR in compatibility mode; #UD if EFER.SCE = 0.

2. What does Linux then deliver (``linux_outcome``)? Sources (Debian linux-source-6.1 6.1.176):

   * #UD: exc_invalid_op -> handle_invalid_op -> do_error_trap(..., SIGILL, ILL_ILLOPN, ip)
     (arch/x86/kernel/traps.c): SIGILL, si_code ILL_ILLOPN (2), at the instruction.
   * #GP from user mode: exc_general_protection -> gp_user_force_sig_segv (traps.c): SIGSEGV,
     si_code SI_KERNEL (128), at the instruction.
   * MSR programming: 64-bit kernels, syscall_init() (arch/x86/kernel/cpu/common.c) writes
     MSR_IA32_SYSENTER_CS/ESP/EIP (entry_SYSENTER_compat) for every vendor with wrmsrl_safe(),
     but MSR_CSTAR (entry_SYSCALL_compat) only when ``boot_cpu_data.x86_vendor !=
     X86_VENDOR_INTEL`` (wrmsrl_cstar(): "Intel CPUs do not support 32-bit SYSCALL"). EFER.SCE
     is set in arch/x86/kernel/head_64.S. 32-bit kernels: enable_sep_cpu() programs the
     SYSENTER MSRs only if X86_FEATURE_SEP (else IA32_SYSENTER_CS stays 0), and EFER.SCE is
     never set (arch/x86/kernel/head_32.S sets only NX; entry_32.S has no SYSCALL entry).
   * A SYSENTER/SYSCALL that reaches the kernel is handled as if it came from __kernel_vsyscall:
     do_SYSENTER_32() takes the user sp from ebp; entry_SYSCALL_compat takes arg 2 from ebp;
     do_fast_syscall_32() sets ip to the vDSO's landing pad and __do_fast_syscall_32() reads
     arg 6 from the user stack (arch/x86/entry/common.c). The kernel returns to the landing pad,
     whose ``pop %ebp; pop %edx; pop %ecx; ret`` (arch/x86/entry/vdso/vdso32/system_call.S)
     consumes a __kernel_vsyscall-shaped frame at that stack pointer. If the arg-6 read faults
     (sp = 0): ax = -EFAULT, IRET to the landing pad with esp = 0, and the first pop faults:
     SIGSEGV (SEGV_MAPERR) at the landing pad.
   * A SYSCALL that executes on a CPU whose vendor Linux identifies as Intel jumps to MSR_CSTAR,
     which Linux never wrote: eip = 0 in ring 0 on the user's stack. The instruction fetch
     faults, the page-fault frame cannot be pushed, and the kernel dies of a double fault.

A CPUID mask is not silicon: a hypervisor that hides SEP (``-cpu pentium2,-sep`` under KVM on a
real Intel host) leaves the instruction in place, and it raises #GP(0) because Linux left
IA32_SYSENTER_CS at 0 -- the same answer TCG gives. The model's "silicon" for a CPU that reports
no SEP is a part that really lacks it (#UD); an observed #GP there is reported as a divergence
and means "the instruction exists although CPUID denies it".

Vendor classes (``vendor_class``): the CPU models of the lab are QEMU models with a vendor
string; what silicon would do is decided by the CPUID vendor.

* AMD-like: AuthenticAMD, and HygonGenuine (Hygon's Dhyana is AMD's Zen core under licence;
  Linux's hygon.c mirrors amd.c and sets X86_FEATURE_SYSCALL32).
* Intel-like: GenuineIntel and every other vendor. Centaur/VIA and Zhaoxin implement Intel's
  SEP model (Linux sets X86_FEATURE_SYSENTER32 for them in early_init_centaur/zhaoxin and never
  uses SYSCALL in compat mode). Transmeta (GenuineTMx86/TransmetaCPU), Cyrix and other 32-bit
  vendors never shipped long mode; the parts that had a fast system call had SEP, not AMD's
  SYSCALL. For those vendors (and any unknown string) the long-mode answer is an *assumption*
  (``VendorBasis.assumed``): no silicon with that vendor string runs a 64-bit kernel.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from lab.model.kernel import KernelFacts
from lab.model.paths import CpuIdentity, check_kernel_bits
from lab.model.selection import X86_FEATURE_SEP, kernel_features, pentium_pro_sep_erratum
from lab.model.stub import SHIPPED_LANDING_PAD

__all__ = [
    "CpuAction",
    "RawInsn",
    "RawPrediction",
    "SiliconFact",
    "UserOutcome",
    "VendorBasis",
    "VendorClass",
    "linux_outcome",
    "predict_raw",
    "silicon_action",
    "vendor_class",
]

ILL_ILLOPN = 2  # include/uapi/asm-generic/siginfo.h
SEGV_MAPERR = 1
SI_KERNEL = 0x80
EFAULT = 14
SLOTS = {"ebp": "0xeb0eb0eb", "edx": "0xedd0edd0", "ecx": "0xecc0ecc0"}  # raw_fast_insn.c frame


class VendorClass(enum.Enum):
    INTEL_LIKE = "intel-like"
    AMD_LIKE = "amd-like"


@dataclass(frozen=True)
class VendorBasis:
    """Which silicon behaviour a CPUID vendor string stands for, and why."""

    cls: VendorClass
    reason: str
    assumed: bool  # True when no real part with this vendor string runs in long mode


_AMD_LIKE = {
    "AuthenticAMD": "AMD",
    "HygonGenuine": "Hygon Dhyana (AMD Zen under licence; hygon.c mirrors amd.c)",
}
_INTEL_LIKE = {
    "GenuineIntel": "Intel",
    "CentaurHauls": "Centaur/VIA (Intel's SEP model; Linux sets SYSENTER32 in early_init_centaur)",
    "  Shanghai  ": "Zhaoxin (Intel's SEP model; Linux sets SYSENTER32 in early_init_zhaoxin)",
}
_NO_LONG_MODE = {
    "GenuineTMx86": "Transmeta",
    "TransmetaCPU": "Transmeta",
    "CyrixInstead": "Cyrix",
    "Geode by NSC": "NSC Geode",
    "Vortex86 SoC": "Vortex86",
}


def vendor_class(vendor: str) -> VendorBasis:
    """Intel-like or AMD-like silicon for a CPUID vendor string (see the module docstring)."""
    if vendor in _AMD_LIKE:
        return VendorBasis(VendorClass.AMD_LIKE, _AMD_LIKE[vendor], False)
    if vendor in _INTEL_LIKE:
        return VendorBasis(VendorClass.INTEL_LIKE, _INTEL_LIKE[vendor], False)
    if vendor in _NO_LONG_MODE:
        return VendorBasis(
            VendorClass.INTEL_LIKE,
            f"{_NO_LONG_MODE[vendor]}: never shipped long mode; its fast system call was "
            "Intel's SEP, so Intel-like is assumed",
            True,
        )
    return VendorBasis(
        VendorClass.INTEL_LIKE,
        f"unknown vendor {vendor!r}: Intel-like assumed (only AMD and Hygon implement AMD's "
        "compat-mode SYSCALL)",
        True,
    )


class RawInsn(enum.Enum):
    INT80 = "int80"
    SYSENTER = "sysenter"
    SYSCALL = "syscall"


class CpuAction(enum.Enum):
    EXECUTES = "executes"
    UD = "#UD"
    GP = "#GP(0)"


@dataclass(frozen=True)
class SiliconFact:
    """What the CPU does with the instruction, with the manual it comes from."""

    action: CpuAction
    reason: str
    source: str


def silicon_action(insn: RawInsn, cpu: CpuIdentity, kernel_bits: int) -> SiliconFact:
    """What real silicon of ``cpu``'s vendor class does with ``insn`` in a 32-bit user process.

    kernel_bits 64 means compatibility mode with EFER.SCE set and the SYSENTER MSRs programmed;
    32 means legacy protected mode, EFER.SCE clear, SYSENTER MSRs programmed iff the kernel
    keeps X86_FEATURE_SEP.
    """
    check_kernel_bits(kernel_bits)
    basis = vendor_class(cpu.vendor)
    amd = basis.cls is VendorClass.AMD_LIKE
    if insn is RawInsn.INT80:
        return SiliconFact(
            CpuAction.EXECUTES,
            "int $0x80 through the DPL-3 IDT gate Linux installs",
            "arch/x86/kernel/idt.c",
        )
    if insn is RawInsn.SYSENTER:
        if kernel_bits == 64:
            if amd:
                return SiliconFact(
                    CpuAction.UD,
                    f"{basis.reason}: SYSENTER is not recognised in long mode",
                    "AMD APM Vol. 3, SYSENTER (#UD in long mode)",
                )
            return SiliconFact(
                CpuAction.EXECUTES,
                f"{basis.reason}: SYSENTER is valid in compatibility mode; Linux set "
                "IA32_SYSENTER_CS = __KERNEL_CS",
                "Intel SDM Vol. 2B, SYSENTER; syscall_init() in arch/x86/kernel/cpu/common.c",
            )
        if not cpu.has_sep or pentium_pro_sep_erratum(cpu):
            why = (
                "CPUID reports no SEP: the part has no SYSENTER"
                if not cpu.has_sep
                else "a Pentium Pro reports SEP but does not implement SYSENTER"
            )
            return SiliconFact(
                CpuAction.UD,
                f"{why}, so the opcode is undefined",
                "Intel SDM Vol. 2A, CPUID.01H:EDX.SEP[bit 11]; Vol. 3A, Fast System Calls",
            )
        if X86_FEATURE_SEP not in kernel_features(32, cpu):
            return SiliconFact(
                CpuAction.GP,
                "IA32_SYSENTER_CS is 0: enable_sep_cpu() did not program it",
                "Intel SDM Vol. 2B, SYSENTER (#GP(0) if IA32_SYSENTER_CS[15:2] = 0)",
            )
        return SiliconFact(
            CpuAction.EXECUTES,
            f"{basis.reason}: SYSENTER is valid in legacy protected mode; enable_sep_cpu() "
            "programmed the MSRs",
            "Intel SDM Vol. 2B / AMD APM Vol. 3, SYSENTER; arch/x86/kernel/cpu/common.c",
        )
    # SYSCALL
    if kernel_bits == 32:
        return SiliconFact(
            CpuAction.UD,
            "legacy mode: Intel has no SYSCALL outside 64-bit mode, and AMD raises #UD because "
            "a 32-bit Linux never sets EFER.SCE",
            "Intel SDM Vol. 2B, SYSCALL; AMD APM Vol. 3, SYSCALL; arch/x86/kernel/head_32.S",
        )
    if amd:
        return SiliconFact(
            CpuAction.EXECUTES,
            f"{basis.reason}: SYSCALL is valid in compatibility mode (target MSR_CSTAR), "
            "EFER.SCE set by head_64.S",
            "AMD APM Vol. 3, SYSCALL",
        )
    return SiliconFact(
        CpuAction.UD,
        f"{basis.reason}: SYSCALL outside 64-bit mode (CS.L = 0) raises #UD",
        "Intel SDM Vol. 2B, SYSCALL (operation: IF CS.L != 1 ... THEN #UD)",
    )


@dataclass(frozen=True)
class UserOutcome:
    """What the 32-bit program sees. ``outcome`` is the guest's word (raw_fast_insn.c):
    ``returned@slot``, ``returned-inline``, ``SIGILL@insn``, ``SIGSEGV@insn``,
    ``SIGSEGV@stub+N``, or ``guest-kernel-dies``. ``details`` are guest fields that must match."""

    outcome: str
    explanation: str
    details: dict[str, Any] = field(default_factory=dict, hash=False)


def linux_outcome(
    insn: RawInsn,
    action: CpuAction,
    cpu: CpuIdentity,
    kernel_bits: int,
    *,
    frame: bool,
    landing_pad_offset: int = SHIPPED_LANDING_PAD,
    kernel: KernelFacts | None = None,
) -> UserOutcome:
    """What Linux 6.1 (or ``kernel``) delivers to user code once the CPU has done ``action``.

    With ``kernel`` and FRED on (a FRED CPU, 7.x default): a compat SYSCALL arrives through
    fred_other(), which sends it to exc_invalid_op (arch/x86/entry/entry_fred.c:55-104), so it is
    SIGILL whatever the vendor; SYSENTER still reaches do_fast_syscall_32(). Pass the vDSO's
    int80_landing_pad (Prediction.fast_landing_pad_offset) as ``landing_pad_offset``.
    """
    fred = kernel is not None and kernel_bits == 64 and kernel.fred_enabled("fred" in cpu.flags)
    if fred and insn is RawInsn.SYSCALL and action is CpuAction.EXECUTES:
        assert kernel is not None
        return UserOutcome(
            "SIGILL@insn",
            "FRED: compat SYSCALL is an 'other' event that fred_other() hands to "
            f"exc_invalid_op ({kernel.cite('arch/x86/entry/entry_fred.c:55-104')}): SIGILL "
            "(ILL_ILLOPN) at the instruction",
            {"si_code": ILL_ILLOPN},
        )
    if action is CpuAction.UD:
        return UserOutcome(
            "SIGILL@insn",
            "#UD -> handle_invalid_op(): SIGILL (ILL_ILLOPN) at the instruction",
            {"si_code": ILL_ILLOPN},
        )
    if action is CpuAction.GP:
        return UserOutcome(
            "SIGSEGV@insn",
            "#GP(0) -> exc_general_protection(): SIGSEGV (SI_KERNEL) at the instruction",
            {"si_code": SI_KERNEL},
        )
    if insn is RawInsn.INT80:
        return UserOutcome(
            "returned-inline",
            "int $0x80 returns after itself with IRET",
            {"pid_ok": True, "esp_ok": True},
        )
    if kernel_bits == 32 and insn is RawInsn.SYSCALL:
        return UserOutcome(
            "SIGILL@insn",
            "a 32-bit kernel has EFER.SCE clear: even a CPU that knows SYSCALL raises #UD",
            {"si_code": ILL_ILLOPN},
        )
    if kernel_bits == 32 and X86_FEATURE_SEP not in kernel_features(32, cpu):
        return UserOutcome(
            "SIGSEGV@insn",
            "SYSENTER with IA32_SYSENTER_CS = 0 (enable_sep_cpu() did nothing): #GP(0) -> "
            "SIGSEGV (SI_KERNEL)",
            {"si_code": SI_KERNEL},
        )
    if insn is RawInsn.SYSCALL and cpu.vendor == "GenuineIntel":
        return UserOutcome(
            "guest-kernel-dies",
            "SYSCALL jumps to MSR_CSTAR, which Linux never writes on Intel (wrmsrl_cstar() in "
            "arch/x86/kernel/cpu/common.c): eip 0 in ring 0 on the user stack -> double fault",
        )
    entry = (
        ("entry_SYSENTER_compat" if kernel_bits == 64 else "entry_SYSENTER_32")
        if insn is RawInsn.SYSENTER
        else "entry_SYSCALL_compat"
    )
    if not frame:
        return UserOutcome(
            f"SIGSEGV@stub+{landing_pad_offset}",
            f"{entry} -> do_fast_syscall_32(): the arg-6 read at sp 0 faults, -EFAULT, IRET to "
            "the landing pad with esp = 0, and its first pop faults",
            {"eax": -EFAULT, "si_code": SEGV_MAPERR},
        )
    return UserOutcome(
        "returned@slot",
        f"{entry} -> do_fast_syscall_32(): the call completes and returns to the vDSO landing "
        "pad, whose pops and ret consume the caller's frame: ebp, edx, ecx and the return "
        "address come from it",
        {"pid_ok": True, "esp_ok": True, **SLOTS},
    )


@dataclass(frozen=True)
class RawPrediction:
    """Silicon's answer, what Linux makes of it, and what other answers would look like."""

    insn: RawInsn
    frame: bool
    basis: VendorBasis
    silicon: SiliconFact
    expected: UserOutcome
    # What the program would see if the CPU (an emulator, a hypervisor) acted otherwise:
    # action -> outcome. An observation matching one of these is a divergence from silicon.
    alternatives: dict[CpuAction, UserOutcome] = field(hash=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "silicon": f"{self.basis.cls.value}: {self.silicon.action.value}",
            "silicon_reason": self.silicon.reason,
            "source": self.silicon.source,
            "vendor_basis": self.basis.reason + (" (assumed)" if self.basis.assumed else ""),
            "outcome": self.expected.outcome,
            "details": self.expected.details,
            "linux": self.expected.explanation,
        }


def predict_raw(
    insn: RawInsn,
    cpu: CpuIdentity,
    kernel_bits: int,
    *,
    frame: bool = True,
    landing_pad_offset: int = SHIPPED_LANDING_PAD,
    kernel: KernelFacts | None = None,
) -> RawPrediction:
    """The whole prediction for one probe of lab/guest/raw_fast_insn.c (``kernel``: see
    linux_outcome)."""
    fact = silicon_action(insn, cpu, kernel_bits)
    expected = linux_outcome(
        insn,
        fact.action,
        cpu,
        kernel_bits,
        frame=frame,
        landing_pad_offset=landing_pad_offset,
        kernel=kernel,
    )
    # Only SYSENTER has a #GP(0) condition of its own (IA32_SYSENTER_CS = 0); int $0x80 has no
    # other plausible answer.
    others = {CpuAction.EXECUTES, CpuAction.UD} | (
        {CpuAction.GP} if insn is RawInsn.SYSENTER else set()
    )
    alternatives = {
        action: linux_outcome(
            insn,
            action,
            cpu,
            kernel_bits,
            frame=frame,
            landing_pad_offset=landing_pad_offset,
            kernel=kernel,
        )
        for action in sorted(others - {fact.action}, key=lambda a: a.value)
        if insn is not RawInsn.INT80
    }
    return RawPrediction(insn, frame, vendor_class(cpu.vendor), fact, expected, alternatives)
