"""Shared fixtures: the checkout, and (for integration tests) built guest images."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The lab's runs in tests report results as first seen and make no evidence runs on other
# emulator builds (each costs fresh boots); tests/integration/test_flaky.py and
# test_emulators.py turn both on with --reruns / --attribution to test them for real.
os.environ.setdefault("ENTRYLAB_RERUNS", "0")
os.environ.setdefault("ENTRYLAB_ATTRIBUTION", "0")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def qemu_children() -> list[str]:
    """QEMU processes whose parent is this test process (there must be none after a test)."""
    found = []
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        if name.startswith("qemu-system") and int(fields[1]) == me and fields[0] != "Z":
            found.append(f"{stat.parent.name} {name}")
    return found


def lab_cli(
    *args: str, cwd: Path, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`lab ARGS` as a user runs it: a separate process, output captured, never a hang."""
    return subprocess.run(
        [sys.executable, "-m", "lab.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def latest_results(reports: Path) -> dict[str, Any]:
    """results.json of the newest run under ``reports`` (its ``latest`` link)."""
    data: dict[str, Any] = json.loads(((reports / "latest").resolve() / "results.json").read_text())
    return data


def sigterm_when(root: Path, marker: str, *args: str) -> tuple[int, str]:
    """Start `lab ARGS`, send SIGTERM once a line contains marker; (exit code, output)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    seen = ""
    for line in proc.stdout:
        seen += line
        if marker in line:
            break
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, seen + out


TEST_TAG = "ENTRYLAB_TEST_TAG"


def tagged_qemu(tag: str) -> list[int]:
    """Live QEMU processes started under a test's tag (QEMU inherits the lab's environment)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "comm").read_text().startswith("qemu-system") and (
                f"{TEST_TAG}={tag}".encode() in (proc / "environ").read_bytes()
            ):
                found.append(int(proc.name))
        except OSError:
            continue
    return found
