"""Debian's version order (lab/images/debian.py), as dpkg --compare-versions has it."""

from __future__ import annotations

import itertools
import shutil
import subprocess

import pytest

from lab.images.debian import (
    compare_versions,
    nearest_version,
    newest,
    split_version,
    version_key,
)


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("6.1.176-1", "6.1.176-1+deb12u1"),  # a revision's suffix is newer than none
        ("7.3~rc2-1~exp1", "7.3-1"),  # ~ sorts before everything, even the end
        ("7.3~rc2-1~exp1", "7.3~rc2-1"),
        ("2.0", "1:0.1"),  # the epoch decides first
        ("6.1.99-1", "6.1.100-1"),  # digits compare as numbers
        ("1.0", "1.0a"),
        ("1.0a", "1.0+"),  # letters before other characters
        ("1.0~~", "1.0~"),
        ("1.0~", "1.0"),
        ("1.0-1", "1.0-2"),
        ("1.0-9", "1.0-10"),
        ("6.1.170-3", "6.1.176-1"),
        ("1:1.0", "2:0.1"),
        ("2.30-1", "2.30-1.1"),
    ],
)
def test_order(older: str, newer: str) -> None:
    assert compare_versions(older, newer) == -1
    assert compare_versions(newer, older) == 1
    assert version_key(older) < version_key(newer)


@pytest.mark.parametrize(
    ("a", "b"),
    [("1.0", "1.0"), ("1.0", "1.0-0"), ("0:1.0", "1.0"), ("1.01", "1.1"), ("1.0-001", "1.0-1")],
)
def test_equal(a: str, b: str) -> None:
    assert compare_versions(a, b) == 0


def test_split() -> None:
    assert split_version("1:2.3-4") == (1, "2.3", "4")
    assert split_version("2.3") == (0, "2.3", "")
    assert split_version("1.2-3-4") == (0, "1.2-3", "4")  # the revision is after the last '-'
    assert split_version("7.3~rc2-1~exp1") == (0, "7.3~rc2", "1~exp1")


def test_newest_and_sorting() -> None:
    versions = ["7.3-1", "1:0.1", "7.3~rc2-1~exp1", "6.1.176-1+deb12u1", "6.1.176-1"]
    assert newest(versions) == "1:0.1"
    assert sorted(versions, key=version_key) == [
        "6.1.176-1",
        "6.1.176-1+deb12u1",
        "7.3~rc2-1~exp1",
        "7.3-1",
        "1:0.1",
    ]


def test_nearest_version() -> None:
    offered = ["6.1.170-3", "6.1.176-1", "6.1.187-1"]
    assert nearest_version("6.1.176-1", offered) == "6.1.176-1"
    assert nearest_version("6.1.177-1", offered) == "6.1.176-1"
    assert nearest_version("6.1.186-1", offered) == "6.1.187-1"
    assert nearest_version("6.1.176-1", []) is None
    # as near either way: the newer
    assert nearest_version("6.1.175-1", ["6.1.174-1", "6.1.176-1"]) == "6.1.176-1"


TRICKY = [
    "0",
    "1.0",
    "1.0-0",
    "1.0~rc1",
    "1.0~rc1-1",
    "1.0+dfsg-1",
    "1.0a",
    "1.0.1",
    "1:0.9",
    "6.1.176-1",
    "6.1.176-1+deb12u1",
    "6.1.176-1~bpo11+1",
    "7.3~rc2-1~exp1",
    "2.36-9+deb12u10",
    "2.36-9+deb12u9",
]


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg")
def test_agrees_with_dpkg() -> None:
    for a, b in itertools.combinations(TRICKY, 2):
        mine = compare_versions(a, b)
        for op, want in (("lt", mine < 0), ("eq", mine == 0), ("gt", mine > 0)):
            dpkg = subprocess.run(["dpkg", "--compare-versions", a, op, b], check=False)
            assert (dpkg.returncode == 0) == want, f"{a} {op} {b}"
