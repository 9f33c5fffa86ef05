"""A deterministic newc cpio writer: the initramfs format the kernel unpacks at boot.

Written here (not by calling cpio(1)) so that the archive is byte-for-byte reproducible: fixed
inode numbers, mtime 0, owner root, entries in the order given.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class Entry:
    """One archive member: a directory, a regular file or a symlink."""

    name: str
    mode: int
    data: bytes = b""

    @staticmethod
    def directory(name: str, perm: int = 0o755) -> Entry:
        return Entry(name, stat.S_IFDIR | perm)

    @staticmethod
    def file(name: str, data: bytes, perm: int = 0o755) -> Entry:
        return Entry(name, stat.S_IFREG | perm, data)

    @staticmethod
    def symlink(name: str, target: str) -> Entry:
        return Entry(name, stat.S_IFLNK | 0o777, target.encode())


def _pad(out: BinaryIO, length: int) -> None:
    out.write(b"\0" * ((4 - length % 4) % 4))


def _header(out: BinaryIO, ino: int, entry: Entry) -> None:
    name = entry.name.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(entry.mode) else 1
    fields = [ino, entry.mode, 0, 0, nlink, 0, len(entry.data), 0, 0, 0, 0, len(name), 0]
    out.write(b"070701" + b"".join(b"%08X" % f for f in fields))
    out.write(name)
    _pad(out, 110 + len(name))


def write_newc(out: BinaryIO, entries: Iterable[Entry]) -> None:
    """Write entries then the TRAILER!!! record."""
    ino = 1
    for entry in entries:
        _header(out, ino, entry)
        out.write(entry.data)
        _pad(out, len(entry.data))
        ino += 1
    _header(out, ino, Entry("TRAILER!!!", 0))
