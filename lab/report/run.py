"""Run reports: results.json (versioned), junit.xml and summary.md, kept current while a run goes.

Every verdict goes to the run's journal at once (lab.report.journal); the files are rewritten
atomically every few seconds and at the end, so a run killed halfway leaves a valid report, and
its journal every verdict it had. reports/latest points at the newest run. Schema 2: verdicts,
guest records and guest directories are keyed by cell name (lab.engine.cell.Cell.name); older
reports are read through lab.report.compat.upgrade.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import os
import platform
import re
import secrets
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from junit_xml import TestCase, TestSuite, to_xml_report_string

from lab import __version__
from lab.errors import LabError
from lab.fsutil import atomic_write
from lab.report import journal
from lab.report.compat import SCHEMA_VERSION, guest_key, upgrade, verdict_cell
from lab.report.emulators import DIFFERS, EmulatorAxis, emulator_axis
from lab.report.findings import contradiction_lines, evidence_note, finding_lines
from lab.report.html import write_html
from lab.report.results import SEVERITY, Environment, Status, Verdict, worst

RESULTS_SCHEMA_VERSION = SCHEMA_VERSION


class ReportWriteError(LabError):
    """The report cannot be written (disk full, permissions): the run must stop, loudly."""


SYMBOL = {
    Status.PASS: "✅ pass",
    Status.FAIL: "❌ FAIL",
    Status.DIVERGENCE: "🔶 divergence",
    Status.ERROR: "💥 ERROR",
    Status.SKIP: "⏭ skip",
    Status.XFAIL: "☑️ xfail",
    Status.XPASS: "❗ XPASS",
    Status.FLAKY: "🎲 FLAKY",
}


def new_run_id() -> str:
    """Sortable by time, unique even for two runs started in the same second."""
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{now}-{secrets.token_hex(2)}"


class RunReport:
    """The report of one run, kept on disk in step with the run.

    ``meta`` is the run's own description (kind, profiles, scenarios, and ``cells``: the plan's
    cell names); verdicts carry their cell, guest records are keyed by compat.guest_key.
    """

    def __init__(self, reports_dir: Path, run_id: str, meta: dict[str, Any]) -> None:
        self.reports_dir = reports_dir
        self.run_id = run_id
        self.dir = reports_dir / run_id
        try:
            self.dir.mkdir(parents=True, exist_ok=False, mode=0o750)
        except OSError as exc:
            raise ReportWriteError(
                f"cannot create the report directory {self.dir}: {exc.strerror or exc}"
            ) from None
        self.meta = {
            "run_id": run_id,
            "started": _now(),
            "finished": None,
            "state": "running",
            "lab_version": __version__,
            "host": {
                "machine": platform.machine(),
                "kernel": platform.release(),
                "cpus": os.cpu_count(),
            },
            **meta,
        }
        self.guests: dict[str, dict[str, Any]] = {}
        self.verdicts: list[Verdict] = []
        # Verdicts of evidence runs (lab.engine.attribution): the same scenarios on other
        # emulator builds, kept beside the run's own and never counted as its results.
        self.evidence: list[Verdict] = []
        self._lock = threading.Lock()
        self._written = 0.0  # time.monotonic() of the last full rewrite
        self.flush()
        self._point_latest()  # only once the new run has a valid results.json

    @classmethod
    def reopen(cls, run_dir: Path) -> RunReport:
        """An interrupted run's report, to resume into: what finished is kept as it was.

        A verdict that only says the run was interrupted (error kind "interrupted", or its message
        in schema 1) is dropped, so its scenario runs again. A schema-1 report is resumed as
        schema 2 (lab.report.compat.upgrade).
        """
        data = journal.merged(load_results(run_dir / "results.json"), run_dir)
        report = cls.__new__(cls)
        report.reports_dir = run_dir.parent
        report.run_id = data["run_id"]
        report.dir = run_dir
        report.meta = {
            k: v
            for k, v in data.items()
            if k not in ("schema_version", "counts", "guests", "verdicts")
        }
        report.meta["state"] = "running"
        report.meta["finished"] = None
        report.meta.setdefault("resumed", []).append(_now())
        report.guests = data.get("guests", {})
        report.evidence = [Verdict.from_json(v) for v in data.get("evidence", [])]
        report.verdicts = [
            Verdict.from_json(v)
            for v in data["verdicts"]
            if v.get("error_kind") != "interrupted"
            and not str(v.get("message", "")).startswith("interrupted")
        ]
        report._lock = threading.Lock()
        report._written = 0.0
        (run_dir / journal.NAME).unlink(missing_ok=True)  # rewritten whole from here on
        report._journal("verdict", [v.to_json() for v in report.verdicts])
        report._journal("evidence", [v.to_json() for v in report.evidence])
        report.flush()
        report._point_latest()
        return report

    def finished_pairs(self) -> set[tuple[str, str]]:
        """(cell name, scenario) pairs that already have verdicts: a resumed run skips them."""
        return {(v.cell, v.scenario) for v in self.verdicts}

    def guest_dir(self, cell: str) -> Path:
        """guests/<cell>/ (the engine adds bootN/); every variant boot of a cell shares it."""
        return self.dir / "guests" / _safe_name(cell)

    def record_guest(self, cell: str, info: dict[str, Any], variant: str = "") -> None:
        """Merge info into the guest record of a cell's boot, keyed by compat.guest_key
        (``<cell>`` or ``<cell>+<variant>``); the record carries ``cell`` and ``variant``."""
        with self._lock:
            record = self.guests.setdefault(guest_key(cell, variant), {})
            record.setdefault("cell", cell)
            record.setdefault("variant", variant)
            record.update(info)
            self._journal("guest", [{"key": guest_key(cell, variant), "info": record}])
            self._write_soon()

    def add(self, verdict: Verdict) -> None:
        self.add_all([verdict])

    def add_all(self, verdicts: Iterable[Verdict]) -> None:
        """Append verdicts; one without a cell gets the one derived from its env (schema 1)."""
        with self._lock:
            for v in verdicts:
                if not v.cell:
                    v.cell = verdict_cell(v.to_json(), self.guests)
                self.verdicts.append(v)
            self._journal("verdict", [v.to_json() for v in verdicts])
            self._write_soon()

    def add_evidence(self, verdicts: Iterable[Verdict]) -> None:
        with self._lock:
            verdicts = list(verdicts)
            self.evidence += verdicts
            self._journal("evidence", [v.to_json() for v in verdicts])
            self._write_soon()

    def flush(self) -> None:
        with self._lock:
            self._write()

    def finish(self, state: str = "finished") -> None:
        with self._lock:
            self.meta["finished"] = _now()
            self.meta["state"] = state
            self._write()
            try:
                write_html(self.dir, self.results_json())
            except (OSError, ValueError, RuntimeError) as exc:  # never lose the run over a plot
                note = f"<p>report.html could not be drawn: {html.escape(str(exc))}</p>"
                with contextlib.suppress(OSError):
                    atomic_write(self.dir / "report.html", note.encode())

    def _point_latest(self) -> None:
        link = self.reports_dir / "latest"
        tmp = self.reports_dir / f".latest.tmp{os.getpid()}"
        try:
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.run_id)
            os.replace(tmp, link)
        except OSError as exc:
            raise ReportWriteError(
                f"cannot point {link} at {self.run_id}: {exc.strerror or exc}"
            ) from None

    # -- writers -------------------------------------------------------------------------------

    def results_json(self) -> dict[str, Any]:
        return {
            "schema_version": RESULTS_SCHEMA_VERSION,
            **self.meta,
            "counts": {s.value: sum(v.status is s for v in self.verdicts) for s in Status},
            "guests": self.guests,
            "verdicts": [v.to_json() for v in self.verdicts],
            "evidence": [v.to_json() for v in self.evidence],
        }

    def _journal(self, kind: str, items: list[dict[str, Any]]) -> None:
        try:
            journal.append(self.dir, kind, items)
        except OSError as exc:
            raise ReportWriteError(
                f"cannot write the run's journal in {self.dir}: {exc.strerror or exc}"
            ) from None

    def _write_soon(self) -> None:
        """The full files, unless they were rewritten less than WRITE_EVERY_S ago (the
        journal has what they lack; flush() and finish() always rewrite)."""
        if time.monotonic() - self._written >= journal.WRITE_EVERY_S:
            self._write()

    def _write(self) -> None:
        self._written = time.monotonic()
        try:
            self._write_files()
        except OSError as exc:
            raise ReportWriteError(
                f"cannot write the report in {self.dir}: {exc.strerror or exc}; the last "
                "complete results.json there (and every earlier report) is intact"
            ) from None

    def _write_files(self) -> None:
        data = json.dumps(self.results_json(), indent=1, sort_keys=False) + "\n"
        atomic_write(self.dir / "results.json", data.encode())
        atomic_write(self.dir / "junit.xml", junit_xml(self.verdicts).encode())
        atomic_write(
            self.dir / "summary.md",
            summary_markdown(self.meta, self.guests, self.verdicts).encode(),
        )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _safe_name(name: str) -> str:
    """A directory name from a cell name: '@' and '+' stay (readable, and safe in a path), any
    other character outside [A-Za-z0-9._-] becomes '_' (a user kernel's path has '/'); no
    leading dot, so never '.' or '..'. Names are validated, but never trust a path."""
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", name).lstrip(".") or "_"


def junit_xml(verdicts: list[Verdict]) -> str:
    """One testcase per cell x scenario (x path), one testsuite per cell."""
    suites: dict[str, list[TestCase]] = {}
    for v in verdicts:
        name = v.scenario + (f"[{v.path}]" if v.path else "")
        case = TestCase(
            name, classname=f"entrylab.{v.cell}", elapsed_sec=v.seconds, stdout=v.excerpt or None
        )
        detail = _detail(v)
        if v.status is Status.FAIL:
            case.add_failure_info(message=v.message, output=detail, failure_type="fail")
        elif v.status is Status.DIVERGENCE:
            case.add_failure_info(
                message=v.message, output=detail, failure_type="emulator-divergence"
            )
        elif v.status is Status.ERROR:
            case.add_error_info(message=v.message, output=detail)
        elif v.status is Status.XPASS:
            case.add_failure_info(message=v.message, output=detail, failure_type="xpass")
        elif v.status is Status.FLAKY:
            case.add_failure_info(message=v.message, output=detail, failure_type="flaky")
        elif v.status in (Status.SKIP, Status.XFAIL):
            case.add_skipped_info(message=v.message)
        suites.setdefault(v.cell, []).append(case)
    return str(
        to_xml_report_string([TestSuite(f"entrylab.{p}", cases) for p, cases in suites.items()])
    )


def _detail(v: Verdict) -> str:
    parts = [f"error kind: {v.error_kind}"] if v.error_kind else []
    if v.predicted is not None:
        parts.append(f"predicted: {json.dumps(v.predicted, default=str)}")
    if v.observed is not None:
        parts.append(f"observed:  {json.dumps(v.observed, default=str)}")
    if v.env is not None:
        parts.append(
            f"on: {v.env.kernel_release} / {v.env.qemu} {v.env.qemu_version} "
            f"{v.env.accel} / -cpu {v.env.cpu_model}"
        )
    if v.excerpt:
        parts.append(v.excerpt)
    return "\n".join(parts)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def md_escape(text: str) -> str:
    """Guest and config text is data: escaped so it cannot become Markdown or HTML."""
    return _MD_SPECIAL.sub(r"\\\1", printable(text)).replace("\n", " ")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def printable(text: str) -> str:
    """Guest text with control characters (terminal escapes) shown, not obeyed."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def md_code(text: str) -> str:
    """A fenced block whose fence is longer than any backtick run inside (text is inert there)."""
    text = printable(text)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def matrix(verdicts: list[Verdict]) -> tuple[list[str], list[str], dict[tuple[str, str], Status]]:
    """Cell names (rows), scenarios and the worst status of each (cell, scenario)."""
    rows = list(dict.fromkeys(v.cell for v in verdicts))
    scenarios = list(dict.fromkeys(v.scenario for v in verdicts))
    cells: dict[tuple[str, str], list[Status]] = {}
    for v in verdicts:
        cells.setdefault((v.cell, v.scenario), []).append(v.status)
    return rows, scenarios, {k: worst(s) for k, s in cells.items()}


def _side_by_side(
    verdicts: list[Verdict], guests: dict[str, dict[str, Any]], rows: list[str]
) -> tuple[EmulatorAxis | None, list[str]]:
    """The emulator axis when the cells span several builds, and the rows in its order."""
    axis = emulator_axis(({"cell": v.cell, "env": _axis_env(v.env)} for v in verdicts), guests)
    return (axis, axis.side_by_side(rows)) if axis.spans else (None, rows)


def _axis_env(env: Environment | None) -> dict[str, Any] | None:
    """What the emulator axis reads of an environment (cheap: summary.md is rewritten often)."""
    if env is None:
        return None
    keys = ("emulator", "qemu_version", "accel", "target")
    return {k: getattr(env, k) for k in keys}


def _evidence(v: Verdict) -> dict[str, Any]:
    """The fields lab.report.findings reads, as results.json has them."""
    keys = ("cause", "evidence", "attribution", "elsewhere", "attempts")
    return {k: getattr(v, k) for k in keys}


def summary_markdown(
    meta: dict[str, Any], guests: dict[str, dict[str, Any]], verdicts: list[Verdict]
) -> str:
    profiles, scenarios, cells = matrix(verdicts)
    side, profiles = _side_by_side(verdicts, guests, profiles)
    differs = side.differing(cells) if side is not None else set()
    lines = [f"# entrylab run {md_escape(str(meta['run_id']))}", ""]
    lines.append(
        f"State: **{meta['state']}** · started {meta['started']}"
        + (f" · finished {meta['finished']}" if meta.get("finished") else "")
    )
    counts = {s: sum(v.status is s for v in verdicts) for s in SEVERITY}
    lines.append("Counts: " + ", ".join(f"{s.value} {n}" for s, n in counts.items() if n))
    claims = contradiction_lines(meta)
    if evidence_note(meta):
        lines.append(evidence_note(meta))
    if claims:
        lines += ["", f"## Contradicted by evidence ({len(claims)})", ""]
        lines += [f"- {md_escape(c)}" for c in claims]
    lines += ["", "## Matrix", ""]
    if profiles:
        emu = "emulator | " if side is not None else ""
        lines.append(f"| cell | {emu}" + " | ".join(md_escape(s) for s in scenarios) + " |")
        lines.append("|---|" + "---|" * (len(scenarios) + (side is not None)))
        for p in profiles:
            row = [
                (f"{DIFFERS} " if (p, s) in differs else "") + SYMBOL[cells[(p, s)]]
                if (p, s) in cells
                else "—"
                for s in scenarios
            ]
            if side is not None:
                row.insert(0, md_escape(side.heading_of(p)))
            lines.append(f"| {md_escape(p)} | " + " | ".join(row) + " |")
    else:
        lines.append("(no verdicts yet)")
    lines += [
        "",
        "Legend: "
        + " · ".join(SYMBOL[s] for s in SEVERITY)
        + " · divergence = the emulator does what real silicon would not (a finding)"
        + " · FLAKY = re-runs on fresh boots disagreed (k of n bad, every attempt below)"
        + " · xfail = a recorded known artefact (cause in the message) · XPASS = that artefact"
        + " is gone: update the expectations"
        + (f" · {DIFFERS} = the status differs between emulator builds" if side else "")
        + ".",
        "",
    ]
    lines += [
        "## Guests",
        "",
        "| guest | vendor | kernel | accel | QEMU | AT_SYSINFO | boot s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, g in guests.items():
        cols = ["vendor", "kernel_release", "accel", "qemu_version", "at_sysinfo", "boot_seconds"]
        values = [
            md_escape(str(g.get(c, g.get("boot_error", "?") if c == "vendor" else "?")))
            for c in cols
        ]
        lines.append(f"| {md_escape(name)} | " + " | ".join(values) + " |")
    bad = [v for v in verdicts if v.status is not Status.PASS]
    if bad:
        lines += ["", "## Details", ""]
        for v in bad:
            lines.append(f"### {md_escape(v.key)}: {v.status.value}")
            lines.append("")
            lines.append(md_escape(v.message))
            evidence = finding_lines(_evidence(v))
            if evidence:
                lines.append("")
                lines += [
                    ("  - " if line.startswith(" ") else "- ") + md_escape(line.strip())
                    for line in evidence
                ]
            detail = _detail(v)
            if detail:
                lines += ["", md_code(detail)]
            lines.append("")
    return "\n".join(lines) + "\n"


def load_results(path: Path) -> dict[str, Any]:
    """A saved results.json of any readable schema version, in the current shape
    (lab.report.compat.upgrade); ValueError for a version this lab cannot read."""
    data: dict[str, Any] = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a results.json object")
    if data.get("state") == "running":  # a run going, or killed: its journal has the rest
        data = journal.merged(data, path.parent)
    try:
        return upgrade(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
