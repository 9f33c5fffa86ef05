"""The live terminal dashboard (rich) and the end-of-run matrix.

One row per cell (the engine's events name it in Event.profile) with its state and counts, an
overall progress bar with ETA, and a pane with the latest kernel warnings and panics. Fed by
engine events from worker threads; rendered by rich.Live at a fixed rate, sized to the terminal
on every refresh (resize-safe, no flicker: rich redraws in place). Off a TTY the plain sink is
used instead (lab.events.PlainSink).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from lab.events import Event, Kind, printable_line
from lab.report.compat import verdict_cell
from lab.report.emulators import DIFFERS, EmulatorAxis, pair_of
from lab.report.results import SEVERITY, Status, worst

STYLE = {
    Status.PASS: "green",
    Status.FAIL: "bold red",
    Status.DIVERGENCE: "yellow",
    Status.ERROR: "bold magenta",
    Status.SKIP: "dim",
    Status.XFAIL: "cyan",
    Status.XPASS: "bold yellow",
    Status.FLAKY: "bold cyan",
}
LABEL = {
    Status.PASS: "pass",
    Status.FAIL: "FAIL",
    Status.DIVERGENCE: "diverge",
    Status.ERROR: "ERROR",
    Status.SKIP: "skip",
    Status.XFAIL: "xfail",
    Status.XPASS: "XPASS",
    Status.FLAKY: "FLAKY",
}


@dataclass
class GuestRow:
    profile: str
    scenarios: int
    state: str = "queued"
    vendor: str = ""
    kernel: str = ""
    accel: str = ""
    started: float | None = None
    finished: float | None = None
    done: set[str] = field(default_factory=set)
    counts: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))

    def elapsed(self, now: float) -> str:
        if self.started is None:
            return ""
        return f"{(self.finished or now) - self.started:5.0f}s"


class DashboardState:
    """What the dashboard shows, updated from events (thread-safe)."""

    def __init__(self) -> None:
        self.rows: dict[str, GuestRow] = {}
        self.faults: deque[str] = deque(maxlen=4)
        self.t0 = time.monotonic()
        self.title = "entrylab"
        self.lock = threading.Lock()

    def apply(self, e: Event) -> None:
        with self.lock:
            self._apply(e)

    def _apply(self, e: Event) -> None:
        if e.kind is Kind.PLAN:
            self.title = f"entrylab: {e.message}"
            for name, count in e.data.items():
                self.rows[name] = GuestRow(name, int(str(count)))
            return
        row = self.rows.get(e.profile or "")
        if e.kind is Kind.KERNEL_FAULT:
            self.faults.append(printable_line(f"{e.profile}: {e.message}")[:200])
        if row is None:
            return
        if e.kind in (Kind.BOOTING, Kind.REBOOTING):
            row.state = "booting" if e.kind is Kind.BOOTING else "rebooting"
            row.started = row.started or e.at
        elif e.kind is Kind.READY:
            row.state = "ready"
            row.vendor = str(e.data.get("vendor", ""))
            row.kernel = str(e.data.get("kernel", ""))
            row.accel = str(e.data.get("accel", ""))
        elif e.kind is Kind.RUNNING:
            row.state = f"running {e.scenario}"
        elif e.kind is Kind.VERDICT and e.verdict is not None:
            row.counts[e.verdict.status] += 1
            row.done.add(e.verdict.scenario)
        elif e.kind is Kind.BOOT_FAILED:
            row.state = "boot failed"
        elif e.kind is Kind.DONE:
            row.state = "done" if row.state != "boot failed" else row.state
            row.finished = e.at

    def progress(self) -> tuple[int, int]:
        total = sum(r.scenarios for r in self.rows.values())
        done = sum(
            min(len(r.done), r.scenarios) if r.finished is None else r.scenarios
            for r in self.rows.values()
        )
        return done, total

    def render(self, width: int) -> RenderableType:
        with self.lock:
            return self._render(width)

    def _render(self, width: int) -> RenderableType:
        now = time.monotonic()
        table = Table(expand=True, box=None, pad_edge=False, header_style="bold")
        table.add_column("cell", no_wrap=True, ratio=3, overflow="ellipsis")
        if width >= 100:
            table.add_column("vendor", no_wrap=True, ratio=2)
            table.add_column("kernel", no_wrap=True, ratio=3)
            table.add_column("accel", no_wrap=True, ratio=1)
        table.add_column("state", no_wrap=True, ratio=3, overflow="ellipsis")
        table.add_column("time", no_wrap=True, justify="right", width=6)
        table.add_column("pass/fail/div/err", no_wrap=True, justify="right", width=17)
        for r in self.rows.values():
            counts = Text.assemble(
                (str(r.counts[Status.PASS]), STYLE[Status.PASS]),
                "/",
                (str(r.counts[Status.FAIL]), STYLE[Status.FAIL]),
                "/",
                (str(r.counts[Status.DIVERGENCE]), STYLE[Status.DIVERGENCE]),
                "/",
                (str(r.counts[Status.ERROR]), STYLE[Status.ERROR]),
            )
            state_style = (
                "red" if r.state == "boot failed" else ("dim" if r.state == "queued" else "")
            )
            cells: list[Any] = [r.profile]
            if width >= 100:
                cells += [r.vendor, r.kernel, r.accel]
            cells += [Text(r.state, style=state_style), r.elapsed(now), counts]
            table.add_row(*cells)
        done, total = self.progress()
        elapsed = now - self.t0
        eta = f"ETA {elapsed / done * (total - done):4.0f}s" if 0 < done < total else ""
        bar = Table.grid(expand=True)
        bar.add_column(ratio=1)
        bar.add_column(no_wrap=True, justify="right")
        bar.add_row(
            ProgressBar(total=max(total, 1), completed=done),
            f" {done}/{total} scenarios  {elapsed:4.0f}s  {eta}",
        )
        faults = "\n".join(self.faults) if self.faults else "(no kernel warnings or panics)"
        pane = Panel(
            Text(faults, overflow="ellipsis", no_wrap=True),
            title="kernel messages",
            title_align="left",
            height=min(6, len(self.faults) + 2) if self.faults else 3,
        )
        return Group(Text(self.title, style="bold"), table, bar, pane)


class Dashboard:
    """A rich Live view of a run; use as the engine's event sink inside `with`."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.state = DashboardState()
        self.live = Live(
            console=self.console,
            auto_refresh=True,
            refresh_per_second=4,
            get_renderable=lambda: self.state.render(self.console.width),
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def __call__(self, event: Event) -> None:
        self.state.apply(event)

    def __enter__(self) -> Dashboard:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)


def matrix_table(
    verdicts: list[dict[str, Any]],
    title: str = "",
    groups: Mapping[str, str] | None = None,
    emulators: EmulatorAxis | None = None,
) -> Table:
    """The cell x scenario matrix (worst status of each) from verdict dicts of any schema
    version; an ERROR names its error kind(s), e.g. "ERROR boot". With ``groups`` (cell ->
    heading, e.g. its kernel and release) the rows are grouped, each group under its heading.
    With ``emulators`` spanning several builds, each profile@kernel's cells stand together (one
    row per build, its QEMU version in an emulator column) and a status that differs between
    them is marked ≠."""
    placed = [(verdict_cell(v), v) for v in verdicts]
    rows = list(dict.fromkeys(c for c, _ in placed))
    headings = {c: (groups or {}).get(c, "") for c in rows}
    order = list(dict.fromkeys(headings.values()))
    rows.sort(key=lambda c: order.index(headings[c]))
    side = emulators if emulators is not None and emulators.spans else None
    if side is not None:
        rows = side.side_by_side(rows)
    scenarios = list(dict.fromkeys(v["scenario"] for v in verdicts))
    cells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c, v in placed:
        cells.setdefault((c, v["scenario"]), []).append(v)
    worst_of = {k: worst([Status(v["status"]) for v in vs]) for k, vs in cells.items()}
    differs = side.differing(worst_of) if side is not None else set()
    table = Table(title=title or None, header_style="bold")
    table.add_column("cell", no_wrap=True)
    if side is not None:
        table.add_column("emulator", no_wrap=True)
    for s in scenarios:
        table.add_column(s, justify="center")
    lead = 2 if side is not None else 1
    heading, pair = "", ""
    for c in rows:
        if groups and headings[c] != heading:
            heading = headings[c]
            if table.row_count:
                table.add_section()
            table.add_row(Text(heading, style="bold"), *([""] * (len(scenarios) + lead - 1)))
        elif side is not None and pair and pair_of(c) != pair and table.row_count:
            table.add_section()
        pair = pair_of(c)
        row: list[Any] = [c] + ([side.heading_of(c)] if side is not None else [])
        for s in scenarios:
            vs = cells.get((c, s))
            if not vs:
                row.append(Text("—", style="dim"))
                continue
            statuses = [Status(v["status"]) for v in vs]
            w = worst_of[(c, s)]
            bad = sum(st.bad for st in statuses)
            label = LABEL[w] + (f" {bad}/{len(statuses)}" if len(statuses) > 1 and bad else "")
            kinds = dict.fromkeys(
                str(v["error_kind"]) for v in vs if v["status"] == "error" and v.get("error_kind")
            )
            label += f" {','.join(kinds)}" if w is Status.ERROR and kinds else ""
            if (c, s) in differs:
                row.append(Text(f"{DIFFERS} {label}", style=f"{STYLE[w]} reverse"))
            else:
                row.append(Text(label, style=STYLE[w]))
        table.add_row(*row)
    return table


def guests_table(guests: dict[str, dict[str, Any]]) -> Table:
    """Each boot (cell, or cell+variant) as verified: vendor, kernel, accelerator, AT_SYSINFO,
    boot time."""
    table = Table(title="guests (verified at boot)", header_style="bold")
    table.add_column("guest", no_wrap=True)  # the cell name stays whole; the others may wrap
    for col in ("vendor", "kernel", "accel", "AT_SYSINFO", "boot s"):
        table.add_column(col)
    for name, g in guests.items():
        if "boot_error" in g:
            table.add_row(
                name, Text(f"boot failed: {g['boot_error']}", style="red"), "", "", "", ""
            )
            continue
        table.add_row(
            name,
            str(g.get("vendor", "")),
            str(g.get("kernel_release", "")),
            str(g.get("accel", "")),
            str(g.get("at_sysinfo", "")),
            str(g.get("boot_seconds", "")),
        )
    return table


def legend(emulators: bool = False) -> Text:
    """The statuses' colours and what the less obvious ones mean; with ``emulators`` also the
    mark of a status that differs between emulator builds."""
    parts: list[Any] = ["legend: "]
    for s in SEVERITY:
        parts += [(LABEL[s], STYLE[s]), "  "]
    parts.append(
        "(diverge = the emulator does what real silicon would not: a finding; FLAKY = re-runs "
        "on fresh boots disagreed (k of n bad); xfail = a recorded known artefact; XPASS = it "
        "is gone, update expectations; n/m = n of m sub-verdicts not passing"
        + (f"; {DIFFERS} = the status differs between emulator builds" if emulators else "")
        + ")"
    )
    return Text.assemble(*parts)
