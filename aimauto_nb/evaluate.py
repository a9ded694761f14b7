"""Fitting and scoring a trial's model: the data and its validation protocol (holdout,
explicit validation set, K-fold), quality metrics through scikit-learn's scorers, and the
cost metrics (size, latency, fit time) through :mod:`aimauto_nb.measure`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.utils.multiclass import type_of_target

from .capture import CellResult
from .measure import InputError, dumps, is_torch_module, measure_latency, model_size, n_rows, take_rows
from .metrics import Metric
from .reporting import fit_reporting

__all__ = ["Dataset", "Outcome", "evaluate", "task_of"]

def task_of(y) -> str:
    """"classification" or "regression", judged from the target."""
    if y is None:
        return "unknown"
    y = np.asarray(y)
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass"):
        return "regression"
    # Whole-number floats with many distinct values (e.g. diabetes) are a regression target.
    if y.dtype.kind == "f" and len(np.unique(y)) > 20:
        return "regression"
    return "classification"


@dataclass
class Dataset:
    """The training data and the validation protocol, split once for every trial."""

    X: Any
    y: Any
    task: str
    folds: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    X_valid: Any = None
    y_valid: Any = None
    protocol: str = ""

    @classmethod
    def build(cls, data, valid=None, cv=None, seed=None) -> Dataset | None:
        if data is None:
            if valid is not None or cv is not None:
                raise ValueError("valid= and cv= need data=(X, y)")
            return None
        if not isinstance(data, tuple | list) or len(data) != 2:
            raise ValueError("data must be a pair (X, y)")
        X, y = data
        if X is None or y is None:
            raise ValueError("data must be a pair (X, y) with neither missing")
        if n_rows(X) != n_rows(y):
            raise ValueError(f"data: X has {n_rows(X)} rows but y has {n_rows(y)}")
        if n_rows(X) < 2:
            raise ValueError("data: need at least 2 rows")
        task = task_of(y)
        rs = 0 if seed is None else seed
        strat = task == "classification"
        if cv is not None and valid is not None:
            raise ValueError("give either valid= or cv=, not both")
        if cv is not None:
            if isinstance(cv, int) and not isinstance(cv, bool):
                if cv < 2:
                    raise ValueError(f"cv must be at least 2 folds, got {cv}")
                splitter = (StratifiedKFold if strat else KFold)(cv, shuffle=True, random_state=rs)
            elif hasattr(cv, "split"):
                splitter = cv
            else:
                raise ValueError(f"cv must be a number of folds or a splitter, got {cv!r}")
            folds = [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(X, y)]
            n = len(folds)
            proto = f"{n}-fold {'stratified ' if strat and isinstance(cv, int) else ''}CV"
            return cls(X, y, task, folds=folds, protocol=proto)
        if isinstance(valid, tuple | list):
            if len(valid) != 2:
                raise ValueError("valid must be a fraction or a pair (X_valid, y_valid)")
            Xv, yv = valid
            if n_rows(Xv) != n_rows(yv):
                raise ValueError(f"valid: X has {n_rows(Xv)} rows but y has {n_rows(yv)}")
            return cls(X, y, task, X_valid=Xv, y_valid=yv, protocol="explicit validation set")
        frac = 0.2 if valid is None else valid
        if not isinstance(frac, float | int) or not 0 < frac < 1:
            raise ValueError(f"valid must be a fraction in (0, 1) or (X_valid, y_valid), got {valid!r}")
        idx = np.arange(n_rows(X))
        tr, va = train_test_split(
            idx, test_size=frac, random_state=rs, stratify=np.asarray(y) if strat else None
        )
        proto = f"{frac:.0%} {'stratified ' if strat else ''}holdout"
        return cls(X, y, task, folds=[(tr, va)], protocol=proto)

    def splits(self):
        """(X_train, y_train, X_valid, y_valid) for each split."""
        if self.X_valid is not None:
            yield self.X, self.y, self.X_valid, self.y_valid
            return
        for tr, va in self.folds:
            yield take_rows(self.X, tr), take_rows(self.y, tr), take_rows(self.X, va), take_rows(self.y, va)

    @property
    def is_cv(self) -> bool:
        return len(self.folds) > 1

    def latency_batch(self, rows: int = 256):
        if self.X_valid is not None:
            Xv = self.X_valid
        else:
            Xv = take_rows(self.X, self.folds[0][1])
        return take_rows(Xv, np.arange(min(rows, n_rows(Xv))))


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


_ASK_EXAMPLE = ("set `example_inputs` in the cell: a batch of what the model takes (a tensor, "
                "or a tuple of tensors for several arguments)")


def _describe(X) -> str:
    if isinstance(X, tuple):
        return "(" + ", ".join(_describe(x) for x in X) + ")"
    shape = getattr(X, "shape", None)
    dtype = getattr(X, "dtype", None)
    return f"{type(X).__name__}" + (f" {tuple(shape)} {dtype}" if shape is not None else "")


def _latency(model, example_inputs, data: Dataset | None) -> float:
    """Milliseconds per row on the cell's ``example_inputs``, else on validation rows.

    A torch model that cannot run on the validation rows (say, float features given to an
    ``nn.Embedding``) gets an :class:`InputError` asking for ``example_inputs`` instead of
    torch's dtype or shape error.
    """
    if example_inputs is not None:
        return measure_latency(model, example_inputs)
    if data is None:
        raise InputError(f"metric latency has no inputs to time the model on: {_ASK_EXAMPLE}, "
                         "or pass data=(X, y)")
    batch = data.latency_batch()
    if not is_torch_module(model):
        return measure_latency(model, batch)
    try:
        return measure_latency(model, batch)
    except InputError as e:
        raise InputError(f"metric latency: {e}") from None
    except (RuntimeError, TypeError, ValueError, IndexError) as e:
        raise InputError(f"metric latency: the model does not run on the validation rows "
                         f"({_describe(batch)}): {type(e).__name__}: {str(e).splitlines()[0]}; "
                         f"{_ASK_EXAMPLE}") from e


def evaluate(result: CellResult, metrics: Sequence[Metric], data: Dataset | None,
             keep_bytes: bool = False, report: Callable | None = None) -> Outcome:
    """Turn what the cell produced into metric values (fitting the model if needed).

    ``report(value, step)``: when given (a pruner is on) and the split is a single holdout,
    estimators that train in iterations report validation scores as they fit.
    """
    names = {m.name for m in metrics}
    fit_time = None
    refit = False
    if result.score is not None:
        values = _score_values(result.score, metrics)
        model = result.model
    else:
        template = result.model
        if template is None or not hasattr(template, "fit"):
            raise TypeError("`model` must be an unfitted estimator with fit/predict, got "
                            f"{type(template).__name__}")
        if data is None:
            raise ValueError("the cell defines `model` but the search has no data to fit it on")
        sums: dict[str, float] = {}
        fit_times = []
        model = None
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
        n = len(fit_times)
        values = {k: v / n for k, v in sums.items()}
        fit_time = sum(fit_times) / n
        refit = data.is_cv
        custom = [m.name for m in metrics if not m.is_cost and not m.computed]
        if custom:
            raise ValueError(f"custom metrics {custom} need the cell to set `score`")
    pickled = None
    if model is not None and ("size" in names or keep_bytes) and not is_torch_module(model):
        pickled = dumps(model)
    if "size" in names and "size" not in values:
        if model is None:
            raise ValueError("metric size needs the cell to define `model`")
        values["size"] = float(model_size(model, pickled))
    if "latency" in names and "latency" not in values:
        if model is None:
            raise ValueError("metric latency needs the cell to define `model`")
        values["latency"] = _latency(model, result.example_inputs, data)
    if "fit_time" in names and "fit_time" not in values:
        if fit_time is None:
            raise ValueError("metric fit_time needs a `model` the search fits (or score['fit_time'])")
        values["fit_time"] = fit_time
    for k, v in values.items():
        if not math.isfinite(v):
            raise ValueError(f"metric {k} is {v}")
    if keep_bytes and model is not None and pickled is None:
        pickled = dumps(model)
    return Outcome(values=values, model=model, model_bytes=pickled if keep_bytes else None,
                   fit_time=fit_time, refit=refit)
