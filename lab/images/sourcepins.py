"""The kernel source of each kernel series, pinned: Debian's linux-source-<X.Y> package at the
version of the series' kernels, as `source/<series>/linux-source` in images/lock.yaml (with its
sha256, like every pin). The x86 selftests of a series' cells are built from it
(lab/suites/kselftest/source.py); the pins move with the kernels (`lab images update`, the
nightly's update_following() for a `follow: newest` series) and `lab images add-pins` adds a
missing one at the kernels' version, so a series' selftests and kernel come from one upload.
"""

from __future__ import annotations

from lab.errors import ImageError
from lab.images import debian
from lab.images.debian import HOST, Apt
from lab.images.recipe import Pin, Recipe, SeriesRecipe

SOURCE_ARCH = "all"


def source_key(series: str) -> str:
    """The pin key of a series' kernel source: source/7.2/linux-source."""
    return f"source/{series}/linux-source"


def source_package(series: SeriesRecipe) -> str:
    """Debian's source package of a series: 7.2 → linux-source-7.2, 7.3-rc → linux-source-7.3
    (the rc series' packages carry the version they will be)."""
    return f"linux-source-{series.version}"


def series_kernel_version(recipe: Recipe, pins: dict[str, Pin], series: str) -> str:
    """The Debian version the series' kernels are pinned at (the newest, if its flavours
    differ); the source is matched to it. An error naming the missing pins otherwise."""
    spec = recipe.series[series]
    keys = [
        f"kernel/{f}" if series == recipe.default_series else f"kernel/{series}/{f}"
        for f in spec.flavours
    ]
    versions = sorted({pins[k].version for k in keys if k in pins})
    if not versions:
        raise ImageError(
            f"images/lock.yaml pins no kernel of series {series} ({', '.join(keys)}): "
            "nothing to match its linux-source to; run `lab images update`"
        )
    return debian.newest(versions)


def apt_for(recipe: Recipe, series: str, private: Apt | None) -> Apt:
    """The host's apt for the default series (as its kernels), the lab's own for the others."""
    if series == recipe.default_series or private is None:
        return HOST
    return private


def source_pin(recipe: Recipe, pins: dict[str, Pin], series: str, apt: Apt) -> Pin:
    """linux-source-X.Y of a series at its kernels' version, from the series' suite; the
    nearest version the suite offers if it lacks that one exactly (Debian uploads the source
    with the kernels, so that is rare and shows in `lab images update`'s old → new)."""
    spec = recipe.series[series]
    package = source_package(spec)
    wanted = series_kernel_version(recipe, pins, series)
    suite = None if apt is HOST else spec.suite
    offers = apt.versions(package, None, suite)
    version = debian.nearest_version(wanted, offers)
    if version is None:
        where = f"suite {spec.suite}" if suite else "the host's apt lists"
        raise ImageError(
            f"kernel series {series}: {where} has no {package} (is the apt list current? "
            f"`lab images update` refreshes the lab's own); the series' x86 selftests are "
            "built from it"
        )
    return Pin(source_key(series), package, SOURCE_ARCH, version, offers[version])


def source_pins(
    recipe: Recipe, pins: dict[str, Pin], private: Apt | None, only: list[str] | None = None
) -> dict[str, Pin]:
    """The source pins of every series of the recipe (or of `only`), at the kernels' versions
    in `pins`."""
    names = list(recipe.series) if only is None else only
    return {source_key(s): source_pin(recipe, pins, s, apt_for(recipe, s, private)) for s in names}


def find_source_pin(pins: dict[str, Pin], series: str) -> Pin:
    """The pinned linux-source of a series; an error naming the key and the command if none."""
    pin = pins.get(source_key(series))
    if pin is None:
        raise ImageError(
            f"images/lock.yaml has no pin {source_key(series)} (the x86 selftests of kernel "
            f"series {series} are built from it); run `lab images add-pins` (pins it at the "
            "series' kernel version) and commit images/lock.yaml"
        )
    return pin
