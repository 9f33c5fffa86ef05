"""An executable specification of Linux's 32-bit system-call entry design (6.1).

Which entry instruction ``__kernel_vsyscall`` uses (selection), what its bytes look like (stub,
vdso), and what a caller can observe (semantics, explain). Every rule cites the kernel file and
function it comes from.
"""

from lab.model.explain import explain
from lab.model.paths import CpuIdentity, EntryPath
from lab.model.selection import Selection, kernel_features, select_path
from lab.model.semantics import CallPath, Prediction, ReturnInsn, predict
from lab.model.stub import Instruction, StubDecoding, StubError, StubLayout, decode_stub
from lab.model.vdso import VdsoError, VdsoImage, apply_alternatives, parse_vdso

__all__ = [
    "CallPath",
    "CpuIdentity",
    "EntryPath",
    "Instruction",
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
    "kernel_features",
    "parse_vdso",
    "predict",
    "select_path",
]
