"""Benchmarks of the lab itself: how little it adds to what the guests need.

Every number is a median of repeated runs with min and max, measured in one invocation, with
the machine it ran on. Nothing here runs in the test suite (a smoke test runs --quick).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab.config.profiles import Profile
from lab.config.scenarios import Scenario
from lab.engine.executor import execute
from lab.engine.plan import RunPlan, resolve_images
from lab.events import Event
from lab.fsutil import atomic_write
from lab.images import kernelfile as kernelimage
from lab.images.builder import Images, ImageSet
from lab.images.kernels import BuiltKernel
from lab.report.run import RunReport
from lab.targets.accel import choose_accel, kvm_usable, qemu_version
from lab.targets.base import Accel
from lab.targets.qemu import Machine
from lab.targets.qemuargs import qemu_command
from lab.targets.session import GuestSession

Say = Callable[[str], None]


@dataclass
class Measurement:
    """One benchmark row: samples in seconds (or a unit given), summarised."""

    name: str
    samples: list[float]
    unit: str = "s"
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def row(self) -> str:
        scale, fmt = (1000.0, "{:.1f} ms") if self.unit == "ms" else (1.0, "{:.2f} s")
        cells = [fmt.format(x * scale) for x in (self.median, min(self.samples), max(self.samples))]
        return (
            f"| {self.name} | {cells[0]} | {cells[1]} | {cells[2]} | {len(self.samples)} | "
            f"{self.note} |"
        )


@dataclass
class Ratio:
    name: str
    value: float
    target: float | None
    note: str = ""

    def row(self) -> str:
        ok = "" if self.target is None else (" ✅" if self.value <= self.target else " ❌")
        target = f"≤ {self.target:.2f}" if self.target is not None else "—"
        return f"| {self.name} | {self.value:.3f}{ok} | {target} | {self.note} |"


@dataclass
class BenchResult:
    measurements: list[Measurement] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def machine_facts(qemu: str = "qemu-system-x86_64") -> dict[str, str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": str(os.cpu_count()),
        "cpu": model or platform.processor(),
        "host kernel": platform.release(),
        "QEMU": qemu_version(qemu),
        "accelerator": choose_accel("auto")
        + (
            " (KVM opens but cannot run guests here)"
            if kvm_usable() and choose_accel() == "tcg"
            else ""
        ),
        "python": platform.python_version(),
    }


# -- 1. boot-to-ready overhead ------------------------------------------------------------------


def raw_boot(profile: Profile, kernel: BuiltKernel, initramfs: Path) -> float:
    """Plain qemu-system with the same kernel, initrd and CPU, to the first line /init prints."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = qemu_command(profile, kernel, initramfs, "tcg", "raw", Path(tmp) / "q.sock")
        cmd = [c for c in cmd if c not in ("-sandbox", "on")]
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                if b"@@raw:READY" in line:
                    return time.monotonic() - t0
            raise RuntimeError(f"{profile.name}: raw QEMU exited before /init spoke")
        finally:
            proc.kill()
            proc.wait()


def lab_boot(profile: Profile, kernel: BuiltKernel, initramfs: Path, run_dir: Path) -> float:
    """The lab's own start → ready-and-verified, as every run does it."""
    t0 = time.monotonic()
    with Machine(profile, kernel, initramfs, run_dir, "tcg") as m:
        m.boot()
        return time.monotonic() - t0


def boot_overhead(
    profile: Profile, built: ImageSet, repeat: int, work: Path, say: Say
) -> tuple[Measurement, Measurement, Ratio]:
    kernel = built.kernels[profile.kernel]
    raw, lab = [], []
    for i in range(repeat):  # alternate, so drift on a shared machine hits both alike
        raw.append(raw_boot(profile, kernel, built.initramfs))
        lab.append(lab_boot(profile, kernel, built.initramfs, work / f"boot-{profile.name}-{i}"))
        say(f"  boot {profile.name} #{i + 1}: raw {raw[-1]:.2f}s, lab {lab[-1]:.2f}s")
    m_raw = Measurement(f"raw QEMU to /init's first line ({profile.name})", raw)
    m_lab = Measurement(f"lab start to ready+verified ({profile.name})", lab)
    ratio = Ratio(
        f"boot overhead {profile.name} (lab / raw, medians)", m_lab.median / m_raw.median, 1.10
    )
    return m_raw, m_lab, ratio


# -- 2. matrix efficiency -----------------------------------------------------------------------


def run_matrix(
    profiles: list[Profile], scenarios: list[Scenario], jobs: int, images: Images, reports: Path
) -> tuple[float, float]:
    """Wall time of a run, and the ideal: sum of each guest's own busy time / parallelism."""
    busy: dict[str, list[float]] = {}
    lock = threading.Lock()

    def sink(e: Event) -> None:
        if e.profile is None:
            return
        with lock:
            spans = busy.setdefault(e.profile, [])
            if e.kind.value == "booting":
                spans.append(-e.at)
            elif e.kind.value == "done" and spans:
                spans[-1] += e.at

    plan = RunPlan(profiles, scenarios, jobs=jobs, accel=Accel.TCG)
    report = RunReport(reports, f"bench-{jobs}-{time.monotonic_ns()}", {"kind": "bench"})
    t0 = time.monotonic()
    execute(plan, images, report, sink)
    wall = time.monotonic() - t0
    own = sum(sum(spans) for spans in busy.values())
    return wall, own / min(jobs, len(profiles))


# -- 3. per-command round trip ------------------------------------------------------------------


def console_round_trip(profile: Profile, built: ImageSet, n: int, work: Path) -> list[Measurement]:
    """n protocol round trips (PING) and n trivial commands (`true`) over the serial console."""
    kernel = built.kernels[profile.kernel]
    with Machine(profile, kernel, built.initramfs, work / "rtt", "tcg") as m:
        m.boot()
        session = GuestSession(m, profile.name)
        pings = [session.ping() for _ in range(n)]
        commands = []
        for _ in range(n):
            t0 = time.monotonic()
            result = session.run(["true"])
            commands.append(time.monotonic() - t0)
            if not result.ok:
                raise RuntimeError(f"{profile.name}: `true` failed: {result.describe()}")
    return [
        Measurement(f"console: protocol round trip, PING ({profile.name})", pings, "ms"),
        Measurement(
            f"console: `true` round trip ({profile.name})",
            commands,
            "ms",
            "fork+exec of busybox under TCG included",
        ),
    ]


def ssh_round_trip(
    profile: Profile, built: ImageSet, images: Images, n: int, work: Path
) -> list[Measurement]:
    """The same n PINGs and `true`s over one persistent SSH channel (lab.targets.ssh), as
    runs use it."""
    part = built.ssh.get(profile.kernel)
    if part is None:
        return []
    initramfs = images.with_ssh(built.initramfs, part)
    kernel = built.kernels[profile.kernel]
    rtt = work / "rtt-ssh"
    with Machine(profile, kernel, initramfs, rtt, "tcg", ssh=part, key_dir=work / "ssh-keys") as m:
        m.boot()
        session = GuestSession(m.link, profile.name)
        pings = [session.ping() for _ in range(n)]
        commands = []
        for _ in range(n):
            t0 = time.monotonic()
            if not session.run(["true"]).ok:
                raise RuntimeError(f"{profile.name}: `true` over SSH failed")
            commands.append(time.monotonic() - t0)
    return [
        Measurement(f"SSH: protocol round trip, PING ({profile.name}, machine pc)", pings, "ms"),
        Measurement(
            f"SSH: `true` round trip ({profile.name}, machine pc)",
            commands,
            "ms",
            "one persistent channel running the agent protocol",
        ),
    ]


# -- 4. image build -----------------------------------------------------------------------------


def image_builds(root: Path, kernels: list[str], say: Say) -> tuple[Measurement, Measurement]:
    """Cold: empty download cache and build dir (downloads included); warm: nothing changed."""
    with tempfile.TemporaryDirectory() as tmp:
        shadow = Path(tmp) / "root"
        shadow.mkdir()
        (shadow / "images").mkdir()
        for name in ("recipe.yaml", "lock.yaml"):
            shutil.copy(root / "images" / name, shadow / "images" / name)
        old_cache = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        try:
            t0 = time.monotonic()
            Images(shadow).build(kernels)
            cold = time.monotonic() - t0
            warm = []
            for _ in range(5):
                t0 = time.monotonic()
                Images(shadow).build(kernels)
                warm.append(time.monotonic() - t0)
        finally:
            if old_cache is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = old_cache
    say(f"  image build: cold {cold:.1f}s, warm {statistics.median(warm) * 1000:.0f} ms")
    return (
        Measurement(f"image build, cold ({'+'.join(kernels)}; downloads included)", [cold]),
        Measurement("image build, warm (nothing changed: no work)", warm, "ms"),
    )


# -- 5. fast boot options -----------------------------------------------------------------------


def boot_options(
    profile: Profile, built: ImageSet, repeat: int, work: Path, say: Say
) -> list[Measurement]:
    """What each fast-boot choice is worth: one change at a time from the lab's default."""
    kernel = built.kernels[profile.kernel]
    variants: dict[str, tuple[Profile, BuiltKernel]] = {
        "default (microvm, PVH vmlinux, loglevel=5)": (profile, kernel),
        "machine pc instead of microvm": (dataclasses.replace(profile, machine="pc"), kernel),
        "full console logging (loglevel=8)": (
            dataclasses.replace(profile, append=(*profile.append, "loglevel=8")),
            kernel,
        ),
    }
    if kernel.boot == "vmlinux":
        bz = dataclasses.replace(kernel, path=kernel.path.with_name("vmlinuz"), boot="bzimage")
        if kernelimage.inspect(bz.path).format == "bzimage":
            variants["compressed bzImage instead of PVH vmlinux"] = (profile, bz)
    out: list[Measurement] = []
    for label, (p, k) in variants.items():
        samples = []
        for i in range(repeat):
            samples.append(lab_boot(p, k, built.initramfs, work / f"opt-{len(out)}-{i}"))
        say(f"  {label}: {statistics.median(samples):.2f}s")
        out.append(Measurement(f"boot to ready: {label} ({profile.name})", samples))
    return out


# -- the whole benchmark ------------------------------------------------------------------------


def run(
    root: Path, profiles: dict[str, Profile], scenarios: list[Scenario], quick: bool, say: Say
) -> BenchResult:
    result = BenchResult()
    repeat = 2 if quick else 5
    boot_profiles = [profiles["amd-syscall32"]] + ([] if quick else [profiles["i386-int80"]])
    images = Images(root)
    built = resolve_images(images, list(profiles.values()), lambda _m: None)
    with tempfile.TemporaryDirectory(prefix="entrylab-bench-") as tmp:
        work = Path(tmp)
        say("1. boot-to-ready overhead (lab vs raw QEMU, alternating)")
        for p in boot_profiles:
            raw, lab, ratio = boot_overhead(p, built, repeat, work, say)
            result.measurements += [raw, lab]
            result.ratios.append(ratio)
        say("2. matrix efficiency")
        matrix_profiles = (
            [profiles[n] for n in ("amd-syscall32", "i386-int80")]
            if quick
            else [p for p in profiles.values() if "default" in p.tags]
        )
        core = [s for s in scenarios if s.suite == "core"]
        jobs = os.cpu_count() or 1
        wall, ideal = run_matrix(matrix_profiles, core, jobs, images, work / "reports")
        seq_wall, _ = run_matrix(matrix_profiles, core, 1, images, work / "reports")
        say(
            f"  {len(matrix_profiles)} profiles: parallel {wall:.1f}s (ideal {ideal:.1f}s), "
            f"one at a time {seq_wall:.1f}s"
        )
        result.measurements += [
            Measurement(
                f"matrix wall, {len(matrix_profiles)} profiles x core, jobs={jobs}", [wall]
            ),
            Measurement("matrix wall, same, jobs=1", [seq_wall]),
        ]
        result.ratios += [
            Ratio(
                "matrix efficiency (wall / ideal)",
                wall / ideal,
                1.15,
                "ideal = sum of each guest's own boot+scenario time / parallelism",
            ),
            Ratio("parallel / one-at-a-time", wall / seq_wall, None),
        ]
        say("3. per-command round trip")
        n = 20 if quick else 100
        result.measurements += console_round_trip(profiles["amd-syscall32"], built, n, work)
        result.measurements += ssh_round_trip(profiles["amd-syscall32"], built, images, n, work)
        say("4. image build")
        if quick:
            result.notes.append("image build cold/warm: skipped with --quick")
        else:
            result.measurements += list(image_builds(root, ["cloud-amd64", "686"], say))
        say("5. fast boot options")
        result.measurements += boot_options(
            profiles["amd-syscall32"], built, 1 if quick else 3, work, say
        )
    return result


def markdown(result: BenchResult, facts: dict[str, str], command: str) -> str:
    lines = ["## Machine", ""] + [f"- {k}: {v}" for k, v in facts.items()]
    lines += [
        "",
        f"Command: `{command}` — every number below is from that one invocation.",
        "",
        "## Ratios",
        "",
        "| ratio | value | target | note |",
        "|---|---|---|---|",
    ]
    lines += [r.row() for r in result.ratios]
    lines += [
        "",
        "## Measurements",
        "",
        "| what | median | min | max | n | note |",
        "|---|---|---|---|---|---|",
    ]
    lines += [m.row() for m in result.measurements]
    if result.notes:
        lines += ["", *[f"- {n}" for n in result.notes]]
    return "\n".join(lines) + "\n"


BENCH_MARK = "<!-- lab bench results below: regenerated by `lab bench --write BENCHMARKS.md` -->"
BENCH_HEADER = """# entrylab benchmarks

How much the lab adds to what the guests themselves need. Method: `lab bench` measures, in one
invocation, on one machine: (1) boot-to-ready of the lab (start QEMU → agent READY with this
boot's nonce → identity verified against the profile) against plain `qemu-system-*` with the same
kernel, initramfs, CPU model and machine type to the first line /init prints, alternating the two
so that drift on a shared machine hits both alike; (2) the wall time of a matrix against the ideal
(each guest's own boot + scenario time, summed, divided by the parallelism used) and against running
the same guests one at a time; (3) 100 trivial commands over the console protocol; (4) an image
build with an empty download cache and build directory, then with nothing changed; (5) boot-to-ready
for each fast-boot choice, one change at a time from the lab's default. Medians with min/max;
ratios are of medians measured in the same run. These machines are shared and noisy: compare
ratios, not absolute seconds, across machines.

"""


def write_markdown(path: Path, tables: str) -> None:
    """Replace the results part of a benchmarks file, keeping whatever header it has."""
    head = BENCH_HEADER if not path.exists() else path.read_text().split(BENCH_MARK)[0]
    atomic_write(path, (head + BENCH_MARK + "\n\n" + tables).encode())
