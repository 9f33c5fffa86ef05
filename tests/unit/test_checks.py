"""Guest result lines are untrusted: malformed ones are reported, never dropped silently."""

from __future__ import annotations

from lab.checks import parse_result_lines
from lab.suites import load_catalog


def test_good_lines_parse_and_text_is_ignored() -> None:
    results, problems = parse_result_lines(
        [
            "free text",
            '{"entrylab":1,"test":"regs/int80","status":"pass","observed":{"ebx":1}}',
        ]
    )
    assert problems == []
    assert results == [
        {"entrylab": 1, "test": "regs/int80", "status": "pass", "observed": {"ebx": 1}}
    ]


def test_malformed_truncated_and_hostile_lines() -> None:
    results, problems = parse_result_lines(
        [
            '{"entrylab":1,"test":"t","status":"pass"',  # truncated
            '{"entrylab":1,"test":"t"}',  # no status
            '{"entrylab":1,"test":"t","status":"owned"}',  # unknown status
            '{"entrylab":1,"test":["x"],"status":"pass"}',  # wrong type
            "[1, 2]",
        ]
    )
    assert results == []
    assert len(problems) == 4
    assert all(p.startswith("output line") for p in problems)


def test_registry_has_the_builtin_checks() -> None:
    assert {"vdso-entry", "results", "exit-code"} <= set(load_catalog().checks)
