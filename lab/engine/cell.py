"""A cell: one point of the matrix — CPU profile × kernel × emulator × target (and transport).

A plan is a list of cells, each with the scenarios it runs. Today's axes are the profile (the
CPU), the kernel the profile boots, the emulator build (the QEMU binary) and the target kind
(QEMU guest or real machine); the kernel and emulator axes grow in later issues, and nothing
below has to change for that: a cell is named by its values, and every verdict, guest
directory and report row carries that name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.config.profiles import MachineVariant, Profile
from lab.config.scenarios import Scenario
from lab.images.kernels import BuiltKernel
from lab.images.sshpart import SshPart
from lab.targets.base import TargetKind, Transport
from lab.targets.qemuargs import SYSTEM_EMULATOR, Emulator

__all__ = ["SYSTEM_EMULATOR", "Cell", "Emulator", "cell_name"]


@dataclass(frozen=True)
class Cell:
    """One guest configuration of a run and the scenarios it runs there.

    QEMU cells carry their kernel, emulator and initramfs (with the layers their scenarios need
    and, for SSH, the image's SSH part); a real machine runs its own kernel on silicon, so those
    are None and ``programs`` names what is deployed to it.
    """

    profile: Profile
    kind: TargetKind
    transport: Transport
    scenarios: tuple[Scenario, ...]
    kernel: BuiltKernel | None = None
    emulator: Emulator | None = None
    initramfs: Path | None = None
    layers: tuple[str, ...] = ()
    layer_builds: Mapping[str, Any] = field(default_factory=dict)  # layer -> its build result
    ssh: SshPart | None = None  # the image's SSH part, when transport is SSH on QEMU
    programs: Mapping[str, Path] = field(default_factory=dict)  # real machines: what to deploy
    # Scenarios this cell cannot run, with the reason (reported as skips, never dropped).
    skipped: tuple[tuple[Scenario, str], ...] = ()
    unbootable: str = ""  # why no guest of this cell can be made ("" if it can)
    kernel_label: str = ""  # the kernel's name when there is no kernel (a cell that cannot exist)

    @property
    def name(self) -> str:
        """profile@kernel, plus @emulator when not the host's own QEMU; profile@silicon for a
        real machine. Stable across runs: reports are compared by it."""
        if self.kind is TargetKind.MACHINE:
            return f"{self.profile.name}@silicon"
        kernel = self.kernel.name if self.kernel else (self.kernel_label or "?")
        emulator = self.emulator.name if self.emulator else SYSTEM_EMULATOR
        return cell_name(self.profile.name, kernel, emulator)

    @property
    def private_emulator(self) -> Emulator | None:
        """The emulator build to start, when not the host's own QEMU (which the profile's
        binary names, as it always did)."""
        e = self.emulator
        return e if e is not None and e.name != SYSTEM_EMULATOR else None

    def boot_variants(self) -> list[MachineVariant]:
        """The machine variants its scenarios ask for, in boot order: the profile's own
        machine first (each variant is a boot of its own)."""
        found = list(dict.fromkeys(s.machine for s in self.scenarios))
        return sorted(found, key=lambda v: v.label != "")


def cell_name(profile: str, kernel: str, emulator: str = SYSTEM_EMULATOR) -> str:
    """The name a cell of these values has (for reading reports that predate cells)."""
    if kernel == "silicon" or kernel.startswith("ssh:"):
        return f"{profile}@silicon"
    suffix = "" if emulator in ("", SYSTEM_EMULATOR) else f"@{emulator}"
    return f"{profile}@{kernel}{suffix}"
