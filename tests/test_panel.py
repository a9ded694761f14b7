"""The browser-drawn charts' data (computed apart from drawing) and their link to the
panel's picker: a click on a Pareto point selects that trial, the picker's choice is
highlighted."""

import math
import time

import pytest

import aimauto_nb as an
from aimauto_nb.core.results import Results, TrialRecord
from aimauto_nb.notebook.chartdata import RowCache, best_line, chart_data, metric_axes
from aimauto_nb.notebook.panel import Panel
from aimauto_nb.runtime.metrics import METRICS

from .conftest import TREE_CELL


@pytest.fixture(scope="module")
def finished(cancer):
    s = an.search(TREE_CELL, data=cancer, trials=12, seed=0, display=False,
                  metrics="accuracy,size,latency")
    p = Panel(s, namespace={})
    s.wait()
    p.refresh(final=True)
    return s, p


def _snapshot(records, metrics):
    res = Results(metrics)
    for r in records:
        res.put(r)
    return res.snapshot()


def test_chart_data_follows_the_snapshot(finished):
    s, p = finished
    snap = s.snapshot()
    data = chart_data(snap)
    done = [r for r in snap.trials if r.state == "complete"]
    assert [row[0] for row in data.rows] == [r.number for r in done]
    n, values, texts, params = data.rows[0]
    assert values == [done[0].values[m.name] for m in snap.metrics]
    assert texts[1].endswith("B") and "µs/row" in texts[2] and "max_depth=" in params
    assert data.front == [r.number for r in snap.front] and data.best == snap.best.number
    line = [v for _, v in data.best_line]
    assert line == sorted(line) and line[-1] == max(r.values["accuracy"] for r in done)
    assert p.charts.rows == data.rows and p.charts.best_line == data.best_line


def test_axes_put_costs_on_a_log_scale():
    axes = metric_axes([METRICS["accuracy"], METRICS["size"], METRICS["latency"]])
    assert [a["log"] for a in axes] == [False, True, True]
    assert [a["maximize"] for a in axes] == [True, False, False]
    assert axes[1]["label"] == "size" and axes[1]["ticks"] == "bytes"  # ticks carry the unit
    assert axes[2]["label"] == "latency per row" and axes[2]["ticks"] == "per_row"
    assert axes[0]["label"] == "accuracy" and axes[0]["ticks"] == ""


def test_rows_are_built_once_and_json_safe():
    metrics = [METRICS["accuracy"], METRICS["size"]]
    recs = [TrialRecord(0, "complete", {"c": "a"}, {"accuracy": 0.5, "size": 100.0}),
            TrialRecord(1, "complete", {"c": "b"}, {"accuracy": math.nan, "size": math.inf}),
            TrialRecord(2, "failed", {"c": "b"}),
            TrialRecord(3, "complete", {"c": "b"}, {"accuracy": 0.7, "size": 300.0})]
    cache = RowCache(metrics)
    first = chart_data(_snapshot(recs, metrics), cache)
    assert [r[0] for r in first.rows] == [0, 1, 3]
    assert first.rows[1][1] == [None, None]  # JSON has no NaN / inf
    assert first.rows[0][3] == "c='a'"
    again = chart_data(_snapshot(recs, metrics), cache)
    assert all(a is b for a, b in zip(first.rows, again.rows))
    changed = recs[:3] + [recs[3].replace(values={"accuracy": 0.9, "size": 300.0})]
    assert chart_data(_snapshot(changed, metrics), cache).rows[2][1] == [0.9, 300.0]


def test_best_line_steps_only_where_it_improves():
    rows = [[0, [0.3]], [1, [0.2]], [2, [0.5]], [3, [0.5]], [4, [None]], [5, [0.6]]]
    assert best_line(rows, METRICS["accuracy"]) == [[0, 0.3], [2, 0.5], [5, 0.6]]
    assert best_line(rows, METRICS["log_loss"]) == [[0, 0.3], [1, 0.2]]


def test_a_click_on_a_pareto_point_selects_it_in_the_picker(finished):
    s, p = finished
    other = next(r.number for r in s.pareto if r.number != s.best.number)
    p.charts.selected = other  # what the browser sends on a click
    assert p.picker.value == other
    rec = next(r for r in s.trials if r.number == other)
    assert f"<b>{s.metrics[1].format(rec.values['size'])}</b>" in p.pick_info.value
    p.use_button.click()
    assert p._namespace["model"] is s.model(other)
    p.picker.value = s.best.number  # and the picker's choice is highlighted on the charts
    assert p.charts.selected == s.best.number


def test_a_click_off_the_front_changes_nothing(finished):
    s, p = finished
    p.picker.value = s.best.number
    off = next((r.number for r in s.trials if r.state == "complete"
                and r.number not in {f.number for f in s.pareto}), 9999)
    p.charts.selected = off
    assert p.picker.value == s.best.number


def test_one_metric_charts_the_best_only(cancer):
    s = an.search(TREE_CELL, data=cancer, trials=5, seed=0, display=False)
    p = Panel(s, namespace={})
    s.wait()
    p.refresh(final=True)
    assert len(p.charts.metrics) == 1 and p.charts.front == [s.best.number]
    assert p.charts.selected == s.best.number


def test_costly_chart_updates_are_spaced_but_the_last_is_sent(finished):
    s, p = finished
    p.charts.rows, p._chart_key = [], None
    p._chart_cost, p._chart_at = 100.0, time.monotonic()  # as if an update took 100 s
    p.refresh()
    assert p.charts.rows == []
    p.refresh(final=True)
    assert len(p.charts.rows) == s.snapshot().counts["complete"]
