"""Performance trends: the newest run's per-path costs against earlier runs (`lab report trend`).

Reads saved results.json files (no guest is booted) and follows every perf measurement (a
verdict whose observed carries ``mode`` and ``headline``: lab/suites/perf.py) as a series keyed
by cell (profile@kernel[@emulator]) × scenario × path × accelerator × machine variant; runs that
predate cells are read through lab.report.compat.upgrade, so their series continue. Results from
different accelerators or variants are never compared; a QEMU or kernel change between the two
runs is shown next to the change it may explain.

* exact mode (-icount): the headline is a path length in guest instructions, identical run to
  run, so every difference is reported exactly ("+3 instructions").
* wall mode: the headline is the median of TSC samples. A change is reported only when it beats
  the noise: a two-sided Mann-Whitney U test (normal approximation, tie-corrected, continuity
  correction) on the two runs' samples, p < alpha. Where both runs have calibrated samples
  (each sample divided by the calibration loop's median of its own round, lab/guest/
  syscall_cost.c) the test and the percentage use those: under TCG on a shared host the whole
  guest runs up to twice as slowly at times, and raw ticks would call that a regression.

A change is a *regression* when the cost rose by more than the threshold: in exact mode 2% of the
earlier path length; in wall mode 25% (TCG on a shared host moves calibrated costs by up to ~20%
between runs), past the test, and above every earlier run in the window. Timing baselines, the
traced wall-mode references (tracer round trips) and series whose route changed (the clocksource
decides whether the vDSO enters the kernel) are followed but never regress. By default wall mode
gates only KVM guests (cycles); under TCG wall ticks measure the emulator, and exact mode is the
gate. `lab nightly` fails when there is a regression; thresholds, alpha and the gate are options.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.report.compat import upgrade
from lab.report.history import find_run, list_runs, load

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_LAST",
    "DEFAULT_THRESHOLD_PCT",
    "DEFAULT_WALL_GATE",
    "DEFAULT_WALL_THRESHOLD_PCT",
    "WALL_GATES",
    "MannWhitney",
    "Point",
    "Row",
    "TrendReport",
    "add_arguments",
    "collect",
    "command",
    "compare",
    "mann_whitney",
    "nightly",
    "render",
    "trend",
    "trend_of",
]

DEFAULT_THRESHOLD_PCT = 2.0  # exact mode
DEFAULT_WALL_THRESHOLD_PCT = 25.0  # wall mode: TCG on a shared host moves ~20-30% run to run
DEFAULT_WALL_GATE = "kvm"  # wall regressions fail only under KVM (real cycles); see compare()
WALL_GATES = ("kvm", "always", "never")
DEFAULT_ALPHA = 0.01
DEFAULT_LAST = 10
BASELINE_PATHS = ("cost/none/", "cost/none64/", "cost/calib/")
TEST_NAME = "Mann-Whitney U (two-sided, normal approximation with tie and continuity correction)"


# -- the statistical test -----------------------------------------------------------------------


@dataclass(frozen=True)
class MannWhitney:
    """Result of a two-sided Mann-Whitney U test of a against b."""

    u: float  # U of sample a
    z: float
    p_value: float
    n_a: int
    n_b: int

    @property
    def prob_a_greater(self) -> float:
        """P(a sample of a > a sample of b) + ½ P(equal): the common-language effect size."""
        return self.u / (self.n_a * self.n_b) if self.n_a and self.n_b else 0.5


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Average ranks (1-based) of values, and the sizes of the tie groups."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties: list[int] = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> MannWhitney:
    """Two-sided Mann-Whitney U test; p = 1 when either side is empty or every value is tied."""
    n_a, n_b = len(a), len(b)
    if not n_a or not n_b:
        return MannWhitney(0.0, 0.0, 1.0, n_a, n_b)
    ranks, ties = _ranks([*a, *b])
    n = n_a + n_b
    u = sum(ranks[:n_a]) - n_a * (n_a + 1) / 2
    mean = n_a * n_b / 2
    tie_term = sum(t**3 - t for t in ties) / (n * (n - 1)) if n > 1 else 0.0
    var = n_a * n_b / 12 * ((n + 1) - tie_term)
    if var <= 0:
        return MannWhitney(u, 0.0, 1.0, n_a, n_b)
    z = max(abs(u - mean) - 0.5, 0.0) / math.sqrt(var)
    return MannWhitney(u, z if u >= mean else -z, math.erfc(z / math.sqrt(2)), n_a, n_b)


# -- series -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One measurement of one series in one run."""

    run_id: str
    profile: str
    scenario: str
    path: str
    accel: str
    variant: str
    mode: str
    unit: str
    headline: int
    samples: tuple[int, ...] = field(default=(), repr=False)
    qemu_version: str = ""
    kernel_release: str = ""
    calibrated: float | None = None  # wall: median in calibration-loop units
    calibrated_samples: tuple[float, ...] = field(default=(), repr=False)
    route: str = ""  # the entry/return the check predicted (e.g. vDSO clock read vs fallback)
    cell: str = ""  # the cell's name (lab.engine.cell.Cell.name)

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """A series: cell, scenario, path, accelerator, machine variant."""
        return (self.cell or self.profile, self.scenario, self.path, self.accel, self.variant)


def _points(data: dict[str, Any]) -> list[Point]:
    """The perf measurements of one run (passing verdicts with a usable headline); ``data`` of
    any schema version."""
    out = []
    for v in upgrade(data)["verdicts"]:
        obs = v.get("observed")
        if v.get("status") != "pass" or not isinstance(obs, dict) or not v.get("path"):
            continue
        headline, mode = obs.get("headline"), obs.get("mode")
        if (
            not isinstance(headline, int)
            or isinstance(headline, bool)
            or mode
            not in (
                "exact",
                "wall",
            )
        ):
            continue
        samples = obs.get("samples") or []
        cal = obs.get("calibrated")
        cal_samples = obs.get("calibrated_samples") or []
        env = v.get("env") or {}
        predicted = v.get("predicted")
        route = (
            f"{predicted.get('entry', '')}/{predicted.get('return', '')}"
            if isinstance(predicted, dict)
            else ""
        )
        out.append(
            Point(
                run_id=str(data.get("run_id", "?")),
                profile=str(v["profile"]),
                scenario=str(v["scenario"]),
                path=str(v["path"]),
                accel=str(env.get("accel", "")),
                variant=str(env.get("variant", "")),
                mode=mode,
                unit=str(obs.get("unit", "")),
                headline=headline,
                samples=tuple(s for s in samples if isinstance(s, int) and not isinstance(s, bool)),
                qemu_version=str(env.get("qemu_version", "")),
                kernel_release=str(env.get("kernel_release", "")),
                calibrated=float(cal) if isinstance(cal, int | float) and _number(cal) else None,
                calibrated_samples=tuple(float(x) for x in cal_samples if _number(x)),
                route=route,
                cell=str(v["cell"]),
            )
        )
    return out


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def collect(runs: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str, str, str], list[Point]]:
    """Series of points, oldest first, from results.json data given oldest first."""
    series: dict[tuple[str, str, str, str, str], list[Point]] = {}
    for data in runs:
        for p in _points(data):
            series.setdefault(p.key, []).append(p)
    return series


# -- comparison ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One series: the newest point against the one before it."""

    newest: Point
    before: Point | None
    history: tuple[int, ...]  # headlines, oldest first, newest last
    verdict: str  # new, same, changed, noise, improved, regression, gone
    p_value: float | None = None
    note: str = ""
    calibrated_percent: float | None = None  # wall: change of the calibrated medians

    @property
    def delta(self) -> int | None:
        return None if self.before is None else self.newest.headline - self.before.headline

    @property
    def percent(self) -> float | None:
        if self.before is None or self.before.headline == 0:
            return None
        return 100.0 * (self.newest.headline - self.before.headline) / self.before.headline

    def change_text(self) -> str:
        if self.before is None or self.delta is None:
            return "(new)" if self.verdict == "new" else ""
        unit = "instructions" if self.newest.mode == "exact" else "ticks"
        pct = f" ({self.percent:+.2f}%)" if self.percent is not None else ""
        cal = (
            f"; calibrated {self.calibrated_percent:+.2f}%"
            if self.calibrated_percent is not None
            else ""
        )
        return f"{self.delta:+d} {unit}{pct}{cal}"


def _value(p: Point) -> float:
    """What a wall-mode series is judged on: calibrated median where there is one."""
    return p.calibrated if p.calibrated else float(p.headline)


def compare(
    newest: Point,
    before: Point | None,
    *,
    threshold_pct: float = DEFAULT_THRESHOLD_PCT,
    wall_threshold_pct: float = DEFAULT_WALL_THRESHOLD_PCT,
    alpha: float = DEFAULT_ALPHA,
    history: Sequence[int] = (),
    earlier: Sequence[Point] = (),
    wall_gate: str = DEFAULT_WALL_GATE,
) -> Row:
    """Judge one series against its latest earlier point (``earlier``: all earlier points).

    exact: every change is reported; above ``threshold_pct`` it is a regression.
    wall: a change must pass the Mann-Whitney test against the previous run (p < alpha), exceed
    ``wall_threshold_pct`` and lie above every earlier run's value in the window (beat the
    run-to-run noise seen so far) to be a regression, and ``wall_gate`` must allow it: "kvm"
    (default) gates wall mode only for KVM guests, whose ticks are cycles; under TCG wall ticks
    are the emulator's time (calibrated costs still move by 20-30% between runs on a shared
    host), so exact mode is the gate there. Timing baselines, the traced reference measurements
    in wall mode and series whose route changed (e.g. the clocksource: the vDSO reads the clock
    or falls back to a system call) are reported, never gated.
    """
    hist = tuple(history) or (newest.headline,)
    if before is None:
        return Row(newest, None, hist, "new")
    notes = []
    if before.qemu_version != newest.qemu_version:
        notes.append(f"QEMU {before.qemu_version} -> {newest.qemu_version}")
    if before.kernel_release != newest.kernel_release:
        notes.append(f"kernel {before.kernel_release} -> {newest.kernel_release}")
    if before.route != newest.route:
        notes.append(f"route {before.route} -> {newest.route}")
    note = "; ".join(notes)
    delta = newest.headline - before.headline
    pct = 100.0 * delta / before.headline if before.headline else (math.inf if delta else 0.0)
    gated = not newest.path.startswith(BASELINE_PATHS) and before.route == newest.route
    if newest.mode == "exact":
        if delta == 0:
            return Row(newest, before, hist, "same", note=note)
        if delta > 0 and pct > threshold_pct and gated:
            return Row(newest, before, hist, "regression", note=note)
        return Row(newest, before, hist, "improved" if delta < 0 else "changed", note=note)
    # Wall: judged on calibrated samples when both runs have them (the host's own speed, which
    # moves everything, divided out), else on raw ticks.
    cal_pct = None
    a: Sequence[float] = newest.samples
    b: Sequence[float] = before.samples
    if (
        newest.calibrated_samples
        and before.calibrated_samples
        and newest.calibrated
        and before.calibrated
    ):
        a, b = newest.calibrated_samples, before.calibrated_samples
        cal_pct = 100.0 * (newest.calibrated - before.calibrated) / before.calibrated
        pct = cal_pct
    gated = (
        gated
        and "/traced" not in newest.path
        and (wall_gate == "always" or (wall_gate == "kvm" and newest.accel == "kvm"))
    )
    test = mann_whitney(a, b)
    above_all = all(_value(newest) > _value(p) for p in (*earlier, before))
    if test.p_value >= alpha or delta == 0 or pct == 0:
        verdict = "noise"
    elif pct > wall_threshold_pct and above_all and gated:
        verdict = "regression"
    else:
        verdict = "improved" if pct < 0 else "changed"
    return Row(newest, before, hist, verdict, test.p_value, note, cal_pct)


@dataclass(frozen=True)
class TrendReport:
    newest_run: str
    runs: tuple[str, ...]  # run ids considered, oldest first
    rows: tuple[Row, ...]
    threshold_pct: float
    alpha: float
    wall_threshold_pct: float = DEFAULT_WALL_THRESHOLD_PCT
    wall_gate: str = DEFAULT_WALL_GATE

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == "regression"]


def trend_of(
    runs: Sequence[dict[str, Any]],
    *,
    threshold_pct: float = DEFAULT_THRESHOLD_PCT,
    wall_threshold_pct: float = DEFAULT_WALL_THRESHOLD_PCT,
    alpha: float = DEFAULT_ALPHA,
    wall_gate: str = DEFAULT_WALL_GATE,
) -> TrendReport:
    """Compare the last run of ``runs`` (oldest first) with the earlier ones, per series.

    A series' newest point is compared with its latest earlier point; series absent from the
    newest run are not judged.
    """
    if not runs:
        return TrendReport("", (), (), threshold_pct, alpha, wall_threshold_pct, wall_gate)
    newest_id = str(runs[-1].get("run_id", "?"))
    rows = []
    for points in collect(runs).values():
        last = points[-1]
        if last.run_id != newest_id:
            continue
        before = points[-2] if len(points) > 1 else None
        rows.append(
            compare(
                last,
                before,
                threshold_pct=threshold_pct,
                wall_threshold_pct=wall_threshold_pct,
                alpha=alpha,
                history=[p.headline for p in points],
                earlier=points[:-2],
                wall_gate=wall_gate,
            )
        )
    return TrendReport(
        newest_id,
        tuple(str(r.get("run_id", "?")) for r in runs),
        tuple(rows),
        threshold_pct,
        alpha,
        wall_threshold_pct,
        wall_gate,
    )


def trend(
    reports: Path,
    *,
    newest: str | None = None,
    last: int = DEFAULT_LAST,
    threshold_pct: float = DEFAULT_THRESHOLD_PCT,
    wall_threshold_pct: float = DEFAULT_WALL_THRESHOLD_PCT,
    alpha: float = DEFAULT_ALPHA,
    kind: str | None = None,
    wall_gate: str = DEFAULT_WALL_GATE,
) -> TrendReport:
    """The trend over the last ``last`` runs of ``reports`` that hold perf measurements.

    ``newest``: the run to judge (run id; default the newest run with perf data); only runs
    before it are earlier runs. Only finished runs count, unless named; ``kind``: only runs of
    this kind ("nightly", "run").
    """
    chosen: list[dict[str, Any]] = []
    seen: set[str] = set()
    for summary in reversed(list_runs(reports)):
        if summary.run_id in seen or (newest is not None and summary.run_id > newest):
            continue  # reports/latest is the newest run once more
        seen.add(summary.run_id)
        if summary.run_id != newest and (
            summary.state != "finished" or (kind is not None and summary.kind != kind)
        ):
            continue  # a run still going, interrupted, or of another kind
        data = load(summary.path)
        if not _points(data):
            continue
        chosen.append(data)
        if len(chosen) >= max(1, last):
            break
    if newest is not None and (not chosen or chosen[0].get("run_id") != newest):
        raise LookupError(f"run {newest} has no perf measurements in {reports}")
    return trend_of(
        list(reversed(chosen)),
        threshold_pct=threshold_pct,
        wall_threshold_pct=wall_threshold_pct,
        alpha=alpha,
        wall_gate=wall_gate,
    )


# -- output -------------------------------------------------------------------------------------


def render(report: TrendReport) -> list[str]:
    """Plain text lines (for terminals, logs and the nightly)."""
    if not report.rows:
        return ["perf trend: no perf measurements found"]
    lines = [
        f"perf trend: run {report.newest_run} against {len(report.runs) - 1} earlier run(s) "
        f"with perf data",
        "  exact mode: path lengths in guest instructions, compared exactly",
        f"  wall mode: a change counts only if {TEST_NAME} on the two runs' samples gives "
        f"p < {report.alpha}; samples calibrated by the guest's reference loop where present",
        f"  regression: exact cost up by more than {report.threshold_pct}%; wall cost up by "
        f"more than {report.wall_threshold_pct}%, past the test and above every earlier run "
        f"(wall gate: {report.wall_gate}; "
        + (
            "wall changes under TCG are reported, not gated: exact mode is the gate there"
            if report.wall_gate == "kvm"
            else "every accelerator"
            if report.wall_gate == "always"
            else "never"
        )
        + "); timing baselines, traced wall references and route changes never regress",
        "",
    ]
    header = ("verdict", "cell", "scenario", "path", "before", "after", "change", "p")
    table = [header]
    order = {"regression": 0, "changed": 1, "improved": 2, "new": 3, "noise": 4, "same": 5}
    for r in sorted(report.rows, key=lambda r: (order.get(r.verdict, 9), r.newest.key)):
        p = r.newest
        table.append(
            (
                r.verdict.upper() if r.verdict == "regression" else r.verdict,
                p.key[0] + (f" [{p.accel}]" if p.accel else ""),
                p.scenario,
                p.path,
                str(r.before.headline) if r.before else "-",
                str(p.headline),
                r.change_text(),
                f"{r.p_value:.2g}" if r.p_value is not None else "",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    notes = [f"  {r.newest.key[0]}/{r.newest.path}: {r.note}" for r in report.rows if r.note]
    if notes:
        lines += ["", "environment changes:", *sorted(set(notes))]
    counts: dict[str, int] = {}
    for r in report.rows:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    lines += ["", "summary: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))]
    return lines


def nightly(
    reports: Path,
    run_id: str,
    *,
    last: int = DEFAULT_LAST,
    threshold_pct: float = DEFAULT_THRESHOLD_PCT,
    wall_threshold_pct: float = DEFAULT_WALL_THRESHOLD_PCT,
    alpha: float = DEFAULT_ALPHA,
    wall_gate: str = DEFAULT_WALL_GATE,
) -> tuple[list[str], int]:
    """For `lab nightly`: this run against the earlier nightlies; (text lines, regressions)."""
    try:
        report = trend(
            reports,
            newest=run_id,
            last=last,
            threshold_pct=threshold_pct,
            wall_threshold_pct=wall_threshold_pct,
            alpha=alpha,
            kind="nightly",
            wall_gate=wall_gate,
        )
    except LookupError:
        return ["perf trend: this run has no perf measurements"], 0
    return render(report), len(report.regressions)


def add_nightly_arguments(parser: argparse.ArgumentParser) -> None:
    """`lab nightly`'s options for the perf gate (what counts as a regression)."""
    parser.add_argument(
        "--perf-threshold-pct",
        type=float,
        default=DEFAULT_THRESHOLD_PCT,
        help="exact mode: a path-length rise above this percentage fails the nightly "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--perf-wall-threshold-pct",
        type=float,
        default=DEFAULT_WALL_THRESHOLD_PCT,
        help="wall mode: a significant cost rise above this percentage fails the nightly "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--perf-wall-gate",
        choices=WALL_GATES,
        default=DEFAULT_WALL_GATE,
        help="wall-mode regressions fail the nightly for KVM guests only (kvm), all, or never "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--perf-alpha",
        type=float,
        default=DEFAULT_ALPHA,
        help="wall mode: Mann-Whitney U significance level (default %(default)s)",
    )
    parser.add_argument(
        "--perf-last",
        type=int,
        default=DEFAULT_LAST,
        help="earlier nightlies the perf trend looks at (default %(default)s)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lab report trend` (and the nightly's perf gate)."""
    parser.add_argument("run", nargs="?", help="run to judge (default: newest with perf data)")
    parser.add_argument(
        "--last", type=int, default=DEFAULT_LAST, help="runs to consider, newest included"
    )
    parser.add_argument(
        "--threshold-pct",
        type=float,
        default=DEFAULT_THRESHOLD_PCT,
        help="exact mode: a path-length rise above this percentage is a regression "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--wall-threshold-pct",
        type=float,
        default=DEFAULT_WALL_THRESHOLD_PCT,
        help="wall mode: a significant cost rise above this percentage is a regression "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=DEFAULT_ALPHA,
        help="wall mode: significance level of the Mann-Whitney U test (default %(default)s)",
    )
    parser.add_argument(
        "--wall-gate",
        choices=WALL_GATES,
        default=DEFAULT_WALL_GATE,
        help="wall-mode regressions fail only for KVM guests (kvm), for all, or never "
        "(default %(default)s)",
    )


def command(reports: Path, args: argparse.Namespace, say: Callable[[str], None] = print) -> int:
    """`lab report trend`: print the trend; 1 if the newest run regressed, else 0."""
    newest = None
    if getattr(args, "run", None):
        newest = str(load(find_run(reports, args.run))["run_id"])
    report = trend(
        reports,
        newest=newest,
        last=args.last,
        threshold_pct=args.threshold_pct,
        wall_threshold_pct=args.wall_threshold_pct,
        alpha=args.alpha,
        wall_gate=args.wall_gate,
    )
    for line in render(report):
        say(line)
    return 1 if report.regressions else 0
