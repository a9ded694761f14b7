"""The panel's charts, drawn in the browser: a Pareto chart (the first metric against a
cost metric, chosen with a selector when there are more than two metrics), a best-so-far
chart, and for three or more metrics a parallel-coordinates view of the front.

An `anywidget <https://anywidget.dev>`_: the kernel sends the chart data as widget state
(:mod:`.chartdata`), and ``charts.js`` (plain SVG, shipped in the package, nothing fetched
at run time) draws it. anywidget was chosen over bqplot and plotly's ``FigureWidget``
because it is one small pure-Python wheel whose front end is prebuilt for JupyterLab 4,
Notebook 7 and VS Code, and the kernel side only serialises a few lists: no figure model
to keep in sync, no per-point traits.

The rows are sent once each: the first update sends them as state, later ones send only
the new and changed rows as a custom message (``{"rows": [...]}``), which the front end
merges into its copy, so a search's traffic grows with its trials, not with trials times
updates. The kernel keeps ``rows`` whole (changed in place, which traitlets does not send),
so a front end that asks for the state (a reloaded page) gets every row; the final update
sends the state once more. Hover shows a trial's number, metrics and
parameters; a click on a Pareto trial sets :attr:`ParetoCharts.selected`, which the panel
links to its picker.
"""

from __future__ import annotations

import secrets
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

    key = t.Unicode("").tag(sync=True)  # names this chart's row store in the front end
    metrics = t.List([]).tag(sync=True)
    rows = t.List([]).tag(sync=True)
    front = t.List([]).tag(sync=True)
    best = t.Int(None, allow_none=True).tag(sync=True)
    best_line = t.List([]).tag(sync=True)
    selected = t.Int(None, allow_none=True).tag(sync=True)
    x_metric = t.Int(1).tag(sync=True)

    def __init__(self, metrics, **kwargs):
        super().__init__(metrics=metric_axes(metrics), key=secrets.token_hex(8), **kwargs)
        self._cache = RowCache(metrics)
        self._at: dict[int, int] = {}  # trial number -> its index in rows

    def update(self, snap, final: bool = False) -> None:
        """Send what changed in ``snap``: the new and changed rows, the front, the best
        (``final``: all the rows as state too)."""
        data = chart_data(snap, self._cache)
        if not self._at or len(self._at) != len(self.rows):  # the first, or rows were replaced
            with self.hold_sync():
                self.rows = list(data.rows)
                self._at = {row[0]: i for i, row in enumerate(self.rows)}
                self._set_marks(data)
            return
        rows, changed = self.rows, []
        for row in data.rows:
            i = self._at.get(row[0])
            if i is None:
                self._at[row[0]] = len(rows)
                rows.append(row)
                changed.append(row)
            elif rows[i] is not row:
                rows[i] = row
                changed.append(row)
        if changed:
            self.send({"rows": changed})
        with self.hold_sync():
            self._set_marks(data)
            if final:
                self.send_state("rows")

    def _set_marks(self, data) -> None:
        self.front = data.front
        self.best = data.best
        self.best_line = data.best_line
