"""entry-abi tracer-nr: eax after a tracer rewrote the syscall number out of range, from real
guest output (tests/data/tracer-nr/, lab/guest/tracer_nr.c) judged per kernel version (D8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lab.checks import parse_result_lines
from lab.model import CpuIdentity, Prediction, predict
from lab.model.kernel import kernel_facts
from lab.report.results import Status
from lab.suites.abi import EXPECTED_TESTS, Facts, judge

DATA = Path(__file__).resolve().parents[1] / "data"
IDENTITIES: dict[str, dict[str, Any]] = json.loads(
    (DATA / "entry-control" / "identities.json").read_text()
)


def prediction(profile: str, release: str) -> Prediction:
    i = IDENTITIES[profile]
    cpu = CpuIdentity(i["vendor"], frozenset(i["flags"]), i["family"], i["model"], i["stepping"])
    return predict(i["kernel_bits"], cpu, kernel=kernel_facts(release))


def results(name: str) -> list[dict[str, Any]]:
    text = [s for s in (DATA / "tracer-nr" / name).read_text().splitlines() if s[:1] != "#"]
    parsed, problems = parse_result_lines(text)
    assert not problems
    return parsed


@pytest.mark.parametrize(
    ("profile", "release", "data", "enosys"),
    [
        ("intel-sep", "7.2.13+deb14-cloud-amd64", "intel-sep-7.2.txt", True),
        ("intel-sep", "7.3-cloud-amd64", "intel-sep-7.3-rc.txt", False),
        ("i386-intel-sep", "6.1.0-50-686", "i386-intel-sep-6.1.txt", True),
    ],
)
def test_each_version_returns_what_its_rules_say(
    profile: str, release: str, data: str, enosys: bool
) -> None:
    pred = prediction(profile, release)
    lines = results(data)
    assert [r["test"] for r in lines] == list(EXPECTED_TESTS["tracer-nr"])
    for r in lines:
        status, message, predicted = judge("tracer-nr", r, pred, Facts(None))
        assert status is Status.PASS, message
        assert (predicted["eax"] == "-ENOSYS") is enosys


def test_a_7_2_answer_on_7_3_is_a_failure_naming_both() -> None:
    r = results("intel-sep-7.2.txt")[0]
    status, message, _ = judge(
        "tracer-nr", r, prediction("intel-sep", "7.3-cloud-amd64"), Facts(None)
    )
    assert status is Status.FAIL
    assert "0xffffffda" in message and "as the tracer wrote it" in message
