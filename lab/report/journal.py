"""The run's journal: every verdict and guest record appended as one JSON line the moment it
exists, so results.json can be rewritten only every few seconds and nothing is lost.

A nightly holds ~13 000 verdicts and a 20 MB results.json, whose full rewrite (JSON, junit.xml,
summary.md) takes seconds; rewriting it after every scenario kept the guests waiting on the
report's lock. The journal (journal.jsonl in the run directory) is append-only and cheap; the
full files follow at most every WRITE_EVERY_S and at the end. A run killed halfway keeps every
verdict in its journal: resuming it (RunReport.reopen) and reading it (load_results) replay
the journal over results.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

NAME = "journal.jsonl"
WRITE_EVERY_S = 5.0  # the full report files are rewritten at most this often while running


def append(run_dir: Path, kind: str, items: Iterable[dict[str, Any]]) -> None:
    """One line per item: {"kind": "verdict" | "evidence" | "guest", "data": ...}."""
    lines = "".join(json.dumps({"kind": kind, "data": i}, default=str) + "\n" for i in items)
    if lines:
        with (run_dir / NAME).open("a", encoding="utf-8") as f:
            f.write(lines)
            f.flush()


def replay(run_dir: Path) -> dict[str, list[dict[str, Any]]] | None:
    """Everything the journal holds by kind (a torn last line is dropped), or None if the run
    has no journal (it predates journals)."""
    path = run_dir / NAME
    if not path.is_file():
        return None
    out: dict[str, list[dict[str, Any]]] = {"verdict": [], "evidence": [], "guest": []}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # the line a killed lab was writing
        if isinstance(entry, dict) and entry.get("kind") in out:
            out[entry["kind"]].append(entry["data"])
    return out


def merged(data: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """results.json data with the journal replayed over it: the journal's verdicts (a superset
    of what the last rewrite held) and its guest records merged in order."""
    found = replay(run_dir)
    if found is None or len(found["verdict"]) <= len(data.get("verdicts", [])):
        return data
    guests = dict(data.get("guests", {}))
    for g in found["guest"]:
        key, info = str(g.get("key")), g.get("info") or {}
        guests[key] = {**guests.get(key, {}), **info}
    return {**data, "verdicts": found["verdict"], "evidence": found["evidence"], "guests": guests}
