"""Host-side checks: turn what a guest showed into verdicts against the entry model.

A check gets a CheckContext (the booted guest, its identity, the scenario) and returns verdicts.
Suites (lab/suites/) export the checks scenario files may name in `check:` as a module-level
``CHECKS`` mapping; lab.suites.load_catalog() collects them. This module is the API they share:
the context, and the reading of guest programs' result lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.config.profiles import Profile
from lab.config.scenarios import Scenario
from lab.model import (
    CpuIdentity,
    KernelFacts,
    Prediction,
    predict,
)
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
    layers: Mapping[str, Any] = field(default_factory=dict)  # what each layer's build returned
    # The booted kernel as the model sees it (version, config, command line); None: the 6.1 model
    kernel: KernelFacts | None = None

    def prediction(self) -> Prediction:
        """The model's prediction for this guest: its CPU on its kernel (version-aware)."""
        return predict(self.identity.kernel_bits, cpu_identity(self.identity), kernel=self.kernel)

    def verdict(self, status: Status, message: str, **kw: Any) -> Verdict:
        return Verdict(
            self.profile.name,
            self.scenario.name,
            status,
            message,
            env=self.env,
            suite=self.scenario.suite,
            cell=self.env.cell if self.env else "",
            **kw,
        )


Check = Callable[[CheckContext], list[Verdict]]


def cpu_identity(identity: GuestIdentity) -> CpuIdentity:
    """The model's view of a booted guest's CPU."""
    return CpuIdentity(
        identity.vendor, identity.flags, identity.family, identity.model, identity.stepping
    )


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


def run_program(ctx: CheckContext) -> CommandResult:
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
