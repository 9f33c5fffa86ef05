"""Guest images from Debian's packages: pinned, downloaded once, built only when inputs change.

Inputs: images/recipe.yaml (what to build), images/lock.yaml (exact Debian versions and .deb
sha256), the C sources in lab/guest/. Outputs in images/build/ (ignored by git) and a manifest
recording every artefact with its sha256 and the package versions it came from. Downloads are
cached in the XDG cache dir, outside the checkout.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import re
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab import kernelimage
from lab.cpio import Entry, write_newc
from lab.errors import ImageError
from lab.fsutil import atomic_write
from lab.paths import cache_dir, guest_sources
from lab.yamlconf import load_yaml, validate

BUILDER_VERSION = "2"
GUEST_CFLAGS = ("-m32", "-static", "-O2", "-Wall", "-Wextra", "-fno-pie", "-no-pie")
# Applets linked in the initramfs if `busybox --list` cannot run on this host.
FALLBACK_APPLETS = ("sh", "ls", "cat", "echo", "mount", "dmesg", "ps", "kill", "sleep", "uname")


# An initramfs layer: extra files that some scenarios need (e.g. the kernel's own x86 selftests),
# built by a suite module and appended to the base initramfs at boot (the kernel unpacks
# concatenated cpio archives in order). A layer builder caches its own work and returns its cpio.
Layer = Callable[["Images"], Path]
LAYERS: dict[str, Layer] = {}


def register_layer(name: str) -> Callable[[Layer], Layer]:
    """Make a layer available to scenarios as `needs: [<name>]`."""

    def add(builder: Layer) -> Layer:
        if name in LAYERS:
            raise ValueError(f"initramfs layer {name!r} registered twice")
        LAYERS[name] = builder
        return builder

    return add


@dataclass(frozen=True)
class KernelRecipe:
    name: str
    package: str  # apt name pattern with {abi}
    arch: str
    bits: int
    boot: str  # "vmlinux" or "bzimage"


@dataclass(frozen=True)
class Pin:
    """One exact Debian package version the images are built from."""

    key: str  # "kernel/cloud-amd64", "userland/busybox"
    package: str
    arch: str
    version: str
    sha256: str

    @property
    def apt_spec(self) -> str:
        return f"{self.package}:{self.arch}={self.version}"

    @property
    def deb_name(self) -> str:
        return f"{self.package}_{self.version.replace(':', '%3a')}_{self.arch}.deb"


@dataclass(frozen=True)
class Recipe:
    kernels: dict[str, KernelRecipe]
    userland: dict[str, tuple[str, str]]  # name -> (package, arch)


@dataclass(frozen=True)
class BuiltKernel:
    """A kernel ready to boot: where it is and what it is."""

    name: str
    path: Path
    bits: int
    boot: str
    release: str  # e.g. 6.1.0-50-cloud-amd64, or "" if unknown (user kernels)
    origin: str  # "debian:<package>=<version>" or "user:<path>"
    config: dict[str, str]


@dataclass(frozen=True)
class ImageSet:
    """Everything a boot needs from the image builder."""

    initramfs: Path
    kernels: dict[str, BuiltKernel]
    manifest: dict[str, Any]
    broken_programs: dict[str, str] = field(default_factory=dict)


class Images:
    """The image builder of one checkout."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "images"
        self.build_dir = self.dir / "build"
        self.debs = cache_dir() / "debs"
        self.log: Callable[[str], None] = lambda _msg: None
        self.broken: dict[str, str] = {}  # guest program -> compiler error, from the last build

    # -- configuration -------------------------------------------------------------------------

    def recipe(self) -> Recipe:
        doc = load_yaml(self.dir / "recipe.yaml")
        validate(doc, "recipe")
        kernels = {
            name: KernelRecipe(name, k["package"], k["arch"], k["bits"], k["boot"])
            for name, k in doc.data["kernels"].items()
        }
        userland = {name: (u["package"], u["arch"]) for name, u in doc.data["userland"].items()}
        return Recipe(kernels, userland)

    def lock(self) -> dict[str, Pin]:
        path = self.dir / "lock.yaml"
        if not path.exists():
            raise ImageError(f"{path}: no lock file; run `lab images update` to create one")
        doc = load_yaml(path)
        validate(doc, "lock")
        return {
            key: Pin(key, p["package"], p["arch"], str(p["version"]), p["sha256"])
            for key, p in doc.data["packages"].items()
        }

    # -- lock update ---------------------------------------------------------------------------

    def update(self) -> dict[str, tuple[str | None, str]]:
        """Move every pin to the newest version the mirror offers; returns old -> new.

        All kernels move to the same Debian kernel version (the newest one every flavour has),
        so that the 32- and 64-bit profiles of one nightly test the same kernel source.
        """
        recipe = self.recipe()
        old = self.lock() if (self.dir / "lock.yaml").exists() else {}
        pins = _common_kernel_pins(list(recipe.kernels.values()))
        for name, (package, arch) in recipe.userland.items():
            candidates = _apt_versions(package, arch)
            if not candidates:
                raise ImageError(f"apt knows no version of {package}:{arch}; run `apt-get update`")
            version = _newest(list(candidates))
            pins[f"userland/{name}"] = Pin(
                f"userland/{name}", package, arch, version, candidates[version]
            )
        self._write_lock(pins)
        return {
            key: (
                f"{old[key].package} {old[key].version}" if key in old else None,
                f"{pin.package} {pin.version}",
            )
            for key, pin in pins.items()
        }

    def _write_lock(self, pins: dict[str, Pin]) -> None:
        body = {
            "packages": {
                p.key: {
                    "package": p.package,
                    "arch": p.arch,
                    "version": p.version,
                    "sha256": p.sha256,
                }
                for p in pins.values()
            }
        }
        header = (
            "# Exact Debian package versions the guest images are built from.\n"
            "# Generated by `lab images update`; commit it so every nightly builds the same\n"
            "# images.\n"
        )
        atomic_write(
            self.dir / "lock.yaml", (header + yaml.safe_dump(body, sort_keys=True)).encode()
        )

    # -- downloads -----------------------------------------------------------------------------

    def fetch(self, pin: Pin) -> Path:
        """The pinned .deb from the cache, downloading it with apt-get if needed."""
        self.debs.mkdir(parents=True, exist_ok=True)
        target = self.debs / pin.deb_name
        if target.exists() and _sha256_file(target) == pin.sha256:
            return target
        self.log(f"downloading {pin.apt_spec}")
        result = _apt_download(pin, self.debs)
        if result.returncode != 0 and "was not found" in result.stderr + result.stdout:
            # Stale package lists are the usual cause on a machine that was idle: refresh once.
            subprocess.run(["apt-get", "update"], capture_output=True, text=True, check=False)
            result = _apt_download(pin, self.debs)
        if result.returncode != 0:
            text = (result.stderr or result.stdout).strip().splitlines()
            detail = text[-1] if text else f"exit {result.returncode}"
            if "was not found" in detail or "Unable to locate" in detail:
                raise ImageError(
                    f"pinned {pin.key}: {pin.package} version {pin.version} ({pin.arch}) is no "
                    f"longer on the Debian mirror ({detail}). Move the pin with "
                    "`lab images update` and commit images/lock.yaml."
                )
            raise ImageError(f"downloading {pin.apt_spec} failed: {detail}")
        if not target.exists():
            raise ImageError(f"apt-get download {pin.apt_spec} did not produce {target.name}")
        digest = _sha256_file(target)
        if digest != pin.sha256:
            target.unlink()
            raise ImageError(
                f"{pin.apt_spec}: sha256 {digest} does not match the lock ({pin.sha256}); the "
                "mirror served a different file. Run `lab images update` if the change is expected."
            )
        return target

    # -- build ---------------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One builder at a time per checkout; a second `lab run` waits instead of colliding."""
        self.build_dir.mkdir(parents=True, exist_ok=True)
        with (self.build_dir / ".lock").open("w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def build(self, kernels: list[str] | None = None) -> ImageSet:
        """Build (or reuse) the initramfs and the named kernels; nothing changed → no work."""
        recipe = self.recipe()
        pins = self.lock()
        wanted = list(recipe.kernels) if kernels is None else kernels
        for name in wanted:
            if name not in recipe.kernels:
                known = ", ".join(sorted(recipe.kernels))
                raise ImageError(f"kernel {name!r} is not in images/recipe.yaml (known: {known})")
            if f"kernel/{name}" not in pins:
                raise ImageError(
                    f"kernel {name!r} has no pin in images/lock.yaml; run `lab images update`"
                )
        with self._locked():
            manifest = self._read_manifest()
            artefacts: dict[str, Any] = manifest.setdefault("artefacts", {})
            programs = self._build_guest_programs(artefacts)
            busybox = self._build_busybox(pins, artefacts)
            initramfs = self._build_initramfs(programs, busybox, artefacts)
            built = {n: self._build_kernel(recipe.kernels[n], pins, artefacts) for n in wanted}
            manifest["lock"] = {k: p.__dict__ for k, p in pins.items()}
            self._write_manifest(manifest)
        return ImageSet(initramfs, built, manifest, dict(self.broken))

    def layered(self, base: Path, names: list[str]) -> Path:
        """The base initramfs with the named layers appended (cached by content)."""
        if not names:
            return base
        unknown = sorted(set(names) - set(LAYERS))
        if unknown:
            raise ImageError(f"unknown initramfs layers {unknown} (known: {sorted(LAYERS)})")
        parts = [base, *(LAYERS[n](self) for n in sorted(set(names)))]
        label = "+".join(sorted(set(names)))
        target = self.build_dir / f"initramfs+{label}.cpio"
        key = _hash_strings(BUILDER_VERSION, _hash_files(parts))
        with self._locked():
            manifest = self._read_manifest()
            artefacts: dict[str, Any] = manifest.setdefault("artefacts", {})
            if not self._cached(artefacts, f"initramfs+{label}", key):
                self.log(f"assembling initramfs with {label}")
                atomic_write(target, b"".join(p.read_bytes() for p in parts))
                self._record(artefacts, f"initramfs+{label}", key, [target], layers=sorted(names))
                self._write_manifest(manifest)
        return target

    def _cached(self, artefacts: dict[str, Any], name: str, key: str) -> dict[str, Any] | None:
        entry = artefacts.get(name)
        if not entry or entry.get("key") != key:
            return None
        files = [self.root / f for f in entry.get("files", {})]
        if not files or not all(f.exists() for f in files):
            return None
        return dict(entry)

    def _record(
        self, artefacts: dict[str, Any], name: str, key: str, files: list[Path], **info: Any
    ) -> dict[str, Any]:
        entry = {
            "key": key,
            "files": {str(f.relative_to(self.root)): _sha256_file(f) for f in files},
            **info,
        }
        artefacts[name] = entry
        return entry

    def _build_guest_programs(self, artefacts: dict[str, Any]) -> dict[str, Path]:
        """Compile every lab/guest/*.c with gcc -m32 -static; agent.c becomes /init.

        A scenario program that does not compile is reported (self.broken) and left out, so
        one bad program costs its own scenarios, not the whole run; the agent must compile.
        """
        out_dir = self.build_dir / "guest"
        out_dir.mkdir(parents=True, exist_ok=True)
        cc = _gcc_version()
        shared = sorted([*guest_sources().glob("*.h"), *guest_sources().glob("*.S")])
        shared_hash = _hash_files(shared)
        programs: dict[str, Path] = {}
        self.broken = {}
        for source in sorted(guest_sources().glob("*.c")):
            name = source.stem
            binary = out_dir / name
            extra = _program_cflags(source)
            key = _hash_strings(
                BUILDER_VERSION,
                cc,
                " ".join(GUEST_CFLAGS),
                " ".join(extra),
                _sha256_file(source),
                shared_hash,
            )
            if not self._cached(artefacts, f"guest/{name}", key):
                self.log(f"compiling lab/guest/{source.name}")
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
                    self.log(f"warning: {message}")
                    self.broken[name] = message
                    artefacts.pop(f"guest/{name}", None)
                    continue
                self._record(artefacts, f"guest/{name}", key, [binary], source=source.name)
            programs[name] = binary
        if "agent" not in programs:
            raise ImageError("lab/guest/agent.c is missing: the guest agent is the guest's /init")
        return programs

    def _build_busybox(self, pins: dict[str, Pin], artefacts: dict[str, Any]) -> Path:
        pin = pins.get("userland/busybox")
        if pin is None:
            raise ImageError(
                "images/lock.yaml has no userland/busybox pin; run `lab images update`"
            )
        target = self.build_dir / "busybox"
        key = _hash_strings(BUILDER_VERSION, pin.sha256)
        if self._cached(artefacts, "userland/busybox", key):
            return target
        deb = self.fetch(pin)
        data = _deb_member(deb, re.compile(r"^\./bin/busybox$"))
        if data is None:
            raise ImageError(f"{deb.name}: no bin/busybox inside")
        atomic_write(target, data, mode=0o755)
        self._record(
            artefacts,
            "userland/busybox",
            key,
            [target],
            package=pin.package,
            version=pin.version,
            arch=pin.arch,
        )
        return target

    def _build_initramfs(
        self, programs: dict[str, Path], busybox: Path, artefacts: dict[str, Any]
    ) -> Path:
        """One initramfs for every kernel: agent as /init, busybox, the guest programs."""
        target = self.build_dir / "initramfs.cpio"
        inputs = [busybox, *(programs[n] for n in sorted(programs))]
        key = _hash_strings(BUILDER_VERSION, _hash_files(inputs), " ".join(sorted(programs)))
        if self._cached(artefacts, "initramfs", key):
            return target
        self.log("assembling initramfs")
        entries = [
            Entry.directory(d)
            for d in ("bin", "sbin", "dev", "proc", "sys", "tmp", "root", "lab", "lab/bin")
        ]
        entries.append(Entry.file("init", programs["agent"].read_bytes()))
        entries.append(Entry.file("bin/busybox", busybox.read_bytes()))
        for applet in _busybox_applets(busybox):
            entries.append(Entry.symlink(applet, "/bin/busybox"))
        for name in sorted(programs):
            if name != "agent":
                entries.append(Entry.file(f"lab/bin/{name}", programs[name].read_bytes()))
        buf = io.BytesIO()
        write_newc(buf, entries)
        atomic_write(target, buf.getvalue())
        self._record(artefacts, "initramfs", key, [target], programs=sorted(programs))
        return target

    def _build_kernel(
        self, recipe: KernelRecipe, pins: dict[str, Pin], artefacts: dict[str, Any]
    ) -> BuiltKernel:
        pin = pins[f"kernel/{recipe.name}"]
        out_dir = self.build_dir / "kernels" / recipe.name
        key = _hash_strings(BUILDER_VERSION, pin.sha256, recipe.boot)
        cached = self._cached(artefacts, f"kernel/{recipe.name}", key)
        if cached is None:
            deb = self.fetch(pin)
            self.log(f"extracting kernel {recipe.name} from {deb.name}")
            out_dir.mkdir(parents=True, exist_ok=True)
            vmlinuz = _deb_member(deb, re.compile(r"^\./boot/vmlinuz-.*"))
            config = _deb_member(deb, re.compile(r"^\./boot/config-.*"))
            if vmlinuz is None:
                raise ImageError(f"{deb.name}: no boot/vmlinuz-* inside")
            atomic_write(out_dir / "vmlinuz", vmlinuz)
            files = [out_dir / "vmlinuz"]
            if config is not None:
                atomic_write(out_dir / "config", config)
                files.append(out_dir / "config")
            if recipe.boot == "vmlinux":
                atomic_write(out_dir / "vmlinux", kernelimage.extract_vmlinux(out_dir / "vmlinuz"))
                files.append(out_dir / "vmlinux")
            info = kernelimage.inspect(out_dir / "vmlinuz")
            if info.bits != recipe.bits:
                raise ImageError(
                    f"kernel {recipe.name}: {deb.name} is {info.bits}-bit, "
                    f"recipe says {recipe.bits}"
                )
            cfg = _config_facts(config.decode(errors="replace") if config else "")
            cached = self._record(
                artefacts,
                f"kernel/{recipe.name}",
                key,
                files,
                package=pin.package,
                version=pin.version,
                arch=pin.arch,
                bits=info.bits,
                boot=recipe.boot,
                release=info.version.split(" ")[0],
                config=cfg,
            )
        path = out_dir / ("vmlinux" if recipe.boot == "vmlinux" else "vmlinuz")
        return BuiltKernel(
            recipe.name,
            path,
            recipe.bits,
            recipe.boot,
            cached["release"],
            f"debian:{pin.package}={pin.version}",
            cached["config"],
        )

    def _read_manifest(self) -> dict[str, Any]:
        path = self.build_dir / "manifest.json"
        try:
            loaded: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            return {"schema": 1, "artefacts": {}}
        if loaded.get("schema") != 1:
            return {"schema": 1, "artefacts": {}}
        return loaded

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        atomic_write(self.build_dir / "manifest.json", text.encode())

    def listing(self) -> list[dict[str, Any]]:
        """What is built, for `lab images list`: name, files, versions, sha256."""
        manifest = self._read_manifest()
        rows = []
        for name, entry in sorted(manifest.get("artefacts", {}).items()):
            present = all((self.root / f).exists() for f in entry.get("files", {}))
            rows.append({"name": name, "present": present, **entry})
        return rows


def user_kernel(path: Path) -> BuiltKernel:
    """A kernel developer's own bzImage/vmlinux, booted as given."""
    info = kernelimage.inspect(path)
    release = info.version.split(" ")[0] if info.version else ""
    config: dict[str, str] = {}
    for candidate in (path.parent / ".config", path.parent / "config"):
        if candidate.is_file():
            config = _config_facts(candidate.read_text(errors="replace"))
            break
    boot = "vmlinux" if info.format == "elf" else "bzimage"
    return BuiltKernel(
        f"user:{path.name}",
        path.resolve(),
        info.bits,
        boot,
        release,
        f"user:{path.resolve()}",
        config,
    )


CONFIG_FACTS = (
    "CONFIG_IA32_EMULATION",
    "CONFIG_X86_64",
    "CONFIG_PVH",
    "CONFIG_SERIAL_8250",
    "CONFIG_DEVTMPFS",
    "CONFIG_BLK_DEV_INITRD",
    "CONFIG_COMPAT_32",
    "CONFIG_X86_X32_ABI",
    "CONFIG_PAGE_TABLE_ISOLATION",
    "CONFIG_RETPOLINE",
)


def _program_cflags(source: Path) -> list[str]:
    """Extra gcc words a guest program asks for in a `// entrylab-cflags: ...` line near its top
    (e.g. an assembly file of lab/guest to link with, or -lm)."""
    with source.open(errors="replace") as f:
        for _ in range(30):
            line = f.readline()
            m = re.search(r"entrylab-cflags:\s*(.*?)\s*(\*/)?$", line)
            if m:
                return m.group(1).split()
    return []


def _config_facts(text: str) -> dict[str, str]:
    """The kernel config options the lab's semantics depend on (y / m / n)."""
    facts = dict.fromkeys(CONFIG_FACTS, "n") if text else {}
    for line in text.splitlines():
        m = re.match(r"^(CONFIG_\w+)=(.*)$", line)
        if m and m.group(1) in CONFIG_FACTS:
            facts[m.group(1)] = m.group(2).strip('"')
    return facts


def _apt_download(pin: Pin, where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", "download", pin.apt_spec],
        cwd=where,
        capture_output=True,
        text=True,
        check=False,
    )


def _apt_cache(*args: str) -> str:
    try:
        result = subprocess.run(["apt-cache", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ImageError("apt-cache not found: the image builder needs Debian's apt") from None
    return result.stdout


def _kernel_packages(pattern: str, arch: str) -> list[str]:
    """Every package name the mirror lists for a pattern like linux-image-{abi}-686-unsigned."""
    regex = "^" + re.escape(pattern).replace(re.escape("{abi}"), r"[0-9][0-9.]*-[0-9]+") + "$"
    names = [
        line.split(" ")[0] for line in _apt_cache("search", "--names-only", regex).splitlines()
    ]
    return [n for n in names if re.match(regex, n)]


def _apt_versions(package: str, arch: str) -> dict[str, str]:
    """Every version apt offers of package:arch, with the .deb's sha256 from its record."""
    found: dict[str, str] = {}
    for stanza in _apt_cache("show", f"{package}:{arch}").split("\n\n"):
        fields = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.M))
        if fields.get("Architecture") in (arch, "all") and "SHA256" in fields:
            found[fields["Version"]] = fields["SHA256"]
    return found


def _common_kernel_pins(kernels: list[KernelRecipe]) -> dict[str, Pin]:
    """Pins for all kernels at the newest Debian version that every flavour offers."""
    offers: dict[str, dict[str, tuple[str, str]]] = {}  # kernel -> version -> (package, sha)
    for k in kernels:
        offers[k.name] = {}
        for package in _kernel_packages(k.package, k.arch):
            for version, sha in _apt_versions(package, k.arch).items():
                offers[k.name][version] = (package, sha)
        if not offers[k.name]:
            raise ImageError(
                f"no package matching {k.package} for {k.arch} on the mirror (did `apt-get "
                "update` run, and for i386 `dpkg --add-architecture i386`?)"
            )
    common = set.intersection(*(set(v) for v in offers.values()))
    pins = {}
    for k in kernels:
        version = _newest(list(common)) if common else _newest(list(offers[k.name]))
        package, sha = offers[k.name][version]
        pins[f"kernel/{k.name}"] = Pin(f"kernel/{k.name}", package, k.arch, version, sha)
    return pins


def _newest(versions: list[str]) -> str:
    best = versions[0]
    for v in versions[1:]:
        if _version_gt(v, best):
            best = v
    return best


def _version_gt(a: str, b: str) -> bool:
    result = subprocess.run(["dpkg", "--compare-versions", a, "gt", b], check=False)
    return result.returncode == 0


def _deb_member(deb: Path, name: re.Pattern[str]) -> bytes | None:
    """A file from a .deb's data archive, via dpkg-deb (no install into the host)."""
    proc = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise ImageError(f"{deb}: not a valid .deb ({proc.stderr.decode(errors='replace')[:200]})")
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        for member in tar:
            if member.isfile() and name.match(member.name):
                f = tar.extractfile(member)
                return f.read() if f else None
    return None


def _busybox_applets(busybox: Path) -> list[str]:
    """Paths of the applet links, e.g. bin/sh, sbin/reboot (runs the i386 binary on the host)."""
    try:
        result = subprocess.run(
            [str(busybox), "--list-full"], capture_output=True, text=True, timeout=10, check=False
        )
        names = [n.strip() for n in result.stdout.splitlines() if n.strip()]
    except (OSError, subprocess.TimeoutExpired):
        names = []
    if not names:
        names = [f"bin/{a}" for a in FALLBACK_APPLETS]
    # Only links into the directories the initramfs has; bin/busybox itself is a real file.
    return sorted(
        n
        for n in names
        if n.split("/")[0] in ("bin", "sbin") and n != "bin/busybox" and n.count("/") == 1
    )


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _hash_files(paths: list[Path]) -> str:
    return _hash_strings(*(f"{p.name}:{_sha256_file(p)}" for p in paths))


def _hash_strings(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _gcc_version() -> str:
    try:
        out = subprocess.run(["gcc", "--version"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ImageError("gcc not found: install gcc and gcc-multilib (./lab.sh does)") from None
    return out.stdout.splitlines()[0] if out.stdout else "unknown"
