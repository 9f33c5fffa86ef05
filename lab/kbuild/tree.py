"""A kernel source tree as the builder needs it: checked to be one (and clean enough for an
out-of-tree build), and identified by what its build depends on, so an unchanged tree is a
cache hit and any edit is a rebuild."""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError
from lab.suites.kselftest.source import tree_version

# What the kernel's top Makefile (outputmakefile) refuses an O= build for: an in-tree build's
# leftovers ("The source tree is not clean, please run 'make ARCH=x86 mrproper'").
IN_TREE_LEFTOVERS = (".config", "include/config", "arch/x86/include/generated")


@dataclass(frozen=True)
class KernelTree:
    """A kernel tree, where it came from, and an identity that changes when its sources do."""

    path: Path
    origin: str  # "git:<HEAD>[+dirty]", "tree:<path>" or "debian:linux-source-7.2=7.2.13-1"
    identity: str  # sha256 hex of what determines the sources
    version: str  # VERSION.PATCHLEVEL.SUBLEVEL of its Makefile


def check_tree(path: Path) -> Path:
    """The tree's resolved path; an error if it is not an x86 kernel tree or has been built
    in-tree (the kernel's own O= build would stop with "source tree is not clean")."""
    path = path.expanduser().resolve()
    needed = ("Makefile", "Kconfig", "arch/x86/Kconfig", "scripts/kconfig/merge_config.sh")
    missing = [n for n in needed if not (path / n).exists()]
    if missing:
        raise LabError(
            f"--tree {path}: not an x86 kernel tree (no {', '.join(missing)}): give the top "
            "directory of a Linux source tree"
        )
    dirty = [n for n in IN_TREE_LEFTOVERS if (path / n).exists()]
    if dirty:
        raise LabError(
            f"--tree {path}: the tree has been built in-tree ({', '.join(dirty)}): the kernel's "
            'out-of-tree build refuses it ("source tree is not clean"); run `make mrproper` '
            "there (it deletes .config: save it first) — the lab never writes into your tree"
        )
    return path


def can_build_i386(path: Path) -> bool:
    """Whether the tree's Kconfig still knows a 32-bit x86 kernel (config X86_32)."""
    try:
        text = (path / "arch/x86/Kconfig").read_text(errors="replace")
    except OSError:
        return False
    return "\nconfig X86_32\n" in text


def _git(path: Path, *args: str) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(path), *args], capture_output=True, check=False, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_identity(path: Path) -> tuple[str, str] | None:
    """(origin, identity) of a git work tree whose top is path: HEAD, plus the hash of `git
    diff HEAD` and of the untracked files when it is dirty; None if path is not one."""
    top = _git(path, "rev-parse", "--show-toplevel")
    if top is None or Path(top.decode().strip()).resolve() != path:
        return None
    head = (_git(path, "rev-parse", "HEAD") or b"").decode().strip()
    if not head:
        return None
    digest = hashlib.sha256(f"git\0{head}\0".encode())
    diff = _git(path, "diff", "HEAD", "--binary") or b""
    untracked = (_git(path, "ls-files", "-z", "--others", "--exclude-standard") or b"").split(b"\0")
    digest.update(diff)
    for name in sorted(n for n in untracked if n):
        digest.update(name + b"\0" + _file_hash(path / name.decode(errors="replace")).encode())
    dirty = bool(diff) or any(untracked)
    return f"git:{head[:12]}{'+dirty' if dirty else ''}", digest.hexdigest()


def _file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def stat_identity(path: Path) -> str:
    """A tree that is not a git work tree: every file's path, size and mtime (reading 1 GB of
    sources on every call would cost more than the check is worth)."""
    digest = hashlib.sha256(b"stat\0")
    for top, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(top, name)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            digest.update(f"{os.path.relpath(p, path)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def user_tree(path: Path) -> KernelTree:
    """A kernel developer's tree (--tree PATH), checked and identified."""
    path = check_tree(path)
    found = git_identity(path)
    origin, identity = found if found else (f"tree:{path}", stat_identity(path))
    return KernelTree(path, origin, identity, tree_version(path))
