"""`lab report diff`, also across kernels: each profile's cell on one kernel against the same
profile's cell on another, within one run or from one run to another.

The run diff (lab.report.history.diff) compares verdicts by cell name, so a profile on 6.12 and
the same profile on 7.2 never meet there: they are different cells. Here a cell is split into
its kernel and the rest (profile[@emulator], its *group*); the cells of a group on kernel K1
and on kernel K2 are compared verdict path by verdict path, with the accelerator kept in the
key as in the run diff (results of TCG and KVM are never compared as if they were the same).
A kernel is named as the user thinks of it: a series (6.1, 7.3-rc), a kernel name
(cloud-amd64, 7.2/cloud-amd64) or the exact release a guest reported (uname -r).
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
from lab.report.history import Change, find_run, load, verdict_key
from lab.report.results import Status

__all__ = [
    "KernelCell",
    "ProfileDiff",
    "add_arguments",
    "command",
    "compare",
    "kernel_cells",
    "render",
    "select",
]

SERIES_NAME = re.compile(r"^\d+\.\d+(-rc)?$")  # as in images/recipe.yaml: 6.1, 7.3-rc


@dataclass(frozen=True)
class KernelCell:
    """One cell of a run seen from the kernel axis: what it ran and what it is compared as."""

    cell: str  # the cell's name: profile@kernel[@emulator]
    group: str  # the cell without its kernel (profile[@emulator]): what meets across kernels
    kernel: str  # the kernel's name: cloud-amd64, 7.2/cloud-amd64, a user kernel, silicon
    series: str  # 6.1, 7.2, 7.3-rc; "" when neither the name nor a release says
    releases: tuple[str, ...]  # uname -r of its guests, as its verdicts recorded them

    def matches(self, ref: str) -> bool:
        """Whether ``ref`` (a series, a kernel name or a release) names this cell's kernel.

        "6.1/cloud-amd64" also names the default series' plain "cloud-amd64", so a kernel can
        always be given as <series>/<flavour>.
        """
        names = {self.kernel, self.series, *self.releases}
        if self.series and "/" not in self.kernel:
            names.add(f"{self.series}/{self.kernel}")
        return ref in names - {""}

    @property
    def label(self) -> str:
        """The kernel as a header shows it: its name and exact release(s)."""
        return f"{self.kernel} ({_releases_text(self.releases)})"


def _releases_text(releases: Iterable[str]) -> str:
    """Exact releases, or why there is none (no guest of the cell booted)."""
    found = list(dict.fromkeys(r for r in releases if r))
    return ", ".join(found) if found else "release unknown: no guest booted"


def _split_cell(cell: str) -> tuple[str, str, str]:
    """(profile, kernel, emulator) of a cell name; profile and kernel names hold no '@'."""
    profile, kernel, emulator = [*cell.split("@", 2), "", ""][:3]
    return profile, kernel, emulator


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


def kernel_cells(data: Mapping[str, Any]) -> list[KernelCell]:
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
        profile, name, emulator = _split_cell(cell)
        kernel = kernels.get(cell, name)
        unique = tuple(dict.fromkeys(seen))
        group = profile + (f"@{emulator}" if emulator else "")
        out.append(KernelCell(cell, group, kernel, series_of(kernel, unique), unique))
    return out


def _kernels_text(cells: Iterable[KernelCell]) -> str:
    """The kernels a run has, for an error that must say what could have been asked for."""
    seen: dict[str, KernelCell] = {}
    for c in cells:
        seen.setdefault(c.kernel, c)
    return "; ".join(
        f"{c.kernel} (series {c.series or '?'}, {_releases_text(c.releases)})"
        for c in seen.values()
    )


def select(data: Mapping[str, Any], ref: str) -> dict[str, KernelCell]:
    """The run's cells on kernel ``ref``, by group; LookupError (the user's error, with the
    kernels the run does have) when none is, or when one group has two cells on it."""
    cells = kernel_cells(data)
    chosen: dict[str, KernelCell] = {}
    for c in cells:
        if not c.matches(ref):
            continue
        if c.group in chosen:
            raise LookupError(
                f"kernel {ref!r} names two cells of {c.group} in run {data['run_id']} "
                f"({chosen[c.group].cell}, {c.cell}): name the kernel "
                f"({chosen[c.group].kernel} or {c.kernel})"
            )
        chosen[c.group] = c
    if not chosen:
        have = _kernels_text(cells) or "none (no verdicts)"
        raise LookupError(
            f"run {data['run_id']} has no cell on kernel {ref!r}; its kernels: {have}"
        )
    return chosen


@dataclass(frozen=True)
class ProfileDiff:
    """One group (profile[@emulator]) on both kernels; a side is None if it has no cell there."""

    group: str
    before: KernelCell | None
    after: KernelCell | None
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
    a_cells: Mapping[str, KernelCell],
    b: Mapping[str, Any],
    b_cells: Mapping[str, KernelCell],
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


def _profile_lines(d: ProfileDiff, k1: str, k2: str) -> list[str]:
    """One group's header (its two cells and their exact releases) and its changed verdicts."""
    if d.before is None or d.after is None:
        have, missing = (d.after, k1) if d.before is None else (d.before, k2)
        assert have is not None
        return [
            f"{d.group}: only {have.cell} ({_releases_text(have.releases)}); no cell on {missing}"
        ]
    head = f"{d.group}: {d.before.cell} ({_releases_text(d.before.releases)}) -> "
    head += f"{d.after.cell} ({_releases_text(d.after.releases)})"
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


def _side_text(run_id: str, ref: str, cells: Mapping[str, KernelCell]) -> str:
    """One side of the heading: run, kernel as asked, and the exact releases it stands for."""
    releases = (r for c in cells.values() for r in c.releases)
    return f"run {run_id} kernel {ref} ({_releases_text(releases)})"


def render(
    a_id: str,
    a_side: tuple[str, Mapping[str, KernelCell]],
    b_id: str,
    b_side: tuple[str, Mapping[str, KernelCell]],
    diffs: list[ProfileDiff],
) -> list[str]:
    """The report: a heading with both kernels' exact releases, then one block per group."""
    (k1, a_cells), (k2, b_cells) = a_side, b_side
    lines = [f"{_side_text(a_id, k1, a_cells)} -> {_side_text(b_id, k2, b_cells)}"]
    for d in diffs:
        lines += _profile_lines(d, k1, k2)
    changed = [d for d in diffs if d.changes]
    total = sum(len(d.changes) for d in changed)
    lines.append(f"{total} verdict(s) changed in {len(changed)} of {len(diffs)} profile(s)")
    return lines


def _kernel_pair(text: str) -> tuple[str, str]:
    """--kernels K1,K2: exactly two kernels (an argparse error otherwise, never a traceback)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected two kernels K1,K2, got {text!r}")
    return parts[0], parts[1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `lab report diff` (by run, or by kernel with --kernels)."""
    parser.add_argument("run_a", help="run id, unique prefix or 'latest'")
    parser.add_argument(
        "run_b", nargs="?", help="the other run (default: latest; with --kernels: RUN_A itself)"
    )
    parser.add_argument(
        "--kernels",
        type=_kernel_pair,
        metavar="K1,K2",
        help="compare each profile's cell on K1 (in RUN_A) with its cell on K2 (in RUN_B, or "
        "RUN_A); a kernel is a series (6.1, 7.3-rc), a kernel name (cloud-amd64, "
        "7.2/cloud-amd64) or a release (uname -r)",
    )


def kernel_diff(run_a: Path, run_b: Path, kernels: tuple[str, str]) -> list[str]:
    """The lines of a kernel diff of two run directories (the same one for one run)."""
    a = load(run_a)
    b = a if run_b == run_a else load(run_b)
    k1, k2 = kernels
    a_cells, b_cells = select(a, k1), select(b, k2)
    diffs = compare(a, a_cells, b, b_cells)
    return render(str(a["run_id"]), (k1, a_cells), str(b["run_id"]), (k2, b_cells), diffs)


def command(reports: Path, args: argparse.Namespace, say: Callable[[str], None] = print) -> int:
    """`lab report diff`: by cell (browse.diff_runs) or, with --kernels, by kernel. Exits 0
    either way, as the run diff does; an unknown run or kernel is a LabError (exit 2), whose
    message names what the run does have."""
    try:
        run_a = find_run(reports, args.run_a)
        if not args.kernels:
            browse.diff_runs(run_a, find_run(reports, args.run_b))
            return 0
        run_b = find_run(reports, args.run_b) if args.run_b else run_a
        lines = kernel_diff(run_a, run_b, args.kernels)
    except LookupError as exc:
        raise LabError(str(exc)) from None
    for line in lines:
        say(line)
    return 0
