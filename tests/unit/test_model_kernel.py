"""Kernel facts: version parsing, rules per series (assumed for unknown versions), feature
numbers derived from each series' cpufeatures.h, and command-line effects."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.model.kernel import (
    DEFAULT_FEATURES,
    KernelFactsError,
    KernelVersion,
    kernel_facts,
    parse_cpufeatures,
    parse_kernel_version,
)

HEADERS = Path(__file__).resolve().parents[1] / "data" / "kernel-headers"
SERIES = ("6.1", "6.12", "7.2", "7.3")


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("6.1.0-50-cloud-amd64", KernelVersion(6, 1, 0)),
        ("6.12.117+deb13-cloud-amd64", KernelVersion(6, 12, 117)),
        ("7.2.13+deb14-cloud-amd64", KernelVersion(7, 2, 13)),
        ("7.3.0-rc7-cloud-amd64", KernelVersion(7, 3, 0, 7)),
        ("7.3-cloud-amd64", KernelVersion(7, 3, 0)),
        ("7.3~rc7-1~exp1", KernelVersion(7, 3, 0, 7)),
        ("6.12.95-1~bpo12+1", KernelVersion(6, 12, 95)),
        ("6.1.176-1", KernelVersion(6, 1, 176)),
        ("7.4-rc1", KernelVersion(7, 4, 0, 1)),
    ],
)
def test_parse_kernel_version(text: str, version: KernelVersion) -> None:
    assert parse_kernel_version(text) == version


def test_bad_version() -> None:
    with pytest.raises(KernelFactsError):
        parse_kernel_version("cloud-amd64")


@pytest.mark.parametrize(
    ("release", "rules", "assumed"),
    [
        ("6.1.0-50-cloud-amd64", "6.1", None),
        ("6.12.117+deb13-cloud-amd64", "6.12", None),
        ("7.2.13+deb14-cloud-amd64", "7.2", None),
        ("7.3.0-rc7-cloud-amd64", "7.3", None),
        ("7.4.0-rc1-cloud-amd64", "7.3", "7.3"),
        ("6.6.0-1-amd64", "6.1", "6.1"),
        ("7.0.1", "6.12", "6.12"),
        ("5.10.0-30-amd64", "6.1", "6.1"),
    ],
)
def test_rules_per_version(release: str, rules: str, assumed: str | None) -> None:
    k = kernel_facts(release)
    assert (k.rules, k.assumed_rules, k.assumed) == (rules, assumed, assumed is not None)
    if assumed:
        assert "no rules for" in k.reason and assumed in k.reason
        assert "assumed" in k.cite("x.c:1")


@pytest.mark.parametrize("series", SERIES)
def test_default_features_are_the_headers(series: str) -> None:
    """The built-in numbers are exactly what that series' cpufeatures.h defines."""
    parsed = parse_cpufeatures((HEADERS / series / "cpufeatures.h").read_text())
    for name, number in DEFAULT_FEATURES[series].items():
        assert parsed[name].number == number, (series, name)
    assert ("X86_FEATURE_SYSFAST32" in parsed) == series.startswith("7.")
    assert ("X86_FEATURE_SYSENTER32" in parsed) == series.startswith("6.")
    assert ("X86_FEATURE_FRED" in parsed) == (series != "6.1")


def test_header_lines_and_cpuinfo_names() -> None:
    h61 = parse_cpufeatures((HEADERS / "6.1" / "cpufeatures.h").read_text())
    assert h61["X86_FEATURE_SYSENTER32"].line == 97
    assert h61["X86_FEATURE_SYSENTER32"].cpuinfo is None  # /* "" ... */
    assert h61["X86_FEATURE_SEP"].cpuinfo == "sep"  # named after the macro (6.1 style)
    h72 = parse_cpufeatures((HEADERS / "7.2" / "cpufeatures.h").read_text())
    assert h72["X86_FEATURE_SYSFAST32"].line == 87 and h72["X86_FEATURE_SYSFAST32"].number == 111
    assert h72["X86_FEATURE_SYSFAST32"].cpuinfo is None
    assert h72["X86_FEATURE_FRED"].cpuinfo == "fred"


def test_features_from_a_header_feed_the_facts() -> None:
    parsed = parse_cpufeatures((HEADERS / "7.3" / "cpufeatures.h").read_text())
    k = kernel_facts("7.3.0-rc7", features={n: f.number for n, f in parsed.items()})
    assert k.feature("X86_FEATURE_SYSFAST32") == 111
    with pytest.raises(KernelFactsError):
        k.feature("X86_FEATURE_SYSENTER32")


def test_cmdline_effects() -> None:
    k = kernel_facts("7.2.13", cmdline="quiet clearcpuid=111,fred nopti ia32_emulation=0")
    assert k.effects.clear_features == {111, 12 * 32 + 17}
    assert k.effects.pti is False and not k.pti_enabled(True)
    assert not k.ia32_enabled
    assert not k.fred_enabled(True)
    assert kernel_facts("7.2.13").fred_enabled(True)
    assert not kernel_facts("7.2.13", cmdline="fred=off").fred_enabled(True)
    assert not kernel_facts("6.12.117").fred_enabled(True)  # CONFIG_X86_FRED off in Debian
    on612 = kernel_facts("6.12.117", config={"X86_FRED": True}, cmdline="fred=on")
    assert on612.fred_enabled(True)
    assert kernel_facts("6.1.0", cmdline="ia32_emulation=0").ia32_enabled  # 6.1 ignores it
    assert kernel_facts("6.1.0", cmdline="ia32_emulation=0").effects.ignored
    assert kernel_facts("6.12.1", cmdline="mitigations=off").pti_enabled(True) is False
    assert (
        kernel_facts("6.12.1", config={"MITIGATION_PAGE_TABLE_ISOLATION": False}).pti_enabled(True)
        is False
    )


def test_parser_reads_real_header_forms() -> None:
    text = (
        '#define X86_FEATURE_FRED\t\t(12*32+17) /* "fred" Flexible Return */\n'
        "#define X86_FEATURE_SRSO_BP_SPEC_REDUCE\t(20*32+31) /*\n"
        "\t\t\t\t\t\t    * continued\n"
        "\t\t\t\t\t\t    */\n"
        "#define X86_FEATURE_IBRS_ALIAS\t\tX86_FEATURE_FRED\n"
    )
    parsed = parse_cpufeatures(text)
    assert set(parsed) == {"X86_FEATURE_FRED", "X86_FEATURE_SRSO_BP_SPEC_REDUCE"}
    assert parsed["X86_FEATURE_SRSO_BP_SPEC_REDUCE"].number == 20 * 32 + 31
    assert parsed["X86_FEATURE_SRSO_BP_SPEC_REDUCE"].line == 2
    assert parsed["X86_FEATURE_FRED"].cpuinfo == "fred"
    with pytest.raises(KernelFactsError):
        parse_cpufeatures("#define NOT_A_FEATURE 1\n")


def test_parse_kconfig() -> None:
    from lab.model.kernel import parse_kconfig

    text = (
        "CONFIG_IA32_EMULATION=y\n"
        "# CONFIG_IA32_EMULATION_DEFAULT_DISABLED is not set\n"
        "CONFIG_MITIGATION_PAGE_TABLE_ISOLATION=y\n"
        "# CONFIG_X86_FRED is not set\n"
        "CONFIG_X86_X32_ABI=y\n"
    )
    conf = parse_kconfig(text)
    assert conf == {
        "IA32_EMULATION": True,
        "IA32_EMULATION_DEFAULT_DISABLED": False,
        "PAGE_TABLE_ISOLATION": True,
        "X86_FRED": False,
    }
    k = kernel_facts("7.2.13", config=conf)
    assert not k.fred_enabled(True)


@pytest.mark.parametrize("series", SERIES)
def test_default_config_is_the_debian_config(series: str) -> None:
    from lab.model.kernel import DEFAULT_CONFIG, parse_kconfig

    path = Path(__file__).resolve().parents[1] / "data" / "kernel-config" / series / "config"
    conf = parse_kconfig(path.read_text())
    assert kernel_facts(series, config=conf).config == DEFAULT_CONFIG[series]
    assert {k: DEFAULT_CONFIG[series][k] for k in conf} == conf


def test_unknown_version_follows_its_own_header() -> None:
    h72 = parse_cpufeatures((HEADERS / "7.2" / "cpufeatures.h").read_text())
    h612 = parse_cpufeatures((HEADERS / "6.12" / "cpufeatures.h").read_text())
    k = kernel_facts("7.1.0-1-amd64", features={n: f.number for n, f in h72.items()})
    assert k.rules == "7.2" and k.assumed and "SYSFAST32" in k.reason
    k = kernel_facts("7.9.0", features={n: f.number for n, f in h612.items()})
    assert k.rules == "6.12" and k.assumed and "SYSENTER32" in k.reason
    assert kernel_facts("7.1.0").rules == "6.12"  # no header: the nearest older series
