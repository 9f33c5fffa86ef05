"""lab.model.semantics and lab.model.explain: predictions for the default profiles and beyond."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lab.model import (
    CallPath,
    CpuIdentity,
    EntryPath,
    Prediction,
    ReturnInsn,
    StubLayout,
    decode_stub,
    explain,
    predict,
)
from lab.model.semantics import ALL_FLAGS, ALL_REGISTERS

# /proc/cpuinfo-style flags of the QEMU 7.2 models (query-cpu-model-expansion), trimmed to what
# matters; family/model/stepping are QEMU's (pentium2 is 6/5/2, athlon 6/2/3).
LONG_MODE = frozenset({"fpu", "tsc", "cx8", "sep", "cmov", "syscall", "nx", "lm"})
PENTIUM2 = frozenset({"fpu", "tsc", "cx8", "sep", "cmov", "mmx"})
ATHLON = frozenset({"fpu", "tsc", "cx8", "sep", "cmov", "mmx", "3dnow"})


@dataclass(frozen=True)
class Profile:
    name: str
    kernel_bits: int
    cpu: CpuIdentity
    path: EntryPath


PROFILES = [
    Profile("intel-sep", 64, CpuIdentity("GenuineIntel", LONG_MODE, 6, 94, 3), EntryPath.SYSENTER),
    Profile(
        "amd-syscall32", 64, CpuIdentity("AuthenticAMD", LONG_MODE, 23, 1, 2), EntryPath.SYSCALL
    ),
    Profile(
        "hygon-syscall32",
        64,
        CpuIdentity("HygonGenuine", LONG_MODE, 24, 0, 1),
        EntryPath.SYSCALL,
    ),
    Profile(
        "centaur-sep", 64, CpuIdentity("CentaurHauls", LONG_MODE, 15, 107, 1), EntryPath.SYSENTER
    ),
    Profile(
        "unknown-int80", 64, CpuIdentity("GenuineTMx86", LONG_MODE, 15, 107, 1), EntryPath.INT80
    ),
    Profile(
        "i386-intel-sep", 32, CpuIdentity("GenuineIntel", PENTIUM2, 6, 5, 2), EntryPath.SYSENTER
    ),
    Profile("i386-amd-sep", 32, CpuIdentity("AuthenticAMD", ATHLON, 6, 2, 3), EntryPath.SYSENTER),
    Profile(
        "i386-int80",
        32,
        CpuIdentity("GenuineIntel", PENTIUM2 - {"sep"}, 6, 5, 2),
        EntryPath.INT80,
    ),
]

EXPECTED_STUB = {
    (64, EntryPath.SYSENTER): "51 52 55 89 e5 0f 34 cd 80 5d 5a 59 c3",
    (64, EntryPath.SYSCALL): "51 52 55 89 cd 0f 05 cd 80 5d 5a 59 c3",
    (64, EntryPath.INT80): "51 52 55 0f 1f 40 00 cd 80 5d 5a 59 c3",
    (32, EntryPath.SYSENTER): "51 52 55 89 e5 0f 34 cd 80 5d 5a 59 c3",
    (32, EntryPath.INT80): "51 52 55 8d 74 26 00 cd 80 5d 5a 59 c3",
}
EXPECTED_RETURN = {
    (64, EntryPath.SYSENTER): ReturnInsn.SYSRETL,
    (64, EntryPath.SYSCALL): ReturnInsn.SYSRETL,
    (64, EntryPath.INT80): ReturnInsn.IRET,
    (32, EntryPath.SYSENTER): ReturnInsn.SYSEXIT,
    (32, EntryPath.INT80): ReturnInsn.IRET,
}


@pytest.fixture(params=PROFILES, ids=[p.name for p in PROFILES])
def profile(request: pytest.FixtureRequest) -> Profile:
    assert isinstance(request.param, Profile)
    return request.param


def test_default_profile_path_and_stub(profile: Profile) -> None:
    p = predict(profile.kernel_bits, profile.cpu)
    assert isinstance(p, Prediction)
    assert p.kernel_bits == profile.kernel_bits and p.cpu == profile.cpu
    assert p.selection.path is profile.path and p.path is profile.path
    assert p.expected_stub_hex == EXPECTED_STUB[profile.kernel_bits, profile.path]
    stub = decode_stub(bytes.fromhex(p.expected_stub_hex))
    assert stub.layout is StubLayout.SHIPPED and stub.path is profile.path
    assert stub.landing_pad_offset == p.landing_pad_offset == 9


def test_default_profile_return(profile: Profile) -> None:
    p = predict(profile.kernel_bits, profile.cpu)
    assert p.eligible_return is EXPECTED_RETURN[profile.kernel_bits, profile.path]
    if profile.path is EntryPath.INT80:
        assert p.forced_iret_when == ()
        assert p.fast_return_clobbers == frozenset()
    else:
        for condition in (
            "TF set",
            "ip changed by ptrace/signal",
            "restart (ip -= 2)",
            "arg6 fetch faults",
        ):
            assert condition in p.forced_iret_when
        expected = {"ecx"} if profile.kernel_bits == 64 else {"ecx", "edx"}
        assert p.fast_return_clobbers == expected


def test_registers_partition(profile: Profile) -> None:
    p = predict(profile.kernel_bits, profile.cpu)
    for call in CallPath:
        preserved, clobbered = p.preserved_registers[call], p.clobbered_registers[call]
        assert preserved | clobbered == ALL_REGISTERS
        assert not preserved & clobbered
        assert "eax" not in preserved | clobbered
        # The stub's pops (and IRET on the raw path) give back every general register.
        assert {"ebx", "ecx", "edx", "esi", "edi", "ebp", "esp"} <= preserved
        assert {"fs", "gs"} <= preserved
    assert p.clobbered_registers[CallPath.RAW_INT80] == frozenset()


def test_segment_selectors_on_fast_paths(profile: Profile) -> None:
    clobbered = predict(profile.kernel_bits, profile.cpu).clobbered_registers[CallPath.VSYSCALL]
    if profile.path is EntryPath.INT80:
        assert clobbered == frozenset()
    elif profile.kernel_bits == 64:
        assert clobbered == {"cs", "ss"}  # pushed constants in entry_*_compat
    else:
        assert clobbered == {"cs", "ss", "ds", "es"}  # + SYSEXIT path skips ds/es


def test_exit_changes_and_restart(profile: Profile) -> None:
    p = predict(profile.kernel_bits, profile.cpu)
    assert p.exit_change_visible[CallPath.RAW_INT80] == {"ecx", "edx", "ebp"}
    assert p.exit_change_visible[CallPath.VSYSCALL] == frozenset()
    assert p.restart_lands_on.startswith("int $0x80 at landing pad - 2")
    assert "+0x7" in p.restart_lands_on


def test_flags(profile: Profile) -> None:
    p = predict(profile.kernel_bits, profile.cpu)
    assert p.flags_preserved == ALL_FLAGS
    assert "RF" not in p.flags_preserved
    if profile.path is not EntryPath.INT80:
        eflags = [n for n in p.notes if n.startswith("EFLAGS")]
        assert len(eflags) == 1 and "NT" in eflags[0]
        if profile.path is EntryPath.SYSENTER:
            assert ".Lsysenter_fix_flags" in eflags[0] and "do_SYSENTER_32()" in eflags[0]
        else:
            assert "r11" in eflags[0] and "RF is not claimed" in eflags[0]


def test_notes_cite_sources(profile: Profile) -> None:
    p = predict(profile.kernel_bits, profile.cpu)
    assert p.notes
    text = " ".join(p.notes)
    assert "arch/x86/kernel/signal.c" in text
    assert "vdso_fix_landing()" in text
    if profile.path is not EntryPath.INT80:
        assert "do_fast_syscall_32()" in text
    if profile.kernel_bits == 64:
        assert "syscall_init()" in text
    assert "common.c" in p.kernel_entry


def test_kernel_entry_names() -> None:
    by_name = {pr.name: predict(pr.kernel_bits, pr.cpu).kernel_entry for pr in PROFILES}
    assert by_name["intel-sep"].startswith("entry_SYSENTER_compat")
    assert by_name["amd-syscall32"].startswith("entry_SYSCALL_compat")
    assert by_name["unknown-int80"].startswith("int80_emulation")
    assert by_name["i386-intel-sep"].startswith("entry_SYSENTER_32")
    assert by_name["i386-int80"].startswith("entry_INT80_32")


@pytest.mark.parametrize("sep", [True, False], ids=["sep", "nosep"])
@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize(
    "vendor",
    [
        "GenuineIntel",
        "AuthenticAMD",
        "HygonGenuine",
        "CentaurHauls",
        "  Shanghai  ",
        "GenuineTMx86",
    ],
)
def test_every_combination_is_consistent(vendor: str, bits: int, sep: bool) -> None:
    p = predict(bits, CpuIdentity(vendor, frozenset({"sep"} if sep else set())))
    assert p.expected_stub_hex == EXPECTED_STUB[bits, p.path]
    assert p.eligible_return is EXPECTED_RETURN[bits, p.path]
    assert bool(p.forced_iret_when) == (p.path is not EntryPath.INT80)
    if bits == 32:
        assert ("VM set (return from vm86)" in p.forced_iret_when) == (
            p.path is not EntryPath.INT80
        )


def test_prediction_is_hashable_enough() -> None:
    p = predict(64, PROFILES[0].cpu)
    assert p == predict(64, PROFILES[0].cpu)
    hash(p)  # dict fields are excluded from the hash


def test_explain(profile: Profile) -> None:
    text = explain(profile.name, profile.kernel_bits, profile.cpu)
    lines = text.splitlines()
    assert lines[0].startswith(f"{profile.name}: {profile.kernel_bits}-bit")
    assert len(lines) > 10
    assert EXPECTED_STUB[profile.kernel_bits, profile.path] in text
    words = {EntryPath.SYSENTER: "SYSENTER", EntryPath.SYSCALL: "SYSCALL"}
    assert f"Entry path: {words.get(profile.path, 'int $0x80')}" in text
    if profile.path is EntryPath.INT80:
        assert "Always IRET" in text
    else:
        ret = "SYSRETL" if profile.kernel_bits == 64 else "SYSEXIT"
        assert f"Normally {ret}" in text
    assert "CF PF AF ZF SF TF IF DF OF AC NT" in text
    assert "[" not in text.replace("[esp", "")  # plain text, no rich markup


def test_pti_sysenter_loses_status_flags_only_there() -> None:
    from lab.model import CallPath, CpuIdentity, predict

    intel_pti = CpuIdentity("GenuineIntel", frozenset({"sep", "lm", "pti"}))
    lost = predict(64, intel_pti).flags_clobbered[CallPath.VSYSCALL]
    assert lost == frozenset({"CF", "PF", "AF", "ZF", "SF", "OF"})
    assert predict(64, intel_pti).flags_clobbered[CallPath.RAW_INT80] == frozenset()
    amd_pti = CpuIdentity("AuthenticAMD", frozenset({"sep", "lm", "pti"}))
    assert predict(64, amd_pti).flags_clobbered[CallPath.VSYSCALL] == frozenset()
    i386 = CpuIdentity("GenuineIntel", frozenset({"sep", "pti"}))
    assert predict(32, i386).flags_clobbered[CallPath.VSYSCALL] == frozenset()
