"""Attribution: every non-pass verdict gets a cause class and its evidence, and an emulator
cause is tested on the other emulator builds, not asserted.

First each verdict is classified from what its own run knows (classify): a skip is the
configuration's, a divergence the emulator's (the silicon model's rule says what silicon does),
an expected failure carries its expectation's class, a lab error the lab's; a failure, a flaky
result or a guest that died is unknown. Then the verdicts that need evidence — divergences,
expected and unexpected failures, flaky results, guests that died — are compared with the same
scenario (and path) of the same profile on the same kernel on each other emulator build: from
the run itself when it ran those cells (`--qemu 7.2,10.0`), else from evidence runs the
executor makes for exactly those scenarios (requests). The comparison (attach) records where
the behaviour shows and where it does not, and reports a claim the evidence contradicts: an
expectation whose QEMU bounds leave out a build that shows the artefact, or cover one where it
is gone; an "emulator" cause that shows on silicon too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lab.errors import ErrorKind
from lab.report.results import Cause, Status, Verdict

# Error kinds that are the lab's own breakage (its programs, protocol, transport, a check).
LAB_ERRORS = frozenset(
    {
        ErrorKind.LAB.value,
        ErrorKind.PROGRAM.value,
        ErrorKind.AGENT.value,
        ErrorKind.CONNECTION.value,
        ErrorKind.INTERRUPTED.value,
    }
)
# Results on another build that cannot say anything about the behaviour: it did not run there.
NOT_RUN_ERRORS = LAB_ERRORS | {ErrorKind.BOOT.value}
NEEDS_EVIDENCE = frozenset(
    {Status.DIVERGENCE, Status.XFAIL, Status.XPASS, Status.FAIL, Status.FLAKY, Status.ERROR}
)
SEEN, GONE, NOT_RUN = "seen", "gone", "not run"
MESSAGE_KEEP = 300  # characters of another build's message kept beside a verdict


def classify(v: Verdict, classes: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """(cause class, evidence) from the verdict alone; classes: expectation id -> its class
    (for an exit-code whose failing subtests are all known artefacts)."""
    if v.status is Status.PASS:
        return "", []
    if v.cause:  # the check knew better
        return v.cause, v.evidence
    predicted = v.predicted if isinstance(v.predicted, dict) else {}
    if v.status is Status.SKIP:
        return Cause.CONFIGURATION.value, [f"skipped: {v.message}"]
    if v.status is Status.DIVERGENCE:
        return Cause.EMULATOR.value, [v.message, *_silicon_rule(predicted)]
    if v.status in (Status.XFAIL, Status.XPASS) and "class" in predicted:
        evidence = [f"expectation {predicted.get('expectation')} ({predicted.get('source')}): "]
        evidence[0] += str(predicted.get("cause", "")).strip()
        return str(predicted["class"]), evidence + [str(e).strip() for e in predicted["evidence"]]
    if v.status is Status.XFAIL and "explained_by" in predicted:
        ids = [str(i) for i in predicted["explained_by"]]
        kinds = {(classes or {}).get(i, Cause.UNKNOWN.value) for i in ids}
        cause = kinds.pop() if len(kinds) == 1 else Cause.UNKNOWN.value
        return cause, [f"every failing subtest is a known artefact: {', '.join(ids)}"]
    if v.status is Status.ERROR and v.error_kind in LAB_ERRORS:
        return Cause.LAB.value, [f"error kind {v.error_kind}: {v.message}"]
    if v.status is Status.FLAKY:
        return Cause.UNKNOWN.value, [f"re-runs disagreed ({v.tally})"]
    return Cause.UNKNOWN.value, []


def _silicon_rule(predicted: dict[str, Any]) -> list[str]:
    """What the silicon model says silicon does, and where the rule comes from."""
    out = []
    for key in ("silicon", "silicon_reason", "source"):
        if predicted.get(key):
            out.append(f"{key.replace('_', ' ')}: {predicted[key]}")
    return out


def needs_evidence(v: Verdict) -> bool:
    """Whether another emulator build has something to say about this verdict."""
    if v.status not in NEEDS_EVIDENCE or v.env is None or v.env.target != "qemu":
        return False
    return not (v.status is Status.ERROR and v.error_kind in NOT_RUN_ERRORS)


def place(v: Verdict) -> tuple[str, str, str, str]:
    """(profile, kernel, scenario, path): what a verdict is about, emulator aside."""
    env = v.env
    return (env.profile if env else v.profile, env.kernel if env else "", v.scenario, v.path or "")


@dataclass(frozen=True)
class Request:
    """Run these scenarios of a cell's profile and kernel on another emulator build."""

    cell: str  # the cell whose verdicts need the evidence
    emulator: str  # the other build
    scenarios: tuple[str, ...]


def requests(
    verdicts: Iterable[Verdict],
    emulators: Iterable[str],
    have: Iterable[tuple[str, str, str]],
    reused: Iterable[Verdict] = (),
) -> list[Request]:
    """Evidence runs still missing: for each cell with verdicts that need evidence, each build
    of ``emulators`` it did not run on; ``have``: the (profile, kernel, emulator) cells the
    run already made, whose own verdicts are the evidence; ``reused``: evidence an earlier
    nightly gathered that still holds (reusable), which needs no run."""
    ran = set(have)
    covered = {(place(u), u.env.emulator or "system") for u in reused if u.env is not None}
    wanted: dict[tuple[str, str], dict[str, None]] = {}
    for v in verdicts:
        if not needs_evidence(v) or v.env is None:
            continue
        for e in emulators:
            if e == (v.env.emulator or "system") or (v.env.profile, v.env.kernel, e) in ran:
                continue
            if (place(v), e) not in covered:
                wanted.setdefault((v.cell, e), {})[v.scenario] = None
    return [Request(cell, e, tuple(names)) for (cell, e), names in wanted.items()]


REUSED = "evidence of nightly"


def reusable(
    previous: dict[str, Any] | None, verdicts: Iterable[Verdict], versions: Mapping[str, str]
) -> list[Verdict]:
    """The previous nightly's evidence that still holds for this run's verdicts: same place,
    the verdict there had the same status on the same kernel release, and the other build is
    still the same QEMU version (``versions``: emulator name -> version). The nightly pays for
    evidence only where something changed or is new."""
    if not previous:
        return []
    before = {
        _slot(v): v for v in previous.get("verdicts", []) if isinstance(v, dict) and v.get("cell")
    }
    now = {place(v): v for v in verdicts if needs_evidence(v)}
    out = []
    for raw in previous.get("evidence", []):
        u = Verdict.from_json(raw)
        v = now.get(place(u))
        if v is None or u.env is None or v.env is None:
            continue
        was = before.get(f"{v.cell}/{v.scenario}/{v.path or ''}")
        if was is None or was.get("status") != v.status.value:
            continue
        if (was.get("env") or {}).get("kernel_release") != v.env.kernel_release:
            continue
        if versions.get(u.env.emulator or "system") != u.env.qemu_version:
            continue
        if REUSED not in u.message:
            u.message = f"{u.message} ({REUSED} {previous.get('run_id')})"
        out.append(u)
    return out


def _slot(v: dict[str, Any]) -> str:
    return f"{v['cell']}/{v['scenario']}/{v.get('path') or ''}"


def outcome(original: Verdict, other: Verdict) -> str:
    """Whether the behaviour behind ``original`` shows in ``other`` (the same scenario and
    path elsewhere): seen, gone, or not run there."""
    s = other.status
    if s is Status.SKIP or (s is Status.ERROR and other.error_kind in NOT_RUN_ERRORS):
        return NOT_RUN
    if original.status is Status.XPASS:  # the artefact did not show here: does it elsewhere?
        return SEEN if s in (Status.XFAIL, Status.FAIL, Status.ERROR, Status.FLAKY) else GONE
    if original.status is Status.DIVERGENCE:
        return SEEN if s is Status.DIVERGENCE else GONE
    return GONE if s in (Status.PASS, Status.XPASS) else SEEN


def where(v: Verdict) -> str:
    """An emulator build as the evidence names it: "7.2.22 (system)", or "silicon"."""
    env = v.env
    if env is None:
        return "?"
    if env.target != "qemu":
        return "silicon"
    return f"{env.qemu_version} ({env.emulator or 'system'})"


def elsewhere_entry(other: Verdict, seen: str) -> dict[str, Any]:
    env = other.env
    return {
        "emulator": (env.emulator or "system") if env else "",
        "qemu_version": env.qemu_version if env else "",
        "target": env.target if env else "",
        "status": other.status.value,
        "outcome": seen,
        "message": other.message[:MESSAGE_KEEP],
        "cell": other.cell,
    }


@dataclass(frozen=True)
class Contradiction:
    """A claim the evidence does not bear out: turns the nightly red."""

    key: str  # the verdict's key
    claim: str
    evidence: str

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "claim": self.claim, "evidence": self.evidence}


def attach(verdicts: list[Verdict], evidence: Iterable[Verdict]) -> list[Contradiction]:
    """Fill each verdict's cause, evidence, ``elsewhere`` and attribution line from the other
    builds' verdicts of the same place; return the claims the evidence contradicts."""
    by_place: dict[tuple[str, str, str, str], list[Verdict]] = {}
    for v in [*verdicts, *evidence]:
        by_place.setdefault(place(v), []).append(v)
    found: list[Contradiction] = []
    for v in verdicts:
        if not needs_evidence(v):
            continue
        others = [u for u in by_place.get(place(v), []) if u is not v and where(u) != where(v)]
        results = [(u, outcome(v, u)) for u in others]
        v.elsewhere = [elsewhere_entry(u, seen) for u, seen in results]
        here = GONE if v.status is Status.XPASS else SEEN
        v.attribution = _line([(where(v), here), *[(where(u), s) for u, s in results]])
        found += _judge(v, results)
    return found


def _line(places: list[tuple[str, str]]) -> str:
    """ "seen on 7.2.22 (system); gone on 10.0.2 (10.0)"."""
    parts = []
    for kind in (SEEN, GONE, NOT_RUN):
        names = [name for name, s in places if s == kind]
        if names:
            parts.append(f"{kind} on {', '.join(dict.fromkeys(names))}")
    return "; ".join(parts)


def _judge(v: Verdict, results: list[tuple[Verdict, str]]) -> list[Contradiction]:
    """Revise an unknown cause by the evidence; name the claims it contradicts."""
    seen = [u for u, s in results if s == SEEN]
    gone = [u for u, s in results if s == GONE]
    out = []
    if v.cause == Cause.UNKNOWN.value and v.status is not Status.FLAKY and gone:
        v.cause = Cause.EMULATOR.value
        v.evidence = [*v.evidence, f"emulator-specific: {v.attribution}"]
    if v.cause == Cause.EMULATOR.value and any(where(u) == "silicon" for u in seen):
        out.append(_contradiction(v, "an emulator cause", "silicon shows it too"))
    if v.status is Status.XFAIL:
        for u in seen:
            if u.status is not Status.XFAIL:  # the expectation did not cover that build
                out.append(
                    _contradiction(
                        v,
                        _expectation(v),
                        f"it shows on {where(u)} too, "
                        f"which its bounds leave out ({u.status.value}: "
                        f"{u.message[:MESSAGE_KEEP]})",
                    )
                )
        for u in gone:
            if u.status is Status.XPASS:
                out.append(
                    _contradiction(
                        v, _expectation(v), f"it covers {where(u)}, where the artefact is gone"
                    )
                )
    return out


def _expectation(v: Verdict) -> str:
    predicted = v.predicted if isinstance(v.predicted, dict) else {}
    name = predicted.get("expectation") or ", ".join(predicted.get("explained_by", [])) or "?"
    return f"expectation {name}"


def _contradiction(v: Verdict, claim: str, evidence: str) -> Contradiction:
    return Contradiction(v.key, claim, f"{evidence}; {v.attribution}")
