"""CFI of every series' image: the stub's CFI matches its code for every patched form, and the
sigreturn trampolines have the form their series writes (6.x breg4 expressions, 7.x CFA =
sigcontext with CFA-relative offsets; docs/kernel-versions.md D13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.model.cfi import check_sigreturn_cfi, check_stub_cfi
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
