"""`lab bisect GOOD BAD --profiles P --scenarios S [--tree PATH]` and `lab bisect run ...`
(the `git bisect run` script): their arguments and handler (lab/cli.py only adds the
parser). The profiles and scenarios are checked before git is touched."""

from __future__ import annotations

import argparse
from pathlib import Path

from lab.bisect.drive import bisect, conclude
from lab.bisect.step import lab_command, one_step
from lab.bisect.verdicts import ABORT
from lab.config.profiles import load_profiles, select
from lab.config.scenarios import load_all
from lab.config.scenarios import select as select_scenarios
from lab.dirs import project_root
from lab.errors import ConfigError, ConfigErrors, LabError
from lab.suites import load_catalog


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`lab bisect` under the top-level subcommands."""
    b = sub.add_parser(
        "bisect",
        help="find the commit of a kernel tree that broke scenarios (git bisect, driven)",
        description="lab bisect GOOD BAD: git bisect start BAD GOOD + git bisect run (the lab "
        "builds, boots and runs each step) + git bisect reset. lab bisect run: one step, the "
        "script for your own `git bisect run` (exit 0 good, 1 bad, 125 skip, 128 abort).",
    )
    b.add_argument("commits", nargs="+", metavar="GOOD BAD | run")
    b.add_argument("--profiles", action="append", required=True, help="names or tags")
    b.add_argument("--scenarios", action="append", required=True, help="scenarios or suites")
    b.add_argument("--tree", default=".", help="the kernel tree, a git work tree (default: .)")
    b.set_defaults(func=cmd_bisect)


def _words(values: list[str]) -> list[str]:
    return [v for item in values for v in item.split(",") if v]


def _bits(args: argparse.Namespace, root: Path) -> set[int]:
    """The bitnesses the chosen profiles boot; the profiles and scenarios checked."""
    profiles = load_profiles(Path(args.vendors) if args.vendors else root / "vendors.yaml")
    chosen = select(profiles, _words(args.profiles), "--profiles")
    loaded = load_all(root / "scenarios", load_catalog().known(), profiles)
    select_scenarios(loaded, _words(args.scenarios))
    if any(p.is_remote for p in chosen):
        raise LabError("--profiles: lab bisect boots kernels it builds; real machines cannot")
    return {p.expect.kernel_bits for p in chosen}


def cmd_bisect(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve() if args.root else project_root()
    tree = Path(args.tree).expanduser().resolve()
    choice = ["--profiles", ",".join(_words(args.profiles))]
    choice += ["--scenarios", ",".join(_words(args.scenarios))]
    command = lab_command(root, args.vendors)
    if args.commits == ["run"]:
        try:  # a step's own trouble must stop git bisect run (128), never read as bad (2)
            step = one_step(tree, _bits(args, root), command, choice)
        except (ConfigError, ConfigErrors, LabError) as exc:
            print(f"lab bisect run: {exc} -> abort (exit {ABORT})", flush=True)
            return ABORT
        print(step.line, flush=True)
        return step.code
    if len(args.commits) != 2:
        raise LabError("lab bisect GOOD BAD (two commits) or lab bisect run (one step)")
    _bits(args, root)
    script = [*command, "bisect", "run", *choice, "--tree", str(tree)]
    answer = bisect(tree, args.commits[0], args.commits[1], script, _say)
    return conclude(tree, answer, _say)


def _say(msg: str) -> None:
    print(msg, flush=True)
