"""The 32-bit vDSO's unwind information (.eh_frame), interpreted and checked against its code.

Debuggers, ``backtrace()`` and C++ exceptions unwind through ``__kernel_vsyscall`` with the CFI
the vDSO carries (LKML 2015-08-26, "Thing 2: ... Userspace debuggers really like having the vdso
properly CFI-annotated"). In 6.1 it comes from ``.cfi`` directives
(arch/x86/entry/vdso/vdso32/system_call.S: CFI_ADJUST_CFA_OFFSET / CFI_REL_OFFSET after each
push, CFI_RESTORE after each pop, via arch/x86/include/asm/dwarf2.h); the sigreturn trampolines
keep hand-written DWARF (arch/x86/entry/vdso/vdso32/sigreturn.S: a "zRS" CIE whose FDEs describe
the CFA and every register as DW_OP_breg4 expressions into the signal frame's sigcontext).

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
  landing pad a fast entry returns to), and compare the trampolines' expressions with the
  ``struct sigframe_ia32`` / ``struct rt_sigframe_ia32`` layout.

DWARF register numbers are the i386 ones used in .eh_frame: 0 eax, 1 ecx, 2 edx, 3 ebx, 4 esp,
5 ebp, 6 esi, 7 edi, 8 eip (the return address column).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from elftools.common.exceptions import ELFError
from elftools.dwarf.callframe import CIE, FDE
from elftools.elf.elffile import ELFFile

from lab.errors import LabError
from lab.model.stub import Instruction, StubDecoding
from lab.model.vdso import VdsoImage

__all__ = [
    "DWARF_REGS",
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
    "vdso_fdes",
]

DWARF_REGS: dict[int, str] = {
    0: "eax",
    1: "ecx",
    2: "edx",
    3: "ebx",
    4: "esp",
    5: "ebp",
    6: "esi",
    7: "edi",
    8: "eip",
}
_REGNO = {name: no for no, name in DWARF_REGS.items()}
ESP, EIP = 4, 8
DW_OP_BREG4, DW_OP_DEREF = 0x74, 0x06

# struct sigcontext_32 (arch/x86/include/uapi/asm/sigcontext.h): gs fs es ds (4 bytes each),
# then di si bp sp bx dx cx ax trapno err ip cs flags sp_at_signal ss ...
SIGCONTEXT_32: dict[str, int] = {
    "edi": 16,
    "esi": 20,
    "ebp": 24,
    "esp": 28,
    "ebx": 32,
    "edx": 36,
    "ecx": 40,
    "eax": 44,
    "eip": 56,
}
# Where the sigcontext is in the frame, seen from esp at the trampoline's first instruction
# (the handler's `ret` has popped pretcode). struct sigframe_ia32 (asm/sigframe.h): pretcode,
# sig, sc -> 8 - 4. struct rt_sigframe_ia32: pretcode, sig, pinfo, puc, info (siginfo, 128),
# uc (uc_flags 4, uc_link 4, uc_stack 12, uc_mcontext) -> 164 - 4. These are
# IA32_SIGCONTEXT_* and IA32_RT_SIGFRAME_sigcontext of arch/x86/kernel/asm-offsets.c.
SIGFRAME_SIGCONTEXT = 8
RT_SIGFRAME_SIGCONTEXT = 4 + 4 + 4 + 4 + 128 + 4 + 4 + 12


class CfiError(LabError):
    """The vDSO's .eh_frame cannot be read or interpreted."""


@dataclass(frozen=True)
class CfaRule:
    """How to compute the CFA: ``reg + offset``, or a DWARF expression (raw bytes)."""

    reg: int | None
    offset: int = 0
    expr: bytes | None = None

    def text(self) -> str:
        if self.expr is not None:
            return f"expr({_expr_text(self.expr)})"
        name = DWARF_REGS.get(self.reg, f"r{self.reg}") if self.reg is not None else "?"
        return f"{name}{self.offset:+d}"


@dataclass(frozen=True)
class RegRule:
    """Where a register of the caller is: ``offset`` (saved at CFA+value), ``val_offset``,
    ``register``, ``expression`` / ``val_expression`` (raw bytes), ``same``, ``undefined``."""

    kind: str
    value: int | bytes | None = None

    def text(self) -> str:
        if self.kind == "offset":
            assert isinstance(self.value, int)
            return f"[CFA{self.value:+d}]"
        if self.kind == "val_offset":
            assert isinstance(self.value, int)
            return f"CFA{self.value:+d}"
        if self.kind == "register":
            assert isinstance(self.value, int)
            return DWARF_REGS.get(self.value, f"r{self.value}")
        if self.kind in ("expression", "val_expression"):
            assert isinstance(self.value, bytes)
            return f"{self.kind}({_expr_text(self.value)})"
        return self.kind


@dataclass(frozen=True)
class CfiRow:
    """The rules in force from ``pc`` on (until the next row)."""

    pc: int
    cfa: CfaRule
    regs: Mapping[int, RegRule] = field(hash=False)

    def rule(self, reg: int) -> RegRule:
        return self.regs.get(reg, RegRule("same"))

    def text(self) -> str:
        saved = ", ".join(
            f"{DWARF_REGS.get(r, f'r{r}')}={rule.text()}" for r, rule in sorted(self.regs.items())
        )
        return f"CFA={self.cfa.text()}; {saved}"


@dataclass(frozen=True)
class Fde:
    """One FDE with its CIE's facts and the interpreted rows."""

    start: int
    end: int
    augmentation: str
    rows: tuple[CfiRow, ...]
    program: tuple[str, ...]  # the CIE's then the FDE's instructions, as text

    @property
    def signal_frame(self) -> bool:
        """The CIE has the "S" augmentation: the unwinder must not subtract 1 from the pc of
        the frame it unwinds to (libgcc's _Unwind_IsSignalFrame)."""
        return "S" in self.augmentation

    def covers(self, pc: int) -> bool:
        return self.start <= pc < self.end

    def row_at(self, pc: int) -> CfiRow:
        if not self.covers(pc):
            raise CfiError(f"pc 0x{pc:x} is outside the FDE [0x{self.start:x}, 0x{self.end:x})")
        row = self.rows[0]
        for candidate in self.rows:
            if candidate.pc > pc:
                break
            row = candidate
        return row


def _expr_text(expr: bytes) -> str:
    """DW_OP_breg4 <sleb128>, DW_OP_deref; anything else as hex."""
    out: list[str] = []
    i = 0
    while i < len(expr):
        op = expr[i]
        if DW_OP_BREG4 - 4 <= op <= DW_OP_BREG4 + 4:
            value, i = _sleb128(expr, i + 1)
            out.append(f"breg{op - 0x70} {value:+d}")
        elif op == DW_OP_DEREF:
            out.append("deref")
            i += 1
        else:
            out.append(expr[i:].hex(" "))
            break
    return "; ".join(out)


def _sleb128(data: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if byte & 0x40:
                result -= 1 << shift
            return result, i


def _opname(opcode: Any) -> str:
    """``DW_CFA_def_cfa`` for pyelftools' DW_CFA enum member (0.31+), a plain int, or the
    name itself (hand-written programs in tests)."""
    if isinstance(opcode, str):
        return opcode
    name = getattr(opcode, "name", None)
    if isinstance(name, str):
        return name if name.startswith("DW_CFA_") else f"DW_CFA_{name}"
    raise CfiError(f"unknown CFI opcode {opcode!r}")


def _insn_text(opcode: Any, args: Sequence[Any]) -> str:
    shown = [bytes(a).hex(" ") if isinstance(a, list) else str(a) for a in args]
    return f"{_opname(opcode)} {' '.join(shown)}".strip()


def interpret(
    cie_program: Iterable[tuple[Any, Sequence[Any]]],
    fde_program: Iterable[tuple[Any, Sequence[Any]]],
    start: int,
    *,
    code_align: int = 1,
    data_align: int = -4,
) -> tuple[CfiRow, ...]:
    """Run the CIE's initial instructions, then the FDE's, from address ``start``.

    Each program is a sequence of ``(opcode, args)`` as pyelftools decodes them: offsets in
    DW_CFA_offset / offset_extended / *_sf / val_offset are factored (multiplied here by
    ``data_align``), DW_CFA_def_cfa and def_cfa_offset are not. Returns the rows in address
    order; a row is emitted whenever the location advances.
    """
    cfa = CfaRule(None)
    regs: dict[int, RegRule] = {}
    initial: dict[int, RegRule] = {}
    stack: list[tuple[CfaRule, dict[int, RegRule]]] = []
    rows: list[CfiRow] = []
    pc = start

    def emit() -> None:
        row = CfiRow(pc, cfa, dict(regs))
        if rows and rows[-1].pc == pc:
            rows[-1] = row
        else:
            rows.append(row)

    for phase, program in (("cie", cie_program), ("fde", fde_program)):
        for opcode, args in program:
            name = _opname(opcode)
            if name in (
                "DW_CFA_advance_loc",
                "DW_CFA_advance_loc1",
                "DW_CFA_advance_loc2",
                "DW_CFA_advance_loc4",
            ):
                emit()
                pc += int(args[0]) * code_align
            elif name == "DW_CFA_set_loc":
                emit()
                pc = int(args[0])
            elif name == "DW_CFA_def_cfa":
                cfa = CfaRule(int(args[0]), int(args[1]))
            elif name == "DW_CFA_def_cfa_sf":
                cfa = CfaRule(int(args[0]), int(args[1]) * data_align)
            elif name == "DW_CFA_def_cfa_register":
                cfa = CfaRule(int(args[0]), cfa.offset)
            elif name == "DW_CFA_def_cfa_offset":
                cfa = CfaRule(cfa.reg, int(args[0]))
            elif name == "DW_CFA_def_cfa_offset_sf":
                cfa = CfaRule(cfa.reg, int(args[0]) * data_align)
            elif name == "DW_CFA_def_cfa_expression":
                cfa = CfaRule(None, 0, bytes(args[0]))
            elif name in ("DW_CFA_offset", "DW_CFA_offset_extended", "DW_CFA_offset_extended_sf"):
                regs[int(args[0])] = RegRule("offset", int(args[1]) * data_align)
            elif name in ("DW_CFA_val_offset", "DW_CFA_val_offset_sf"):
                regs[int(args[0])] = RegRule("val_offset", int(args[1]) * data_align)
            elif name in ("DW_CFA_restore", "DW_CFA_restore_extended"):
                reg = int(args[0])
                if reg in initial:
                    regs[reg] = initial[reg]
                else:
                    regs.pop(reg, None)
            elif name == "DW_CFA_undefined":
                regs[int(args[0])] = RegRule("undefined")
            elif name == "DW_CFA_same_value":
                regs[int(args[0])] = RegRule("same")
            elif name == "DW_CFA_register":
                regs[int(args[0])] = RegRule("register", int(args[1]))
            elif name == "DW_CFA_expression":
                regs[int(args[0])] = RegRule("expression", bytes(args[1]))
            elif name == "DW_CFA_val_expression":
                regs[int(args[0])] = RegRule("val_expression", bytes(args[1]))
            elif name == "DW_CFA_remember_state":
                stack.append((cfa, dict(regs)))
            elif name == "DW_CFA_restore_state":
                if not stack:
                    raise CfiError("DW_CFA_restore_state without remember_state")
                cfa, regs = stack.pop()
            elif name in ("DW_CFA_nop", "DW_CFA_GNU_args_size"):
                pass
            else:
                raise CfiError(f"CFI instruction {name} is not interpreted")
        if phase == "cie":
            initial = dict(regs)
    emit()
    return tuple(rows)


def vdso_fdes(vdso: VdsoImage) -> tuple[Fde, ...]:
    """Every FDE in the vDSO's .eh_frame, interpreted (addresses are vDSO virtual addresses)."""
    try:
        elf = ELFFile(io.BytesIO(vdso.raw))
        if elf.get_section_by_name(".eh_frame") is None:
            raise CfiError("the vDSO has no .eh_frame")
        entries = elf.get_dwarf_info().EH_CFI_entries()
    except (ELFError, ValueError, KeyError) as exc:
        raise CfiError(f"cannot read the vDSO's .eh_frame: {exc}") from exc
    fdes: list[Fde] = []
    for entry in entries:
        if not isinstance(entry, FDE):
            continue
        cie = entry.cie
        if not isinstance(cie, CIE):
            raise CfiError(f"FDE at 0x{entry.offset:x} has no CIE")
        head = entry.header
        start = int(head["initial_location"])
        cie_prog = [(i.opcode, i.args) for i in cie.instructions]
        fde_prog = [(i.opcode, i.args) for i in entry.instructions]
        rows = interpret(
            cie_prog,
            fde_prog,
            start,
            code_align=int(cie.header["code_alignment_factor"]),
            data_align=int(cie.header["data_alignment_factor"]),
        )
        fdes.append(
            Fde(
                start,
                start + int(head["address_range"]),
                bytes(cie.header["augmentation"]).decode("ascii", "replace"),
                rows,
                tuple(_insn_text(op, args) for op, args in cie_prog + fde_prog),
            )
        )
    return tuple(fdes)


def fde_covering(fdes: Iterable[Fde], pc: int) -> Fde | None:
    """The FDE whose range holds ``pc`` (what _Unwind_Find_FDE would return), or None."""
    for fde in fdes:
        if fde.covers(pc):
            return fde
    return None


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
    vdso: VdsoImage, fdes: Sequence[Fde] | None = None
) -> list[TrampolineReport]:
    """Check the FDEs of ``__kernel_sigreturn`` and ``__kernel_rt_sigreturn``.

    Each FDE must start one byte before the symbol (sigreturn.S: "HACK: The dwarf2 unwind
    routines will subtract 1 from the return address"), come from an "S" CIE, and at every
    instruction give the CFA as ``*(esp + sigcontext + sp)`` and eax..edi and eip at
    ``esp + sigcontext + field``, with ``sigcontext`` the offset of the sigcontext from esp
    there: 4 less after __kernel_sigreturn's ``popl %eax``.
    """
    fdes = vdso_fdes(vdso) if fdes is None else fdes
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
            )
        )
    return reports
