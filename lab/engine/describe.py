"""`lab run --dry-run`: the plan in words — every cell with its kernel, initramfs and layers,
transport, and the exact emulator command line of each boot it would make — booting nothing.

What changes from boot to boot is shown as a placeholder: the READY nonce (``NONCE``), the
private QMP socket (``QMP_SOCKET``) and the SSH forward's port (``PORT``). Everything else is
the argument list QEMU would get (lab.targets.qemuargs.qemu_command, the same function a boot
uses), so a golden test of this output holds the default plan's command lines.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from lab.engine.cell import Cell
from lab.targets.base import Accel, TargetKind, Transport
from lab.targets.qemuargs import networked, qemu_command
from lab.targets.reaping import unprivileged_user

NONCE = "NONCE"
QMP_SOCKET = Path("QMP_SOCKET")


def boot_command(cell: Cell, variant_index: int, accel: Accel) -> list[str]:
    """The argument list of one boot of the cell: its n-th machine variant (0: the default)."""
    assert cell.kernel is not None and cell.initramfs is not None
    variant = cell.boot_variants()[variant_index]
    booted = variant.apply(cell.profile)
    ssh = cell.transport is Transport.SSH
    if ssh:
        booted = networked(booted)
    accel = Accel.TCG if booted.icount and accel is Accel.KVM else accel
    argv = qemu_command(
        booted,
        cell.kernel,
        cell.initramfs,
        accel,
        NONCE,
        QMP_SOCKET,
        0 if ssh else None,
        cell.private_emulator,
    )
    argv = [a.replace("127.0.0.1:0-:22", "127.0.0.1:PORT-:22") for a in argv]
    user = unprivileged_user()
    if not user:
        return argv
    e = cell.private_emulator
    return [*argv, *(e.runas(user) if e else ["-runas", user])]


def describe(
    cells: list[Cell], accel: Accel, reruns: int = 0, attribution: bool = False
) -> list[str]:
    """One block per cell; lines, for printing."""
    out = [f"{len(cells)} cells, accelerator {accel}"]
    out.append(
        (
            f"a fail, error or divergence is re-run on {reruns} fresh boot(s)"
            if reruns
            else "bad results are reported as first seen (no re-runs)"
        )
        + (
            "; evidence runs on the other emulator builds"
            if attribution
            else "; no evidence runs (causes classified only)"
        )
    )
    for cell in cells:
        out += ["", *describe_cell(cell, accel)]
    return out


def describe_cell(cell: Cell, accel: Accel) -> list[str]:
    p = cell.profile
    lines = [f"cell {cell.name}: profile {p.name} ({p.source}), {cell.kind}, {cell.transport}"]
    names = ", ".join(s.name for s in cell.scenarios)
    lines.append(f"  scenarios ({len(cell.scenarios)}): {names}")
    for s, why in cell.skipped:
        lines.append(f"  skipped: {s.name}: {why}")
    if cell.kind is TargetKind.MACHINE:
        assert p.ssh is not None
        lines.append(f"  real machine {p.ssh.where}, pinned host key; silicon")
        lines.append(f"  deploys: {', '.join(sorted(cell.programs))}")
        return lines
    k = cell.kernel
    if k is None:
        return lines  # a cell that cannot exist: its skips say why
    lines.append(f"  kernel {k.name}: {k.origin} ({k.bits}-bit, boot {k.boot}) {k.path}")
    if cell.emulator is not None:
        e = cell.emulator
        lines.append(f"  emulator {e.name}: {e.binary} {e.version}")
        if e.env:
            lines.append("  environment: " + " ".join(f"{k}={v}" for k, v in e.env))
        lines += [f"  cpu [{m}]: {c} -> {run}" for m, c, run in e.cpus if c != run]
        if e.unusable:
            lines.append(f"  cannot boot: {e.unusable}")
    if cell.unbootable:
        lines.append(f"  cannot boot: {cell.unbootable}")
        return lines
    layers = ", ".join(cell.layers) or "none"
    ssh = " + SSH part" if cell.ssh is not None else ""
    lines.append(f"  initramfs: {cell.initramfs} (layers: {layers}{ssh})")
    for i, v in enumerate(cell.boot_variants()):
        label = v.label or "default"
        lines.append(f"  boot [{label}]: {shlex.join(boot_command(cell, i, accel))}")
    return lines
