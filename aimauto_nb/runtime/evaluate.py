"""Fitting and scoring a trial's model on the search's validation protocol: quality metrics
through scikit-learn's scorers, cost metrics through their own ``Metric.measure``."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sklearn.base import clone

from ..errors import CellError
from ..measure import dumps
from ..space import CellResult
from .costs import Evidence
from .data import Dataset
from .metrics import Metric
from .reporting import fit_reporting, fold_reporter
from .resources import share_threads

__all__ = ["Outcome", "evaluate"]


@dataclass
class Outcome:
    """A trial's result: values by metric name, the fitted model, timings."""

    values: dict[str, float]
    model: Any = None
    model_bytes: bytes | None = None
    fit_time: float | None = None
    refit: bool = False  # the kept model saw only a CV fold; refit before handing it out


def _score_values(score, metrics: Sequence[Metric]) -> dict[str, float]:
    quality = [m for m in metrics if not m.is_cost]
    if isinstance(score, dict):
        out = {}
        for m in quality:
            if m.name not in score:
                raise KeyError(f"score has no {m.name!r} (it has {sorted(score)})")
            out[m.name] = float(score[m.name])
        for m in metrics:
            if m.is_cost and m.name in score:
                out[m.name] = float(score[m.name])
        return out
    if len(quality) > 1:
        raise TypeError(f"score is one number but {len(quality)} quality metrics were asked; "
                        "make score a dict")
    if not quality:
        return {}
    return {quality[0].name: float(score)}


def evaluate(result: CellResult, metrics: Sequence[Metric], data: Dataset | None,
             keep_bytes: bool = False, report: Callable | None = None,
             threads: int | None = None, device: str | None = None) -> Outcome:
    """Turn what the cell produced into metric values (fitting the model if needed).

    ``report(value, step)``: when given (a pruner is on) and the split is a single holdout,
    estimators that train in iterations report validation scores as they fit; with K-fold
    CV, every estimator reports the running mean of the first metric after each fold but
    the last, at step = folds done (:func:`~.reporting.fold_reporter`), and nothing per
    iteration (one trial's steps are of one kind).
    ``threads``: the trial's share, set on estimators whose thread parameter the cell left
    unset while they are fitted and measured (:func:`~.resources.share_threads`).
    """
    with share_threads(result.model if result.score is None else None, threads) as shared:
        out = _evaluate(result, metrics, data, report, device)
    if not keep_bytes or out.model is None:
        out.model_bytes = None
    elif shared or out.model_bytes is None:  # the size pickle held the share's thread count
        out.model_bytes = dumps(out.model)
    return out


def _evaluate(result: CellResult, metrics: Sequence[Metric], data: Dataset | None,
              report: Callable | None, device: str | None) -> Outcome:
    fit_time = None
    refit = False
    if result.score is not None:
        values = _score_values(result.score, metrics)
        model = result.model
    else:
        template = result.model
        if template is None or not hasattr(template, "fit"):
            raise CellError("`model` must be an unfitted estimator with fit/predict, got "
                            f"{type(template).__name__}")
        if data is None:
            raise ValueError("the cell defines `model` but the search has no data to fit it on")
        sums: dict[str, float] = {}
        fit_times = []
        model = None
        per_fold = fold_reporter(report, metrics[0], len(data.folds)) if data.is_cv else None
        for i, (Xt, yt, Xv, yv) in enumerate(data.splits()):
            est = template if i == 0 else clone(template)
            t0 = time.perf_counter()
            if report is None or data.is_cv or not fit_reporting(
                    est, Xt, yt, Xv, yv, metrics[0],
                    lambda e, Xv=Xv, yv=yv: metrics[0].score(e, Xv, yv), report):
                est.fit(Xt, yt)
            fit_times.append(time.perf_counter() - t0)
            if model is None:
                model = est
            for m in metrics:
                if m.computed:
                    sums[m.name] = sums.get(m.name, 0.0) + m.score(est, Xv, yv)
            if per_fold is not None:
                per_fold(sums, i + 1)
        n = len(fit_times)
        values = {k: v / n for k, v in sums.items()}
        fit_time = sum(fit_times) / n
        refit = data.is_cv
        custom = [m.name for m in metrics if not m.is_cost and not m.computed]
        if custom:
            raise ValueError(f"custom metrics {custom} need the cell to set `score`")
    evidence = Evidence(model, fit_time, result.example_inputs, data, device)
    for m in metrics:
        if m.is_cost and m.name not in values:
            if "model" in m.needs and model is None:
                raise CellError(f"metric {m.name} needs the cell to define `model`")
            values[m.name] = float(m.measure(evidence))
    for k, v in values.items():
        if not math.isfinite(v):
            raise ValueError(f"metric {k} is {v}")
    # the pickle `size` made, if it ran (read without making one: a cached_property)
    return Outcome(values=values, model=model, model_bytes=evidence.__dict__.get("pickled"),
                   fit_time=fit_time, refit=refit)
