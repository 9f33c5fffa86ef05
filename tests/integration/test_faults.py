"""Faults injected for real in real guests: the run finishes what it can and loses nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SUITE = """\
suite: faults
scenarios:
  garbage-output:
    program: fault_inject
    args: [garbage]
    check: results
  kernel-panic:
    program: fault_inject
    args: [panic]
    check: exit-code
  after-the-panic:
    check: vdso-entry
"""


def test_panic_reboots_and_the_profile_carries_on(root: Path, tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "faults.yaml").write_text(SUITE)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab.cli",
            "run",
            "--profiles",
            "i386-intel-sep",
            "--scenario-dir",
            str(scenarios),
            "--reports",
            str(tmp_path / "reports"),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    run = (tmp_path / "reports" / "latest").resolve()
    data = json.loads((run / "results.json").read_text())
    by_key = {(v["scenario"], v["path"]): v for v in data["verdicts"]}

    # Hostile guest output: the good line counts, the bad ones are an error, nothing is dropped.
    assert by_key[("garbage-output", "ok/one")]["status"] == "pass"
    bad = by_key[("garbage-output", None)]
    assert bad["status"] == "error" and "unparseable guest output" in bad["message"]
    assert len(bad["observed"]) == 2
    summary = (run / "summary.md").read_text()
    outside_code = summary.split("```")[::2]
    assert not any("<script>" in part for part in outside_code)
    assert "\\<script\\>" in summary and "\x1b" not in summary

    # The panic fails its own scenario with the console excerpt; the next one runs after a reboot.
    panic = by_key[("kernel-panic", None)]
    assert panic["status"] == "error" and panic["message"].startswith("guest panic")
    assert "Kernel panic - not syncing" in panic["excerpt"]
    assert by_key[("after-the-panic", None)]["status"] == "pass"
    assert data["guests"]["i386-intel-sep@686"]["boots"] == 2
    assert (run / "guests" / "i386-intel-sep@686" / "boot1" / "console.log").read_bytes().count(
        b"sysrq"
    ) >= 1
