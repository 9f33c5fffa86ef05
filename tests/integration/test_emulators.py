"""A private emulator build for real: Debian's bookworm-backports QEMU 10.0.2 unpacked into the
cache (once), checked, and one profile booted on it — the verdicts say QEMU 10.0.2 ran, with
the profile's CPU model pinned to the version the host's QEMU gives it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.images.builder import Images
from lab.images.emulators import verify
from tests.conftest import lab_cli

pytestmark = pytest.mark.integration


def test_intel_sep_boots_on_the_private_qemu_10(root: Path, tmp_path: Path) -> None:
    build = Images(root).emulator("10.0")
    assert build.version == "10.0.2" and verify(build, "qemu-system-x86_64") == ""
    again = Images(root, log=(said := []).append).emulator("10.0")
    assert again == build and said == [], "a second build does no work"
    args = ["--profiles", "intel-sep", "--scenarios", "vdso-entry", "--qemu", "10.0"]
    args += ["--transport", "console", "--reports", str(tmp_path), "--plain", "--jobs", "1"]
    result = lab_cli("run", *args, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(next(tmp_path.glob("*/results.json")).read_text())
    verdicts = report["verdicts"]
    assert verdicts and all(v["status"] == "pass" for v in verdicts)
    env = verdicts[0]["env"]
    assert env["cell"] == "intel-sep@cloud-amd64@10.0" and env["emulator"] == "10.0"
    assert env["qemu_version"] == "10.0.2" and env["qemu"].startswith(str(build.prefix))
    assert env["cpu_model"] == "Skylake-Client-v4", "pinned to what 7.2 resolves on microvm"
    cmdline = next(tmp_path.glob("*/guests/*/boot1/qemu-cmdline.txt")).read_text()
    assert f"-L {build.prefix}/usr/share/qemu -L {build.prefix}/usr/share/seabios" in cmdline


def test_two_emulators_in_one_run_are_each_others_evidence(root: Path, tmp_path: Path) -> None:
    """raw-fast-insn on AMD under TCG diverges from silicon (SYSENTER in long mode executes
    where AMD parts raise #UD): on both builds, each divergence carries the other build's
    result, with no evidence run needed."""
    args = ["--profiles", "amd-syscall32", "--scenarios", "raw-fast-insn", "--qemu", "7.2,10.0"]
    args += ["--reports", str(tmp_path), "--plain", "--attribution", "--reruns", "0"]
    result = lab_cli("run", *args, cwd=root)
    report = json.loads(next(tmp_path.glob("*/results.json")).read_text())
    assert report["attribution"]["evidence_runs"] == [], result.stdout
    assert report["attribution"]["contradictions"] == [], result.stdout
    cells = {v["cell"] for v in report["verdicts"]}
    assert cells == {"amd-syscall32@cloud-amd64", "amd-syscall32@cloud-amd64@10.0"}
    divergences = [v for v in report["verdicts"] if v["status"] == "divergence"]
    assert divergences, "TCG executes SYSENTER in long mode on an AMD model on both builds"
    for v in divergences:
        assert v["cause"] == "emulator" and any(e.startswith("source: ") for e in v["evidence"])
        (other,) = v["elsewhere"]
        assert other["cell"] != v["cell"] and other["emulator"] in ("system", "10.0")
        assert v["attribution"].startswith("seen on ")
        assert "7.2." in v["attribution"] and "10.0.2" in v["attribution"]
