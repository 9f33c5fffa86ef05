"""Reports: valid after every verdict, escaped, and the three files agree."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from lab.report.results import Environment, Status, Verdict
from lab.report.run import RunReport, load_results, md_code, md_escape

ENV = Environment(
    "p1",
    "cloud-amd64",
    "debian:x=1",
    "6.1.0",
    "qemu-system-x86_64",
    "7.2.22",
    "tcg",
    "EPYC",
    "microvm",
    "AuthenticAMD",
    64,
    cell="p1@cloud-amd64",
    emulator="system",
)
CELL = "p1@cloud-amd64"


def test_incremental_and_consistent(tmp_path: Path) -> None:
    report = RunReport(tmp_path, "run1", {"profiles": ["p1"]})
    assert json.loads((tmp_path / "run1" / "results.json").read_text())["state"] == "running"
    report.add(Verdict("p1", "vdso-entry", Status.PASS, "ok", env=ENV, cell=CELL))
    report.add(
        Verdict(
            "p1",
            "regs",
            Status.FAIL,
            "ebx | <script>",
            path="regs/int80",
            observed={"ebx": 1},
            predicted={"ebx": 2},
            env=ENV,
            cell=CELL,
        )
    )
    # every verdict is in the journal at once; load_results replays it over a running run's
    # results.json, whose full rewrite may lag by journal.WRITE_EVERY_S
    assert len(load_results(tmp_path / "run1" / "results.json")["verdicts"]) == 2
    report.flush()
    data = json.loads((tmp_path / "run1" / "results.json").read_text())
    assert data["schema_version"] == 2
    assert {v["cell"] for v in data["verdicts"]} == {CELL}
    assert data["counts"]["pass"] == 1 and data["counts"]["fail"] == 1
    assert data["verdicts"][1]["env"]["accel"] == "tcg"
    suite = ET.parse(tmp_path / "run1" / "junit.xml").getroot()
    cases = suite.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["vdso-entry", "regs[regs/int80]"]
    assert cases[1].find("failure") is not None
    assert {c.get("classname") for c in cases} == {f"entrylab.{CELL}"}
    summary = (tmp_path / "run1" / "summary.md").read_text()
    assert "| p1@cloud-amd64 | ✅ pass | ❌ FAIL |" in summary
    assert "<script>" not in summary.split("```")[0]
    report.finish()
    assert json.loads((tmp_path / "run1" / "results.json").read_text())["state"] == "finished"
    assert (tmp_path / "latest").resolve() == (tmp_path / "run1").resolve()
    restored = Verdict.from_json(data["verdicts"][1])
    assert restored.status is Status.FAIL and restored.env == ENV


def test_markdown_escaping() -> None:
    assert md_escape("a|b<i>`x`") == "a\\|b\\<i\\>\\`x\\`"
    block = md_code("has ``` inside")
    assert block.startswith("````text\n") and block.endswith("\n````")


def test_guests_and_resume_are_keyed_by_cell(tmp_path: Path) -> None:
    report = RunReport(tmp_path, "run1", {"cells": [CELL]})
    assert report.guest_dir(CELL) == tmp_path / "run1" / "guests" / "p1@cloud-amd64"
    assert report.guest_dir("p1@/x/../bzImage").name == "p1@_x_.._bzImage"
    assert report.guest_dir("../etc").name == "_etc"
    report.record_guest(CELL, {"vendor": "AuthenticAMD"})
    report.record_guest(CELL, {"vendor": "AuthenticAMD"}, variant="icount+nopti")
    assert set(report.guests) == {CELL, "p1@cloud-amd64+icount+nopti"}
    assert report.guests["p1@cloud-amd64+icount+nopti"]["cell"] == CELL
    assert report.guests["p1@cloud-amd64+icount+nopti"]["variant"] == "icount+nopti"
    report.add(Verdict("p1", "vdso-entry", Status.PASS, env=ENV, cell=CELL))
    # no cell given (an engine of before cells): derived from the environment
    report.add(Verdict("p1", "regs", Status.PASS, env=ENV))
    report.add(
        Verdict(
            "p1",
            "boot",
            Status.ERROR,
            "boot failed: timeout",
            cell=CELL,
            error_kind="boot",
        )
    )
    assert report.finished_pairs() == {(CELL, "vdso-entry"), (CELL, "regs"), (CELL, "boot")}
    report.flush()
    summary = (tmp_path / "run1" / "summary.md").read_text()
    assert "error kind: boot" in summary
    assert "| p1@cloud-amd64\\+icount\\+nopti |" in summary  # md-escaped
    reopened = RunReport.reopen(tmp_path / "run1")
    assert reopened.finished_pairs() == report.finished_pairs()
    assert set(reopened.guests) == set(report.guests)
