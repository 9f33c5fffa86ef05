"""Where the lab keeps things: the checkout, the download cache, built images, reports."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The checkout: ENTRYLAB_ROOT if set, else the directory holding vendors.yaml above cwd."""
    env = os.environ.get("ENTRYLAB_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "vendors.yaml").is_file() and (candidate / "lab").is_dir():
            return candidate
    return Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Downloads live outside the checkout so a fresh clone does not fetch them again."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "entrylab"


def guest_sources() -> Path:
    """C sources of the guest agent and the scenario programs."""
    return Path(__file__).resolve().parent / "guest"


def schemas_dir() -> Path:
    return Path(__file__).resolve().parent / "config" / "schemas"
