"""The `lab` command line: images, profiles, boot, run, model.

Exit codes: 0 all passed, 1 some verdict failed, 2 invalid configuration or the lab could not
run, 130 interrupted. Errors are one clear message (file:line or profile), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from rich.console import Console

from lab import __version__
from lab.bisect import cli as bisect_cli
from lab.config.nightly import Tier
from lab.config.profiles import LabHost, Profile, load_hosts, load_profiles, select
from lab.config.scenarios import load_all
from lab.config.scenarios import select as select_scenarios
from lab.dashboard import Dashboard
from lab.dirs import project_root
from lab.engine import describe, executor
from lab.engine.emulators import qemu_axis
from lab.engine.hosts import parse_hosts
from lab.engine.nightly import default_tiers, follow_newest, tiers_from_meta, tiers_to_meta
from lab.engine.options import run_arguments
from lab.engine.plan import RunPlan, default_jobs, kernel_choice, known_kernels, resolve_images
from lab.errors import (
    BootError,
    ConfigError,
    ConfigErrors,
    GuestError,
    ImageError,
    LabError,
    SourceLocation,
)
from lab.events import PlainSink
from lab.fsutil import atomic_write
from lab.images.builder import Images
from lab.images.kernels import user_kernel
from lab.images.recipe import Recipe
from lab.kbuild import cli as kbuild_cli
from lab.kbuild.axis import with_tree
from lab.model import CpuIdentity, explain, kernel_facts
from lab.report import browse, history, kernel_diff, trend
from lab.report.html import write_html
from lab.report.run import RunReport, new_run_id
from lab.suites import load_catalog
from lab.targets.accel import choose_accel
from lab.targets.base import Accel, Transport
from lab.targets.qemu import Machine
from lab.targets.reaping import reap_all, reap_stale
from lab.targets.session import GuestSession

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def _say(msg: str) -> None:
    print(msg, flush=True)


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve() if args.root else project_root()


def _profiles(args: argparse.Namespace) -> dict[str, Profile]:
    profiles = load_profiles(Path(args.vendors) if args.vendors else _root(args) / "vendors.yaml")
    kernel = getattr(args, "kernel", None)
    if kernel and args.command_name != "boot":  # lab boot resolves series names itself
        profiles = {n: _with_kernel(p, kernel) for n, p in profiles.items()}
    return profiles


def _with_kernel(profile: Profile, kernel: str, recipe: Recipe | None = None) -> Profile:
    """--kernel NAME|PATH: a recipe kernel of the profile's bitness, or the user's own file;
    with the recipe (lab boot), also a series name ("7.3-rc": the profile's flavour of it)."""
    if recipe is not None and kernel in recipe.series:
        name, why = kernel_choice(profile, kernel, recipe)
        if why:
            raise LabError(f"profile {profile.name} on kernel {kernel}: {why}")
        return profile.with_kernel(name)
    if Path(kernel).exists():
        bits = user_kernel(Path(kernel)).bits
        if bits != profile.expect.kernel_bits:
            return profile  # a 64-bit --kernel applies to the 64-bit profiles only
        return profile.with_kernel(str(Path(kernel).resolve()))
    return profile.with_kernel(kernel)


# -- images -------------------------------------------------------------------------------------


def cmd_images_build(args: argparse.Namespace) -> int:
    built = Images(_root(args), log=_say).build(args.kernel or None)
    _say(f"initramfs: {built.initramfs}")
    for k in built.kernels.values():
        _say(f"kernel {k.name}: {k.path} ({k.bits}-bit, {k.boot}, {k.origin})")
    return EXIT_OK


def cmd_images_list(args: argparse.Namespace) -> int:
    images = Images(_root(args))
    pins = images.pins()
    _say("pinned packages (images/lock.yaml):")
    for key, pin in sorted(pins.items()):
        _say(f"  {key:30} {pin.package}:{pin.arch} {pin.version}")
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
    facts = kernel_facts(args.kernel) if args.kernel else None
    for p in select(profiles, args.profile, "lab model explain"):
        _say(explain(p.name, p.expect.kernel_bits, profile_cpu(p), kernel=facts))
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
    if profile.is_remote:
        raise LabError(
            f"profile {profile.name} ({profile.source}) is a real machine reached "
            "over SSH: log in with ssh; `lab boot` boots QEMU guests"
        )
    if args.kernel:
        profile = _with_kernel(profile, args.kernel, Images(_root(args)).recipe())
    built = resolve_images(Images(_root(args)), [profile], _say)
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


def _start_run(args: argparse.Namespace, kind: str) -> tuple[RunPlan, RunReport, Path]:
    """Resolve config into a plan and open its report; nothing runs if the config is invalid.

    --resume RUN reopens an interrupted run: its profiles and scenarios, minus what finished.
    """
    resumed = RunReport.reopen(_find_run(args, args.resume)) if args.resume else None
    plan, root = _make_plan(args, resumed)
    if resumed is not None:
        return plan, resumed, root
    reports = _reports(args)
    reports.mkdir(parents=True, exist_ok=True)
    meta = {
        "kind": kind,
        "command": sys.argv,
        "profiles": [p.name for p in plan.profiles],
        "scenarios": [s.name for s in plan.scenarios],
        "jobs": plan.jobs,
        "kernels": list(plan.kernels),
        "emulators": list(plan.emulators),
        "tiers": tiers_to_meta(plan.tiers),
    }
    return plan, RunReport(reports, args.run_id or new_run_id(), meta), root


def _plan_only(args: argparse.Namespace) -> tuple[RunPlan, Path]:
    """The plan of `lab run`/`lab nightly` without opening a report (--dry-run)."""
    resumed = RunReport.reopen(_find_run(args, args.resume)) if args.resume else None
    return _make_plan(args, resumed)


def _make_plan(args: argparse.Namespace, resumed: RunReport | None) -> tuple[RunPlan, Path]:
    root = _root(args)
    profiles = _profiles(args)
    wanted_profiles = resumed.meta.get("profiles") if resumed else _split(args.profiles)
    wanted_scenarios = resumed.meta.get("scenarios") if resumed else _split(args.scenarios)
    chosen = select(profiles, wanted_profiles, "--profiles")
    scenario_dir = Path(args.scenario_dir) if args.scenario_dir else root / "scenarios"
    catalog = load_catalog()
    loaded = load_all(scenario_dir, catalog.known(), profiles)
    kernels, tiers = _kernels(args, root, resumed)
    bits = {p.expect.kernel_bits for p in chosen if not p.is_remote}
    plan = RunPlan(
        chosen,
        select_scenarios(loaded, wanted_scenarios),
        jobs=args.jobs or default_jobs(),
        accel=Accel(args.accel),
        done=frozenset(resumed.finished_pairs()) if resumed else frozenset(),
        transport=Transport(args.transport) if args.transport else None,
        hosts=tuple(_hosts(args)),
        vendors=Path(args.vendors) if args.vendors else None,
        scenario_dir=Path(args.scenario_dir) if args.scenario_dir else None,
        selftests_src=Path(args.selftests_src).resolve() if args.selftests_src else None,
        kernels=kernels,
        trees=kbuild_cli.tree_axis(kernels, bits, _say),
        tiers=tiers,
        emulators=qemu_axis(args.qemu, Images(root).recipe(), resumed.meta if resumed else None),
        reruns=max(0, args.reruns),
        attribution=args.attribution,
        catalog=catalog,
    )
    return plan, root


def _kernels(
    args: argparse.Namespace, root: Path, resumed: RunReport | None
) -> tuple[tuple[str, ...], tuple[Tier, ...]]:
    """--kernels (series or kernels of images/recipe.yaml, files, tree:PATH) and --tree; a
    resumed run's own; or, for a nightly that names no slice, the tiers of vendors.yaml."""
    if resumed is not None:
        meta = resumed.meta
        return tuple(map(str, meta.get("kernels", []))), tiers_from_meta(meta.get("tiers"))
    wanted = with_tree(_split(args.kernels) or [], args.tree, args.kernel)
    recipe = Images(root).recipe()
    if wanted:
        return known_kernels(wanted, recipe), ()
    slice_given = args.profiles or args.scenarios or args.kernel or args.tree
    if args.command_name == "nightly" and not slice_given:
        return default_tiers(_vendors_loc(args).path, recipe)
    return (), ()


def _hosts(args: argparse.Namespace) -> list[LabHost]:
    """--hosts: names from vendors.yaml's `hosts:`, or user@host[:port]."""
    wanted = _split(args.hosts)
    if not wanted:
        return []
    vendors = Path(args.vendors) if args.vendors else _root(args) / "vendors.yaml"
    return parse_hosts(wanted, load_hosts(vendors))


def _dry_run(plan: RunPlan, root: Path) -> int:
    """Print the plan (cells, kernels, layers, transports, QEMU command lines); boot nothing."""
    matrix, _ = executor.plan_cells(plan, Images(root), lambda e: None)
    for line in describe.describe(matrix, choose_accel(plan.accel), plan.reruns, plan.attribution):
        print(line)
    return EXIT_OK


def _execute(plan: RunPlan, report: RunReport, root: Path, live: bool) -> bool:
    """Run with the live dashboard on a TTY, plain lines otherwise; False if interrupted."""
    console = Console()
    sink = Dashboard(console) if live else PlainSink()
    _say(f"run {report.run_id}: report in {report.dir}")
    try:
        if isinstance(sink, Dashboard):
            with sink:
                executor.execute(plan, Images(root), report, sink)
        else:
            executor.execute(plan, Images(root), report, sink)
    except KeyboardInterrupt:
        browse.show_matrix(console, report.results_json(), report.dir)
        _say(f"interrupted: the report of what finished is in {report.dir}")
        return False
    browse.show_matrix(console, report.results_json(), report.dir)
    return True


def _live(args: argparse.Namespace) -> bool:
    if args.plain:
        return False
    return sys.stdout.isatty()


def cmd_run(args: argparse.Namespace) -> int:
    if args.dry_run:
        return _dry_run(*_plan_only(args))
    plan, report, root = _start_run(args, "run")
    if not _execute(plan, report, root, _live(args)):
        return EXIT_INTERRUPTED
    return EXIT_FAILED if any(v.status.bad for v in report.verdicts) else EXIT_OK


def cmd_nightly(args: argparse.Namespace) -> int:
    """The unattended job: full default matrix, compared with the previous nightly."""
    if args.dry_run:
        return _dry_run(*_plan_only(args))
    plan, report, root = _start_run(args, "nightly")
    moved = follow_newest(Images(root), plan, _say)
    report.meta["pins_moved"] = {k: {"from": a, "to": b} for k, (a, b) in moved.items()}
    finished = _execute(plan, report, root, _live(args))
    data = report.results_json()
    problems = history.nightly_problems(report.reports_dir, data)
    for c in problems:
        before = c.before.value if c.before else "absent"
        _say(f"new: {c.key}: {before} -> {c.after.value if c.after else 'absent'}")
    contradicted = history.contradictions(data)
    for claim in contradicted:
        _say(f"contradicted: {claim['key']}: {claim['claim']}: {claim['evidence']}")
    perf_lines, regressions = trend.nightly(
        report.reports_dir,
        report.run_id,
        last=args.perf_last,
        threshold_pct=args.perf_threshold_pct,
        wall_threshold_pct=args.perf_wall_threshold_pct,
        alpha=args.perf_alpha,
        wall_gate=args.perf_wall_gate,
    )
    for text in perf_lines:
        _say(text)
    atomic_write(report.dir / "trend.txt", ("\n".join(perf_lines) + "\n").encode())
    line = history.subject_line(data, problems)
    if regressions:
        line += f"; {regressions} perf regression(s)"
    atomic_write(report.dir / "subject.txt", (line + "\n").encode())
    print(line, flush=True)
    if not finished:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if problems or regressions or contradicted else EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    """Benchmarks of the lab itself; --write puts the tables in BENCHMARKS.md."""
    from lab import bench

    root = _root(args)
    profiles = _profiles(args)
    scenarios = load_all(root / "scenarios", load_catalog().known(), profiles)
    result = bench.run(root, profiles, scenarios, args.quick, _say)
    command = "lab bench" + (" --quick" if args.quick else "")
    text = bench.markdown(result, bench.machine_facts(), command)
    print(text)
    if args.write:
        bench.write_markdown(Path(args.write), text)
        _say(f"written: {args.write}")
    return EXIT_OK


def cmd_images_add_pins(args: argparse.Namespace) -> int:
    added = Images(_root(args)).add_missing_pins()
    for key, new in sorted(added.items()):
        _say(f"{key:22} (new) -> {new}")
    _say("images/lock.yaml written; commit it" if added else "every recipe package is pinned")
    return EXIT_OK


def _reports(args: argparse.Namespace) -> Path:
    return Path(args.reports) if args.reports else _root(args) / "reports"


def cmd_report_list(args: argparse.Namespace) -> int:
    browse.list_runs(_reports(args), args.last)
    return EXIT_OK


def cmd_report_show(args: argparse.Namespace) -> int:
    browse.show_run(_find_run(args, args.run))
    return EXIT_OK


def cmd_report_diff(args: argparse.Namespace) -> int:
    return kernel_diff.command(_reports(args), args, _say)


def cmd_report_trend(args: argparse.Namespace) -> int:
    try:
        return trend.command(_reports(args), args, _say)
    except LookupError as exc:
        raise LabError(str(exc)) from None


def cmd_report_html(args: argparse.Namespace) -> int:
    run = _find_run(args, args.run)
    _say(str(write_html(run, history.load(run))))
    return EXIT_OK


def _find_run(args: argparse.Namespace, ref: str | None) -> Path:
    try:
        return history.find_run(_reports(args), ref)
    except LookupError as exc:
        raise LabError(str(exc)) from None


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
    isub.add_parser(
        "add-pins", help="pin recipe packages the lock lacks (existing pins do not move)"
    ).set_defaults(func=cmd_images_add_pins)

    sub.add_parser("profiles", help="list CPU-vendor profiles").set_defaults(func=cmd_profiles)
    kbuild_cli.add_parser(sub)  # lab kernel build
    bisect_cli.add_parser(sub)  # lab bisect

    model = sub.add_parser("model", help="the entry model's predictions")
    msub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    e = msub.add_parser("explain", help="predictions for profiles, in plain words")
    e.add_argument("profile", nargs="*", help="profile names or tags (default: default profiles)")
    e.add_argument("--kernel", help="a kernel series or release (7.2, 7.3-rc, 7.4.0-rc1)")
    e.set_defaults(func=cmd_model_explain)

    boot = sub.add_parser("boot", help="boot a profile: interactive shell, or run one command")
    boot.add_argument("profile")
    boot.add_argument("command", nargs="*", help="[--] CMD [ARGS...] (after --, never lab options)")
    boot.add_argument("--kernel", help="series (7.3-rc), recipe kernel, or a bzImage/vmlinux")
    boot.add_argument("--accel", default="auto", choices=["auto", "tcg", "kvm"])
    boot.add_argument("--timeout", type=float, default=300.0, help="command timeout (s)")
    boot.set_defaults(func=cmd_boot)

    run = sub.add_parser("run", help="run scenarios on profiles and write a report")
    run_arguments(run)
    run.set_defaults(func=cmd_run)

    nightly = sub.add_parser(
        "nightly",
        help="the full default matrix, compared with the "
        "previous nightly; non-zero on anything new",
    )
    run_arguments(nightly)
    trend.add_nightly_arguments(nightly)
    nightly.set_defaults(func=cmd_nightly)

    bench = sub.add_parser("bench", help="benchmarks of the lab itself")
    bench.add_argument("--quick", action="store_true", help="fewer repeats and profiles (smoke)")
    bench.add_argument(
        "--write",
        metavar="FILE",
        help="write the tables into FILE (e.g. BENCHMARKS.md), keeping its header",
    )
    bench.set_defaults(func=cmd_bench)

    rep = sub.add_parser("report", help="browse saved reports (no guest is booted)")
    rep.add_argument("--reports", help="reports directory (default: ROOT/reports)")
    rsub = rep.add_subparsers(dest="report_command", required=True, metavar="ACTION")
    ls = rsub.add_parser("list", help="past runs")
    ls.add_argument("--last", type=int, help="only the newest N")
    ls.set_defaults(func=cmd_report_list)
    show = rsub.add_parser("show", help="the matrix of a run (default: latest)")
    show.add_argument("run", nargs="?", help="run id, unique prefix or 'latest'")
    show.set_defaults(func=cmd_report_show)
    d = rsub.add_parser("diff", help="what changed between two runs, two kernels or two emulators")
    kernel_diff.add_arguments(d)
    d.set_defaults(func=cmd_report_diff)
    t = rsub.add_parser(
        "trend", help="per-path costs of the newest run against earlier runs (perf suite)"
    )
    trend.add_arguments(t)
    t.set_defaults(func=cmd_report_trend)
    h = rsub.add_parser("html", help="write report.html of a run (default: latest)")
    h.add_argument("run", nargs="?", help="run id, unique prefix or 'latest'")
    h.set_defaults(func=cmd_report_html)
    return parser


def _on_sigterm(_signo: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def parse_words(words: list[str]) -> argparse.Namespace:
    """`lab boot P --kernel K -- CMD ...`: what follows -- is the guest's command line."""
    cut = words.index("--") if "--" in words else len(words)
    args = build_parser().parse_args(words[:cut])
    if cut < len(words):
        args.command = [*getattr(args, "command", []), *words[cut + 1 :]]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_words(list(sys.argv[1:] if argv is None else argv))
    signal.signal(signal.SIGTERM, _on_sigterm)
    # Ctrl-C must stop the guests even when the lab was started with SIGINT ignored (a
    # background job of a non-interactive shell inherits SIG_IGN, and Python then keeps it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.umask(0o027)  # reports, console logs and keys are not world-readable
    for pid in reap_stale():
        print(f"lab: stopped QEMU {pid} left behind by a lab that was killed", file=sys.stderr)
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
    except BrokenPipeError:  # `lab ... | head`: the reader left; no traceback for that
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        reap_all()


if __name__ == "__main__":
    sys.exit(main())
