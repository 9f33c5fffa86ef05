"""The kernel's x86 selftests: output parsing, stable names, expectations, build helpers.

Every output here is real, captured from guests (tests/data/kselftest/README.md says where from).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from lab.checks import CheckContext
from lab.config.profiles import load_profiles
from lab.config.scenarios import Scenario, load_all, select
from lab.errors import ConfigError
from lab.images import debian
from lab.report.results import Environment, Status
from lab.suites import load_catalog
from lab.suites.kselftest import CHECKS, LAYERS, KselftestLayer, ktap
from lab.suites.kselftest import build as kbuild
from lab.suites.kselftest import expectations as kexp
from lab.suites.kselftest import source as ksource
from lab.targets.session import CommandResult

DATA = Path(__file__).resolve().parent.parent / "data" / "kselftest"

INTEL_SEP = kexp.GuestFacts(
    profile="intel-sep",
    tags=frozenset({"default", "x86_64", "intel"}),
    flags=frozenset({"sep", "syscall", "lm", "smap", "smep"}),
    vendor="GenuineIntel",
    kernel_bits=64,
    accel="tcg",
    qemu_version="7.2.22",
    kernel_version="6.1.176",
)
I386_INTEL_SEP = kexp.GuestFacts(
    profile="i386-intel-sep",
    tags=frozenset({"default", "i386", "intel"}),
    flags=frozenset({"sep"}),
    vendor="GenuineIntel",
    kernel_bits=32,
    accel="tcg",
    qemu_version="7.2.22",
    kernel_version="6.1.176",
)


def captured(rel: str) -> tuple[list[str], str]:
    """A captured .out file: the test's lines and the agent's status (its "# entrylab:" line)."""
    lines = (DATA / rel).read_text().splitlines()
    status = ""
    if lines and lines[-1].startswith("# entrylab: "):
        status = lines.pop()[len("# entrylab: ") :]
    return lines, status


def run_of(rel: str) -> kexp.RunOutput:
    lines, status = captured(rel)
    if status.startswith("exit "):
        return kexp.RunOutput(int(status.split()[1]), lines=tuple(lines))
    if status.startswith("killed by signal "):
        return kexp.RunOutput(None, signal=int(status.split()[-1]), lines=tuple(lines))
    if status.startswith("timed out"):
        return kexp.RunOutput(None, timed_out=True, lines=tuple(lines))
    return kexp.RunOutput(None, lines=tuple(lines), crash=status.removeprefix("guest "))


def by_name(subtests: list[ktap.Subtest]) -> dict[str, ktap.Subtest]:
    return {s.name: s for s in subtests}


def expectations() -> list[kexp.Expectation]:
    return kexp.load_expectations(kexp.expectations_path(DATA.parent.parent.parent))


# -- classic [RUN]/[OK]/[FAIL]/[SKIP] output ---------------------------------------------------


def test_classic_blocks_stray_results_and_late_skips() -> None:
    lines, _ = captured("intel-sep/sigreturn_32.out")
    parsed = ktap.parse_output(lines)
    assert not parsed.tap
    subs = by_name(parsed.subtests)
    failed = subs["Valid sigreturn: 64-bit CS (33), 32-bit SS (2b, GDT)"]
    assert failed.status is Status.FAIL
    assert failed.results == ["[FAIL]\tReg 1 mismatch: requested 0x0; got 0x3"]
    assert subs["Valid sigreturn: 32-bit CS (23), 32-bit SS (2b, GDT)"].status is Status.PASS
    # A [SKIP] after its block has a result is a step of its own, not part of that block.
    assert subs["Code segment unavailable for 16-bit CS, 32-bit SS"].status is Status.SKIP
    # Results outside any [RUN] block stand alone; repeated names are numbered.
    assert subs["set_thread_area refused 16-bit data #2"].status is Status.PASS
    assert subs["32-bit CS (23), bogus SS (57)"].status is Status.PASS


def test_error_prefix_style_and_exit_code() -> None:
    run = run_of("intel-sep/amx_64.out")
    outcomes = kexp.judge("amx_64", run, INTEL_SEP, [])
    paths = {o.path: o for o in outcomes}
    assert paths["xstate cpuid: invalid tile data size/offset: 0/0: Success"].status is Status.FAIL
    assert paths["exit-code"].status is Status.FAIL
    assert paths["exit-code"].message == "exit 1"


def test_a_test_killed_by_a_signal_leaves_its_step_as_error() -> None:
    run = run_of("intel-sep/mov_ss_trap_64.out")
    assert run.signal == 11 and not run.complete
    outcomes = {o.path: o for o in kexp.judge("mov_ss_trap_64", run, INTEL_SEP, [])}
    assert outcomes["MOV SS; SYSCALL"].status is Status.ERROR
    assert "stopped in this step" in outcomes["MOV SS; SYSCALL"].message
    assert outcomes["MOV SS; INT 1"].status is Status.PASS
    assert outcomes["exit-code"].message == "mov_ss_trap_64 killed by signal 11"


def test_output_up_to_a_guest_panic_is_kept() -> None:
    run = run_of("crash/syscall_arg_fault_32.intel-sep.out")
    console = (DATA / "crash/syscall_arg_fault_32.intel-sep.console.log").read_text()
    run = kexp.RunOutput(None, lines=run.lines, crash=run.crash, console=console)
    outcomes = {o.path: o for o in kexp.judge("syscall_arg_fault_32", run, INTEL_SEP, [])}
    assert outcomes["SYSENTER with invalid state"].status is Status.PASS
    exit_o = outcomes["exit-code"]
    assert exit_o.status is Status.ERROR
    assert "Kernel panic" in exit_o.message
    assert "RIP: 0010:0x0" in exit_o.excerpt and "[OK]\tSeems okay" in exit_o.excerpt


def test_an_oops_during_a_test_fails_it() -> None:
    lines, _ = captured("i386-intel-sep/vdso_restorer_32.out")
    run = kexp.RunOutput(0, lines=tuple(lines), faults=("oops: Oops: 0001 [#1]",), console="[ oops")
    exit_o = next(
        o for o in kexp.judge("vdso_restorer_32", run, INTEL_SEP, []) if o.path == "exit-code"
    )
    assert exit_o.status is Status.FAIL
    assert "the kernel reported oops" in exit_o.message


def test_kselftest_exit_codes() -> None:
    assert kexp.exit_outcome("t", kexp.RunOutput(4)).status is Status.SKIP
    assert kexp.exit_outcome("t", kexp.RunOutput(0)).status is Status.PASS
    assert kexp.exit_outcome("t", kexp.RunOutput(1)).status is Status.FAIL
    assert kexp.exit_outcome("t", kexp.RunOutput(None, timed_out=True)).status is Status.ERROR
    missing = kexp.RunOutput(127, lines=("entrylab-agent: exec /kselftest/x86/t: No such file",))
    assert "not in the guest" in kexp.exit_outcome("t", missing).message


def test_every_captured_output_parses_without_losing_a_failure() -> None:
    """All 67 captured runs: each [FAIL] line ends up in a failing subtest."""
    for path in sorted(DATA.glob("*/*.out")):
        lines = path.read_text().splitlines()
        parsed = ktap.parse_output(lines, complete=True)
        fails = sum("[FAIL]" in ln for ln in lines)
        reported = sum(r.count("[FAIL]") for s in parsed.subtests for r in s.results)
        assert reported == fails, path
        assert len({s.name for s in parsed.subtests}) == len(parsed.subtests), path


# -- stable names --------------------------------------------------------------------------------


def test_names_are_stable_across_runs_and_kernels() -> None:
    names = [
        [s.name for s in ktap.parse_output(p.read_text().splitlines()).subtests]
        for p in sorted((DATA / "stability").glob("unwind_vdso_32.*.out"))
    ]
    assert len(names) == 3
    assert names[0] == names[1] == names[2]
    assert "AT_SYSINFO maps to linux-gate.so.1, loaded at 0x0x…" in names[0]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("AT_SYSINFO maps to linux-gate.so.1, loaded at 0x0xf7fa7000", "loaded at 0x0x…"),
        ("SIGSEGV at 0xf7fd5559", "SIGSEGV at 0x…"),
        ("stack at 0x7ffd3c2a1000", "stack at 0x…"),
        ("Trying a SYSCALL that falls through to 0x7fffffffe000", "to 0x7fffffffe000"),
        ("Checking system calls with msb = -1 (0xffffffff)", "(0xffffffff)"),
        ("LDT entry 2 has AR 0x00C0FB00 and limit 0x0000AFFF", "AR 0x00C0FB00 and limit"),
        ("x32 syscall 1073741823:-1 returned -ENOSYS", "1073741823:-1"),
        ("vDSO time offsets: 0.000006\t0.000222", "offsets: N.N N.N"),
    ],
)
def test_stable_name_replaces_only_what_varies(text: str, name: str) -> None:
    assert name in ktap.stable_name(text)


# -- TAP / KTAP ------------------------------------------------------------------------------------


def test_flat_ktap_results_and_plan() -> None:
    parsed = ktap.parse_output((DATA / "ktap/breakpoint_test_64.ktap").read_text().splitlines())
    assert parsed.tap and parsed.plan == 110
    assert len(parsed.subtests) == 110
    assert sum(s.status is Status.FAIL for s in parsed.subtests) == 97
    subs = by_name(parsed.subtests)
    assert subs["Test breakpoint 0 with local: 0 global: 1"].status is Status.PASS
    assert subs["Test icebp"].status is Status.FAIL


def test_classic_diagnostics_nest_under_the_tap_result_they_precede() -> None:
    parsed = ktap.parse_output((DATA / "ktap/sas_32.ktap").read_text().splitlines())
    assert [s.name for s in parsed.subtests] == [
        "Initial sigaltstack state was SS_DISABLE",
        "sigaltstack is disabled in sighandler/signal USR1",
        "sigaltstack is disabled in sighandler",
        "sigaltstack is still SS_AUTODISARM after signal/switched to user ctx",
        "sigaltstack is still SS_AUTODISARM after signal/signal USR2",
        "sigaltstack is still SS_AUTODISARM after signal",
    ]


def test_nested_ktap_from_the_kselftest_runner() -> None:
    """run_kselftest-style output: each test's own output nested under "# ", TAP in TAP."""
    parsed = ktap.parse_output((DATA / "ktap/runner-intel-sep.ktap").read_text().splitlines())
    assert parsed.plan == 5
    subs = by_name(parsed.subtests)
    parent = subs["selftests: x86: breakpoint_test_64"]
    assert parent.status is Status.PASS and "nested subtest did not pass" in parent.detail
    child = subs[
        "selftests: x86: breakpoint_test_64/Test write watchpoint 1 with len: 1 local: 0 global: 1"
    ]
    assert child.status is Status.FAIL
    # Classic output nested in TAP: the sigreturn_32 blocks are children of its result line.
    assert subs["selftests: x86: sigreturn_32"].status is Status.FAIL
    assert subs["selftests: x86: sigreturn_32"].detail == "exit=1"
    nested = subs[
        "selftests: x86: sigreturn_32/Valid sigreturn: 64-bit CS (33), 32-bit SS (2b, GDT)"
    ]
    assert nested.status is Status.FAIL
    assert subs["selftests: x86: amx_64/xstate cpuid: invalid tile data size/offset: 0/0: Success"]
    top = [s for s in parsed.subtests if "/" not in s.name]
    assert len(top) == parsed.plan


def test_three_levels_of_nesting() -> None:
    parsed = ktap.parse_output((DATA / "ktap/runner-i386-intel-sep.ktap").read_text().splitlines())
    subs = by_name(parsed.subtests)
    deep = subs["selftests: x86: sas_32/sigaltstack is disabled in sighandler/signal USR1"]
    assert deep.status is Status.PASS
    assert subs["selftests: x86: unwind_vdso_32/Set TF and check a fast syscall"].status is (
        Status.PASS
    )
    assert subs["selftests: x86: syscall_arg_fault_32/SYSCALL with invalid state"].status is (
        Status.SKIP
    )


def test_tap_directives() -> None:
    parsed = ktap.parse_output(
        [
            "TAP version 13",
            "1..3",
            "ok 1 # SKIP no AMX",
            "not ok 2 b # error broke",
            "ok 3 c # XFAIL x",
        ]
    )
    statuses = [(s.name, s.status) for s in parsed.subtests]
    assert statuses == [("no AMX", Status.SKIP), ("b", Status.ERROR), ("c", Status.SKIP)]


# -- expectations --------------------------------------------------------------------------------


def test_the_shipped_expectations_file_is_valid() -> None:
    exps = expectations()
    assert {e.klass for e in exps} <= {"emulator", "configuration", "kernel"}
    assert all(e.cause and e.evidence for e in exps)


def test_expected_failure_is_reported_as_such_with_its_output() -> None:
    run = run_of("intel-sep/sigreturn_32.out")
    outcomes = {o.path: o for o in kexp.judge("sigreturn_32", run, INTEL_SEP, expectations())}
    o = outcomes["Valid sigreturn: 64-bit CS (33), 32-bit SS (2b, GDT)"]
    assert o.status is kexp.XFAIL_STATUS
    assert o.message.startswith("expected failure (known artefact): ")
    assert "Reg 1 mismatch" in o.message and "Reg 1 mismatch" in o.excerpt
    assert o.predicted["expectation"] == "tcg-iret-keeps-null-fs-selector"
    assert o.observed["status"] == "fail"
    # exit 1 is explained by the expected subtest failure alone.
    assert outcomes["exit-code"].status is kexp.XFAIL_STATUS
    assert not any(x.status.bad for x in outcomes.values())


def test_expectation_does_not_apply_elsewhere() -> None:
    run = run_of("intel-sep/sigreturn_32.out")
    kvm = kexp.GuestFacts(**{**INTEL_SEP.__dict__, "accel": "kvm"})
    outcomes = {o.path: o for o in kexp.judge("sigreturn_32", run, kvm, expectations())}
    assert outcomes["Valid sigreturn: 64-bit CS (33), 32-bit SS (2b, GDT)"].status is Status.FAIL
    assert outcomes["exit-code"].status is Status.FAIL


def test_artefact_gone_when_the_expected_failure_passes() -> None:
    lines, _ = captured("intel-sep/sigreturn_32.out")
    fixed = ["[OK]\tall registers okay" if ln.startswith("[FAIL]\tReg 1") else ln for ln in lines]
    run = kexp.RunOutput(0, lines=tuple(fixed))
    outcomes = {o.path: o for o in kexp.judge("sigreturn_32", run, INTEL_SEP, expectations())}
    o = outcomes["Valid sigreturn: 64-bit CS (33), 32-bit SS (2b, GDT)"]
    assert o.status is kexp.XPASS_STATUS
    assert o.message.startswith("artefact gone — update expectations: ")


def test_expectation_matching_nothing_is_reported() -> None:
    lines, _ = captured("i386-intel-sep/sigreturn_32.out")
    run = kexp.RunOutput(0, lines=tuple(lines))
    outcomes = kexp.judge("sigreturn_32", run, INTEL_SEP, expectations())
    gone = [o for o in outcomes if o.path.startswith("expectation:")]
    assert [o.path for o in gone] == ["expectation:tcg-iret-keeps-null-fs-selector"]
    assert gone[0].status is kexp.XPASS_STATUS


def test_qemu_version_range_and_cpu_flags() -> None:
    smap = next(e for e in expectations() if e.id == "tcg-far-return-smap")
    assert smap.applies(INTEL_SEP)
    assert not smap.applies(kexp.GuestFacts(**{**INTEL_SEP.__dict__, "qemu_version": "9.1.0"}))
    no_smap = kexp.GuestFacts(**{**INTEL_SEP.__dict__, "flags": frozenset({"sep", "lm"})})
    assert not smap.applies(no_smap)
    assert not smap.applies(I386_INTEL_SEP)


def test_far_return_artefact_covers_the_oops_and_its_exit() -> None:
    lines, _ = captured("intel-sep/test_syscall_vdso_32.out")
    console = (DATA / "crash/test_syscall_vdso_32.intel-sep.console.log").read_text()
    run = kexp.RunOutput(
        None, signal=9, lines=tuple(lines), faults=("oops: Oops: 0001 [#1]",), console=console
    )
    outcomes = kexp.judge("test_syscall_vdso_32", run, INTEL_SEP, expectations())
    assert {o.status for o in outcomes} == {kexp.XFAIL_STATUS}
    exit_o = next(o for o in outcomes if o.path == "exit-code")
    assert "supervisor read access in user mode" in exit_o.excerpt


def test_expectations_schema_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text(
        "suite: s\nexpectations:\n  e1:\n    test: t\n    class: emulator\n"
        "    cause: a cause long enough\n    evidence: [x]\n    whne: {}\n"
    )
    with pytest.raises(ConfigError) as info:
        kexp.load_expectations(bad)
    assert "x.yaml:8" in str(info.value) and "did you mean 'when'" in str(info.value)


def test_one_vcpu_skips_say_so() -> None:
    lines, _ = captured("i386-intel-sep/ldt_gdt_32.out")
    outcomes = kexp.judge("ldt_gdt_32", kexp.RunOutput(0, lines=tuple(lines)), I386_INTEL_SEP, [])
    skip = next(o for o in outcomes if o.path == "Cannot set affinity to CPU 1")
    assert skip.status is Status.SKIP and "has 1 vCPU" in skip.message


# -- the suite file and the build helpers --------------------------------------------------------


def test_suite_has_one_scenario_per_makefile_target(root: Path) -> None:
    scenarios = load_all(
        root / "scenarios", load_catalog().known(), load_profiles(root / "vendors.yaml")
    )
    suite = select(scenarios, ["kselftest-x86"])
    assert len(suite) == 50  # 44 of 6.1, 6 more of 7.2
    assert all(s.needs == ("kselftest-x86",) and s.check == "kselftest" for s in suite)
    assert all(s.profiles == ("x86_64",) for s in suite if s.args[0].endswith("_64"))
    assert "kselftest-x86" in LAYERS


def test_nearest_source_version() -> None:
    offered = ["6.1.170-3", "6.1.176-1", "6.1.187-1"]
    assert debian.nearest_version("6.1.176-1", offered) == "6.1.176-1"
    assert debian.nearest_version("6.1.177-1", offered) == "6.1.176-1"
    assert debian.nearest_version("6.1.176-1", []) is None


def _deb_with_tarball(tmp_path: Path, members: dict[str, bytes]) -> Path:
    """A .deb shaped like linux-source-X.Y: usr/src/linux-source-X.Y.tar.xz inside."""
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:xz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    pkg = tmp_path / "pkg"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "DEBIAN" / "control").write_text(
        "Package: linux-source-9.9\nVersion: 9.9.1-1\nArchitecture: all\n"
        "Maintainer: t <t@t>\nDescription: t\n"
    )
    (pkg / "usr/src").mkdir(parents=True)
    (pkg / "usr/src/linux-source-9.9.tar.xz").write_bytes(inner.getvalue())
    deb = tmp_path / "t.deb"
    subprocess.run(["dpkg-deb", "-b", str(pkg), str(deb)], check=True, capture_output=True)
    return deb


def test_extract_only_the_selftests_subset(tmp_path: Path) -> None:
    deb = _deb_with_tarball(
        tmp_path,
        {
            "linux-source-9.9/tools/testing/selftests/x86/Makefile": b"all:\n",
            "linux-source-9.9/tools/testing/selftests/lib.mk": b"",
            "linux-source-9.9/tools/testing/selftests/net/Makefile": b"",
            "linux-source-9.9/arch/x86/include/asm/desc_defs.h": b"",
            "linux-source-9.9/kernel/fork.c": b"",
        },
    )
    out = tmp_path / "out"
    out.mkdir()
    written = ksource.extract_subset(deb, out)
    assert sorted(written) == [
        "arch/x86/include/asm/desc_defs.h",
        "tools/testing/selftests/lib.mk",
        "tools/testing/selftests/x86/Makefile",
    ]
    assert not (out / "kernel").exists()


def test_extract_refuses_a_member_outside_the_tree(tmp_path: Path) -> None:
    deb = _deb_with_tarball(
        tmp_path, {"linux-source-9.9/tools/testing/selftests/x86/../../../../../x": b""}
    )
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(Exception, match="outside the tree"):
        ksource.extract_subset(deb, out)


def test_build_records_a_target_that_does_not_build(tmp_path: Path) -> None:
    """A Makefile with the selftests' shape: one good target, one broken; static, line-buffered."""
    x86 = tmp_path / "linux" / "tools/testing/selftests/x86"
    x86.mkdir(parents=True)
    (x86 / "Makefile").write_text(
        "BINARIES_32 := $(OUTPUT)/good_32 $(OUTPUT)/bad_32\nBINARIES_64 :=\n"
        "$(OUTPUT)/%_32: %.c\n\t$(CC) -m32 -o $@ $^\n"
    )
    (x86 / "good.c").write_text('#include <stdio.h>\nint main(void) { puts("[OK]\\tx"); }\n')
    (x86 / "bad.c").write_text("int main(void) { return undeclared; }\n")
    source = ksource.user_source(tmp_path / "linux")
    assert source.origin == f"user:{tmp_path / 'linux'}"
    result = kbuild.build_selftests(source, tmp_path / "build" / "bin", lambda _m: None)
    assert sorted(result.built) == ["good_32"]
    assert "undeclared" in result.broken["bad_32"]
    assert not (tmp_path / "build" / "bin" / "bad_32").exists()
    file_type = subprocess.run(
        ["file", str(result.built["good_32"])], capture_output=True, text=True
    )
    assert "statically linked" in file_type.stdout or file_type.returncode != 0
    cpio = kbuild.layer_cpio(result)
    assert b"kselftest/x86/good_32" in cpio and b"kselftest/x86/BUILD.json" in cpio


def test_user_source_must_have_the_selftests(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no tools/testing/selftests/x86/Makefile"):
        ksource.user_source(tmp_path)


def test_sysenter_without_sep_is_a_known_artefact_only_where_sep_is_hidden() -> None:
    run = run_of("i386-int80/syscall_arg_fault_32.out")
    no_sep = kexp.GuestFacts(
        **{**I386_INTEL_SEP.__dict__, "profile": "i386-int80", "flags": frozenset()}
    )
    outcomes = {o.path: o for o in kexp.judge("syscall_arg_fault_32", run, no_sep, expectations())}
    assert outcomes["SYSENTER with invalid state"].status is kexp.XFAIL_STATUS
    assert outcomes["SYSENTER with TF and invalid state"].status is kexp.XFAIL_STATUS
    assert outcomes["SYSCALL with invalid state"].status is Status.SKIP
    assert outcomes["exit-code"].status is Status.PASS  # the 6.1 test exits 0 regardless
    with_sep = {
        o.path: o for o in kexp.judge("syscall_arg_fault_32", run, I386_INTEL_SEP, expectations())
    }
    assert with_sep["SYSENTER with invalid state"].status is Status.FAIL


def test_a_hang_keeps_the_output_up_to_it() -> None:
    run = run_of("hang/ldt_gdt_32.hygon-syscall32.out")
    assert run.crash and run.crash.startswith("hang:")
    outcomes = {o.path: o for o in kexp.judge("ldt_gdt_32", run, INTEL_SEP, [])}
    assert outcomes["Test exec"].status is Status.PASS  # its results so far; then it hung
    assert "stopped after this output" in outcomes["Test exec"].message
    assert outcomes["exit-code"].status is Status.ERROR
    assert "did not stop after KILL" in outcomes["exit-code"].message


def test_intermittent_artefact_explains_the_hang_and_is_no_news_when_absent() -> None:
    hung = run_of("hang/ldt_gdt_32.hygon-syscall32.out")
    outcomes = {o.path: o for o in kexp.judge("ldt_gdt_32", hung, INTEL_SEP, expectations())}
    assert outcomes["exit-code"].status is kexp.XFAIL_STATUS
    assert outcomes["exit-code"].predicted["expectation"] == "tcg-ds-prefix-base-in-64-bit-mode"
    passed = run_of("intel-sep/ldt_gdt_64.out")
    clean = kexp.judge("ldt_gdt_64", passed, INTEL_SEP, expectations())
    assert not any(o.status.bad for o in clean)
    # Not on 2 vCPUs (no UP lock patching) nor on 32-bit kernels (they reload DS on entry).
    two = kexp.GuestFacts(**{**INTEL_SEP.__dict__, "nprocs": 2})
    assert kexp.judge("ldt_gdt_32", hung, two, expectations())[-1].status is Status.ERROR


# -- the check: the layer's build result arrives in CheckContext.layers -------------------------


class _Session:
    def __init__(self, lines: list[str]) -> None:
        self.link = SimpleNamespace()
        self.lines = lines
        self.argv: list[list[str]] = []

    def run(self, argv: list[str], timeout: float = 60.0) -> CommandResult:
        self.argv.append(argv)
        return CommandResult(argv, exit_code=0, output=self.lines)


def _check_ctx(tmp_path: Path, session: _Session, layers: dict[str, object]) -> CheckContext:
    env = Environment(
        "intel-sep", "k", "debian", "6.1", "qemu", "7.2.22", "tcg", "max", "microvm",
        "GenuineIntel", 64,
    )  # fmt: skip
    identity = SimpleNamespace(
        flags=INTEL_SEP.flags,
        vendor="GenuineIntel",
        kernel_bits=64,
        nprocs=1,
        kernel_release="6.1.0-50-cloud-amd64",
    )
    profile = SimpleNamespace(name="intel-sep", tags=INTEL_SEP.tags)
    return CheckContext(
        Scenario("kselftest-x86/good_64", "kselftest-x86", "kselftest", args=("good_64",)),
        cast(Any, profile),
        cast(Any, identity),
        cast(Any, session),
        env,
        tmp_path,
        layers=layers,
    )


def test_a_target_that_did_not_build_is_an_error_from_the_layer_build(tmp_path: Path) -> None:
    result = kbuild.BuildResult("debian:linux-source-6.1=6.1.176-1", "6.1.176-1", {}, {
        "good_64": "good_64 did not build (gcc -static):\nerror: x"
    })  # fmt: skip
    session = _Session([])
    verdicts = CHECKS["kselftest"](_check_ctx(tmp_path, session, {"kselftest-x86": result}))
    assert [(v.status, v.message) for v in verdicts] == [
        (Status.ERROR, "good_64 did not build from debian:linux-source-6.1=6.1.176-1")
    ]
    assert verdicts[0].path == "exit-code" and "error: x" in verdicts[0].excerpt
    assert session.argv == [], "not run"


def test_without_build_info_the_binary_runs(tmp_path: Path) -> None:
    session = _Session(["[RUN]\tstep", "[OK]\tstep"])
    verdicts = CHECKS["kselftest"](_check_ctx(tmp_path, session, {}))
    assert session.argv == [["/kselftest/x86/good_64"]]
    assert {v.path: v.status for v in verdicts} == {"step": Status.PASS, "exit-code": Status.PASS}


def test_the_layer_builder_takes_its_source_as_an_argument(tmp_path: Path) -> None:
    assert LAYERS["kselftest-x86"] == KselftestLayer(None)
    assert KselftestLayer(tmp_path).source == tmp_path
