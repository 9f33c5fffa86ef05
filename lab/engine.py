"""The scenario engine: config → images → one guest per profile → verdicts → report.

Data flows one way. Each profile boots once and runs its scenarios in sequence; profiles run in
parallel up to a limit. A guest that panics or hangs fails the scenario it was running (with the
console excerpt), is rebooted, and the profile's remaining scenarios still run.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from lab.checks import CHECKS, CheckContext
from lab.console import Fault
from lab.errors import BootError, GuestError, LabError
from lab.events import Event, Kind, Sink
from lab.images import BuiltKernel, Images, ImageSet, user_kernel
from lab.machine import (
    GuestIdentity,
    Machine,
    choose_accel,
    kvm_known_broken,
    mark_kvm_broken,
    qemu_version,
    reap_all,
)
from lab.profiles import MachineVariant, Profile
from lab.report import RunReport
from lab.results import Environment, Status, Verdict
from lab.scenarios import Scenario
from lab.transport import GuestSession


def default_jobs() -> int:
    """One guest per core: TCG is CPU-bound, more only slows each guest down."""
    return os.cpu_count() or 1


@dataclass
class RunPlan:
    """What a run will do, fully resolved before any guest starts."""

    profiles: list[Profile]
    scenarios: list[Scenario]
    jobs: int = field(default_factory=default_jobs)
    accel: str = "auto"
    done: set[tuple[str, str]] = field(default_factory=set)  # (profile, scenario) to skip

    def scenarios_for(self, profile: Profile) -> list[Scenario]:
        return [
            s
            for s in self.scenarios
            if s.applies_to(profile) and (profile.name, s.name) not in self.done
        ]


def resolve_images(images: Images, profiles: list[Profile], log: Callable[[str], None]) -> ImageSet:
    """Build what the profiles need; user kernels (paths) are inspected, not built."""
    recipe = images.recipe()
    names = sorted({p.kernel for p in profiles if p.kernel in recipe.kernels})
    images.log = log
    built = images.build(names)
    for p in profiles:
        if p.kernel not in built.kernels:
            path = Path(p.kernel)
            if not path.exists():
                known = ", ".join(sorted(recipe.kernels))
                raise LabError(
                    f"profile {p.name} ({p.source}): kernel {p.kernel!r} is neither a "
                    f"kernel of images/recipe.yaml ({known}) nor an existing file"
                )
            built.kernels[p.kernel] = user_kernel(path)
    return built


@dataclass
class RunContext:
    """What every guest of one run shares."""

    report: RunReport
    stop: threading.Event
    emit: Sink
    accel: str  # the accelerator chosen for this run ("kvm" may still fall back to "tcg")
    accel_was_explicit: bool
    broken_programs: dict[str, str]


class ProfileRunner:
    """Runs one profile's scenarios in its own guest(s); never raises, always reports."""

    def __init__(
        self,
        profile: Profile,
        scenarios: list[Scenario],
        kernel: BuiltKernel,
        initramfs: Path,
        ctx: RunContext,
    ) -> None:
        self.profile = profile
        self.scenarios = scenarios
        self.kernel = kernel
        self.initramfs = initramfs
        self.ctx = ctx
        self.accel = ctx.accel  # per guest: a failed KVM boot falls back to TCG
        self.boots = 0
        self.variant = MachineVariant()
        self.booted = profile  # the profile as booted (its variant applied)

    def environment(self, machine: Machine, identity: GuestIdentity | None) -> Environment:
        p = self.booted
        return Environment(
            profile=p.name,
            kernel=self.kernel.name,
            kernel_origin=self.kernel.origin,
            kernel_release=identity.kernel_release if identity else self.kernel.release,
            qemu=p.qemu,
            qemu_version=qemu_version(p.qemu),
            accel=machine.accel,
            cpu_model=p.cpu,
            machine_type=p.machine,
            vendor=identity.vendor if identity else "",
            kernel_bits=self.kernel.bits,
            variant=self.variant.label,
        )

    def boot(self) -> tuple[Machine, GuestIdentity]:
        """Boot, falling back from KVM to TCG (and remembering it) when KVM cannot run guests."""
        self.boots += 1
        if self.accel == "kvm" and not self.ctx.accel_was_explicit and kvm_known_broken():
            self.accel = "tcg"  # another guest of this run already found KVM unusable
        guest_dir = self._new_boot_dir()
        accel = "tcg" if self.booted.icount else self.accel  # -icount is a TCG feature
        machine = Machine(self.booted, self.kernel, self.initramfs, guest_dir, accel)
        try:
            return machine, machine.boot()
        except BootError as exc:
            machine.stop()
            if machine.accel != "kvm" or self.ctx.accel_was_explicit:
                raise
            mark_kvm_broken(exc.reason)
            self._note(f"KVM boot failed ({exc.reason}); falling back to TCG")
            self.accel = "tcg"
            machine = Machine(self.booted, self.kernel, self.initramfs, guest_dir, "tcg")
            try:
                return machine, machine.boot()
            except BootError:
                machine.stop()
                raise

    def run(self) -> None:
        """Each machine variant (profile default first) boots once for its scenarios."""
        variants = list(dict.fromkeys(s.machine for s in self.scenarios))
        for variant in sorted(variants, key=lambda v: v.label != ""):
            if self.ctx.stop.is_set():
                break
            self.variant = variant
            self.booted = variant.apply(self.profile)
            self._run_variant([s for s in self.scenarios if s.machine == variant])
        self.ctx.emit(Event(Kind.DONE, self.profile.name, "finished"))

    def _run_variant(self, scenarios: list[Scenario]) -> None:
        remaining = list(scenarios)
        where = f" [{self.variant.label}]" if self.variant.label else ""
        while remaining and not self.ctx.stop.is_set():
            kind = Kind.BOOTING if self.boots == 0 else Kind.REBOOTING
            self.ctx.emit(Event(kind, self.profile.name, f"booting ({self.accel}){where}"))
            try:
                machine, identity = self.boot()
            except BootError as exc:
                self.ctx.emit(Event(Kind.BOOT_FAILED, self.profile.name, exc.reason))
                if exc.excerpt:
                    self._faults_from_text(exc.reason, exc.excerpt)
                self._boot_failed(remaining, exc)
                return
            with machine:
                self._record_guest(machine, identity)
                remaining = self._run_in(machine, identity, remaining)
            if machine.console_dropped:
                cap = (
                    f"console log cap ({machine.console_cap >> 20} MiB) reached in boot "
                    f"{self.boots}: {machine.console_dropped} bytes dropped"
                )
                self._note(cap)
                self.ctx.report.record_guest(
                    self._guest_key(), {f"console_log_capped_boot{self.boots}": cap}
                )

    def _record_guest(self, machine: Machine, identity: GuestIdentity) -> None:
        env = self.environment(machine, identity)
        self.ctx.emit(
            Event(
                Kind.READY,
                self.profile.name,
                f"ready in {machine.boot_seconds:.1f}s: {identity.vendor} "
                f"{identity.kernel_release} AT_SYSINFO={identity.at_sysinfo:#x}",
                data={
                    "vendor": identity.vendor,
                    "kernel": identity.kernel_release,
                    "accel": machine.accel,
                    "boot_seconds": machine.boot_seconds,
                },
            )
        )
        self.ctx.report.record_guest(
            self._guest_key(),
            {
                **env.to_json(),
                "boot_seconds": round(machine.boot_seconds, 2),
                "boots": self.boots,
                "at_sysinfo": hex(identity.at_sysinfo),
                "at_sysinfo_ehdr": hex(identity.at_sysinfo_ehdr),
                "cpu": {
                    "family": identity.family,
                    "model": identity.model,
                    "stepping": identity.stepping,
                    "brand": identity.brand,
                    "model_name": identity.model_name,
                    "flags": sorted(identity.flags),
                },
                "emulator_notes": machine.emulator_notes(),
                "kernel_config": self.kernel.config,
                "profile_source": self.profile.source,
            },
        )

    def _run_in(
        self, machine: Machine, identity: GuestIdentity, remaining: list[Scenario]
    ) -> list[Scenario]:
        """Run scenarios until done or the guest breaks; returns what is left to run."""
        session = GuestSession(machine, self.profile.name)
        env = self.environment(machine, identity)
        artefacts = self.ctx.report.guest_dir(self.profile.name)
        while remaining and not self.ctx.stop.is_set():
            scenario = remaining.pop(0)
            self.ctx.emit(Event(Kind.RUNNING, self.profile.name, scenario=scenario.name))
            ctx = CheckContext(scenario, self.profile, identity, session, env, artefacts)
            if scenario.program in self.ctx.broken_programs:
                self._add(
                    [
                        ctx.verdict(
                            Status.ERROR,
                            f"guest program {scenario.program} did not compile",
                            excerpt=self.ctx.broken_programs[scenario.program],
                        )
                    ]
                )
                continue
            faults_before = len(machine.lines.faults)
            t0 = time.monotonic()
            try:
                verdicts = CHECKS[scenario.check](ctx)
            except GuestError as exc:
                self._emit_faults(machine.lines.faults[faults_before:])
                if not machine.lines.faults[faults_before:]:
                    self._faults_from_text(f"{exc.kind}: {exc.reason}", exc.excerpt)
                cause = f"guest {exc.kind}: {exc.reason}"
                if self.ctx.stop.is_set():
                    cause = f"interrupted (Ctrl-C or SIGTERM) while running: {cause}"
                elif exc.verdicts:  # the check explained the death itself
                    self._add(exc.verdicts)
                    return remaining
                self._add(
                    [
                        ctx.verdict(
                            Status.ERROR,
                            cause,
                            excerpt=exc.excerpt,
                            seconds=time.monotonic() - t0,
                        )
                    ]
                )
                return remaining
            except LabError as exc:
                verdicts = [ctx.verdict(Status.ERROR, str(exc))]
            except Exception as exc:  # a bug in a check must cost one verdict, not the run
                verdicts = [
                    ctx.verdict(
                        Status.ERROR,
                        f"lab bug in check {scenario.check}: {type(exc).__name__}: {exc}",
                        excerpt=traceback.format_exc(),
                    )
                ]
            elapsed = time.monotonic() - t0
            new_faults = machine.lines.faults[faults_before:]
            for v in verdicts:
                v.seconds = v.seconds or elapsed
                v.kernel_faults = [f"{f.kind}: {f.line}" for f in new_faults]
                if new_faults and not v.excerpt:
                    v.excerpt = "\n\n".join(f.excerpt() for f in new_faults)
            self._emit_faults(new_faults)
            self._add(verdicts)
        return remaining

    def _add(self, verdicts: list[Verdict]) -> None:
        self.ctx.report.add_all(verdicts)
        for v in verdicts:
            self.ctx.emit(Event(Kind.VERDICT, self.profile.name, scenario=v.scenario, verdict=v))

    def _emit_faults(self, faults: list[Fault]) -> None:
        for f in faults:
            self.ctx.emit(Event(Kind.KERNEL_FAULT, self.profile.name, f"{f.kind}: {f.line}"))

    def _faults_from_text(self, headline: str, excerpt: str) -> None:
        self.ctx.emit(
            Event(Kind.KERNEL_FAULT, self.profile.name, headline, data={"excerpt": excerpt})
        )

    def _new_boot_dir(self) -> Path:
        """bootN for this boot; a resumed run never writes over an earlier attempt's logs."""
        base = self.ctx.report.guest_dir(self.profile.name)
        n = self.boots
        while (base / f"boot{n}").exists():
            n += 1
        return base / f"boot{n}"

    def _guest_key(self) -> str:
        return self.profile.name + (f"@{self.variant.label}" if self.variant.label else "")

    def _note(self, message: str) -> None:
        self.ctx.emit(Event(Kind.NOTE, self.profile.name, message))

    def _boot_failed(self, remaining: list[Scenario], exc: BootError) -> None:
        self.ctx.report.record_guest(
            self.profile.name,
            {
                "profile": self.profile.name,
                "boot_error": exc.reason,
                "profile_source": self.profile.source,
            },
        )
        self._add(
            [
                Verdict(
                    self.profile.name,
                    s.name,
                    Status.ERROR,
                    f"boot failed: {exc.reason}",
                    excerpt=exc.excerpt,
                    suite=s.suite,
                )
                for s in remaining
            ]
        )


def _stop_all(stop: threading.Event, pool: ThreadPoolExecutor) -> None:
    """Tell every runner to stop, kill every guest, wait for the runners to finish."""
    stop.set()
    reap_all()
    pool.shutdown(wait=True, cancel_futures=True)
    reap_all()


def execute(plan: RunPlan, images: Images, report: RunReport, emit: Sink) -> RunReport:
    """Run the plan; Ctrl-C / SIGTERM stop cleanly with a valid report of what finished.

    A LabError that must stop the run (images cannot be built, the report cannot be written)
    marks the report "aborted" where it still can, and propagates to the CLI (exit 2).
    """
    try:
        return _execute(plan, images, report, emit)
    except LabError:
        with contextlib.suppress(LabError):
            report.finish("aborted")
        raise


def _execute(plan: RunPlan, images: Images, report: RunReport, emit: Sink) -> RunReport:
    emit(
        Event(
            Kind.PLAN,
            message=f"{len(plan.profiles)} profiles, {len(plan.scenarios)} "
            f"scenarios, {plan.jobs} at a time",
            data={p.name: len(plan.scenarios_for(p)) for p in plan.profiles},
        )
    )
    built = resolve_images(images, plan.profiles, lambda m: emit(Event(Kind.IMAGES, message=m)))
    accel = choose_accel(plan.accel)
    report.meta["accel_requested"] = plan.accel
    stop = threading.Event()
    ctx = RunContext(report, stop, emit, accel, plan.accel != "auto", built.broken_programs)
    runners = []
    for p in plan.profiles:
        scenarios = plan.scenarios_for(p)
        if scenarios:
            needs = sorted({layer for s in scenarios for layer in s.needs})
            initramfs = images.layered(built.initramfs, needs)
            runners.append(ProfileRunner(p, scenarios, built.kernels[p.kernel], initramfs, ctx))
    # Longest first (LPT): the 32-bit bzImage guests boot slowest, then by scenario count, so
    # that the matrix does not end waiting on one late, long guest.
    runners.sort(key=lambda r: (r.kernel.boot == "bzimage", len(r.scenarios)), reverse=True)
    pool = ThreadPoolExecutor(max_workers=max(1, plan.jobs), thread_name_prefix="guest")
    try:
        pending = {pool.submit(r.run) for r in runners}
        while pending:
            done, pending = wait(pending, timeout=0.5)
            for f in done:
                f.result()  # re-raises what must stop the run (the report cannot be written)
    except KeyboardInterrupt:
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
    report.finish("finished")
    return report
