"""A kernel built with the kernel's own build system, out of tree, cached.

Config: the arch's `tinyconfig`, the lab's fragments (entrylab.config and
entrylab-<arch>.config) and an optional user fragment merged over it by the tree's own
scripts/kconfig/merge_config.sh -m, then `make olddefconfig`; every option the fragments set
is then checked in .config. Build: `make O=<obj dir> vmlinux` in an object directory keyed by
the tree's path and the arch, so a changed tree rebuilds incrementally there. Result: a
directory keyed by everything that determines it (the tree's identity, the fragments, the
compiler, the arch; the merged config is a function of those, so it is keyed without running
make) holding the kernel, its `config`, `build.log` and `manifest.json`; an unchanged build
returns it without running make at all.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.fsutil import atomic_write
from lab.images.cache import Log
from lab.kbuild.fragment import Options, dot_config, lost_options, read_fragment
from lab.kbuild.make import Status, run_make
from lab.kbuild.tree import KernelTree, can_build_i386

BUILDER_VERSION = "1"  # bump to rebuild every cached kernel
FRAGMENTS = Path(__file__).resolve().parent
MANIFEST = "manifest.json"
LOG = "build.log"
TOOLS = ("make", "gcc", "flex", "bison", "bc", "perl")


@dataclass(frozen=True)
class Arch:
    """How one architecture is built and booted."""

    name: str  # x86_64, i386: make's ARCH= and the CLI's --arch
    bits: int
    target: str  # the make target
    image: str  # the kernel file, relative to the object directory


# Both boot as an uncompressed ELF vmlinux through PVH (QEMU's -kernel reads its PVH note):
# nothing to decompress under TCG. The 32-bit PVH entry (arch/x86/platform/pvh/head.S) is
# built for X86_32 too. Measured (7.2.13, TCG, microvm): READY in 0.9-1.1 s on i386-intel-sep
# against 4.4-4.9 s for Debian's 686 bzImage; 2.2-2.4 s on intel-sep against 4.4-6.4 s for
# Debian's 7.2 cloud-amd64 vmlinux.
ARCHES = {
    "x86_64": Arch("x86_64", 64, "vmlinux", "vmlinux"),
    "i386": Arch("i386", 32, "vmlinux", "vmlinux"),
}


@dataclass(frozen=True)
class KernelBuild:
    """A built kernel: its file (with `config` beside it), manifest, and whether it was the
    cache (no make ran)."""

    kernel: Path
    manifest: dict[str, Any]
    cached: bool

    @property
    def dir(self) -> Path:
        return self.kernel.parent


def lab_fragments(arch: Arch) -> list[Path]:
    """The lab's own fragments for an arch: the common one, then the arch's."""
    return [FRAGMENTS / "entrylab.config", FRAGMENTS / f"entrylab-{arch.name}.config"]


def compiler_version(cc: str = "gcc") -> str:
    """The first line of `gcc --version`: a new compiler is a new kernel."""
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        raise LabError(f"cannot run {cc} --version: the kernel build needs {cc}") from None
    return out.stdout.splitlines()[0].strip() if out.stdout else cc


def check_tools() -> None:
    """The programs a kernel build needs; one error naming the missing ones."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise LabError(
            f"the kernel build needs {', '.join(missing)}: run `./entrylab setup` (as root)"
        )


def wanted_options(fragments: Sequence[Path]) -> tuple[Options, dict[str, Path]]:
    """Every option the fragments set (a later fragment wins) and the fragment that set it."""
    wanted: Options = {}
    where: dict[str, Path] = {}
    for path in fragments:
        for name, value in read_fragment(path).items():
            wanted[name] = value
            where[name] = path
    return wanted, where


def build_key(
    tree: KernelTree, arch: Arch, fragments: Sequence[Path], compiler: str
) -> dict[str, Any]:
    """What determines the built kernel, as recorded in its manifest (its hash is the key)."""
    return {
        "builder": BUILDER_VERSION,
        "tree": tree.origin,
        "tree_identity": tree.identity,
        "arch": arch.name,
        "compiler": compiler,
        "fragments": [
            {"name": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
            for p in fragments
        ],
    }


def key_hash(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def snapshot(fragments: Sequence[Path], into: Path) -> list[Path]:
    """The fragments copied beside the result (01-entrylab.config, ...): the build merges and
    checks exactly what it was keyed by, even if a file is edited meanwhile."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    copies = []
    for number, path in enumerate(fragments, 1):
        copy = into / f"{number:02d}-{path.name}"
        shutil.copyfile(path, copy)
        copies.append(copy)
    return copies


def obj_dir(root: Path, tree: Path, arch: Arch) -> Path:
    """The O= directory of a tree and arch: every build of that tree reuses its objects."""
    digest = hashlib.sha256(str(tree).encode()).hexdigest()[:16]
    return root / "obj" / f"{tree.name}-{digest}-{arch.name}"


def cached_build(out: Path, key: str) -> KernelBuild | None:
    """The build in out if it was made from key and its files are there."""
    try:
        manifest: dict[str, Any] = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    kernel = out / str(manifest.get("kernel", ""))
    if manifest.get("key") != key or not kernel.is_file() or not (out / "config").is_file():
        return None
    return KernelBuild(kernel, manifest, cached=True)


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """One build per object directory at a time (two `lab kernel build`s of one tree)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".entrylab-lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def configure(
    tree: KernelTree, arch: Arch, obj: Path, fragments: Sequence[Path], log: Path, status: Status
) -> str:
    """tinyconfig + the fragments (merge_config.sh -m) + olddefconfig in obj; the .config, or
    an error naming every option the fragments set that did not end up so."""
    base = [f"O={obj}", f"ARCH={arch.name}"]
    run_make(tree.path, [*base, "tinyconfig"], log, status)
    merge = tree.path / "scripts/kconfig/merge_config.sh"
    env = {**os.environ, "KCONFIG_CONFIG": str(obj / ".config"), "ARCH": arch.name}
    # merge_config.sh makes its temporary files in the current directory: obj, never the tree
    command = ["sh", str(merge), "-m", "-O", str(obj), str(obj / ".config"), *map(str, fragments)]
    with log.open("a") as f:
        f.write(f"$ {' '.join(command)}\n")
        f.flush()
        done = subprocess.run(command, cwd=obj, stdout=f, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        raise LabError(f"merge_config.sh failed (exit {done.returncode}); see {log}")
    run_make(tree.path, [*base, "olddefconfig"], log, status)
    config = (obj / ".config").read_text(errors="replace")
    wanted, where = wanted_options(fragments)
    lost = lost_options(wanted, dot_config(config))
    if lost:
        named = [f"{item} [{where[item.split('=')[0]].name}]" for item in lost]
        raise LabError(
            f"kernel config of {tree.path} ({arch.name}): the merged .config lost what the "
            f"fragments set (a dependency they do not satisfy?): {'; '.join(named)}"
        )
    return config


def build(
    tree: KernelTree,
    arch_name: str,
    cache: Path,
    user_fragment: Path | None = None,
    jobs: int | None = None,
    log: Log = lambda _m: None,
    status: Status = lambda _s: None,
) -> KernelBuild:
    """The kernel of a tree for an arch: the cache if nothing changed, else built (into
    cache/out/<key>/, objects in cache/obj/)."""
    arch = ARCHES.get(arch_name)
    if arch is None:
        raise LabError(f"--arch {arch_name}: not one of {', '.join(ARCHES)}")
    if arch.bits == 32 and not can_build_i386(tree.path):
        raise LabError(f"{tree.path}: this tree cannot build i386 (its Kconfig has no X86_32)")
    given = [*lab_fragments(arch), *([user_fragment] if user_fragment else [])]
    wanted_options(given)  # a fragment that does not parse: its error, before any make
    inputs = build_key(tree, arch, given, compiler_version())
    key = key_hash(inputs)
    out = cache / "out" / f"{arch.name}-{key[:20]}"
    found = cached_build(out, key)
    if found is not None:
        return found
    fragments = snapshot(given, out / "fragments")
    check_tools()
    obj = obj_dir(cache, tree.path, arch)
    with locked(obj):
        found = cached_build(out, key)  # built meanwhile by another lab
        if found is not None:
            return found
        out.mkdir(parents=True, exist_ok=True)
        log_path = out / LOG
        log_path.write_text("")
        start = time.monotonic()
        log(f"configuring {tree.origin} for {arch.name} in {obj}")
        config = configure(tree, arch, obj, fragments, log_path, status)
        log(f"building {arch.target} ({jobs or os.cpu_count()} jobs); log: {log_path}")
        make_args = [f"O={obj}", f"ARCH={arch.name}", f"-j{jobs or os.cpu_count() or 1}"]
        run_make(tree.path, [*make_args, arch.target], log_path, status)
        seconds = time.monotonic() - start
        return _record(tree, arch, obj, out, key, inputs, config, seconds)


def _record(
    tree: KernelTree,
    arch: Arch,
    obj: Path,
    out: Path,
    key: str,
    inputs: dict[str, Any],
    config: str,
    seconds: float,
) -> KernelBuild:
    """The kernel and its config copied into out, and the manifest written last (its
    presence is what makes the directory a cached build)."""
    kernel = out / Path(arch.image).name
    shutil.copyfile(obj / arch.image, kernel)
    atomic_write(out / "config", config.encode())
    release_file = obj / "include/config/kernel.release"
    release = release_file.read_text().strip() if release_file.is_file() else ""
    manifest = {
        "key": key,
        "inputs": inputs,
        "tree_path": str(tree.path),
        "version": tree.version,
        "release": release,
        "arch": arch.name,
        "bits": arch.bits,
        "kernel": kernel.name,
        "obj_dir": str(obj),
        "log": LOG,
        "build_seconds": round(seconds, 1),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write(out / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return KernelBuild(kernel, manifest, cached=False)
