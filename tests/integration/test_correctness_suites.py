"""Issue 4's core scenarios for real: regs-preserved, syscall-restart and raw-fast-insn on a
64-bit and a 32-bit profile, every call path, compared with the model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PATHS = ("int80", "at_sysinfo", "vdso_sym", "glibc")


def test_regs_restart_and_raw_insn_on_64_and_32_bit(root: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab.cli",
            "run",
            "--profiles",
            "amd-syscall32,i386-int80",
            "--scenarios",
            "regs-preserved,syscall-restart,raw-fast-insn",
            "--reports",
            str(tmp_path),
            "--plain",
            "--jobs",
            "2",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    data = json.loads((tmp_path / "latest" / "results.json").read_text())
    assert data["state"] == "finished"
    verdicts = data["verdicts"]
    for profile in ("amd-syscall32", "i386-int80"):
        mine = [v for v in verdicts if v["profile"] == profile]
        for scenario in ("regs-preserved", "syscall-restart"):
            rows = [v for v in mine if v["scenario"] == scenario]
            assert rows, f"{profile}/{scenario} ran"
            assert {v["status"] for v in rows} <= {"pass", "skip"}, [
                (v["path"], v["status"], v["message"]) for v in rows if v["status"] != "pass"
            ]
            for path in PATHS:
                assert any(path in (v["path"] or "") for v in rows), (scenario, path)
            assert all(v["predicted"] is not None for v in rows if v["status"] == "pass")
        raw = [v for v in mine if v["scenario"] == "raw-fast-insn"]
        assert raw and {v["status"] for v in raw} <= {"pass", "divergence"}
        for v in raw:
            if v["status"] == "divergence":  # a finding about the emulator, named as such
                assert (
                    v["env"]["accel"] in v["message"] and v["env"]["qemu_version"] in v["message"]
                )
    # The int $0x80 control behaves like silicon everywhere.
    assert all(
        v["status"] == "pass"
        for v in verdicts
        if v["scenario"] == "raw-fast-insn" and v["path"].endswith("/int80")
    )
