"""What every runner shares: the :class:`Runner` protocol with its capability flags, the
exception that interrupts a thread trial, and how a dead worker is told from a failed trial.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
from concurrent.futures import BrokenExecutor, Future
from typing import Protocol

from ..errors import ExecutorLost

__all__ = ["Runner", "ExecutorLost", "TrialInterrupted", "worker_death", "interrupt_thread",
           "default_process_jobs"]


class Runner(Protocol):  # runners subclass it for the flags' defaults
    """What the driver needs from an executor.

    ``slots`` trials run at once; ``submit(number)`` starts trial ``number`` (its values
    come through the channel) and returns a Future of its :class:`~aimauto_nb.trial.Reply`;
    ``kill(future)`` ends one trial (``kills`` says whether that really stops it);
    ``check()`` raises :class:`ExecutorLost` when the executor is gone; ``shutdown()``.

    Capability flags, read by the driver and by whoever builds the trials' shared
    :class:`~aimauto_nb.runtime.trial.Spec` (so no module tests executor names):
    ``kills`` (``kill`` really stops a trial), ``interrupts`` (a thread trial is
    interrupted instead), ``shares_memory`` (trials see the kernel's objects; otherwise the
    namespace is cut to the names the cell reads), ``pickles_namespace`` (the namespace is
    sent to worker processes, so it must pickle), ``limits`` (it gives each trial its
    thread share and device, :mod:`~aimauto_nb.runtime.resources`).
    """

    kills: bool = False
    limits: bool = False
    interrupts: bool = False
    shares_memory: bool = False
    pickles_namespace: bool = False
    slots: int

    def submit(self, number: int) -> Future: ...

    def kill(self, future: Future) -> None: ...

    def check(self) -> None: ...

    def shutdown(self) -> None: ...


class TrialInterrupted(BaseException):
    """Raised inside a thread trial that timed out or outlived ``stop()`` (a
    ``BaseException``, so a cell's ``except Exception`` does not swallow it)."""


def worker_death(exc: BaseException) -> str | None:
    """``"worker died: signal 9 (SIGKILL)"`` (or ``exit code N``) for a loky worker that
    was terminated under its trial; ``None`` for any other error."""
    if not isinstance(exc, BrokenExecutor):
        return None
    codes = re.findall(r"\((-?\d+)\)", str(exc).split("exit codes of the workers are", 1)[-1])
    if not codes:
        return f"worker died ({type(exc).__name__})"
    code = int(codes[0])
    if code < 0:
        try:
            return f"worker died: signal {-code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"worker died: signal {-code}"
    return f"worker died: exit code {code}"


def interrupt_thread(ident: int) -> bool:
    """Raise :class:`TrialInterrupted` in thread ``ident`` at its next bytecode (CPython
    cannot interrupt a thread inside a C call; it fires once the call returns)."""
    n = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident),
                                                   ctypes.py_object(TrialInterrupted))
    if n > 1:  # never expected: undo rather than hit several threads
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)
    return n == 1


def default_process_jobs() -> int:
    """Cores − 1 (at least 1), so the kernel keeps a core."""
    return max(1, (os.cpu_count() or 2) - 1)


