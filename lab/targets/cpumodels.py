"""Which CPU model a -cpu name really is on one QEMU build and machine type.

An unversioned name (EPYC) is an alias that QEMU resolves per machine type, and newer QEMU
resolves it to a newer version on microvm (EPYC is EPYC-v3 on 7.2, EPYC-v4 on 10.0, with more
CPUID features). QMP's query-cpu-definitions says what each alias is (`alias-of`) for the
machine QEMU was started with; the lab asks once per (binary, machine) and pins a profile's
model on another build to the version the host's QEMU gives it, so a profile is the same CPU
on every emulator.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from functools import cache

QUERY = '{"execute":"qmp_capabilities"}\n{"execute":"query-cpu-definitions"}\n{"execute":"quit"}\n'


def base_model(cpu: str) -> str:
    """The model of a -cpu argument without its ,flag options (qemu64,vendor=X → qemu64)."""
    return cpu.split(",", 1)[0]


def parse_definitions(lines: str) -> dict[str, str]:
    """name → what it is (alias-of, else itself) from QMP's replies, one JSON per line."""
    for line in lines.splitlines():
        try:
            reply = json.loads(line)
        except ValueError:
            continue
        if isinstance(reply, dict) and isinstance(reply.get("return"), list):
            return {
                str(c["name"]): str(c.get("alias-of") or c["name"])
                for c in reply["return"]
                if isinstance(c, dict) and "name" in c
            }
    return {}


def _ask(argv: tuple[str, ...], env: tuple[tuple[str, str], ...], stdin: str = "") -> str:
    """What a QEMU build prints for these arguments ("" if it cannot be started in time)."""
    try:
        return subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": "/usr/bin:/bin", **dict(env)},
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


@cache
def _definitions(argv: tuple[str, ...], env: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return parse_definitions(_ask(argv, env, QUERY))


def definitions(
    binary: str, machine: str, args: tuple[str, ...] = (), env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every CPU model of a QEMU build on a machine type, name → the model it resolves to
    ({} if QEMU cannot say). Starts QEMU paused (-S), asks QMP, quits: no guest runs."""
    argv = (binary, *args, "-M", machine, "-nodefaults", "-display", "none", "-S")
    argv += ("-accel", "tcg", "-qmp", "stdio")
    return _definitions(argv, tuple(sorted((env or {}).items())))


def resolved(cpu: str, models: Mapping[str, str]) -> str:
    """The -cpu argument with its model resolved (EPYC → EPYC-v3; flags kept; unknown: as is)."""
    model, sep, flags = cpu.partition(",")
    return models.get(model, model) + sep + flags


def pinned(cpu: str, reference: Mapping[str, str], target: Mapping[str, str]) -> tuple[str, str]:
    """The -cpu argument for the target build: the model the reference (host) QEMU resolves
    it to, if the target has that version; and "" or why the profile's CPU cannot be pinned."""
    want = resolved(cpu, reference)
    if base_model(want) in target:
        return want, ""
    return cpu, (
        f"CPU model {base_model(cpu)} could not be pinned: "
        + (f"this build has no {base_model(want)}" if reference else "the host's QEMU did not say")
    )


ALIAS = re.compile(r"^(\S+)\s.*\(alias of (\S+)\)\s*$")


def parse_machines(text: str) -> dict[str, str]:
    """name → what it is from `-M help` ("pc ... (alias of pc-i440fx-7.2)"; others: itself)."""
    out: dict[str, str] = {}
    for line in text.splitlines()[1:]:  # the first line is "Supported machines are:"
        m = ALIAS.match(line)
        if m:
            out[m.group(1)] = m.group(2)
        elif line.strip():
            out[line.split()[0]] = line.split()[0]
    return out


@cache
def machines(
    binary: str, args: tuple[str, ...] = (), env: tuple[tuple[str, str], ...] = ()
) -> dict[str, str]:
    """Every machine type of a QEMU build, name → the versioned type it is ({} if it cannot
    say)."""
    return parse_machines(_ask((binary, *args, "-M", "help"), env))


def pinned_machine(
    name: str, reference: Mapping[str, str], target: Mapping[str, str]
) -> tuple[str, str]:
    """The machine type for the target build: the versioned type the host's QEMU resolves an
    alias to (pc → pc-i440fx-7.2), so a profile is the same board on every emulator (newer
    QEMU's pc is pc-i440fx-10.0, with other compat defaults); a type with no versions
    (microvm) stays as is; and "" or why it cannot be pinned."""
    want = reference.get(name, name)
    if want in target:
        return want, ""
    if not reference:
        return name, f"machine type {name} could not be pinned: the host's QEMU did not say"
    return name, f"machine type {name} could not be pinned: this build has no {want}"
