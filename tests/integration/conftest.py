"""Integration fixtures: real images from Debian's packages (cached), real QEMU guests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.config.profiles import Profile, load_profiles
from lab.images.builder import Images, ImageSet
from tests.conftest import qemu_children


@pytest.fixture(scope="session")
def image_set(root: Path) -> ImageSet:
    return Images(root).build(["cloud-amd64", "686"])


@pytest.fixture(scope="session")
def profiles(root: Path) -> dict[str, Profile]:
    return load_profiles(root / "vendors.yaml")


@pytest.fixture(autouse=True)
def no_qemu_left_behind() -> Iterator[None]:
    yield
    assert qemu_children() == [], "a test left QEMU running"
