"""Per-version predictions: landing pad / restart offsets from the layout, 7.x int80-only
visibility, PTI on unknown vendors, FRED, ia32_emulation, 7.3's invalid-nr rule."""

from __future__ import annotations

import pytest

from lab.model.kernel import kernel_facts
from lab.model.paths import CpuIdentity, EntryPath
from lab.model.restart import restart_point, return_point
from lab.model.semantics import CallPath, ReturnInsn, predict
from lab.model.singlestep import expected_steps

K61 = kernel_facts("6.1.0-50-cloud-amd64")
K612 = kernel_facts("6.12.117+deb13-cloud-amd64")
K72 = kernel_facts("7.2.13+deb14-cloud-amd64")
K73 = kernel_facts("7.3.0-rc7-cloud-amd64")
VENDORS = ("GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls", "GenuineTMx86")


def cpu(vendor: str, *flags: str) -> CpuIdentity:
    return CpuIdentity(vendor, frozenset({"sep", *flags}))


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("bits", (32, 64))
def test_61_facts_give_the_61_prediction(vendor: str, bits: int) -> None:
    old, new = predict(bits, cpu(vendor, "pti")), predict(bits, cpu(vendor, "pti"), kernel=K61)
    for name in (
        "expected_stub_hex",
        "landing_pad_offset",
        "restart_lands_on",
        "exit_change_visible",
        "flags_clobbered",
        "eligible_return",
        "forced_iret_when",
        "preserved_registers",
        "kernel_entry",
    ):
        assert getattr(new, name) == getattr(old, name), name
    assert new.path is old.path and new.rules == "6.1" and old.rules == "6.1"


@pytest.mark.parametrize("k", (K72, K73))
def test_7x_fast_path_offsets(k: object) -> None:
    assert k is K72 or k is K73
    p = predict(64, cpu("GenuineIntel"), kernel=k)
    assert p.landing_pad_offset == 0xC
    assert return_point(p, "vsyscall") == "stub+12" and restart_point(p, "vsyscall") == "stub+10"
    assert p.expected_stub_hex.startswith("0f 1f 00 51 52 55 89 e5 0f 34")
    assert p.exit_change_visible[CallPath.VSYSCALL] == frozenset()
    steps = expected_steps(p, "vsyscall", "ptrace")
    assert steps[:5] == ["stub+0", "stub+3", "stub+4", "stub+5", "stub+6"]
    assert "stub+12" in steps


def test_7x_int80_only_stub_exposes_exit_changes() -> None:
    p = predict(64, cpu("GenuineIntel"), kernel=kernel_facts("7.2.13", cmdline="clearcpuid=111"))
    assert p.path is EntryPath.INT80 and p.expected_stub_hex == "cd 80 c3"
    assert p.landing_pad_offset == 2
    assert (return_point(p, "vsyscall"), restart_point(p, "vsyscall")) == ("stub+2", "stub+0")
    assert p.exit_change_visible[CallPath.VSYSCALL] == {"ecx", "edx", "ebp"}
    assert any("no push/pop" in n for n in p.notes)


def test_6x_int80_stub_still_hides_exit_changes() -> None:
    p = predict(64, cpu("GenuineTMx86"), kernel=K612)
    assert p.path is EntryPath.INT80 and p.landing_pad_offset == 9
    assert p.exit_change_visible[CallPath.VSYSCALL] == frozenset()


def test_pti_clobber_reaches_unknown_vendors_on_7x() -> None:
    assert predict(64, cpu("GenuineTMx86", "pti")).flags_clobbered[CallPath.VSYSCALL] == set()
    p = predict(64, cpu("GenuineTMx86", "pti"), kernel=K72)
    assert p.flags_clobbered[CallPath.VSYSCALL] == {"CF", "PF", "AF", "ZF", "SF", "OF"}
    nopti = kernel_facts("7.2.13", cmdline="nopti")
    assert (
        predict(64, cpu("GenuineTMx86", "pti"), kernel=nopti).flags_clobbered[CallPath.VSYSCALL]
        == frozenset()
    )


def test_fred_on_7x() -> None:
    p = predict(64, cpu("GenuineIntel", "fred"), kernel=K73)
    assert p.path is EntryPath.INT80 and p.eligible_return is ReturnInsn.ERETU
    assert "fred_int80_emulation" in p.kernel_entry
    assert p.exit_change_visible[CallPath.VSYSCALL] == {"ecx", "edx", "ebp"}


def test_invalid_nr_and_ia32() -> None:
    assert predict(64, cpu("GenuineIntel"), kernel=K72).invalid_nr_result == "-ENOSYS"
    assert predict(64, cpu("GenuineIntel"), kernel=K73).invalid_nr_result.startswith("unchanged")
    off = kernel_facts("6.12.117", cmdline="ia32_emulation=off")
    assert any("ENOEXEC" in n for n in predict(64, cpu("GenuineIntel"), kernel=off).notes)


def test_assumed_prediction() -> None:
    p = predict(64, cpu("GenuineIntel"), kernel=kernel_facts("7.4.0-rc1-cloud-amd64"))
    assert p.assumed and p.rules == "7.3" and "assumed" in p.notes[0]
    assert all("assumed" in c for c in p.citations)


def test_explain_names_the_rules() -> None:
    from lab.model.explain import explain

    text = explain("unknown-int80", 64, cpu("GenuineTMx86", "pti"), kernel=K72)
    assert "Linux 7.2.13 kernel" in text and "Rules: those of 7.2" in text
    assert "Entry path: SYSENTER" in text and "(7.2)" in text
    assumed = explain("x", 64, cpu("GenuineIntel"), kernel=kernel_facts("7.4.0-rc1"))
    assert "ASSUMED" in assumed and "7.3" in assumed
    assert explain("x", 64, cpu("GenuineIntel")) == explain(
        "x", 64, cpu("GenuineIntel"), kernel=None
    )
    assert "Linux 6.1 kernel" in explain("x", 64, cpu("GenuineIntel"))


def test_clone_on_the_7x_int80_only_stub() -> None:
    from lab.model.clone import predict_child, predict_vfork_parent

    k = kernel_facts("7.2.13", cmdline="clearcpuid=111")
    p = predict(64, cpu("GenuineIntel"), kernel=k)
    child = predict_child(p, "clone_vm", "at_sysinfo", "prepared", ("0xaaaa", "0xb", "0xc", "fn"))
    assert child.fate == "sigsegv" and child.fault_eip == "0xaaaa" and child.esp_from_newsp == 4
    parent = predict_vfork_parent(p, "at_sysinfo", ("0x1", "0x2", "0x3", "0x4"))
    assert parent.fault_eip == "0x1" and parent.registers == {"regs_kept": True}
    # The 7.x fast path keeps the 6.1 frame (pops, then ret at the fourth word).
    fast = predict(64, cpu("GenuineIntel"), kernel=K72)
    old = predict_child(fast, "clone_vm", "at_sysinfo", "prepared", ("0xa", "0xb", "0xc", "fn"))
    assert old.fate == "returned-to-slot" and old.esp_from_newsp == 16


def test_raw_fast_instructions_per_version() -> None:
    from lab.model.silicon import RawInsn, predict_raw

    fred_amd = cpu("AuthenticAMD", "fred")
    p = predict(64, fred_amd, kernel=K72)
    assert p.landing_pad_offset == 2 and p.fast_landing_pad_offset == 0xC
    raw = predict_raw(
        RawInsn.SYSCALL, fred_amd, 64, landing_pad_offset=p.fast_landing_pad_offset, kernel=K72
    )
    assert raw.expected.outcome == "SIGILL@insn" and "FRED" in raw.expected.explanation
    # Without FRED (or without kernel facts) compat SYSCALL on AMD completes as in 6.1.
    plain = predict_raw(RawInsn.SYSCALL, cpu("AuthenticAMD"), 64, kernel=K72)
    assert (
        plain.expected.outcome
        == predict_raw(RawInsn.SYSCALL, cpu("AuthenticAMD"), 64).expected.outcome
    )
    assert predict(64, cpu("GenuineIntel")).fast_landing_pad_offset == 9
