"""Reports: valid after every verdict, escaped, and the three files agree."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from lab.report.results import Environment, Status, Verdict
from lab.report.run import RunReport, md_code, md_escape

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
)


def test_incremental_and_consistent(tmp_path: Path) -> None:
    report = RunReport(tmp_path, "run1", {"profiles": ["p1"]})
    assert json.loads((tmp_path / "run1" / "results.json").read_text())["state"] == "running"
    report.add(Verdict("p1", "vdso-entry", Status.PASS, "ok", env=ENV))
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
        )
    )
    data = json.loads((tmp_path / "run1" / "results.json").read_text())
    assert data["schema_version"] == 1
    assert data["counts"]["pass"] == 1 and data["counts"]["fail"] == 1
    assert data["verdicts"][1]["env"]["accel"] == "tcg"
    suite = ET.parse(tmp_path / "run1" / "junit.xml").getroot()
    cases = suite.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["vdso-entry", "regs[regs/int80]"]
    assert cases[1].find("failure") is not None
    summary = (tmp_path / "run1" / "summary.md").read_text()
    assert "| p1 | ✅ pass | ❌ FAIL |" in summary
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
