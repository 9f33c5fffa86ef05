"""Scenario files: validated by the published schema, references checked, errors located."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.config.profiles import load_profiles
from lab.config.scenarios import load_all, select
from lab.errors import ConfigError, ConfigErrors
from lab.suites import load_catalog


def profiles(root: Path):  # type: ignore[no-untyped-def]
    return load_profiles(root / "vendors.yaml")


def test_shipped_suites_load(root: Path) -> None:
    scenarios = load_all(root / "scenarios", load_catalog().known(), profiles(root))
    names = {s.name for s in scenarios}
    assert "vdso-entry" in names
    core = [s.name for s in select(scenarios, ["core"])]
    assert core == ["vdso-entry", "vdso-entry-clearcpuid-111", "vdso-entry-ia32-off"]
    words = {s.name: s.machine.append for s in select(scenarios, ["core"])}
    assert words["vdso-entry-ia32-off"] == ("ia32_emulation=0",)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "  s1:\n    check: vdso-entyr\n",
            "unknown check 'vdso-entyr'; did you mean 'vdso-entry'?",
        ),
        ("  s1:\n    check: results\n    program: nope\n", "unknown guest program 'nope'"),
        (
            "  s1:\n    check: results\n    profiles: [intel-sepp]\n",
            "unknown profile or tag 'intel-sepp'; did you mean 'intel-sep'?",
        ),
        (
            "  s1:\n    check: results\n    timeout: 3\n",
            "unknown key 'timeout'; did you mean 'timeout_s'?",
        ),
        ("  s1:\n    check: vdso-entry\n    expect: {path: sysenterr}\n", "expect"),
    ],
)
def test_bad_scenarios(tmp_path: Path, root: Path, body: str, message: str) -> None:
    (tmp_path / "s.yaml").write_text("suite: t\nscenarios:\n" + body)
    with pytest.raises(ConfigError) as exc:
        load_all(tmp_path, load_catalog().known(), profiles(root))
    assert message in str(exc.value)
    assert str(exc.value).startswith(str(tmp_path / "s.yaml") + ":")


def test_duplicates_across_files_and_errors_collected(tmp_path: Path, root: Path) -> None:
    (tmp_path / "a.yaml").write_text("suite: a\nscenarios:\n  s1:\n    check: vdso-entry\n")
    (tmp_path / "b.yaml").write_text("suite: b\nscenarios:\n  s1:\n    check: vdso-entry\n")
    (tmp_path / "c.yaml").write_text("suite: c\nscenarios: [\n")
    with pytest.raises(ConfigErrors) as exc:
        load_all(tmp_path, load_catalog().known(), profiles(root))
    text = str(exc.value)
    assert "defined twice" in text and "c.yaml:" in text
