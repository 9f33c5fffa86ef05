"""The engine's error→verdict policy against a fake Target: no QEMU, every branch.

Boot failure, KVM→TCG fallback (remembered), panic / hang / emulator death mid-scenario followed
by a reboot that runs the rest, a bug in a check, machine variants, real-machine skips, Ctrl-C.
The same policy runs against real QEMU in tests/integration (test_reliability, test_faults).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from lab.checks import CheckContext
from lab.config.profiles import Expectation, MachineVariant, Profile
from lab.config.scenarios import Scenario
from lab.engine.cell import Cell, Emulator
from lab.engine.runner import CellRunner, RunContext
from lab.errors import BootError, GuestError
from lab.events import Event, Kind
from lab.images.kernels import BuiltKernel
from lab.report.results import Environment, Status, Verdict
from lab.report.run import RunReport
from lab.targets.base import Accel, Target, TargetKind, Transport
from lab.targets.console import LineSplitter
from lab.targets.identity import GuestIdentity

DATA = Path(__file__).parent.parent / "data"
IDENTITY = GuestIdentity.parse((DATA / "entry-abi/amd-syscall32/identity.json").read_text())
PROFILE = Profile(
    "amd-syscall32",
    "cloud-amd64",
    "qemu-system-x86_64",
    "EPYC",
    Expectation("AuthenticAMD", 64),
    source="vendors.yaml:25",
)
KERNEL = BuiltKernel("cloud-amd64", Path("/nonexistent/vmlinux"), 64, "vmlinux", "", "test", {})


@dataclass
class FakeTarget:
    """A Target whose boot succeeds or raises as the test says; it records its life."""

    booted: Profile
    accel: Accel
    fail_boot: str = ""
    boot_seconds: float = 0.1
    stopped: int = 0
    capped: str | None = None
    lines: LineSplitter = field(default_factory=lambda: LineSplitter("nonce"))

    def boot(self) -> GuestIdentity:
        if self.fail_boot:
            raise BootError(self.booted.name, self.fail_boot, "console tail")
        return IDENTITY

    @property
    def link(self) -> Any:
        return None  # the test's checks never talk to the guest

    @property
    def console(self) -> LineSplitter:
        return self.lines

    def stop(self) -> None:
        self.stopped += 1

    def environment(self, identity: GuestIdentity | None, variant: str) -> Environment:
        return Environment(
            self.booted.name,
            "cloud-amd64",
            "test",
            "6.1",
            "qemu-system-x86_64",
            "7.2",
            str(self.accel),
            self.booted.cpu,
            "microvm",
            "AuthenticAMD",
            64,
            variant,
        )

    def emulator_notes(self) -> list[str]:
        return []

    def guest_record(self) -> dict[str, Any]:
        return {}

    def console_capped(self) -> str | None:
        return self.capped

    def __enter__(self) -> FakeTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_is_a_target: type[Target] = FakeTarget


class Memo:
    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.marked: list[str] = []

    def known_broken(self, binary: str) -> bool:
        return self.broken

    def mark_broken(self, reason: str, binary: str) -> None:
        self.broken = True
        self.marked.append(reason)


@dataclass
class Lab:
    """One cell's run with a scripted factory and scripted checks."""

    tmp: Path
    boot_failures: Callable[[Profile, Accel, int], str] = lambda p, a, n: ""
    accel: Accel = Accel.TCG
    explicit: bool = False
    memo: Memo = field(default_factory=Memo)
    targets: list[FakeTarget] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    reruns: int = 0
    steady: dict[str, str] = field(default_factory=dict)

    def factory(self, cell: Cell, booted: Profile, accel: Accel, boot_dir: Path) -> FakeTarget:
        t = FakeTarget(booted, accel, self.boot_failures(booted, accel, len(self.targets)))
        self.targets.append(t)
        return t

    def run(
        self, cell: Cell, checks: dict[str, Callable[[CheckContext], list[Verdict]]]
    ) -> RunReport:
        report = RunReport(self.tmp, "run1", {"kind": "test"})
        ctx = RunContext(
            report,
            self.stop,
            self.events.append,
            self.accel,
            self.explicit,
            {},
            checks,
            self.factory,
            kvm=self.memo,
            reruns=self.reruns,
            steady=self.steady,
        )
        CellRunner(cell, ctx).run()
        return report


def scenario(name: str, check: str = "ok", **kw: Any) -> Scenario:
    return Scenario(name, "test", check, **kw)


def cell(*scenarios: Scenario, kind: TargetKind = TargetKind.QEMU, **kw: Any) -> Cell:
    return Cell(
        PROFILE,
        kind,
        Transport.CONSOLE,
        scenarios,
        kernel=KERNEL,
        emulator=Emulator("system", "qemu-system-x86_64", "7.2"),
        initramfs=Path("/i"),
        **kw,
    )


def ok(ctx: CheckContext) -> list[Verdict]:
    return [ctx.verdict(Status.PASS, "fine")]


def dies(kind: str) -> Callable[[CheckContext], list[Verdict]]:
    def check(ctx: CheckContext) -> list[Verdict]:
        raise GuestError(ctx.profile.name, kind, f"the guest {kind}", "excerpt")

    return check


def by_scenario(report: RunReport) -> dict[str, Verdict]:
    return {v.scenario: v for v in report.verdicts}


def test_every_verdict_carries_the_cell(tmp_path: Path) -> None:
    report = Lab(tmp_path).run(cell(scenario("a")), {"ok": ok})
    (v,) = report.verdicts
    assert v.status is Status.PASS and v.cell == "amd-syscall32@cloud-amd64"
    assert v.env is not None and v.env.cell == v.cell and v.env.emulator == "system"


def test_boot_failure_costs_the_remaining_scenarios_with_the_reason(tmp_path: Path) -> None:
    lab = Lab(tmp_path, boot_failures=lambda p, a, n: "not ready within 1 s (boot timeout)")
    report = lab.run(cell(scenario("a"), scenario("b")), {"ok": ok})
    verdicts = by_scenario(report)
    assert set(verdicts) == {"a", "b"}
    for v in verdicts.values():
        assert v.status is Status.ERROR and v.error_kind == "boot"
        assert "boot timeout" in v.message and v.excerpt == "console tail"
    assert lab.targets[0].stopped >= 1  # a failed boot is reaped
    assert any(e.kind is Kind.BOOT_FAILED for e in lab.events)


def test_kvm_boot_failure_falls_back_to_tcg_once_and_remembers(tmp_path: Path) -> None:
    lab = Lab(
        tmp_path,
        accel=Accel.KVM,
        boot_failures=lambda p, a, n: "KVM internal error" if a is Accel.KVM else "",
    )
    report = lab.run(cell(scenario("a")), {"ok": ok})
    assert [t.accel for t in lab.targets] == [Accel.KVM, Accel.TCG]
    assert lab.memo.marked == ["KVM internal error"]
    assert report.verdicts[0].status is Status.PASS
    assert any("falling back to TCG" in e.message for e in lab.events)


def test_known_broken_kvm_is_not_tried_again(tmp_path: Path) -> None:
    lab = Lab(tmp_path, accel=Accel.KVM, memo=Memo(broken=True))
    lab.run(cell(scenario("a")), {"ok": ok})
    assert [t.accel for t in lab.targets] == [Accel.TCG]


def test_explicit_kvm_does_not_fall_back(tmp_path: Path) -> None:
    lab = Lab(tmp_path, accel=Accel.KVM, explicit=True, boot_failures=lambda p, a, n: "KVM broke")
    report = lab.run(cell(scenario("a")), {"ok": ok})
    assert [t.accel for t in lab.targets] == [Accel.KVM]
    assert report.verdicts[0].error_kind == "boot" and lab.memo.marked == []


@pytest.mark.parametrize(
    ("kind", "recorded"),
    [("panic", "panic"), ("hang", "hang"), ("qemu exited", "qemu exited"), ("ssh", "ssh")],
)
def test_guest_death_mid_scenario_reboots_and_runs_the_rest(
    tmp_path: Path, kind: str, recorded: str
) -> None:
    lab = Lab(tmp_path)
    cells = cell(scenario("a"), scenario("dies", "dies"), scenario("c"))
    report = lab.run(cells, {"ok": ok, "dies": dies(kind)})
    verdicts = by_scenario(report)
    assert verdicts["a"].status is Status.PASS and verdicts["c"].status is Status.PASS
    died = verdicts["dies"]
    assert died.status is Status.ERROR and died.error_kind == recorded
    assert died.message == f"guest {kind}: the guest {kind}" and died.excerpt == "excerpt"
    assert len(lab.targets) == 2 and all(t.stopped for t in lab.targets)
    assert any(e.kind is Kind.REBOOTING for e in lab.events)


def test_a_check_that_explains_the_death_keeps_its_verdicts(tmp_path: Path) -> None:
    def explains(ctx: CheckContext) -> list[Verdict]:
        mine = [ctx.verdict(Status.DIVERGENCE, "silicon would #UD")]
        raise GuestError(ctx.profile.name, "panic", "double fault", "x", verdicts=mine)

    report = Lab(tmp_path).run(cell(scenario("p", "p"), scenario("b")), {"ok": ok, "p": explains})
    verdicts = by_scenario(report)
    assert verdicts["p"].status is Status.DIVERGENCE and verdicts["p"].cell
    assert verdicts["b"].status is Status.PASS


def test_a_bug_in_a_check_costs_one_verdict_and_no_reboot(tmp_path: Path) -> None:
    def buggy(ctx: CheckContext) -> list[Verdict]:
        raise KeyError("oops")

    lab = Lab(tmp_path)
    report = lab.run(cell(scenario("bug", "bug"), scenario("b")), {"ok": ok, "bug": buggy})
    verdicts = by_scenario(report)
    assert verdicts["bug"].error_kind == "lab" and "lab bug in check bug" in verdicts["bug"].message
    assert verdicts["b"].status is Status.PASS and len(lab.targets) == 1


def test_machine_variants_boot_separately_default_first_and_icount_uses_tcg(
    tmp_path: Path,
) -> None:
    lab = Lab(tmp_path, accel=Accel.KVM)
    icount = MachineVariant(icount=True)
    report = lab.run(cell(scenario("exact", machine=icount), scenario("a")), {"ok": ok})
    assert [t.booted.icount for t in lab.targets] == [False, True]
    assert [t.accel for t in lab.targets] == [Accel.KVM, Accel.TCG]
    verdicts = by_scenario(report)
    assert verdicts["exact"].env is not None and verdicts["exact"].env.variant == "icount"
    assert "amd-syscall32@cloud-amd64+icount" in report.results_json()["guests"]


def test_skips_are_reported_not_dropped(tmp_path: Path) -> None:
    s = scenario("needs-layer", needs=("kselftest-x86",))
    report = Lab(tmp_path).run(
        cell(scenario("a"), skipped=((s, "needs initramfs layers"),)), {"ok": ok}
    )
    verdicts = by_scenario(report)
    assert verdicts["needs-layer"].status is Status.SKIP
    assert verdicts["needs-layer"].message == "needs initramfs layers"


def test_an_unbootable_cell_is_errors_with_the_reason(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    report = lab.run(cell(scenario("a"), unbootable="transport ssh: no SSH in images"), {})
    (v,) = report.verdicts
    assert v.error_kind == "boot" and "no SSH in images" in v.message and not lab.targets


def test_interrupted_boot_is_not_the_guests_fault(tmp_path: Path) -> None:
    lab = Lab(tmp_path, boot_failures=lambda p, a, n: "QEMU exited")
    lab.stop.set()
    report = Lab.run(lab, replace(cell(scenario("a")), scenarios=(scenario("a"),)), {"ok": ok})
    assert report.verdicts == []  # stopped before the first boot: nothing claimed
    lab2 = Lab(tmp_path / "2")

    def stop_then_fail(p: Profile, a: Accel, n: int) -> str:
        lab2.stop.set()
        return "QEMU exited"

    lab2.boot_failures = stop_then_fail
    (v,) = lab2.run(cell(scenario("a")), {"ok": ok}).verdicts
    assert v.error_kind == "interrupted" and "interrupted" in v.message


def test_console_cap_is_noted_per_boot(tmp_path: Path) -> None:
    lab = Lab(tmp_path)

    def capped(c: Cell, booted: Profile, accel: Accel, d: Path) -> FakeTarget:
        t = FakeTarget(booted, accel, capped="console log cap (1 MiB) reached: 9 bytes dropped")
        lab.targets.append(t)
        return t

    lab.factory = capped  # type: ignore[method-assign]
    report = lab.run(cell(scenario("a")), {"ok": ok})
    guest = report.results_json()["guests"]["amd-syscall32@cloud-amd64"]
    assert "9 bytes dropped" in guest["console_log_capped_boot1"]


# -- re-runs: flaky or not (lab.engine.confirm) ---------------------------------------------------


def alternating(first: Status) -> Callable[[CheckContext], list[Verdict]]:
    """A check whose outcome flips on every call: first, pass, first, pass, …"""
    calls: list[int] = []

    def check(ctx: CheckContext) -> list[Verdict]:
        calls.append(1)
        status = first if len(calls) % 2 else Status.PASS
        return [ctx.verdict(status, f"call {len(calls)}", excerpt=f"excerpt {len(calls)}")]

    return check


def test_a_bad_result_that_flips_on_fresh_boots_is_flaky_with_every_attempt(tmp_path: Path) -> None:
    lab = Lab(tmp_path, reruns=3)
    report = lab.run(
        cell(scenario("a", "flip"), scenario("b")), {"flip": alternating(Status.FAIL), "ok": ok}
    )
    verdicts = by_scenario(report)
    assert verdicts["b"].status is Status.PASS and not verdicts["b"].attempts
    a = verdicts["a"]
    assert a.status is Status.FLAKY and a.tally == "2 of 4 bad"
    assert [x["status"] for x in a.attempts] == ["fail", "pass", "fail", "pass"]
    assert [x["excerpt"] for x in a.attempts] == [f"excerpt {n}" for n in range(1, 5)]
    assert [x["boot"] for x in a.attempts] == ["boot1", "boot2", "boot3", "boot4"]
    assert len(lab.targets) == 4  # one boot for the run, one per re-run (only "a" re-ran)
    # each re-run boot says which attempt it is on its kernel command line
    assert [t.booted.append for t in lab.targets] == [
        (),
        ("entrylab.rerun=1",),
        ("entrylab.rerun=2",),
        ("entrylab.rerun=3",),
    ]


def test_a_bad_result_seen_every_time_keeps_its_status_n_of_n(tmp_path: Path) -> None:
    def always(ctx: CheckContext) -> list[Verdict]:
        return [ctx.verdict(Status.DIVERGENCE, "TCG executes SYSENTER")]

    report = Lab(tmp_path, reruns=2).run(cell(scenario("a", "div")), {"div": always})
    (v,) = report.verdicts
    assert v.status is Status.DIVERGENCE and v.tally == "3 of 3 bad"
    assert v.message.endswith("[3 of 3]")


def test_a_guest_that_dies_on_a_rerun_counts_as_a_bad_attempt_of_each_path(tmp_path: Path) -> None:
    calls: list[int] = []

    def check(ctx: CheckContext) -> list[Verdict]:
        calls.append(1)
        if len(calls) == 2:
            raise GuestError(ctx.profile.name, "panic", "Kernel panic", "excerpt")
        return [
            ctx.verdict(Status.FAIL, "wrong", path="p1"),
            ctx.verdict(Status.PASS, "", path="p2"),
        ]

    report = Lab(tmp_path, reruns=2).run(cell(scenario("a", "c")), {"c": check})
    p1 = next(v for v in report.verdicts if v.path == "p1")
    assert p1.status is Status.FLAKY  # fail, error (the panic), fail
    assert [x["status"] for x in p1.attempts] == ["fail", "error", "fail"]
    assert "panic" in p1.attempts[1]["message"]


def test_a_boot_failure_is_tried_once_more_only(tmp_path: Path) -> None:
    lab = Lab(tmp_path, reruns=3, boot_failures=lambda p, a, n: "boot timeout")
    report = lab.run(cell(scenario("a")), {"ok": ok})
    (v,) = report.verdicts
    assert v.status is Status.ERROR and v.tally == "2 of 2 bad" and len(lab.targets) == 2


def test_no_reruns_when_stopping(tmp_path: Path) -> None:
    lab = Lab(tmp_path, reruns=3)

    def fail_and_stop(ctx: CheckContext) -> list[Verdict]:
        lab.stop.set()
        return [ctx.verdict(Status.FAIL, "wrong")]

    report = lab.run(cell(scenario("a", "f")), {"f": fail_and_stop})
    (v,) = report.verdicts
    assert v.status is Status.FAIL and not v.attempts and len(lab.targets) == 1


def test_a_result_the_previous_nightly_confirmed_needs_one_agreeing_rerun(tmp_path: Path) -> None:
    def always(ctx: CheckContext) -> list[Verdict]:
        return [ctx.verdict(Status.DIVERGENCE, "TCG executes SYSENTER")]

    steady = {"amd-syscall32@cloud-amd64/a": "divergence"}
    lab = Lab(tmp_path, reruns=3, steady=steady)
    (v,) = lab.run(cell(scenario("a", "div")), {"div": always}).verdicts
    assert v.status is Status.DIVERGENCE and v.tally == "2 of 2 bad" and len(lab.targets) == 2
    # one that flips on its first re-run gets the full count
    flips = Lab(tmp_path / "b", reruns=3, steady={"amd-syscall32@cloud-amd64/a": "fail"})
    (w,) = flips.run(cell(scenario("a", "flip")), {"flip": alternating(Status.FAIL)}).verdicts
    assert w.status is Status.FLAKY and w.tally == "2 of 4 bad" and len(flips.targets) == 4


def test_steady_results_are_the_bad_ones_every_rerun_confirmed() -> None:
    from lab.engine.confirm import steady_results

    previous = {
        "verdicts": [
            {
                "cell": "c",
                "scenario": "a",
                "status": "divergence",
                "attempts": [{"status": "divergence"}, {"status": "divergence"}],
            },
            {
                "cell": "c",
                "scenario": "b",
                "path": "p",
                "status": "flaky",
                "attempts": [{"status": "fail"}, {"status": "pass"}],
            },
            {"cell": "c", "scenario": "d", "status": "fail", "attempts": []},
        ]
    }
    assert steady_results(previous) == {"c/a": "divergence"}
    assert steady_results(None) == {}
