"""Known artefacts and judging one run.

scenarios/expectations/kselftest-x86.yaml records failures that are known artefacts of the test
environment (an emulator gap, a profile's configuration), each with its cause, class and
evidence. A matching failure is reported as an expected failure, a matching pass as "artefact
gone — update expectations". Nothing is silenced: output stays in the verdict.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.config.yamlconf import load_yaml, validate
from lab.errors import ConfigError, SourceLocation
from lab.report.results import Status
from lab.suites.kselftest.ktap import ParsedOutput, parse_output
from lab.suites.kselftest.names import GUEST_DIR, LAYER

MAX_EXCERPT_LINES = 120
EXPECTATIONS_SCHEMA = "expectations"
EXIT_PATH = "exit-code"
XFAIL_PREFIX = "expected failure (known artefact)"
XPASS_PREFIX = "artefact gone — update expectations"
# How an expected failure and a vanished artefact are reported. When lab/report/results.py gains
# Status.XFAIL / Status.XPASS these two lines become `Status.XFAIL` and `Status.XPASS`.
XFAIL_STATUS = Status.XFAIL
XPASS_STATUS = Status.XPASS
OUTCOMES = {"fail": Status.FAIL, "error": Status.ERROR}


def expectations_path(root: Path, suite: str = LAYER) -> Path:
    """Where a suite's known artefacts are recorded (outside scenarios/*.yaml, which are all
    loaded as suites)."""
    return root / "scenarios" / "expectations" / f"{suite}.yaml"


@dataclass(frozen=True)
class GuestFacts:
    """What an expectation can depend on: the profile, the CPU, the emulator, the kernel."""

    profile: str
    tags: frozenset[str]
    flags: frozenset[str]
    vendor: str
    kernel_bits: int
    accel: str
    qemu_version: str
    nprocs: int = 1
    kernel_version: str = ""  # the booted kernel's version ("7.2.13", "6.1.176"); "" unknown


def in_range(version: str, low: str | None, below: str | None) -> bool:
    """version within [low, below) by numeric parts ("7.2.13" ≥ "7.2", < "7.3"); an unknown
    version is in no bounded range (the artefact is not assumed where it cannot be told)."""
    if low is None and below is None:
        return True
    parts = _version_tuple(version)
    if not parts:
        return False
    if low is not None and parts < _version_tuple(low):
        return False
    return not (below is not None and parts >= _version_tuple(below))


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text.split("(")[0])[:3])


@dataclass(frozen=True)
class Expectation:
    """One known artefact: which results it explains, where, why, and how we know."""

    id: str
    test: tuple[str, ...]  # globs on the binary name, e.g. test_FCOMI_32 or sigreturn_*
    subtest: tuple[str, ...]  # globs on the stable subtest name ("exit-code": the exit status)
    klass: str  # emulator | configuration | kernel
    cause: str
    evidence: tuple[str, ...]
    outcomes: frozenset[Status]
    profiles: tuple[str, ...] = ()  # names or tags; empty = any
    flags_present: tuple[str, ...] = ()
    flags_absent: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()
    kernel_bits: int | None = None
    accel: tuple[str, ...] = ()
    qemu_min: str | None = None  # inclusive
    qemu_below: str | None = None  # exclusive
    vcpus_min: int | None = None
    vcpus_max: int | None = None
    kernel_min: str | None = None  # inclusive, against GuestFacts.kernel_version
    kernel_below: str | None = None  # exclusive
    intermittent: bool = False  # shows on some runs only: a pass is no news
    source: str = ""

    def applies(self, env: GuestFacts) -> bool:
        if self.profiles and not any(p == env.profile or p in env.tags for p in self.profiles):
            return False
        if not set(self.flags_present) <= env.flags or set(self.flags_absent) & env.flags:
            return False
        if self.vendors and env.vendor not in self.vendors:
            return False
        if self.kernel_bits is not None and env.kernel_bits != self.kernel_bits:
            return False
        if self.accel and env.accel not in self.accel:
            return False
        if self.vcpus_min is not None and env.nprocs < self.vcpus_min:
            return False
        if self.vcpus_max is not None and env.nprocs > self.vcpus_max:
            return False
        if not in_range(env.kernel_version, self.kernel_min, self.kernel_below):
            return False
        return in_range(env.qemu_version, self.qemu_min, self.qemu_below)

    def matches(self, test: str, path: str) -> bool:
        return self.covers(test) and any(fnmatch.fnmatchcase(path, p) for p in self.subtest)

    def covers(self, test: str) -> bool:
        return any(fnmatch.fnmatchcase(test, pattern) for pattern in self.test)

    def describe(self) -> dict[str, Any]:
        return {
            "expectation": self.id,
            "class": self.klass,
            "cause": self.cause,
            "evidence": list(self.evidence),
            "source": self.source,
        }


def load_expectations(path: Path) -> list[Expectation]:
    """The expectations file, validated (lab/config/schemas/expectations.schema.json); none
    if absent."""
    if not path.exists():
        return []
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _EXPECTATIONS_CACHE:
        _EXPECTATIONS_CACHE.clear()
        _EXPECTATIONS_CACHE[key] = _load_expectations(path)
    return _EXPECTATIONS_CACHE[key]


_EXPECTATIONS_CACHE: dict[tuple[str, int, int], list[Expectation]] = {}


def _load_expectations(path: Path) -> list[Expectation]:
    doc = load_yaml(path)
    if doc.data is None:
        raise ConfigError(SourceLocation(path), "empty file: expected 'suite' and 'expectations'")
    validate(doc, EXPECTATIONS_SCHEMA)
    out = []
    for eid, raw in doc.data["expectations"].items():
        when = raw.get("when", {})
        flags = when.get("cpu_flags", {})
        qemu = when.get("qemu", {})
        kernel = when.get("kernel", {})
        loc = doc.location(("expectations", eid))
        out.append(
            Expectation(
                id=eid,
                test=_strings(raw["test"]),
                subtest=_strings(raw.get("subtest", "*")),
                klass=raw["class"],
                cause=" ".join(raw["cause"].split()),
                evidence=tuple(" ".join(e.split()) for e in raw["evidence"]),
                outcomes=frozenset(OUTCOMES[o] for o in raw.get("outcome", ["fail"])),
                profiles=tuple(when.get("profiles", ())),
                flags_present=tuple(flags.get("present", ())),
                flags_absent=tuple(flags.get("absent", ())),
                vendors=tuple(when.get("vendors", ())),
                kernel_bits=when.get("kernel_bits"),
                accel=tuple(when.get("accel", ())),
                qemu_min=str(qemu["min"]) if "min" in qemu else None,
                qemu_below=str(qemu["below"]) if "below" in qemu else None,
                vcpus_min=when.get("vcpus", {}).get("min"),
                vcpus_max=when.get("vcpus", {}).get("max"),
                kernel_min=str(kernel["min"]) if "min" in kernel else None,
                kernel_below=str(kernel["below"]) if "below" in kernel else None,
                intermittent=bool(raw.get("intermittent", False)),
                source=f"{path.name}:{loc.line}",
            )
        )
    return out


def _strings(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


# -- judging one run ----------------------------------------------------------------------------


@dataclass
class Outcome:
    """A verdict before it is one: what a test's run came to for one path."""

    path: str
    status: Status
    message: str
    excerpt: str = ""
    observed: dict[str, Any] = field(default_factory=dict)
    predicted: Any = None


@dataclass(frozen=True)
class RunOutput:
    """What the guest reported for one test binary (a CommandResult, reduced to data)."""

    exit_code: int | None
    signal: int | None = None
    timed_out: bool = False
    agent_error: str | None = None
    lines: tuple[str, ...] = ()
    crash: str | None = None  # the guest died under the test: "panic: <console line>"
    faults: tuple[str, ...] = ()  # oops / BUG the test left on the console ("oops: <line>")
    console: str = ""  # the console lines around the crash or the faults

    @property
    def complete(self) -> bool:
        return (
            self.exit_code is not None
            and not self.timed_out
            and self.agent_error is None
            and self.crash is None
        )

    def describe(self) -> str:
        if self.crash:
            return f"guest {self.crash}"
        if self.agent_error:
            return f"agent error: {self.agent_error}"
        if self.timed_out:
            return "timed out (killed)"
        if self.signal is not None:
            return f"killed by signal {self.signal}"
        return f"exit {self.exit_code}"


def _excerpt(lines: list[str] | tuple[str, ...], limit: int = MAX_EXCERPT_LINES) -> str:
    lines = list(lines)
    if len(lines) <= limit:
        return "\n".join(lines)
    head, tail = lines[: limit // 3], lines[-(limit - limit // 3) :]
    return "\n".join([*head, f"… ({len(lines) - len(head) - len(tail)} lines left out) …", *tail])


CPU_SKIP = re.compile(r"affinity|CPU \d|cpu \d", re.I)


def subtest_outcomes(parsed: ParsedOutput, env: GuestFacts) -> list[Outcome]:
    out = []
    for s in parsed.subtests:
        message = s.summary()
        if s.status is Status.SKIP and env.nprocs < 2 and CPU_SKIP.search(message):
            message += (
                f" (this profile has {env.nprocs} vCPU; a 2-vCPU profile would run this part)"
            )
        out.append(
            Outcome(
                s.name,
                s.status,
                message,
                excerpt=_excerpt(s.lines),
                observed={"results": s.results, "style": s.style},
            )
        )
    return out


def exit_outcome(test: str, run: RunOutput) -> Outcome:
    """The test's own verdict: kselftest exit codes 0 pass, 1 fail, 4 skip; a kernel oops or
    BUG during the test fails it whatever it printed."""
    o = _exit_status(test, run)
    if run.faults and not run.crash:
        o.observed["kernel_faults"] = list(run.faults)
        o.message += f"; the kernel reported {run.faults[0]}"
        o.excerpt = "\n".join(t for t in (run.console, "test output:\n" + o.excerpt) if t)
        if o.status in (Status.PASS, Status.SKIP):
            o.status = Status.FAIL
    return o


def _exit_status(test: str, run: RunOutput) -> Outcome:
    excerpt = _excerpt(run.lines)
    observed: dict[str, Any] = {
        "exit_code": run.exit_code,
        "signal": run.signal,
        "timed_out": run.timed_out,
    }
    if run.crash:
        observed["crash"] = run.crash
        text = "\n".join(t for t in (run.console, excerpt and "test output:\n" + excerpt) if t)
        return Outcome(EXIT_PATH, Status.ERROR, f"{test}: guest {run.crash}", text, observed)
    if run.agent_error:
        return Outcome(EXIT_PATH, Status.ERROR, f"agent: {run.agent_error}", excerpt, observed)
    if run.timed_out:
        return Outcome(EXIT_PATH, Status.ERROR, f"{test} timed out (killed)", excerpt, observed)
    if run.signal is not None:
        return Outcome(
            EXIT_PATH, Status.FAIL, f"{test} killed by signal {run.signal}", excerpt, observed
        )
    code = run.exit_code
    if code == 0:
        return Outcome(EXIT_PATH, Status.PASS, "exit 0", excerpt, observed)
    if code == 4:
        return Outcome(EXIT_PATH, Status.SKIP, "exit 4 (kselftest: skipped)", excerpt, observed)
    if code == 127 and any("entrylab-agent: exec" in ln for ln in run.lines):
        return Outcome(
            EXIT_PATH,
            Status.ERROR,
            f"{GUEST_DIR}/{test} is not in the guest (is the {LAYER} layer built?)",
            excerpt,
            observed,
        )
    return Outcome(EXIT_PATH, Status.FAIL, f"exit {code}", excerpt, observed)


def judge(
    test: str, run: RunOutput, env: GuestFacts, expectations: list[Expectation]
) -> list[Outcome]:
    """Subtests and exit code of one run, with the known artefacts that apply here."""
    parsed = parse_output(list(run.lines), complete=run.complete)
    outcomes = [*subtest_outcomes(parsed, env), exit_outcome(test, run)]
    if parsed.tap and parsed.plan is not None and parsed.plan > 0:
        top = [s for s in parsed.subtests if s.style == "tap" and "/" not in s.name]
        if len(top) != parsed.plan and run.complete:
            outcomes.append(
                Outcome(
                    "plan",
                    Status.FAIL,
                    f"TAP plan 1..{parsed.plan} but {len(top)} results",
                    _excerpt(run.lines),
                )
            )
    return apply_expectations(test, outcomes, env, expectations, run.complete)


def apply_expectations(
    test: str,
    outcomes: list[Outcome],
    env: GuestFacts,
    expectations: list[Expectation],
    complete: bool,
) -> list[Outcome]:
    """Known artefacts: an expected failure is reported as one (output kept), an expected
    failure that passed as "artefact gone", an expectation that matched nothing likewise."""
    here = [e for e in expectations if e.applies(env) and e.covers(test)]
    used: set[str] = set()
    explained: list[str] = []
    unexplained = False
    exit_o = next((o for o in outcomes if o.path == EXIT_PATH), None)
    for o in outcomes:
        exp = next((e for e in here if e.matches(test, o.path)), None)
        if exp is not None:
            used.add(exp.id)
        if o is exit_o:
            continue
        if exp is None:
            unexplained |= o.status in (Status.FAIL, Status.ERROR)
            continue
        if o.status in exp.outcomes:
            _expected(o, exp)
            explained.append(exp.id)
        elif o.status is Status.PASS and not exp.intermittent:
            _gone(o, exp)
        else:
            unexplained |= o.status in (Status.FAIL, Status.ERROR)
    if exit_o is not None:
        exp = next((e for e in here if e.matches(test, EXIT_PATH)), None)
        if exp is not None and exit_o.status in exp.outcomes:
            _expected(exit_o, exp)
        elif exp is not None and exit_o.status is Status.PASS and not exp.intermittent:
            _gone(exit_o, exp)
        elif exit_o.status is Status.FAIL and explained and not unexplained and complete:
            ids = ", ".join(sorted(set(explained)))
            exit_o.predicted = {"explained_by": sorted(set(explained))}
            exit_o.message = (
                f"{XFAIL_PREFIX}: {exit_o.message}, and every failing subtest is a known "
                f"artefact ({ids})"
            )
            exit_o.status = XFAIL_STATUS
    extra = []
    if complete:
        for e in here:
            if e.id not in used and not e.intermittent:
                extra.append(
                    Outcome(
                        f"expectation:{e.id}",
                        XPASS_STATUS,
                        f"{XPASS_PREFIX}: expectation {e.id} ({e.source}) matches no result of "
                        f"this run (subtest {' or '.join(e.subtest)!r})",
                        predicted=e.describe(),
                    )
                )
    return outcomes + extra


def _expected(o: Outcome, exp: Expectation) -> None:
    o.observed = {"status": o.status.value, "message": o.message, "detail": o.observed}
    o.predicted = exp.describe()
    o.message = f"{XFAIL_PREFIX}: {exp.cause} [{exp.klass}; {exp.id}] — observed: {o.message}"
    o.status = XFAIL_STATUS


def _gone(o: Outcome, exp: Expectation) -> None:
    o.observed = {"status": o.status.value, "message": o.message, "detail": o.observed}
    o.predicted = exp.describe()
    o.message = f"{XPASS_PREFIX}: {exp.id} ({exp.source}) expected a failure, but: {o.message}"
    o.status = XPASS_STATUS
