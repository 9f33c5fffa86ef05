"""The emulator axis of a run: `lab run --qemu system,10.0` → one Emulator per build.

`system` is the host's QEMU (also accepted by its version, 7.2 on Debian 12); the others are
private builds of images/recipe.yaml (lab.images.emulators), unpacked once and checked before
any cell uses them. On a private build each profile's -cpu model is pinned to the version the
host's QEMU resolves it to on that machine type (lab.targets.cpumodels), so a profile is the
same CPU on every emulator. A build that cannot be used makes its cells fail at boot with the
reason; the other emulators' cells run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import cache
from pathlib import Path

from lab.config.profiles import Profile
from lab.errors import ConfigError, LabError, SourceLocation
from lab.images.builder import Images
from lab.images.emulators import SYSTEM, PrivateQemu, verify
from lab.images.recipe import Recipe
from lab.targets import cpumodels
from lab.targets.accel import DEFAULT_QEMU, qemu_version
from lab.targets.qemuargs import Emulator, machine_type


def add_axis_arguments(p: argparse.ArgumentParser) -> None:
    """--kernels and --qemu: the matrix axes `lab run` and `lab nightly` share."""
    p.add_argument(
        "--kernels",
        action="append",
        metavar="K,...",
        help="run every profile on each of these kernels: series of images/recipe.yaml "
        "(6.1, 6.12, 7.2, 7.3-rc: the flavour of the profile's bitness), kernel names, files "
        "or kernel trees (tree:~/linux: built for each bitness the profiles need)",
    )
    p.add_argument(
        "--qemu",
        action="append",
        metavar="E,...",
        help="run every QEMU cell on each of these emulator builds of images/recipe.yaml "
        "`emulators:` (system = the host's QEMU, also by its version; 10.0 = Debian's "
        "bookworm-backports build, unpacked into the cache); default: system",
    )


def known_emulators(wanted: list[str], recipe: Recipe, host: str | None = None) -> tuple[str, ...]:
    """--qemu checked: each an emulator of the recipe, or the host QEMU's major.minor (7.2)."""
    host = qemu_version(DEFAULT_QEMU) if host is None else host
    out: list[str] = []
    for name in wanted:
        if name not in recipe.emulators and host.startswith(name + "."):
            name = SYSTEM
        if name != SYSTEM and name not in recipe.emulators:
            known = ", ".join(dict.fromkeys([SYSTEM, *recipe.emulators]))
            raise ConfigError(
                SourceLocation(Path("--qemu")),
                f"unknown emulator {name!r}: not in images/recipe.yaml `emulators:` ({known}) "
                f"nor the host's QEMU version ({host})",
            )
        out.append(name)
    return tuple(dict.fromkeys(out))


def qemu_axis(
    wanted: list[str] | None, recipe: Recipe, resumed: dict[str, object] | None = None
) -> tuple[str, ...]:
    """The run's emulators: a resumed run's own, else --qemu (comma-separated, repeatable)
    checked; () = the host's QEMU only."""
    if resumed is not None:
        saved = resumed.get("emulators")
        return tuple(map(str, saved)) if isinstance(saved, list) else ()
    names = [n for item in wanted or () for n in item.split(",") if n]
    return known_emulators(names, recipe) if names else ()


def build_emulators(
    names: tuple[str, ...], images: Images, log: Callable[[str], None]
) -> dict[str, PrivateQemu | str]:
    """Each private build of the run unpacked (cached), or why it cannot be had."""
    out: dict[str, PrivateQemu | str] = {}
    for name in names:
        if name == SYSTEM:
            continue
        try:
            out[name] = images.emulator(name, log=log)
        except LabError as exc:
            out[name] = f"emulator {name}: {exc}"
    return out


def system_emulator(profile: Profile) -> Emulator:
    """The host's own QEMU: the profile's binary, exactly as every cell ran before the axis."""
    return Emulator(SYSTEM, profile.qemu, qemu_version(profile.qemu))


@cache
def _verified(build: PrivateQemu, system_binary: str) -> str:
    return verify(build, system_binary)


def private_emulator(profile: Profile, name: str, build: PrivateQemu | str) -> Emulator:
    """A profile on a private build: its binary, -L, QEMU_MODULE_DIR and pinned CPU models;
    `unusable` says why not, when the build is missing or fails its checks."""
    if isinstance(build, str):
        return Emulator(name, profile.qemu, "unknown", unusable=build)
    binary = str(build.binary(profile.qemu))
    why = _verified(build, profile.qemu)
    env = tuple(build.env().items())
    data = tuple(str(d) for d in build.data_dirs())
    cpus: list[tuple[str, str, str]] = []
    boards: list[tuple[str, str]] = []
    if not why:
        machines = dict.fromkeys([profile.machine, machine_type(profile.machine).ssh_machine])
        host_boards = cpumodels.machines(profile.qemu)
        own_boards = cpumodels.machines(binary, tuple(build.args()), tuple(build.env().items()))
        for machine in machines:
            board, problem = cpumodels.pinned_machine(machine, host_boards, own_boards)
            if problem:
                why = f"emulator {build.name}, profile {profile.name}: {problem}"
            boards.append((machine, board))
            host = cpumodels.definitions(profile.qemu, machine)
            own = cpumodels.definitions(binary, machine, tuple(build.args()), build.env())
            cpu, problem = cpumodels.pinned(profile.cpu, host, own)
            if problem:
                why = f"emulator {build.name}, profile {profile.name}: {problem}"
            cpus.append((machine, profile.cpu, cpu))
    return Emulator(build.name, binary, build.version, data, env, tuple(cpus), tuple(boards), why)


def emulator_for(profile: Profile, name: str, builds: dict[str, PrivateQemu | str]) -> Emulator:
    """The Emulator one cell of this profile runs on."""
    if name == SYSTEM:
        return system_emulator(profile)
    return private_emulator(profile, name, builds.get(name, f"emulator {name} was not built"))
