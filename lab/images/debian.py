"""Debian's packages as the image builder uses them: apt queries and downloads, reading .deb
files, and Debian's version order.

The version order is Debian Policy 5.6.12 as dpkg implements it (lib/dpkg/version.c,
verrevcmp): [epoch:]upstream[-revision]; epochs compare as numbers; upstream and revision
compare as alternating non-digit and digit runs, non-digits by character with letters before
other characters and `~` before everything (even the end), digits as numbers.
"""

from __future__ import annotations

import functools
import gzip
import io
import lzma
import os
import re
import subprocess
import tarfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess
from typing import TYPE_CHECKING

from lab.errors import ImageError
from lab.images.aptsources import SourceEntry, host_mirror
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

NOT_FOUND = ("was not found", "Unable to locate", "Can't find a source to download")
LISTS_MAX_AGE = 24 * 3600  # seconds: a private configuration's lists older than this are refreshed


@dataclass(frozen=True)
class Apt:
    """apt as the image builder uses it, for every query and download.

    Apt() is the host's own configuration, exactly as before (the default kernel series and
    the userland). Apt.private(...) is a configuration of the lab's own under the cache dir
    (<root>/sources.list with the suites the kernel series need, its own lists, archive cache
    and an empty dpkg status), passed to apt-get/apt-cache as -o Dir::... options: the host's
    /etc/apt is only read (its trusted keys, its apt.conf), never written.
    """

    root: Path | None = None
    mirror: str = ""
    suites: tuple[str, ...] = ()
    signed_by: str = ""
    archs: tuple[str, ...] = ("amd64", "i386")

    @classmethod
    def private(cls, root: Path, suites: Iterable[str], mirror: SourceEntry | None = None) -> Apt:
        wanted = tuple(dict.fromkeys(suites))
        entry = mirror if mirror is not None else host_mirror(wanted)
        return cls(root, entry.uri, wanted, entry.signed_by)

    # -- the configuration --------------------------------------------------------------------

    def sources_text(self) -> str:
        options = "arch=" + ",".join(self.archs)
        if self.signed_by:
            options += f" signed-by={self.signed_by}"
        return "".join(f"deb [{options}] {self.mirror} {s} main\n" for s in self.suites)

    def options(self) -> list[str]:
        """The -o options that make apt use the private configuration (none for the host)."""
        if self.root is None:
            return []
        r = self.root
        opts = {
            "Dir::Etc::SourceList": str(r / "sources.list"),
            "Dir::Etc::SourceParts": "/dev/null",
            "Dir::Etc::Preferences": "/dev/null",
            "Dir::Etc::PreferencesParts": "/dev/null",
            "Dir::State::Lists": str(r / "lists"),
            "Dir::State::Status": str(r / "status"),
            "Dir::Cache": str(r / "cache"),
            "Dir::Cache::Archives": str(r / "cache" / "archives"),
            # A cache of the parsed lists (the host may switch it off, as Debian's container
            # images do): every query then takes milliseconds instead of seconds.
            "Dir::Cache::pkgcache": str(r / "cache" / "pkgcache.bin"),
            "Dir::Cache::srcpkgcache": "",
            "APT::Architecture": self.archs[0],
            "APT::Sandbox::User": "root",
        }
        out = [a for k, v in opts.items() for a in ("-o", f"{k}={v}")]
        out += [a for arch in self.archs for a in ("-o", f"APT::Architectures::={arch}")]
        return out

    def argv(self, tool: str, *args: str) -> list[str]:
        """The command line of an apt tool (apt-get, apt-cache) with this configuration."""
        return [tool, *self.options(), *args]

    def prepare(self) -> bool:
        """Create the private configuration's files; True if its sources changed (or are new)."""
        if self.root is None:
            return False
        for d in ("lists/partial", "cache/archives/partial"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        status = self.root / "status"
        if not status.exists():
            status.write_text("")
        sources = self.root / "sources.list"
        text = self.sources_text()
        if sources.exists() and sources.read_text() == text:
            return False
        sources.write_text(text)
        (self.root / "updated").unlink(missing_ok=True)
        return True

    def _run(self, tool: str, *args: str, cwd: Path | None = None) -> CompletedProcess[str]:
        try:
            return subprocess.run(
                self.argv(tool, *args), cwd=cwd, capture_output=True, text=True, check=False
            )
        except FileNotFoundError:
            raise ImageError(f"{tool} not found: the image builder needs Debian's apt") from None

    def update(self) -> None:
        """apt-get update (of the private lists; the host's only as a retry, as before)."""
        self.prepare()
        result = self._run("apt-get", "update")
        if self.root is None:
            return
        if result.returncode != 0:
            text = (result.stderr or result.stdout).strip().splitlines()
            raise ImageError(
                f"apt-get update of the lab's apt configuration ({self.root}) failed: "
                f"{text[-1] if text else f'exit {result.returncode}'}"
            )
        (self.root / "updated").write_text(self.sources_text())

    def refresh(self, max_age: float = LISTS_MAX_AGE) -> None:
        """Update the private lists when they are missing, older than max_age or for other
        sources (the host's lists are the host's business: left alone)."""
        if self.root is None:
            return
        changed = self.prepare()
        stamp = self.root / "updated"
        if changed or not stamp.exists():
            self.update()
        elif time.time() - stamp.stat().st_mtime > max_age:
            try:
                self.update()
            except ImageError:
                # Stale lists still name the pinned versions the mirror kept; a pin it dropped
                # fails its download with an error that names it.
                stamp.touch()

    # -- queries ------------------------------------------------------------------------------

    def cache(self, *args: str, missing: str = APT_MISSING) -> str:
        """apt-cache's output (its exit status is not an error: an unknown package prints
        nothing)."""
        self.refresh()
        try:
            result = subprocess.run(
                self.argv("apt-cache", *args), capture_output=True, text=True, check=False
            )
        except FileNotFoundError:
            raise ImageError(missing) from None
        return result.stdout

    def versions(
        self,
        package: str,
        arch: str | None,
        suite: str | None = None,
        missing: str = APT_MISSING,
    ) -> dict[str, str]:
        """Every version apt offers of package (of arch, or of any architecture if None;
        of one suite if given), with the .deb's sha256 from its record."""
        query = f"{package}:{arch}" if arch is not None else package
        found: dict[str, str] = {}
        for stanza in self.cache("show", query, missing=missing).split("\n\n"):
            fields = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.M))
            if arch is not None and fields.get("Architecture") not in (arch, "all"):
                continue
            if "Version" in fields and "SHA256" in fields:
                found[fields["Version"]] = fields["SHA256"]
        if suite is not None and found:
            in_suite = self.suites_of([package], arch).get(package, {})
            found = {v: sha for v, sha in found.items() if suite in in_suite.get(v, set())}
        return found

    def suites_of(self, packages: list[str], arch: str | None) -> dict[str, dict[str, set[str]]]:
        """package -> version -> the suites offering it (apt-cache madison)."""
        out: dict[str, dict[str, set[str]]] = {}
        if not packages:
            return out
        for line in self.cache("madison", *packages).splitlines():
            cells = [c.strip() for c in line.split("|")]
            if len(cells) != 3:
                continue
            package, version, where = cells
            m = re.match(r"^\S+\s+([^/\s]+)/\S+\s+(\S+)\s+Packages$", where)
            if not m or (arch is not None and m.group(2) not in (arch, "all")):
                continue
            out.setdefault(package, {}).setdefault(version, set()).add(m.group(1))
        return out

    # -- downloads ----------------------------------------------------------------------------

    def _download(self, pin: Pin, where: Path) -> CompletedProcess[str]:
        return self._run("apt-get", "download", pin.apt_spec, cwd=where)

    def download(self, pin: Pin, debs: Path, log: Log) -> Path:
        """The pinned .deb from the cache directory `debs`, downloading it if needed."""
        debs.mkdir(parents=True, exist_ok=True)
        target = debs / pin.deb_name
        if target.exists() and sha256_file(target) == pin.sha256:
            return target
        log(f"downloading {pin.apt_spec}")
        self.refresh()
        result = self._download(pin, debs)
        if result.returncode != 0 and any(n in result.stderr + result.stdout for n in NOT_FOUND):
            # Stale package lists are the usual cause on a machine that was idle: refresh once.
            self.update()
            result = self._download(pin, debs)
        if result.returncode != 0:
            text = (result.stderr or result.stdout).strip().splitlines()
            detail = text[-1] if text else f"exit {result.returncode}"
            if any(n in detail for n in NOT_FOUND):
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
                "mirror served a different file. Run `lab images update` if the change is "
                "expected."
            )
        return target


HOST = Apt()
"""The host's own apt configuration (no -o options): the default series and the userland."""


def apt_cache(*args: str, missing: str = APT_MISSING) -> str:
    """apt-cache's output with the host's configuration (HOST.cache)."""
    return HOST.cache(*args, missing=missing)


def apt_versions(package: str, arch: str | None, missing: str = APT_MISSING) -> dict[str, str]:
    """Every version the host's apt offers of package (of arch, or of any architecture if
    None), with the .deb's sha256 from its record."""
    return HOST.versions(package, arch, missing=missing)


ABI_DEFAULT = r"[0-9][0-9.]*-[0-9]+"  # 6.1.0-50: the default series' ABI, as before


def abi_regex(series_version: str | None = None) -> str:
    """What {abi} in a package pattern stands for: any 6.1-style ABI (6.1.0-50), or one of a
    series: 6.12 → 6.12.117+deb13, 7.2 → 7.2.13+deb14, 7.3 → 7.3 (an rc has no point part).
    POSIX ERE, as apt-cache search takes it (no (?:...))."""
    if series_version is None:
        return ABI_DEFAULT
    return re.escape(series_version) + r"(\.[0-9]+)*(-[0-9]+|\+deb[0-9]+)?"


def pattern_regex(pattern: str, series_version: str | None = None) -> str:
    return "^" + re.escape(pattern).replace(re.escape("{abi}"), abi_regex(series_version)) + "$"


def kernel_packages(pattern: str, apt: Apt = HOST, series_version: str | None = None) -> list[str]:
    """Every package name the mirror lists for a pattern like linux-image-{abi}-686-unsigned
    (of one kernel series if given)."""
    regex = pattern_regex(pattern, series_version)
    names = [line.split(" ")[0] for line in apt.cache("search", "--names-only", regex).splitlines()]
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


def download(pin: Pin, debs: Path, log: Log, apt: Apt = HOST) -> Path:
    """The pinned .deb from the cache directory `debs`, downloading it with apt-get if needed."""
    return apt.download(pin, debs, log)


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


MODULE_MEMBER = re.compile(r"^\./(?:usr/)?lib/modules/[^/]+/kernel/.*\.ko(\.xz|\.zst|\.gz)?$")
BUILTIN_MEMBER = re.compile(r"^\./(?:usr/)?lib/modules/[^/]+/modules\.builtin$")


def _module_name(member: str) -> str:
    name = Path(member).name
    name = re.sub(r"\.ko(\.xz|\.zst|\.gz)?$", "", name)
    return name.replace("-", "_")


def _decompress_module(member: str, data: bytes) -> bytes:
    """A module as the kernel's init_module() takes it (Debian compresses them with xz from
    6.12 on: CONFIG_MODULE_COMPRESS_XZ)."""
    try:
        if member.endswith(".xz"):
            return lzma.decompress(data)
        if member.endswith(".gz"):
            return gzip.decompress(data)
        if member.endswith(".zst"):
            import zstandard

            return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except (lzma.LZMAError, OSError, EOFError) as exc:
        raise ImageError(f"{member}: cannot decompress the module: {exc}") from None
    return data


def deb_modules(deb: Path) -> dict[str, bytes]:
    """Every .ko of a kernel package, uncompressed, by module name (dashes as underscores):
    ./lib/modules (6.1) or ./usr/lib/modules (6.12+, merged /usr), plain or .ko.xz/.zst/.gz."""
    out = {}
    with data_tar(deb) as tar:
        for m in tar:
            if m.isfile() and MODULE_MEMBER.match(m.name):
                f = tar.extractfile(m)
                if f is not None:
                    out[_module_name(m.name)] = _decompress_module(m.name, f.read())
    return out


def builtin_modules(text: str) -> set[str]:
    """Module names of a modules.builtin file (kernel/drivers/virtio/virtio_pci.ko per line):
    the drivers built into the kernel, which need no .ko."""
    return {_module_name(line.strip()) for line in text.splitlines() if line.strip()}


def deb_builtin_modules(deb: Path) -> set[str] | None:
    """The built-in module names of a kernel package's modules.builtin, or None if it has none."""
    data = deb_member(deb, BUILTIN_MEMBER)
    return None if data is None else builtin_modules(data.decode(errors="replace"))
