"""System-call restart as a 32-bit caller sees it, per call path (Linux 6.1.176).

Sources (Debian linux-source-6.1 6.1.176):

* include/linux/errno.h: ERESTARTSYS 512, ERESTARTNOINTR 513, ERESTARTNOHAND 514,
  ERESTART_RESTARTBLOCK 516 (never seen by user space except at a tracer's syscall-exit stop).
* arch/x86/kernel/signal.c: handle_signal() -- with a handler: -ERESTART_RESTARTBLOCK and
  -ERESTARTNOHAND become -EINTR, -ERESTARTSYS restarts only with SA_RESTART, -ERESTARTNOINTR
  always; a restart is ``ax = orig_ax; ip -= 2`` *before* setup_rt_frame(), so the handler's
  ucontext already shows the rewound ip and the system-call number in eax.
  arch_do_signal_or_restart() -- no handler: all four restart, -ERESTART_RESTARTBLOCK with
  ``ax = get_nr_restart_syscall()`` (__NR_ia32_restart_syscall = 0 for a compat task,
  __NR_restart_syscall = 0 on i386).
* arch/x86/entry/common.c: do_fast_syscall_32() sets regs->ip to the vDSO landing pad before the
  call, so ``ip - 2`` is the stub's own ``int $0x80`` whichever instruction entered; the restart
  then enters through int80 and returns with IRET (semantics.py: Prediction.restart_lands_on).
* kernel/entry/common.c: syscall_exit_work() reports the syscall-exit stop (ax still holds the
  -ERESTART* code) before exit_to_user_mode_loop() -> arch_do_signal_or_restart(); the
  signal-delivery stop comes next, then the handler and rt_sigreturn, whose exit stop shows the
  restored (rewound) registers.
* kernel/ptrace.c ptrace_get_syscall_info() / fs/proc/base.c proc_pid_syscall(): at an entry stop
  and in /proc/<pid>/syscall the instruction pointer is the one *after* the int $0x80 that
  entered, i.e. the landing pad.

Addresses are named as the guest programs name them (lab/guest/control_calls.h el_where):
``stub+N`` is N bytes from AT_SYSINFO (== __kernel_vsyscall), ``int80+N`` is N bytes from the
program's own ``int $0x80; ret`` helper.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from lab.model.semantics import Prediction

__all__ = [
    "ERESTARTNOHAND",
    "ERESTARTNOINTR",
    "ERESTARTSYS",
    "ERESTART_RESTARTBLOCK",
    "RESTART_SYSCALL_NR",
    "RestartAction",
    "RestartCase",
    "expected_restart",
    "restart_action",
    "restart_point",
    "return_point",
]

# include/linux/errno.h
ERESTARTSYS = 512
ERESTARTNOINTR = 513
ERESTARTNOHAND = 514
ERESTART_RESTARTBLOCK = 516
EINTR = 4
# arch/x86/entry/syscalls/syscall_32.tbl: 0 i386 restart_syscall (also __NR_ia32_restart_syscall)
RESTART_SYSCALL_NR = 0
NR_READ = 3


class RestartCase(enum.Enum):
    """The restart situations lab/guest/syscall_restart.c provokes."""

    SA_RESTART_READ = "sa_restart_read"  # -ERESTARTSYS, handler with SA_RESTART
    NANOSLEEP_HANDLER = "nanosleep_handler"  # -ERESTART_RESTARTBLOCK, handler with SA_RESTART
    RESTART_SYSCALL = "restart_syscall"  # -ERESTART_RESTARTBLOCK, stop/continue, no handler
    PTRACE_READ = "ptrace_read"  # tracer: exit stop, deliver handler (SA_RESTART), re-entry
    PTRACE_NANOSLEEP = "ptrace_nanosleep"  # tracer: exit stop, suppress signal, restart_syscall


@dataclass(frozen=True)
class RestartAction:
    """What the kernel does to pt_regs for one -ERESTART* code on the way out."""

    restarts: bool
    ax: str  # "orig_ax", "restart_syscall" or "-EINTR"
    ip_delta: int  # -2 when the system-call instruction is executed again
    source: str


def restart_action(code: int, *, handler: bool, sa_restart: bool = False) -> RestartAction:
    """handle_signal() (handler) or arch_do_signal_or_restart() (none), arch/x86/kernel/signal.c."""
    if code not in (ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK):
        raise ValueError(f"not a restart code: {code}")
    if handler:
        where = "handle_signal() (arch/x86/kernel/signal.c)"
        if code == ERESTARTNOINTR or (code == ERESTARTSYS and sa_restart):
            return RestartAction(True, "orig_ax", -2, where)
        return RestartAction(False, "-EINTR", 0, where)
    where = "arch_do_signal_or_restart() (arch/x86/kernel/signal.c)"
    if code == ERESTART_RESTARTBLOCK:
        return RestartAction(True, "restart_syscall", -2, where)
    return RestartAction(True, "orig_ax", -2, where)


def return_point(prediction: Prediction, call_path: str) -> str:
    """Where the kernel returns to (regs->ip during the call): the landing pad, or after int80."""
    if call_path == "int80":
        return "int80+2"
    return f"stub+{prediction.landing_pad_offset}"


def restart_point(prediction: Prediction, call_path: str) -> str:
    """Where a restart lands (ip - 2): the int $0x80 at landing pad - 2, or the raw int80.

    glibc's wrappers call through AT_SYSINFO (%gs:SYSINFO_OFFSET), so they land in the stub too.
    """
    if call_path == "int80":
        return "int80+0"
    return f"stub+{prediction.landing_pad_offset - 2}"


def expected_restart(prediction: Prediction, call_path: str, case: RestartCase) -> dict[str, Any]:
    """The model's prediction for one restart case, in the guest's field names.

    Only fields the model decides are given; the host compares exactly these.
    """
    ret, rst = return_point(prediction, call_path), restart_point(prediction, call_path)
    if case is RestartCase.SA_RESTART_READ:
        act = restart_action(ERESTARTSYS, handler=True, sa_restart=True)
        assert act.restarts and act.ax == "orig_ax"
        return {"handler_eip": rst, "handler_eax": NR_READ, "signals": 1, "data_ok": True}
    if case is RestartCase.NANOSLEEP_HANDLER:
        act = restart_action(ERESTART_RESTARTBLOCK, handler=True, sa_restart=True)
        assert not act.restarts
        return {"ret": -EINTR, "handler_eip": ret, "handler_eax": -EINTR, "signals": 1}
    if case is RestartCase.RESTART_SYSCALL:
        act = restart_action(ERESTART_RESTARTBLOCK, handler=False)
        assert act.ax == "restart_syscall"
        return {"ret": 0, "restart_nr_seen": RESTART_SYSCALL_NR, "restart_pc": ret}
    if case is RestartCase.PTRACE_READ:
        return {
            "exit1_eax": -ERESTARTSYS,
            "sigreturn_eip": rst,
            "sigreturn_eax": NR_READ,
            "restart_nr": NR_READ,
            "restart_entry_eip": ret,
            "args_same": True,
        }
    return {
        "exit1_eax": -ERESTART_RESTARTBLOCK,
        "restart_nr": RESTART_SYSCALL_NR,
        "restart_entry_eip": ret,
        "exit2_eax": 0,
    }
