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

    @property
    def bad(self) -> bool:
        return self in (Status.FAIL, Status.ERROR, Status.DIVERGENCE, Status.XPASS)


# The order a matrix cell shows when a scenario has several verdicts (worst first); a cell with
# passes and skips reads "pass" (the skips are in the details), one with only skips "skip".
SEVERITY = [
    Status.ERROR,
    Status.FAIL,
    Status.XPASS,
    Status.DIVERGENCE,
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
