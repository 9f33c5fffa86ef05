"""Console line splitting: agent frames vs kernel lines, fault detection, bounded memory."""

from __future__ import annotations

from lab.targets.console import LineSplitter

PANIC = b"""[    1.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b
[    1.0] CPU: 0 PID: 1 Comm: init Not tainted 6.1.0-50-cloud-amd64 #1  Debian 6.1.176-1
[    1.0] Call Trace:
"""


def test_frames_and_kernel_lines_are_separated() -> None:
    s = LineSplitter("abc")
    lines = s.feed(b"[ 0.1] hello\r\n@@abc:READY {}\n@@abc:1|out")
    assert [a.body for a in lines] == ["READY {}"]
    assert list(s.kernel_lines) == ["[ 0.1] hello"]
    assert [a.body for a in s.feed(b"put\n")] == ["1|output"]


def test_other_nonces_are_not_frames() -> None:
    s = LineSplitter("abc")
    assert s.feed(b"@@xyz:READY {}\n") == []
    assert list(s.kernel_lines) == ["@@xyz:READY {}"]


def test_kernel_text_before_a_frame_on_one_line() -> None:
    s = LineSplitter("n")
    lines = s.feed(b"[ 2.0] WARNING: CPU: 0 PID: 1 at x@@n:1=EXIT 0\n")
    assert [a.body for a in lines] == ["1=EXIT 0"]
    assert s.faults[0].kind == "warning"


def test_panic_is_fatal_with_context() -> None:
    s = LineSplitter("n")
    s.feed(b"line before 1\nline before 2\n" + PANIC)
    fatal = s.fatal()
    assert fatal is not None and fatal.kind == "panic"
    assert "line before 2" in fatal.excerpt()
    assert "Call Trace:" in fatal.excerpt()


def test_oops_and_double_fault_are_recorded_not_fatal() -> None:
    s = LineSplitter("n")
    s.feed(b"[ 3.1] traps: PANIC: double fault, error_code: 0x0\n[ 3.2] BUG: kernel NULL pointer\n")
    assert [f.kind for f in s.faults] == ["double fault", "bug"]
    assert s.fatal() is None


def test_a_flood_without_newlines_stays_bounded() -> None:
    s = LineSplitter("n")
    for _ in range(200):
        s.feed(b"x" * 4096)
    assert len(s._pending) < 70_000
    assert len(s.kernel_lines) >= 1
