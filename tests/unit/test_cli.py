"""The CLI as a user meets it: clear errors with file:line and exit 2, never a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

from lab import cli
from tests.conftest import lab_cli


def lab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return lab_cli(*args, cwd=cwd, timeout=120)


def test_invalid_vendors_file(tmp_path: Path, root: Path) -> None:
    bad = tmp_path / "vendors.yaml"
    bad.write_text(
        "profiles:\n  p1:\n    kernel: cloud-amd64\n    qemu: qemu-system-x86_64\n"
        "    cpu: EPYC\n    expect: {vendor: AuthenticAMD, kernel_bits: 64}\n"
        "    memory: 128\n"
    )
    result = lab("--vendors", str(bad), "run", cwd=root)
    assert result.returncode == 2
    assert f"{bad}:7:5: unknown key 'memory'; did you mean 'memory_mb'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_profile_and_scenario(root: Path) -> None:
    result = lab("run", "--profiles", "intel-sepp", cwd=root)
    assert result.returncode == 2 and "no profile or tag named 'intel-sepp'" in result.stderr
    result = lab("run", "--scenarios", "vdso-entri", cwd=root)
    assert result.returncode == 2 and "did you mean 'vdso-entry'" in result.stderr
    result = lab("boot", "nope", cwd=root)
    assert result.returncode == 2 and "no profile named 'nope'" in result.stderr


def test_model_explain_and_profiles(root: Path) -> None:
    result = lab("model", "explain", "amd-syscall32", "i386-int80", cwd=root)
    assert result.returncode == 0
    assert "Entry path: SYSCALL" in result.stdout and "Entry path: int $0x80" in result.stdout
    listing = lab("profiles", cwd=root)
    assert listing.returncode == 0 and listing.stdout.count("\n") >= 8


def test_boot_options_after_the_profile_are_lab_options_and_after_dashes_the_guests() -> None:
    # Found running `lab boot intel-sep --kernel 7.2 -- prog --calls 100`: the command took
    # "--kernel 7.2" and the guest was asked to exec "--kernel".
    args = cli.parse_words(["boot", "intel-sep", "--kernel", "7.2", "--", "prog", "--calls", "3"])
    assert (args.profile, args.kernel, args.command) == (
        "intel-sep",
        "7.2",
        ["prog", "--calls", "3"],
    )
    args = cli.parse_words(["boot", "intel-sep", "uname"])
    assert args.command == ["uname"] and args.kernel is None
    assert cli.parse_words(["boot", "intel-sep"]).command == []
