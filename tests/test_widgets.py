"""The panel's widgets driven directly (values, Stop, the Pareto picker), the text fallback,
and the static snapshot a notebook runner saves."""

import io

import nbformat
import pytest
from nbclient import NotebookClient

import aimauto_nb as an
from aimauto_nb.notebook.panel import Panel
from aimauto_nb.notebook.progress import TextProgress
from aimauto_nb.runtime.metrics import format_value

from .conftest import TREE_CELL

FAILING = """
from sklearn.tree import DecisionTreeClassifier
depth = hp.int(1, 6)
if depth > 3:
    raise ValueError(f"depth {depth} is too deep")
model = DecisionTreeClassifier(max_depth=depth, random_state=0)
"""


def _finished(cell, cancer, **kw):
    kw = {"trials": 10, "seed": 0, "display": False, **kw}
    s = an.search(cell, data=cancer, **kw)
    panel = Panel(s, namespace={})
    s.wait()
    panel.refresh(final=True)
    return s, panel


def test_panel_shows_the_final_state(cancer):
    s, p = _finished(TREE_CELL, cancer, metrics="accuracy,size,latency")
    assert "done" in p.header.value and p.progress.value == 1.0
    assert p.progress.bar_style == "success" and p.progress_label.value.startswith("10/10 trials")
    assert p.stop_button.disabled
    best = s.best
    assert f"best (trial {best.number})" in p.summary.value
    assert format_value(s.metrics[0], best.values["accuracy"]) in p.summary.value
    assert len(p.charts.rows) == 10 and p.charts.front == [r.number for r in s.pareto]
    assert p.charts.selected == best.number
    assert p._pareto_png[:4] == b"\x89PNG"  # the static snapshot's chart, drawn at the end
    assert [n for _, n in p.picker.options] == [r.number for r in s.pareto]
    assert p.picker.value == best.number
    assert "accuracy" in p.pick_info.value and "max_depth" in p.pick_info.value
    assert p.table.value.count("<tr") >= len(s.pareto) + 1 and "★" in p.table.value


def test_failed_trials_errors_are_one_click_away(cancer):
    s, p = _finished(FAILING, cancer, trials=12, strategy="random")
    failed = [r for r in s.trials if r.state == "failed"]
    assert failed
    assert p.errors.value.count("<details>") == len(failed)
    assert "is too deep" in p.errors.value and "Traceback" in p.errors.value
    assert f"{len(failed)} failed" in p.summary.value


def test_use_this_model_binds_a_variable(cancer):
    s, p = _finished(TREE_CELL, cancer, metrics="accuracy,size")
    p.picker.value = s.pareto[-1].number
    p.variable.value = "small"
    p.use_button.click()
    assert p._namespace["small"] is s.model(s.pareto[-1].number)
    assert "small" in p.message.value
    p.variable.value = "not valid"
    p.use_button.click()
    assert "not a valid variable name" in p.message.value and "not valid" not in p._namespace


def test_apply_shows_the_trials_code(cancer):
    s, p = _finished(TREE_CELL, cancer)
    p.code_button.click()
    assert p.code.value == s.code(p.picker.value)
    assert p.code.layout.display is None
    assert f"%aimapply {s.name} --trial {p.picker.value}" in p.message.value


def test_stop_button_stops_the_search(cancer):
    slow = TREE_CELL + "\nimport time\ntime.sleep(0.2)\n"
    s = an.search(slow, data=cancer, trials=200, display=False)
    p = Panel(s, namespace={})
    p.stop_button.click()
    s.wait(20)
    p.refresh(final=True)
    assert s.state == "stopped" and s.launched < 200
    assert "stopped" in p.header.value and p.progress.bar_style == "warning"


def test_timeout_budget_drives_the_progress_bar(cancer):
    s = an.search(TREE_CELL + "\nimport time\ntime.sleep(0.1)\n", data=cancer, timeout=1.0,
                  display=False)
    p = Panel(s, namespace={})
    s.wait(10)
    p.refresh(final=True)
    assert "/1 s" in p.progress_label.value and p.progress.value == 1.0


def test_text_progress_outside_notebooks(cancer):
    out = io.StringIO()
    s = an.search(TREE_CELL, data=cancer, trials=4, display=False)
    TextProgress(s, stream=out, interval=0.0)
    s.wait()
    lines = out.getvalue().splitlines()
    assert lines and lines[-1].startswith("search: done | 4/4 trials")


@pytest.mark.parametrize("name, value, text", [
    ("size", 1234.0, "1.23 kB"), ("size", 12.0, "12 B"), ("size", 5.5e6, "5.5 MB"),
    ("latency", 0.0123, "12.3 µs/row"), ("latency", 3.2, "3.2 ms/row"), ("accuracy", 0.912345, "0.9123"),
])
def test_format_value(name, value, text):
    assert format_value(an.METRICS[name], value) == text


def test_saved_notebook_holds_a_static_snapshot(tmp_path):
    """nbclient keeps only messages of the running cell: the final snapshot must reach the
    magic's output through the cell that waits."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext aimauto_nb\nfrom sklearn.datasets import load_iris\n"
                                  "X, y = load_iris(return_X_y=True)"),
        nbformat.v4.new_code_cell("%%aimsearch --data X y --trials 6 --metrics accuracy,size\n"
                                  + TREE_CELL),
        nbformat.v4.new_code_cell("search.wait();"),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[1].outputs
    assert len(outputs) == 2
    assert "application/vnd.jupyter.widget-view+json" in outputs[0]["data"]
    data = outputs[1]["data"]
    assert "application/vnd.jupyter.widget-view+json" not in data
    assert "aimauto-snapshot" in data["text/html"] and "data:image/png;base64," in data["text/html"]
    assert data["text/plain"].startswith("search: done | 6/6 trials")
    assert nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]


def test_stop_is_enabled_while_running_and_disabled_once_ended(cancer):
    slow = TREE_CELL + "\nimport time\ntime.sleep(0.3)\n"
    s = an.search(slow, data=cancer, trials=3, storage=False, display=False)
    p = Panel(s, namespace={})
    p.refresh()
    assert s.running and not p.stop_button.disabled
    s.wait(30)
    p.refresh(final=True)
    assert s.state == "done" and p.stop_button.disabled
    broken = "depth = hp.int(1, 3)\nraise RuntimeError('no model today')\nmodel = None\n"
    f = an.search(broken, data=cancer, trials=6, storage=False, display=False)
    pf = Panel(f, namespace={})
    with pytest.raises(an.SearchError):
        f.wait(30)
    pf.refresh(final=True)
    assert f.state == "failed" and pf.stop_button.disabled


def test_panel_marks_warm_start_trials_and_says_when_converged(cancer, monkeypatch):
    from aimauto_nb.core import warmstart

    monkeypatch.setattr(warmstart, "portfolio", lambda: {
        "DecisionTreeClassifier": [{"max_depth": 3, "criterion": "gini"}]})
    s, p = _finished(TREE_CELL, cancer, trials=30, strategy="random")
    assert s.trials[0].source == "portfolio (DecisionTreeClassifier)"
    assert "1 from the warm start (↺)" in p.summary.value
    assert f"{s.trials[0].number} " in p.table.value and "↺" in p.table.value
    assert s.converged and "further improvement is unlikely" in p.summary.value
