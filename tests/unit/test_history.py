"""Report history with synthetic runs: list, find, diff, and what a nightly calls new."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.report import history
from lab.report.results import Status


def write_run(
    reports: Path,
    run_id: str,
    statuses: dict[str, str],
    kind: str = "nightly",
    state: str = "finished",
) -> None:
    verdicts = []
    for key, status in statuses.items():
        profile, scenario = key.split("/", 1)
        verdicts.append(
            {
                "profile": profile,
                "scenario": scenario,
                "path": None,
                "status": status,
                "env": {"accel": "tcg", "kernel": "k"},
            }
        )
    counts = {s.value: sum(v["status"] == s.value for v in verdicts) for s in Status}
    data = {
        "schema_version": 1,
        "run_id": run_id,
        "kind": kind,
        "state": state,
        "started": run_id,
        "counts": counts,
        "verdicts": verdicts,
        "guests": {},
    }
    (reports / run_id).mkdir(parents=True)
    (reports / run_id / "results.json").write_text(json.dumps(data))


def test_new_problems_against_the_previous_nightly(tmp_path: Path) -> None:
    write_run(tmp_path, "20260101-000000-aaaa", {"p/a": "pass", "p/b": "fail", "p/c": "pass"})
    write_run(tmp_path, "20260102-000000-bbbb", {"p/a": "pass"}, kind="run")
    write_run(tmp_path, "20260103-000000-cccc", {"p/a": "fail"}, state="interrupted")
    write_run(
        tmp_path,
        "20260104-000000-dddd",
        {"p/a": "fail", "p/b": "fail", "p/c": "divergence", "p/d": "error", "p/e": "pass"},
    )
    current = history.load(tmp_path / "20260104-000000-dddd")
    previous = history.previous_nightly(tmp_path, current["run_id"])
    assert previous is not None and previous["run_id"] == "20260101-000000-aaaa"
    new = history.new_problems(current, previous)
    assert sorted(c.key for c in new) == ["p@k/a [tcg]", "p@k/c [tcg]", "p@k/d [tcg]"]
    line = history.subject_line(current, new)
    assert "RED" in line and "3 new problem(s)" in line


def test_first_nightly_counts_every_problem_and_green_when_clean(tmp_path: Path) -> None:
    write_run(tmp_path, "20260101-000000-aaaa", {"p/a": "pass", "p/b": "skip"})
    current = history.load(tmp_path / "20260101-000000-aaaa")
    assert history.previous_nightly(tmp_path, current["run_id"]) is None
    assert history.new_problems(current, None) == []
    assert "GREEN" in history.subject_line(current, [])


def test_find_and_diff(tmp_path: Path) -> None:
    write_run(tmp_path, "20260101-000000-aaaa", {"p/a": "pass", "p/b": "fail"})
    write_run(tmp_path, "20260102-000000-bbbb", {"p/a": "fail", "p/c": "pass"})
    assert history.find_run(tmp_path, "20260102").name == "20260102-000000-bbbb"
    with pytest.raises(LookupError):
        history.find_run(tmp_path, "2026")
    changes = history.diff(
        history.load(tmp_path / "20260101-000000-aaaa"),
        history.load(tmp_path / "20260102-000000-bbbb"),
    )
    assert {(c.key, c.before, c.after) for c in changes} == {
        ("p@k/a [tcg]", Status.PASS, Status.FAIL),
        ("p@k/b [tcg]", Status.FAIL, None),
        ("p@k/c [tcg]", None, Status.PASS),
    }
    assert [r.run_id for r in history.list_runs(tmp_path)] == [
        "20260101-000000-aaaa",
        "20260102-000000-bbbb",
    ]


def test_a_new_flaky_result_is_news_a_known_flaky_one_flipping_is_not(tmp_path: Path) -> None:
    write_run(tmp_path, "20260101-000000-aaaa", {"p/a": "flaky", "p/b": "pass", "p/c": "pass"})
    write_run(tmp_path, "20260102-000000-bbbb", {"p/a": "pass", "p/b": "pass", "p/c": "pass"})
    write_run(tmp_path, "20260103-000000-cccc", {"p/a": "fail", "p/b": "flaky", "p/c": "fail"})
    current = history.load(tmp_path / "20260103-000000-cccc")
    assert history.known_flaky(tmp_path, current["run_id"]) == {"p@k/a [tcg]"}
    new = history.nightly_problems(tmp_path, current)
    # a flipped (known flaky from two nights ago); b is newly flaky; c newly fails
    assert sorted(c.key for c in new) == ["p@k/b [tcg]", "p@k/c [tcg]"]
    assert {c.key: c.after for c in new}["p@k/b [tcg]"] is Status.FLAKY


def test_flaky_memory_is_the_last_nightlies_only(tmp_path: Path) -> None:
    write_run(tmp_path, "20260101-000000-aaaa", {"p/a": "flaky"})
    for day in range(2, 2 + history.FLAKY_MEMORY):
        write_run(tmp_path, f"202601{day:02d}-000000-bbbb", {"p/a": "pass"})
    write_run(tmp_path, "20260120-000000-cccc", {"p/a": "fail"})
    current = history.load(tmp_path / "20260120-000000-cccc")
    assert history.known_flaky(tmp_path, current["run_id"]) == frozenset()
    assert [c.key for c in history.nightly_problems(tmp_path, current)] == ["p@k/a [tcg]"]
