"""No QEMU outlives the lab: a registry of this process's live guests, and a sweep for the
guests of a lab that died without cleaning up.

Each QEMU gets a private socket directory (SOCKDIR_PREFIX in the temp dir) holding lab.pid and
qemu.pid: reap_stale() kills the QEMUs whose lab is gone (SIGKILL, OOM), which the parent-death
signal cannot cover once -runas has dropped privileges.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Protocol

SOCKDIR_PREFIX = "entrylab-"


class _Stoppable(Protocol):
    def stop(self) -> None: ...


_live: set[_Stoppable] = set()
_live_lock = threading.Lock()


def register(machine: _Stoppable) -> None:
    """A guest started: reap_all() stops it."""
    with _live_lock:
        _live.add(machine)


def unregister(machine: _Stoppable) -> None:
    """A guest was stopped (idempotent)."""
    with _live_lock:
        _live.discard(machine)


def unprivileged_user() -> str | None:
    """Run as root, QEMU drops to `nobody` once it has opened its files (-runas): it needs no
    privilege after that. -runas clears the parent-death signal, so reap_stale() covers a lab
    that was SIGKILLed."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return None
    return "nobody"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_qemu(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().startswith("qemu-system")
    except OSError:
        return False


def reap_stale() -> list[int]:
    """Kill QEMUs left by a lab process that died without cleaning up (e.g. SIGKILL)."""
    killed = []
    for d in Path(tempfile.gettempdir()).glob(f"{SOCKDIR_PREFIX}*"):
        try:
            lab_pid = int((d / "lab.pid").read_text())
            qemu_pid = int((d / "qemu.pid").read_text())
        except (OSError, ValueError):
            continue
        if _alive(lab_pid):
            continue
        if _alive(qemu_pid) and _is_qemu(qemu_pid):
            with contextlib.suppress(OSError):
                os.kill(qemu_pid, signal.SIGKILL)
                killed.append(qemu_pid)
        shutil.rmtree(d, ignore_errors=True)
    return killed


def reap_all() -> None:
    """Stop every QEMU this process started (Ctrl-C, SIGTERM, an exception at top level)."""
    with _live_lock:
        machines = list(_live)
    for m in machines:
        m.stop()
