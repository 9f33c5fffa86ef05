"""perf suite: parsing syscall_cost's output, ratios and the exact-mode model checks.

The inputs are result lines captured from real guests (tests/data/perf/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lab.checks import parse_result_lines
from lab.model import CpuIdentity, EntryPath, predict
from lab.report.results import Status
from lab.suites.perf import (
    Finding,
    judge,
    mode_of_variant,
    parse_cost,
    ratios,
    stub_instructions,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "perf"

INTEL = CpuIdentity("GenuineIntel", frozenset({"sep", "syscall", "lm"}), 6, 94, 3)
AMD = CpuIdentity("AuthenticAMD", frozenset({"sep", "syscall", "lm"}), 23, 1, 2)
UNKNOWN = CpuIdentity("GenuineTMx86", frozenset({"sep", "syscall", "lm"}), 6, 6, 1)
PENTIUM2 = CpuIdentity("GenuineIntel", frozenset({"sep"}), 6, 5, 2)
PENTIUM2_NOSEP = CpuIdentity("GenuineIntel", frozenset(), 6, 5, 2)
ATHLON = CpuIdentity("AuthenticAMD", frozenset({"sep"}), 6, 2, 1)


def results(name: str) -> list[dict[str, Any]]:
    lines = (DATA / f"{name}.txt").read_text().splitlines()
    parsed, problems = parse_result_lines(lines)
    assert not problems
    return parsed


def by_path(findings: list[Finding]) -> dict[str, Finding]:
    return {f.path: f for f in findings}


def run_judge(name: str, cpu: CpuIdentity, bits: int, mode: str, **kw: Any) -> dict[str, Finding]:
    return by_path(judge(results(name), predict(bits, cpu), bits, mode, **kw))


# -- parsing ------------------------------------------------------------------------------------


def good_observed(**kw: Any) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "mode": "exact",
        "unit": "instructions",
        "syscall": "getpid",
        "n": 3,
        "min": 385,
        "median": 385,
        "p90": 390,
        "p99": 400,
        "max": 400,
        "mean": 390.0,
        "cv": 0.01,
        "baseline": 28,
        "samples": [385, 385, 400],
    }
    obs.update(kw)
    return obs


def test_parse_cost_reads_a_measurement() -> None:
    cost = parse_cost("cost/vdso_sym/getpid/traced-iret", good_observed())
    assert (cost.callpath, cost.syscall, cost.detail) == ("vdso_sym", "getpid", "traced-iret")
    assert cost.headline == 385 and cost.net == 357  # exact: the minimum
    wall = parse_cost("cost/int80/getpid", good_observed(mode="wall", median=390))
    assert wall.headline == 390 and wall.unit == "tsc"  # wall: the median
    assert cost.to_json()["samples"] == [385, 385, 400]


@pytest.mark.parametrize(
    ("test", "change", "why"),
    [
        ("cost/int80", {}, "not a cost result name"),
        ("vdso/int80/getpid", {}, "not a cost result name"),
        ("cost/int80/getpid", {"mode": "fast"}, "unknown mode"),
        ("cost/int80/getpid", {"min": -1}, "non-negative integer"),
        ("cost/int80/getpid", {"min": True}, "non-negative integer"),
        ("cost/int80/getpid", {"median": 999}, "out of order"),
        ("cost/int80/getpid", {"n": 0}, "no samples"),
        ("cost/int80/getpid", {"cv": "x"}, "not a number"),
        ("cost/int80/getpid", {"cv": float("nan")}, "not a number"),
        ("cost/int80/getpid", {"samples": [1, "2"]}, "samples"),
        ("cost/int80/getpid", {"samples": 5}, "samples"),
    ],
)
def test_parse_cost_rejects_malformed_guest_output(
    test: str, change: dict[str, Any], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        parse_cost(test, good_observed(**change))
    with pytest.raises(ValueError):
        parse_cost("cost/int80/getpid", ["not", "an", "object"])


def test_mode_of_variant() -> None:
    assert mode_of_variant("icount") == "exact"
    assert mode_of_variant("icount+smp2+nopti") == "exact"
    assert mode_of_variant("") == "wall"
    assert mode_of_variant("nopti") == "wall"


def test_stub_instructions_from_the_model() -> None:
    # push ecx, push edx, push ebp, 4-byte nop, int $0x80, pop ebp, pop edx, pop ecx, ret
    assert stub_instructions(EntryPath.INT80, 64) == 9
    assert stub_instructions(EntryPath.INT80, 32) == 9


# -- judging real captures ----------------------------------------------------------------------


def test_intel_exact_capture() -> None:
    f = run_judge("intel-sep-exact", INTEL, 64, "exact")
    assert all(x.status is Status.PASS for x in f.values()), [
        (x.path, x.message) for x in f.values() if x.status is not Status.PASS
    ]
    # every measurement carries its numbers and the route the model predicts
    vdso = f["cost/vdso_sym/getpid"]
    assert vdso.observed["mode"] == "exact" and vdso.observed["headline"] == 385
    assert vdso.predicted == {"entry": "sysenter", "return": "sysretl"}
    assert f["cost/int80/getpid"].predicted == {"entry": "int80", "return": "iret"}
    assert f["cost/vdso_sym/getpid/traced-iret"].predicted["return"] == "iret"
    assert f["cost/syscall64/getpid"].predicted["return"] == "sysretq"
    # the vDSO reads the TSC itself under -icount (clocksource tsc)
    assert f["cost/vdso_fn/clock_gettime"].predicted["entry"].startswith("none")
    summary = f["cost/ratios"].observed
    assert summary["fast_path"] == "sysenter" and summary["clocksource"] == "tsc"
    assert summary["net"]["vdso_sym"]["getpid"] == 357
    assert summary["net"]["int80"]["getpid"] == 368
    assert summary["ratios"]["int80/vdso_sym"]["getpid"] == pytest.approx(368 / 357, abs=1e-4)
    assert summary["ratios"]["at_sysinfo/vdso_sym"]["getpid"] == 1.0
    assert summary["forced_iret"]["delta"] == 8
    assert summary["forced_iret"]["estimate_ratio"] == pytest.approx(365 / 357, abs=1e-4)
    assert f["cost/check/same-stub"].status is Status.PASS
    assert "cost/check/forced-iret" not in f  # a cost with a fast path, not a check
    assert "cost/check/stub-length" not in f  # only for the int80 alternative


@pytest.mark.parametrize(
    ("name", "cpu", "bits", "fast"),
    [
        ("amd-syscall32-exact", AMD, 64, "syscall"),
        ("hygon-syscall32-exact", CpuIdentity("HygonGenuine", AMD.flags, 24, 0, 1), 64, "syscall"),
        ("centaur-sep-exact", CpuIdentity("CentaurHauls", INTEL.flags, 6, 6, 1), 64, "sysenter"),
        ("i386-intel-sep-exact", PENTIUM2, 32, "sysenter"),
        (
            "i386-amd-sep-exact",
            CpuIdentity("AuthenticAMD", frozenset({"sep"}), 6, 2, 1),
            32,
            "sysenter",
        ),
        ("intel-sep-exact-nopti", INTEL, 64, "sysenter"),
        ("intel-sep-exact-mitigations-off", INTEL, 64, "sysenter"),
    ],
)
def test_fast_path_captures_pass(name: str, cpu: CpuIdentity, bits: int, fast: str) -> None:
    f = run_judge(name, cpu, bits, "exact")
    bad = [(x.path, x.message) for x in f.values() if x.status is not Status.PASS]
    assert not bad
    assert f["cost/ratios"].observed["fast_path"] == fast
    # With a fast path the forced-IRET delta is a cost only (ratios), not a check: which
    # instruction returned is observed per call by entry-control's fast-return scenario.
    assert "cost/check/forced-iret" not in f
    assert f["cost/ratios"].observed["forced_iret"]["delta"] != 0


@pytest.mark.parametrize(
    ("name", "cpu", "bits"),
    [("i386-int80-exact", PENTIUM2_NOSEP, 32), ("unknown-int80-exact", UNKNOWN, 64)],
)
def test_int80_alternative_path_lengths_match_the_model(
    name: str, cpu: CpuIdentity, bits: int
) -> None:
    f = run_judge(name, cpu, bits, "exact")
    assert all(x.status is Status.PASS for x in f.values())
    stub = f["cost/check/stub-length"]
    assert set(stub.observed["vdso_sym_minus_int80"].values()) == {9}
    forced = f["cost/check/forced-iret"]
    assert forced.observed["delta"] == 0  # IRET either way
    assert forced.predicted["fast_return"] == "iret"


def test_wall_capture_has_no_exact_checks_and_tests_the_iret_difference() -> None:
    f = run_judge("intel-sep-wall", INTEL, 64, "wall")
    assert all(x.status is Status.PASS for x in f.values())
    assert not [p for p in f if p.startswith("cost/check/")]
    forced = f["cost/ratios"].observed["forced_iret"]
    assert 0 <= forced["mann_whitney_p"] <= 1
    if forced["mann_whitney_p"] >= 0.01:
        assert forced["estimate_ratio"] is None and "not significant" in forced["note"]
    assert f["cost/vdso_sym/getpid"].observed["unit"] == "tsc"


def test_mode_mismatch_is_an_error() -> None:
    findings = judge(results("intel-sep-exact"), predict(64, INTEL), 64, "wall")
    assert len(findings) == 1 and findings[0].status is Status.ERROR
    assert "exact" in findings[0].message


def test_cpu_count_mismatch_is_an_error() -> None:
    # the smp2 variant's guest has two CPUs; a guest with another count measured something else
    smp2 = run_judge("intel-sep-wall-smp2", INTEL, 64, "wall", expect_cpus=2)
    assert smp2["cost/env"].status is Status.PASS
    f = run_judge("intel-sep-exact", INTEL, 64, "exact", expect_cpus=2)
    assert f["cost/env"].status is Status.ERROR and "smp 2" in f["cost/env"].message


def tampered(name: str, test: str, shift: int) -> list[dict[str, Any]]:
    """The capture with one measurement's statistics moved by ``shift``."""
    out = []
    for r in results(name):
        if r["test"] == test:
            r = json.loads(json.dumps(r))
            for key in ("min", "median", "p90", "p99", "max"):
                r["observed"][key] += shift
        out.append(r)
    return out


def test_same_stub_check_fails_when_paths_differ() -> None:
    rs = tampered("intel-sep-exact", "cost/at_sysinfo/getpid", -5)
    f = by_path(judge(rs, predict(64, INTEL), 64, "exact"))
    assert f["cost/check/same-stub"].status is Status.FAIL
    assert f["cost/check/same-stub"].observed["at_sysinfo_minus_vdso_sym"]["getpid"] == -5


def test_stub_length_check_fails_on_a_wrong_count() -> None:
    rs = tampered("i386-int80-exact", "cost/vdso_sym/getppid", 1)
    f = by_path(judge(rs, predict(32, PENTIUM2_NOSEP), 32, "exact"))
    assert f["cost/check/stub-length"].status is Status.FAIL
    assert "the model says 9" in f["cost/check/stub-length"].message


def test_forced_iret_check_fails_when_an_int80_guest_shows_a_difference() -> None:
    rs = tampered("i386-int80-exact", "cost/vdso_sym/getpid/traced-iret", 2)
    f = by_path(judge(rs, predict(32, PENTIUM2_NOSEP), 32, "exact"))
    assert f["cost/check/forced-iret"].status is Status.FAIL


def test_guest_failures_and_garbage_are_not_measurements() -> None:
    rs = results("intel-sep-exact")
    rs.append(
        {"entrylab": 1, "test": "cost/int80/getppid/x", "status": "fail", "message": "3 of 9"}
    )
    rs.append(
        {"entrylab": 1, "test": "cost/int80/odd", "status": "pass", "observed": {"mode": "exact"}}
    )
    f = by_path(judge(rs, predict(64, INTEL), 64, "exact"))
    assert f["cost/int80/getppid/x"].status is Status.FAIL
    assert f["cost/int80/odd"].status is Status.ERROR
    assert "unusable measurement" in f["cost/int80/odd"].message


def test_ratios_skip_baselines_and_missing_paths() -> None:
    costs = [
        parse_cost("cost/none/none", good_observed(min=28, median=28, p90=28, p99=28, max=28)),
        parse_cost("cost/int80/getpid", good_observed(min=400, median=400, p90=400, p99=400)),
    ]
    out = ratios(costs)
    assert "none" not in out["net"] and out["net"]["int80"] == {"getpid": 372}
    assert out["ratios"] == {}  # no vdso_sym to compare with
    assert "forced_iret" not in out
