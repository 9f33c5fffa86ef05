"""Flaky or not, on a real guest: a program that fails on alternate runs is reported flaky
with every attempt kept; one that fails every time is a failure n of n (lab.engine.confirm)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import lab_cli, latest_results

pytestmark = pytest.mark.integration

SUITE = """suite: flaky
scenarios:
  alternate:
    description: fails on the first run and every other re-run (fault_inject alternate)
    program: fault_inject
    args: [alternate]
    check: exit-code
    profiles: [amd-syscall32]
  steady:
    description: fails every time
    program: fault_inject
    args: [exit, '3']
    check: exit-code
    profiles: [amd-syscall32]
"""


def test_alternating_failure_is_flaky_and_a_steady_one_is_n_of_n(
    root: Path, tmp_path: Path
) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "flaky.yaml").write_text(SUITE)
    reports = tmp_path / "r"
    result = lab_cli(
        "run",
        "--profiles",
        "amd-syscall32",
        "--scenario-dir",
        str(scenarios),
        "--reports",
        str(reports),
        "--reruns",
        "3",
        "--attribution",
        "--plain",
        cwd=root,
        timeout=900,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    by_name = {v["scenario"]: v for v in latest_results(reports)["verdicts"]}
    flaky = by_name["alternate"]
    assert flaky["status"] == "flaky", flaky["message"]
    assert [a["status"] for a in flaky["attempts"]] == ["fail", "pass", "fail", "pass"]
    assert "2 of 4 runs bad" in flaky["message"]
    for n, a in enumerate(flaky["attempts"]):
        assert f"run {n} (entrylab.rerun={n})" in a["excerpt"], a
    # every attempt was a boot of its own, each with its console log kept
    boots = [a["boot"] for a in flaky["attempts"]]
    assert len(set(boots)) == 4
    guest = reports / "latest" / "guests" / "amd-syscall32@cloud-amd64"
    assert all((guest / b / "console.log").is_file() for b in boots)
    steady = by_name["steady"]
    assert steady["status"] == "fail" and steady["message"].endswith("[4 of 4]")
    assert [a["status"] for a in steady["attempts"]] == ["fail"] * 4
    assert "re-running" in result.stdout
    # attribution: both were run again on the other emulator build, where they fail as well
    data = latest_results(reports)
    assert data["attribution"]["evidence_runs"] == [
        "amd-syscall32@cloud-amd64 on 10.0: alternate, steady"
    ]
    for v in (flaky, steady):
        (other,) = v["elsewhere"]
        assert other["cell"] == "amd-syscall32@cloud-amd64@10.0" and other["outcome"] == "seen"
        assert v["cause"] == "unknown" and v["attribution"].startswith("seen on 7.2.")
    assert {v["cell"] for v in data["evidence"]} == {"amd-syscall32@cloud-amd64@10.0"}
    assert "steady" not in {v["scenario"] for v in data["verdicts"] if v["cell"].endswith("@10.0")}
