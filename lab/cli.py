"""The `lab` command line: images, profiles, boot, run, model.

Exit codes: 0 all passed, 1 some verdict failed, 2 invalid configuration or the lab could not
run, 130 interrupted. Errors are one clear message (file:line or profile), never a traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from lab import __version__, engine
from lab.checks import CHECKS
from lab.errors import (
    BootError,
    ConfigError,
    ConfigErrors,
    GuestError,
    ImageError,
    LabError,
    SourceLocation,
)
from lab.images import Images, user_kernel
from lab.machine import Machine, choose_accel, reap_all
from lab.model import CpuIdentity, explain
from lab.paths import project_root
from lab.profiles import Profile, load_profiles, select
from lab.report import RunReport, new_run_id
from lab.results import Status
from lab.scenarios import load_all
from lab.scenarios import select as select_scenarios
from lab.transport import GuestSession

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def _say(msg: str) -> None:
    print(msg, flush=True)


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve() if args.root else project_root()


def _profiles(args: argparse.Namespace) -> dict[str, Profile]:
    profiles = load_profiles(Path(args.vendors) if args.vendors else _root(args) / "vendors.yaml")
    kernel = getattr(args, "kernel", None)
    if kernel:
        profiles = {n: _with_kernel(p, kernel) for n, p in profiles.items()}
    return profiles


def _with_kernel(profile: Profile, kernel: str) -> Profile:
    """--kernel NAME|PATH: a recipe kernel of the profile's bitness, or the user's own file."""
    if Path(kernel).exists():
        bits = user_kernel(Path(kernel)).bits
        if bits != profile.expect.kernel_bits:
            return profile  # a 64-bit --kernel applies to the 64-bit profiles only
        return profile.with_kernel(str(Path(kernel).resolve()))
    return profile.with_kernel(kernel)


# -- images -------------------------------------------------------------------------------------


def cmd_images_build(args: argparse.Namespace) -> int:
    images = Images(_root(args))
    images.log = _say
    kernels = args.kernel or None
    built = images.build(kernels)
    _say(f"initramfs: {built.initramfs}")
    for k in built.kernels.values():
        _say(f"kernel {k.name}: {k.path} ({k.bits}-bit, {k.boot}, {k.origin})")
    return EXIT_OK


def cmd_images_list(args: argparse.Namespace) -> int:
    images = Images(_root(args))
    pins = images.lock()
    _say("pinned packages (images/lock.yaml):")
    for key, pin in sorted(pins.items()):
        _say(f"  {key:22} {pin.package}:{pin.arch} {pin.version}")
    rows = images.listing()
    _say("built artefacts (images/build/manifest.json):" if rows else "nothing built yet")
    for row in rows:
        state = "ok" if row["present"] else "MISSING"
        for f, sha in row["files"].items():
            _say(f"  {row['name']:22} {state:7} {f}  sha256:{sha[:16]}…")
    return EXIT_OK


def cmd_images_update(args: argparse.Namespace) -> int:
    changes = Images(_root(args)).update()
    for key, (old, new) in sorted(changes.items()):
        _say(f"{key:22} {old or '(new)'} -> {new}" if old != new else f"{key:22} {new} (same)")
    _say("images/lock.yaml written; commit it so the nightly uses the new pins")
    return EXIT_OK


# -- profiles, model ----------------------------------------------------------------------------


def cmd_profiles(args: argparse.Namespace) -> int:
    for p in _profiles(args).values():
        _say(
            f"{p.name:18} {p.qemu:20} -cpu {p.cpu:30} kernel {p.kernel:12} "
            f"[{', '.join(p.tags)}]  {p.description}"
        )
    return EXIT_OK


def profile_cpu(profile: Profile) -> CpuIdentity:
    """The model's view of a profile before boot: its promised vendor and flags."""
    return CpuIdentity(profile.expect.vendor, frozenset(profile.expect.flags))


def cmd_model_explain(args: argparse.Namespace) -> int:
    profiles = _profiles(args)
    for p in select(profiles, args.profile, "lab model explain"):
        _say(explain(p.name, p.expect.kernel_bits, profile_cpu(p)))
        _say("")
    return EXIT_OK


# -- boot ---------------------------------------------------------------------------------------


def cmd_boot(args: argparse.Namespace) -> int:
    profiles = _profiles(args)
    if args.profile not in profiles:
        raise ConfigError(
            _vendors_loc(args),
            f"no profile named {args.profile!r} (profiles: {', '.join(profiles)})",
        )
    profile = profiles[args.profile]
    built = engine.resolve_images(Images(_root(args)), [profile], _say)
    run_dir = _root(args) / "reports" / "boot" / new_run_id()
    kernel = built.kernels[profile.kernel]
    with Machine(profile, kernel, built.initramfs, run_dir, choose_accel(args.accel)) as m:
        ident = m.boot()
        _say(
            f"{profile.name}: ready in {m.boot_seconds:.1f}s ({m.accel}): {ident.vendor} "
            f"{ident.model_name!r}, kernel {ident.kernel_release} ({ident.machine}), "
            f"AT_SYSINFO={ident.at_sysinfo:#x} AT_SYSINFO_EHDR={ident.at_sysinfo_ehdr:#x}"
        )
        _say(f"console log: {run_dir / 'console.log'}")
        command = [c for c in args.command if c != "--"]
        if command:
            result = GuestSession(m, profile.name).run(command, timeout=args.timeout)
            for line in result.output:
                print(line)
            if not result.ok:
                _say(f"{profile.name}: {command[0]}: {result.describe()}")
            return result.exit_code if result.exit_code is not None else EXIT_FAILED
        if not sys.stdin.isatty():
            _say("no command given and stdin is not a terminal: nothing to do")
            return EXIT_OK
        _say("root shell in the guest; `exit` (or Ctrl-]) leaves and stops the guest")
        m.send("SHELL")
        m.interact()
    return EXIT_OK


def _vendors_loc(args: argparse.Namespace) -> SourceLocation:
    return SourceLocation(Path(args.vendors) if args.vendors else _root(args) / "vendors.yaml")


# -- run ----------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    root = _root(args)
    profiles = _profiles(args)
    chosen = select(profiles, _split(args.profiles), "--profiles")
    scenarios = load_all(
        Path(args.scenario_dir) if args.scenario_dir else root / "scenarios",
        set(CHECKS),
        profiles,
    )
    chosen_scenarios = select_scenarios(scenarios, _split(args.scenarios))
    plan = engine.RunPlan(
        chosen, chosen_scenarios, jobs=args.jobs or engine.default_jobs(), accel=args.accel
    )
    reports = Path(args.reports) if args.reports else root / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    report = RunReport(
        reports,
        args.run_id or new_run_id(),
        {
            "command": sys.argv,
            "profiles": [p.name for p in chosen],
            "scenarios": [s.name for s in chosen_scenarios],
            "jobs": plan.jobs,
        },
    )
    _say(
        f"run {report.run_id}: {len(chosen)} profiles x {len(chosen_scenarios)} scenarios, "
        f"{plan.jobs} at a time; report in {report.dir}"
    )
    try:
        engine.execute(plan, Images(root), report, _say)
    except KeyboardInterrupt:
        _say(f"interrupted; partial report: {report.dir}")
        return EXIT_INTERRUPTED
    counts = {s: sum(v.status is s for v in report.verdicts) for s in Status}
    _say(
        "done: "
        + ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
        + f"; report: {report.dir}/summary.md"
    )
    return EXIT_FAILED if any(s.bad and n for s, n in counts.items()) else EXIT_OK


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v for item in values for v in item.split(",") if v]


# -- parser -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lab", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"entrylab {__version__}")
    parser.add_argument("--root", help="the entrylab checkout (default: found from cwd)")
    parser.add_argument("--vendors", help="profiles file (default: ROOT/vendors.yaml)")
    sub = parser.add_subparsers(dest="command_name", required=True, metavar="COMMAND")

    images = sub.add_parser("images", help="build and inspect guest images")
    isub = images.add_subparsers(dest="images_command", required=True, metavar="ACTION")
    b = isub.add_parser("build", help="download pinned packages and build images (cached)")
    b.add_argument("--kernel", action="append", help="only this recipe kernel (repeatable)")
    b.set_defaults(func=cmd_images_build)
    isub.add_parser("list", help="pins and built artefacts").set_defaults(func=cmd_images_list)
    isub.add_parser(
        "update", help="move the pins in images/lock.yaml to the newest versions"
    ).set_defaults(func=cmd_images_update)

    sub.add_parser("profiles", help="list CPU-vendor profiles").set_defaults(func=cmd_profiles)

    model = sub.add_parser("model", help="the entry model's predictions")
    msub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    e = msub.add_parser("explain", help="predictions for profiles, in plain words")
    e.add_argument("profile", nargs="*", help="profile names or tags (default: default profiles)")
    e.set_defaults(func=cmd_model_explain)

    boot = sub.add_parser("boot", help="boot a profile: interactive shell, or run one command")
    boot.add_argument("profile")
    boot.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    boot.add_argument("--kernel", help="recipe kernel name or path to a bzImage/vmlinux")
    boot.add_argument("--accel", default="auto", choices=["auto", "tcg", "kvm"])
    boot.add_argument("--timeout", type=float, default=300.0, help="command timeout (s)")
    boot.set_defaults(func=cmd_boot)

    run = sub.add_parser("run", help="run scenarios on profiles and write a report")
    run.add_argument("--profiles", action="append", help="names or tags, comma-separated")
    run.add_argument("--scenarios", action="append", help="scenario or suite names")
    run.add_argument("--kernel", help="recipe kernel name or path to your own bzImage/vmlinux")
    run.add_argument("--jobs", type=int, help="guests at a time (default: number of cores)")
    run.add_argument("--accel", default="auto", choices=["auto", "tcg", "kvm"])
    run.add_argument("--reports", help="reports directory (default: ROOT/reports)")
    run.add_argument("--scenario-dir", help="scenario suites directory (default: ROOT/scenarios)")
    run.add_argument("--run-id", help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)
    return parser


def _on_sigterm(_signo: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (ConfigError, ConfigErrors) as exc:
        print(f"lab: invalid configuration:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (BootError, GuestError) as exc:
        print(f"lab: {exc}", file=sys.stderr)
        if exc.excerpt:
            print(exc.excerpt, file=sys.stderr)
        return EXIT_CONFIG if isinstance(exc, BootError) else EXIT_FAILED
    except (ImageError, LabError) as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        reap_all()


if __name__ == "__main__":
    sys.exit(main())
