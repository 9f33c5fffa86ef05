"""Executing a plan: images → cells → runners in parallel → a finished report.

Cells run in parallel up to ``plan.jobs`` (lab hosts use their own CPUs and take no slot here),
longest first. Ctrl-C / SIGTERM stop every guest and leave a valid report marked interrupted;
a LabError that must stop the run (images cannot be built, the report cannot be written)
marks the report aborted where it still can and propagates to the CLI (exit 2). The engine
never prints: everything it has to say is an Event for the sink.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from functools import partial
from pathlib import Path

from lab.config.profiles import Profile
from lab.engine import attribution, confirm
from lab.engine.cell import SYSTEM_EMULATOR, Cell
from lab.engine.emulators import build_emulators, emulator_for
from lab.engine.hosts import HostRunner, spread
from lab.engine.plan import RunPlan, cells, expand_kernels, resolve_images
from lab.engine.runner import CellRunner, RunContext, TargetFactory
from lab.errors import LabError
from lab.events import Event, Kind, Sink
from lab.images.builder import Images, ImageSet, Layered, for_kernel
from lab.images.emulators import PrivateQemu
from lab.images.kernels import BuiltKernel
from lab.images.sshpart import SshPart
from lab.report import history
from lab.report.results import Verdict
from lab.report.run import RunReport
from lab.suites.kselftest.expectations import expectations_path, load_expectations
from lab.targets.accel import DEFAULT_QEMU, choose_accel, qemu_version
from lab.targets.base import Accel, Target, TargetKind
from lab.targets.qemu import QemuMachine
from lab.targets.reaping import reap_all
from lab.targets.remote import RealMachine


def make_target(cell: Cell, booted: Profile, accel: Accel, boot_dir: Path, key_dir: Path) -> Target:
    """The real targets: a QEMU guest of the cell's kernel and initramfs (SSH attached by the
    guest itself when the cell's transport is SSH), or the real machine over SSH."""
    if cell.kind is TargetKind.MACHINE:
        return RealMachine(booted, cell.programs["agent"], dict(cell.programs))
    assert cell.kernel is not None and cell.initramfs is not None  # plan.cells() gives both
    return QemuMachine(
        booted,
        cell.kernel,
        cell.initramfs,
        boot_dir,
        accel,
        ssh=cell.ssh,
        key_dir=key_dir,
        emulator=cell.private_emulator,
    )


def plan_cells(plan: RunPlan, images: Images, emit: Sink) -> tuple[list[Cell], ImageSet]:
    """Build (or find cached) what the plan needs and make its cells."""
    matrix = expand_kernels(plan, images.recipe())
    bootable = [s.profile for s in matrix if not s.why_not]
    built = resolve_images(images, bootable, lambda m: emit(Event(Kind.IMAGES, message=m)))
    layers = plan.layer_builders()
    recipe = images.recipe()

    def log(message: str) -> None:
        emit(Event(Kind.IMAGES, message=message))

    def initramfs(names: tuple[str, ...], ssh: SshPart | None, kernel: BuiltKernel) -> Layered:
        builders = {n: for_kernel(layers[n], kernel, recipe) for n in names}
        made = images.layered(built.initramfs, builders, log=log)
        if ssh is None:
            return made
        return replace(made, initramfs=images.with_ssh(made.initramfs, ssh, log=log))

    builds = build_emulators(plan.emulators, images, log)
    return cells(plan, built, initramfs, matrix, builds), built


def longest_first(runners: list[CellRunner]) -> list[CellRunner]:
    """LPT order: the 32-bit bzImage guests boot slowest, then by scenario count, so that the
    matrix does not end waiting on one late, long guest."""

    def weight(r: CellRunner) -> tuple[bool, int]:
        slow = r.cell.kernel is not None and r.cell.kernel.boot == "bzimage"
        return slow, len(r.cell.scenarios)

    return sorted(runners, key=weight, reverse=True)


def execute(
    plan: RunPlan,
    images: Images,
    report: RunReport,
    emit: Sink,
    factory: TargetFactory | None = None,
) -> RunReport:
    """Run the plan; Ctrl-C / SIGTERM stop cleanly with a valid report of what finished."""
    try:
        return _execute(plan, images, report, emit, factory)
    except LabError:
        with contextlib.suppress(LabError):
            report.finish("aborted")
        raise


def _stop_all(stop: threading.Event, pool: ThreadPoolExecutor) -> None:
    """Tell every runner to stop, kill every guest, wait for the runners to finish."""
    stop.set()
    reap_all()
    pool.shutdown(wait=True, cancel_futures=True)
    reap_all()


def _execute(
    plan: RunPlan,
    images: Images,
    report: RunReport,
    emit: Sink,
    factory: TargetFactory | None,
) -> RunReport:
    matrix, built = plan_cells(plan, images, emit)
    emit(
        Event(
            Kind.PLAN,
            message=f"{len(matrix)} cells, {len(plan.scenarios)} scenarios, {plan.jobs} at a time",
            data={c.name: len(c.scenarios) + len(c.skipped) for c in matrix},
        )
    )
    accel = choose_accel(plan.accel)
    report.meta["accel_requested"] = str(plan.accel)
    report.meta["cells"] = [c.name for c in matrix]
    stop = threading.Event()
    ctx = RunContext(
        report,
        stop,
        emit,
        accel,
        plan.accel is not Accel.AUTO,
        built.broken_programs,
        plan.catalog.checks,
        factory or partial(make_target, key_dir=report.dir / "ssh"),
        reruns=plan.reruns,
        steady=_steady(report),
    )
    shares = spread(matrix, plan.hosts)
    hosts = [HostRunner(h, shares[h.name], plan, ctx) for h in plan.hosts if shares[h.name]]
    runners = longest_first([CellRunner(c, ctx) for c in shares[""]])
    pool = ThreadPoolExecutor(max_workers=max(1, plan.jobs), thread_name_prefix="guest")
    hosts_pool = ThreadPoolExecutor(max_workers=max(1, len(hosts)), thread_name_prefix="host")
    try:
        pending: set[Future[None]] = {hosts_pool.submit(h.run, images.root) for h in hosts}
        pending |= {pool.submit(r.run) for r in runners}
        while pending:
            done, pending = wait(pending, timeout=0.5)
            for f in done:
                f.result()  # re-raises what must stop the run (the report cannot be written)
    except KeyboardInterrupt:
        for h in hosts:
            h.remote.cancel()
        _stop_all(stop, pool)
        emit(
            Event(
                Kind.NOTE,
                message="interrupted: guests stopped; the report of what finished is written",
            )
        )
        report.finish("interrupted")
        raise
    finally:
        _stop_all(stop, pool)
        hosts_pool.shutdown(wait=True, cancel_futures=True)
    try:
        attribute(plan, images, matrix, ctx)
    except KeyboardInterrupt:
        report.finish("interrupted")  # the run's own verdicts are all there
        raise
    report.finish("finished")
    return report


def _steady(report: RunReport) -> dict[str, str]:
    """A nightly's known, confirmed bad results (confirm.steady_results of the previous one)."""
    if report.meta.get("kind") != "nightly":
        return {}
    return confirm.steady_results(history.previous_nightly(report.reports_dir, report.run_id))


def attribute(plan: RunPlan, images: Images, matrix: list[Cell], ctx: RunContext) -> None:
    """Every non-pass verdict's cause and evidence; evidence runs on the other emulator builds
    for what needs it (unless --no-attribution), then the comparison (lab.engine.attribution)."""
    report = ctx.report
    classes = expectation_classes(images.root)
    for v in report.verdicts:
        v.cause, v.evidence = attribution.classify(v, classes)
    recipe = images.recipe()
    emulators = list(dict.fromkeys([SYSTEM_EMULATOR, *recipe.emulators]))
    have = {
        (c.profile.name, c.kernel.name, c.emulator.name if c.emulator else SYSTEM_EMULATOR)
        for c in matrix
        if c.kernel is not None
    }
    reused = _reusable_evidence(images, ctx, emulators) if plan.attribution else []
    if reused:
        report.add_evidence(reused)
    wanted = (
        attribution.requests(report.verdicts, emulators, have, reused) if plan.attribution else []
    )
    if wanted:
        _evidence_runs(plan, images, matrix, ctx, wanted)
    contradictions = attribution.attach(report.verdicts, report.evidence)
    report.meta["attribution"] = {
        "emulators": emulators,
        "evidence_runs": [f"{r.cell} on {r.emulator}: {', '.join(r.scenarios)}" for r in wanted],
        "evidence_reused": len(reused),
        "contradictions": [c.to_json() for c in contradictions],
    }
    for c in contradictions:
        ctx.emit(Event(Kind.NOTE, message=f"contradicted: {c.key}: {c.claim}: {c.evidence}"))
    report.flush()


def _evidence_runs(
    plan: RunPlan,
    images: Images,
    matrix: list[Cell],
    ctx: RunContext,
    wanted: list[attribution.Request],
) -> None:
    """The requested scenarios on the other builds, in parallel, into the report's evidence."""
    log = partial(_note, ctx.emit)
    builds = build_emulators(tuple(dict.fromkeys(r.emulator for r in wanted)), images, log)
    by_name = {c.name: c for c in matrix}
    # the run's own stop is set once its guests are gone: evidence runs get their own
    evidence_ctx = replace(ctx, reruns=0, evidence=True, stop=threading.Event())
    runners = []
    for r in wanted:
        cell = by_name[r.cell]
        runners.append(
            CellRunner(
                replace(
                    cell,
                    scenarios=tuple(s for s in cell.scenarios if s.name in r.scenarios),
                    skipped=(),
                    emulator=emulator_for(cell.profile, r.emulator, builds),
                ),
                evidence_ctx,
            )
        )
    log(f"attribution: {len(runners)} evidence run(s) on other emulator builds")
    pool = ThreadPoolExecutor(max_workers=max(1, plan.jobs), thread_name_prefix="evidence")
    try:
        for f in [pool.submit(r.run) for r in longest_first(runners)]:
            f.result()
    except BaseException:
        _stop_all(evidence_ctx.stop, pool)
        raise
    pool.shutdown(wait=True)


def _reusable_evidence(images: Images, ctx: RunContext, emulators: list[str]) -> list[Verdict]:
    """A nightly's evidence from the previous nightly that still holds (attribution.reusable)."""
    report = ctx.report
    if report.meta.get("kind") != "nightly":
        return []
    previous = history.previous_nightly(report.reports_dir, report.run_id)
    if not previous or not previous.get("evidence"):
        return []
    builds = build_emulators(tuple(emulators), images, partial(_note, ctx.emit))
    versions = {n: b.version for n, b in builds.items() if isinstance(b, PrivateQemu)}
    versions[SYSTEM_EMULATOR] = qemu_version(DEFAULT_QEMU)
    found = attribution.reusable(previous, report.verdicts, versions)
    _note(ctx.emit, f"attribution: {len(found)} result(s) of evidence from {previous['run_id']}")
    return found


def _note(emit: Sink, message: str) -> None:
    emit(Event(Kind.NOTE, message=message))


def expectation_classes(root: Path) -> dict[str, str]:
    """Expectation id -> its cause class (for verdicts that name expectations by id)."""
    try:
        found = load_expectations(expectations_path(root))
    except LabError:
        return {}
    return {e.id: e.klass for e in found}
