"""Where trials run, behind one small interface, :class:`~aimauto_nb.runners.base.Runner`.

- ``"thread"``: threads of the kernel (default), :mod:`.thread`.
- ``"process"``: loky worker processes, :mod:`.process`.
- ``"dask"``, a scheduler address or a ``distributed.Client``: :mod:`.dask_runner`.
- any ``concurrent.futures.Executor``: :mod:`.executor`.

The name → runner table is resolved lazily, so Dask is imported only when asked for.
Adding a runner (say Ray) is one module and one row of :data:`RUNNERS`.
"""

from __future__ import annotations

import importlib
from concurrent.futures import Executor, ThreadPoolExecutor

from ..errors import ConfigError
from .base import ExecutorLost, Runner, default_process_jobs, worker_death

__all__ = ["EXECUTORS", "RUNNERS", "Runner", "runner_class", "make_runner", "check_executor",
           "default_jobs", "default_process_jobs", "is_dask", "worker_death", "ExecutorLost"]

EXECUTORS = ("thread", "process", "dask")
RUNNERS = {"thread": ".thread:ThreadRunner", "process": ".process:ProcessRunner",
           "dask": ".dask_runner:DaskRunner", "executor": ".executor:ExecutorRunner"}


def is_dask(executor) -> bool:
    """``"dask"``, a scheduler address, or a ``distributed.Client``."""
    if isinstance(executor, str):
        return executor == "dask" or "://" in executor
    return type(executor).__module__.startswith("distributed") and type(executor).__name__ == "Client"


def _kind(executor) -> str:
    if is_dask(executor):
        return "dask"
    if isinstance(executor, str):
        return executor
    return "executor"


def check_executor(executor) -> None:
    """Raise :class:`ConfigError` for an executor this package cannot run trials on."""
    if (isinstance(executor, str) and executor not in EXECUTORS and not is_dask(executor)) or (
            not isinstance(executor, str) and not is_dask(executor)
            and not isinstance(executor, Executor)):
        raise ConfigError(f"executor: unknown executor {executor!r}; use 'thread', 'process', "
                          "'dask', a Dask scheduler address (tcp://host:port), a dask Client or "
                          "a concurrent.futures.Executor")


def runner_class(executor) -> type:
    """The runner class for ``executor`` (checked by :func:`check_executor`)."""
    check_executor(executor)
    module, _, cls = RUNNERS[_kind(executor)].partition(":")
    return getattr(importlib.import_module(module, __name__), cls)


def default_jobs(executor, jobs: int | None) -> int | None:
    """Trials at once: as given, else 1 thread, cores − 1 processes, and for Dask ``None``
    (the cluster's threads, known once it is reached)."""
    if jobs is not None or is_dask(executor):
        return jobs
    return default_process_jobs() if executor == "process" else 1


def make_runner(executor, jobs: int | None, broker, spec) -> Runner:
    """A started runner for ``executor``: ``jobs`` slots, trials talking to ``broker``."""
    cls = runner_class(executor)
    if _kind(executor) == "dask":
        return cls(executor, jobs, broker, spec)
    jobs = default_jobs(executor, jobs)
    if _kind(executor) == "executor":
        return cls(executor, jobs, broker, spec, remote=not isinstance(executor, ThreadPoolExecutor))
    return cls(jobs, broker, spec)
