"""Machine variants: how a scenario's own boot differs from its profile's."""

from __future__ import annotations

from pathlib import Path

from lab.config.profiles import MachineVariant, load_profiles
from lab.images.kernels import BuiltKernel
from lab.targets.qemuargs import qemu_command


def test_label_and_apply(root: Path) -> None:
    p = load_profiles(root / "vendors.yaml")["intel-sep"]
    assert MachineVariant().label == "" and MachineVariant().apply(p) == p
    v = MachineVariant(icount=True, smp=2, append=("nopti",))
    assert v.label == "icount+smp2+nopti"
    booted = v.apply(p)
    assert (booted.icount, booted.smp, booted.append[-1]) == (True, 2, "nopti")
    kernel = BuiltKernel("k", Path("/k"), 64, "vmlinux", "", "test", {})
    cmd = qemu_command(booted, kernel, Path("/i"), "tcg", "n", Path("/q"))
    assert cmd[cmd.index("-accel") + 1] == "tcg", "icount needs single-threaded TCG"
    assert cmd[-2:] == ["-icount", "shift=0,sleep=off"]
    smp = qemu_command(MachineVariant(smp=2).apply(p), kernel, Path("/i"), "tcg", "n", Path("/q"))
    assert smp[smp.index("-accel") + 1] == "tcg,thread=multi"
