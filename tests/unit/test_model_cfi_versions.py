"""CFI of every series' image: the stub's CFI matches its code for every patched form, and the
sigreturn trampolines have the form their series writes (6.x breg4 expressions, 7.x CFA =
sigcontext with CFA-relative offsets; docs/kernel-versions.md D13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.model.cfi import (
    FALLBACK_CODE,
    CfiRow,
    Fde,
    check_sigreturn_cfi,
    check_stub_cfi,
    fde_covering,
    vdso_fdes,
)
from lab.model.vdso import parse_vdso

VDSO = Path(__file__).resolve().parents[1] / "data" / "vdso"
IMAGES = {"6.1": False, "6.12": False, "7.2": True, "7.3-rc": True}


@pytest.mark.parametrize("series", IMAGES)
@pytest.mark.parametrize("features", [set(), {111}, {110, 111}])
def test_stub_cfi_matches_code(series: str, features: set[int]) -> None:
    vdso = parse_vdso((VDSO / f"{series}-cloud-amd64-vdso32.so").read_bytes())
    assert check_stub_cfi(vdso.patched(features, 64)).ok


@pytest.mark.parametrize("series", IMAGES)
def test_sigreturn_cfi_form_per_series(series: str) -> None:
    vdso = parse_vdso((VDSO / f"{series}-cloud-amd64-vdso32.so").read_bytes())
    new_form = IMAGES[series]
    reports = check_sigreturn_cfi(vdso, cfa_is_sigcontext=new_form)
    assert [r.symbol for r in reports] == ["__kernel_sigreturn", "__kernel_rt_sigreturn"]
    assert all(r.ok for r in reports), [r.problems for r in reports]
    wrong = check_sigreturn_cfi(vdso, cfa_is_sigcontext=not new_form)
    assert not any(r.ok for r in wrong)


@pytest.mark.parametrize("series", IMAGES)
def test_how_libgcc_finds_the_trampolines_rules(series: str) -> None:
    """From the handler libgcc looks up symbol - 1: the FDE on 6.x ("HACK", 6.1 sigreturn.S:
    56-62), nothing on 7.x, where the code-pattern fallback takes over (7.2 sigreturn.S:28-55)."""
    vdso = parse_vdso((VDSO / f"{series}-cloud-amd64-vdso32.so").read_bytes())
    new_form = IMAGES[series]
    fdes = vdso_fdes(vdso)
    for report in check_sigreturn_cfi(vdso, fdes, cfa_is_sigcontext=new_form):
        addr = vdso.symbols[report.symbol]
        before = fde_covering(fdes, addr - 1)
        if new_form:
            assert report.libgcc == "fallback" and before is None
            off = vdso.file_offset(addr)
            assert (
                vdso.raw[off : off + len(FALLBACK_CODE[report.symbol])]
                == (FALLBACK_CODE[report.symbol])
            )
            assert report.fde_range is not None and report.fde_range[0] == addr
        else:
            assert report.libgcc == "fde" and before is not None and before.start == addr - 1


def _moved(fdes: tuple[Fde, ...], symbol_addr: int, delta: int) -> list[Fde]:
    return [
        Fde(f.start + delta, f.end, f.augmentation, f.rows, f.program)
        if f.start == symbol_addr
        else f
        for f in fdes
    ]


def test_7x_check_catches_an_fde_libgcc_would_misuse_or_wrong_rules() -> None:
    vdso = parse_vdso((VDSO / "7.2-cloud-amd64-vdso32.so").read_bytes())
    fdes = vdso_fdes(vdso)
    rt = vdso.symbols["__kernel_rt_sigreturn"]
    # an FDE that (like 6.x's) starts one byte early: libgcc would take it, not the fallback
    early = check_sigreturn_cfi(vdso, _moved(fdes, rt, -1), cfa_is_sigcontext=True)[1]
    assert early.libgcc == "fde" and any("symbol - 1" in p for p in early.problems)
    # an eflags rule missing from the CIE
    broken = [
        Fde(
            f.start,
            f.end,
            f.augmentation,
            tuple(CfiRow(r.pc, r.cfa, {k: v for k, v in r.regs.items() if k != 9}) for r in f.rows),
            f.program,
        )
        if f.start == rt
        else f
        for f in fdes
    ]
    report = check_sigreturn_cfi(vdso, broken, cfa_is_sigcontext=True)[1]
    # every instruction boundary: mov, int $0x80, ud2 (the landing pad)
    assert [p.split(":")[0] for p in report.problems] == [hex(rt), hex(rt + 5), hex(rt + 7)]
    assert all("eflags" in p for p in report.problems)
    assert check_sigreturn_cfi(vdso, (), cfa_is_sigcontext=True)[0].problems[-1] == (
        "no FDE covers it"
    )
