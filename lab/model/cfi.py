"""The 32-bit vDSO's unwind information (.eh_frame), interpreted and checked against its code.

Debuggers, ``backtrace()`` and C++ exceptions unwind through ``__kernel_vsyscall`` with the CFI
the vDSO carries (LKML 2015-08-26, "Thing 2: ... Userspace debuggers really like having the vdso
properly CFI-annotated"). In 6.1 it comes from ``.cfi`` directives
(arch/x86/entry/vdso/vdso32/system_call.S: CFI_ADJUST_CFA_OFFSET / CFI_REL_OFFSET after each
push, CFI_RESTORE after each pop, via arch/x86/include/asm/dwarf2.h); the sigreturn trampolines
keep hand-written DWARF (arch/x86/entry/vdso/vdso32/sigreturn.S: a "zRS" CIE whose FDEs describe
the CFA and every register as DW_OP_breg4 expressions into the signal frame's sigcontext, each
FDE starting one byte before its symbol). 7.2 and 7.3 write the trampolines' CFI with
directives too (sigreturn.S:7-26: ``.cfi_signal_frame``, CFA = &sigcontext, CFA-relative
offsets, FDEs from the symbol), and keep libgcc working through its code-pattern fallback
instead of through that CFI (sigreturn.S:28-55; docs/kernel-versions.md D13):
:func:`check_sigreturn_cfi` with ``cfa_is_sigcontext=True``.

Three parts:

* :func:`interpret` -- a small CFI interpreter (DW_CFA_advance_loc*, def_cfa*, offset*,
  restore*, same_value, undefined, register, expression, val_*, remember_state /
  restore_state) over the instructions pyelftools decodes, giving one :class:`CfiRow` per
  address range;
* :func:`expected_frames` -- what the rules *should* be, derived from the decoded stub: esp
  moves with each push/pop, a pushed register is saved at its slot until popped, a register
  changed while not saved is lost to the unwinder;
* :func:`check_stub_cfi` / :func:`check_sigreturn_cfi` -- compare the two at every instruction
  boundary of ``__kernel_vsyscall`` (including the int $0x80 that a restart resumes at and the
  landing pad a fast entry returns to), and compare the trampolines' rules with the
  ``struct sigframe_ia32`` / ``struct rt_sigframe_ia32`` layout, and say how libgcc finds them
  from a signal handler (:attr:`TrampolineReport.libgcc`);
* :func:`trampoline_stops` -- where single-stepping into a trampoline from a handler stops.

DWARF register numbers are the i386 ones used in .eh_frame: 0 eax, 1 ecx, 2 edx, 3 ebx, 4 esp,
5 ebp, 6 esi, 7 edi, 8 eip (the return address column).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import capstone

from lab.model.eh_frame import (
    _REGNO,
    DW_OP_BREG4,
    DW_OP_DEREF,
    DWARF_REGS,
    EIP,
    ESP,
    RT_SIGFRAME_SIGCONTEXT,
    SIGCONTEXT_32,
    SIGCONTEXT_32_EXTRA,
    SIGFRAME_SIGCONTEXT,
    CfaRule,
    CfiError,
    CfiRow,
    Fde,
    RegRule,
    fde_covering,
    interpret,
    vdso_fdes,
)
from lab.model.stub import Instruction, StubDecoding
from lab.model.vdso import VdsoError, VdsoImage

__all__ = [
    "DWARF_REGS",
    "FALLBACK_CODE",
    "RT_SIGFRAME_SIGCONTEXT",
    "SIGCONTEXT_32",
    "SIGFRAME_SIGCONTEXT",
    "CfaRule",
    "CfiError",
    "CfiRow",
    "Fde",
    "FrameExpectation",
    "RegRule",
    "StepCheck",
    "StubCfiReport",
    "TrampolineReport",
    "check_sigreturn_cfi",
    "check_stub_cfi",
    "compare_stub",
    "expected_frames",
    "fde_covering",
    "interpret",
    "single_step_stops",
    "trampoline_stops",
    "vdso_fdes",
]

# ---- what the rules should be, from the code ----


@dataclass(frozen=True)
class FrameExpectation:
    """The frame before the instruction at ``offset`` executes.

    ``cfa_offset``: CFA = esp + cfa_offset (4 at entry: the return address). ``saved``: DWARF
    register -> CFA-relative slot holding the caller's value. ``lost``: registers that no
    longer hold the caller's value (changed by the stub, or by a fast return), so "same value"
    would be wrong for them: the CFI must point at their slot.
    """

    offset: int
    text: str
    cfa_offset: int
    saved: Mapping[int, int] = field(hash=False)
    lost: frozenset[int] = frozenset()
    reachable: bool = True  # False for padding between a fast entry and its restart point


def _reg(name: str) -> int:
    if name not in _REGNO:
        raise CfiError(f"register {name!r} is not tracked")
    return _REGNO[name]


def expected_frames(stub: StubDecoding) -> tuple[FrameExpectation, ...]:
    """The frame state at every instruction boundary of ``stub``, from its own instructions.

    A kernel entry is a call that comes back somewhere else with esp unchanged. After SYSENTER
    or SYSCALL the kernel returns at the landing pad (do_fast_syscall_32()), with ecx/edx
    clobbered by SYSEXIT/SYSRETL; a restart resumes at the int $0x80 before it through IRET,
    with every register as the kernel saved it at entry. Padding between the fast instruction
    and that restart point never runs. ``mov esp, <reg>`` is followed when the register holds a
    copy of esp.
    """
    depth = 4  # CFA - esp
    saved: dict[int, int] = {}
    lost: set[int] = set()
    esp_copies: dict[int, int] = {}  # reg -> depth when esp was copied into it
    fast, pad = stub.fast_insn_offset, stub.landing_pad_offset
    restart = stub.int80_offset
    at_entry: tuple[int, dict[int, int], set[int]] | None = None
    out: list[FrameExpectation] = []
    for insn in stub.instructions:
        between = fast is not None and pad is not None and fast < insn.offset < pad
        if between and insn.offset != restart:
            out.append(FrameExpectation(insn.offset, insn.text, depth, {}, reachable=False))
            continue
        if at_entry is not None and (insn.offset == restart or insn.offset == pad):
            depth, saved, lost = at_entry[0], dict(at_entry[1]), set(at_entry[2])
            if insn.offset == pad:
                lost |= {_REGNO["ecx"], _REGNO["edx"]}
        out.append(FrameExpectation(insn.offset, insn.text, depth, dict(saved), frozenset(lost)))
        if insn.offset == fast:
            at_entry = (depth, dict(saved), set(lost))
        depth = _step(insn, depth, saved, lost, esp_copies)
    return tuple(out)


def _step(
    insn: Instruction,
    depth: int,
    saved: dict[int, int],
    lost: set[int],
    esp_copies: dict[int, int],
) -> int:
    """Apply one instruction to the tracked frame; returns the new CFA - esp."""
    if insn.is_nop:
        return depth
    op, _, rest = insn.text.partition(" ")
    operands = [o.strip() for o in rest.split(",")] if rest else []
    if op == "push":
        depth += 4
        reg = _reg(operands[0])
        if reg not in saved:
            saved[reg] = -depth
    elif op == "pop":
        reg = _reg(operands[0])
        if saved.get(reg) == -depth:
            del saved[reg]
            lost.discard(reg)
        elif reg != 0:
            lost.add(reg)  # popped something else into it
        esp_copies.pop(reg, None)
        depth -= 4
    elif op == "mov" and operands[0] == "esp":
        src = _reg(operands[1])
        if src not in esp_copies:
            raise CfiError(f"{insn.text}: esp from a register that does not hold esp")
        depth = esp_copies[src]
    elif op == "mov":
        dst = _reg(operands[0])
        if operands[1] == "esp":
            esp_copies[dst] = depth
        else:
            esp_copies.pop(dst, None)
        if dst != 0:
            lost.add(dst)  # no longer the caller's value (saved or not)
    elif op in ("sysenter", "syscall", "int", "ret", "hlt"):
        pass  # kernel entries: expected_frames() handles where they come back
    else:
        raise CfiError(f"instruction {insn.text!r} is not tracked")
    return depth


@dataclass(frozen=True)
class StepCheck:
    """One instruction boundary: what the code implies, what the CFI says, what disagrees."""

    offset: int
    text: str
    expected: str
    cfi: str
    problems: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "insn": self.text,
            "expected": self.expected,
            "cfi": self.cfi,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class StubCfiReport:
    """The per-instruction comparison for ``__kernel_vsyscall``."""

    start: int
    fde_range: tuple[int, int] | None
    steps: tuple[StepCheck, ...]
    problems: tuple[str, ...]  # FDE-level problems (coverage)

    @property
    def ok(self) -> bool:
        return not self.problems and all(not s.problems for s in self.steps)

    def all_problems(self) -> list[str]:
        return [*self.problems, *(f"+0x{s.offset:x} {p}" for s in self.steps for p in s.problems)]

    def to_json(self) -> dict[str, Any]:
        return {
            "fde": [hex(a) for a in self.fde_range] if self.fde_range else None,
            "steps": [s.to_json() for s in self.steps],
            "problems": list(self.problems),
        }


def _expected_text(exp: FrameExpectation) -> str:
    saved = ", ".join(f"{DWARF_REGS[r]}=[CFA{off:+d}]" for r, off in sorted(exp.saved.items()))
    return f"CFA=esp{exp.cfa_offset:+d}; eip=[CFA-4]" + (f", {saved}" if saved else "")


def _compare(exp: FrameExpectation, row: CfiRow) -> list[str]:
    problems: list[str] = []
    if row.cfa.expr is not None or row.cfa.reg != ESP or row.cfa.offset != exp.cfa_offset:
        problems.append(f"CFA is {row.cfa.text()}, the code has esp{exp.cfa_offset:+d}")
    ra = row.rule(EIP)
    if ra != RegRule("offset", -4):
        problems.append(f"return address rule is {ra.text()}, not [CFA-4]")
    for reg in range(1, 8):  # eax is the return value
        if reg == ESP:
            continue
        rule = row.rule(reg)
        name = DWARF_REGS[reg]
        slot = exp.saved.get(reg)
        if slot is not None and rule == RegRule("offset", slot):
            continue  # right whether or not the register itself still holds the value
        if rule.kind == "same":
            if reg in exp.lost:
                where = f"the caller's value is at [CFA{slot:+d}]" if slot else "it is lost"
                problems.append(f"{name} was changed ({where}) but the CFI says same value")
        elif rule.kind == "offset":
            problems.append(
                f"the CFI says {name} is at {rule.text()} but "
                + (f"the code saved it at [CFA{slot:+d}]" if slot else "it is not on the stack")
            )
        else:
            problems.append(f"{name}: unexpected rule {rule.text()}")
    return problems


def check_stub_cfi(vdso: VdsoImage, fdes: Sequence[Fde] | None = None) -> StubCfiReport:
    """Check the CFI of ``__kernel_vsyscall`` at every instruction boundary of the decoded stub.

    The boundaries include the int $0x80 (where a restarted call resumes) and the landing pad
    (where every fast entry returns), so an unwinder stopped there -- by a signal handler or a
    debugger -- gets the caller's frame right.
    """
    fdes = vdso_fdes(vdso) if fdes is None else fdes
    return compare_stub(vdso.stub(), vdso.kernel_vsyscall, fdes)


def compare_stub(stub: StubDecoding, start: int, fdes: Sequence[Fde]) -> StubCfiReport:
    """:func:`check_stub_cfi` for a stub decoded at address ``start`` and a set of FDEs."""
    fde = fde_covering(fdes, start)
    problems: list[str] = []
    if fde is None:
        return StubCfiReport(start, None, (), ("no FDE covers __kernel_vsyscall",))
    if fde.start != start:
        problems.append(f"the FDE starts at 0x{fde.start:x}, not at __kernel_vsyscall")
    if fde.end < start + stub.size:
        problems.append(f"the FDE ends at 0x{fde.end:x}, before the stub's ret")
    if fde.signal_frame:
        problems.append("the stub's CIE claims a signal frame ('S')")
    steps = []
    for exp in expected_frames(stub):
        pc = start + exp.offset
        if not exp.reachable:
            steps.append(StepCheck(exp.offset, exp.text, "never executed", "-", ()))
            continue
        row = fde.row_at(pc) if fde.covers(pc) else None
        found = _compare(exp, row) if row else ["outside the FDE"]
        steps.append(
            StepCheck(
                exp.offset, exp.text, _expected_text(exp), row.text() if row else "-", tuple(found)
            )
        )
    return StubCfiReport(start, (fde.start, fde.end), tuple(steps), tuple(problems))


def single_step_stops(stub: StubDecoding) -> tuple[int, ...]:
    """Offsets where a SIGTRAP handler finds a call through the stub run with TF set.

    A single-step trap comes after each instruction, so at the start of each one, up to and
    including the kernel entry. The entry does not trap in user mode: SYSENTER/SYSCALL trap (or
    not) in the kernel, which ignores it (is_sysenter_singlestep(), or MSR_SYSCALL_MASK clears
    TF), and INT clears TF. The return is IRET (TF in regs->flags forbids SYSRET/SYSEXIT:
    do_fast_syscall_32()), which restores TF, so the next trap comes after the landing pad's
    first instruction: the stops resume at the instruction after the landing pad.
    """
    insns = stub.instructions
    entry = stub.fast_insn_offset if stub.fast_insn_offset is not None else stub.int80_offset
    pad = stub.landing_pad_offset
    if entry is None or pad is None:
        raise CfiError("the stub has no kernel entry or landing pad")
    before = [i.offset for i in insns if i.offset <= entry]
    after = [i.offset for i in insns if i.offset > pad]
    return (*before, *after)


# ---- the sigreturn trampolines ----


@dataclass(frozen=True)
class TrampolineReport:
    """The CFI of one sigreturn trampoline against the signal frame's layout."""

    symbol: str
    fde_range: tuple[int, int] | None
    signal_frame: bool
    problems: tuple[str, ...]
    rows: tuple[str, ...]
    # How libgcc's unwinder, coming from the handler, gets this frame's rules: "fde" (the FDE
    # covering symbol - 1: 6.x), "fallback" (no FDE there, the code bytes matched: 7.2+),
    # "none" (neither); "" when not determined.
    libgcc: str = ""
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "fde": [hex(a) for a in self.fde_range] if self.fde_range else None,
            "signal_frame": self.signal_frame,
            "rows": list(self.rows),
            "problems": list(self.problems),
            "libgcc": self.libgcc,
            "notes": list(self.notes),
        }


def _breg4(offset: int, deref: bool = False) -> bytes:
    out = bytearray([DW_OP_BREG4])
    value = offset
    while True:
        byte = value & 0x7F
        value >>= 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte if done else byte | 0x80)
        if done:
            break
    if deref:
        out.append(DW_OP_DEREF)
    return bytes(out)


def check_sigreturn_cfi(
    vdso: VdsoImage, fdes: Sequence[Fde] | None = None, *, cfa_is_sigcontext: bool = False
) -> list[TrampolineReport]:
    """Check the FDEs of ``__kernel_sigreturn`` and ``__kernel_rt_sigreturn``.

    ``cfa_is_sigcontext=True`` checks the 7.2+ form instead (arch/x86/entry/vdso/vdso32/
    sigreturn.S, STARTPROC_SIGNAL_FRAME in 7.2; docs/kernel-versions.md D13): the FDE starts
    at the symbol, ``CFI_DEF_CFA esp, sc - 4`` (4 less after ``popl %eax``) and every saved
    register at ``CFA + its sigcontext offset``, at every instruction up to the ud2, and no FDE
    at symbol - 1 with the exact code bytes of libgcc's fallback -- see
    :func:`_check_sigreturn_cfi_7x`; pass ``KernelFacts.series7``.

    Each FDE must start one byte before the symbol (sigreturn.S: "HACK: The dwarf2 unwind
    routines will subtract 1 from the return address"), come from an "S" CIE, and at every
    instruction give the CFA as ``*(esp + sigcontext + sp)`` and eax..edi and eip at
    ``esp + sigcontext + field``, with ``sigcontext`` the offset of the sigcontext from esp
    there: 4 less after __kernel_sigreturn's ``popl %eax``.
    """
    fdes = vdso_fdes(vdso) if fdes is None else fdes
    if cfa_is_sigcontext:
        return _check_sigreturn_cfi_7x(vdso, fdes)
    reports = []
    for symbol, base, pops in (
        ("__kernel_sigreturn", SIGFRAME_SIGCONTEXT - 4, True),
        ("__kernel_rt_sigreturn", RT_SIGFRAME_SIGCONTEXT - 4, False),
    ):
        addr = vdso.symbols.get(symbol)
        if addr is None:
            reports.append(TrampolineReport(symbol, None, False, ("symbol missing",), ()))
            continue
        fde = fde_covering(fdes, addr - 1)
        if fde is None:
            reports.append(TrampolineReport(symbol, None, False, ("no FDE covers it",), ()))
            continue
        problems: list[str] = []
        if fde.start != addr - 1:
            problems.append(f"FDE starts at 0x{fde.start:x}, not at the symbol - 1")
        if not fde.signal_frame:
            problems.append(f"CIE augmentation {fde.augmentation!r} lacks 'S'")
        # The trampoline's instructions: [popl %eax;] movl $NR,%eax; int $0x80.
        checkpoints = [(addr - 1, base), (addr, base)]
        if pops:
            checkpoints.append((addr + 1, base - 4))
        for pc, sc in checkpoints:
            row = fde.row_at(pc)
            if row.cfa != CfaRule(None, 0, _breg4(sc + SIGCONTEXT_32["esp"], deref=True)):
                problems.append(f"0x{pc:x}: CFA {row.cfa.text()}, expected *(esp+{sc + 28})")
            for name, off in SIGCONTEXT_32.items():
                if name == "esp":
                    continue
                want = RegRule("expression", _breg4(sc + off))
                got = row.rule(_REGNO[name])
                if got != want:
                    problems.append(f"0x{pc:x}: {name} {got.text()}, expected esp+{sc + off}")
        reports.append(
            TrampolineReport(
                symbol,
                (fde.start, fde.end),
                fde.signal_frame,
                tuple(problems),
                tuple(f"0x{r.pc:x}: {r.text()}" for r in fde.rows),
                "fde",  # found at symbol - 1, as libgcc looks it up from the handler
            )
        )
    return reports


# The exact bytes libgcc's fallback recognises (x86_fallback_frame_state() in
# libgcc/config/i386/linux-unwind.h), which 7.2+ promises to keep
# (arch/x86/entry/vdso/vdso32/sigreturn.S:28-55 in 7.2 and 7.3).
FALLBACK_CODE: dict[str, bytes] = {
    "__kernel_sigreturn": bytes.fromhex("58 b8 77 00 00 00 cd 80"),
    "__kernel_rt_sigreturn": bytes.fromhex("b8 ad 00 00 00 cd 80"),
}


def _code_at(vdso: VdsoImage, addr: int, length: int) -> bytes:
    try:
        off = vdso.file_offset(addr)
    except VdsoError:
        return b""
    return vdso.raw[off : off + length]


def _trampoline_insns(vdso: VdsoImage, start: int, end: int) -> list[tuple[int, str]]:
    """(address, mnemonic) of each instruction in [start, end)."""
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
    return [(i.address, i.mnemonic) for i in md.disasm(_code_at(vdso, start, end - start), start)]


def _check_sigreturn_cfi_7x(vdso: VdsoImage, fdes: Sequence[Fde]) -> list[TrampolineReport]:
    """The 7.2+ sigreturn CFI (see check_sigreturn_cfi).

    arch/x86/entry/vdso/vdso32/sigreturn.S (7.2; 7.3 identical): STARTPROC_SIGNAL_FRAME at the
    symbol (:61-62, :76-77) is ``.cfi_startproc simple`` + ``.cfi_signal_frame`` +
    ``CFI_DEF_CFA esp, sc - 4`` + CFI_OFFSET of eip eax ebx ecx edx esp ebp esi edi es cs ss
    ds eflags at their IA32_SIGCONTEXT_* offsets (:7-26), so CFA = &sigcontext;
    ``CFI_ADJUST_CFA_OFFSET -4`` after __kernel_sigreturn's ``popl %eax`` (:63-64); the FDE
    ends after the ``ud2a`` at vdso32_{,rt_}sigreturn_landing_pad (:67-69, :80-82). Every
    instruction boundary in the FDE is checked.

    How the FDE is found: an unwinder coming from the handler has the trampoline's address as
    a return address, and libgcc looks up ``ra + _Unwind_IsSignalFrame() - 1``
    (uw_frame_state_for() in unwind-dw2.c), i.e. symbol - 1, because the *handler's* frame is
    not a signal frame -- the 'S' of the trampoline's own CIE cannot help find that CIE. 6.x
    started the FDE at symbol - 1 for this ("HACK", 6.1 sigreturn.S:56-62); 7.2+ starts it at
    the symbol, so that lookup finds nothing and libgcc falls back to matching the code bytes
    (x86_fallback_frame_state()). The kernel relies on that (sigreturn.S:28-55: a byte outside
    every function before each symbol, the byte sequences exact; GCC PR 124050). Both
    conditions are checked; ``libgcc`` in the report says which way libgcc goes ("fallback").
    An unwinder that looks up the trampoline's pc itself (after a signal frame, or one that
    honours 'S' for the frame being looked up) gets these FDEs.
    """
    reports = []
    for symbol, base in (
        ("__kernel_sigreturn", SIGFRAME_SIGCONTEXT - 4),
        ("__kernel_rt_sigreturn", RT_SIGFRAME_SIGCONTEXT - 4),
    ):
        addr = vdso.symbols.get(symbol)
        if addr is None:
            reports.append(TrampolineReport(symbol, None, False, ("symbol missing",), ()))
            continue
        problems: list[str] = []
        notes: list[str] = []
        before = fde_covering(fdes, addr - 1)
        code = _code_at(vdso, addr, len(FALLBACK_CODE[symbol]))
        if before is not None:
            libgcc = "fde"
            problems.append(
                f"0x{addr - 1:x} (symbol - 1, libgcc's lookup from the handler) is in the FDE "
                f"0x{before.start:x}-0x{before.end:x}: libgcc would unwind the trampoline "
                "with that FDE's rules (sigreturn.S:38-40 in 7.2 wants it outside every FDE)"
            )
        elif code == FALLBACK_CODE[symbol]:
            libgcc = "fallback"
            notes.append(
                f"no FDE at 0x{addr - 1:x} (symbol - 1): libgcc, unwinding from the handler, "
                "does not use this CFI but its code-pattern fallback "
                f"(x86_fallback_frame_state: {code.hex(' ')})"
            )
        else:
            libgcc = "none"
            problems.append(
                f"no FDE at 0x{addr - 1:x} (symbol - 1) and the code {code.hex(' ')} is not "
                f"{FALLBACK_CODE[symbol].hex(' ')}: libgcc cannot unwind through {symbol} "
                "(sigreturn.S:41-53 in 7.2)"
            )
        fde = fde_covering(fdes, addr)
        if fde is None:
            problems.append("no FDE covers it")
            reports.append(
                TrampolineReport(symbol, None, False, tuple(problems), (), libgcc, tuple(notes))
            )
            continue
        if fde.start != addr:
            problems.append(f"FDE starts at 0x{fde.start:x}, not at the symbol")
        if not fde.signal_frame:
            problems.append(f"CIE augmentation {fde.augmentation!r} lacks 'S'")
        insns = _trampoline_insns(vdso, addr, fde.end)
        if [m for _, m in insns][-3:] != ["mov", "int", "ud2"]:
            problems.append(
                "the FDE does not hold mov/int $0x80/ud2: " + " ".join(m for _, m in insns)
            )
        cfa = base
        for pc, mnemonic in insns:
            row = fde.row_at(pc)
            if row.cfa != CfaRule(_reg("esp"), cfa):
                problems.append(f"0x{pc:x}: CFA {row.cfa.text()}, expected esp{cfa:+d}")
            columns = [(_REGNO[n], n, off) for n, off in SIGCONTEXT_32.items()]
            columns += [(no, n, off) for no, (n, off) in SIGCONTEXT_32_EXTRA.items()]
            for regno, name, off in columns:
                got = row.rule(regno)
                if got != RegRule("offset", off):
                    problems.append(f"0x{pc:x}: {name} {got.text()}, expected [CFA{off:+d}]")
            if mnemonic == "pop":
                cfa -= 4
        reports.append(
            TrampolineReport(
                symbol,
                (fde.start, fde.end),
                fde.signal_frame,
                tuple(problems),
                tuple(f"0x{r.pc:x}: {r.text()}" for r in fde.rows),
                libgcc,
                tuple(notes),
            )
        )
    return reports


def trampoline_stops(vdso: VdsoImage, symbol: str = "__kernel_rt_sigreturn") -> tuple[int, ...]:
    """Offsets where single-stepping into ``symbol`` from a handler's ``ret`` stops: each
    instruction up to and including the ``int $0x80`` (the sigreturn itself is not traced)."""
    addr = vdso.symbols.get(symbol)
    if addr is None:
        raise CfiError(f"{symbol} missing")
    out: list[int] = []
    for pc, mnemonic in _trampoline_insns(vdso, addr, addr + 16):
        out.append(pc - addr)
        if mnemonic == "int":
            return tuple(out)
    raise CfiError(f"no int $0x80 in the first 16 bytes of {symbol}")
