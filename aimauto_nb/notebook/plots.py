"""Matplotlib figures of a search, drawn from a :class:`~aimauto_nb.results.Snapshot`
(object API only: safe from background threads)."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

__all__ = ["pareto_figure", "history_figure"]

_GREY, _FRONT, _BEST = "#b0b0b0", "#d62728", "#1f77b4"


def pareto_figure(snap, ax=None, size=(5.0, 3.6), layout="constrained") -> Figure:
    """Primary metric against each other metric; the Pareto front highlighted, best marked.

    One metric: the metric against trial number. ``layout=None`` skips matplotlib's layout
    engine (fixed margins; several times faster to draw, used by the live panel).
    """
    metrics = snap.metrics
    done = [r for r in snap.trials if r.state == "complete"]
    front = {r.number for r in snap.front}
    best = snap.best
    others = metrics[1:] or [None]
    if ax is None:
        fig = Figure(figsize=(size[0] * len(others), size[1]), layout=layout)
        if layout is None:
            _margins(fig)
        axes = fig.subplots(1, len(others), squeeze=False)[0]
    else:
        fig, axes = ax.figure, [ax]
    y = metrics[0]
    for a, x in zip(axes, others):
        def xval(r, x=x):
            return r.number if x is None else r.values[x.name]

        rest = [r for r in done if r.number not in front]
        a.scatter([xval(r) for r in rest], [r.values[y.name] for r in rest], s=14, c=_GREY,
                  label="trials")
        pts = sorted((xval(r), r.values[y.name]) for r in done if r.number in front)
        if pts:
            # A 2-D front is a staircase; a projection of a higher-dimensional one is not.
            a.plot([p[0] for p in pts], [p[1] for p in pts], "o-" if len(metrics) == 2 else "o", c=_FRONT,
                   ms=5, lw=1, label="Pareto front" if x else "best")
        if best is not None:
            a.scatter([xval(best)], [best.values[y.name]], s=90, marker="*", c=_BEST,
                      zorder=3, label="best")
        a.set_xlabel("trial" if x is None else x.label)
        a.set_ylabel(y.label)
        if x is not None and x.log_scale and pts:
            vals = [xval(r) for r in done]
            if min(vals) > 0 and max(vals) / min(vals) > 20:
                a.set_xscale("log")
                a.xaxis.set_minor_formatter(NullFormatter())
        a.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    return fig


def history_figure(snap, size=(5.0, 3.0), layout="constrained") -> Figure:
    """Each trial's primary metric by trial number, with the best so far as a step line."""
    m = snap.metrics[0]
    done = [r for r in snap.trials if r.state == "complete"]
    fig = Figure(figsize=size, layout=layout)
    if layout is None:
        _margins(fig)
    a = fig.subplots()
    xs = [r.number for r in done]
    ys = [r.values[m.name] for r in done]
    a.scatter(xs, ys, s=12, c=_GREY, label="trial")
    best, run = None, []
    for v in ys:
        best = v if best is None or m.better(v, best) else best
        run.append(best)
    if xs:
        a.step(xs, run, where="post", c=_BEST, label="best so far")
    a.set_xlabel("trial")
    a.set_ylabel(m.label)
    a.grid(alpha=0.3)
    a.legend(fontsize=7, loc="best")
    return fig


def _margins(fig: Figure) -> None:
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=0.75 / w, right=1 - 0.35 / w, bottom=0.5 / h, top=1 - 0.15 / h,
                        wspace=0.4)
