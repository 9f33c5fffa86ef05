"""The lab's error types: every failure a user can cause or meet has one, with a location.

The CLI prints ``str(error)`` and exits; no traceback reaches the user for these.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.report.results import Verdict


class LabError(Exception):
    """Base of every error the lab reports to the user as one clear message."""


@dataclass
class SourceLocation:
    """Where in which file a bad value stands (1-based line and column)."""

    path: Path
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = str(self.path)
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where


class ConfigError(LabError):
    """Invalid YAML configuration: names file, line and column, and what was expected."""

    def __init__(self, location: SourceLocation, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message


class ConfigErrors(LabError):
    """Several configuration errors found in one pass, reported together."""

    def __init__(self, errors: list[ConfigError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class ErrorKind(enum.StrEnum):
    """Why a verdict is an error: recorded in results.json (``error_kind``) so that a nightly
    can tell a guest that died from a lab that broke."""

    BOOT = "boot"  # the guest never became ready (or is not what its profile says)
    PANIC = "panic"  # the guest kernel died (panic, KVM failure) mid-scenario
    HANG = "hang"  # the guest stopped answering (KILL unanswered, timeouts)
    EMULATOR_EXITED = "qemu exited"  # the emulator process went away
    AGENT = "agent"  # the agent protocol broke (bad frame, lost console)
    CONNECTION = "ssh"  # the SSH connection dropped or was refused
    TAINTED = "tainted"  # a test left an oops/BUG: rebooted for the next test
    OUTPUT = "output"  # the guest program's output could not be read (malformed, missing)
    PROGRAM = "program"  # a guest program did not compile
    LAB = "lab"  # a bug or an error in the lab itself (a check raised)
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM while it ran


class ImageError(LabError):
    """An image could not be built: a package, a pin, a compiler or a file is wrong."""


class BootError(LabError):
    """A guest did not become ready, or is not what its profile says."""

    def __init__(self, profile: str, reason: str, excerpt: str = "") -> None:
        super().__init__(f"{profile}: {reason}")
        self.profile = profile
        self.reason = reason
        self.excerpt = excerpt


class GuestError(LabError):
    """A running guest broke: panic, hang, lost console, QEMU gone.

    A check that knows what the death means (a probe that killed the kernel, say) attaches the
    verdicts it has, including one for the death; the engine records them instead of a generic
    error, then reboots.
    """

    def __init__(
        self,
        profile: str,
        kind: str,
        reason: str,
        excerpt: str = "",
        verdicts: list[Verdict] | None = None,
    ) -> None:
        super().__init__(f"{profile}: {kind}: {reason}")
        self.profile = profile
        self.kind = kind
        self.reason = reason
        self.excerpt = excerpt
        self.verdicts: list[Verdict] = verdicts or []
