"""What a 32-bit caller can observe after a system call, per entry path (Linux 6.1.176).

Sources (Debian linux-source-6.1 6.1.176):

* arch/x86/entry/entry_64_compat.S: entry_SYSENTER_compat, entry_SYSCALL_compat,
  sysret32_from_system_call (64-bit kernels; both fast entries return through SYSRETL).
* arch/x86/entry/entry_32.S: entry_SYSENTER_32 (SYSEXIT return), entry_INT80_32, SAVE_ALL,
  RESTORE_REGS.
* arch/x86/entry/common.c: do_SYSENTER_32, do_fast_syscall_32, __do_fast_syscall_32,
  do_int80_emulation (64-bit int $0x80 in 6.1.176), do_int80_syscall_32 (32-bit).
* arch/x86/kernel/signal.c: handle_signal, arch_do_signal_or_restart (ip -= 2).
* arch/x86/entry/vdso/vdso32/system_call.S: the stub pops ebp/edx/ecx after int80_landing_pad.

Register sets use 32-bit names; ``eax`` is the return value and is never listed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from lab.model.kernel import KernelFacts
from lab.model.paths import CpuIdentity, EntryPath, check_kernel_bits
from lab.model.selection import Selection, select_path
from lab.model.stub import SHIPPED_LANDING_PAD, shipped_stub_bytes

__all__ = [
    "ALL_FLAGS",
    "ALL_REGISTERS",
    "CallPath",
    "Prediction",
    "ReturnInsn",
    "base_prediction",
    "predict",
]

ALL_REGISTERS: frozenset[str] = frozenset(
    {"ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "cs", "ss", "ds", "es", "fs", "gs"}
)
ALL_FLAGS: frozenset[str] = frozenset(
    {"CF", "PF", "AF", "ZF", "SF", "TF", "IF", "DF", "OF", "AC", "NT"}
)
EXIT_STOP_REGISTERS: frozenset[str] = frozenset({"ecx", "edx", "ebp"})

# arch/x86/include/asm/segment.h
USER32_CS_64, USER_DS_64 = 0x23, 0x2B  # 64-bit kernel: __USER32_CS, __USER_DS (= __USER32_DS)
USER_CS_32, USER_DS_32 = 0x73, 0x7B  # 32-bit kernel: __USER_CS, __USER_DS


class CallPath(enum.Enum):
    """How user code asks for the system call."""

    RAW_INT80 = "raw-int80"  # an inline int $0x80
    VSYSCALL = "vsyscall"  # call *AT_SYSINFO / __kernel_vsyscall


class ReturnInsn(enum.Enum):
    """The instruction the kernel leaves through."""

    SYSRETL = "sysretl"
    SYSEXIT = "sysexit"
    IRET = "iret"
    ERETU = "eretu"  # FRED (6.12+ code, on by default in 7.x): every return to user mode


@dataclass(frozen=True)
class Prediction:
    """Everything the model predicts for one kernel bitness and CPU.

    ``preserved_registers`` come back unchanged whatever value they held.
    ``clobbered_registers`` may come back different; for segment registers only when they held
    something other than the default flat user selector (the fast paths load constants).
    ``exit_change_visible``: which of ecx/edx/ebp, changed by a tracer at the syscall-exit stop
    or by a signal handler in its ucontext, the caller actually gets.
    ``fast_return_clobbers``: what the fast return instruction itself overwrites (the stub's pops
    repair it, so the caller never sees it).
    """

    kernel_bits: int
    cpu: CpuIdentity
    selection: Selection
    expected_stub_hex: str
    preserved_registers: dict[CallPath, frozenset[str]] = field(hash=False)
    clobbered_registers: dict[CallPath, frozenset[str]] = field(hash=False)
    eligible_return: ReturnInsn
    forced_iret_when: tuple[str, ...]
    restart_lands_on: str
    exit_change_visible: dict[CallPath, frozenset[str]] = field(hash=False)
    flags_preserved: frozenset[str]
    notes: tuple[str, ...]
    landing_pad_offset: int = SHIPPED_LANDING_PAD
    fast_return_clobbers: frozenset[str] = frozenset()
    kernel_entry: str = ""
    flags_clobbered: dict[CallPath, frozenset[str]] = field(default_factory=dict, hash=False)
    kernel: KernelFacts | None = None  # None: the 6.1 model
    citations: tuple[str, ...] = ()  # file:line (version) of the version-specific rules
    invalid_nr_result: str = "-ENOSYS"  # eax after a tracer writes an out-of-range nr (not -1)
    # The vDSO's int80_landing_pad symbol, where do_fast_syscall_32() sends *any* fast entry
    # (also a raw SYSENTER/SYSCALL outside the stub): +9 on 6.x, +0xc on 7.x even when the
    # stub itself is 'int $0x80; ret' (landing_pad_offset 2 there).
    fast_landing_pad_offset: int = SHIPPED_LANDING_PAD
    # mremap() of the vDSO: vdso_fix_landing() moves any ip inside the image (7.x) or only the
    # old landing pad of an ia32 syscall (6.x) (D9); the data mappings right below it (D10).
    mremap_moves_any_ip: bool = False
    vvar_mappings: tuple[str, ...] = ("[vvar]",)

    @property
    def rules(self) -> str:
        """The kernel series whose rules made this prediction."""
        return self.kernel.rules if self.kernel is not None else "6.1"

    @property
    def assumed(self) -> bool:
        """The rules were borrowed for a kernel version the model does not know."""
        return self.kernel is not None and self.kernel.assumed

    @property
    def path(self) -> EntryPath:
        """Shortcut for ``selection.path``."""
        return self.selection.path


def _eligible_return(kernel_bits: int, path: EntryPath) -> ReturnInsn:
    """do_fast_syscall_32() (common.c) returns 1 -> SYSRETL on 64-bit, SYSEXIT on 32-bit.

    On 64-bit kernels entry_SYSENTER_compat also jumps to sysret32_from_system_call, so an Intel
    CPU that entered with SYSENTER leaves with SYSRETL, never SYSEXIT.
    """
    if path is EntryPath.INT80:
        return ReturnInsn.IRET
    return ReturnInsn.SYSRETL if kernel_bits == 64 else ReturnInsn.SYSEXIT


def _forced_iret(kernel_bits: int, path: EntryPath) -> tuple[str, ...]:
    """Conditions under which a fast entry still leaves with IRET (do_fast_syscall_32)."""
    if path is EntryPath.INT80:
        return ()
    common = (
        "TF set",  # regs->flags & X86_EFLAGS_TF: user TF or ptrace single-step
        "RF set",  # regs->flags & X86_EFLAGS_RF
        "ip changed by ptrace/signal",  # regs->ip != landing_pad, incl. handler delivery
        "restart (ip -= 2)",  # handle_signal / arch_do_signal_or_restart
        "arg6 fetch faults",  # __do_fast_syscall_32: get_user(regs->bp, regs->sp) fails
    )
    if kernel_bits == 64:
        return (
            *common,
            "cs != __USER32_CS or ss != __USER_DS (changed by ptrace)",
            "Xen PV guest",  # ALTERNATIVE ... X86_FEATURE_XENPV in entry_64_compat.S
        )
    return (
        *common,
        "cs != __USER_CS or ss != __USER_DS (changed by ptrace)",
        "VM set (return from vm86)",
    )


def _clobbered(kernel_bits: int, path: EntryPath) -> frozenset[str]:
    """Registers a __kernel_vsyscall caller may get back changed (segment selectors only)."""
    if path is EntryPath.INT80:
        return frozenset()
    if kernel_bits == 64:
        # entry_SYSENTER_compat / entry_SYSCALL_compat push $__USER32_CS and $__USER32_DS as
        # pt_regs->cs/ss, and SYSRETL loads CS/SS from MSR_STAR.
        return frozenset({"cs", "ss"})
    # entry_SYSENTER_32 pushes $__USER_CS/$__USER_DS; SAVE_ALL loads __USER_DS into ds/es and the
    # SYSEXIT path does not restore them ("Don't bother with DS and ES"); fs is restored, gs is
    # never touched.
    return frozenset({"cs", "ss", "ds", "es"})


def _fast_return_clobbers(kernel_bits: int, path: EntryPath) -> frozenset[str]:
    if path is EntryPath.INT80:
        return frozenset()
    if kernel_bits == 64:
        return frozenset({"ecx"})  # SYSRETL: ecx = return eip (sysret32_from_system_call)
    return frozenset({"ecx", "edx"})  # SYSEXIT: esp = ecx, eip = edx (entry_SYSENTER_32)


def _kernel_entry(kernel_bits: int, path: EntryPath) -> str:
    if kernel_bits == 64:
        return {
            EntryPath.SYSENTER: "entry_SYSENTER_compat -> do_SYSENTER_32 -> do_fast_syscall_32 "
            "(arch/x86/entry/entry_64_compat.S, common.c)",
            EntryPath.SYSCALL: "entry_SYSCALL_compat -> do_fast_syscall_32 "
            "(arch/x86/entry/entry_64_compat.S, common.c)",
            EntryPath.INT80: "int80_emulation -> do_int80_emulation "
            "(arch/x86/entry/entry_64_compat.S, common.c)",
        }[path]
    return {
        EntryPath.SYSENTER: "entry_SYSENTER_32 -> do_SYSENTER_32 -> do_fast_syscall_32 "
        "(arch/x86/entry/entry_32.S, common.c)",
        EntryPath.SYSCALL: "(none: 32-bit kernels have no SYSCALL entry)",
        EntryPath.INT80: "entry_INT80_32 -> do_int80_syscall_32 "
        "(arch/x86/entry/entry_32.S, common.c)",
    }[path]


def _eflags_note(kernel_bits: int, path: EntryPath) -> str:
    """Why every flag in ALL_FLAGS comes back on a fast path (entry_64_compat.S, entry_32.S)."""
    if path is EntryPath.SYSCALL:
        entry = (
            "SYSCALL saves eflags in r11 before MSR_SYSCALL_MASK (syscall_init()) masks the live "
            "flags, and entry_SYSCALL_compat stores r11 as pt_regs->flags."
        )
    else:
        entry = (
            "SYSENTER clears IF and VM in hardware; the entry code pushes the user's eflags "
            "first, then clears DF with cld and NT, AC and TF only in the live kernel EFLAGS "
            "(.Lsysenter_fix_flags pops X86_EFLAGS_FIXED), so pt_regs->flags keeps them; "
            "do_SYSENTER_32() puts IF back."
        )
    leave = (
        "SYSRETL loads RFLAGS from r11 = pt_regs->flags (sysret32_from_system_call)"
        if kernel_bits == 64
        else "the SYSEXIT path does popfl of pt_regs->flags, then sti (entry_SYSENTER_32)"
    )
    rf = (
        " RF is not claimed: SYSCALL clears it before saving eflags to r11."
        if path is EntryPath.SYSCALL
        else ""
    )
    return (
        f"EFLAGS: {entry} On the way out {leave}, and IRET restores the same saved copy, so "
        f"CF PF AF ZF SF TF IF DF OF AC NT come back as they were.{rf}"
    )


def _notes(kernel_bits: int, path: EntryPath) -> tuple[str, ...]:
    notes: list[str] = []
    if kernel_bits == 64:
        notes.append(
            "64-bit kernel: CPUID SEP plays no part; syscall_init() (arch/x86/kernel/cpu/"
            "common.c) programs the SYSENTER MSRs with wrmsrl_safe() for every vendor, and the "
            "choice comes only from the synthetic SYSENTER32/SYSCALL32 flags."
        )
    if path is EntryPath.SYSENTER:
        notes.append(
            "SYSENTER loses esp and eip: the stub copied esp into ebp, do_SYSENTER_32() "
            "(common.c) sets regs->sp = regs->bp and ORs IF back into regs->flags (SYSENTER "
            "cleared it; user mode always runs with IF=1 because sys_iopl() in "
            "arch/x86/kernel/ioport.c emulates I/O access and never raises EFLAGS.IOPL)."
        )
    if path is EntryPath.SYSCALL:
        notes.append(
            "SYSCALL overwrites ecx with the return eip, so the stub copied arg 2 into ebp; "
            "entry_SYSCALL_compat stores ebp as regs->cx (PUSH_AND_CLEAR_REGS rcx=%rbp) and "
            "r11 (the user's eflags, saved before MSR_SYSCALL_MASK) as regs->flags."
        )
    if path is not EntryPath.INT80:
        notes.append(
            "do_fast_syscall_32() (common.c) sets regs->ip = int80_landing_pad and "
            "__do_fast_syscall_32() re-reads only arg 6 (regs->bp) from the user stack at "
            "regs->sp, before syscall_enter_from_user_mode_work(): tracers, seccomp and audit "
            "see an int $0x80-shaped frame. If the read faults: ax = -EFAULT, no syscall "
            "tracer stops, IRET."
        )
        ret = "SYSRETL" if kernel_bits == 64 else "SYSEXIT"
        clob = "ecx" if kernel_bits == 64 else "ecx and edx"
        notes.append(
            f"{ret} overwrites {clob}; the stub's 'pop %ebp; pop %edx; pop %ecx' after "
            "int80_landing_pad (system_call.S) restores the caller's values, which is also why "
            "exit-stop or ucontext changes to ecx/edx/ebp never reach a __kernel_vsyscall "
            "caller."
        )
        if kernel_bits == 64:
            notes.append(
                "SYSRETL eligibility (do_fast_syscall_32): cs == __USER32_CS (0x23), ss == "
                "__USER_DS (0x2b), ip == landing pad, no TF/RF in regs->flags; entries via "
                "SYSENTER return the same way (entry_SYSENTER_compat jumps to "
                "sysret32_from_system_call). r8-r10 are zeroed, r11 = flags."
            )
            notes.append(
                "Segment registers: the fast entries push constant $__USER32_CS/$__USER32_DS as "
                "pt_regs->cs/ss, so a caller running on other CS/SS selectors gets the default "
                "ones back even through IRET; ds/es/fs/gs are not touched."
            )
        else:
            notes.append(
                "SYSEXIT eligibility (do_fast_syscall_32): X86_FEATURE_SEP, cs == __USER_CS "
                "(0x73), ss == __USER_DS (0x7b), ip == landing pad, no TF/RF/VM in regs->flags."
            )
            notes.append(
                "Segment registers: entry_SYSENTER_32 pushes constant $__USER_CS/$__USER_DS; "
                "SAVE_ALL loads __USER_DS into ds/es and the SYSEXIT path does not reload them, "
                "fs is restored from pt_regs, gs is never touched. A caller on non-default "
                "ds/es/cs/ss selectors gets __USER_DS/__USER_CS back."
            )
        notes.append(_eflags_note(kernel_bits, path))
    else:
        notes.append(
            "int $0x80 saves the hardware frame (eflags, cs, ss, esp) and the entry saves every "
            "general register in pt_regs; IRET restores them all, so every register, selector "
            "and flag comes back as it was unless a tracer or signal handler changed pt_regs."
        )
    notes.append(
        "Restart: handle_signal() / arch_do_signal_or_restart() (arch/x86/kernel/signal.c) do "
        "ax = orig_ax (or __NR_ia32_restart_syscall for -ERESTART_RESTARTBLOCK) and ip -= 2, "
        "which lands on the stub's int $0x80 at int80_landing_pad - 2; with no handler all four "
        "-ERESTART* codes restart, with a handler only -ERESTARTNOINTR and -ERESTARTSYS with "
        "SA_RESTART do (-ERESTARTNOHAND and -ERESTART_RESTARTBLOCK become -EINTR)."
    )
    notes.append(
        "A raw int $0x80 caller sees every pt_regs change a tracer (syscall-exit stop) or a "
        "signal handler (ucontext) makes; a __kernel_vsyscall caller loses ecx/edx/ebp changes "
        "to the stub's pops unless ip was moved off the landing pad. mremap() of the vDSO "
        "during a call is handled by vdso_fix_landing() (arch/x86/entry/vdso/vma.c)."
    )
    if kernel_bits == 64:
        notes.append(
            "Raw int $0x80 on this 6.1.176 64-bit kernel enters int80_emulation -> "
            "do_int80_emulation() (common.c), returns with IRET."
        )
    return tuple(notes)


STATUS_FLAGS = frozenset({"CF", "PF", "AF", "ZF", "SF", "OF"})


def _pti_sysenter_flags(kernel_bits: int, path: EntryPath, cpu: CpuIdentity) -> frozenset[str]:
    """Status flags a __kernel_vsyscall caller loses on a 64-bit PTI kernel's SYSENTER path.

    entry_SYSENTER_compat (arch/x86/entry/entry_64_compat.S) runs SWITCH_TO_KERNEL_CR3
    (arch/x86/entry/calling.h: mov %cr3; andq $~PTI_USER_PGTABLE_AND_PCID_MASK; mov to %cr3)
    before the pushfq that builds pt_regs->flags, so with X86_FEATURE_PTI (cpuinfo ``pti``) the
    saved status flags are the andq's. entry_SYSENTER_32 brackets its CR3 switch with
    pushfl/popfl; SYSCALL saves eflags in r11 first; int $0x80 has the CPU push them. Found by
    the entry-abi suite (regs-preserved) on intel-sep and centaur-sep. The i386 psABI does not
    preserve status flags across calls, so no correct caller depends on them.
    """
    if kernel_bits == 64 and path is EntryPath.SYSENTER and "pti" in cpu.flags:
        return STATUS_FLAGS
    return frozenset()


def predict(kernel_bits: int, cpu: CpuIdentity, *, kernel: KernelFacts | None = None) -> Prediction:
    """The model's full prediction for a 6.1 kernel of ``kernel_bits`` on ``cpu``.

    With ``kernel``: for that kernel version (lab/model/semantics_kernel.py), which says in
    ``Prediction.rules`` / ``assumed`` whose rules were used.
    """
    check_kernel_bits(kernel_bits)
    if kernel is not None:
        from lab.model.semantics_kernel import predict_for_kernel

        return predict_for_kernel(kernel_bits, cpu, kernel)
    return base_prediction(kernel_bits, cpu, select_path(kernel_bits, cpu))


def base_prediction(kernel_bits: int, cpu: CpuIdentity, selection: Selection) -> Prediction:
    """The 6.1 prediction for an already chosen ``selection`` (semantics_kernel.py adjusts it)."""
    path = selection.path
    clobbered = _clobbered(kernel_bits, path)
    return Prediction(
        kernel_bits=kernel_bits,
        cpu=cpu,
        selection=selection,
        expected_stub_hex=shipped_stub_bytes(path, kernel_bits).hex(" "),
        preserved_registers={
            CallPath.RAW_INT80: ALL_REGISTERS,
            CallPath.VSYSCALL: ALL_REGISTERS - clobbered,
        },
        clobbered_registers={
            CallPath.RAW_INT80: frozenset(),
            CallPath.VSYSCALL: clobbered,
        },
        eligible_return=_eligible_return(kernel_bits, path),
        forced_iret_when=_forced_iret(kernel_bits, path),
        restart_lands_on=(
            f"int $0x80 at landing pad - 2 (__kernel_vsyscall+0x{SHIPPED_LANDING_PAD - 2:x}); "
            "the restarted call enters via int $0x80 and returns with IRET"
        ),
        exit_change_visible={
            CallPath.RAW_INT80: EXIT_STOP_REGISTERS,
            CallPath.VSYSCALL: frozenset(),
        },
        flags_preserved=ALL_FLAGS,
        notes=_notes(kernel_bits, path),
        landing_pad_offset=SHIPPED_LANDING_PAD,
        fast_return_clobbers=_fast_return_clobbers(kernel_bits, path),
        kernel_entry=_kernel_entry(kernel_bits, path),
        flags_clobbered={
            CallPath.RAW_INT80: frozenset(),
            CallPath.VSYSCALL: _pti_sysenter_flags(kernel_bits, path, cpu),
        },
    )
