"""Verdicts: what one scenario on one cell (and one call path) came to, and on what it ran.

Every verdict carries its environment (kernel, QEMU version, accelerator, CPU model), because
results from different accelerators or kernels must never be mixed up in a matrix or a trend.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Status(enum.Enum):
    PASS = "pass"
    FAIL = "fail"  # the guest disagrees with the expectation (model or explicit)
    DIVERGENCE = "divergence"  # the emulator does what real silicon would not: a finding
    ERROR = "error"  # the lab or the guest broke (panic, hang, QEMU died, bad output)
    SKIP = "skip"  # not applicable here, with the reason
    XFAIL = "xfail"  # expected failure: a recorded known artefact (cause and evidence kept)
    XPASS = "xpass"  # an expected failure now passes: the artefact is gone, update expectations
    FLAKY = "flaky"  # re-runs on fresh boots disagreed (k of n bad); every attempt is kept

    @property
    def bad(self) -> bool:
        return self in (Status.FAIL, Status.ERROR, Status.DIVERGENCE, Status.XPASS, Status.FLAKY)

    @property
    def needs_confirming(self) -> bool:
        """Outcomes the runner re-runs on a fresh boot before reporting them (flaky or not)."""
        return self in (Status.FAIL, Status.ERROR, Status.DIVERGENCE)


class Cause(enum.Enum):
    """Why a verdict is not a pass: the cause class every non-pass verdict carries."""

    KERNEL = "kernel"  # the guest kernel (or its selftest) does it, on every emulator and silicon
    EMULATOR = "emulator"  # the emulator acts unlike silicon (tested on other emulator builds)
    CONFIGURATION = "configuration"  # the profile, CPU model or kernel config makes it so
    LAB = "lab"  # the lab itself broke (its programs, its model, its transport)
    UNKNOWN = "unknown"  # not attributed yet (a race, a flaky result, a new failure)


# The order a matrix cell shows when a scenario has several verdicts (worst first); a cell with
# passes and skips reads "pass" (the skips are in the details), one with only skips "skip".
SEVERITY = [
    Status.ERROR,
    Status.FAIL,
    Status.XPASS,
    Status.DIVERGENCE,
    Status.FLAKY,
    Status.XFAIL,
    Status.PASS,
    Status.SKIP,
]


def worst(statuses: list[Status]) -> Status:
    return min(statuses, key=SEVERITY.index) if statuses else Status.SKIP


@dataclass(frozen=True)
class Environment:
    """What a verdict ran on."""

    profile: str
    kernel: str  # kernel name (recipe) or user path
    kernel_origin: str  # debian:<package>=<version> or user:<path>
    kernel_release: str  # uname -r in the guest
    qemu: str
    qemu_version: str
    accel: str  # tcg or kvm
    cpu_model: str  # the -cpu argument
    machine_type: str  # microvm, pc, q35
    vendor: str  # CPUID vendor the guest reported
    kernel_bits: int
    variant: str = ""  # machine variant of the scenario ("icount", "smp2+nopti"), "" for default
    cell: str = ""  # the cell's name (lab.engine.cell.Cell.name); "" in schema-1 reports
    emulator: str = ""  # emulator build name ("system"); "" on real machines
    target: str = "qemu"  # lab.targets.base.TargetKind
    transport: str = "console"  # lab.targets.base.Transport

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Verdict:
    """One row of the report: cell x scenario (x call path)."""

    profile: str
    scenario: str
    status: Status
    message: str = ""
    path: str | None = None  # call path / sub-test, when a scenario reports several
    observed: Any = None
    predicted: Any = None
    excerpt: str = ""  # console lines around a panic/oops, or the guest's output
    kernel_faults: list[str] = field(default_factory=list)
    seconds: float = 0.0
    env: Environment | None = None
    suite: str = ""
    cell: str = ""  # the cell (profile@kernel[@emulator]) it ran on; "" in schema-1 reports
    error_kind: str = ""  # status error: lab.errors.ErrorKind value
    cause: str = ""  # non-pass: a Cause value (lab.engine.attribution); "" for a pass
    evidence: list[str] = field(default_factory=list)  # why that cause: rules, sources, runs
    # Every run of this verdict on fresh boots when it was re-run (lab.engine.confirm), first
    # first: {"status", "message", "excerpt", "boot"}; [] when it ran once.
    attempts: list[dict[str, Any]] = field(default_factory=list)
    # The same scenario on the cell's other emulator builds (and machines), for attribution:
    # {"emulator", "qemu_version", "status", "message", "cell"}.
    elsewhere: list[dict[str, Any]] = field(default_factory=list)
    attribution: str = ""  # one line: "seen on 7.2.22; gone on 10.0.2"

    @property
    def tally(self) -> str:
        """'k of n bad' when re-run, else ''."""
        if not self.attempts:
            return ""
        bad = sum(Status(a["status"]).needs_confirming for a in self.attempts)
        return f"{bad} of {len(self.attempts)} bad"

    @property
    def key(self) -> str:
        """cell/scenario[/path]: what identifies a verdict within a run."""
        where = self.cell or self.profile
        return f"{where}/{self.scenario}" + (f"/{self.path}" if self.path else "")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        out["env"] = self.env.to_json() if self.env else None
        return out

    @staticmethod
    def from_json(data: dict[str, Any]) -> Verdict:
        """A verdict of any schema version; a schema-1 one gets its cell derived from its env
        (lab.report.compat.verdict_cell; upgrade a whole report first to use its guests)."""
        from lab.report.compat import verdict_cell  # compat -> lab.engine.cell -> this module

        env = Environment(**data["env"]) if data.get("env") else None
        fields = {k: v for k, v in data.items() if k not in ("status", "env", "cell")}
        cell = verdict_cell(data)
        return Verdict(status=Status(data["status"]), env=env, cell=cell, **fields)
