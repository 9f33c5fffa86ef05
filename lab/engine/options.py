"""The options `lab run` and `lab nightly` share (the CLI's, kept out of lab/cli.py)."""

from __future__ import annotations

import argparse
import os

from lab.engine.confirm import DEFAULT_RERUNS
from lab.engine.emulators import add_axis_arguments
from lab.targets.base import Transport


def _env_int(name: str, default: int) -> int:
    """A default from the environment (a lab machine's own setting); garbage: the default."""
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def run_arguments(p: argparse.ArgumentParser) -> None:
    """The options `lab run` and `lab nightly` share."""
    p.add_argument("--profiles", action="append", help="names or tags, comma-separated")
    p.add_argument("--scenarios", action="append", help="scenario or suite names")
    p.add_argument("--kernel", help="recipe kernel name or path to your own bzImage/vmlinux")
    p.add_argument(
        "--tree",
        metavar="PATH",
        help="build your kernel tree (lab kernel build, cached; x86_64 and/or i386 as the "
        "profiles need) and run on it: --kernels tree:PATH",
    )
    add_axis_arguments(p)  # --kernels, --qemu
    p.add_argument("--jobs", type=int, help="guests at a time (default: number of cores)")
    p.add_argument("--accel", default="auto", choices=["auto", "tcg", "kvm"])
    p.add_argument(
        "--reruns",
        type=int,
        default=_env_int("ENTRYLAB_RERUNS", DEFAULT_RERUNS),
        metavar="N",
        help="fresh boots a fail, error or divergence gets before it is reported; mixed "
        f"outcomes are status flaky (default: $ENTRYLAB_RERUNS, else {DEFAULT_RERUNS}; 0: "
        "report as first seen)",
    )
    p.add_argument(
        "--attribution",
        action=argparse.BooleanOptionalAction,
        default=_env_int("ENTRYLAB_ATTRIBUTION", 1) != 0,
        help="evidence runs on the recipe's other emulator builds for divergences, expected and "
        "unexpected failures (default: on unless $ENTRYLAB_ATTRIBUTION=0; off, every non-pass "
        "verdict still gets its cause class)",
    )
    p.add_argument("--reports", help="reports directory (default: ROOT/reports)")
    p.add_argument("--scenario-dir", help="scenario suites directory (default: ROOT/scenarios)")
    p.add_argument("--plain", action="store_true", help="plain line output even on a TTY")
    p.add_argument(
        "--selftests-src",
        metavar="PATH",
        help="build the kselftest-x86 layer from this kernel tree's tools/testing/selftests/x86 "
        "(default: Debian's linux-source at the pinned kernel version)",
    )
    p.add_argument(
        "--resume",
        metavar="RUN",
        help="finish an interrupted run (id, prefix or "
        "latest): what already has verdicts is skipped",
    )
    p.add_argument("--run-id", help=argparse.SUPPRESS)
    p.add_argument(
        "--transport",
        choices=[str(t) for t in Transport],
        help="talk to the guests over the serial console or SSH (default: each profile's "
        "`transport`, else SSH when the images have it)",
    )
    p.add_argument(
        "--hosts",
        action="append",
        metavar="HOST,...",
        help="spread the QEMU profiles over lab hosts too: names from the `hosts:` section of "
        "vendors.yaml, or user@host[:port]",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (every cell, its kernel, initramfs layers, transport and exact "
        "QEMU command lines) and boot nothing",
    )
