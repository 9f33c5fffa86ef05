"""The initramfs: busybox from its pinned package, the base archive (the guest agent as /init,
busybox and its applet links, the guest programs), and archives made of it with parts appended
(initramfs layers, the SSH part): the kernel unpacks concatenated cpio archives in order."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.errors import ImageError
from lab.fsutil import atomic_write
from lab.images import debian
from lab.images.cache import BUILDER_VERSION, Artefacts, Log, hash_files, hash_strings
from lab.images.cpio import Entry, write_newc
from lab.images.kernels import Fetch
from lab.images.recipe import Pin

# Applets linked in the initramfs if `busybox --list` cannot run on this host.
FALLBACK_APPLETS = ("sh", "ls", "cat", "echo", "mount", "dmesg", "ps", "kill", "sleep", "uname")
BASE_DIRS = ("bin", "sbin", "dev", "proc", "sys", "tmp", "root", "lab", "lab/bin")


def build_busybox(
    pins: dict[str, Pin], build_dir: Path, artefacts: Artefacts, fetch: Fetch
) -> Path:
    """bin/busybox of the pinned busybox package (i386, static)."""
    pin = pins.get("userland/busybox")
    if pin is None:
        raise ImageError("images/lock.yaml has no userland/busybox pin; run `lab images update`")
    target = build_dir / "busybox"
    key = hash_strings(BUILDER_VERSION, pin.sha256)
    if artefacts.cached("userland/busybox", key):
        return target
    deb = fetch(pin)
    data = debian.deb_member(deb, re.compile(r"^\./bin/busybox$"))
    if data is None:
        raise ImageError(f"{deb.name}: no bin/busybox inside")
    atomic_write(target, data, mode=0o755)
    artefacts.record(
        "userland/busybox",
        key,
        [target],
        package=pin.package,
        version=pin.version,
        arch=pin.arch,
    )
    return target


def busybox_applets(busybox: Path) -> list[str]:
    """Paths of the applet links, e.g. bin/sh, sbin/reboot (runs the i386 binary on the host)."""
    try:
        result = subprocess.run(
            [str(busybox), "--list-full"], capture_output=True, text=True, timeout=10, check=False
        )
        names = [n.strip() for n in result.stdout.splitlines() if n.strip()]
    except (OSError, subprocess.TimeoutExpired):
        names = []
    if not names:
        names = [f"bin/{a}" for a in FALLBACK_APPLETS]
    # Only links into the directories the initramfs has; bin/busybox itself is a real file.
    return sorted(
        n
        for n in names
        if n.split("/")[0] in ("bin", "sbin") and n != "bin/busybox" and n.count("/") == 1
    )


def build_base(
    programs: dict[str, Path], busybox: Path, build_dir: Path, artefacts: Artefacts, log: Log
) -> Path:
    """One initramfs for every kernel: agent as /init, busybox, the guest programs."""
    target = build_dir / "initramfs.cpio"
    inputs = [busybox, *(programs[n] for n in sorted(programs))]
    key = hash_strings(BUILDER_VERSION, hash_files(inputs), " ".join(sorted(programs)))
    if artefacts.cached("initramfs", key):
        return target
    log("assembling initramfs")
    entries = [Entry.directory(d) for d in BASE_DIRS]
    entries.append(Entry.file("init", programs["agent"].read_bytes()))
    entries.append(Entry.file("bin/busybox", busybox.read_bytes()))
    for applet in busybox_applets(busybox):
        entries.append(Entry.symlink(applet, "/bin/busybox"))
    for name in sorted(programs):
        if name != "agent":
            entries.append(Entry.file(f"lab/bin/{name}", programs[name].read_bytes()))
    buf = io.BytesIO()
    write_newc(buf, entries)
    atomic_write(target, buf.getvalue())
    artefacts.record("initramfs", key, [target], programs=sorted(programs))
    return target


def append(
    name: str,
    parts: Sequence[Path],
    build_dir: Path,
    artefacts: Artefacts,
    log: Log,
    message: str,
    **info: Any,
) -> Path:
    """build_dir/<name>.cpio: the archives `parts` one after the other (cached by content)."""
    target = build_dir / f"{name}.cpio"
    key = hash_strings(BUILDER_VERSION, hash_files(parts))
    if not artefacts.cached(name, key):
        log(message)
        atomic_write(target, b"".join(p.read_bytes() for p in parts))
        artefacts.record(name, key, [target], **info)
    return target


def with_layers(
    base: Path, layers: dict[str, Path], build_dir: Path, artefacts: Artefacts, log: Log
) -> Path:
    """The base initramfs with the layers' archives appended, in the order of their names."""
    label = "+".join(sorted(layers))
    parts = [base, *(layers[n] for n in sorted(layers))]
    return append(
        f"initramfs+{label}",
        parts,
        build_dir,
        artefacts,
        log,
        f"assembling initramfs with {label}",
        layers=sorted(layers),
    )


def with_ssh(
    initramfs: Path, kernel: str, part: Path, build_dir: Path, artefacts: Artefacts, log: Log
) -> Path:
    """An initramfs (base or layered) with a kernel's SSH part appended."""
    label = f"{initramfs.stem}+ssh-{kernel.replace('/', '-')}"  # 7.2/cloud-amd64: one file
    return append(
        label, [initramfs, part], build_dir, artefacts, log, f"assembling {label}", ssh=kernel
    )
