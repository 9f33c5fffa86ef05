"""What a 32-bit caller observes, per kernel version: the 6.1 prediction (semantics.py) adjusted
by the rules each later series changed (docs/kernel-versions.md D2, D4, D5, D6, D8, D9, D15).

* Stub layout (D2, D4): 7.x with SYSFAST32 lands at +0xc (restart at +0xa); 7.x without it is
  ``int $0x80; ret`` (landing +2, restart +0) and has no push/pop, so ecx/edx/ebp changed at the
  exit stop or in a ucontext reach a ``__kernel_vsyscall`` caller too.
* PTI status-flag clobber on the 64-bit SYSENTER path: for every CPU whose stub runs SYSENTER,
  which on 7.x includes unknown vendors (entry_64_compat.S:57,72 in 7.2, :58,73 in 6.1).
* FRED (D5): int $0x80 through fred_int80_emulation, every return is ERETU.
* ia32_emulation= (D6, 6.12+), a tracer's out-of-range syscall number (D8, 7.3).
"""

from __future__ import annotations

import dataclasses

from lab.model.kernel import KernelFacts
from lab.model.paths import CpuIdentity, EntryPath
from lab.model.selection import select_path
from lab.model.semantics import (
    EXIT_STOP_REGISTERS,
    STATUS_FLAGS,
    CallPath,
    Prediction,
    ReturnInsn,
    base_prediction,
)
from lab.model.stub import (
    INT80_ONLY_LANDING_PAD,
    SHIPPED_LANDING_PAD,
    SYSFAST32_LANDING_PAD,
    stub_bytes,
)
from lab.model.versioned import versioned_features

__all__ = ["landing_pad_for", "predict_for_kernel"]

_ENTRY_FRED = {
    "6.12": "arch/x86/entry/entry_fred.c:55-104",
    "7.2": "arch/x86/entry/entry_fred.c:55-104",
    "7.3": "arch/x86/entry/entry_fred.c:55-104",
}
_INVALID_NR = {
    "6.1": "arch/x86/entry/common.c:102-116",
    "6.12": "arch/x86/entry/common.c do_syscall_32_irqs_on()",
    "7.2": "arch/x86/entry/syscall_32.c:73-87",
    "7.3": "arch/x86/entry/syscall_32.c:75-80",
}
_IA32 = {
    "6.12": "arch/x86/entry/common.c:138-144, arch/x86/kernel/idt.c:236",
    "7.2": "arch/x86/entry/syscall_32.c:61-67, arch/x86/kernel/idt.c:239",
    "7.3": "arch/x86/entry/syscall_32.c:63-69",
}
_VMA_LANDING = {
    "6.1": "arch/x86/entry/vdso/vma.c:72-90",
    "6.12": "arch/x86/entry/vdso/vma.c:78-93",
    "7.2": "arch/x86/entry/vdso/vma.c:66-75",
    "7.3": "arch/x86/entry/vdso/vma.c:66-75",
}
# SWITCH_TO_KERNEL_CR3 before pushfq in entry_SYSENTER_compat (grepped in each tree).
_PTI_SYSENTER = {
    "6.1": "arch/x86/entry/entry_64_compat.S:58,73",
    "6.12": "arch/x86/entry/entry_64_compat.S:57,72",
    "7.2": "arch/x86/entry/entry_64_compat.S:57,72",
    "7.3": "arch/x86/entry/entry_64_compat.S:57,72",
}
_SYSTEM_CALL_S = "arch/x86/entry/vdso/vdso32/system_call.S:27,67"


def landing_pad_for(path: EntryPath, kernel: KernelFacts) -> int:
    """int80_landing_pad's offset in ``kernel``'s patched stub for ``path``."""
    if not kernel.series7:
        return SHIPPED_LANDING_PAD
    return INT80_ONLY_LANDING_PAD if path is EntryPath.INT80 else SYSFAST32_LANDING_PAD


def predict_for_kernel(kernel_bits: int, cpu: CpuIdentity, kernel: KernelFacts) -> Prediction:
    """The prediction for ``kernel`` (KernelFacts) of ``kernel_bits`` on ``cpu``."""
    k = kernel
    selection = select_path(kernel_bits, cpu, kernel=k)
    vf = versioned_features(kernel_bits, cpu, k)
    base = base_prediction(kernel_bits, cpu, selection)
    path = selection.path
    int80_only = k.series7 and path is EntryPath.INT80
    pad = landing_pad_for(path, k)
    cites: list[str] = list(selection.citations)
    notes: list[str] = []
    drop: tuple[str, ...] = ("A raw int $0x80 caller sees", "Raw int $0x80 on this 6.1.176")
    if k.series7:
        drop += ("64-bit kernel: CPUID SEP plays no part",)
    tag = f"Linux {k.version}, rules of {k.rules}"
    if k.assumed:
        tag += f" (assumed: {k.reason})"
    notes.append(
        f"{tag}. Notes below this one that name no version were read in 6.1 and are unchanged "
        "in this series (docs/kernel-versions.md §2)."
    )
    if k.series7 and kernel_bits == 64:
        notes.append(
            "64-bit kernel: CPUID SEP plays no part; get_cpu_cap() sets X86_FEATURE_SYSFAST32 on "
            "every CPU and only AMD/Hygon add X86_FEATURE_SYSCALL32 "
            f"({k.cite('arch/x86/kernel/cpu/common.c get_cpu_cap()')})."
        )

    visible_vsyscall = base.exit_change_visible[CallPath.VSYSCALL]
    if int80_only:
        visible_vsyscall = EXIT_STOP_REGISTERS
        c = k.cite(_SYSTEM_CALL_S)
        cites.append(c)
        notes.append(
            "The stub is 'int $0x80; ret' with no push/pop: the kernel returns to "
            f"__kernel_vsyscall+2, a restart lands on +0, and ecx/edx/ebp changed by a tracer at "
            f"the syscall-exit stop or in a ucontext reach a __kernel_vsyscall caller ({c})."
        )
    else:
        stub_src = k.cite(
            _SYSTEM_CALL_S if k.series7 else "arch/x86/entry/vdso/vdso32/system_call.S:55-61"
        )
        notes.append(
            "A raw int $0x80 caller sees every pt_regs change a tracer (syscall-exit stop) or a "
            "signal handler (ucontext) makes; a __kernel_vsyscall caller loses ecx/edx/ebp "
            "changes to the stub's pops unless ip was moved off the landing pad "
            f"(__kernel_vsyscall+0x{pad:x}, {stub_src})."
        )
    mremap = k.cite(_VMA_LANDING[k.rules])
    notes.append(
        "mremap() of the vDSO during a call: vdso_fix_landing() "
        + (
            "moves any ip inside the vDSO image, for any task"
            if k.series7
            else "moves ip only if it is the old landing pad of an ia32 syscall"
        )
        + f" ({mremap})."
    )

    flags_vsyscall = frozenset[str]()
    if kernel_bits == 64 and path is EntryPath.SYSENTER and k.pti_enabled("pti" in cpu.flags):
        flags_vsyscall = STATUS_FLAGS
        c = k.cite(_PTI_SYSENTER[k.rules])
        cites.append(c)
        notes.append(
            "PTI: entry_SYSENTER_compat switches CR3 before pushfq, so a __kernel_vsyscall "
            f"caller gets the status flags the CR3 switch left ({c})"
            + (
                "; on this series that includes CPUs of unknown vendors, which now use SYSENTER."
                if k.series7
                else "."
            )
        )

    eligible = base.eligible_return
    forced = base.forced_iret_when
    entry = base.kernel_entry
    fast_clobbers = base.fast_return_clobbers
    if vf.fred:
        c = k.cite(_ENTRY_FRED[k.rules])
        cites.append(c)
        eligible, forced, fast_clobbers = ReturnInsn.ERETU, (), frozenset[str]()
        entry = f"fred_intx -> fred_int80_emulation ({c})"
        notes.append(
            "FRED is on: every return to user mode is ERETU (no SYSRETL/SYSEXIT), int $0x80 is "
            "handled by fred_int80_emulation, raw compat SYSENTER still reaches "
            f"do_fast_syscall_32() and raw compat SYSCALL raises #UD ({c})."
        )
    if not k.ia32_enabled:
        c = k.cite(_IA32.get(k.rules, "ia32_emulation="))
        cites.append(c)
        notes.append(
            "ia32_emulation is off: compat_elf_check_arch() refuses 32-bit ELF (ENOEXEC), "
            "vector 0x80 is not installed (int $0x80 -> #GP), compat SYSCALL returns -ENOSYS "
            f"(entry_SYSCALL32_ignore) and the SYSENTER MSRs are invalid ({c})."
        )
    if k.rules == "7.3":
        invalid = "unchanged (the preset -ENOSYS or whatever the tracer wrote to eax)"
        notes.append(
            "A tracer that writes an out-of-range syscall number (not -1) at the entry stop gets "
            "eax back as it left it: do_syscall_32_irqs_on() has no ni_syscall branch "
            f"({k.cite(_INVALID_NR['7.3'])})."
        )
    else:
        invalid = "-ENOSYS"
    cites.append(k.cite(_INVALID_NR[k.rules]))

    base_notes = [n for n in base.notes if not n.startswith(drop)]
    if k.rules != "6.1":
        base_notes = [n.replace("X86_FEATURE_SEP, cs ==", "cs ==") for n in base_notes]
    return dataclasses.replace(
        base,
        expected_stub_hex=stub_bytes(path, kernel_bits, sysfast32_layout=k.series7).hex(" "),
        landing_pad_offset=pad,
        fast_landing_pad_offset=SYSFAST32_LANDING_PAD if k.series7 else SHIPPED_LANDING_PAD,
        restart_lands_on=(
            f"int $0x80 at landing pad - 2 (__kernel_vsyscall+0x{pad - 2:x}); the restarted "
            "call enters via int $0x80 and returns with " + ("ERETU" if vf.fred else "IRET")
        ),
        exit_change_visible={
            CallPath.RAW_INT80: base.exit_change_visible[CallPath.RAW_INT80],
            CallPath.VSYSCALL: visible_vsyscall,
        },
        flags_clobbered={CallPath.RAW_INT80: frozenset(), CallPath.VSYSCALL: flags_vsyscall},
        eligible_return=eligible,
        forced_iret_when=forced,
        kernel_entry=entry,
        fast_return_clobbers=fast_clobbers,
        notes=(*notes, *base_notes),
        kernel=k,
        citations=tuple(dict.fromkeys(cites)),
        invalid_nr_result=invalid,
        mremap_moves_any_ip=k.series7,
        vvar_mappings=("[vvar]", "[vvar_vclock]") if k.series7 else ("[vvar]",),
    )
