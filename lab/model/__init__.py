"""An executable specification of Linux's 32-bit system-call entry design (6.1, and per kernel
version for 6.1, 6.12, 7.2 and 7.3 through ``KernelFacts``).

Which entry instruction ``__kernel_vsyscall`` uses (selection, versioned), what its bytes look
like (stub, vdso), and what a caller can observe (semantics, semantics_kernel, explain). Every
rule cites the kernel file and function it comes from; version-specific rules also the line and
the version. Without ``kernel=`` every function answers for 6.1, as before.
"""

from lab.model.explain import explain
from lab.model.kernel import KernelFacts, KernelFactsError, kernel_facts, parse_cpufeatures
from lab.model.paths import CpuIdentity, EntryPath
from lab.model.selection import Selection, kernel_features, select_path
from lab.model.semantics import CallPath, Prediction, ReturnInsn, predict
from lab.model.stub import (
    Instruction,
    StubDecoding,
    StubError,
    StubLayout,
    decode_stub,
    stub_bytes,
)
from lab.model.vdso import VdsoError, VdsoImage, apply_alternatives, parse_vdso

__all__ = [
    "CallPath",
    "CpuIdentity",
    "EntryPath",
    "Instruction",
    "KernelFacts",
    "KernelFactsError",
    "Prediction",
    "ReturnInsn",
    "Selection",
    "StubDecoding",
    "StubError",
    "StubLayout",
    "VdsoError",
    "VdsoImage",
    "apply_alternatives",
    "decode_stub",
    "explain",
    "kernel_facts",
    "kernel_features",
    "parse_cpufeatures",
    "parse_vdso",
    "predict",
    "select_path",
    "stub_bytes",
]
