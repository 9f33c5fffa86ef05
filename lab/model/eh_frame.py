"""The 32-bit vDSO's .eh_frame as rows of unwind rules: a small DWARF CFI interpreter over
the instructions pyelftools decodes (DW_CFA_advance_loc*, def_cfa*, offset*, restore*,
same_value, undefined, register, expression, val_*, remember_state / restore_state), and the
FDEs of a vDSO image. lab/model/cfi.py compares these rows with what the stub's code implies.

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
from lab.model.vdso import VdsoImage

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
# The other columns 7.2+ describes (arch/x86/entry/vdso/vdso32/sigreturn.S:21-25 in 7.2 and
# 7.3): DWARF register -> (name, struct sigcontext_32 offset). i386 psABI numbering: 9 eflags,
# 40 es, 41 cs, 42 ss, 43 ds; offsets es 8, ds 12, cs 60, flags 64, ss 72 (IA32_SIGCONTEXT_*,
# arch/x86/kernel/asm-offsets.c:66-70 in 7.2).
SIGCONTEXT_32_EXTRA: dict[int, tuple[str, int]] = {
    9: ("eflags", 64),
    40: ("es", 8),
    41: ("cs", 60),
    42: ("ss", 72),
    43: ("ds", 12),
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
