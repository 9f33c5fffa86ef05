"""The x86 selftests of the 7.2 series for real: the layer built from the pinned
linux-source-7.2 (once; every later build is the cache), and some of its tests run in a 7.2
guest, among them one that 6.1's selftests do not have (nx_stack), with their real outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.images.builder import Images
from lab.suites.kselftest.build import BuildResult, KselftestLayer
from tests.conftest import lab_cli, latest_results

pytestmark = pytest.mark.integration


def test_the_7_2_layer_is_built_from_linux_source_7_2_and_cached(root: Path) -> None:
    images = Images(root)
    pin = images.pins()["source/7.2/linux-source"]
    first = KselftestLayer(None, "7.2")(images, lambda _m: None)
    said: list[str] = []
    again = KselftestLayer(None, "7.2")(images, said.append)
    assert said == [], "the second build is the cache"
    result = again.result
    assert isinstance(result, BuildResult)
    assert result.origin == f"debian:linux-source-7.2={pin.version}"
    assert result.info["source"]["pin"] == "source/7.2/linux-source"
    assert again.variant == "7.2" and first.cpio == again.cpio
    assert first.cpio == root / "images/build/kselftest-x86/7.2/layer.cpio"
    # tests 6.1's Makefile does not name are targets here, and built
    for name in ("nx_stack_32", "nx_stack_64", "lam_64", "test_shadow_stack_64", "avx_64"):
        assert name in result.info["targets"] and name in result.built, result.broken.get(name)
    assert not result.broken, sorted(result.broken)


def test_7_2_selftests_run_in_a_7_2_guest(root: Path, tmp_path: Path) -> None:
    """sigreturn_32's first valid sigreturn passes on 7.2 (its kernel leaves null selectors
    0-3 as they are, so the 6.1 TCG artefact does not show), nx_stack_32 (7.2's selftests
    only) passes, single_step_syscall_32 passes; every verdict names a 7.2 kernel."""
    result = lab_cli(
        "run",
        "--kernels",
        "7.2",
        "--profiles",
        "amd-syscall32",
        "--scenarios",
        "kst-single-step-syscall-32,kst-nx-stack-32,kst-sigreturn-32",
        "--plain",
        "--reports",
        str(tmp_path),
        cwd=root,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    data = latest_results(tmp_path)
    verdicts = data["verdicts"]
    assert {v["cell"] for v in verdicts} == {"amd-syscall32@7.2/cloud-amd64"}
    assert all(str(v["env"]["kernel_release"]).startswith("7.2.") for v in verdicts)
    exits = {v["scenario"]: v for v in verdicts if v["path"] == "exit-code"}
    assert set(exits) == {"kst-single-step-syscall-32", "kst-nx-stack-32", "kst-sigreturn-32"}
    assert {v["status"] for v in exits.values()} == {"pass"}, exits
    first = next(
        v
        for v in verdicts
        if v["scenario"] == "kst-sigreturn-32"
        and v["path"] == "Valid sigreturn: 64-bit CS (33), 32-bit SS (2b, GDT)"
    )
    assert first["status"] == "pass", first["message"]
    steps = [v for v in verdicts if v["scenario"] == "kst-single-step-syscall-32"]
    assert len(steps) > 5 and {v["status"] for v in steps} == {"pass"}
