"""Running the kernel's make: every line into the build log, the latest step on a status line,
and a failure turned into one error that ends with the compiler's first error lines and the
log's path (the log is thousands of lines; the first `error:` is what a developer needs)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from lab.errors import LabError

# kbuild's short lines: "  CC      kernel/fork.o", "  LD      vmlinux", "  GEN     Makefile"
STEP = re.compile(r"^\s+([A-Z][A-Z0-9_\[\] ]{1,10}?)\s+(\S.*)$")
ERROR = re.compile(
    r"\b(?:fatal )?error:|: Error: |^\*\*\* |^make(?:\[\d+\])?: \*\*\* |undefined reference to"
)
EXCERPT_LINES = 12

Status = Callable[[str], None]  # the latest build step, for a status line


class BuildFailed(LabError):
    """make failed: the compiler's first error lines and where the full log is."""


def step_of(line: str) -> str | None:
    """'CC kernel/fork.o' for a kbuild step line, None for anything else."""
    m = STEP.match(line)
    return f"{m.group(1).strip()} {m.group(2).strip()}" if m else None


def error_excerpt(log_text: str, limit: int = EXCERPT_LINES) -> list[str]:
    """The first error lines of a build log (the compiler's `error:`, the assembler's
    `Error:`, the linker's undefined references, make's and kbuild's `***`), with the line
    before each for context; else its last lines (a make that died without saying error:)."""
    lines = log_text.splitlines()
    picked: list[str] = []
    for i, line in enumerate(lines):
        if ERROR.search(line):
            if i > 0 and lines[i - 1] not in picked and not ERROR.search(lines[i - 1]):
                picked.append(lines[i - 1])
            picked.append(line)
        if len(picked) >= limit:
            break
    return picked[:limit] if picked else lines[-limit:]


def run_make(
    tree: Path,
    args: Sequence[str],
    log_path: Path,
    status: Status,
    env: dict[str, str] | None = None,
) -> None:
    """`make -C tree ARGS` with output appended to log_path; BuildFailed if it fails."""
    command = ["make", "-C", str(tree), *args]
    with log_path.open("a", encoding="utf-8", errors="replace") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        start = log_path.stat().st_size
        try:
            proc = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                env=env,
            )
        except OSError as exc:
            raise BuildFailed(f"cannot run make: {exc.strerror}") from None
        assert proc.stdout is not None
        _follow(proc.stdout, log, status)
        code = proc.wait()
    if code != 0:
        text = log_path.read_bytes()[start:].decode(errors="replace")
        excerpt = "\n".join(f"  {line}" for line in error_excerpt(text))
        raise BuildFailed(
            f"kernel build failed: make {' '.join(args)} exited {code}:\n{excerpt}\n"
            f"full build log: {log_path}"
        )


def _follow(stream: IO[str], log: IO[str], status: Status) -> None:
    """Copy make's output into the log, reporting each kbuild step as it passes."""
    for line in stream:
        log.write(line)
        step = step_of(line)
        if step is not None:
            status(step)
