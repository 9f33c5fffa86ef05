"""Kernels: extracted from their pinned Debian packages (with the uncompressed vmlinux for PVH
boots), or a kernel developer's own file; and the config facts the lab's semantics depend on."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.errors import ImageError
from lab.fsutil import atomic_write
from lab.images import debian
from lab.images import kernelfile as kernelimage
from lab.images.cache import BUILDER_VERSION, Artefacts, Log, hash_strings
from lab.images.recipe import KernelRecipe, Pin

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
) -> BuiltKernel:
    """The kernel of a recipe from its pinned package, into build_dir/kernels/<name>/."""
    out_dir = build_dir / "kernels" / recipe.name
    key = hash_strings(BUILDER_VERSION, pin.sha256, recipe.boot)
    cached = artefacts.cached(f"kernel/{recipe.name}", key)
    if cached is None:
        deb = fetch(pin)
        log(f"extracting kernel {recipe.name} from {deb.name}")
        out_dir.mkdir(parents=True, exist_ok=True)
        vmlinuz = debian.deb_member(deb, re.compile(r"^\./boot/vmlinuz-.*"))
        config = debian.deb_member(deb, re.compile(r"^\./boot/config-.*"))
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
                f"kernel {recipe.name}: {deb.name} is {info.bits}-bit, recipe says {recipe.bits}"
            )
        cfg = config_facts(config.decode(errors="replace") if config else "")
        cached = artefacts.record(
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


def user_kernel(path: Path) -> BuiltKernel:
    """A kernel developer's own bzImage/vmlinux, booted as given."""
    info = kernelimage.inspect(path)
    release = info.version.split(" ")[0] if info.version else ""
    config: dict[str, str] = {}
    for candidate in (path.parent / ".config", path.parent / "config"):
        if candidate.is_file():
            config = config_facts(candidate.read_text(errors="replace"))
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
