"""Kernels of other series from Debian's archive, for real (downloaded once into the XDG
cache, through the lab's own apt configuration; nothing is booted): each is a 64-bit ELF
vmlinux with the PVH entry note, 32-bit emulation built in, its series' release, and an SSH
part with its own NIC modules."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from lab.config.profiles import load_profiles
from lab.engine.plan import ia32_refused
from lab.errors import BootError
from lab.images.builder import Images
from lab.targets.qemu import Machine
from tests.conftest import lab_cli, latest_results

pytestmark = pytest.mark.integration

XEN_ELFNOTE_PHYS32_ENTRY = 18  # the PVH entry point QEMU's -kernel boots an ELF vmlinux by

SERIES = {
    "7.2/cloud-amd64": ("7.2", "7.2.", "linux-binary-unsigned-7.2."),
    "6.12/cloud-amd64": ("6.12", "6.12.", "linux-image-6.12."),
}


def pvh_entry(vmlinux: Path) -> bool:
    elf = ELFFile(io.BytesIO(vmlinux.read_bytes()))
    for segment in elf.iter_segments():
        if segment["p_type"] != "PT_NOTE":
            continue
        for note in segment.iter_notes():
            if note["n_name"] == "Xen" and note["n_type"] in (XEN_ELFNOTE_PHYS32_ENTRY, "18"):
                return True
    return False


def test_series_kernels_build_and_the_second_build_does_nothing(root: Path) -> None:
    said: list[str] = []
    images = Images(root, log=said.append)
    built = images.build(list(SERIES))
    for name, (series, release, package) in SERIES.items():
        k = built.kernels[name]
        assert (k.name, k.series, k.flavour, k.bits, k.boot) == (
            name,
            series,
            "cloud-amd64",
            64,
            "vmlinux",
        )
        assert k.path == root / "images" / "build" / "kernels" / series / "cloud-amd64" / "vmlinux"
        head = k.path.read_bytes()[:20]
        assert head[:4] == b"\x7fELF" and head[4] == 2, "a 64-bit ELF"
        assert int.from_bytes(head[18:20], "little") == 62, "x86-64"
        assert pvh_entry(k.path), f"{name}: no PVH entry note"
        assert k.config["CONFIG_IA32_EMULATION"] == "y"
        assert k.config["CONFIG_PVH"] == "y"
        assert k.release.startswith(release) and k.release.endswith("-cloud-amd64"), k.release
        assert k.origin.startswith(f"debian:{package}")
        ssh = built.ssh.get(name)
        assert ssh is not None, built.ssh_unavailable
        assert "virtio_net" in ssh.modules and "virtio_pci" not in ssh.modules, ssh.modules
    manifest = images.manifest()["artefacts"]
    assert manifest["modules/7.2/cloud-amd64"]["builtin"] == ["virtio_pci"]
    assert manifest["kernel/7.2/cloud-amd64"]["config_package"].startswith("linux-base-7.2.")
    said.clear()
    again = images.build(list(SERIES))
    assert again.kernels == built.kernels
    assert not [m for m in said if m.startswith(("downloading", "extracting"))], said


def test_6_12_and_7_2_boot_and_pass_vdso_entry_and_regs_preserved(
    root: Path, tmp_path: Path
) -> None:
    """The kernel axis end to end: each 64-bit profile on 6.12 and 7.2, the model predicting for
    that version (7.2: SYSFAST32 stub, landing pad +0xc; unknown vendors take SYSENTER and lose
    their status flags under PTI); the 32-bit profile's 7.2 cell cannot exist and says why."""
    result = lab_cli(
        "run",
        "--kernels",
        "6.12,7.2",
        "--profiles",
        "intel-sep,amd-syscall32,unknown-int80,i386-int80",
        "--scenarios",
        "vdso-entry,regs-preserved",
        "--plain",
        "--reports",
        str(tmp_path),
        cwd=root,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    data = latest_results(tmp_path)
    by_cell: dict[str, list[dict[str, object]]] = {}
    for v in data["verdicts"]:
        by_cell.setdefault(v["cell"], []).append(v)
    for series in ("6.12", "7.2"):
        for profile in ("intel-sep", "amd-syscall32", "unknown-int80"):
            verdicts = by_cell[f"{profile}@{series}/cloud-amd64"]
            assert {v["status"] for v in verdicts} == {"pass"}
            assert all(str(v["env"]["kernel_release"]).startswith(series + ".") for v in verdicts)
        skipped = by_cell[f"i386-int80@{series}/686"]
        assert {v["status"] for v in skipped} == {"skip"}
        assert all("has no 686 kernel" in str(v["message"]) for v in skipped)
    entry = next(
        v for v in by_cell["unknown-int80@7.2/cloud-amd64"] if v["scenario"] == "vdso-entry"
    )
    observed, predicted = entry["observed"], entry["predicted"]
    assert isinstance(observed, dict) and isinstance(predicted, dict)
    assert observed["path"] == "sysenter" and observed["layout"] == "sysfast32-7.2+"
    assert observed["landing_pad_offset"] == 0xC and predicted["kernel_rules"] == "7.2"


def test_ia32_emulation_off_is_refused_by_7_2_as_the_plan_says(root: Path, tmp_path: Path) -> None:
    """ia32_emulation=0 on 7.2: the plan says before boot that the kernel refuses 32-bit ELF
    (lab/engine/plan.py ia32_refused), and booted anyway the kernel does refuse the 32-bit /init
    (no "READY", its own "No working init found" panic). On 6.1 the word is ignored."""
    images = Images(root)
    built = images.build(["7.2/cloud-amd64"])
    kernel = built.kernels["7.2/cloud-amd64"]
    assert ia32_refused(kernel, ()) == ""
    why = ia32_refused(kernel, ("ia32_emulation=0",))
    assert "refuses 32-bit programs" in why and "elf.h" in why, why
    profile = load_profiles(root / "vendors.yaml")["intel-sep"]
    off = dataclasses.replace(profile, kernel=kernel.name, append=("ia32_emulation=0",))
    with (
        pytest.raises(BootError) as exc,
        Machine(off, kernel, built.initramfs, tmp_path, "tcg") as m,
    ):
        m.boot()
    assert "No working init found" in exc.value.reason, exc.value.reason
    stock = images.build().kernels["cloud-amd64"]
    assert ia32_refused(stock, ("ia32_emulation=0",)) == ""  # 6.1: no such switch
