"""Fitting and scoring a trial's model: holdout / explicit validation / K-fold, the metric
registry (quality metrics from scikit-learn, plus size, latency and fit time)."""

from __future__ import annotations

import math
import pickle
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.utils.multiclass import type_of_target

from .capture import CellResult
from .reporting import fit_reporting

__all__ = [
    "Metric", "METRICS", "parse_metrics", "Dataset", "Outcome", "evaluate",
    "model_size", "measure_latency", "is_torch_module",
]

COST_METRICS = ("size", "latency", "fit_time")


@dataclass(frozen=True)
class Metric:
    """A named objective and its direction."""

    name: str
    direction: str  # "maximize" | "minimize"
    fn: Callable | None = None
    needs: str = "predict"  # "predict" | "proba" | "score" (roc_auc) | "" (cost/custom)
    unit: str = ""

    @property
    def is_cost(self) -> bool:
        return self.name in COST_METRICS

    @property
    def label(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "maximize" else a < b


def _rmse(y, p):
    return math.sqrt(skm.mean_squared_error(y, p))


def _f1(y, p):
    labels = np.unique(y)
    binary = len(labels) <= 2 and set(labels.tolist()) <= {0, 1}
    return skm.f1_score(y, p, average="binary" if binary else "macro")


def _roc_auc(y, s, classes):
    if s.ndim == 2 and s.shape[1] == 2:
        s = s[:, 1]
    if s.ndim == 1:
        return skm.roc_auc_score(y, s)
    return skm.roc_auc_score(y, s, multi_class="ovr", average="macro", labels=classes)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("accuracy", "maximize", skm.accuracy_score),
        Metric("balanced_accuracy", "maximize", skm.balanced_accuracy_score),
        Metric("f1", "maximize", _f1),
        Metric("roc_auc", "maximize", _roc_auc, needs="score"),
        Metric("log_loss", "minimize", skm.log_loss, needs="proba"),
        Metric("r2", "maximize", skm.r2_score),
        Metric("rmse", "minimize", _rmse),
        Metric("mae", "minimize", skm.mean_absolute_error),
        Metric("size", "minimize", needs="", unit="bytes"),
        Metric("latency", "minimize", needs="", unit="ms/row"),
        Metric("fit_time", "minimize", needs="", unit="s"),
    ]
}


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


def parse_metrics(spec: str | Sequence[str], task: str) -> list[Metric]:
    """Metric objects for names like ``"accuracy,size"`` or ``["auto", "loss:min"]``."""
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    if not names or any(not isinstance(n, str) or not n for n in names):
        raise ValueError(f"metrics must be a non-empty list of names, got {spec!r}")
    out = []
    for n in names:
        if n == "auto":  # without data, the cell's own `score`, higher is better
            n = {"regression": "r2", "unknown": "score:max"}.get(task, "accuracy")
        if ":" in n:
            base, _, d = n.partition(":")
            if d not in ("max", "min") or not base:
                raise ValueError(f"custom metric {n!r} must be written name:max or name:min")
            out.append(Metric(base, "maximize" if d == "max" else "minimize", needs=""))
            continue
        if n not in METRICS:
            valid = ", ".join(list(METRICS) + ["auto", "NAME:max", "NAME:min"])
            raise ValueError(f"unknown metric {n!r}; valid metrics: {valid}")
        out.append(METRICS[n])
    seen = [m.name for m in out]
    if len(set(seen)) != len(seen):
        raise ValueError(f"metrics repeat a name: {seen}")
    return out


def _take(X, idx):
    if X is None:
        return None
    if hasattr(X, "iloc"):
        return X.iloc[idx]
    return X[idx]


def _nrows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


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
        if _nrows(X) != _nrows(y):
            raise ValueError(f"data: X has {_nrows(X)} rows but y has {_nrows(y)}")
        if _nrows(X) < 2:
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
            if _nrows(Xv) != _nrows(yv):
                raise ValueError(f"valid: X has {_nrows(Xv)} rows but y has {_nrows(yv)}")
            return cls(X, y, task, X_valid=Xv, y_valid=yv, protocol="explicit validation set")
        frac = 0.2 if valid is None else valid
        if not isinstance(frac, float | int) or not 0 < frac < 1:
            raise ValueError(f"valid must be a fraction in (0, 1) or (X_valid, y_valid), got {valid!r}")
        idx = np.arange(_nrows(X))
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
            yield _take(self.X, tr), _take(self.y, tr), _take(self.X, va), _take(self.y, va)

    @property
    def is_cv(self) -> bool:
        return len(self.folds) > 1

    def latency_batch(self, rows: int = 256):
        if self.X_valid is not None:
            Xv = self.X_valid
        else:
            Xv = _take(self.X, self.folds[0][1])
        return _take(Xv, np.arange(min(rows, _nrows(Xv))))


@dataclass
class Outcome:
    """A trial's result: values by metric name, the fitted model, timings."""

    values: dict[str, float]
    model: Any = None
    model_bytes: bytes | None = None
    fit_time: float | None = None
    refit: bool = False  # the kept model saw only a CV fold; refit before handing it out


def is_torch_module(model) -> bool:
    mod = type(model).__module__
    return hasattr(model, "parameters") and hasattr(model, "state_dict") and (
        mod.startswith("torch") or any(c.__module__.startswith("torch.nn") for c in type(model).__mro__)
    )


def model_size(model, pickled: bytes | None = None) -> int:
    """Bytes of the fitted model: parameters + buffers for torch, else the pickle."""
    if is_torch_module(model):
        tensors = list(model.parameters()) + list(model.buffers())
        return int(sum(t.numel() * t.element_size() for t in tensors))
    if pickled is None:
        pickled = dumps(model)
    return len(pickled)


def dumps(obj) -> bytes:
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        import cloudpickle

        return cloudpickle.dumps(obj)


def _predictor(model) -> Callable:
    if is_torch_module(model):
        import torch

        try:
            device = next(model.parameters()).device
        except StopIteration:
            device = torch.device("cpu")

        def forward(X):
            with torch.no_grad():
                t = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X), dtype=torch.float32)
                out = model(t.to(device))
                if device.type == "cuda":
                    torch.cuda.synchronize()
                return out

        return forward
    if not hasattr(model, "predict"):
        raise TypeError(f"latency needs a model with predict (or a torch module), got {type(model).__name__}")
    return model.predict


def measure_latency(model, batch, repeats: int = 5, budget_s: float = 0.5) -> float:
    """Milliseconds per row: median over a few timed calls on ``batch`` after one warm-up."""
    predict = _predictor(model)
    rows = _nrows(batch)
    predict(batch)
    times = []
    start = time.perf_counter()
    while len(times) < repeats and (len(times) < 2 or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        predict(batch)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / rows * 1000.0


def _quality(metric: Metric, model, Xv, yv) -> float:
    if metric.needs == "proba":
        if not hasattr(model, "predict_proba"):
            raise TypeError(f"{metric.name} needs predict_proba, which {type(model).__name__} lacks")
        return float(metric.fn(yv, model.predict_proba(Xv), labels=getattr(model, "classes_", None)))
    if metric.needs == "score":
        if hasattr(model, "predict_proba"):
            s = model.predict_proba(Xv)
        elif hasattr(model, "decision_function"):
            s = model.decision_function(Xv)
        else:
            raise TypeError(f"{metric.name} needs predict_proba or decision_function")
        return float(metric.fn(yv, np.asarray(s), getattr(model, "classes_", None)))
    return float(metric.fn(yv, model.predict(Xv)))


def _score_values(score, metrics: list[Metric]) -> dict[str, float]:
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


def evaluate(result: CellResult, metrics: list[Metric], data: Dataset | None,
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
                    lambda e, Xv=Xv, yv=yv: _quality(metrics[0], e, Xv, yv), report):
                est.fit(Xt, yt)
            fit_times.append(time.perf_counter() - t0)
            if model is None:
                model = est
            for m in metrics:
                if not m.is_cost and m.fn is not None:
                    sums[m.name] = sums.get(m.name, 0.0) + _quality(m, est, Xv, yv)
        n = len(fit_times)
        values = {k: v / n for k, v in sums.items()}
        fit_time = sum(fit_times) / n
        refit = data.is_cv
        custom = [m.name for m in metrics if not m.is_cost and m.fn is None]
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
        if model is None or data is None:
            raise ValueError("metric latency needs `model` and data to predict on")
        values["latency"] = measure_latency(model, data.latency_batch())
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
