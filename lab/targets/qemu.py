"""QEMU guests: the command line from a profile, boot to a verified ready guest, always reaped.

One Machine is one QEMU process. The serial console is driven through pexpect (every byte saved
to console.log); QMP on a private unix socket stops the guest cleanly. Boot is "ready" when the
guest agent prints READY with this boot's nonce; the lab then checks the guest's CPUID vendor,
flags and kernel bitness against the profile and refuses a guest that is not what it claims.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import fcntl
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from functools import cache
from pathlib import Path
from typing import IO, Any

import pexpect

from lab.config.profiles import Profile
from lab.dirs import cache_dir
from lab.errors import BootError, GuestError
from lab.images.kernels import BuiltKernel
from lab.targets.console import Fault, LineSplitter
from lab.targets.identity import GuestIdentity

KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
PR_SET_PDEATHSIG = 1
DEFAULT_CONSOLE_CAP = 64 << 20


def console_cap_default() -> int:
    """Bytes of console output kept per boot (ENTRYLAB_CONSOLE_CAP_MB overrides 64 MiB)."""
    value = os.environ.get("ENTRYLAB_CONSOLE_CAP_MB", "")
    return int(float(value) * (1 << 20)) if value.strip() else DEFAULT_CONSOLE_CAP


_live: set[Machine] = set()
_live_lock = threading.Lock()


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


def _kvm_verdict_file() -> Path:
    return cache_dir() / "kvm-verdict.json"


def _host_key() -> str:
    return f"{os.uname().release} qemu {qemu_version('qemu-system-x86_64')}"


def kvm_known_broken() -> bool:
    """A KVM boot failed on this host kernel + QEMU before: do not try again."""
    try:
        data = json.loads(_kvm_verdict_file().read_text())
    except (OSError, ValueError):
        return False
    return bool(data.get(_host_key()) == "broken")


def mark_kvm_broken(reason: str) -> None:
    """Remember that /dev/kvm opens but guests do not run (nested or restricted hosts)."""
    path = _kvm_verdict_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data[_host_key()] = "broken"
    data[f"{_host_key()} reason"] = reason[:500]
    path.write_text(json.dumps(data, indent=1))


def choose_accel(requested: str = "auto") -> str:
    """'kvm' where it works, else 'tcg'; an explicit request is honoured as given.

    /dev/kvm can exist and create VMs yet fail to run a real guest (seen on these CI hosts:
    an emulation failure early in boot), so "auto" also consults the remembered verdict of a
    failed KVM boot; the run loop falls back to TCG and records it when a KVM boot fails.
    """
    if requested == "auto":
        return "kvm" if kvm_usable() and not kvm_known_broken() else "tcg"
    return requested


@cache
def qemu_version(binary: str) -> str:
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    m = re.search(r"version (\S+)", out)
    return m.group(1) if m else "unknown"


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
    """The profile as booted for the SSH transport: microvm becomes pc.

    Debian's kernels find virtio-mmio devices only through ACPI or a device tree (no
    CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES), and microvm with ACPI on leaves a TCG guest without a
    timer to calibrate against (no PIT, HPET or PM timer: "tsc: Unable to calibrate against PIT",
    then a hang). pc boots as fast under TCG (measured: 4.5 s vs 4.4 s to READY) and has PCI for
    virtio-net-pci. The verdicts record the machine type really booted.
    """
    if profile.machine != "microvm":
        return profile
    return dataclasses.replace(profile, machine="pc")


def net_args(profile: Profile, ssh_port: int) -> list[str]:
    """QEMU user networking with one host forward, 127.0.0.1:ssh_port -> guest port 22 (the
    host's loopback only). virtio-net: on microvm over virtio-mmio, on pc/q35 over PCI."""
    device = "virtio-net-device" if profile.machine == "microvm" else "virtio-net-pci"
    return [
        "-netdev",
        f"user,id=n0,hostfwd=tcp:127.0.0.1:{ssh_port}-:22",
        "-device",
        f"{device},netdev=n0",
    ]


def qemu_command(
    profile: Profile,
    kernel: BuiltKernel,
    initramfs: Path,
    accel: str,
    nonce: str,
    qmp_socket: Path,
    ssh_port: int | None = None,
) -> list[str]:
    """The full QEMU argument list for a profile (a list: nothing here passes through a shell).

    ssh_port: networking for the SSH transport (boot a profile made by networked() for it).
    """
    machine = profile.machine + (",acpi=off" if profile.machine == "microvm" else "")
    multi = accel == "tcg" and profile.smp > 1 and not profile.icount
    accel_arg = "tcg,thread=multi" if multi else accel
    icount = ["-icount", "shift=0,sleep=off"] if profile.icount else []
    return [
        profile.qemu,
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-M",
        machine,
        "-accel",
        accel_arg,
        "-cpu",
        profile.cpu,
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


def _die_with_parent() -> None:
    """In the QEMU child: be killed if the lab dies, so no QEMU is ever orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class _CappedLog:
    """console.log writer: every byte up to a cap, then a note that the rest was dropped."""

    def __init__(self, path: Path, cap: int) -> None:
        self.f: IO[bytes] = path.open("wb")
        self.cap = cap
        self.written = 0
        self.dropped = 0

    def write(self, data: bytes) -> None:
        room = self.cap - self.written
        if room > 0:
            self.f.write(data[:room])
            self.written += min(room, len(data))
        if len(data) > room:
            if self.dropped == 0:
                self.f.write(b"\n[entrylab: console log cap reached; further output dropped]\n")
            self.dropped += len(data) - max(room, 0)

    def flush(self) -> None:
        self.f.flush()

    def close(self) -> None:
        if self.dropped:
            self.f.write(f"[entrylab: {self.dropped} bytes dropped]\n".encode())
        self.f.close()


class Machine:
    """One QEMU guest for one profile, from start to a guaranteed reap."""

    def __init__(
        self,
        profile: Profile,
        kernel: BuiltKernel,
        initramfs: Path,
        run_dir: Path,
        accel: str = "tcg",
        console_cap: int | None = None,
        net: bool = False,
    ) -> None:
        self.profile = profile
        self.net = net  # networking + dropbear in the guest, for the SSH transport
        self.ssh_port: int | None = None  # host side of the forward to the guest's port 22
        # What commands go over when not the console (lab.targets.ssh.SshLink); closed by stop().
        self.transport_link: Any = None
        self._stop_lock = threading.RLock()
        self.kernel = kernel
        self.initramfs = initramfs
        self.run_dir = run_dir
        self.accel = accel
        self.nonce = secrets.token_hex(8)
        self.console_cap = console_cap if console_cap is not None else console_cap_default()
        self.console_dropped = 0  # bytes past the cap, known once the machine is stopped
        self.lines = LineSplitter(self.nonce)
        self.identity: GuestIdentity | None = None
        self.boot_seconds = 0.0
        self._child: pexpect.spawn | None = None
        self._log: _CappedLog | None = None
        self._sockdir: str | None = None
        self._pending: list[str] = []

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def qmp_socket(self) -> Path:
        assert self._sockdir is not None
        return Path(self._sockdir) / "qmp.sock"

    def command(self) -> list[str]:
        cmd = qemu_command(
            self.profile,
            self.kernel,
            self.initramfs,
            self.accel,
            self.nonce,
            self.qmp_socket,
            self.ssh_port,
        )
        user = unprivileged_user()
        return [*cmd, "-runas", user] if user else cmd

    def _preflight(self) -> None:
        if shutil.which(self.profile.qemu) is None:
            raise BootError(
                self.profile.name, f"{self.profile.qemu} not found (install qemu-system-x86)"
            )
        if not self.kernel.path.is_file():
            raise BootError(self.profile.name, f"kernel file not found: {self.kernel.path}")
        if self.kernel.bits != self.profile.expect.kernel_bits:
            raise BootError(
                self.profile.name,
                f"kernel {self.kernel.name} is {self.kernel.bits}"
                f"-bit; the profile needs a {self.profile.expect.kernel_bits}-bit kernel",
            )
        if self.kernel.bits == 64 and self.kernel.config.get("CONFIG_IA32_EMULATION") == "n":
            raise BootError(
                self.profile.name,
                f"kernel {self.kernel.name} has no "
                "CONFIG_IA32_EMULATION: it cannot run 32-bit programs, which is all "
                "this lab tests",
            )
        if self.profile.qemu == "qemu-system-i386" and self.kernel.bits == 64:
            raise BootError(self.profile.name, "qemu-system-i386 cannot boot a 64-bit kernel")

    def start(self) -> None:
        """Start QEMU (TCG or KVM) with the console on a pty; nothing is read yet."""
        self._preflight()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.net:
            self.ssh_port = free_port()
        self._sockdir = tempfile.mkdtemp(prefix=SOCKDIR_PREFIX)
        (Path(self._sockdir) / "lab.pid").write_text(str(os.getpid()))
        cmd = self.command()
        (self.run_dir / "qemu-cmdline.txt").write_text(" ".join(cmd) + "\n")
        self._log = _CappedLog(self.run_dir / "console.log", self.console_cap)
        self._child = pexpect.spawn(
            cmd[0],
            cmd[1:],
            echo=False,
            timeout=None,
            preexec_fn=_die_with_parent,
            dimensions=(24, 200),
        )
        self._child.logfile_read = self._log
        self._child.delaybeforesend = None  # pexpect sleeps 50 ms before every send by default
        (Path(self._sockdir) / "qemu.pid").write_text(str(self._child.pid))
        with _live_lock:
            _live.add(self)

    def boot(self) -> GuestIdentity:
        """Start and wait for READY; verify the guest against its profile."""
        t0 = time.monotonic()
        for attempt in range(3):
            self.start()
            deadline = t0 + self.profile.boot_timeout_s
            try:
                body = self._await_ready(deadline)
                break
            except BootError as exc:
                # Another process took the forwarded port between our probe and QEMU's bind.
                if not self.net or "host forwarding" not in exc.reason or attempt == 2:
                    raise
                self.stop()
                self.lines = LineSplitter(self.nonce)
        try:
            identity = GuestIdentity.parse(body)
        except ValueError as exc:
            raise BootError(self.profile.name, str(exc)) from None
        self.boot_seconds = time.monotonic() - t0
        self.identity = identity
        problems = identity.mismatches(self.profile)
        if not problems and self.net and identity.raw.get("ssh") is not True:
            why = identity.raw.get("ssh_error") or "the agent did not start networking"
            raise BootError(
                self.profile.name, f"SSH setup in the guest failed: {why}", self.lines.tail()
            )
        if problems:
            raise BootError(
                self.profile.name,
                "guest is not what the profile says: "
                + "; ".join(problems)
                + f" (defined at {self.profile.source})",
            )
        return identity

    def _await_ready(self, deadline: float) -> str:
        last_output = time.monotonic()
        while True:
            now = time.monotonic()
            if now > deadline:
                raise BootError(
                    self.profile.name,
                    f"not ready within {self.profile.boot_timeout_s:g} s (boot timeout)",
                    self.lines.tail(),
                )
            if now - last_output > self.profile.silence_timeout_s:
                raise BootError(
                    self.profile.name,
                    f"no console output for {self.profile.silence_timeout_s:g} s during boot",
                    self.lines.tail(),
                )
            try:
                for line in self._read(min(deadline, last_output + self.profile.silence_timeout_s)):
                    if line.startswith("READY "):
                        return line[len("READY ") :]
                last_output = time.monotonic()
            except GuestError as exc:
                raise BootError(
                    self.profile.name, f"{exc.kind} during boot: {exc.reason}", exc.excerpt
                ) from None

    def stop(self) -> None:
        """QMP quit, then SIGTERM, then SIGKILL: QEMU is always reaped.

        Thread-safe: Ctrl-C stops every guest from the main thread while a guest's own thread
        may be stopping it too (its transport saw the guest go); the second caller waits.
        """
        with self._stop_lock:
            self._stop()

    def _stop(self) -> None:
        link, self.transport_link = self.transport_link, None
        if link is not None:
            with contextlib.suppress(Exception):
                link.close()
        child = self._child
        if child is not None:
            with contextlib.suppress(pexpect.ExceptionPexpect, OSError):
                if child.isalive():
                    self._qmp_quit()
                    end = time.monotonic() + 5
                    while child.isalive() and time.monotonic() < end:
                        with contextlib.suppress(pexpect.ExceptionPexpect, OSError):
                            child.read_nonblocking(65536, timeout=0.2)
            with contextlib.suppress(pexpect.ExceptionPexpect, OSError):
                child.close(force=True)
            self._child = None
        if self._log is not None:
            self.console_dropped = self._log.dropped
            self._log.close()
            self._log = None
        if self._sockdir is not None:
            shutil.rmtree(self._sockdir, ignore_errors=True)
            self._sockdir = None
        with _live_lock:
            _live.discard(self)

    def _qmp_quit(self) -> None:
        from qemu.qmp.legacy import QEMUMonitorProtocol

        with contextlib.suppress(Exception):
            qmp = QEMUMonitorProtocol(str(self.qmp_socket))
            qmp.connect()
            qmp.settimeout(3)
            qmp.cmd("quit")
            qmp.close()

    def __enter__(self) -> Machine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- console -------------------------------------------------------------------------------

    def send(self, line: str) -> None:
        if self._child is None or not self._child.isalive():
            raise GuestError(
                self.profile.name, "qemu exited", "cannot send to a dead guest", self.lines.tail()
            )
        self._child.send(line.encode() + b"\n")

    def _read(self, deadline: float) -> list[str]:
        """Agent lines that arrive before the deadline ([] on timeout); raises if the guest died."""
        if self._pending:
            out, self._pending = self._pending, []
            return out
        child = self._child
        assert child is not None
        timeout = max(0.0, deadline - time.monotonic())
        try:
            data = child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            return []
        except pexpect.EOF:
            self._raise_dead()
        lines = [a.body for a in self.lines.feed(data)]
        fatal = self.lines.fatal()
        if fatal is not None:
            self._raise_fault(fatal)
        return lines

    def console_fd(self) -> int | None:
        """The console's file descriptor, for select() beside another transport."""
        return self._child.child_fd if self._child is not None else None

    def poll_console(self, timeout: float = 0.0) -> None:
        """Drain the console while another transport carries the commands: kernel lines are
        kept (and scanned for panics: a fatal one raises GuestError, as does a dead QEMU);
        agent lines on the console are not for anyone and are dropped."""
        if self._child is None:
            raise GuestError(self.profile.name, "qemu exited", "the guest was stopped")
        self._pending = []
        self._read(time.monotonic() + timeout)
        self._pending = []

    def read_line(self, deadline: float) -> str | None:
        """The next agent line, or None if the deadline passes first."""
        while time.monotonic() < deadline or self._pending:
            lines = self._read(deadline)
            if lines:
                self._pending = lines[1:] + self._pending
                return lines[0]
        return None

    def _raise_fault(self, fault: Fault) -> None:
        # Give the kernel a moment to print the rest of the panic for the excerpt.
        end = time.monotonic() + 1.0
        child = self._child
        while child is not None and child.isalive() and time.monotonic() < end:
            try:
                self.lines.feed(child.read_nonblocking(65536, timeout=0.2))
            except (pexpect.TIMEOUT, pexpect.EOF):
                break
        raise GuestError(self.profile.name, fault.kind, fault.line, fault.excerpt())

    def _raise_dead(self) -> None:
        fatal = self.lines.fatal()
        if fatal is not None:
            raise GuestError(self.profile.name, fatal.kind, fatal.line, fatal.excerpt())
        tail = self.lines.tail()
        qemu_said = [ln for ln in self.lines.kernel_lines if ln.startswith(self.profile.qemu + ":")]
        if any("error -8" in ln and "init" in ln for ln in self.lines.kernel_lines):
            reason = (
                "the kernel could not execute the 32-bit /init (ENOEXEC): "
                "no IA32_EMULATION for 32-bit programs?"
            )
        elif qemu_said:
            reason = "QEMU exited: " + qemu_said[-1].split(":", 1)[1].strip()
        else:
            reason = "QEMU exited unexpectedly"
        raise GuestError(self.profile.name, "qemu exited", reason, tail)

    def emulator_notes(self) -> list[str]:
        """What QEMU itself warned about (e.g. CPUID features TCG cannot provide)."""
        prefix = self.profile.qemu + ": warning:"
        return sorted(
            {
                ln.split("warning:", 1)[1].strip()
                for ln in self.lines.kernel_lines
                if ln.startswith(prefix)
            }
        )

    def interact(self) -> None:
        """Hand the console to the user's terminal until the guest shell exits (or Ctrl-])."""

        class _ShellExited(Exception):
            pass

        marker = f"@@{self.nonce}:SHELL-EXIT".encode()
        tail = b""

        def watch(data: bytes) -> bytes:
            # The serial line delivers a few bytes at a time: look across chunk boundaries.
            nonlocal tail
            seen = tail + data
            if marker in seen:
                raise _ShellExited
            tail = seen[-len(marker) :]
            return data

        assert self._child is not None
        with contextlib.suppress(_ShellExited):
            self._child.interact(output_filter=watch)


SOCKDIR_PREFIX = "entrylab-"


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


def _is_qemu(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().startswith("qemu-system")
    except OSError:
        return False


def reap_all() -> None:
    """Stop every QEMU this process started (Ctrl-C, SIGTERM, an exception at top level)."""
    with _live_lock:
        machines = list(_live)
    for m in machines:
        m.stop()
