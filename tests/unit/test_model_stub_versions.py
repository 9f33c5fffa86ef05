"""The predicted stub per series equals the real image replayed for each vendor's features."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.model.kernel import kernel_facts
from lab.model.paths import CpuIdentity, EntryPath
from lab.model.selection import kernel_features, select_path
from lab.model.stub import (
    INT80_ONLY_LANDING_PAD,
    SYSFAST32_LANDING_PAD,
    StubLayout,
    decode_stub,
    stub_bytes,
)
from lab.model.vdso import parse_vdso

VDSO = Path(__file__).resolve().parents[1] / "data" / "vdso"
RELEASES = {
    "6.1": "6.1.0-50-cloud-amd64",
    "6.12": "6.12.117+deb13-cloud-amd64",
    "7.2": "7.2.13+deb14-cloud-amd64",
    "7.3-rc": "7.3.0-rc7-cloud-amd64",
}
VENDORS = (
    "GenuineIntel",
    "AuthenticAMD",
    "HygonGenuine",
    "CentaurHauls",
    "  Shanghai  ",
    "GenuineTMx86",
    "SomeNewCPU!!",
)


@pytest.mark.parametrize("series", RELEASES)
@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("extra", [(), ("fred",)])
def test_predicted_stub_is_the_replayed_image(
    series: str, vendor: str, extra: tuple[str, ...]
) -> None:
    facts = kernel_facts(RELEASES[series])
    cpu = CpuIdentity(vendor, frozenset({"sep", *extra}))
    vdso = parse_vdso((VDSO / f"{series}-cloud-amd64-vdso32.so").read_bytes())
    got = vdso.patched(kernel_features(64, cpu, kernel=facts), 64).stub()
    sel = select_path(64, cpu, kernel=facts)
    assert got.path is sel.path
    assert bytes.fromhex(got.hex()) == stub_bytes(sel.path, 64, sysfast32_layout=facts.series7)
    assert got.restart_offset is not None
    code = bytes.fromhex(got.hex())
    assert code[got.restart_offset : got.restart_offset + 2] == bytes.fromhex("cd80")
    if facts.series7:
        if sel.path is EntryPath.INT80:
            assert got.layout is StubLayout.INT80_ONLY
            assert got.landing_pad_offset == INT80_ONLY_LANDING_PAD and got.int80_offset == 0
        else:
            assert got.layout is StubLayout.SYSFAST32
            assert got.landing_pad_offset == SYSFAST32_LANDING_PAD == 0xC
            assert got.int80_offset == 0xA and got.fast_insn_offset == 0x8
    else:
        assert got.layout is StubLayout.SHIPPED and got.landing_pad_offset == 9


def test_7x_expected_bytes() -> None:
    assert stub_bytes(EntryPath.INT80, 64, sysfast32_layout=True).hex() == "cd80c3"
    assert stub_bytes(EntryPath.SYSENTER, 64, sysfast32_layout=True).hex(" ") == (
        "0f 1f 00 51 52 55 89 e5 0f 34 cd 80 5d 5a 59 c3"
    )
    assert stub_bytes(EntryPath.SYSCALL, 64, sysfast32_layout=True).hex(" ") == (
        "0f 1f 00 51 52 55 89 cd 0f 05 cd 80 5d 5a 59 c3"
    )
    d = decode_stub(stub_bytes(EntryPath.SYSENTER, 32, sysfast32_layout=True))
    assert d.layout is StubLayout.SYSFAST32 and d.path is EntryPath.SYSENTER


def test_plain_int80_ret_is_still_legacy() -> None:
    assert decode_stub(bytes.fromhex("cd80c3cc")).layout is StubLayout.LEGACY_INT80
