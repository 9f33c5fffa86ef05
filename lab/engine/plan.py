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

from lab.config.nightly import Tier
from lab.config.profiles import LabHost, Profile
from lab.config.scenarios import Scenario
from lab.engine.cell import SYSTEM_EMULATOR, Cell, Emulator
from lab.engine.emulators import emulator_for
from lab.errors import ConfigError, LabError, SourceLocation
from lab.images.builder import Images, ImageSet, LayerBuilder, Layered
from lab.images.emulators import PrivateQemu
from lab.images.kernels import BuiltKernel, user_kernel
from lab.images.recipe import Recipe
from lab.images.sshpart import SshPart
from lab.kbuild.axis import TreeKernels, choice_for, is_tree
from lab.model import KernelFactsError, kernel_facts
from lab.model.kernel import parse_kconfig
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
    # --kernels: series of the recipe ("6.1", "7.2"), recipe kernel names or kernel files; each
    # profile runs on each (the flavour of its bitness). Empty: each profile's own kernel.
    kernels: tuple[str, ...] = ()
    # The tree choices of --kernels (tree:/abs/path), built: each bitness's kernel or why none.
    trees: TreeKernels = field(default_factory=dict)
    # The nightly's tiers (vendors.yaml `nightly:`): which suites each kernel choice runs; a
    # choice in no tier runs every scenario of the plan.
    tiers: tuple[Tier, ...] = ()
    # --qemu: emulator builds of the recipe ("system", "10.0"); each QEMU cell runs on each.
    # Empty: the host's own QEMU only, as before the emulator axis.
    emulators: tuple[str, ...] = ()
    reruns: int = 0  # --reruns: fresh boots a bad result gets before it is reported
    # Evidence runs on the recipe's other emulator builds for non-pass verdicts (--no-attribution
    # turns them off; the causes are still classified).
    attribution: bool = False
    catalog: Catalog = field(default_factory=load_catalog)

    def scenarios_for(self, profile: Profile, choice: str = "") -> list[Scenario]:
        """The scenarios a profile runs (on one --kernels choice, when tiers say which)."""
        tier = next((t for t in self.tiers if choice in t.kernels), None)
        return [
            s
            for s in self.scenarios
            if s.applies_to(profile) and (tier is None or tier.allows(s.suite, s.name))
        ]

    def layer_builders(self) -> dict[str, LayerBuilder]:
        """The suites' initramfs layers, with this run's choices applied (--selftests-src)."""
        layers = dict(self.catalog.layers)
        if self.selftests_src is not None and KSELFTEST_LAYER in layers:
            layers[KSELFTEST_LAYER] = KselftestLayer(self.selftests_src)
        return layers


def kernel_choice(
    profile: Profile, choice: str, recipe: Recipe, trees: TreeKernels | None = None
) -> tuple[str, str]:
    """The kernel a profile boots for one --kernels choice, and "" — or the name that cell
    would have had and why it cannot exist (no build of that series for the profile's
    bitness: Debian builds no 686 kernel after 6.1; a tree that cannot build i386)."""
    built = choice_for(profile.expect.kernel_bits, choice, trees or {})
    if built is not None:
        return built
    series = recipe.series.get(choice)
    if series is None:
        return choice, ""  # a recipe kernel name or a file: as --kernel
    own = profile.kernel.split("/")[-1]
    flavour = own if own in recipe.kernels else ("686" if profile.expect.kernel_bits == 32 else "")
    name = flavour if choice == recipe.default_series else f"{choice}/{flavour}"
    if flavour not in series.flavours:
        why = (
            f"series {choice} has no {flavour or str(profile.expect.kernel_bits) + '-bit'} "
            f"kernel (Debian builds it only for {', '.join(series.flavours)}); "
            "a 32-bit build of a newer series needs `lab kernel build` (issue 15)"
        )
        return name, why
    return name, ""


def known_kernels(wanted: list[str], recipe: Recipe) -> tuple[str, ...]:
    """--kernels checked: each a series or kernel of the recipe, or a kernel file (resolved)."""
    for k in wanted:
        if is_tree(k):
            continue  # built by lab.kbuild.axis
        if k not in recipe.series and k not in recipe.kernel_names() and not Path(k).is_file():
            known = ", ".join([*recipe.series, *recipe.kernel_names()])
            raise ConfigError(
                SourceLocation(Path("--kernels")),
                f"unknown kernel {k!r}: neither a series or kernel of images/recipe.yaml "
                f"({known}) nor a kernel file (a kernel tree: tree:PATH)",
            )
    return tuple(
        str(Path(k).resolve()) if not is_tree(k) and Path(k).is_file() else k for k in wanted
    )


@dataclass(frozen=True)
class Slot:
    """One profile on one kernel choice: the profile with the kernel it boots, the choice it
    came from ("" without --kernels), and why that cell cannot exist ("" if it can)."""

    profile: Profile
    why_not: str = ""
    choice: str = ""
    emulator: str = SYSTEM_EMULATOR  # the build it runs on (--qemu)


def expand_kernels(plan: RunPlan, recipe: Recipe) -> list[Slot]:
    """Profiles × --kernels × --qemu: each profile with the kernel it boots, and why not ("" if
    it can), on each emulator build (a real machine once: it has no emulator)."""
    emulators = plan.emulators or (SYSTEM_EMULATOR,)
    out: list[Slot] = []
    for slot in _expand_kernels(plan, recipe):
        if slot.profile.is_remote:
            out.append(slot)  # a real machine has no emulator: one cell
        else:
            out += [replace(slot, emulator=e) for e in emulators]
    return out


def _expand_kernels(plan: RunPlan, recipe: Recipe) -> list[Slot]:
    if not plan.kernels:
        return [Slot(p) for p in plan.profiles]
    out: list[Slot] = []
    for profile in plan.profiles:
        if profile.is_remote:  # a real machine runs the kernel it has: one cell
            out.append(Slot(profile))
            continue
        for choice in plan.kernels:
            name, why = kernel_choice(profile, choice, recipe, plan.trees)
            out.append(Slot(replace(profile, kernel=name), why, choice))
    return out


def resolve_images(images: Images, profiles: list[Profile], log: Callable[[str], None]) -> ImageSet:
    """Build what the profiles need; user kernels (paths) are inspected, not built. Real
    machines need only the guest programs."""
    profiles = [p for p in profiles if not p.is_remote]
    recipe = images.recipe()
    names = sorted({p.kernel for p in profiles if p.kernel in recipe.kernel_names()})
    built = images.build(names, log=log)
    for p in profiles:
        if p.kernel not in built.kernels:
            path = Path(p.kernel)
            if not path.exists():
                known = ", ".join(recipe.kernel_names())
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
    """The host's own QEMU for a profile (the profile names the binary)."""
    return Emulator(SYSTEM_EMULATOR, profile.qemu, qemu_version(profile.qemu))


def machine_skips(scenario: Scenario) -> str:
    """Why a scenario cannot run on a real machine ("" if it can)."""
    if scenario.machine.label:
        return f"needs a QEMU machine variant ({scenario.machine.label}): this is a real machine"
    if scenario.needs:
        return f"needs initramfs layers {list(scenario.needs)}, which real machines do not get"
    return ""


# Where a 64-bit kernel refuses 32-bit ELF when IA32 emulation is off, per series.
_ELF_CHECK = {
    "6.12": "arch/x86/include/asm/elf.h:155 compat_elf_check_arch() (6.12)",
    "7.2": "arch/x86/include/asm/elf.h:151-153 compat_elf_check_arch() (7.2)",
    "7.3": "arch/x86/include/asm/elf.h compat_elf_check_arch() (7.3)",
}


def ia32_refused(kernel: BuiltKernel, append: tuple[str, ...]) -> str:
    """Why ``kernel`` booted with ``append`` cannot run the lab's 32-bit /init ("" if it can):
    ia32_emulation=0, or IA32_EMULATION_DEFAULT_DISABLED without ia32_emulation=1 (6.12+;
    6.1 has no such switch). Said before boot, instead of the kernel's "No working init found"."""
    if kernel.bits != 64 or not kernel.release:
        return ""
    config_file = kernel.path.parent / "config"
    config = parse_kconfig(config_file.read_text(errors="replace")) if config_file.is_file() else {}
    try:
        facts = kernel_facts(kernel.release, config=config, cmdline=" ".join(append))
    except KernelFactsError:
        return ""
    if facts.ia32_enabled or facts.rules == "6.1":
        return ""
    words = " ".join(w for w in append if w.startswith("ia32_emulation=")) or "its config default"
    return (
        f"kernel {kernel.release} with {words} has IA32 emulation off and refuses 32-bit "
        f"programs ({_ELF_CHECK.get(facts.rules, 'compat_elf_check_arch()')}); "
        "the lab's /init is one"
    )


Builds = dict[str, PrivateQemu | str]  # private emulator name -> its build, or why none

# (layers, SSH part or None, the cell's kernel) -> the initramfs with those appended (built on
# demand, cached; a layer that depends on the kernel, the x86 selftests, is that kernel's)
InitramfsFor = Callable[[tuple[str, ...], SshPart | None, BuiltKernel], Layered]


def cells(
    plan: RunPlan,
    built: ImageSet,
    initramfs: InitramfsFor,
    matrix: list[Slot] | None = None,
    builds: Builds | None = None,
) -> list[Cell]:
    """The matrix of this run: one cell per profile × kernel that has something left to run;
    a cell that cannot exist is kept, its scenarios skipped with the reason.

    matrix: expand_kernels()'s answer (default: each profile on its own kernel); builds: the
    private emulator builds it names (lab.engine.emulators.build_emulators)."""
    out = []
    for slot in matrix if matrix is not None else [Slot(p) for p in plan.profiles]:
        profile = slot.profile
        wanted = plan.scenarios_for(profile, slot.choice)
        if not wanted:
            continue
        if slot.why_not:
            cell = _impossible(profile, wanted, slot.why_not)
            if slot.emulator != SYSTEM_EMULATOR:
                cell = replace(cell, emulator=Emulator(slot.emulator, "", ""))
        else:
            cell = _cell(plan, profile, wanted, built, initramfs)
            if cell.kind is TargetKind.QEMU and slot.emulator != SYSTEM_EMULATOR:
                cell = replace(cell, emulator=emulator_for(profile, slot.emulator, builds or {}))
        todo = tuple(s for s in cell.scenarios if (cell.name, s.name) not in plan.done)
        skipped = tuple((s, w) for s, w in cell.skipped if (cell.name, s.name) not in plan.done)
        if todo or skipped:
            out.append(_with(cell, todo, skipped))
    return out


def _with(
    cell: Cell, todo: tuple[Scenario, ...], skipped: tuple[tuple[Scenario, str], ...]
) -> Cell:
    return replace(cell, scenarios=todo, skipped=skipped)


def _impossible(profile: Profile, wanted: list[Scenario], why: str) -> Cell:
    """A cell of the matrix that has no kernel: named as it would be, every scenario skipped."""
    return Cell(
        profile,
        TargetKind.QEMU,
        Transport.CONSOLE,
        (),
        kernel_label=profile.kernel,
        skipped=tuple((s, f"cell cannot exist: {why}") for s in wanted),
    )


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
    kernel = built.kernels[profile.kernel]
    refused = {s.name: ia32_refused(kernel, profile.append + s.machine.append) for s in wanted}
    skipped = tuple((s, refused[s.name]) for s in wanted if refused[s.name])
    wanted = [s for s in wanted if not refused[s.name]]
    layers = tuple(sorted({layer for s in wanted for layer in s.needs}))
    transport, part = choose_transport(plan, profile, built)
    ssh = part if transport is Transport.SSH and isinstance(part, SshPart) else None
    unbootable = (
        f"transport ssh: {part or 'no SSH in images'}"
        if transport is Transport.SSH and ssh is None
        else ""
    )
    made = None if unbootable else initramfs(layers, ssh, kernel)
    return Cell(
        profile,
        TargetKind.QEMU,
        transport,
        tuple(wanted),
        kernel=kernel,
        emulator=emulator_of(profile),
        initramfs=made.initramfs if made else None,
        layers=layers,
        layer_builds=made.results() if made else {},
        ssh=ssh,
        unbootable=unbootable,
        skipped=skipped,
    )
