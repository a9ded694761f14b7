"""The metric registry: each objective's name, direction, unit, the task it fits, how it is
computed (a scikit-learn scorer, a cost function of :mod:`aimauto_nb.runtime.costs`, or a
key of the cell's ``score``), and how its values are shown."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from . import costs

__all__ = ["Metric", "METRICS", "parse_metrics", "check_task", "format_value", "format_seconds",
           "BLANK"]

TASKS = ("classification", "regression")
BLANK = "–"  # a value that is not there (a failed trial's metrics, a parameter it did not use)


def _plain(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _bytes(v) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.0f} B"


def _per_row(v) -> str:
    return f"{v * 1000:.3g} µs/row" if abs(v) < 1 else f"{v:.3g} ms/row"


def format_seconds(v) -> str:
    """A duration for people: ``850 ms``, ``12.3 s``, ``4 min 05 s``; blank for None."""
    if v is None:
        return BLANK
    if abs(v) < 1:
        return f"{v * 1000:.3g} ms"
    if abs(v) < 60:
        return f"{v:.3g} s"
    m, sec = divmod(round(v), 60)
    return f"{m} min {sec:02d} s"


@dataclass(frozen=True)
class Metric:
    """A named objective.

    Parameters
    ----------
    name : str
        As written in ``metrics=`` and shown in tables.
    direction : {"maximize", "minimize"}
    scorer : str or None
        The scikit-learn scorer that computes it on validation data; ``None`` for costs
        and for custom metrics (keys of the cell's ``score`` dict).
    unit : str
        The unit of the raw values ("bytes", "ms/row", "s"): chart axes and the columns of
        ``trials_dataframe`` hold raw values in it. Text for people goes through
        ``formatter``, which picks a readable scale (kB, µs/row) and writes it.
    task : {"classification", "regression"} or None
        The only task it applies to, if any.
    measure : callable or None
        For a cost: ``measure(evidence) -> float`` on a trial's
        :class:`~aimauto_nb.runtime.costs.Evidence`.
    needs : frozenset of {"model", "inputs", "fit", "gpu"}
        What the measurement needs, checked before the search starts.
    start : callable or None
        For a cost measured over the whole trial: ``start(device)`` before the cell runs.
    formatter : callable
        ``formatter(value) -> str`` for people (the unit included).
    log_scale : bool
        Charts put it on a log axis (its values span orders of magnitude).
    """

    name: str
    direction: str
    scorer: str | None = None
    unit: str = ""
    task: str | None = None
    measure: Callable | None = None
    needs: frozenset = frozenset()
    start: Callable | None = None
    formatter: Callable = _plain
    log_scale: bool = False

    @property
    def is_cost(self) -> bool:
        return self.measure is not None

    @property
    def computed(self) -> bool:
        """Computed by the search from a fitted model and validation data."""
        return self.scorer is not None

    @property
    def label(self) -> str:
        """The name with the unit of the raw values, for chart axes: ``size (bytes)``."""
        return f"{self.name} ({self.unit})" if self.unit else self.name

    @property
    def heading(self) -> str:
        """A table column over formatted values: the name alone, each cell has its unit."""
        return self.name

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "maximize" else a < b

    def format(self, v) -> str:
        """A value for people: sizes in kB/MB, latencies in µs/ms, the rest to 4 digits."""
        return format_value(self, v)

    def score(self, estimator, X, y) -> float:
        """The metric of a fitted estimator on (X, y), through scikit-learn's scorer (which
        picks predict, predict_proba or decision_function)."""
        from sklearn.metrics import get_scorer, log_loss, make_scorer

        name = self.scorer
        if self.name == "f1":
            labels = np.unique(np.asarray(y))
            name = "f1" if len(labels) <= 2 and set(labels.tolist()) <= {0, 1} else "f1_macro"
        elif self.name == "roc_auc" and len(np.unique(np.asarray(y))) > 2:
            name = "roc_auc_ovr"
        elif self.name == "log_loss":  # the model's classes, even those a fold lacks
            scorer = make_scorer(log_loss, greater_is_better=False, response_method="predict_proba",
                                 labels=getattr(estimator, "classes_", None))
            return -float(scorer(estimator, X, y))
        value = float(get_scorer(name)(estimator, X, y))
        return -value if name.startswith("neg_") else value


def format_value(metric: Metric | None, v) -> str:
    """``metric.format(v)``; without a metric, numbers to 4 significant digits; ``–`` for
    a value that is not there."""
    if v is None:
        return BLANK
    return (metric.formatter if metric is not None else _plain)(v)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("accuracy", "maximize", "accuracy", task="classification"),
        Metric("balanced_accuracy", "maximize", "balanced_accuracy", task="classification"),
        Metric("f1", "maximize", "f1", task="classification"),
        Metric("roc_auc", "maximize", "roc_auc", task="classification"),
        Metric("log_loss", "minimize", "neg_log_loss", task="classification"),
        Metric("r2", "maximize", "r2", task="regression"),
        Metric("rmse", "minimize", "neg_root_mean_squared_error", task="regression"),
        Metric("mae", "minimize", "neg_mean_absolute_error", task="regression"),
        Metric("size", "minimize", unit="bytes", measure=costs.size, needs=frozenset({"model"}),
               formatter=_bytes, log_scale=True),
        Metric("latency", "minimize", unit="ms/row", measure=costs.latency,
               needs=frozenset({"model", "inputs"}), formatter=_per_row, log_scale=True),
        Metric("fit_time", "minimize", unit="s", measure=costs.fit_time, needs=frozenset({"fit"}),
               formatter=format_seconds),
        Metric("gpu_memory", "minimize", unit="bytes", measure=costs.gpu_memory,
               needs=frozenset({"gpu"}), start=costs.reset_gpu_memory, formatter=_bytes,
               log_scale=True),
    ]
}


def parse_metrics(spec: str | Sequence[str], task: str = "unknown") -> tuple[Metric, ...]:
    """Metric objects for names like ``"accuracy,size"`` or ``["auto", "loss:min"]``.

    ``auto`` is accuracy for classification, r2 for regression, and the cell's own
    ``score`` (maximised) when there is no data. A metric that does not fit ``task``
    (``roc_auc`` on a regression target) is refused here, before any trial runs.
    """
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    if not names or any(not isinstance(n, str) or not n for n in names):
        raise ConfigError(f"metrics must be a non-empty list of names, got {spec!r}")
    out = []
    for n in names:
        if n == "auto":
            n = {"regression": "r2", "unknown": "score:max"}.get(task, "accuracy")
        if ":" in n:
            base, _, d = n.partition(":")
            if d not in ("max", "min") or not base:
                raise ConfigError(f"custom metric {n!r} must be written name:max or name:min")
            known = METRICS.get(base)
            if known is not None and task in TASKS and known.direction != (
                    "maximize" if d == "max" else "minimize"):
                better = "higher" if known.direction == "maximize" else "lower"
                raise ConfigError(f"metrics: {n!r} contradicts metric {base} ({better} is "
                                  f"better); write {base}")
            out.append(Metric(base, "maximize" if d == "max" else "minimize"))
            continue
        if n not in METRICS:
            valid = ", ".join(list(METRICS) + ["auto", "NAME:max", "NAME:min"])
            raise ConfigError(f"unknown metric {n!r}; valid metrics: {valid}")
        out.append(METRICS[n])
    seen = [m.name for m in out]
    if len(set(seen)) != len(seen):
        raise ConfigError(f"metrics repeat a name: {seen}")
    check_task(out, task)
    return tuple(out)


def check_task(metrics: Sequence[Metric], task: str) -> None:
    """Refuse a metric that needs another task than the data's."""
    if task not in TASKS:
        return
    wrong = [m.name for m in metrics if m.task is not None and m.task != task]
    if wrong:
        fits = [m for m, v in METRICS.items() if v.task == task]
        raise ConfigError(f"metric {', '.join(wrong)} does not apply to a {task} target (y); "
                         f"{task} metrics: {', '.join(fits)}")
