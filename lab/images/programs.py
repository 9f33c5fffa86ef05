"""The guest programs: every lab/guest/*.c compiled with gcc -m32 -static (agent.c is /init)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from lab.dirs import guest_sources
from lab.errors import ImageError
from lab.images.cache import BUILDER_VERSION, Artefacts, Log, hash_files, hash_strings, sha256_file

GUEST_CFLAGS = ("-m32", "-static", "-O2", "-Wall", "-Wextra", "-fno-pie", "-no-pie")


@dataclass(frozen=True)
class Programs:
    """What one build of the guest programs produced."""

    built: dict[str, Path]  # program name -> binary
    broken: dict[str, str] = field(default_factory=dict)  # program name -> compiler error


def program_cflags(source: Path) -> list[str]:
    """Extra gcc words a guest program asks for in a `// entrylab-cflags: ...` line near its top
    (e.g. an assembly file of lab/guest to link with, or -lm)."""
    with source.open(errors="replace") as f:
        for _ in range(30):
            line = f.readline()
            m = re.search(r"entrylab-cflags:\s*(.*?)\s*(\*/)?$", line)
            if m:
                return m.group(1).split()
    return []


def gcc_version() -> str:
    try:
        out = subprocess.run(["gcc", "--version"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ImageError("gcc not found: install gcc and gcc-multilib (./lab.sh does)") from None
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def build_programs(build_dir: Path, artefacts: Artefacts, log: Log) -> Programs:
    """Compile every lab/guest/*.c with gcc -m32 -static into build_dir/guest/.

    A scenario program that does not compile is reported (Programs.broken) and left out, so
    one bad program costs its own scenarios, not the whole run; the agent must compile.
    """
    out_dir = build_dir / "guest"
    out_dir.mkdir(parents=True, exist_ok=True)
    cc = gcc_version()
    shared = sorted([*guest_sources().glob("*.h"), *guest_sources().glob("*.S")])
    shared_hash = hash_files(shared)
    programs: dict[str, Path] = {}
    broken: dict[str, str] = {}
    for source in sorted(guest_sources().glob("*.c")):
        name = source.stem
        binary = out_dir / name
        extra = program_cflags(source)
        key = hash_strings(
            BUILDER_VERSION,
            cc,
            " ".join(GUEST_CFLAGS),
            " ".join(extra),
            sha256_file(source),
            shared_hash,
        )
        if not artefacts.cached(f"guest/{name}", key):
            log(f"compiling lab/guest/{source.name}")
            cmd = [
                "gcc",
                *GUEST_CFLAGS,
                "-I",
                str(guest_sources()),
                "-o",
                str(binary),
                str(source),
                *extra,
            ]
            result = subprocess.run(
                cmd, capture_output=True, text=True, check=False, cwd=guest_sources()
            )
            if result.returncode != 0:
                message = (
                    f"lab/guest/{source.name} does not compile (gcc -m32 -static; is "
                    f"gcc-multilib installed?):\n{result.stderr.strip()[-2000:]}"
                )
                if name == "agent":
                    raise ImageError(message)
                log(f"warning: {message}")
                broken[name] = message
                artefacts.forget(f"guest/{name}")
                continue
            artefacts.record(f"guest/{name}", key, [binary], source=source.name)
        programs[name] = binary
    if "agent" not in programs:
        raise ImageError("lab/guest/agent.c is missing: the guest agent is the guest's /init")
    return Programs(programs, broken)
