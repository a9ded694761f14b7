"""Fitting that reports validation scores along the way, so a pruner can stop bad trials
of plain ``model = ...`` cells without any user code.

- LightGBM (sklearn API): a callback reports a validation score after every boosting
  round, computed by LightGBM itself (``eval_set``) in the direction of the search's first
  metric. For accuracy-like metrics that is the negative log-loss, not ``1 - error``: on
  small validation sets accuracy moves in coarse steps and ties early, and (median) pruning
  on it threw away slow starters (breast_cancer, 40 s: best 0.9649 with it vs 0.9737 with the
  log-loss proxy, ``benchmarks/scale.py``). r2 reports ``1 - l2 / var(y)``; rmse, mae,
  log_loss and binary roc_auc report themselves.
- scikit-learn ensembles with ``warm_start`` (gradient boosting, hist gradient boosting,
  random forests, extra trees): the iteration budget is grown in 8 chunks, refitting with
  ``warm_start=True`` (which continues, not restarts) and scoring after each chunk.

Anything else is fitted as usual. Linear models and MLPs are left alone: their
``warm_start`` restarts the solver, so chunked fits would not be the same model.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import numpy as np

__all__ = ["fit_reporting", "CHUNKS"]

CHUNKS = 8

_ACCURACY_LIKE = ("accuracy", "balanced_accuracy", "f1")


def fit_reporting(est, X, y, Xv, yv, metric, score: Callable, report: Callable) -> bool:
    """Fit ``est`` on (X, y) reporting validation scores; False when ``est`` is not one of
    the estimators this knows (the caller then fits it plainly)."""
    if not metric.computed:
        return False
    module = type(est).__module__
    if module.startswith("lightgbm"):
        return _fit_lightgbm(est, X, y, Xv, yv, metric, report)
    if module.startswith("sklearn.ensemble"):
        return _fit_chunks(est, X, y, score, report)
    return False


def _lightgbm_metric(metric, y) -> tuple[str, Callable[[float], float]] | None:
    classes = len(np.unique(np.asarray(y)))
    binary = classes <= 2
    name = metric.name
    logloss = "binary_logloss" if binary else "multi_logloss"
    if name in _ACCURACY_LIKE or (name == "roc_auc" and not binary):
        return logloss, lambda v: -v
    if name == "roc_auc":
        return "auc", float
    if name == "log_loss":
        return logloss, float
    if name == "r2":
        var = float(np.var(np.asarray(y, dtype=float)))
        return "l2", (lambda v: 1.0 - v / var) if var > 0 else float
    if name == "rmse":
        return "rmse", float
    if name == "mae":
        return "l1", float
    return None


def _fit_lightgbm(est, X, y, Xv, yv, metric, report) -> bool:
    regressor = type(est).__name__.endswith("Regressor")
    if regressor != (metric.name in ("r2", "rmse", "mae")):
        return False
    spec = _lightgbm_metric(metric, yv)
    if spec is None:
        return False
    lgb_name, transform = spec

    def callback(env) -> None:
        for _data, name, value, _higher in env.evaluation_result_list:
            if name == lgb_name and math.isfinite(value):
                report(transform(value), env.iteration + 1)
                return

    if "eval_X" in inspect.signature(est.fit).parameters:  # LightGBM >= 4.7
        est.fit(X, y, eval_X=(Xv,), eval_y=(yv,), eval_metric=lgb_name, callbacks=[callback])
    else:
        est.fit(X, y, eval_set=[(Xv, yv)], eval_metric=lgb_name, callbacks=[callback])
    return True


def _fit_chunks(est, X, y, score, report) -> bool:
    params = est.get_params(deep=False)
    if "warm_start" not in params:
        return False
    budget = next((p for p in ("n_estimators", "max_iter") if isinstance(params.get(p), int)), None)
    if budget is None or params[budget] < 2:
        return False
    total = params[budget]
    step = max(1, math.ceil(total / CHUNKS))
    est.set_params(warm_start=True)
    try:
        for n in range(step, total + step, step):
            n = min(n, total)
            est.set_params(**{budget: n})
            est.fit(X, y)
            report(score(est), n)
    finally:
        est.set_params(warm_start=params["warm_start"], **{budget: total})
    return True
