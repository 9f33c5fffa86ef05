"""The initramfs writer: a newc archive the kernel (and cpio(1)) can read, reproducibly."""

from __future__ import annotations

import io
import stat

from lab.images.cpio import Entry, write_newc


def read_newc(data: bytes) -> list[tuple[str, int, bytes]]:
    """A minimal newc reader for the test (name, mode, data)."""
    out, pos = [], 0
    while True:
        assert data[pos : pos + 6] == b"070701"
        fields = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_start = pos + 110
        name = data[name_start : name_start + namesize - 1].decode()
        body_start = (name_start + namesize + 3) & ~3
        body = data[body_start : body_start + size]
        pos = (body_start + size + 3) & ~3
        if name == "TRAILER!!!":
            return out
        out.append((name, mode, body))


def test_round_trip_and_reproducible() -> None:
    entries = [
        Entry.directory("bin"),
        Entry.file("init", b"\x7fELF..."),
        Entry.symlink("bin/sh", "/bin/busybox"),
        Entry.file("odd", b"abc", 0o600),
    ]
    a, b = io.BytesIO(), io.BytesIO()
    write_newc(a, entries)
    write_newc(b, entries)
    assert a.getvalue() == b.getvalue()
    got = read_newc(a.getvalue())
    assert [g[0] for g in got] == ["bin", "init", "bin/sh", "odd"]
    assert stat.S_ISDIR(got[0][1]) and stat.S_ISLNK(got[2][1])
    assert got[1][2] == b"\x7fELF..." and got[2][2] == b"/bin/busybox"
    assert got[3][1] & 0o777 == 0o600
    assert len(a.getvalue()) % 4 == 0
