"""lab.model.selection: which entry path Linux 6.1 patches into __kernel_vsyscall."""

from __future__ import annotations

import pytest

from lab.model import CpuIdentity, EntryPath, Selection, kernel_features, select_path
from lab.model.selection import (
    VENDORS,
    X86_FEATURE_SEP,
    X86_FEATURE_SYSCALL32,
    X86_FEATURE_SYSENTER32,
    pentium_pro_sep_erratum,
    vendor_info,
)

SYSENTER_VENDORS = ("GenuineIntel", "CentaurHauls", "  Shanghai  ")
SYSCALL_VENDORS = ("AuthenticAMD", "HygonGenuine")
UNKNOWN_64 = ("GenuineTMx86",)
ALL_VENDORS = SYSENTER_VENDORS + SYSCALL_VENDORS + UNKNOWN_64


def cpu(vendor: str, sep: bool, fms: tuple[int, int, int] | None = None) -> CpuIdentity:
    flags = frozenset({"fpu", "tsc", "cx8"} | ({"sep"} if sep else set()))
    if fms is None:
        return CpuIdentity(vendor, flags)
    return CpuIdentity(vendor, flags, *fms)


def expected_path(bits: int, vendor: str, sep: bool) -> EntryPath:
    if bits == 32:
        return EntryPath.SYSENTER if sep else EntryPath.INT80
    if vendor in SYSENTER_VENDORS:
        return EntryPath.SYSENTER
    if vendor in SYSCALL_VENDORS:
        return EntryPath.SYSCALL
    return EntryPath.INT80


@pytest.mark.parametrize("sep", [True, False], ids=["sep", "nosep"])
@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("vendor", ALL_VENDORS)
def test_vendor_bitness_sep_matrix(vendor: str, bits: int, sep: bool) -> None:
    selection = select_path(bits, cpu(vendor, sep))
    assert isinstance(selection, Selection)
    assert selection.path is expected_path(bits, vendor, sep)
    assert "arch/x86/" in selection.reason
    assert "()" in selection.reason or "ALTERNATIVE" in selection.reason
    assert selection.reason.endswith(".")
    assert "\n" not in selection.reason


@pytest.mark.parametrize("vendor", ALL_VENDORS)
def test_32_bit_kernel_never_uses_syscall(vendor: str) -> None:
    for sep in (True, False):
        assert select_path(32, cpu(vendor, sep)).path is not EntryPath.SYSCALL


@pytest.mark.parametrize("vendor", ALL_VENDORS)
def test_sep_plays_no_part_on_64_bit(vendor: str) -> None:
    assert select_path(64, cpu(vendor, True)).path is select_path(64, cpu(vendor, False)).path


@pytest.mark.parametrize(
    ("vendor", "early_init"),
    [
        ("GenuineIntel", "early_init_intel"),
        ("CentaurHauls", "early_init_centaur"),
        ("  Shanghai  ", "early_init_zhaoxin"),
        ("AuthenticAMD", "early_init_amd"),
        ("HygonGenuine", "early_init_hygon"),
    ],
)
def test_64_bit_reason_names_the_early_init(vendor: str, early_init: str) -> None:
    reason = select_path(64, cpu(vendor, False)).reason
    assert early_init + "()" in reason
    assert VENDORS[vendor].source in reason


def test_unknown_vendor_reason_names_generic_init() -> None:
    reason = select_path(64, cpu("GenuineTMx86", True)).reason
    assert "default_cpu" in reason
    assert "get_cpu_vendor()" in reason
    # Transmeta's cpu_dev exists, but only in 32-bit kernels (CPU_SUP_TRANSMETA_32).
    assert "transmeta.c" in reason


def test_amdisbetter_is_not_a_6_1_alias() -> None:
    assert "AMDisbetter!" not in VENDORS
    assert select_path(64, cpu("AMDisbetter!", True)).path is EntryPath.INT80
    assert select_path(32, cpu("AMDisbetter!", True)).path is EntryPath.SYSENTER


def test_transmeta_has_two_identities_and_is_32_bit_only() -> None:
    assert VENDORS["GenuineTMx86"] == VENDORS["TransmetaCPU"]
    assert vendor_info("TransmetaCPU", 32) is not None
    assert vendor_info("TransmetaCPU", 64) is None


def test_zhaoxin_vendor_string_is_padded() -> None:
    info = vendor_info("  Shanghai  ", 64)
    assert info is not None and info.c_vendor == "zhaoxin"
    assert select_path(64, cpu("Shanghai    ", True)).path is EntryPath.INT80


@pytest.mark.parametrize(
    ("fms", "cleared"),
    [
        ((6, 1, 9), True),  # Pentium Pro
        ((6, 3, 2), True),  # 0x632 < 0x633
        ((6, 2, 5), True),  # 0x625: the packed compare, not "model < 3 and stepping < 3"
        ((6, 3, 3), False),  # "until model 3 mask 3"
        ((6, 5, 2), False),  # QEMU pentium2
        ((6, 7, 3), False),  # QEMU pentium3
        ((6, 94, 3), False),  # Skylake-Client
        ((5, 4, 3), True),  # family 5 never had SEP
        ((15, 2, 9), False),
    ],
)
def test_pentium_pro_sep_erratum(fms: tuple[int, int, int], cleared: bool) -> None:
    intel = cpu("GenuineIntel", True, fms)
    assert pentium_pro_sep_erratum(intel) is cleared
    expected = EntryPath.INT80 if cleared else EntryPath.SYSENTER
    selection = select_path(32, intel)
    assert selection.path is expected
    if cleared:
        assert "intel_workarounds()" in selection.reason
    # 64-bit kernels never look at SEP; other vendors never get the Intel quirk.
    assert select_path(64, intel).path is EntryPath.SYSENTER
    assert select_path(32, cpu("AuthenticAMD", True, fms)).path is EntryPath.SYSENTER


def test_erratum_needs_family_model_stepping() -> None:
    assert not pentium_pro_sep_erratum(cpu("GenuineIntel", True))
    partial = CpuIdentity("GenuineIntel", frozenset({"sep"}), family=6)
    assert not pentium_pro_sep_erratum(partial)


def test_kernel_features() -> None:
    assert kernel_features(64, cpu("GenuineIntel", False)) == {X86_FEATURE_SYSENTER32}
    assert kernel_features(64, cpu("AuthenticAMD", True)) == {
        X86_FEATURE_SYSCALL32,
        X86_FEATURE_SEP,
    }
    assert kernel_features(64, cpu("GenuineTMx86", False)) == frozenset()
    assert kernel_features(32, cpu("AuthenticAMD", True)) == {X86_FEATURE_SEP}
    assert kernel_features(32, cpu("GenuineIntel", True, (6, 1, 9))) == frozenset()
    assert X86_FEATURE_SEP == 11 and X86_FEATURE_SYSCALL32 == 110 and X86_FEATURE_SYSENTER32 == 111


def test_cpu_identity_validation() -> None:
    with pytest.raises(ValueError, match="12 characters"):
        CpuIdentity("Intel", frozenset())
    with pytest.raises(ValueError, match="stepping"):
        CpuIdentity("GenuineIntel", frozenset(), 6, 5, -1)
    coerced = CpuIdentity("GenuineIntel", {"sep"})  # type: ignore[arg-type]
    assert isinstance(coerced.flags, frozenset) and coerced.has_sep
    assert hash(coerced) == hash(CpuIdentity("GenuineIntel", frozenset({"sep"})))


@pytest.mark.parametrize("bits", [0, 16, 128])
def test_bad_kernel_bits(bits: int) -> None:
    with pytest.raises(ValueError, match="32 or 64"):
        select_path(bits, cpu("GenuineIntel", True))
