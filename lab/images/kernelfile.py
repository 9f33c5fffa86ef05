"""What a kernel file is: bzImage or ELF vmlinux, 32 or 64 bit, and its uncompressed payload.

Decompressing the kernel under TCG costs seconds of emulated time per boot; a 64-bit kernel with
PVH support boots its uncompressed ELF directly, so the lab extracts it once at image build.
The facts come from the x86 boot protocol (Documentation/x86/boot.rst): setup header at 0x1f1,
"HdrS" at 0x202, xloadflags at 0x236, payload_offset/payload_length at 0x248/0x24c.
"""

from __future__ import annotations

import gzip
import lzma
import struct
from dataclasses import dataclass
from pathlib import Path

from lab.errors import ImageError

XLF_KERNEL_64 = 1 << 0


@dataclass(frozen=True)
class KernelFile:
    """A kernel on disk, as the lab needs to know it before booting it."""

    path: Path
    format: str  # "bzimage" or "elf"
    bits: int  # 32 or 64
    version: str  # the kernel_version string from the header, or "" if unknown


def _read_c_string(data: bytes, offset: int) -> str:
    end = data.find(b"\0", offset, offset + 256)
    return data[offset : end if end >= 0 else offset + 256].decode("ascii", "replace")


def inspect(path: Path) -> KernelFile:
    """Identify a kernel file; a clear error if it is neither a bzImage nor an x86 ELF."""
    try:
        with path.open("rb") as f:
            head = f.read(0x10000)
    except FileNotFoundError:
        raise ImageError(f"kernel {path}: file not found") from None
    except OSError as exc:
        raise ImageError(f"kernel {path}: cannot read: {exc.strerror}") from None
    if head[:4] == b"\x7fELF":
        bits = {1: 32, 2: 64}.get(head[4])
        machine = struct.unpack_from("<H", head, 18)[0] if len(head) > 20 else 0
        if bits is None or machine not in (3, 62):
            raise ImageError(
                f"kernel {path}: ELF file, but not an x86 kernel (e_machine={machine})"
            )
        return KernelFile(path, "elf", bits, "")
    if len(head) < 0x260 or head[0x202:0x206] != b"HdrS":
        raise ImageError(f"kernel {path}: not a bzImage (no 'HdrS' boot header) and not an ELF")
    xloadflags = struct.unpack_from("<H", head, 0x236)[0]
    version_ptr = struct.unpack_from("<H", head, 0x20E)[0]
    version = _read_c_string(head, version_ptr + 0x200) if version_ptr + 0x200 < len(head) else ""
    return KernelFile(path, "bzimage", 64 if xloadflags & XLF_KERNEL_64 else 32, version)


def _lz4_legacy(data: bytes) -> bytes:
    """The kernel's LZ4 'legacy' framing: magic, then <u32 size><block> until the size trailer."""
    import lz4.block

    out = bytearray()
    pos = 4
    while pos + 4 <= len(data):
        (size,) = struct.unpack_from("<I", data, pos)
        if size == 0 or size == 0x184C2102 or pos + 4 + size > len(data):
            break
        out += lz4.block.decompress(data[pos + 4 : pos + 4 + size], uncompressed_size=8 << 20)
        pos += 4 + size
    return bytes(out)


def _zstd(data: bytes) -> bytes:
    """A zstd frame without a content size in its header (the kernel's own framing: the frame,
    then its uncompressed size as a u32 trailer, which the stream decoder leaves unused)."""
    import zstandard

    try:
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except zstandard.ZstdError as exc:
        raise RuntimeError(str(exc)) from None


def extract_vmlinux(bzimage: Path) -> bytes:
    """The uncompressed ELF vmlinux inside a bzImage (gzip, xz, lz4 or zstd payloads: Debian's
    6.1 kernels are LZ4, 6.12 and 7.x zstd)."""
    data = bzimage.read_bytes()
    setup_sects = data[0x1F1] or 4
    payload_offset, payload_length = struct.unpack_from("<II", data, 0x248)
    start = (setup_sects + 1) * 512 + payload_offset
    payload = data[start : start + payload_length]
    try:
        if payload.startswith(b"\x1f\x8b"):
            out = gzip.decompress(payload)
        elif payload.startswith(b"\xfd7zXZ\x00"):
            out = lzma.decompress(payload)
        elif payload.startswith(b"\x02\x21\x4c\x18"):
            out = _lz4_legacy(payload)
        elif payload.startswith(b"\x28\xb5\x2f\xfd"):
            out = _zstd(payload)
        else:
            raise ImageError(
                f"kernel {bzimage}: payload compression {payload[:4].hex()} not supported for "
                "vmlinux extraction; use `boot: bzimage` for this kernel"
            )
    except (OSError, lzma.LZMAError, EOFError, RuntimeError) as exc:
        raise ImageError(f"kernel {bzimage}: cannot decompress payload: {exc}") from None
    if not out.startswith(b"\x7fELF"):
        raise ImageError(f"kernel {bzimage}: decompressed payload is not an ELF vmlinux")
    return out
