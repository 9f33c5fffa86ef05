"""Scenario suites: scenarios/*.yaml made into typed objects, validated before anything runs.

A scenario collects something from a guest (a guest program's output, or the vDSO image) and
names a host-side check that turns it into verdicts, against the entry model (`expect: model`) or
explicit values. Nothing runs when any file is invalid.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.config.profiles import MachineVariant, Profile
from lab.config.yamlconf import Document, load_yaml, validate
from lab.dirs import guest_sources
from lab.errors import ConfigError, ConfigErrors, SourceLocation

DEFAULT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Scenario:
    name: str
    suite: str
    check: str
    program: str | None = None
    args: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ("all",)
    timeout_s: float = DEFAULT_TIMEOUT_S
    expect: str | dict[str, Any] = "model"
    description: str = ""
    needs: tuple[str, ...] = ()  # initramfs layers (a suite's LAYERS) the program needs
    machine: MachineVariant = field(default_factory=MachineVariant)  # its own boot if not default
    source: str = ""  # file:line of its definition

    def applies_to(self, profile: Profile) -> bool:
        if "all" in self.profiles:
            return True
        return any(p == profile.name or p in profile.tags for p in self.profiles)


def _scenario(suite: str, name: str, raw: dict[str, Any], where: str) -> Scenario:
    return Scenario(
        name=name,
        suite=suite,
        check=raw["check"],
        program=raw.get("program"),
        args=tuple(str(a) for a in raw.get("args", ())),
        profiles=tuple(raw.get("profiles", ("all",))),
        timeout_s=float(raw.get("timeout_s", DEFAULT_TIMEOUT_S)),
        expect=raw.get("expect", "model"),
        description=raw.get("description", ""),
        needs=tuple(raw.get("needs", ())),
        machine=MachineVariant(
            icount=bool(raw.get("machine", {}).get("icount", False)),
            smp=raw.get("machine", {}).get("smp"),
            append=tuple(raw.get("machine", {}).get("append", ())),
        ),
        source=where,
    )


def _check_references(doc: Document, known_checks: set[str], profiles: dict[str, Profile]) -> None:
    """Checks, programs and profile names must exist; say which and suggest the near miss."""
    tags = {t for p in profiles.values() for t in p.tags}
    names = set(profiles) | tags | {"all"}
    programs = {p.stem for p in guest_sources().glob("*.c")}
    for sname, raw in doc.data["scenarios"].items():
        at = ("scenarios", sname)
        if raw["check"] not in known_checks:
            message = _unknown("check", raw["check"], known_checks)
            broken = [
                f"lab/suites/{m}.py ({err.splitlines()[0]})" for m, err in _broken_suites().items()
            ]
            if broken:
                message += "; these suite modules failed to import: " + ", ".join(broken)
            raise doc.error((*at, "check"), message)
        program = raw.get("program")
        if program is not None and program not in programs:
            raise doc.error(
                (*at, "program"),
                _unknown("guest program", program, programs) + " (programs are lab/guest/<name>.c)",
            )
        layers = _known_layers()
        for i, layer in enumerate(raw.get("needs", ())):
            if layer not in layers:
                raise doc.error((*at, "needs", i), _unknown("initramfs layer", layer, layers))
        for i, item in enumerate(raw.get("profiles", ())):
            if item not in names:
                raise doc.error((*at, "profiles", i), _unknown("profile or tag", item, names))


def _known_layers() -> set[str]:
    """The initramfs layers the suites offer (`needs:`)."""
    # TODO(issue 13): the known layer names as an argument of load_all, from the suites' LAYERS
    # the plan uses. Imported here, not at the top: lab.suites imports lab.checks imports this.
    try:
        from lab.suites.kselftest import LAYERS
    except Exception:  # a suite that fails to import offers no layer (lab.suites.BROKEN: why)
        return set()
    return set(LAYERS)


def _broken_suites() -> dict[str, str]:
    # Imported here, not at the top: the suite modules import lab.checks, which imports us.
    from lab.suites import BROKEN

    return BROKEN


def _unknown(what: str, value: str, known: set[str]) -> str:
    hint = difflib.get_close_matches(value, sorted(known), n=1)
    return f"unknown {what} {value!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")


def load_suite(path: Path, known_checks: set[str], profiles: dict[str, Profile]) -> list[Scenario]:
    doc = load_yaml(path)
    if doc.data is None:
        raise ConfigError(doc.location(()), "empty file: expected 'suite' and 'scenarios'")
    validate(doc, "scenarios")
    _check_references(doc, known_checks, profiles)
    suite = doc.data["suite"]
    out = []
    for name, raw in doc.data["scenarios"].items():
        loc = doc.location(("scenarios", name))
        out.append(_scenario(suite, name, raw, f"{path.name}:{loc.line}"))
    return out


def load_all(
    directory: Path, known_checks: set[str], profiles: dict[str, Profile]
) -> list[Scenario]:
    """Every suite in scenarios/; all errors of all files reported together; names unique."""
    scenarios: list[Scenario] = []
    errors: list[ConfigError] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            scenarios.extend(load_suite(path, known_checks, profiles))
        except ConfigErrors as exc:
            errors.extend(exc.errors)
        except ConfigError as exc:
            errors.append(exc)
    seen: dict[str, Scenario] = {}
    for s in scenarios:
        if s.name in seen:
            errors.append(
                ConfigError(
                    _loc(directory, s.source),
                    f"scenario {s.name!r} is defined twice (first at {seen[s.name].source})",
                )
            )
        seen.setdefault(s.name, s)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ConfigErrors(errors)
    return scenarios


def _loc(directory: Path, source: str) -> SourceLocation:
    name, _, line = source.partition(":")
    return SourceLocation(directory / name, int(line) if line.isdigit() else None)


def select(scenarios: list[Scenario], wanted: list[str] | None) -> list[Scenario]:
    """By scenario name or suite name; None means all."""
    if not wanted:
        return scenarios
    chosen: list[Scenario] = []
    for item in wanted:
        matches = [s for s in scenarios if s.name == item or s.suite == item]
        if not matches:
            known = {s.name for s in scenarios} | {s.suite for s in scenarios}
            raise ConfigError(
                SourceLocation(Path("--scenarios")), _unknown("scenario or suite", item, known)
            )
        chosen.extend(m for m in matches if m not in chosen)
    return chosen
