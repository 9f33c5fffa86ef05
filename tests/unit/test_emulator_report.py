"""The report side of the emulator axis, on recorded verdicts (results.json dicts built here):
a run on two emulator builds shows each profile@kernel's cells side by side with a status that
differs marked, every finding shows its cause, evidence, attribution, the other builds' results
and its re-runs, and reports without those fields render as before."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lab import cli
from lab.dashboard import legend, matrix_table
from lab.errors import LabError
from lab.report import browse, kernel_diff
from lab.report.emulators import emulator_axis
from lab.report.history import load
from lab.report.html import render_html
from lab.report.results import Verdict
from lab.report.run import summary_markdown

RUN = "20260301-000000-emu2"
VERSION = {"system": "7.2.22", "10.0": "10.0.2"}


def env(cell: str) -> dict[str, Any]:
    profile, kernel, *rest = cell.split("@")
    emulator = rest[0] if rest else "system"
    return {
        "profile": profile,
        "kernel": kernel,
        "kernel_origin": "debian:linux-image=1",
        "kernel_release": "6.1.0-50-cloud-amd64",
        "qemu": "qemu-system-x86_64",
        "qemu_version": VERSION[emulator],
        "accel": "tcg",
        "cpu_model": "Skylake-Client-v4",
        "machine_type": "microvm",
        "vendor": "GenuineIntel",
        "kernel_bits": 64,
        "cell": cell,
        "emulator": emulator,
    }


def v(cell: str, scenario: str, status: str, **extra: Any) -> dict[str, Any]:
    """A verdict as results.json has it."""
    return {
        "profile": cell.split("@")[0],
        "scenario": scenario,
        "status": status,
        "message": extra.pop("message", ""),
        "path": extra.pop("path", None),
        "cell": cell,
        "env": env(cell),
        **extra,
    }


FAR_RET = {
    "message": "far return pops as a supervisor access",
    "cause": "emulator",
    "evidence": ["silicon: user-mode pops", "source: QEMU commit 1234abcd"],
    "attribution": "seen on 7.2.22 (system); gone on 10.0.2 (10.0)",
    "elsewhere": [
        {
            "emulator": "10.0",
            "qemu_version": "10.0.2",
            "target": "qemu",
            "status": "pass",
            "outcome": "gone",
            "message": "",
            "cell": "intel-sep@cloud-amd64@10.0",
        }
    ],
}
FLAKY = {
    "message": "flaky: 2 of 3 runs bad (fail, pass, fail); first: GSBASE changed to 0x0",
    "cause": "unknown",
    "evidence": ["re-runs disagreed (2 of 3 bad)"],
    "attempts": [
        {"status": "fail", "message": "GSBASE changed to 0x0", "excerpt": "<b>oops</b>"}
        | {"boot": "b1"},
        {"status": "pass", "message": "", "excerpt": "", "boot": "b2"},
        {"status": "fail", "message": "GSBASE changed to 0x0", "excerpt": "x", "boot": "b3"},
    ],
}

TWO_EMULATORS = [
    v("intel-sep@cloud-amd64", "vdso-entry", "pass"),
    v("intel-sep@cloud-amd64", "far-ret", "divergence", **FAR_RET),
    v("amd-syscall32@cloud-amd64", "vdso-entry", "pass"),
    v("amd-syscall32@cloud-amd64", "far-ret", "pass"),
    v("intel-sep@cloud-amd64@10.0", "vdso-entry", "pass"),
    v("intel-sep@cloud-amd64@10.0", "far-ret", "pass"),
    v("amd-syscall32@cloud-amd64@10.0", "vdso-entry", "flaky", **FLAKY),
    v("amd-syscall32@cloud-amd64@10.0", "far-ret", "pass"),
]


def results(verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for x in verdicts:
        counts[x["status"]] = counts.get(x["status"], 0) + 1
    return {
        "schema_version": 2,
        "run_id": RUN,
        "kind": "run",
        "state": "finished",
        "started": "2026-03-01T00:00:00+00:00",
        "finished": "2026-03-01T00:10:00+00:00",
        "counts": counts,
        "guests": {
            x["cell"]: {"cell": x["cell"], "variant": "", "vendor": "GenuineIntel"}
            for x in verdicts
            if "cell" in x
        },
        "verdicts": verdicts,
    }


def write(reports: Path, data: dict[str, Any]) -> Path:
    run = reports / data["run_id"]
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps(data))
    return run


def terminal(data: dict[str, Any], tmp_path: Path, width: int = 200) -> str:
    """What `lab report show` prints (details included)."""
    console = Console(width=width, record=True, file=io.StringIO())
    run = write(tmp_path, data)
    browse.show_matrix(console, load(run), run, details=True)
    return console.export_text()


def test_two_emulators_stand_side_by_side_in_the_terminal(tmp_path: Path) -> None:
    text = terminal(results(TWO_EMULATORS), tmp_path)
    matrix = text[text.index(f"run {RUN} (finished)") :]
    rows = [line for line in matrix.splitlines() if "@cloud-amd64" in line and "│" in line]
    cells = [row.split("│")[1].strip() for row in rows]
    assert cells == [
        "intel-sep@cloud-amd64",
        "intel-sep@cloud-amd64@10.0",
        "amd-syscall32@cloud-amd64",
        "amd-syscall32@cloud-amd64@10.0",
    ]
    assert "QEMU 7.2.22 (system)" in rows[0] and "QEMU 10.0.2 (10.0)" in rows[1]
    # far-ret differs on intel-sep (diverge vs pass), vdso-entry on amd (pass vs FLAKY)
    assert re.search(r"≠ diverge", rows[0]) and re.search(r"≠ pass", rows[1])
    assert "≠" not in rows[0].split("│")[3]  # vdso-entry passes on both builds
    assert re.search(r"≠ pass .*│ +pass", rows[2]) and "≠ FLAKY" in rows[3]
    assert "≠ = the status differs between emulator builds" in text


def test_one_emulator_looks_as_it_always_did() -> None:
    one = [x for x in TWO_EMULATORS if not x["cell"].endswith("@10.0")]
    axis = emulator_axis(one)
    assert not axis.spans
    with_axis, without = (Console(width=160, record=True, file=io.StringIO()) for _ in range(2))
    with_axis.print(matrix_table(one, "run", None, axis))
    without.print(matrix_table(one, "run"))
    assert with_axis.export_text() == without.export_text()
    assert "emulator" not in without.export_text() and "≠" not in without.export_text()
    page = render_html(results(one), plots=False)
    assert "<th>emulator</th>" not in page and "≠" not in page and "by kernel</h2>" in page


def test_two_emulators_stand_side_by_side_in_html() -> None:
    page = render_html(results(TWO_EMULATORS), plots=False)
    assert "by kernel and emulator</h2>" in page and "<th>emulator</th>" in page
    order = [
        page.index(s)
        for s in (
            "<th>intel-sep@cloud-amd64<br>",
            "<td class=emu>QEMU 7.2.22 (system)</td>",
            "<th>intel-sep@cloud-amd64@10.0<br>",
            "<td class=emu>QEMU 10.0.2 (10.0)</td>",
            "<tr class=pair><th>amd-syscall32@cloud-amd64<br>",
            "<th>amd-syscall32@cloud-amd64@10.0<br>",
        )
    ]
    assert order == sorted(order)
    assert page.count('class="div differs"') == 1 and page.count('class="flaky differs"') == 1
    assert page.count('class="pass differs"') == 2
    assert "Emulators side by side: QEMU 7.2.22 (system), QEMU 10.0.2 (10.0)" in page


def test_findings_show_their_evidence_in_the_terminal(tmp_path: Path) -> None:
    text = terminal(results(TWO_EMULATORS), tmp_path)
    findings = text[text.index("findings (2)") :]
    for line in (
        "diverge intel-sep@cloud-amd64/far-ret: far return pops as a supervisor access",
        "    cause: emulator",
        "    evidence: source: QEMU commit 1234abcd",
        "    attribution: seen on 7.2.22 (system); gone on 10.0.2 (10.0)",
        "    elsewhere: QEMU 10.0.2 (10.0): pass, gone",
        "FLAKY amd-syscall32@cloud-amd64@10.0/vdso-entry: flaky: 2 of 3 runs bad",
        "    re-runs: 2 of 3 bad",
        "      attempt 1 (b1): fail — GSBASE changed to 0x0",
        "      attempt 2 (b2): pass",
    ):
        assert line in findings, line
    assert "FLAKY = re-runs on fresh boots disagreed" in text
    assert "<b>oops</b>" not in text  # attempts' excerpts are for the HTML report


def test_findings_show_their_evidence_in_html() -> None:
    page = render_html(results(TWO_EMULATORS), plots=False)
    details = page[page.index("<h2>Not passing") :]
    assert "· cause emulator · seen on 7.2.22 (system); gone on 10.0.2 (10.0)</span>" in details
    assert "<li>evidence: silicon: user-mode pops</li>" in details
    assert '<tr><th>QEMU 10.0.2 (10.0)</th><td class="pass">pass</td><td>gone</td>' in details
    assert "cause unknown · 2 of 3 bad</span>" in details
    assert "<p>re-run on fresh boots: 2 of 3 bad</p>" in details
    assert '<td>b2</td><td class="pass">pass</td>' in details
    # each attempt's excerpt, collapsed and escaped (guest text is data)
    assert "<details><summary>excerpt</summary><pre>&lt;b&gt;oops&lt;/b&gt;</pre></details>" in (
        details
    )
    assert "<b>oops</b>" not in page
    assert "flaky = re-runs on fresh boots disagreed" in page


def test_summary_markdown_has_the_emulator_column_and_the_evidence() -> None:
    data = results(TWO_EMULATORS)
    verdicts = [Verdict.from_json(x) for x in data["verdicts"]]
    md = summary_markdown(data, data["guests"], verdicts)
    assert "| cell | emulator | vdso-entry | far-ret |" in md
    assert "| intel-sep@cloud-amd64 | QEMU 7.2.22 \\(system\\) | ✅ pass | ≠ 🔶 divergence |" in md
    flaky = "| amd-syscall32@cloud-amd64@10.0 | QEMU 10.0.2 \\(10.0\\) | ≠ 🎲 FLAKY | ✅ pass |"
    assert flaky in md
    assert "- cause: emulator" in md and "- re-runs: 2 of 3 bad" in md
    assert "  - attempt 1 \\(b1\\): fail — GSBASE changed to 0x0" in md
    assert "FLAKY = re-runs on fresh boots disagreed" in md
    assert "≠ = the status differs between emulator builds" in md


def test_an_old_report_without_the_new_fields_still_renders(tmp_path: Path) -> None:
    old: list[dict[str, Any]] = []
    for x in TWO_EMULATORS[:4]:
        y = {k: x[k] for k in ("profile", "scenario", "status", "message", "path", "env")}
        y["env"] = {a: b for a, b in y["env"].items() if a not in ("cell", "emulator")}
        old.append(y)
    data = results(old)
    data["schema_version"] = 1
    data["guests"] = {"intel-sep": {"vendor": "GenuineIntel", "kernel": "cloud-amd64"}}
    text = terminal(data, tmp_path)
    assert "intel-sep@cloud-amd64" in text and "emulator" not in text.split("legend")[0]
    assert "diverge intel-sep@cloud-amd64/far-ret: far return pops" in text
    assert "cause:" not in text and "re-runs:" not in text
    page = render_html(data, plots=False)
    assert "<th>emulator</th>" not in page and "cause " not in page
    assert "<b>divergence</b> intel-sep@cloud-amd64/far-ret" in page
    assert "legend" in legend().plain


def qemu_diff(reports: Path, *words: str) -> list[str]:
    """What `lab report diff WORDS...` prints."""
    lines: list[str] = []
    parsed = cli.build_parser().parse_args(["report", "diff", *words])
    assert kernel_diff.command(reports, parsed, lines.append) == 0
    return lines


def test_diff_across_emulator_builds_of_one_run(tmp_path: Path) -> None:
    write(tmp_path, results(TWO_EMULATORS))
    lines = qemu_diff(tmp_path, RUN, "--qemu", "system,10.0")
    assert (
        lines[0]
        == f"run {RUN} emulator system (QEMU 7.2.22) -> run {RUN} emulator 10.0 (QEMU 10.0.2)"
    )
    intel = lines.index(
        "intel-sep@cloud-amd64: intel-sep@cloud-amd64 (QEMU 7.2.22) -> "
        "intel-sep@cloud-amd64@10.0 (QEMU 10.0.2)"
    )
    assert lines[intel + 1] == "  far-ret [tcg]  divergence -> pass"
    amd = lines.index(
        "amd-syscall32@cloud-amd64: amd-syscall32@cloud-amd64 (QEMU 7.2.22) -> "
        "amd-syscall32@cloud-amd64@10.0 (QEMU 10.0.2)"
    )
    assert lines[amd + 1] == "  vdso-entry [tcg]  pass -> flaky"
    assert lines[-1] == "2 verdict(s) changed in 2 of 2 profile@kernel(s)"
    # a build by its QEMU version or that version's major.minor: the same comparison
    assert qemu_diff(tmp_path, RUN, "--qemu", "7.2,10.0.2")[1:] == lines[1:]


def test_diff_across_builds_of_two_runs_and_its_errors(tmp_path: Path) -> None:
    write(tmp_path, results(TWO_EMULATORS[:4]))  # the system QEMU only
    later = results(TWO_EMULATORS[4:])  # 10.0 only
    later["run_id"] = "20260302-000000-emu1"
    write(tmp_path, later)
    lines = qemu_diff(tmp_path, RUN, "20260302", "--qemu", "system,10.0")
    assert "  far-ret [tcg]  divergence -> pass" in lines
    assert lines[-1] == "2 verdict(s) changed in 2 of 2 profile@kernel(s)"
    with pytest.raises(
        LabError,
        match=r"has no cell on emulator '9.2'; its emulators: "
        r"system \(QEMU 7.2.22\)",
    ):
        qemu_diff(tmp_path, RUN, "--qemu", "system,9.2")
    with pytest.raises(SystemExit):  # one axis at a time
        cli.build_parser().parse_args(
            ["report", "diff", RUN, "--qemu", "system,10.0", "--kernels", "6.1,7.2"]
        )


def test_cpuid_differences_between_builds_of_one_profile_are_named() -> None:
    from lab.report.emulators import cpu_differences

    def guest(cell: str, emulator: str, version: str, flags: list[str]) -> dict[str, Any]:
        return {
            "cell": cell,
            "variant": "",
            "emulator": emulator,
            "qemu_version": version,
            "cpu": {"flags": flags},
        }

    guests = {
        "intel-sep@cloud-amd64": guest(
            "intel-sep@cloud-amd64", "system", "7.2.22", ["sep", "smap"]
        ),
        "intel-sep@cloud-amd64@10.0": guest(
            "intel-sep@cloud-amd64@10.0", "10.0", "10.0.2", ["sep", "smap", "x2apic", "rdseed"]
        ),
        "amd-syscall32@cloud-amd64": guest(
            "amd-syscall32@cloud-amd64", "system", "7.2.22", ["syscall"]
        ),
    }
    assert cpu_differences(guests) == [
        "intel-sep@cloud-amd64: CPUID on 10.0 (10.0.2) adds rdseed, x2apic beside system (7.2.22)"
    ]
