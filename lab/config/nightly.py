"""The nightly's tiers (vendors.yaml `nightly:`): which suites run on which kernel series by
default, as data. `lab nightly` with no --profiles/--scenarios/--kernels runs these tiers on the
default profiles; `lab run` can ask for any other slice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.config.yamlconf import load_yaml, validate
from lab.errors import ConfigError


@dataclass(frozen=True)
class Tier:
    """Kernels × suites: each kernel of the tier runs these suites (or scenarios)."""

    kernels: tuple[str, ...]
    suites: tuple[str, ...]  # suite or scenario names; "all": every suite
    source: str = ""  # vendors.yaml:LINE

    def allows(self, suite: str, scenario: str) -> bool:
        return "all" in self.suites or suite in self.suites or scenario in self.suites


def load_tiers(path: Path) -> tuple[Tier, ...]:
    """The `nightly:` section, validated; () if there is none. A kernel in two tiers is an
    error (which suites would it run?), located at the second."""
    doc = load_yaml(path)
    if doc.data is None:
        return ()
    validate(doc, "vendors")
    tiers = []
    seen: dict[str, str] = {}
    for i, raw in enumerate(doc.data.get("nightly", [])):
        loc = doc.location(("nightly", i))
        where = f"{loc.path.name}:{loc.line}"
        for j, kernel in enumerate(raw["kernels"]):
            if kernel in seen:
                raise ConfigError(
                    doc.location(("nightly", i, "kernels", j)),
                    f"kernel {kernel!r} is in two nightly tiers (first at {seen[kernel]})",
                )
            seen[kernel] = where
        tiers.append(Tier(tuple(raw["kernels"]), tuple(raw["suites"]), where))
    return tuple(tiers)
