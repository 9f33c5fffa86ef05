"""Attribution on recorded verdicts: cause classes, evidence from other emulator builds, and
the claims that evidence contradicts (lab.engine.attribution)."""

from __future__ import annotations

from typing import Any

from lab.engine import attribution
from lab.report import history
from lab.report.results import Environment, Status, Verdict

SMAP = {  # what the kselftest expectations attach to an xfail (Expectation.describe())
    "expectation": "tcg-far-return-smap",
    "class": "emulator",
    "cause": "QEMU before 9.1 pops the stack of a far return with supervisor accesses",
    "evidence": ["QEMU commit: far-return pops as user accesses (9.1)"],
    "source": "scenarios/expectations/kselftest-x86.yaml:80",
}
EMULATORS = {"system": "7.2.22", "10.0": "10.0.2"}


def env(emulator: str = "system", profile: str = "intel-sep", target: str = "qemu") -> Environment:
    return Environment(
        profile,
        "cloud-amd64",
        "debian:linux-image-cloud-amd64=6.1.176-1",
        "6.1.0-50-cloud-amd64",
        "qemu-system-x86_64",
        EMULATORS.get(emulator, ""),
        "tcg",
        "Skylake-Client-v4",
        "microvm",
        "GenuineIntel",
        64,
        emulator=emulator,
        target=target,
    )


def verdict(
    status: Status,
    emulator: str = "system",
    scenario: str = "kst-test_syscall_vdso_32",
    path: str | None = "Executing 6-argument 32-bit syscall via VDSO",
    **kw: Any,
) -> Verdict:
    e = env(emulator)
    suffix = "" if emulator == "system" else f"@{emulator}"
    return Verdict(
        "intel-sep",
        scenario,
        status,
        kw.pop("message", f"{status.value} on {emulator}"),
        path=path,
        env=e,
        cell=f"intel-sep@cloud-amd64{suffix}",
        **kw,
    )


def classified(*verdicts: Verdict) -> list[Verdict]:
    for v in verdicts:
        v.cause, v.evidence = attribution.classify(v)
    return list(verdicts)


def test_every_non_pass_verdict_gets_a_cause_class() -> None:
    divergence = verdict(
        Status.DIVERGENCE,
        scenario="raw-fast-insn",
        path="sysenter",
        predicted={"silicon": "amd: ud", "source": "AMD APM vol. 3 SYSENTER"},
    )
    skip = verdict(Status.SKIP, message="ia32_emulation=0: the kernel refuses 32-bit ELF")
    lab_error = verdict(Status.ERROR, error_kind="program", message="did not compile")
    xfail = verdict(Status.XFAIL, predicted=SMAP)
    exit_code = verdict(
        Status.XFAIL, path="exit-code", predicted={"explained_by": ["tcg-far-return-smap"]}
    )
    fail = verdict(Status.FAIL, scenario="regs-preserved", path="ebp")
    flaky = verdict(Status.FLAKY, attempts=[{"status": "fail"}, {"status": "pass"}])
    assert attribution.classify(verdict(Status.PASS)) == ("", [])
    assert attribution.classify(divergence)[0] == "emulator"
    assert "source: AMD APM vol. 3 SYSENTER" in attribution.classify(divergence)[1]
    assert attribution.classify(skip) == (
        "configuration",
        ["skipped: ia32_emulation=0: the kernel refuses 32-bit ELF"],
    )
    assert attribution.classify(lab_error)[0] == "lab"
    cause, evidence = attribution.classify(xfail)
    assert cause == "emulator" and evidence[0].startswith("expectation tcg-far-return-smap (")
    assert evidence[1] == SMAP["evidence"][0]
    assert attribution.classify(exit_code, {"tcg-far-return-smap": "emulator"})[0] == "emulator"
    assert attribution.classify(fail) == ("unknown", [])
    assert attribution.classify(flaky) == ("unknown", ["re-runs disagreed (1 of 2 bad)"])


def test_evidence_runs_are_requested_only_for_builds_the_run_did_not_make() -> None:
    verdicts = classified(
        verdict(Status.XFAIL, predicted=SMAP),
        verdict(Status.DIVERGENCE, scenario="raw-fast-insn", path="sysenter"),
        verdict(Status.PASS, scenario="vdso-entry", path=None),
        verdict(Status.ERROR, scenario="x", error_kind="program"),  # nothing to compare
    )
    wanted = attribution.requests(verdicts, ["system", "10.0"], set())
    assert wanted == [
        attribution.Request(
            "intel-sep@cloud-amd64", "10.0", ("kst-test_syscall_vdso_32", "raw-fast-insn")
        )
    ]
    ran_both = {("intel-sep", "cloud-amd64", "system"), ("intel-sep", "cloud-amd64", "10.0")}
    assert attribution.requests(verdicts, ["system", "10.0"], ran_both) == []


def test_an_artefact_gone_on_a_newer_build_inside_its_bounds_is_consistent() -> None:
    xfail = verdict(Status.XFAIL, predicted=SMAP)
    on_10 = verdict(Status.PASS, "10.0")  # the entry's qemu below 9.1 leaves 10.0.2 out
    (v,) = classified(xfail)
    assert attribution.attach([v], [on_10]) == []
    assert v.attribution == "seen on 7.2.22 (system); gone on 10.0.2 (10.0)"
    assert v.elsewhere == [
        {
            "emulator": "10.0",
            "qemu_version": "10.0.2",
            "target": "qemu",
            "status": "pass",
            "outcome": "gone",
            "message": "pass on 10.0",
            "cell": "intel-sep@cloud-amd64@10.0",
        }
    ]
    assert v.cause == "emulator"


def test_an_artefact_showing_where_its_bounds_leave_it_out_is_a_contradiction() -> None:
    (v,) = classified(verdict(Status.XFAIL, predicted=SMAP))
    on_10 = verdict(Status.FAIL, "10.0", message="SIGSEGV at the LRETQ")
    (c,) = attribution.attach([v], [on_10])
    assert c.claim == "expectation tcg-far-return-smap"
    assert "shows on 10.0.2 (10.0) too" in c.evidence and "SIGSEGV" in c.evidence
    assert v.attribution == "seen on 7.2.22 (system), 10.0.2 (10.0)"


def test_an_expectation_covering_a_build_where_the_artefact_is_gone_is_a_contradiction() -> None:
    (v,) = classified(verdict(Status.XFAIL, predicted=SMAP))
    xpass = verdict(Status.XPASS, "10.0", predicted=SMAP)
    (c,) = attribution.attach([v], [xpass])
    assert "covers 10.0.2 (10.0), where the artefact is gone" in c.evidence


def test_a_failure_on_one_build_only_is_the_emulators() -> None:
    (v,) = classified(verdict(Status.FAIL, scenario="regs-preserved", path="ebp"))
    passes = verdict(Status.PASS, "10.0", scenario="regs-preserved", path="ebp")
    assert attribution.attach([v], [passes]) == []
    assert v.cause == "emulator" and v.evidence[-1].startswith("emulator-specific: seen on 7.2.22")


def test_a_failure_everywhere_stays_unknown_and_a_build_that_could_not_run_says_not_run() -> None:
    (v,) = classified(verdict(Status.FAIL, scenario="regs-preserved", path="ebp"))
    other = verdict(Status.FAIL, "10.0", scenario="regs-preserved", path="ebp")
    (w,) = classified(verdict(Status.FAIL, scenario="single-step", path=None))
    no_boot = verdict(Status.ERROR, "10.0", scenario="single-step", path=None, error_kind="boot")
    assert attribution.attach([v, w], [other, no_boot]) == []
    assert v.cause == "unknown" and v.attribution == "seen on 7.2.22 (system), 10.0.2 (10.0)"
    assert (
        w.cause == "unknown"
        and w.attribution == "seen on 7.2.22 (system); not run on 10.0.2 (10.0)"
    )


def test_a_divergence_seen_on_every_build_and_silicon_contradicts_its_emulator_cause() -> None:
    (v,) = classified(verdict(Status.DIVERGENCE, scenario="raw-fast-insn", path="sysenter"))
    same = verdict(Status.DIVERGENCE, "10.0", scenario="raw-fast-insn", path="sysenter")
    silicon = Verdict(
        "intel-sep",
        "raw-fast-insn",
        Status.DIVERGENCE,
        "silicon too",
        path="sysenter",
        env=env("", target="machine"),
        cell="intel-sep@silicon",
    )
    assert attribution.attach([v], [same]) == []  # every emulator: still the emulators' TCG
    (c,) = attribution.attach([v], [same, silicon])
    assert c.claim == "an emulator cause" and "silicon shows it too" in c.evidence


def test_the_run_own_cells_on_two_builds_are_each_others_evidence() -> None:
    a = verdict(Status.DIVERGENCE, scenario="raw-fast-insn", path="syscall")
    b = verdict(Status.PASS, "10.0", scenario="raw-fast-insn", path="syscall")
    classified(a, b)
    assert attribution.attach([a, b], []) == []
    assert a.attribution == "seen on 7.2.22 (system); gone on 10.0.2 (10.0)" and not b.elsewhere


def test_contradictions_turn_the_nightly_red() -> None:
    data = {
        "run_id": "r1",
        "kind": "nightly",
        "counts": {"pass": 3},
        "attribution": {"contradictions": [{"key": "k", "claim": "c", "evidence": "e"}]},
    }
    line = history.subject_line(data, [])
    assert "RED" in line and "1 claim(s) contradicted by evidence" in line
    assert "GREEN" in history.subject_line({**data, "attribution": {}}, [])


def test_a_nightly_reuses_evidence_that_still_holds_and_runs_the_rest() -> None:
    xfail = verdict(Status.XFAIL, predicted=SMAP)
    div = verdict(Status.DIVERGENCE, scenario="raw-fast-insn", path="sysenter")
    before_x = verdict(Status.XFAIL, predicted=SMAP)
    before_d = verdict(Status.PASS, scenario="raw-fast-insn", path="sysenter")  # new since
    previous = {
        "run_id": "20261201-020000-aaaa",
        "verdicts": [before_x.to_json(), before_d.to_json()],
        "evidence": [
            verdict(Status.PASS, "10.0").to_json(),
            verdict(Status.PASS, "10.0", scenario="raw-fast-insn", path="sysenter").to_json(),
        ],
    }
    now = classified(xfail, div)
    reused = attribution.reusable(previous, now, EMULATORS)
    assert [(u.scenario, u.message) for u in reused] == [
        ("kst-test_syscall_vdso_32", "pass on 10.0 (evidence of nightly 20261201-020000-aaaa)")
    ]
    wanted = attribution.requests(now, ["system", "10.0"], set(), reused)
    assert wanted == [attribution.Request("intel-sep@cloud-amd64", "10.0", ("raw-fast-insn",))]
    # the other build moved to a new version: nothing of it is reused
    assert attribution.reusable(previous, now, {**EMULATORS, "10.0": "10.0.3"}) == []
    assert attribution.reusable(None, now, EMULATORS) == []


def test_contradictions_and_the_attribution_are_shown_in_every_report() -> None:
    import io

    from rich.console import Console

    from lab.report import browse
    from lab.report.html import render_html
    from lab.report.run import summary_markdown

    (v,) = classified(verdict(Status.XFAIL, predicted=SMAP))
    (c,) = attribution.attach([v], [verdict(Status.FAIL, "10.0", message="SIGSEGV")])
    meta = {
        "run_id": "r1",
        "state": "finished",
        "started": "now",
        "finished": "later",
        "attribution": {
            "emulators": ["system", "10.0"],
            "evidence_runs": ["intel-sep@cloud-amd64 on 10.0: kst-test_syscall_vdso_32"],
            "evidence_reused": 0,
            "contradictions": [c.to_json()],
        },
    }
    data = {**meta, "counts": {"xfail": 1}, "guests": {}, "verdicts": [v.to_json()]}
    console = Console(file=io.StringIO(), width=200, record=True)
    browse.show_contradictions(console, data)
    text = console.export_text()
    assert "contradicted by evidence (1)" in text and "expectation tcg-far-return-smap" in text
    assert "1 evidence run(s), 0 earlier result(s) reused, 1 claim(s) contradicted" in text
    assert "Contradicted by evidence (1)" in render_html(data, plots=False)
    assert "## Contradicted by evidence (1)" in summary_markdown(meta, {}, [v])
