"""Kernels as an axis of the plan: each profile × each --kernels choice, the flavour of the
profile's bitness, and cells that cannot exist kept with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.config.profiles import load_profiles
from lab.config.scenarios import Scenario
from lab.engine.describe import describe
from lab.engine.plan import RunPlan, cells, expand_kernels, ia32_refused, kernel_choice
from lab.images.builder import Images, ImageSet, Layered
from lab.images.kernels import BuiltKernel
from lab.images.sshpart import SshPart
from lab.targets.base import Accel


def test_series_choice_is_the_profiles_flavour(root: Path) -> None:
    recipe = Images(root).recipe()
    profiles = load_profiles(root / "vendors.yaml")
    intel, i386 = profiles["intel-sep"], profiles["i386-int80"]
    assert kernel_choice(intel, "7.2", recipe) == ("7.2/cloud-amd64", "")
    assert kernel_choice(intel, "6.1", recipe) == ("cloud-amd64", "")  # the default series
    assert kernel_choice(i386, "6.1", recipe) == ("686", "")
    name, why = kernel_choice(i386, "7.3-rc", recipe)
    assert name == "7.3-rc/686" and "has no 686 kernel" in why and "issue 15" in why
    assert kernel_choice(intel, "amd64", recipe) == ("amd64", "")  # a kernel name, as --kernel


def test_expand_keeps_impossible_cells_and_real_machines_once(root: Path) -> None:
    recipe = Images(root).recipe()
    profiles = load_profiles(root / "vendors.yaml")
    plan = RunPlan([profiles["intel-sep"], profiles["i386-int80"]], [], kernels=("6.1", "7.2"))
    matrix = expand_kernels(plan, recipe)
    assert [(s.profile.name, s.profile.kernel, bool(s.why_not)) for s in matrix] == [
        ("intel-sep", "cloud-amd64", False),
        ("intel-sep", "7.2/cloud-amd64", False),
        ("i386-int80", "686", False),
        ("i386-int80", "7.2/686", True),
    ]


def _built() -> ImageSet:
    kernels = {
        "cloud-amd64": BuiltKernel("cloud-amd64", Path("k/6.1"), 64, "vmlinux", "", "d", {}),
        "7.2/cloud-amd64": BuiltKernel(
            "7.2/cloud-amd64", Path("k/7.2"), 64, "vmlinux", "", "d", {}, "7.2", "cloud-amd64"
        ),
        "686": BuiltKernel("686", Path("k/686"), 32, "bzimage", "", "d", {}),
    }
    return ImageSet(Path("i"), kernels, {})


def _initramfs(layers: tuple[str, ...], ssh: SshPart | None, kernel: BuiltKernel) -> Layered:
    return Layered(Path("i"))


def test_cells_name_each_kernel_and_skip_what_cannot_exist(root: Path) -> None:
    recipe = Images(root).recipe()
    profiles = load_profiles(root / "vendors.yaml")
    s = Scenario("vdso-entry", "core", "vdso-entry")
    plan = RunPlan(
        [profiles["intel-sep"], profiles["i386-int80"]],
        [s],
        kernels=("6.1", "7.2"),
        transport=None,
    )
    made = cells(plan, _built(), _initramfs, expand_kernels(plan, recipe))
    assert [c.name for c in made] == [
        "intel-sep@cloud-amd64",
        "intel-sep@7.2/cloud-amd64",
        "i386-int80@686",
        "i386-int80@7.2/686",
    ]
    impossible = made[-1]
    assert impossible.scenarios == () and impossible.kernel is None
    ((skipped, why),) = impossible.skipped
    assert skipped is s and why.startswith("cell cannot exist: series 7.2 has no 686 kernel")
    text = "\n".join(describe(made, Accel.TCG))
    assert "cell i386-int80@7.2/686" in text and "skipped: vdso-entry: cell cannot exist" in text


class _Images:
    """Images for follow_newest: the real recipe, a scripted update_following()."""

    def __init__(self, root: Path, moved: dict[str, tuple[str | None, str]] | Exception) -> None:
        self._recipe = Images(root).recipe()
        self.moved = moved
        self.calls = 0

    def recipe(self):  # type: ignore[no-untyped-def]
        return self._recipe

    def update_following(self) -> dict[str, tuple[str | None, str]]:
        self.calls += 1
        if isinstance(self.moved, Exception):
            raise self.moved
        return self.moved


def test_nightly_moves_following_pins_only_when_it_runs_that_series(root: Path) -> None:
    from typing import Any, cast

    from lab.engine.nightly import follow_newest
    from lab.errors import LabError

    said: list[str] = []
    moved = {"kernel/7.3-rc/cloud-amd64": ("linux-binary-unsigned-7.3 7.3~rc7-1~exp1", "7.3-1")}
    images = _Images(root, moved)
    assert follow_newest(cast(Any, images), RunPlan([], [], kernels=("6.1",)), said.append) == {}
    assert images.calls == 0
    got = follow_newest(cast(Any, images), RunPlan([], [], kernels=("7.3-rc",)), said.append)
    assert got == moved and "kernel/7.3-rc/cloud-amd64: linux-binary" in said[-1]
    down = _Images(root, LabError("mirror unreachable"))
    assert follow_newest(cast(Any, down), RunPlan([], [], kernels=("7.3-rc",)), said.append) == {}
    assert "running on the pinned versions" in said[-1]


CONFIGS = Path(__file__).resolve().parents[1] / "data" / "kernel-config"


@pytest.mark.parametrize(
    ("release", "words", "refused"),
    [
        ("7.2.13+deb14-cloud-amd64", ("ia32_emulation=0",), True),
        ("7.2.13+deb14-cloud-amd64", ("ia32_emulation=off",), True),
        ("7.2.13+deb14-cloud-amd64", (), False),
        ("7.2.13+deb14-cloud-amd64", ("ia32_emulation=1",), False),
        ("6.12.117+deb13-cloud-amd64", ("ia32_emulation=0",), True),
        ("6.1.0-50-cloud-amd64", ("ia32_emulation=0",), False),  # 6.1 has no such switch
    ],
)
def test_a_kernel_that_refuses_32_bit_init_is_said_before_boot(
    tmp_path: Path, release: str, words: tuple[str, ...], refused: bool
) -> None:
    series = ".".join(release.split(".")[:2]).split("-")[0]
    (tmp_path / "config").write_text((CONFIGS / series / "config").read_text())
    kernel = BuiltKernel("k", tmp_path / "vmlinux", 64, "vmlinux", release, "d", {})
    why = ia32_refused(kernel, words)
    assert bool(why) is refused, why
    if refused:
        assert release in why and "compat_elf_check_arch" in why
