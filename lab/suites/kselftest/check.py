"""The `kselftest` check: runs one x86 selftest binary and turns its output into one verdict per
subtest plus one for its exit code, with the known artefacts of
scenarios/expectations/kselftest-x86.yaml applied.

The binaries are at /kselftest/x86/ in the guest (the kselftest-x86 layer, build.py); what the
layer build found (which targets did not build, with the compiler's output) reaches the check as
CheckContext.layers["kselftest-x86"].
"""

from __future__ import annotations

import re

from lab.checks import Check, CheckContext
from lab.dirs import project_root
from lab.errors import GuestError
from lab.fsutil import atomic_write
from lab.report.results import Status, Verdict
from lab.suites.kselftest.build import BuildResult
from lab.suites.kselftest.expectations import (
    EXIT_PATH,
    GuestFacts,
    RunOutput,
    expectations_path,
    judge,
    load_expectations,
)
from lab.suites.kselftest.names import GUEST_DIR, LAYER
from lab.targets.console import Fault, LineSplitter
from lab.targets.session import ConsoleLink

FRAME = re.compile(r"^(\d+)\|(.*)$")
# Kernel faults after which the guest is not trusted for the next test: it is rebooted.
TAINTING = ("oops", "bug", "double fault")


class _Recorder:
    """The session's console link, keeping the agent's lines: if the guest dies under a test,
    what the test printed up to then still reaches its verdicts."""

    def __init__(self, link: ConsoleLink) -> None:
        self.link = link
        self.lines: list[str] = []

    def send(self, line: str) -> None:
        self.link.send(line)

    def read_line(self, deadline: float) -> str | None:
        line = self.link.read_line(deadline)
        if line is not None:
            self.lines.append(line)
        return line

    def output(self) -> list[str]:
        """The output lines of the newest command (the one that was running)."""
        frames = [(int(m.group(1)), m.group(2)) for m in map(FRAME.match, self.lines) if m]
        newest = max((cid for cid, _ in frames), default=None)
        return [text for cid, text in frames if cid == newest]


def kernel_version(ctx: CheckContext) -> str:
    """The booted kernel's version for expectation ranges: the model's reading of it (from the
    guest's uname -r), else uname -r itself ("" if neither tells)."""
    if ctx.kernel is not None:
        return str(ctx.kernel.version)
    return ctx.identity.kernel_release


def guest_facts(ctx: CheckContext) -> GuestFacts:
    """What the known artefacts of scenarios/expectations/kselftest-x86.yaml may depend on."""
    return GuestFacts(
        profile=ctx.profile.name,
        tags=frozenset(ctx.profile.tags),
        flags=ctx.identity.flags,
        vendor=ctx.identity.vendor,
        kernel_bits=ctx.identity.kernel_bits,
        accel=ctx.env.accel,
        qemu_version=ctx.env.qemu_version,
        nprocs=ctx.identity.nprocs,
        kernel_version=kernel_version(ctx),
    )


def _faults(console: LineSplitter | None, before: int) -> list[Fault]:
    return console.faults[before:] if console is not None else []


def _verdicts(ctx: CheckContext, test: str, run: RunOutput, faults: list[Fault]) -> list[Verdict]:
    atomic_write(
        ctx.artefacts / "kselftest" / f"{test}.out",
        ("\n".join(run.lines) + f"\n# entrylab: {run.describe()}\n").encode(),
    )
    expectations = load_expectations(expectations_path(project_root()))
    return [
        ctx.verdict(
            o.status,
            o.message,
            path=o.path,
            excerpt=o.excerpt,
            observed=o.observed,
            predicted=o.predicted,
            kernel_faults=[f"{f.kind}: {f.line}" for f in faults],
        )
        for o in judge(test, run, guest_facts(ctx), expectations)
    ]


def check_kselftest(ctx: CheckContext) -> list[Verdict]:
    """Run /kselftest/x86/<args[0]> [args...]; a verdict per subtest and one for the exit code.

    If the test kills the guest, the GuestError goes on to the engine (which reboots) carrying
    this test's verdicts in `verdicts` (output up to the crash, console excerpt, expectations).
    If it leaves an oops or BUG on the console, the kernel is not trusted for the next test
    (a task that died with locks held or interrupts off can hang later tests): a GuestError
    "tainted" with the verdicts makes the engine reboot before the next scenario.
    """
    if not ctx.scenario.args:
        return [ctx.verdict(Status.ERROR, "kselftest scenario without a binary name in args")]
    test, *args = ctx.scenario.args
    build = ctx.layers.get(LAYER)  # absent: no build info, the binary is run as it is
    if isinstance(build, BuildResult) and not build.has_target(test):
        return [
            ctx.verdict(
                Status.SKIP,
                f"{test} is not a test of {build.origin} (its Makefile's targets do not name "
                "it: the test is older or newer than this kernel's selftests)",
                path=EXIT_PATH,
            )
        ]
    if isinstance(build, BuildResult) and test in build.broken:
        return [
            ctx.verdict(
                Status.ERROR,
                f"{test} did not build from {build.origin}",
                path=EXIT_PATH,
                excerpt=build.broken[test],
            )
        ]
    session = ctx.session
    recorder = _Recorder(session.link)
    console: LineSplitter | None = getattr(recorder.link, "lines", None)  # a Machine's
    faults_before = len(console.faults) if console is not None else 0
    session.link = recorder
    try:
        result = session.run([f"{GUEST_DIR}/{test}", *args], ctx.scenario.timeout_s)
    except GuestError as exc:
        crashed = RunOutput(
            None,
            lines=tuple(recorder.output()),
            crash=f"{exc.kind}: {exc.reason}",
            console=exc.excerpt,
        )
        exc.verdicts = _verdicts(ctx, test, crashed, _faults(console, faults_before))
        raise
    finally:
        session.link = recorder.link
    new_faults = _faults(console, faults_before)
    tainting = [f for f in new_faults if f.kind in TAINTING]
    run = RunOutput(
        result.exit_code,
        result.signal,
        result.timed_out,
        result.agent_error,
        tuple(result.output),
        faults=tuple(f"{f.kind}: {f.line}" for f in tainting),
        console="\n\n".join(f.excerpt() for f in tainting),
    )
    verdicts = _verdicts(ctx, test, run, new_faults)
    if tainting:
        first = tainting[0]
        raise GuestError(
            ctx.profile.name,
            "tainted",
            f"{test} left a kernel {first.kind} on the console ({first.line}); rebooting so "
            "the next test runs on a clean kernel",
            "\n\n".join(f.excerpt() for f in tainting),
            verdicts,
        )
    return verdicts


# What scenario files may name in `check:` (collected by lab.suites.load_catalog).
CHECKS: dict[str, Check] = {"kselftest": check_kselftest}
