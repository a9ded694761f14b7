"""A search's settings, validated once. :func:`aimauto_nb.search`, the ``%%aimsearch``
magic and the ``tune`` form all build a :class:`SearchConfig`, so every check (and its
message) exists in one place and runs before any work starts."""

from __future__ import annotations

import math
import numbers
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..runners import check_executor, default_jobs, runner_class
from ..runtime.data import Dataset
from ..runtime.metrics import Metric, parse_metrics
from ..runtime.resources import Resources, plan
from ..space.program import CellProgram
from ..storage.default import DefaultStorage, storage_setting
from ..storage.urls import check_storage
from .pruning import check_pruner
from .strategies import check_strategy, grid_size

__all__ = ["SearchConfig", "check_positive", "check_budget", "check_name", "default_patience"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
MAX_NAME = 100  # a study name adds -YYYYMMDD-HHMMSS; file names stop at 255 bytes
MAX_SEED = 2**32 - 1  # NumPy's and scikit-learn's random_state range


def check_positive(name: str, value, integer: bool = False) -> None:
    """Raise unless ``value`` is None or a positive finite number (an integer if asked)."""
    if value is None:
        return
    kind = numbers.Integral if integer else numbers.Real
    if (isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value)
            or value <= 0):
        raise ConfigError(f"{name} must be a positive {'integer' if integer else 'number'} "
                          f"(None for no limit), got {value!r}")


def check_seed(seed) -> None:
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed must be between 0 and 2**32 - 1, got {seed!r}")


def check_metrics_arg(metrics) -> None:
    """``metrics`` is a string or a list of strings (its names are checked later)."""
    if isinstance(metrics, str):
        return
    if not isinstance(metrics, list | tuple) or not all(isinstance(m, str) for m in metrics):
        raise ConfigError("metrics must be a name, a comma-separated string or a list of "
                          f"names, got {metrics!r}")


def check_namespace(namespace) -> None:
    if namespace is not None and not isinstance(namespace, Mapping):
        raise ConfigError("namespace must be a dict of the names the cell uses, got "
                          f"{type(namespace).__name__}")


def check_budget(trials, timeout, strategy) -> None:
    """A search needs trials=, timeout= or both (a grid defaults to its size)."""
    if trials is None and timeout is None and strategy != "grid":
        raise ConfigError("give a budget: trials=N, timeout=SECONDS, or both "
                         "(strategy='grid' defaults to the grid's size)")


def check_name(name: str) -> None:
    """Study names become file names (kept models): letters, digits, ``_ . -`` only."""
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name:
        raise ConfigError(f"name must be letters, digits, '_', '.' or '-' (no path "
                         f"separators), got {name!r}")
    if len(name) > MAX_NAME:
        raise ConfigError(f"name must be at most {MAX_NAME} characters, got {len(name)}")


@dataclass(frozen=True)
class SearchConfig:
    """Everything a search is told, checked and normalised. Build it with :meth:`build`."""

    program: CellProgram
    data: Dataset | None
    metrics: tuple[Metric, ...]
    trials: int | None
    timeout: float | None
    strategy: Any
    pruner: Any
    jobs: int | None
    executor: Any
    storage: Any
    name: str
    resume: bool
    seed: int | None
    trial_timeout: float | None
    namespace: dict = field(repr=False)
    patience: int = 20
    stop_when_converged: bool = False
    warm_start: Any = True
    resources: Resources = field(default_factory=Resources)

    @property
    def protocol(self) -> str:
        return self.data.protocol if self.data is not None else "score set by the cell"

    @property
    def strategy_name(self) -> str:
        return self.strategy if isinstance(self.strategy, str) else type(self.strategy).__name__

    @classmethod
    def build(cls, source: str | Callable, *, data=None, valid=None, cv=None,
              metrics=("auto",), trials: int | None = None, timeout: float | None = None,
              strategy="auto", jobs: int | None = None, executor="thread", storage=None,
              name: str | None = None, resume: bool = False, seed: int | None = None,
              pruner=None, trial_timeout: float | None = None,
              namespace: dict | None = None,
              stop_when_converged: bool | int = False, warm_start: Any = True,
              threads: int | bool | None = None, devices=None,
              trials_per_device: int = 1) -> SearchConfig:
        """Validate every argument of :func:`aimauto_nb.search` (see there), cheapest first."""
        check_positive("jobs", jobs, integer=True)
        check_positive("trials", trials, integer=True)
        check_positive("timeout", timeout)
        check_positive("trial_timeout", trial_timeout)
        check_strategy(strategy)
        check_budget(trials, timeout, strategy)
        check_executor(executor)
        resources = plan(jobs, default_jobs(executor, None), threads, devices, trials_per_device,
                         limits=runner_class(executor).limits)
        check_pruner(pruner)
        check_seed(seed)
        check_metrics_arg(metrics)
        check_namespace(namespace)
        if isinstance(stop_when_converged, bool):
            patience = None
        elif isinstance(stop_when_converged, numbers.Integral) and stop_when_converged > 0:
            patience = int(stop_when_converged)
        else:
            raise ConfigError("stop_when_converged must be True, False or a number of trials "
                             f"without improvement, got {stop_when_converged!r}")
        check_warm_start(warm_start)
        name = "search" if name is None else name
        check_name(name)
        storage = storage_setting(storage)
        if isinstance(storage, DefaultStorage):
            check_writable(storage.folder)
        else:
            check_storage(storage)
        program = CellProgram(source)
        ds = Dataset.build(data, valid=valid, cv=cv, seed=seed)
        parsed = parse_metrics(metrics, ds.task if ds else "unknown")
        if ds is None:
            _check_without_data(program, parsed)
        else:
            _check_classes(ds)
        _warn_without_markers(program)
        if strategy == "grid":
            size = grid_size(program.space)
            trials = size if trials is None else min(trials, size)
        if patience is None:
            patience = default_patience(program)
        return cls(program=program, data=ds, metrics=parsed, trials=trials, timeout=timeout,
                   strategy=strategy, pruner=pruner, jobs=resources.jobs,
                   executor=executor, storage=storage, name=name, resume=bool(resume),
                   seed=seed, trial_timeout=trial_timeout, namespace=dict(namespace or {}),
                   patience=patience, stop_when_converged=bool(stop_when_converged),
                   warm_start=warm_start, resources=resources)


def default_patience(program: CellProgram) -> int:
    """Complete trials without a better one (or a new Pareto-optimal one) after which
    further improvement is unlikely: 20, or 8 per searched parameter when there are more
    than two (``benchmarks/quality.py`` counts how often the best still moved later)."""
    markers = len(program.space.markers) if program.space is not None else 1
    return max(20, 8 * markers)


def check_warm_start(warm_start) -> None:
    if isinstance(warm_start, bool) or warm_start is None:
        return
    if isinstance(warm_start, tuple) and len(warm_start) == 2 and isinstance(warm_start[1], str):
        return
    if hasattr(warm_start, "snapshot") or hasattr(warm_start, "get_trials"):
        return
    raise ConfigError("warm_start must be True (the shipped portfolio), False, a Search, an Optuna "
                     f"study or (storage, study_name); got {type(warm_start).__name__}")


def check_writable(folder) -> None:
    """The default folder can be created and written, else one line with the ways out."""
    from ..storage.permissions import writable

    if not writable(folder):
        raise ConfigError(f"storage: cannot write {folder} (the default folder for the journal "
                          "and kept models); pass storage=':memory:' (--storage :memory:) to "
                          "keep nothing, or set AIMAUTO_DIR to a writable folder")


def _check_classes(ds: Dataset) -> None:
    """A classification target with one class makes every trial score perfectly."""
    if ds.task != "classification":
        return
    import numpy as np

    classes = np.unique(np.asarray(ds.y))
    if len(classes) < 2:
        raise ConfigError(f"data: y has a single class ({classes.tolist()[0]!r}), so every classifier "
                          "scores perfectly and metrics such as roc_auc are undefined; pass a "
                          "y with at least two classes")


def _warn_without_markers(program: CellProgram) -> None:
    space = program.space
    if program.build is None and space is not None and not space.markers:
        warnings.warn("the cell has no hp markers, so every trial runs the same cell: mark the "
                      "values to search with hp.int / hp.float / hp.choice", stacklevel=4)


def _check_without_data(program: CellProgram, metrics) -> None:
    space = program.space
    if program.build is None and "score" not in space.assigned:
        raise ConfigError("the cell defines `model` but no data was given: pass data=(X, y)")
    computed = [m.name for m in metrics if m.computed]
    if computed:
        raise ConfigError(f"metrics {computed} are computed on data: pass data=(X, y), "
                         "or have the cell set score")
    if any(m.name == "latency" for m in metrics) and not (
            program.build is None and "example_inputs" in space.assigned):
        raise ConfigError("metric latency needs inputs to time the model on: pass data=(X, y), "
                         "or have the cell set `example_inputs` (a batch the model takes)")
