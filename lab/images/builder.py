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
import os
import re
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from lab.config.yamlconf import load_yaml, validate
from lab.dirs import cache_dir, guest_sources
from lab.errors import ImageError
from lab.fsutil import atomic_write
from lab.images import kernelfile as kernelimage
from lab.images.cpio import Entry, write_newc

BUILDER_VERSION = "2"
GUEST_CFLAGS = ("-m32", "-static", "-O2", "-Wall", "-Wextra", "-fno-pie", "-no-pie")
# Applets linked in the initramfs if `busybox --list` cannot run on this host.
FALLBACK_APPLETS = ("sh", "ls", "cat", "echo", "mount", "dmesg", "ps", "kill", "sleep", "uname")

# The SSH transport (lab/targets/ssh.py): the NIC drivers the guest agent loads with
# entrylab.net=1 --
# virtio-net over virtio-mmio (microvm) or virtio-pci (pc, q35) -- and their dependencies, which
# are found in each module's .modinfo. Debian's 6.1 kernels build them all as modules.
SSH_NIC_MODULES = ("virtio_mmio", "virtio_pci", "virtio_net")
SSH_LAYOUT = "1"  # bump when the files the SSH part adds (below) change
GUEST_HOST_KEY = "etc/dropbear/dropbear_ed25519_host_key"
GUEST_MODULE_DIR = "lib/modules/entrylab"
GUEST_MODULE_LIST = "etc/entrylab/modules"


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
    # name -> files of that package for the SSH part of the initramfs (`ssh:` in the recipe)
    ssh_files: dict[str, tuple[str, ...]] = field(default_factory=dict)


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
class SshPart:
    """What a guest of one kernel needs for the SSH transport, as one cpio to append: dropbear,
    sftp-server and their i386 libraries, the NIC modules of that kernel, and a host key
    generated at build time that the lab pins (it refuses any other)."""

    kernel: str
    cpio: Path
    host_key: str  # public: "ssh-ed25519 AAAA..."
    modules: tuple[str, ...]  # NIC modules in load order


@dataclass(frozen=True)
class ImageSet:
    """Everything a boot needs from the image builder."""

    initramfs: Path
    kernels: dict[str, BuiltKernel]
    manifest: dict[str, Any]
    broken_programs: dict[str, str] = field(default_factory=dict)
    ssh: dict[str, SshPart] = field(default_factory=dict)  # kernel name -> SSH part
    ssh_unavailable: str = ""  # why the images have no SSH, if they have none
    programs: dict[str, Path] = field(default_factory=dict)  # guest programs as compiled


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
        ssh_files = {
            name: tuple(u["ssh"]) for name, u in doc.data["userland"].items() if u.get("ssh")
        }
        return Recipe(kernels, userland, ssh_files)

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

    def add_missing_pins(self) -> dict[str, str]:
        """Pin what the recipe names and the lock lacks; existing pins do not move.

        A new kernel gets the Debian kernel version the other kernels are pinned at when the
        mirror has it (so that all profiles still test one kernel source), else the newest.
        """
        recipe = self.recipe()
        pins = self.lock() if (self.dir / "lock.yaml").exists() else {}
        added: dict[str, str] = {}
        for name, (package, arch) in recipe.userland.items():
            key = f"userland/{name}"
            if key in pins:
                continue
            candidates = _apt_versions(package, arch)
            if not candidates:
                raise ImageError(f"apt knows no version of {package}:{arch}; run `apt-get update`")
            version = _newest(list(candidates))
            pins[key] = Pin(key, package, arch, version, candidates[version])
            added[key] = f"{package} {version}"
        missing_kernels = [k for k in recipe.kernels.values() if f"kernel/{k.name}" not in pins]
        if missing_kernels:
            pinned = {p.version for k, p in pins.items() if k.startswith("kernel/")}
            fresh = _common_kernel_pins(missing_kernels)
            for k in missing_kernels:
                key = f"kernel/{k.name}"
                pin = fresh[key]
                for version in pinned:
                    offers = {
                        v: (pkg, sha)
                        for pkg in _kernel_packages(k.package, k.arch)
                        for v, sha in _apt_versions(pkg, k.arch).items()
                    }
                    if version in offers:
                        package, sha = offers[version]
                        pin = Pin(key, package, k.arch, version, sha)
                        break
                pins[key] = pin
                added[key] = f"{pin.package} {pin.version}"
        if added:
            self._write_lock(pins)
        return added

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
            ssh: dict[str, SshPart] = {}
            why = ""
            try:
                ssh = self._build_ssh(recipe, pins, artefacts, wanted)
            except ImageError as exc:  # the console transport still works without it
                why = str(exc)
                self.log(f"warning: no SSH in the guest images: {why}")
            if not recipe.ssh_files:
                why = "images/recipe.yaml lists no SSH userland (`ssh:` files of `userland`)"
            manifest["lock"] = {k: p.__dict__ for k, p in pins.items()}
            self._write_manifest(manifest)
        return ImageSet(initramfs, built, manifest, dict(self.broken), ssh, why, programs)

    def with_ssh(self, initramfs: Path, part: SshPart) -> Path:
        """An initramfs (base or layered) with a kernel's SSH part appended (cached by content)."""
        label = f"{initramfs.stem}+ssh-{part.kernel}"
        target = self.build_dir / f"{label}.cpio"
        key = _hash_strings(BUILDER_VERSION, _hash_files([initramfs, part.cpio]))
        with self._locked():
            manifest = self._read_manifest()
            artefacts: dict[str, Any] = manifest.setdefault("artefacts", {})
            if not self._cached(artefacts, label, key):
                self.log(f"assembling {label}")
                atomic_write(target, initramfs.read_bytes() + part.cpio.read_bytes())
                self._record(artefacts, label, key, [target], ssh=part.kernel)
                self._write_manifest(manifest)
        return target

    # -- SSH part ------------------------------------------------------------------------------

    def _build_ssh(
        self,
        recipe: Recipe,
        pins: dict[str, Pin],
        artefacts: dict[str, Any],
        kernels: list[str],
    ) -> dict[str, SshPart]:
        """Per kernel: SSH userland + that kernel's NIC modules + a pinned host key, one cpio."""
        if not recipe.ssh_files:
            return {}
        missing = sorted(f"userland/{n}" for n in recipe.ssh_files if f"userland/{n}" not in pins)
        if missing:
            raise ImageError(
                f"images/lock.yaml has no pin for {', '.join(missing)}; run `lab images add-pins`"
            )
        userland = self._build_ssh_userland(recipe, pins, artefacts)
        parts = {}
        for name in kernels:
            modules_cpio, modules = self._build_modules(recipe.kernels[name], pins, artefacts)
            key_cpio, public = self._host_key(name, artefacts)
            target = self.build_dir / "ssh" / f"{name}.cpio"
            inputs = [userland, modules_cpio, key_cpio]
            key = _hash_strings(BUILDER_VERSION, _hash_files(inputs))
            if not self._cached(artefacts, f"ssh/{name}", key):
                atomic_write(target, b"".join(p.read_bytes() for p in inputs))
                self._record(
                    artefacts, f"ssh/{name}", key, [target], host_key=public, modules=modules
                )
            parts[name] = SshPart(name, target, public, tuple(modules))
        return parts

    def _build_ssh_userland(
        self, recipe: Recipe, pins: dict[str, Pin], artefacts: dict[str, Any]
    ) -> Path:
        """dropbear, sftp-server and the i386 shared libraries they need, from pinned .debs."""
        target = self.build_dir / "ssh" / "userland.cpio"
        used = sorted(recipe.ssh_files)
        key = _hash_strings(
            BUILDER_VERSION,
            SSH_LAYOUT,
            *(f"{n}:{pins[f'userland/{n}'].sha256}:{','.join(recipe.ssh_files[n])}" for n in used),
        )
        if self._cached(artefacts, "ssh/userland", key):
            return target
        self.log("assembling the SSH userland (dropbear, sftp-server)")
        files: dict[str, bytes] = {}
        for name in used:
            pin = pins[f"userland/{name}"]
            wanted = recipe.ssh_files[name]
            got = _deb_files(self.fetch(pin), wanted)
            lost = [w for w in wanted if w not in got]
            if lost:
                raise ImageError(f"{pin.deb_name} has no {', '.join(lost)} (images/recipe.yaml)")
            files.update(got)
        dirs = {"etc", "etc/dropbear", "etc/entrylab", "root", "var", "var/log", "lab/bin-deployed"}
        for path in files:
            parts = path.split("/")[:-1]
            dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        entries = [Entry.directory(d, 0o700 if d == "root" else 0o755) for d in sorted(dirs)]
        entries.append(Entry.directory("root/.ssh", 0o700))
        entries.append(Entry.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644))
        entries.append(Entry.file("etc/group", b"root:x:0:\n", 0o644))
        for path in sorted(files):
            entries.append(Entry.file(path, files[path], 0o755))
        buf = io.BytesIO()
        write_newc(buf, entries)
        atomic_write(target, buf.getvalue())
        self._record(
            artefacts,
            "ssh/userland",
            key,
            [target],
            packages={
                n: f"{pins[f'userland/{n}'].package}={pins[f'userland/{n}'].version}" for n in used
            },
        )
        return target

    def _build_modules(
        self, recipe: KernelRecipe, pins: dict[str, Pin], artefacts: dict[str, Any]
    ) -> tuple[Path, list[str]]:
        """The kernel's NIC modules (uncompressed .ko from its package) in dependency order, and
        the list the guest agent loads them from."""
        pin = pins[f"kernel/{recipe.name}"]
        target = self.build_dir / "kernels" / recipe.name / "modules.cpio"
        key = _hash_strings(BUILDER_VERSION, SSH_LAYOUT, pin.sha256, *SSH_NIC_MODULES)
        cached = self._cached(artefacts, f"modules/{recipe.name}", key)
        if cached is not None:
            return target, list(cached["modules"])
        deb = self.fetch(pin)
        self.log(f"extracting NIC modules of kernel {recipe.name}")
        kos = _deb_modules(deb)
        order: list[str] = []

        def visit(name: str, chain: tuple[str, ...]) -> None:
            if name in order:
                return
            if name not in kos:
                raise ImageError(
                    f"kernel {recipe.name}: {deb.name} has no module {name}.ko (needed for "
                    f"the SSH transport{' by ' + chain[-1] if chain else ''})"
                )
            if name in chain:
                raise ImageError(f"kernel {recipe.name}: module dependency loop {chain}")
            for dep in _module_depends(kos[name]):
                visit(dep, (*chain, name))
            order.append(name)

        for name in SSH_NIC_MODULES:
            visit(name, ())
        entries = [Entry.directory(d) for d in ("lib", "lib/modules", GUEST_MODULE_DIR, "etc")]
        entries.append(Entry.directory("etc/entrylab"))
        for name in order:
            entries.append(Entry.file(f"{GUEST_MODULE_DIR}/{name}.ko", kos[name], 0o644))
        listing = "".join(f"/{GUEST_MODULE_DIR}/{name}.ko\n" for name in order)
        entries.append(Entry.file(GUEST_MODULE_LIST, listing.encode(), 0o644))
        buf = io.BytesIO()
        write_newc(buf, entries)
        atomic_write(target, buf.getvalue())
        self._record(
            artefacts,
            f"modules/{recipe.name}",
            key,
            [target],
            modules=order,
            package=pin.package,
            version=pin.version,
        )
        return target, order

    def _host_key(self, kernel: str, artefacts: dict[str, Any]) -> tuple[Path, str]:
        """The guests' Ed25519 host key for one kernel's images: made once, then kept (and
        pinned by the lab: a guest that presents another key is refused)."""
        out = self.build_dir / "ssh" / kernel
        target = out / "host_key.cpio"
        key = _hash_strings(BUILDER_VERSION, SSH_LAYOUT, "host-key", kernel)
        cached = self._cached(artefacts, f"ssh/host-key/{kernel}", key)
        if cached is not None:
            return target, str(cached["public"])
        private = ed25519.Ed25519PrivateKey.generate()
        seed = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        public_raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        public = (
            private.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
        )
        # dropbear's own format (dropbear/src/ed25519.c): string "ssh-ed25519", string priv||pub.
        blob = _ssh_string(b"ssh-ed25519") + _ssh_string(seed + public_raw)
        buf = io.BytesIO()
        write_newc(
            buf,
            [
                Entry.directory("etc"),
                Entry.directory("etc/dropbear"),
                Entry.file(GUEST_HOST_KEY, blob, 0o600),
            ],
        )
        atomic_write(target, buf.getvalue(), mode=0o600)
        atomic_write(out / "host_key.pub", (public + "\n").encode())
        self._record(artefacts, f"ssh/host-key/{kernel}", key, [target], public=public)
        return target, public

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


def _tar_of(deb: Path) -> tarfile.TarFile:
    proc = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise ImageError(f"{deb}: not a valid .deb ({proc.stderr.decode(errors='replace')[:200]})")
    return tarfile.open(fileobj=io.BytesIO(proc.stdout))


def _deb_files(deb: Path, paths: tuple[str, ...]) -> dict[str, bytes]:
    """Files of a .deb by path (no leading ./); a symlink gives its target's content."""
    with _tar_of(deb) as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers()}
        out = {}
        for path in paths:
            name = path
            for _ in range(10):
                m = members.get(name)
                if m is None or not m.issym():
                    break
                target = m.linkname
                name = str(
                    Path(target.lstrip("/"))
                    if target.startswith("/")
                    else Path(name).parent / target
                )
                name = os.path.normpath(name)
            m = members.get(name)
            if m is not None and m.isfile():
                f = tar.extractfile(m)
                if f is not None:
                    out[path] = f.read()
    return out


def _deb_modules(deb: Path) -> dict[str, bytes]:
    """Every uncompressed .ko of a kernel package, by module name (dashes as underscores)."""
    out = {}
    with _tar_of(deb) as tar:
        for m in tar:
            if m.isfile() and re.match(r"^\./lib/modules/[^/]+/kernel/.*\.ko$", m.name):
                f = tar.extractfile(m)
                if f is not None:
                    out[Path(m.name).stem.replace("-", "_")] = f.read()
    return out


def _module_depends(ko: bytes) -> list[str]:
    """The depends= field of a module's .modinfo section (what must be loaded before it)."""
    try:
        section = ELFFile(io.BytesIO(ko)).get_section_by_name(".modinfo")
    except ELFError as exc:
        raise ImageError(f"not a kernel module: {exc}") from None
    if section is None:
        return []
    for field_ in section.data().split(b"\0"):
        if field_.startswith(b"depends="):
            return [d for d in field_[len(b"depends=") :].decode().split(",") if d]
    return []


def _ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


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
