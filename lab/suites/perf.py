"""perf suite: what one system call costs on each 32-bit call path, per profile.

The guest program lab/guest/syscall_cost.c times every (call path, system call) pair with rdtsc
and prints min / median / p90 / p99 / max / mean / cv plus up to 100 raw samples per pair. Two
modes, chosen by the scenario:

* exact: the guest runs under QEMU ``-icount shift=0,sleep=off`` (TCG), where the guest TSC
  advances one tick per executed guest instruction. A sample is then a *path length* in guest
  instructions (user and kernel, including anything that ran in between), identical run to run.
  The headline of a pair is its minimum.
* wall: the profile's own machine; a sample is TSC ticks. Under TCG that is host time spent
  emulating (host TSC), under KVM real cycles. The headline is the median. Each sample also
  comes divided by the median of a fixed user-space calibration loop timed in the same round
  ("calibrated"), which is what the trend compares: on a shared host the whole guest sometimes
  runs at half speed, and that must not read as a kernel regression.

Instruction counts are not cycles: IRET and SYSRETL are one instruction each, a CR3 write is one
instruction; what they cost on silicon is not in these numbers. TCG wall time is the cost of
emulating, dominated by helpers and TLB flushes (a PTI CR3 switch flushes QEMU's soft TLB).

Host side: every result line becomes a verdict whose ``observed`` holds the numbers; one
``cost/ratios`` verdict holds the net costs (headline minus the timing baseline) and the ratios
between paths in the same guest; in exact mode three model checks compare path lengths with
what the entry model says must hold (``cost/check/...``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lab.checks import (
    Check,
    CheckContext,
    parse_result_lines,
    program_trouble,
)
from lab.fsutil import atomic_write
from lab.model import EntryPath, Prediction, ReturnInsn
from lab.model.stub import disassemble, shipped_stub_bytes
from lab.report.results import Status, Verdict
from lab.report.trend import mann_whitney

__all__ = [
    "MODES",
    "SYSCALLS",
    "Cost",
    "Finding",
    "judge",
    "mode_of_variant",
    "parse_cost",
    "ratios",
]

MODES = {"exact": "instructions", "wall": "tsc"}
SYSCALLS = ("getpid", "getppid", "pselect6", "clock_gettime")
# Call paths the guest measures (lab/guest/syscall_cost.c), in report order.
CALLPATHS = ("int80", "at_sysinfo", "vdso_sym", "glibc", "syscall64", "vdso_fn")
BASELINES = ("none", "none64", "calib")  # timing baselines and the calibration loop
# Clocksources whose vDSO read needs no kernel entry (vclock_mode != VDSO_CLOCKMODE_NONE:
# arch/x86/kernel/tsc.c, kvmclock.c, hyperv).
VDSO_CLOCKSOURCES = frozenset({"tsc", "kvm-clock", "hyperv_clocksource_tsc_page"})
STAT_KEYS = ("min", "median", "p90", "p99", "max")
WALL_ALPHA = 0.01  # significance level for wall-mode differences (Mann-Whitney U)


@dataclass(frozen=True)
class Cost:
    """One (call path, system call) measurement as the guest reported it."""

    test: str  # cost/<callpath>/<syscall>[/<detail>]
    callpath: str
    syscall: str
    detail: str
    mode: str
    n: int
    min: int
    median: int
    p90: int
    p99: int
    max: int
    mean: float
    cv: float
    baseline: int
    samples: tuple[int, ...] = field(default=(), repr=False)
    calib: int = 0  # median ticks of the calibration loop in this run
    calibrated: float | None = None  # median of samples / their round's calibration median
    calibrated_samples: tuple[float, ...] = field(default=(), repr=False)

    @property
    def unit(self) -> str:
        return MODES[self.mode]

    @property
    def headline(self) -> int:
        """The number a path is known by: its path length (exact) or its median (wall)."""
        return self.min if self.mode == "exact" else self.median

    @property
    def net(self) -> int:
        """Headline minus the timing baseline (rdtsc pair and the helper's register loads)."""
        return self.headline - self.baseline

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "unit": self.unit,
            "syscall": self.syscall,
            "n": self.n,
            **{k: getattr(self, k) for k in STAT_KEYS},
            "mean": self.mean,
            "cv": self.cv,
            "baseline": self.baseline,
            "headline": self.headline,
            "net": self.net,
            "samples": list(self.samples),
            "calib": self.calib,
            "calibrated": self.calibrated,
            "calibrated_samples": list(self.calibrated_samples),
        }


def _int(obs: dict[str, Any], key: str) -> int:
    value = obs.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} is not a non-negative integer: {value!r}")
    return value


def _num(obs: dict[str, Any], key: str) -> float:
    value = obs.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key} is not a number: {value!r}")
    return float(value)


def parse_cost(test: str, observed: Any) -> Cost:
    """A guest's cost result, validated (guest output is untrusted); ValueError if malformed."""
    parts = test.split("/")
    if len(parts) < 3 or parts[0] != "cost":
        raise ValueError(f"not a cost result name: {test!r}")
    if not isinstance(observed, dict):
        raise ValueError(f"{test}: observed is not an object")
    mode = observed.get("mode")
    if mode not in MODES:
        raise ValueError(f"{test}: unknown mode {mode!r}")
    stats = {k: _int(observed, k) for k in (*STAT_KEYS, "n", "baseline")}
    if stats["n"] < 1:
        raise ValueError(f"{test}: no samples")
    if not stats["min"] <= stats["median"] <= stats["p90"] <= stats["p99"] <= stats["max"]:
        raise ValueError(f"{test}: statistics out of order: {stats}")
    raw = observed.get("samples", [])
    if not isinstance(raw, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in raw
    ):
        raise ValueError(f"{test}: samples are not non-negative integers")
    calibrated = observed.get("calibrated")
    cal_raw = observed.get("calibrated_samples", [])
    if calibrated is not None:
        calibrated = _num(observed, "calibrated")
    if not isinstance(cal_raw, list) or not all(
        isinstance(s, int | float) and not isinstance(s, bool) and math.isfinite(s) for s in cal_raw
    ):
        raise ValueError(f"{test}: calibrated samples are not numbers")
    calib = observed.get("calib", 0)
    return Cost(
        test=test,
        calib=calib if isinstance(calib, int) and not isinstance(calib, bool) else 0,
        calibrated=calibrated,
        calibrated_samples=tuple(float(x) for x in cal_raw),
        callpath=parts[1],
        syscall=parts[2],
        detail="/".join(parts[3:]),
        mode=mode,
        mean=_num(observed, "mean"),
        cv=_num(observed, "cv"),
        samples=tuple(raw),
        **stats,
    )


def mode_of_variant(variant: str) -> str:
    """The mode a guest booted with this machine variant measures in."""
    return "exact" if "icount" in variant.split("+") else "wall"


def stub_instructions(path: EntryPath, kernel_bits: int) -> int:
    """How many instructions the shipped __kernel_vsyscall executes around an int $0x80.

    For the int80 alternative every instruction of the stub runs once (push ecx/edx/ebp, the
    4-byte nop, int $0x80, pop ebp/edx/ecx, ret: arch/x86/entry/vdso/vdso32/system_call.S).
    """
    return len(disassemble(shipped_stub_bytes(path, kernel_bits)))


def predicted_route(cost: Cost, prediction: Prediction, clocksource: str) -> dict[str, str]:
    """Which entry and return instruction the model says this measurement went through."""
    fast = prediction.path.value
    fast_return = prediction.eligible_return.value
    if cost.callpath == "int80":
        return {"entry": "int80", "return": ReturnInsn.IRET.value}
    if cost.callpath == "syscall64":
        # do_syscall_64() (common.c) -> opportunistic SYSRET in entry_SYSCALL_64.
        return {"entry": "syscall (64-bit)", "return": "sysretq"}
    if cost.callpath == "vdso_fn":
        if clocksource in VDSO_CLOCKSOURCES:
            return {"entry": "none (vDSO reads the clock)", "return": "none"}
        return {
            "entry": f"{fast} (vDSO fallback: clocksource {clocksource} has no vDSO mode)",
            "return": fast_return,
        }
    if cost.detail == "traced-iret":
        return {"entry": fast, "return": ReturnInsn.IRET.value, "why": "ip moved off the pad"}
    return {"entry": fast, "return": fast_return}


@dataclass(frozen=True)
class Finding:
    """What a verdict will say (the check turns it into a Verdict)."""

    status: Status
    message: str
    path: str
    observed: Any = None
    predicted: Any = None


def _by(costs: list[Cost]) -> dict[tuple[str, str, str], Cost]:
    return {(c.callpath, c.syscall, c.detail): c for c in costs}


def ratios(costs: list[Cost]) -> dict[str, Any]:
    """Net costs per path and the ratios between paths of the same guest.

    ``int80/vdso_sym`` > 1 means raw int $0x80 costs more than the vDSO's fast path;
    ``forced_iret/fast`` estimates an untraced fast call that had to leave with IRET: the fast
    call's net cost plus (traced-iret − traced), over the fast call's net cost.
    """
    by = _by(costs)
    mode = costs[0].mode if costs else "wall"
    net: dict[str, dict[str, int]] = {}
    for c in costs:
        if c.callpath in BASELINES:
            continue
        name = c.callpath + (f"/{c.detail}" if c.detail else "")
        net.setdefault(name, {})[c.syscall] = c.net

    def ratio(a: Cost | None, b: Cost | None) -> float | None:
        if a is None or b is None or b.net <= 0:
            return None
        return round(a.net / b.net, 4)

    out: dict[str, Any] = {"mode": mode, "unit": MODES[mode], "net": net, "ratios": {}}
    table: dict[str, dict[str, float | None]] = out["ratios"]
    for s in SYSCALLS:
        fast = by.get(("vdso_sym", s, ""))
        for other in ("int80", "at_sysinfo", "glibc", "syscall64", "vdso_fn"):
            r = ratio(by.get((other, s, "")), fast)
            if r is not None:
                table.setdefault(f"{other}/vdso_sym", {})[s] = r
    kept = by.get(("vdso_sym", "getpid", "traced"))
    moved = by.get(("vdso_sym", "getpid", "traced-iret"))
    fast = by.get(("vdso_sym", "getpid", ""))
    if kept and moved:
        delta = moved.headline - kept.headline
        out["forced_iret"] = {
            "traced_opportunistic": kept.headline,
            "traced_forced_iret": moved.headline,
            "delta": delta,
            "traced_ratio": round(moved.headline / kept.headline, 4) if kept.headline else None,
            "estimate_ratio": round((fast.net + delta) / fast.net, 4)
            if fast and fast.net > 0
            else None,
        }
        if mode == "wall":
            # Under a tracer the difference is small against the noise: keep the estimate only
            # when the two sample sets really differ.
            test = mann_whitney(list(moved.samples), list(kept.samples))
            out["forced_iret"]["mann_whitney_p"] = round(test.p_value, 6)
            if test.p_value >= WALL_ALPHA:
                out["forced_iret"]["estimate_ratio"] = None
                out["forced_iret"]["note"] = f"not significant (p >= {WALL_ALPHA})"
    return out


def _exact_checks(costs: list[Cost], prediction: Prediction, kernel_bits: int) -> list[Finding]:
    """Path-length facts that must hold exactly under -icount, from the entry model."""
    by = _by(costs)
    findings: list[Finding] = []

    # 1. AT_SYSINFO (call *%gs:0x10) and __kernel_vsyscall (call *addr) are one indirect call
    #    each into the same stub: identical path lengths.
    diffs = {
        s: by[("at_sysinfo", s, "")].min - by[("vdso_sym", s, "")].min
        for s in SYSCALLS
        if ("at_sysinfo", s, "") in by and ("vdso_sym", s, "") in by
    }
    if diffs:
        same = all(d == 0 for d in diffs.values())
        findings.append(
            Finding(
                Status.PASS if same else Status.FAIL,
                "at_sysinfo and vdso_sym execute the same number of instructions"
                if same
                else f"at_sysinfo - vdso_sym differs: {diffs}",
                "cost/check/same-stub",
                observed={"at_sysinfo_minus_vdso_sym": diffs},
                predicted={"at_sysinfo_minus_vdso_sym": dict.fromkeys(diffs, 0)},
            )
        )

    # 2. With the int80 alternative, __kernel_vsyscall is the raw int $0x80 plus the stub's
    #    other instructions plus the call: exactly len(stub) more instructions.
    if prediction.path is EntryPath.INT80:
        want = stub_instructions(EntryPath.INT80, kernel_bits)
        extra = {
            s: by[("vdso_sym", s, "")].min - by[("int80", s, "")].min
            for s in SYSCALLS
            if ("vdso_sym", s, "") in by and ("int80", s, "") in by
        }
        if extra:
            ok = all(e == want for e in extra.values())
            findings.append(
                Finding(
                    Status.PASS if ok else Status.FAIL,
                    f"vdso_sym = int80 + {want} stub instructions, as the model says"
                    if ok
                    else f"vdso_sym - int80 = {extra}, the model says {want}",
                    "cost/check/stub-length",
                    observed={"vdso_sym_minus_int80": extra},
                    predicted={"vdso_sym_minus_int80": dict.fromkeys(extra, want)},
                )
            )

    # 3. Forced IRET: with the int80 alternative the return is IRET either way, the two traced
    #    paths are the same instructions and the delta must be 0. With a fast path the delta is
    #    a cost only (kept in ratios()): the measured window includes the tracer's wake-up and
    #    scheduling, which moved by tens of instructions between boots (intel-sep@7.2: kept
    #    33961 vs 33993), more than SYSRETL and IRET differ with PTI off, so +0 was measured on
    #    kernels that did return by SYSRETL. Which instruction returned is observed per call by
    #    entry-control's fast-return scenario (lab/guest/fast_return.c).
    kept = by.get(("vdso_sym", "getpid", "traced"))
    moved = by.get(("vdso_sym", "getpid", "traced-iret"))
    if kept and moved and prediction.eligible_return is ReturnInsn.IRET:
        delta = moved.min - kept.min
        findings.append(
            Finding(
                Status.PASS if delta == 0 else Status.FAIL,
                f"forced IRET - opportunistic iret: {delta:+d} instructions"
                + ("" if delta == 0 else ", the model says 0 (IRET both ways)"),
                "cost/check/forced-iret",
                observed={"delta": delta, "traced": kept.min, "traced_iret": moved.min},
                predicted={"delta": "0 (IRET both ways)", "fast_return": "iret"},
            )
        )
    return findings


def judge(
    results: list[dict[str, Any]],
    prediction: Prediction,
    kernel_bits: int,
    expect_mode: str,
    expect_cpus: int | None = None,
) -> list[Finding]:
    """Findings for one guest's result lines: one per measurement, ratios, model checks.

    ``expect_cpus``: the vCPU count the scenario's machine variant asked for; a guest that came
    up with another number measured something else, which is an error of the lab, not a cost.
    """
    findings: list[Finding] = []
    costs: list[Cost] = []
    clocksource = ""
    for r in results:
        test, status = r["test"], r["status"]
        obs = r.get("observed")
        if test == "cost/env":
            env_mode = obs.get("mode") if isinstance(obs, dict) else None
            if isinstance(obs, dict):
                clocksource = str(obs.get("clocksource", ""))
            if status == "pass" and env_mode != expect_mode:
                findings.append(
                    Finding(
                        Status.ERROR,
                        f"guest measured in {env_mode!r} mode, but this machine variant gives "
                        f"{expect_mode!r} numbers (exact needs machine: {{icount: true}})",
                        test,
                        observed=obs,
                        predicted={"mode": expect_mode},
                    )
                )
                return findings
            cpus = obs.get("cpus") if isinstance(obs, dict) else None
            if status == "pass" and expect_cpus is not None and cpus != expect_cpus:
                findings.append(
                    Finding(
                        Status.ERROR,
                        f"the guest has {cpus} CPU(s) online, the machine variant asked for "
                        f"smp {expect_cpus}: these numbers are not the variant's",
                        test,
                        observed=obs,
                        predicted={"cpus": expect_cpus},
                    )
                )
                continue
            findings.append(Finding(Status(status), str(r.get("message", "")), test, observed=obs))
            continue
        try:
            cost = parse_cost(test, obs)
        except ValueError as exc:
            findings.append(
                Finding(
                    Status.ERROR if status == "pass" else Status(status),
                    f"{r.get('message', '')} (unusable measurement: {exc})",
                    test,
                    observed=obs,
                )
            )
            continue
        if cost.mode != expect_mode:
            findings.append(
                Finding(Status.ERROR, f"mode {cost.mode}, expected {expect_mode}", test, obs)
            )
            continue
        if status == "pass":
            costs.append(cost)
        route = predicted_route(cost, prediction, clocksource)
        findings.append(
            Finding(
                Status(status),
                f"{cost.syscall} via {cost.callpath}"
                + (f" ({cost.detail})" if cost.detail else "")
                + f": {cost.headline} {cost.unit} ({'min' if cost.mode == 'exact' else 'median'}"
                f", net {cost.net}, cv {cost.cv:.3f})"
                if status == "pass"
                else str(r.get("message", "")),
                test,
                observed=cost.to_json(),
                predicted=route,
            )
        )
    if costs:
        summary = ratios(costs)
        summary["fast_path"] = prediction.path.value
        summary["fast_return"] = prediction.eligible_return.value
        summary["clocksource"] = clocksource
        shown = ", ".join(
            f"{name} {values.get('getpid')}"
            for name, values in summary["ratios"].items()
            if values.get("getpid") is not None
        )
        findings.append(
            Finding(
                Status.PASS,
                f"{expect_mode} getpid ratios: {shown or 'none'}",
                "cost/ratios",
                observed=summary,
                predicted={"fast_path": prediction.path.value},
            )
        )
        if expect_mode == "exact":
            findings.extend(_exact_checks(costs, prediction, kernel_bits))
    return findings


def check_syscall_cost(ctx: CheckContext) -> list[Verdict]:
    """Run syscall_cost, turn its measurements into verdicts, ratios and exact-mode checks."""
    assert ctx.scenario.program is not None
    result = ctx.session.run(
        [f"/lab/bin/{ctx.scenario.program}", *ctx.scenario.args], timeout=ctx.scenario.timeout_s
    )
    # The raw result lines, kept with the guest's artefacts (re-analysis, test data).
    atomic_write(
        ctx.artefacts / f"{ctx.scenario.name}.out",
        ("\n".join(result.output) + "\n").encode(),
    )
    results, problems = parse_result_lines(result.output)
    bits = ctx.identity.kernel_bits
    prediction = ctx.prediction()
    findings = judge(
        results, prediction, bits, mode_of_variant(ctx.env.variant), ctx.scenario.machine.smp
    )
    verdicts = [
        ctx.verdict(f.status, f.message, path=f.path, observed=f.observed, predicted=f.predicted)
        for f in findings
    ]
    return verdicts + program_trouble(ctx, result, bool(results), problems, bool(verdicts))


# What scenario files may name in `check:` (collected by lab.suites.load_catalog).
CHECKS: dict[str, Check] = {
    "syscall-cost": check_syscall_cost,
}
