"""What a newcomer meets (issue 26): one set of units in every view, readable reprs, the
form's ranges inside scikit-learn's constraints, a text line that says how many trials run,
a terminal line that fits 80 columns, quiet torchao."""

import datetime
import io
import itertools
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import aimauto_nb as an
from aimauto_nb.core.results import TrialRecord
from aimauto_nb.notebook.chartdata import RowCache
from aimauto_nb.notebook.form import CURATED, ranges_for
from aimauto_nb.notebook.panel import Panel
from aimauto_nb.notebook.progress import TextProgress
from aimauto_nb.runtime.metrics import BLANK, METRICS, format_seconds

from .conftest import TREE_CELL

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def finished(cancer):
    s = an.search(TREE_CELL, data=cancer, trials=6, seed=0, display=False,
                  metrics="accuracy,size,latency,fit_time", storage=":memory:")
    p = Panel(s, namespace={})
    s.wait()
    p.refresh(final=True)
    return s, p


def test_one_trial_renders_the_same_everywhere(finished):
    s, p = finished
    snap = s.snapshot()
    best = snap.best
    texts = [m.format(best.values[m.name]) for m in snap.metrics]
    assert any(t.endswith(("kB", " B")) for t in texts) and any("s/row" in t for t in texts)
    line = snap.status_line()
    table = p._table_html(snap)
    row = next(r for r in table.split("<tr") if f">{best.number} ★<" in r)
    summary = io.StringIO()
    sys.stdout, old = summary, sys.stdout
    try:
        s.summary(1)
    finally:
        sys.stdout = old
    chart_texts = RowCache(snap.metrics).row(best)[2]
    assert chart_texts == texts
    for m, text in zip(snap.metrics, texts):
        assert f"{m.name}={text}" in line
        assert f"{m.name} = <b>{text}</b>" in p.summary.value
        assert f">{text}<" in row
        assert f"{m.name}={text}" in summary.getvalue()
        assert f"{m.name}={text}" in repr(best)
    # a table over formatted cells is headed by the name, not by a unit the cells do not use
    assert ">latency<" in table and "ms/row" not in table.split("</tr>")[0]
    assert ">duration<" in table and format_seconds(best.duration) in row


def test_durations_and_blanks_for_people():
    assert format_seconds(0.0123) == "12.3 ms" and format_seconds(2.5) == "2.5 s"
    assert format_seconds(245) == "4 min 05 s" and format_seconds(None) == BLANK
    assert METRICS["fit_time"].format(0.5) == "500 ms"
    assert METRICS["size"].format(None) == BLANK


def test_reprs_are_readable(finished):
    s, _ = finished
    text = repr(s.best)
    assert text.startswith(f"TrialRecord({s.best.number}, complete, accuracy=")
    assert "datetime" not in text and "max_depth=" in text
    failed = TrialRecord(3, "failed", {"c": "gini"}, error="Traceback\nValueError: bad")
    assert repr(failed) == "TrialRecord(3, failed | c='gini' | ValueError: bad)"
    assert repr(s).startswith("<Search search: done | 6/6 trials")


def _sklearn_estimators():
    from sklearn.utils import all_estimators

    known = dict(all_estimators())
    return [known[n] for n in CURATED if n in known]


@pytest.mark.parametrize("cls", _sklearn_estimators(), ids=lambda c: c.__name__)
def test_form_ranges_satisfy_the_estimators_constraints(cls):
    """Every curated and inferred range's bounds and options pass scikit-learn's own
    parameter validation (a range past it fails a share of the trials)."""
    from sklearn.utils._param_validation import make_constraint

    checked = 0
    for r in ranges_for(cls()):
        declared = cls._parameter_constraints.get(r.name)
        if not declared:
            continue
        cons = [make_constraint(c) for c in declared]
        ends = list(r.options) if r.kind == "choice" else [r.low, r.high]
        ends = [int(v) for v in ends] if r.kind == "int" else ends
        for v in ends:
            assert any(c.is_satisfied_by(v) for c in cons), (r, v)
        checked += 1
    assert checked >= 1


def test_hist_gradient_boosting_max_features_stays_a_fraction():
    from sklearn.ensemble import HistGradientBoostingClassifier

    (r,) = [r for r in ranges_for(HistGradientBoostingClassifier()) if r.name == "max_features"]
    assert 0 < r.low < r.high <= 1.0


SLOW_CELL = """
import time
from sklearn.tree import DecisionTreeClassifier
time.sleep(0.3)
model = DecisionTreeClassifier(max_depth=hp.int(1, 8), random_state=0)
"""


def test_text_line_counts_the_trial_launched_after_one_ends(cancer):
    """A trial ends and the next is launched at once: the line shows both jobs running."""
    out = io.StringIO()
    s = an.search(SLOW_CELL, data=cancer, trials=8, jobs=2, display=False, storage=":memory:",
                  warm_start=False)
    TextProgress(s, stream=out, interval=0.2)
    s.wait()
    lines = out.getvalue().splitlines()
    running = [ln for ln in lines if ": running |" in ln and not ln.startswith("search: running | 0/")]
    assert running and any(", 2 running" in ln for ln in running), lines
    assert lines[-1].startswith("search: done | 8/8 trials")


def test_torchao_import_is_quiet():
    pytest.importorskip("torchao")
    code = "from aimauto_nb.compression.quantize import have_torchao; print(have_torchao())"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240,
                       cwd=ROOT)
    assert r.stdout.strip() == "True"
    assert "Failed to load" not in r.stderr and "register_constant" not in r.stderr, r.stderr


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _prompt(n: int) -> str:
    return rf"In \[{n}\]:"


def _out(n: int, value: str) -> str:
    return rf"Out\[{n}\]:(?:\x1b\[[0-9;?]*[A-Za-z]|\s)*{value}"


@pytest.mark.slow
def test_terminal_ipython_line_fits_80_columns(tmp_path):
    """IPython in an 80-column pseudo-terminal: while ``wait()`` runs, one line rewritten in
    place that never exceeds 80 columns; then a final line; a search left running at the
    prompt draws nothing over it and prints its final line once, and the prompt answers."""
    pexpect = pytest.importorskip("pexpect")
    setup = textwrap.dedent(f"""\
        import aimauto_nb as an; from sklearn.datasets import load_iris
        X, y = load_iris(return_X_y=True); CELL = {SLOW_CELL!r}
        """).replace("\n", "; ").rstrip("; ")
    child = pexpect.spawn(sys.executable, ["-m", "IPython", "--no-banner", "--colors=nocolor",
                                           "--HistoryManager.enabled=False"],
                          dimensions=(24, 80), encoding="utf-8", timeout=60, cwd=str(tmp_path),
                          env={"PYTHONPATH": str(ROOT), "TERM": "xterm", "PATH": "/usr/bin:/bin",
                               "AIMAUTO_DIR": str(tmp_path / "aim"), "HOME": str(tmp_path)})
    try:
        child.expect(_prompt(1))
        child.sendline(setup)
        child.expect(_prompt(2))
        child.sendline("s = an.search(CELL, data=(X, y), trials=10, name='first_of_two_searches', "
                       "metrics='accuracy,size,latency', storage=':memory:'); s.wait(); 0")
        child.expect(_out(2, "0"))
        waited = _ANSI.sub("", child.before)
        child.expect(_prompt(3))
        frames = [f for part in waited.split("\n") for f in part.split("\r")]
        progress = [f.rstrip() for f in frames if f.startswith("first_of_two_searches: running")]
        assert len(progress) >= 2 and "| best " in progress[-1], waited
        assert max(len(f) for f in frames if f.startswith("first_of_two") and ": done" not in f) <= 80
        assert sum("first_of_two_searches: done" in f for f in frames) == 1
        # left running at the prompt: nothing drawn over it, one final line when it ends
        child.sendline("s2 = an.search(CELL, data=(X, y), trials=6, name='second', "
                       "storage=':memory:')")
        child.expect(_prompt(4))
        child.expect(r"second: done \|[^\r\n]*", timeout=60)
        at_prompt = _ANSI.sub("", child.before)
        assert "second: running" not in at_prompt.split("In [4]:")[-1]
        child.sendline("1 + 1")
        child.expect(_out(4, "2"))
    finally:
        child.sendline("exit")
        child.close(force=True)


def test_old_runs_keep_no_models_past_the_latest_n(cancer, aimauto_dir, monkeypatch):
    """Each run of a name is a study with its models folder; only the latest
    ``AIMAUTO_KEEP_RUNS`` keep theirs, the studies all stay listed."""
    from aimauto_nb.storage import default as default_storage

    monkeypatch.setenv("AIMAUTO_KEEP_RUNS", "2")
    clock = itertools.count(1)
    monkeypatch.setattr(default_storage, "_now",
                        lambda: datetime.datetime(2026, 1, 1, 12, 0, next(clock)))
    runs = [an.search(TREE_CELL, data=cancer, trials=2, display=False, name="bounded",
                      warm_start=False).wait() for _ in range(4)]
    other = an.search(TREE_CELL, data=cancer, trials=2, display=False, name="other",
                      warm_start=False).wait()
    models = aimauto_dir / "models"
    kept = sorted(p.name for p in models.iterdir() if p.name.startswith("bounded-"))
    assert kept == [r.study_name for r in runs[-2:]]
    assert (models / other.study_name).is_dir()  # other names are not touched
    assert all(any(p.iterdir()) for p in models.iterdir())  # the kept ones hold their models
    assert sum(s.name == "bounded" for s in an.studies()) == 4


def test_keep_runs_setting(monkeypatch):
    from aimauto_nb.storage.models import KEEP_RUNS, keep_runs

    monkeypatch.delenv("AIMAUTO_KEEP_RUNS", raising=False)
    assert keep_runs() == KEEP_RUNS
    monkeypatch.setenv("AIMAUTO_KEEP_RUNS", "0")
    assert keep_runs() == 0
    monkeypatch.setenv("AIMAUTO_KEEP_RUNS", "many")
    with pytest.raises(ValueError, match="AIMAUTO_KEEP_RUNS"):
        keep_runs()
