"""What the browser-drawn charts show, computed from a
:class:`~aimauto_nb.results.Snapshot` apart from any drawing (as Optuna's ``_get_*_info``
helpers do): plain lists and numbers, ready to be sent as widget state.

A complete trial's row never changes, so rows are built once per trial and kept in a
:class:`RowCache`; an update costs the new trials plus a pass over numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..runtime.metrics import format_value

__all__ = ["ChartData", "RowCache", "chart_data", "metric_axes", "best_line"]


#: raw units whose ticks the charts write as the tables do (kB, µs, s), so one trial reads
#: the same on an axis as in a cell; the axis label then names no raw unit
TICK_UNITS = {"bytes": "bytes", "ms/row": "per_row", "s": "seconds"}


def metric_axes(metrics) -> list[dict]:
    """One axis description per metric: name, label, how its ticks are written, log scale,
    and whether higher is better."""
    out = []
    for m in metrics:
        ticks = TICK_UNITS.get(m.unit, "")
        label = (f"{m.name} per row" if ticks == "per_row" else m.name) if ticks else m.label
        out.append({"name": m.name, "label": label, "ticks": ticks, "log": bool(m.log_scale),
                    "maximize": m.direction == "maximize"})
    return out


def _finite(v) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _param_text(v) -> str:
    text = repr(v) if isinstance(v, str) else format_value(None, v)
    return text if len(text) <= 40 else text[:39] + "…"


class RowCache:
    """Chart rows of complete trials, built once per trial record.

    A row is ``[number, values, value_texts, params_text]``: the metric values in metric
    order (``None`` where not finite, JSON has no NaN), how the panel formats them, and
    ``"name=value, ..."`` for the hover.
    """

    def __init__(self, metrics):
        self.metrics = tuple(metrics)
        self._rows: dict[int, tuple[object, list]] = {}

    def row(self, rec) -> list:
        hit = self._rows.get(rec.number)
        if hit is not None and hit[0] is rec:
            return hit[1]
        values = [_finite(rec.values.get(m.name)) for m in self.metrics]
        texts = [format_value(m, rec.values.get(m.name)) for m in self.metrics]
        params = ", ".join(f"{k}={_param_text(v)}" for k, v in rec.params.items())
        row = [rec.number, values, texts, params]
        self._rows[rec.number] = (rec, row)
        return row


def best_line(rows: list, metric) -> list[list]:
    """The best-so-far step line of ``metric`` (the first of each row's values) by trial
    number: only the points where it improves, ``[[number, value], ...]``."""
    out, best = [], None
    for row in sorted(rows, key=lambda r: r[0]):
        v = row[1][0]
        if v is not None and (best is None or metric.better(v, best)):
            best = v
            out.append([row[0], v])
    return out


@dataclass
class ChartData:
    """Everything the charts draw: complete trials' rows, the Pareto front and the best
    trial (by number), and the best-so-far line."""

    rows: list = field(default_factory=list)
    front: list = field(default_factory=list)
    best: int | None = None
    best_line: list = field(default_factory=list)


def chart_data(snap, cache: RowCache | None = None) -> ChartData:
    """The charts' data for one snapshot (pass the same ``cache`` on every update)."""
    cache = cache if cache is not None else RowCache(snap.metrics)
    rows = [cache.row(r) for r in snap.trials if r.state == "complete"]
    return ChartData(rows=rows, front=[r.number for r in snap.front],
                     best=None if snap.best is None else snap.best.number,
                     best_line=best_line(rows, snap.metrics[0]))
