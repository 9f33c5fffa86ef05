"""Who a guest says it is: the agent's READY line (CPUID, /proc/cpuinfo, auxv), checked
against what its profile promises. Untrusted guest output: every field is checked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lab.config.profiles import Profile


@dataclass(frozen=True)
class GuestIdentity:
    """Who the guest says it is, from the agent's READY line (CPUID, /proc/cpuinfo, auxv)."""

    vendor: str
    family: int
    model: int
    stepping: int
    brand: str
    cpuinfo_vendor: str
    model_name: str
    flags: frozenset[str]
    kernel_release: str
    kernel_version: str
    machine: str
    at_sysinfo: int
    at_sysinfo_ehdr: int
    vdso_start: int
    vdso_end: int
    nprocs: int
    raw: dict[str, Any] = field(compare=False)

    @property
    def kernel_bits(self) -> int:
        return 64 if self.machine == "x86_64" else 32

    @staticmethod
    def parse(text: str) -> GuestIdentity:
        """Parse the READY JSON; untrusted guest output, so every field is checked."""
        try:
            raw = json.loads(text)
            return GuestIdentity(
                vendor=str(raw["vendor"]),
                family=int(raw["family"]),
                model=int(raw["model"]),
                stepping=int(raw["stepping"]),
                brand=str(raw["brand"]).strip(),
                cpuinfo_vendor=str(raw["cpuinfo_vendor"]),
                model_name=str(raw["cpuinfo_model_name"]),
                flags=frozenset(str(raw["cpuinfo_flags"]).split()),
                kernel_release=str(raw["kernel_release"]),
                kernel_version=str(raw["kernel_version"]),
                machine=str(raw["machine"]),
                at_sysinfo=int(raw["at_sysinfo"]),
                at_sysinfo_ehdr=int(raw["at_sysinfo_ehdr"]),
                vdso_start=int(raw["vdso_start"]),
                vdso_end=int(raw["vdso_end"]),
                nprocs=int(raw["nprocs"]),
                raw=raw,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"malformed READY line from guest agent: {exc}: {text[:200]!r}"
            ) from None

    def mismatches(self, profile: Profile) -> list[str]:
        """Every way this guest differs from what its profile promises."""
        exp = profile.expect
        problems = []
        # A real machine's profile may leave vendor ("") and bitness (0) to the machine.
        if exp.vendor and self.vendor != exp.vendor:
            problems.append(f"CPUID vendor is {self.vendor!r}, profile expects {exp.vendor!r}")
        if exp.kernel_bits and self.kernel_bits != exp.kernel_bits:
            problems.append(
                f"kernel is {self.kernel_bits}-bit ({self.machine}), profile expects "
                f"{exp.kernel_bits}-bit"
            )
        missing = sorted(set(exp.flags) - self.flags)
        if missing:
            problems.append(f"cpuinfo lacks flags {missing}")
        present = sorted(set(exp.absent_flags) & self.flags)
        if present:
            problems.append(f"cpuinfo has flags the profile says are absent: {present}")
        return problems
