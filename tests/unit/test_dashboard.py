"""The dashboard on a real pseudo-terminal (screen read back with pyte), and the plain sink.

The events are synthetic here; tests/integration/test_dashboard_live.py drives a real run.
"""

from __future__ import annotations

import io
import os
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pexpect
import pyte

from lab.events import Event, Kind, PlainSink
from lab.report.results import Status, Verdict

SCRIPT = textwrap.dedent("""
    import time
    from rich.console import Console
    from lab.dashboard import Dashboard
    from lab.events import Event, Kind
    from lab.report.results import Status, Verdict

    d = Dashboard(Console())
    with d:
        d(Event(Kind.PLAN, message="3 cells, 2 scenarios, 2 at a time",
                data={"intel-sep@cloud-amd64": 2, "i386-int80@686": 2,
                      "amd-syscall@cloud-amd64@qemu-9.2.0-rc1": 2}))
        d(Event(Kind.BOOTING, "intel-sep@cloud-amd64", "booting (tcg)"))
        d(Event(Kind.READY, "intel-sep@cloud-amd64", "ready", data={"vendor": "GenuineIntel",
              "kernel": "6.1.0-50-cloud-amd64", "accel": "tcg"}))
        d(Event(Kind.RUNNING, "intel-sep@cloud-amd64", scenario="vdso-entry"))
        d(Event(Kind.VERDICT, "intel-sep@cloud-amd64", verdict=Verdict("intel-sep",
              "vdso-entry", Status.PASS, cell="intel-sep@cloud-amd64")))
        d(Event(Kind.RUNNING, "intel-sep@cloud-amd64", scenario="regs-preserved"))
        d(Event(Kind.BOOT_FAILED, "i386-int80@686", "unable to find CPU model"))
        d(Event(Kind.KERNEL_FAULT, "i386-int80@686",
                "panic: Kernel panic - not syncing: \\x1b[2J"))
        time.sleep(1.0)
    print("AFTER-LIVE")
""")


def screen_after(cols: int, rows: int) -> pyte.Screen:
    screen = pyte.Screen(cols, rows)
    stream = pyte.ByteStream(screen)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    child = pexpect.spawn(
        sys.executable,
        ["-c", SCRIPT],
        dimensions=(rows, cols),
        env=env,
        cwd=str(Path(__file__).resolve().parents[2]),
        timeout=30,
    )
    while True:
        try:
            stream.feed(child.read_nonblocking(65536, timeout=30))
        except pexpect.EOF:
            break
    child.close()
    assert child.exitstatus == 0
    return screen


def test_live_view_on_80x24() -> None:
    screen = screen_after(80, 24)
    text = "\n".join(screen.display)
    assert "entrylab: 3 cells, 2 scenarios" in text
    assert re.search(r"intel-sep@cloud-amd64\s+running regs-preserved\s+\d+s\s+1/0/0/0", text), text
    assert re.search(r"i386-int80@686\s+boot failed", text), text
    assert re.search(r"amd-syscall@cloud-amd64@q\S*…\s+queued", text), text  # cut, not wrapped
    assert "1/6 scenarios" in text or "2/6 scenarios" in text
    assert "i386-int80@686: panic: Kernel panic - not syncing" in text
    assert "AFTER-LIVE" in text
    assert all(len(line.rstrip()) <= 80 for line in screen.display)
    # The guest's escape sequence was shown as text, not obeyed (the screen was not cleared).
    assert "\\x1b[2J" in text


def test_wide_terminal_shows_vendor_and_kernel() -> None:
    text = "\n".join(screen_after(140, 30).display)
    assert re.search(
        r"intel-sep@cloud-amd64\s+GenuineIntel\s+6\.1\.0-50-cloud-amd64\s+tcg", text
    ), text


def test_plain_sink_is_one_line_per_event_without_control_codes() -> None:
    out = io.StringIO()
    sink = PlainSink(out)
    sink(Event(Kind.BOOTING, "p1", "booting (tcg)"))
    sink(
        Event(
            Kind.VERDICT,
            "p1",
            verdict=Verdict("p1", "s", Status.FAIL, "ecx \x1b[31mred", path="regs/int80"),
        )
    )
    sink(Event(Kind.KERNEL_FAULT, "p1", "oops: Oops: 0000"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("p1: booting: booting (tcg)")
    assert lines[1].endswith("p1: s[regs/int80]: fail — ecx \\x1b[31mred")
    assert "\x1b" not in out.getvalue()


def test_end_of_run_tables_read_by_cell() -> None:
    from rich.console import Console

    from lab.dashboard import guests_table, matrix_table

    verdicts: list[dict[str, Any]] = [
        {
            "cell": "intel-sep@cloud-amd64",
            "profile": "intel-sep",
            "scenario": "a",
            "status": "pass",
        },
        {
            "cell": "i386-int80@686",
            "profile": "i386-int80",
            "scenario": "a",
            "status": "error",
            "error_kind": "boot",
        },
        # schema 1: no cell, derived from the environment
        {"profile": "amd", "scenario": "a", "status": "pass", "env": {"kernel": "cloud-amd64"}},
    ]
    console = Console(width=80, file=io.StringIO(), force_terminal=False)
    console.print(matrix_table(verdicts, "run"))
    console.print(guests_table({"i386-int80@686+icount": {"vendor": "GenuineIntel"}}))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert re.search(r"intel-sep@cloud-amd64 +│ +pass", out), out
    assert re.search(r"i386-int80@686 +│ +ERROR boot", out), out
    assert "amd@cloud-amd64" in out and "i386-int80@686+icount" in out
    assert all(len(line) <= 80 for line in out.splitlines())
