"""Where trials run, behind one small interface, :class:`Runner`.

- thread: a ``ThreadPoolExecutor`` (default; LightGBM and most numeric code release the GIL).
  A trial cannot be killed; it can be interrupted between Python bytecodes.
- process: loky workers (cloudpickle, so functions defined in a notebook work). Each
  worker is its own one-process loky executor, so a trial past its time limit can be
  killed, and a worker that dies (a signal, a segfault, out of memory) is replaced,
  without breaking the trials running beside it. Workers exit when the kernel dies.
- dask (:mod:`aimauto_nb.dask_runner`): a ``dask.distributed`` cluster (a ``Client``, a
  scheduler address, or ``"dask"`` for a ``LocalCluster`` owned by the search).
- any ``concurrent.futures.Executor`` the user passes (run as is; no kill).
"""

from __future__ import annotations

import contextvars
import ctypes
import os
import re
import signal
import threading
import time
from concurrent.futures import BrokenExecutor, Executor, Future, ThreadPoolExecutor
from typing import Any, Protocol

import cloudpickle

from .channel import ChannelServer, DirectChannel
from .trial import Reply, Task, protect, run_trial

__all__ = ["Runner", "EXECUTORS", "make_runner", "check_executor", "default_jobs",
           "default_process_jobs", "is_dask", "ThreadRunner", "ProcessRunner", "ExecutorLost",
           "TrialInterrupted", "worker_death"]

EXECUTORS = ("thread", "process", "dask")


class Runner(Protocol):
    """What the driver needs from an executor.

    ``slots`` trials run at once; ``submit(number)`` starts trial ``number`` (its values
    come through the channel) and returns a Future of its :class:`~aimauto_nb.trial.Reply`;
    ``kill(future)`` ends one trial (``kills`` says whether that really stops it);
    ``check()`` raises :class:`ExecutorLost` when the executor is gone; ``shutdown()``.
    """

    kills: bool
    slots: int

    def submit(self, number: int) -> Future: ...

    def kill(self, future: Future) -> None: ...

    def check(self) -> None: ...

    def shutdown(self) -> None: ...


class ExecutorLost(RuntimeError):
    """The executor itself is gone (a Dask scheduler that went away)."""


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


def check_executor(executor) -> None:
    """Raise ``ValueError`` for an executor this package cannot run trials on."""
    if isinstance(executor, str) and executor not in EXECUTORS and not is_dask(executor):
        raise ValueError(f"unknown executor {executor!r}; use 'thread', 'process', 'dask', a "
                         "Dask scheduler address (tcp://host:port), a dask Client or a "
                         "concurrent.futures.Executor")
    if not isinstance(executor, str) and not is_dask(executor) and not isinstance(executor, Executor):
        raise ValueError(f"unknown executor {executor!r}; use 'thread', 'process', 'dask', a "
                         "Dask scheduler address, a dask Client or a concurrent.futures.Executor")


def default_jobs(executor, jobs: int | None) -> int | None:
    """Trials at once: as given, else 1 thread, cores − 1 processes, and for Dask ``None``
    (the cluster's threads, known once it is reached)."""
    if jobs is not None or is_dask(executor):
        return jobs
    return default_process_jobs() if executor == "process" else 1


def is_dask(executor) -> bool:
    """``"dask"``, a scheduler address, or a ``distributed.Client``."""
    if isinstance(executor, str):
        return executor == "dask" or "://" in executor
    return type(executor).__module__.startswith("distributed") and type(executor).__name__ == "Client"


def default_process_jobs() -> int:
    """Cores − 1 (at least 1), so the kernel keeps a core."""
    return max(1, (os.cpu_count() or 2) - 1)


class ThreadRunner:
    """Trials in threads of this process. The cell sees a shallow copy of the namespace
    in which NumPy arrays are read-only views and pandas objects shallow copy-on-write
    copies, and the search's data likewise (:func:`~aimauto_nb.trial.protect`), so a
    trial cannot change the notebook's data or the data later trials are scored on."""

    kills = False
    interrupts = True

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

    def submit(self, number: int) -> Future:
        s = self._spec
        task = Task(number, s.program, self._namespace, self._data, s.metrics, self._channel,
                    auto_report=s.auto_report)
        fut = self._pool.submit(contextvars.copy_context().run, self._run, task)
        with self._lock:
            self._numbers[fut] = number
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

    def _forget(self, fut: Future) -> None:
        with self._lock:
            self._numbers.pop(fut, None)

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


_WORKER_CACHE: dict[str, Any] = {}


class ProcessRunner:
    """Trials in loky worker processes, one single-worker executor per slot. A slot whose
    worker died (its future fails with loky's ``TerminatedWorkerError``) gets a fresh
    executor on its next trial; each worker exits when this process dies (a watchdog
    thread, as loky workers do not check for that)."""

    kills = True

    def __init__(self, jobs: int, broker, spec):
        self.slots = jobs
        self._server = ChannelServer(broker)
        self._spec = spec
        self._data_key = os.urandom(8).hex()
        self._data_blob = cloudpickle.dumps(spec.data)
        self._ns_blob = spec.namespace_blob or cloudpickle.dumps(spec.namespace)
        self._slots = [None] * jobs
        self._fed = [False] * jobs
        self._busy: dict[int, Future] = {}
        self._by_future: dict[Future, int] = {}
        self._lock = threading.Lock()

    def _executor(self, i: int):
        if self._slots[i] is None:
            from loky import ProcessPoolExecutor

            self._slots[i] = ProcessPoolExecutor(max_workers=1, initializer=_watch_parent,
                                                 initargs=(os.getpid(),))
            self._fed[i] = False
        return self._slots[i]

    def submit(self, number: int) -> Future:
        s = self._spec
        with self._lock:
            # a finished future may not have run its done-callback (_free) yet
            i = next(k for k in range(len(self._slots))
                     if k not in self._busy or self._busy[k].done())
            if i in self._busy:
                self._retire_if_broken(i, self._busy[i])
            ex = self._executor(i)
            task = Task(number, s.program, {}, None, s.metrics, self._server.channel(),
                        keep_bytes=True, auto_report=s.auto_report)
            blob = cloudpickle.dumps(task)
            first = not self._fed[i]
            fut = ex.submit(_run_ns_blob, blob, self._ns_blob if first else None,
                            self._data_key, self._data_blob if first else None)
            self._fed[i] = True
            self._busy[i] = fut
            self._by_future[fut] = i
            fut.add_done_callback(self._free)
        return fut

    def _free(self, fut: Future) -> None:
        with self._lock:
            i = self._by_future.pop(fut, None)
            if i is not None and self._busy.get(i) is fut:
                del self._busy[i]
                self._retire_if_broken(i, fut)

    def _retire_if_broken(self, i: int, fut: Future) -> None:
        """Drop slot ``i``'s executor if its worker died under ``fut`` (lock held)."""
        if fut.cancelled() or not isinstance(fut.exception(), BrokenExecutor):
            return
        ex, self._slots[i] = self._slots[i], None
        if ex is not None:
            ex.shutdown(wait=False, kill_workers=True)

    def kill(self, future: Future) -> None:
        """Kill the worker process running ``future``; the slot gets a fresh worker."""
        with self._lock:
            i = self._by_future.get(future)
            if i is None:
                return
            ex, self._slots[i] = self._slots[i], None
            if self._busy.get(i) is future:
                del self._busy[i]
        if ex is not None:
            ex.shutdown(wait=False, kill_workers=True)

    def check(self) -> None:
        pass

    def shutdown(self) -> None:
        for i, ex in enumerate(self._slots):
            if ex is not None:
                ex.shutdown(wait=False, kill_workers=True)
                self._slots[i] = None
        self._server.close()


def _run_ns_blob(blob: bytes, ns_blob: bytes | None, data_key: str, data_blob: bytes | None) -> Reply:
    """Entry point inside a worker process; data and namespace are sent once per worker
    (read-only, so one trial cannot change what the next is scored on)."""
    if data_blob is not None:
        _WORKER_CACHE.clear()
        _WORKER_CACHE[data_key] = protect(cloudpickle.loads(data_blob))
        _WORKER_CACHE["ns:" + data_key] = protect(cloudpickle.loads(ns_blob))
    task: Task = cloudpickle.loads(blob)
    task.data = _WORKER_CACHE.get(data_key)
    task.namespace = _WORKER_CACHE.get("ns:" + data_key, {})
    return run_trial(task)


_WATCHED: set[int] = set()
PARENT_POLL = 1.0


def _watch_parent(parent: int) -> None:
    """A loky worker's initializer: exit as soon as process ``parent`` (the kernel that
    started it) is gone. When a parent dies its children are re-parented, so
    ``os.getppid()`` changes; a worker whose parent died while it started exits at once."""
    if parent in _WATCHED:
        return
    if os.getppid() != parent:
        os._exit(1)
    _WATCHED.add(parent)

    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="aimauto-parent-watch", daemon=True).start()


class ExecutorRunner:
    """A user-supplied ``concurrent.futures.Executor`` (pickling is up to it)."""

    kills = False

    def __init__(self, executor: Executor, jobs: int, broker, spec, remote: bool = True):
        self.slots = jobs
        self._ex = executor
        self._spec = spec
        self._namespace = protect(spec.namespace)
        self._data = protect(spec.data)
        self._server = ChannelServer(broker) if remote else None
        self._channel = self._server.channel() if remote else DirectChannel(broker)

    def submit(self, number: int) -> Future:
        s = self._spec
        return self._ex.submit(run_trial, Task(number, s.program, self._namespace, self._data,
                                               s.metrics, self._channel, keep_bytes=True,
                                               auto_report=s.auto_report))

    def kill(self, future: Future) -> None:
        future.cancel()

    def check(self) -> None:
        pass

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.close()


def make_runner(executor, jobs: int | None, broker, spec) -> Runner:
    """The runner for ``executor`` (checked by :func:`check_executor`)."""
    check_executor(executor)
    if is_dask(executor):
        from .dask_runner import DaskRunner

        return DaskRunner(executor, jobs, broker, spec)
    jobs = default_jobs(executor, jobs)
    if executor == "thread":
        return ThreadRunner(jobs, broker, spec)
    if executor == "process":
        return ProcessRunner(jobs, broker, spec)
    return ExecutorRunner(executor, jobs, broker, spec,
                          remote=not isinstance(executor, ThreadPoolExecutor))
