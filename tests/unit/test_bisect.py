"""lab bisect's pure parts: verdicts → git bisect's exit code, git bisect's answer parsed, the
tree on the kernel axis (--kernels tree:PATH, --tree) and its errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lab.bisect.git import bisecting, check_repo, parse_answer
from lab.bisect.verdicts import BAD, GOOD, SKIP, counts, step_code
from lab.config.profiles import load_profiles
from lab.engine.plan import RunPlan, expand_kernels, known_kernels
from lab.errors import LabError
from lab.images.builder import Images
from lab.images.kernels import kbuild_name, kernel_file
from lab.kbuild.axis import TreeKernel, tree_choice, tree_kernels, with_tree

SHA = "d485e702a6247493304ab5ba75edcf31cfe2d95e"


def v(status: str, kind: str = "", cell: str = "intel-sep@tree-x") -> dict[str, str]:
    return {"status": status, "error_kind": kind, "cell": cell, "scenario": "vdso-entry"}


def test_every_pass_is_good_and_a_fail_is_bad() -> None:
    assert step_code([v("pass"), v("xfail"), v("skip")])[0] == GOOD
    for bad in ("fail", "divergence", "xpass", "flaky"):
        code, why = step_code([v("pass"), v(bad)])
        assert code == BAD and f"intel-sep@tree-x/vdso-entry: {bad}" in why


def test_errors_the_scenario_caused_are_bad_others_skip() -> None:
    for kind in ("panic", "hang", "tainted", "output"):
        assert step_code([v("error", kind)])[0] == BAD
    for kind in ("boot", "qemu exited", "agent", "ssh", "program", "lab", ""):
        code, why = step_code([v("pass"), v("error", kind)])
        assert code == SKIP and "not the scenario's" in why
    assert step_code([v("error", "boot"), v("fail")])[0] == BAD  # a real failure wins


def test_nothing_ran_is_a_skip() -> None:
    assert step_code([])[0] == SKIP
    assert step_code([v("skip"), v("skip")]) == (SKIP, "no scenario ran (every verdict a skip)")
    assert counts([v("pass"), v("fail"), v("pass")]) == "1 fail, 2 pass"


def test_first_bad_commit_parsed_from_git_bisect_run() -> None:
    out = (
        "Bisecting: 0 revisions left to test after this (roughly 0 steps)\n"
        f"running  '/usr/bin/python3' '-m' 'lab.cli' 'bisect' 'run'\n"
        f"{SHA} is the first bad commit\n"
        f"commit {SHA}\nAuthor: a <a@b>\n\n    x86/vdso32: enter with int $0x80\n"
        "bisect found first bad commit\n"
    )
    assert parse_answer(out).first_bad == SHA
    other = "b7eca0e4c63fda0de27b316585e063db04305cda"
    skipped = (
        "There are only 'skip'ped commits left to test.\n"
        f"The first bad commit could be any of:\n{SHA}\n{other}\nWe cannot bisect more!\n"
    )
    answer = parse_answer(skipped)
    assert answer.first_bad == "" and answer.candidates == (SHA, other)
    assert parse_answer("bisect run failed:\nexit code 128 from 'x' is < 0 or >= 128\n") == (
        parse_answer("")
    )


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "t"
    repo.mkdir()
    env = ["-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "-C", str(repo), "init", "-q"], check=True)
    (repo / "f").write_text("1\n")
    subprocess.run(["git", "-C", str(repo), "add", "f"], check=True)
    subprocess.run(["git", "-C", str(repo), *env, "commit", "-qm", "one"], check=True)
    return repo


def test_the_tree_must_be_a_clean_git_top(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert check_repo(repo) == repo.resolve() and not bisecting(repo)
    (repo / "sub").mkdir()
    with pytest.raises(LabError, match="not the top of a git work tree"):
        check_repo(repo / "sub")
    (repo / "untracked").write_text("fine\n")
    check_repo(repo)
    (repo / "f").write_text("2\n")
    with pytest.raises(LabError, match="uncommitted changes"):
        check_repo(repo)


def test_tree_spellings_and_their_errors(tmp_path: Path) -> None:
    assert tree_choice(f"tree:{tmp_path}") == f"tree:{tmp_path.resolve()}"
    assert with_tree(["7.2", f"tree:{tmp_path}/."], None, None) == ["7.2", f"tree:{tmp_path}"]
    assert with_tree([], str(tmp_path), None) == [f"tree:{tmp_path}"]
    with pytest.raises(LabError, match="give the tree's path"):
        tree_choice("tree:")
    with pytest.raises(LabError, match="--tree and --kernel"):
        with_tree([], str(tmp_path), "7.2")


def test_a_tree_is_built_per_bitness_and_i386_may_be_impossible(root: Path) -> None:
    built: list[tuple[Path, str]] = []

    def build(path: Path, arch: str) -> tuple[Path, str]:
        built.append((path, arch))
        return path / f"out-{arch}/vmlinux", "tree-0123456789ab"

    trees = tree_kernels(["7.2", "tree:/src/linux"], [64, 32], build, lambda _p: False)
    assert built == [(Path("/src/linux"), "x86_64")]  # no i386 build was tried
    assert trees["tree:/src/linux"][64] == TreeKernel(
        "tree-0123456789ab", "/src/linux/out-x86_64/vmlinux"
    )
    assert "cannot build i386" in trees["tree:/src/linux"][32].why
    profiles = load_profiles(root / "vendors.yaml")
    recipe = Images(root).recipe()
    kernels = known_kernels(["7.2", "tree:/src/linux"], recipe)
    plan = RunPlan(
        [profiles["intel-sep"], profiles["i386-int80"]], [], kernels=kernels, trees=trees
    )
    slots = [
        (s.profile.name, s.profile.kernel, s.why_not[:20]) for s in expand_kernels(plan, recipe)
    ]
    assert slots == [
        ("intel-sep", "7.2/cloud-amd64", ""),
        ("intel-sep", "/src/linux/out-x86_64/vmlinux", ""),
        ("i386-int80", "7.2/686", "series 7.2 has no 68"),
        ("i386-int80", "tree-0123456789ab", "tree /src/linux cann"),  # named like its sibling
    ]


def test_a_kbuild_result_is_named_by_its_tree(tmp_path: Path) -> None:
    def manifest(tree: str, identity: str = "f" * 64) -> dict[str, object]:
        return {"kernel": "vmlinux", "inputs": {"tree": tree, "tree_identity": identity}}

    assert kbuild_name(manifest("git:d485e702a624")) == "tree-d485e702a624"
    assert kbuild_name(manifest("git:d485e702a624+dirty")) == "tree-d485e702a624-dirty"
    assert kbuild_name(manifest("tree:/src/linux", "ab" * 32)) == "tree-abababababab"
    assert kbuild_name(manifest("debian:linux-source-7.2=7.2.13-1")) == "src-7.2.13-1"
    (tmp_path / "vmlinux").write_bytes(b"\x7fELF")
    (tmp_path / "manifest.json").write_text(json.dumps(manifest("git:d485e702a624")))
    assert kernel_file(tmp_path) == (tmp_path / "vmlinux", manifest("git:d485e702a624"))
    assert kernel_file(tmp_path / "vmlinux")[1]["kernel"] == "vmlinux"
    (tmp_path / "manifest.json").unlink()
    assert kernel_file(tmp_path / "vmlinux") == (tmp_path / "vmlinux", {})
    with pytest.raises(LabError, match="not one `lab kernel build` made"):
        kernel_file(tmp_path)
