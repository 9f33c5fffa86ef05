"""A QEMU guest: started from a profile, booted to a verified ready guest, always reaped.

One QemuMachine is one QEMU process. The serial console is driven through pexpect (every byte
saved to console.log, up to a cap); QMP on a private unix socket stops the guest cleanly. Boot is
"ready" when the guest agent prints READY with this boot's nonce; the lab then checks the guest's
CPUID vendor, flags and kernel bitness against the profile and refuses a guest that is not what
it claims. With the SSH transport the machine switches its own commands to SSH at the end of
boot() (the console is still watched for panics), so the engine sees one Target either way.

The command line is lab.targets.qemuargs, the accelerator choice lab.targets.accel, the
guaranteed reaping lab.targets.reaping.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pexpect

from lab.config.profiles import Profile, SshTarget
from lab.errors import BootError, GuestError
from lab.images.kernels import BuiltKernel
from lab.images.sshpart import SshPart
from lab.report.results import Environment
from lab.targets import cpumodels, reaping
from lab.targets.accel import qemu_version
from lab.targets.base import Accel, Target, TargetKind, Transport
from lab.targets.console import Fault, LineSplitter
from lab.targets.identity import GuestIdentity
from lab.targets.qemuargs import Emulator, free_port, networked, qemu_command
from lab.targets.reaping import SOCKDIR_PREFIX, unprivileged_user
from lab.targets.session import ConsoleLink
from lab.targets.ssh import GUEST_AGENT, SshLink, client_key, connect

PR_SET_PDEATHSIG = 1
DEFAULT_CONSOLE_CAP = 64 << 20
AUTHKEY_TIMEOUT_S = 30.0
SSH_READY_TIMEOUT_S = 60.0


def console_cap_default() -> int:
    """Bytes of console output kept per boot (ENTRYLAB_CONSOLE_CAP_MB overrides 64 MiB)."""
    value = os.environ.get("ENTRYLAB_CONSOLE_CAP_MB", "")
    return int(float(value) * (1 << 20)) if value.strip() else DEFAULT_CONSOLE_CAP


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


class QemuMachine:
    """One QEMU guest for one profile, from start to a guaranteed reap (a Target).

    ssh: the image's SSH part; the guest then boots networked (networked(profile), dropbear in
    the guest) and boot() ends by moving the agent protocol to SSH. net=True alone boots the
    networked guest without attaching (attach() is then the caller's). key_dir: where the
    run's client key lives (default: run_dir).
    """

    def __init__(
        self,
        profile: Profile,
        kernel: BuiltKernel,
        initramfs: Path,
        run_dir: Path,
        accel: str | Accel = Accel.TCG,
        console_cap: int | None = None,
        net: bool = False,
        *,
        ssh: SshPart | None = None,
        key_dir: Path | None = None,
        emulator: Emulator | None = None,
    ) -> None:
        self.net = net or ssh is not None  # networking + dropbear in the guest, for SSH
        self.profile = networked(profile) if self.net else profile
        self.ssh = ssh
        # the build it runs on; None: the profile's own binary (the host's QEMU)
        self.emulator = emulator
        self.binary = emulator.binary if emulator else self.profile.qemu
        self.key_dir = key_dir if key_dir is not None else run_dir
        self.ssh_port: int | None = None  # host side of the forward to the guest's port 22
        # What commands go over when not the console; closed by stop().
        self.transport_link: SshLink | None = None
        self._stop_lock = threading.RLock()
        self.kernel = kernel
        self.initramfs = initramfs
        self.run_dir = run_dir
        self.accel = Accel(accel)
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
            self.emulator,
        )
        user = unprivileged_user()
        if not user:
            return cmd
        return [*cmd, *(self.emulator.runas(user) if self.emulator else ["-runas", user])]

    def _preflight(self) -> None:
        if self.emulator is not None and self.emulator.unusable:
            raise BootError(self.profile.name, self.emulator.unusable)
        if shutil.which(self.binary) is None:
            raise BootError(self.profile.name, f"{self.binary} not found (install qemu-system-x86)")
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
            env={**os.environ, **dict(self.emulator.env)} if self.emulator else None,
        )
        self._child.logfile_read = self._log
        self._child.delaybeforesend = None  # pexpect sleeps 50 ms before every send by default
        (Path(self._sockdir) / "qemu.pid").write_text(str(self._child.pid))
        reaping.register(self)

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
        if self.ssh is not None:
            # boot_seconds stays the time to READY on the console, as before SSH existed.
            self.attach(self.ssh.host_key, self.key_dir)
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
        reaping.unregister(self)

    def _qmp_quit(self) -> None:
        from qemu.qmp.legacy import QEMUMonitorProtocol

        with contextlib.suppress(Exception):
            qmp = QEMUMonitorProtocol(str(self.qmp_socket))
            qmp.connect()
            qmp.settimeout(3)
            qmp.cmd("quit")
            qmp.close()

    def __enter__(self) -> QemuMachine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- SSH transport -------------------------------------------------------------------------

    def attach(self, host_key: str, key_dir: Path) -> SshLink:
        """Switch this booted, networked guest to SSH; the link becomes transport_link.

        The run's public key goes over the console (AUTHKEY), then the lab connects to the
        forwarded port with the image's pinned host key and starts ``/init serve NONCE`` on one
        channel; the READY there must come from this guest (same vendor and kernel).
        """
        profile = self.profile.name
        key, public = client_key(key_dir)
        self.send(f"AUTHKEY k {public.encode().hex()}")
        deadline = time.monotonic() + AUTHKEY_TIMEOUT_S
        while True:
            line = self.read_line(deadline)
            if line is None:
                raise BootError(profile, "the agent did not acknowledge AUTHKEY on the console")
            if line.startswith("k="):
                if line != "k=EXIT 0":
                    raise BootError(profile, f"AUTHKEY failed in the guest: {line[2:]}")
                break
        assert self.ssh_port is not None, "attach() needs a guest booted with networking"
        target = SshTarget("127.0.0.1", self.ssh_port, "root", Path("/dev/null"), host_key)
        client = connect(profile, target, key)
        nonce = secrets.token_hex(8)
        link = SshLink(
            client,
            f"{GUEST_AGENT} serve {nonce}",
            nonce,
            profile,
            target.where,
            watch=self.poll_console,
            watch_fd=self.console_fd(),
        )
        self.transport_link = link
        body = link.await_ready(time.monotonic() + SSH_READY_TIMEOUT_S)
        try:
            over_ssh = GuestIdentity.parse(body)
        except ValueError as exc:
            raise BootError(profile, f"agent over SSH: {exc}") from None
        ident = self.identity
        if ident is not None and (over_ssh.vendor, over_ssh.kernel_release) != (
            ident.vendor,
            ident.kernel_release,
        ):
            raise BootError(
                profile,
                f"the agent over SSH is on {over_ssh.vendor} {over_ssh.kernel_release}, not "
                f"this guest ({ident.vendor} {ident.kernel_release}): wrong port?",
            )
        return link

    # -- what the engine asks (the Target protocol) --------------------------------------------

    @property
    def link(self) -> ConsoleLink:
        """The SSH link once attached, else the console (this machine)."""
        return self.transport_link or self

    @property
    def console(self) -> LineSplitter:
        return self.lines

    def environment(self, identity: GuestIdentity | None, variant: str) -> Environment:
        """The booted profile (its variant and networking applied) on this kernel and QEMU."""
        p = self.profile
        return Environment(
            profile=p.name,
            kernel=self.kernel.name,
            kernel_origin=self.kernel.origin,
            kernel_release=identity.kernel_release if identity else self.kernel.release,
            qemu=self.binary,
            qemu_version=self.emulator.version if self.emulator else qemu_version(p.qemu),
            accel=self.accel.value,
            cpu_model=self.emulator.cpu_for(p.machine, p.cpu) if self.emulator else p.cpu,
            machine_type=self.emulator.machine_for(p.machine) if self.emulator else p.machine,
            vendor=identity.vendor if identity else "",
            kernel_bits=self.kernel.bits,
            variant=variant,
            target=TargetKind.QEMU.value,
            transport=(Transport.SSH if self.net else Transport.CONSOLE).value,
        )

    def guest_record(self) -> dict[str, Any]:
        """The SSH port, and the CPU model QEMU really ran (its -cpu alias resolved)."""
        record: dict[str, Any] = {"ssh_port": self.ssh_port} if self.net else {}
        e = self.emulator
        cpu = e.cpu_for(self.profile.machine, self.profile.cpu) if e else self.profile.cpu
        args = tuple(e.start_args()[1:]) if e else ()
        models = cpumodels.definitions(
            self.binary, self.profile.machine, args, dict(e.env) if e else None
        )
        record["cpu_resolved"] = cpumodels.resolved(cpu, models) if models else "unknown"
        return record

    def console_capped(self) -> str | None:
        if not self.console_dropped:
            return None
        return (
            f"console log cap ({self.console_cap >> 20} MiB) reached: "
            f"{self.console_dropped} bytes dropped"
        )

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
        qemu_said = [ln for ln in self.lines.kernel_lines if ln.startswith(self.binary + ":")]
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
        prefix = self.binary + ": warning:"
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


Machine = QemuMachine  # the name lab.cli, lab.bench and the integration tests use


def attach(machine: QemuMachine, host_key: str, key_dir: Path) -> SshLink:
    """machine.attach(): for callers that boot with net=True and attach themselves."""
    return machine.attach(host_key, key_dir)


if TYPE_CHECKING:
    _is_a_target: type[Target] = QemuMachine  # mypy checks QemuMachine against the protocol
