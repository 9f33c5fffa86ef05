"""`--source SERIES`: Debian's linux-source of a kernel series of images/recipe.yaml, as pinned
(source/<series>/linux-source, lab.images.sourcepins), downloaded like every pin and unpacked
whole once per version under the cache dir. Its identity is the package's sha256: the unpacked
tree is the lab's own and never edited."""

from __future__ import annotations

import shutil
from pathlib import Path

from lab.errors import LabError
from lab.images.builder import Images
from lab.images.cache import Log
from lab.images.sourcepins import find_source_pin
from lab.kbuild.tree import KernelTree, check_tree
from lab.suites.kselftest.source import extract_subset, tree_version


def debian_tree(images: Images, series: str, src_root: Path, log: Log) -> KernelTree:
    """The unpacked linux-source of a series; an unknown series is an error naming the
    recipe's."""
    recipe = images.recipe()
    if series not in recipe.series:
        known = ", ".join(recipe.series)
        raise LabError(
            f"--source {series}: not a kernel series of images/recipe.yaml (series: {known})"
        )
    pin = find_source_pin(images.pins(), series)
    out = src_root / f"{pin.package}_{pin.version}"
    marker = out / ".entrylab-extracted"
    if not (marker.is_file() and marker.read_text() == pin.sha256):
        deb = images.fetch(pin, log)
        log(f"unpacking {deb.name} into {out}")
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        extract_subset(deb, out, subset=None)
        marker.write_text(pin.sha256)
    path = check_tree(out)
    origin = f"debian:{pin.package}={pin.version}"
    return KernelTree(path, origin, pin.sha256, tree_version(path))
