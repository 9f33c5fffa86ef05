"""A suite module that fails to import costs only its own checks, and says so."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import lab.suites
from lab.config.profiles import load_profiles
from lab.config.scenarios import load_all
from lab.errors import ConfigError
from lab.suites import load_catalog


def test_broken_suite_is_named_where_its_check_is_used(tmp_path: Path, root: Path) -> None:
    catalog = lab.suites._collect(("core", "imaginary"))
    assert set(catalog.broken) == {"imaginary"} and "vdso-entry" in catalog.checks
    broken = replace(catalog, broken={"imaginary": "ImportError: no module named x\n..."})
    (tmp_path / "s.yaml").write_text("suite: s\nscenarios:\n  s1:\n    check: imaginary-check\n")
    with pytest.raises(ConfigError) as exc:
        load_all(tmp_path, broken.known(), load_profiles(root / "vendors.yaml"))
    assert "lab/suites/imaginary.py (ImportError: no module named x)" in str(exc.value)
    assert str(exc.value).startswith(f"{tmp_path / 's.yaml'}:4:")


def test_shipped_catalog_has_every_suite_and_layer() -> None:
    catalog = load_catalog()
    assert not catalog.broken
    assert {"vdso-entry", "regs-preserved", "control-restart", "vdso-cfi", "syscall-cost"} <= set(
        catalog.checks
    )
    assert "kselftest" in catalog.checks and "kselftest-x86" in catalog.layers
    with pytest.raises(ValueError, match="defined twice"):
        catalog.with_checks({"vdso-entry": catalog.checks["results"]})
