"""vDSO alternatives of every series' real image: 14-byte entries chosen by sh_entsize, and the
rel32 CALL relocation 7.x's time fallbacks need (arch/x86/kernel/alternative.c)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from lab.model.vdso import VdsoError, _relocate, apply_alternatives, parse_vdso

VDSO = Path(__file__).resolve().parents[1] / "data" / "vdso"
IMAGES = ("6.1", "6.12", "7.2", "7.3-rc")


def image(series: str) -> bytes:
    return (VDSO / f"{series}-cloud-amd64-vdso32.so").read_bytes()


@pytest.mark.parametrize("series", IMAGES)
def test_every_image_parses(series: str) -> None:
    vdso = parse_vdso(image(series))
    assert vdso.alternatives
    features = {a.feature for a in vdso.alternatives}
    assert 111 in features


@pytest.mark.parametrize("series", ("7.2", "7.3-rc"))
def test_7x_time_fallbacks_call_the_stub_after_patching(series: str) -> None:
    vdso = parse_vdso(image(series))
    calls = [a for a in vdso.alternatives if a.replacement[:1] == b"\xe8"]
    assert calls, "7.x fallbacks have call __kernel_vsyscall alternatives"
    patched = apply_alternatives(vdso, {111}, 64)
    for alt in calls:
        assert vdso.raw[alt.site : alt.site + 5] == bytes.fromhex("3e3e3ecd80")  # ds;ds;ds;int80
        assert patched[alt.site] == 0xE8
        rel = struct.unpack_from("<i", patched, alt.site + 1)[0]
        assert alt.site + 5 + rel == vdso.kernel_vsyscall_offset
    unpatched = apply_alternatives(vdso, set(), 64)
    for alt in calls:
        assert unpatched[alt.site : alt.site + 5] == bytes.fromhex("3e3e3ecd80")


def test_relocate_keeps_internal_targets_and_refuses_short_jumps() -> None:
    assert _relocate(bytes.fromhex("e800000000"), 100, 10) == bytes.fromhex("e800000000")
    assert _relocate(bytes.fromhex("e810000000"), 100, 10)[1:] == struct.pack("<i", 0x10 + 90)
    with pytest.raises(VdsoError):
        _relocate(bytes.fromhex("eb10"), 100, 10)
