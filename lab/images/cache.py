"""The build cache of one checkout: images/build/manifest.json, one builder at a time.

Every artefact the images are made of is recorded in the manifest under a name
("initramfs", "kernel/686", "layer/kselftest-x86") with the key of its inputs and the sha256 of
its files. A builder asks `cached(name, key)` first and does its work only when the inputs
changed or a file is gone; then `record(name, key, files, ...)`. Suites that build their own
initramfs layers use the same API (lab.images.builder.Images.artefacts()).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lab.fsutil import atomic_write

# Bump to rebuild every artefact of the image builder (it is part of every cache key).
BUILDER_VERSION = "2"
MANIFEST = "manifest.json"

Log = Callable[[str], None]


def no_log(_msg: str) -> None:
    """The log of a builder nobody listens to."""


class Artefacts:
    """The manifest's artefacts while the build lock is held (see BuildCache.session)."""

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self.manifest = manifest
        self.entries: dict[str, Any] = manifest.setdefault("artefacts", {})
        self.changed = False

    def cached(self, name: str, key: str) -> dict[str, Any] | None:
        """The recorded entry of `name` if it was built from `key` and its files still exist."""
        entry = self.entries.get(name)
        if not entry or entry.get("key") != key:
            return None
        files = [self.root / f for f in entry.get("files", {})]
        if not files or not all(f.exists() for f in files):
            return None
        return dict(entry)

    def record(self, name: str, key: str, files: Sequence[Path], **info: Any) -> dict[str, Any]:
        """Record what was built (its files' sha256, and any facts worth keeping)."""
        entry = {
            "key": key,
            "files": {str(f.relative_to(self.root)): sha256_file(f) for f in files},
            **info,
        }
        self.entries[name] = entry
        self.changed = True
        return entry

    def forget(self, name: str) -> None:
        """Drop an artefact that could not be built (so it is not taken for a cached one)."""
        if self.entries.pop(name, None) is not None:
            self.changed = True

    def set_field(self, name: str, value: Any) -> None:
        """A top-level manifest field besides the artefacts (e.g. "lock")."""
        self.manifest[name] = value
        self.changed = True


class BuildCache:
    """images/build/ of one checkout and its manifest."""

    def __init__(self, root: Path, build_dir: Path) -> None:
        self.root = root
        self.build_dir = build_dir

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One builder at a time per checkout; a second `lab run` waits instead of colliding.
        Not re-entrant: a builder holding it must not call one that takes it again."""
        self.build_dir.mkdir(parents=True, exist_ok=True)
        with (self.build_dir / ".lock").open("w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    @contextmanager
    def session(self) -> Iterator[Artefacts]:
        """The lock held, the manifest read; written back at the end if anything was recorded
        (not if the build failed)."""
        with self.locked():
            artefacts = Artefacts(self.root, self.read_manifest())
            yield artefacts
            if artefacts.changed:
                self.write_manifest(artefacts.manifest)

    def read_manifest(self) -> dict[str, Any]:
        path = self.build_dir / MANIFEST
        try:
            loaded: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            return {"schema": 1, "artefacts": {}}
        if loaded.get("schema") != 1:
            return {"schema": 1, "artefacts": {}}
        return loaded

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        atomic_write(self.build_dir / MANIFEST, text.encode())


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hash_files(paths: Sequence[Path]) -> str:
    """A key over files by name and content."""
    return hash_strings(*(f"{p.name}:{sha256_file(p)}" for p in paths))


def hash_strings(*parts: str) -> str:
    """A key over strings (NUL-separated, so ("ab", "c") and ("a", "bc") differ)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()
