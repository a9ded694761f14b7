"""Trials on any ``concurrent.futures.Executor`` the user passes (run as is; no kill)."""

from __future__ import annotations

from concurrent.futures import Executor, Future

from ..runtime.protect import protect
from ..runtime.trial import Task, run_trial
from .base import Runner
from .channel import ChannelServer, DirectChannel

__all__ = ["ExecutorRunner"]


class ExecutorRunner(Runner):
    """A user-supplied ``concurrent.futures.Executor`` (pickling is up to it)."""


    def __init__(self, executor: Executor, jobs: int, broker, spec, remote: bool = True):
        self.slots = jobs
        self._ex = executor
        self._spec = spec
        self._namespace = protect(spec.namespace)
        self._data = protect(spec.data)
        self._server = ChannelServer(broker) if remote else None
        self._direct = None if remote else DirectChannel(broker)

    def submit(self, number: int) -> Future:
        s = self._spec
        channel = self._direct or self._server.channel(number)
        return self._ex.submit(run_trial, Task(number, s.program, self._namespace, self._data,
                                               s.metrics, channel, keep_bytes=True,
                                               auto_report=s.auto_report))

    def kill(self, future: Future) -> None:
        future.cancel()

    def check(self) -> None:
        pass

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
