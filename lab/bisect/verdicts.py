"""A bisect step's verdicts as `git bisect run` reads them: 0 good, 1 bad, 125 skip (this
commit cannot be tested), 128 abort (git stops the bisection on any code above 127).

Bad is what the scenario shows on the kernel: fail, divergence, xpass, flaky, or an error the
guest had while a scenario ran (panic, hang, taint, unreadable output). Skip is what says
nothing about the scenario: the kernel did not build, the guest never became ready, the
emulator or the lab broke, or nothing ran at all."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from lab.errors import ErrorKind

GOOD, BAD, SKIP, ABORT = 0, 1, 125, 128
BAD_STATUSES = frozenset({"fail", "divergence", "xpass", "flaky"})
# Errors a scenario's own run caused on the booted kernel (lab.errors.ErrorKind)
SCENARIO_ERRORS = frozenset({ErrorKind.PANIC, ErrorKind.HANG, ErrorKind.TAINTED, ErrorKind.OUTPUT})
RAN = frozenset({"pass", "xfail"}) | BAD_STATUSES

Verdict = Mapping[str, Any]  # one entry of results.json's "verdicts"


def is_bad(v: Verdict) -> bool:
    """A verdict that says this commit has the bug."""
    status = str(v.get("status", ""))
    if status == "error":
        return str(v.get("error_kind", "")) in SCENARIO_ERRORS
    return status in BAD_STATUSES


def step_code(verdicts: Iterable[Verdict]) -> tuple[int, str]:
    """The exit code of a step and why: bad if any verdict is bad; else skip if an error that
    is not the scenario's (a boot that failed, the lab) or nothing ran; else good."""
    found = list(verdicts)
    bad = [v for v in found if is_bad(v)]
    if bad:
        return BAD, f"{_key(bad[0])}: {bad[0].get('status')}"
    errors = [v for v in found if v.get("status") == "error"]
    if errors:
        kind = errors[0].get("error_kind") or "error"
        return SKIP, f"{_key(errors[0])}: {kind} error, not the scenario's"
    if not any(v.get("status") in RAN for v in found):
        return SKIP, "no scenario ran (every verdict a skip)"
    return GOOD, "every verdict passed"


def counts(verdicts: Iterable[Verdict]) -> str:
    """'2 pass, 1 fail' in a stable order (worst last is not needed: the code says it)."""
    tally = Counter(str(v.get("status", "?")) for v in verdicts)
    return ", ".join(f"{n} {s}" for s, n in sorted(tally.items())) or "no verdicts"


def _key(v: Verdict) -> str:
    path = f"/{v['path']}" if v.get("path") else ""
    return f"{v.get('cell') or v.get('profile', '?')}/{v.get('scenario', '?')}{path}"
