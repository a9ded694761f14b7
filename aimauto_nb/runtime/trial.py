"""What runs inside a worker for one trial: the cell with ``hp`` bound to the trial, then
evaluation. Never raises: every outcome, failures included, comes back as a :class:`Reply`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import optuna

from ..errors import TrialAbandoned
from ..space import HP, CellProgram, Param, format_error
from .data import Dataset
from .evaluate import evaluate
from .metrics import Metric
from .protect import protect
from .resources import Resources, trial_limits

__all__ = ["Spec", "Task", "Reply", "run_trial", "rebuild"]

_READ_ONLY_HINT = ("\n(In a trial the notebook's arrays and the search's data are read-only, so "
                   "one trial cannot change what the others see: copy first, e.g. X = X.copy().)")


@dataclass
class Spec:
    """What every trial of a search shares (built once by the driver)."""

    program: CellProgram
    namespace: dict
    data: Dataset | None
    metrics: tuple[Metric, ...]
    namespace_blob: bytes | None = None  # pickled once for process and Dask workers
    auto_report: bool = False
    resources: Resources = field(default_factory=Resources)
    scratch: str | None = None  # the search's folder, for workers' scratch space


@dataclass
class Task:
    number: int
    program: CellProgram
    namespace: dict
    data: Dataset | None
    metrics: tuple[Metric, ...]
    channel: Any
    keep_bytes: bool = False
    auto_report: bool = False  # report per-iteration validation scores of known estimators
    threads: int | None = None  # the trial's share of the cores (None: no limit)
    device: str | None = None  # set as the cell's `device` when the search has devices
    whole_process: bool = False  # a worker process: process-global limits are the trial's


@dataclass
class Reply:
    number: int
    state: str  # "complete" | "failed" | "pruned"
    values: dict[str, float] = field(default_factory=dict)
    model: Any = None
    model_bytes: bytes | None = None
    refit: bool = False
    error: str | None = None
    choice_index: dict[str, int] = field(default_factory=dict)
    duration: float = 0.0
    recycle: bool = False  # the trial changed process-wide limits: replace its worker


def run_trial(task: Task) -> Reply:
    choice_index: dict[str, int] = {}
    number, channel = task.number, task.channel

    def resolve(name: str, param: Param):
        raw = channel.suggest(number, name, param.distribution())
        if param.kind == "choice":
            choice_index[name] = param.labels.index(raw)
        return param.from_sampled(raw)

    def report(value, step):
        if channel.report(number, value, step):
            raise optuna.TrialPruned(f"pruned at step {step}")

    t0 = time.perf_counter()
    namespace = dict(task.namespace)
    if task.device is not None:
        namespace["device"] = task.device
    try:
        channel.started(number)
        with trial_limits(task.threads, task.whole_process):
            for m in task.metrics:
                if m.start is not None:
                    m.start(task.device)
            result = task.program.run(namespace, HP(resolve, report))
            out = evaluate(result, task.metrics, task.data, keep_bytes=task.keep_bytes,
                           report=report if task.auto_report else None, threads=task.threads,
                           device=task.device)
    except optuna.TrialPruned as e:
        return Reply(number, "pruned", error=str(e), choice_index=choice_index,
                     duration=time.perf_counter() - t0)
    except TrialAbandoned as e:
        return Reply(number, "failed", error=f"abandoned: {e}", duration=time.perf_counter() - t0)
    except (Exception, SystemExit) as e:  # a trial's failure is data, not a crash
        hint = _READ_ONLY_HINT if isinstance(e, ValueError) and "read-only" in str(e) else ""
        return Reply(number, "failed", error=format_error(e) + hint, choice_index=choice_index,
                     duration=time.perf_counter() - t0)
    return Reply(number, "complete", values=out.values,
                 model=None if task.keep_bytes else out.model, model_bytes=out.model_bytes,
                 refit=out.refit, choice_index=choice_index, duration=time.perf_counter() - t0)


def rebuild(program: CellProgram, params: dict, namespace: dict, metrics: tuple[Metric, ...],
            data: Dataset | None):
    """Run the cell again with a finished trial's ``params`` and fit its model as the trial
    did (a CV model refit on all the data). ``None`` when the cell yields no model."""
    hp = HP(lambda name, param: param.from_sampled(params[name]), lambda value, step: None)
    result = program.run(dict(protect(namespace)), hp)
    if result.model is None:
        return None
    if result.score is not None or data is None:
        return result.model
    out = evaluate(result, metrics, protect(data))
    if out.refit:
        from sklearn.base import clone

        return clone(out.model).fit(data.X, data.y)
    return out.model
