"""The SSH transport: the guest agent's protocol over an SSH channel, programs over SFTP.

This module owns paramiko's connections (keys, pinning, the agent link, SFTP). Its users:

* QEMU guests booted with networking (``entrylab.net=1``, lab.targets.qemu): dropbear in the
  guest, its host key made at image build and pinned here; the lab's per-run client key reaches
  the guest over the console (``AUTHKEY``); commands then run over one persistent channel on
  which ``/init serve NONCE`` speaks the same framed protocol as the console, so nothing above
  the transport changes (GuestSession takes an SshLink where it took the console). The console
  is still drained and watched for panics while SSH carries the commands.
* Real machines (lab.targets.remote.RealMachine) and lab hosts (lab.engine.hosts).
* Deploy: ``deploy()`` copies programs into a running guest (``/lab/bin-deployed``, which the
  agent prefers over ``/lab/bin``), so a changed program needs no image rebuild and no reboot;
  ``fetch()`` brings artefacts back.

Host keys are pinned (pin_host_key, used for every connection the lab makes): paramiko's
RejectPolicy with only the expected key known. A wrong key, a refused connection and a dropped
connection are each one clear error naming the guest.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import posixpath
import secrets
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from lab.config.profiles import SshTarget
from lab.errors import BootError, GuestError
from lab.fsutil import atomic_write
from lab.targets.console import LineSplitter

GUEST_DEPLOY_DIR = "/lab/bin-deployed"
GUEST_AGENT = "/init"
CONNECT_RETRY_S = 0.5  # between tries of a connection the guest closed before its banner
CONNECT_TIMEOUT_S = 20.0
STDERR_KEEP = 4096
_key_lock = threading.Lock()


# -- keys --------------------------------------------------------------------------------------


def client_key(directory: Path) -> tuple[paramiko.PKey, str]:
    """This run's client key (Ed25519, made once per run directory, 0600) and its public line."""
    path = directory / "client_key"
    with _key_lock:
        if not path.exists():
            private = ed25519.Ed25519PrivateKey.generate()
            pem = private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            )
            atomic_write(path, pem, mode=0o600)
    key = paramiko.Ed25519Key.from_private_key_file(str(path))
    public = f"{key.get_name()} {key.get_base64()} entrylab"
    with _key_lock:
        if not (directory / "client_key.pub").exists():
            atomic_write(directory / "client_key.pub", (public + "\n").encode())
    return key, public


def load_key(path: Path, profile: str) -> paramiko.PKey:
    """A private key file (OpenSSH or PEM; Ed25519, ECDSA or RSA) named in a profile."""
    try:
        return paramiko.PKey.from_path(path)
    except FileNotFoundError:
        raise BootError(profile, f"SSH key {path} does not exist") from None
    except (paramiko.SSHException, ValueError, OSError) as exc:
        raise BootError(profile, f"SSH key {path} cannot be read: {exc}") from None


def public_key(text: str) -> paramiko.PKey:
    """A public key from its OpenSSH line ("ssh-ed25519 AAAA... [comment]")."""
    kind, blob, *_ = text.split()
    return paramiko.PKey.from_type_string(kind, base64.b64decode(blob))


def fingerprint(key: paramiko.PKey) -> str:
    """SHA256:... as ssh-keygen -l prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


# -- connecting --------------------------------------------------------------------------------


def known_hosts_name(host: str, port: int) -> str:
    """How known_hosts names a host: bare on port 22, else [host]:port."""
    return host if port == 22 else f"[{host}]:{port}"


def pin_host_key(client: paramiko.SSHClient, target: SshTarget) -> None:
    """Make client accept only target's pinned host key: RejectPolicy with only that key known
    (no system known_hosts, no AutoAddPolicy), so any other key is refused."""
    pinned = public_key(target.host_key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.get_host_keys().add(
        known_hosts_name(target.host, target.port), pinned.get_name(), pinned
    )


def connect(
    profile: str,
    target: SshTarget,
    key: paramiko.PKey,
    timeout: float = CONNECT_TIMEOUT_S,
) -> paramiko.SSHClient:
    """An SSH connection that accepts only the pinned host key; failures are BootErrors that
    say which guest, where, and what went wrong.

    A connection closed before the banner (EOFError, reset) is tried again until ``timeout``:
    QEMU's user network accepts on the forwarded port before the guest's server listens, and
    under -icount the guest got there later than the first try (nightly: 1 boot in ~30).
    """
    deadline = time.monotonic() + timeout
    while True:
        client = paramiko.SSHClient()
        pin_host_key(client, target)
        try:
            client.connect(
                target.host,
                target.port,
                username=target.user,
                pkey=key,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                allow_agent=False,
                look_for_keys=False,
            )
            break
        except (EOFError, ConnectionResetError) as exc:
            client.close()
            if time.monotonic() + CONNECT_RETRY_S >= deadline:
                raise BootError(profile, connect_error(exc, target, timeout)) from None
            time.sleep(CONNECT_RETRY_S)
        except (paramiko.SSHException, OSError) as exc:
            client.close()
            raise BootError(profile, connect_error(exc, target, timeout)) from None
    transport = client.get_transport()
    if transport is not None:
        transport.set_keepalive(5)
    return client


def connect_error(exc: BaseException, target: SshTarget, timeout: float) -> str:
    """One line for a failed SSH connection: wrong host key, refused, timed out, key refused."""
    where = target.where
    if isinstance(exc, paramiko.BadHostKeyException):
        return (
            f"SSH to {where}: the server's host key is {fingerprint(exc.key)}, not the pinned "
            f"{fingerprint(exc.expected_key)}: refusing to connect"
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return f"SSH to {where}: the server refused the lab's key for {target.user}: {exc}"
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        errors = [e for e in exc.errors.values() if isinstance(e, OSError)]
        if errors and all(e.errno == errno.ECONNREFUSED for e in errors):
            return f"SSH to {where}: connection refused"
        return f"SSH to {where}: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return f"SSH to {where}: connection refused"
    if isinstance(exc, TimeoutError):
        return f"SSH to {where}: timed out after {timeout:g} s"
    if isinstance(exc, paramiko.SSHException) and "not found in known_hosts" in str(exc):
        pinned = public_key(target.host_key)
        return (
            f"SSH to {where}: the server offers no host key of the pinned kind "
            f"({pinned.get_name()} {fingerprint(pinned)}): refusing to connect"
        )
    return f"SSH to {where}: {type(exc).__name__}: {exc}"


# -- the agent protocol over a channel ---------------------------------------------------------


class SshLink:
    """send(line) / read_line(deadline) over an SSH channel running ``agent serve NONCE``.

    watch: for a QEMU guest, the console is drained and checked whenever it has output (and
    once more when the channel drops, so that a panic is named as a panic, not as a lost
    connection); it raises GuestError itself.
    """

    def __init__(
        self,
        client: paramiko.SSHClient,
        command: str,
        nonce: str,
        profile: str,
        where: str,
        watch: Callable[[float], None] | None = None,
        watch_fd: int | None = None,
        owns_client: bool = True,
    ) -> None:
        self.client = client
        self.profile = profile
        self.where = where
        self.nonce = nonce
        self.watch = watch
        self.watch_fd = watch_fd
        self.owns_client = owns_client
        self._lines = LineSplitter(nonce, history=50)
        self._pending: list[str] = []
        self._stderr = b""
        transport = client.get_transport()
        if transport is None or not transport.is_active():
            raise GuestError(profile, "ssh", f"SSH to {where}: not connected")
        try:
            self.chan = transport.open_session(timeout=CONNECT_TIMEOUT_S)
            self.chan.exec_command(command)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise GuestError(
                profile, "ssh", f"SSH to {where}: cannot start the agent: {exc}"
            ) from None

    def send(self, line: str) -> None:
        try:
            self.chan.sendall((line + "\n").encode())
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self._dropped(f"sending failed: {exc}")

    def read_line(self, deadline: float) -> str | None:
        """The next agent line, or None when the deadline passes first."""
        try:
            return self._read_line(deadline)
        except (OSError, ValueError, EOFError, paramiko.SSHException) as exc:
            # e.g. the guest was stopped under us (Ctrl-C): its console is closed.
            self._dropped(f"{type(exc).__name__}: {exc}")

    def _read_line(self, deadline: float) -> str | None:
        while True:
            if self._pending:
                return self._pending.pop(0)
            now = time.monotonic()
            if now >= deadline:
                return None
            fds: list[Any] = [self.chan]
            if self.watch_fd is not None:
                fds.append(self.watch_fd)
            ready, _, _ = select.select(fds, [], [], min(deadline - now, 1.0))
            if self.watch is not None and (self.watch_fd in ready or self.watch_fd is None):
                self.watch(0.0)
            self._drain_stderr()
            if self.chan.recv_ready():
                data = self.chan.recv(65536)
                if data:
                    self._pending.extend(a.body for a in self._lines.feed(data))
                    continue
            if self.chan.eof_received or self.chan.closed or not self._active():
                self._dropped("the connection was closed")

    def _active(self) -> bool:
        transport = self.chan.get_transport()
        return transport is not None and transport.is_active()

    def _drain_stderr(self) -> None:
        while self.chan.recv_stderr_ready():
            self._stderr = (self._stderr + self.chan.recv_stderr(4096))[-STDERR_KEEP:]

    def stderr_tail(self) -> str:
        self._drain_stderr()
        return self._stderr.decode(errors="replace").strip()

    def _dropped(self, what: str) -> NoReturn:
        if self.watch is not None:
            with contextlib.suppress(OSError, ValueError, EOFError, AssertionError):
                self.watch(1.0)  # a panic or a dead QEMU explains it better than we can
        status = ""
        with contextlib.suppress(Exception):
            if self.chan.exit_status_ready():
                status = f" (the agent exited with status {self.chan.recv_exit_status()})"
        said = ""
        with contextlib.suppress(Exception):
            said = self.stderr_tail()
        raise GuestError(
            self.profile,
            "ssh",
            f"SSH to {self.where}: connection dropped: {what}{status}",
            said[-2000:],
        )

    def await_ready(self, deadline: float) -> str:
        """The READY JSON of the agent at the other end."""
        while True:
            try:
                line = self.read_line(deadline)
            except GuestError as exc:
                raise BootError(
                    self.profile, f"agent over SSH did not start: {exc.reason}", exc.excerpt
                ) from None
            if line is None:
                raise BootError(
                    self.profile,
                    f"agent over SSH to {self.where} did not say READY in time",
                    self.stderr_tail(),
                )
            if line.startswith("READY "):
                return line[len("READY ") :]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.chan.close()
        if self.owns_client:
            with contextlib.suppress(Exception):
                self.client.close()


# -- SFTP --------------------------------------------------------------------------------------


def deploy(
    client: paramiko.SSHClient, programs: dict[str, Path], dest: str, profile: str
) -> list[str]:
    """Copy programs (name -> local file) into dest over SFTP, each replaced atomically (a
    program running from the old copy keeps it); returns the remote paths."""
    placed = []
    try:
        sftp = client.open_sftp()
        try:
            _makedirs(sftp, dest)
            for name, local in sorted(programs.items()):
                final = posixpath.join(dest, name)
                tmp = posixpath.join(dest, f".{name}.{secrets.token_hex(4)}")
                sftp.put(str(local), tmp)
                sftp.chmod(tmp, 0o755)
                sftp.posix_rename(tmp, final)
                placed.append(final)
        finally:
            sftp.close()
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise GuestError(profile, "ssh", f"deploy into {dest} failed: {exc}") from None
    return placed


def fetch(client: paramiko.SSHClient, remote: str, local: Path, profile: str) -> Path:
    """Copy one file from the guest over SFTP."""
    local.parent.mkdir(parents=True, exist_ok=True)
    try:
        sftp = client.open_sftp()
        try:
            sftp.get(remote, str(local))
        finally:
            sftp.close()
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise GuestError(profile, "ssh", f"fetching {remote} failed: {exc}") from None
    return local


def _makedirs(sftp: paramiko.SFTPClient, path: str) -> None:
    parts = [p for p in path.split("/") if p]
    for i in range(1, len(parts) + 1):
        d = "/" + "/".join(parts[:i])
        try:
            sftp.stat(d)
        except FileNotFoundError:
            sftp.mkdir(d, 0o755)


def run_command(client: paramiko.SSHClient, command: str, timeout: float = 60.0) -> str:
    """One shell command (a fixed string of ours, never guest or user text); its stdout."""
    _, stdout, stderr = client.exec_command(command, timeout=timeout)
    out = stdout.read().decode(errors="replace")
    if stdout.channel.recv_exit_status() != 0:
        raise OSError(f"{command!r}: {stderr.read().decode(errors='replace').strip()}")
    return out


__all__ = [
    "CONNECT_TIMEOUT_S",
    "GUEST_AGENT",
    "GUEST_DEPLOY_DIR",
    "SshLink",
    "client_key",
    "connect",
    "connect_error",
    "deploy",
    "fetch",
    "fingerprint",
    "known_hosts_name",
    "load_key",
    "pin_host_key",
    "public_key",
    "run_command",
]
