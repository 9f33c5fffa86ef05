"""A suite module that fails to import costs only its own checks, and says so."""

from __future__ import annotations

from pathlib import Path

import pytest

import lab.suites
from lab.checks import CHECKS
from lab.config.profiles import load_profiles
from lab.config.scenarios import load_all
from lab.errors import ConfigError


def test_broken_suite_is_named_where_its_check_is_used(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(lab.suites.BROKEN, "imaginary", "ImportError: no module named x\n...")
    (tmp_path / "s.yaml").write_text("suite: s\nscenarios:\n  s1:\n    check: imaginary-check\n")
    with pytest.raises(ConfigError) as exc:
        load_all(tmp_path, set(CHECKS), load_profiles(root / "vendors.yaml"))
    assert "lab/suites/imaginary.py (ImportError: no module named x)" in str(exc.value)
    assert str(exc.value).startswith(f"{tmp_path / 's.yaml'}:4:")
