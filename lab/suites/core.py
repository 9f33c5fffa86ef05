"""Core suite: what every profile must show before anything else is worth testing
(scenarios/core.yaml), and the two generic checks any scenario may use: ``results`` (the guest
program judges itself, one verdict per result line) and ``exit-code``."""

from __future__ import annotations

from typing import Any

from lab.checks import (
    RESULT_STATUS,
    Check,
    CheckContext,
    parse_result_lines,
    program_trouble,
    run_program,
)
from lab.fsutil import atomic_write
from lab.model import EntryPath, Prediction, StubError, StubLayout, VdsoError, parse_vdso
from lab.model.stub import shipped_stub_bytes
from lab.report.results import Status, Verdict


def expected_layout(p: Prediction) -> StubLayout:
    """The stub generation the booted kernel ships: 4.3+'s up to 6.12; from 7.2 the SYSFAST32
    stub, or `int $0x80; ret` when no fast path is patched in (docs/kernel-versions.md D2, D4)."""
    if p.kernel is None or not p.kernel.series7:
        return StubLayout.SHIPPED
    return StubLayout.INT80_ONLY if p.path is EntryPath.INT80 else StubLayout.SYSFAST32


def _expected_entry(ctx: CheckContext) -> dict[str, Any]:
    """What the stub should be: the model's prediction, or explicit values from the scenario."""
    bits = ctx.identity.kernel_bits
    if ctx.scenario.expect == "model":
        p = ctx.prediction()
        return {
            "path": p.path.value,
            "layout": expected_layout(p).value,
            "stub_hex": p.expected_stub_hex,
            "source": "model",
            "reason": p.selection.reason,
            "kernel_rules": p.rules,
            "assumed": p.assumed,
        }
    explicit = dict(ctx.scenario.expect) if isinstance(ctx.scenario.expect, dict) else {}
    if "path" in explicit and "stub_hex" not in explicit:
        explicit["stub_hex"] = shipped_stub_bytes(EntryPath(explicit["path"]), bits).hex(" ")
    explicit["source"] = f"explicit expectation in {ctx.scenario.source}"
    return explicit


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


def check_results(ctx: CheckContext) -> list[Verdict]:
    """A self-checking guest program: one verdict per JSON result line it prints."""
    result = run_program(ctx)
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


def check_exit_code(ctx: CheckContext) -> list[Verdict]:
    """A guest program whose exit status is the verdict (0 unless the scenario says otherwise)."""
    result = run_program(ctx)
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


# What scenario files may name in `check:` (collected by lab.suites.load_catalog).
CHECKS: dict[str, Check] = {
    "vdso-entry": check_vdso_entry,
    "results": check_results,
    "exit-code": check_exit_code,
}
