"""entry-abi suite: guest output captured on all eight default profiles, judged by the model.

tests/data/entry-abi/<profile>/ holds each guest's READY identity and the raw stdout of the four
programs (see the README there). Every captured result must agree with the model; mutated
copies must not.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, cast

import pytest

from lab.checks import parse_result_lines
from lab.config.profiles import load_profiles
from lab.config.scenarios import Scenario, load_suite
from lab.model import CpuIdentity, EntryPath, Prediction, predict
from lab.model.abi_paths import (
    GUEST_PATHS,
    STATUS_FLAGS,
    entry_clobbered_flags,
    model_call_path,
    ptrace_prediction,
    sigreturn_prediction,
    stub_frame,
)
from lab.report.results import Status
from lab.suites import load_catalog
from lab.suites.abi import EXPECTED_TESTS, Facts, _check, judge
from lab.targets.identity import GuestIdentity
from lab.targets.session import CommandResult

DATA = Path(__file__).resolve().parent.parent / "data" / "entry-abi"
PROFILES = sorted(p.name for p in DATA.iterdir() if p.is_dir())
PROGRAMS = {
    "regs-preserved": "regs_preserved",
    "ptrace-modify": "ptrace_modify",
    "sigreturn-modify": "sigreturn_modify",
    "auxv-symbol": "auxv_symbol",
}


def identity(profile: str) -> GuestIdentity:
    return GuestIdentity.parse((DATA / profile / "identity.json").read_text())


def prediction(profile: str) -> Prediction:
    ident = identity(profile)
    return predict(
        ident.kernel_bits,
        CpuIdentity(ident.vendor, ident.flags, ident.family, ident.model, ident.stepping),
    )


def facts(profile: str) -> Facts:
    ident = identity(profile)
    return Facts(vsyscall_offset=ident.at_sysinfo - ident.at_sysinfo_ehdr)


def output(profile: str, scenario: str) -> list[str]:
    return (DATA / profile / f"{PROGRAMS[scenario]}.out").read_text().splitlines()


def results(profile: str, scenario: str) -> dict[str, dict[str, Any]]:
    parsed, problems = parse_result_lines(output(profile, scenario))
    assert problems == []
    return {r["test"]: r for r in parsed}


def test_captures_cover_the_eight_default_profiles() -> None:
    default = {
        "intel-sep",
        "amd-syscall32",
        "hygon-syscall32",
        "centaur-sep",
        "unknown-int80",
        "i386-intel-sep",
        "i386-amd-sep",
        "i386-int80",
    }
    assert default == set(PROFILES)


@pytest.mark.parametrize("scenario", sorted(PROGRAMS))
@pytest.mark.parametrize("profile", PROFILES)
def test_captured_output_agrees_with_the_model(profile: str, scenario: str) -> None:
    got = results(profile, scenario)
    assert sorted(got) == sorted(EXPECTED_TESTS[scenario])
    pred, known = prediction(profile), facts(profile)
    for test, r in got.items():
        status, message, predicted = judge(scenario, r, pred, known)
        if test == "sigreturn-modify/glibc/eip":
            assert status is Status.SKIP
            continue
        assert status is Status.PASS, f"{profile} {test}: {message}"
        assert "guest's own check" not in message, message
        assert predicted is not None


def test_ldt_selectors_reset_only_where_the_model_says() -> None:
    """Fast paths push constant selectors; 32-bit SYSEXIT also leaves __USER_DS in ds/es."""
    i386 = results("i386-intel-sep", "regs-preserved")["regs-preserved/at_sysinfo/ldt-selectors"]
    assert sorted(i386["observed"]["changed"]) == ["cs", "ds", "es", "ss"]
    assert i386["observed"]["changed"]["ds"]["after"] == "0x7b"
    amd = results("amd-syscall32", "regs-preserved")["regs-preserved/vdso_sym/ldt-selectors"]
    assert sorted(amd["observed"]["changed"]) == ["cs", "ss"]
    for profile in ("unknown-int80", "i386-int80"):  # stub uses int $0x80: IRET restores all
        r = results(profile, "regs-preserved")["regs-preserved/at_sysinfo/ldt-selectors"]
        assert r["observed"]["changed"] == {}


def test_pti_sysenter_loses_status_flags_and_the_model_gap_is_named() -> None:
    """entry_SYSENTER_compat's CR3 switch (andq) runs before pushfq: the flags are the andq's."""
    for profile in ("intel-sep", "centaur-sep"):
        pred = prediction(profile)
        assert entry_clobbered_flags(pred) == STATUS_FLAGS
        r = results(profile, "regs-preserved")["regs-preserved/at_sysinfo/sentinels"]
        changed = r["observed"]["flags_changed"]
        assert set(changed) == STATUS_FLAGS
        # both patterns end as "andq of a nonzero CR3 with a zero low byte": PF=1, others 0
        assert int(changed["CF"]["eflags_after"], 16) & 0x8D5 == 0x004
        assert int(changed["PF"]["eflags_after"], 16) & 0x8D5 == 0x004
        status, message, predicted = judge("regs-preserved", r, pred, facts(profile))
        assert status is Status.PASS
        assert "model gap" in message
        assert "model_gap" in predicted
    for profile in ("amd-syscall32", "i386-intel-sep", "unknown-int80"):
        assert entry_clobbered_flags(prediction(profile)) == frozenset()
        for r in results(profile, "regs-preserved").values():
            assert r["observed"]["flags_changed"] == {}


def mutated(r: dict[str, Any], **observed: Any) -> dict[str, Any]:
    out = copy.deepcopy(r)
    out["observed"].update(observed)
    return out


def test_a_status_flag_change_without_pti_is_a_failure() -> None:
    r = results("amd-syscall32", "regs-preserved")["regs-preserved/at_sysinfo/sentinels"]
    bad = mutated(
        r,
        flags_changed={
            "ZF": {"clear": 7, "set": 0, "eflags_before": "0x202", "eflags_after": "0x242"}
        },
    )
    status, message, _ = judge("regs-preserved", bad, prediction("amd-syscall32"), Facts())
    assert status is Status.FAIL
    assert "ZF changed" in message and "predicted preserved" in message


@pytest.mark.parametrize(
    ("changed", "words"),
    [
        ({"ebx": {"before": "0xb1b2b3b4", "after": "0", "times": 1}}, "ebx"),
        # int80 restores every selector: a reset is a failure there
        ({"ds": {"before": "0xf", "after": "0x7b", "times": 14}}, "predicted preserved"),
    ],
)
def test_int80_register_changes_fail(changed: dict[str, Any], words: str) -> None:
    r = results("i386-intel-sep", "regs-preserved")["regs-preserved/int80/ldt-selectors"]
    status, message, _ = judge(
        "regs-preserved", mutated(r, changed=changed), prediction("i386-intel-sep"), Facts()
    )
    assert status is Status.FAIL and words in message


def test_a_clobber_must_be_the_default_selector_and_only_from_elsewhere() -> None:
    pred = prediction("intel-sep")
    rs = results("intel-sep", "regs-preserved")
    ldt = rs["regs-preserved/vdso_sym/ldt-selectors"]
    odd = {"cs": {"before": "0x7", "after": "0x33", "times": 14}}
    status, message, _ = judge("regs-preserved", mutated(ldt, changed=odd), pred, Facts())
    assert status is Status.FAIL and "0x23" in message
    own = rs["regs-preserved/vdso_sym/sentinels"]
    same = {"cs": {"before": "0x23", "after": "0x23", "times": 1}}
    status, message, _ = judge("regs-preserved", mutated(own, changed=same), pred, Facts())
    assert status is Status.FAIL and "held the default selector" in message


def test_exit_stop_changes_reaching_a_vsyscall_caller_fail() -> None:
    r = results("amd-syscall32", "ptrace-modify")["ptrace-modify/at_sysinfo/exit"]
    final = dict(r["observed"]["final"], ecx="exit")
    status, message, predicted = judge(
        "ptrace-modify", mutated(r, final=final), prediction("amd-syscall32"), Facts()
    )
    assert status is Status.FAIL
    assert "ecx: observed 'exit', predicted 'orig'" in message
    assert predicted["final"]["ecx"] == "orig"


def test_entry_stop_changes_must_become_the_arguments() -> None:
    r = results("i386-int80", "ptrace-modify")["ptrace-modify/vdso_sym/entry"]
    bad = mutated(r, result=-9, data_at_100="")
    status, message, _ = judge("ptrace-modify", bad, prediction("i386-int80"), Facts())
    assert status is Status.FAIL and "result" in message


def test_restart_must_use_the_edited_registers() -> None:
    r = results("intel-sep", "sigreturn-modify")["sigreturn-modify/vdso_sym/restart"]
    assert r["observed"]["handler_eip"] == "landing_pad-2"
    bad = mutated(r, bufB="", bufA="restarted-read")
    status, message, _ = judge("sigreturn-modify", bad, prediction("intel-sep"), Facts())
    assert status is Status.FAIL and "bufB" in message


def test_glibc_eintr_ignores_what_glibc_itself_clobbers() -> None:
    r = results("hygon-syscall32", "sigreturn-modify")["sigreturn-modify/glibc/eintr"]
    assert r["observed"]["final"]["edx"] == "other"  # __syscall_error used edx
    status, _, predicted = judge("sigreturn-modify", r, prediction("hygon-syscall32"), Facts())
    assert status is Status.PASS
    assert predicted["final"]["edx"] == "n/a"


def test_landing_pad_offset_comes_from_the_model() -> None:
    r = results("centaur-sep", "auxv-symbol")["auxv-symbol/at_sysinfo/landing-pad"]
    pred = prediction("centaur-sep")
    assert r["observed"]["offset"] == pred.landing_pad_offset
    status, message, _ = judge("auxv-symbol", mutated(r, offset=7), pred, Facts())
    assert status is Status.FAIL and "offset" in message


def test_symbol_offset_is_cross_checked_with_the_agent() -> None:
    r = results("i386-amd-sep", "auxv-symbol")["auxv-symbol/vdso_sym/equals-at_sysinfo"]
    pred = prediction("i386-amd-sep")
    assert judge("auxv-symbol", r, pred, facts("i386-amd-sep"))[0] is Status.PASS
    status, message, _ = judge("auxv-symbol", r, pred, Facts(vsyscall_offset=0x560))
    assert status is Status.FAIL and "offset_in_image" in message


def test_guest_skip_and_error_pass_through_and_malformed_is_an_error() -> None:
    pred = prediction("intel-sep")
    skip = {"test": "sigreturn-modify/glibc/eip", "status": "skip", "message": "why"}
    assert judge("sigreturn-modify", skip, pred, Facts())[:2] == (Status.SKIP, "why")
    bad = {"test": "regs-preserved/int80/sentinels", "status": "pass", "observed": "x"}
    assert judge("regs-preserved", bad, pred, Facts())[0] is Status.ERROR
    odd = {"test": "regs-preserved/sysenter/x", "status": "pass", "observed": {}}
    assert judge("regs-preserved", odd, pred, Facts())[0] is Status.ERROR


def test_model_paths_and_stub_frame() -> None:
    for profile in PROFILES:
        pred = prediction(profile)
        frame = stub_frame(pred)
        assert frame.pushed == ("ecx", "edx", "ebp")
        assert frame.popped == ("ebp", "edx", "ecx")
        assert frame.depth == 16
        assert ptrace_prediction(pred, "glibc")["final"] == dict.fromkeys(
            ("ebx", "ecx", "edx", "esi", "edi", "ebp"), "orig"
        )
        assert sigreturn_prediction(pred, "int80", "restart")["handler_eip"] == "int80_insn"
    assert [model_call_path(p).value for p in GUEST_PATHS] == [
        "raw-int80",
        "vsyscall",
        "vsyscall",
        "vsyscall",
    ]
    with pytest.raises(ValueError):
        model_call_path("sysenter")
    assert prediction("intel-sep").path is EntryPath.SYSENTER


class FakeSession:
    def __init__(self, lines: list[str], exit_code: int = 0) -> None:
        self.lines, self.exit_code = lines, exit_code
        self.argv: list[str] = []

    def run(self, argv: list[str], timeout: float = 60.0) -> CommandResult:
        self.argv = argv
        return CommandResult(list(argv), exit_code=self.exit_code, output=self.lines)


class FakeProfile:
    name = "amd-syscall32"


def context(lines: list[str], scenario: str, exit_code: int = 0) -> Any:
    from lab.checks import CheckContext

    return CheckContext(
        scenario=Scenario(scenario, "entry-abi", scenario, program=PROGRAMS[scenario]),
        profile=cast(Any, FakeProfile()),
        identity=identity("amd-syscall32"),
        session=cast(Any, FakeSession(lines, exit_code)),
        env=cast(Any, None),
        artefacts=Path("/nonexistent"),
    )


def test_check_end_to_end_and_a_lost_result_is_an_error() -> None:
    lines = output("amd-syscall32", "ptrace-modify")
    verdicts = _check(context(lines, "ptrace-modify"))
    assert [v.status for v in verdicts] == [Status.PASS] * 8
    assert {v.path for v in verdicts} == set(EXPECTED_TESTS["ptrace-modify"])
    assert all(v.predicted is not None and v.observed is not None for v in verdicts)
    # the program dies after the first result: the rest are reported missing
    verdicts = _check(context(lines[:1], "ptrace-modify", exit_code=1))
    assert verdicts[0].status is Status.PASS
    assert verdicts[-1].status is Status.ERROR and "no result for" in verdicts[-1].message
    verdicts = _check(context([*lines, '{"entrylab":1,"test":"x"'], "ptrace-modify"))
    assert verdicts[-1].status is Status.ERROR and "unparseable" in verdicts[-1].message


def test_checks_and_scenarios_are_registered(root: Path) -> None:
    assert {
        "regs-preserved",
        "ptrace-modify",
        "sigreturn-modify",
        "auxv-symbol",
    } <= set(load_catalog().checks)
    scenarios = load_suite(
        root / "scenarios" / "entry-abi.yaml",
        load_catalog().known(),
        load_profiles(root / "vendors.yaml"),
    )
    programs = {**PROGRAMS, "tracer-nr": "tracer_nr"}  # judged in tests/unit/test_tracer_nr.py
    assert {s.name: (s.program, s.check, s.suite) for s in scenarios} == {
        name: (programs[name], name, "entry-abi") for name in programs
    }
    for name in programs.values():
        assert (root / "lab" / "guest" / f"{name}.c").is_file()


def test_identity_files_are_the_agents_ready_lines() -> None:
    for profile in PROFILES:
        raw = json.loads((DATA / profile / "identity.json").read_text())
        assert {"vendor", "cpuinfo_flags", "machine", "at_sysinfo"} <= set(raw)
