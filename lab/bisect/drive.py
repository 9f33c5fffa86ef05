"""`lab bisect GOOD BAD`: git bisect driven by the lab. `git bisect start BAD GOOD`, then `git
bisect run` with the lab's own `lab bisect run` as the script, then — whatever happened,
Ctrl-C included — `git bisect reset`, so the tree is never left mid-bisect (a bisection the
user started is never touched: it is refused). Ends with the first bad commit and the verdicts
its step saw."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from lab.bisect.git import Answer, bisecting, check_repo, commit_of, git, parse_answer, subject
from lab.bisect.step import child_env, steps_dir
from lab.bisect.verdicts import is_bad
from lab.errors import LabError

Say = Callable[[str], None]


def stream(argv: Sequence[str], say: Say) -> str:
    """Run argv, each line of its output said as it comes; all of it returned."""
    seen: list[str] = []
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=child_env()
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            say(line.rstrip("\n"))
    return "".join(seen)


def bisect(tree: Path, good: str, bad: str, script: Sequence[str], say: Say) -> Answer:
    """The bisection of good..bad in tree with script as `git bisect run`'s command."""
    tree = check_repo(tree)
    if bisecting(tree):
        raise LabError(
            f"{tree}: a bisection is already under way (`git bisect log`): finish it with "
            "`git bisect run <lab> bisect run ...`, or end it with `git bisect reset`"
        )
    good_sha, bad_sha = commit_of(tree, good), commit_of(tree, bad)
    try:
        say(git(tree, "bisect", "start", bad_sha, good_sha))
        output = stream(["git", "-C", str(tree), "bisect", "run", *script], say)
    finally:
        git(tree, "bisect", "reset", check=False)
    return parse_answer(output)


def step_verdicts(tree: Path, sha: str) -> list[str]:
    """The bad verdicts the step of sha saw, one line each ([] if no step ran on it)."""
    results = steps_dir(tree) / sha / "latest" / "results.json"
    try:
        data = json.loads(results.resolve().read_text())
    except (OSError, ValueError):
        return ["  (no step ran on it: it is the BAD commit given, taken as bad)"]
    return [
        f"  {v.get('cell')}/{v.get('scenario')}: {v.get('status')}: {v.get('message', '')}"
        for v in data.get("verdicts", [])
        if is_bad(v)
    ] + [f"  report: {results.resolve().parent}"]


def conclude(tree: Path, answer: Answer, say: Say) -> int:
    """The answer said; 0 when the first bad commit is known, 1 when skips hid it."""
    if answer.first_bad:
        sha = answer.first_bad
        say(f"first bad commit: {sha} {subject(tree, sha)}")
        for line in step_verdicts(tree, sha):
            say(line)
        return 0
    if answer.candidates:
        say("the first bad commit is one of (the others could not be tested):")
        for sha in answer.candidates:
            say(f"  {sha} {subject(tree, sha)}")
        return 1
    say("git bisect found no first bad commit (see its output above)")
    return 1
