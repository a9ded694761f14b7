"""Each running trial's share of the machine: ``cores // jobs`` threads for its native
thread pools and estimators, and with GPUs its own device (or a place on one).

Without limits every trial's OpenMP/BLAS pools, LightGBM/XGBoost/CatBoost threads and torch
intra-op threads default to every core, so ``jobs`` trials at once oversubscribe the machine
(a HistGradientBoosting fit 10x slower in a ``jobs=2`` search). What is limited, and how:

- OpenMP (scikit-learn's HistGradientBoosting, LightGBM's pool): :mod:`threadpoolctl` in the
  trial's thread (OpenMP's thread count is per calling thread, so thread trials do not race).
- BLAS (OpenBLAS, MKL): process-global, so a thread search sets it once while it runs
  (:func:`search_limits`); a worker process sets it per trial.
- LightGBM, XGBoost and CatBoost estimators whose thread parameter the cell leaves unset
  (``n_jobs=None``, ``num_threads``, ``nthread``, CatBoost's ``thread_count``): set to the
  share for the trial's fits and put back afterwards; scikit-learn's ``n_jobs=None``
  through joblib's (thread-local) ``parallel_config`` (:func:`share_threads`).
- torch: ``torch.set_num_threads`` is process-global (each thread adopts it at its first
  parallel op). Process workers set it per trial; thread trials set it too, once torch is
  imported (trials started before that use torch's default), and a thread search puts the
  previous value back when it ends.
- Process workers also start with ``OMP_NUM_THREADS`` etc. set (:meth:`Resources.worker_env`).

GPUs: ``devices`` lists the devices trials run on, ``trials_per_device`` how many share one.
A process worker sees only its device (``CUDA_VISIBLE_DEVICES``; the cell's ``device`` is
then ``"cuda:0"``); a thread trial gets the least busy device. Either way the cell reads
its device from the variable ``device`` (only set when ``devices`` is given).
"""

from __future__ import annotations

import contextlib
import numbers
import os
import re
import sys
import threading
from collections import Counter
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["Resources", "plan", "cpu_count", "limited", "share_threads", "trial_limits",
           "search_limits", "DevicePool", "THREAD_PARAMS"]

#: Thread-count parameters of estimators; the first one an estimator has is the one set.
THREAD_PARAMS = ("n_jobs", "thread_count", "num_threads", "nthread", "nthreads", "num_thread")
_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
_CUDA = re.compile(r"^cuda(:\d+)?$")


def cpu_count() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Resources:
    """What each trial of a search gets: ``threads`` (``None``: no limit) and, with GPUs,
    ``devices`` (each repeated ``trials_per_device`` times in the pool)."""

    threads: int | None = None
    jobs: int | None = None
    devices: tuple[str, ...] = ()
    trials_per_device: int = 1

    def describe(self) -> str:
        """``"2 jobs × 1 thread"``, plus the devices: shown in the panel and ``%aimstatus``."""
        parts = []
        if self.jobs is not None and self.threads is not None:
            parts.append(f"{self.jobs} job{'s' * (self.jobs != 1)} × {self.threads} "
                         f"thread{'s' * (self.threads != 1)}")
        if self.devices:
            per = f" ({self.trials_per_device} trials each)" if self.trials_per_device > 1 else ""
            parts.append(", ".join(self.devices) + per)
        return " · ".join(parts)

    def slot_device(self, slot: int) -> str | None:
        """The device of a fixed worker slot (process workers): round-robin over devices."""
        return self.devices[slot % len(self.devices)] if self.devices else None

    def worker_env(self, device: str | None) -> dict[str, str]:
        """Environment for a worker process: thread counts and its visible GPU."""
        env = {k: str(self.threads) for k in _ENV} if self.threads else {}
        if device is not None:
            env["CUDA_VISIBLE_DEVICES"] = device.partition(":")[2] or "0"
        return env


def _devices(devices) -> tuple[str, ...]:
    if devices is None:
        return ()
    if isinstance(devices, numbers.Integral) and not isinstance(devices, bool) and devices > 0:
        return tuple(f"cuda:{i}" for i in range(int(devices)))
    if devices == "cuda":
        from .._imports import try_import

        torch = try_import("torch", extra="torch", what='devices="cuda"')
        n = torch.cuda.device_count()
        if n == 0:
            raise ConfigError('devices="cuda": torch sees no CUDA device')
        return tuple(f"cuda:{i}" for i in range(n))
    names = [d.strip() for d in devices.split(",")] if isinstance(devices, str) else devices
    if not isinstance(names, list | tuple) or not names or not all(
            isinstance(d, str) and _CUDA.match(d) for d in names):
        raise ConfigError(f'devices must be "cuda", a list like ["cuda:0", "cuda:1"] or a '
                          f"count, got {devices!r}")
    names = [d if ":" in d else "cuda:0" for d in names]
    if len(set(names)) != len(names):
        raise ConfigError(f"devices repeat a device: {names}; use trials_per_device to share one")
    return tuple(names)


def plan(jobs: int | None, default_jobs: int | None, threads=None, devices=None,
         trials_per_device: int = 1, limits: bool = True, cores: int | None = None) -> Resources:
    """Validate the resource options and return the plan; its ``jobs`` is ``jobs``, else one
    trial per device place, else ``default_jobs``.

    ``threads``: ``None`` for ``cores // jobs`` (at least 1), an int per trial, or
    ``False`` to leave every thread pool alone. ``limits``: the executor applies them
    (threads and processes of this machine); otherwise ``threads`` and ``devices`` must
    be left unset.
    """
    if isinstance(trials_per_device, bool) or not isinstance(trials_per_device, numbers.Integral) \
            or trials_per_device < 1:
        raise ConfigError(f"trials_per_device must be a positive integer, got {trials_per_device!r}")
    names = _devices(devices)
    if not limits and (names or threads not in (None, False)):
        raise ConfigError("threads and devices apply to executor='thread' or 'process'")
    places = len(names) * int(trials_per_device)
    jobs = jobs if jobs is not None else places if names else default_jobs
    if names and jobs > places:
        raise ConfigError(f"jobs={jobs} but {len(names)} device(s) × trials_per_device="
                          f"{trials_per_device} hold {places} trials at once")
    if threads is False or threads is None and (not limits or jobs is None):
        share = None
    elif threads is None:
        share = max(1, (cores or cpu_count()) // jobs)
    elif isinstance(threads, numbers.Integral) and not isinstance(threads, bool) and threads > 0:
        share = int(threads)
    else:
        raise ConfigError(f"threads must be a positive integer, None (cores // jobs) or False, "
                          f"got {threads!r}")
    return Resources(share, jobs, names, int(trials_per_device))


class DevicePool:
    """Devices for thread trials: each acquire takes the least busy one (of those, the
    least used so far, so trials that never overlap still take turns)."""

    def __init__(self, devices: tuple[str, ...]):
        self._load = Counter({d: 0 for d in devices})
        self._uses = Counter({d: 0 for d in devices})
        self._lock = threading.Lock()

    def acquire(self) -> str | None:
        with self._lock:
            if not self._load:
                return None
            device = min(self._load, key=lambda d: (self._load[d], self._uses[d]))
            self._load[device] += 1
            self._uses[device] += 1
            return device

    def release(self, device: str | None) -> None:
        if device is not None:
            with self._lock:
                self._load[device] -= 1


def _estimators(model):
    """``model`` and every estimator nested in its parameters."""
    yield model
    for value in model.get_params(deep=True).values():
        if hasattr(value, "get_params") and hasattr(value, "set_params") and not isinstance(value, type):
            yield value


_BOOSTERS = ("lightgbm", "xgboost", "catboost")


@contextlib.contextmanager
def share_threads(model, threads: int | None):
    """Give ``model``'s fits ``threads``: LightGBM, XGBoost and CatBoost estimators in it
    whose cell left the thread parameter unset (``None``; CatBoost: absent) get it set for
    the duration and put back; everything else through joblib's ``parallel_config``
    (scikit-learn's ``n_jobs=None`` follows it; an ``n_jobs`` the cell set wins)."""
    changed: list[tuple[object, str, object]] = []
    if not limited(threads):
        yield False
        return
    import joblib

    for est in _estimators(model) if hasattr(model, "get_params") else ():
        if type(est).__module__.split(".")[0] not in _BOOSTERS:
            continue
        own = est.get_params(deep=False)
        present = [k for k in THREAD_PARAMS if k in own]
        if type(est).__module__.startswith("catboost") and "thread_count" not in own:
            present, before = ["thread_count"], -1  # its default; CatBoost then drops it
        elif present and all(own[k] is None for k in present):
            before = None
        else:
            continue
        est.set_params(**{present[0]: threads})
        changed.append((est, present[0], before))
    try:
        with joblib.parallel_config(n_jobs=threads):
            yield bool(changed)
    finally:
        for est, key, before in reversed(changed):
            est.set_params(**{key: before})


def _torch_threads(threads: int) -> None:
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(threads)


_CONTROLLER: list = [None, -1]  # threadpoolctl's controller and len(sys.modules) it saw


def _controller():
    """threadpoolctl's view of the loaded thread pools, rebuilt only after new imports
    (a scan of the loaded libraries costs ~1 ms; a limit on a kept one ~20 µs)."""
    if _CONTROLLER[1] != len(sys.modules):
        import sklearn.utils._openmp_helpers  # noqa: F401  (loads scikit-learn's OpenMP)
        from threadpoolctl import ThreadpoolController

        _CONTROLLER[:] = [ThreadpoolController(), len(sys.modules)]
    return _CONTROLLER[0]


def limited(threads: int | None) -> bool:
    """Whether a share of ``threads`` limits anything (every core is each pool's default)."""
    return threads is not None and threads < cpu_count()


@contextlib.contextmanager
def trial_limits(threads: int | None, whole_process: bool = False):
    """Limit this trial's OpenMP pools (in the calling thread) and torch to ``threads``;
    ``whole_process`` (a worker process runs one trial at a time): BLAS too."""
    if not limited(threads):
        yield
        return
    _torch_threads(threads)
    with _controller().limit(limits=threads, user_api=None if whole_process else "openmp"):
        yield


@contextlib.contextmanager
def search_limits(threads: int | None):
    """For a thread search: BLAS pools (process-global) limited while it runs, and torch's
    thread count put back when it ends."""
    if not limited(threads):
        yield
        return
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    with _controller().limit(limits=threads, user_api="blas"):
        try:
            yield
        finally:
            torch = sys.modules.get("torch")
            if torch is not None:
                torch.set_num_threads(before or os.cpu_count() or 1)
