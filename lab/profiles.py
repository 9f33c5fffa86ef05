"""CPU-vendor profiles: vendors.yaml made into typed objects the machine layer boots.

A profile is data (one YAML entry): QEMU binary, -cpu model, kernel, and what the guest must prove
it is at boot. Adding a vendor is adding YAML, not code.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lab.errors import ConfigError, SourceLocation
from lab.yamlconf import Document, load_yaml, validate

DEFAULTS: dict[str, Any] = {
    "machine": "microvm",
    "memory_mb": 256,
    "smp": 1,
    "append": [],
    "boot_timeout_s": 120.0,
    "silence_timeout_s": 60.0,
}


@dataclass(frozen=True)
class Expectation:
    """What a booted guest must show: CPUID vendor, cpuinfo flags, kernel bitness."""

    vendor: str
    kernel_bits: int
    flags: tuple[str, ...] = ()
    absent_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    """One guest configuration of the matrix."""

    name: str
    kernel: str
    qemu: str
    cpu: str
    expect: Expectation
    description: str = ""
    tags: tuple[str, ...] = ()
    machine: str = "microvm"
    memory_mb: int = 256
    smp: int = 1
    append: tuple[str, ...] = ()
    boot_timeout_s: float = 120.0
    silence_timeout_s: float = 60.0
    icount: bool = False  # QEMU -icount: guest time advances per instruction (exact costs)
    source: str = ""  # "vendors.yaml:12" — where it was defined, for error messages
    overrides: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def cpu_model(self) -> str:
        """The model name without its ,flag=value options (e.g. qemu64)."""
        return self.cpu.split(",")[0]

    def with_kernel(self, kernel: str) -> Profile:
        return replace(self, kernel=kernel, overrides={**self.overrides, "kernel": kernel})


@dataclass(frozen=True)
class MachineVariant:
    """How a scenario wants its guest booted beyond its profile; each variant is its own boot.

    icount: QEMU's deterministic instruction counting (`-icount shift=0,sleep=off`, TCG only),
    which makes the guest TSC advance per instruction so costs become exact path lengths.
    """

    icount: bool = False
    smp: int | None = None
    append: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """ "" for the profile's own machine, else e.g. "icount+smp2+nopti"."""
        parts = (["icount"] if self.icount else []) + ([f"smp{self.smp}"] if self.smp else [])
        return "+".join(parts + list(self.append))

    def apply(self, profile: Profile) -> Profile:
        return replace(
            profile,
            icount=self.icount or profile.icount,
            smp=self.smp or profile.smp,
            append=profile.append + self.append,
        )


def _profile(name: str, raw: dict[str, Any], defaults: dict[str, Any], where: str) -> Profile:
    merged = {**DEFAULTS, **defaults, **raw}
    e = merged["expect"]
    return Profile(
        name=name,
        kernel=str(merged["kernel"]),
        qemu=merged["qemu"],
        cpu=merged["cpu"],
        expect=Expectation(
            vendor=e["vendor"],
            kernel_bits=int(e["kernel_bits"]),
            flags=tuple(e.get("flags", ())),
            absent_flags=tuple(e.get("absent_flags", ())),
        ),
        description=merged.get("description", ""),
        tags=tuple(merged.get("tags", ())),
        machine=merged["machine"],
        memory_mb=int(merged["memory_mb"]),
        smp=int(merged["smp"]),
        append=tuple(merged["append"]),
        boot_timeout_s=float(merged["boot_timeout_s"]),
        silence_timeout_s=float(merged["silence_timeout_s"]),
        source=where,
    )


def _check_semantics(doc: Document) -> None:
    """Rules a schema cannot say: contradictory flags, microvm on qemu-system-i386 for 64-bit."""
    for name, raw in doc.data["profiles"].items():
        exp = raw["expect"]
        both = set(exp.get("flags", ())) & set(exp.get("absent_flags", ()))
        if both:
            raise doc.error(
                ("profiles", name, "expect"),
                f"profile {name}: flags both required and absent: {sorted(both)}",
            )
        if raw["qemu"] == "qemu-system-i386" and exp["kernel_bits"] == 64:
            raise doc.error(
                ("profiles", name, "qemu"),
                f"profile {name}: qemu-system-i386 cannot boot a 64-bit kernel",
            )


def load_profiles(path: Path) -> dict[str, Profile]:
    """Load and validate vendors.yaml; every error names the file and line."""
    doc = load_yaml(path)
    if doc.data is None:
        raise ConfigError(doc.location(()), "empty file: expected a 'profiles' mapping")
    validate(doc, "vendors")
    _check_semantics(doc)
    defaults = doc.data.get("defaults", {})
    profiles = {}
    for name, raw in doc.data["profiles"].items():
        loc = doc.location(("profiles", name))
        profiles[name] = _profile(name, raw, defaults, f"{loc.path.name}:{loc.line}")
    return profiles


def select(profiles: dict[str, Profile], wanted: list[str] | None, origin: str) -> list[Profile]:
    """Profiles by name or tag ("all" or None: every profile tagged default, else all)."""
    if not wanted or wanted == ["all"]:
        tagged = [p for p in profiles.values() if "default" in p.tags]
        return tagged or list(profiles.values())
    chosen: dict[str, Profile] = {}
    for item in wanted:
        matches = [p for p in profiles.values() if p.name == item or item in p.tags]
        if not matches:
            raise ConfigError(
                SourceLocation(Path(origin)),
                f"no profile or tag named {item!r} (profiles: {', '.join(profiles)})",
            )
        for p in matches:
            chosen[p.name] = p
    return list(chosen.values())
