"""The vocabulary of the model: which entry instruction a 32-bit system call uses, and the CPU.

Linux 6.1 has exactly three ways for a 32-bit task to enter the kernel for a system call:
``int $0x80`` (every CPU), ``sysenter`` (Intel-style fast entry) and ``syscall`` (AMD-style fast
entry, compat mode on 64-bit kernels only). ``__kernel_vsyscall`` in the 32-bit vDSO is patched at
boot to use one of them (arch/x86/entry/vdso/vdso32/system_call.S).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["KERNEL_BITS", "CpuIdentity", "EntryPath", "check_kernel_bits"]

KERNEL_BITS = (32, 64)


class EntryPath(enum.Enum):
    """The instruction ``__kernel_vsyscall`` uses to enter the kernel."""

    SYSENTER = "sysenter"
    SYSCALL = "syscall"
    INT80 = "int80"


@dataclass(frozen=True)
class CpuIdentity:
    """What the kernel learns from CPUID that matters for the entry path.

    ``vendor`` is the 12-character CPUID leaf 0 string that get_cpu_vendor()
    (arch/x86/kernel/cpu/common.c) compares with each cpu_dev's ``c_ident``.
    ``flags`` are /proc/cpuinfo-style names (``sep`` is CPUID 1 EDX bit 11).
    ``family``/``model``/``stepping`` are optional: only the 32-bit Pentium Pro SEP quirk in
    intel_workarounds() (arch/x86/kernel/cpu/intel.c) needs them. ``model`` is the kernel's
    ``x86_model``, i.e. with the extended model folded in (Skylake-Client is 94, not 14).
    """

    vendor: str
    flags: frozenset[str]
    family: int | None = None
    model: int | None = None
    stepping: int | None = None

    def __post_init__(self) -> None:
        if len(self.vendor) != 12:
            raise ValueError(
                f"CPUID vendor string must be 12 characters, got {self.vendor!r} "
                f"({len(self.vendor)})"
            )
        if not isinstance(self.flags, frozenset):
            object.__setattr__(self, "flags", frozenset(self.flags))
        for name in ("family", "model", "stepping"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")

    @property
    def has_sep(self) -> bool:
        """CPUID reports SYSENTER/SYSEXIT (X86_FEATURE_SEP, flag ``sep``)."""
        return "sep" in self.flags

    @property
    def fms_known(self) -> bool:
        """Family, model and stepping are all given."""
        return None not in (self.family, self.model, self.stepping)


def check_kernel_bits(kernel_bits: int) -> None:
    """Reject anything but a 32- or 64-bit x86 kernel."""
    if kernel_bits not in KERNEL_BITS:
        raise ValueError(f"kernel_bits must be 32 or 64, got {kernel_bits!r}")
