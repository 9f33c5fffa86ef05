"""The emulator axis as the reports see it: each cell's emulator build and QEMU version, and the
profile@kernel it is compared as across builds.

A run with cells on more than one emulator build (`lab run --qemu system,10.0`) shows them side
by side: the matrices of `lab report show`, report.html and summary.md put the cells of one
profile@kernel next to each other, one row per build, the build's QEMU version in an emulator
column ("QEMU 7.2.22 (system)"), and mark a scenario whose status differs between the builds.
A run on one build is shown as it always was. Verdicts are results.json dicts of any schema
version (lab.report.compat.upgrade first).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lab.engine.cell import SYSTEM_EMULATOR
from lab.report.results import Status

__all__ = [
    "DIFFERS",
    "EmulatorAxis",
    "cpu_differences",
    "emulator_axis",
    "pair_of",
    "split_cell",
]

DIFFERS = "≠"  # the mark of a status that differs between the builds of one profile@kernel
SILICON = ""  # a real machine's emulator: none


def split_cell(cell: str) -> tuple[str, str, str]:
    """(profile, kernel, emulator) of a cell name; profile and kernel names hold no '@'; the
    emulator is "" when the name has none (the system QEMU, or silicon)."""
    profile, kernel, emulator = [*cell.split("@", 2), "", ""][:3]
    return profile, kernel, emulator


def pair_of(cell: str) -> str:
    """profile@kernel: what a cell is compared as across emulator builds."""
    profile, kernel, _ = split_cell(cell)
    return f"{profile}@{kernel}" if kernel else profile


def _emulator(cell: str, env: Mapping[str, Any]) -> str:
    if env.get("accel") == "silicon" or env.get("target") == "machine":
        return SILICON
    if env.get("emulator"):
        return str(env["emulator"])
    _, kernel, emulator = split_cell(cell)
    return SILICON if kernel == "silicon" else (emulator or SYSTEM_EMULATOR)


def heading(name: str, versions: Iterable[str]) -> str:
    """'QEMU 7.2.22 (system)'; 'QEMU ? (10.0)' when no guest of it said; 'silicon'."""
    if name == SILICON:
        return "silicon"
    found = ", ".join(dict.fromkeys(v for v in versions if v)) or "?"
    return f"QEMU {found} ({name})"


@dataclass(frozen=True)
class EmulatorAxis:
    """Each cell's emulator build, and each build's heading (the host's QEMU first)."""

    of: dict[str, str]  # cell -> emulator build name ("system", "10.0"; "" on silicon)
    headings: dict[str, str]  # build name -> "QEMU 10.0.2 (10.0)", in the order shown

    @property
    def spans(self) -> bool:
        """Whether the run's QEMU cells ran on more than one emulator build."""
        return len(set(self.headings) - {SILICON}) > 1

    def heading_of(self, cell: str) -> str:
        return self.headings.get(self.of.get(cell, SYSTEM_EMULATOR), "")

    def side_by_side(self, rows: list[str]) -> list[str]:
        """Rows (cells, already in group order) with each profile@kernel's cells together,
        one per build in heading order."""
        pairs = list(dict.fromkeys(pair_of(c) for c in rows))
        builds = list(self.headings)

        def key(c: str) -> tuple[int, int]:
            build = self.of.get(c, SYSTEM_EMULATOR)
            return pairs.index(pair_of(c)), builds.index(build) if build in builds else len(builds)

        return sorted(rows, key=key)

    def differing(self, worst: Mapping[tuple[str, str], Status]) -> set[tuple[str, str]]:
        """The (cell, scenario) entries whose status is not the same on every build of their
        profile@kernel that ran the scenario."""
        seen: dict[tuple[str, str], set[Status]] = {}
        for (cell, scenario), status in worst.items():
            seen.setdefault((pair_of(cell), scenario), set()).add(status)
        return {(c, s) for (c, s) in worst if len(seen[(pair_of(c), s)]) > 1}


def emulator_axis(
    verdicts: Iterable[Mapping[str, Any]], guests: Mapping[str, Any] | None = None
) -> EmulatorAxis:
    """The emulator axis of a run's verdicts (and guest records, for versions of cells whose
    verdicts have no environment)."""
    of: dict[str, str] = {}
    versions: dict[str, list[str]] = {}
    for v in verdicts:
        cell, env = str(v["cell"]), v.get("env") or {}
        build = _emulator(cell, env) if cell not in of or env else of[cell]
        of[cell] = build
        versions.setdefault(build, []).append(str(env.get("qemu_version") or ""))
    for g in (guests or {}).values():
        if g.get("cell") in of and g.get("qemu_version"):
            versions[of[str(g["cell"])]].append(str(g["qemu_version"]))
    order = sorted(versions, key=lambda b: (b != SYSTEM_EMULATOR, b == SILICON))
    return EmulatorAxis(of, {b: heading(b, versions[b]) for b in order})


def cpu_differences(guests: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Where one profile@kernel's guests on two builds saw different CPUID flags, although
    their CPU model is pinned to the same version (newer QEMU can still add features to a
    model version, e.g. x2apic): one line per pair and build, what it has and lacks beside
    the first build's. Evidence runs' guests count: their results are compared too."""
    by_pair: dict[tuple[str, str], dict[str, set[str]]] = {}
    for g in guests.values():
        flags = (g.get("cpu") or {}).get("flags")
        cell = str(g.get("cell") or "")
        if not cell or not isinstance(flags, list):
            continue
        build = f"{g.get('emulator') or SYSTEM_EMULATOR} ({g.get('qemu_version') or '?'})"
        slot = by_pair.setdefault((pair_of(cell), str(g.get("variant") or "")), {})
        slot.setdefault(build, set(map(str, flags)))
    out = []
    for (pair, variant), builds in sorted(by_pair.items()):
        names = sorted(builds, key=lambda b: not b.startswith(SYSTEM_EMULATOR))
        first = names[0]
        for other in names[1:]:
            more, fewer = builds[other] - builds[first], builds[first] - builds[other]
            if more or fewer:
                where = pair + (f" [{variant}]" if variant else "")
                parts = [f"adds {', '.join(sorted(more))}"] if more else []
                parts += [f"lacks {', '.join(sorted(fewer))}"] if fewer else []
                out.append(f"{where}: CPUID on {other} {'; '.join(parts)} beside {first}")
    return out
