"""The x86 selftests per kernel series: which series' linux-source a cell's layer is built from,
its pin (source/<series>/linux-source), one build per series, kernel-version ranges in the
expectations, and tests a series' selftests do not have."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lab.config.yamlconf import load_yaml, validate
from lab.errors import ConfigError, ImageError
from lab.images import sourcepins
from lab.images.builder import Images, LayerBuild, for_kernel
from lab.images.cache import Log
from lab.images.debian import HOST, Apt
from lab.images.kernels import BuiltKernel
from lab.images.recipe import Pin, read_lock, read_recipe, series_of_key
from lab.report.results import Status
from lab.suites import load_catalog
from lab.suites.kselftest import build as kbuild
from lab.suites.kselftest import expectations as kexp
from lab.suites.kselftest import source as ksource
from lab.suites.kselftest.build import KselftestLayer

REPO = Path(__file__).resolve().parents[2]
FACTS = kexp.GuestFacts(
    profile="intel-sep",
    tags=frozenset({"default", "x86_64", "intel"}),
    flags=frozenset({"sep", "syscall", "lm"}),
    vendor="GenuineIntel",
    kernel_bits=64,
    accel="tcg",
    qemu_version="7.2.22",
    kernel_version="7.2.13",
)


@pytest.fixture
def images(tmp_path: Path) -> Path:
    d = tmp_path / "images"
    d.mkdir()
    for name in ("recipe.yaml", "lock.yaml"):
        shutil.copy(REPO / "images" / name, d / name)
    return d


def kernel(series: str, release: str) -> BuiltKernel:
    return BuiltKernel("k", Path("k"), 64, "vmlinux", release, "debian:x", {}, series=series)


# -- which series' source ------------------------------------------------------------------------


def test_a_cell_gets_its_kernel_series_selftests(images: Path) -> None:
    recipe = read_recipe(images)
    default = load_catalog().layers["kselftest-x86"]
    assert for_kernel(default, kernel("7.2", "7.2.13+deb14-cloud-amd64"), recipe) == (
        KselftestLayer(None, "7.2")
    )
    assert for_kernel(default, kernel("6.1", "6.1.0-50-cloud-amd64"), recipe) == KselftestLayer(
        None, "6.1"
    )
    # a user's kernel file has no series: the series of its release, else the default one
    assert for_kernel(default, kernel("", "7.3.0-rc2+"), recipe) == KselftestLayer(None, "7.3-rc")
    assert for_kernel(default, kernel("", "6.12.40"), recipe) == KselftestLayer(None, "6.12")
    assert for_kernel(default, kernel("", "5.10.1"), recipe) == KselftestLayer(None, "6.1")
    assert for_kernel(default, kernel("", ""), recipe) == KselftestLayer(None, "6.1")


def test_a_user_tree_is_every_cells_source(images: Path, tmp_path: Path) -> None:
    recipe = read_recipe(images)
    user = KselftestLayer(tmp_path)
    assert for_kernel(user, kernel("7.2", "7.2.13"), recipe) is user
    assert for_kernel(user, kernel("6.1", "6.1.0-50"), recipe) is user


def test_layers_that_do_not_depend_on_the_kernel_are_unchanged(images: Path) -> None:
    def layer(images: Images, log: Log) -> LayerBuild:
        raise AssertionError("not built here")

    assert for_kernel(layer, kernel("7.2", "7.2.13"), read_recipe(images)) is layer


# -- the pins ----------------------------------------------------------------------------------


def test_the_lock_pins_each_series_source_at_its_kernels_version(images: Path) -> None:
    pins = read_lock(images)
    recipe = read_recipe(images)
    for series in recipe.series:
        pin = sourcepins.find_source_pin(pins, series)
        assert pin.key == f"source/{series}/linux-source" and pin.arch == "all"
        assert pin.package == sourcepins.source_package(recipe.series[series])
        assert pin.version == sourcepins.series_kernel_version(recipe, pins, series)
        assert len(pin.sha256) == 64
        assert series_of_key(pin.key) == series
    assert pins["source/7.2/linux-source"].package == "linux-source-7.2"
    assert pins["source/7.3-rc/linux-source"].package == "linux-source-7.3"
    assert pins["source/6.1/linux-source"].version == pins["kernel/cloud-amd64"].version


def test_a_missing_source_pin_names_the_key_and_the_command(images: Path) -> None:
    pins = read_lock(images)
    del pins["source/7.2/linux-source"]
    with pytest.raises(ImageError) as exc:
        sourcepins.find_source_pin(pins, "7.2")
    assert "source/7.2/linux-source" in str(exc.value)
    assert "lab images add-pins" in str(exc.value)


class TableApt(Apt):
    """Apt answering versions() from a table: package -> suite -> version -> sha256."""

    def __init__(self, table: dict[str, dict[str, dict[str, str]]]) -> None:
        super().__init__(Path("/nonexistent"), "http://m.example/debian", ("sid",))
        object.__setattr__(self, "table", table)

    def versions(
        self, package: str, arch: str | None, suite: str | None = None, missing: str = ""
    ) -> dict[str, str]:
        table: dict[str, dict[str, dict[str, str]]] = self.__dict__["table"]
        by_suite = table.get(package, {})
        out: dict[str, str] = {}
        for s, offers in by_suite.items():
            if suite is None or s == suite:
                out.update(offers)
        return out


def test_a_source_pin_is_the_series_suites_package_at_the_kernel_version(images: Path) -> None:
    recipe = read_recipe(images)
    pins = read_lock(images)
    apt = TableApt(
        {
            "linux-source-7.2": {
                "sid": {"7.2.13-1": "a" * 64, "7.2.14-1": "b" * 64},
                "experimental": {"7.2.13-1": "c" * 64},
            }
        }
    )
    pin = sourcepins.source_pin(recipe, pins, "7.2", apt)
    assert (pin.key, pin.package, pin.version, pin.sha256) == (
        "source/7.2/linux-source",
        "linux-source-7.2",
        "7.2.13-1",
        "a" * 64,
    ), "the kernel's version, from sid, not the newest"
    with pytest.raises(ImageError) as exc:
        sourcepins.source_pin(recipe, pins, "6.12", apt)
    assert "suite trixie has no linux-source-6.12" in str(exc.value)
    assert sourcepins.apt_for(recipe, "6.1", apt) is HOST
    assert sourcepins.apt_for(recipe, "7.2", apt) is apt


def test_a_series_source_is_fetched_through_the_lab_apt(
    images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    got: list[tuple[Path | None, str]] = []

    def download(self: Apt, pin: Pin, debs: Path, log: object) -> Path:
        got.append((self.root, pin.key))
        return debs / pin.deb_name

    monkeypatch.setattr(Apt, "download", download)
    imgs = Images(images.parent, debs=tmp_path / "debs", apt_dir=tmp_path / "apt")
    monkeypatch.setattr(imgs, "private_apt", lambda: Apt(tmp_path / "apt", "m", ("sid",)))
    pins = imgs.pins()
    imgs.fetch(pins["source/7.2/linux-source"])
    imgs.fetch(pins["source/6.1/linux-source"])
    assert got == [(tmp_path / "apt", "source/7.2/linux-source"), (None, "source/6.1/linux-source")]
    assert "source/7.2/linux-source" not in imgs.lock()


def test_lock_schema_accepts_source_pins_and_arch_all(images: Path) -> None:
    doc = load_yaml(images / "lock.yaml")
    validate(doc, "lock")  # the shipped lock, source pins included
    assert doc.data["packages"]["source/7.2/linux-source"]["arch"] == "all"


# -- the build per series -------------------------------------------------------------------------


def test_debian_source_is_the_cells_series_pin(
    images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imgs = Images(images.parent, debs=tmp_path / "debs")
    fetched: list[str] = []

    def fetch(pin: Pin, log: Log | None = None) -> Path:
        fetched.append(pin.key)
        return tmp_path / "x.deb"

    monkeypatch.setattr(imgs, "fetch", fetch)
    monkeypatch.setattr(ksource, "extract_subset", lambda deb, out: ["x"])
    src = ksource.debian_source(imgs, lambda _m: None, "7.2")
    pin = imgs.pins()["source/7.2/linux-source"]
    assert src.origin == f"debian:linux-source-7.2={pin.version}"
    assert src.info["series"] == "7.2" and src.info["pin"] == "source/7.2/linux-source"
    assert src.x86_dir == (
        imgs.build_dir / "kselftest-x86/src" / f"linux-source-7.2_{pin.version}"
        / "tools/testing/selftests/x86"
    )  # fmt: skip
    other = ksource.debian_source(imgs, lambda _m: None, "6.1")
    assert other.key != src.key and other.version == imgs.pins()["kernel/686"].version
    ksource.debian_source(imgs, lambda _m: None, "7.2")
    assert fetched == ["source/7.2/linux-source", "source/6.1/linux-source"], "extracted once"
    assert ksource.debian_source(imgs, lambda _m: None, "").info["series"] == "6.1"


def test_each_series_builds_once_into_its_own_place(
    images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imgs = Images(images.parent)
    builds: list[str] = []

    def source(images: Images, log: Log, tree: Path | None, series: str = "") -> Any:
        return ksource.Source(tmp_path, f"debian:linux-source-{series}", series, f"k{series}")

    def build(src: ksource.Source, out: Path, log: Log) -> kbuild.BuildResult:
        builds.append(src.version)
        return kbuild.BuildResult(src.origin, src.version, {}, {}, {"targets": ["a_64"]})

    monkeypatch.setattr(kbuild, "selftests_source", source)
    monkeypatch.setattr(kbuild, "build_selftests", build)
    monkeypatch.setattr(kbuild, "toolchain", lambda: {"gcc": "g", "linux_libc_dev": "l"})
    a = KselftestLayer(None, "7.2")(imgs, lambda _m: None)
    b = KselftestLayer(None, "6.1")(imgs, lambda _m: None)
    again = KselftestLayer(None, "7.2")(imgs, lambda _m: None)
    assert builds == ["7.2", "6.1"], "one build per series, then the cache"
    assert (a.variant, b.variant, again.variant) == ("7.2", "6.1", "7.2")
    assert a.cpio == imgs.build_dir / "kselftest-x86/7.2/layer.cpio" != b.cpio
    assert again.result.origin == "debian:linux-source-7.2"
    manifest = imgs.manifest()["artefacts"]
    assert {"layer/kselftest-x86/7.2", "layer/kselftest-x86/6.1"} <= set(manifest)


def test_layered_initramfs_is_named_by_the_layer_variant(tmp_path: Path) -> None:
    imgs = Images(tmp_path, log=lambda _m: None)
    imgs.build_dir.mkdir(parents=True)
    base = imgs.build_dir / "initramfs.cpio"
    base.write_bytes(b"0")

    def layer(series: str) -> Any:
        def build(images: Images, log: Log) -> LayerBuild:
            path = images.build_dir / f"l{series}.cpio"
            path.write_bytes(series.encode())
            return LayerBuild(path, None, series)

        return build

    a = imgs.layered(base, {"kselftest-x86": layer("7.2")})
    b = imgs.layered(base, {"kselftest-x86": layer("6.1")})
    assert a.initramfs.name == "initramfs+kselftest-x86-7.2.cpio"
    assert b.initramfs.name == "initramfs+kselftest-x86-6.1.cpio"
    assert a.initramfs.read_bytes() == b"07.2", "not overwritten by the other series' layer"


def test_a_test_the_series_does_not_have_is_skipped() -> None:
    result = kbuild.BuildResult("debian:linux-source-6.1=6.1.176-1", "6.1.176-1", {}, {}, {
        "targets": ["sigreturn_64"]
    })  # fmt: skip
    assert result.has_target("sigreturn_64") and not result.has_target("lam_64")
    old = kbuild.BuildResult("x", "6.1", {}, {}, {})
    assert old.has_target("lam_64"), "an old build record without targets: run it"


# -- kernel-version ranges ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "low", "below", "inside"),
    [
        ("7.2.13", "7.2", None, True),
        ("7.2.13", None, "7.2", False),
        ("6.1.176", None, "7.2", True),
        ("6.12.117", "6.2", "7.2", True),
        ("7.3.0-rc7", "7.2", "7.3", False),
        ("7.3.0-rc7", "7.3", None, True),
        ("", "6.1", None, False),
        ("", None, None, True),
    ],
)
def test_kernel_ranges(version: str, low: str | None, below: str | None, inside: bool) -> None:
    assert kexp.in_range(version, low, below) is inside


def _write(tmp_path: Path, when: str) -> Path:
    path = tmp_path / "kselftest-x86.yaml"
    path.write_text(
        "suite: kselftest-x86\nexpectations:\n  e:\n    test: sigreturn_64\n"
        f"    when: {when}\n    class: emulator\n    cause: a cause of ten characters\n"
        "    evidence: [x]\n"
    )
    return path


def test_an_expectation_bounded_to_kernels_applies_only_there(tmp_path: Path) -> None:
    (exp,) = kexp.load_expectations(_write(tmp_path, '{kernel: {min: "6.1", below: "7.2"}}'))
    assert (exp.kernel_min, exp.kernel_below) == ("6.1", "7.2")
    assert not exp.applies(FACTS)
    assert exp.applies(replace(FACTS, kernel_version="6.1.176"))
    assert not exp.applies(replace(FACTS, kernel_version=""))
    failing = [kexp.Outcome("exit-code", Status.FAIL, "exit 1")]
    on_61 = kexp.apply_expectations(
        "sigreturn_64", failing, replace(FACTS, kernel_version="6.12.117"), [exp], True
    )
    assert on_61[0].status is kexp.XFAIL_STATUS
    on_72 = kexp.apply_expectations(
        "sigreturn_64", [kexp.Outcome("exit-code", Status.FAIL, "exit 1")], FACTS, [exp], True
    )
    assert [o.status for o in on_72] == [Status.FAIL], "7.2 is outside: a real failure"


@pytest.mark.parametrize("when", ['{kernel: {min: "seven"}}', "{kernel: {}}", "{kernel: {max: 1}}"])
def test_a_bad_kernel_range_is_an_error_at_its_line(tmp_path: Path, when: str) -> None:
    with pytest.raises(ConfigError) as exc:
        kexp.load_expectations(_write(tmp_path, when))
    assert exc.value.location.path.name == "kselftest-x86.yaml"
    assert exc.value.location.line is not None and exc.value.location.line >= 5
