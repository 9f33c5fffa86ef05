"""`lab report diff`, also across kernels or emulator builds: each profile's cell on one kernel
against the same profile's cell on another (`--kernels K1,K2`), or each profile@kernel's cell on
one emulator build against its cell on another (`--qemu A,B`), within one run or from one run
to another.

The run diff (lab.report.history.diff) compares verdicts by cell name, so a profile on 6.12 and
the same profile on 7.2 never meet there: they are different cells. Here a cell is split into
its kernel and the rest (profile[@emulator], its *group*); the cells of a group on kernel K1
and on kernel K2 are compared verdict path by verdict path, with the accelerator kept in the
key as in the run diff (results of TCG and KVM are never compared as if they were the same).
A kernel is named as the user thinks of it: a series (6.1, 7.3-rc), a kernel name
(cloud-amd64, 7.2/cloud-amd64) or the exact release a guest reported (uname -r). The emulator
axis is the same comparison along the other coordinate: a cell's group is profile@kernel, and a
build is named by its name (system, 10.0), its QEMU version (7.2.22) or that version's
major.minor (7.2).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.model.kernel import KernelFactsError, parse_kernel_version
from lab.report import browse
from lab.report.emulators import emulator_axis, pair_of, split_cell
from lab.report.history import Change, find_run, load, verdict_key
from lab.report.results import Status

__all__ = [
    "KERNEL",
    "QEMU",
    "Axis",
    "AxisCell",
    "ProfileDiff",
    "add_arguments",
    "axis_diff",
    "command",
    "compare",
    "emulator_cells",
    "kernel_cells",
    "render",
    "select",
]

SERIES_NAME = re.compile(r"^\d+\.\d+(-rc)?$")  # as in images/recipe.yaml: 6.1, 7.3-rc


@dataclass(frozen=True)
class AxisCell:
    """One cell of a run seen from an axis (kernel or emulator): what it ran on that axis and
    what it is compared as."""

    cell: str  # the cell's name: profile@kernel[@emulator]
    group: str  # the cell without the axis' coordinate: what meets across it
    name: str  # kernel: cloud-amd64, 7.2/cloud-amd64, a user kernel; emulator: system, 10.0
    series: str  # 6.1, 7.3-rc; a QEMU version's major.minor (7.2); "" when nothing says
    releases: tuple[str, ...]  # uname -r of its guests, or its QEMU version, as recorded

    def matches(self, ref: str) -> bool:
        """Whether ``ref`` (a series, a name or a release) names this cell's kernel or build.

        "6.1/cloud-amd64" also names the default series' plain "cloud-amd64", so a kernel can
        always be given as <series>/<flavour>.
        """
        names = {self.name, self.series, *self.releases}
        if self.series and "/" not in self.name:
            names.add(f"{self.series}/{self.name}")
        return ref in names - {""}


def _releases_text(releases: Iterable[str], what: str = "release") -> str:
    """Exact releases (versions), or why there is none (no guest of the cell booted)."""
    found = list(dict.fromkeys(r for r in releases if r))
    return ", ".join(found) if found else f"{what} unknown: no guest booted"


def series_of(kernel: str, releases: Iterable[str]) -> str:
    """A kernel's series: the <series>/ of its name, else the version of a release it booted
    (6.1.0-50-cloud-amd64 → 6.1; 7.3.0-rc7-cloud-amd64 → 7.3-rc), else ""."""
    head, slash, _ = kernel.partition("/")
    if slash and SERIES_NAME.match(head):
        return head
    for release in releases:
        try:
            version = parse_kernel_version(release)
        except KernelFactsError:
            continue
        return f"{version.major}.{version.minor}" + ("-rc" if version.rc is not None else "")
    return ""


def kernel_cells(data: Mapping[str, Any]) -> list[AxisCell]:
    """Every cell of a loaded (upgraded) run, in order of appearance, with its kernel facts.

    The kernel name is the env's (what the runner booted), else the cell name's kernel part
    (a cell whose guest never booted has no env).
    """
    kernels: dict[str, str] = {}
    releases: dict[str, list[str]] = {}
    for v in data.get("verdicts") or []:
        cell, env = str(v["cell"]), v.get("env") or {}
        releases.setdefault(cell, [])
        if env.get("kernel_release"):
            releases[cell].append(str(env["kernel_release"]))
        if env.get("kernel") and env.get("accel") != "silicon":
            kernels.setdefault(cell, str(env["kernel"]))
    out = []
    for cell, seen in releases.items():
        profile, name, emulator = split_cell(cell)
        kernel = kernels.get(cell, name)
        unique = tuple(dict.fromkeys(seen))
        group = profile + (f"@{emulator}" if emulator else "")
        out.append(AxisCell(cell, group, kernel, series_of(kernel, unique), unique))
    return out


def emulator_cells(data: Mapping[str, Any]) -> list[AxisCell]:
    """Every QEMU cell of a loaded (upgraded) run, in order of appearance, with its emulator
    build and QEMU version; real machines have no emulator and are left out."""
    verdicts = data.get("verdicts") or []
    axis = emulator_axis(verdicts, data.get("guests"))
    versions: dict[str, list[str]] = {c: [] for c in axis.of}
    for v in verdicts:
        if (v.get("env") or {}).get("qemu_version"):
            versions[str(v["cell"])].append(str(v["env"]["qemu_version"]))
    for g in (data.get("guests") or {}).values():
        if g.get("cell") in versions and g.get("qemu_version"):
            versions[str(g["cell"])].append(str(g["qemu_version"]))
    out = []
    for cell, build in axis.of.items():
        if not build:
            continue
        unique = tuple(dict.fromkeys(versions[cell]))
        series = ".".join(unique[0].split(".")[:2]) if unique else ""
        out.append(AxisCell(cell, pair_of(cell), build, series, unique))
    return out


@dataclass(frozen=True)
class Axis:
    """What a diff across cells compares: the kernel or the emulator build, and its words."""

    word: str  # "kernel": what the headings and errors call one side
    plural: str  # "kernels"
    release: str  # "release": what a side's exact version is called
    prefix: str  # put before a side's versions: "" or "QEMU "
    groups: str  # what the groups are counted as: "profile(s)"
    cells: Callable[[Mapping[str, Any]], list[AxisCell]]

    def versions(self, releases: Iterable[str]) -> str:
        """A side's exact releases (QEMU versions), or why there is none."""
        found = [r for r in releases if r]
        return (self.prefix if found else "") + _releases_text(found, self.release)

    def describe(self, c: AxisCell) -> str:
        """A side as an error lists it: 'cloud-amd64 (series 6.1, 6.1.0-50-cloud-amd64)'."""
        series = f"series {c.series or '?'}, " if self.word == "kernel" else ""
        return f"{c.name} ({series}{self.versions(c.releases)})"


KERNEL = Axis("kernel", "kernels", "release", "", "profile(s)", kernel_cells)
QEMU = Axis("emulator", "emulators", "version", "QEMU ", "profile@kernel(s)", emulator_cells)


def _sides_text(cells: Iterable[AxisCell], axis: Axis) -> str:
    """The kernels (builds) a run has, for an error that must say what could have been asked
    for."""
    seen: dict[str, AxisCell] = {}
    for c in cells:
        seen.setdefault(c.name, c)
    return "; ".join(axis.describe(c) for c in seen.values())


def select(data: Mapping[str, Any], ref: str, axis: Axis | None = None) -> dict[str, AxisCell]:
    """The run's cells on kernel (or build) ``ref``, by group; LookupError (the user's error,
    with the kernels the run does have) when none is, or when one group has two cells on it."""
    axis = axis or KERNEL
    cells = axis.cells(data)
    chosen: dict[str, AxisCell] = {}
    for c in cells:
        if not c.matches(ref):
            continue
        if c.group in chosen:
            raise LookupError(
                f"{axis.word} {ref!r} names two cells of {c.group} in run {data['run_id']} "
                f"({chosen[c.group].cell}, {c.cell}): name the {axis.word} "
                f"({chosen[c.group].name} or {c.name})"
            )
        chosen[c.group] = c
    if not chosen:
        have = _sides_text(cells, axis) or "none (no verdicts)"
        raise LookupError(
            f"run {data['run_id']} has no cell on {axis.word} {ref!r}; its {axis.plural}: {have}"
        )
    return chosen


@dataclass(frozen=True)
class ProfileDiff:
    """One group (profile[@emulator], or profile@kernel across builds) on both sides; a side is
    None if it has no cell there."""

    group: str
    before: AxisCell | None
    after: AxisCell | None
    changes: tuple[Change, ...]  # keys are scenario[/path] [accel], without the cell
    # Same status on both kernels, different observation: (key, before, after) as short JSON.
    # Between versions this is the interesting part: the kernel changed and the model followed.
    observed: tuple[tuple[str, str, str], ...] = ()


OBSERVED_SHOWN = 12  # per profile; the rest are counted
OBSERVED_WIDTH = 60  # characters of each side's JSON


def _observations(data: Mapping[str, Any], cell: str) -> dict[str, str]:
    """A cell's observations (compact JSON) keyed like _statuses(); perf samples left out."""
    prefix = f"{cell}/"
    out = {}
    for v in data.get("verdicts") or []:
        if v["cell"] != cell or v.get("observed") is None:
            continue
        seen = v["observed"]
        if isinstance(seen, dict):
            seen = {k: x for k, x in seen.items() if "samples" not in k}
        out[verdict_key(v).removeprefix(prefix)] = json.dumps(seen, sort_keys=True)
    return out


def _shifts(
    before: dict[str, Status],
    after: dict[str, Status],
    seen_a: dict[str, str],
    seen_b: dict[str, str],
) -> tuple[tuple[str, str, str], ...]:
    """Paths whose status is the same on both kernels but whose observation is not."""
    return tuple(
        (k, seen_a[k], seen_b[k])
        for k in before
        if after.get(k) is before[k] and k in seen_a and k in seen_b and seen_a[k] != seen_b[k]
    )


def _statuses(data: Mapping[str, Any], cell: str) -> dict[str, Status]:
    """A cell's verdict statuses keyed by verdict path: the run diff's key minus the cell."""
    prefix = f"{cell}/"
    return {
        verdict_key(v).removeprefix(prefix): Status(v["status"])
        for v in data.get("verdicts") or []
        if v["cell"] == cell
    }


def _align(one: dict[str, Status], other: dict[str, Status]) -> dict[str, Status]:
    """``other`` with its accelerator-less keys (a verdict without env: its guest never booted,
    so nothing says on what) renamed to ``one``'s key of that path, if that is the only one:
    a boot failure on the new kernel then reads pass -> error, not gone + new."""
    out = dict(other)
    for key in other:
        bare = [k for k in one if k.split(" [", 1)[0] == key and k not in other]
        if " [" not in key and len(bare) == 1:
            out[bare[0]] = out.pop(key)
    return out


def _changes(before: dict[str, Status], after: dict[str, Status]) -> tuple[Change, ...]:
    """Verdict paths whose status differs (new and gone included), in order of appearance."""
    after = _align(before, after)
    before = _align(after, before)
    keys = dict.fromkeys([*before, *after])
    return tuple(
        Change(k, before.get(k), after.get(k)) for k in keys if before.get(k) is not after.get(k)
    )


def compare(
    a: Mapping[str, Any],
    a_cells: Mapping[str, AxisCell],
    b: Mapping[str, Any],
    b_cells: Mapping[str, AxisCell],
) -> list[ProfileDiff]:
    """Each group's cell in run a (on K1) against its cell in run b (on K2); a and b may be the
    same run. Groups on one side only are kept, with no changes: the header says so."""
    out = []
    for group in dict.fromkeys([*a_cells, *b_cells]):
        before, after = a_cells.get(group), b_cells.get(group)
        changes: tuple[Change, ...] = ()
        shifts: tuple[tuple[str, str, str], ...] = ()
        if before and after:
            st_a, st_b = _statuses(a, before.cell), _statuses(b, after.cell)
            changes = _changes(st_a, st_b)
            shifts = _shifts(
                st_a, st_b, _observations(a, before.cell), _observations(b, after.cell)
            )
        out.append(ProfileDiff(group, before, after, changes, shifts))
    return out


def _change_text(c: Change) -> str:
    """pass -> fail, new: pass, gone: was fail."""
    if c.before is None:
        return f"new: {c.after.value if c.after else '?'}"
    if c.after is None:
        return f"gone: was {c.before.value}"
    return f"{c.before.value} -> {c.after.value}"


def _profile_lines(d: ProfileDiff, k1: str, k2: str, axis: Axis) -> list[str]:
    """One group's header (its two cells and their exact releases) and its changed verdicts."""
    if d.before is None or d.after is None:
        have, missing = (d.after, k1) if d.before is None else (d.before, k2)
        assert have is not None
        only = f"only {have.cell} ({axis.versions(have.releases)})"
        return [f"{d.group}: {only}; no cell on {missing}"]
    head = f"{d.group}: {d.before.cell} ({axis.versions(d.before.releases)}) -> "
    head += f"{d.after.cell} ({axis.versions(d.after.releases)})"
    lines = [head]
    if d.changes:
        width = max(len(c.key) for c in d.changes)
        lines += [f"  {c.key:<{width}}  {_change_text(c)}" for c in d.changes]
    else:
        lines.append("  no verdict changed")
    for key, was, now in d.observed[:OBSERVED_SHOWN]:
        lines.append(f"  {key}  same status, observed {_short(was)} -> {_short(now)}")
    if len(d.observed) > OBSERVED_SHOWN:
        lines.append(f"  ... and {len(d.observed) - OBSERVED_SHOWN} more with other observations")
    return lines


def _short(text: str) -> str:
    return text if len(text) <= OBSERVED_WIDTH else text[: OBSERVED_WIDTH - 3] + "..."


def _side_text(run_id: str, ref: str, cells: Mapping[str, AxisCell], axis: Axis) -> str:
    """One side of the heading: run, kernel (build) as asked, and the exact releases it stands
    for."""
    releases = [r for c in cells.values() for r in c.releases]
    return f"run {run_id} {axis.word} {ref} ({axis.versions(releases)})"


def render(
    a_id: str,
    a_side: tuple[str, Mapping[str, AxisCell]],
    b_id: str,
    b_side: tuple[str, Mapping[str, AxisCell]],
    diffs: list[ProfileDiff],
    axis: Axis | None = None,
) -> list[str]:
    """The report: a heading with both sides' exact releases, then one block per group."""
    axis = axis or KERNEL
    (k1, a_cells), (k2, b_cells) = a_side, b_side
    lines = [f"{_side_text(a_id, k1, a_cells, axis)} -> {_side_text(b_id, k2, b_cells, axis)}"]
    for d in diffs:
        lines += _profile_lines(d, k1, k2, axis)
    changed = [d for d in diffs if d.changes]
    total = sum(len(d.changes) for d in changed)
    lines.append(f"{total} verdict(s) changed in {len(changed)} of {len(diffs)} {axis.groups}")
    return lines


def _pair(axis: Axis, metavar: str) -> Callable[[str], tuple[str, str]]:
    """--kernels K1,K2 / --qemu A,B: exactly two sides (an argparse error otherwise, never a
    traceback)."""

    def parse(text: str) -> tuple[str, str]:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2 or not all(parts):
            raise argparse.ArgumentTypeError(f"expected two {axis.plural} {metavar}, got {text!r}")
        return parts[0], parts[1]

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `lab report diff` (by run, by kernel with --kernels, by emulator build with
    --qemu)."""
    parser.add_argument("run_a", help="run id, unique prefix or 'latest'")
    parser.add_argument(
        "run_b",
        nargs="?",
        help="the other run (default: latest; with --kernels or --qemu: RUN_A itself)",
    )
    axes = parser.add_mutually_exclusive_group()
    axes.add_argument(
        "--kernels",
        type=_pair(KERNEL, "K1,K2"),
        metavar="K1,K2",
        help="compare each profile's cell on K1 (in RUN_A) with its cell on K2 (in RUN_B, or "
        "RUN_A); a kernel is a series (6.1, 7.3-rc), a kernel name (cloud-amd64, "
        "7.2/cloud-amd64) or a release (uname -r)",
    )
    axes.add_argument(
        "--qemu",
        type=_pair(QEMU, "A,B"),
        metavar="A,B",
        help="compare each profile@kernel's cell on emulator build A (in RUN_A) with its cell "
        "on B (in RUN_B, or RUN_A); a build is a name (system, 10.0), a QEMU version "
        "(7.2.22) or its major.minor (7.2)",
    )


def axis_diff(run_a: Path, run_b: Path, sides: tuple[str, str], axis: Axis) -> list[str]:
    """The lines of a diff across ``axis`` of two run directories (the same one for one run)."""
    a = load(run_a)
    b = a if run_b == run_a else load(run_b)
    k1, k2 = sides
    a_cells, b_cells = select(a, k1, axis), select(b, k2, axis)
    diffs = compare(a, a_cells, b, b_cells)
    return render(str(a["run_id"]), (k1, a_cells), str(b["run_id"]), (k2, b_cells), diffs, axis)


def kernel_diff(run_a: Path, run_b: Path, kernels: tuple[str, str]) -> list[str]:
    """The lines of a kernel diff of two run directories (the same one for one run)."""
    return axis_diff(run_a, run_b, kernels, KERNEL)


def command(reports: Path, args: argparse.Namespace, say: Callable[[str], None] = print) -> int:
    """`lab report diff`: by cell (browse.diff_runs) or, with --kernels or --qemu, across that
    axis. Exits 0 either way, as the run diff does; an unknown run, kernel or build is a
    LabError (exit 2), whose message names what the run does have."""
    qemu = getattr(args, "qemu", None)
    try:
        run_a = find_run(reports, args.run_a)
        if not args.kernels and not qemu:
            browse.diff_runs(run_a, find_run(reports, args.run_b))
            return 0
        run_b = find_run(reports, args.run_b) if args.run_b else run_a
        axis, sides = (QEMU, qemu) if qemu else (KERNEL, args.kernels)
        lines = axis_diff(run_a, run_b, sides, axis)
    except LookupError as exc:
        raise LabError(str(exc)) from None
    for line in lines:
        say(line)
    return 0
