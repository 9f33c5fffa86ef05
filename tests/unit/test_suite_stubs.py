"""entry-stubs suite: lab.model.cfi, lab.model.variants and lab/suites/stubs.py.

Test data (tests/data/entry-stubs/, see README.md there): output of lab/guest/vdso_cfi.c and
stub_variants.c captured from each default profile (QEMU 7.2 TCG), the vDSO images those guests
mapped, their READY identity, the console of the guest kernel that SYSCALL killed, and the same
programs on the build host (real AMD silicon, kernel 6.18) as a silicon reference.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from lab.checks import CheckContext, parse_result_lines
from lab.config.scenarios import Scenario
from lab.model import CpuIdentity, EntryPath, StubLayout, decode_stub, parse_vdso
from lab.model.cfi import (
    CfiError,
    Fde,
    RegRule,
    check_sigreturn_cfi,
    check_stub_cfi,
    compare_stub,
    expected_frames,
    interpret,
    single_step_stops,
    vdso_fdes,
)
from lab.model.kernel import kernel_facts
from lab.model.selection import X86_FEATURE_SEP, X86_FEATURE_SYSCALL32, X86_FEATURE_SYSENTER32
from lab.model.variants import (
    PROPERTIES,
    VARIANTS,
    Executor,
    Fate,
    Platform,
    insn_fate,
    layouts_ok,
    predict_variant,
    qemu_version_tuple,
    strip_pad_marker,
    variant,
)
from lab.report.results import Environment, Status
from lab.suites.stubs import (
    check_stub_variants,
    check_vdso_cfi,
    compare_role,
    expected_cfi_tests,
    judge_blocked,
    judge_step,
    judge_trampoline,
    judge_variant,
)
from lab.targets.identity import GuestIdentity
from lab.targets.session import CommandResult

DATA = Path(__file__).resolve().parents[1] / "data" / "entry-stubs"
MODEL = Path(__file__).resolve().parents[1] / "data" / "model"
PROFILES = (
    "intel-sep",
    "amd-syscall32",
    "hygon-syscall32",
    "centaur-sep",
    "unknown-int80",
    "i386-intel-sep",
    "i386-amd-sep",
    "i386-int80",
)
GUESTS: dict[str, Any] = json.loads((DATA / "guests.json").read_text())
# Where TCG (QEMU 7.2) does what silicon would not, per profile: the variants whose every
# property is a divergence.
DIVERGENT = {
    "amd-syscall32": {"proposal-2015-sysenter", "shipped-sysenter", "legacy-sysenter"},
    "hygon-syscall32": {"proposal-2015-sysenter", "shipped-sysenter", "legacy-sysenter"},
    "i386-int80": {"proposal-2015-sysenter", "shipped-sysenter", "legacy-sysenter"},
}
SYSCALL_VARIANTS = {"proposal-2015-syscall", "shipped-syscall", "legacy-syscall"}


def results(name: str) -> dict[str, dict[str, Any]]:
    lines = (DATA / name).read_text().splitlines()
    found, problems = parse_result_lines(lines)
    assert not problems
    return {r["test"]: r for r in found}


def identity(profile: str) -> GuestIdentity:
    return GuestIdentity.parse(json.dumps(GUESTS[profile]["ready"]))


def platform(profile: str, executor: Executor = Executor.TCG) -> Platform:
    ident = identity(profile)
    cpu = CpuIdentity(ident.vendor, ident.flags, ident.family, ident.model, ident.stepping)
    return Platform(
        ident.kernel_bits, cpu, executor, qemu_version_tuple(GUESTS[profile]["qemu_version"])
    )


# ---- lab.model.variants ----


def test_variants_are_the_designs_as_written() -> None:
    assert all(layouts_ok().values())
    proposal = decode_stub(variant("proposal-2015-int80").code)
    texts = [i.text for i in proposal.instructions]
    # the seed's slip, kept: after two pushes 8(%esp) is the return address, not the saved ecx
    assert "mov ecx, dword ptr [esp + 8]" in texts
    assert decode_stub(variant("legacy-sysenter").code).landing_pad_offset == 16
    assert {v.entry for v in VARIANTS} == set(EntryPath)


@pytest.mark.parametrize("profile", PROFILES)
def test_guest_stubs_are_the_model_bytes(profile: str) -> None:
    for test, r in results(f"{profile}.stub_variants.out").items():
        code, marker = strip_pad_marker(bytes.fromhex(r["observed"]["stub"].replace(" ", "")))
        name = test.split("/")[1]
        assert code == variant(name).code, test
        assert marker is not None


def test_insn_fate_table() -> None:
    intel = CpuIdentity("GenuineIntel", frozenset({"sep", "pti"}))
    amd = CpuIdentity("AuthenticAMD", frozenset({"sep"}))
    centaur = CpuIdentity("CentaurHauls", frozenset({"sep"}))
    nosep = CpuIdentity("GenuineIntel", frozenset())
    tcg, si = Executor.TCG, Executor.SILICON
    assert insn_fate("syscall", Platform(64, intel, tcg)).fate is Fate.PANIC
    assert "wrmsrl_cstar" in insn_fate("syscall", Platform(64, intel, tcg)).why
    assert insn_fate("syscall", Platform(64, intel, si)).fate is Fate.UD
    assert insn_fate("syscall", Platform(64, amd, si)).fate is Fate.ENTERS
    assert insn_fate("syscall", Platform(64, centaur, si)).fate is Fate.UNKNOWN
    assert insn_fate("syscall", Platform(32, amd, tcg)).fate is Fate.UD
    assert insn_fate("sysenter", Platform(64, amd, si)).fate is Fate.UD
    assert insn_fate("sysenter", Platform(64, amd, tcg)).fate is Fate.ENTERS
    assert insn_fate("sysenter", Platform(64, amd, tcg, (8, 1))).fate is Fate.UD
    assert insn_fate("sysenter", Platform(64, centaur, si)).fate is Fate.ENTERS
    assert insn_fate("sysenter", Platform(32, nosep, tcg)).fate is Fate.GP
    assert insn_fate("sysenter", Platform(32, nosep, si)).fate is Fate.UD
    assert insn_fate("sysenter", Platform(32, amd, si)).fate is Fate.ENTERS
    with pytest.raises(ValueError):
        insn_fate("int80", Platform(32, amd, si))
    assert qemu_version_tuple("QEMU emulator version 7.2.22 (Debian)") == (7, 2)


def test_user_space_sysenter_returns_through_the_vdso_pad() -> None:
    p = predict_variant(variant("shipped-sysenter"), "regs", platform("i386-intel-sep"))
    assert p.caller.outcome == "ok" and p.caller.own_pad is False
    assert any("int80_landing_pad, wherever" in w for w in p.why)
    assert p.caller.kernel_args == ("in.ebx", "in.ecx", "in.edx", "in.esi", "in.edi", "in.ebp")


def test_pti_sysenter_flags() -> None:
    pti = predict_variant(variant("shipped-sysenter"), "regs", platform("intel-sep"))
    assert pti.caller.outcome == "flags-changed" and pti.caller.flags_changed == 0x8D1
    assert pti.compatible  # the i386 psABI lets a call clobber the status flags
    cpu = CpuIdentity("GenuineIntel", frozenset({"sep", "pti", "pcid"}))
    pcid = predict_variant(variant("shipped-sysenter"), "regs", Platform(64, cpu, Executor.TCG))
    assert pcid.caller.flags_changed == 0x851  # SF stays set: bts $63 (SET_NOFLUSH_BIT)
    syscall = predict_variant(variant("shipped-syscall"), "regs", platform("amd-syscall32"))
    assert syscall.caller.outcome == "ok"


def test_proposal_sysenter_faults_on_the_callers_ebp() -> None:
    p = predict_variant(variant("proposal-2015-sysenter"), "fork", platform("intel-sep"))
    assert (p.caller.outcome, p.caller.eip, p.caller.esp) == (
        "SIGSEGV",
        "vdso:int80_landing_pad",
        "in.ebp",
    )
    assert p.child is None  # the call was never made


def test_misreturns() -> None:
    legacy = predict_variant(variant("legacy-syscall"), "fork", platform("amd-syscall32"))
    assert legacy.caller.outcome == legacy.child.outcome == "misreturn-2"  # type: ignore[union-attr]
    assert dict(legacy.caller.changed) == {"ecx": "catch1", "edx": "ret", "esp": "+8"}
    prop = predict_variant(variant("proposal-2015-syscall"), "regs", platform("amd-syscall32"))
    assert prop.caller.outcome == "misreturn-1" and prop.caller.result == "-EFAULT"
    assert prop.caller.kernel_args[1] == "in.ebp"  # regs->cx comes from ebp


@pytest.mark.parametrize("profile", PROFILES)
def test_model_explains_every_captured_outcome(profile: str) -> None:
    found = results(f"{profile}.stub_variants.out")
    here, silicon = platform(profile), platform(profile, Executor.SILICON)
    diverged = set()
    for v in VARIANTS:
        for prop in PROPERTIES:
            test = f"{prop}/{v.name}"
            ph, ps = predict_variant(v, prop, here), predict_variant(v, prop, silicon)
            if ph.caller.outcome == "panic":
                assert test not in found and v.name in SYSCALL_VARIANTS
                assert profile == "intel-sep"
                continue
            status, message = judge_variant(v, prop, found[test]["observed"], ph, ps)
            assert status in (Status.PASS, Status.DIVERGENCE), message
            if status is Status.DIVERGENCE:
                diverged.add(v.name)
    assert diverged == DIVERGENT.get(profile, set())


def test_host_silicon_reference() -> None:
    """The build host (AMD EPYC, hardware virtualisation) does what the silicon model says."""
    found = results("host-silicon-amd.stub_variants.out")
    cpu = CpuIdentity("AuthenticAMD", frozenset({"sep", "syscall", "pcid"}))
    si = Platform(64, cpu, Executor.SILICON)
    for v in VARIANTS:
        for prop in PROPERTIES:
            p = predict_variant(v, prop, si)
            status, message = judge_variant(v, prop, found[f"{prop}/{v.name}"]["observed"], p, p)
            assert status is Status.PASS, message


def test_compare_role_reports_differences() -> None:
    p = predict_variant(variant("legacy-syscall"), "regs", platform("amd-syscall32"))
    good = {"outcome": "misreturn-2", "result": "ok", "own_pad": False}
    good["changed"] = {"ecx": "catch1", "edx": "ret", "esp": "+8"}
    assert compare_role("caller", p.caller, good) == []
    assert compare_role("caller", p.caller, {**good, "changed": {}})
    assert compare_role("caller", p.caller, {"outcome": "SIGSEGV"})[0].startswith("caller: SIG")
    assert compare_role("caller", p.caller, None)


# ---- lab.model.cfi ----


def test_interpreter_state_and_restore() -> None:
    cie = [("DW_CFA_def_cfa", [4, 4]), ("DW_CFA_offset", [8, 1])]
    fde = [
        ("DW_CFA_advance_loc", [1]),
        ("DW_CFA_def_cfa_offset", [8]),
        ("DW_CFA_offset", [5, 2]),
        ("DW_CFA_remember_state", []),
        ("DW_CFA_advance_loc1", [2]),
        ("DW_CFA_def_cfa_register", [5]),
        ("DW_CFA_offset_extended_sf", [3, 3]),
        ("DW_CFA_advance_loc2", [3]),
        ("DW_CFA_restore_state", []),
        ("DW_CFA_restore", [5]),
        ("DW_CFA_restore", [8]),
        ("DW_CFA_same_value", [6]),
    ]
    rows = interpret(cie, fde, 0x100)
    assert [r.pc for r in rows] == [0x100, 0x101, 0x103, 0x106]
    assert rows[0].text() == "CFA=esp+4; eip=[CFA-4]"
    assert rows[1].rule(5) == RegRule("offset", -8)
    assert rows[2].cfa.text() == "ebp+8" and rows[2].rule(3) == RegRule("offset", -12)
    last = rows[3]
    assert last.cfa.text() == "esp+8" and 3 not in last.regs and 5 not in last.regs
    assert last.rule(8) == RegRule("offset", -4)  # restore goes back to the CIE's rule
    assert last.rule(6) == RegRule("same")
    with pytest.raises(CfiError):
        interpret(cie, [("DW_CFA_restore_state", [])], 0)
    with pytest.raises(CfiError):
        interpret(cie, [("DW_CFA_GNU_window_save", [])], 0)


@pytest.mark.parametrize("bits", [64, 32])
def test_real_unpatched_images(bits: int) -> None:
    name = "cloud-amd64" if bits == 64 else "686"
    raw = parse_vdso((MODEL / f"vdso32-6.1.176-{name}-unpatched.so").read_bytes())
    feature_sets = [frozenset(), frozenset({X86_FEATURE_SYSENTER32, X86_FEATURE_SEP})]
    if bits == 64:
        feature_sets.append(frozenset({X86_FEATURE_SYSCALL32}))
    for features in feature_sets:
        vdso = raw.patched(features, bits) if features else raw
        report = check_stub_cfi(vdso)
        assert report.ok, report.all_problems()
        assert len(report.steps) == len(vdso.stub().instructions)
    assert all(t.ok for t in check_sigreturn_cfi(raw))


@pytest.mark.parametrize(
    ("profile", "path"),
    [
        ("intel-sep", EntryPath.SYSENTER),
        ("amd-syscall32", EntryPath.SYSCALL),
        ("unknown-int80", EntryPath.INT80),
        ("i386-intel-sep", EntryPath.SYSENTER),
        ("i386-int80", EntryPath.INT80),
    ],
)
def test_captured_patched_images(profile: str, path: EntryPath) -> None:
    vdso = parse_vdso((DATA / f"vdso32-{profile}-patched.so").read_bytes())
    stub = vdso.stub()
    assert stub.path is path
    fdes = vdso_fdes(vdso)
    assert check_stub_cfi(vdso, fdes).ok
    tramps = check_sigreturn_cfi(vdso, fdes)
    assert [t.symbol for t in tramps] == ["__kernel_sigreturn", "__kernel_rt_sigreturn"]
    assert all(t.ok and t.signal_frame for t in tramps)
    # what the guest saw when single-stepping through this very stub
    step = results(f"{profile}.vdso_cfi.out")["unwind-step/at_sysinfo"]["observed"]
    assert tuple(s["offset"] for s in step["stops"]) == single_step_stops(stub)


def _shipped_program(drop: str | None = None) -> list[tuple[str, list[int]]]:
    """system_call.S's CFI as the assembler emits it (see the real FDE), optionally broken."""
    prog = [
        ("DW_CFA_advance_loc", [1]),
        ("DW_CFA_def_cfa_offset", [8]),
        ("DW_CFA_offset", [1, 2]),
        ("DW_CFA_advance_loc", [1]),
        ("DW_CFA_def_cfa_offset", [12]),
        ("DW_CFA_offset", [2, 3]),
        ("DW_CFA_advance_loc", [1]),
        ("DW_CFA_def_cfa_offset", [16]),
        ("DW_CFA_offset", [5, 4]),
        ("DW_CFA_advance_loc", [7]),
        ("DW_CFA_restore", [5]),
        ("DW_CFA_def_cfa_offset", [12]),
        ("DW_CFA_advance_loc", [1]),
        ("DW_CFA_restore", [2]),
        ("DW_CFA_def_cfa_offset", [8]),
        ("DW_CFA_advance_loc", [1]),
        ("DW_CFA_restore", [1]),
        ("DW_CFA_def_cfa_offset", [4]),
    ]
    if drop == "restore-edx":
        prog.remove(("DW_CFA_restore", [2]))
    if drop == "ebp-save":
        prog.remove(("DW_CFA_offset", [5, 4]))
    return prog


CIE = [("DW_CFA_def_cfa", [4, 4]), ("DW_CFA_offset", [8, 1])]


def _report(code: bytes, program: list[tuple[str, list[int]]]) -> list[str]:
    fde = Fde(0x550, 0x550 + len(code), "zR", interpret(CIE, program, 0x550), ())
    return compare_stub(decode_stub(code), 0x550, [fde]).all_problems()


def test_checker_catches_broken_cfi() -> None:
    code = variant("shipped-sysenter").code
    assert _report(code, _shipped_program()) == []
    stale = _report(code, _shipped_program("restore-edx"))
    assert stale and all("edx" in p for p in stale)
    assert any(p.startswith("+0xb") for p in stale)
    lost = _report(code, _shipped_program("ebp-save"))
    assert any("ebp was changed" in p for p in lost)  # movl %esp,%ebp with no rule for ebp
    assert "no FDE" in compare_stub(decode_stub(code), 0x550, []).all_problems()[0]


def test_linux_42_hex_cfi_forgot_ecx_edx() -> None:
    """4.2's hand-written sysenter.S CFI never described ecx/edx: wrong after SYSEXIT."""
    prog = [
        ("DW_CFA_advance_loc", [1]),
        ("DW_CFA_def_cfa_offset", [8]),
        ("DW_CFA_advance_loc", [1]),
        ("DW_CFA_def_cfa_offset", [12]),
        ("DW_CFA_advance_loc", [1]),
        ("DW_CFA_def_cfa_offset", [16]),
        ("DW_CFA_offset", [5, 4]),
        ("DW_CFA_advance_loc", [14]),
        ("DW_CFA_def_cfa_offset", [12]),
        ("DW_CFA_restore", [5]),
        ("DW_CFA_advance_loc", [1]),
        ("DW_CFA_def_cfa_offset", [8]),
        ("DW_CFA_advance_loc", [1]),
        ("DW_CFA_def_cfa_offset", [4]),
    ]
    problems = _report(variant("legacy-sysenter").code, prog)
    assert problems and {p.split()[0] for p in problems} == {"+0x10", "+0x11", "+0x12"}
    frames = expected_frames(decode_stub(variant("legacy-sysenter").code))
    assert [f.offset for f in frames if not f.reachable] == list(range(7, 14))


def test_expected_frames_follow_the_proposals_esp_copy() -> None:
    frames = {
        f.offset: f for f in expected_frames(decode_stub(variant("proposal-2015-int80").code))
    }
    assert frames[7].text == "mov esp, edx" and frames[7].cfa_offset == 12
    assert frames[16].text == "int 0x80" and frames[16].saved == {1: -8, 2: -12}


# ---- lab/suites/stubs.py, against captured guest output ----


@pytest.mark.parametrize("profile", PROFILES)
def test_captured_unwinds_agree_with_the_model(profile: str) -> None:
    found = results(f"{profile}.vdso_cfi.out")
    assert set(found) == set(expected_cfi_tests())
    stub = decode_stub(variant("shipped-int80").code)  # same offsets as every 6.1 stub
    pad, int80 = stub.landing_pad_offset, stub.int80_offset
    assert pad is not None and int80 is not None
    for test, r in found.items():
        if test.startswith("unwind-step/"):
            continue
        status, message, _ = judge_blocked(test, r["observed"], pad, int80, r["status"] == "pass")
        assert status is Status.PASS, message
    broken = dict(found["unwind-blocked/vdso_sym/eintr"]["observed"])
    broken["frames"] = broken["frames"][:3]
    assert (
        judge_blocked("unwind-blocked/vdso_sym/eintr", broken, pad, int80, True)[0] is Status.FAIL
    )
    step = found["unwind-step/vdso_sym"]["observed"]
    assert judge_step(step, (0, 1, 2), True)[0] is Status.FAIL


class _Session:
    """Answers the suite's two programs from captured output."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self.argv: list[list[str]] = []

    def vdso(self, timeout: float = 30.0) -> bytes:
        name = {"hygon-syscall32": "amd-syscall32", "i386-amd-sep": "i386-intel-sep"}.get(
            self.profile, self.profile
        )
        if name == "centaur-sep":
            name = "intel-sep"
        return (DATA / f"vdso32-{name}-patched.so").read_bytes()

    def run(self, argv: list[str], timeout: float = 60.0) -> CommandResult:
        self.argv.append(argv)
        program = argv[0].rsplit("/", 1)[-1]
        lines = (DATA / f"{self.profile}.{program}.out").read_text().splitlines()
        return CommandResult(argv, exit_code=0, output=lines)


def _ctx(profile: str, scenario: str, program: str, tmp_path: Path) -> CheckContext:
    ident = identity(profile)
    g = GUESTS[profile]
    env = Environment(
        profile, "k", "debian", ident.kernel_release, "qemu", g["qemu_version"], g["accel"],
        g["cpu_model"], "microvm", ident.vendor, ident.kernel_bits,
    )  # fmt: skip
    return CheckContext(
        Scenario(scenario, "entry-stubs", scenario, program, timeout_s=300),
        cast(Any, SimpleNamespace(name=profile)),
        ident,
        cast(Any, _Session(profile)),
        env,
        tmp_path,
    )


@pytest.mark.parametrize("profile", PROFILES)
def test_checks_end_to_end(profile: str, tmp_path: Path) -> None:
    cfi = check_vdso_cfi(_ctx(profile, "vdso-cfi", "vdso_cfi", tmp_path))
    assert {v.status for v in cfi} == {Status.PASS}, [v.message for v in cfi if v.status]
    assert len(cfi) == 3 + len(expected_cfi_tests())
    ctx = _ctx(profile, "stub-variants", "stub_variants", tmp_path)
    verdicts = check_stub_variants(ctx)
    by_path = {v.path: v for v in verdicts}
    assert len(by_path) == len(VARIANTS) * (len(PROPERTIES) + 1)
    bad = [v for v in verdicts if v.status in (Status.FAIL, Status.ERROR)]
    assert not bad, [(v.path, v.message) for v in bad]
    skipped = {v.path.split("/")[1] for v in verdicts if v.status is Status.SKIP}
    assert skipped == (SYSCALL_VARIANTS if profile == "intel-sep" else set())
    diverged = {v.path.split("/")[1] for v in verdicts if v.status is Status.DIVERGENCE}
    assert diverged == DIVERGENT.get(profile, set())
    session = cast(_Session, ctx.session)
    ran = session.argv[0][1:]
    assert not set(ran) & (SYSCALL_VARIANTS if profile == "intel-sep" else set())
    compat = by_path["compatible/shipped-int80"]
    assert "compatible on tcg: yes" in compat.message


def test_layout_of_every_variant() -> None:
    assert {v.layout for v in VARIANTS} == {
        StubLayout.PROPOSAL_2015,
        StubLayout.SHIPPED,
        StubLayout.LEGACY_SYSENTER,
        StubLayout.LEGACY_SYSCALL,
        StubLayout.LEGACY_INT80,
    }
    assert [v.name for v in VARIANTS if v.entry is EntryPath.SYSCALL] == sorted(
        SYSCALL_VARIANTS, key=lambda n: [v.name for v in VARIANTS].index(n)
    )
    assert X86_FEATURE_SYSCALL32 != X86_FEATURE_SYSENTER32


# ---- 6.1 and 7.2 captures with unwind-trampoline/rt (tests/data/vdso-cfi) ----

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "vdso-cfi"
RELEASES = {"6.1": "6.1.0-50-cloud-amd64", "7.2": "7.2.13+deb14-cloud-amd64"}


def _capture(name: str) -> dict[str, dict[str, Any]]:
    found, problems = parse_result_lines((CAPTURES / name).read_text().splitlines())
    assert not problems
    return {r["test"]: r for r in found}


class _CaptureSession:
    def __init__(self, series: str, out: str) -> None:
        self.series, self.out = series, out

    def vdso(self, timeout: float = 30.0) -> bytes:
        return (CAPTURES / f"intel-sep@{self.series}.vdso.so").read_bytes()

    def run(self, argv: list[str], timeout: float = 60.0) -> CommandResult:
        return CommandResult(
            argv, exit_code=0, output=(CAPTURES / self.out).read_text().splitlines()
        )


def _series_ctx(series: str, out: str, tmp_path: Path) -> CheckContext:
    ctx = _ctx("intel-sep", "vdso-cfi", "vdso_cfi", tmp_path)
    ctx.session = cast(Any, _CaptureSession(series, out))
    ctx.kernel = kernel_facts(RELEASES[series])
    return ctx


@pytest.mark.parametrize("series", RELEASES)
def test_vdso_cfi_on_each_series(series: str, tmp_path: Path) -> None:
    verdicts = check_vdso_cfi(_series_ctx(series, f"intel-sep@{series}.vdso_cfi.out", tmp_path))
    assert {v.status for v in verdicts} == {Status.PASS}, [
        (v.path, v.message) for v in verdicts if v.status is not Status.PASS
    ]
    by_path = {v.path: v for v in verdicts}
    assert len(by_path) == 3 + len(expected_cfi_tests()) + 2
    tramp = by_path["cfi-static/__kernel_rt_sigreturn"]
    assert isinstance(tramp.observed, dict)
    assert tramp.observed["libgcc"] == ("fallback" if series == "7.2" else "fde")
    for test, stops in (("rt", [0, 5]), ("sigreturn", [0, 1, 6])):
        walk = by_path[f"unwind-trampoline/{test}"]
        assert isinstance(walk.observed, dict)
        assert [s["offset"] for s in walk.observed["stops"]] == stops
        kinds = {s["walk"]["tramp_cfa"] for s in walk.observed["stops"]}
        assert kinds == ({"sigcontext"} if series == "7.2" else {"saved_esp"})


def test_7_2_judged_by_7_2_rules(tmp_path: Path) -> None:
    """The old guest program's 7.2 output: libgcc's lookup at __kernel_rt_sigreturn - 1 finds
    nothing on 7.2 (by design), which the 6.x model called a failure."""
    found = _capture("intel-sep@7.2.before.vdso_cfi.out")
    pad, int80 = 0xC, 0xA
    for test, r in found.items():
        if not test.startswith("unwind-blocked/"):
            continue
        assert r["observed"]["fde_trampoline"] == "none"
        status, message, _ = judge_blocked(test, r["observed"], pad, int80, True, series7=True)
        assert status is Status.PASS, message
        assert "fallback" in message
        old = judge_blocked(test, r["observed"], pad, int80, True)
        assert old[0] is Status.FAIL and "fde_trampoline 'none'" in old[1]
    # a 7.2 vDSO judged as if it were 6.x: the trampolines' FDEs are not where 6.x has them
    verdicts = check_vdso_cfi(_series_ctx("7.2", "intel-sep@7.2.vdso_cfi.out", tmp_path))
    ctx = _series_ctx("7.2", "intel-sep@7.2.vdso_cfi.out", tmp_path)
    ctx.kernel = kernel_facts(RELEASES["6.1"])
    wrong = {v.path: v for v in check_vdso_cfi(ctx)}
    assert wrong["cfi-static/__kernel_rt_sigreturn"].status is Status.FAIL
    assert wrong["unwind-trampoline/rt"].status is Status.FAIL
    assert wrong["unwind-trampoline/sigreturn"].status is Status.FAIL
    assert all(v.status is Status.PASS for v in verdicts)


def test_trampoline_walk_must_use_the_series_cfa() -> None:
    r = _capture("intel-sep@7.2.vdso_cfi.out")["unwind-trampoline/rt"]
    obs = json.loads(json.dumps(r["observed"]))
    assert judge_trampoline(obs, (0, 5), 0xC, True, series7=True)[0] is Status.PASS
    assert judge_trampoline(obs, (0, 5), 0xC, True, series7=False)[0] is Status.FAIL
    obs["stops"][1]["walk"]["frames"] = obs["stops"][1]["walk"]["frames"][:4]
    status, message, _ = judge_trampoline(obs, (0, 5), 0xC, True, series7=True)
    assert status is Status.FAIL and message.startswith("+5: frames")
    assert judge_trampoline(obs, (0,), 0xC, True, series7=True)[0] is Status.FAIL
