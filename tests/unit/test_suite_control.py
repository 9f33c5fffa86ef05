"""entry-control suite: judges and model modules, on guest output captured from real guests.

Data: tests/data/entry-control/ (README.md there says how it was captured).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from lab.checks import CheckContext, parse_result_lines
from lab.config.scenarios import Scenario
from lab.errors import GuestError
from lab.model import CpuIdentity, EntryPath, Prediction, predict
from lab.model.clone import predict_child, predict_vfork_parent
from lab.model.restart import (
    ERESTART_RESTARTBLOCK,
    ERESTARTNOHAND,
    ERESTARTNOINTR,
    ERESTARTSYS,
    RestartCase,
    expected_restart,
    restart_action,
)
from lab.model.silicon import (
    CpuAction,
    RawInsn,
    VendorClass,
    predict_raw,
    silicon_action,
    vendor_class,
)
from lab.model.singlestep import expected_steps
from lab.report.results import Environment, Status
from lab.suites.control import (
    RAW_PROBES,
    check_raw_fast_insn,
    compare_fields,
    judge_fork_clone,
    judge_raw,
    judge_restart,
    judge_single_step,
    raw_order,
)
from lab.targets.identity import GuestIdentity
from lab.targets.session import CommandResult

DATA = Path(__file__).resolve().parents[1] / "data" / "entry-control"
IDENTITIES: dict[str, dict[str, Any]] = json.loads((DATA / "identities.json").read_text())
ENV = ("tcg", "qemu-system-x86_64", "7.2.22")
PROBES = {name: (insn, frame) for name, insn, frame in RAW_PROBES}


def cpu(profile: str) -> CpuIdentity:
    i = IDENTITIES[profile]
    return CpuIdentity(i["vendor"], frozenset(i["flags"]), i["family"], i["model"], i["stepping"])


def prediction(profile: str) -> Prediction:
    return predict(IDENTITIES[profile]["kernel_bits"], cpu(profile))


def results(name: str) -> list[dict[str, Any]]:
    lines = (DATA / name).read_text().splitlines()
    parsed, problems = parse_result_lines(lines)
    assert not problems
    return parsed


def judge(profile: str, result: dict[str, Any]) -> Status:
    """Route a result line to its suite judge, as the checks do."""
    test = result["test"]
    pred = prediction(profile)
    if test.startswith("restart/"):
        return judge_restart(pred, result)[0]
    if test.startswith("single-step/"):
        return judge_single_step(pred, result)[0]
    if test.startswith(("fork/", "vfork/", "clone_vm/")):
        return judge_fork_clone(pred, result)[0]
    insn, frame = PROBES[test.removeprefix("raw-fast-insn/")]
    raw = predict_raw(insn, cpu(profile), pred.kernel_bits, frame=frame)
    return judge_raw(ENV, raw, result)[0]


# What TCG 7.2 does unlike the vendor's silicon (every other verdict passes).
DIVERGENT = {
    "amd-syscall32": {"raw-fast-insn/sysenter", "raw-fast-insn/sysenter/noframe"},
    "unknown-int80": {"raw-fast-insn/syscall", "raw-fast-insn/syscall/noframe"},
    "i386-int80": {"raw-fast-insn/sysenter", "raw-fast-insn/sysenter/noframe"},
    "intel-sep": set(),
    "i386-amd-sep": set(),
}


@pytest.mark.parametrize("profile", sorted(DIVERGENT))
def test_captured_guest_output_judged_against_model(profile: str) -> None:
    got = {r["test"]: judge(profile, r) for r in results(f"{profile}.out")}
    assert len(got) >= 49
    for test, status in got.items():
        want = Status.DIVERGENCE if test in DIVERGENT[profile] else Status.PASS
        assert status is want, (profile, test, status)


def test_real_amd_hardware_agrees_with_the_amd_silicon_model() -> None:
    """The build host (KVM on AMD EPYC) is the silicon reference for an AMD-like CPU."""
    for r in results("host-firecracker-amd-epyc-raw.out"):
        assert judge("amd-syscall32", r) is Status.PASS, r["test"]


def test_restart_predictions_name_landing_pad_minus_two() -> None:
    pred = prediction("intel-sep")
    assert pred.landing_pad_offset == 9
    read = expected_restart(pred, "vdso_sym", RestartCase.SA_RESTART_READ)
    assert read["handler_eip"] == "stub+7" and read["handler_eax"] == 3
    raw = expected_restart(pred, "int80", RestartCase.PTRACE_READ)
    assert raw["sigreturn_eip"] == "int80+0" and raw["restart_entry_eip"] == "int80+2"
    sleep = expected_restart(pred, "glibc", RestartCase.PTRACE_NANOSLEEP)
    assert sleep == {
        "exit1_eax": -516,
        "restart_nr": 0,
        "restart_entry_eip": "stub+9",
        "exit2_eax": 0,
    }


def test_restart_action_follows_handle_signal() -> None:
    assert restart_action(ERESTARTSYS, handler=True, sa_restart=True).ip_delta == -2
    assert restart_action(ERESTARTSYS, handler=True).ax == "-EINTR"
    assert restart_action(ERESTART_RESTARTBLOCK, handler=True, sa_restart=True).ax == "-EINTR"
    assert restart_action(ERESTARTNOHAND, handler=True, sa_restart=True).restarts is False
    assert restart_action(ERESTARTNOINTR, handler=True).restarts is True
    assert restart_action(ERESTART_RESTARTBLOCK, handler=False).ax == "restart_syscall"
    with pytest.raises(ValueError):
        restart_action(4, handler=False)


def test_single_step_sequences_from_the_decoded_stub() -> None:
    sep = prediction("intel-sep")
    assert expected_steps(sep, "at_sysinfo", "tf") == [
        "stub+0", "stub+1", "stub+2", "stub+3", "stub+5",
        "stub+10", "stub+11", "stub+12", "ret",
    ]  # fmt: skip
    assert "stub+9" in expected_steps(sep, "vdso_sym", "ptrace")
    int80 = prediction("i386-int80")
    assert int80.path is EntryPath.INT80
    assert expected_steps(int80, "glibc", "tf")[4] == "stub+7"  # after the 4-byte nop
    assert expected_steps(int80, "int80", "ptrace") == ["int80+0", "int80+2", "ret"]


def test_a_trap_at_the_landing_pad_in_tf_mode_fails_with_both_shown() -> None:
    """A fast return with TF set (SYSRET) would trap at stub+9: the model says IRET."""
    r = next(x for x in results("intel-sep.out") if x["test"] == "single-step/at_sysinfo/tf")
    steps = r["observed"]["steps"]
    r["observed"]["steps"] = [*steps[:5], "stub+9", *steps[5:]]
    r["status"] = "fail"
    status, message, predicted = judge_single_step(prediction("intel-sep"), r)
    assert status is Status.FAIL
    assert "steps: observed" in message and "stub+9" not in predicted["steps"]


def test_guest_pass_but_model_disagrees_is_a_fail() -> None:
    r = next(x for x in results("amd-syscall32.out") if x["test"].endswith("ptrace_read"))
    r["observed"]["sigreturn_eip"] = "stub+9"  # a restart that did not rewind ip
    status, message, _ = judge_restart(prediction("amd-syscall32"), r)
    assert status is Status.FAIL and message.startswith("model and guest disagree")


def test_clone_through_vdso_takes_registers_and_return_from_new_stack() -> None:
    pred = prediction("amd-syscall32")
    fate = predict_child(
        pred, "clone_vm", "vdso_sym", "prepared", ("0xeb0eb0eb", "0xedd0edd0", "0xecc0ecc0", "f")
    )
    assert fate.fate == "returned-to-slot" and fate.esp_from_newsp == 16
    assert fate.registers == {"ebp": "0xeb0eb0eb", "edx": "0xedd0edd0", "ecx": "0xecc0ecc0"}
    dead = predict_child(pred, "clone_vm", "at_sysinfo", "zeroed")
    assert dead.fate == "sigsegv" and dead.fault_eip == "0x0"
    assert predict_child(pred, "clone_vm", "int80").fate == "resumed-after-int80"
    assert predict_child(pred, "vfork", "vdso_sym").fate == "returned-to-caller"
    assert predict_child(pred, "clone_vm", "glibc").fate == "ran-fn"


def test_vfork_child_writing_the_borrowed_stack_zaps_the_parent_only_via_vdso() -> None:
    pred = prediction("intel-sep")
    words = ("0xbad0bad3", "0xbad0bad2", "0xbad0bad1", "0xbad0bad0")
    vdso = predict_vfork_parent(pred, "at_sysinfo", words)
    assert vdso.fate == "sigsegv" and vdso.fault_eip == "0xbad0bad3"
    assert vdso.registers == {"ebp": "0xbad0bad0", "edx": "0xbad0bad1", "ecx": "0xbad0bad2"}
    assert predict_vfork_parent(pred, "int80", words).fate == "returned-to-caller"
    assert predict_vfork_parent(pred, "glibc", words).fate == "returned-to-caller"
    seen = {
        r["test"]: r["observed"]["parent"]["fate"]
        for r in results("i386-int80.out")
        if r["test"].endswith("/child_pushes")
    }
    assert seen == {
        "vfork/int80/child_pushes": "returned-to-caller",
        "vfork/at_sysinfo/child_pushes": "sigsegv",
        "vfork/vdso_sym/child_pushes": "sigsegv",
        "vfork/glibc/child_pushes": "returned-to-caller",
    }


def test_clone_child_landing_elsewhere_fails() -> None:
    r = next(x for x in results("i386-amd-sep.out") if x["test"] == "clone_vm/vdso_sym/prepared")
    r["observed"]["child"]["fate"] = "returned-to-caller"
    status, message, _ = judge_fork_clone(prediction("i386-amd-sep"), r)
    assert status is Status.FAIL and "child fate" in message


@pytest.mark.parametrize(
    ("vendor", "cls", "assumed"),
    [
        ("GenuineIntel", VendorClass.INTEL_LIKE, False),
        ("AuthenticAMD", VendorClass.AMD_LIKE, False),
        ("HygonGenuine", VendorClass.AMD_LIKE, False),
        ("CentaurHauls", VendorClass.INTEL_LIKE, False),
        ("GenuineTMx86", VendorClass.INTEL_LIKE, True),
        ("SomethingNew", VendorClass.INTEL_LIKE, True),
    ],
)
def test_vendor_class(vendor: str, cls: VendorClass, assumed: bool) -> None:
    basis = vendor_class(vendor)
    assert basis.cls is cls and basis.assumed is assumed


def test_silicon_matrix() -> None:
    def act(profile: str, insn: RawInsn) -> CpuAction:
        return silicon_action(insn, cpu(profile), IDENTITIES[profile]["kernel_bits"]).action

    assert act("intel-sep", RawInsn.SYSENTER) is CpuAction.EXECUTES
    assert act("intel-sep", RawInsn.SYSCALL) is CpuAction.UD
    assert act("amd-syscall32", RawInsn.SYSENTER) is CpuAction.UD
    assert act("hygon-syscall32", RawInsn.SYSCALL) is CpuAction.EXECUTES
    assert act("centaur-sep", RawInsn.SYSCALL) is CpuAction.UD
    assert act("i386-amd-sep", RawInsn.SYSENTER) is CpuAction.EXECUTES
    assert act("i386-amd-sep", RawInsn.SYSCALL) is CpuAction.UD  # EFER.SCE clear
    assert act("i386-int80", RawInsn.SYSENTER) is CpuAction.UD  # no SEP
    # A Pentium Pro reports SEP but has no SYSENTER (intel_workarounds() in intel.c).
    ppro = CpuIdentity("GenuineIntel", frozenset({"sep"}), 6, 1, 9)
    assert silicon_action(RawInsn.SYSENTER, ppro, 32).action is CpuAction.UD


def test_intel_syscall_that_executes_kills_the_kernel_and_runs_last() -> None:
    p = predict_raw(RawInsn.SYSCALL, cpu("intel-sep"), 64)
    assert p.expected.outcome == "SIGILL@insn"
    assert p.alternatives[CpuAction.EXECUTES].outcome == "guest-kernel-dies"
    preds = {n: predict_raw(i, cpu("intel-sep"), 64, frame=f) for n, i, f in RAW_PROBES}
    assert raw_order(preds)[-2:] == ["syscall", "syscall/noframe"]
    # On a non-Intel vendor MSR_CSTAR is written: the same SYSCALL returns through the vDSO.
    unk = predict_raw(RawInsn.SYSCALL, cpu("unknown-int80"), 64)
    assert unk.alternatives[CpuAction.EXECUTES].outcome == "returned@slot"


def test_raw_outcome_matching_nothing_is_a_fail() -> None:
    r = next(x for x in results("intel-sep.out") if x["test"] == "raw-fast-insn/sysenter")
    r["observed"]["outcome"] = "returned-inline"
    p = predict_raw(RawInsn.SYSENTER, cpu("intel-sep"), 64)
    status, message, predicted = judge_raw(ENV, p, r)
    assert status is Status.FAIL and "neither silicon" in message
    assert predicted["outcome"] == "returned@slot"


def test_divergence_names_accelerator_and_qemu_version() -> None:
    r = next(x for x in results("amd-syscall32.out") if x["test"] == "raw-fast-insn/sysenter")
    p = predict_raw(RawInsn.SYSENTER, cpu("amd-syscall32"), 64)
    status, message, predicted = judge_raw(ENV, p, r)
    assert status is Status.DIVERGENCE
    assert "tcg qemu-system-x86_64 7.2.22" in message and "AMD APM" in message
    assert predicted["outcome"] == "SIGILL@insn" and "emulator_did" in predicted


def test_compare_fields() -> None:
    assert compare_fields({"a": 1, "b": 2}, {"a": 1}) == []
    assert compare_fields({"a": 1}, {"a": 2}) == ["a: observed 1, predicted 2"]
    assert compare_fields(None, {"a": 1})[0].startswith("no observation")


class _DyingSession:
    """Answers raw_fast_insn probes from captured output; the SYSCALL probe kills the guest."""

    def __init__(self, lines: dict[str, str], excerpt: str) -> None:
        self.lines, self.excerpt = lines, excerpt
        self.ran: list[str] = []

    def run(self, argv: list[str], timeout: float = 60.0) -> CommandResult:
        probe = argv[-1]
        self.ran.append(probe)
        if probe.startswith("syscall"):
            raise GuestError("intel-sep", "panic", "Kernel panic - not syncing", self.excerpt)
        return CommandResult(argv, exit_code=0, output=[self.lines[probe]])


def test_raw_check_reports_a_guest_death_with_what_finished(tmp_path: Path) -> None:
    console = (DATA / "intel-sep-raw-syscall-console.log").read_text()
    ready = re.search(r"READY (\{.*\})", console)
    assert ready is not None
    identity = GuestIdentity.parse(ready.group(1))
    lines = {
        r["test"].removeprefix("raw-fast-insn/"): json.dumps(r)
        for r in results("intel-sep.out")
        if r["test"].startswith("raw-fast-insn/")
    }
    session = _DyingSession(lines, console)
    env = Environment(
        "intel-sep", "cloud-amd64", "debian", identity.kernel_release, *ENV[1:2], ENV[2],
        ENV[0], "Skylake-Client", "microvm", identity.vendor, 64,
    )  # fmt: skip
    ctx = CheckContext(
        Scenario("raw-fast-insn", "entry-control", "control-raw-fast-insn", "raw_fast_insn"),
        cast(Any, SimpleNamespace(name="intel-sep")),
        identity,
        cast(Any, session),
        env,
        tmp_path,
    )
    with pytest.raises(GuestError) as err:
        check_raw_fast_insn(ctx)
    assert session.ran == ["int80", "sysenter", "sysenter/noframe", "syscall"]
    reason = err.value.reason
    assert "raw-fast-insn/syscall killed the guest" in reason and "7.2.22" in reason
    assert "MSR_CSTAR" in reason and "raw-fast-insn/sysenter: pass" in reason
    assert "RIP: 0010:0x0" in err.value.excerpt
    *partial, death = err.value.verdicts
    assert [v.path for v in partial] == [
        "raw-fast-insn/int80",
        "raw-fast-insn/sysenter",
        "raw-fast-insn/sysenter/noframe",
    ]
    # Real Intel raises #UD (SIGILL); the emulator's guest death is the finding.
    assert death.path == "raw-fast-insn/syscall" and death.status is Status.DIVERGENCE
    assert "RIP: 0010:0x0" in death.excerpt
    assert all(v.status is Status.PASS for v in partial)
