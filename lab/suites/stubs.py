"""entry-stubs suite (scenarios/entry-stubs.yaml): the vDSO's CFI; stub designs run in user space.

``vdso-cfi``: the guest's own vDSO image is checked statically (lab.model.cfi: the CFI rows of
``__kernel_vsyscall`` against the pushes and pops of the decoded stub, instruction by
instruction, and the sigreturn trampolines' expressions against the signal frame layout), then
lab/guest/vdso_cfi.c unwinds with libgcc from inside the stub -- from a signal that interrupted a
blocked read(), and from every single-step stop -- and the interrupted pcs and stops are compared
with what the static model says. The trampolines are judged by the booted kernel's series
(``ctx.kernel.series7``): on 7.2+ libgcc reaches them from a handler through its code-pattern
fallback, not their FDEs (sigreturn.S:28-55 in 7.2), so ``unwind-trampoline/rt`` also stops
inside __kernel_rt_sigreturn, where libgcc does use the vDSO's FDE.

``stub-variants``: lab/guest/stub_variants.c runs nine stub designs (the 2015 proposal, the
shipped stub, Linux 4.2's per-method stubs) through three properties; each observation is
compared with lab.model.variants for this kernel and CPU, on the executor the guest ran on (TCG)
and on real silicon: agreement with the emulator but not with silicon is a divergence. Designs
the model says would kill the guest kernel are not run (SKIP, with the reason).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lab.checks import Check, CheckContext, cpu_identity, parse_result_lines
from lab.fsutil import atomic_write
from lab.model import StubError, VdsoError, parse_vdso
from lab.model.cfi import (
    CfiError,
    check_sigreturn_cfi,
    check_stub_cfi,
    single_step_stops,
    trampoline_stops,
    vdso_fdes,
)
from lab.model.variants import (
    PROPERTIES,
    VARIANTS,
    Executor,
    Platform,
    Prediction,
    RoleOutcome,
    Variant,
    predict_variant,
    qemu_version_tuple,
    strip_pad_marker,
)
from lab.report.results import Status, Verdict, worst
from lab.targets.session import CommandResult

__all__ = [
    "BLOCKED_PATHS",
    "compare_role",
    "expected_cfi_tests",
    "judge_blocked",
    "judge_step",
    "judge_trampoline",
    "judge_variant",
    "platform_for",
]

BLOCKED_PATHS = ("at_sysinfo", "vdso_sym", "int80", "glibc")
STEP_PATHS = ("at_sysinfo", "vdso_sym")
# Printed by the guest program since the 7.x work; judged when present (the captures of the
# older program in tests/data/entry-stubs lack them): test -> the trampoline it steps through.
TRAMPOLINE_TESTS = {
    "unwind-trampoline/rt": "__kernel_rt_sigreturn",
    "unwind-trampoline/sigreturn": "__kernel_sigreturn",
}


def expected_cfi_tests() -> tuple[str, ...]:
    """The result lines vdso_cfi prints."""
    return (
        *(f"unwind-blocked/{p}/{m}" for p in BLOCKED_PATHS for m in ("eintr", "restart")),
        *(f"unwind-step/{p}" for p in STEP_PATHS),
    )


def _run(ctx: CheckContext, argv: list[str]) -> CommandResult:
    assert ctx.scenario.program is not None
    return ctx.session.run(
        [f"/lab/bin/{ctx.scenario.program}", *argv], timeout=ctx.scenario.timeout_s
    )


def _by_test(
    ctx: CheckContext, result: CommandResult
) -> tuple[dict[str, dict[str, Any]], list[Verdict]]:
    """The guest's result lines by test name, and ERROR verdicts for broken output."""
    results, problems = parse_result_lines(result.output)
    excerpt = "\n".join(result.output[-100:])
    errors = [
        ctx.verdict(Status.ERROR, "unparseable guest output: " + p, excerpt=excerpt)
        for p in problems
    ]
    if not result.ok:
        errors.append(
            ctx.verdict(
                Status.ERROR,
                f"{ctx.scenario.program}: {result.describe()}",
                excerpt=excerpt,
            )
        )
    return {r["test"]: r for r in results}, errors


# ---- vdso-cfi ----


def judge_blocked(
    test: str,
    observed: Mapping[str, Any],
    pad: int,
    int80: int,
    guest_ok: bool,
    *,
    series7: bool = False,
) -> tuple[Status, str, dict[str, Any]]:
    """One ``unwind-blocked/<path>/<mode>`` result against the model.

    Without SA_RESTART the handler interrupts the call at int80_landing_pad (-EINTR comes back
    there); with it arch_do_signal_or_restart() has already moved ip back 2 bytes, onto the
    stub's int $0x80. The walk must go through __kernel_rt_sigreturn.

    ``fde_trampoline`` is libgcc's own lookup for the trampoline frame from the handler, at
    __kernel_rt_sigreturn - 1 (the handler's frame is not a signal frame, so libgcc subtracts
    1): the vDSO's FDE on 6.x, which starts there (6.1 sigreturn.S:56-62); nothing on 7.2+,
    whose FDE starts at the symbol with a byte outside every function before it, so that
    libgcc uses its code-pattern fallback instead (7.2 sigreturn.S:28-55; lab.model.cfi).
    ``fde_trampoline_pc`` (lookup at the symbol itself) is the vDSO's FDE on every series.
    ``tramp_cfa`` is the CFA libgcc computed for the trampoline frame: the interrupted esp
    both ways (6.x FDE: *(esp+sc+28); libgcc's fallback: sc->esp). The last two are checked
    when the guest reports them (captures of the older guest program lack them).
    """
    _, path, mode = test.split("/")
    if path == "int80":
        where = "caller:cfi_int80_ret" + ("-2" if mode == "restart" else "")
        chain = ["vdso:__kernel_rt_sigreturn", f"{where} (S)"]
        fde = "none"  # the lab's own asm caller has no CFI; its frame is the last one
    else:
        where = f"vdso:__kernel_vsyscall+0x{int80 if mode == 'restart' else pad:x}"
        chain = ["vdso:__kernel_rt_sigreturn", f"{where} (S)"]
        chain.append("glibc:read+" if path == "glibc" else "caller:cfi_call_ret")
        fde = "vdso"
    predicted = {
        "interrupted": where,
        "frames_after_handler": chain,
        "fde_interrupted": fde,
        "fde_trampoline": "none" if series7 else "vdso",
        "read": 1 if mode == "restart" else -4,
        "fde_trampoline_pc": "vdso",
        "tramp_cfa": "saved_esp",
    }
    frames = [str(f) for f in observed.get("frames", [])]
    try:
        start = frames.index("vdso:__kernel_rt_sigreturn")
    except ValueError:
        start = len(frames)
    got = frames[start : start + len(chain)]
    problems = []
    if observed.get("interrupted") != where:
        problems.append(f"interrupted at {observed.get('interrupted')}, predicted {where}")
    if len(got) != len(chain) or any(not g.startswith(c) for g, c in zip(got, chain, strict=False)):
        problems.append(f"frames {got} after the handler, predicted {chain}")
    for key in ("fde_interrupted", "fde_trampoline", "read"):
        if observed.get(key) != predicted[key]:
            problems.append(f"{key} {observed.get(key)!r}, predicted {predicted[key]!r}")
    for key in ("fde_trampoline_pc", "tramp_cfa"):
        if key in observed and observed.get(key) != predicted[key]:
            problems.append(f"{key} {observed.get(key)!r}, predicted {predicted[key]!r}")
    if not guest_ok:
        problems.append("the guest's own check failed")
    if problems:
        return Status.FAIL, "; ".join(problems), predicted
    if series7:
        return (
            Status.PASS,
            (
                f"unwound from {where} to the caller; libgcc found no FDE at "
                "__kernel_rt_sigreturn-1 and took the trampoline frame from its code-pattern "
                "fallback, not from the vDSO's CFI (7.2 sigreturn.S:28-55, GCC PR 124050)"
            ),
            predicted,
        )
    return Status.PASS, f"unwound from {where} through the vDSO's CFI to the caller", predicted


def judge_step(
    observed: Mapping[str, Any], stops: tuple[int, ...], guest_ok: bool
) -> tuple[Status, str, dict[str, Any]]:
    """One ``unwind-step/<path>`` result: the stops must be the predicted ones, all unwound."""
    seen = [int(s.get("offset", -1)) for s in observed.get("stops", [])]
    bad = [s for s in observed.get("stops", []) if not s.get("ok")]
    predicted = {"stops": list(stops), "all_unwind": True, "returned": True}
    problems = []
    if tuple(seen) != stops:
        problems.append(f"stopped at {seen}, predicted {list(stops)}")
    if bad:
        problems.append(f"{len(bad)} stops did not unwind: {bad[:3]}")
    if not observed.get("returned") or not observed.get("getppid_ok"):
        problems.append("the call did not come back right")
    if not guest_ok and not problems:
        problems.append("the guest's own check failed")
    if problems:
        return Status.FAIL, "; ".join(problems), predicted
    offsets = ", ".join(f"+{s}" for s in stops)
    return Status.PASS, f"unwound to the caller from every stop ({offsets})", predicted


def judge_trampoline(
    observed: Mapping[str, Any],
    stops: tuple[int, ...],
    pad: int,
    guest_ok: bool,
    *,
    series7: bool = False,
    symbol: str = "__kernel_rt_sigreturn",
) -> tuple[Status, str, dict[str, Any]]:
    """``unwind-trampoline/rt``: SIGTRAP stops in the SIGALRM frame's __kernel_rt_sigreturn
    (``unwind-trampoline/sigreturn``: in its __kernel_sigreturn, ``symbol``, the handler
    installed without SA_SIGINFO; its ``popl %eax`` moves esp, not the CFA).

    There libgcc looks the trampoline up at its pc (the frame before is a signal frame), so
    the vDSO's own CFI unwinds it on every series: the CFA it gives the trampoline frame is
    the sigcontext's address on 7.2+ (``CFI_DEF_CFA esp, sc - 4``, 7.2 sigreturn.S:11) and the
    saved esp on 6.x (DW_CFA_def_cfa_expression *(esp+sc+28), 6.1 sigreturn.S:75-80). SIGTRAP's
    own trampoline frame, reached from the handler, is the saved esp both ways (FDE at
    symbol - 1 on 6.x, libgcc's fallback on 7.x). Then the landing pad SIGALRM interrupted
    and the caller, with its registers (checked by the guest).
    """
    predicted: dict[str, Any] = {
        "stops": list(stops),
        "frames_after_handler_at_0": [
            "vdso:__kernel_rt_sigreturn",
            f"vdso:{symbol} (S)",
            f"vdso:__kernel_vsyscall+0x{pad:x} (S)",
            "caller:cfi_call_ret",
        ],
        "fde_pc": "vdso",
        "tramp_cfa": "sigcontext" if series7 else "saved_esp",
        "outer_cfa": "saved_esp",
        "fde_trampoline": "none" if series7 else "vdso",
        "fde_trampoline_pc": "vdso",
        "interrupted": f"vdso:__kernel_vsyscall+0x{pad:x}",
        "stray": 0,
        "read": -4,
    }
    problems = []
    seen = [s for s in observed.get("stops", []) if isinstance(s, dict)]
    if [s.get("offset") for s in seen] != list(stops):
        problems.append(f"stopped at {[s.get('offset') for s in seen]}, predicted {list(stops)}")
    for s in seen:
        off = s.get("offset")
        walk = s.get("walk") if isinstance(s.get("walk"), dict) else {}
        assert isinstance(walk, dict)
        if not s.get("ok"):
            problems.append(f"+{off}: {s.get('why')}")
        frames = [str(f) for f in walk.get("frames", [])]
        here = f"vdso:{symbol}" + (f"+0x{off:x}" if off else "") + " (S)"
        chain = [predicted["frames_after_handler_at_0"][0], here]
        chain += predicted["frames_after_handler_at_0"][2:]
        try:
            start = frames.index(chain[0])
        except ValueError:
            start = len(frames)
        if frames[start : start + len(chain)] != chain:
            problems.append(f"+{off}: frames {frames[start:]} after the handler, predicted {chain}")
        for key in ("fde_pc", "tramp_cfa", "outer_cfa"):
            if walk.get(key) != predicted[key]:
                problems.append(f"+{off}: {key} {walk.get(key)!r}, predicted {predicted[key]!r}")
    for key in ("fde_trampoline", "fde_trampoline_pc", "interrupted", "stray", "read"):
        if observed.get(key) != predicted[key]:
            problems.append(f"{key} {observed.get(key)!r}, predicted {predicted[key]!r}")
    if not guest_ok and not problems:
        problems.append("the guest's own check failed")
    if problems:
        return Status.FAIL, "; ".join(problems[:6]), predicted
    rule = (
        "CFA = &sigcontext (7.x CFI_DEF_CFA esp, sc-4)"
        if series7
        else "CFA = *(esp+sc+28) (6.x expressions)"
    )
    return (
        Status.PASS,
        (
            f"from every stop in {symbol} ({', '.join(f'+{s}' for s in stops)}) "
            f"libgcc unwound the trampoline with the vDSO's FDE ({rule}) to the landing pad and "
            "the caller, registers recovered"
        ),
        predicted,
    )


def check_vdso_cfi(ctx: CheckContext) -> list[Verdict]:
    """The vDSO's CFI: statically against the decoded stub, then at run time with libgcc."""
    image = ctx.session.vdso()
    atomic_write(ctx.artefacts / "vdso-cfi.vdso.so", image)
    try:
        vdso = parse_vdso(image)
        fdes = vdso_fdes(vdso)
        report = check_stub_cfi(vdso, fdes)
        series7 = ctx.kernel is not None and ctx.kernel.series7
        trampolines = check_sigreturn_cfi(vdso, fdes, cfa_is_sigcontext=series7)
        stub = vdso.stub()
    except (VdsoError, StubError, CfiError) as exc:
        return [ctx.verdict(Status.FAIL, f"cannot read the vDSO's CFI: {exc}")]
    verdicts = [
        ctx.verdict(
            Status.PASS if report.ok else Status.FAIL,
            (
                "CFA and saved-register rules match the pushes and pops at all "
                f"{len(report.steps)} instruction boundaries of __kernel_vsyscall "
                f"({stub.path.value} stub, FDE 0x{report.fde_range[0]:x}-0x{report.fde_range[1]:x})"
                if report.ok and report.fde_range
                else "; ".join(report.all_problems()[:6])
            ),
            path="cfi-static/__kernel_vsyscall",
            observed=report.to_json(),
            predicted={"listing": stub.listing()},
        )
    ]
    for t in trampolines:
        if not t.ok:
            message = "; ".join(t.problems[:6])
        elif series7:
            assert ctx.kernel is not None
            message = (
                f"'S' CIE, FDE from {t.symbol}, CFA = &sigcontext (esp+sc-4) and eip, eax..edi, "
                "esp, es/cs/ss/ds, eflags at their sigcontext_32 offsets at every instruction "
                "through the ud2; from a handler libgcc finds no FDE at the symbol - 1 and "
                "unwinds by its code-pattern fallback instead (the code bytes match) -- "
                + ctx.kernel.cite("arch/x86/entry/vdso/vdso32/sigreturn.S:7-26,28-55")
            )
        else:
            message = (
                f"'S' CIE, FDE from {t.symbol}-1, CFA and eax..edi/eip at the sigcontext of "
                "the signal frame"
            )
        verdicts.append(
            ctx.verdict(
                Status.PASS if t.ok else Status.FAIL,
                message,
                path=f"cfi-static/{t.symbol}",
                observed=t.to_json(),
            )
        )
    pad, int80 = stub.landing_pad_offset, stub.int80_offset
    assert pad is not None and int80 is not None
    result = _run(ctx, [])
    found, errors = _by_test(ctx, result)
    stops = single_step_stops(stub)
    for test in expected_cfi_tests():
        r = found.pop(test, None)
        if r is None:
            verdicts.append(ctx.verdict(Status.ERROR, "no result from the guest", path=test))
            continue
        observed = r.get("observed") if isinstance(r.get("observed"), dict) else {}
        assert isinstance(observed, dict)
        guest_ok = r["status"] == "pass"
        if test.startswith("unwind-step/"):
            status, message, predicted = judge_step(observed, stops, guest_ok)
        else:
            status, message, predicted = judge_blocked(
                test, observed, pad, int80, guest_ok, series7=series7
            )
            if status is Status.PASS and not report.ok:
                status, message = Status.FAIL, "unwound, although the static check found problems"
        verdicts.append(
            ctx.verdict(status, message, path=test, observed=observed, predicted=predicted)
        )
    for test, symbol in TRAMPOLINE_TESTS.items():
        r = found.pop(test, None)
        if r is None:
            continue
        observed = r.get("observed") if isinstance(r.get("observed"), dict) else {}
        assert isinstance(observed, dict)
        try:
            tstops = trampoline_stops(vdso, symbol)
        except CfiError as exc:
            verdicts.append(ctx.verdict(Status.FAIL, str(exc), path=test))
            continue
        status, message, predicted = judge_trampoline(
            observed, tstops, pad, r["status"] == "pass", series7=series7, symbol=symbol
        )
        verdicts.append(
            ctx.verdict(status, message, path=test, observed=observed, predicted=predicted)
        )
    for test in found:
        verdicts.append(ctx.verdict(Status.ERROR, "unexpected result line", path=test))
    return verdicts + errors


# ---- stub-variants ----


def platform_for(ctx: CheckContext, executor: Executor | None = None) -> Platform:
    """The variants model's view of this guest; TCG unless the guest ran under KVM."""
    if executor is None:
        executor = Executor.TCG if ctx.env.accel == "tcg" else Executor.SILICON
    return Platform(
        ctx.identity.kernel_bits,
        cpu_identity(ctx.identity),
        executor,
        qemu_version_tuple(ctx.env.qemu_version),
    )


def _changed(role: Mapping[str, Any]) -> dict[str, str]:
    changed = role.get("changed")
    return {str(k): str(v) for k, v in changed.items()} if isinstance(changed, dict) else {}


def compare_role(name: str, predicted: RoleOutcome, observed: Any) -> list[str]:
    """Where one process's observation differs from the model's outcome (empty: agrees)."""
    if not isinstance(observed, dict):
        return [f"{name}: no report (predicted {predicted.outcome})"]
    problems = []
    outcome = observed.get("outcome")
    if outcome != predicted.outcome:
        return [f"{name}: {outcome}, predicted {predicted.outcome}"]
    want = predicted.to_json()
    if outcome.startswith("SIG"):
        for key in ("eip", "esp"):
            if want.get(key) and observed.get(key) != want[key]:
                problems.append(f"{name}: {key} {observed.get(key)}, predicted {want[key]}")
        return problems
    if _changed(observed) != want.get("changed", {}):
        problems.append(f"{name}: changed {_changed(observed)}, predicted {want.get('changed')}")
    for key in ("result", "own_pad", "interrupted_at"):
        if key in want and want[key] != "" and observed.get(key) != want[key]:
            problems.append(f"{name}: {key} {observed.get(key)!r}, predicted {want[key]!r}")
    if predicted.interrupted_at and observed.get("handler_runs") != 1:
        problems.append(f"{name}: the handler ran {observed.get('handler_runs')} times, not once")
    return problems


def _agrees(pred: Prediction, observed: Mapping[str, Any]) -> list[str]:
    problems = compare_role("caller", pred.caller, observed.get("caller"))
    if pred.child is not None:
        problems += compare_role("child", pred.child, observed.get("child"))
    elif observed.get("child") not in (None, "null"):
        problems.append("child: reported, but the model has no fork happening")
    return problems


def _describe(pred: Prediction) -> str:
    c = pred.caller
    text = c.outcome
    if c.outcome.startswith("SIG"):
        text += f" at {c.eip}" + (f" (esp {c.esp})" if c.esp else "")
    elif c.result not in ("", "ok"):
        text += f" ({c.result})"
    if c.outcome in ("ok", "flags-changed") and c.own_pad is False:
        text += ", back through the vDSO's landing pad"
    return text


def judge_variant(
    v: Variant, prop: str, observed: Mapping[str, Any], here: Prediction, silicon: Prediction
) -> tuple[Status, str]:
    """Status and message of one ``<prop>/<variant>`` observation.

    PASS: as the model predicts for the executor the guest ran on (and silicon agrees or is
    unknown). DIVERGENCE: as predicted for the emulator, but real silicon would do otherwise.
    FAIL: not what the model predicts.
    """
    stub_hex = str(observed.get("stub", ""))
    try:
        code, _ = strip_pad_marker(bytes.fromhex(stub_hex.replace(" ", "")))
    except ValueError:
        code = b""
    if code != v.code:
        return Status.FAIL, (
            f"the guest's stub is not {v.name} as written: {code.hex(' ')} != {v.code.hex(' ')}"
        )
    problems = _agrees(here, observed)
    if problems:
        return Status.FAIL, f"{prop} through {v.name}: " + "; ".join(problems)
    compat = "compatible" if here.compatible else "incompatible"
    message = f"{compat} as predicted: {_describe(here)}"
    if here.executor is Executor.TCG:
        if silicon.compatible is None or silicon.caller.outcome == "unknown":
            return Status.PASS, message + "; real silicon: unknown (no documentation)"
        if silicon.caller.outcome != here.caller.outcome:
            return Status.DIVERGENCE, (
                f"{message}; on real silicon: {_describe(silicon)} -- "
                f"{silicon.why[0] if silicon.why else ''}"
            )
    return Status.PASS, message


def check_stub_variants(ctx: CheckContext) -> list[Verdict]:
    """Each stub design x property, compared with lab.model.variants (emulator and silicon)."""
    here_platform = platform_for(ctx)
    silicon_platform = platform_for(ctx, Executor.SILICON)
    wanted = [str(a) for a in ctx.scenario.args] or [v.name for v in VARIANTS]
    preds: dict[tuple[str, str], tuple[Prediction, Prediction]] = {}
    run: list[Variant] = []
    verdicts: list[Verdict] = []
    per_variant: dict[str, list[Verdict]] = {}
    for v in VARIANTS:
        if v.name not in wanted:
            continue
        for prop in PROPERTIES:
            preds[(v.name, prop)] = (
                predict_variant(v, prop, here_platform),
                predict_variant(v, prop, silicon_platform),
            )
        if any(preds[(v.name, p)][0].caller.outcome == "panic" for p in PROPERTIES):
            for prop in PROPERTIES:
                here, silicon = preds[(v.name, prop)]
                per_variant.setdefault(v.name, []).append(
                    ctx.verdict(
                        Status.SKIP,
                        "not run: the model predicts a guest kernel panic here -- "
                        + " ".join(here.why[-1:])
                        + " (observed once: tests/data/entry-stubs/"
                        "intel-sep-proposal-2015-syscall-panic.console.log); real silicon: "
                        + _describe(silicon),
                        path=f"{prop}/{v.name}",
                        predicted={"here": here.to_json(), "silicon": silicon.to_json()},
                    )
                )
            continue
        run.append(v)
    found: dict[str, dict[str, Any]] = {}
    if run:
        result = _run(ctx, [v.name for v in run])
        found, errors = _by_test(ctx, result)
        verdicts += errors
    for v in run:
        for prop in PROPERTIES:
            test = f"{prop}/{v.name}"
            here, silicon = preds[(v.name, prop)]
            predicted = {"here": here.to_json(), "silicon": silicon.to_json()}
            r = found.pop(test, None)
            if r is None:
                per_variant.setdefault(v.name, []).append(
                    ctx.verdict(
                        Status.ERROR, "no result from the guest", path=test, predicted=predicted
                    )
                )
                continue
            observed = r.get("observed") if isinstance(r.get("observed"), dict) else {}
            assert isinstance(observed, dict)
            status, message = judge_variant(v, prop, observed, here, silicon)
            per_variant.setdefault(v.name, []).append(
                ctx.verdict(status, message, path=test, observed=observed, predicted=predicted)
            )
    for test in found:
        verdicts.append(ctx.verdict(Status.ERROR, "unexpected result line", path=test))
    for v in VARIANTS:
        if v.name not in per_variant:
            continue
        rows = per_variant[v.name]
        verdicts += rows
        verdicts.append(_summary(ctx, v, rows, [preds[(v.name, p)] for p in PROPERTIES]))
    return verdicts


def _compat_text(preds: Iterable[Prediction]) -> str:
    values = [p.compatible for p in preds]
    if any(c is None for c in values):
        return "unknown"
    return "yes" if all(values) else "no"


def _summary(
    ctx: CheckContext, v: Variant, rows: list[Verdict], preds: list[tuple[Prediction, Prediction]]
) -> Verdict:
    """``compatible/<variant>``: does the design work with this kernel's entry code?"""
    status = worst([r.status for r in rows])
    here = _compat_text(p[0] for p in preds)
    silicon = _compat_text(p[1] for p in preds)
    first_bad = next((p[0] for p in preds if p[0].compatible is False), None)
    why = f" ({first_bad.prop}: {_describe(first_bad)})" if first_bad else ""
    executor = preds[0][0].executor.value
    return ctx.verdict(
        status,
        f"{v.name}: compatible on {executor}: {here}{why}; on real silicon: {silicon} "
        f"[{', '.join(f'{r.path}={r.status.value}' for r in rows)}]",
        path=f"compatible/{v.name}",
        observed={
            r.path: r.observed["caller"].get("outcome")
            for r in rows
            if isinstance(r.observed, dict) and isinstance(r.observed.get("caller"), dict)
        },
        predicted={
            executor: here,
            "silicon": silicon,
            "source": v.source,
            "why": list(first_bad.why) if first_bad else [],
        },
    )


# What scenario files may name in `check:` (collected by lab.suites.load_catalog).
CHECKS: dict[str, Check] = {
    "vdso-cfi": check_vdso_cfi,
    "stub-variants": check_stub_variants,
}
