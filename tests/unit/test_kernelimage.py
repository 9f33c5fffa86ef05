"""Kernel files: bzImage headers and ELF vmlinux identified; garbage refused clearly."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from lab.errors import ImageError
from lab.images.kernelfile import extract_vmlinux, inspect


def fake_bzimage(path: Path, bits: int, version: str = "6.9.0-test (me@here) #1") -> Path:
    data = bytearray(0x2000)
    data[0x1F1] = 4
    data[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", data, 0x236, 1 if bits == 64 else 0)
    struct.pack_into("<H", data, 0x20E, 0x1000 - 0x200)
    data[0x1000 : 0x1000 + len(version)] = version.encode()
    path.write_bytes(bytes(data))
    return path


def test_bzimage_bits_and_version(tmp_path: Path) -> None:
    k64 = inspect(fake_bzimage(tmp_path / "k64", 64))
    k32 = inspect(fake_bzimage(tmp_path / "k32", 32))
    assert (k64.format, k64.bits, k32.bits) == ("bzimage", 64, 32)
    assert k64.version.startswith("6.9.0-test")


def test_elf_vmlinux(tmp_path: Path) -> None:
    elf = bytearray(64)
    elf[0:4] = b"\x7fELF"
    elf[4] = 2
    struct.pack_into("<H", elf, 18, 62)
    (tmp_path / "vmlinux").write_bytes(bytes(elf))
    info = inspect(tmp_path / "vmlinux")
    assert (info.format, info.bits) == ("elf", 64)


def test_not_a_kernel(tmp_path: Path) -> None:
    (tmp_path / "junk").write_bytes(b"#!/bin/sh\necho hi\n")
    with pytest.raises(ImageError) as exc:
        inspect(tmp_path / "junk")
    assert "not a bzImage" in str(exc.value)
    with pytest.raises(ImageError) as exc:
        inspect(tmp_path / "missing")
    assert "file not found" in str(exc.value)


def bzimage_with_payload(path: Path, payload: bytes) -> Path:
    """A bzImage shell whose payload (at setup_sects=4 → 0xa00) is the given bytes."""
    data = bytearray(0xA00)
    data[0x1F1] = 4
    data[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", data, 0x236, 1)
    struct.pack_into("<II", data, 0x248, 0, len(payload))
    path.write_bytes(bytes(data) + payload)
    return path


def test_zstd_payload_with_the_kernels_size_trailer(tmp_path: Path) -> None:
    """Debian's 6.12 and 7.x kernels: a zstd frame without content size, then a u32 size."""
    import zstandard

    elf = b"\x7fELF" + bytes(range(256)) * 64
    params = zstandard.ZstdCompressor(write_content_size=False)
    payload = params.compress(elf) + struct.pack("<I", len(elf))
    assert extract_vmlinux(bzimage_with_payload(tmp_path / "bz", payload)) == elf


def test_unknown_payload_compression(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as exc:
        extract_vmlinux(bzimage_with_payload(tmp_path / "bz", b"\x00\x01\x02\x03rest"))
    assert "not supported" in str(exc.value)
