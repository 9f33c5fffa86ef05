"""A small git history of a kernel tree for the bisect test, made once and cached under the lab
cache (tests/bisect/linux-7.2): Debian's linux-source-7.2 (the tree `lab kernel build --source
7.2` unpacks) committed as it is, then a harmless commit, one that breaks the 32-bit entry,
and another harmless one.

The break: 7.2's arch/x86/entry/vdso/vdso32/system_call.S starts __kernel_vsyscall with
`ALTERNATIVE "int $0x80; ret", "", X86_FEATURE_SYSFAST32` (CPUs with the fast path get 3 bytes
of NOPs there); the broken commit makes it a plain `int $0x80; ret`, so every CPU enters with
int $0x80 — the stub a CPU without SYSFAST32 gets, byte for byte — where the model predicts
SYSENTER on Intel: vdso-entry FAILs on intel-sep (path int80 != sysenter).

The work tree is a hard-linked copy of the unpacked source (a second 1.8 GB copy costs more
than it is worth): git replaces a file it checks out (unlink, then create), and the edits here
do the same, so the lab's own unpacked tree is never written through a link.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SYSTEM_CALL = "arch/x86/entry/vdso/vdso32/system_call.S"
FAST_PATH = '\tALTERNATIVE "int $0x80; ret", "", X86_FEATURE_SYSFAST32\n'
SLOW_ONLY = "\tint $0x80; ret\t/* bisect test: no fast path for anyone */\n"
HISTORY_VERSION = "1"  # bump to remake the cached history
GIT_ENV = {
    "GIT_AUTHOR_NAME": "entrylab test",
    "GIT_AUTHOR_EMAIL": "test@entrylab.invalid",
    "GIT_COMMITTER_NAME": "entrylab test",
    "GIT_COMMITTER_EMAIL": "test@entrylab.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


@dataclass(frozen=True)
class History:
    repo: Path
    base: str  # the pristine tree (good)
    harmless: str
    breaking: str
    last: str  # another harmless commit on top (bad)
    breaking_subject: str


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "core.compression=1", *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout.strip()


def replace_file(path: Path, text: str) -> None:
    """Write a new file in place of path (never through a hard link to the source tree)."""
    path.unlink()
    path.write_text(text)


def commit(repo: Path, subject: str) -> str:
    git(repo, "add", "-A", "-f", ".")
    git(repo, "commit", "-q", "-m", subject)
    return git(repo, "rev-parse", "HEAD")


def make_history(source: Path, repo: Path) -> History:
    """The history in repo (made in a temporary directory, renamed into place when done)."""
    work = repo.with_name(repo.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(source), str(work)], check=True)
    (work / ".entrylab-extracted").unlink(missing_ok=True)
    git(work, "init", "-q", "-b", "master")
    base = commit(work, "Linux 7.2.13 (Debian linux-source-7.2)")
    readme = work / "Documentation/entrylab-bisect.txt"
    readme.write_text("A harmless change: documentation only.\n")
    harmless = commit(work, "Documentation: a harmless change")
    stub = work / SYSTEM_CALL
    text = stub.read_text()
    assert FAST_PATH in text, f"{SYSTEM_CALL} has no SYSFAST32 alternative"
    replace_file(stub, text.replace(FAST_PATH, SLOW_ONLY))
    subject = "x86/vdso32: enter with int $0x80 everywhere"
    breaking = commit(work, subject)
    replace_file(readme, readme.read_text() + "Another harmless change.\n")
    last = commit(work, "Documentation: another harmless change")
    history = History(repo, base, harmless, breaking, last, subject)
    shutil.rmtree(repo, ignore_errors=True)
    work.rename(repo)
    return history


def cached_history(source: Path, cache: Path) -> History:
    """The history under cache (made if missing or from another source or version)."""
    repo = cache / "linux-7.2"
    meta = cache / "history.json"
    key = {"version": HISTORY_VERSION, "source": str(source)}
    try:
        if (repo / ".git/BISECT_START").exists():  # a test killed mid-bisect
            git(repo, "bisect", "reset")
        saved = json.loads(meta.read_text())
        if saved["key"] == key and git(repo, "rev-parse", "HEAD") == saved["last"]:
            fields = {k: v for k, v in saved.items() if k != "key"}
            return History(repo=repo, **fields)
    except (OSError, ValueError, KeyError, subprocess.CalledProcessError):
        pass
    history = make_history(source, repo)
    fields = {k: v for k, v in history.__dict__.items() if k != "repo"}
    meta.write_text(json.dumps({"key": key, **fields}, indent=2) + "\n")
    return history
