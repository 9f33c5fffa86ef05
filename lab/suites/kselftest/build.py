"""The kernel's own x86 selftests (tools/testing/selftests/x86) as a built-in suite.

Three parts, each usable on its own:

* Build: the selftests' source comes from Debian's linux-source-<major.minor> package at the
  version of the pinned kernels (images/lock.yaml), or from a kernel tree the user names with
  ENTRYLAB_SELFTESTS_SRC (`lab run --selftests-src PATH`). Every target of the Makefile's lists is
  built statically, one `make` per target, so a target that does not build is recorded with its
  compiler output and costs only its own scenario. The binaries go into an initramfs layer
  (/kselftest/x86/) that the engine appends for the scenarios that say `needs: [kselftest-x86]`.
  Everything is cached by the source's identity: a rebuild with nothing changed does no work.

* Parse: a test's output becomes subtests. The classic x86 selftest style ("[RUN]\\t...",
  "[OK]\\t...", "[FAIL]\\t...", "[SKIP]\\t...") groups results under the [RUN] line before them;
  TAP / KTAP ("ok 1 name", "not ok 2 name # SKIP why", nested by indentation or by the kselftest
  runner's "# " prefix) gives one subtest per result line, nested ones as parent/child. Subtest
  names are made stable: randomized addresses and timings are replaced.

* Expectations: scenarios/expectations/kselftest-x86.yaml records failures that are known
  artefacts of the test environment (an emulator gap, a profile's configuration), each with its
  cause, class and evidence. A matching failure is reported as an expected failure, a matching
  pass as "artefact gone — update expectations". Nothing is silenced: output stays in the verdict.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.config.yamlconf import load_yaml, validate
from lab.errors import ConfigError, ImageError, SourceLocation
from lab.fsutil import atomic_write
from lab.images.builder import Images, Pin
from lab.images.cpio import Entry, write_newc
from lab.report.results import Status

LAYER = "kselftest-x86"
GUEST_DIR = "/kselftest/x86"
SRC_ENV = "ENTRYLAB_SELFTESTS_SRC"
BUILDER_VERSION = "3"
BUILD_JOBS = 2
SELFTESTS = "tools/testing/selftests"

# What of the kernel tree the x86 selftests need: their directory, the shared kselftest headers
# and lib.mk, and the one kernel header sigreturn.c includes by relative path.
SOURCE_SUBSET = (
    f"{SELFTESTS}/x86/",
    f"{SELFTESTS}/kselftest.h",
    f"{SELFTESTS}/kselftest_harness.h",
    f"{SELFTESTS}/kselftest_module.h",
    f"{SELFTESTS}/kselftest/",
    f"{SELFTESTS}/lib.mk",
    "arch/x86/include/asm/desc_defs.h",
)
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

Log = Callable[[str], None]


# -- source -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where the selftests come from and what identifies that source for the cache."""

    x86_dir: Path  # .../tools/testing/selftests/x86
    origin: str  # "debian:linux-source-6.1=6.1.176-1" or "user:/path/to/linux"
    version: str  # the kernel source version
    key: str  # changes whenever the source does
    info: dict[str, Any] = field(default_factory=dict)


def _hash_parts(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def source_package(kernel_version: str) -> str:
    """Debian's source package name for a kernel version: 6.1.176-1 → linux-source-6.1."""
    m = re.match(r"^(\d+)\.(\d+)", kernel_version)
    if not m:
        raise ImageError(f"cannot tell the kernel series of version {kernel_version!r}")
    return f"linux-source-{m.group(1)}.{m.group(2)}"


def _apt_offers(package: str) -> dict[str, str]:
    """Every version of an arch-independent package the mirror lists, with its .deb sha256."""
    try:
        out = subprocess.run(
            ["apt-cache", "show", package], capture_output=True, text=True, check=False
        ).stdout
    except FileNotFoundError:
        raise ImageError("apt-cache not found: the selftests come from Debian's apt") from None
    offers: dict[str, str] = {}
    for stanza in out.split("\n\n"):
        fields = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.M))
        if "Version" in fields and "SHA256" in fields:
            offers[fields["Version"]] = fields["SHA256"]
    return offers


def _version_key(version: str) -> tuple[int, ...]:
    """A sortable key for Debian kernel versions like 6.1.176-1 (numbers only, in order)."""
    return tuple(int(n) for n in re.findall(r"\d+", version))


def nearest_version(wanted: str, offered: Iterable[str]) -> str | None:
    """The offered version closest to wanted: itself, else the nearest by upstream number."""
    versions = list(offered)
    if wanted in versions:
        return wanted
    if not versions:
        return None
    w = _version_key(wanted)

    def distance(v: str) -> tuple[int, ...]:
        k = _version_key(v)
        n = max(len(k), len(w))
        a, b = k + (0,) * (n - len(k)), w + (0,) * (n - len(w))
        return tuple(abs(x - y) for x, y in zip(a, b, strict=True))

    return min(versions, key=distance)


def kernel_version(images: Images) -> str:
    """The Debian version of the pinned kernels (they all share one: `lab images update`)."""
    versions = {p.version for k, p in images.lock().items() if k.startswith("kernel/")}
    if not versions:
        raise ImageError("images/lock.yaml pins no kernel: nothing to match the selftests to")
    return max(versions, key=_version_key)


def debian_source(images: Images, log: Log) -> Source:
    """linux-source-X.Y at the pinned kernels' version, downloaded once, subset extracted once."""
    wanted = kernel_version(images)
    package = source_package(wanted)
    offers = _apt_offers(package)
    version = nearest_version(wanted, offers)
    if version is None:
        raise ImageError(
            f"the mirror has no {package} (is the apt list current? `apt-get update`); "
            f"the x86 selftests are built from it"
        )
    if version != wanted:
        log(f"warning: {package} {wanted} is not on the mirror; using the nearest, {version}")
    pin = Pin(f"source/{package}", package, "all", version, offers[version])
    out = images.build_dir / LAYER / "src" / f"{package}_{version}"
    marker = out / ".extracted"
    if not (marker.exists() and marker.read_text() == pin.sha256):
        deb = images.fetch(pin)
        log(f"extracting the x86 selftests from {deb.name}")
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        extract_subset(deb, out)
        marker.write_text(pin.sha256)
    return Source(
        out / SELFTESTS / "x86",
        f"debian:{package}={version}",
        version,
        _hash_parts("debian", pin.sha256),
        {
            "package": package,
            "version": version,
            "kernel_version": wanted,
            "nearest": version != wanted,
            "sha256": pin.sha256,
        },
    )


def extract_subset(deb: Path, out: Path) -> list[str]:
    """The SOURCE_SUBSET files of the kernel tarball inside a linux-source .deb, into out.

    Streams (the tarball is ~140 MB of xz); only regular files under the wanted paths are
    written, and a member name that would leave `out` is refused.
    """
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    written: list[str] = []
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as outer:
            for member in outer:
                if not re.match(r"^\./usr/src/linux-source-[\d.]+\.tar\.(xz|gz|bz2)$", member.name):
                    continue
                inner_file = outer.extractfile(member)
                if inner_file is None:
                    continue
                with tarfile.open(fileobj=inner_file, mode="r|*") as inner:
                    written = _extract_members(inner, out)
                break
    finally:
        proc.stdout.close()
        proc.wait()
    if not written:
        raise ImageError(f"{deb.name}: no kernel source tarball with the x86 selftests inside")
    return written


def _extract_members(tar: tarfile.TarFile, out: Path) -> list[str]:
    written = []
    for member in tar:
        # linux-source-6.1/tools/... → tools/...
        _top, _, rel = member.name.partition("/")
        if not member.isfile() or not any(
            rel == p or (p.endswith("/") and rel.startswith(p)) for p in SOURCE_SUBSET
        ):
            continue
        target = (out / rel).resolve()
        if out.resolve() not in target.parents or ".." in Path(rel).parts:
            raise ImageError(f"refusing tar member outside the tree: {member.name!r}")
        f = tar.extractfile(member)
        if f is None:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.read())
        target.chmod(0o755 if member.mode & 0o111 else 0o644)
        written.append(rel)
    return written


def user_source(path: Path) -> Source:
    """A kernel tree the user built their kernel from (ENTRYLAB_SELFTESTS_SRC)."""
    path = path.expanduser().resolve()
    candidates = [path / SELFTESTS / "x86", path / "x86", path]
    x86 = next((c for c in candidates if (c / "Makefile").is_file() and c.name == "x86"), None)
    if x86 is None:
        raise ImageError(
            f"{SRC_ENV}={path}: no {SELFTESTS}/x86/Makefile there (give the kernel tree's top "
            "directory or its selftests/x86 directory)"
        )
    tree = x86.parents[3] if x86.as_posix().endswith(SELFTESTS + "/x86") else x86.parent
    selftests = x86.parent
    files = sorted(p for p in x86.rglob("*") if p.is_file())
    files += sorted(selftests.glob("kselftest*.h"))
    files += [selftests / "lib.mk", tree / "arch/x86/include/asm/desc_defs.h"]
    digest = _hash_parts("user", *(f"{p}:{_file_sha(p)}" for p in files if p.is_file()))
    version = _tree_version(tree)
    return Source(x86, f"user:{tree}", version, digest, {"tree": str(tree), "version": version})


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tree_version(tree: Path) -> str:
    """VERSION.PATCHLEVEL.SUBLEVEL from a kernel tree's top Makefile, or "unknown"."""
    try:
        text = (tree / "Makefile").read_text(errors="replace")[:4000]
    except OSError:
        return "unknown"
    keys = ("VERSION", "PATCHLEVEL", "SUBLEVEL")
    parts = [re.search(rf"^{k}\s*=\s*(\d*)", text, re.M) for k in keys]
    if not all(parts):
        return "unknown"
    return ".".join(m.group(1) for m in parts if m)


def selftests_source(images: Images, log: Log) -> Source:
    override = os.environ.get(SRC_ENV)
    if override:
        return user_source(Path(override))
    return debian_source(images, log)


# -- build --------------------------------------------------------------------------------------


@dataclass
class BuildResult:
    """What one build of the selftests produced."""

    origin: str
    version: str
    built: dict[str, Path]  # binary name → host path
    broken: dict[str, str]  # binary name → compiler output
    info: dict[str, Any] = field(default_factory=dict)

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
    libc_dev = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "linux-libc-dev"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "gcc": gcc.stdout.splitlines()[0] if gcc.stdout else "unknown",
        "linux_libc_dev": libc_dev.stdout.strip() or "unknown",
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


# The result of the last layer build in this process: the check reads which targets broke.
_LAST: dict[str, BuildResult] = {}


def last_build() -> BuildResult | None:
    return _LAST.get(LAYER)


def build_layer(images: Images) -> Path:
    """The kselftest-x86 initramfs layer (cached by source, toolchain and builder version)."""
    log = images.log
    base = images.build_dir / LAYER
    target = base / "layer.cpio"
    info_file = base / "build.json"
    with images._locked():  # one builder per checkout: the extraction and build are shared
        source = selftests_source(images, log)
        tools = toolchain()
        key = _hash_parts(
            BUILDER_VERSION,
            LINEBUF_C,
            *MAKE_VARS,
            source.key,
            tools["gcc"],
            tools["linux_libc_dev"],
        )
        manifest = images._read_manifest()
        artefacts: dict[str, Any] = manifest.setdefault("artefacts", {})
        cached = images._cached(artefacts, f"layer/{LAYER}", key)
        if cached is not None:
            _LAST[LAYER] = _load_result(info_file, base / "bin")
            return target
        result = build_selftests(source, base / "bin", log)
        result.info.update(tools)
        result.info["source"] = source.info
        atomic_write(target, layer_cpio(result))
        atomic_write(info_file, (json.dumps(result.to_json(), indent=1) + "\n").encode())
        images._record(
            artefacts,
            f"layer/{LAYER}",
            key,
            [target, info_file],
            origin=source.origin,
            source=source.info,
            built=sorted(result.built),
            broken=sorted(result.broken),
            **tools,
        )
        images._write_manifest(manifest)
    _LAST[LAYER] = result
    return target


def _load_result(info_file: Path, bin_dir: Path) -> BuildResult:
    data = json.loads(info_file.read_text())
    built = {n: bin_dir / n for n in data.get("built", [])}
    rest = {k: v for k, v in data.items() if k not in ("origin", "version", "built", "broken")}
    return BuildResult(data["origin"], data["version"], built, dict(data["broken"]), rest)


# -- parse --------------------------------------------------------------------------------------

# "[OK]\tfoo"; also "prog: [FAIL]\tfoo" as err(3) / fatal_error() print it.
CLASSIC = re.compile(
    r"^\s*(?:[\w.-]+: )?\[(RUN|OK|PASS|FAIL|SKIP|WARN|NOTE|INFO|ERROR|BUG)\]:?\s*(.*)$"
)
TAP_RESULT = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*)$")
TAP_VERSION = re.compile(r"^(K?TAP) version \d+\s*$")
TAP_PLAN = re.compile(r"^1\.\.(\d+)\s*(?:#\s*(.*))?$")
NEST = re.compile(r"^(    |# )")
# Addresses that change from run to run (ASLR): user mappings, the vDSO and stacks, where 32-bit
# and 64-bit processes have them. Round constants there (0xffffffff, 0x7fffffffe000: the
# canonical boundary sysret_rip tries) stay; so do all other numbers, which are the tests' own
# constants (selectors, syscall numbers, LDT attributes).
HEX = re.compile(r"0x([0-9a-fA-F]+)\b")
ASLR_RANGES = ((0xB0000000, 0xBFFFFFFF), (0xF0000000, 0xFFFFFFFF), (0x7F0000000000, 0x7FFFFFFFFFFF))
ROUND = re.compile(r"[0-9a-f]?f*[ef]?0*")
TIMING = re.compile(r"\b\d+\.\d+\b")
MAX_NAME = 160
MAX_EXCERPT_LINES = 120


def stable_name(text: str) -> str:
    """A subtest's name as it will read the same on every run: whitespace folded, randomized
    addresses and timings replaced (see ASLR_RANGES)."""
    name = " ".join(text.replace("\t", " ").split())
    name = HEX.sub(_address, name)
    name = TIMING.sub("N.N", name)
    name = name.strip(" :") or "(unnamed)"
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1] + "…"


def _address(m: re.Match[str]) -> str:
    digits = m.group(1).lower()
    value = int(digits, 16)
    varies = any(lo <= value <= hi for lo, hi in ASLR_RANGES)
    return "0x…" if varies and not ROUND.fullmatch(digits.lstrip("0")) else m.group(0)


@dataclass
class Subtest:
    """One result of a test: a [RUN] block, a stray [OK]/[FAIL] line, or a TAP result."""

    name: str  # stable, unique within the test; nested TAP results are parent/child
    status: Status
    results: list[str] = field(default_factory=list)  # the result lines, as printed
    lines: list[str] = field(default_factory=list)  # everything printed in its block
    style: str = "classic"  # classic | tap
    detail: str = ""  # why, for statuses the result lines do not explain

    def summary(self) -> str:
        text = "; ".join(r.strip() for r in self.results[:4])
        if len(self.results) > 4:
            text += f"; … ({len(self.results)} result lines)"
        return " — ".join(t for t in (text, self.detail) if t) or self.status.value


@dataclass
class _Block:
    """A classic [RUN] block (or a stray result) while it is being read."""

    title: str
    ran: bool  # opened by [RUN] (else a stray result line)
    results: list[tuple[str, str]] = field(default_factory=list)  # (tag, line)
    lines: list[str] = field(default_factory=list)


@dataclass
class ParsedOutput:
    subtests: list[Subtest]
    tap: bool  # the output had TAP/KTAP structure
    plan: int | None = None  # the top level's "1..N", if any


def _status_of(block: _Block, complete: bool) -> tuple[Status, str]:
    """A block's status; `complete` is False for the last block of a test that stopped (crash,
    signal, timeout). With no result yet, that step is where it stopped (an error); with results
    it may have stopped in the next step, whose [RUN] line did not get out before the crash."""
    tags = [t for t, _ in block.results]
    stopped = "" if complete else "the test stopped after this output (crash, signal or timeout)"
    if any(t in ("FAIL", "ERROR", "BUG") for t in tags):
        return Status.FAIL, stopped
    if any(t in ("OK", "PASS") for t in tags):
        return Status.PASS, stopped
    if "SKIP" in tags:
        return Status.SKIP, stopped
    if not complete:
        return Status.ERROR, "the test stopped in this step (crash, signal or timeout)"
    return Status.PASS, "no [FAIL] reported (the test prints no [OK] for this step)"


class _Level:
    """Parser state of one nesting level (the top, or a nested TAP test's output)."""

    def __init__(self) -> None:
        self.done: list[Subtest] = []
        self.block: _Block | None = None

    def close_block(self, complete: bool = True) -> None:
        b, self.block = self.block, None
        if b is None or (not b.ran and not b.results):
            return
        status, detail = _status_of(b, complete)
        results = [line for _, line in b.results]
        self.done.append(Subtest(stable_name(b.title), status, results, b.lines, "classic", detail))

    def classic(self, tag: str, text: str, line: str) -> None:
        if tag == "RUN":
            self.close_block()
            self.block = _Block(text, True, lines=[line])
        elif tag in ("OK", "PASS", "FAIL", "SKIP", "ERROR", "BUG"):
            # A [SKIP] after its block already has a result is a step that never ran, not part
            # of the block (sigreturn: "[SKIP]\tCode segment unavailable for ...").
            late_skip = tag == "SKIP" and self.block is not None and bool(self.block.results)
            if self.block is None or not self.block.ran or late_skip:
                self.close_block()
                self.block = _Block(text, False)
                self.block.results.append((tag, line))
                self.block.lines.append(line)
                self.close_block()
            else:
                self.block.results.append((tag, line))
                self.block.lines.append(line)
        elif self.block is not None:
            self.block.lines.append(line)

    def text(self, line: str) -> None:
        if self.block is not None:
            self.block.lines.append(line)


def _depth(line: str, tap: bool) -> tuple[int, str]:
    if not tap:
        return 0, line
    depth = 0
    while True:
        m = NEST.match(line)
        if not m:
            return depth, line
        rest = line[m.end() :]
        # "# text" at this level is a diagnostic unless what follows is nested TAP/classic text.
        if m.group(1) == "# " and not _nested_looking(rest):
            return depth, line
        depth += 1
        line = rest


def _nested_looking(rest: str) -> bool:
    return bool(
        TAP_RESULT.match(rest)
        or TAP_VERSION.match(rest)
        or TAP_PLAN.match(rest)
        or CLASSIC.match(rest)
        or NEST.match(rest)
        or rest.startswith(("Subtest:", "Bail out!"))
    )


def parse_output(lines: list[str], complete: bool = True) -> ParsedOutput:
    """A selftest's output as subtests (see the module docstring for the styles understood).

    complete: the test ran to its end (exit status known); if not, its last [RUN] block is
    where it stopped: an error if it printed no result yet, else its results with a note.
    """
    tap = any(
        TAP_VERSION.match(s) or TAP_RESULT.match(s) for s in (NEST.sub("", ln) for ln in lines)
    ) and any(TAP_VERSION.match(ln.lstrip("# ")) or TAP_PLAN.match(ln.lstrip("# ")) for ln in lines)
    levels: dict[int, _Level] = {0: _Level()}
    plan: int | None = None
    for raw in lines:
        line = raw.rstrip()
        depth, body = _depth(line, tap)
        # Deeper levels than `depth` that are still open belong to a TAP result not yet printed.
        level = levels.setdefault(depth, _Level())
        stripped = body.strip()
        m = CLASSIC.match(body)
        if m:
            level.classic(m.group(1), m.group(2), line)
            continue
        if tap:
            r = TAP_RESULT.match(stripped)
            if r:
                level.close_block()
                children = _collect_children(levels, depth)
                level.done.extend(_tap_subtests(r, line, children))
                continue
            p = TAP_PLAN.match(stripped)
            if p:
                if depth == 0:
                    plan = int(p.group(1))
                if p.group(1) == "0" and p.group(2):
                    level.done.append(
                        Subtest("plan", Status.SKIP, [line], [line], "tap", p.group(2).strip())
                    )
                continue
            if stripped.startswith("Bail out!"):
                level.close_block()
                level.done.append(
                    Subtest("bail out", Status.ERROR, [line], [line], "tap", stripped[9:].strip())
                )
                continue
        level.text(line)
    # Nested output whose parent result never came (the test died) surfaces at the top.
    for depth in sorted(levels, reverse=True):
        levels[depth].close_block(complete)
        if depth > 0:
            levels[0].done.extend(levels.pop(depth).done)
    subtests = _unique(levels[0].done)
    return ParsedOutput(subtests, tap, plan)


def _collect_children(levels: dict[int, _Level], depth: int) -> list[Subtest]:
    """The finished subtests of the levels below `depth`, which a TAP result there now owns."""
    children: list[Subtest] = []
    for d in sorted(k for k in levels if k > depth):
        levels[d].close_block()
        children.extend(levels.pop(d).done)
    return children


def _tap_subtests(m: re.Match[str], line: str, children: list[Subtest]) -> list[Subtest]:
    """A TAP result line as a subtest, after the nested subtests it owns (renamed parent/child)."""
    ok = m.group(1) == "ok"
    text, _, directive = m.group(3).partition(" # ")
    if text.startswith("#"):  # "ok 3 # SKIP reason": no description, only a directive
        text, directive = "", text[1:]
    directive = directive.strip()
    word, _, reason = directive.partition(" ")
    word = word.upper()
    if word == "SKIP":
        status, detail = Status.SKIP, reason
    elif word == "XFAIL":
        status, detail = Status.SKIP, f"XFAIL declared by the test itself: {reason}"
    elif word == "ERROR":
        status, detail = Status.ERROR, reason
    elif word == "TODO":
        status, detail = Status.SKIP, f"TODO: {reason}"
    else:  # a plain result, or a directive kselftest's runner adds ("exit=1")
        status, detail = (Status.PASS if ok else Status.FAIL), directive
    name = stable_name(text.strip() or reason or f"test {m.group(2) or '?'}")
    for child in children:
        child.name = f"{name}/{child.name}"
    if children and status is Status.PASS and any(c.status.bad for c in children):
        detail = "ok, though a nested subtest did not pass"
    lines = [ln for c in children for ln in c.lines] + [line]
    return [*children, Subtest(name, status, [line], lines, "tap", detail)]


def _unique(subtests: list[Subtest]) -> list[Subtest]:
    """Names made unique in the order printed: a repeated name gets " #2", " #3"."""
    seen: dict[str, int] = {}
    for s in subtests:
        seen[s.name] = seen.get(s.name, 0) + 1
        if seen[s.name] > 1:
            s.name = f"{s.name} #{seen[s.name]}"
    return subtests


# -- expectations (known artefacts) -------------------------------------------------------------

EXPECTATIONS_SCHEMA = "expectations"
EXIT_PATH = "exit-code"
XFAIL_PREFIX = "expected failure (known artefact)"
XPASS_PREFIX = "artefact gone — update expectations"
# How an expected failure and a vanished artefact are reported. When lab/report/results.py gains
# Status.XFAIL / Status.XPASS these two lines become `Status.XFAIL` and `Status.XPASS`.
XFAIL_STATUS = Status.XFAIL
XPASS_STATUS = Status.XPASS
OUTCOMES = {"fail": Status.FAIL, "error": Status.ERROR}


def expectations_path(root: Path, suite: str = LAYER) -> Path:
    """Where a suite's known artefacts are recorded (outside scenarios/*.yaml, which are all
    loaded as suites)."""
    return root / "scenarios" / "expectations" / f"{suite}.yaml"


@dataclass(frozen=True)
class GuestFacts:
    """What an expectation can depend on: the profile, the CPU, the emulator."""

    profile: str
    tags: frozenset[str]
    flags: frozenset[str]
    vendor: str
    kernel_bits: int
    accel: str
    qemu_version: str
    nprocs: int = 1


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text.split("(")[0])[:3])


@dataclass(frozen=True)
class Expectation:
    """One known artefact: which results it explains, where, why, and how we know."""

    id: str
    test: tuple[str, ...]  # globs on the binary name, e.g. test_FCOMI_32 or sigreturn_*
    subtest: tuple[str, ...]  # globs on the stable subtest name ("exit-code": the exit status)
    klass: str  # emulator | configuration | kernel
    cause: str
    evidence: tuple[str, ...]
    outcomes: frozenset[Status]
    profiles: tuple[str, ...] = ()  # names or tags; empty = any
    flags_present: tuple[str, ...] = ()
    flags_absent: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()
    kernel_bits: int | None = None
    accel: tuple[str, ...] = ()
    qemu_min: str | None = None  # inclusive
    qemu_below: str | None = None  # exclusive
    vcpus_min: int | None = None
    vcpus_max: int | None = None
    intermittent: bool = False  # shows on some runs only: a pass is no news
    source: str = ""

    def applies(self, env: GuestFacts) -> bool:
        if self.profiles and not any(p == env.profile or p in env.tags for p in self.profiles):
            return False
        if not set(self.flags_present) <= env.flags or set(self.flags_absent) & env.flags:
            return False
        if self.vendors and env.vendor not in self.vendors:
            return False
        if self.kernel_bits is not None and env.kernel_bits != self.kernel_bits:
            return False
        if self.accel and env.accel not in self.accel:
            return False
        if self.vcpus_min is not None and env.nprocs < self.vcpus_min:
            return False
        if self.vcpus_max is not None and env.nprocs > self.vcpus_max:
            return False
        version = _version_tuple(env.qemu_version)
        if self.qemu_min and (not version or version < _version_tuple(self.qemu_min)):
            return False
        return not (self.qemu_below and (not version or version >= _version_tuple(self.qemu_below)))

    def matches(self, test: str, path: str) -> bool:
        return self.covers(test) and any(fnmatch.fnmatchcase(path, p) for p in self.subtest)

    def covers(self, test: str) -> bool:
        return any(fnmatch.fnmatchcase(test, pattern) for pattern in self.test)

    def describe(self) -> dict[str, Any]:
        return {
            "expectation": self.id,
            "class": self.klass,
            "cause": self.cause,
            "evidence": list(self.evidence),
            "source": self.source,
        }


def load_expectations(path: Path) -> list[Expectation]:
    """The expectations file, validated (lab/config/schemas/expectations.schema.json); none
    if absent."""
    if not path.exists():
        return []
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _EXPECTATIONS_CACHE:
        _EXPECTATIONS_CACHE.clear()
        _EXPECTATIONS_CACHE[key] = _load_expectations(path)
    return _EXPECTATIONS_CACHE[key]


_EXPECTATIONS_CACHE: dict[tuple[str, int, int], list[Expectation]] = {}


def _load_expectations(path: Path) -> list[Expectation]:
    doc = load_yaml(path)
    if doc.data is None:
        raise ConfigError(SourceLocation(path), "empty file: expected 'suite' and 'expectations'")
    validate(doc, EXPECTATIONS_SCHEMA)
    out = []
    for eid, raw in doc.data["expectations"].items():
        when = raw.get("when", {})
        flags = when.get("cpu_flags", {})
        qemu = when.get("qemu", {})
        loc = doc.location(("expectations", eid))
        out.append(
            Expectation(
                id=eid,
                test=_strings(raw["test"]),
                subtest=_strings(raw.get("subtest", "*")),
                klass=raw["class"],
                cause=" ".join(raw["cause"].split()),
                evidence=tuple(" ".join(e.split()) for e in raw["evidence"]),
                outcomes=frozenset(OUTCOMES[o] for o in raw.get("outcome", ["fail"])),
                profiles=tuple(when.get("profiles", ())),
                flags_present=tuple(flags.get("present", ())),
                flags_absent=tuple(flags.get("absent", ())),
                vendors=tuple(when.get("vendors", ())),
                kernel_bits=when.get("kernel_bits"),
                accel=tuple(when.get("accel", ())),
                qemu_min=str(qemu["min"]) if "min" in qemu else None,
                qemu_below=str(qemu["below"]) if "below" in qemu else None,
                vcpus_min=when.get("vcpus", {}).get("min"),
                vcpus_max=when.get("vcpus", {}).get("max"),
                intermittent=bool(raw.get("intermittent", False)),
                source=f"{path.name}:{loc.line}",
            )
        )
    return out


def _strings(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


# -- judging one run ----------------------------------------------------------------------------


@dataclass
class Outcome:
    """A verdict before it is one: what a test's run came to for one path."""

    path: str
    status: Status
    message: str
    excerpt: str = ""
    observed: dict[str, Any] = field(default_factory=dict)
    predicted: Any = None


@dataclass(frozen=True)
class RunOutput:
    """What the guest reported for one test binary (a CommandResult, reduced to data)."""

    exit_code: int | None
    signal: int | None = None
    timed_out: bool = False
    agent_error: str | None = None
    lines: tuple[str, ...] = ()
    crash: str | None = None  # the guest died under the test: "panic: <console line>"
    faults: tuple[str, ...] = ()  # oops / BUG the test left on the console ("oops: <line>")
    console: str = ""  # the console lines around the crash or the faults

    @property
    def complete(self) -> bool:
        return (
            self.exit_code is not None
            and not self.timed_out
            and self.agent_error is None
            and self.crash is None
        )

    def describe(self) -> str:
        if self.crash:
            return f"guest {self.crash}"
        if self.agent_error:
            return f"agent error: {self.agent_error}"
        if self.timed_out:
            return "timed out (killed)"
        if self.signal is not None:
            return f"killed by signal {self.signal}"
        return f"exit {self.exit_code}"


def _excerpt(lines: list[str] | tuple[str, ...], limit: int = MAX_EXCERPT_LINES) -> str:
    lines = list(lines)
    if len(lines) <= limit:
        return "\n".join(lines)
    head, tail = lines[: limit // 3], lines[-(limit - limit // 3) :]
    return "\n".join([*head, f"… ({len(lines) - len(head) - len(tail)} lines left out) …", *tail])


CPU_SKIP = re.compile(r"affinity|CPU \d|cpu \d", re.I)


def subtest_outcomes(parsed: ParsedOutput, env: GuestFacts) -> list[Outcome]:
    out = []
    for s in parsed.subtests:
        message = s.summary()
        if s.status is Status.SKIP and env.nprocs < 2 and CPU_SKIP.search(message):
            message += (
                f" (this profile has {env.nprocs} vCPU; a 2-vCPU profile would run this part)"
            )
        out.append(
            Outcome(
                s.name,
                s.status,
                message,
                excerpt=_excerpt(s.lines),
                observed={"results": s.results, "style": s.style},
            )
        )
    return out


def exit_outcome(test: str, run: RunOutput) -> Outcome:
    """The test's own verdict: kselftest exit codes 0 pass, 1 fail, 4 skip; a kernel oops or
    BUG during the test fails it whatever it printed."""
    o = _exit_status(test, run)
    if run.faults and not run.crash:
        o.observed["kernel_faults"] = list(run.faults)
        o.message += f"; the kernel reported {run.faults[0]}"
        o.excerpt = "\n".join(t for t in (run.console, "test output:\n" + o.excerpt) if t)
        if o.status in (Status.PASS, Status.SKIP):
            o.status = Status.FAIL
    return o


def _exit_status(test: str, run: RunOutput) -> Outcome:
    excerpt = _excerpt(run.lines)
    observed: dict[str, Any] = {
        "exit_code": run.exit_code,
        "signal": run.signal,
        "timed_out": run.timed_out,
    }
    if run.crash:
        observed["crash"] = run.crash
        text = "\n".join(t for t in (run.console, excerpt and "test output:\n" + excerpt) if t)
        return Outcome(EXIT_PATH, Status.ERROR, f"{test}: guest {run.crash}", text, observed)
    if run.agent_error:
        return Outcome(EXIT_PATH, Status.ERROR, f"agent: {run.agent_error}", excerpt, observed)
    if run.timed_out:
        return Outcome(EXIT_PATH, Status.ERROR, f"{test} timed out (killed)", excerpt, observed)
    if run.signal is not None:
        return Outcome(
            EXIT_PATH, Status.FAIL, f"{test} killed by signal {run.signal}", excerpt, observed
        )
    code = run.exit_code
    if code == 0:
        return Outcome(EXIT_PATH, Status.PASS, "exit 0", excerpt, observed)
    if code == 4:
        return Outcome(EXIT_PATH, Status.SKIP, "exit 4 (kselftest: skipped)", excerpt, observed)
    if code == 127 and any("entrylab-agent: exec" in ln for ln in run.lines):
        return Outcome(
            EXIT_PATH,
            Status.ERROR,
            f"{GUEST_DIR}/{test} is not in the guest (is the {LAYER} layer built?)",
            excerpt,
            observed,
        )
    return Outcome(EXIT_PATH, Status.FAIL, f"exit {code}", excerpt, observed)


def judge(
    test: str, run: RunOutput, env: GuestFacts, expectations: list[Expectation]
) -> list[Outcome]:
    """Subtests and exit code of one run, with the known artefacts that apply here."""
    parsed = parse_output(list(run.lines), complete=run.complete)
    outcomes = [*subtest_outcomes(parsed, env), exit_outcome(test, run)]
    if parsed.tap and parsed.plan is not None and parsed.plan > 0:
        top = [s for s in parsed.subtests if s.style == "tap" and "/" not in s.name]
        if len(top) != parsed.plan and run.complete:
            outcomes.append(
                Outcome(
                    "plan",
                    Status.FAIL,
                    f"TAP plan 1..{parsed.plan} but {len(top)} results",
                    _excerpt(run.lines),
                )
            )
    return apply_expectations(test, outcomes, env, expectations, run.complete)


def apply_expectations(
    test: str,
    outcomes: list[Outcome],
    env: GuestFacts,
    expectations: list[Expectation],
    complete: bool,
) -> list[Outcome]:
    """Known artefacts: an expected failure is reported as one (output kept), an expected
    failure that passed as "artefact gone", an expectation that matched nothing likewise."""
    here = [e for e in expectations if e.applies(env) and e.covers(test)]
    used: set[str] = set()
    explained: list[str] = []
    unexplained = False
    exit_o = next((o for o in outcomes if o.path == EXIT_PATH), None)
    for o in outcomes:
        exp = next((e for e in here if e.matches(test, o.path)), None)
        if exp is not None:
            used.add(exp.id)
        if o is exit_o:
            continue
        if exp is None:
            unexplained |= o.status in (Status.FAIL, Status.ERROR)
            continue
        if o.status in exp.outcomes:
            _expected(o, exp)
            explained.append(exp.id)
        elif o.status is Status.PASS and not exp.intermittent:
            _gone(o, exp)
        else:
            unexplained |= o.status in (Status.FAIL, Status.ERROR)
    if exit_o is not None:
        exp = next((e for e in here if e.matches(test, EXIT_PATH)), None)
        if exp is not None and exit_o.status in exp.outcomes:
            _expected(exit_o, exp)
        elif exp is not None and exit_o.status is Status.PASS and not exp.intermittent:
            _gone(exit_o, exp)
        elif exit_o.status is Status.FAIL and explained and not unexplained and complete:
            ids = ", ".join(sorted(set(explained)))
            exit_o.predicted = {"explained_by": sorted(set(explained))}
            exit_o.message = (
                f"{XFAIL_PREFIX}: {exit_o.message}, and every failing subtest is a known "
                f"artefact ({ids})"
            )
            exit_o.status = XFAIL_STATUS
    extra = []
    if complete:
        for e in here:
            if e.id not in used and not e.intermittent:
                extra.append(
                    Outcome(
                        f"expectation:{e.id}",
                        XPASS_STATUS,
                        f"{XPASS_PREFIX}: expectation {e.id} ({e.source}) matches no result of "
                        f"this run (subtest {' or '.join(e.subtest)!r})",
                        predicted=e.describe(),
                    )
                )
    return outcomes + extra


def _expected(o: Outcome, exp: Expectation) -> None:
    o.observed = {"status": o.status.value, "message": o.message, "detail": o.observed}
    o.predicted = exp.describe()
    o.message = f"{XFAIL_PREFIX}: {exp.cause} [{exp.klass}; {exp.id}] — observed: {o.message}"
    o.status = XFAIL_STATUS


def _gone(o: Outcome, exp: Expectation) -> None:
    o.observed = {"status": o.status.value, "message": o.message, "detail": o.observed}
    o.predicted = exp.describe()
    o.message = f"{XPASS_PREFIX}: {exp.id} ({exp.source}) expected a failure, but: {o.message}"
    o.status = XPASS_STATUS
