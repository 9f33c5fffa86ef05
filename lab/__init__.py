"""entrylab: a QEMU-orchestrated, multi-CPU-vendor test lab for the x86 32-bit entry paths."""

__version__ = "0.1.0"
