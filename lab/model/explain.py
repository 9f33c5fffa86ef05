"""The model's predictions in plain words, for a person reading a report or a terminal."""

from __future__ import annotations

import textwrap

from lab.model.kernel import KernelFacts
from lab.model.paths import CpuIdentity, EntryPath
from lab.model.semantics import CallPath, Prediction, ReturnInsn, predict

__all__ = ["explain", "explain_prediction"]

_WIDTH = 96
_FLAG_ORDER = ("CF", "PF", "AF", "ZF", "SF", "TF", "IF", "DF", "OF", "AC", "NT")
_REG_ORDER = ("ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "cs", "ss", "ds", "es", "fs", "gs")

_PATH_WORDS = {
    EntryPath.SYSENTER: "SYSENTER",
    EntryPath.SYSCALL: "SYSCALL",
    EntryPath.INT80: "int $0x80",
}
_RETURN_WORDS = {
    ReturnInsn.SYSRETL: "SYSRETL",
    ReturnInsn.SYSEXIT: "SYSEXIT",
    ReturnInsn.IRET: "IRET",
    ReturnInsn.ERETU: "ERETU",
}


def _regs(names: frozenset[str]) -> str:
    ordered = [r for r in _REG_ORDER if r in names]
    return ", ".join(ordered) if ordered else "none"


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def _cpu_words(cpu: CpuIdentity) -> str:
    words = f"vendor {cpu.vendor!r}, SEP {'on' if cpu.has_sep else 'off'}"
    if cpu.fms_known:
        words += f", family {cpu.family} model {cpu.model} stepping {cpu.stepping}"
    return words


def explain_prediction(name: str, p: Prediction) -> str:
    """Render an existing Prediction as multi-line text."""
    path = _PATH_WORDS[p.path]
    if p.kernel is None:
        lines = [f"{name}: {p.kernel_bits}-bit Linux 6.1 kernel, {_cpu_words(p.cpu)}"]
    else:
        k = p.kernel
        lines = [
            f"{name}: {p.kernel_bits}-bit Linux {k.version} kernel ({k.release}), "
            f"{_cpu_words(p.cpu)}"
        ]
        if k.assumed:
            lines += _wrap(f"Rules: those of {k.rules}, ASSUMED: {k.reason}.")
        else:
            lines += _wrap(f"Rules: those of {k.rules} ({k.reason}).")
        if k.cmdline:
            lines += _wrap(f"Kernel command line: {k.cmdline}")
    lines.append(f"Entry path: {path}")
    lines += _wrap(p.selection.reason)
    lines.append(f"Expected __kernel_vsyscall bytes: {p.expected_stub_hex}")
    lines += _wrap(
        f"The kernel resumes at the landing pad, __kernel_vsyscall+0x{p.landing_pad_offset:x}, "
        "right after the int $0x80."
    )
    lines += _wrap(f"Kernel entry: {p.kernel_entry}", indent="")
    lines.append("Return to user mode:")
    ret = _RETURN_WORDS[p.eligible_return]
    if p.eligible_return is ReturnInsn.IRET:
        lines += _wrap("Always IRET: the int $0x80 path has no fast return.")
    else:
        lines += _wrap(
            f"Normally {ret}. It overwrites {_regs(p.fast_return_clobbers)}, which the stub "
            "pops back before it returns, so the caller never sees that."
        )
        lines += _wrap("IRET instead when: " + "; ".join(p.forced_iret_when) + ".")
    lines.append("What the caller gets back (eax is the result and is not listed):")
    for call in CallPath:
        how = "inline int $0x80" if call is CallPath.RAW_INT80 else "call __kernel_vsyscall"
        clobbered = p.clobbered_registers[call]
        text = f"{how}: unchanged: {_regs(p.preserved_registers[call])}."
        if clobbered:
            text += (
                f" May change: {_regs(clobbered)} (only if they held a selector other than "
                "the default user one)."
            )
        lines += _wrap(text)
    flags = [f for f in _FLAG_ORDER if f in p.flags_preserved]
    lines += _wrap("Flags that come back as they were: " + " ".join(flags) + ".")
    lost = [f for f in _FLAG_ORDER if f in p.flags_clobbered.get(CallPath.VSYSCALL, frozenset())]
    if lost:
        lines += _wrap(
            "Except through __kernel_vsyscall on this PTI kernel: "
            + " ".join(lost)
            + " come back as the entry's CR3 switch left them (entry_SYSENTER_compat "
            "switches CR3 before pushfq)."
        )
    lines.append("Tracers and signal handlers:")
    for call in CallPath:
        how = "inline int $0x80" if call is CallPath.RAW_INT80 else "call __kernel_vsyscall"
        seen = p.exit_change_visible[call]
        lines += _wrap(
            f"{how}: changes to ecx/edx/ebp at the syscall-exit stop or in the ucontext "
            f"reach the caller for: {_regs(seen)}."
        )
    lines += _wrap(f"A restarted call lands on the {p.restart_lands_on}.")
    lines.append("Notes:")
    for note in p.notes:
        lines += _wrap("- " + note)
    if p.citations:
        lines.append("Sources (file:line, version):")
        for cite in p.citations:
            lines += _wrap("- " + cite)
    return "\n".join(lines)


def explain(
    name: str, kernel_bits: int, cpu: CpuIdentity, *, kernel: KernelFacts | None = None
) -> str:
    """Explain, for a human, what Linux 6.1 (or ``kernel``'s version) does for profile ``name``."""
    return explain_prediction(name, predict(kernel_bits, cpu, kernel=kernel))
