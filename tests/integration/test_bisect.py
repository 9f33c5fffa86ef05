"""`lab bisect` for real: a small git history of linux-source-7.2 (tests/integration/
kernel_history.py: made once, cached under the lab cache across sessions) in which one commit
makes __kernel_vsyscall enter with int $0x80 on every CPU; `lab bisect BASE LAST --profiles
intel-sep --scenarios vdso-entry` names that commit and leaves the tree as it was.

Cost: every step builds in the history's one O= directory (lab/kbuild keys it by tree path and
arch), so only the first build ever is cold; each commit's kernel is then cached by its HEAD,
and a warm session's bisect runs no make at all (its steps are boots). Measured on the shared
2-core machine (a nightly running): making the history 80 s; the first, cold build of its O=
dir 11:27 (685 s in make); the bisect with that O= dir warm 44 s (two steps, incremental
builds of 16.6 s and 14.5 s); fully warm 16 s for this file."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.dirs import cache_dir
from lab.images.builder import Images
from lab.kbuild.cli import kbuild_cache
from lab.kbuild.source import debian_tree
from tests.conftest import lab_cli
from tests.integration.kernel_history import History, cached_history, git

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def history(root: Path) -> History:
    source = debian_tree(Images(root), "7.2", kbuild_cache() / "src", lambda _m: None)
    return cached_history(source.path, cache_dir() / "tests" / "bisect")


def test_bisect_names_the_commit_that_broke_the_entry(root: Path, history: History) -> None:
    result = lab_cli(
        "bisect",
        history.base,
        history.last,
        "--profiles",
        "intel-sep",
        "--scenarios",
        "vdso-entry",
        "--tree",
        str(history.repo),
        cwd=root,
        timeout=5400,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert f"first bad commit: {history.breaking} {history.breaking_subject}" in out
    steps = [line for line in out.splitlines() if line.startswith("step ")]
    assert steps and all(line.endswith(("(exit 0)", "(exit 1)")) for line in steps), steps
    assert any(history.breaking[:12] in line and "-> bad (exit 1)" in line for line in steps)
    assert f"intel-sep@tree-{history.breaking[:12]}/vdso-entry: fail: path" in out
    # the tree is back where it was, with no bisection left under way
    assert git(history.repo, "rev-parse", "HEAD") == history.last
    assert not Path(history.repo, ".git/BISECT_START").exists()
    assert git(history.repo, "status", "--porcelain", "--untracked-files=no") == ""


def test_bisect_refuses_bad_input_in_one_line(root: Path, history: History, tmp_path: Path) -> None:
    base = ["--profiles", "intel-sep", "--scenarios", "vdso-entry", "--tree"]
    for args, expected in (
        (["nosuch", history.last, *base, str(history.repo)], "nosuch: not a commit of"),
        ([history.base, history.last, *base, str(tmp_path)], "not the top of a git work tree"),
        (
            [
                history.base,
                history.last,
                *base[:-3],
                "--scenarios",
                "nosuch",
                "--tree",
                str(history.repo),
            ],
            "nosuch",
        ),
    ):
        result = lab_cli("bisect", *args, cwd=root, timeout=120)
        assert result.returncode == 2, result.stdout + result.stderr
        assert expected in result.stderr and "Traceback" not in result.stderr
    assert git(history.repo, "rev-parse", "HEAD") == history.last
