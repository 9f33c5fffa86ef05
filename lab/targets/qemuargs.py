"""The QEMU command line for a profile: one small answer per question, one row per machine type.

Nothing here starts a process; everything is a list of arguments (no shell ever sees them).
What differs between QEMU machine types lives in MACHINE_TYPES, not in branches spread over the
command line: the -M argument, the NIC device, and the machine the SSH transport boots instead.
"""

from __future__ import annotations

import dataclasses
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from lab.config.profiles import Profile
from lab.images.kernels import BuiltKernel


@dataclass(frozen=True)
class MachineType:
    """What the command line needs to know about one QEMU machine type."""

    name: str
    options: str = ""  # appended to -M NAME
    nic: str = "virtio-net-pci"  # the virtio-net device (PCI unless the machine has no PCI)
    for_ssh: str | None = None  # the machine booted instead for the SSH transport

    @property
    def m_arg(self) -> str:
        """The -M argument."""
        return self.name + (f",{self.options}" if self.options else "")

    @property
    def ssh_machine(self) -> str:
        return self.for_ssh or self.name


SYSTEM_EMULATOR = "system"  # the host's own QEMU (qemu-system-* on PATH)


@dataclass(frozen=True)
class Emulator:
    """One emulator build: a name for the matrix, the binary, and the version it reports.

    A private build (lab.images.emulators) also carries how it must be started to use only
    itself: -L data directories and its environment (QEMU_MODULE_DIR), and the -cpu models it
    pins (machine, profile's model, explicit version); unusable says why it cannot run."""

    name: str
    binary: str
    version: str
    data_dirs: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cpus: tuple[tuple[str, str, str], ...] = ()  # (machine, -cpu as the profile says, as run)
    machines: tuple[tuple[str, str], ...] = ()  # (machine type as profiles say, as run)
    unusable: str = ""

    def start_args(self) -> list[str]:
        """The binary and its own data directories, before any other argument."""
        return [self.binary, *(a for d in self.data_dirs for a in ("-L", d))]

    def runas(self, user: str) -> list[str]:
        """Drop to user once the files are open: -runas until QEMU 9.1 removed it for
        -run-with user= (10.0 refuses -runas: "invalid option")."""
        m = re.match(r"(\d+)\.(\d+)", self.version)
        new = m is not None and (int(m.group(1)), int(m.group(2))) >= (9, 1)
        return ["-run-with", f"user={user}"] if new else ["-runas", user]

    def machine_for(self, machine: str) -> str:
        """The -M machine type this build gets for a profile's (pc → pc-i440fx-7.2)."""
        return next((run for m, run in self.machines if m == machine), machine)

    def cpu_for(self, machine: str, cpu: str) -> str:
        """The -cpu argument this build gets for a profile's model on a machine type."""
        return next((run for m, c, run in self.cpus if m == machine and c == cpu), cpu)


MACHINE_TYPES: dict[str, MachineType] = {
    # microvm: no ACPI tables (the kernel boots faster without them), virtio over MMIO. For SSH,
    # Debian's kernels find virtio-mmio devices only through ACPI or a device tree (no
    # CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES), and microvm with ACPI on leaves a TCG guest without
    # a timer to calibrate against (no PIT, HPET or PM timer: "tsc: Unable to calibrate against
    # PIT", then a hang). pc boots as fast under TCG (measured: 4.5 s vs 4.4 s to READY) and has
    # PCI for virtio-net-pci.
    "microvm": MachineType("microvm", options="acpi=off", nic="virtio-net-device", for_ssh="pc"),
    "pc": MachineType("pc"),
    "q35": MachineType("q35"),
}


def _machine(name: str, emulator: Emulator | None) -> MachineType:
    """A profile's machine type as this build runs it (pinned on a private build)."""
    found = machine_type(name)
    return dataclasses.replace(found, name=emulator.machine_for(name)) if emulator else found


def machine_type(name: str) -> MachineType:
    """The row for a machine type; one not in the table gets the PCI defaults."""
    return MACHINE_TYPES.get(name) or MachineType(name)


def kernel_cmdline(profile: Profile, nonce: str, net: bool = False) -> str:
    """Console on ttyS0, quiet-ish (warnings and worse still reach the console), no reboot loop.

    net: the agent loads the NIC modules, configures eth0 and starts dropbear before READY.
    """
    words = [
        "console=ttyS0",
        "loglevel=5",
        "panic=-1",
        "cryptomgr.notests=1",
        f"entrylab.nonce={nonce}",
        *(["entrylab.net=1"] if net else []),
        *profile.append,
    ]
    return " ".join(words)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def networked(profile: Profile) -> Profile:
    """The profile as booted for the SSH transport (microvm becomes pc: see MACHINE_TYPES).

    The verdicts record the machine type really booted.
    """
    wanted = machine_type(profile.machine).ssh_machine
    if wanted == profile.machine:
        return profile
    return dataclasses.replace(profile, machine=wanted)


def net_args(profile: Profile, ssh_port: int) -> list[str]:
    """QEMU user networking with one host forward, 127.0.0.1:ssh_port -> guest port 22 (the
    host's loopback only), on the machine type's virtio-net device."""
    return [
        "-netdev",
        f"user,id=n0,hostfwd=tcp:127.0.0.1:{ssh_port}-:22",
        "-device",
        f"{machine_type(profile.machine).nic},netdev=n0",
    ]


def qemu_command(
    profile: Profile,
    kernel: BuiltKernel,
    initramfs: Path,
    accel: str,
    nonce: str,
    qmp_socket: Path,
    ssh_port: int | None = None,
    emulator: Emulator | None = None,
) -> list[str]:
    """The full QEMU argument list for a profile.

    ssh_port: networking for the SSH transport (boot a profile made by networked() for it).
    emulator: the build to run (None: the profile's own binary, as it always was).
    """
    accel = str(accel)  # an Accel is a str; the argument list holds plain strings
    multi = accel == "tcg" and profile.smp > 1 and not profile.icount
    accel_arg = "tcg,thread=multi" if multi else accel
    icount = ["-icount", "shift=0,sleep=off"] if profile.icount else []
    start = emulator.start_args() if emulator else [profile.qemu]
    cpu = emulator.cpu_for(profile.machine, profile.cpu) if emulator else profile.cpu
    return [
        *start,
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-M",
        _machine(profile.machine, emulator).m_arg,
        "-accel",
        accel_arg,
        "-cpu",
        cpu,
        "-m",
        str(profile.memory_mb),
        "-smp",
        str(profile.smp),
        "-kernel",
        str(kernel.path),
        "-initrd",
        str(initramfs),
        "-append",
        kernel_cmdline(profile, nonce, net=ssh_port is not None),
        "-chardev",
        "stdio,id=con,signal=off",
        "-serial",
        "chardev:con",
        "-qmp",
        f"unix:{qmp_socket},server=on,wait=off",
        "-no-reboot",
        "-sandbox",
        "on",
        *icount,
        *(net_args(profile, ssh_port) if ssh_port is not None else []),
    ]
