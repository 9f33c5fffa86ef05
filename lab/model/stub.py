"""Recognise a ``__kernel_vsyscall`` stub from its bytes, by disassembly (capstone, 32-bit).

Matching is done on capstone's decoded instructions, not on byte strings, so equivalent encodings
(``89 e5`` / ``8b ec`` for ``movl %esp,%ebp``) and every nop form the kernel may write are
accepted. Five layouts are known:

* SHIPPED (Linux 4.3+, arch/x86/entry/vdso/vdso32/system_call.S): one image, one alternative site.
* PROPOSAL_2015: Andy Lutomirski's LKML proposal of 2015-08-26, exactly as written in the seed.
* LEGACY_SYSENTER / LEGACY_SYSCALL / LEGACY_INT80: the pre-4.3 per-method images
  (arch/x86/vdso/vdso32/{sysenter,syscall,int80}.S, later under arch/x86/entry/vdso/).
* SYSFAST32 / INT80_ONLY (7.2+, arch/x86/entry/vdso/vdso32/system_call.S:27,67 in 7.2):
  ``ALTERNATIVE "int $0x80; ret", "", X86_FEATURE_SYSFAST32`` at +0, then push ecx/edx/ebp,
  ``ALTERNATIVE SYSENTER_SEQUENCE, SYSCALL_SEQUENCE, X86_FEATURE_SYSCALL32``, ``int $0x80`` at
  +0xa, landing pad +0xc, pops, ret. With SYSFAST32 set the first site is a 3-byte NOP
  (SYSFAST32 layout); without it the stub is ``int $0x80; ret`` at +0 (INT80_ONLY: landing pad
  +2, no register saves), recognised by the 7.x body that follows the ``ret``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import capstone
from capstone import x86 as cs_x86

from lab.errors import LabError
from lab.model.paths import EntryPath, check_kernel_bits

__all__ = [
    "BYTES_NOP4_32",
    "BYTES_NOP4_64",
    "INT80_ONLY_LANDING_PAD",
    "SHIPPED_ALT_LEN",
    "SHIPPED_LANDING_PAD",
    "SYSCALL_SEQUENCE",
    "SYSENTER_SEQUENCE",
    "SYSFAST32_LANDING_PAD",
    "X86_NOPS",
    "Instruction",
    "StubDecoding",
    "StubError",
    "StubLayout",
    "decode_stub",
    "disassemble",
    "format_listing",
    "is_nop",
    "shipped_stub_bytes",
    "stub_bytes",
]

# arch/x86/entry/vdso/vdso32/system_call.S: SYSENTER_SEQUENCE / SYSCALL_SEQUENCE.
SYSENTER_SEQUENCE = bytes.fromhex("89e50f34")  # movl %esp,%ebp; sysenter
SYSCALL_SEQUENCE = bytes.fromhex("89cd0f05")  # movl %ecx,%ebp; syscall
SHIPPED_ALT_LEN = 4  # both replacements are 4 bytes, so the site is 4 bytes of 0x90 padding
# arch/x86/include/asm/nops.h: BYTES_NOP1..BYTES_NOP8, the x86_nops[] table add_nops()
# (arch/x86/kernel/alternative.c) copies from; CONFIG_64BIT picks the second set.
X86_NOPS: dict[int, tuple[bytes, ...]] = {
    32: tuple(
        bytes.fromhex(h)
        for h in (
            "90",
            "89f6",
            "8d7600",
            "8d742600",
            "3e8d742600",
            "8db600000000",
            "8db42600000000",
            "3e8db42600000000",
        )
    ),
    64: tuple(
        bytes.fromhex(h)
        for h in (
            "90",
            "6690",
            "0f1f00",
            "0f1f4000",
            "0f1f440000",
            "660f1f440000",
            "0f1f8000000000",
            "0f1f840000000000",
        )
    ),
}
BYTES_NOP4_64 = X86_NOPS[64][3]  # nopl 0x0(%eax)
BYTES_NOP4_32 = X86_NOPS[32][3]  # leal 0x0(%esi,%eiz,1),%esi
_SHIPPED_PROLOGUE = bytes.fromhex("515255")  # push %ecx; push %edx; push %ebp
_SHIPPED_EPILOGUE = bytes.fromhex("cd805d5a59c3")  # int $0x80; pop ebp; pop edx; pop ecx; ret
# int80_landing_pad: offset of the instruction after int $0x80 in the shipped stub.
SHIPPED_LANDING_PAD = len(_SHIPPED_PROLOGUE) + SHIPPED_ALT_LEN + 2

# 7.x (system_call.S:27 in 7.2): the first site is "int $0x80; ret", 3 bytes.
SYSFAST32_SITE_LEN = 3
_INT80_RET = bytes.fromhex("cd80c3")
SYSFAST32_LANDING_PAD = SYSFAST32_SITE_LEN + SHIPPED_LANDING_PAD  # 0xc
INT80_ONLY_LANDING_PAD = 2  # after the int $0x80 at +0

_MAX_STUB_BYTES = 64  # every known stub is < 32 bytes; stop looking for ret after this


class StubLayout(enum.Enum):
    """Which generation of ``__kernel_vsyscall`` the bytes are."""

    SHIPPED = "shipped-4.3+"
    PROPOSAL_2015 = "proposal-2015"
    LEGACY_SYSENTER = "legacy-sysenter"
    LEGACY_SYSCALL = "legacy-syscall"
    LEGACY_INT80 = "legacy-int80"
    SYSFAST32 = "sysfast32-7.2+"
    INT80_ONLY = "int80-only-7.2+"


@dataclass(frozen=True)
class Instruction:
    """One decoded instruction; ``offset`` is from the start of the stub."""

    offset: int
    raw: bytes
    mnemonic: str
    op_str: str
    is_nop: bool = False

    @property
    def text(self) -> str:
        """Intel-syntax text as capstone prints it, e.g. ``mov ebp, esp``."""
        return f"{self.mnemonic} {self.op_str}".strip()

    @property
    def end(self) -> int:
        """Offset of the next instruction."""
        return self.offset + len(self.raw)


@dataclass(frozen=True)
class StubDecoding:
    """A recognised stub: its layout, what it executes, and where the kernel comes back."""

    layout: StubLayout
    path: EntryPath
    fast_insn_offset: int | None
    int80_offset: int | None
    landing_pad_offset: int | None
    instructions: tuple[Instruction, ...]

    def hex(self) -> str:
        """The stub's bytes up to and including its ``ret``, e.g. ``51 52 55 ... c3``."""
        return b"".join(i.raw for i in self.instructions).hex(" ")

    @property
    def restart_offset(self) -> int | None:
        """Where a restarted call re-enters: ip -= 2 from the landing pad
        (arch/x86/kernel/signal.c), the stub's ``int $0x80`` (+7 on 6.x, +0xa / +0 on 7.x)."""
        return None if self.landing_pad_offset is None else self.landing_pad_offset - 2

    @property
    def size(self) -> int:
        """Length in bytes up to and including the ``ret``."""
        return sum(len(i.raw) for i in self.instructions)

    def listing(self) -> str:
        """A disassembly listing, one instruction per line."""
        return format_listing(self.instructions)


class StubError(LabError):
    """The bytes are not a known ``__kernel_vsyscall`` layout; the message shows the disassembly."""


def is_nop(insn: capstone.CsInsn) -> bool:
    """True for instructions that do nothing: every form in asm/nops.h (32- and 64-bit tables).

    That is ``nop`` (0x90, 66 90, 0f 1f /0 ...), ``mov %r,%r`` and ``lea 0(%r),%r`` with the same
    register, with or without a %ds prefix or a %eiz index.
    """
    if insn.id == cs_x86.X86_INS_NOP:
        return True
    ops = insn.operands
    if len(ops) != 2 or ops[0].type != cs_x86.X86_OP_REG:
        return False
    dst = ops[0].reg
    if insn.id == cs_x86.X86_INS_MOV:
        return bool(ops[1].type == cs_x86.X86_OP_REG and ops[1].reg == dst)
    if insn.id == cs_x86.X86_INS_LEA and ops[1].type == cs_x86.X86_OP_MEM:
        mem = ops[1].mem
        return bool(
            mem.base == dst
            and mem.index in (cs_x86.X86_REG_INVALID, cs_x86.X86_REG_EIZ)
            and mem.disp == 0
            and mem.segment in (cs_x86.X86_REG_INVALID, cs_x86.X86_REG_DS)
        )
    return False


def _capstone(bits: int = 32) -> capstone.Cs:
    md = capstone.Cs(
        capstone.CS_ARCH_X86, capstone.CS_MODE_32 if bits == 32 else capstone.CS_MODE_64
    )
    md.detail = True
    return md


def disassemble(code: bytes, *, stop_at_ret: bool = True, bits: int = 32) -> list[Instruction]:
    """Linear disassembly from offset 0, up to the first ``ret`` (or an undecodable byte)."""
    out: list[Instruction] = []
    for insn in _capstone(bits).disasm(code, 0):
        out.append(
            Instruction(insn.address, bytes(insn.bytes), insn.mnemonic, insn.op_str, is_nop(insn))
        )
        if stop_at_ret and insn.id == cs_x86.X86_INS_RET:
            break
    return out


def format_listing(insns: Sequence[Instruction], trailing: bytes = b"") -> str:
    """``+0x03  89 e5        mov ebp, esp`` lines; undecodable bytes shown as ``(bad)``."""
    lines = [f"  +0x{i.offset:02x}  {i.raw.hex(' '):<24} {i.text}" for i in insns]
    if trailing:
        end = insns[-1].end if insns else 0
        lines.append(f"  +0x{end:02x}  {trailing[:8].hex(' '):<24} (bad)")
    return "\n".join(lines)


class _Cursor:
    """A read position over decoded instructions, matched by capstone text."""

    def __init__(self, insns: Sequence[Instruction]) -> None:
        self.insns = insns
        self.pos = 0

    def peek(self) -> Instruction | None:
        return self.insns[self.pos] if self.pos < len(self.insns) else None

    def take(self, *texts: str) -> Instruction | None:
        """Consume the next instruction if its text is one of ``texts``."""
        insn = self.peek()
        if insn is None or insn.text not in texts:
            return None
        self.pos += 1
        return insn

    def seq(self, *texts: str) -> list[Instruction] | None:
        """Consume instructions matching ``texts`` in order, or nothing at all."""
        start = self.pos
        got: list[Instruction] = []
        for text in texts:
            insn = self.take(text)
            if insn is None:
                self.pos = start
                return None
            got.append(insn)
        return got

    def nops(self) -> list[Instruction]:
        got: list[Instruction] = []
        while (insn := self.peek()) is not None and insn.is_nop:
            got.append(insn)
            self.pos += 1
        return got

    def at_end(self) -> bool:
        return self.pos == len(self.insns)


_INT80 = "int 0x80"
_EPILOGUE_3 = ("pop ebp", "pop edx", "pop ecx", "ret")


def _match_shipped(insns: Sequence[Instruction]) -> StubDecoding | None:
    """system_call.S (4.3+): push ecx/edx/ebp; 4-byte alternative; int $0x80; pops; ret."""
    c = _Cursor(insns)
    if c.seq("push ecx", "push edx", "push ebp") is None:
        return None
    site = c.peek()
    if site is None:
        return None
    fast: Instruction | None = None
    if (got := c.seq("mov ebp, esp", "sysenter")) is not None:
        path, fast = EntryPath.SYSENTER, got[1]
    elif (got := c.seq("mov ebp, ecx", "syscall")) is not None:
        path, fast = EntryPath.SYSCALL, got[1]
    else:
        path = EntryPath.INT80
        c.nops()
    after = c.peek()
    if after is None or after.offset - site.offset != SHIPPED_ALT_LEN:
        return None
    int80 = c.take(_INT80)
    if int80 is None or c.seq(*_EPILOGUE_3) is None or not c.at_end():
        return None
    return StubDecoding(
        StubLayout.SHIPPED,
        path,
        fast.offset if fast else None,
        int80.offset,
        int80.end,
        tuple(insns),
    )


def _match_sysfast32(insns: Sequence[Instruction]) -> StubDecoding | None:
    """7.2+ with SYSFAST32: 3-byte NOP; push ecx/edx/ebp; sysenter or syscall sequence; int
    $0x80; pops; ret (system_call.S:27,67 in 7.2)."""
    c = _Cursor(insns)
    nops = c.nops()
    if sum(len(i.raw) for i in nops) != SYSFAST32_SITE_LEN:
        return None
    body = _match_7x_body(insns[c.pos :])
    if body is None:
        return None
    path, fast, int80 = body
    return StubDecoding(
        StubLayout.SYSFAST32, path, fast.offset, int80.offset, int80.end, tuple(insns)
    )


def _match_7x_body(
    insns: Sequence[Instruction],
) -> tuple[EntryPath, Instruction, Instruction] | None:
    """push ecx/edx/ebp; the 4-byte SYSENTER/SYSCALL sequence; int $0x80; pops; ret."""
    c = _Cursor(insns)
    if c.seq("push ecx", "push edx", "push ebp") is None:
        return None
    if (got := c.seq("mov ebp, esp", "sysenter")) is not None:
        path = EntryPath.SYSENTER
    elif (got := c.seq("mov ebp, ecx", "syscall")) is not None:
        path = EntryPath.SYSCALL
    else:
        return None
    int80 = c.take(_INT80)
    if int80 is None or c.seq(*_EPILOGUE_3) is None or not c.at_end():
        return None
    return path, got[1], int80


def _is_7x_int80_only(window: bytes) -> bool:
    """``int $0x80; ret`` followed by the 7.x body (the unpatched first alternative)."""
    if window[: len(_INT80_RET)] != _INT80_RET:
        return False
    rest = disassemble(window[len(_INT80_RET) :])
    return _match_7x_body(rest) is not None


def _match_proposal_2015(insns: Sequence[Instruction]) -> StubDecoding | None:
    """The seed's proposal, verbatim; its landing pad is ``vsyscall_after_int80``.

    As written, ``movl 8(%esp),%ecx`` loads the caller's return address: after two pushes the
    saved ecx is at 4(%esp). The text is matched as written, slip included.
    """
    c = _Cursor(insns)
    if c.seq("push ecx", "push edx", "mov edx, esp") is None:
        return None
    fast: Instruction | None = None
    if (got := c.seq("sysenter")) is not None:
        path, fast = EntryPath.SYSENTER, got[0]
    elif (got := c.seq("syscall", "hlt")) is not None:
        path, fast = EntryPath.SYSCALL, got[0]
    else:
        path = EntryPath.INT80
    c.nops()
    if c.seq("mov esp, edx", "mov edx, dword ptr [esp]", "mov ecx, dword ptr [esp + 8]") is None:
        return None
    int80 = c.take(_INT80)
    if int80 is None or c.seq("pop edx", "pop ecx", "ret") is None or not c.at_end():
        return None
    return StubDecoding(
        StubLayout.PROPOSAL_2015,
        path,
        fast.offset if fast else None,
        int80.offset,
        int80.end,
        tuple(insns),
    )


def _short_jmp_target(insn: Instruction) -> int | None:
    """Target offset of a 2-byte ``jmp rel8`` (the only size that keeps ip -= 2 meaningful)."""
    if len(insn.raw) != 2 or insn.raw[0] != 0xEB:
        return None
    return insn.end + int.from_bytes(insn.raw[1:], "little", signed=True)


def _match_legacy_sysenter(insns: Sequence[Instruction]) -> StubDecoding | None:
    """vdso32/sysenter.S: sysenter, nop padding, restart point (jmp back, later int $0x80)."""
    c = _Cursor(insns)
    if c.seq("push ecx", "push edx", "push ebp") is None:
        return None
    got = c.seq("mov ebp, esp", "sysenter")
    if got is None:
        return None
    enter_kernel, fast = got
    c.nops()
    int80 = c.take(_INT80)
    if int80 is None:
        # Older sysenter.S: "jmp .Lenter_kernel" is the restart point (SYSENTER_RETURN - 2).
        jmp = c.peek()
        if jmp is None or _short_jmp_target(jmp) != enter_kernel.offset:
            return None
        c.pos += 1
        restart_end = jmp.end
    else:
        restart_end = int80.end
    if c.seq(*_EPILOGUE_3) is None or not c.at_end():
        return None
    return StubDecoding(
        StubLayout.LEGACY_SYSENTER,
        EntryPath.SYSENTER,
        fast.offset,
        int80.offset if int80 else None,
        restart_end,
        tuple(insns),
    )


def _match_legacy_syscall(insns: Sequence[Instruction]) -> StubDecoding | None:
    """vdso32/syscall.S: push ebp; ecx->ebp; syscall; [reload %ss]; ebp->ecx; pop ebp; ret.

    The ``movl $__USER32_DS,%ecx; movl %ecx,%ss`` pair (0x2b) was dropped before 4.3
    once the kernel worked around SYSRET's SS attributes itself; both forms are accepted.
    """
    c = _Cursor(insns)
    got = c.seq("push ebp", "mov ebp, ecx", "syscall")
    if got is None:
        return None
    fast = got[2]
    c.seq("mov ecx, 0x2b", "mov ss, ecx")
    if c.seq("mov ecx, ebp", "pop ebp", "ret") is None or not c.at_end():
        return None
    return StubDecoding(
        StubLayout.LEGACY_SYSCALL, EntryPath.SYSCALL, fast.offset, None, fast.end, tuple(insns)
    )


def _match_legacy_int80(insns: Sequence[Instruction]) -> StubDecoding | None:
    """vdso32/int80.S: ``int $0x80; ret``."""
    c = _Cursor(insns)
    int80 = c.take(_INT80)
    if int80 is None or c.take("ret") is None or not c.at_end():
        return None
    return StubDecoding(
        StubLayout.LEGACY_INT80, EntryPath.INT80, None, int80.offset, int80.end, tuple(insns)
    )


_MATCHERS: tuple[Callable[[Sequence[Instruction]], StubDecoding | None], ...] = (
    _match_shipped,
    _match_sysfast32,
    _match_proposal_2015,
    _match_legacy_sysenter,
    _match_legacy_syscall,
    _match_legacy_int80,
)


def decode_stub(code: bytes) -> StubDecoding:
    """Decode ``code`` (starting at ``__kernel_vsyscall``) up to its first ``ret`` and classify it.

    Bytes after the ``ret`` are ignored (the 6.1 image has ``int3`` from CONFIG_SLS, then the
    sigreturn stubs). Raises StubError with the disassembly if no known layout matches.
    """
    window = bytes(code[:_MAX_STUB_BYTES])
    insns = disassemble(window)
    if not insns or insns[-1].mnemonic != "ret":
        decoded = sum(len(i.raw) for i in insns)
        if not window:
            why = "no bytes"
        elif decoded < len(window):
            why = "undecodable bytes before any ret"
        else:
            why = f"no ret in the first {len(window)} bytes"
        raise StubError(
            f"not a __kernel_vsyscall stub ({why}):\n"
            + format_listing(insns, window[decoded:] if decoded < len(window) else b"")
        )
    if _is_7x_int80_only(window):
        return StubDecoding(StubLayout.INT80_ONLY, EntryPath.INT80, None, 0, 2, tuple(insns))
    for matcher in _MATCHERS:
        decoding = matcher(insns)
        if decoding is not None:
            return decoding
    raise StubError(
        "not a known __kernel_vsyscall layout (shipped-4.3+, sysfast32-7.2+, int80-only-7.2+, "
        "proposal-2015, legacy-sysenter, legacy-syscall, legacy-int80):\n" + format_listing(insns)
    )


def shipped_stub_bytes(path: EntryPath, kernel_bits: int) -> bytes:
    """The 13 bytes of a 6.1 ``__kernel_vsyscall`` after apply_alternatives() chose ``path``.

    For INT80 the 0x90 padding becomes the kernel's own BYTES_NOP4 (optimize_nops() ->
    add_nops() in arch/x86/kernel/alternative.c), which differs between 64- and 32-bit kernels.
    """
    check_kernel_bits(kernel_bits)
    if path is EntryPath.SYSENTER:
        alt = SYSENTER_SEQUENCE
    elif path is EntryPath.SYSCALL:
        if kernel_bits == 32:
            raise ValueError("a 32-bit kernel's stub has no SYSCALL alternative")
        alt = SYSCALL_SEQUENCE
    else:
        alt = BYTES_NOP4_64 if kernel_bits == 64 else BYTES_NOP4_32
    return _SHIPPED_PROLOGUE + alt + _SHIPPED_EPILOGUE


def stub_bytes(path: EntryPath, kernel_bits: int, *, sysfast32_layout: bool = False) -> bytes:
    """The patched ``__kernel_vsyscall`` up to its first ``ret`` for ``path``.

    ``sysfast32_layout=False`` is the 4.3..6.x stub (shipped_stub_bytes()). ``True`` is the 7.2+
    stub (system_call.S:27,67 in 7.2): INT80 is ``int $0x80; ret`` (SYSFAST32 clear); SYSENTER /
    SYSCALL start with the kernel's 3-byte NOP (optimize_nops() of the 3 bytes of 0x90 padding:
    ``0f 1f 00`` on 64-bit, ``8d 76 00`` on 32-bit kernels).
    """
    check_kernel_bits(kernel_bits)
    if not sysfast32_layout:
        return shipped_stub_bytes(path, kernel_bits)
    if path is EntryPath.INT80:
        return _INT80_RET
    if path is EntryPath.SYSCALL and kernel_bits == 32:
        raise ValueError("a 32-bit kernel clears X86_FEATURE_SYSCALL32 (cpu/common.c:1846, 7.2)")
    seq = SYSENTER_SEQUENCE if path is EntryPath.SYSENTER else SYSCALL_SEQUENCE
    return (
        X86_NOPS[kernel_bits][SYSFAST32_SITE_LEN - 1] + _SHIPPED_PROLOGUE + seq + _SHIPPED_EPILOGUE
    )
