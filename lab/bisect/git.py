"""The git side of `lab bisect`: the tree checked (a work tree's top, clean, no bisection of
the user's under way), `git bisect` run and its answer read."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError

# git bisect's verdict (bisect.c, git 2.39+): "<sha> is the first bad commit"; with skipped
# commits in the way: "The first bad commit could be any of:" then one sha a line.
FIRST_BAD = re.compile(r"^([0-9a-f]{40}) is the first bad commit$", re.MULTILINE)
ANY_OF = re.compile(r"^The first bad commit could be any of:\n((?:[0-9a-f]{40}\n?)+)", re.MULTILINE)


@dataclass(frozen=True)
class Answer:
    """What a bisection found: the first bad commit, or the candidates skips left."""

    first_bad: str = ""
    candidates: tuple[str, ...] = ()


def git(tree: Path, *args: str, check: bool = True) -> str:
    """`git -C tree ARGS`'s stdout; a failure is one error with git's own message."""
    try:
        done = subprocess.run(
            ["git", "-C", str(tree), *args], capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise LabError(f"cannot run git: {exc.strerror}") from None
    if check and done.returncode != 0:
        message = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise LabError(f"git {' '.join(args)} in {tree}: {message[-1] if message else 'failed'}")
    return done.stdout.strip()


def parse_answer(output: str) -> Answer:
    """The first bad commit from `git bisect run`'s output (or `git bisect log`'s)."""
    found = FIRST_BAD.search(output)
    if found:
        return Answer(found.group(1))
    many = ANY_OF.search(output)
    if many:
        return Answer(candidates=tuple(many.group(1).split()))
    return Answer()


def bisecting(tree: Path) -> bool:
    """Whether a bisection is under way in tree (git keeps BISECT_START while it is)."""
    return Path(tree, git(tree, "rev-parse", "--git-path", "BISECT_START")).exists()


def check_repo(tree: Path) -> Path:
    """The top of the work tree; an error if it is none, or has changes to tracked files
    (git bisect checks out other commits: they would be carried along or refused)."""
    top = Path(git(tree, "rev-parse", "--show-toplevel", check=False) or "")
    if not top.parts or top.resolve() != tree.resolve():
        raise LabError(f"--tree {tree}: not the top of a git work tree (git bisect needs one)")
    if git(tree, "status", "--porcelain", "--untracked-files=no"):
        raise LabError(
            f"--tree {tree}: uncommitted changes to tracked files; commit or stash them first"
        )
    return top.resolve()


def commit_of(tree: Path, rev: str) -> str:
    """A revision as a full commit hash; an unknown one is an error naming it."""
    sha = git(tree, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if not sha:
        raise LabError(f"{rev}: not a commit of {tree}")
    return sha


def subject(tree: Path, sha: str) -> str:
    return git(tree, "log", "-1", "--format=%s", sha, check=False)
