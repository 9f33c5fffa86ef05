"""lab.model.vdso: parsing real 6.1 vdso32 images and replaying apply_alternatives()."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from lab.model import (
    CpuIdentity,
    EntryPath,
    StubLayout,
    VdsoError,
    VdsoImage,
    apply_alternatives,
    kernel_features,
    parse_vdso,
    predict,
    select_path,
)
from lab.model.selection import X86_FEATURE_SEP, X86_FEATURE_SYSCALL32, X86_FEATURE_SYSENTER32
from lab.model.stub import SYSCALL_SEQUENCE, SYSENTER_SEQUENCE, X86_NOPS

DATA = Path(__file__).resolve().parent.parent / "data" / "model"
# Both are vdso_image_32.data (page-padded) cut out of Debian's 6.1.176-1 vmlinux, unpatched.
IMAGES = {
    64: DATA / "vdso32-6.1.176-cloud-amd64-unpatched.so",
    32: DATA / "vdso32-6.1.176-686-unpatched.so",
}
SHA256 = {
    64: "7a6c7db59e809609754aa2e7f10cd7c1746b7e0118d3b3e943a17309bca31504",
    32: "6209cf176f7b6f39b7188cff7509c8a1cdc7985beb0d56de72ad302729825257",
}
STUB_AT = 0x550  # __kernel_vsyscall in both images (see /work/shared/notes/entry-semantics.md)
ALT_SITE = STUB_AT + 3


@pytest.fixture(scope="module", params=[64, 32], ids=["cloud-amd64", "686"])
def bits(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def load(kernel_bits: int) -> VdsoImage:
    return parse_vdso(IMAGES[kernel_bits].read_bytes())


def test_real_image_parses(bits: int) -> None:
    vdso = load(bits)
    assert len(vdso.raw) == 8192  # vdso2c pads the image to whole pages
    assert vdso.kernel_vsyscall == STUB_AT
    assert vdso.kernel_vsyscall_offset == STUB_AT
    assert vdso.symbols["__kernel_vsyscall"] == STUB_AT
    for name in ("__kernel_sigreturn", "__kernel_rt_sigreturn", "__vdso_clock_gettime"):
        assert name in vdso.symbols
    assert vdso.load_segments == ((0, 0, vdso.load_segments[0][2]),)


def test_real_image_is_unpatched(bits: int) -> None:
    stub = load(bits).stub()
    assert stub.layout is StubLayout.SHIPPED
    assert stub.path is EntryPath.INT80
    assert stub.hex() == "51 52 55 90 90 90 90 cd 80 5d 5a 59 c3"
    assert (stub.int80_offset, stub.landing_pad_offset) == (7, 9)


def test_alternative_table_matches_system_call_s(bits: int) -> None:
    sites = [a for a in load(bits).alternatives if a.site == ALT_SITE]
    if bits == 64:
        # ALTERNATIVE_2 "", SYSENTER_SEQUENCE, X86_FEATURE_SYSENTER32, SYSCALL_SEQUENCE, ...32
        assert [(a.feature, a.replacement) for a in sites] == [
            (X86_FEATURE_SYSENTER32, SYSENTER_SEQUENCE),
            (X86_FEATURE_SYSCALL32, SYSCALL_SEQUENCE),
        ]
    else:
        assert [(a.feature, a.replacement) for a in sites] == [(X86_FEATURE_SEP, SYSENTER_SEQUENCE)]
    assert all(a.instrlen == 4 and not a.inverted for a in sites)


@pytest.mark.parametrize(
    ("features", "path"),
    [
        ({X86_FEATURE_SYSENTER32}, EntryPath.SYSENTER),
        ({X86_FEATURE_SYSCALL32}, EntryPath.SYSCALL),
        ({X86_FEATURE_SEP}, EntryPath.INT80),  # SEP is not consulted on 64-bit
        (set(), EntryPath.INT80),
        # Never happens by vendor; table order makes the later SYSCALL32 entry win.
        ({X86_FEATURE_SYSENTER32, X86_FEATURE_SYSCALL32}, EntryPath.SYSCALL),
    ],
)
def test_apply_alternatives_64(features: set[int], path: EntryPath) -> None:
    stub = load(64).patched(features, 64).stub()
    assert stub.layout is StubLayout.SHIPPED and stub.path is path


@pytest.mark.parametrize(
    ("features", "path"),
    [
        ({X86_FEATURE_SEP}, EntryPath.SYSENTER),
        ({X86_FEATURE_SYSCALL32, X86_FEATURE_SYSENTER32}, EntryPath.INT80),
        (set(), EntryPath.INT80),
    ],
)
def test_apply_alternatives_32(features: set[int], path: EntryPath) -> None:
    stub = load(32).patched(features, 32).stub()
    assert stub.layout is StubLayout.SHIPPED and stub.path is path


def test_patched_bytes_match_measured_guests() -> None:
    image = load(64)
    intel = image.patched({X86_FEATURE_SYSENTER32}, 64).stub().hex()
    amd = image.patched({X86_FEATURE_SYSCALL32}, 64).stub().hex()
    unknown = image.patched(set(), 64).stub().hex()
    assert intel == "51 52 55 89 e5 0f 34 cd 80 5d 5a 59 c3"
    assert amd == "51 52 55 89 cd 0f 05 cd 80 5d 5a 59 c3"
    assert unknown == "51 52 55 0f 1f 40 00 cd 80 5d 5a 59 c3"
    nosep32 = load(32).patched(set(), 32).stub().hex()
    assert nosep32 == "51 52 55 8d 74 26 00 cd 80 5d 5a 59 c3"


@pytest.mark.parametrize(
    ("bits", "which"),
    [(64, "sysenter"), (64, "syscall"), (64, "nop"), (32, "sysenter"), (32, "nop")],
)
def test_hand_patched_variants(bits: int, which: str) -> None:
    """Write each alternative's bytes at the site by hand; same result as the replay."""
    image = load(bits)
    alt = {"sysenter": SYSENTER_SEQUENCE, "syscall": SYSCALL_SEQUENCE}.get(which, X86_NOPS[bits][3])
    raw = bytearray(image.raw)
    raw[ALT_SITE : ALT_SITE + 4] = alt
    stub = parse_vdso(bytes(raw)).stub()
    expected = {"sysenter": EntryPath.SYSENTER, "syscall": EntryPath.SYSCALL}.get(
        which, EntryPath.INT80
    )
    assert stub.path is expected
    features = {
        "sysenter": {X86_FEATURE_SYSENTER32 if bits == 64 else X86_FEATURE_SEP},
        "syscall": {X86_FEATURE_SYSCALL32},
        "nop": set(),
    }[which]
    replay = apply_alternatives(image, features, bits)
    assert replay[STUB_AT : STUB_AT + 16] == bytes(raw[STUB_AT : STUB_AT + 16])


VENDORS = ("GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls", "  Shanghai  ")


@pytest.mark.parametrize("sep", [True, False], ids=["sep", "nosep"])
@pytest.mark.parametrize("vendor", (*VENDORS, "GenuineTMx86"))
def test_model_agrees_with_replayed_kernel_patching(bits: int, vendor: str, sep: bool) -> None:
    """select_path/predict against apply_alternatives() on the real image for the same CPU."""
    cpu = CpuIdentity(vendor, frozenset({"sep"} if sep else set()))
    stub = load(bits).patched(kernel_features(bits, cpu), bits).stub()
    assert stub.path is select_path(bits, cpu).path
    assert stub.hex() == predict(bits, cpu).expected_stub_hex


def test_other_alternatives_get_kernel_nops() -> None:
    """optimize_nops() also rewrites rdtsc_ordered()'s padding: 0f 31 + BYTES_NOP3."""
    for bits in (64, 32):
        image = load(bits)
        patched = apply_alternatives(image, set(), bits)
        rdtsc = [a for a in image.alternatives if a.site != ALT_SITE]
        assert rdtsc
        for a in rdtsc:
            assert image.raw[a.site : a.site + 5] == bytes.fromhex("0f31909090")
            assert patched[a.site : a.site + 5] == bytes.fromhex("0f31") + X86_NOPS[bits][2]


def test_parse_without_section_headers() -> None:
    """A vDSO dumped from memory may lack sections: symbols come from PT_DYNAMIC."""
    raw = bytearray(IMAGES[64].read_bytes())
    struct.pack_into("<I", raw, 0x20, 0)  # e_shoff
    struct.pack_into("<HHH", raw, 0x2E, 0, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
    vdso = parse_vdso(bytes(raw))
    assert vdso.kernel_vsyscall == STUB_AT
    assert vdso.alternatives == ()
    assert vdso.stub().layout is StubLayout.SHIPPED


def test_file_offset_follows_pt_load() -> None:
    vdso = VdsoImage(b"\x00" * 0x2000, {}, 0xFFFFE400, ((0xFFFFE000, 0x1000, 0x1000),))
    assert vdso.file_offset(0xFFFFE400) == 0x1400
    with pytest.raises(VdsoError, match="PT_LOAD"):
        vdso.file_offset(0x400)


@pytest.mark.parametrize("size", [0, 3, 16, 52, 100, 1000, 3000, 5600, 6000])
def test_truncated_elf(size: int) -> None:
    raw = IMAGES[64].read_bytes()[:size]
    with pytest.raises(VdsoError) as info:
        parse_vdso(raw)
    assert str(info.value)


def test_truncated_after_section_headers_is_fine() -> None:
    raw = IMAGES[64].read_bytes()
    assert parse_vdso(raw[:6464]).kernel_vsyscall == STUB_AT  # e_shoff + e_shnum * e_shentsize


def test_not_elf() -> None:
    with pytest.raises(VdsoError, match="not an ELF"):
        parse_vdso(b"MZ\x90\x00" + b"\x00" * 100)


def test_wrong_machine() -> None:
    raw = bytearray(IMAGES[64].read_bytes())
    struct.pack_into("<H", raw, 18, 62)  # EM_X86_64
    with pytest.raises(VdsoError, match="32-bit x86"):
        parse_vdso(bytes(raw))


def test_no_kernel_vsyscall() -> None:
    raw = IMAGES[64].read_bytes()
    assert raw.count(b"__kernel_vsyscall\x00") == 1
    raw = raw.replace(b"__kernel_vsyscall\x00", b"__kernel_vsyscalX\x00")
    with pytest.raises(VdsoError, match="no __kernel_vsyscall") as info:
        parse_vdso(raw)
    assert "__kernel_vsyscalX" in str(info.value)


def test_fixtures_are_the_captured_bytes() -> None:
    for bits, path in IMAGES.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA256[bits], path


def test_a_newer_kernels_14_byte_alternatives_parse() -> None:
    """Linux 6.18 widened alt_instr's feature word (u32 ft_flags): 14-byte entries."""
    from pathlib import Path

    from lab.model import EntryPath, parse_vdso

    image = Path(__file__).parents[1] / "data" / "model" / "vdso32-6.18-host-amd-patched.so"
    vdso = parse_vdso(image.read_bytes())
    assert len(vdso.alternatives) == 17
    stub = vdso.stub()
    assert stub.path is EntryPath.SYSCALL
    assert stub.hex() == "51 52 55 89 cd 0f 05 cd 80 5d 5a 59 c3"
