"""`lab bisect run`: one step of a bisection, the script `git bisect run` calls in the tree.

Build the checked-out commit for each bitness the profiles need (lab.kbuild, one O= directory
per tree and arch, so each step is an incremental rebuild), then run the scenarios with the
lab's own `lab run` as a child process on `--kernels tree:<tree>` (its build is then a cache
hit) with `--reruns 0 --no-attribution`, and read the run's results.json. A child process,
not the engine in-process: whatever a guest or the lab does in it (a crash, a hang that the
run's own timeouts end, a traceback) is one step's skip, never the end of `git bisect run`,
and each step's full report stays on disk under the cache for the final answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lab
from lab.bisect.git import git
from lab.bisect.verdicts import ABORT, BAD, GOOD, SKIP, counts, step_code
from lab.dirs import cache_dir
from lab.errors import LabError
from lab.kbuild.axis import ARCH_OF_BITS, TREE
from lab.kbuild.build import build
from lab.kbuild.tree import can_build_i386, user_tree

EXIT_INTERRUPTED = 130
NAMES = {GOOD: "good", BAD: "bad", SKIP: "skip", ABORT: "abort"}


@dataclass(frozen=True)
class Step:
    """What one step decided, with the line it printed."""

    code: int
    line: str
    results: Path | None = None


def steps_dir(tree: Path) -> Path:
    """Where the steps of a tree keep their reports: <cache>/bisect/<tree>-<hash>/."""
    digest = hashlib.sha256(str(tree).encode()).hexdigest()[:12]
    return cache_dir() / "bisect" / f"{tree.name}-{digest}"


def lab_command(root: Path, vendors: str | None) -> list[str]:
    """This lab's own command line (the same interpreter and checkout)."""
    return [sys.executable, "-m", "lab.cli", "--root", str(root)] + (
        ["--vendors", vendors] if vendors else []
    )


def child_env() -> dict[str, str]:
    """The environment of a child lab: this lab's package first on the import path."""
    here = str(Path(lab.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": here + (os.pathsep + path if path else "")}


def build_step(tree: Path, bits: set[int]) -> tuple[str, str]:
    """Each bitness built: ('x86_64 built 95.1 s', "") or ("", why this commit cannot be
    built: then it is skipped)."""
    how = []
    try:
        kernel_tree = user_tree(tree)
        for b in sorted(bits, reverse=True):
            if b == 32 and not can_build_i386(tree):
                return "", "this commit cannot build i386 (no X86_32 in arch/x86/Kconfig)"
            built = build(kernel_tree, ARCH_OF_BITS[b], cache_dir() / "kbuild")
            seconds = built.manifest["build_seconds"]
            how.append(f"{ARCH_OF_BITS[b]} " + ("cached" if built.cached else f"built {seconds} s"))
    except LabError as exc:
        lines = str(exc).splitlines() or ["?"]
        tail = f" ({lines[-1].strip()})" if len(lines) > 1 else ""
        return "", f"build failed: {lines[0]}{tail}"
    return ", ".join(how), ""


def run_scenarios(
    tree: Path, command: list[str], choice: Sequence[str], reports: Path
) -> tuple[int, str]:
    """`lab run` on the tree's kernel in a child; (its exit code, its output's last line)."""
    reports.mkdir(parents=True, exist_ok=True)
    argv = [
        *command,
        "run",
        "--kernels",
        TREE + str(tree),
        *choice,
        "--reports",
        str(reports),
        "--plain",
        "--reruns",
        "0",
        "--no-attribution",
    ]
    with (reports / "step.log").open("w") as log:
        done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env=child_env())
    lines = (reports / "step.log").read_text(errors="replace").strip().splitlines()
    return done.returncode, lines[-1] if lines else ""


def read_verdicts(reports: Path) -> list[dict[str, Any]] | None:
    """The verdicts of the newest run under reports (None if it wrote no report)."""
    try:
        data = json.loads(((reports / "latest").resolve() / "results.json").read_text())
    except (OSError, ValueError):
        return None
    verdicts: list[dict[str, Any]] = data.get("verdicts", [])
    return verdicts


def one_step(tree: Path, bits: set[int], command: list[str], choice: Sequence[str]) -> Step:
    """Build, boot, run; the step's code and its line."""
    sha = git(tree, "rev-parse", "HEAD")
    head = f"step {sha[:12]} {git(tree, 'log', '-1', '--format=%s', sha)[:60]}"
    built, why = build_step(tree, bits)
    if why:
        return Step(SKIP, f"{head}: {why} -> skip (exit {SKIP})")
    reports = steps_dir(tree) / sha
    code, last = run_scenarios(tree, command, choice, reports)
    if code == EXIT_INTERRUPTED:
        return Step(ABORT, f"{head}: interrupted -> abort (exit {ABORT})")
    verdicts = read_verdicts(reports)
    if verdicts is None:
        return Step(SKIP, f"{head}: the run made no report ({last}) -> skip (exit {SKIP})")
    result, reason = step_code(verdicts)
    results = (reports / "latest").resolve() / "results.json"
    line = f"{head}: {built}; {counts(verdicts)}; {reason} -> {NAMES[result]} (exit {result})"
    return Step(result, line, results)
