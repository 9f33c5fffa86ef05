"""The entry model applied to the four ways the entry-abi suite's guest programs make a syscall.

The guest programs (lab/guest/regs_preserved.c, ptrace_modify.c, sigreturn_modify.c,
auxv_symbol.c, with lab/guest/abi_calls.S) call the kernel through:

* ``int80``: an inline ``int $0x80`` -- the model's CallPath.RAW_INT80;
* ``at_sysinfo``: ``call *getauxval(AT_SYSINFO)`` -- CallPath.VSYSCALL;
* ``vdso_sym``: ``call *__kernel_vsyscall`` from the vDSO's .dynsym -- CallPath.VSYSCALL;
* ``glibc``: glibc's ``syscall()``, a C function. Static glibc 2.36 on i386 enters the kernel
  with ``call *%gs:SYSINFO_OFFSET`` (sysdeps/unix/sysv/linux/i386/sysdep.h, ENTER_KERNEL with
  I386_USE_SYSENTER), the TCB copy of AT_SYSINFO -- so CallPath.VSYSCALL as seen through the
  i386 psABI: syscall() (sysdeps/unix/sysv/linux/i386/syscall.S) pushes and pops ebx, esi, edi
  and ebp itself, and on an error result __syscall_error (sysdeps/unix/sysv/linux/i386/
  sysdep.S) uses edx. (Checked in the disassembly of Debian's libc6-dev-i386 2.36 libc.a:
  ``syscall: push %ebp; push %edi; push %esi; push %ebx; mov ...; call *%gs:0x10; pop ...``
  and ``__syscall_error: ... mov $-0x24,%edx; mov %eax,%gs:(%edx)``.) The guest checks the
  %gs:0x10 == AT_SYSINFO premise itself (auxv-symbol/glibc/sysinfo).

Everything here is derived from :func:`lab.model.predict`'s Prediction and the shipped stub
(arch/x86/entry/vdso/vdso32/system_call.S); nothing restates a per-profile fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.model.semantics import (
    EXIT_STOP_REGISTERS,
    STATUS_FLAGS,
    USER32_CS_64,
    USER_CS_32,
    USER_DS_32,
    USER_DS_64,
    CallPath,
    Prediction,
)
from lab.model.stub import disassemble

__all__ = [
    "ARG_REGISTERS",
    "GUEST_PATHS",
    "PSABI_CALLEE_SAVED",
    "PSABI_SCRATCH",
    "SIGRETURN_MODES",
    "STATUS_FLAGS",
    "StubFrame",
    "default_selectors",
    "entry_clobbered_flags",
    "model_call_path",
    "ptrace_prediction",
    "regs_prediction",
    "sigreturn_prediction",
    "stub_frame",
]

GUEST_PATHS: tuple[str, ...] = ("int80", "at_sysinfo", "vdso_sym", "glibc")

# The 32-bit syscall arguments 1..6 (arch/x86/entry/common.c, do_syscall_32_irqs_on: the
# syscall is called with pt_regs, after syscall_enter_from_user_mode() and so after the tracer's
# entry stop; ia32 syscall wrappers read bx, cx, dx, si, di, bp).
ARG_REGISTERS: tuple[str, ...] = ("ebx", "ecx", "edx", "esi", "edi", "ebp")

# System V ABI, Intel386 Architecture Processor Supplement, "Registers and the Stack Frame":
# ebx, esi, edi, ebp and esp belong to the caller; eax, ecx and edx are scratch; the status
# flags are not preserved across calls; DF must be clear on entry to and exit from a function.
PSABI_CALLEE_SAVED: frozenset[str] = frozenset({"ebx", "esi", "edi", "ebp", "esp"})
PSABI_SCRATCH: frozenset[str] = frozenset({"ecx", "edx"})


def model_call_path(path: str) -> CallPath:
    """The model's CallPath for one of GUEST_PATHS."""
    if path not in GUEST_PATHS:
        raise ValueError(f"unknown call path {path!r} (known: {', '.join(GUEST_PATHS)})")
    return CallPath.RAW_INT80 if path == "int80" else CallPath.VSYSCALL


def default_selectors(kernel_bits: int) -> dict[str, int]:
    """The flat user selectors the fast entries push as constants (arch/x86/include/asm/segment.h).

    64-bit: __USER32_CS 0x23, __USER_DS 0x2b; 32-bit: __USER_CS 0x73, __USER_DS 0x7b.
    """
    cs, ds = (USER32_CS_64, USER_DS_64) if kernel_bits == 64 else (USER_CS_32, USER_DS_32)
    return {"cs": cs, "ss": ds, "ds": ds, "es": ds}


@dataclass(frozen=True)
class StubFrame:
    """What ``__kernel_vsyscall`` keeps on the caller's stack around the kernel entry.

    ``pushed``: registers pushed before the entry instruction, in order; ``popped``: registers
    popped after int80_landing_pad; ``depth``: bytes between the caller's esp before its ``call``
    and the esp at the landing pad (return address + pushes).
    """

    pushed: tuple[str, ...]
    popped: tuple[str, ...]
    depth: int


def stub_frame(pred: Prediction) -> StubFrame:
    """Decode the predicted stub (system_call.S) into its stack frame."""
    insns = disassemble(bytes.fromhex(pred.expected_stub_hex))
    pad = pred.landing_pad_offset
    pushed = tuple(i.op_str for i in insns if i.mnemonic == "push" and i.offset < pad)
    popped = tuple(i.op_str for i in insns if i.mnemonic == "pop" and i.offset >= pad)
    return StubFrame(pushed, popped, 4 * (1 + len(pushed)))


def entry_clobbered_flags(pred: Prediction) -> frozenset[str]:
    """Flags a __kernel_vsyscall caller loses to the kernel entry itself -- a fact that
    Prediction.flags_preserved (lab/model/semantics.py) does not have.

    entry_SYSENTER_compat (arch/x86/entry/entry_64_compat.S, 6.1.176) runs
    ``SWITCH_TO_KERNEL_CR3 scratch_reg=%rax`` (arch/x86/entry/calling.h: ``mov %cr3,%rax``,
    ADJUST_KERNEL_CR3 = [``bts $63,%rax`` with PCID] ``andq $~PTI_USER_PGTABLE_AND_PCID_MASK,
    %rax``, ``mov %rax,%cr3``) *before* the ``pushfq`` that builds pt_regs->flags. With
    X86_FEATURE_PTI (/proc/cpuinfo flag ``pti``) the status flags saved -- and restored by
    SYSRETL or IRET -- are the andq's (CF=OF=0, ZF=0, PF=1 for a CR3 whose low byte is 0, SF =
    bit 63, AF undefined), not the caller's. The other entries keep them: entry_SYSENTER_32
    brackets its CR3 switch with pushfl/popfl, SYSCALL saves the flags in r11 before any
    instruction runs, and int $0x80 has the CPU push them. The i386 psABI does not preserve
    status flags across a call, so callers of __kernel_vsyscall may not rely on them anyway.
    """
    return pred.flags_clobbered.get(CallPath.VSYSCALL, frozenset())


def regs_prediction(
    pred: Prediction, path: str, checked: frozenset[str], flags_checked: frozenset[str]
) -> dict[str, Any]:
    """regs-preserved: which of the checked registers/flags must come back as they were.

    ``may_change`` maps each register the model lets the path clobber to the only value it may
    take instead: the constant selector the fast entry pushes (Prediction.clobbered_registers;
    only when the register held something else). For glibc the psABI scratch registers and the
    status flags are outside the contract (the guest does not check them).
    ``flags_may_change``: flags Prediction.flags_preserved lists but entry_clobbered_flags()
    takes away (``model_gap`` says so when it applies).
    """
    call = model_call_path(path)
    preserved = pred.preserved_registers[call] & checked
    flags = pred.flags_preserved & flags_checked
    if path == "glibc":
        preserved -= PSABI_SCRATCH
        flags -= STATUS_FLAGS
    lost = entry_clobbered_flags(pred) & flags if call is CallPath.VSYSCALL else frozenset()
    defaults = default_selectors(pred.kernel_bits)
    may_change = {
        reg: hex(defaults[reg])
        for reg in sorted(pred.clobbered_registers[call] & checked)
        if reg in defaults
    }
    out: dict[str, Any] = {
        "call_path": call.value,
        "preserved": sorted(preserved),
        "may_change": may_change,
        "flags_preserved": sorted(flags - lost),
        "flags_may_change": sorted(lost),
    }
    if lost:
        out["model_gap"] = (
            "Prediction.flags_preserved lists " + " ".join(sorted(lost)) + ", but with PTI "
            "entry_SYSENTER_compat switches CR3 (andq) before its pushfq saves the caller's "
            "flags (arch/x86/entry/entry_64_compat.S); see lab.model.abi_paths."
            "entry_clobbered_flags"
        )
    return out


def ptrace_prediction(pred: Prediction, path: str) -> dict[str, Any]:
    """ptrace-modify: what a tracer sees at the entry stop and what the caller ends up with.

    * Entry stop: do_fast_syscall_32() (common.c) sets regs->ip to the landing pad and
      __do_fast_syscall_32() re-reads arg 6 before syscall_enter_from_user_mode(): the tracer
      sees an int $0x80-shaped frame (the caller's six arguments, ip = landing pad); changes to
      ebx..ebp become the syscall's arguments.
    * Final values ("orig" = before the call, "entry"/"exit" = the tracer's values at that
      stop): a register in Prediction.exit_change_visible gets the exit value; ecx/edx/ebp that
      are not get the stub's saved copy ("orig"); the others keep the entry-stop value. glibc's
      syscall() restores its callee-saved registers from its own stack ("orig").
    """
    call = model_call_path(path)
    visible = pred.exit_change_visible[call]
    popped = set(stub_frame(pred).popped) if call is CallPath.VSYSCALL else set()
    final: dict[str, str] = {}
    for reg in ARG_REGISTERS:
        if path == "glibc" and reg in PSABI_CALLEE_SAVED:
            final[reg] = "orig"
        elif reg in EXIT_STOP_REGISTERS and reg in visible:
            final[reg] = "exit"
        elif reg in popped:
            final[reg] = "orig"
        else:
            final[reg] = "entry"
    return {
        "call_path": call.value,
        "entry_ip": "after_int80" if call is CallPath.RAW_INT80 else "landing_pad",
        "tracer_saw_orig_args": True,
        "entry_changes_are_arguments": list(ARG_REGISTERS),
        "final": final,
    }


SIGRETURN_MODES: tuple[str, ...] = ("eintr", "restart", "eip")


def sigreturn_prediction(pred: Prediction, path: str, mode: str) -> dict[str, Any]:
    """sigreturn-modify: a handler edits the saved ecx/edx/ebp (and, in mode "eip", eip).

    * Where the handler finds eip: after the int $0x80 (raw) or at the landing pad; on a restart
      (SA_RESTART, -ERESTARTSYS) handle_signal() (arch/x86/kernel/signal.c) has already done
      ip -= 2: the inline int $0x80 itself, or the stub's int $0x80 at landing pad - 2
      (Prediction.restart_lands_on).
    * The restarted call is that int $0x80, executed with the registers sigreturn restored: the
      handler's edits are its arguments ("restart_uses": "edited") on every path.
    * What the caller ends with: Prediction.exit_change_visible (ucontext edits reach a raw
      int $0x80 caller; a __kernel_vsyscall caller gets the stub's pops) -- unless the handler
      moved eip off the landing pad ("eip"): then the pops are skipped, every edit is visible,
      and esp is left ``stub_frame().depth`` bytes lower (return address + pushes).
    * glibc: ebp is callee-saved (restored by syscall()), and on -EINTR __syscall_error writes
      edx: those are "n/a".
    """
    if mode not in SIGRETURN_MODES:
        raise ValueError(f"unknown mode {mode!r}")
    call = model_call_path(path)
    raw = call is CallPath.RAW_INT80
    visible = pred.exit_change_visible[call]
    final: dict[str, str] = {}
    for reg in ("ecx", "edx", "ebp"):
        final[reg] = "edited" if mode == "eip" or reg in visible else "orig"
    if path == "glibc":
        final["ebp"] = "n/a"
        if mode == "eintr":
            final["edx"] = "n/a"
    if mode == "restart":
        where = "int80_insn" if raw else "landing_pad-2"
    else:
        where = "after_int80" if raw else "landing_pad"
    out: dict[str, Any] = {
        "call_path": call.value,
        "handler_eip": where,
        "restarted": mode == "restart",
        "final": final,
    }
    if mode == "restart":
        out["restart_uses"] = "edited"
    if mode == "eip":
        out["resumed"] = True
        out["esp_delta"] = 0 if raw else -stub_frame(pred).depth
    return out
