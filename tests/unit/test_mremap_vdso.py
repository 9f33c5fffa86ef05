"""entry-control mremap-vdso: vdso_fix_landing() per version (D9) and the data mappings below
the vDSO (D10), judged on what the guests printed (run 20261202-123919-690c, QEMU 7.2.22 TCG)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from lab.model import CpuIdentity, Prediction, predict
from lab.model.kernel import kernel_facts
from lab.report.results import Status
from lab.suites.control import judge_mremap

DATA = Path(__file__).resolve().parents[1] / "data"
INTEL = json.loads((DATA / "entry-control" / "identities.json").read_text())["intel-sep"]
CPU = CpuIdentity(
    INTEL["vendor"], frozenset(INTEL["flags"]), INTEL["family"], INTEL["model"], INTEL["stepping"]
)
SURVIVED = {"survived": True, "exit": 0, "signal": 0, "vdso_size": 12288}


def prediction(release: str, cmdline: str = "") -> Prediction:
    return predict(64, CPU, kernel=kernel_facts(release, cmdline=cmdline))


def result(test: str, observed: dict[str, Any]) -> dict[str, Any]:
    return {"test": test, "status": "pass", "observed": observed}


@pytest.mark.parametrize(
    ("release", "below"),
    [
        ("6.1.0-50-cloud-amd64", "[vvar]"),
        ("6.12.117+deb13-cloud-amd64", "[vvar]"),
        ("7.2.13+deb14-cloud-amd64", "[vvar] [vvar_vclock]"),
        ("7.3-cloud-amd64", "[vvar] [vvar_vclock]"),
    ],
)
def test_maps_below_the_vdso_per_version(release: str, below: str) -> None:
    status, message, _ = judge_mremap(
        prediction(release), result("mremap-vdso/maps", {"below_vdso": below})
    )
    assert status is Status.PASS, message
    status, _, predicted = judge_mremap(
        prediction(release), result("mremap-vdso/maps", {"below_vdso": "[vvar] [other]"})
    )
    assert status is Status.FAIL and predicted == {"below_vdso": below}


def test_7_2_int80_only_stub_survives_by_the_any_ip_rule() -> None:
    pred = prediction("7.2.13+deb14-cloud-amd64", "clearcpuid=111")
    assert pred.landing_pad_offset == 2 and pred.fast_landing_pad_offset == 0xC
    status, message, predicted = judge_mremap(pred, result("mremap-vdso/vdso_sym/moved", SURVIVED))
    assert status is Status.PASS, message
    assert "any ip" in predicted["why"]
    # Under 6.x's rule (landing pad only) that stub's return at +2 would not be moved.
    six = dataclasses.replace(pred, mremap_moves_any_ip=False)
    status, message, predicted = judge_mremap(six, result("mremap-vdso/vdso_sym/moved", SURVIVED))
    assert status is Status.FAIL and predicted["survived"] is False


def test_a_death_on_6_1_is_a_failure_with_the_signal() -> None:
    died = {"survived": False, "exit": -1, "signal": 11, "vdso_size": 8192}
    status, message, _ = judge_mremap(
        prediction("6.1.0-50-cloud-amd64"), result("mremap-vdso/vdso_sym/moved", died)
    )
    assert status is Status.FAIL and "signal 11" in message
