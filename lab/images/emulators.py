"""Emulator builds: the host's QEMU, or Debian's packages of another QEMU unpacked into a private
prefix under the cache dir (never installed into the host).

images/recipe.yaml `emulators:` names them; images/lock.yaml pins each package as
emulator/<name>/<package> (version and .deb sha256, moved by `lab images update`). The .debs
come through a private apt configuration of the emulators' suites (<cache dir>/apt-emulators:
the kernel series' lists are not touched) and are unpacked with dpkg-deb -x into
<cache dir>/emulators/<name>-<version>/ once; a stamp of the pins' sha256 makes a second build
do no work. A private build is checked before it is used: it must start, report its pinned
version, and find the firmware the lab's machines load inside its own prefix (a 10.0 binary
silently loads the host's 7.2 firmware and modules unless told where its own are).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from lab.errors import ImageError
from lab.images import debian
from lab.images.cache import Log
from lab.images.debian import Apt
from lab.images.recipe import EmulatorRecipe, Pin, Recipe

SYSTEM = "system"  # the host's own qemu-system-* (on PATH)
STAMP = ".entrylab-pins"  # in a prefix: the pins it was unpacked from
MODULE_DIR = "usr/lib/x86_64-linux-gnu/qemu"
DATA_DIRS = ("usr/share/qemu", "usr/share/seabios")  # what the .debs ship, in -L order
# Firmware the lab's machines load (microvm, pc; -kernel through linuxboot/PVH).
FIRMWARE = ("bios-microvm.bin", "bios-256k.bin", "linuxboot_dma.bin", "pvh.bin")


@dataclass(frozen=True)
class PrivateQemu:
    """An unpacked emulator build: where it lives and how it must be started."""

    name: str  # "10.0"
    version: str  # what the pins say QEMU reports ("10.0.2")
    prefix: Path

    def binary(self, system_name: str) -> Path:
        """The private counterpart of a profile's binary (qemu-system-x86_64, -i386)."""
        return self.prefix / "usr" / "bin" / Path(system_name).name

    def data_dirs(self) -> tuple[Path, ...]:
        return tuple(self.prefix / d for d in DATA_DIRS)

    def module_dir(self) -> Path:
        return self.prefix / MODULE_DIR

    def args(self) -> list[str]:
        """-L for each of its own data directories: its firmware before the host's."""
        return [a for d in self.data_dirs() for a in ("-L", str(d))]

    def env(self) -> dict[str, str]:
        """Its own modules, not the host's (QEMU otherwise loads /usr/lib/.../qemu)."""
        return {"QEMU_MODULE_DIR": str(self.module_dir())}


def upstream(version: str) -> str:
    """What QEMU reports for a Debian version: 1:10.0.2+ds-2+deb13u1~bpo12+1 → 10.0.2."""
    return re.split(r"[+~]", debian.split_version(version)[1])[0]


def pin_key(name: str, package: str) -> str:
    return f"emulator/{name}/{package}"


def emulator_pins(pins: dict[str, Pin], emulator: EmulatorRecipe) -> list[Pin]:
    """The pins of one emulator's packages; an error naming `lab images update` if one lacks."""
    out = []
    for package in emulator.packages:
        pin = pins.get(pin_key(emulator.name, package))
        if pin is None:
            raise ImageError(
                f"emulator {emulator.name}: {pin_key(emulator.name, package)} has no pin in "
                "images/lock.yaml; run `lab images update` (or `lab images add-pins`)"
            )
        out.append(pin)
    return out


def qemu_version_of(pins: list[Pin]) -> str:
    """The QEMU version an emulator's pins give (its qemu-system-x86 package's upstream)."""
    main = next((p for p in pins if p.package.startswith("qemu-system-x86")), pins[0])
    return upstream(main.version)


def private_apt(recipe: Recipe, root: Path | None = None) -> Apt:
    """The lab's own apt configuration for the emulators' suites (<cache dir>/apt-emulators)."""
    from lab.dirs import cache_dir

    suites = [e.suite for e in recipe.emulators.values() if e.suite]
    return Apt.private(root or cache_dir() / "apt-emulators", suites)


def _arch_of(apt: Apt, package: str, version: str) -> str:
    """amd64, or all for an architecture-independent package (its .deb is named _all)."""
    for stanza in apt.cache("show", f"{package}:amd64").split("\n\n"):
        if re.search(rf"^Version: {re.escape(version)}$", stanza, re.M):
            m = re.search(r"^Architecture: (\S+)$", stanza, re.M)
            return m.group(1) if m else "amd64"
    return "amd64"


def newest_pins(emulator: EmulatorRecipe, apt: Apt) -> dict[str, Pin]:
    """Each package of the emulator at the newest version its suite offers that starts with
    the emulator's version (qemu 10.0.*; other packages, seabios, at their newest)."""
    pins: dict[str, Pin] = {}
    for package in emulator.packages:
        offers = apt.versions(package, "amd64", emulator.suite)
        if package.startswith("qemu-"):
            offers = {v: s for v, s in offers.items() if upstream(v).startswith(emulator.name)}
        if not offers:
            raise ImageError(
                f"emulator {emulator.name}: no {package} {emulator.name}.* in {emulator.suite} "
                "on the mirror"
            )
        version = debian.newest(offers)
        key = pin_key(emulator.name, package)
        arch = _arch_of(apt, package, version)
        pins[key] = Pin(key, package, arch, version, offers[version])
    return pins


def all_newest_pins(recipe: Recipe, apt: Apt | None = None) -> dict[str, Pin]:
    """Every private emulator's pins at the newest (for `lab images update`)."""
    private = [e for e in recipe.emulators.values() if e.packages]
    if not private:
        return {}
    apt = apt or private_apt(recipe)
    return {k: p for e in private for k, p in newest_pins(e, apt).items()}


def _stamp(pins: Iterable[Pin]) -> str:
    return "".join(f"{p.key} {p.version} {p.sha256}\n" for p in sorted(pins, key=lambda p: p.key))


def unpack(debs: list[Path], prefix: Path) -> None:
    """dpkg-deb -x each .deb into a fresh directory, then move it into place (a half-unpacked
    prefix is never seen; a concurrent builder's finished one is kept)."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix.name + ".", dir=prefix.parent))
    try:
        for deb in debs:
            proc = subprocess.run(
                ["dpkg-deb", "-x", str(deb), str(tmp)], capture_output=True, text=True, check=False
            )
            if proc.returncode != 0:
                raise ImageError(f"dpkg-deb -x {deb.name} failed: {proc.stderr.strip()[:300]}")
        if prefix.exists():
            shutil.rmtree(prefix)
        tmp.rename(prefix)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_prefix(
    emulator: EmulatorRecipe,
    pins: dict[str, Pin],
    root: Path,
    fetch: Callable[[Pin], Path],
    log: Log,
) -> PrivateQemu:
    """The emulator unpacked under root (<cache dir>/emulators), from its pinned .debs; a
    prefix whose stamp matches the pins is used as it is (no download, no unpack)."""
    own = emulator_pins(pins, emulator)
    version = qemu_version_of(own)
    prefix = root / f"{emulator.name}-{version}"
    stamp = _stamp(own)
    if (prefix / STAMP).is_file() and (prefix / STAMP).read_text() == stamp:
        return PrivateQemu(emulator.name, version, prefix)
    debs = [fetch(p) for p in own]
    log(f"unpacking emulator {emulator.name} (QEMU {version}) into {prefix}")
    unpack(debs, prefix)
    (prefix / STAMP).write_text(stamp)
    return PrivateQemu(emulator.name, version, prefix)


def _run(build: PrivateQemu, binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", **build.env()}
    try:
        return subprocess.run(
            [str(binary), *build.args(), *args],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ImageError(f"emulator {build.name}: {binary} does not run: {exc}") from None


def verify(build: PrivateQemu, system_binary: str) -> str:
    """Why the private build cannot be trusted to run only itself ("" if it can): it must
    start (-machine help), report its pinned version, and find every firmware file the lab's
    machines load first inside its own prefix (-L help lists QEMU's search order)."""
    binary = build.binary(system_binary)
    where = f"emulator {build.name} ({binary})"
    if not binary.is_file():
        return f"{where}: no such binary in the prefix"
    machines = _run(build, binary, "-machine", "help")
    if machines.returncode != 0 or "microvm" not in machines.stdout:
        err = (machines.stderr or machines.stdout).strip().splitlines()
        return f"{where}: `-machine help` failed: {err[-1] if err else machines.returncode}"
    said = _run(build, binary, "--version").stdout
    m = re.search(r"version (\S+)", said)
    if not m or m.group(1) != build.version:
        return f"{where}: reports version {m.group(1) if m else '?'}, pinned {build.version}"
    dirs = [Path(line.strip()) for line in _run(build, binary, "-L", "help").stdout.splitlines()]
    for name in FIRMWARE:
        found = next(((d / name).resolve() for d in dirs if (d / name).exists()), None)
        if found is None or not found.is_relative_to(build.prefix.resolve()):
            return (
                f"{where}: firmware {name} would be loaded from {found or 'nowhere'}, "
                f"not from its own prefix {build.prefix}"
            )
    return ""
