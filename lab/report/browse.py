"""Browsing saved reports from the terminal (`lab report list | show | diff`), and the
end-of-run tables: rich renderings of results.json, never a guest booted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lab.dashboard import guests_table, legend, matrix_table
from lab.report import history
from lab.report.compat import upgrade
from lab.report.html import kernel_headings


def show_matrix(console: Console, data: dict[str, Any], run_dir: Path) -> None:
    """The guests table, the cell × scenario matrix with its legend, and the counts."""
    title = f"run {data['run_id']} ({data.get('state', '?')})"
    if data.get("guests"):
        console.print(guests_table(data["guests"]))
    if data["verdicts"]:
        console.print(matrix_table(data["verdicts"], title, _kernel_groups(data)))
        console.print(legend())
    counts = ", ".join(f"{n} {s}" for s, n in data.get("counts", {}).items() if n)
    console.print(f"{counts or 'no verdicts'}; report: {run_dir}")


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
    show_matrix(Console(), history.load(run), run)


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
