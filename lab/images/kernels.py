"""Kernels: extracted from their pinned Debian packages (with the uncompressed vmlinux for PVH
boots), or a kernel developer's own file; and the config facts the lab's semantics depend on."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import ImageError
from lab.fsutil import atomic_write
from lab.images import debian
from lab.images import kernelfile as kernelimage
from lab.images.cache import BUILDER_VERSION, Artefacts, Log, hash_strings
from lab.images.recipe import KernelRecipe, Pin, SeriesKernel

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

Fetch = Callable[[Pin], Path]  # the pinned .deb, downloaded if needed

# Where the kernel and its config are in a package: the classic linux-image package has them in
# /boot; Debian 7.x's linux-binary-unsigned-<abi> has /usr/lib/modules/<abi>/vmlinuz.unsigned and
# linux-base-<abi> /usr/lib/modules/<abi>/config (docs/kernel-versions.md D16).
VMLINUZ = re.compile(r"^\./boot/vmlinuz-.*")
CONFIG = re.compile(r"^\./boot/config-.*")
SERIES_VMLINUZ = re.compile(
    r"^\./(?:boot/vmlinuz-.*|usr/lib/modules/[^/]+/vmlinuz(?:\.unsigned)?)$"
)
SERIES_CONFIG = re.compile(r"^\./(?:boot/config-.*|usr/lib/modules/[^/]+/config)$")


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
    series: str = ""  # the kernel series of the recipe ("6.1", "7.2"); "" for a user's kernel
    flavour: str = ""  # cloud-amd64, amd64, 686; "" for a user's kernel


def config_facts(text: str) -> dict[str, str]:
    """The kernel config options the lab's semantics depend on (y / m / n)."""
    facts = dict.fromkeys(CONFIG_FACTS, "n") if text else {}
    for line in text.splitlines():
        m = re.match(r"^(CONFIG_\w+)=(.*)$", line)
        if m and m.group(1) in CONFIG_FACTS:
            facts[m.group(1)] = m.group(2).strip('"')
    return facts


def build_kernel(
    recipe: KernelRecipe,
    pin: Pin,
    build_dir: Path,
    artefacts: Artefacts,
    fetch: Fetch,
    log: Log,
    spec: SeriesKernel | None = None,
    base: Pin | None = None,
) -> BuiltKernel:
    """The kernel of a recipe from its pinned package, into build_dir/kernels/<name>/.

    spec names a kernel of another series (7.2/cloud-amd64 → kernels/7.2/cloud-amd64/); base is
    the 7.x linux-base package its config comes from (pin is then linux-binary-unsigned).
    Without them (the default series) it is exactly the build it always was.
    """
    series = spec is not None and not spec.default
    name = spec.name if spec is not None else recipe.name
    out_dir = build_dir / "kernels" / name
    if base is None:
        key = hash_strings(BUILDER_VERSION, pin.sha256, recipe.boot)
    else:
        key = hash_strings(BUILDER_VERSION, pin.sha256, base.sha256, recipe.boot)
    cached = artefacts.cached(f"kernel/{name}", key)
    if cached is None:
        deb = fetch(pin)
        log(f"extracting kernel {name} from {deb.name}")
        out_dir.mkdir(parents=True, exist_ok=True)
        vmlinuz = debian.deb_member(deb, SERIES_VMLINUZ if series else VMLINUZ)
        config_deb = fetch(base) if base is not None else deb
        config = debian.deb_member(config_deb, SERIES_CONFIG if series else CONFIG)
        if vmlinuz is None:
            where = "boot/vmlinuz-* or usr/lib/modules/*/vmlinuz*" if series else "boot/vmlinuz-*"
            raise ImageError(f"{deb.name}: no {where} inside")
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
                f"kernel {name}: {deb.name} is {info.bits}-bit, recipe says {recipe.bits}"
            )
        cfg = config_facts(config.decode(errors="replace") if config else "")
        extra: dict[str, str] = {}
        if series and spec is not None:
            extra = {"series": spec.series, "flavour": spec.flavour}
            if base is not None:
                extra["config_package"] = f"{base.package}={base.version}"
        cached = artefacts.record(
            f"kernel/{name}",
            key,
            files,
            package=pin.package,
            version=pin.version,
            arch=pin.arch,
            bits=info.bits,
            boot=recipe.boot,
            release=info.version.split(" ")[0],
            config=cfg,
            **extra,
        )
    path = out_dir / ("vmlinux" if recipe.boot == "vmlinux" else "vmlinuz")
    return BuiltKernel(
        name,
        path,
        recipe.bits,
        recipe.boot,
        cached["release"],
        f"debian:{pin.package}={pin.version}",
        cached["config"],
        spec.series if spec is not None else "",
        recipe.name,
    )


KBUILD_MANIFEST = "manifest.json"  # what `lab kernel build` writes beside its kernel


def kbuild_name(manifest: Mapping[str, Any]) -> str:
    """The stable name of a kernel `lab kernel build` made, from its tree: tree-<git HEAD>
    (-dirty), tree-<identity> for a tree outside git, src-<version> for Debian's linux-source.
    Cells are named by it (intel-sep@tree-1a2b3c4d5e6f), so runs of one tree compare."""
    inputs = manifest.get("inputs") or {}
    origin = str(inputs.get("tree", ""))
    kind, _, rest = origin.partition(":")
    if kind == "git":
        head, _, dirty = rest.partition("+")
        return f"tree-{head[:12]}{'-dirty' if dirty else ''}"
    if kind == "debian":
        return f"src-{rest.partition('=')[2] or rest}"
    return f"tree-{str(inputs.get('tree_identity', ''))[:12] or 'unknown'}"


def kernel_file(path: Path) -> tuple[Path, dict[str, Any]]:
    """The kernel a --kernel path names, and its kbuild manifest ({} if none): a file, or a
    directory `lab kernel build` made (its manifest names the kernel in it)."""
    where = path if path.is_dir() else path.parent
    try:
        manifest: dict[str, Any] = json.loads((where / KBUILD_MANIFEST).read_text())
    except (OSError, ValueError):
        manifest = {}
    if path.is_dir():
        if not manifest.get("kernel"):
            raise ImageError(
                f"kernel {path}: a directory, but not one `lab kernel build` made "
                f"(no {KBUILD_MANIFEST} naming its kernel)"
            )
        return path / str(manifest["kernel"]), manifest
    if manifest.get("kernel") != path.name:
        manifest = {}  # a manifest beside it, but of another file
    return path, manifest


def user_kernel(path: Path) -> BuiltKernel:
    """A kernel developer's own bzImage/vmlinux, booted as given; a `lab kernel build`
    result (its directory or its kernel) gets its tree's name and release."""
    path, manifest = kernel_file(path)
    info = kernelimage.inspect(path)
    release = info.version.split(" ")[0] if info.version else ""
    config: dict[str, str] = {}
    for candidate in (path.parent / ".config", path.parent / "config"):
        if candidate.is_file():
            config = config_facts(candidate.read_text(errors="replace"))
            break
    boot = "vmlinux" if info.format == "elf" else "bzimage"
    name = kbuild_name(manifest) if manifest else f"user:{path.name}"
    return BuiltKernel(
        name,
        path.resolve(),
        info.bits,
        boot,
        release or str(manifest.get("release", "")),
        f"user:{path.resolve()}",
        config,
    )
