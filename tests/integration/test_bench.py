"""Smoke test: `lab bench --quick` runs end to end and writes its tables (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_bench_quick_writes_the_tables(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "BENCH.md"
    result = subprocess.run(
        [sys.executable, "-m", "lab.cli", "bench", "--quick", "--write", str(out)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = out.read_text()
    assert text.startswith("# entrylab benchmarks")
    for row in (
        "boot overhead amd-syscall32 (lab / raw, medians)",
        "matrix efficiency (wall / ideal)",
        "console: protocol round trip, PING",
        "boot to ready: machine pc instead of microvm",
    ):
        assert row in text
    assert "- QEMU: " in text and "- cores: " in text
