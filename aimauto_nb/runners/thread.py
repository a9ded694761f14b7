"""Trials in threads of the kernel (the default: LightGBM and most numeric code release the
GIL). A trial cannot be killed; it can be interrupted between Python bytecodes."""

from __future__ import annotations

import contextlib
import contextvars
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from ..runtime.isolation import ProcessState
from ..runtime.protect import protect
from ..runtime.resources import DevicePool, search_limits
from ..runtime.trial import Reply, Task, run_trial
from .base import Runner, interrupt_thread
from .channel import DirectChannel

__all__ = ["ThreadRunner"]


class ThreadRunner(Runner):
    """Trials in threads of this process. The cell sees a shallow copy of the namespace
    in which NumPy arrays are read-only views and pandas objects shallow copy-on-write
    copies, and the search's data likewise (:func:`~aimauto_nb.trial.protect`), so a
    trial cannot change the notebook's data or the data later trials are scored on.

    Each trial runs within its thread share (:mod:`~aimauto_nb.runtime.resources`); BLAS
    pools, being process-global, are limited for the whole search. With devices, a trial
    takes the least busy one (released when its thread really ends).

    The working directory is the kernel's: a trial that calls ``os.chdir`` moves it while
    it runs, and it is put back (to where it was when the search started) as each trial
    ends, so the next cell and the next search find it where they left it."""

    interrupts = True
    shares_memory = True
    limits = True

    def __init__(self, jobs: int, broker, spec):
        self.slots = jobs
        # Spare threads: a trial in C code cannot be interrupted and keeps its thread.
        self._pool = ThreadPoolExecutor(max_workers=jobs + 8, thread_name_prefix="aimauto-trial")
        self._channel = DirectChannel(broker)
        self._spec = spec
        self._namespace = protect(spec.namespace)
        self._data = protect(spec.data)
        self._lock = threading.Lock()
        self._numbers: dict[Future, int] = {}
        self._threads: dict[int, int] = {}
        self._devices = DevicePool(spec.resources.devices)
        self._placed: dict[Future, str | None] = {}
        self._limits = contextlib.ExitStack()
        self._limits.enter_context(search_limits(spec.resources.threads))
        self._state = ProcessState(limits=False)

    def submit(self, number: int) -> Future:
        s = self._spec
        device = self._devices.acquire()
        task = Task(number, s.program, self._namespace, self._data, s.metrics, self._channel,
                    auto_report=s.auto_report, threads=s.resources.threads, device=device)
        fut = self._pool.submit(contextvars.copy_context().run, self._run, task)
        with self._lock:
            self._numbers[fut] = number
            self._placed[fut] = device
        fut.add_done_callback(self._forget)
        return fut

    def _run(self, task: Task) -> Reply:
        with self._lock:
            self._threads[task.number] = threading.get_ident()
        try:
            return run_trial(task)
        finally:
            with self._lock:
                self._threads.pop(task.number, None)
            self._state.restore()

    def _forget(self, fut: Future) -> None:
        with self._lock:
            self._numbers.pop(fut, None)
            device = self._placed.pop(fut, None)
        self._devices.release(device)

    def kill(self, future: Future) -> None:
        """Threads cannot be killed: the trial is abandoned (its next hp/report call fails)
        and interrupted at its next Python bytecode (not inside a C call)."""
        with self._lock:
            ident = self._threads.pop(self._numbers.pop(future, -1), None)
            if ident is not None:
                interrupt_thread(ident)

    def check(self) -> None:
        pass

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._limits.close()
