"""The SSH part of the guest images (lab/targets/ssh.py is its other end): per kernel, one cpio
with dropbear, sftp-server and their i386 libraries, that kernel's NIC modules, and a host key
generated at build time that the lab pins (it refuses any other)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from lab.errors import ImageError
from lab.fsutil import atomic_write
from lab.images import debian
from lab.images.cache import BUILDER_VERSION, Artefacts, Log, hash_files, hash_strings
from lab.images.cpio import Entry, write_newc
from lab.images.kernels import Fetch
from lab.images.recipe import KernelRecipe, Pin, Recipe, SeriesKernel, kernel_pins

# The NIC drivers the guest agent loads with entrylab.net=1 -- virtio-net over virtio-mmio
# (microvm) or virtio-pci (pc, q35) -- and their dependencies, which are found in each module's
# .modinfo. Debian's 6.1 kernels build them all as modules; 6.12 and 7.x build virtio_pci in
# (modules.builtin), which then needs no .ko.
SSH_NIC_MODULES = ("virtio_mmio", "virtio_pci", "virtio_net")
SSH_LAYOUT = "1"  # bump when the files the SSH part adds (below) change
GUEST_HOST_KEY = "etc/dropbear/dropbear_ed25519_host_key"
GUEST_MODULE_DIR = "lib/modules/entrylab"
GUEST_MODULE_LIST = "etc/entrylab/modules"


@dataclass(frozen=True)
class SshPart:
    """What a guest of one kernel needs for the SSH transport, as one cpio to append: dropbear,
    sftp-server and their i386 libraries, the NIC modules of that kernel, and a host key
    generated at build time that the lab pins (it refuses any other)."""

    kernel: str
    cpio: Path
    host_key: str  # public: "ssh-ed25519 AAAA..."
    modules: tuple[str, ...]  # NIC modules in load order


def build_ssh(
    recipe: Recipe,
    pins: dict[str, Pin],
    kernels: list[str],
    build_dir: Path,
    artefacts: Artefacts,
    fetch: Fetch,
    log: Log,
) -> dict[str, SshPart]:
    """Per kernel: SSH userland + that kernel's NIC modules + a pinned host key, one cpio."""
    if not recipe.ssh_files:
        return {}
    missing = sorted(f"userland/{n}" for n in recipe.ssh_files if f"userland/{n}" not in pins)
    if missing:
        raise ImageError(
            f"images/lock.yaml has no pin for {', '.join(missing)}; run `lab images add-pins`"
        )
    userland = build_userland(recipe, pins, build_dir, artefacts, fetch, log)
    parts = {}
    for wanted in kernels:
        spec = recipe.kernel(wanted) if recipe.series else None
        name = spec.name if spec is not None else wanted
        if spec is None or spec.default:
            modules_cpio, modules = build_modules(
                recipe.kernels[name], pins[f"kernel/{name}"], build_dir, artefacts, fetch, log
            )
        else:
            own = kernel_pins(pins, spec)
            modules_cpio, modules = build_modules(
                spec.kernel,
                own.get("modules", own[""]),
                build_dir,
                artefacts,
                fetch,
                log,
                spec=spec,
                builtin_from=own.get("base", own[""]),
            )
        key_cpio, public = host_key(name, build_dir, artefacts)
        target = build_dir / "ssh" / f"{name}.cpio"
        inputs = [userland, modules_cpio, key_cpio]
        key = hash_strings(BUILDER_VERSION, hash_files(inputs))
        if not artefacts.cached(f"ssh/{name}", key):
            atomic_write(target, b"".join(p.read_bytes() for p in inputs))
            artefacts.record(f"ssh/{name}", key, [target], host_key=public, modules=modules)
        parts[wanted] = SshPart(name, target, public, tuple(modules))
    return parts


def build_userland(
    recipe: Recipe,
    pins: dict[str, Pin],
    build_dir: Path,
    artefacts: Artefacts,
    fetch: Fetch,
    log: Log,
) -> Path:
    """dropbear, sftp-server and the i386 shared libraries they need, from pinned .debs."""
    target = build_dir / "ssh" / "userland.cpio"
    used = sorted(recipe.ssh_files)
    key = hash_strings(
        BUILDER_VERSION,
        SSH_LAYOUT,
        *(f"{n}:{pins[f'userland/{n}'].sha256}:{','.join(recipe.ssh_files[n])}" for n in used),
    )
    if artefacts.cached("ssh/userland", key):
        return target
    log("assembling the SSH userland (dropbear, sftp-server)")
    files: dict[str, bytes] = {}
    for name in used:
        pin = pins[f"userland/{name}"]
        wanted = recipe.ssh_files[name]
        got = debian.deb_files(fetch(pin), wanted)
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
    artefacts.record(
        "ssh/userland",
        key,
        [target],
        packages={
            n: f"{pins[f'userland/{n}'].package}={pins[f'userland/{n}'].version}" for n in used
        },
    )
    return target


def module_depends(ko: bytes) -> list[str]:
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


def build_modules(
    recipe: KernelRecipe,
    pin: Pin,
    build_dir: Path,
    artefacts: Artefacts,
    fetch: Fetch,
    log: Log,
    spec: SeriesKernel | None = None,
    builtin_from: Pin | None = None,
) -> tuple[Path, list[str]]:
    """The kernel's NIC modules (uncompressed .ko from its package) in dependency order, and
    the list the guest agent loads them from. A module the kernel has built in (its
    modules.builtin: in the package itself, or builtin_from, the 7.x linux-base) is left out.
    spec names a kernel of another series (pin is then its linux-modules package, 7.x)."""
    kernel = spec.name if spec is not None else recipe.name
    target = build_dir / "kernels" / kernel / "modules.cpio"
    if spec is None or spec.default:
        key = hash_strings(BUILDER_VERSION, SSH_LAYOUT, pin.sha256, *SSH_NIC_MODULES)
    else:
        other = builtin_from.sha256 if builtin_from is not None else ""
        key = hash_strings(BUILDER_VERSION, SSH_LAYOUT, pin.sha256, other, *SSH_NIC_MODULES)
    cached = artefacts.cached(f"modules/{kernel}", key)
    if cached is not None:
        return target, list(cached["modules"])
    deb = fetch(pin)
    log(f"extracting NIC modules of kernel {kernel}")
    kos = debian.deb_modules(deb)
    order: list[str] = []
    builtin: list[str] = []
    known_builtin: set[str] | None = None

    def is_builtin(name: str) -> bool:
        nonlocal known_builtin
        if known_builtin is None:
            source = fetch(builtin_from) if builtin_from is not None else deb
            known_builtin = debian.deb_builtin_modules(source) or set()
        return name in known_builtin

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in order or name in builtin:
            return
        if name not in kos and is_builtin(name):
            builtin.append(name)
            return
        if name not in kos:
            raise ImageError(
                f"kernel {kernel}: {deb.name} has no module {name}.ko (needed for "
                f"the SSH transport{' by ' + chain[-1] if chain else ''})"
            )
        if name in chain:
            raise ImageError(f"kernel {kernel}: module dependency loop {chain}")
        for dep in module_depends(kos[name]):
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
    extra = {"builtin": builtin} if builtin else {}
    artefacts.record(
        f"modules/{kernel}",
        key,
        [target],
        modules=order,
        package=pin.package,
        version=pin.version,
        **extra,
    )
    return target, order


def ssh_string(data: bytes) -> bytes:
    """An SSH wire-format string: u32 length, then the bytes."""
    return len(data).to_bytes(4, "big") + data


def host_key(kernel: str, build_dir: Path, artefacts: Artefacts) -> tuple[Path, str]:
    """The guests' Ed25519 host key for one kernel's images: made once, then kept (and
    pinned by the lab: a guest that presents another key is refused)."""
    out = build_dir / "ssh" / kernel
    target = out / "host_key.cpio"
    key = hash_strings(BUILDER_VERSION, SSH_LAYOUT, "host-key", kernel)
    cached = artefacts.cached(f"ssh/host-key/{kernel}", key)
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
    blob = ssh_string(b"ssh-ed25519") + ssh_string(seed + public_raw)
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
    artefacts.record(f"ssh/host-key/{kernel}", key, [target], public=public)
    return target, public
