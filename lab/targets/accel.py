"""How a QEMU guest's CPU is provided: KVM where it really works, else TCG.

/dev/kvm can exist and even create VMs yet fail to run a real guest (nested or restricted CI
hosts: an emulation failure early in boot). So a KVM boot that fails is remembered in the user
cache, keyed on the host kernel and the QEMU build that failed, and "auto" stops trying KVM there.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
from functools import cache
from pathlib import Path

from lab.dirs import cache_dir
from lab.targets.base import Accel

KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
DEFAULT_QEMU = "qemu-system-x86_64"


@cache
def qemu_version(binary: str) -> str:
    """What `binary --version` says ("8.2.2"), or "unknown"; asked once per binary."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    m = re.search(r"version (\S+)", out)
    return m.group(1) if m else "unknown"


@cache
def kvm_usable() -> bool:
    """True only if /dev/kvm really creates a VM (it exists but does not work on many CI hosts)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if fcntl.ioctl(fd, KVM_GET_API_VERSION) != 12:
            return False
        vm = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
        os.close(vm)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _verdict_file() -> Path:
    return cache_dir() / "kvm-verdict.json"


def _memo_key(binary: str) -> str:
    """Host kernel + the QEMU build. The default binary keeps the key it had before the
    emulator axis existed, so a verdict remembered then still holds."""
    key = f"{os.uname().release} qemu {qemu_version(binary)}"
    return key if binary == DEFAULT_QEMU else f"{key} {binary}"


def kvm_known_broken(binary: str = DEFAULT_QEMU) -> bool:
    """A KVM boot with this QEMU failed on this host kernel before: do not try again."""
    try:
        data = json.loads(_verdict_file().read_text())
    except (OSError, ValueError):
        return False
    return bool(data.get(_memo_key(binary)) == "broken")


def mark_kvm_broken(reason: str, binary: str = DEFAULT_QEMU) -> None:
    """Remember that /dev/kvm opens but guests of this QEMU do not run on this host kernel."""
    path = _verdict_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    key = _memo_key(binary)
    data[key] = "broken"
    data[f"{key} reason"] = reason[:500]
    path.write_text(json.dumps(data, indent=1))


def choose_accel(requested: str | Accel = Accel.AUTO, binary: str = DEFAULT_QEMU) -> Accel:
    """KVM where it works, else TCG; an explicit request is honoured as given.

    "auto" also consults the remembered verdict of a failed KVM boot of this binary; the run
    loop falls back to TCG and records it when a KVM boot fails.
    """
    if requested == Accel.AUTO:
        return Accel.KVM if kvm_usable() and not kvm_known_broken(binary) else Accel.TCG
    return Accel(requested)
