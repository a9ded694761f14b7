"""Fitting that reports validation scores along the way, so a pruner can stop bad trials
of plain ``model = ...`` cells without any user code.

- LightGBM (sklearn API): a callback reports a validation score every few boosting rounds
  (:class:`Cadence`: as often as keeps reporting under 2 % of the training time), computed
  by LightGBM itself (``eval_set``) in the direction of the search's first metric. For
  accuracy-like metrics that is the negative log-loss, not ``1 - error``: on small
  validation sets accuracy moves in coarse steps and ties early, and (median) pruning
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
import time
from collections.abc import Callable

import numpy as np

__all__ = ["fit_reporting", "Cadence", "CHUNKS"]

CHUNKS = 8
REPORT_SHARE = 0.02


class Cadence:
    """Report every k-th round, with k chosen so that reporting (the pruner's decision and
    the storage write) costs at most ``share`` of the training time: boosting rounds on
    small data take well under a millisecond, so reporting each one would dominate. The
    last round is always reported, so a complete trial's last intermediate value is its
    final score."""

    def __init__(self, report: Callable, share: float = REPORT_SHARE, max_every: int = 64):
        self._report = report
        self._share = share
        self._max = max_every
        self.every = 1
        self._last_step = 0
        self._round = None
        self._cost = 0.0
        self._tick = time.perf_counter()

    def __call__(self, value: float, step: int, last: bool = False) -> None:
        now = time.perf_counter()
        took = now - self._tick
        self._round = took if self._round is None else 0.8 * self._round + 0.2 * took
        if last or step - self._last_step >= self.every:
            self._report(value, step)
            self._last_step = step
            cost = time.perf_counter() - now
            self._cost = cost if self._cost == 0.0 else 0.8 * self._cost + 0.2 * cost
            wanted = self._cost / max(self._share * self._round, 1e-9)
            self.every = max(1, min(self._max, math.ceil(wanted)))
        self._tick = time.perf_counter()

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
    cadence = Cadence(report)

    def callback(env) -> None:
        for _data, name, value, _higher in env.evaluation_result_list:
            if name == lgb_name and math.isfinite(value):
                cadence(transform(value), env.iteration + 1, last=env.iteration + 1 == env.end_iteration)
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
