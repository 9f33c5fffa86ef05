"""Building the kernel's x86 selftests (tools/testing/selftests/x86) into an initramfs layer.

Every target of the Makefile's lists is built statically, one `make` per target, so a target
that does not build is recorded with its compiler output and costs only its own scenario. The
binaries go into an initramfs layer (/kselftest/x86/) that the engine appends for the scenarios
that say `needs: [kselftest-x86]`. Everything is cached by the source's identity (source.py): a
rebuild with nothing changed does no work.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lab.errors import ImageError
from lab.fsutil import atomic_write
from lab.images import debian
from lab.images.builder import Images, LayerBuild
from lab.images.cache import Log, hash_strings
from lab.images.cpio import Entry, write_newc
from lab.images.kernels import BuiltKernel
from lab.images.recipe import Recipe
from lab.suites.kselftest.names import LAYER
from lab.suites.kselftest.source import Source, selftests_series, selftests_source

BUILDER_VERSION = "4"  # 4: one build per kernel series
BUILD_JOBS = 2
# Linked into every test: stdout line-buffered as on a terminal (it is a pipe to the agent), so
# the output up to a crash of the guest is not lost in a stdio buffer. The tests are unchanged.
LINEBUF_C = """\
/* entrylab: line-buffered stdout, as on a terminal, so output up to a crash is kept. */
#include <stdio.h>

__attribute__((constructor)) static void entrylab_linebuf(void)
{
\tsetvbuf(stdout, NULL, _IOLBF, 0);
}
"""
# The Makefile decides these with trial compiles; the lab knows its host can do both.
MAKE_VARS = ("CAN_BUILD_I386=1", "CAN_BUILD_X86_64=1", "CAN_BUILD_WITH_NOPIE=1")


@dataclass
class BuildResult:
    """What one build of the selftests produced."""

    origin: str
    version: str
    built: dict[str, Path]  # binary name → host path
    broken: dict[str, str]  # binary name → compiler output
    info: dict[str, Any] = field(default_factory=dict)

    def has_target(self, test: str) -> bool:
        """Whether the source's Makefile names the test (a build without a target list, as
        old build records are, is assumed to have every test)."""
        targets = self.info.get("targets")
        return not isinstance(targets, list) or test in targets or test in self.built

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "version": self.version,
            "built": sorted(self.built),
            "broken": self.broken,
            **self.info,
        }


def list_targets(x86_dir: Path) -> list[str]:
    """Every binary the Makefile's target lists name (…_32 and …_64), in its order."""
    cmd = [
        "make",
        "-s",
        "--no-print-directory",
        "-C",
        str(x86_dir),
        *MAKE_VARS,
        "OUTPUT=/nonexistent",
        "--eval",
        "entrylab-targets: ; @echo $(notdir $(BINARIES_32) $(BINARIES_64))",
        "entrylab-targets",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, env=_build_env())
    names = result.stdout.split()
    if result.returncode != 0 or not names:
        raise ImageError(
            f"{x86_dir}/Makefile: could not list its targets: "
            f"{(result.stderr or result.stdout).strip()[-500:]}"
        )
    return list(dict.fromkeys(names))


def _build_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    env["LC_ALL"] = "C"
    return env


def _build_one(x86_dir: Path, out: Path, name: str) -> tuple[str, Path | None, str]:
    target = out / name
    cmd = [
        "make",
        "-C",
        str(x86_dir.resolve()),
        *MAKE_VARS,
        f"OUTPUT={out}",
        f"CC=gcc -static {out.parent / 'entrylab_linebuf.c'}",
        str(target),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, env=_build_env())
    text = (result.stdout + result.stderr).strip()
    if result.returncode == 0 and target.is_file() and target.read_bytes()[:4] == b"\x7fELF":
        return name, target, text
    # A failed gcc can leave junk under the target's name (helpers.h as a precompiled header).
    target.unlink(missing_ok=True)
    return name, None, text or f"make exited {result.returncode}"


def toolchain() -> dict[str, str]:
    """What else the binaries depend on: the compiler and the host's kernel headers."""
    gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True, check=False)
    return {
        "gcc": gcc.stdout.splitlines()[0] if gcc.stdout else "unknown",
        "linux_libc_dev": debian.installed_version("linux-libc-dev") or "unknown",
    }


def build_selftests(source: Source, out: Path, log: Log) -> BuildResult:
    """Build every target statically into out/; failures recorded, never fatal."""
    out = out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out.parent / "entrylab_linebuf.c").write_text(LINEBUF_C)
    names = list_targets(source.x86_dir)
    log(f"building {len(names)} x86 selftests from {source.origin}")
    built: dict[str, Path] = {}
    broken: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=BUILD_JOBS) as pool:
        for name, path, text in pool.map(lambda n: _build_one(source.x86_dir, out, n), names):
            if path is None:
                broken[name] = f"{name} did not build (gcc -static):\n{text[-3000:]}"
                log(f"warning: x86 selftest {name} did not build")
            else:
                built[name] = path
    return BuildResult(source.origin, source.version, built, broken, {"targets": names})


def strip_copy(binary: Path) -> bytes:
    """The binary without debug info (the guest needs none; the host copy keeps it)."""
    tmp = binary.with_name(f".{binary.name}.stripped")
    result = subprocess.run(
        ["strip", "--strip-debug", "-o", str(tmp), str(binary)],
        capture_output=True,
        check=False,
    )
    try:
        if result.returncode != 0:
            return binary.read_bytes()
        return tmp.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)


def layer_cpio(result: BuildResult) -> bytes:
    """The newc archive of the layer: /kselftest/x86/<binary> and BUILD.json."""
    entries = [Entry.directory("kselftest"), Entry.directory("kselftest/x86")]
    for name in sorted(result.built):
        entries.append(Entry.file(f"kselftest/x86/{name}", strip_copy(result.built[name])))
    info = json.dumps(result.to_json(), indent=1, sort_keys=True).encode()
    entries.append(Entry.file("kselftest/x86/BUILD.json", info, perm=0o644))
    buf = io.BytesIO()
    write_newc(buf, entries)
    return buf.getvalue()


def build_layer(images: Images, log: Log, tree: Path | None = None, series: str = "") -> LayerBuild:
    """The kselftest-x86 initramfs layer (cached by source, toolchain and builder version),
    from the kernel tree `tree` if given, else from the kernel series' pinned linux-source.
    Each source builds in its own directory (kselftest-x86/<series> or kselftest-x86/user), so
    every series' build stays cached beside the others and cells of one series share it."""
    variant = "user" if tree is not None else images_series(images, series)
    base = images.build_dir / LAYER / variant
    target = base / "layer.cpio"
    info_file = base / "build.json"
    name = f"layer/{LAYER}/{variant}"
    with images.artefacts() as artefacts:  # one builder per checkout: extraction and build shared
        source = selftests_source(images, log, tree, variant)
        tools = toolchain()
        key = hash_strings(
            BUILDER_VERSION,
            LINEBUF_C,
            *MAKE_VARS,
            source.key,
            tools["gcc"],
            tools["linux_libc_dev"],
        )
        if artefacts.cached(name, key) is not None:
            return LayerBuild(target, _load_result(info_file, base / "bin"), variant)
        result = build_selftests(source, base / "bin", log)
        result.info.update(tools)
        result.info["source"] = source.info
        atomic_write(target, layer_cpio(result))
        atomic_write(info_file, (json.dumps(result.to_json(), indent=1) + "\n").encode())
        artefacts.record(
            name,
            key,
            [target, info_file],
            origin=source.origin,
            source=source.info,
            built=sorted(result.built),
            broken=sorted(result.broken),
            **tools,
        )
    return LayerBuild(target, result, variant)


def images_series(images: Images, series: str) -> str:
    """The recipe series whose source a layer for `series` is built from (the default one for
    "" or a name the recipe lacks)."""
    rec = images.recipe()
    return series if series in rec.series else rec.default_series


@dataclass(frozen=True)
class KselftestLayer:
    """The kselftest-x86 layer builder (a lab.images.builder.LayerBuilder): the selftests
    built from the kernel tree `source` (`lab run --selftests-src`: every cell), or from the
    pinned linux-source of kernel series `series` ("": the default series). for_kernel() is
    how the engine gives each cell its own kernel's (lab.images.builder.KernelMatched). Its
    LayerBuild.result is the BuildResult the check reads (CheckContext.layers["kselftest-x86"])."""

    source: Path | None = None
    series: str = ""

    def __call__(self, images: Images, log: Log) -> LayerBuild:
        return build_layer(images, log, self.source, self.series)

    def for_kernel(self, kernel: BuiltKernel, recipe: Recipe) -> KselftestLayer:
        """The layer for a cell's kernel: its series' selftests (a user's kernel: the series of
        its release), unless a user tree was given, which every cell uses."""
        if self.source is not None:
            return self
        return replace(self, series=selftests_series(recipe, kernel.series, kernel.release))


def _load_result(info_file: Path, bin_dir: Path) -> BuildResult:
    data = json.loads(info_file.read_text())
    built = {n: bin_dir / n for n in data.get("built", [])}
    rest = {k: v for k, v in data.items() if k not in ("origin", "version", "built", "broken")}
    return BuildResult(data["origin"], data["version"], built, dict(data["broken"]), rest)
