"""Guest images from Debian's packages: pinned, downloaded once, built only when inputs change.

Inputs: images/recipe.yaml (what to build), images/lock.yaml (exact Debian versions and .deb
sha256), the C sources in lab/guest/. Outputs in images/build/ (ignored by git) and a manifest
recording every artefact with its sha256 and the package versions it came from. Downloads are
cached in the XDG cache dir, outside the checkout.

Images is the facade: it orchestrates recipe.py (pins), programs.py, initramfs.py, kernels.py
and sshpart.py, and offers the build cache (cache.py) to suites that build initramfs layers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from lab.dirs import cache_dir
from lab.errors import ImageError
from lab.images import debian, emulators, initramfs, programs, recipe, sshpart
from lab.images.cache import Artefacts, BuildCache, Log, no_log
from lab.images.kernels import BuiltKernel, build_kernel
from lab.images.recipe import Pin, Recipe
from lab.images.sshpart import SshPart


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


@dataclass(frozen=True)
class LayerBuild:
    """What a layer builder returns: its cpio, and what its suite's check wants to know of the
    build (e.g. which targets did not build); the engine hands `result` to the check as
    CheckContext.layers[<layer name>]."""

    cpio: Path
    result: Any = None
    # which build of the layer this is ("7.2": the selftests of kernel series 7.2), "" if it has
    # one build only: part of the layered initramfs' name, so that builds never share a file
    variant: str = ""


class LayerBuilder(Protocol):
    """An initramfs layer: extra files that some scenarios need (`needs: [<name>]`), e.g. the
    kernel's own x86 selftests, appended to the base initramfs at boot (the kernel unpacks
    concatenated cpio archives in order). Its suite provides it; it caches its own work with
    images.artefacts() (and must not hold that while calling layered())."""

    def __call__(self, images: Images, log: Log) -> LayerBuild: ...


@runtime_checkable
class KernelMatched(Protocol):
    """A layer builder whose layer depends on the cell's kernel (the x86 selftests of the
    kernel's own series): the engine asks it for the builder of each cell's kernel."""

    def __call__(self, images: Images, log: Log) -> LayerBuild: ...

    def for_kernel(self, kernel: BuiltKernel, recipe: Recipe) -> LayerBuilder: ...


def for_kernel(layer: LayerBuilder, kernel: BuiltKernel, recipe: Recipe) -> LayerBuilder:
    """The builder of a layer for one cell's kernel (itself, unless it is KernelMatched)."""
    return layer.for_kernel(kernel, recipe) if isinstance(layer, KernelMatched) else layer


@dataclass(frozen=True)
class Layered:
    """An initramfs with layers appended, and what each layer's builder returned."""

    initramfs: Path
    builds: dict[str, LayerBuild] = field(default_factory=dict)

    def results(self) -> dict[str, Any]:
        """Layer name -> its build result (CheckContext.layers)."""
        return {name: b.result for name, b in self.builds.items()}


class Images:
    """The image builder of one checkout.

    log receives progress lines ("downloading ...", warnings); build(), layered() and
    with_ssh() take their own log, which overrides it for that call.
    """

    def __init__(
        self,
        root: Path,
        log: Log = no_log,
        debs: Path | None = None,
        apt_dir: Path | None = None,
    ) -> None:
        self.root = root
        self.dir = root / "images"
        self.build_dir = self.dir / "build"
        self.debs = debs if debs is not None else cache_dir() / "debs"
        # the lab's own apt configuration, for the kernel series beyond the default one
        self.apt_dir = apt_dir if apt_dir is not None else cache_dir() / "apt"
        # next to it: the emulators' own apt configuration and their unpacked prefixes
        self.emulator_apt_dir = self.apt_dir.parent / "apt-emulators"
        self.emulators_dir = self.apt_dir.parent / "emulators"
        self.log = log
        self._cache = BuildCache(root, self.build_dir)
        self._private: debian.Apt | None = None
        self._emulator_apt: debian.Apt | None = None

    # -- configuration -------------------------------------------------------------------------

    def recipe(self) -> Recipe:
        return recipe.read_recipe(self.dir)

    def lock(self) -> dict[str, Pin]:
        """The pins of the default kernel series and the userland: images/lock.yaml as the
        default build, and the layers matched to its kernel source (the x86 selftests take
        the kernels' version from it), have always seen it. pins() has every series."""
        return recipe.default_pins(self.pins())

    def pins(self) -> dict[str, Pin]:
        """Every pin of images/lock.yaml, the other kernel series' (kernel/7.2/...) too."""
        return recipe.read_lock(self.dir)

    def private_apt(self) -> debian.Apt:
        """The lab's own apt configuration (under apt_dir) for the other kernel series."""
        if self._private is None:
            self._private = recipe.private_apt(self.recipe(), self.apt_dir)
        return self._private

    def emulator_apt(self) -> debian.Apt:
        """The lab's own apt configuration for the emulators' suites (bookworm-backports)."""
        if self._emulator_apt is None:
            self._emulator_apt = emulators.private_apt(self.recipe(), self.emulator_apt_dir)
        return self._emulator_apt

    def emulator(self, name: str, log: Log | None = None) -> emulators.PrivateQemu:
        """A private emulator build of the recipe, unpacked once under <cache>/emulators."""
        wanted = self.recipe().emulators.get(name)
        if wanted is None or not wanted.packages:
            raise ImageError(f"emulator {name!r} is not a private build of images/recipe.yaml")
        say = log or self.log
        root = self.emulators_dir
        return emulators.build_prefix(wanted, self.pins(), root, lambda p: self.fetch(p, say), say)

    def update(self) -> dict[str, tuple[str | None, str]]:
        """Move every pin, of every series, to the newest version the mirror offers
        (recipe.update)."""
        return recipe.update(self.dir, self.private_apt() if self.recipe().series else None)

    def update_following(self) -> dict[str, tuple[str | None, str]]:
        """Move only the pins of the series that follow the newest (7.3-rc); the pins that
        moved, key -> (old, new) (recipe.update_following). The nightly calls it."""
        return recipe.update_following(self.dir, self.private_apt())

    def add_missing_pins(self) -> dict[str, str]:
        """Pin what the recipe names and the lock lacks (recipe.add_missing_pins)."""
        return recipe.add_missing_pins(self.dir)

    # -- the build cache, for builders outside this package (initramfs layers) -----------------

    def fetch(self, pin: Pin, log: Log | None = None) -> Path:
        """The pinned .deb from the download cache, downloading it with apt-get if needed:
        through the host's apt, or the lab's own for another series' kernel
        (kernel/<series>/...)."""
        if pin.key.startswith("emulator/"):
            return self.emulator_apt().download(pin, self.debs, log or self.log)
        series = recipe.series_of_key(pin.key)
        rec = self.recipe() if series is not None else None
        if rec is not None and series != rec.default_series:
            return self.private_apt().download(pin, self.debs, log or self.log)
        return debian.download(pin, self.debs, log or self.log)

    @contextmanager
    def artefacts(self) -> Iterator[Artefacts]:
        """The build lock held and the manifest's artefacts open: `cached(name, key)`,
        `record(name, key, files, **info)`; the manifest is written back when done."""
        with self._cache.session() as artefacts:
            yield artefacts

    def manifest(self) -> dict[str, Any]:
        """images/build/manifest.json as it is (read without the lock)."""
        return self._cache.read_manifest()

    # -- build ---------------------------------------------------------------------------------

    def build(self, kernels: list[str] | None = None, log: Log | None = None) -> ImageSet:
        """Build (or reuse) the initramfs and the named kernels; nothing changed → no work.

        A kernel is named by its flavour (cloud-amd64, amd64, 686: the default series, as
        always) or <series>/<flavour> ("7.2/cloud-amd64", "6.12/cloud-amd64";
        "6.1/cloud-amd64" is "cloud-amd64"). ImageSet.kernels and .ssh are keyed by the names
        as given. None builds the default series' kernels.
        """
        say = log or self.log
        rec = self.recipe()
        pins = self.pins()
        wanted = list(rec.kernels) if kernels is None else kernels
        if rec.series:
            specs = {name: rec.kernel(name) for name in wanted}
            own = {name: recipe.kernel_pins(pins, spec) for name, spec in specs.items()}
        else:  # a recipe without series: exactly the old rules
            for name in wanted:
                if name not in rec.kernels:
                    known = ", ".join(sorted(rec.kernels))
                    raise ImageError(
                        f"kernel {name!r} is not in images/recipe.yaml (known: {known})"
                    )
                if f"kernel/{name}" not in pins:
                    raise ImageError(
                        f"kernel {name!r} has no pin in images/lock.yaml; run `lab images update`"
                    )
            specs = {}
            own = {name: {"": pins[f"kernel/{name}"]} for name in wanted}

        def fetch(pin: Pin) -> Path:
            return self.fetch(pin, say)

        with self.artefacts() as artefacts:
            progs = programs.build_programs(self.build_dir, artefacts, say)
            busybox = initramfs.build_busybox(pins, self.build_dir, artefacts, fetch)
            base = initramfs.build_base(progs.built, busybox, self.build_dir, artefacts, say)
            built = {
                n: build_kernel(
                    specs[n].kernel if n in specs else rec.kernels[n],
                    own[n][""],
                    self.build_dir,
                    artefacts,
                    fetch,
                    say,
                    spec=specs.get(n),
                    base=own[n].get("base"),
                )
                for n in wanted
            }
            ssh: dict[str, SshPart] = {}
            why = ""
            try:
                ssh = sshpart.build_ssh(rec, pins, wanted, self.build_dir, artefacts, fetch, say)
            except ImageError as exc:  # the console transport still works without it
                why = str(exc)
                say(f"warning: no SSH in the guest images: {why}")
            if not rec.ssh_files:
                why = "images/recipe.yaml lists no SSH userland (`ssh:` files of `userland`)"
            artefacts.set_field("lock", {k: p.__dict__ for k, p in pins.items()})
            manifest = artefacts.manifest
        return ImageSet(base, built, manifest, dict(progs.broken), ssh, why, progs.built)

    def layered(
        self, base: Path, layers: Mapping[str, LayerBuilder], log: Log | None = None
    ) -> Layered:
        """The base initramfs with the given layers built and appended (cached by content)."""
        if not layers:
            return Layered(base)
        say = log or self.log
        # Each builder takes the build lock itself (it is not re-entrant): built outside it.
        builds = {name: layers[name](self, say) for name in sorted(layers)}
        with self.artefacts() as artefacts:
            target = initramfs.with_layers(
                base,
                {
                    f"{name}-{b.variant}" if b.variant else name: b.cpio
                    for name, b in builds.items()
                },
                self.build_dir,
                artefacts,
                say,
            )
        return Layered(target, builds)

    def with_ssh(self, base: Path, part: SshPart, log: Log | None = None) -> Path:
        """An initramfs (base or layered) with a kernel's SSH part appended (cached by content)."""
        with self.artefacts() as artefacts:
            return initramfs.with_ssh(
                base, part.kernel, part.cpio, self.build_dir, artefacts, log or self.log
            )

    def listing(self) -> list[dict[str, Any]]:
        """What is built, for `lab images list`: name, files, versions, sha256."""
        manifest = self.manifest()
        rows = []
        for name, entry in sorted(manifest.get("artefacts", {}).items()):
            present = all((self.root / f).exists() for f in entry.get("files", {}))
            rows.append({"name": name, "present": present, **entry})
        return rows
