"""Report history: list past runs, compare two, and decide what is new in a nightly.

Everything here reads saved results.json files; no guest is booted. Results from different
accelerators are never compared as if they were the same: a key includes the accelerator.
Reports of every schema version are read in the current shape (lab.report.compat.upgrade), so
a verdict is known by its cell in old and new runs alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.report.compat import upgrade, verdict_cell
from lab.report.results import Status
from lab.report.run import load_results


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    path: Path
    kind: str  # "nightly" or "run"
    state: str
    started: str
    counts: dict[str, int]


def list_runs(reports: Path) -> list[RunSummary]:
    """Every run with a readable results.json, oldest first (run ids sort by time)."""
    runs = []
    for results in sorted(reports.glob("*/results.json")):
        if results.parent.is_symlink():  # reports/latest is a pointer, not a run
            continue
        try:
            data = load_results(results)
        except (OSError, ValueError):
            continue
        runs.append(
            RunSummary(
                data["run_id"],
                results.parent,
                data.get("kind", "run"),
                data.get("state", "?"),
                data.get("started", ""),
                data.get("counts", {}),
            )
        )
    return runs


def find_run(reports: Path, ref: str | None) -> Path:
    """A run directory by id, unique prefix, 'latest' or None (= latest)."""
    if ref in (None, "latest"):
        latest = reports / "latest"
        if latest.exists():
            return latest.resolve()
        runs = list_runs(reports)
        if not runs:
            raise LookupError(f"no runs in {reports}")
        return runs[-1].path
    assert ref is not None
    exact = reports / ref
    if (exact / "results.json").exists():
        return exact
    matches = [r.path for r in list_runs(reports) if r.run_id.startswith(ref)]
    if len(matches) != 1:
        raise LookupError(f"run {ref!r}: {'ambiguous' if matches else 'not found'} in {reports}")
    return matches[0]


def load(run_dir: Path) -> dict[str, Any]:
    """A run's results.json, upgraded to the current schema."""
    return load_results(run_dir / "results.json")


def verdict_key(v: dict[str, Any]) -> str:
    """cell/scenario[/path] [accel]: the identity of a verdict across runs."""
    env = v.get("env") or {}
    return (
        f"{verdict_cell(v)}/{v['scenario']}"
        + (f"/{v['path']}" if v.get("path") else "")
        + (f" [{env.get('accel')}]" if env.get("accel") else "")
    )


def statuses(data: dict[str, Any]) -> dict[str, Status]:
    """Each verdict's status by verdict_key (data of any schema version)."""
    return {verdict_key(v): Status(v["status"]) for v in upgrade(data)["verdicts"]}


@dataclass(frozen=True)
class Change:
    key: str
    before: Status | None
    after: Status | None

    @property
    def is_new_problem(self) -> bool:
        """Bad now, and not bad (or absent) before: what turns a nightly red."""
        return (
            self.after is not None
            and self.after.bad
            and (self.before is None or not self.before.bad or self.before is not self.after)
        )


def diff(a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    """Verdicts whose status differs between run a and run b (added and removed included)."""
    sa, sb = statuses(a), statuses(b)
    keys = list(dict.fromkeys([*sa, *sb]))
    return [Change(k, sa.get(k), sb.get(k)) for k in keys if sa.get(k) is not sb.get(k)]


def previous_nightly(reports: Path, current: str) -> dict[str, Any] | None:
    """The newest finished nightly before the current one, or None."""
    earlier = [
        r
        for r in list_runs(reports)
        if r.kind == "nightly" and r.state == "finished" and r.run_id < current
    ]
    return load(earlier[-1].path) if earlier else None


def new_problems(
    current: dict[str, Any],
    previous: dict[str, Any] | None,
    known_flaky: frozenset[str] = frozenset(),
) -> list[Change]:
    """New failures/divergences/errors/flaky results against the previous nightly (all of them
    if none). A result known to be flaky is not news whichever way it flips this time; a flaky
    result not known before is."""
    baseline = previous or {"verdicts": []}
    return [c for c in diff(baseline, current) if c.is_new_problem and c.key not in known_flaky]


FLAKY_MEMORY = 7  # nightlies back in which a flaky result makes that result "known flaky"


def known_flaky(reports: Path, current: str, last: int = FLAKY_MEMORY) -> frozenset[str]:
    """Verdict keys that were flaky in one of the last finished nightlies before this one."""
    earlier = [
        r
        for r in list_runs(reports)
        if r.kind == "nightly" and r.state == "finished" and r.run_id < current
    ][-last:]
    keys: set[str] = set()
    for run in earlier:
        keys |= {k for k, s in statuses(load(run.path)).items() if s is Status.FLAKY}
    return frozenset(keys)


def nightly_problems(reports: Path, current: dict[str, Any]) -> list[Change]:
    """What turns this nightly red: results bad now and not before, known flaky ones aside."""
    run_id = current["run_id"]
    previous = previous_nightly(reports, run_id)
    return new_problems(current, previous, known_flaky(reports, run_id))


def subject_line(data: dict[str, Any], problems: list[Change]) -> str:
    """One line fit for a mail subject."""
    counts = data.get("counts", {})
    total = sum(counts.values())
    shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    contradicted = contradictions(data)
    verdict = "RED" if problems or contradicted else "GREEN"
    claims = f"; {len(contradicted)} claim(s) contradicted by evidence" if contradicted else ""
    return (
        f"entrylab {data.get('kind', 'run')} {data['run_id']}: {verdict}: "
        f"{len(problems)} new problem(s){claims}; {total} verdicts ({shown})"
    )


def contradictions(data: dict[str, Any]) -> list[dict[str, str]]:
    """Claims of the run (expectation bounds, emulator causes) its evidence contradicts
    (lab.engine.attribution): each turns a nightly red until fixed."""
    found = (data.get("attribution") or {}).get("contradictions") or []
    return [c for c in found if isinstance(c, dict)]


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=1, default=str)
