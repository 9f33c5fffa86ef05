"""`lab kernel build` for real: linux-source-7.2 built once per test session (and cached in
the lab's cache across sessions, so a second CI run builds nothing), booted with `lab run
--kernel`, and vdso-entry passes on it; a second build runs no make."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import lab_cli, latest_results

pytestmark = pytest.mark.integration

ARCH, PROFILE = "x86_64", "intel-sep"


@dataclass(frozen=True)
class Built:
    kernel: Path
    manifest: dict[str, Any]
    output: str


def build(root: Path) -> Built:
    result = lab_cli("kernel", "build", "--source", "7.2", "--arch", ARCH, cwd=root, timeout=3600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    kernel = Path(result.stdout.strip().splitlines()[-1])
    manifest = json.loads((kernel.parent / "manifest.json").read_text())
    return Built(kernel, manifest, result.stdout + result.stderr)


@pytest.fixture(scope="session")
def built_kernel(root: Path) -> Built:
    return build(root)


def test_the_built_kernel_has_its_config_and_manifest(built_kernel: Built) -> None:
    out = built_kernel.kernel.parent
    assert built_kernel.kernel.name == "vmlinux"
    assert built_kernel.kernel.read_bytes()[:5] == b"\x7fELF\x02"  # 64-bit ELF: PVH boot
    config = (out / "config").read_text()
    for line in ("CONFIG_PVH=y", "CONFIG_IA32_EMULATION=y", "CONFIG_SERIAL_8250_CONSOLE=y"):
        assert line in config.splitlines()
    m = built_kernel.manifest
    assert m["arch"] == ARCH and m["release"].startswith("7.2.")
    assert m["inputs"]["tree"].startswith("debian:linux-source-7.2=")
    assert (out / "build.log").stat().st_size > 0


def test_the_built_kernel_boots_and_passes_vdso_entry(
    root: Path, built_kernel: Built, tmp_path: Path
) -> None:
    result = lab_cli(
        "run",
        "--kernel",
        str(built_kernel.kernel),
        "--profiles",
        PROFILE,
        "--scenarios",
        "vdso-entry",
        "--plain",
        "--reports",
        str(tmp_path),
        cwd=root,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    data = latest_results(tmp_path)
    assert data["counts"]["pass"] >= 1 and not data["counts"].get("fail")
    for v in data["verdicts"]:
        assert v["status"] == "pass", v
        assert v["env"]["kernel_release"] == built_kernel.manifest["release"]


def test_a_second_build_does_no_work(root: Path, built_kernel: Built) -> None:
    log = built_kernel.kernel.parent / "build.log"
    before = log.stat().st_mtime_ns
    again = build(root)
    assert again.kernel == built_kernel.kernel
    assert again.manifest == built_kernel.manifest  # same build: same built_at, same seconds
    assert log.stat().st_mtime_ns == before  # no make wrote to the log
    assert "cached, nothing to do" in again.output
