"""entry-abi suite (scenarios/entry-abi.yaml): what a 32-bit caller observes, per call path.

Four guest programs (lab/guest/regs_preserved.c, ptrace_modify.c, sigreturn_modify.c,
auxv_symbol.c) print one JSON result per ``<scenario>/<callpath>/<detail>``, with what they saw
and their own check against the documented design. The checks here recompute the verdict from
the entry model's Prediction for the guest (lab.model.abi_paths) and put observed and predicted
side by side; where the guest's own check disagrees with the model, the message says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.checks import (
    RESULT_STATUS,
    Check,
    CheckContext,
    parse_result_lines,
)
from lab.model import Prediction
from lab.model.abi_paths import (
    GUEST_PATHS,
    SIGRETURN_MODES,
    default_selectors,
    ptrace_prediction,
    regs_prediction,
    sigreturn_prediction,
)
from lab.report.results import Status, Verdict

__all__ = [
    "EXPECTED_TESTS",
    "Facts",
    "Judgement",
    "judge",
    "judge_auxv",
    "judge_ptrace",
    "judge_regs",
    "judge_sigreturn",
    "judge_tracer_nr",
]

EXPECTED_TESTS: dict[str, tuple[str, ...]] = {
    "tracer-nr": tuple(f"tracer-nr/{p}/out-of-range" for p in ("int80", "at_sysinfo", "vdso_sym")),
    "regs-preserved": tuple(
        f"regs-preserved/{p}/{v}" for p in GUEST_PATHS for v in ("sentinels", "ldt-selectors")
    ),
    "ptrace-modify": tuple(
        f"ptrace-modify/{p}/{k}" for p in GUEST_PATHS for k in ("entry", "exit")
    ),
    "sigreturn-modify": tuple(
        f"sigreturn-modify/{p}/{m}" for p in GUEST_PATHS for m in SIGRETURN_MODES
    ),
    "auxv-symbol": (
        "auxv-symbol/vdso_sym/elf",
        "auxv-symbol/vdso_sym/equals-at_sysinfo",
        "auxv-symbol/glibc/sysinfo",
        *(f"auxv-symbol/{p}/landing-pad" for p in GUEST_PATHS),
    ),
}


@dataclass(frozen=True)
class Judgement:
    """A model comparison: problems (empty = agrees), a summary, and the prediction used."""

    problems: list[str]
    summary: str
    predicted: Any


@dataclass(frozen=True)
class Facts:
    """What the host knows beyond the Prediction (from the agent's READY line)."""

    vsyscall_offset: int | None = None  # AT_SYSINFO - AT_SYSINFO_EHDR as the agent saw it


def _obs(result: dict[str, Any]) -> dict[str, Any]:
    observed = result.get("observed")
    if not isinstance(observed, dict):
        raise ValueError(f"{result.get('test')}: observed is not an object: {observed!r}")
    return observed


def _path_of(test: str) -> tuple[str, str]:
    parts = test.split("/")
    if len(parts) != 3 or parts[1] not in GUEST_PATHS:
        raise ValueError(f"result name {test!r} is not <scenario>/<callpath>/<detail>")
    return parts[1], parts[2]


def judge_regs(result: dict[str, Any], pred: Prediction, facts: Facts) -> Judgement:
    """regs-preserved: changed registers/flags against Prediction.preserved/clobbered/flags."""
    path, variant = _path_of(result["test"])
    o = _obs(result)
    checked = frozenset(o["checked"])
    predicted = regs_prediction(pred, path, checked, frozenset(o["flags_checked"]))
    problems: list[str] = []
    reset: list[str] = []
    changed: dict[str, dict[str, Any]] = o["changed"]
    for reg, ch in sorted(changed.items()):
        what = f"{reg} {ch['before']}->{ch['after']} ({ch['times']}x)"
        if reg in predicted["preserved"]:
            problems.append(f"{what}, predicted preserved")
        elif reg in predicted["may_change"]:
            if int(ch["after"], 16) != int(predicted["may_change"][reg], 16):
                problems.append(
                    f"{what}, predicted unchanged or {predicted['may_change'][reg]} "
                    "(the entry's constant selector)"
                )
            elif int(ch["before"], 16) == int(predicted["may_change"][reg], 16):
                problems.append(f"{what}, predicted unchanged (it held the default selector)")
            else:
                reset.append(f"{reg}->{ch['after']}")
        elif reg in checked:
            problems.append(f"{what}, not in the model's register sets")
    lost: list[str] = []
    for flag, ch in sorted(o["flags_changed"].items()):
        how = f"{flag} changed (clear {ch['clear']}x, set {ch['set']}x: {ch['eflags_before']}->"
        how += f"{ch['eflags_after']})"
        if flag in predicted["flags_preserved"]:
            problems.append(f"{how}, predicted preserved")
        elif flag in predicted["flags_may_change"]:
            lost.append(flag)
    if o.get("bad_results"):
        problems.append(f"syscalls returned unexpected values: {o['bad_results']}")
    guest_default = {k: int(v, 16) for k, v in o.get("default", {}).items()}
    for reg, value in default_selectors(pred.kernel_bits).items():
        if reg in guest_default and guest_default[reg] != value:
            problems.append(
                f"the process's own {reg} is {guest_default[reg]:#x}, the model's default "
                f"selector is {value:#x}"
            )
    kept = [r for r in predicted["may_change"] if r not in changed]
    summary = (
        f"{len(predicted['preserved'])} registers and {len(predicted['flags_preserved'])} flags "
        f"preserved ({variant})"
    )
    if predicted["flags_may_change"]:
        summary += (
            f"; lost to the PTI SYSENTER entry (model gap, not in Prediction.flags_preserved): "
            f"{' '.join(lost) if lost else 'none'}"
        )
    if predicted["may_change"]:
        summary += "; may change to the default selector: " + (
            ", ".join(reset) if reset else "none did"
        )
        if reset and kept:
            summary += f" (kept: {', '.join(kept)})"
    return Judgement(problems, summary, predicted)


def judge_ptrace(result: dict[str, Any], pred: Prediction, facts: Facts) -> Judgement:
    """ptrace-modify: entry-stop changes are the arguments; exit-stop visibility per the model."""
    path, stop = _path_of(result["test"])
    o = _obs(result)
    model = ptrace_prediction(pred, path)
    problems: list[str] = []
    if stop == "entry":
        want = dict(result.get("expected") or {})  # the program's own constants (result, data)
        want["entry_ip"] = model["entry_ip"]
        want["tracer_saw_orig_args"] = model["tracer_saw_orig_args"]
        for key, value in want.items():
            if o.get(key) != value:
                problems.append(f"{key}: observed {o.get(key)!r}, predicted {value!r}")
        summary = (
            f"all six entry-stop changes ({', '.join(model['entry_changes_are_arguments'])}) "
            f"were the syscall's arguments; tracer saw the caller's arguments at "
            f"{model['entry_ip']}"
        )
        return Judgement(problems, summary, {**model, "observables": want})
    final: dict[str, str] = o["final"]
    for reg, value in model["final"].items():
        if final.get(reg) != value:
            problems.append(f"{reg}: observed {final.get(reg)!r}, predicted {value!r}")
    summary = "caller ends with " + " ".join(f"{r}={v}" for r, v in model["final"].items())
    return Judgement(problems, summary, model)


_SIGRETURN_RESULT = {"eintr": -4, "restart": 3, "eip": -4}  # -EINTR; the edited count (3)


def judge_sigreturn(result: dict[str, Any], pred: Prediction, facts: Facts) -> Judgement:
    """sigreturn-modify: handler location, restart arguments and ucontext visibility."""
    path, mode = _path_of(result["test"])
    o = _obs(result)
    model = sigreturn_prediction(pred, path, mode)
    problems: list[str] = []
    want: dict[str, Any] = {
        "result": _SIGRETURN_RESULT[mode],
        "handler_eip": model["handler_eip"],
    }
    if mode == "restart":
        # restart_uses == "edited": the restarted read(fd, bufB, 3) reads 3 bytes into bufB
        want["bufB"] = "res"
        want["bufA"] = ""
    if mode == "eip":
        want["resumed"] = model["resumed"]
        want["esp_delta"] = model["esp_delta"]
    for key, value in want.items():
        if o.get(key) != value:
            problems.append(f"{key}: observed {o.get(key)!r}, predicted {value!r}")
    final: dict[str, str] = o["final"]
    for reg, value in model["final"].items():
        if value != "n/a" and final.get(reg) != value:
            problems.append(f"{reg}: observed {final.get(reg)!r}, predicted {value!r}")
    summary = f"handler saw eip at {model['handler_eip']}; caller ends with " + " ".join(
        f"{r}={v}" for r, v in model["final"].items()
    )
    if mode == "restart":
        summary += "; the restarted call used the edited ecx/edx"
    if mode == "eip":
        summary += f"; esp {model['esp_delta']:+d}"
    return Judgement(problems, summary, {**model, "observables": want})


def judge_auxv(result: dict[str, Any], pred: Prediction, facts: Facts) -> Judgement:
    """auxv-symbol: the ELF image, symbol == AT_SYSINFO, glibc's copy, the landing pad."""
    path, what = _path_of(result["test"])
    o = _obs(result)
    problems: list[str] = []
    predicted: dict[str, Any]
    if what == "elf":
        predicted = dict(result.get("expected") or {})
        summary = "ELFCLASS32, EM_386, ET_DYN, PT_DYNAMIC, .dynsym"
    elif what == "equals-at_sysinfo":
        predicted = {"kernel_vsyscall": o.get("at_sysinfo"), "func": True}
        if facts.vsyscall_offset is not None:
            predicted["offset_in_image"] = hex(facts.vsyscall_offset)
        summary = "__kernel_vsyscall == AT_SYSINFO"
    elif what == "sysinfo":
        predicted = {"gs_0x10": o.get("at_sysinfo")}
        summary = "glibc enters through AT_SYSINFO (%gs:0x10)"
    else:
        if path == "int80":
            predicted = {"bytes_before": "cd 80", "is_after_inline_int80": True}
            summary = "entry-stop eip right after the inline int $0x80"
        else:
            predicted = {
                "bytes_before": "cd 80",
                "offset": pred.landing_pad_offset,
                "in_kernel_vsyscall": True,
            }
            summary = (
                f"entry-stop eip is int80_landing_pad, __kernel_vsyscall+"
                f"{pred.landing_pad_offset:#x}, after `cd 80`"
            )
    for key, value in predicted.items():
        seen = o.get(key)
        if isinstance(value, str) and isinstance(seen, str) and value.startswith("0x"):
            same = int(seen, 16) == int(value, 16)
        else:
            same = seen == value
        if not same:
            problems.append(f"{key}: observed {seen!r}, predicted {value!r}")
    return Judgement(problems, summary, predicted)


def judge_tracer_nr(result: dict[str, Any], pred: Prediction, facts: Facts) -> Judgement:
    """tracer-nr: eax after a tracer wrote an out-of-range nr (and eax = MARK) at the entry stop:
    -ENOSYS through __ia32_sys_ni_syscall up to 7.2, eax left as written on 7.3 (D8)."""
    o = _obs(result)
    left = pred.invalid_nr_result != "-ENOSYS"
    want = "mark" if left else "enosys"
    predicted = {
        "eax": "as the tracer wrote it" if left else "-ENOSYS",
        "rule": pred.invalid_nr_result,
    }
    problems = (
        [] if o.get(want) is True else [f"eax {o.get('eax')}, the model says {predicted['eax']}"]
    )
    return Judgement(problems, f"eax {predicted['eax']} ({pred.invalid_nr_result})", predicted)


Judge = Callable[[dict[str, Any], Prediction, Facts], Judgement]
JUDGES: dict[str, Judge] = {
    "regs-preserved": judge_regs,
    "ptrace-modify": judge_ptrace,
    "sigreturn-modify": judge_sigreturn,
    "auxv-symbol": judge_auxv,
    "tracer-nr": judge_tracer_nr,
}


def judge(
    scenario: str, result: dict[str, Any], pred: Prediction, facts: Facts
) -> tuple[Status, str, Any]:
    """One guest result line -> (status, message, predicted) against the model."""
    guest = RESULT_STATUS[result["status"]]
    message = str(result.get("message", ""))
    if guest in (Status.SKIP, Status.ERROR):
        return guest, message, None
    try:
        j = JUDGES[scenario](result, pred, facts)
    except (KeyError, ValueError, TypeError) as exc:
        return Status.ERROR, f"malformed result ({exc!r}): {message}", None
    status = Status.FAIL if j.problems else Status.PASS
    text = (
        "model and guest disagree: " + "; ".join(j.problems)
        if j.problems
        else f"as the model predicts: {j.summary}"
    )
    if guest is not status:
        text += f" [the guest's own check said {guest.value}: {message}]"
    return status, text, j.predicted


def _check(ctx: CheckContext) -> list[Verdict]:
    scenario = ctx.scenario.name
    assert ctx.scenario.program is not None
    run = ctx.session.run(
        [f"/lab/bin/{ctx.scenario.program}", *ctx.scenario.args], timeout=ctx.scenario.timeout_s
    )
    excerpt = "\n".join(run.output[-200:])
    results, problems = parse_result_lines(run.output)
    pred = ctx.prediction()
    ident = ctx.identity
    facts = Facts(
        vsyscall_offset=ident.at_sysinfo - ident.at_sysinfo_ehdr
        if ident.at_sysinfo and ident.at_sysinfo_ehdr
        else None
    )
    verdicts: list[Verdict] = []
    for r in results:
        status, message, predicted = judge(scenario, r, pred, facts)
        verdicts.append(
            ctx.verdict(
                status,
                message,
                path=r["test"],
                observed=r.get("observed"),
                predicted=predicted,
                excerpt=excerpt if status.bad else "",
            )
        )
    seen = {r["test"] for r in results}
    missing = [t for t in EXPECTED_TESTS.get(scenario, ()) if t not in seen]
    if missing:
        verdicts.append(
            ctx.verdict(
                Status.ERROR,
                f"{ctx.scenario.program}: no result for {', '.join(missing)} ({run.describe()})",
                excerpt=excerpt,
            )
        )
    if problems:
        verdicts.append(
            ctx.verdict(Status.ERROR, "unparseable guest output: " + problems[0], excerpt=excerpt)
        )
    if not run.ok and not missing:
        verdicts.append(
            ctx.verdict(Status.ERROR, f"{ctx.scenario.program}: {run.describe()}", excerpt=excerpt)
        )
    return verdicts


def check_regs_preserved(ctx: CheckContext) -> list[Verdict]:
    """Sentinel registers, segments and flags across 0..6-argument syscalls, per call path."""
    return _check(ctx)


def check_ptrace_modify(ctx: CheckContext) -> list[Verdict]:
    """A tracer's register changes at the syscall-entry and -exit stops, per call path."""
    return _check(ctx)


def check_sigreturn_modify(ctx: CheckContext) -> list[Verdict]:
    """A signal handler's ucontext edits during a blocking syscall, per call path."""
    return _check(ctx)


def check_auxv_symbol(ctx: CheckContext) -> list[Verdict]:
    """AT_SYSINFO, the __kernel_vsyscall symbol, the vDSO ELF and the landing pad, in-guest."""
    return _check(ctx)


def check_tracer_nr(ctx: CheckContext) -> list[Verdict]:
    """What eax a call returns after a tracer rewrote its number out of range, per call path."""
    return _check(ctx)


# What scenario files may name in `check:` (collected by lab.suites.load_catalog).
CHECKS: dict[str, Check] = {
    "regs-preserved": check_regs_preserved,
    "ptrace-modify": check_ptrace_modify,
    "sigreturn-modify": check_sigreturn_modify,
    "auxv-symbol": check_auxv_symbol,
    "tracer-nr": check_tracer_nr,
}
