"""Host-side checks: turn what a guest showed into verdicts against the entry model.

A check gets a CheckContext (the booted guest, its identity, the scenario) and returns verdicts.
The registry CHECKS is what scenario files name in `check:`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.config.profiles import Profile
from lab.config.scenarios import Scenario
from lab.fsutil import atomic_write
from lab.model import (
    CpuIdentity,
    EntryPath,
    StubError,
    VdsoError,
    parse_vdso,
    predict,
)
from lab.model.stub import shipped_stub_bytes
from lab.report.results import Environment, Status, Verdict
from lab.targets.identity import GuestIdentity
from lab.targets.session import CommandResult, GuestSession

RESULT_KEYS = {"entrylab", "test", "status"}
RESULT_STATUS = {
    "pass": Status.PASS,
    "fail": Status.FAIL,
    "skip": Status.SKIP,
    "divergence": Status.DIVERGENCE,
    "error": Status.ERROR,
}


@dataclass
class CheckContext:
    scenario: Scenario
    profile: Profile
    identity: GuestIdentity
    session: GuestSession
    env: Environment
    artefacts: Path  # this guest's directory in the report
    # what each initramfs layer's build returned, by layer name (lab.images.builder.Layered)
    layers: Mapping[str, Any] = field(default_factory=dict)

    def verdict(self, status: Status, message: str, **kw: Any) -> Verdict:
        return Verdict(
            self.profile.name,
            self.scenario.name,
            status,
            message,
            env=self.env,
            suite=self.scenario.suite,
            **kw,
        )


Check = Callable[[CheckContext], list[Verdict]]
CHECKS: dict[str, Check] = {}


def register(name: str) -> Callable[[Check], Check]:
    """Make a check available to scenario files as `check: <name>`."""

    def add(check: Check) -> Check:
        if name in CHECKS:
            raise ValueError(f"check {name!r} registered twice")
        CHECKS[name] = check
        return check

    return add


def cpu_identity(identity: GuestIdentity) -> CpuIdentity:
    """The model's view of a booted guest's CPU."""
    return CpuIdentity(
        identity.vendor, identity.flags, identity.family, identity.model, identity.stepping
    )


def _expected_entry(ctx: CheckContext) -> dict[str, Any]:
    """What the stub should be: the model's prediction, or explicit values from the scenario."""
    bits = ctx.identity.kernel_bits
    if ctx.scenario.expect == "model":
        p = predict(bits, cpu_identity(ctx.identity))
        return {
            "path": p.path.value,
            "layout": "shipped-4.3+",
            "stub_hex": p.expected_stub_hex,
            "source": "model",
            "reason": p.selection.reason,
        }
    explicit = dict(ctx.scenario.expect) if isinstance(ctx.scenario.expect, dict) else {}
    if "path" in explicit and "stub_hex" not in explicit:
        explicit["stub_hex"] = shipped_stub_bytes(EntryPath(explicit["path"]), bits).hex(" ")
    explicit["source"] = f"explicit expectation in {ctx.scenario.source}"
    return explicit


@register("vdso-entry")
def check_vdso_entry(ctx: CheckContext) -> list[Verdict]:
    """The guest's vDSO: __kernel_vsyscall == AT_SYSINFO, and the stub is the predicted one."""
    image = ctx.session.vdso()
    atomic_write(ctx.artefacts / "vdso.so", image)
    try:
        vdso = parse_vdso(image)
        stub = vdso.stub()
    except (VdsoError, StubError) as exc:
        return [
            ctx.verdict(
                Status.FAIL,
                f"vDSO's __kernel_vsyscall is not a known stub: {exc}",
                observed={"vdso_bytes": len(image)},
            )
        ]
    ident = ctx.identity
    sym_addr = ident.at_sysinfo_ehdr + vdso.kernel_vsyscall
    observed = {
        "path": stub.path.value,
        "layout": stub.layout.value,
        "stub_hex": stub.hex(),
        "kernel_vsyscall": hex(sym_addr),
        "at_sysinfo": hex(ident.at_sysinfo),
        "landing_pad_offset": stub.landing_pad_offset,
        "listing": stub.listing(),
    }
    expected = _expected_entry(ctx)
    problems = []
    if sym_addr != ident.at_sysinfo:
        problems.append(f"AT_SYSINFO {ident.at_sysinfo:#x} != __kernel_vsyscall {sym_addr:#x}")
    for key in ("path", "layout", "stub_hex"):
        if key in expected and expected[key] != observed[key]:
            problems.append(f"{key}: predicted {expected[key]!r}, observed {observed[key]!r}")
    if problems:
        return [
            ctx.verdict(Status.FAIL, "; ".join(problems), observed=observed, predicted=expected)
        ]
    return [
        ctx.verdict(
            Status.PASS,
            f"{stub.path.value} via {stub.layout.value} stub at {sym_addr:#x} == AT_SYSINFO",
            observed=observed,
            predicted=expected,
        )
    ]


def parse_result_lines(lines: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Guest programs report one JSON object per line; anything else is text or an error.

    Returns (results, problems): lines that look like results but are malformed are problems,
    never silently dropped — guest output is untrusted.
    """
    results: list[dict[str, Any]] = []
    problems: list[str] = []
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text.startswith("{"):
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"output line {n}: not valid JSON ({exc.msg}): {text[:120]!r}")
            continue
        if not isinstance(obj, dict) or not set(obj) >= RESULT_KEYS:
            problems.append(f"output line {n}: result lacks {sorted(RESULT_KEYS)}: {text[:120]!r}")
            continue
        if obj["status"] not in RESULT_STATUS or not isinstance(obj["test"], str):
            problems.append(f"output line {n}: bad status/test: {text[:120]!r}")
            continue
        results.append(obj)
    return results, problems


def _run_program(ctx: CheckContext) -> CommandResult:
    assert ctx.scenario.program is not None
    return ctx.session.run(
        [f"/lab/bin/{ctx.scenario.program}", *ctx.scenario.args], timeout=ctx.scenario.timeout_s
    )


def program_trouble(
    ctx: CheckContext,
    result: CommandResult,
    any_results: bool,
    problems: list[str],
    any_verdicts: bool,
) -> list[Verdict]:
    """What a results-printing guest program's run adds beyond its own result lines:
    unparseable lines, a bad exit (an error if it reported nothing, else a failure), silence."""
    output = "\n".join(result.output[-200:])
    out = []
    if problems:
        out.append(
            ctx.verdict(
                Status.ERROR,
                "unparseable guest output: " + problems[0],
                excerpt=output,
                observed=problems,
            )
        )
    if not result.ok:
        out.append(
            ctx.verdict(
                Status.FAIL if any_results else Status.ERROR,
                f"{ctx.scenario.program}: {result.describe()}",
                excerpt=output,
            )
        )
    if not out and not any_verdicts:
        out.append(
            ctx.verdict(Status.ERROR, f"{ctx.scenario.program} reported no results", excerpt=output)
        )
    return out


@register("results")
def check_results(ctx: CheckContext) -> list[Verdict]:
    """A self-checking guest program: one verdict per JSON result line it prints."""
    result = _run_program(ctx)
    results, problems = parse_result_lines(result.output)
    verdicts = [
        ctx.verdict(
            RESULT_STATUS[r["status"]],
            str(r.get("message", "")),
            path=r["test"],
            observed=r.get("observed"),
            predicted=r.get("expected"),
        )
        for r in results
    ]
    return verdicts + program_trouble(ctx, result, bool(results), problems, bool(verdicts))


@register("exit-code")
def check_exit_code(ctx: CheckContext) -> list[Verdict]:
    """A guest program whose exit status is the verdict (0 unless the scenario says otherwise)."""
    result = _run_program(ctx)
    want = ctx.scenario.expect.get("exit_code", 0) if isinstance(ctx.scenario.expect, dict) else 0
    output = "\n".join(result.output[-200:])
    if result.exit_code == want and not result.timed_out:
        return [ctx.verdict(Status.PASS, f"exit {want}", excerpt=output)]
    return [
        ctx.verdict(
            Status.FAIL,
            f"{result.describe()}, expected exit {want}",
            observed=result.exit_code,
            predicted=want,
            excerpt=output,
        )
    ]


# Suite modules register their own checks; imported last so they can use everything above.
from lab import suites as _suites  # noqa: E402, F401
