"""Which ``__kernel_vsyscall`` designs work when run from user space on a Linux 6.1 kernel, and why.

Kernel developers try a stub design in user space before touching the vDSO. On 6.1 that is only
half an experiment: the fast entries do not come back to the stub at all. do_fast_syscall_32()
(arch/x86/entry/common.c) sets ``regs->ip`` to the *vDSO's* ``int80_landing_pad`` whatever
address SYSENTER or SYSCALL was executed at ("SYSENTER loses EIP, and even SYSCALL32 needs us to
skip forward so that 'regs->ip -= 2' lands back on an int $0x80 instruction"), so every fast entry
returns into the vDSO's ``pop %ebp; pop %edx; pop %ecx; ret`` (system_call.S) with the stack
pointer the kernel took:

* SYSENTER: ``regs->sp = regs->bp`` (do_SYSENTER_32(), common.c) -- the stub must have copied
  esp into ebp, as system_call.S does;
* SYSCALL: the real esp (entry_SYSCALL_compat, arch/x86/entry/entry_64_compat.S), and arg 2 is
  taken from ebp (``pushq %rbp /* pt_regs->cx (stashed in bp) */``) because SYSCALL overwrites
  ecx with the return eip;
* both: ``__do_fast_syscall_32()`` re-reads arg 6 (``regs->bp``) from ``*(u32 *)regs->sp``; if
  that faults the call is not made, ax = -EFAULT, and IRET resumes at the landing pad anyway.

A user-space stub is therefore compatible with a fast path only if, at its SYSENTER/SYSCALL, the
stack holds exactly what the vDSO's epilogue pops: saved ebp, edx, ecx, then the return address.
The model runs each design symbolically over its capstone-decoded instructions (:func:`simulate`)
and combines that with what the CPU does with the instruction at all (:func:`insn_fate`), for
real silicon and for QEMU's TCG, which differ.

Registers and stack words are named the way stub_variants.c names what it observes: ``in.<reg>``
(the caller's value), ``ret`` (the return address), ``catch1``/``catch2`` (the two words above it,
which the lab's harness fills with catch addresses), ``sp:<n>`` (a pointer to stack word n;
word 0 holds ``ret``, pushes go to -1, -2, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lab.model.fate import Executor, Fate, InsnFate, Platform, insn_fate, qemu_version_tuple
from lab.model.paths import EntryPath
from lab.model.stub import (
    SYSCALL_SEQUENCE,
    SYSENTER_SEQUENCE,
    Instruction,
    StubLayout,
    decode_stub,
    disassemble,
)

__all__ = [
    "EPILOGUE",
    "HARNESS_UNMAPPED",
    "PROPERTIES",
    "VARIANTS",
    "Executor",
    "Fate",
    "InsnFate",
    "Platform",
    "Prediction",
    "RoleOutcome",
    "Variant",
    "insn_fate",
    "layouts_ok",
    "predict_variant",
    "qemu_version_tuple",
    "simulate",
    "strip_pad_marker",
    "variant",
]


@dataclass(frozen=True)
class Variant:
    """One stub design, with its bytes exactly as written (the lab's pad marker left out)."""

    name: str
    family: str  # proposal-2015, shipped-4.3+, legacy-4.2
    entry: EntryPath  # the instruction it enters the kernel with
    code: bytes
    layout: StubLayout  # what lab.model.stub.decode_stub() calls it
    source: str


_PROPOSAL_HEAD = bytes.fromhex("515289e2")  # push ecx; push edx; movl %esp,%edx
# movl %edx,%esp; movl (%esp),%edx; movl 8(%esp),%ecx; int $0x80; popl edx; popl ecx; ret
_PROPOSAL_TAIL = bytes.fromhex("89d48b14248b4c2408cd805a59c3")
_SHIPPED_HEAD = bytes.fromhex("515255")
_SHIPPED_TAIL = bytes.fromhex("cd805d5a59c3")
_SEED = "LKML 2015-08-26 'Proposal for finishing the 64-bit x86 syscall cleanup' (seed)"

VARIANTS: tuple[Variant, ...] = (
    Variant(
        "proposal-2015-sysenter",
        "proposal-2015",
        EntryPath.SYSENTER,
        _PROPOSAL_HEAD + bytes.fromhex("0f3490") + _PROPOSAL_TAIL,
        StubLayout.PROPOSAL_2015,
        _SEED + ", ALTERNATIVE (Intel with SEP): sysenter (3-byte site)",
    ),
    Variant(
        "proposal-2015-syscall",
        "proposal-2015",
        EntryPath.SYSCALL,
        _PROPOSAL_HEAD + bytes.fromhex("0f05f4") + _PROPOSAL_TAIL,
        StubLayout.PROPOSAL_2015,
        _SEED + ", ALTERNATIVE (AMD with SYSCALL32 on 64-bit kernels): syscall; hlt",
    ),
    Variant(
        "proposal-2015-int80",
        "proposal-2015",
        EntryPath.INT80,
        _PROPOSAL_HEAD + bytes.fromhex("909090") + _PROPOSAL_TAIL,
        StubLayout.PROPOSAL_2015,
        _SEED + ", ALTERNATIVE (if neither of the other cases apply): nops",
    ),
    Variant(
        "shipped-sysenter",
        "shipped-4.3+",
        EntryPath.SYSENTER,
        _SHIPPED_HEAD + SYSENTER_SEQUENCE + _SHIPPED_TAIL,
        StubLayout.SHIPPED,
        "arch/x86/entry/vdso/vdso32/system_call.S, X86_FEATURE_SYSENTER32 / X86_FEATURE_SEP",
    ),
    Variant(
        "shipped-syscall",
        "shipped-4.3+",
        EntryPath.SYSCALL,
        _SHIPPED_HEAD + SYSCALL_SEQUENCE + _SHIPPED_TAIL,
        StubLayout.SHIPPED,
        "arch/x86/entry/vdso/vdso32/system_call.S, X86_FEATURE_SYSCALL32",
    ),
    Variant(
        "shipped-int80",
        "shipped-4.3+",
        EntryPath.INT80,
        _SHIPPED_HEAD + bytes.fromhex("90909090") + _SHIPPED_TAIL,
        StubLayout.SHIPPED,
        "arch/x86/entry/vdso/vdso32/system_call.S, no feature: the unpatched 4-byte site",
    ),
    Variant(
        "legacy-sysenter",
        "legacy-4.2",
        EntryPath.SYSENTER,
        bytes.fromhex("51525589e50f34") + b"\x90" * 7 + bytes.fromhex("cd805d5a59c3"),
        StubLayout.LEGACY_SYSENTER,
        "Linux 4.2 arch/x86/entry/vdso/vdso32/sysenter.S (restart point int $0x80 at "
        "VDSO32_SYSENTER_RETURN - 2)",
    ),
    Variant(
        "legacy-syscall",
        "legacy-4.2",
        EntryPath.SYSCALL,
        bytes.fromhex("5589cd0f0589e95dc3"),
        StubLayout.LEGACY_SYSCALL,
        "Linux 4.2 arch/x86/entry/vdso/vdso32/syscall.S (the form without the %ss reload, "
        "see lab/model/stub.py)",
    ),
    Variant(
        "legacy-int80",
        "legacy-4.2",
        EntryPath.INT80,
        bytes.fromhex("cd80c3"),
        StubLayout.LEGACY_INT80,
        "Linux 4.2 arch/x86/entry/vdso/vdso32/int80.S",
    ),
)
_BY_NAME = {v.name: v for v in VARIANTS}

# The vDSO's epilogue after int80_landing_pad (system_call.S): where every fast entry returns.
EPILOGUE: tuple[str, ...] = ("pop ebp", "pop edx", "pop ecx", "ret")
# Caller values the lab's harness makes sure are unmapped: stub_variants.c puts 0xeb90 (below
# vm.mmap_min_addr) in ebp, the __kernel_vsyscall argument 6 register.
HARNESS_UNMAPPED: frozenset[str] = frozenset({"in.ebp"})
PROPERTIES: tuple[str, ...] = ("regs", "restart", "fork")

# EFLAGS bits (arch/x86/include/uapi/asm/processor-flags.h) and what stub_variants.c loads.
CF, PF, AF, ZF, SF, DF, OF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x400, 0x800
HARNESS_FLAGS = 0xED7  # CF PF AF ZF SF DF OF, IF, bit 1
FLAGS_CHECKED = CF | PF | AF | ZF | SF | DF | OF

_MARKER = re.compile(r"^mov dword ptr \[0x[0-9a-f]+\], 1$")


def variant(name: str) -> Variant:
    """The variant called ``name`` (KeyError if unknown)."""
    return _BY_NAME[name]


def strip_pad_marker(code: bytes) -> tuple[bytes, int | None]:
    """Remove stub_variants.S's ``movl $1, stub_pad_hit`` from a stub's bytes.

    Returns the bytes as written and the marker's offset (None if there was none). The marker
    only ever follows the kernel-entry instruction, so offsets before it are the design's own.
    """
    out = bytearray()
    at: int | None = None
    for insn in disassemble(code, stop_at_ret=False):
        if at is None and _MARKER.match(insn.text):
            at = insn.offset
            continue
        out += insn.raw
    return bytes(out), at


# ---- symbolic execution of a stub ----


@dataclass(frozen=True)
class RoleOutcome:
    """How one process came back from the stub (what stub_variants.c reports per role)."""

    outcome: str  # ok, flags-changed, regs-changed, wrong-result, misreturn-N, SIG*, panic, unknown
    result: str = ""  # the system call's result as the caller judges it
    changed: Mapping[str, str] = field(default_factory=dict)  # reg -> symbolic value; esp delta
    flags_changed: int = 0  # EFLAGS bits (of FLAGS_CHECKED) that differ
    own_pad: bool | None = None  # the stub's own post-int80 code ran
    eip: str = ""  # for a crash: where
    esp: str = ""  # for a crash: the stack pointer, when the model knows it
    interrupted_at: str = ""  # restart: where the handler found the interrupted call
    kernel_args: tuple[str, ...] = ()  # what the kernel took as arguments 1..6

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": self.outcome}
        for key in ("result", "eip", "esp", "interrupted_at"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.outcome not in ("panic", "unknown") and not self.outcome.startswith("SIG"):
            out["changed"] = dict(self.changed)
            if self.flags_changed:
                out["changed"]["eflags"] = f"^0x{self.flags_changed:x}"
            out["own_pad"] = self.own_pad
        if self.kernel_args:
            out["kernel_args"] = list(self.kernel_args)
        return out


# What the system call makes of its arguments, per property: (arg1..arg6) -> result text.
SyscallModel = Callable[[tuple[str, ...]], str]


def _buffer_call(writes_to_buffer: bool) -> SyscallModel:
    """write(fd, buf, n) (regs) or read(fd, buf, n) (restart) with the harness's arguments."""

    def result(args: tuple[str, ...]) -> str:
        fd, buf, count = args[:3]
        if fd != "in.ebx":
            return f"fd={fd}"
        if buf in HARNESS_UNMAPPED:
            return "-EFAULT"
        if count != "in.edx":
            return f"count={count}"
        if buf == "in.ecx":
            return "ok"
        if buf == "ret":  # the caller's code: readable, not writable
            return "-EFAULT" if writes_to_buffer else "arg2=ret"
        return f"buf={buf}"

    return result


def _fork_call(args: tuple[str, ...]) -> str:
    return "ok"  # fork takes no arguments


SYSCALLS: dict[str, SyscallModel] = {
    "regs": _buffer_call(writes_to_buffer=False),
    "restart": _buffer_call(writes_to_buffer=True),
    "fork": _fork_call,
}

_REGS = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp")
_CALLER_REGS = ("ebx", "ecx", "edx", "esi", "edi", "ebp")


@dataclass
class _Machine:
    """The user-visible state while a stub runs: registers, stack words, esp as a word index."""

    regs: dict[str, str]
    stack: dict[int, str]
    sp: int = 0

    def load(self, index: int) -> str:
        return self.stack.get(index, f"caller+{index}" if index > 0 else f"stack[{index}]")


def _sp_index(value: str) -> int | None:
    return int(value[3:]) if value.startswith("sp:") else None


def _pti_flags(platform: Platform, flags: int) -> tuple[int, str]:
    """EFLAGS as entry_SYSENTER_compat saves them: with PTI, after an ``andq``.

    entry_SYSENTER_compat (arch/x86/entry/entry_64_compat.S) does SWITCH_TO_KERNEL_CR3 before
    ``pushfq /* pt_regs->flags */``; with X86_FEATURE_PTI that is ADJUST_KERNEL_CR3
    (arch/x86/entry/calling.h): [SET_NOFLUSH_BIT (bts $63) with PCID] and ``andq
    $(~PTI_USER_PGTABLE_AND_PCID_MASK)`` on the CR3 value. So pt_regs->flags holds the andq's
    result flags: CF = OF = 0, ZF = 0, PF = 1 (the low byte of a page-aligned PGD is 0), SF =
    bit 63 (set only with PCID), AF undefined (QEMU clears it). The 32-bit entry_SYSENTER_32
    brackets its CR3 switch with pushfl/popfl; SYSCALL saved the flags in r11 before, int $0x80
    in the hardware frame.
    """
    if platform.kernel_bits != 64 or "pti" not in platform.cpu.flags:
        return flags, ""
    sf = SF if "pcid" in platform.cpu.flags else 0
    after = (flags & ~(CF | PF | AF | ZF | SF | OF)) | PF | sf
    return after, (
        "with PTI, entry_SYSENTER_compat runs SWITCH_TO_KERNEL_CR3 (an andq on CR3, "
        "arch/x86/entry/calling.h) before pushfq, so pt_regs->flags holds that andq's "
        "CF/PF/AF/ZF/SF/OF, not the caller's (the i386 psABI lets a call clobber them)"
    )


def simulate(
    v: Variant, platform: Platform, prop: str = "regs", flags: int = HARNESS_FLAGS
) -> tuple[RoleOutcome, list[str]]:
    """Run ``v`` symbolically for one system call of property ``prop`` on ``platform``.

    Returns the caller's outcome and the explanation, one sentence per step that matters.
    """
    if prop not in SYSCALLS:
        raise ValueError(f"unknown property {prop!r}")
    syscall = SYSCALLS[prop]
    m = _Machine({r: f"in.{r}" for r in _REGS}, {0: "ret", 1: "catch1", 2: "catch2"})
    m.regs["eax"] = "nr"
    why: list[str] = []
    code: Sequence[Instruction] = disassemble(v.code)
    pc = 0  # index into code
    in_vdso = False  # the kernel sent us to the vDSO's epilogue
    own_pad = False
    result = ""
    args: tuple[str, ...] = ()
    interrupted_at = ""
    flags_out = flags
    epilogue = list(EPILOGUE)

    def crash(sig: str, eip: str, esp: str = "", note: str = "") -> tuple[RoleOutcome, list[str]]:
        if note:
            why.append(note)
        return RoleOutcome(sig, eip=eip, esp=esp, kernel_args=args), why

    while True:
        if in_vdso:
            if not epilogue:
                raise AssertionError("vDSO epilogue ran off its end")
            text = epilogue.pop(0)
            where = "vdso:int80_landing_pad" if len(epilogue) == 3 else "vdso"
        else:
            if pc >= len(code):
                raise AssertionError(f"{v.name}: ran off the end of the stub")
            insn = code[pc]
            text = insn.text
            where = f"stub+0x{insn.offset:x}"
            pc += 1
            if insn.is_nop:
                continue
        op, _, rest = text.partition(" ")
        operands = [o.strip() for o in rest.split(",")] if rest else []
        if op == "push":
            m.sp -= 1
            m.stack[m.sp] = m.regs[operands[0]]
        elif op == "pop":
            m.regs[operands[0]] = m.load(m.sp)
            m.sp += 1
        elif op == "mov" and operands[1] == "esp":
            m.regs[operands[0]] = f"sp:{m.sp}"
        elif op == "mov" and operands[0] == "esp":
            index = _sp_index(m.regs[operands[1]])
            if index is None:
                return RoleOutcome("unknown"), [*why, f"esp := {m.regs[operands[1]]}"]
            m.sp = index
        elif op == "mov" and "[esp" in operands[1]:
            disp = re.search(r"\[esp(?: \+ (\d+))?\]", operands[1])
            assert disp is not None
            m.regs[operands[0]] = m.load(m.sp + int(disp.group(1) or 0) // 4)
        elif op == "mov":
            m.regs[operands[0]] = m.regs[operands[1]]
        elif text == "int 0x80":
            args = tuple(m.regs[r] for r in ("ebx", "ecx", "edx", "esi", "edi", "ebp"))
            result = syscall(args)
            m.regs["eax"] = "result"
            interrupted_at = where
            if not in_vdso:
                own_pad = True
                why.append(
                    f"int $0x80 at {where}: the kernel takes the arguments from the registers "
                    f"({', '.join(args[:3])}) and IRET returns right after it, into the stub"
                )
        elif op in ("sysenter", "syscall"):
            fate = insn_fate(op, platform)
            if fate.fate is Fate.UD:
                return crash("SIGILL", where, note=f"{op} at {where}: #UD: {fate.why}")
            if fate.fate is Fate.GP:
                return crash("SIGSEGV", where, note=f"{op} at {where}: #GP: {fate.why}")
            if fate.fate is Fate.PANIC:
                why.append(f"{op} at {where}: {fate.why}")
                return RoleOutcome("panic", eip=where), why
            if fate.fate is Fate.UNKNOWN:
                why.append(f"{op} at {where}: {fate.why}")
                return RoleOutcome("unknown", eip=where), why
            why.append(f"{op} at {where}: {fate.why}")
            if op == "sysenter":
                sp_value = m.regs["ebp"]
                arg2 = m.regs["ecx"]
                why.append(
                    f"do_SYSENTER_32() (arch/x86/entry/common.c): regs->sp = regs->bp = {sp_value}"
                )
                flags_out, pti_note = _pti_flags(platform, flags)
            else:
                pti_note = ""
                sp_value = f"sp:{m.sp}"
                arg2 = m.regs["ebp"]
                why.append(
                    "entry_SYSCALL_compat (arch/x86/entry/entry_64_compat.S): regs->sp = esp, "
                    f"regs->cx = ebp = {arg2} (SYSCALL itself overwrote ecx with the return eip)"
                )
            why.append(
                "do_fast_syscall_32() (arch/x86/entry/common.c): regs->ip = the vDSO's "
                "int80_landing_pad, wherever the instruction was"
            )
            index = _sp_index(sp_value)
            if index is None:
                if sp_value not in HARNESS_UNMAPPED:
                    return RoleOutcome("unknown"), [*why, f"stack pointer {sp_value}"]
                args = (m.regs["ebx"], arg2, m.regs["edx"], m.regs["esi"], m.regs["edi"], "?")
                return crash(
                    "SIGSEGV",
                    "vdso:int80_landing_pad",
                    sp_value,
                    f"__do_fast_syscall_32(): reading arg 6 from {sp_value} faults, so the call "
                    "is not made (ax = -EFAULT) and IRET resumes at int80_landing_pad with esp = "
                    f"{sp_value}: its 'pop %ebp' faults (SIGSEGV)",
                )
            if pti_note:
                why.append(pti_note)
            arg6 = m.load(index)
            args = (m.regs["ebx"], arg2, m.regs["edx"], m.regs["esi"], m.regs["edi"], arg6)
            result = syscall(args)
            why.append(
                f"__do_fast_syscall_32(): arg 6 = *({sp_value}) = {arg6}; the system call gets "
                f"({', '.join(args)})"
            )
            m.sp = index
            m.regs.update(eax="result", ebp=arg6, ecx="clobbered", edx="clobbered")
            interrupted_at = "vdso:int80_landing_pad-2"
            in_vdso = True
            why.append(
                "the return (SYSRETL/SYSEXIT, or IRET after a restart: ip -= 2 is the vDSO's "
                f"int $0x80) lands in the vDSO epilogue with esp -> word {index}: pop %ebp, "
                "%edx, %ecx; ret"
            )
        elif op == "hlt":
            return crash("SIGSEGV", where, note=f"hlt at {where} in user mode: #GP")
        elif op == "ret":
            target = m.load(m.sp)
            m.sp += 1
            if target == "ret":
                how = ""
            elif target in ("catch1", "catch2"):
                how = f"misreturn-{target[-1]}"
                why.append(
                    f"'ret' took {target}, the word {target[-1]} above the return address: the "
                    "stack the kernel returned on is not the one the epilogue expects"
                )
            else:
                return crash("SIGSEGV", target, note=f"'ret' to {target}")
            changed = {r: m.regs[r] for r in _CALLER_REGS if m.regs[r] != f"in.{r}"}
            if m.sp != 1:
                changed["esp"] = f"{(m.sp - 1) * 4:+d}"
            flags_changed = (flags_out ^ flags) & FLAGS_CHECKED
            if how:
                outcome = how
            elif result != "ok":
                outcome = "wrong-result"
            elif changed:
                outcome = "regs-changed"
            elif flags_changed:
                outcome = "flags-changed"
            else:
                outcome = "ok"
            if result not in ("ok", ""):
                why.append(f"the system call's result: {result} (arguments {', '.join(args[:3])})")
            return RoleOutcome(
                outcome,
                result=result,
                changed=changed,
                flags_changed=flags_changed,
                own_pad=own_pad,
                interrupted_at=interrupted_at if prop == "restart" else "",
                kernel_args=args,
            ), why
        else:
            raise AssertionError(f"{v.name}: instruction {text!r} is not modelled")


# ---- predictions per variant x property ----


@dataclass(frozen=True)
class Prediction:
    """The model's expectation for one property of one variant on one platform."""

    variant: str
    prop: str
    executor: Executor
    caller: RoleOutcome
    child: RoleOutcome | None  # fork only, when the fork happened
    why: tuple[str, ...]

    @property
    def compatible(self) -> bool | None:
        """True if the property holds (status flags may change: the psABI lets calls clobber
        them); None when the model does not know."""
        outcomes = [self.caller.outcome] + ([self.child.outcome] if self.child else [])
        if any(o in ("unknown",) for o in outcomes):
            return None
        return all(o in ("ok", "flags-changed") for o in outcomes)

    def to_json(self) -> dict[str, Any]:
        return {
            "executor": self.executor.value,
            "caller": self.caller.to_json(),
            "child": self.child.to_json() if self.child else None,
            "compatible": self.compatible,
            "why": list(self.why),
        }


def predict_variant(v: Variant, prop: str, platform: Platform) -> Prediction:
    """Predict ``prop`` (regs, restart, fork) through ``v`` on ``platform``."""
    caller, why = simulate(v, platform, prop)
    child: RoleOutcome | None = None
    if prop == "restart" and caller.result and not caller.outcome.startswith("SIG"):
        why.append(
            "restart: the SA_RESTART handler finds the call at "
            f"{caller.interrupted_at} (ip -= 2 in arch_do_signal_or_restart(), "
            "arch/x86/kernel/signal.c), and the restarted int $0x80 takes the same pt_regs "
            "arguments, so the call ends like an uninterrupted one"
        )
    if prop == "fork" and caller.result == "ok":
        # ret_from_fork gives the child the parent's pt_regs (ip, sp, bp) and a copy of the
        # stack, so it returns exactly like the parent (arch/x86/entry/entry_64.S ret_from_fork).
        child = caller
        why.append(
            "fork: the child resumes with a copy of the parent's pt_regs and stack "
            "(copy_thread(), ret_from_fork), so it comes back the same way"
        )
    return Prediction(v.name, prop, platform.executor, caller, child, tuple(why))


def layouts_ok() -> dict[str, bool]:
    """Each variant's bytes decode (lab.model.stub) to the layout it claims."""
    return {v.name: decode_stub(v.code).layout is v.layout for v in VARIANTS}
