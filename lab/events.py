"""Run events: what the engine tells whoever watches (a live dashboard, plain CI logs).

The engine emits events and never prints; a sink decides how they look. The plain sink writes one
line per event with no control codes, for CI logs and `| tee`.
"""

from __future__ import annotations

import enum
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from lab.report.results import Verdict


class Kind(enum.Enum):
    PLAN = "plan"  # the run's shape: profiles and scenario counts (sent once, first)
    IMAGES = "images"  # image builder progress
    BOOTING = "booting"
    READY = "ready"
    RUNNING = "running"  # a scenario started
    VERDICT = "verdict"
    KERNEL_FAULT = "kernel-fault"  # panic / oops / BUG / WARNING seen on a console
    REBOOTING = "rebooting"
    BOOT_FAILED = "boot-failed"
    DONE = "done"  # one profile finished
    NOTE = "note"  # anything else worth a line (fallbacks, interruptions)


@dataclass
class Event:
    kind: Kind
    profile: str | None = None
    message: str = ""
    scenario: str | None = None
    verdict: Verdict | None = None
    # PLAN: profile -> number of scenarios; READY: guest facts for the dashboard row.
    data: dict[str, object] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


Sink = Callable[[Event], None]


class PlainSink:
    """One line per event, no colours, no cursor movement: safe for logs and pipes."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.t0 = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = self.format(event)
        if line is None:
            return
        with self._lock:
            self.out.write(f"[{event.at - self.t0:7.1f}s] {line}\n")
            self.out.flush()

    @staticmethod
    def format(event: Event) -> str | None:
        line = PlainSink._format(event)
        return printable_line(line) if line is not None else None

    @staticmethod
    def _format(event: Event) -> str | None:
        who = f"{event.profile}: " if event.profile else ""
        if event.kind is Kind.VERDICT and event.verdict is not None:
            v = event.verdict
            name = v.scenario + (f"[{v.path}]" if v.path else "")
            detail = f" — {v.message}" if v.status.value != "pass" and v.message else ""
            return f"{who}{name}: {v.status.value}{detail}"[:400]
        if event.kind is Kind.PLAN:
            return f"plan: {event.message}"
        if event.kind is Kind.RUNNING:
            return f"{who}running {event.scenario}"
        return f"{who}{event.kind.value}: {event.message}" if event.message else None


def printable_line(text: str) -> str:
    """Guest text for a terminal: control characters shown, never obeyed."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
