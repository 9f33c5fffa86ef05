"""A person at a terminal: `lab run` shows the live view and ends with the matrix; Ctrl-C
mid-run leaves a valid report and no QEMU; `lab report show` renders it without a guest."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pexpect
import pyte
import pytest

from tests.conftest import TEST_TAG as TAG
from tests.conftest import tagged_qemu

pytestmark = pytest.mark.integration


def spawn_lab(root: Path, tag: str, *args: str, cols: int = 80, rows: int = 24) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update({"TERM": "xterm-256color", TAG: tag})
    return pexpect.spawn(
        sys.executable,
        ["-m", "lab.cli", *args],
        cwd=str(root),
        env=env,
        dimensions=(rows, cols),
        timeout=600,
    )


def read_all(child: pexpect.spawn, screen: pyte.Screen) -> bytes:
    """Feed everything to the screen; return the raw bytes too (for what scrolled away)."""
    stream = pyte.ByteStream(screen)
    seen = b""
    while True:
        try:
            data = child.read_nonblocking(65536, timeout=600)
        except pexpect.EOF:
            return seen
        seen += data
        stream.feed(data)


def test_live_run_ends_with_the_matrix(root: Path, tmp_path: Path) -> None:
    child = spawn_lab(
        root,
        "live",
        "run",
        "--profiles",
        "intel-sep,i386-int80",
        "--scenarios",
        "vdso-entry",
        "--reports",
        str(tmp_path),
    )
    screen = pyte.Screen(80, 24)
    raw = read_all(child, screen)
    child.close()
    assert child.exitstatus == 0
    text = "\n".join(screen.display)
    assert b"2/2 scenarios" in raw, "the live view counted both scenarios"
    assert "legend:" in text and "vdso-entry" in text
    assert "│ intel-sep@cloud-amd64 │    pass    │" in text
    assert "│ i386-int80@686        │    pass    │" in text

    show = spawn_lab(root, "show", "report", "--reports", str(tmp_path), "show")
    screen = pyte.Screen(80, 24)
    read_all(show, screen)
    show.close()
    assert show.exitstatus == 0
    assert "│ intel-sep@cloud-amd64 │    pass    │" in "\n".join(screen.display)


def test_ctrl_c_leaves_a_valid_report_and_no_qemu(root: Path, tmp_path: Path) -> None:
    child = spawn_lab(
        root,
        "ctrlc",
        "run",
        "--profiles",
        "default",
        "--scenarios",
        "vdso-entry",
        "--reports",
        str(tmp_path),
        "--jobs",
        "2",
    )
    child.expect("booting", timeout=300)
    deadline = time.monotonic() + 120
    while not tagged_qemu("ctrlc") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert tagged_qemu("ctrlc"), "QEMU should be running before the interrupt"
    child.sendintr()
    child.expect(pexpect.EOF, timeout=120)
    child.close()
    assert child.exitstatus == 130
    data = json.loads((tmp_path / "latest" / "results.json").read_text())
    assert data["state"] == "interrupted"
    assert len(data["verdicts"]) < 8
    time.sleep(0.5)
    assert tagged_qemu("ctrlc") == []
