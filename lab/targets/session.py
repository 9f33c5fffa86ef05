"""Running commands in a guest: the agent's framed protocol over the serial console.

A GuestSession is what scenarios talk to. It knows nothing about QEMU beyond "send a line, read
agent lines until a deadline", so another transport (SSH) can stand in for it.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Protocol

from lab.errors import GuestError

KILL_GRACE_S = 10.0
MAX_OUTPUT_BYTES = 16 << 20  # per command: a flooding guest program costs memory only to here


class ConsoleLink(Protocol):
    """The two things a session needs from a machine."""

    def send(self, line: str) -> None: ...
    def read_line(self, deadline: float) -> str | None: ...


@dataclass
class CommandResult:
    """What one guest command did."""

    argv: list[str]
    exit_code: int | None = None
    signal: int | None = None
    output: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timed_out: bool = False
    agent_error: str | None = None
    truncated: int = 0  # output lines dropped past MAX_OUTPUT_BYTES
    kept_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.agent_error is None

    def describe(self) -> str:
        cut = f" (output cut: {self.truncated} lines past {MAX_OUTPUT_BYTES >> 20} MiB dropped)"
        return self._describe() + (cut if self.truncated else "")

    def _describe(self) -> str:
        if self.agent_error:
            return f"agent error: {self.agent_error}"
        if self.timed_out:
            return "timed out (killed)"
        if self.signal is not None:
            return f"killed by signal {self.signal}"
        return f"exit {self.exit_code}"


class GuestSession:
    """Commands in one booted guest, one at a time, over the agent protocol."""

    def __init__(self, link: ConsoleLink, profile: str) -> None:
        self.link = link
        self.profile = profile
        self._ids = itertools.count(1)

    def run(self, argv: list[str], timeout: float = 60.0) -> CommandResult:
        """Run argv in the guest; a timeout kills it there (the guest stays usable)."""
        cid = str(next(self._ids))
        encoded = " ".join(a.encode().hex() for a in argv)
        result = CommandResult(list(argv))
        t0 = time.monotonic()
        self.link.send(f"RUN {cid} {encoded}")
        self._collect(cid, result, t0 + timeout)
        if result.exit_code is None and result.signal is None and result.agent_error is None:
            result.timed_out = True
            self.link.send(f"KILL {cid}")
            self._collect(cid, result, time.monotonic() + KILL_GRACE_S)
            if result.exit_code is None and result.signal is None:
                raise GuestError(
                    self.profile,
                    "hang",
                    f"{argv[0]} did not stop after KILL: the guest stopped answering",
                )
        result.seconds = time.monotonic() - t0
        return result

    def ping(self, timeout: float = 10.0) -> float:
        """Seconds for one protocol round trip (no process is started in the guest)."""
        cid = str(next(self._ids))
        result = CommandResult(["<ping>"])
        t0 = time.monotonic()
        self.link.send(f"PING {cid}")
        self._collect(cid, result, t0 + timeout)
        if result.exit_code != 0:
            raise GuestError(self.profile, "agent", f"no answer to PING: {result.describe()}")
        return time.monotonic() - t0

    def vdso(self, timeout: float = 30.0) -> bytes:
        """The vDSO image as mapped in a 32-bit process of this guest."""
        cid = str(next(self._ids))
        result = CommandResult(["<vdso>"])
        self.link.send(f"VDSO {cid}")
        self._collect(cid, result, time.monotonic() + timeout)
        if result.exit_code != 0:
            raise GuestError(self.profile, "agent", f"vDSO dump failed: {result.describe()}")
        try:
            return bytes.fromhex("".join(result.output))
        except ValueError:
            raise GuestError(self.profile, "agent", "vDSO dump is not hex") from None

    def _collect(self, cid: str, result: CommandResult, deadline: float) -> None:
        out_prefix, end_prefix = f"{cid}|", f"{cid}="
        while True:
            line = self.link.read_line(deadline)
            if line is None:
                return
            if line.startswith(out_prefix):
                text = line[len(out_prefix) :]
                if result.kept_bytes + len(text) <= MAX_OUTPUT_BYTES:
                    result.output.append(text)
                    result.kept_bytes += len(text) + 1
                else:
                    result.truncated += 1
            elif line.startswith(end_prefix):
                verb, _, arg = line[len(end_prefix) :].partition(" ")
                if verb == "EXIT" and arg.strip().lstrip("-").isdigit():
                    result.exit_code = int(arg)
                elif verb == "SIGNAL" and arg.strip().isdigit():
                    result.signal = int(arg)
                else:
                    result.agent_error = line[len(end_prefix) :]
                return
            # Lines for other ids (a late answer to a killed command) are ignored.
