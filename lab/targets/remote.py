"""A real machine over SSH (a profile of kind ``ssh``): the same agent and scenarios on silicon.

boot(): connect (pinned host key), make a private temporary directory there, deploy the 32-bit
agent and the guest programs the scenarios need over SFTP, start ``agent serve NONCE --bin DIR``
and read its READY. stop(): end the agent, remove the directory, disconnect. Nothing is
installed, and there is no console: no kernel lines, no faults, no emulator.
"""

from __future__ import annotations

import contextlib
import secrets
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paramiko

from lab.config.profiles import Profile
from lab.errors import BootError, GuestError
from lab.report.results import Environment
from lab.targets.base import Accel, Target, TargetKind, Transport
from lab.targets.console import LineSplitter
from lab.targets.identity import GuestIdentity
from lab.targets.session import ConsoleLink
from lab.targets.ssh import SshLink, connect, deploy, load_key, run_command


class RealMachine:
    """A real machine reached over SSH, one Target like a QEMU guest."""

    console_cap = 0
    console_dropped = 0

    def __init__(self, profile: Profile, agent: Path, programs: dict[str, Path]) -> None:
        assert profile.ssh is not None
        self.profile = profile
        self.target = profile.ssh
        self.agent = agent
        self.programs = programs
        self.accel = Accel.SILICON
        self.nonce = secrets.token_hex(8)
        self.lines = LineSplitter(self.nonce)  # no console: no kernel lines, no faults
        self.identity: GuestIdentity | None = None
        self.boot_seconds = 0.0
        self.client: paramiko.SSHClient | None = None
        self.transport_link: SshLink | None = None
        self.workdir = ""

    @property
    def _base(self) -> str:
        return self.profile.workdir.rstrip("/") or "/tmp"

    def boot(self) -> GuestIdentity:
        t0 = time.monotonic()
        name = self.profile.name
        key = load_key(self.target.key, name)
        self.client = connect(name, self.target, key, timeout=self.profile.boot_timeout_s)
        base = self._base
        try:
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
        link = SshLink(
            self.client,
            f"{self.workdir}/agent serve {self.nonce} --bin {bin_dir}",
            self.nonce,
            name,
            self.target.where,
            owns_client=False,
        )
        self.transport_link = link
        body = link.await_ready(t0 + self.profile.boot_timeout_s)
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
        assert self.transport_link is not None
        self.transport_link.send(line)

    def read_line(self, deadline: float) -> str | None:
        assert self.transport_link is not None
        return self.transport_link.read_line(deadline)

    def stop(self) -> None:
        link, self.transport_link = self.transport_link, None
        if link is not None:
            link.close()
        client, self.client = self.client, None
        if client is None:
            return
        workdir, self.workdir = self.workdir, ""
        if workdir.startswith(f"{self._base}/entrylab."):
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

    def __enter__(self) -> RealMachine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the engine asks (the Target protocol) --------------------------------------------

    @property
    def link(self) -> ConsoleLink:
        """The SSH link once booted (this machine delegates to it)."""
        return self.transport_link or self

    @property
    def console(self) -> LineSplitter:
        return self.lines

    def environment(self, identity: GuestIdentity | None, variant: str) -> Environment:
        """Its own kernel on silicon: named ssh:<host>, from ssh:<user@host:port>; the CPU model
        is the one the machine reports."""
        return Environment(
            profile=self.profile.name,
            kernel=f"ssh:{self.target.host}",
            kernel_origin=f"ssh:{self.target.where}",
            kernel_release=identity.kernel_release if identity else "",
            qemu="",
            qemu_version="",
            accel=Accel.SILICON.value,
            cpu_model=identity.model_name if identity else "",
            machine_type="silicon",
            vendor=identity.vendor if identity else "",
            kernel_bits=identity.kernel_bits if identity else 0,
            variant=variant,
            target=TargetKind.MACHINE.value,
            transport=Transport.SSH.value,
        )

    def emulator_notes(self) -> list[str]:
        return []

    def guest_record(self) -> dict[str, Any]:
        return {}

    def console_capped(self) -> str | None:
        return None


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


if TYPE_CHECKING:
    _is_a_target: type[Target] = RealMachine  # mypy checks RealMachine against the protocol
