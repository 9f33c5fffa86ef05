"""`lab run --dry-run`: the default plan's cells and exact QEMU command lines, held by a golden
file, plus a real-machine profile's plan. Nothing is booted or built: the image set is the one
the builder would make (same paths under images/build/), the emulator version is fixed.

Regenerate the golden file after an intended change: ENTRYLAB_UPDATE_GOLDEN=1 pytest this file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.config.profiles import load_profiles, select
from lab.config.scenarios import load_all
from lab.engine import describe
from lab.engine.plan import RunPlan, cells
from lab.images.builder import Images, ImageSet, Layered
from lab.images.kernels import BuiltKernel
from lab.images.sshpart import SshPart
from lab.suites import load_catalog
from lab.targets.base import Accel

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "dry-run-default.txt"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGoldenGoldenGoldenGoldenGoldenGoldenGold"


def synthetic_images(root: Path) -> ImageSet:
    """The image set of the recipe's kernels at the builder's own paths (relative to ROOT)."""
    build = Path("images/build")
    kernels = {}
    for name, k in Images(root).recipe().kernels.items():
        file = "vmlinux" if k.boot == "vmlinux" else "vmlinuz"
        path = build / "kernels" / name / file
        kernels[name] = BuiltKernel(name, path, k.bits, k.boot, "", f"debian:{k.package}", {})
    ssh = {n: SshPart(n, build / "ssh" / f"{n}.cpio", HOST_KEY, ("virtio_net",)) for n in kernels}
    programs = {"agent": build / "bin" / "agent"}
    return ImageSet(build / "initramfs.cpio", kernels, {}, ssh=ssh, programs=programs)


def initramfs_for(layers: tuple[str, ...], ssh: SshPart | None, kernel: BuiltKernel) -> Layered:
    """As the executor names them: a kernel-matched layer (the selftests) by its series."""
    name = "initramfs" + "".join(f"+{n}-{kernel.series or '6.1'}" for n in layers)
    name += f"+ssh-{ssh.kernel}" if ssh else ""
    return Layered(Path("images/build") / f"{name}.cpio")


def plan_text(root: Path, vendors: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr("lab.engine.plan.qemu_version", lambda binary: "7.2.22")
    monkeypatch.setattr("lab.engine.describe.unprivileged_user", lambda: "nobody")
    profiles = load_profiles(vendors)
    scenarios = load_all(root / "scenarios", load_catalog().known(), profiles)
    plan = RunPlan(select(profiles, None, "--profiles"), scenarios, jobs=2)
    return describe.describe(cells(plan, synthetic_images(root), initramfs_for), Accel.TCG)


def test_default_plan_matches_the_golden_command_lines(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "\n".join(plan_text(root, root / "vendors.yaml", monkeypatch)) + "\n"
    text = text.replace(str(root), "ROOT")
    if os.environ.get("ENTRYLAB_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "the default plan changed: see the diff, then regenerate"
    assert text.count("\ncell ") == 8  # the eight default profiles
    assert "-M microvm,acpi=off" not in text  # the default plan talks SSH: pc, not microvm
    assert "-icount shift=0,sleep=off" in text  # the perf suite's exact-mode boots


def test_real_machine_profile_dry_run(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vendors = tmp_path / "vendors.yaml"
    vendors.write_text(
        (root / "vendors.yaml")
        .read_text()
        .replace(
            "profiles:\n",
            """profiles:
  lab-box:
    kind: ssh
    host: 192.0.2.10
    user: lab
    key: key
    host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGoldenGoldenGoldenGoldenGoldenGoldenGold"
    tags: [default, silicon]
""",
            1,
        )
    )
    text = "\n".join(plan_text(root, vendors, monkeypatch))
    box = text.split("cell lab-box@silicon:")[1].split("\ncell ")[0]
    assert "real machine lab@192.0.2.10:22" in box and "qemu-system" not in box
    assert "skipped: syscall-cost: needs a QEMU machine variant (icount)" in box
    assert "skipped: kst-" in box and "which real machines do not get" in box
    assert "deploys: agent" in box
