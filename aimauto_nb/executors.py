"""Where trials run, behind one small interface: ``submit(task) -> Future``,
``kill(future)`` for trials past their time limit, ``shutdown()``.

- thread: a ``ThreadPoolExecutor`` (default; LightGBM and most numeric code release the GIL).
- process: loky workers (cloudpickle, so functions defined in a notebook work). Each
  worker is its own one-process loky executor, so a trial past its time limit can be
  killed without breaking the trials running beside it.
- any ``concurrent.futures.Executor`` the user passes (run as is; no kill).
"""

from __future__ import annotations

import contextvars
import os
import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

import cloudpickle

from .channel import ChannelServer, DirectChannel
from .trial import Reply, Task, run_trial

__all__ = ["make_runner", "default_process_jobs", "ThreadRunner", "ProcessRunner"]


def default_process_jobs() -> int:
    """Cores − 1 (at least 1), so the kernel keeps a core."""
    return max(1, (os.cpu_count() or 2) - 1)


class ThreadRunner:
    """Trials in threads of this process; the cell sees a shallow copy of the namespace."""

    kills = False

    def __init__(self, jobs: int, broker, spec):
        # Spare threads: a timed-out trial cannot be killed and keeps its thread.
        self._pool = ThreadPoolExecutor(max_workers=jobs + 8, thread_name_prefix="aimauto-trial")
        self._channel = DirectChannel(broker)
        self._spec = spec

    def submit(self, number: int) -> Future:
        s = self._spec
        task = Task(number, s.program, s.namespace, s.data, s.metrics, self._channel)
        return self._pool.submit(contextvars.copy_context().run, run_trial, task)

    def kill(self, future: Future) -> None:
        """Threads cannot be killed: the trial is abandoned (its next hp/report call fails)."""

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


_WORKER_CACHE: dict[str, Any] = {}


class ProcessRunner:
    """Trials in loky worker processes, one single-worker executor per slot."""

    kills = True

    def __init__(self, jobs: int, broker, spec):
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

            self._slots[i] = ProcessPoolExecutor(max_workers=1)
            self._fed[i] = False
        return self._slots[i]

    def submit(self, number: int) -> Future:
        s = self._spec
        with self._lock:
            i = next(k for k in range(len(self._slots)) if k not in self._busy)
            ex = self._executor(i)
            task = Task(number, s.program, {}, None, s.metrics, self._server.channel(),
                        keep_bytes=True)
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

    def shutdown(self) -> None:
        for i, ex in enumerate(self._slots):
            if ex is not None:
                ex.shutdown(wait=False, kill_workers=True)
                self._slots[i] = None
        self._server.close()


def _run_ns_blob(blob: bytes, ns_blob: bytes | None, data_key: str, data_blob: bytes | None) -> Reply:
    """Entry point inside a worker process; data and namespace are sent once per worker."""
    if data_blob is not None:
        _WORKER_CACHE.clear()
        _WORKER_CACHE[data_key] = cloudpickle.loads(data_blob)
        _WORKER_CACHE["ns:" + data_key] = cloudpickle.loads(ns_blob)
    task: Task = cloudpickle.loads(blob)
    task.data = _WORKER_CACHE.get(data_key)
    task.namespace = _WORKER_CACHE.get("ns:" + data_key, {})
    return run_trial(task)


class ExecutorRunner:
    """A user-supplied ``concurrent.futures.Executor`` (pickling is up to it)."""

    kills = False

    def __init__(self, executor: Executor, broker, spec, remote: bool = True):
        self._ex = executor
        self._spec = spec
        self._server = ChannelServer(broker) if remote else None
        self._channel = self._server.channel() if remote else DirectChannel(broker)

    def submit(self, number: int) -> Future:
        s = self._spec
        return self._ex.submit(run_trial, Task(number, s.program, s.namespace, s.data,
                                               s.metrics, self._channel, keep_bytes=True))

    def kill(self, future: Future) -> None:
        future.cancel()

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.close()


def make_runner(executor, jobs: int, broker, spec):
    if executor == "thread":
        return ThreadRunner(jobs, broker, spec)
    if executor == "process":
        return ProcessRunner(jobs, broker, spec)
    if isinstance(executor, ThreadPoolExecutor):
        return ExecutorRunner(executor, broker, spec, remote=False)
    if isinstance(executor, Executor):
        return ExecutorRunner(executor, broker, spec)
    raise ValueError(f"unknown executor {executor!r}; use 'thread', 'process' or an Executor")
