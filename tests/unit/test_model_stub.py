"""lab.model.stub: recognising __kernel_vsyscall layouts by disassembly."""

from __future__ import annotations

import pytest

from lab.model import EntryPath, StubError, StubLayout, decode_stub
from lab.model.stub import (
    BYTES_NOP4_32,
    BYTES_NOP4_64,
    X86_NOPS,
    disassemble,
    shipped_stub_bytes,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# Measured on Linux 6.1.176 guests (see the brief) and reproduced from the captured images.
SHIPPED_INTEL = "51 52 55 89 e5 0f 34 cd 80 5d 5a 59 c3"
SHIPPED_AMD = "51 52 55 89 cd 0f 05 cd 80 5d 5a 59 c3"
SHIPPED_NOP64 = "51 52 55 0f 1f 40 00 cd 80 5d 5a 59 c3"
SHIPPED_NOP32 = "51 52 55 8d 74 26 00 cd 80 5d 5a 59 c3"
SHIPPED_UNPATCHED = "51 52 55 90 90 90 90 cd 80 5d 5a 59 c3"


@pytest.mark.parametrize(
    ("code", "path", "fast"),
    [
        (SHIPPED_INTEL, EntryPath.SYSENTER, 5),
        (SHIPPED_AMD, EntryPath.SYSCALL, 5),
        (SHIPPED_NOP64, EntryPath.INT80, None),
        (SHIPPED_NOP32, EntryPath.INT80, None),
        (SHIPPED_UNPATCHED, EntryPath.INT80, None),
    ],
)
def test_shipped(code: str, path: EntryPath, fast: int | None) -> None:
    # Trailing bytes as in the real image: int3 (CONFIG_SLS) and padding, then sigreturn.
    d = decode_stub(h(code) + h("cc 90 90 90 58 b8 77 00 00 00 cd 80"))
    assert d.layout is StubLayout.SHIPPED
    assert d.path is path
    assert d.fast_insn_offset == fast
    assert d.int80_offset == 7
    assert d.landing_pad_offset == 9
    assert d.hex() == code
    assert d.size == 13
    assert [i.text for i in d.instructions[:3]] == ["push ecx", "push edx", "push ebp"]
    assert d.instructions[-1].mnemonic == "ret"


def test_shipped_alternate_encoding() -> None:
    # movl %esp,%ebp as 8b ec instead of 89 e5: same instruction, capstone matches it.
    d = decode_stub(h("51 52 55 8b ec 0f 34 cd 80 5d 5a 59 c3"))
    assert d.layout is StubLayout.SHIPPED and d.path is EntryPath.SYSENTER


NOP_FILLS = [
    *(X86_NOPS[32][3], X86_NOPS[64][3]),  # BYTES_NOP4 of both kernels
    h("90 90 90 90"),
    h("66 90 66 90"),
    h("89 f6 89 f6"),
    X86_NOPS[32][2] + h("90"),
    X86_NOPS[64][2] + h("90"),
    X86_NOPS[32][0] + X86_NOPS[64][2],
]


@pytest.mark.parametrize("fill", NOP_FILLS, ids=lambda b: b.hex())
def test_shipped_accepts_any_4_byte_nop_fill(fill: bytes) -> None:
    d = decode_stub(h("51 52 55") + fill + h("cd 80 5d 5a 59 c3"))
    assert d.layout is StubLayout.SHIPPED and d.path is EntryPath.INT80
    assert d.landing_pad_offset == 9
    assert all(i.is_nop for i in d.instructions[3:-5])


@pytest.mark.parametrize(
    "fill",
    [
        h("8d 74 26 01"),  # lea esi, [esi + 1] is not a nop
        h("8d 74 27 00"),  # lea esi, [edi]
        h("89 f7 90 90"),  # mov edi, esi
        h("90 90 90"),  # 3 bytes: wrong site size
        h("0f 1f 44 00 00"),  # 5 bytes
        h("89 e5 0f 05"),  # sysenter's mov with syscall
        h("89 cd 0f 34"),
    ],
    ids=lambda b: b.hex(),
)
def test_shipped_rejects_non_nop_or_wrong_size_fill(fill: bytes) -> None:
    with pytest.raises(StubError):
        decode_stub(h("51 52 55") + fill + h("cd 80 5d 5a 59 c3"))


def test_all_kernel_nops_are_nops() -> None:
    for table in X86_NOPS.values():
        for n, nop in enumerate(table, start=1):
            assert len(nop) == n
            insns = disassemble(nop, stop_at_ret=False)
            assert len(insns) == 1 and insns[0].is_nop, nop.hex()


def test_shipped_stub_bytes() -> None:
    assert shipped_stub_bytes(EntryPath.SYSENTER, 64).hex(" ") == SHIPPED_INTEL
    assert shipped_stub_bytes(EntryPath.SYSENTER, 32).hex(" ") == SHIPPED_INTEL
    assert shipped_stub_bytes(EntryPath.SYSCALL, 64).hex(" ") == SHIPPED_AMD
    assert shipped_stub_bytes(EntryPath.INT80, 64).hex(" ") == SHIPPED_NOP64
    assert shipped_stub_bytes(EntryPath.INT80, 32).hex(" ") == SHIPPED_NOP32
    assert h("0f 1f 40 00") == BYTES_NOP4_64
    assert h("8d 74 26 00") == BYTES_NOP4_32
    with pytest.raises(ValueError):
        shipped_stub_bytes(EntryPath.SYSCALL, 32)


# The seed's proposal, assembled by hand from its text:
#   push %ecx; push %edx; movl %esp,%edx; <alt>; movl %edx,%esp; movl (%esp),%edx;
#   movl 8(%esp),%ecx; int $0x80; popl %edx; popl %ecx; ret
PROPOSAL_HEAD = "51 52 89 e2"
PROPOSAL_TAIL = "89 d4 8b 14 24 8b 4c 24 08 cd 80 5a 59 c3"


@pytest.mark.parametrize(
    ("alt", "path", "fast"),
    [
        ("0f 34", EntryPath.SYSENTER, 4),  # sysenter
        ("0f 34 90", EntryPath.SYSENTER, 4),  # padded to the 3-byte site
        ("0f 05 f4", EntryPath.SYSCALL, 4),  # syscall; hlt
        ("90 90 90", EntryPath.INT80, None),  # unpatched padding
        ("0f 1f 00", EntryPath.INT80, None),  # BYTES_NOP3 (64)
        ("8d 76 00", EntryPath.INT80, None),  # BYTES_NOP3 (32)
        ("", EntryPath.INT80, None),
    ],
)
def test_proposal_2015(alt: str, path: EntryPath, fast: int | None) -> None:
    code = h(PROPOSAL_HEAD + alt + PROPOSAL_TAIL)
    d = decode_stub(code + h("cc"))
    assert d.layout is StubLayout.PROPOSAL_2015
    assert d.path is path
    assert d.fast_insn_offset == fast
    assert d.landing_pad_offset is not None and d.int80_offset is not None
    assert d.landing_pad_offset == d.int80_offset + 2 == len(code) - 3
    assert code[d.int80_offset : d.landing_pad_offset] == h("cd 80")
    assert d.hex() == code.hex(" ")


def test_proposal_2015_syscall_needs_hlt() -> None:
    with pytest.raises(StubError):
        decode_stub(h(PROPOSAL_HEAD + "0f 05" + PROPOSAL_TAIL))


# Pre-4.3 vdso32/sysenter.S: push ecx/edx/ebp; movl %esp,%ebp; sysenter; .space 7,0x90;
# restart point (jmp .Lenter_kernel up to 4.0, int $0x80 in 4.1/4.2); pop ebp/edx/ecx; ret.
LEGACY_SYSENTER_JMP = "51 52 55 89 e5 0f 34" + " 90" * 7 + " eb f3 5d 5a 59 c3"
LEGACY_SYSENTER_INT80 = "51 52 55 89 e5 0f 34" + " 90" * 7 + " cd 80 5d 5a 59 c3"


def test_legacy_sysenter_with_jmp_restart() -> None:
    d = decode_stub(h(LEGACY_SYSENTER_JMP))
    assert d.layout is StubLayout.LEGACY_SYSENTER
    assert d.path is EntryPath.SYSENTER
    assert (d.fast_insn_offset, d.int80_offset, d.landing_pad_offset) == (5, None, 16)
    assert d.instructions[-5].mnemonic == "jmp"


def test_legacy_sysenter_with_int80_restart() -> None:
    d = decode_stub(h(LEGACY_SYSENTER_INT80))
    assert d.layout is StubLayout.LEGACY_SYSENTER
    assert (d.fast_insn_offset, d.int80_offset, d.landing_pad_offset) == (5, 14, 16)


def test_legacy_sysenter_jmp_must_go_back_to_enter_kernel() -> None:
    with pytest.raises(StubError):
        decode_stub(h("51 52 55 89 e5 0f 34" + " 90" * 7 + " eb f4 5d 5a 59 c3"))


# Pre-4.3 vdso32/syscall.S, with and without the %ss reload of the older kernels.
LEGACY_SYSCALL_SS = "55 89 cd 0f 05 b9 2b 00 00 00 8e d1 89 e9 5d c3"
LEGACY_SYSCALL = "55 89 cd 0f 05 89 e9 5d c3"


@pytest.mark.parametrize("code", [LEGACY_SYSCALL_SS, LEGACY_SYSCALL])
def test_legacy_syscall(code: str) -> None:
    d = decode_stub(h(code))
    assert d.layout is StubLayout.LEGACY_SYSCALL
    assert d.path is EntryPath.SYSCALL
    assert (d.fast_insn_offset, d.int80_offset, d.landing_pad_offset) == (3, None, 5)


def test_legacy_int80() -> None:
    d = decode_stub(h("cd 80 c3 90 90"))
    assert d.layout is StubLayout.LEGACY_INT80
    assert d.path is EntryPath.INT80
    assert (d.fast_insn_offset, d.int80_offset, d.landing_pad_offset) == (None, 0, 2)
    assert d.hex() == "cd 80 c3"


def test_garbage_bytes_show_disassembly() -> None:
    with pytest.raises(StubError) as info:
        decode_stub(h("55 89 e5 5d c3"))
    message = str(info.value)
    assert "not a known __kernel_vsyscall layout" in message
    assert "push ebp" in message and "mov ebp, esp" in message and "ret" in message
    assert "55" in message and "89 e5" in message


def test_undecodable_bytes() -> None:
    with pytest.raises(StubError) as info:
        decode_stub(h("51 52 ff ff ff ff"))
    message = str(info.value)
    assert "undecodable" in message and "(bad)" in message and "push ecx" in message


def test_no_ret() -> None:
    with pytest.raises(StubError, match="no ret"):
        decode_stub(b"\x90" * 100)
    with pytest.raises(StubError):
        decode_stub(b"")


def test_truncated_stub() -> None:
    with pytest.raises(StubError):
        decode_stub(h(SHIPPED_INTEL)[:-1])
