"""What the images are built from: images/recipe.yaml (which kernels and userland packages) and
images/lock.yaml (the exact Debian version and .deb sha256 of each), and moving the pins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab.config.yamlconf import load_yaml, validate
from lab.errors import ImageError
from lab.fsutil import atomic_write
from lab.images import debian
from lab.images.debian import Apt

RECIPE = "recipe.yaml"
LOCK = "lock.yaml"


@dataclass(frozen=True)
class SplitPackages:
    """Debian 7.x's packaging of one flavour: the old linux-image package split in three
    (docs/kernel-versions.md D16). Apt name patterns with {abi}, like KernelRecipe.package."""

    image: str  # linux-binary-unsigned-{abi}-<flavour>: /usr/lib/modules/<abi>/vmlinuz.unsigned
    base: str  # linux-base-{abi}-<flavour>: config, modules.builtin
    modules: str  # linux-modules-{abi}-<flavour>: the .ko files


@dataclass(frozen=True)
class KernelRecipe:
    """A kernel flavour (cloud-amd64, amd64, 686): its packages and how it boots."""

    name: str
    package: str  # apt name pattern with {abi}: the classic linux-image package
    arch: str
    bits: int
    boot: str  # "vmlinux" or "bzimage"
    split: SplitPackages | None = None  # its 7.x packaging, where a series has that


SERIES_NAME = re.compile(r"^([0-9]+\.[0-9]+)(-[a-z0-9]+)?$")


@dataclass(frozen=True)
class SeriesRecipe:
    """A kernel series the lab boots ("6.1", "6.12", "7.2", "7.3-rc"): the Debian suite it
    comes from, the flavours Debian builds of it, and whether its pin follows the newest."""

    name: str
    suite: str
    flavours: tuple[str, ...]
    follow: str = "pinned"  # "pinned": moves on `lab images update`; "newest": also nightly

    @property
    def version(self) -> str:
        """The kernel version every ABI of the series starts with: "7.3-rc" → "7.3"."""
        m = SERIES_NAME.match(self.name)
        return m.group(1) if m else self.name


@dataclass(frozen=True)
class Pin:
    """One exact Debian package version the images are built from."""

    key: str  # "kernel/cloud-amd64", "userland/busybox"
    package: str
    arch: str
    version: str
    sha256: str

    @property
    def apt_spec(self) -> str:
        return f"{self.package}:{self.arch}={self.version}"

    @property
    def deb_name(self) -> str:
        return f"{self.package}_{self.version.replace(':', '%3a')}_{self.arch}.deb"


@dataclass(frozen=True)
class EmulatorRecipe:
    """An emulator build of the matrix: "system" (the host's QEMU: no packages), or Debian
    packages of one QEMU version from a suite, pinned as emulator/<name>/<package>."""

    name: str  # "system", "10.0": the QEMU version its packages must have
    suite: str = ""
    packages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recipe:
    kernels: dict[str, KernelRecipe]  # by flavour; the plain names mean the default series
    userland: dict[str, tuple[str, str]]  # name -> (package, arch)
    # name -> files of that package for the SSH part of the initramfs (`ssh:` in the recipe)
    ssh_files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    series: dict[str, SeriesRecipe] = field(default_factory=dict)
    default_series: str = ""  # what the plain kernel names (cloud-amd64, 686) are
    emulators: dict[str, EmulatorRecipe] = field(default_factory=dict)

    def kernel(self, name: str) -> SeriesKernel:
        """A kernel name resolved: "cloud-amd64" (the default series), "7.2/cloud-amd64"."""
        return resolve_kernel(self, name)

    def kernel_names(self) -> list[str]:
        """Every kernel the recipe can build: the plain names, then <series>/<flavour>."""
        names = list(self.kernels)
        for series in self.series.values():
            if series.name != self.default_series:
                names += [f"{series.name}/{f}" for f in series.flavours]
        return names

    def private_suites(self) -> list[str]:
        """The suites the lab's own apt configuration carries: those of the other series."""
        return [s.suite for s in self.series.values() if s.name != self.default_series]


@dataclass(frozen=True)
class SeriesKernel:
    """One kernel of the recipe: a flavour of a series."""

    name: str  # canonical: "cloud-amd64" for the default series, else "7.2/cloud-amd64"
    series: str  # "6.1", "7.2"; "" when the recipe has no series section
    flavour: str
    kernel: KernelRecipe
    suite: str  # the Debian suite; "" = the host's own apt lists (the default series)

    @property
    def default(self) -> bool:
        return "/" not in self.name

    @property
    def version(self) -> str | None:
        """The series' kernel version for {abi} ("7.3"), None for the default series (any
        6.1-style ABI, as before)."""
        if self.default:
            return None
        m = SERIES_NAME.match(self.series)
        return m.group(1) if m else self.series

    def key(self, part: str = "") -> str:
        """Its pin key: kernel/<flavour> (default series, as before) or kernel/<series>/<flavour>,
        plus /base or /modules for the 7.x companion packages."""
        return f"kernel/{self.name}" + (f"/{part}" if part else "")


def resolve_kernel(recipe: Recipe, name: str) -> SeriesKernel:
    """A kernel name of the recipe: a flavour (the default series), or <series>/<flavour>."""
    known = ", ".join(recipe.kernel_names())
    if "/" not in name:
        if name not in recipe.kernels:
            raise ImageError(f"kernel {name!r} is not in images/recipe.yaml (known: {known})")
        default = recipe.series.get(recipe.default_series)
        return SeriesKernel(
            name,
            recipe.default_series,
            name,
            recipe.kernels[name],
            default.suite if default else "",
        )
    series_name, _, flavour = name.partition("/")
    series = recipe.series.get(series_name)
    if series is None or flavour not in series.flavours or flavour not in recipe.kernels:
        raise ImageError(f"kernel {name!r} is not in images/recipe.yaml (known: {known})")
    if series_name == recipe.default_series:
        return resolve_kernel(recipe, flavour)
    return SeriesKernel(name, series_name, flavour, recipe.kernels[flavour], series.suite)


def series_of_key(key: str) -> str | None:
    """The series of a pin key (kernel/7.2/cloud-amd64/base, source/7.2/linux-source → "7.2"),
    None for the others (kernel/<flavour> of the default series, userland/...)."""
    parts = key.split("/")
    if len(parts) >= 3 and parts[0] in ("kernel", "source") and SERIES_NAME.match(parts[1]):
        return parts[1]
    return None


def find_pin(pins: dict[str, Pin], spec: SeriesKernel, part: str = "") -> Pin | None:
    """A kernel's pin; the default series' also under kernel/<series>/<flavour>."""
    pin = pins.get(spec.key(part))
    if pin is None and spec.default and spec.series:
        pin = pins.get(f"kernel/{spec.series}/{spec.flavour}" + (f"/{part}" if part else ""))
    return pin


def read_recipe(images_dir: Path) -> Recipe:
    """images/recipe.yaml, validated (lab/config/schemas/recipe.schema.json); a series naming
    an unknown flavour, or an unknown default_series, is an error at its line."""
    doc = load_yaml(images_dir / RECIPE)
    series_doc = doc.data.get("series") if isinstance(doc.data, dict) else None
    for name in series_doc if isinstance(series_doc, dict) else ():
        if not SERIES_NAME.match(str(name)):  # the schema says so too, but at `series:`
            raise doc.error(
                ("series", name, "<key>"),
                f"series {name!r}: a series is named <major>.<minor>[-tag] (6.12, 7.3-rc)",
            )
    validate(doc, "recipe")
    kernels = {}
    for name, k in doc.data["kernels"].items():
        split = k.get("split")
        kernels[name] = KernelRecipe(
            name,
            k["package"],
            k["arch"],
            k["bits"],
            k["boot"],
            SplitPackages(split["image"], split["base"], split["modules"]) if split else None,
        )
    userland = {name: (u["package"], u["arch"]) for name, u in doc.data["userland"].items()}
    ssh_files = {name: tuple(u["ssh"]) for name, u in doc.data["userland"].items() if u.get("ssh")}
    series: dict[str, SeriesRecipe] = {}
    for name, s in doc.data.get("series", {}).items():
        for i, flavour in enumerate(s["flavours"]):
            if flavour not in kernels:
                raise doc.error(
                    ("series", name, "flavours", i),
                    f"series {name}: flavour {flavour!r} is not in `kernels` "
                    f"(known: {', '.join(kernels)})",
                )
        series[name] = SeriesRecipe(name, s["suite"], tuple(s["flavours"]), s["follow"])
    default = doc.data.get("default_series", "")
    if series and default not in series:
        raise doc.error(
            ("default_series",),
            f"default_series {default!r} is not a series of the recipe (known: {', '.join(series)})"
            if default
            else "a recipe with `series` names its default_series (what cloud-amd64 means)",
        )
    if default:
        unserved = [k for k in kernels if k not in series[default].flavours]
        if unserved:
            raise doc.error(
                ("series", default, "flavours"),
                f"the default series {default} must provide every kernel of `kernels` "
                f"(missing: {', '.join(unserved)})",
            )
    return Recipe(kernels, userland, ssh_files, series, default, _emulators(doc.data))


def _emulators(data: dict[str, Any]) -> dict[str, EmulatorRecipe]:
    """`emulators:` (the schema checks each: system has no packages, the others a suite)."""
    return {
        str(name): EmulatorRecipe(str(name), e.get("suite", ""), tuple(e.get("packages", ())))
        for name, e in (data.get("emulators") or {}).items()
    }


def read_lock(images_dir: Path) -> dict[str, Pin]:
    """images/lock.yaml, validated; an error naming `lab images update` if there is none."""
    path = images_dir / LOCK
    if not path.exists():
        raise ImageError(f"{path}: no lock file; run `lab images update` to create one")
    doc = load_yaml(path)
    validate(doc, "lock")
    return {
        key: Pin(key, p["package"], p["arch"], str(p["version"]), p["sha256"])
        for key, p in doc.data["packages"].items()
    }


def write_lock(images_dir: Path, pins: dict[str, Pin]) -> None:
    body = {
        "packages": {
            p.key: {
                "package": p.package,
                "arch": p.arch,
                "version": p.version,
                "sha256": p.sha256,
            }
            for p in pins.values()
        }
    }
    header = (
        "# Exact Debian package versions the guest images are built from.\n"
        "# Generated by `lab images update`; commit it so every nightly builds the same\n"
        "# images.\n"
    )
    atomic_write(images_dir / LOCK, (header + yaml.safe_dump(body, sort_keys=True)).encode())


def _existing_lock(images_dir: Path) -> dict[str, Pin]:
    return read_lock(images_dir) if (images_dir / LOCK).exists() else {}


def _userland_pin(name: str, package: str, arch: str) -> Pin:
    candidates = debian.apt_versions(package, arch)
    if not candidates:
        raise ImageError(f"apt knows no version of {package}:{arch}; run `apt-get update`")
    version = debian.newest(candidates)
    return Pin(f"userland/{name}", package, arch, version, candidates[version])


def update(images_dir: Path, apt: Apt | None = None) -> dict[str, tuple[str | None, str]]:
    """Move every pin to the newest version the mirror offers; returns old -> new.

    All kernels of the default series move to the same Debian kernel version (the newest one
    every flavour has), so that the 32- and 64-bit profiles of one nightly test the same kernel
    source. Every other series moves to the newest its suite offers (through the lab's own apt
    configuration, `apt`, by default the one under the cache dir).
    """
    recipe = read_recipe(images_dir)
    old = _existing_lock(images_dir)
    pins = common_kernel_pins(list(recipe.kernels.values()))
    for name, (package, arch) in recipe.userland.items():
        pins[f"userland/{name}"] = _userland_pin(name, package, arch)
    others = [n for n in recipe.kernel_names() if "/" in n]
    if others:
        private = apt or private_apt(recipe)
        for name in others:
            pins.update(series_kernel_pins(recipe.kernel(name), private))
    pins.update(_emulator_pins(recipe))
    pins.update(_sources(recipe, pins, (apt or private_apt(recipe)) if others else None))
    write_lock(images_dir, pins)
    return {
        key: (
            f"{old[key].package} {old[key].version}" if key in old else None,
            f"{pin.package} {pin.version}",
        )
        for key, pin in pins.items()
    }


def update_following(images_dir: Path, apt: Apt | None = None) -> dict[str, tuple[str | None, str]]:
    """Move the pins of the series that follow the newest (`follow: newest`, e.g. 7.3-rc) and
    only those; the lock is written if one moved. Returns the pins that moved, key ->
    (old "package version" or None, new): the nightly calls it before it builds."""
    recipe = read_recipe(images_dir)
    pins = _existing_lock(images_dir)
    following = [
        n
        for n in recipe.kernel_names()
        if "/" in n and recipe.series[recipe.kernel(n).series].follow == "newest"
    ]
    moved: dict[str, tuple[str | None, str]] = {}
    if not following:
        return moved
    private = apt or private_apt(recipe)
    for name in following:
        spec = recipe.kernel(name)
        fresh = series_kernel_pins(spec, private)
        # a series that left the 7.x packaging keeps no stale companion pins
        for part in ("base", "modules"):
            if spec.key(part) in pins and spec.key(part) not in fresh:
                gone = pins.pop(spec.key(part))
                moved[spec.key(part)] = (f"{gone.package} {gone.version}", "(removed)")
        for key, pin in fresh.items():
            before = pins.get(key)
            if before != pin:
                old = f"{before.package} {before.version}" if before else None
                moved[key] = (old, f"{pin.package} {pin.version}")
                pins[key] = pin
    series = sorted({recipe.kernel(n).series for n in following})
    for key, pin in _sources(recipe, pins, private, series).items():
        if pins.get(key) != pin:  # the series' source moves with its kernels
            before = pins.get(key)
            old = f"{before.package} {before.version}" if before else None
            moved[key] = (old, f"{pin.package} {pin.version}")
            pins[key] = pin
    if moved:
        write_lock(images_dir, pins)
    return moved


def add_missing_pins(images_dir: Path) -> dict[str, str]:
    """Pin what the recipe names and the lock lacks; existing pins do not move.

    A new kernel gets the Debian kernel version the other kernels are pinned at when the
    mirror has it (so that all profiles still test one kernel source), else the newest.
    """
    recipe = read_recipe(images_dir)
    pins = _existing_lock(images_dir)
    added: dict[str, str] = {}
    for name, (package, arch) in recipe.userland.items():
        key = f"userland/{name}"
        if key in pins:
            continue
        pins[key] = _userland_pin(name, package, arch)
        added[key] = f"{package} {pins[key].version}"
    missing_kernels = [k for k in recipe.kernels.values() if f"kernel/{k.name}" not in pins]
    if missing_kernels:
        pinned = {p.version for k, p in pins.items() if k.startswith("kernel/")}
        fresh = common_kernel_pins(missing_kernels)
        for k in missing_kernels:
            key = f"kernel/{k.name}"
            pin = fresh[key]
            for version in pinned:
                offers = _kernel_offers(k)
                if version in offers:
                    package, sha = offers[version]
                    pin = Pin(key, package, k.arch, version, sha)
                    break
            pins[key] = pin
            added[key] = f"{pin.package} {pin.version}"
    others = [n for n in recipe.kernel_names() if "/" in n]
    missing_series = [n for n in others if recipe.kernel(n).key() not in pins]
    if missing_series:
        private = private_apt(recipe)
        for name in missing_series:
            for key, pin in series_kernel_pins(recipe.kernel(name), private).items():
                pins[key] = pin
                added[key] = f"{pin.package} {pin.version}"
    if any(k not in pins for k in _emulator_keys(recipe)):
        for key, pin in _emulator_pins(recipe).items():
            if key not in pins:
                pins[key] = pin
                added[key] = f"{pin.package} {pin.version}"
    added.update(_add_missing_sources(recipe, pins))
    if added:
        write_lock(images_dir, pins)
    return added


def _emulator_keys(recipe: Recipe) -> list[str]:
    return [f"emulator/{e.name}/{p}" for e in recipe.emulators.values() for p in e.packages]


def _emulator_pins(recipe: Recipe) -> dict[str, Pin]:
    """The private emulators' packages at the newest their suites offer (lab.images.emulators)."""
    from lab.images import emulators

    return emulators.all_newest_pins(recipe)


def _sources(
    recipe: Recipe, pins: dict[str, Pin], apt: Apt | None, only: list[str] | None = None
) -> dict[str, Pin]:
    """The series' linux-source pins at their kernels' versions (lab.images.sourcepins)."""
    from lab.images import sourcepins  # it builds on this module's types

    if not recipe.series:
        return {}
    others = [s for s in (only or recipe.series) if s != recipe.default_series]
    private = apt if apt is not None or not others else private_apt(recipe)
    return sourcepins.source_pins(recipe, pins, private, only)


def _add_missing_sources(recipe: Recipe, pins: dict[str, Pin]) -> dict[str, str]:
    """Pin the linux-source of every series that has none (into pins); key -> what."""
    from lab.images.sourcepins import source_key

    missing = [s for s in recipe.series if source_key(s) not in pins]
    if not missing:
        return {}
    fresh = _sources(recipe, pins, None, missing)
    pins.update(fresh)
    return {k: f"{p.package} {p.version}" for k, p in fresh.items()}


def _kernel_offers(k: KernelRecipe) -> dict[str, tuple[str, str]]:
    """version -> (package, sha256) of every package matching a kernel's pattern."""
    return {
        v: (pkg, sha)
        for pkg in debian.kernel_packages(k.package)
        for v, sha in debian.apt_versions(pkg, k.arch).items()
    }


def common_kernel_pins(kernels: list[KernelRecipe]) -> dict[str, Pin]:
    """Pins for all kernels at the newest Debian version that every flavour offers."""
    offers: dict[str, dict[str, tuple[str, str]]] = {}  # kernel -> version -> (package, sha)
    for k in kernels:
        offers[k.name] = _kernel_offers(k)
        if not offers[k.name]:
            raise ImageError(
                f"no package matching {k.package} for {k.arch} on the mirror (did `apt-get "
                "update` run, and for i386 `dpkg --add-architecture i386`?)"
            )
    common = set.intersection(*(set(v) for v in offers.values()))
    pins = {}
    for k in kernels:
        version = debian.newest(common) if common else debian.newest(offers[k.name])
        package, sha = offers[k.name][version]
        pins[f"kernel/{k.name}"] = Pin(f"kernel/{k.name}", package, k.arch, version, sha)
    return pins


# -- the other series ----------------------------------------------------------------------------


def private_apt(recipe: Recipe, root: Path | None = None) -> Apt:
    """The lab's own apt configuration for the suites of the recipe's other series, under
    <cache dir>/apt (or root); the mirror is the host's Debian archive entry."""
    from lab.dirs import cache_dir

    return Apt.private(root or cache_dir() / "apt", recipe.private_suites())


def _abi_of(pattern: str, version: str | None, package: str) -> str:
    """The {abi} part of a package name matching pattern (linux-binary-unsigned-{abi}-cloud-amd64,
    linux-binary-unsigned-7.3-cloud-amd64 → 7.3)."""
    regex = debian.pattern_regex(pattern, version).replace(
        debian.abi_regex(version), f"({debian.abi_regex(version)})", 1
    )
    m = re.match(regex, package)
    if not m:
        raise ImageError(f"{package} does not match {pattern}")
    return m.group(1)


def _offers(pattern: str, spec: SeriesKernel, apt: Apt) -> dict[str, tuple[str, str]]:
    """version -> (package, sha256) of the packages of spec's suite matching pattern."""
    names = debian.kernel_packages(pattern, apt, spec.version)
    in_suite = apt.suites_of(names, spec.kernel.arch)
    out: dict[str, tuple[str, str]] = {}
    for name in names:
        for version, sha in apt.versions(name, spec.kernel.arch).items():
            if spec.suite in in_suite.get(name, {}).get(version, set()):
                out[version] = (name, sha)
    return out


def packaging(spec: SeriesKernel, apt: Apt) -> str:
    """ "split" if the suite offers the flavour's 7.x packages (linux-binary-unsigned-*), else
    "classic" (linux-image-*-unsigned, with the config and the modules inside)."""
    split = spec.kernel.split
    if split is not None and _offers(split.image, spec, apt):
        return "split"
    return "classic"


def series_kernel_pins(spec: SeriesKernel, apt: Apt) -> dict[str, Pin]:
    """The pins of a kernel of a series at the newest version its suite offers: the image
    package (kernel/<series>/<flavour>) and, for the 7.x packaging, its companions
    (.../base: config and modules.builtin; .../modules: the .ko files) at the same version."""
    k = spec.kernel
    split = k.split
    image_offers = _offers(split.image, spec, apt) if split is not None else {}
    if split is None or not image_offers:
        offers = _offers(k.package, spec, apt)
        if not offers:
            patterns = k.package + (f" or {split.image}" if split else "")
            raise ImageError(
                f"kernel {spec.name}: no package matching {patterns} for {k.arch} with a "
                f"{spec.version} ABI in {spec.suite} on the mirror"
            )
        version = debian.newest(offers)
        package, sha = offers[version]
        return {spec.key(): Pin(spec.key(), package, k.arch, version, sha)}
    version = debian.newest(image_offers)
    package, sha = image_offers[version]
    abi = _abi_of(split.image, spec.version, package)
    pins = {spec.key(): Pin(spec.key(), package, k.arch, version, sha)}
    for part, pattern in (("base", split.base), ("modules", split.modules)):
        name = pattern.replace("{abi}", abi)
        offered = apt.versions(name, k.arch, spec.suite)
        if version not in offered:
            raise ImageError(
                f"kernel {spec.name}: {package} {version} is in {spec.suite} but {name} "
                f"{version} is not (offered: {', '.join(sorted(offered)) or 'none'})"
            )
        pins[spec.key(part)] = Pin(spec.key(part), name, k.arch, version, offered[version])
    return pins


def kernel_pins(pins: dict[str, Pin], spec: SeriesKernel) -> dict[str, Pin]:
    """The pins a kernel is built from, by part ("" = the image package, "base", "modules");
    an error naming `lab images update` if its image package has none."""
    image = find_pin(pins, spec)
    if image is None:
        raise ImageError(
            f"kernel {spec.name!r} has no pin in images/lock.yaml; run `lab images update`"
        )
    out = {"": image}
    for part in ("base", "modules"):
        pin = find_pin(pins, spec, part)
        if pin is not None:
            out[part] = pin
    if ("base" in out) != ("modules" in out):
        raise ImageError(
            f"images/lock.yaml pins only one of {spec.key('base')} and {spec.key('modules')}; "
            "run `lab images update`"
        )
    return out


def default_pins(pins: dict[str, Pin]) -> dict[str, Pin]:
    """The pins without the series-keyed ones (kernel/<series>/..., source/<series>/...): the
    lock as the default build has always seen it; nor the private emulators' pins."""
    return {
        k: p for k, p in pins.items() if series_of_key(k) is None and not k.startswith("emulator/")
    }
