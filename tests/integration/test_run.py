"""`lab run` end to end: real guests, the vdso-entry matrix, report files, exit codes."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import lab_cli

pytestmark = pytest.mark.integration


def lab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return lab_cli(*args, cwd=cwd, timeout=900)


def test_run_vdso_entry_on_64_and_32_bit(root: Path, tmp_path: Path) -> None:
    result = lab(
        "run",
        "--profiles",
        "amd-syscall32,i386-int80",
        "--scenarios",
        "vdso-entry",
        "--reports",
        str(tmp_path),
        "--jobs",
        "2",
        cwd=root,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run = (tmp_path / "latest").resolve()
    data = json.loads((run / "results.json").read_text())
    assert data["state"] == "finished" and data["counts"]["pass"] == 2
    by_profile = {v["profile"]: v for v in data["verdicts"]}
    assert by_profile["amd-syscall32"]["observed"]["stub_hex"] == (
        "51 52 55 89 cd 0f 05 cd 80 5d 5a 59 c3"
    )
    assert by_profile["i386-int80"]["observed"]["path"] == "int80"
    for v in data["verdicts"]:
        assert v["env"]["accel"] in ("tcg", "kvm") and v["env"]["qemu_version"]
        assert v["env"]["kernel_release"].startswith("6.1.")
    assert data["guests"]["amd-syscall32@cloud-amd64"]["vendor"] == "AuthenticAMD"
    cases = ET.parse(run / "junit.xml").getroot().findall(".//testcase")
    assert sorted(c.get("classname") or "" for c in cases) == [
        "entrylab.amd-syscall32@cloud-amd64",
        "entrylab.i386-int80@686",
    ]
    assert all(c.find("failure") is None and c.find("error") is None for c in cases)
    summary = (run / "summary.md").read_text()
    assert "| amd-syscall32@cloud-amd64 | ✅ pass |" in summary
    assert "| i386-int80@686 | ✅ pass |" in summary
    for profile in ("amd-syscall32@cloud-amd64", "i386-int80@686"):
        assert (run / "guests" / profile / "vdso.so").read_bytes()[:4] == b"\x7fELF"
        assert (run / "guests" / profile / "boot1" / "console.log").stat().st_size > 0


def test_wrong_expectation_shows_predicted_and_observed_bytes(root: Path, tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "wrong.yaml").write_text(
        "suite: wrong\nscenarios:\n  vdso-entry-claims-amd:\n    check: vdso-entry\n"
        "    profiles: [intel-sep]\n    expect: {path: syscall}\n"
    )
    result = lab(
        "run",
        "--profiles",
        "intel-sep",
        "--scenario-dir",
        str(scenarios),
        "--reports",
        str(tmp_path / "reports"),
        cwd=root,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads((tmp_path / "reports" / "latest" / "results.json").read_text())
    (verdict,) = data["verdicts"]
    assert verdict["status"] == "fail"
    assert "predicted '51 52 55 89 cd 0f 05 cd 80 5d 5a 59 c3'" in verdict["message"]
    assert "observed '51 52 55 89 e5 0f 34 cd 80 5d 5a 59 c3'" in verdict["message"]


def test_boot_command_returns_the_guest_exit_code(root: Path) -> None:
    result = lab("boot", "i386-intel-sep", "--", "sh", "-c", "uname -r; exit 3", cwd=root)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "-686" in result.stdout
    assert "AT_SYSINFO=0x" in result.stdout


def test_machine_variants_boot_separately(root: Path, tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "v.yaml").write_text(
        "suite: v\nscenarios:\n  plain:\n    check: vdso-entry\n"
        "  exact:\n    check: vdso-entry\n    machine: {icount: true, append: [nopti]}\n"
    )
    result = lab(
        "run",
        "--profiles",
        "amd-syscall32",
        "--scenario-dir",
        str(scenarios),
        "--reports",
        str(tmp_path / "r"),
        cwd=root,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run = (tmp_path / "r" / "latest").resolve()
    data = json.loads((run / "results.json").read_text())
    variants = {v["scenario"]: v["env"]["variant"] for v in data["verdicts"]}
    assert variants == {"plain": "", "exact": "icount+nopti"}
    assert set(data["guests"]) == {
        "amd-syscall32@cloud-amd64",
        "amd-syscall32@cloud-amd64+icount+nopti",
    }
    cmdline = (
        run / "guests" / "amd-syscall32@cloud-amd64" / "boot2" / "qemu-cmdline.txt"
    ).read_text()
    assert "-icount shift=0,sleep=off" in cmdline and " nopti " in cmdline


def test_dry_run_prints_the_real_plan_and_boots_nothing(root: Path, tmp_path: Path) -> None:
    result = lab(
        "run",
        "--dry-run",
        "--profiles",
        "amd-syscall32,i386-int80",
        "--scenarios",
        "core,syscall-cost",
        "--reports",
        str(tmp_path),
        cwd=root,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("2 cells") and "cell amd-syscall32@cloud-amd64:" in out
    assert "boot [icount]: qemu-system-i386 " in out and "-icount shift=0,sleep=off" in out
    for line in (ln for ln in out.splitlines() if "boot [" in ln):
        kernel = line.split(" -kernel ")[1].split()[0]
        initrd = line.split(" -initrd ")[1].split()[0]
        assert Path(kernel).is_file() and Path(initrd).is_file()  # the files a boot would use
    assert not list(tmp_path.iterdir()), "a dry run writes no report"
