"""Flaky or not: a bad outcome is run again on fresh boots before it is reported.

A fail, error or divergence (Status.needs_confirming) is held back by the cell's runner, which
boots the guest again ``reruns`` times for the scenarios that had one and runs only those. Here
the attempts are folded into one verdict: the same status every time keeps that status (the
verdict says "n of n"); mixed outcomes are status flaky, with every attempt's status, message
and excerpt kept, so that a race can be told from a regression the next morning.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lab.errors import ErrorKind
from lab.report.results import Status, Verdict

DEFAULT_RERUNS = 3  # fresh boots per held scenario (lab run --reruns, vendors.yaml nightly:)
EXCERPT_KEEP = 2000  # characters of each attempt's excerpt kept in the report
# A boot that failed is tried once more only: a kernel that does not boot does not boot, and a
# boot timeout costs minutes.
BOOT_RERUNS = 1

# The kernel command-line word of a re-run boot: entrylab.rerun=N (N = 1, 2, …), so its console
# log says which attempt it is, and a guest program can tell (lab/guest/fault_inject.c alternate).
RERUN_WORD = "entrylab.rerun"

# Errors that are never re-run: the lab stopped or broke before the guest did anything.
NOT_RERUN = frozenset({ErrorKind.INTERRUPTED.value, ErrorKind.PROGRAM.value})


def held_back(v: Verdict, reruns: int) -> bool:
    """Whether the runner holds this verdict until its scenario has been re-run."""
    return reruns > 0 and v.status.needs_confirming and v.error_kind not in NOT_RERUN


def rerun_count(held: list[Verdict], reruns: int) -> int:
    """How many fresh boots the held verdicts get: fewer when all of them are boot failures."""
    if held and all(v.error_kind == ErrorKind.BOOT.value for v in held):
        return min(reruns, BOOT_RERUNS)
    return reruns


def attempt(v: Verdict | None, boot: str = "") -> dict[str, Any]:
    """One attempt as the report keeps it; None: the re-run produced no such verdict."""
    if v is None:
        return {
            "status": Status.ERROR.value,
            "message": "the re-run produced no verdict for this path",
            "excerpt": "",
            "boot": boot,
        }
    excerpt = v.excerpt if len(v.excerpt) <= EXCERPT_KEEP else v.excerpt[:EXCERPT_KEEP] + " …"
    return {"status": v.status.value, "message": v.message, "excerpt": excerpt, "boot": boot}


def fold(first: Verdict, first_boot: str, reruns: list[dict[str, Any]]) -> Verdict:
    """The verdict reported for a held one, given what its re-runs came to (in order)."""
    attempts = [attempt(first, first_boot), *reruns]
    statuses = [Status(a["status"]) for a in attempts]
    if all(s is first.status for s in statuses):
        return dataclasses.replace(
            first,
            attempts=attempts,
            message=f"{first.message} [{len(attempts)} of {len(attempts)}]",
        )
    bad = sum(s.needs_confirming for s in statuses)
    seen = ", ".join(s.value for s in statuses)
    return dataclasses.replace(
        first,
        status=Status.FLAKY,
        attempts=attempts,
        message=f"flaky: {bad} of {len(attempts)} runs bad ({seen}); first: {first.message}",
        error_kind="",
    )


def key_of(v: Verdict) -> str:
    return v.scenario + (f"/{v.path}" if v.path else "")


def steady_results(previous: dict[str, Any] | None) -> dict[str, str]:
    """cell/scenario[/path] -> status of the previous nightly's bad results that every re-run
    confirmed (n of n, n > 1): known and stable, so one agreeing re-run suffices now."""
    out: dict[str, str] = {}
    for v in (previous or {}).get("verdicts", []):
        attempts = v.get("attempts") or []
        if len(attempts) > 1 and all(a.get("status") == v.get("status") for a in attempts):
            key = f"{v.get('cell')}/{v.get('scenario')}" + (
                f"/{v['path']}" if v.get("path") else ""
            )
            out[key] = str(v.get("status"))
    return out
