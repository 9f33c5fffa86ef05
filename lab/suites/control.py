"""entry-control suite: restart, single-step, fork/clone and raw fast instructions.

Each check runs a self-checking guest program (lab/guest/<program>.c), then compares every
result line with the entry model for this guest (lab.model.predict plus this suite's model
modules: lab.model.restart, singlestep, clone, silicon). A verdict passes only when the guest's
own check passed *and* the model's prediction matches the observation; otherwise it shows both.

raw-fast-insn is judged against silicon: where the guest does what the vendor's silicon would
not, the verdict is a DIVERGENCE naming the accelerator and QEMU version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.checks import (
    Check,
    CheckContext,
    cpu_identity,
    parse_result_lines,
    program_trouble,
)
from lab.errors import GuestError
from lab.model import Prediction, ReturnInsn
from lab.model.clone import predict_child, predict_vfork_parent
from lab.model.restart import RestartCase, expected_restart
from lab.model.silicon import CpuAction, RawInsn, RawPrediction, predict_raw
from lab.model.singlestep import entry_instruction, expected_steps
from lab.report.results import Status, Verdict
from lab.targets.session import CommandResult

__all__ = [
    "RAW_PROBES",
    "compare_fields",
    "judge_fast_return",
    "judge_fork_clone",
    "judge_mremap",
    "judge_raw",
    "judge_restart",
    "judge_single_step",
    "split_test",
]

# (probe argument, instruction, frame) in lab/guest/raw_fast_insn.c
RAW_PROBES: tuple[tuple[str, RawInsn, bool], ...] = (
    ("int80", RawInsn.INT80, True),
    ("sysenter", RawInsn.SYSENTER, True),
    ("sysenter/noframe", RawInsn.SYSENTER, False),
    ("syscall", RawInsn.SYSCALL, True),
    ("syscall/noframe", RawInsn.SYSCALL, False),
)
GUEST_DIES = "guest-kernel-dies"

Judge = Callable[[Prediction, dict[str, Any]], tuple[Status, str, Any]]


def split_test(test: str) -> tuple[str, str, str]:
    """``restart/int80/sa_restart_read`` -> (property, call path, detail)."""
    parts = test.split("/")
    return parts[0], parts[1] if len(parts) > 1 else "", "/".join(parts[2:])


def compare_fields(observed: Any, predicted: dict[str, Any]) -> list[str]:
    """Every predicted key whose observed value differs, as 'key: observed X, predicted Y'."""
    if not isinstance(observed, dict):
        return [f"no observation (got {observed!r})"]
    return [
        f"{key}: observed {observed.get(key)!r}, predicted {want!r}"
        for key, want in predicted.items()
        if observed.get(key) != want
    ]


def _verdict_from(guest_status: str, mismatches: list[str], ok_message: str) -> tuple[Status, str]:
    if mismatches and guest_status == "pass":
        return Status.FAIL, "model and guest disagree: " + "; ".join(mismatches)
    if mismatches:
        return Status.FAIL, "; ".join(mismatches)
    if guest_status != "pass":
        return Status.FAIL, f"guest self-check failed (model matches): {ok_message}"
    return Status.PASS, ok_message


# ---- judges: one result line -> (status, message, predicted) ------------------------------


def judge_restart(pred: Prediction, result: dict[str, Any]) -> tuple[Status, str, Any]:
    _prop, path, case = split_test(result["test"])
    want = expected_restart(pred, path, RestartCase(case))
    mismatches = compare_fields(result.get("observed"), want)
    status, message = _verdict_from(
        result["status"], mismatches, f"{case}: {result.get('message', '')}"
    )
    return status, message, {**want, "model": pred.restart_lands_on}


def judge_single_step(pred: Prediction, result: dict[str, Any]) -> tuple[Status, str, Any]:
    _prop, path, mode = split_test(result["test"])
    steps = expected_steps(pred, path, mode)
    want: dict[str, Any] = {"steps": steps, "regs_kept": True}
    if mode == "tf":
        want["tf_kept"] = True
    else:
        want.update(all_sigtrap=True, reached_return=True, exited=True)
    mismatches = compare_fields(result.get("observed"), want)
    via = "raw int $0x80" if path == "int80" else entry_instruction(pred.path)
    status, message = _verdict_from(
        result["status"], mismatches, f"{mode} through {via}: stepped {' '.join(steps)}"
    )
    if mode == "ptrace":
        note = "syscall_exit_work() reports a step on exit: a stop at the landing pad"
    elif "TF set" in pred.forced_iret_when and path != "int80":
        note = "TF set forces IRET (do_fast_syscall_32): no trap at the landing pad itself"
    else:
        note = "int $0x80 clears TF, IRET restores it: no trap right after the int"
    return status, message, {**want, "model": note}


def _four(slots: Any) -> tuple[str, str, str, str] | None:
    """The guest's four new-stack words, if it reported them."""
    if isinstance(slots, list) and len(slots) == 4 and all(isinstance(w, str) for w in slots):
        return (slots[0], slots[1], slots[2], slots[3])
    return None


def judge_fork_clone(pred: Prediction, result: dict[str, Any]) -> tuple[Status, str, Any]:
    kind, path, stack = split_test(result["test"])
    observed = result.get("observed") if isinstance(result.get("observed"), dict) else {}
    assert isinstance(observed, dict)
    if stack == "child_pushes":  # vfork whose child writes the borrowed stack
        pushed = _four(observed.get("child_pushed"))
        if pushed is None:
            raise ValueError("no child_pushed words in the observation")
        parent = predict_vfork_parent(pred, path, pushed)
        want = {k: v for k, v in parent.to_json().items() if k != "reason"}
        mismatches = [f"parent {m}" for m in compare_fields(observed.get("parent"), want)]
        status, message = _verdict_from(result["status"], mismatches, f"parent {parent.fate}")
        return status, message, {"parent": parent.to_json()}
    setup = observed.get("setup") or {}
    slots = setup.get("slots") if isinstance(setup, dict) else None
    fate = predict_child(
        pred,
        kind,
        path,
        stack or "none",
        _four(slots),
    )
    want_child = {k: v for k, v in fate.to_json().items() if k != "reason"}
    if path == "glibc":  # glibc's registers are not the program's to compare
        want_child = {k: v for k, v in want_child.items() if k in ("fate", "esp_from_newsp")}
    mismatches = [f"child {m}" for m in compare_fields(observed.get("child"), want_child)]
    parent_want = {"ret_is_child_pid": True, "regs_kept": True}
    mismatches += [f"parent {m}" for m in compare_fields(observed.get("parent"), parent_want)]
    status, message = _verdict_from(result["status"], mismatches, f"child {fate.fate}")
    return status, message, {"child": fate.to_json(), "parent": parent_want}


def judge_raw(
    ctx_env: tuple[str, str, str], prediction: RawPrediction, result: dict[str, Any]
) -> tuple[Status, str, Any]:
    """Silicon vs observation. ctx_env = (accel, qemu binary, qemu version)."""
    observed = result.get("observed")
    expected = prediction.expected
    want = {"outcome": expected.outcome, **expected.details}
    mismatches = compare_fields(observed, want)
    predicted = prediction.to_json()
    if not mismatches and result["status"] == "pass":
        return Status.PASS, f"{expected.outcome}: {prediction.silicon.reason}", predicted
    # On silicon there is no emulator to diverge: a mismatch is a plain failure.
    alternatives = prediction.alternatives if ctx_env[0] != "silicon" else {}
    for action, alt in alternatives.items():
        if not compare_fields(observed, {"outcome": alt.outcome, **alt.details}):
            accel, qemu, version = ctx_env
            predicted["emulator_did"] = f"{action.value}: {alt.explanation}"
            assumed = " (assumed)" if prediction.basis.assumed else ""
            return (
                Status.DIVERGENCE,
                f"{prediction.insn.value} on {accel} {qemu} {version}: observed {alt.outcome} "
                f"(the CPU {action.value}), but {prediction.basis.cls.value}{assumed} silicon "
                f"{prediction.silicon.action.value} -> {expected.outcome} "
                f"[{prediction.silicon.source}]",
                predicted,
            )
    return (
        Status.FAIL,
        "observation matches neither silicon nor any other CPU answer: " + "; ".join(mismatches),
        predicted,
    )


# ---- fast return (lab/guest/fast_return.c) ---------------------------------------------------

# What the guest sees at the first user instruction after the return: IRET and ERETU restore
# ecx from pt_regs (the tracer's marker); SYSRETL leaves ecx = eip, SYSEXIT ecx = esp.
_SEEN_AS = {
    ReturnInsn.IRET: "iret",
    ReturnInsn.ERETU: "iret",
    ReturnInsn.SYSRETL: "sysretl",
    ReturnInsn.SYSEXIT: "sysexit",
}


def judge_fast_return(pred: Prediction, result: dict[str, Any]) -> tuple[Status, str, Any]:
    """fast-return/kept must leave by the model's eligible return on every call, fast-return/
    moved (ip off the landing pad) by IRET on every call: do_fast_syscall_32()'s
    ``regs->ip != landing_pad`` test (arch/x86/entry/syscall_32.c:346 in 7.2, entry/common.c in
    6.1). Judged per call, so a mixture shows as counts rather than as an average cost."""
    case = result["test"].split("/")[1]
    obs: dict[str, Any] = result["observed"]
    insn = pred.eligible_return if case == "kept" else ReturnInsn.IRET
    if pred.eligible_return is ReturnInsn.ERETU:
        insn = ReturnInsn.ERETU  # FRED: every return to user mode
    want = _SEEN_AS[insn]
    calls = int(obs["calls"])
    seen = {k: int(obs[k]) for k in ("iret", "sysretl", "sysexit", "other") if int(obs[k])}
    predicted = {"return": insn.value, "calls": calls}
    if seen == {want: calls}:
        return (
            Status.PASS,
            f"{case}: {insn.value} on all {calls} calls, as the model says",
            predicted,
        )
    unseen = calls - sum(seen.values())
    if unseen > 0:  # the breakpoint on the landing pad never stopped those returns
        seen["no breakpoint stop"] = unseen
    counts = ", ".join(f"{k} {v}" for k, v in seen.items()) or "no return observed"
    return Status.FAIL, f"{case}: {counts} of {calls} calls; the model says {insn.value}", predicted


# ---- mremap of the vDSO (lab/guest/mremap_vdso.c) ---------------------------------------------


def judge_mremap(pred: Prediction, result: dict[str, Any]) -> tuple[Status, str, Any]:
    """mremap-vdso: a call that moves the vDSO through __kernel_vsyscall survives when the
    kernel moves its ip: always on 7.x (any ip in the image), on 6.x only when the stub returns
    at the int80 landing pad (D9, arch/x86/entry/vdso/vma.c); mremap-vdso/maps: the data
    mappings below the vDSO (D10)."""
    obs: dict[str, Any] = result["observed"]
    if result["test"] == "mremap-vdso/maps":
        want = " ".join(pred.vvar_mappings)
        ok = obs["below_vdso"] == want
        return (
            Status.PASS if ok else Status.FAIL,
            f"below the vDSO: {obs['below_vdso'] or 'nothing'}"
            + ("" if ok else f"; the model says {want}"),
            {"below_vdso": want},
        )
    at_pad = pred.landing_pad_offset == pred.fast_landing_pad_offset
    survives = pred.mremap_moves_any_ip or at_pad
    why = (
        "vdso_fix_landing() moves any ip in the image"
        if pred.mremap_moves_any_ip
        else f"the stub returns at the landing pad: {at_pad}"
    )
    predicted = {"survived": survives, "why": why}
    ok = bool(obs["survived"]) is survives
    seen = "survived" if obs["survived"] else f"died (signal {obs['signal']}, exit {obs['exit']})"
    return (
        Status.PASS if ok else Status.FAIL,
        f"mremap of the vDSO from inside it: {seen}"
        + ("" if ok else f"; the model says {predicted}"),
        predicted,
    )


# ---- running programs ----------------------------------------------------------------------


def _run(ctx: CheckContext, args: list[str]) -> CommandResult:
    assert ctx.scenario.program is not None
    return ctx.session.run(
        [f"/lab/bin/{ctx.scenario.program}", *ctx.scenario.args, *args],
        timeout=ctx.scenario.timeout_s,
    )


def _verdicts(
    ctx: CheckContext,
    result: CommandResult,
    judge: Judge,
    pred: Prediction,
) -> list[Verdict]:
    """One verdict per result line, judged against the model; program-level problems too."""
    results, problems = parse_result_lines(result.output)
    verdicts = []
    for r in results:
        if r["status"] in ("error", "skip") or "/" not in r["test"]:
            status = Status.ERROR if r["status"] == "error" else Status.SKIP
            verdicts.append(ctx.verdict(status, str(r.get("message", "")), path=r["test"]))
            continue
        try:
            status, message, predicted = judge(pred, r)
        except (ValueError, KeyError, TypeError) as exc:
            status, message, predicted = Status.ERROR, f"cannot judge: {exc}", None
        verdicts.append(
            ctx.verdict(
                status,
                message,
                path=r["test"],
                observed=r.get("observed"),
                predicted=predicted,
                excerpt="" if status is Status.PASS else str(r.get("message", "")),
            )
        )
    return verdicts + program_trouble(ctx, result, bool(results), problems, bool(verdicts))


def _prediction(ctx: CheckContext) -> Prediction:
    return ctx.prediction()


def check_restart(ctx: CheckContext) -> list[Verdict]:
    """syscall-restart: SA_RESTART, restart_syscall and ptrace-driven restarts per call path."""
    return _verdicts(ctx, _run(ctx, []), judge_restart, _prediction(ctx))


def check_single_step(ctx: CheckContext) -> list[Verdict]:
    """single-step: TF and PTRACE_SINGLESTEP through each path, eips against the decoded stub."""
    return _verdicts(ctx, _run(ctx, []), judge_single_step, _prediction(ctx))


def check_fork_clone(ctx: CheckContext) -> list[Verdict]:
    """fork-clone: where parent and child resume, against lab/model/clone.py."""
    return _verdicts(ctx, _run(ctx, []), judge_fork_clone, _prediction(ctx))


def check_fast_return(ctx: CheckContext) -> list[Verdict]:
    """fast-return: the return instruction of traced vDSO calls, observed per call."""
    return _verdicts(ctx, _run(ctx, []), judge_fast_return, _prediction(ctx))


def check_mremap(ctx: CheckContext) -> list[Verdict]:
    """mremap-vdso: the vDSO moved by a call made through it, against vdso_fix_landing()."""
    return _verdicts(ctx, _run(ctx, []), judge_mremap, _prediction(ctx))


def raw_order(predictions: dict[str, RawPrediction]) -> list[str]:
    """Probes that might kill the guest kernel (under any CPU answer) go last."""

    def deadly(name: str) -> bool:
        p = predictions[name]
        outcomes = [p.expected, *p.alternatives.values()]
        return any(o.outcome == GUEST_DIES for o in outcomes)

    return sorted(predictions, key=lambda n: (deadly(n), [p[0] for p in RAW_PROBES].index(n)))


def check_raw_fast_insn(ctx: CheckContext) -> list[Verdict]:
    """raw-fast-insn: one probe per run, each judged against silicon (lab/model/silicon.py).

    A probe that kills the guest kernel ends the scenario with a GuestError (the engine records
    the console excerpt and reboots); the message names the prediction and what finished before.
    """
    cpu = cpu_identity(ctx.identity)
    bits = ctx.identity.kernel_bits
    pad = _prediction(ctx).fast_landing_pad_offset
    predictions = {
        name: predict_raw(insn, cpu, bits, frame=frame, landing_pad_offset=pad)
        for name, insn, frame in RAW_PROBES
    }
    env = (ctx.env.accel, ctx.env.qemu, ctx.env.qemu_version)
    verdicts: list[Verdict] = []
    for name in raw_order(predictions):
        p = predictions[name]
        try:
            result = _run(ctx, [name])
        except GuestError as exc:
            done = ", ".join(f"{v.path}: {v.status.value}" for v in verdicts) or "nothing"
            silicon = p.to_json()
            dies = GUEST_DIES in [p.expected.outcome] + [a.outcome for a in p.alternatives.values()]
            executes = p.alternatives.get(CpuAction.EXECUTES)
            why = (
                f"as predicted if the CPU executes it: {executes.explanation}"
                if dies and executes is not None
                else f"model expected {p.expected.outcome}"
            )
            message = (
                f"raw-fast-insn/{name} killed the guest ({exc.kind}: {exc.reason}) on {env[0]} "
                f"{env[1]} {env[2]}; silicon ({silicon['silicon']}) -> {p.expected.outcome}; "
                f"{why}. Finished before: {done}"
            )
            # Silicon would not have died: the emulator's behaviour is the finding.
            status = Status.ERROR if p.expected.outcome == GUEST_DIES else Status.DIVERGENCE
            death = ctx.verdict(
                status,
                message,
                path=f"raw-fast-insn/{name}",
                observed={"outcome": f"guest {exc.kind}"},
                predicted=silicon,
                excerpt=exc.excerpt,
            )
            raise GuestError(
                exc.profile, exc.kind, message, exc.excerpt, verdicts=[*verdicts, death]
            ) from exc
        verdicts += _verdicts(ctx, result, _raw_judge(env, p), _prediction(ctx))
    return verdicts


def _raw_judge(env: tuple[str, str, str], prediction: RawPrediction) -> Judge:
    def judge(_pred: Prediction, result: dict[str, Any]) -> tuple[Status, str, Any]:
        return judge_raw(env, prediction, result)

    return judge


# What scenario files may name in `check:` (collected by lab.suites.load_catalog).
CHECKS: dict[str, Check] = {
    "control-restart": check_restart,
    "control-single-step": check_single_step,
    "control-fork-clone": check_fork_clone,
    "control-fast-return": check_fast_return,
    "control-mremap": check_mremap,
    "control-raw-fast-insn": check_raw_fast_insn,
}
