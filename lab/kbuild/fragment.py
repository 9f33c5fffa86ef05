"""Kernel config fragments: the lines merge_config.sh takes, parsed strictly so a typo is one
error naming file:line before any make runs, and the check after the merge that every option a
fragment sets really ended up so in .config (a fragment loses silently to a dependency)."""

from __future__ import annotations

import re
from pathlib import Path

from lab.errors import LabError, SourceLocation

# CONFIG_X=y|m|n|"string"|number (decimal or hex), or "# CONFIG_X is not set"
SET = re.compile(r'^(CONFIG_[A-Za-z0-9_]+)=(y|m|n|"(?:[^"\\]|\\.)*"|-?\d+|0x[0-9a-fA-F]+)$')
UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")

Options = dict[str, str]  # CONFIG_X -> y, m, n, "string" (quoted) or a number


class FragmentError(LabError):
    """A fragment line that is not a config option: file:line and what is allowed."""


def parse_fragment(text: str, path: Path) -> Options:
    """The options a fragment sets ("is not set" as n); anything but option lines, comments
    and blank lines is an error at its line."""
    options: Options = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        unset = UNSET.match(line)
        if unset:
            options[unset.group(1)] = "n"
            continue
        if not line or line.startswith("#"):
            continue
        m = SET.match(line)
        if m is None:
            where = SourceLocation(path, number)
            raise FragmentError(
                f"{where}: not a kernel config line: {line[:80]!r} (expected "
                'CONFIG_X=y|m|n|"string"|number or "# CONFIG_X is not set")'
            )
        options[m.group(1)] = m.group(2)
    return options


def read_fragment(path: Path) -> Options:
    """A fragment file parsed; a missing or unreadable file is one error naming it."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise FragmentError(f"{path}: cannot read the config fragment: {reason}") from None
    return parse_fragment(text, path)


def dot_config(text: str) -> Options:
    """A .config as options; what it does not name is n (Kconfig writes no line for a symbol
    that is off and invisible)."""
    options: Options = {}
    for line in text.splitlines():
        unset = UNSET.match(line)
        if unset:
            options[unset.group(1)] = "n"
        elif m := SET.match(line):
            options[m.group(1)] = m.group(2)
    return options


def lost_options(wanted: Options, config: Options) -> list[str]:
    """Every wanted option that is not so in the merged config, as 'CONFIG_X=y (is n)'."""
    lost = []
    for name, value in wanted.items():
        got = config.get(name, "n")
        if got != value:
            lost.append(f"{name}={value} (is {got})")
    return lost
