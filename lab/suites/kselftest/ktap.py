"""A selftest's output as subtests.

The classic x86 selftest style ("[RUN]\\t...", "[OK]\\t...", "[FAIL]\\t...", "[SKIP]\\t...")
groups results under the [RUN] line before them; TAP / KTAP ("ok 1 name", "not ok 2 name # SKIP
why", nested by indentation or by the kselftest runner's "# " prefix) gives one subtest per
result line, nested ones as parent/child. Subtest names are made stable: randomized addresses
and timings are replaced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lab.report.results import Status

# "[OK]\tfoo"; also "prog: [FAIL]\tfoo" as err(3) / fatal_error() print it.
CLASSIC = re.compile(
    r"^\s*(?:[\w.-]+: )?\[(RUN|OK|PASS|FAIL|SKIP|WARN|NOTE|INFO|ERROR|BUG)\]:?\s*(.*)$"
)
TAP_RESULT = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*)$")
TAP_VERSION = re.compile(r"^(K?TAP) version \d+\s*$")
TAP_PLAN = re.compile(r"^1\.\.(\d+)\s*(?:#\s*(.*))?$")
NEST = re.compile(r"^(    |# )")
# Addresses that change from run to run (ASLR): user mappings, the vDSO and stacks, where 32-bit
# and 64-bit processes have them. Round constants there (0xffffffff, 0x7fffffffe000: the
# canonical boundary sysret_rip tries) stay; so do all other numbers, which are the tests' own
# constants (selectors, syscall numbers, LDT attributes).
HEX = re.compile(r"0x([0-9a-fA-F]+)\b")
ASLR_RANGES = ((0xB0000000, 0xBFFFFFFF), (0xF0000000, 0xFFFFFFFF), (0x7F0000000000, 0x7FFFFFFFFFFF))
ROUND = re.compile(r"[0-9a-f]?f*[ef]?0*")
TIMING = re.compile(r"\b\d+\.\d+\b")
MAX_NAME = 160


def stable_name(text: str) -> str:
    """A subtest's name as it will read the same on every run: whitespace folded, randomized
    addresses and timings replaced (see ASLR_RANGES)."""
    name = " ".join(text.replace("\t", " ").split())
    name = HEX.sub(_address, name)
    name = TIMING.sub("N.N", name)
    name = name.strip(" :") or "(unnamed)"
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1] + "…"


def _address(m: re.Match[str]) -> str:
    digits = m.group(1).lower()
    value = int(digits, 16)
    varies = any(lo <= value <= hi for lo, hi in ASLR_RANGES)
    return "0x…" if varies and not ROUND.fullmatch(digits.lstrip("0")) else m.group(0)


@dataclass
class Subtest:
    """One result of a test: a [RUN] block, a stray [OK]/[FAIL] line, or a TAP result."""

    name: str  # stable, unique within the test; nested TAP results are parent/child
    status: Status
    results: list[str] = field(default_factory=list)  # the result lines, as printed
    lines: list[str] = field(default_factory=list)  # everything printed in its block
    style: str = "classic"  # classic | tap
    detail: str = ""  # why, for statuses the result lines do not explain

    def summary(self) -> str:
        text = "; ".join(r.strip() for r in self.results[:4])
        if len(self.results) > 4:
            text += f"; … ({len(self.results)} result lines)"
        return " — ".join(t for t in (text, self.detail) if t) or self.status.value


@dataclass
class _Block:
    """A classic [RUN] block (or a stray result) while it is being read."""

    title: str
    ran: bool  # opened by [RUN] (else a stray result line)
    results: list[tuple[str, str]] = field(default_factory=list)  # (tag, line)
    lines: list[str] = field(default_factory=list)


@dataclass
class ParsedOutput:
    subtests: list[Subtest]
    tap: bool  # the output had TAP/KTAP structure
    plan: int | None = None  # the top level's "1..N", if any


def _status_of(block: _Block, complete: bool) -> tuple[Status, str]:
    """A block's status; `complete` is False for the last block of a test that stopped (crash,
    signal, timeout). With no result yet, that step is where it stopped (an error); with results
    it may have stopped in the next step, whose [RUN] line did not get out before the crash."""
    tags = [t for t, _ in block.results]
    stopped = "" if complete else "the test stopped after this output (crash, signal or timeout)"
    if any(t in ("FAIL", "ERROR", "BUG") for t in tags):
        return Status.FAIL, stopped
    if any(t in ("OK", "PASS") for t in tags):
        return Status.PASS, stopped
    if "SKIP" in tags:
        return Status.SKIP, stopped
    if not complete:
        return Status.ERROR, "the test stopped in this step (crash, signal or timeout)"
    return Status.PASS, "no [FAIL] reported (the test prints no [OK] for this step)"


class _Level:
    """Parser state of one nesting level (the top, or a nested TAP test's output)."""

    def __init__(self) -> None:
        self.done: list[Subtest] = []
        self.block: _Block | None = None

    def close_block(self, complete: bool = True) -> None:
        b, self.block = self.block, None
        if b is None or (not b.ran and not b.results):
            return
        status, detail = _status_of(b, complete)
        results = [line for _, line in b.results]
        self.done.append(Subtest(stable_name(b.title), status, results, b.lines, "classic", detail))

    def classic(self, tag: str, text: str, line: str) -> None:
        if tag == "RUN":
            self.close_block()
            self.block = _Block(text, True, lines=[line])
        elif tag in ("OK", "PASS", "FAIL", "SKIP", "ERROR", "BUG"):
            # A [SKIP] after its block already has a result is a step that never ran, not part
            # of the block (sigreturn: "[SKIP]\tCode segment unavailable for ...").
            late_skip = tag == "SKIP" and self.block is not None and bool(self.block.results)
            if self.block is None or not self.block.ran or late_skip:
                self.close_block()
                self.block = _Block(text, False)
                self.block.results.append((tag, line))
                self.block.lines.append(line)
                self.close_block()
            else:
                self.block.results.append((tag, line))
                self.block.lines.append(line)
        elif self.block is not None:
            self.block.lines.append(line)

    def text(self, line: str) -> None:
        if self.block is not None:
            self.block.lines.append(line)


def _depth(line: str, tap: bool) -> tuple[int, str]:
    if not tap:
        return 0, line
    depth = 0
    while True:
        m = NEST.match(line)
        if not m:
            return depth, line
        rest = line[m.end() :]
        # "# text" at this level is a diagnostic unless what follows is nested TAP/classic text.
        if m.group(1) == "# " and not _nested_looking(rest):
            return depth, line
        depth += 1
        line = rest


def _nested_looking(rest: str) -> bool:
    return bool(
        TAP_RESULT.match(rest)
        or TAP_VERSION.match(rest)
        or TAP_PLAN.match(rest)
        or CLASSIC.match(rest)
        or NEST.match(rest)
        or rest.startswith(("Subtest:", "Bail out!"))
    )


def parse_output(lines: list[str], complete: bool = True) -> ParsedOutput:
    """A selftest's output as subtests (see the module docstring for the styles understood).

    complete: the test ran to its end (exit status known); if not, its last [RUN] block is
    where it stopped: an error if it printed no result yet, else its results with a note.
    """
    tap = any(
        TAP_VERSION.match(s) or TAP_RESULT.match(s) for s in (NEST.sub("", ln) for ln in lines)
    ) and any(TAP_VERSION.match(ln.lstrip("# ")) or TAP_PLAN.match(ln.lstrip("# ")) for ln in lines)
    levels: dict[int, _Level] = {0: _Level()}
    plan: int | None = None
    for raw in lines:
        line = raw.rstrip()
        depth, body = _depth(line, tap)
        # Deeper levels than `depth` that are still open belong to a TAP result not yet printed.
        level = levels.setdefault(depth, _Level())
        stripped = body.strip()
        m = CLASSIC.match(body)
        if m:
            level.classic(m.group(1), m.group(2), line)
            continue
        if tap:
            r = TAP_RESULT.match(stripped)
            if r:
                level.close_block()
                children = _collect_children(levels, depth)
                level.done.extend(_tap_subtests(r, line, children))
                continue
            p = TAP_PLAN.match(stripped)
            if p:
                if depth == 0:
                    plan = int(p.group(1))
                if p.group(1) == "0" and p.group(2):
                    level.done.append(
                        Subtest("plan", Status.SKIP, [line], [line], "tap", p.group(2).strip())
                    )
                continue
            if stripped.startswith("Bail out!"):
                level.close_block()
                level.done.append(
                    Subtest("bail out", Status.ERROR, [line], [line], "tap", stripped[9:].strip())
                )
                continue
        level.text(line)
    # Nested output whose parent result never came (the test died) surfaces at the top.
    for depth in sorted(levels, reverse=True):
        levels[depth].close_block(complete)
        if depth > 0:
            levels[0].done.extend(levels.pop(depth).done)
    subtests = _unique(levels[0].done)
    return ParsedOutput(subtests, tap, plan)


def _collect_children(levels: dict[int, _Level], depth: int) -> list[Subtest]:
    """The finished subtests of the levels below `depth`, which a TAP result there now owns."""
    children: list[Subtest] = []
    for d in sorted(k for k in levels if k > depth):
        levels[d].close_block()
        children.extend(levels.pop(d).done)
    return children


def _tap_subtests(m: re.Match[str], line: str, children: list[Subtest]) -> list[Subtest]:
    """A TAP result line as a subtest, after the nested subtests it owns (renamed parent/child)."""
    ok = m.group(1) == "ok"
    text, _, directive = m.group(3).partition(" # ")
    if text.startswith("#"):  # "ok 3 # SKIP reason": no description, only a directive
        text, directive = "", text[1:]
    directive = directive.strip()
    word, _, reason = directive.partition(" ")
    word = word.upper()
    if word == "SKIP":
        status, detail = Status.SKIP, reason
    elif word == "XFAIL":
        status, detail = Status.SKIP, f"XFAIL declared by the test itself: {reason}"
    elif word == "ERROR":
        status, detail = Status.ERROR, reason
    elif word == "TODO":
        status, detail = Status.SKIP, f"TODO: {reason}"
    else:  # a plain result, or a directive kselftest's runner adds ("exit=1")
        status, detail = (Status.PASS if ok else Status.FAIL), directive
    name = stable_name(text.strip() or reason or f"test {m.group(2) or '?'}")
    for child in children:
        child.name = f"{name}/{child.name}"
    if children and status is Status.PASS and any(c.status.bad for c in children):
        detail = "ok, though a nested subtest did not pass"
    lines = [ln for c in children for ln in c.lines] + [line]
    return [*children, Subtest(name, status, [line], lines, "tap", detail)]


def _unique(subtests: list[Subtest]) -> list[Subtest]:
    """Names made unique in the order printed: a repeated name gets " #2", " #3"."""
    seen: dict[str, int] = {}
    for s in subtests:
        seen[s.name] = seen.get(s.name, 0) + 1
        if seen[s.name] > 1:
            s.name = f"{s.name} #{seen[s.name]}"
    return subtests
