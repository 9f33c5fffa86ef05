"""Running one cell: boot its target, run its scenarios, turn every outcome into verdicts.

The policy lives here and nowhere else, and it sees targets only through the Target protocol
(lab/targets/base.py), so it is unit-tested with a fake target: a boot that fails costs the
cell's remaining scenarios (error verdicts with the reason); a KVM boot that fails falls back to
TCG once and is remembered; a guest that panics, hangs or loses its emulator fails the scenario
it was running (with the console excerpt), is booted again, and the rest still runs. Each
machine variant the scenarios ask for (icount, smp2, …) is its own boot. A runner never raises
for a guest's trouble: only what must stop the run (the report cannot be written) propagates.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from lab.checks import Check, CheckContext
from lab.config.profiles import MachineVariant, Profile
from lab.config.scenarios import Scenario
from lab.engine import confirm
from lab.engine.cell import Cell
from lab.errors import BootError, ErrorKind, GuestError, LabError
from lab.events import Event, Kind, Sink
from lab.model import KernelFacts, KernelFactsError, kernel_facts
from lab.model.kernel import parse_kconfig
from lab.report.results import Environment, Status, Verdict
from lab.report.run import RunReport
from lab.targets import accel as accel_memo
from lab.targets.base import Accel, Target, TargetKind
from lab.targets.console import Fault
from lab.targets.identity import GuestIdentity
from lab.targets.session import GuestSession

# Makes the target for one boot of a cell: (cell, profile as booted, accelerator, boot dir).
TargetFactory = Callable[[Cell, Profile, Accel, Path], Target]

# GuestError kinds (what the target or a check says broke) as recorded error kinds.
GUEST_ERROR_KINDS: dict[str, ErrorKind] = {
    "hang": ErrorKind.HANG,
    "qemu exited": ErrorKind.EMULATOR_EXITED,
    "agent": ErrorKind.AGENT,
    "ssh": ErrorKind.CONNECTION,
    "tainted": ErrorKind.TAINTED,
}


def error_kind_of(guest_error_kind: str) -> ErrorKind:
    """Anything the console called fatal (panic, KVM failure, …) is the kernel dying."""
    return GUEST_ERROR_KINDS.get(guest_error_kind, ErrorKind.PANIC)


class KvmMemo(Protocol):
    """Where a failed KVM boot is remembered (per host kernel and emulator binary)."""

    def known_broken(self, binary: str) -> bool: ...
    def mark_broken(self, reason: str, binary: str) -> None: ...


class HostKvmMemo:
    """The real memo, in the cache directory (lab.targets.accel)."""

    def known_broken(self, binary: str) -> bool:
        return accel_memo.kvm_known_broken(binary)

    def mark_broken(self, reason: str, binary: str) -> None:
        accel_memo.mark_kvm_broken(reason, binary)


@dataclass
class RunContext:
    """What every cell of one run shares."""

    report: RunReport
    stop: threading.Event
    emit: Sink
    accel: Accel  # the accelerator chosen for this run (KVM may still fall back to TCG)
    accel_was_explicit: bool
    broken_programs: Mapping[str, str]
    checks: Mapping[str, Check]
    make_target: TargetFactory
    kvm: KvmMemo = field(default_factory=HostKvmMemo)
    # Fresh boots a fail/error/divergence gets before it is reported (lab.engine.confirm);
    # 0: reported as first seen.
    reruns: int = 0
    # An evidence run (lab.engine.attribution): verdicts go to the report's evidence, not its
    # results, and guest records say so.
    evidence: bool = False
    # cell/scenario[/path] -> status, for bad results the previous nightly confirmed n of n:
    # one re-run that agrees is enough for them (a disagreement gets the full count).
    steady: Mapping[str, str] = field(default_factory=dict)


def _agree(held: list[tuple[Verdict, int]], runs: list[dict[str, tuple[Verdict, str]]]) -> bool:
    """Every re-run so far gave each held verdict its first status again."""
    for v, _ in held:
        for r in runs:
            again = r.get(confirm.key_of(v), r.get(v.scenario))
            if again is None or again[0].status is not v.status:
                return False
    return True


class CellRunner:
    """Runs one cell's scenarios in its own guest(s); never raises for a guest's trouble."""

    def __init__(self, cell: Cell, ctx: RunContext) -> None:
        self.cell = cell
        self.ctx = ctx
        self.name = cell.name
        self.accel = Accel.SILICON if cell.kind is TargetKind.MACHINE else ctx.accel
        self.boots = 0
        self.variant = MachineVariant()
        self._held: list[tuple[Verdict, int]] = []  # bad verdicts awaiting re-runs, their boot
        self._attempt: list[tuple[Verdict, int]] | None = None  # a re-run's verdicts
        self._rerun = 0  # which re-run the boots now made are (0: the first run)

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> None:
        """Skips first (reported, never dropped), then each machine variant (the profile's
        own machine first) boots once for its scenarios."""
        self._add([self._skip(s, why) for s, why in self.cell.skipped])
        if self.cell.unbootable:
            self._boot_failed(list(self.cell.scenarios), BootError(self.name, self.cell.unbootable))
        else:
            for variant in self.cell.boot_variants():
                if self.ctx.stop.is_set():
                    break
                self.variant = variant
                self._run_variant([s for s in self.cell.scenarios if s.machine == variant])
        self._confirm()
        self.ctx.emit(Event(Kind.DONE, self.name, "finished"))

    def _confirm(self) -> None:
        """Re-run the scenarios of held-back verdicts on fresh boots, then report each held
        verdict folded with its re-runs (same every time, or flaky)."""
        held, self._held = self._held, []
        if not held:
            return
        if self.cell.unbootable:  # known before any boot: re-running cannot change it
            self._publish([v for v, _ in held])
            return
        names = set(v.scenario for v, _ in held)
        scenarios = [s for s in self.cell.scenarios if s.name in names]
        count = confirm.rerun_count([v for v, _ in held], self.ctx.reruns)
        runs: list[dict[str, tuple[Verdict, str]]] = []
        steady = all(self.ctx.steady.get(v.key) == v.status.value for v, _ in held)
        for n in range(1, count + 1):
            if self.ctx.stop.is_set():
                break
            self._note(f"re-running {', '.join(sorted(names))} on a fresh boot ({n} of {count})")
            self._rerun = n
            runs.append(self._run_again(scenarios))
            if steady and _agree(held, runs):
                self._note("known from the previous nightly and the same again: no more re-runs")
                break
        self._rerun = 0
        folded = []
        for v, boot in held:
            key = confirm.key_of(v)
            # a boot failure or a guest that died answers for the scenario, not each path
            again = [confirm.attempt(*r.get(key, r.get(v.scenario, (None, "")))) for r in runs]
            folded.append(confirm.fold(v, f"boot{boot}", again) if runs else v)
        self._publish(folded)

    def _run_again(self, scenarios: list[Scenario]) -> dict[str, tuple[Verdict, str]]:
        """One fresh boot (per machine variant) running only these scenarios; its verdicts by
        scenario[/path], with the boot each came from."""
        self._attempt = []
        try:
            variants = sorted(
                dict.fromkeys(s.machine for s in scenarios), key=lambda m: m.label != ""
            )
            for variant in variants:
                self.variant = variant
                self._run_variant([s for s in scenarios if s.machine == variant])
            return {confirm.key_of(v): (v, f"boot{b}") for v, b in self._attempt}
        finally:
            self._attempt = None

    def _run_variant(self, scenarios: list[Scenario]) -> None:
        remaining = list(scenarios)
        where = f" [{self.variant.label}]" if self.variant.label else ""
        while remaining and not self.ctx.stop.is_set():
            kind = Kind.BOOTING if self.boots == 0 else Kind.REBOOTING
            self.ctx.emit(Event(kind, self.name, f"booting ({self.accel}){where}"))
            try:
                target, identity = self.boot()
            except BootError as exc:
                self.ctx.emit(Event(Kind.BOOT_FAILED, self.name, exc.reason))
                if exc.excerpt:
                    self._faults_from_text(exc.reason, exc.excerpt)
                self._boot_failed(remaining, exc)
                return
            with target:
                env = self._environment(target, identity)
                self._record_guest(target, identity, env)
                remaining = self._run_in(target, identity, env, remaining)
            capped = target.console_capped()
            if capped:
                note = f"{capped} (boot {self.boots})"
                self._note(note)
                self.ctx.report.record_guest(
                    self.name, {f"console_log_capped_boot{self.boots}": note}, self.variant.label
                )

    # -- booting -------------------------------------------------------------------------------

    def boot(self) -> tuple[Target, GuestIdentity]:
        """Boot, falling back from KVM to TCG (and remembering it) when KVM cannot run guests."""
        self.boots += 1
        # the KVM memo is keyed on the binary really started (a private build's own)
        binary = self.cell.emulator.binary if self.cell.emulator else self.cell.profile.qemu
        explicit = self.ctx.accel_was_explicit
        if self.accel is Accel.KVM and not explicit and self.ctx.kvm.known_broken(binary):
            self.accel = Accel.TCG  # another guest of this run already found KVM unusable
        booted = self.variant.apply(self.cell.profile)
        if self._rerun:  # a re-run boot says which attempt it is (console log, guest programs)
            booted = dataclasses.replace(
                booted, append=(*booted.append, f"{confirm.RERUN_WORD}={self._rerun}")
            )
        boot_dir = self._new_boot_dir()
        accel = Accel.TCG if booted.icount and self.accel is Accel.KVM else self.accel
        target = self.ctx.make_target(self.cell, booted, accel, boot_dir)
        try:
            return target, target.boot()
        except BootError as exc:
            target.stop()
            if target.accel is not Accel.KVM or explicit:
                raise
            self.ctx.kvm.mark_broken(exc.reason, binary)
            self._note(f"KVM boot failed ({exc.reason}); falling back to TCG")
            self.accel = Accel.TCG
            target = self.ctx.make_target(self.cell, booted, Accel.TCG, boot_dir)
            try:
                return target, target.boot()
            except BootError:
                target.stop()
                raise

    def _environment(self, target: Target, identity: GuestIdentity | None) -> Environment:
        emulator = self.cell.emulator.name if self.cell.emulator else ""
        env = target.environment(identity, self.variant.label)
        return dataclasses.replace(env, cell=self.name, emulator=emulator)

    def _record_guest(self, target: Target, identity: GuestIdentity, env: Environment) -> None:
        self.ctx.emit(
            Event(
                Kind.READY,
                self.name,
                f"ready in {target.boot_seconds:.1f}s: {identity.vendor} "
                f"{identity.kernel_release} AT_SYSINFO={identity.at_sysinfo:#x}",
                data={
                    "vendor": identity.vendor,
                    "kernel": identity.kernel_release,
                    "accel": str(target.accel),
                    "boot_seconds": target.boot_seconds,
                },
            )
        )
        kernel = self.cell.kernel
        self.ctx.report.record_guest(
            self.name,
            {
                **env.to_json(),
                "boot_seconds": round(target.boot_seconds, 2),
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
                "emulator_notes": target.emulator_notes(),
                "kernel_config": kernel.config if kernel else {},
                "profile_source": self.cell.profile.source,
                "transport": str(self.cell.transport),
                **({"evidence_run": True} if self.ctx.evidence else {}),
                **target.guest_record(),
            },
            self.variant.label,
        )

    # -- scenarios -----------------------------------------------------------------------------

    def _run_in(
        self,
        target: Target,
        identity: GuestIdentity,
        env: Environment,
        remaining: list[Scenario],
    ) -> list[Scenario]:
        """Run scenarios until done or the guest breaks; returns what is left to run."""
        session = GuestSession(target.link, self.name)
        artefacts = self.ctx.report.guest_dir(self.name)
        facts = self._kernel_facts(identity)
        faults = target.console.faults
        while remaining and not self.ctx.stop.is_set():
            scenario = remaining.pop(0)
            self.ctx.emit(Event(Kind.RUNNING, self.name, scenario=scenario.name))
            ctx = CheckContext(
                scenario,
                self.cell.profile,
                identity,
                session,
                env,
                artefacts,
                self.cell.layer_builds,
                facts,
            )
            broken = self.ctx.broken_programs.get(scenario.program or "")
            if broken is not None:
                message = f"guest program {scenario.program} did not compile"
                verdict = ctx.verdict(Status.ERROR, message, excerpt=broken)
                self._add([self._error(verdict, ErrorKind.PROGRAM)])
                continue
            before = len(faults)
            t0 = time.monotonic()
            try:
                verdicts = self._check(ctx)
            except GuestError as exc:
                self._guest_died(ctx, exc, faults[before:], time.monotonic() - t0)
                return remaining
            new_faults = faults[before:]
            for v in verdicts:
                v.seconds = v.seconds or time.monotonic() - t0
                v.kernel_faults = [f"{f.kind}: {f.line}" for f in new_faults]
                if new_faults and not v.excerpt:
                    v.excerpt = "\n\n".join(f.excerpt() for f in new_faults)
            self._emit_faults(new_faults)
            self._add(verdicts)
        return remaining

    def _kernel_facts(self, identity: GuestIdentity) -> KernelFacts | None:
        """The booted kernel as the model sees it: its release (uname -r in the guest), its
        config (from the image) and the command-line words of this boot. A release the model
        cannot read leaves the 6.1 model, with a note (never a crash)."""
        kernel = self.cell.kernel
        config_file = kernel.path.parent / "config" if kernel else None
        config = (
            parse_kconfig(config_file.read_text(errors="replace"))
            if config_file is not None and config_file.is_file()
            else {}  # no config with the kernel: the series' defaults (the model says which)
        )
        booted = self.variant.apply(self.cell.profile)
        try:
            return kernel_facts(
                identity.kernel_release, config=config, cmdline=" ".join(booted.append)
            )
        except KernelFactsError as exc:
            self._note(f"kernel {identity.kernel_release!r}: {exc}; predicting with the 6.1 model")
            return None

    def _check(self, ctx: CheckContext) -> list[Verdict]:
        """The scenario's check; a LabError or a bug in it costs one verdict, not the run."""
        name = ctx.scenario.check
        try:
            return self.ctx.checks[name](ctx)
        except GuestError:
            raise
        except LabError as exc:
            return [self._error(ctx.verdict(Status.ERROR, str(exc)), ErrorKind.LAB)]
        except Exception as exc:
            message = f"lab bug in check {name}: {type(exc).__name__}: {exc}"
            verdict = ctx.verdict(Status.ERROR, message, excerpt=traceback.format_exc())
            return [self._error(verdict, ErrorKind.LAB)]

    def _guest_died(
        self, ctx: CheckContext, exc: GuestError, faults: list[Fault], seconds: float
    ) -> None:
        """The guest broke mid-scenario: that scenario's verdicts, then a fresh boot."""
        self._emit_faults(faults)
        if not faults:
            self._faults_from_text(f"{exc.kind}: {exc.reason}", exc.excerpt)
        cause = f"guest {exc.kind}: {exc.reason}"
        kind = error_kind_of(exc.kind)
        if self.ctx.stop.is_set():
            cause = f"interrupted (Ctrl-C or SIGTERM) while running: {cause}"
            kind = ErrorKind.INTERRUPTED
        elif exc.verdicts:  # the check explained the death itself
            self._add(exc.verdicts)
            return
        verdict = ctx.verdict(Status.ERROR, cause, excerpt=exc.excerpt, seconds=seconds)
        self._add([self._error(verdict, kind)])

    # -- verdicts and events -------------------------------------------------------------------

    def _add(self, verdicts: list[Verdict]) -> None:
        """Report verdicts, except bad ones that are held for re-runs (and a re-run's own,
        which only fold into those)."""
        for v in verdicts:
            v.cell = v.cell or self.name
            if v.status is Status.ERROR and not v.error_kind:
                v.error_kind = ErrorKind.OUTPUT.value  # a check's own error: the guest's output
        if self._attempt is not None:
            self._attempt += [(v, self.boots) for v in verdicts]
            return
        hold = [v for v in verdicts if confirm.held_back(v, self.ctx.reruns)]
        if self.ctx.stop.is_set():
            hold = []  # stopping: nothing will be re-run, report what there is
        self._held += [(v, self.boots) for v in hold]
        self._publish([v for v in verdicts if not any(v is h for h in hold)])

    def _publish(self, verdicts: list[Verdict]) -> None:
        if self.ctx.evidence:
            self.ctx.report.add_evidence(verdicts)
        else:
            self.ctx.report.add_all(verdicts)
        for v in verdicts:
            self.ctx.emit(Event(Kind.VERDICT, self.name, scenario=v.scenario, verdict=v))

    @staticmethod
    def _error(verdict: Verdict, kind: ErrorKind) -> Verdict:
        verdict.error_kind = kind.value
        return verdict

    def _skip(self, scenario: Scenario, why: str) -> Verdict:
        return Verdict(
            self.cell.profile.name, scenario.name, Status.SKIP, why, suite=scenario.suite
        )

    def _emit_faults(self, faults: list[Fault]) -> None:
        for f in faults:
            self.ctx.emit(Event(Kind.KERNEL_FAULT, self.name, f"{f.kind}: {f.line}"))

    def _faults_from_text(self, headline: str, excerpt: str) -> None:
        self.ctx.emit(Event(Kind.KERNEL_FAULT, self.name, headline, data={"excerpt": excerpt}))

    def _new_boot_dir(self) -> Path:
        """bootN for this boot; a resumed run never writes over an earlier attempt's logs."""
        base = self.ctx.report.guest_dir(self.name)
        n = self.boots
        while (base / f"boot{n}").exists():
            n += 1
        return base / f"boot{n}"

    def _note(self, message: str) -> None:
        self.ctx.emit(Event(Kind.NOTE, self.name, message))

    def _boot_failed(self, remaining: list[Scenario], exc: BootError) -> None:
        kind = ErrorKind.BOOT
        if self.ctx.stop.is_set():  # the lab stopped the guest: not the guest's failure
            exc = BootError(
                exc.profile,
                f"interrupted (Ctrl-C or SIGTERM) while booting: {exc.reason}",
                exc.excerpt,
            )
            kind = ErrorKind.INTERRUPTED
        self.ctx.report.record_guest(
            self.name,
            {
                "profile": self.cell.profile.name,
                "boot_error": exc.reason,
                "profile_source": self.cell.profile.source,
            },
            self.variant.label,
        )
        self._add(
            [
                self._error(
                    Verdict(
                        self.cell.profile.name,
                        s.name,
                        Status.ERROR,
                        f"boot failed: {exc.reason}",
                        excerpt=exc.excerpt,
                        suite=s.suite,
                    ),
                    kind,
                )
                for s in remaining
            ]
        )
