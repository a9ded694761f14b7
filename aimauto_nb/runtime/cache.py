"""The worker side of process and Dask runners: one entry point that decodes a search's
data and namespace once per worker (read-only, so one trial cannot change what the next is
scored on) and then runs the trial. The last few searches' data stay cached. A trial that
moved the working directory has it put back; one that changed resource limits marks its
reply ``recycle`` so the runner replaces the worker."""

from __future__ import annotations

import threading
from collections import OrderedDict

import cloudpickle

from .isolation import ProcessState
from .protect import protect
from .trial import Reply, Task, run_trial

__all__ = ["run_cached", "KEEP"]

KEEP = 4  # searches whose data a worker keeps decoded
_LOCK = threading.Lock()
_CACHE: OrderedDict[str, tuple] = OrderedDict()


def run_cached(blob: bytes, key: str, ns_blob: bytes | None, data_blob: bytes | None) -> Reply:
    """Run the pickled :class:`Task` ``blob`` with the data and namespace of search ``key``;
    the blobs may be ``None`` once this worker has them."""
    with _LOCK:
        if key not in _CACHE:
            if data_blob is None or ns_blob is None:
                raise RuntimeError(f"this worker has no data for search {key}")
            _CACHE[key] = (protect(cloudpickle.loads(data_blob)), protect(cloudpickle.loads(ns_blob)))
            while len(_CACHE) > KEEP:
                _CACHE.popitem(last=False)
        _CACHE.move_to_end(key)
        data, ns = _CACHE[key]
    task: Task = cloudpickle.loads(blob)
    task.data, task.namespace = data, ns
    state = ProcessState()
    reply = run_trial(task)
    reply.recycle = state.restore()
    return reply
