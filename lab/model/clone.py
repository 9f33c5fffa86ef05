"""Where a child created by fork / vfork / clone(CLONE_VM) resumes, per call path (Linux 6.1.176;
7.2+ int80-only stub: see _int80_only()).

Kernel facts (Debian linux-source-6.1 6.1.176):

* copy_thread() (arch/x86/kernel/process.c): ``*childregs = *current_pt_regs(); childregs->ax =
  0; if (sp) childregs->sp = sp;`` -- the child gets the parent's user registers as they were at
  the system call, except eax = 0 and, with a new stack, esp = newsp. ret_from_fork
  (arch/x86/entry/entry_64.S, entry_32.S) leaves through syscall_exit_to_user_mode and IRET.
* do_fast_syscall_32() (arch/x86/entry/common.c) sets regs->ip to the vDSO landing pad *before*
  the call runs, and an int80-path stub's int $0x80 is followed by the landing pad too: a child
  created through __kernel_vsyscall resumes at the landing pad whichever instruction entered.
* The landing pad runs ``pop %ebp; pop %edx; pop %ecx; ret`` (arch/x86/entry/vdso/vdso32/
  system_call.S) on the child's stack. Hence the seed's remark (LKML 2015-08-26): fork is fine
  (the stack is copied), but a clone with a new stack takes ebp, edx, ecx *and the return
  address* from the new stack's first four words -- "the actual return address gets zapped".
* A raw int $0x80 child resumes after the int on the stack it was given.
* vfork (CLONE_VM | CLONE_VFORK, no new stack): the child pops the parent's saved words from the
  shared stack -- reading only -- so it returns to the caller like the parent will, *provided it
  writes nothing to the stack before it exits or execs* (lab/guest/fork_clone.c keeps to that;
  glibc's vfork does not use the vDSO at all: sysdeps/unix/sysv/linux/i386/vfork.S keeps the
  return address in ecx across a raw int $0x80 for this very reason).

glibc (2.36, sysdeps/unix/sysv/linux/i386): fork() -> _Fork() -> clone through the vDSO
(INTERNAL_SYSCALL, call *%gs:SYSINFO_OFFSET) with no new stack: a copied stack, so the child
returns; clone() (clone.S) uses its own raw int $0x80 and calls fn on the new stack.

Fates are the guest's words (fork_clone.c): ``returned-to-caller``, ``resumed-after-int80``,
``returned-to-slot``, ``ran-fn``, ``sigsegv``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lab.model.paths import EntryPath
from lab.model.semantics import Prediction

__all__ = ["CALL_PATHS", "KINDS", "STACKS", "ChildFate", "predict_child", "predict_vfork_parent"]

KINDS = ("fork", "vfork", "clone_vm")
STACKS = ("none", "prepared", "zeroed")
CALL_PATHS = ("int80", "at_sysinfo", "vdso_sym", "glibc")
# The marker registers fork_clone.c loads before the call, and its prepared slots.
MARKERS = {
    "ebx": "0x11111111",
    "ecx": "0x22222222",
    "edx": "0x33333333",
    "esi": "0x44444444",
    "edi": "0x55555555",
    "ebp": "0x66666666",
}
SLOTS = ("ebp", "edx", "ecx")  # the stub pops these, in this order, then returns


@dataclass(frozen=True)
class ChildFate:
    """Where the child resumes and what it holds; ``registers`` are only the modelled ones."""

    fate: str
    reason: str
    registers: dict[str, Any] = field(default_factory=dict, hash=False)  # guest field -> value
    esp_from_newsp: int | None = None
    fault_eip: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fate": self.fate, **self.registers}
        if self.esp_from_newsp is not None:
            out["esp_from_newsp"] = self.esp_from_newsp
        if self.fault_eip is not None:
            out["fault_eip"] = self.fault_eip
        out["reason"] = self.reason
        return out


def _int80_only(prediction: Prediction) -> bool:
    """7.2+ with SYSFAST32 clear: the stub is ``int $0x80; ret`` with no pops
    (arch/x86/entry/vdso/vdso32/system_call.S:27 in 7.2), so the landing pad is the ``ret``."""
    return (
        prediction.kernel is not None
        and prediction.kernel.series7
        and prediction.path is EntryPath.INT80
    )


def _is_address(word: str) -> bool:
    try:
        int(word, 16)
    except ValueError:
        return False
    return True


def predict_child(
    prediction: Prediction,
    kind: str,
    call_path: str,
    stack: str = "none",
    slots: tuple[str, str, str, str] | None = None,
) -> ChildFate:
    """The child's fate. ``slots`` are the new stack's first four words as the guest wrote them
    (hex strings; the fourth may be a symbolic name of a function)."""
    if kind not in KINDS or call_path not in CALL_PATHS or stack not in STACKS:
        raise ValueError(f"unknown case {kind}/{call_path}/{stack}")
    pad = prediction.landing_pad_offset
    vdso = call_path in ("at_sysinfo", "vdso_sym")
    resume = f"the landing pad (__kernel_vsyscall+{pad})" if vdso else "after the int $0x80"
    if kind in ("fork", "vfork"):
        if call_path == "glibc":
            how = (
                "glibc's _Fork() calls clone through the vDSO with the stack copied"
                if kind == "fork"
                else "glibc's vfork.S keeps the return address in ecx across a raw int $0x80"
            )
            return ChildFate("returned-to-caller", how)
        shared = "shared (vfork, read only)" if kind == "vfork" else "copied"
        return ChildFate(
            "returned-to-caller",
            f"copy_thread() gives the child the parent's registers (eax = 0) and ip = {resume}; "
            f"the stack is {shared}, so "
            + (
                "the stub's pops and ret find the caller's own words"
                if vdso
                else "the helper's ret finds the caller's return address"
            ),
            dict(MARKERS),
        )
    # clone(CLONE_VM) with a new stack
    if call_path == "glibc":
        return ChildFate(
            "ran-fn", "glibc's clone.S enters with its own int $0x80 and calls fn on the new stack"
        )
    if call_path == "int80":
        return ChildFate(
            "resumed-after-int80",
            "copy_thread(): the parent's registers, eax = 0, esp = newsp; ip after the int",
            {"ebx": "0x111", "edx": MARKERS["edx"], "ebp": MARKERS["ebp"]},
            esp_from_newsp=0,
        )
    words = slots or ("0x0", "0x0", "0x0", "0x0")
    if _int80_only(prediction):
        first = words[0]
        kept = {"ebx": "0x111", "edx": MARKERS["edx"], "ebp": MARKERS["ebp"]}
        if stack == "zeroed" or _is_address(first):
            return ChildFate(
                "sigsegv",
                f"the 7.x int80-only stub has no pops: the child resumes at {resume} (its ret) "
                f"with esp = newsp and returns to the new stack's first word, {first}",
                kept,
                esp_from_newsp=4,
                fault_eip=first,
            )
        return ChildFate(
            "returned-to-slot",
            f"the 7.x int80-only stub has no pops: the child resumes at {resume} (its ret) and "
            f"returns to the new stack's first word ({first})",
            kept,
            esp_from_newsp=4,
        )
    regs = dict(zip(SLOTS, words[:3], strict=True))
    ret = words[3]
    if stack == "zeroed" or ret in ("0x0", "0"):
        return ChildFate(
            "sigsegv",
            f"the child resumes at {resume} with esp = newsp, pops ebp/edx/ecx from it and "
            f"returns to the fourth word, {ret}: an instruction fetch from an unmapped page",
            regs,
            esp_from_newsp=16,
            fault_eip=ret,
        )
    return ChildFate(
        "returned-to-slot",
        f"the child resumes at {resume} with esp = newsp and runs the stub's pops and ret on "
        f"the new stack: ebp, edx, ecx and the return address ({ret}) are the new stack's "
        "first four words",
        regs,
        esp_from_newsp=16,
    )


def predict_vfork_parent(
    prediction: Prediction, call_path: str, pushed: tuple[str, str, str, str]
) -> ChildFate:
    """The *parent's* fate after a vfork child pushed four words (``pushed``, in push order)
    onto the stack it borrowed, then exited.

    Through the vDSO the child's esp after the stub's ret is the parent's esp at the system call
    + 16, so its pushes overwrite, from the top, the return address, ecx, edx and ebp the parent's
    stub has yet to pop: the parent gets ebp/edx/ecx = the child's last three words and returns
    to its first. Through an inline int $0x80 (or glibc's vfork.S, which pops its return address
    into ecx before the int and pushes it back after) the child's pushes land below the parent's
    stack pointer, which nothing reads.
    """
    if call_path not in CALL_PATHS:
        raise ValueError(f"unknown call path {call_path!r}")
    if call_path in ("int80", "glibc"):
        regs: dict[str, Any] = {"regs_kept": True} if call_path == "int80" else {}
        return ChildFate(
            "returned-to-caller",
            "the child's pushes land below the parent's stack pointer"
            + (
                " (glibc's vfork.S keeps the return address in ecx)" if call_path == "glibc" else ""
            ),
            regs,
        )
    pad = prediction.landing_pad_offset
    if _int80_only(prediction):
        return ChildFate(
            "sigsegv",
            f"the parent resumes at __kernel_vsyscall+{pad}, the ret of the 7.x int80-only stub "
            f"(no pops): the child's first push replaced its return address with {pushed[0]}",
            {"regs_kept": True},
            fault_eip=pushed[0],
        )
    return ChildFate(
        "sigsegv",
        f"the parent resumes at the landing pad (__kernel_vsyscall+{pad}) and pops the child's "
        f"words: ebp/edx/ecx = {pushed[3]}/{pushed[2]}/{pushed[1]}, then returns to {pushed[0]}",
        {"ebp": pushed[3], "edx": pushed[2], "ecx": pushed[1]},
        fault_eip=pushed[0],
    )
