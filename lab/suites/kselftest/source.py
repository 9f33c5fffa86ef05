"""Where the x86 selftests' source comes from: Debian's linux-source-<major.minor> package at the
version of the pinned kernels (images/lock.yaml), or a kernel tree the user names
(`lab run --selftests-src PATH`). Either way only what the selftests need is used, and the
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
from lab.images.recipe import Pin
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
APT_MISSING = "apt-cache not found: the selftests come from Debian's apt"


@dataclass(frozen=True)
class Source:
    """Where the selftests come from and what identifies that source for the cache."""

    x86_dir: Path  # .../tools/testing/selftests/x86
    origin: str  # "debian:linux-source-6.1=6.1.176-1" or "user:/path/to/linux"
    version: str  # the kernel source version
    key: str  # changes whenever the source does
    info: dict[str, Any] = field(default_factory=dict)


def source_package(kernel_version: str) -> str:
    """Debian's source package name for a kernel version: 6.1.176-1 → linux-source-6.1."""
    m = re.match(r"^(\d+)\.(\d+)", kernel_version)
    if not m:
        raise ImageError(f"cannot tell the kernel series of version {kernel_version!r}")
    return f"linux-source-{m.group(1)}.{m.group(2)}"


def kernel_version(pins: dict[str, Pin]) -> str:
    """The Debian version of the pinned kernels (they all share one: `lab images update`)."""
    versions = {p.version for k, p in pins.items() if k.startswith("kernel/")}
    if not versions:
        raise ImageError("images/lock.yaml pins no kernel: nothing to match the selftests to")
    return debian.newest(sorted(versions))


def debian_source(images: Images, log: Log) -> Source:
    """linux-source-X.Y at the pinned kernels' version, downloaded once, subset extracted once."""
    wanted = kernel_version(images.lock())
    package = source_package(wanted)
    offers = debian.apt_versions(package, None, missing=APT_MISSING)
    version = debian.nearest_version(wanted, offers)
    if version is None:
        raise ImageError(
            f"the mirror has no {package} (is the apt list current? `apt-get update`); "
            f"the x86 selftests are built from it"
        )
    if version != wanted:
        log(f"warning: {package} {wanted} is not on the mirror; using the nearest, {version}")
    pin = Pin(f"source/{package}", package, "all", version, offers[version])
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
            "kernel_version": wanted,
            "nearest": version != wanted,
            "sha256": pin.sha256,
        },
    )


def extract_subset(deb: Path, out: Path) -> list[str]:
    """The SOURCE_SUBSET files of the kernel tarball inside a linux-source .deb, into out.

    Streams (the tarball is ~140 MB of xz); only regular files under the wanted paths are
    written, and a member name that would leave `out` is refused.
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
                written = _extract_members(inner, out)
            break
    if not written:
        raise ImageError(f"{deb.name}: no kernel source tarball with the x86 selftests inside")
    return written


def _extract_members(tar: tarfile.TarFile, out: Path) -> list[str]:
    written = []
    for member in tar:
        # linux-source-6.1/tools/... → tools/...
        _top, _, rel = member.name.partition("/")
        if not member.isfile() or not any(
            rel == p or (p.endswith("/") and rel.startswith(p)) for p in SOURCE_SUBSET
        ):
            continue
        target = (out / rel).resolve()
        if out.resolve() not in target.parents or ".." in Path(rel).parts:
            raise ImageError(f"refusing tar member outside the tree: {member.name!r}")
        f = tar.extractfile(member)
        if f is None:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.read())
        target.chmod(0o755 if member.mode & 0o111 else 0o644)
        written.append(rel)
    return written


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
    version = _tree_version(tree)
    return Source(x86, f"user:{tree}", version, digest, {"tree": str(tree), "version": version})


def _tree_version(tree: Path) -> str:
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


def selftests_source(images: Images, log: Log, tree: Path | None) -> Source:
    """The user's kernel tree if one is given, else Debian's linux-source."""
    if tree is not None:
        return user_source(tree)
    return debian_source(images, log)
