"""The serial console as a stream of lines: agent frames on one side, kernel messages on the other.

The guest agent prefixes every line it writes with ``@@<nonce>:``; anything else on the wire is the
kernel (or QEMU itself) speaking. Kernel lines are kept in a ring buffer and scanned for the
messages that mean the guest is broken (panic, oops, BUG, WARNING, double fault), so a verdict can
show the lines around them.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# (kind, pattern, fatal): fatal faults mean the guest is gone; others are reported with the verdict.
FAULT_PATTERNS: tuple[tuple[str, re.Pattern[str], bool], ...] = (
    ("panic", re.compile(r"Kernel panic - not syncing"), True),
    ("kvm failure", re.compile(r"KVM internal error|KVM: entry failed|emulation failure"), True),
    ("double fault", re.compile(r"\bdouble fault\b"), False),
    ("oops", re.compile(r"\bOops\b|general protection fault(?!.*ip:)"), False),
    ("bug", re.compile(r"\bBUG: "), False),
    ("warning", re.compile(r"\bWARNING: (CPU|at)\b"), False),
)
CONTEXT_BEFORE = 5
CONTEXT_AFTER = 25
MAX_LINE = 64 * 1024


@dataclass
class Fault:
    """A kernel message that says something went wrong, with the lines around it."""

    kind: str
    line: str
    fatal: bool
    context: list[str] = field(default_factory=list)
    _after: int = CONTEXT_AFTER

    def excerpt(self) -> str:
        return "\n".join(self.context)


@dataclass
class AgentLine:
    """One framed line from the guest agent, without its ``@@nonce:`` prefix."""

    body: str


class LineSplitter:
    """Bytes in, classified lines out; partial lines wait for their newline."""

    def __init__(self, nonce: str, history: int = 400) -> None:
        self.prefix = f"@@{nonce}:"
        self._pending = b""
        self.kernel_lines: deque[str] = deque(maxlen=history)
        self.faults: list[Fault] = []
        self._open_faults: list[Fault] = []
        self.on_kernel_line: Callable[[str], None] | None = None

    def feed(self, data: bytes) -> list[AgentLine]:
        """Consume bytes; return the agent lines they completed (kernel lines are recorded)."""
        self._pending += data
        out: list[AgentLine] = []
        while b"\n" in self._pending:
            raw, self._pending = self._pending.split(b"\n", 1)
            line = raw.decode("utf-8", "replace").rstrip("\r")
            self._classify(line, out)
        if len(self._pending) > MAX_LINE:
            # A line with no end (a flood without newlines) is cut so memory stays bounded.
            line = self._pending.decode("utf-8", "replace")
            self._pending = b""
            self._classify(line, out)
        return out

    def _classify(self, line: str, out: list[AgentLine]) -> None:
        idx = line.find(self.prefix)
        if idx >= 0:
            # Kernel text may precede a frame on the same line (printk interleaving).
            if idx > 0:
                self._kernel(line[:idx])
            out.append(AgentLine(line[idx + len(self.prefix) :]))
            return
        self._kernel(line)

    def _kernel(self, line: str) -> None:
        self.kernel_lines.append(line)
        for fault in self._open_faults:
            fault.context.append(line)
            fault._after -= 1
        self._open_faults = [f for f in self._open_faults if f._after > 0]
        for kind, pattern, fatal in FAULT_PATTERNS:
            if pattern.search(line):
                before = list(self.kernel_lines)[-CONTEXT_BEFORE - 1 : -1]
                fault = Fault(kind, line.strip(), fatal, [*before, line])
                self.faults.append(fault)
                self._open_faults.append(fault)
                break
        if self.on_kernel_line is not None:
            self.on_kernel_line(line)

    def fatal(self) -> Fault | None:
        return next((f for f in self.faults if f.fatal), None)

    def tail(self, n: int = 30) -> str:
        return "\n".join(list(self.kernel_lines)[-n:])
