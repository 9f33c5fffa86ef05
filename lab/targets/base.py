"""The Target protocol: what the engine needs from anything that runs a cell's guest.

Two implementations: a QEMU guest (lab.targets.qemu) and a real machine reached over SSH
(lab.targets.remote); unit tests add a fake. The engine only ever sees this protocol: no
unions, no isinstance, no fake kernels.

Lifecycle: ``boot()`` starts the target and returns its verified identity (a guest that is not
what its profile says is a BootError); from then on ``link`` carries the agent protocol (the
serial console or an SSH channel) and ``console`` is the kernel-line watcher (faults, tail);
``stop()`` always reaps, may be called twice and from another thread.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

from lab.report.results import Environment
from lab.targets.console import LineSplitter
from lab.targets.identity import GuestIdentity
from lab.targets.session import ConsoleLink


class TargetKind(enum.StrEnum):
    """Where a cell's guest runs."""

    QEMU = "qemu"  # a QEMU guest booted by the lab
    MACHINE = "machine"  # a real machine over SSH (silicon)


class Transport(enum.StrEnum):
    """What carries the agent protocol."""

    CONSOLE = "console"
    SSH = "ssh"


class Accel(enum.StrEnum):
    """How the guest's CPU is provided. AUTO is a request only: a target is never AUTO."""

    AUTO = "auto"
    KVM = "kvm"
    TCG = "tcg"
    SILICON = "silicon"  # a real machine


class Target(Protocol):
    """One boot of one cell's guest, from start to a guaranteed reap."""

    accel: Accel
    boot_seconds: float

    def boot(self) -> GuestIdentity: ...

    @property
    def link(self) -> ConsoleLink:
        """Where the agent protocol goes once booted (console or SSH channel)."""
        ...

    @property
    def console(self) -> LineSplitter:
        """Kernel lines and faults seen so far (a real machine has none)."""
        ...

    def stop(self) -> None: ...

    def environment(self, identity: GuestIdentity | None, variant: str) -> Environment:
        """What a verdict from this target ran on."""
        ...

    def emulator_notes(self) -> list[str]:
        """What the emulator itself warned about (CPUID features TCG cannot provide)."""
        ...

    def guest_record(self) -> dict[str, Any]:
        """Target-specific facts for results.json's guest record (e.g. the SSH port)."""
        ...

    def console_capped(self) -> str | None:
        """Once stopped: why console output was dropped (the log cap), or None."""
        ...

    def __enter__(self) -> Target: ...

    def __exit__(self, *exc: object) -> None: ...
