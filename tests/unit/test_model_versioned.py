"""Per-version path selection (lab/model/versioned.py through select_path(..., kernel=))."""

from __future__ import annotations

import pytest

from lab.model.kernel import kernel_facts
from lab.model.paths import CpuIdentity, EntryPath
from lab.model.selection import kernel_features, select_path

S, C, N = EntryPath.SYSENTER, EntryPath.SYSCALL, EntryPath.INT80
VENDORS = ("GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls", "GenuineTMx86")
EXPECTED = {
    "6.1.0-50-cloud-amd64": (S, C, C, S, N),
    "6.12.117+deb13-cloud-amd64": (S, C, C, S, N),
    "7.2.13+deb14-cloud-amd64": (S, C, C, S, S),
    "7.3.0-rc7-cloud-amd64": (S, C, C, S, S),
}


def cpu(vendor: str, *flags: str) -> CpuIdentity:
    return CpuIdentity(vendor, frozenset({"sep", *flags}))


@pytest.mark.parametrize("release", EXPECTED)
def test_vendor_table_per_series(release: str) -> None:
    k = kernel_facts(release)
    got = tuple(select_path(64, cpu(v), kernel=k).path for v in VENDORS)
    assert got == EXPECTED[release]
    for v in VENDORS:
        sel = select_path(64, cpu(v), kernel=k)
        assert sel.rules == k.rules and not sel.assumed
        assert sel.citations and all(f"({k.rules})" in c for c in sel.citations)


@pytest.mark.parametrize("vendor", VENDORS)
def test_61_facts_agree_with_the_61_model(vendor: str) -> None:
    k = kernel_facts("6.1.0-50-cloud-amd64")
    for bits in (32, 64):
        c = cpu(vendor)
        assert select_path(bits, c, kernel=k).path is select_path(bits, c).path
        assert kernel_features(bits, c, kernel=k) == kernel_features(bits, c)


def test_fred_and_clearcpuid() -> None:
    k72 = kernel_facts("7.2.13+deb14-cloud-amd64")
    assert select_path(64, cpu("AuthenticAMD", "fred"), kernel=k72).path is N
    off = kernel_facts("7.2.13", cmdline="fred=off")
    assert select_path(64, cpu("AuthenticAMD", "fred"), kernel=off).path is C
    # Debian 6.12 has no CONFIG_X86_FRED: a FRED CPU changes nothing.
    assert select_path(64, cpu("GenuineIntel", "fred"), kernel=kernel_facts("6.12.117")).path is S
    assert (
        select_path(
            64, cpu("GenuineIntel"), kernel=kernel_facts("7.3", cmdline="clearcpuid=111")
        ).path
        is N
    )
    assert (
        select_path(
            64, cpu("AuthenticAMD"), kernel=kernel_facts("6.1.0", cmdline="clearcpuid=110")
        ).path
        is N
    )
    assert (
        select_path(
            64, cpu("AuthenticAMD"), kernel=kernel_facts("7.2.1", cmdline="clearcpuid=110")
        ).path
        is S
    )


def test_unknown_version_is_marked_assumed() -> None:
    k = kernel_facts("7.4.0-rc1-cloud-amd64")
    sel = select_path(64, cpu("GenuineTMx86"), kernel=k)
    assert sel.path is S and sel.assumed and sel.rules == "7.3"
    assert "assumed" in sel.reason and all("assumed for 7.4.0-rc1" in c for c in sel.citations)


def test_32bit_kernels() -> None:
    k72 = kernel_facts("7.2.13")
    assert select_path(32, cpu("AuthenticAMD"), kernel=k72).path is S  # SYSCALL32 cleared
    assert select_path(32, CpuIdentity("GenuineIntel", frozenset()), kernel=k72).path is N
    # Pentium Pro 6/1/9: 6.1's packed OR clears SEP (int80); 7.x keeps SYSFAST32 (sysenter).
    ppro = CpuIdentity("GenuineIntel", frozenset({"sep"}), 6, 1, 9)
    assert select_path(32, ppro, kernel=kernel_facts("6.1.0")).path is N
    sel = select_path(32, ppro, kernel=k72)
    assert sel.path is S and "SEP was cleared later" in sel.reason
    # Family 6 model 0x20: loses SEP under 6.1's aliasing, not under 7.x's x86_vfm test (D14).
    odd = CpuIdentity("GenuineIntel", frozenset({"sep"}), 6, 0x20, 0)
    assert 11 in kernel_features(32, odd, kernel=k72)
