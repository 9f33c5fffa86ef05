"""Kernels of other series from Debian's archive, for real (downloaded once into the XDG
cache, through the lab's own apt configuration; nothing is booted): each is a 64-bit ELF
vmlinux with the PVH entry note, 32-bit emulation built in, its series' release, and an SSH
part with its own NIC modules."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from lab.images.builder import Images

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
