"""The panel's charts, drawn in the browser: a Pareto chart (the first metric against a
cost metric, chosen with a selector when there are more than two metrics), a best-so-far
chart, and for three or more metrics a parallel-coordinates view of the front.

An `anywidget <https://anywidget.dev>`_: the kernel sends the chart data as widget state
(:mod:`.chartdata`), and ``charts.js`` (plain SVG, shipped in the package, nothing fetched
at run time) draws it. anywidget was chosen over bqplot and plotly's ``FigureWidget``
because it is one small pure-Python wheel whose front end is prebuilt for JupyterLab 4,
Notebook 7 and VS Code, and the kernel side only serialises a few lists: no figure model
to keep in sync, no per-point traits. Hover shows a trial's number, metrics and
parameters; a click on a Pareto trial sets :attr:`ParetoCharts.selected`, which the panel
links to its picker.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets as t

from .chartdata import RowCache, chart_data, metric_axes

__all__ = ["ParetoCharts"]

_HERE = Path(__file__).parent


class ParetoCharts(anywidget.AnyWidget):
    """Browser-drawn charts of one search; :meth:`update` sets them from a snapshot."""

    _esm = (_HERE / "charts.js").read_text(encoding="utf-8")
    _css = (_HERE / "charts.css").read_text(encoding="utf-8")

    metrics = t.List([]).tag(sync=True)
    rows = t.List([]).tag(sync=True)
    front = t.List([]).tag(sync=True)
    best = t.Int(None, allow_none=True).tag(sync=True)
    best_line = t.List([]).tag(sync=True)
    selected = t.Int(None, allow_none=True).tag(sync=True)
    x_metric = t.Int(1).tag(sync=True)

    def __init__(self, metrics, **kwargs):
        super().__init__(metrics=metric_axes(metrics), **kwargs)
        self._cache = RowCache(metrics)

    def update(self, snap) -> None:
        """Send the data of ``snap`` (batched into one message)."""
        data = chart_data(snap, self._cache)
        with self.hold_sync():
            self.rows = data.rows
            self.front = data.front
            self.best = data.best
            self.best_line = data.best_line
