"""The host's apt sources as the image builder reads them (never writes): the one-line (*.list)
and deb822 (*.sources) formats, and which entry is the Debian archive, whose mirror the lab's
own apt configuration (lab.images.debian.Apt.private) uses for the other kernel series, so no
archive host name is written into the checkout."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lab.errors import ImageError


@dataclass(frozen=True)
class SourceEntry:
    """One `deb` line (or one URI × suite of a deb822 stanza) of an apt sources file."""

    uri: str
    suite: str
    components: tuple[str, ...]
    signed_by: str = ""


def parse_sources(name: str, text: str) -> list[SourceEntry]:
    """The `deb` entries of a sources file: one-line format (*.list) or deb822 (*.sources,
    told by the name); deb-src, commented and `Enabled: no` entries are left out."""
    out: list[SourceEntry] = []
    if name.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            last = ""
            for line in stanza.splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                if line[:1] in (" ", "\t") and last:  # a folded continuation line
                    fields[last] += " " + line.strip()
                    continue
                key, colon, value = line.partition(":")
                if colon:
                    last = key.strip().lower()
                    fields[last] = value.strip()
            if "deb" not in fields.get("types", "").split():
                continue
            if fields.get("enabled", "yes").lower() in ("no", "false", "0"):
                continue
            components = tuple(fields.get("components", "").split())
            signed = fields.get("signed-by", "")
            signed = signed if signed.startswith("/") and " " not in signed else ""
            for uri in fields.get("uris", "").split():
                for suite in fields.get("suites", "").split():
                    out.append(SourceEntry(uri.rstrip("/"), suite, components, signed))
        return out
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        m = re.match(r"^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
        if not m:
            continue
        options = dict(re.findall(r"([\w-]+)=(\S+)", m.group(1) or ""))
        signed = options.get("signed-by", "")
        out.append(
            SourceEntry(
                m.group(2).rstrip("/"),
                m.group(3),
                tuple(m.group(4).split()),
                signed if signed.startswith("/") else "",
            )
        )
    return out


DEBIAN_ALIASES = frozenset({"oldstable", "stable", "testing", "unstable", "sid", "experimental"})


def is_debian_archive(entry: SourceEntry, codenames: Iterable[str]) -> bool:
    """The Debian archive itself: its main component, a Debian suite (a codename, an alias, or
    their -updates/-backports), not the security archive and not a third-party repository."""
    base = re.sub(r"-(updates|backports|proposed-updates)$", "", entry.suite)
    return (
        "main" in entry.components
        and "security" not in entry.uri
        and "security" not in entry.suite
        and not entry.uri.startswith("cdrom:")
        and (base in DEBIAN_ALIASES or base in set(codenames))
    )


def find_mirror(files: Iterable[tuple[str, str]], codenames: Iterable[str]) -> SourceEntry | None:
    """The first Debian archive entry of some sources files ((name, text) in apt's order)."""
    names = set(codenames)
    for name, text in files:
        for entry in parse_sources(name, text):
            if is_debian_archive(entry, names):
                return entry
    return None


def host_codename(os_release: Path = Path("/etc/os-release")) -> str:
    try:
        text = os_release.read_text()
    except OSError:
        return ""
    m = re.search(r"^VERSION_CODENAME=\"?([a-z]+)\"?$", text, re.M)
    return m.group(1) if m else ""


def host_mirror(codenames: Iterable[str] = (), etc: Path = Path("/etc/apt")) -> SourceEntry:
    """The host's Debian archive entry (read from its apt sources, never written): the mirror
    the private configuration uses, so no archive host name is written into the checkout."""
    files: list[tuple[str, str]] = []
    candidates = [etc / "sources.list"]
    parts = etc / "sources.list.d"
    if parts.is_dir():
        candidates += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for path in candidates:
        try:
            files.append((path.name, path.read_text()))
        except OSError:
            continue
    entry = find_mirror(files, {*codenames, host_codename()})
    if entry is None:
        raise ImageError(
            f"no Debian archive entry in the host's apt sources ({etc}/sources.list, "
            f"{etc}/sources.list.d/*.list, *.sources): the image builder takes the mirror for "
            "the other kernel series from there"
        )
    return entry
