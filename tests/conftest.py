"""Shared fixtures: the checkout, and (for integration tests) built guest images."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def qemu_children() -> list[str]:
    """QEMU processes whose parent is this test process (there must be none after a test)."""
    found = []
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        if name.startswith("qemu-system") and int(fields[1]) == me and fields[0] != "Z":
            found.append(f"{stat.parent.name} {name}")
    return found
