"""vendors.yaml: the eight default profiles load; selection by name and tag; semantic checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.config.profiles import load_profiles, select
from lab.errors import ConfigError

DEFAULT_EIGHT = {
    "intel-sep": ("Skylake-Client", "GenuineIntel", 64),
    "amd-syscall32": ("EPYC", "AuthenticAMD", 64),
    "hygon-syscall32": ("Dhyana", "HygonGenuine", 64),
    "centaur-sep": ("qemu64,vendor=CentaurHauls", "CentaurHauls", 64),
    "unknown-int80": ("qemu64,vendor=GenuineTMx86", "GenuineTMx86", 64),
    "i386-intel-sep": ("pentium2", "GenuineIntel", 32),
    "i386-amd-sep": ("athlon", "AuthenticAMD", 32),
    "i386-int80": ("pentium2,-sep", "GenuineIntel", 32),
}


def test_the_default_eight(root: Path) -> None:
    profiles = load_profiles(root / "vendors.yaml")
    chosen = select(profiles, None, "test")
    assert {p.name for p in chosen} == set(DEFAULT_EIGHT)
    for p in chosen:
        cpu, vendor, bits = DEFAULT_EIGHT[p.name]
        assert (p.cpu, p.expect.vendor, p.expect.kernel_bits) == (cpu, vendor, bits)
        assert p.source.startswith("vendors.yaml:")
    assert "sep" in profiles["i386-int80"].expect.absent_flags


def test_select_by_tag_and_unknown_name(root: Path) -> None:
    profiles = load_profiles(root / "vendors.yaml")
    assert {p.name for p in select(profiles, ["i386"], "x")} == {
        "i386-intel-sep",
        "i386-amd-sep",
        "i386-int80",
    }
    with pytest.raises(ConfigError) as exc:
        select(profiles, ["intel-sepp"], "--profiles")
    assert "no profile or tag named 'intel-sepp'" in str(exc.value)


def test_contradictory_flags_and_impossible_qemu(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text(
        "profiles:\n  p:\n    kernel: k\n    qemu: qemu-system-i386\n    cpu: EPYC\n"
        "    expect: {vendor: AuthenticAMD, kernel_bits: 64}\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_profiles(path)
    assert "qemu-system-i386 cannot boot a 64-bit kernel" in str(exc.value)
    assert ":4:" in str(exc.value)
    path.write_text(
        "profiles:\n  p:\n    kernel: k\n    qemu: qemu-system-x86_64\n    cpu: EPYC\n"
        "    expect: {vendor: AuthenticAMD, kernel_bits: 64, flags: [sep], absent_flags: [sep]}\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_profiles(path)
    assert "both required and absent" in str(exc.value)
