"""Browsing saved reports from the terminal (`lab report list | show | diff`), and the
end-of-run tables: rich renderings of results.json, never a guest booted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lab.dashboard import LABEL, STYLE, guests_table, legend, matrix_table
from lab.report import history
from lab.report.compat import upgrade
from lab.report.emulators import cpu_differences, emulator_axis
from lab.report.findings import contradiction_lines, evidence_note, finding_lines
from lab.report.html import kernel_headings
from lab.report.results import Status
from lab.report.run import printable


def show_matrix(
    console: Console, data: dict[str, Any], run_dir: Path, details: bool = False
) -> None:
    """The guests table, the cell × scenario matrix with its legend, and the counts; with
    ``details`` (`lab report show`) also every finding with its evidence."""
    title = f"run {data['run_id']} ({data.get('state', '?')})"
    if data.get("guests"):
        console.print(guests_table(data["guests"]))
    if data["verdicts"]:
        data = upgrade(data)
        axis = emulator_axis(data["verdicts"], data.get("guests"))
        console.print(matrix_table(data["verdicts"], title, _kernel_groups(data), axis))
        console.print(legend(axis.spans))
    if details:
        show_findings(console, data.get("verdicts") or [])
        show_contradictions(console, data)
    counts = ", ".join(f"{n} {s}" for s, n in data.get("counts", {}).items() if n)
    console.print(f"{counts or 'no verdicts'}; report: {run_dir}")


FINDING_LINE = 300  # characters of one line of a finding in the terminal


def show_findings(console: Console, verdicts: list[dict[str, Any]]) -> None:
    """Each verdict that is neither a pass nor a skip: its status, key and message, then its
    cause, evidence, attribution, the other emulator builds' results and its re-runs. Skips
    are counted only (their reasons are in report.html and summary.md)."""
    found = [v for v in verdicts if v.get("status") not in ("pass", "skip")]
    skips = sum(v.get("status") == "skip" for v in verdicts)
    if not found and not skips:
        return
    console.print(Text(f"findings ({len(found)})", style="bold"))
    for v in found:
        status = Status(v["status"])
        key = f"{v['cell']}/{v['scenario']}" + (f"/{v['path']}" if v.get("path") else "")
        head = Text.assemble((LABEL[status], STYLE[status]), f" {_line(key)}")
        if v.get("message"):
            head.append(f": {_line(str(v['message']))}")
        console.print(head)
        for line in finding_lines(v):
            console.print(Text(f"    {_line(line)}", style="dim" if line[:1] == " " else ""))
    if skips:
        console.print(Text(f"{skips} skipped (reasons: lab report html)", style="dim"))


def show_contradictions(console: Console, data: dict[str, Any]) -> None:
    """The claims the evidence contradicts, in red, and how attribution went."""
    note = evidence_note(data)
    if note:
        console.print(Text(note, style="dim"))
    claims = contradiction_lines(data)
    if claims:
        console.print(Text(f"contradicted by evidence ({len(claims)})", style="bold red"))
    for line in claims:
        console.print(Text(f"    {_line(line)}", style="red"))
    for line in cpu_differences(data.get("guests") or {}):
        console.print(Text(_line(line), style="yellow"))


def _line(text: str) -> str:
    """Guest text shown, not obeyed (control characters escaped), one line, cut short."""
    text = printable(text).replace("\n", " ").replace("\t", " ")
    return text if len(text) <= FINDING_LINE else text[: FINDING_LINE - 1] + "…"


def _kernel_groups(data: dict[str, Any]) -> dict[str, str] | None:
    """Cell -> its kernel heading when the run has cells on more than one kernel series (the
    kernel axis), so each kernel's rows stand together as in report.html; None for one series
    (6.1's cloud-amd64 and 686 side by side is the plain matrix it always was)."""
    headings = kernel_headings(upgrade(data))
    # "kernel 7.2/cloud-amd64 (...)" -> 7.2; the default series' kernels have no "/"
    series = {h.split()[1].split("/")[0] if "/" in h.split()[1] else "" for h in headings.values()}
    return headings if len(series) > 1 else None


def list_runs(reports: Path, last: int | None) -> None:
    runs = history.list_runs(reports)
    table = Table(header_style="bold")
    for col in ("run", "kind", "state", "started", "verdicts"):
        table.add_column(col, no_wrap=True)
    for r in runs[-last:] if last else runs:
        counts = ", ".join(f"{n} {s}" for s, n in r.counts.items() if n)
        table.add_row(r.run_id, r.kind, r.state, r.started, counts)
    Console().print(table if runs else "no runs yet")


def show_run(run: Path) -> None:
    show_matrix(Console(), history.load(run), run, details=True)


def diff_runs(run_a: Path, run_b: Path) -> None:
    """Verdicts that changed between two runs (by cell/scenario/path; old reports too)."""
    a, b = history.load(run_a), history.load(run_b)
    changes = history.diff(a, b)
    table = Table(title=f"{a['run_id']} -> {b['run_id']}", header_style="bold")
    for col in ("verdict", "before", "after"):
        table.add_column(col)
    for c in changes:
        table.add_row(c.key, c.before.value if c.before else "—", c.after.value if c.after else "—")
    Console().print(table if changes else "no verdict changed")
