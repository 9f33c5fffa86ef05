"""Single-stepping through a 32-bit system call: which eips a stepper sees (Linux 6.1.176).

Two steppers (lab/guest/single_step.c):

* ``tf``: the program sets EFLAGS.TF itself and counts SIGTRAPs. The CPU traps after every
  instruction that *began* with TF set (Intel SDM Vol. 3, "Single-Step Exception Condition";
  AMD APM Vol. 2, "Single-Step"). The system-call instruction is the exception:

  - ``int $0x80`` clears TF when it enters the handler; IRET loads TF=1 again, and a trap is taken
    only after the *next* instruction (IRET itself began with TF clear), so no trap lands on the
    instruction after the int.
  - SYSCALL: MSR_SYSCALL_MASK clears TF (syscall_init(), arch/x86/kernel/cpu/common.c).
  - SYSENTER does not clear TF: the CPU traps at CPL0 on the first instruction of
    entry_SYSENTER_compat / entry_SYSENTER_32; exc_debug_kernel() drops it
    (is_sysenter_singlestep(), arch/x86/kernel/traps.c) and the entry clears TF in the live flags
    (.Lsysenter_fix_flags) while pt_regs->flags keeps it.
  - On the way out TF in regs->flags forces IRET (do_fast_syscall_32() in
    arch/x86/entry/common.c: Prediction.forced_iret_when "TF set"). Had the kernel used SYSRET,
    the trap would come *immediately* at the landing pad (the comment on opportunistic SYSRET in
    arch/x86/entry/entry_64.S), so a trap at the landing pad in tf mode means a fast return with
    TF set -- which the model says cannot happen.

  So: traps after each stub instruction before the entry instruction, none after it, then one
  after each instruction from the landing pad to ``ret`` and after the ``ret``.

* ``ptrace``: PTRACE_SINGLESTEP sets TF and SYSCALL_WORK_SYSCALL_EXIT_TRAP (user_enable_single_step,
  arch/x86/kernel/step.c); syscall_exit_work() -> report_single_step() (kernel/entry/common.c)
  reports a step on system-call exit "in lieu of the normal trap", with ip at the landing pad.
  So the tracer additionally stops at the landing pad (``int80+2`` for a raw int80).

Addresses are named as the guest names them: ``stub+N`` from AT_SYSINFO, ``int80+N`` from the
program's ``int $0x80; ret`` helper, ``ret`` for the caller's return address.
"""

from __future__ import annotations

from lab.model.paths import EntryPath
from lab.model.semantics import Prediction
from lab.model.stub import StubDecoding, decode_stub

__all__ = ["MODES", "entry_instruction", "expected_steps", "stub_steps"]

MODES = ("tf", "ptrace")


def stub_steps(stub: StubDecoding, mode: str) -> list[str]:
    """The stepped eips inside ``stub`` for a call to it, ending with the caller's ``ret``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if stub.landing_pad_offset is None:
        raise ValueError("stub has no landing pad")
    entry = stub.fast_insn_offset if stub.fast_insn_offset is not None else stub.int80_offset
    steps = ["stub+0"]  # the trap after the caller's `call`
    for insn in stub.instructions:
        if insn.offset == entry:
            if mode == "ptrace":
                steps.append(f"stub+{stub.landing_pad_offset}")
            continue
        if entry is not None and entry < insn.offset < stub.landing_pad_offset:
            continue  # never executed: the kernel returns to the landing pad
        if insn.mnemonic == "ret":
            steps.append("ret")
            break
        steps.append(f"stub+{insn.end}")
    return steps


def expected_steps(prediction: Prediction, call_path: str, mode: str) -> list[str]:
    """Predicted stepped eips (stub+N, int80+N, ret) for one call path on this kernel and CPU.

    Uses the stub the model predicts (Prediction.expected_stub_hex, per kernel version), never
    the guest's own bytes. The glibc path is compared on the stub part only (glibc's own
    instructions are not modelled).
    """
    if call_path == "int80":
        return ["int80+0", "int80+2", "ret"] if mode == "ptrace" else ["int80+0", "ret"]
    stub = decode_stub(bytes.fromhex(prediction.expected_stub_hex))
    return stub_steps(stub, mode)


def entry_instruction(path: EntryPath) -> str:
    """How the kernel is entered from the stub, for messages."""
    return {EntryPath.SYSENTER: "sysenter", EntryPath.SYSCALL: "syscall"}.get(path, "int $0x80")
