"""The SSH transport: the guest agent's protocol over an SSH channel, programs over SFTP.

This module owns paramiko. Three users:

* QEMU guests booted with networking (``entrylab.net=1``): dropbear in the guest, its host key
  made at image build and pinned here; the lab's per-run client key reaches the guest over the
  console (``AUTHKEY``); commands then run over one persistent channel on which ``/init serve
  NONCE`` speaks the same framed protocol as the console, so nothing above the transport
  changes (GuestSession takes an SshLink where it took a Machine). The console is still drained
  and watched for panics while SSH carries the commands.
* Real machines (profiles of kind ``ssh``): RemoteMachine deploys the 32-bit agent and guest
  programs into a temporary directory over SFTP, runs ``agent serve NONCE --bin DIR`` there, and
  stands in for a Machine in the engine. Its verdicts say ``accel: silicon``.
* Deploy: ``deploy()`` copies programs into a running guest (``/lab/bin-deployed``, which the
  agent prefers over ``/lab/bin``), so a changed program needs no image rebuild and no reboot;
  ``fetch()`` brings artefacts back.

Host keys are pinned: paramiko's RejectPolicy with only the expected key known. A wrong key, a
refused connection and a dropped connection are each one clear error naming the guest.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import io
import json
import posixpath
import secrets
import select
import shlex
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from lab.config.profiles import LabHost, Profile, SshTarget
from lab.errors import BootError, GuestError, LabError
from lab.fsutil import atomic_write
from lab.targets.console import LineSplitter
from lab.targets.identity import GuestIdentity

GUEST_DEPLOY_DIR = "/lab/bin-deployed"
GUEST_AGENT = "/init"
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


def connect(
    profile: str,
    target: SshTarget,
    key: paramiko.PKey,
    timeout: float = CONNECT_TIMEOUT_S,
) -> paramiko.SSHClient:
    """An SSH connection that accepts only the pinned host key; failures are BootErrors that
    say which guest, where, and what went wrong."""
    pinned = public_key(target.host_key)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    known = target.host if target.port == 22 else f"[{target.host}]:{target.port}"
    client.get_host_keys().add(known, pinned.get_name(), pinned)
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
    except (paramiko.SSHException, OSError, EOFError) as exc:
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


# -- QEMU guests over SSH ----------------------------------------------------------------------


def attach(machine: Any, host_key: str, key_dir: Path) -> SshLink:
    """Switch a booted, networked QEMU guest (lab.targets.qemu.Machine with net=True) to SSH.

    The run's public key goes over the console (AUTHKEY), then the lab connects to the forwarded
    port with the image's pinned host key and starts ``/init serve NONCE`` on one channel. The
    link is set as machine.transport_link (closed by machine.stop()).
    """
    profile = machine.profile.name
    key, public = client_key(key_dir)
    machine.send(f"AUTHKEY k {public.encode().hex()}")
    deadline = time.monotonic() + 30
    while True:
        line = machine.read_line(deadline)
        if line is None:
            raise BootError(profile, "the agent did not acknowledge AUTHKEY on the console")
        if line.startswith("k="):
            if line != "k=EXIT 0":
                raise BootError(profile, f"AUTHKEY failed in the guest: {line[2:]}")
            break
    target = SshTarget("127.0.0.1", machine.ssh_port, "root", Path("/dev/null"), host_key)
    client = connect(profile, target, key)
    nonce = secrets.token_hex(8)
    link = SshLink(
        client,
        f"{GUEST_AGENT} serve {nonce}",
        nonce,
        profile,
        target.where,
        watch=machine.poll_console,
        watch_fd=machine.console_fd(),
    )
    machine.transport_link = link
    body = link.await_ready(time.monotonic() + 60)
    try:
        over_ssh = GuestIdentity.parse(body)
    except ValueError as exc:
        raise BootError(profile, f"agent over SSH: {exc}") from None
    ident = machine.identity
    if ident is not None and (over_ssh.vendor, over_ssh.kernel_release) != (
        ident.vendor,
        ident.kernel_release,
    ):
        raise BootError(
            profile,
            f"the agent over SSH is on {over_ssh.vendor} {over_ssh.kernel_release}, not this "
            f"guest ({ident.vendor} {ident.kernel_release}): wrong port?",
        )
    return link


# -- real machines -----------------------------------------------------------------------------


class RemoteMachine:
    """A real machine reached over SSH, standing in for a QEMU Machine in the engine.

    boot(): connect (pinned host key), make a private temporary directory there, deploy the agent
    and the guest programs the scenarios need over SFTP, start ``agent serve`` and read its
    READY. stop(): end the agent, remove the directory, disconnect. Nothing is installed.
    """

    accel = "silicon"
    console_cap = 0
    console_dropped = 0

    def __init__(self, profile: Profile, agent: Path, programs: dict[str, Path]) -> None:
        assert profile.ssh is not None
        self.profile = profile
        self.target = profile.ssh
        self.agent = agent
        self.programs = programs
        self.nonce = secrets.token_hex(8)
        self.lines = LineSplitter(self.nonce)  # no console: no kernel lines, no faults
        self.identity: GuestIdentity | None = None
        self.boot_seconds = 0.0
        self.client: paramiko.SSHClient | None = None
        self.link: SshLink | None = None
        self.transport_link: SshLink | None = None
        self.workdir = ""

    def boot(self) -> GuestIdentity:
        t0 = time.monotonic()
        name = self.profile.name
        key = load_key(self.target.key, name)
        self.client = connect(name, self.target, key, timeout=self.profile.boot_timeout_s)
        try:
            base = self.profile.workdir.rstrip("/") or "/tmp"
            self.workdir = run_command(
                self.client, f"mktemp -d {base}/entrylab.XXXXXXXX", timeout=30
            ).strip()
        except (OSError, paramiko.SSHException) as exc:
            raise BootError(name, f"SSH to {self.target.where}: no work directory: {exc}") from None
        if not self.workdir.startswith(f"{base}/entrylab."):
            raise BootError(name, f"SSH to {self.target.where}: odd mktemp answer {self.workdir!r}")
        bin_dir = f"{self.workdir}/bin"
        try:
            deploy(self.client, {"agent": self.agent}, self.workdir, name)
            deploy(self.client, self.programs, bin_dir, name)
        except GuestError as exc:
            raise BootError(name, exc.reason) from None
        self.link = SshLink(
            self.client,
            f"{self.workdir}/agent serve {self.nonce} --bin {bin_dir}",
            self.nonce,
            name,
            self.target.where,
            owns_client=False,
        )
        self.transport_link = self.link
        body = self.link.await_ready(t0 + self.profile.boot_timeout_s)
        try:
            identity = GuestIdentity.parse(body)
        except ValueError as exc:
            raise BootError(name, str(exc)) from None
        problems = identity.mismatches(self.profile)
        if problems:
            raise BootError(
                name,
                f"{self.target.where} is not what the profile says: "
                + "; ".join(problems)
                + f" (defined at {self.profile.source})",
            )
        self.identity = identity
        self.boot_seconds = time.monotonic() - t0
        return identity

    def send(self, line: str) -> None:
        assert self.link is not None
        self.link.send(line)

    def read_line(self, deadline: float) -> str | None:
        assert self.link is not None
        return self.link.read_line(deadline)

    def emulator_notes(self) -> list[str]:
        return []

    def stop(self) -> None:
        link, self.link, self.transport_link = self.link, None, None
        if link is not None:
            link.close()
        client, self.client = self.client, None
        if client is None:
            return
        workdir, self.workdir = self.workdir, ""
        base = self.profile.workdir.rstrip("/") or "/tmp"
        if workdir.startswith(f"{base}/entrylab."):
            try:
                run_command(client, f"rm -rf -- {shlex.quote(workdir)}", timeout=30)
            except Exception:
                # The connection is gone (that may be why we stop): clean up over a new one.
                with contextlib.suppress(Exception):
                    key = load_key(self.target.key, self.profile.name)
                    again = connect(self.profile.name, self.target, key, timeout=10)
                    try:
                        run_command(again, f"rm -rf -- {shlex.quote(workdir)}", timeout=30)
                    finally:
                        again.close()
        with contextlib.suppress(Exception):
            client.close()

    def __enter__(self) -> RemoteMachine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- lab hosts ---------------------------------------------------------------------------------
#
# A lab host is another machine that runs QEMU for this lab. The simplest thing that works:
# copy this checkout there (the files git knows, as one tarball over SFTP), run `lab run` on
# its share of the profiles with --plain, and bring results.json and the guests' logs back
# into this run's report. The host needs what ./entrylab setup installs (QEMU, gcc-multilib, a
# Python with the lab's dependencies at `python`); its image builds and downloads are its own.

SYNC_SKIP = ("images/build/", "reports/", ".venv/", ".git/", ".entrylab-remote/")
REMOTE_EXTRA = ".entrylab-remote"  # vendors file and scenario dir of this run, if not the tree's


def checkout_files(root: Path) -> list[str]:
    """The files of the checkout to copy: what git tracks plus untracked files it does not
    ignore (the lab's own sources, scenarios, recipe and lock), never builds or reports."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [
            str(f.relative_to(root))
            for d in ("lab", "scenarios", "images", "tests")
            for f in (root / d).rglob("*")
            if f.is_file()
        ] + ["vendors.yaml", "pyproject.toml", "entrylab"]
    return sorted(n for n in set(names) if not n.startswith(SYNC_SKIP) and (root / n).is_file())


def checkout_tarball(root: Path, extra: dict[str, Path]) -> bytes:
    """checkout_files(root), plus extra (name in the tarball -> local file or directory)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in checkout_files(root):
            tar.add(root / name, arcname=name, recursive=False)
        for name, local in sorted(extra.items()):
            tar.add(local, arcname=name)
    return buf.getvalue()


class _Lines(io.TextIOBase):
    """A text stream that hands each complete line to a callback (remote lab output)."""

    def __init__(self, each: Callable[[str], None]) -> None:
        self.each = each
        self.buf = ""
        self.tail: list[str] = []

    def write(self, text: str) -> int:
        self.buf += text
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            line = line.rstrip("\r")
            self.tail = [*self.tail[-40:], line]
            self.each(line)
        return len(text)


class LabHostRun:
    """One share of the matrix on one lab host, with fabric: sync, run, fetch."""

    def __init__(self, host: LabHost, log: Callable[[str], None]) -> None:
        self.host = host
        self.log = log
        self.remote_pid: int | None = None
        self.output_tail: list[str] = []
        self.exit_code: int | None = None

    @property
    def label(self) -> str:
        return f"lab host {self.host.name} ({self.host.ssh.where})"

    def connection(self) -> Any:
        """A fabric Connection that accepts only the host's pinned key (no AutoAddPolicy)."""
        import fabric

        key = load_key(self.host.ssh.key, self.label)
        conn = fabric.Connection(
            self.host.ssh.host,
            user=self.host.ssh.user,
            port=self.host.ssh.port,
            connect_timeout=CONNECT_TIMEOUT_S,
            connect_kwargs={"pkey": key, "allow_agent": False, "look_for_keys": False},
        )
        pinned = public_key(self.host.ssh.host_key)
        known = (
            self.host.ssh.host
            if self.host.ssh.port == 22
            else f"[{self.host.ssh.host}]:{self.host.ssh.port}"
        )
        conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        conn.client.get_host_keys().add(known, pinned.get_name(), pinned)
        try:
            conn.open()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            conn.close()
            raise LabError(
                f"{self.label}: {connect_error(exc, self.host.ssh, CONNECT_TIMEOUT_S)}"
            ) from None
        return conn

    def run(
        self, root: Path, lab_args: list[str], run_id: str, extra: dict[str, Path], into: Path
    ) -> dict[str, Any] | None:
        """Copy the checkout, run `python -m lab.cli <lab_args> --reports ... --plain` there,
        fetch results.json and guests/ into `into`; the remote results (None if none came)."""
        path = self.host.path.rstrip("/")
        q = shlex.quote
        there = path if not path.startswith("~") else "$HOME" + q(path[1:])
        reports = f"{there}/reports-remote"
        conn = self.connection()
        try:
            data = checkout_tarball(root, {f"{REMOTE_EXTRA}/{k}": v for k, v in extra.items()})
            conn.run(
                f"mkdir -p {there} && rm -rf {there}/{REMOTE_EXTRA}", hide=True, in_stream=False
            )
            conn.put(io.BytesIO(data), remote=f"{self._sftp_path(conn, path)}/.entrylab-sync.tgz")
            conn.run(
                f"cd {there} && tar -xzf .entrylab-sync.tgz && rm -f .entrylab-sync.tgz",
                hide=True,
                in_stream=False,
            )
            self.log(f"synced {len(data) >> 10} KiB of the checkout to {path}")
            args = " ".join(q(a) for a in lab_args)
            command = (
                f"cd {there} && echo ENTRYLAB-PID $$ && exec {q(self.host.python)} -m lab.cli "
                f"{args} --reports {reports} --run-id {q(run_id)} --plain"
            )
            out = _Lines(self._line)
            result = conn.run(
                command, warn=True, hide=False, in_stream=False, out_stream=out, err_stream=out
            )
            self.exit_code = result.exited
            self.output_tail = out.tail
            archive = f"{reports}/{q(run_id)}.tgz"
            fetched = conn.run(
                f"cd {reports}/{q(run_id)} && tar -czf {archive} results.json "
                "$(test -d guests && echo guests)",
                warn=True,
                hide=True,
                in_stream=False,
            )
            if fetched.exited != 0:
                return None
            buf = io.BytesIO()
            remote_reports = self._sftp_path(conn, path) + "/reports-remote"
            conn.get(f"{remote_reports}/{run_id}.tgz", local=buf)
            conn.run(f"rm -f {archive}", hide=True, warn=True, in_stream=False)
        finally:
            conn.close()
        into.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(buf.getvalue()), mode="r:gz") as tar:
            tar.extractall(into, filter="data")
        loaded: dict[str, Any] = json.loads((into / "results.json").read_text())
        return loaded

    def _sftp_path(self, conn: Any, path: str) -> str:
        """SFTP does not expand ~: make it absolute from the remote home."""
        if not path.startswith("~"):
            return path
        home = str(conn.run('printf %s "$HOME"', hide=True, in_stream=False).stdout)
        return home.rstrip("/") + path[1:]

    def _line(self, line: str) -> None:
        if line.startswith("ENTRYLAB-PID ") and line.split()[-1].isdigit():
            self.remote_pid = int(line.split()[-1])
            return
        self.log(line)

    def cancel(self) -> None:
        """Stop the remote lab (SIGTERM: it stops its guests and writes its report)."""
        if self.remote_pid is None:
            return
        with contextlib.suppress(Exception):
            conn = self.connection()
            try:
                conn.run(f"kill -TERM {self.remote_pid}", hide=True, warn=True, in_stream=False)
            finally:
                conn.close()


def parse_hosts(specs: list[str], defined: dict[str, LabHost]) -> list[LabHost]:
    """--hosts: names of the `hosts:` section of vendors.yaml, or user@host[:port] (key
    ~/.ssh/id_ed25519, host key pinned from ~/.ssh/known_hosts, checkout in ~/entrylab)."""
    hosts = []
    for spec in specs:
        if spec in defined:
            hosts.append(defined[spec])
            continue
        if "@" not in spec:
            known = ", ".join(defined) or "none defined"
            raise LabError(
                f"--hosts {spec}: not a lab host of vendors.yaml ({known}) nor user@host[:port]"
            )
        user, _, rest = spec.partition("@")
        host, _, port_text = rest.partition(":")
        if not port_text.isdigit() and port_text:
            raise LabError(f"--hosts {spec}: the port must be a number")
        port = int(port_text or 22)
        host_keys = paramiko.HostKeys()
        with contextlib.suppress(OSError):
            host_keys.load(str(Path.home() / ".ssh" / "known_hosts"))
        entry = host_keys.lookup(host if port == 22 else f"[{host}]:{port}")
        if not entry:
            raise LabError(
                f"--hosts {spec}: its host key is not in ~/.ssh/known_hosts; the lab pins host "
                "keys, so add it there (ssh-keyscan, checked) or define the host in vendors.yaml"
            )
        kind = next(iter(entry.keys()))
        pinned = entry[kind]
        name = f"{host}-{port}".replace(":", "-")
        hosts.append(
            LabHost(
                name=name,
                ssh=SshTarget(
                    host,
                    port,
                    user,
                    Path.home() / ".ssh" / "id_ed25519",
                    f"{pinned.get_name()} {pinned.get_base64()}",
                ),
                path="~/entrylab",
                python="~/entrylab/.venv/bin/python",
                source="--hosts",
            )
        )
    return hosts


def identity_summary(identity: GuestIdentity) -> dict[str, Any]:
    """What a silicon guest's report records about the real CPU."""
    return {
        "vendor": identity.vendor,
        "family": identity.family,
        "model": identity.model,
        "stepping": identity.stepping,
        "brand": identity.brand,
        "model_name": identity.model_name,
    }


__all__ = [
    "GUEST_DEPLOY_DIR",
    "LabHostRun",
    "RemoteMachine",
    "SshLink",
    "attach",
    "checkout_files",
    "client_key",
    "connect",
    "connect_error",
    "deploy",
    "fetch",
    "fingerprint",
    "identity_summary",
    "load_key",
    "parse_hosts",
    "public_key",
]
