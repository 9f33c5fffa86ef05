"""Where the x86 selftests' source comes from: the cell's kernel series' own Debian
linux-source-<major.minor> package, pinned in images/lock.yaml as source/<series>/linux-source
(lab.images.sourcepins), or a kernel tree the user names (`lab run --selftests-src PATH`,
for every cell). Either way only what the selftests need is used, and the
source has a key that changes whenever it does.
"""

from __future__ import annotations

import re
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.errors import ImageError
from lab.images import debian
from lab.images.builder import Images
from lab.images.cache import Log, hash_strings, sha256_file
from lab.images.recipe import Recipe
from lab.images.sourcepins import find_source_pin
from lab.suites.kselftest.names import LAYER

SELFTESTS = "tools/testing/selftests"
# What of the kernel tree the x86 selftests need: their directory, the shared kselftest headers
# and lib.mk, and the one kernel header sigreturn.c includes by relative path.
SOURCE_SUBSET = (
    f"{SELFTESTS}/x86/",
    f"{SELFTESTS}/kselftest.h",
    f"{SELFTESTS}/kselftest_harness.h",
    f"{SELFTESTS}/kselftest_module.h",
    f"{SELFTESTS}/kselftest/",
    f"{SELFTESTS}/lib.mk",
    "arch/x86/include/asm/desc_defs.h",
)


@dataclass(frozen=True)
class Source:
    """Where the selftests come from and what identifies that source for the cache."""

    x86_dir: Path  # .../tools/testing/selftests/x86
    origin: str  # "debian:linux-source-7.2=7.2.13-1" or "user:/path/to/linux"
    version: str  # the kernel source version
    key: str  # changes whenever the source does
    info: dict[str, Any] = field(default_factory=dict)


def selftests_series(recipe: Recipe, series: str, release: str = "") -> str:
    """The series whose linux-source a cell's selftests come from: the cell's kernel series;
    for a kernel without one (a user's file), the recipe series of its release's X.Y
    (7.3.0-rc2 → 7.3-rc), else the default series."""
    if series in recipe.series:
        return series
    m = re.match(r"^(\d+\.\d+)", release)
    if m:
        for spec in recipe.series.values():
            if spec.version == m.group(1):
                return spec.name
    return recipe.default_series


def debian_source(images: Images, log: Log, series: str = "") -> Source:
    """linux-source-X.Y of a kernel series as pinned (images/lock.yaml source/<series>/...),
    downloaded once (from the series' suite), the subset extracted once per version."""
    rec = images.recipe()
    series = series if series in rec.series else rec.default_series
    pin = find_source_pin(images.pins(), series)
    package, version = pin.package, pin.version
    out = images.build_dir / LAYER / "src" / f"{package}_{version}"
    marker = out / ".extracted"
    if not (marker.exists() and marker.read_text() == pin.sha256):
        deb = images.fetch(pin, log)
        log(f"extracting the x86 selftests from {deb.name}")
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        extract_subset(deb, out)
        marker.write_text(pin.sha256)
    return Source(
        out / SELFTESTS / "x86",
        f"debian:{package}={version}",
        version,
        hash_strings("debian", pin.sha256),
        {
            "package": package,
            "version": version,
            "series": series,
            "pin": pin.key,
            "sha256": pin.sha256,
        },
    )


def extract_subset(
    deb: Path, out: Path, subset: tuple[str, ...] | None = SOURCE_SUBSET
) -> list[str]:
    """The SOURCE_SUBSET files of the kernel tarball inside a linux-source .deb, into out;
    subset None: the whole tree (lab kernel build), its symlinks too.

    Streams (the tarball is ~140 MB of xz); only regular files under the wanted paths are
    written, and a member name (or link target) that would leave `out` is refused.
    """
    written: list[str] = []
    with debian.stream_data_tar(deb) as outer:
        for member in outer:
            if not re.match(r"^\./usr/src/linux-source-[\d.]+\.tar\.(xz|gz|bz2)$", member.name):
                continue
            inner_file = outer.extractfile(member)
            if inner_file is None:
                continue
            with tarfile.open(fileobj=inner_file, mode="r|*") as inner:
                written = _extract_members(inner, out, subset)
            break
    if not written:
        raise ImageError(f"{deb.name}: no kernel source tarball with the x86 selftests inside")
    return written


def _extract_members(tar: tarfile.TarFile, out: Path, subset: tuple[str, ...] | None) -> list[str]:
    written = []
    root = out.resolve()
    for member in tar:
        # linux-source-6.1/tools/... → tools/...
        _top, _, rel = member.name.partition("/")
        if not rel or not (member.isfile() or (subset is None and member.issym())):
            continue
        if subset is not None and not any(
            rel == p or (p.endswith("/") and rel.startswith(p)) for p in subset
        ):
            continue
        target = (out / rel).resolve()
        if root not in target.parents or ".." in Path(rel).parts:
            raise ImageError(f"refusing tar member outside the tree: {member.name!r}")
        if member.issym():
            _symlink(out / rel, member.linkname, root, member.name)
            continue
        f = tar.extractfile(member)
        if f is None:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.read())
        target.chmod(0o755 if member.mode & 0o111 else 0o644)
        written.append(rel)
    return written


def _symlink(link: Path, target: str, root: Path, name: str) -> None:
    """A symlink of the tree, refused if it would point outside it."""
    if target.startswith("/") or root not in (link.parent / target).resolve().parents:
        raise ImageError(f"refusing tar symlink outside the tree: {name!r} -> {target!r}")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(target)


def user_source(path: Path) -> Source:
    """A kernel tree the user built their kernel from (`lab run --selftests-src PATH`)."""
    path = path.expanduser().resolve()
    candidates = [path / SELFTESTS / "x86", path / "x86", path]
    x86 = next((c for c in candidates if (c / "Makefile").is_file() and c.name == "x86"), None)
    if x86 is None:
        raise ImageError(
            f"--selftests-src {path}: no {SELFTESTS}/x86/Makefile there (give the kernel tree's "
            "top directory or its selftests/x86 directory)"
        )
    tree = x86.parents[3] if x86.as_posix().endswith(SELFTESTS + "/x86") else x86.parent
    selftests = x86.parent
    files = sorted(p for p in x86.rglob("*") if p.is_file())
    files += sorted(selftests.glob("kselftest*.h"))
    files += [selftests / "lib.mk", tree / "arch/x86/include/asm/desc_defs.h"]
    digest = hash_strings("user", *(f"{p}:{sha256_file(p)}" for p in files if p.is_file()))
    version = tree_version(tree)
    return Source(x86, f"user:{tree}", version, digest, {"tree": str(tree), "version": version})


def tree_version(tree: Path) -> str:
    """VERSION.PATCHLEVEL.SUBLEVEL from a kernel tree's top Makefile, or "unknown"."""
    try:
        text = (tree / "Makefile").read_text(errors="replace")[:4000]
    except OSError:
        return "unknown"
    keys = ("VERSION", "PATCHLEVEL", "SUBLEVEL")
    parts = [re.search(rf"^{k}\s*=\s*(\d*)", text, re.M) for k in keys]
    if not all(parts):
        return "unknown"
    return ".".join(m.group(1) for m in parts if m)


def selftests_source(images: Images, log: Log, tree: Path | None, series: str = "") -> Source:
    """The user's kernel tree if one is given (for every cell), else the kernel series'
    pinned Debian linux-source."""
    if tree is not None:
        return user_source(tree)
    return debian_source(images, log, series)
