"""Debian's packages as the image builder uses them: apt queries and downloads, reading .deb
files, and Debian's version order.

The version order is Debian Policy 5.6.12 as dpkg implements it (lib/dpkg/version.c,
verrevcmp): [epoch:]upstream[-revision]; epochs compare as numbers; upstream and revision
compare as alternating non-digit and digit runs, non-digits by character with letters before
other characters and `~` before everything (even the end), digits as numbers.
"""

from __future__ import annotations

import functools
import io
import os
import re
import subprocess
import tarfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import ImageError
from lab.images.cache import Log, sha256_file

if TYPE_CHECKING:
    from lab.images.recipe import Pin

APT_MISSING = "apt-cache not found: the image builder needs Debian's apt"

# -- version order -------------------------------------------------------------------------------


def split_version(version: str) -> tuple[int, str, str]:
    """(epoch, upstream, revision): "1:2.3-4" → (1, "2.3", "4"); no revision is ""."""
    epoch, colon, rest = version.partition(":")
    if not colon:
        epoch, rest = "0", version
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, ""
    return int(epoch) if epoch.isdigit() else 0, upstream, revision


def _order(c: str) -> int:
    if c == "~":
        return -1
    if "a" <= c.lower() <= "z":
        return ord(c)
    return ord(c) + 256


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


def _compare_part(a: str, b: str) -> int:
    """dpkg's verrevcmp on one part (upstream or revision)."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not _is_digit(a[i])) or (j < len(b) and not _is_digit(b[j])):
            ac = _order(a[i]) if i < len(a) and not _is_digit(a[i]) else 0
            bc = _order(b[j]) if j < len(b) and not _is_digit(b[j]) else 0
            if ac != bc:
                return -1 if ac < bc else 1
            i += 1
            j += 1
        si, sj = i, j
        while i < len(a) and _is_digit(a[i]):
            i += 1
        while j < len(b) and _is_digit(b[j]):
            j += 1
        na, nb = int(a[si:i] or "0"), int(b[sj:j] or "0")
        if na != nb:
            return -1 if na < nb else 1
    return 0


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as Debian version a is older than, equal to or newer than b
    (`dpkg --compare-versions a lt/eq/gt b`)."""
    ea, ua, ra = split_version(a)
    eb, ub, rb = split_version(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _compare_part(ua, ub) or _compare_part(ra, rb)


version_key = functools.cmp_to_key(compare_versions)
"""A sort key in Debian's version order: sorted(versions, key=version_key)."""


def newest(versions: Iterable[str]) -> str:
    """The newest of some versions in Debian's order (the first of equals)."""
    return max(versions, key=version_key)


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def nearest_version(wanted: str, offered: Iterable[str]) -> str | None:
    """The offered version closest to wanted: itself, else the one whose numbers are nearest
    (6.1.177-1 among 6.1.170-3, 6.1.176-1: 6.1.176-1), the newer of two as near."""
    versions = sorted(set(offered), key=version_key, reverse=True)
    if wanted in versions:
        return wanted
    if not versions:
        return None
    w = _numbers(wanted)

    def distance(v: str) -> tuple[int, ...]:
        k = _numbers(v)
        n = max(len(k), len(w))
        a, b = k + (0,) * (n - len(k)), w + (0,) * (n - len(w))
        return tuple(abs(x - y) for x, y in zip(a, b, strict=True))

    return min(versions, key=distance)


# -- apt -----------------------------------------------------------------------------------------


def apt_cache(*args: str, missing: str = APT_MISSING) -> str:
    """apt-cache's output (its exit status is not an error: an unknown package prints nothing)."""
    try:
        result = subprocess.run(["apt-cache", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ImageError(missing) from None
    return result.stdout


def apt_versions(package: str, arch: str | None, missing: str = APT_MISSING) -> dict[str, str]:
    """Every version apt offers of package (of arch, or of any architecture if None), with the
    .deb's sha256 from its record."""
    query = f"{package}:{arch}" if arch is not None else package
    found: dict[str, str] = {}
    for stanza in apt_cache("show", query, missing=missing).split("\n\n"):
        fields = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.M))
        if arch is not None and fields.get("Architecture") not in (arch, "all"):
            continue
        if "Version" in fields and "SHA256" in fields:
            found[fields["Version"]] = fields["SHA256"]
    return found


def kernel_packages(pattern: str) -> list[str]:
    """Every package name the mirror lists for a pattern like linux-image-{abi}-686-unsigned."""
    regex = "^" + re.escape(pattern).replace(re.escape("{abi}"), r"[0-9][0-9.]*-[0-9]+") + "$"
    names = [line.split(" ")[0] for line in apt_cache("search", "--names-only", regex).splitlines()]
    return [n for n in names if re.match(regex, n)]


def installed_version(package: str) -> str:
    """The version of an installed host package, or "" (dpkg-query)."""
    result = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip()


def _apt_download(pin: Pin, where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", "download", pin.apt_spec],
        cwd=where,
        capture_output=True,
        text=True,
        check=False,
    )


def download(pin: Pin, debs: Path, log: Log) -> Path:
    """The pinned .deb from the cache directory `debs`, downloading it with apt-get if needed."""
    debs.mkdir(parents=True, exist_ok=True)
    target = debs / pin.deb_name
    if target.exists() and sha256_file(target) == pin.sha256:
        return target
    log(f"downloading {pin.apt_spec}")
    result = _apt_download(pin, debs)
    if result.returncode != 0 and "was not found" in result.stderr + result.stdout:
        # Stale package lists are the usual cause on a machine that was idle: refresh once.
        subprocess.run(["apt-get", "update"], capture_output=True, text=True, check=False)
        result = _apt_download(pin, debs)
    if result.returncode != 0:
        text = (result.stderr or result.stdout).strip().splitlines()
        detail = text[-1] if text else f"exit {result.returncode}"
        if "was not found" in detail or "Unable to locate" in detail:
            raise ImageError(
                f"pinned {pin.key}: {pin.package} version {pin.version} ({pin.arch}) is no "
                f"longer on the Debian mirror ({detail}). Move the pin with "
                "`lab images update` and commit images/lock.yaml."
            )
        raise ImageError(f"downloading {pin.apt_spec} failed: {detail}")
    if not target.exists():
        raise ImageError(f"apt-get download {pin.apt_spec} did not produce {target.name}")
    digest = sha256_file(target)
    if digest != pin.sha256:
        target.unlink()
        raise ImageError(
            f"{pin.apt_spec}: sha256 {digest} does not match the lock ({pin.sha256}); the "
            "mirror served a different file. Run `lab images update` if the change is expected."
        )
    return target


# -- reading .deb files ---------------------------------------------------------------------------


def data_tar(deb: Path) -> tarfile.TarFile:
    """A .deb's data archive, read whole into memory, via dpkg-deb (no install into the host)."""
    proc = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise ImageError(f"{deb}: not a valid .deb ({proc.stderr.decode(errors='replace')[:200]})")
    return tarfile.open(fileobj=io.BytesIO(proc.stdout))


@contextmanager
def stream_data_tar(deb: Path) -> Iterator[tarfile.TarFile]:
    """A .deb's data archive as a stream (members in order, each readable once): for packages
    too big to hold, like linux-source."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            yield tar
    finally:
        proc.stdout.close()
        proc.wait()


def deb_member(deb: Path, name: re.Pattern[str]) -> bytes | None:
    """The first regular file of a .deb whose member name (./usr/...) matches."""
    with data_tar(deb) as tar:
        for member in tar:
            if member.isfile() and name.match(member.name):
                f = tar.extractfile(member)
                return f.read() if f else None
    return None


def deb_files(deb: Path, paths: tuple[str, ...]) -> dict[str, bytes]:
    """Files of a .deb by path (no leading ./); a symlink gives its target's content."""
    with data_tar(deb) as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers()}
        out = {}
        for path in paths:
            name = path
            for _ in range(10):
                m = members.get(name)
                if m is None or not m.issym():
                    break
                target = m.linkname
                name = str(
                    Path(target.lstrip("/"))
                    if target.startswith("/")
                    else Path(name).parent / target
                )
                name = os.path.normpath(name)
            m = members.get(name)
            if m is not None and m.isfile():
                f = tar.extractfile(m)
                if f is not None:
                    out[path] = f.read()
    return out


def deb_modules(deb: Path) -> dict[str, bytes]:
    """Every uncompressed .ko of a kernel package, by module name (dashes as underscores)."""
    out = {}
    with data_tar(deb) as tar:
        for m in tar:
            if m.isfile() and re.match(r"^\./lib/modules/[^/]+/kernel/.*\.ko$", m.name):
                f = tar.extractfile(m)
                if f is not None:
                    out[Path(m.name).stem.replace("-", "_")] = f.read()
    return out
