"""Real guests: Debian kernels under QEMU boot to a verified agent; wrong profiles fail fast."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import pexpect
import pytest

from lab.config.profiles import Profile
from lab.errors import BootError
from lab.images.builder import Images, ImageSet
from lab.targets.qemu import Machine
from lab.targets.session import GuestSession

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("name", "machine"), [("intel-sep", "x86_64"), ("i386-int80", "i686")])
def test_boot_verify_and_run(
    name: str, machine: str, image_set: ImageSet, profiles: dict[str, Profile], tmp_path: Path
) -> None:
    profile = profiles[name]
    kernel = image_set.kernels[profile.kernel]
    with Machine(profile, kernel, image_set.initramfs, tmp_path, "tcg") as m:
        ident = m.boot()
        assert ident.vendor == profile.expect.vendor
        assert ident.kernel_bits == profile.expect.kernel_bits
        assert ident.kernel_release == kernel.release
        assert ident.vdso_start == ident.at_sysinfo_ehdr < ident.at_sysinfo < ident.vdso_end
        session = GuestSession(m, name)
        assert session.run(["uname", "-m"]).output == [machine]
        mixed = session.run(["sh", "-c", "echo out; echo err >&2; exit 7"])
        assert (mixed.exit_code, sorted(mixed.output)) == (7, ["err", "out"])
        slow = session.run(["sleep", "60"], timeout=1)
        assert slow.timed_out and slow.signal == 9
        assert session.run(["true"]).ok, "the guest must stay usable after a killed command"
        vdso = session.vdso()
        assert vdso[:4] == b"\x7fELF" and len(vdso) == ident.vdso_end - ident.vdso_start
    log = (tmp_path / "console.log").read_bytes()
    assert f"@@{m.nonce}:READY".encode() in log and f"@@{m.nonce}:5=EXIT 0".encode() in log


def _expect_boot_error(
    profile: Profile, image_set: ImageSet, tmp_path: Path, kernel_path: Path | None = None
) -> BootError:
    kernel = image_set.kernels[profile.kernel]
    if kernel_path is not None:
        kernel = dataclasses.replace(kernel, path=kernel_path)
    t0 = time.monotonic()
    with (
        pytest.raises(BootError) as exc,
        Machine(profile, kernel, image_set.initramfs, tmp_path, "tcg") as m,
    ):
        m.boot()
    assert time.monotonic() - t0 < profile.boot_timeout_s
    assert exc.value.profile == profile.name
    assert "\n" not in exc.value.reason, "the reason is one line"
    return exc.value


def test_unknown_cpu_model(
    image_set: ImageSet, profiles: dict[str, Profile], tmp_path: Path
) -> None:
    bad = dataclasses.replace(profiles["intel-sep"], cpu="NoSuchCPU")
    err = _expect_boot_error(bad, image_set, tmp_path)
    assert "QEMU exited" in err.reason and "NoSuchCPU" in err.reason


def test_missing_kernel_file(
    image_set: ImageSet, profiles: dict[str, Profile], tmp_path: Path
) -> None:
    err = _expect_boot_error(profiles["intel-sep"], image_set, tmp_path, tmp_path / "no-bzImage")
    assert "kernel file not found" in err.reason


def test_kernel_that_panics_at_boot(
    image_set: ImageSet, profiles: dict[str, Profile], tmp_path: Path
) -> None:
    panics = dataclasses.replace(profiles["intel-sep"], append=("rdinit=/no/such/init",))
    err = _expect_boot_error(panics, image_set, tmp_path)
    assert err.reason.startswith("panic during boot")
    assert "Kernel panic - not syncing" in err.excerpt


def test_guest_that_is_not_what_the_profile_says(
    image_set: ImageSet, profiles: dict[str, Profile], tmp_path: Path
) -> None:
    intel = profiles["intel-sep"]
    liar = dataclasses.replace(
        intel, expect=dataclasses.replace(intel.expect, vendor="AuthenticAMD")
    )
    err = _expect_boot_error(liar, image_set, tmp_path)
    assert "CPUID vendor is 'GenuineIntel', profile expects 'AuthenticAMD'" in err.reason


def test_second_build_does_no_work(root: Path, image_set: ImageSet) -> None:
    said: list[str] = []
    images = Images(root, log=said.append)
    again = images.build(["cloud-amd64", "686"])
    assert said == []
    assert again.initramfs == image_set.initramfs
    assert again.manifest["artefacts"] == image_set.manifest["artefacts"]
    for key in ("kernel/cloud-amd64", "kernel/686", "userland/busybox"):
        assert again.manifest["lock"][key]["version"]


def test_interactive_shell_like_vng(root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "lab.cli", "boot", "i386-int80"],
        cwd=str(root),
        env=env,
        timeout=300,
        encoding="utf-8",
        dimensions=(24, 100),
    )
    child.expect("entrylab# ")
    child.sendline("echo sep-count=$(grep -c -w sep /proc/cpuinfo) sum=$((6 * 7))")
    child.expect(r"sep-count=(\d+) sum=42")
    assert child.match.group(1) == "0", "i386-int80 is a CPU without SEP"
    child.expect("entrylab# ")
    child.sendline("exit")
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    assert child.exitstatus == 0
