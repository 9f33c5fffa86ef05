"""The scenario engine: config → images → one guest per profile → verdicts → report.

Data flows one way. Each profile boots once and runs its scenarios in sequence; profiles run in
parallel up to a limit. A guest that panics or hangs fails the scenario it was running (with the
console excerpt), is rebooted, and the profile's remaining scenarios still run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.checks import CHECKS, CheckContext
from lab.config.profiles import LabHost, MachineVariant, Profile
from lab.config.scenarios import Scenario
from lab.errors import BootError, GuestError, LabError
from lab.events import Event, Kind, Sink
from lab.images.builder import Images, ImageSet
from lab.images.kernels import BuiltKernel, user_kernel
from lab.images.sshpart import SshPart
from lab.report.results import Environment, Status, Verdict
from lab.report.run import RunReport
from lab.suites.kselftest import LAYERS  # TODO(issue 13): the plan's layers, from every suite
from lab.targets.console import Fault
from lab.targets.identity import GuestIdentity
from lab.targets.qemu import (
    Machine,
    choose_accel,
    kvm_known_broken,
    mark_kvm_broken,
    networked,
    qemu_version,
    reap_all,
)
from lab.targets.session import GuestSession
from lab.targets.ssh import REMOTE_EXTRA, LabHostRun, RemoteMachine, attach

# A QEMU guest, or a real machine over SSH standing in for one (lab.targets.ssh.RemoteMachine).
GuestMachine = Machine | RemoteMachine
TRANSPORTS = ("console", "ssh")


@dataclass
class RunDefaults:
    """Plan settings the CLI sets before the plan is made (`lab run --transport/--hosts`): the
    defaults of RunPlan.transport and RunPlan.hosts, and the config files a lab host needs."""

    transport: str | None = None
    hosts: list[LabHost] = field(default_factory=list)
    vendors: Path | None = None  # --vendors, copied to lab hosts
    scenario_dir: Path | None = None  # --scenario-dir, copied to lab hosts


RUN_DEFAULTS = RunDefaults()


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
    # console | ssh; None: the profile's own, else SSH when the images have it
    transport: str | None = field(default_factory=lambda: RUN_DEFAULTS.transport)
    # lab hosts that take a share of the QEMU profiles (lab.targets.ssh.LabHostRun)
    hosts: list[LabHost] = field(default_factory=lambda: list(RUN_DEFAULTS.hosts))

    def scenarios_for(self, profile: Profile) -> list[Scenario]:
        return [
            s
            for s in self.scenarios
            if s.applies_to(profile) and (profile.name, s.name) not in self.done
        ]


def resolve_images(images: Images, profiles: list[Profile], log: Callable[[str], None]) -> ImageSet:
    """Build what the profiles need; user kernels (paths) are inspected, not built. Real
    machines (profiles of kind ssh) need only the guest programs."""
    profiles = [p for p in profiles if not p.is_remote]
    recipe = images.recipe()
    names = sorted({p.kernel for p in profiles if p.kernel in recipe.kernels})
    built = images.build(names, log=log)
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
        transport: str = "console",
        ssh: SshPart | str | None = None,
    ) -> None:
        self.profile = profile
        self.scenarios = scenarios
        self.kernel = kernel
        self.initramfs = initramfs
        self.ctx = ctx
        self.transport = transport  # console or ssh
        self.ssh = ssh  # the image's SSH part for this kernel, or why there is none
        self.accel = ctx.accel  # per guest: a failed KVM boot falls back to TCG
        self.boots = 0
        self.variant = MachineVariant()
        self.booted = profile  # the profile as booted (its variant applied)

    def environment(self, machine: GuestMachine, identity: GuestIdentity | None) -> Environment:
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

    def boot(self) -> tuple[GuestMachine, GuestIdentity]:
        """Boot, falling back from KVM to TCG (and remembering it) when KVM cannot run guests."""
        self.boots += 1
        if self.accel == "kvm" and not self.ctx.accel_was_explicit and kvm_known_broken():
            self.accel = "tcg"  # another guest of this run already found KVM unusable
        if self.transport == "ssh" and not isinstance(self.ssh, SshPart):
            raise BootError(self.profile.name, f"transport ssh: {self.ssh or 'no SSH in images'}")
        guest_dir = self._new_boot_dir()
        accel = "tcg" if self.booted.icount else self.accel  # -icount is a TCG feature
        machine = self._machine(guest_dir, accel)
        try:
            return machine, self._over_transport(machine, machine.boot())
        except BootError as exc:
            machine.stop()
            if machine.accel != "kvm" or self.ctx.accel_was_explicit:
                raise
            mark_kvm_broken(exc.reason)
            self._note(f"KVM boot failed ({exc.reason}); falling back to TCG")
            self.accel = "tcg"
            machine = self._machine(guest_dir, "tcg")
            try:
                return machine, self._over_transport(machine, machine.boot())
            except BootError:
                machine.stop()
                raise

    def _machine(self, guest_dir: Path, accel: str) -> Machine:
        ssh = self.transport == "ssh"
        return Machine(self.booted, self.kernel, self.initramfs, guest_dir, accel, net=ssh)

    def _over_transport(self, machine: Machine, identity: GuestIdentity) -> GuestIdentity:
        """With the SSH transport, commands go over SSH from here on (console still watched)."""
        if self.transport == "ssh" and isinstance(self.ssh, SshPart):
            attach(machine, self.ssh.host_key, self.ctx.report.dir / "ssh")
        return identity

    def run(self) -> None:
        """Each machine variant (profile default first) boots once for its scenarios."""
        variants = list(dict.fromkeys(s.machine for s in self.scenarios))
        for variant in sorted(variants, key=lambda v: v.label != ""):
            if self.ctx.stop.is_set():
                break
            self.variant = variant
            self.booted = variant.apply(self.profile)
            if self.transport == "ssh" and not self.profile.is_remote:
                self.booted = networked(self.booted)
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

    def _record_guest(self, machine: GuestMachine, identity: GuestIdentity) -> None:
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
                "transport": self.transport,
                **({"ssh_port": machine.ssh_port} if isinstance(machine, Machine) else {}),
            },
        )

    def _run_in(
        self, machine: GuestMachine, identity: GuestIdentity, remaining: list[Scenario]
    ) -> list[Scenario]:
        """Run scenarios until done or the guest breaks; returns what is left to run."""
        session = GuestSession(machine.transport_link or machine, self.profile.name)
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
        if self.ctx.stop.is_set():  # the lab stopped the guest: not the guest's failure
            exc = BootError(
                exc.profile,
                f"interrupted (Ctrl-C or SIGTERM) while booting: {exc.reason}",
                exc.excerpt,
            )
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


class RemoteRunner(ProfileRunner):
    """A real machine over SSH (a profile of kind ssh): the same scenarios and checks, the agent
    and guest programs deployed for the run; verdicts are labelled accel "silicon". Scenarios
    that need QEMU (a machine variant) or an initramfs layer are skipped, with the reason."""

    def __init__(
        self,
        profile: Profile,
        scenarios: list[Scenario],
        programs: dict[str, Path],
        ctx: RunContext,
    ) -> None:
        assert profile.ssh is not None
        origin = f"ssh:{profile.ssh.where}"
        kernel = BuiltKernel(
            f"ssh:{profile.ssh.host}", Path(os.devnull), 0, "silicon", "", origin, {}
        )
        super().__init__(profile, scenarios, kernel, Path(os.devnull), ctx, "ssh")
        self.programs = programs
        self.accel = "silicon"

    def run(self) -> None:
        def why_not(s: Scenario) -> str:
            if s.machine.label:
                return f"needs a QEMU machine variant ({s.machine.label}): this is a real machine"
            if s.needs:
                return f"needs initramfs layers {list(s.needs)}, which real machines do not get"
            return ""

        skipped = [s for s in self.scenarios if why_not(s)]
        self._add(
            [
                Verdict(self.profile.name, s.name, Status.SKIP, why_not(s), suite=s.suite)
                for s in skipped
            ]
        )
        self.scenarios = [s for s in self.scenarios if not why_not(s)]
        super().run()

    def boot(self) -> tuple[GuestMachine, GuestIdentity]:
        self.boots += 1
        wanted = {s.program for s in self.scenarios if s.program}
        programs = {n: path for n, path in self.programs.items() if n in wanted}
        machine = RemoteMachine(self.profile, self.programs["agent"], programs)
        try:
            return machine, machine.boot()
        except BootError:
            machine.stop()
            raise

    def environment(self, machine: GuestMachine, identity: GuestIdentity | None) -> Environment:
        return Environment(
            profile=self.profile.name,
            kernel=self.kernel.name,
            kernel_origin=self.kernel.origin,
            kernel_release=identity.kernel_release if identity else "",
            qemu="",
            qemu_version="",
            accel="silicon",
            cpu_model=identity.model_name if identity else "",
            machine_type="silicon",
            vendor=identity.vendor if identity else "",
            kernel_bits=identity.kernel_bits if identity else 0,
        )


class HostRunner:
    """A share of the QEMU profiles run by `lab run` on a lab host (lab.targets.ssh.LabHostRun); its
    verdicts, guest records and logs join this run's report. A host that cannot be reached
    costs its own profiles' verdicts (errors naming the host), never the run."""

    def __init__(
        self,
        host: LabHost,
        profiles: list[Profile],
        plan: RunPlan,
        ctx: RunContext,
        root: Path,
    ) -> None:
        self.host = host
        self.profiles = profiles
        self.plan = plan
        self.ctx = ctx
        self.root = root
        self.remote = LabHostRun(host, self._log)

    def _log(self, line: str) -> None:
        self.ctx.emit(Event(Kind.NOTE, None, f"[{self.host.name}] {line}"[:400]))

    def lab_args(self) -> list[str]:
        names = ",".join(p.name for p in self.profiles)
        scenarios = ",".join(dict.fromkeys(s.name for s in self.plan.scenarios))
        extra = []
        if RUN_DEFAULTS.vendors is not None:
            extra += ["--vendors", f"{REMOTE_EXTRA}/vendors.yaml"]
        args = [*extra, "run", "--profiles", names, "--scenarios", scenarios]
        if RUN_DEFAULTS.scenario_dir is not None:
            args += ["--scenario-dir", f"{REMOTE_EXTRA}/scenarios"]
        if self.plan.transport:
            args += ["--transport", self.plan.transport]
        if self.plan.accel != "auto":
            args += ["--accel", self.plan.accel]
        if self.host.jobs:
            args += ["--jobs", str(self.host.jobs)]
        return args

    def run(self) -> None:
        for p in self.profiles:
            self.ctx.emit(Event(Kind.BOOTING, p.name, f"on {self.remote.label}"))
        extra = {}
        if RUN_DEFAULTS.vendors is not None:
            extra["vendors.yaml"] = RUN_DEFAULTS.vendors
        if RUN_DEFAULTS.scenario_dir is not None:
            extra["scenarios"] = RUN_DEFAULTS.scenario_dir
        into = self.ctx.report.dir / "lab-hosts" / self.host.name
        run_id = f"{self.ctx.report.run_id}-{self.host.name}"
        why = ""
        try:
            data = self.remote.run(self.root, self.lab_args(), run_id, extra, into)
        except LabError as exc:
            data, why = None, str(exc)
        except Exception as exc:  # fabric/invoke raise their own kinds: one error per verdict
            data, why = None, f"{self.remote.label}: {type(exc).__name__}: {exc}"
        if data is not None:
            self._merge(data, into)
        if not why:
            tail = "\n".join(self.remote.output_tail[-20:])
            why = f"{self.remote.label}: no verdict (remote lab exit {self.remote.exit_code})"
        else:
            tail = ""
        have = {(v.profile, v.scenario) for v in self.ctx.report.verdicts}
        missing = [
            Verdict(p.name, s.name, Status.ERROR, why, excerpt=tail, suite=s.suite)
            for p in self.profiles
            for s in self.plan.scenarios_for(p)
            if (p.name, s.name) not in have
        ]
        self.ctx.report.add_all(missing)
        for v in missing:
            self.ctx.emit(Event(Kind.VERDICT, v.profile, scenario=v.scenario, verdict=v))
        for p in self.profiles:
            self.ctx.emit(Event(Kind.DONE, p.name, f"finished on {self.remote.label}"))

    def _merge(self, data: dict[str, Any], into: Path) -> None:
        ours = {p.name for p in self.profiles}
        verdicts = [Verdict.from_json(v) for v in data.get("verdicts", [])]
        verdicts = [v for v in verdicts if v.profile in ours]
        for key, info in data.get("guests", {}).items():
            if key.split("@")[0] in ours:
                self.ctx.report.record_guest(
                    key, {**info, "lab_host": self.host.name, "lab_host_ssh": self.host.ssh.where}
                )
        for name in ours:
            src = into / "guests" / name
            if src.is_dir():
                shutil.copytree(src, self.ctx.report.guest_dir(name), dirs_exist_ok=True)
        self.ctx.report.add_all(verdicts)
        for v in verdicts:
            self.ctx.emit(Event(Kind.VERDICT, v.profile, scenario=v.scenario, verdict=v))


def spread(profiles: list[Profile], hosts: list[LabHost]) -> dict[str, list[Profile]]:
    """QEMU profiles over this machine ("") and the lab hosts, round robin in plan order; real
    machines stay here (they are reached over SSH from here anyway)."""
    slots = ["", *(h.name for h in hosts)]
    out: dict[str, list[Profile]] = {slot: [] for slot in slots}
    qemu = [p for p in profiles if not p.is_remote]
    for i, p in enumerate(qemu):
        out[slots[i % len(slots)]].append(p)
    out[""].extend(p for p in profiles if p.is_remote)
    return out


def choose_transport(plan: RunPlan, profile: Profile, built: ImageSet) -> tuple[str, SshPart | str]:
    """console or ssh for one profile: --transport, else the profile's `transport`, else SSH when
    the images have it for the profile's kernel. With ssh, the image's SSH part (or why none)."""
    part: SshPart | str = built.ssh.get(profile.kernel) or (
        built.ssh_unavailable
        or f"kernel {profile.kernel!r} has no SSH part (only recipe kernels get the NIC modules)"
    )
    wanted = plan.transport or profile.transport
    if wanted is None:
        wanted = "ssh" if isinstance(part, SshPart) else "console"
    return wanted, part


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

    def images_log(message: str) -> None:
        emit(Event(Kind.IMAGES, message=message))

    built = resolve_images(images, plan.profiles, images_log)
    accel = choose_accel(plan.accel)
    report.meta["accel_requested"] = plan.accel
    stop = threading.Event()
    ctx = RunContext(report, stop, emit, accel, plan.accel != "auto", built.broken_programs)
    runners: list[ProfileRunner] = []
    shares = spread([p for p in plan.profiles if plan.scenarios_for(p)], plan.hosts)
    host_runners = [
        HostRunner(h, shares[h.name], plan, ctx, images.root) for h in plan.hosts if shares[h.name]
    ]
    for p in shares[""]:
        scenarios = plan.scenarios_for(p)
        if scenarios and p.is_remote:
            runners.append(RemoteRunner(p, scenarios, built.programs, ctx))
        elif scenarios:
            needs = sorted({layer for s in scenarios for layer in s.needs})
            layers = {n: LAYERS[n] for n in needs}
            initramfs = images.layered(built.initramfs, layers, log=images_log).initramfs
            transport, part = choose_transport(plan, p, built)
            if transport == "ssh" and isinstance(part, SshPart):
                initramfs = images.with_ssh(initramfs, part, log=images_log)
            kernel = built.kernels[p.kernel]
            runners.append(ProfileRunner(p, scenarios, kernel, initramfs, ctx, transport, part))
    # Longest first (LPT): the 32-bit bzImage guests boot slowest, then by scenario count, so
    # that the matrix does not end waiting on one late, long guest.
    runners.sort(key=lambda r: (r.kernel.boot == "bzimage", len(r.scenarios)), reverse=True)
    pool = ThreadPoolExecutor(max_workers=max(1, plan.jobs), thread_name_prefix="guest")
    # Lab hosts use their own CPUs: they do not take this machine's job slots.
    hosts_pool = ThreadPoolExecutor(
        max_workers=max(1, len(host_runners)), thread_name_prefix="host"
    )
    try:
        pending = {hosts_pool.submit(h.run) for h in host_runners}
        pending |= {pool.submit(r.run) for r in runners}
        while pending:
            done, pending = wait(pending, timeout=0.5)
            for f in done:
                f.result()  # re-raises what must stop the run (the report cannot be written)
    except KeyboardInterrupt:
        for h in host_runners:
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
    report.finish("finished")
    return report
