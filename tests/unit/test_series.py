"""Kernel series in the image recipe: the `series:` section (errors at their line), kernel
names and pin keys, the 7.x packaging detection, and moving the follow-newest pins, on fake
apt answers."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.errors import ConfigError, ImageError
from lab.images import recipe as rec
from lab.images.debian import APT_MISSING, Apt
from lab.images.recipe import Pin, read_lock, read_recipe

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def images(tmp_path: Path) -> Path:
    d = tmp_path / "images"
    d.mkdir()
    shutil.copy(REPO / "images" / "recipe.yaml", d / "recipe.yaml")
    shutil.copy(REPO / "images" / "lock.yaml", d / "lock.yaml")
    return d


def edit_recipe(images: Path, old: str, new: str) -> None:
    text = (images / "recipe.yaml").read_text()
    assert old in text
    (images / "recipe.yaml").write_text(text.replace(old, new, 1))


def line_of(images: Path, needle: str) -> int:
    lines = (images / "recipe.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_the_recipe_names_every_series_kernel(images: Path) -> None:
    r = read_recipe(images)
    assert r.default_series == "6.1"
    assert r.kernel_names() == [
        "cloud-amd64",
        "amd64",
        "686",
        "6.12/cloud-amd64",
        "7.2/cloud-amd64",
        "7.3-rc/cloud-amd64",
    ]
    assert {n: (s.suite, s.follow) for n, s in r.series.items()} == {
        "6.1": ("bookworm", "pinned"),
        "6.12": ("trixie", "pinned"),
        "7.2": ("sid", "pinned"),
        "7.3-rc": ("experimental", "newest"),
    }
    assert r.series["7.3-rc"].version == "7.3"
    assert r.private_suites() == ["trixie", "sid", "experimental"]


def test_kernel_names_and_pin_keys(images: Path) -> None:
    r = read_recipe(images)
    plain, same = r.kernel("cloud-amd64"), r.kernel("6.1/cloud-amd64")
    assert plain == same and plain.name == "cloud-amd64" and plain.default
    assert (plain.key(), plain.series, plain.version) == ("kernel/cloud-amd64", "6.1", None)
    k = r.kernel("7.2/cloud-amd64")
    assert (k.name, k.series, k.flavour, k.suite, k.version) == (
        "7.2/cloud-amd64",
        "7.2",
        "cloud-amd64",
        "sid",
        "7.2",
    )
    assert (k.key(), k.key("base"), k.key("modules")) == (
        "kernel/7.2/cloud-amd64",
        "kernel/7.2/cloud-amd64/base",
        "kernel/7.2/cloud-amd64/modules",
    )
    for bad in ("7.2/686", "9.9/cloud-amd64", "i386"):
        with pytest.raises(ImageError) as exc:
            r.kernel(bad)
        assert "not in images/recipe.yaml" in str(exc.value) and "7.2/cloud-amd64" in str(exc.value)
    assert rec.series_of_key("kernel/7.3-rc/cloud-amd64/base") == "7.3-rc"
    assert rec.series_of_key("kernel/cloud-amd64") is None
    assert rec.series_of_key("userland/libc6") is None


def test_the_lock_holds_every_series(images: Path) -> None:
    pins = read_lock(images)
    assert pins["kernel/cloud-amd64"].version == "6.1.176-1", "the 6.1 pins stay as they were"
    assert pins["kernel/6.12/cloud-amd64"].package.startswith("linux-image-6.12.")
    assert pins["kernel/7.2/cloud-amd64"].package.startswith("linux-binary-unsigned-7.2.")
    assert pins["kernel/7.2/cloud-amd64/base"].version == pins["kernel/7.2/cloud-amd64"].version
    assert pins["kernel/7.3-rc/cloud-amd64/modules"].package == "linux-modules-7.3-cloud-amd64"
    default = rec.default_pins(pins)
    assert "kernel/7.2/cloud-amd64" not in default and "kernel/686" in default
    r = read_recipe(images)
    assert set(rec.kernel_pins(pins, r.kernel("7.2/cloud-amd64"))) == {"", "base", "modules"}
    assert set(rec.kernel_pins(pins, r.kernel("6.12/cloud-amd64"))) == {""}
    # the default series' pins are also found under kernel/6.1/<flavour>
    moved = {("kernel/6.1/686" if k == "kernel/686" else k): p for k, p in pins.items()}
    assert rec.kernel_pins(moved, r.kernel("686"))[""] == pins["kernel/686"]
    del moved["kernel/7.2/cloud-amd64"]
    with pytest.raises(ImageError) as exc:
        rec.kernel_pins(moved, r.kernel("7.2/cloud-amd64"))
    assert "no pin" in str(exc.value) and "lab images update" in str(exc.value)


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ('  "7.2":\n', '  "seven":\n', '"seven"', "seven"),
        (
            "    flavours: [cloud-amd64]\n    follow: newest",
            "    flavours: [cloud-amd64, arm64]\n    follow: newest",
            "flavours: [cloud-amd64, arm64]",
            "flavour 'arm64'",
        ),
        ("    follow: newest", "    follow: sometimes", "follow: sometimes", "sometimes"),
        (
            "    suite: sid\n",
            "    suite: sid\n    mirror: x\n",
            "mirror: x",
            "unknown key 'mirror'",
        ),
        (
            'default_series: "6.1"',
            'default_series: "6.12"',
            "flavours: [cloud-amd64]",
            "must provide every kernel",
        ),
        (
            'default_series: "6.1"',
            'default_series: "5.10"',
            "default_series",
            "'5.10' is not a series",
        ),
    ],
)
def test_a_bad_series_is_an_error_at_its_line(
    images: Path, old: str, new: str, needle: str, message: str
) -> None:
    edit_recipe(images, old, new)
    with pytest.raises(ConfigError) as exc:
        read_recipe(images)
    assert message in str(exc.value)
    where = exc.value.location
    assert where.path == images / "recipe.yaml"
    want = line_of(images, needle)
    assert where.line in (want, want - 1), (str(exc.value), want)


@dataclass(frozen=True)
class FakeApt(Apt):
    """apt-cache answered from a table of (package, version, suite, sha256), amd64 only."""

    offers: tuple[tuple[str, str, str, str], ...] = ()

    def cache(self, *args: str, missing: str = APT_MISSING) -> str:
        verb = args[0]
        names = sorted({o[0] for o in self.offers})
        if verb == "search":
            return "".join(f"{n} - a package\n" for n in names if re.match(args[2], n))
        if verb == "madison":
            return "".join(
                f"{p} | {v} | http://m.example/debian {s}/main amd64 Packages\n"
                for p, v, s, _ in self.offers
                if p in args[1:]
            )
        if verb == "show":
            package = args[1].split(":")[0]
            return "\n".join(
                f"Package: {p}\nArchitecture: amd64\nVersion: {v}\nSHA256: {sha}\n"
                for p, v, _, sha in self.offers
                if p == package
            )
        raise AssertionError(args)


def sha(c: str) -> str:
    return c * 64


SPLIT_72 = (
    ("linux-binary-unsigned-7.2.13+deb14-cloud-amd64", "7.2.13-1", "sid", sha("1")),
    ("linux-base-7.2.13+deb14-cloud-amd64", "7.2.13-1", "sid", sha("2")),
    ("linux-modules-7.2.13+deb14-cloud-amd64", "7.2.13-1", "sid", sha("3")),
    # signed, empty metapackage of 7.x: not the kernel
    ("linux-image-7.2.13+deb14-cloud-amd64", "7.2.13-1", "sid", sha("4")),
)
CLASSIC_612 = (
    ("linux-image-6.12.117+deb13-cloud-amd64-unsigned", "6.12.117-1", "trixie", sha("5")),
    ("linux-image-6.12.107+deb13-cloud-amd64-unsigned", "6.12.107-1", "trixie", sha("6")),
    (
        "linux-image-6.12.95+deb12-cloud-amd64-unsigned",
        "6.12.95-1~bpo12+1",
        "bookworm-backports",
        sha("7"),
    ),
)


def rc(n: int, c: str) -> tuple[tuple[str, str, str, str], ...]:
    v = f"7.3~rc{n}-1~exp1"
    return (
        *(
            (f"linux-{p}-7.3-cloud-amd64", v, "experimental", sha(c))
            for p in ("binary-unsigned", "base", "modules")
        ),
        ("linux-source-7.3", v, "experimental", sha(c)),  # the series' source, same upload
    )


def fake(*offers: tuple[tuple[str, str, str, str], ...]) -> FakeApt:
    return FakeApt(
        Path("/nonexistent"), "http://m.example/debian", ("sid",), offers=sum(offers, ())
    )


def test_packaging_is_detected_from_the_suite(images: Path) -> None:
    r = read_recipe(images)
    apt = fake(SPLIT_72, CLASSIC_612, rc(7, "8"))
    assert rec.packaging(r.kernel("7.2/cloud-amd64"), apt) == "split"
    assert rec.packaging(r.kernel("6.12/cloud-amd64"), apt) == "classic"
    pins = rec.series_kernel_pins(r.kernel("7.2/cloud-amd64"), apt)
    assert {k: (p.package, p.version, p.sha256[0]) for k, p in pins.items()} == {
        "kernel/7.2/cloud-amd64": (
            "linux-binary-unsigned-7.2.13+deb14-cloud-amd64",
            "7.2.13-1",
            "1",
        ),
        "kernel/7.2/cloud-amd64/base": ("linux-base-7.2.13+deb14-cloud-amd64", "7.2.13-1", "2"),
        "kernel/7.2/cloud-amd64/modules": (
            "linux-modules-7.2.13+deb14-cloud-amd64",
            "7.2.13-1",
            "3",
        ),
    }
    # 6.12 from trixie only: the newest there, not bookworm-backports'
    pins = rec.series_kernel_pins(r.kernel("6.12/cloud-amd64"), apt)
    assert list(pins) == ["kernel/6.12/cloud-amd64"]
    assert (pins["kernel/6.12/cloud-amd64"].version, pins["kernel/6.12/cloud-amd64"].arch) == (
        "6.12.117-1",
        "amd64",
    )
    pins = rec.series_kernel_pins(r.kernel("7.3-rc/cloud-amd64"), apt)
    assert pins["kernel/7.3-rc/cloud-amd64/base"].package == "linux-base-7.3-cloud-amd64"


def test_a_split_kernel_without_its_companions_is_refused(images: Path) -> None:
    r = read_recipe(images)
    with pytest.raises(ImageError) as exc:
        rec.series_kernel_pins(r.kernel("7.2/cloud-amd64"), fake(SPLIT_72[:1]))
    assert "linux-base-7.2.13+deb14-cloud-amd64 7.2.13-1 is not" in str(exc.value)
    with pytest.raises(ImageError) as exc:
        rec.series_kernel_pins(r.kernel("7.2/cloud-amd64"), fake(CLASSIC_612))
    assert "no package matching" in str(exc.value) and "in sid" in str(exc.value)


def test_update_following_moves_only_the_newest_series(images: Path) -> None:
    before = read_lock(images)
    apt = fake(SPLIT_72, CLASSIC_612, rc(7, "8"), rc(8, "9"))
    # sid has a newer 7.2 too: a pinned series does not move
    apt = fake(
        SPLIT_72,
        tuple((p.replace("7.2.13", "7.2.14"), "7.2.14-1", s, sha("a")) for p, _, s, _ in SPLIT_72),
        CLASSIC_612,
        rc(7, "8"),
        rc(8, "9"),
    )
    moved = rec.update_following(images, apt)
    assert moved == {
        "kernel/7.3-rc/cloud-amd64": (
            "linux-binary-unsigned-7.3-cloud-amd64 7.3~rc7-1~exp1",
            "linux-binary-unsigned-7.3-cloud-amd64 7.3~rc8-1~exp1",
        ),
        "kernel/7.3-rc/cloud-amd64/base": (
            "linux-base-7.3-cloud-amd64 7.3~rc7-1~exp1",
            "linux-base-7.3-cloud-amd64 7.3~rc8-1~exp1",
        ),
        "kernel/7.3-rc/cloud-amd64/modules": (
            "linux-modules-7.3-cloud-amd64 7.3~rc7-1~exp1",
            "linux-modules-7.3-cloud-amd64 7.3~rc8-1~exp1",
        ),
        # the series' selftests source moves with its kernel
        "source/7.3-rc/linux-source": (
            "linux-source-7.3 7.3~rc7-1~exp1",
            "linux-source-7.3 7.3~rc8-1~exp1",
        ),
    }
    after = read_lock(images)
    assert after["kernel/7.3-rc/cloud-amd64"] == Pin(
        "kernel/7.3-rc/cloud-amd64",
        "linux-binary-unsigned-7.3-cloud-amd64",
        "amd64",
        "7.3~rc8-1~exp1",
        sha("9"),
    )
    unchanged = {k: p for k, p in after.items() if rec.series_of_key(k) != "7.3-rc"}
    assert unchanged == {k: p for k, p in before.items() if rec.series_of_key(k) != "7.3-rc"}
    assert rec.update_following(images, apt) == {}, "nothing new: nothing moves"


def test_images_fetch_a_series_pin_through_the_private_apt(
    images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.images import debian
    from lab.images.builder import Images
    from lab.images.debian import SourceEntry

    mirror = SourceEntry("http://m.example/debian", "bookworm", ("main",))
    monkeypatch.setattr(debian, "host_mirror", lambda *_a, **_k: mirror)
    got: list[tuple[Path | None, str]] = []

    def download(self: Apt, pin: Pin, debs: Path, log: object) -> Path:
        got.append((self.root, pin.key))
        return debs / pin.deb_name

    monkeypatch.setattr(Apt, "download", download)
    imgs = Images(images.parent, debs=tmp_path / "debs", apt_dir=tmp_path / "apt")
    pins = imgs.pins()
    for key in ("kernel/7.2/cloud-amd64/modules", "kernel/cloud-amd64", "userland/libc6"):
        imgs.fetch(pins[key])
    assert got == [
        (tmp_path / "apt", "kernel/7.2/cloud-amd64/modules"),
        (None, "kernel/cloud-amd64"),
        (None, "userland/libc6"),
    ]
    assert imgs.private_apt().suites == ("trixie", "sid", "experimental")
    assert "kernel/7.2/cloud-amd64" not in imgs.lock() and "kernel/686" in imgs.lock()


def test_build_refuses_unknown_and_unpinned_series_kernels_before_any_work(
    images: Path, tmp_path: Path
) -> None:
    from lab.images.builder import Images

    imgs = Images(images.parent, debs=tmp_path / "debs", apt_dir=tmp_path / "apt")
    with pytest.raises(ImageError) as exc:
        imgs.build(["7.2/686"])
    assert "'7.2/686' is not in images/recipe.yaml" in str(exc.value)
    lock = (images / "lock.yaml").read_text()
    (images / "lock.yaml").write_text(lock.replace("kernel/6.12/cloud-amd64:", "kernel/6.12/x:"))
    with pytest.raises(ImageError) as exc:
        imgs.build(["6.12/cloud-amd64"])
    assert "'6.12/cloud-amd64' has no pin" in str(exc.value)
    assert not imgs.build_dir.exists(), "nothing was built"
