"""The image builder's apt: the Debian mirror found in the host's sources (both formats), the
private configuration's command lines (nothing under /etc/apt written), suite queries."""

from __future__ import annotations

import lzma
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lab.errors import ImageError
from lab.images import debian
from lab.images.aptsources import SourceEntry, find_mirror, host_mirror, parse_sources
from lab.images.debian import Apt
from lab.images.recipe import Pin

ONE_LINE = """\
# a comment
deb-src http://mirror.example/debian bookworm main
deb http://security.example/debian-security bookworm-security main
deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main contrib
deb http://mirror.example/debian bookworm-updates main
"""

DEB822 = """\
Types: deb
URIs: http://other.example/debian-security
Suites: bookworm-security
Components: main

Types: deb deb-src
# a comment inside the stanza
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def test_one_line_sources() -> None:
    entries = parse_sources("sources.list", ONE_LINE)
    assert [e.suite for e in entries] == ["bookworm-security", "bookworm", "bookworm-updates"]
    entry = find_mirror([("sources.list", ONE_LINE)], {"bookworm"})
    assert entry == SourceEntry(
        "http://mirror.example/debian", "bookworm", ("main", "contrib"), "/k.gpg"
    )


def test_deb822_sources() -> None:
    entry = find_mirror([("debian.sources", DEB822)], {"bookworm"})
    assert entry is not None
    assert (entry.uri, entry.suite, entry.signed_by) == (
        "http://mirror.example/debian",
        "bookworm",
        "/usr/share/keyrings/debian-archive-keyring.gpg",
    )


def test_third_party_disabled_and_security_entries_are_not_the_archive() -> None:
    files = [
        ("docker.list", "deb https://download.example/linux/debian bookworm stable\n"),
        (
            "node.sources",
            "Types: deb\nURIs: https://node.example/x\nSuites: nodistro\nComponents: main\n",
        ),
        (
            "off.sources",
            "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\n"
            "Enabled: no\n",
        ),
        ("sec.list", "deb http://sec.example/debian-security bookworm-security main\n"),
    ]
    assert find_mirror(files, {"bookworm"}) is None
    # an alias suite is Debian's whatever the host's codename
    assert find_mirror([("x.list", "deb http://m.example/debian sid main\n")], set()) is not None


def test_host_mirror_reads_both_files_and_fails_clearly(tmp_path: Path) -> None:
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "debian.sources").write_text(DEB822)
    (etc / "sources.list.d" / "gone.list.disabled").write_text(
        "deb http://x.example/debian sid main\n"
    )
    assert host_mirror({"bookworm"}, etc).uri == "http://mirror.example/debian"
    (etc / "sources.list.d" / "debian.sources").unlink()
    with pytest.raises(ImageError) as exc:
        host_mirror({"bookworm"}, etc)
    assert "no Debian archive entry" in str(exc.value) and "sources.list.d" in str(exc.value)


def private(tmp_path: Path) -> Apt:
    mirror = SourceEntry("http://mirror.example/debian", "bookworm", ("main",), "/k.gpg")
    return Apt.private(tmp_path / "apt", ["trixie", "sid", "experimental", "sid"], mirror)


def test_private_configuration_lives_under_its_root(tmp_path: Path) -> None:
    apt = private(tmp_path)
    argv = apt.argv("apt-get", "update")
    assert argv[0] == "apt-get" and argv[-1] == "update"
    opts = dict(a.split("=", 1) for a in argv[1:-1] if a != "-o")
    root = str(tmp_path / "apt")
    assert opts["Dir::Etc::SourceList"] == f"{root}/sources.list"
    assert opts["Dir::Etc::SourceParts"] == "/dev/null"
    assert opts["Dir::Etc::Preferences"] == "/dev/null"
    assert opts["Dir::State::Lists"] == f"{root}/lists"
    assert opts["Dir::State::Status"] == f"{root}/status"
    assert opts["Dir::Cache"] == f"{root}/cache"
    assert [a for a in argv if a.startswith("APT::Architectures::=")] == [
        "APT::Architectures::=amd64",
        "APT::Architectures::=i386",
    ]
    for value in opts.values():  # every path apt writes is the lab's own
        assert not value.startswith("/etc"), value
    assert apt.sources_text() == (
        "deb [arch=amd64,i386 signed-by=/k.gpg] http://mirror.example/debian trixie main\n"
        "deb [arch=amd64,i386 signed-by=/k.gpg] http://mirror.example/debian sid main\n"
        "deb [arch=amd64,i386 signed-by=/k.gpg] http://mirror.example/debian experimental main\n"
    )
    assert Apt().argv("apt-cache", "show", "x") == ["apt-cache", "show", "x"], "host: as before"


class FakeRun:
    """subprocess.run for apt: records each argv, answers from a function."""

    def __init__(self, answer: dict[str, tuple[int, str, str]]) -> None:
        self.calls: list[list[str]] = []
        self.answer = answer

    def __call__(self, argv: list[str], **_kw: object) -> subprocess.CompletedProcess[str]:
        self.calls.append(argv)
        verb = self.verb(argv)
        for prefix, (rc, out, err) in self.answer.items():
            if verb.startswith(prefix):
                return subprocess.CompletedProcess(argv, rc, out, err)
        return subprocess.CompletedProcess(argv, 0, "", "")

    @staticmethod
    def verb(argv: list[str]) -> str:
        """The command line without its -o options."""
        kept = [a for i, a in enumerate(argv) if a != "-o" and (i == 0 or argv[i - 1] != "-o")]
        return " ".join(kept)

    def verbs(self) -> list[str]:
        return [self.verb(c) for c in self.calls]


def test_lists_are_refreshed_when_missing_stale_or_for_other_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = FakeRun({})
    monkeypatch.setattr(subprocess, "run", run)
    apt = private(tmp_path)
    apt.cache("show", "x")
    apt.cache("show", "y")
    assert run.verbs() == ["apt-get update", "apt-cache show x", "apt-cache show y"]
    assert (tmp_path / "apt" / "status").read_text() == ""
    stamp = tmp_path / "apt" / "updated"
    old = stamp.stat().st_mtime - 2 * 86400
    import os

    os.utime(stamp, (old, old))
    apt.cache("show", "z")
    assert run.verbs()[-2:] == ["apt-get update", "apt-cache show z"]
    other = Apt(apt.root, apt.mirror, ("sid",))
    other.cache("show", "w")
    assert run.verbs()[-2:] == ["apt-get update", "apt-cache show w"]


PKG = "linux-image-6.12.117+deb13-cloud-amd64-unsigned"
MADISON = (
    f"{PKG} | 6.12.117-1 | http://m.example/debian trixie/main amd64 Packages\n"
    f"{PKG} | 6.12.116-1 | http://m.example/debian bookworm-backports/main amd64 Packages\n"
)

SHOW = """\
Package: linux-image-6.12.117+deb13-cloud-amd64-unsigned
Architecture: amd64
Version: 6.12.117-1
SHA256: {a}

Package: linux-image-6.12.117+deb13-cloud-amd64-unsigned
Architecture: amd64
Version: 6.12.116-1
SHA256: {b}
""".format(a="a" * 64, b="b" * 64)


def test_versions_of_one_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = FakeRun({"apt-cache show": (0, SHOW, ""), "apt-cache madison": (0, MADISON, "")})
    monkeypatch.setattr(subprocess, "run", run)
    apt = private(tmp_path)
    package = "linux-image-6.12.117+deb13-cloud-amd64-unsigned"
    assert apt.versions(package, "amd64") == {"6.12.117-1": "a" * 64, "6.12.116-1": "b" * 64}
    assert apt.versions(package, "amd64", "trixie") == {"6.12.117-1": "a" * 64}
    assert apt.versions(package, "amd64", "sid") == {}


def test_a_pin_the_mirror_dropped_is_retried_after_an_update_then_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = (100, "", "E: Can't find a source to download version '7.3~rc6-1~exp1' of 'x:amd64'")
    run = FakeRun({"apt-get download": gone})
    monkeypatch.setattr(subprocess, "run", run)
    apt = private(tmp_path)
    pin = Pin("kernel/7.3-rc/cloud-amd64", "x", "amd64", "7.3~rc6-1~exp1", "c" * 64)
    with pytest.raises(ImageError) as exc:
        apt.download(pin, tmp_path / "debs", lambda _m: None)
    assert run.verbs() == [
        "apt-get update",
        "apt-get download x:amd64=7.3~rc6-1~exp1",
        "apt-get update",
        "apt-get download x:amd64=7.3~rc6-1~exp1",
    ]
    assert "kernel/7.3-rc/cloud-amd64" in str(exc.value)
    assert "lab images update" in str(exc.value)


def test_abi_of_a_series() -> None:
    def matches(pattern: str, series: str | None, name: str) -> bool:
        return re.match(debian.pattern_regex(pattern, series), name) is not None

    classic = "linux-image-{abi}-cloud-amd64-unsigned"
    split = "linux-binary-unsigned-{abi}-cloud-amd64"
    assert matches(classic, None, "linux-image-6.1.0-50-cloud-amd64-unsigned")
    assert not matches(classic, None, "linux-image-6.12.117+deb13-cloud-amd64-unsigned")
    assert matches(classic, "6.1", "linux-image-6.1.0-50-cloud-amd64-unsigned")
    assert matches(classic, "6.12", "linux-image-6.12.117+deb13-cloud-amd64-unsigned")
    assert not matches(classic, "6.1", "linux-image-6.12.117+deb13-cloud-amd64-unsigned")
    assert matches(split, "7.2", "linux-binary-unsigned-7.2.13+deb14-cloud-amd64")
    assert matches(split, "7.3", "linux-binary-unsigned-7.3-cloud-amd64")
    assert not matches(split, "7.3", "linux-binary-unsigned-7.30-cloud-amd64")
    assert not matches(split, "7.2", "linux-binary-unsigned-7.3-cloud-amd64")


def test_builtin_modules() -> None:
    text = "kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/virtio/virtio-ring.ko\n"
    assert debian.builtin_modules(text) == {"virtio_pci", "virtio_ring"}


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_modules_of_a_merged_usr_package_compressed_and_built_in(tmp_path: Path) -> None:
    """6.12/7.x: ./usr/lib/modules/<abi>/kernel/…/*.ko.xz, and modules.builtin."""
    tree = tmp_path / "pkg"
    mod = tree / "usr/lib/modules/7.2.13+deb14-cloud-amd64"
    (mod / "kernel/drivers/net").mkdir(parents=True)
    (mod / "kernel/drivers/net/virtio_net.ko.xz").write_bytes(lzma.compress(b"\x7fELF net"))
    (mod / "kernel/drivers/net/net-failover.ko").write_bytes(b"\x7fELF failover")
    (mod / "modules.builtin").write_text("kernel/drivers/virtio/virtio_pci.ko\n")
    (tree / "DEBIAN").mkdir()
    (tree / "DEBIAN/control").write_text(
        "Package: fake-modules\nVersion: 1\nArchitecture: amd64\nMaintainer: x <x@x>\n"
        "Description: x\n"
    )
    deb = tmp_path / "fake.deb"
    subprocess.run(
        ["dpkg-deb", "-b", "--root-owner-group", str(tree), str(deb)],
        check=True,
        capture_output=True,
    )
    assert debian.deb_modules(deb) == {
        "virtio_net": b"\x7fELF net",
        "net_failover": b"\x7fELF failover",
    }
    assert debian.deb_builtin_modules(deb) == {"virtio_pci"}


def test_stale_lists_are_kept_when_the_mirror_cannot_be_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = FakeRun({"apt-get update": (100, "", "E: Failed to fetch InRelease")})
    monkeypatch.setattr(subprocess, "run", run)
    apt = private(tmp_path)
    with pytest.raises(ImageError) as exc:  # no lists at all: nothing to go on
        apt.cache("show", "x")
    assert "apt-get update" in str(exc.value) and "Failed to fetch" in str(exc.value)
    (tmp_path / "apt" / "updated").write_text(apt.sources_text())
    import os

    os.utime(tmp_path / "apt" / "updated", (0, 0))
    apt.cache("show", "x")
    assert run.verbs()[-2:] == ["apt-get update", "apt-cache show x"]
