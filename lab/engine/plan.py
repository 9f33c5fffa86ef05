"""The plan: what a run will do, fully resolved before any guest starts.

config (profiles, scenarios, options) → RunPlan → (images) → cells. Everything a run needs
reaches the engine here, as a field: no module globals, no environment variables. ``cells()``
turns the plan and the built images into the matrix: one Cell per profile (× kernel × emulator;
today one kernel and one emulator per profile), each with the scenarios it runs, the initramfs
those scenarios need, and the scenarios it cannot run with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from lab.config.profiles import LabHost, Profile
from lab.config.scenarios import Scenario
from lab.engine.cell import SYSTEM_EMULATOR, Cell, Emulator
from lab.errors import LabError
from lab.images.builder import Images, ImageSet, LayerBuilder, Layered
from lab.images.kernels import user_kernel
from lab.images.sshpart import SshPart
from lab.suites import Catalog, load_catalog
from lab.suites.kselftest.build import KselftestLayer
from lab.suites.kselftest.names import LAYER as KSELFTEST_LAYER
from lab.targets.accel import qemu_version
from lab.targets.base import Accel, TargetKind, Transport


def default_jobs() -> int:
    """One guest per core: TCG is CPU-bound, more only slows each guest down."""
    return os.cpu_count() or 1


@dataclass(frozen=True)
class RunPlan:
    """Profiles × scenarios and every option of the run (`lab run`'s flags, resolved)."""

    profiles: list[Profile]
    scenarios: list[Scenario]
    jobs: int = field(default_factory=default_jobs)
    accel: Accel = Accel.AUTO
    done: frozenset[tuple[str, str]] = frozenset()  # (cell, scenario) that a resumed run has
    transport: Transport | None = None  # None: the profile's own, else SSH when images have it
    hosts: tuple[LabHost, ...] = ()  # lab hosts that take a share of the QEMU cells
    vendors: Path | None = None  # --vendors (copied to lab hosts)
    scenario_dir: Path | None = None  # --scenario-dir (copied to lab hosts)
    selftests_src: Path | None = None  # --selftests-src: build kselftest-x86 from this tree
    catalog: Catalog = field(default_factory=load_catalog)

    def scenarios_for(self, profile: Profile) -> list[Scenario]:
        return [s for s in self.scenarios if s.applies_to(profile)]

    def layer_builders(self) -> dict[str, LayerBuilder]:
        """The suites' initramfs layers, with this run's choices applied (--selftests-src)."""
        layers = dict(self.catalog.layers)
        if self.selftests_src is not None and KSELFTEST_LAYER in layers:
            layers[KSELFTEST_LAYER] = KselftestLayer(self.selftests_src)
        return layers


def resolve_images(images: Images, profiles: list[Profile], log: Callable[[str], None]) -> ImageSet:
    """Build what the profiles need; user kernels (paths) are inspected, not built. Real
    machines need only the guest programs."""
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


def choose_transport(
    plan: RunPlan, profile: Profile, built: ImageSet
) -> tuple[Transport, SshPart | str]:
    """console or ssh for one profile: --transport, else the profile's `transport`, else SSH
    when the images have it for the profile's kernel. With ssh: the SSH part, or why none."""
    part: SshPart | str = built.ssh.get(profile.kernel) or (
        built.ssh_unavailable
        or f"kernel {profile.kernel!r} has no SSH part (only recipe kernels get the NIC modules)"
    )
    wanted = plan.transport or (Transport(profile.transport) if profile.transport else None)
    if wanted is None:
        wanted = Transport.SSH if isinstance(part, SshPart) else Transport.CONSOLE
    return wanted, part


def emulator_of(profile: Profile) -> Emulator:
    """Today every QEMU cell runs the host's own QEMU (the profile names the binary)."""
    return Emulator(SYSTEM_EMULATOR, profile.qemu, qemu_version(profile.qemu))


def machine_skips(scenario: Scenario) -> str:
    """Why a scenario cannot run on a real machine ("" if it can)."""
    if scenario.machine.label:
        return f"needs a QEMU machine variant ({scenario.machine.label}): this is a real machine"
    if scenario.needs:
        return f"needs initramfs layers {list(scenario.needs)}, which real machines do not get"
    return ""


# (layers, SSH part or None) -> the initramfs with those appended (built on demand, cached)
InitramfsFor = Callable[[tuple[str, ...], SshPart | None], Layered]


def cells(plan: RunPlan, built: ImageSet, initramfs: InitramfsFor) -> list[Cell]:
    """The matrix of this run: one cell per profile that has something left to run."""
    out = []
    for profile in plan.profiles:
        wanted = plan.scenarios_for(profile)
        if not wanted:
            continue
        cell = _cell(plan, profile, wanted, built, initramfs)
        todo = tuple(s for s in cell.scenarios if (cell.name, s.name) not in plan.done)
        skipped = tuple((s, w) for s, w in cell.skipped if (cell.name, s.name) not in plan.done)
        if todo or skipped:
            out.append(_with(cell, todo, skipped))
    return out


def _with(
    cell: Cell, todo: tuple[Scenario, ...], skipped: tuple[tuple[Scenario, str], ...]
) -> Cell:
    return replace(cell, scenarios=todo, skipped=skipped)


def _cell(
    plan: RunPlan,
    profile: Profile,
    wanted: list[Scenario],
    built: ImageSet,
    initramfs: InitramfsFor,
) -> Cell:
    if profile.is_remote:
        runnable = tuple(s for s in wanted if not machine_skips(s))
        names = {s.program for s in runnable if s.program} | {"agent"}
        return Cell(
            profile,
            TargetKind.MACHINE,
            Transport.SSH,
            runnable,
            skipped=tuple((s, machine_skips(s)) for s in wanted if machine_skips(s)),
            programs={n: p for n, p in built.programs.items() if n in names},
        )
    layers = tuple(sorted({layer for s in wanted for layer in s.needs}))
    transport, part = choose_transport(plan, profile, built)
    ssh = part if transport is Transport.SSH and isinstance(part, SshPart) else None
    unbootable = (
        f"transport ssh: {part or 'no SSH in images'}"
        if transport is Transport.SSH and ssh is None
        else ""
    )
    made = None if unbootable else initramfs(layers, ssh)
    return Cell(
        profile,
        TargetKind.QEMU,
        transport,
        tuple(wanted),
        kernel=built.kernels[profile.kernel],
        emulator=emulator_of(profile),
        initramfs=made.initramfs if made else None,
        layers=layers,
        layer_builds=made.results() if made else {},
        ssh=ssh,
        unbootable=unbootable,
    )
