"""CPU-vendor profiles: vendors.yaml made into typed objects the machine layer boots.

A profile is data (one YAML entry): QEMU binary, -cpu model, kernel, and what the guest must prove
it is at boot. Adding a vendor is adding YAML, not code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast

from lab.config.yamlconf import Document, load_yaml, validate
from lab.errors import ConfigError, SourceLocation

DEFAULTS: dict[str, Any] = {
    "machine": "microvm",
    "memory_mb": 256,
    "smp": 1,
    "append": [],
    "boot_timeout_s": 120.0,
    "silence_timeout_s": 60.0,
}


# Closed sets of vendors.yaml (its schema enforces them): the kind of a profile, and the
# transports (lab.targets.base.Transport has the same values).
ProfileKind = Literal["qemu", "ssh"]
TransportName = Literal["console", "ssh"]


@dataclass(frozen=True)
class Expectation:
    """What a booted guest must show: CPUID vendor, cpuinfo flags, kernel bitness."""

    vendor: str
    kernel_bits: int
    flags: tuple[str, ...] = ()
    absent_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class SshTarget:
    """A machine reached over SSH: address, login, key, and its pinned host key."""

    host: str
    port: int
    user: str
    key: Path  # the lab's private key for this machine
    host_key: str  # "ssh-ed25519 AAAA...": any other key is refused

    @property
    def where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


@dataclass(frozen=True)
class LabHost:
    """Another machine that runs QEMU guests for this lab (`lab run --hosts`)."""

    name: str
    ssh: SshTarget
    path: str  # where the checkout is copied there
    python: str  # the Python with the lab's dependencies there
    jobs: int | None = None
    source: str = ""


@dataclass(frozen=True)
class Profile:
    """One guest configuration of the matrix.

    kind "qemu" (the default) boots a guest; kind "ssh" is a real machine reached over SSH
    (`ssh`), where the guest programs are deployed and run as they are (no qemu, cpu, kernel).
    """

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
    kind: ProfileKind = "qemu"  # or "ssh": a real machine
    transport: TransportName | None = None  # None: SSH when the images have it
    ssh: SshTarget | None = None  # kind ssh: the machine
    workdir: str = "/tmp"  # kind ssh: where the deploy directory is made

    @property
    def is_remote(self) -> bool:
        """A real machine over SSH, not a QEMU guest."""
        return self.kind == "ssh"

    @property
    def cpu_model(self) -> str:
        """The model name without its ,flag=value options (e.g. qemu64)."""
        return self.cpu.split(",")[0]

    def with_kernel(self, kernel: str) -> Profile:
        return replace(self, kernel=kernel)


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


def _ssh_target(raw: dict[str, Any], base: Path) -> SshTarget:
    return SshTarget(
        host=str(raw["host"]),
        port=int(raw.get("port", 22)),
        user=str(raw["user"]),
        key=(base / Path(str(raw["key"])).expanduser()).resolve(),
        host_key=str(raw["host_key"]),
    )


def _remote_profile(name: str, raw: dict[str, Any], where: str, base: Path) -> Profile:
    e = raw.get("expect", {})
    return Profile(
        name=name,
        kernel="",
        qemu="",
        cpu="",
        expect=Expectation(
            vendor=e.get("vendor", ""),
            kernel_bits=int(e.get("kernel_bits", 0)),
            flags=tuple(e.get("flags", ())),
            absent_flags=tuple(e.get("absent_flags", ())),
        ),
        description=raw.get("description", ""),
        tags=tuple(raw.get("tags", ())),
        machine="silicon",
        boot_timeout_s=float(raw.get("boot_timeout_s", 60.0)),
        source=where,
        kind="ssh",
        transport="ssh",
        ssh=_ssh_target(raw, base),
        workdir=str(raw.get("workdir", "/tmp")),
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
        transport=cast(TransportName | None, merged.get("transport")),  # schema-checked
    )


def _check_semantics(doc: Document) -> None:
    """Rules a schema cannot say: contradictory flags, microvm on qemu-system-i386 for 64-bit."""
    for name, raw in doc.data["profiles"].items():
        if raw.get("kind") == "ssh":
            continue
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
        where = f"{loc.path.name}:{loc.line}"
        if raw.get("kind") == "ssh":
            profiles[name] = _remote_profile(name, raw, where, path.parent)
        else:
            profiles[name] = _profile(name, raw, defaults, where)
    return profiles


def load_hosts(path: Path) -> dict[str, LabHost]:
    """The `hosts:` section of vendors.yaml: lab hosts that run QEMU for `lab run --hosts`."""
    doc = load_yaml(path)
    if doc.data is None:
        return {}
    validate(doc, "vendors")
    hosts = {}
    for name, raw in doc.data.get("hosts", {}).items():
        loc = doc.location(("hosts", name))
        path_there = str(raw["path"])
        hosts[name] = LabHost(
            name=name,
            ssh=_ssh_target(raw, path.parent),
            path=path_there,
            python=str(raw.get("python", f"{path_there.rstrip('/')}/.venv/bin/python")),
            jobs=raw.get("jobs"),
            source=f"{loc.path.name}:{loc.line}",
        )
    return hosts


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
