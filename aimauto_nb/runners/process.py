"""Trials in loky worker processes (cloudpickle, so functions defined in a notebook work).
Each worker is its own one-process loky executor, so a trial past its time limit can be
killed, and a worker that dies (a signal, a segfault, out of memory) is replaced without
breaking the trials running beside it. Workers exit when the kernel dies."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import BrokenExecutor, Future

import cloudpickle

from ..runtime.cache import run_cached
from ..runtime.trial import Task
from .base import Runner
from .channel import ChannelServer

__all__ = ["ProcessRunner"]


class ProcessRunner(Runner):
    """Trials in loky worker processes, one single-worker executor per slot, started with
    the trial's thread share in its environment and, with devices, its slot's GPU as the
    only visible one (slots take the devices in turn). A slot whose worker died (its future
    fails with loky's ``TerminatedWorkerError``) gets a fresh executor on its next trial, as
    does one whose trial changed its resource limits; the working directory is restored
    after each trial. Each worker exits when this process dies (a watchdog thread, as loky
    workers do not check for that)."""

    kills = True
    pickles_namespace = True
    limits = True

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

            env = self._spec.resources.worker_env(self._spec.resources.slot_device(i))
            self._slots[i] = ProcessPoolExecutor(max_workers=1, initializer=_watch_parent,
                                                 initargs=(os.getpid(),), env=env or None)
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
            # the worker sees only its own GPU, so its device is always the first
            task = Task(number, s.program, {}, None, s.metrics, self._server.channel(number),
                        keep_bytes=True, auto_report=s.auto_report, threads=s.resources.threads,
                        device="cuda:0" if s.resources.devices else None, whole_process=True)
            blob = cloudpickle.dumps(task)
            first = not self._fed[i]
            fut = ex.submit(run_cached, blob, self._data_key, self._ns_blob if first else None,
                            self._data_blob if first else None)
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
        """Drop slot ``i``'s executor if its worker died under ``fut``, or if the trial
        changed the worker's resource limits (``setrlimit``), which later trials must not
        inherit (lock held)."""
        if fut.cancelled():
            return
        exc = fut.exception()
        if not isinstance(exc, BrokenExecutor) and not (exc is None and fut.result().recycle):
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
