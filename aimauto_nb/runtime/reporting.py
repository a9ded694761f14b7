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
- XGBoost and CatBoost (sklearn API): the same, through their own callback interfaces and
  validation metrics.
- scikit-learn ensembles with ``warm_start`` (gradient boosting, hist gradient boosting,
  random forests, extra trees): the iteration budget is grown in 8 chunks, refitting with
  ``warm_start=True`` (which continues, not restarts) and scoring after each chunk.

Anything else is fitted as usual. Linear models and MLPs are left alone: their
``warm_start`` restarts the solver, so chunked fits would not be the same model.

With K-fold CV no estimator reports per iteration; :func:`fold_reporter` reports once per
fold instead, so a pruner can stop a trial after its first folds.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable

import numpy as np
import optuna

__all__ = ["fit_reporting", "fold_reporter", "Cadence", "CHUNKS"]

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


def fold_reporter(report: Callable | None, metric, folds: int) -> Callable | None:
    """``per_fold(sums, done)``: report the running mean of ``metric`` (its sum over the
    folds done, in ``sums``) at step ``done``, for every fold but the last (after it the
    trial is complete: pruning it would save nothing and lose its score). ``None`` when
    nothing is reported: no pruner, or a first metric the search does not compute (a cost,
    or a ``score`` key)."""
    if report is None or not metric.computed:
        return None

    def per_fold(sums: dict[str, float], done: int) -> None:
        if done >= folds:
            return
        mean = sums[metric.name] / done
        try:
            report(mean, done)
        except optuna.TrialPruned:
            raise optuna.TrialPruned(f"pruned after {done} of {folds} folds "
                                     f"({metric.name} {mean:.4g} so far)") from None

    return per_fold


_ACCURACY_LIKE = ("accuracy", "balanced_accuracy", "f1")


def fit_reporting(est, X, y, Xv, yv, metric, score: Callable, report: Callable) -> bool:
    """Fit ``est`` on (X, y) reporting validation scores; False when ``est`` is not one of
    the estimators this knows (the caller then fits it plainly)."""
    if not metric.computed:
        return False
    module = type(est).__module__
    if module.startswith("lightgbm"):
        return _fit_lightgbm(est, X, y, Xv, yv, metric, report)
    if module.startswith("xgboost"):
        return _fit_xgboost(est, X, y, Xv, yv, metric, report)
    if module.startswith("catboost"):
        return _fit_catboost(est, X, y, Xv, yv, metric, report)
    if module.startswith("sklearn.ensemble"):
        return _fit_chunks(est, X, y, score, report)
    return False


#: each library's name for the proxies: log-loss (binary, multiclass), AUC, squared error
#: (or its root, squared back), RMSE and MAE
_NAMES = {
    "lightgbm": {"logloss": ("binary_logloss", "multi_logloss"), "auc": "auc", "mse": "l2",
                 "rmse": "rmse", "mae": "l1"},
    "xgboost": {"logloss": ("logloss", "mlogloss"), "auc": "auc", "mse": None, "rmse": "rmse",
                "mae": "mae"},
    # CatBoost reports only its loss unless eval_metric is set, which a fitted model refuses
    "catboost": {"logloss": ("Logloss", "MultiClass"), "auc": None, "mse": None, "rmse": "RMSE",
                 "mae": None},
}


def _proxy(metric, y, library: str) -> tuple[str, Callable[[float], float]] | None:
    """The library's own validation metric to report for the search's first metric, and how
    to turn it into a value in that metric's direction."""
    names = _NAMES[library]
    binary = len(np.unique(np.asarray(y))) <= 2
    logloss = names["logloss"][0 if binary else 1]
    name = metric.name
    if name in _ACCURACY_LIKE or (name == "roc_auc" and (not binary or names["auc"] is None)):
        return logloss, lambda v: -v
    if name == "roc_auc":
        return names["auc"], float
    if name == "log_loss":
        return logloss, float
    if name == "r2":
        var = float(np.var(np.asarray(y, dtype=float)))
        if var <= 0:
            return None
        if names["mse"] is not None:
            return names["mse"], lambda v: 1.0 - v / var
        return names["rmse"], lambda v: 1.0 - v * v / var
    if name in ("rmse", "mae") and names[name] is not None:
        return names[name], float
    return None


def _fits_task(est, metric) -> bool:
    regressor = type(est).__name__.endswith("Regressor")
    return regressor == (metric.name in ("r2", "rmse", "mae"))


def _fit_lightgbm(est, X, y, Xv, yv, metric, report) -> bool:
    spec = _proxy(metric, yv, "lightgbm") if _fits_task(est, metric) else None
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


def _plan(est, metric, yv, library: str, budget: str, default: int, report):
    """(library metric name, transform, cadence, rounds), or None when ``est`` and the
    metric do not fit (a classifier scored on r2, say)."""
    spec = _proxy(metric, yv, library) if _fits_task(est, metric) else None
    if spec is None:
        return None
    return (*spec, Cadence(report), est.get_params().get(budget) or default)


def _fit_xgboost(est, X, y, Xv, yv, metric, report) -> bool:
    """XGBoost (sklearn API): a ``TrainingCallback`` on its own validation metric; the
    user's ``callbacks`` and ``eval_metric`` are restored after the fit."""
    plan = _plan(est, metric, yv, "xgboost", "n_estimators", 100, report)
    if plan is None:
        return False
    import xgboost

    name, transform, cadence, rounds = plan

    class Report(xgboost.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log) -> bool:
            values = evals_log.get("validation_0", {}).get(name)
            if values and math.isfinite(values[-1]):
                cadence(transform(float(values[-1])), epoch + 1, last=epoch + 1 == rounds)
            return False

    old = {k: est.get_params()[k] for k in ("callbacks", "eval_metric")}
    est.set_params(callbacks=[Report()], eval_metric=name)
    try:
        est.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    finally:
        est.set_params(**old)
    return True


def _fit_catboost(est, X, y, Xv, yv, metric, report) -> bool:
    """CatBoost (sklearn API): a callback object on its validation metric, with
    ``use_best_model=False`` so the fitted model is the one a plain fit gives."""
    plan = _plan(est, metric, yv, "catboost", "iterations", 1000, report)
    if plan is None:
        return False
    name, transform, cadence, rounds = plan
    failure: list[BaseException] = []

    class Report:
        def after_iteration(self, info) -> bool:
            values = info.metrics.get("validation", {}).get(name)
            if values and math.isfinite(values[-1]):
                try:
                    cadence(transform(float(values[-1])), info.iteration,
                            last=info.iteration == rounds)
                except BaseException as e:  # CatBoost swallows callback errors: stop, re-raise
                    failure.append(e)
                    return False
            return True

    est.fit(X, y, eval_set=(Xv, yv), callbacks=[Report()], use_best_model=False)
    if failure:
        raise failure[0]
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
