"""optuna-dashboard served from the process on 127.0.0.1: its studies API shows the search's
study with the metric names; stop() frees the port. And the magics that reach it."""

import json
import urllib.error
import urllib.request

import pytest

import aimauto_nb as an

from .conftest import TREE_CELL

pytest.importorskip("optuna_dashboard")


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _api(d):
    return f"http://127.0.0.1:{d.port}/api"


def _study(d, study_name):
    listed = _get(f"{_api(d)}/studies")["study_summaries"]
    (entry,) = [s for s in listed if s["study_name"] == study_name]
    return entry, _get(f"{_api(d)}/studies/{entry['study_id']}")


def _refused(url):
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=3)


def test_search_dashboard_shows_the_study_with_its_metric_names(cancer):
    s = an.search(TREE_CELL, data=cancer, trials=3, metrics="accuracy,size", seed=0,
                  display=False).wait()
    d = s.dashboard()
    try:
        assert d.host == "127.0.0.1" and d.running and s.dashboard() is d  # one per storage
        entry, detail = _study(d, s.study_name)
        assert entry["directions"] == ["maximize", "minimize"]
        assert detail["objective_names"] == ["accuracy", "size"]
        assert len(detail["trials"]) == 3
        assert detail["user_attrs"]  # the search's attributes: name, metrics, cell
        assert d.study_url.endswith(f"/dashboard/studies/{entry['study_id']}")
        html = d._repr_html_()
        assert f'<iframe src="{d.study_url}"' in html and "<a href" in html
        # a later run in the same journal is on the same server
        again = an.search(TREE_CELL, data=cancer, trials=1, metrics="accuracy,size",
                          display=False).wait()
        assert again.dashboard().port == d.port
        _study(d, again.study_name)
    finally:
        assert s.dashboard(stop=True) is None
    assert not d.running
    _refused(f"{_api(d)}/studies")


def test_in_memory_search_and_the_default_journal(cancer):
    s = an.search(TREE_CELL, data=cancer, trials=2, storage=False, display=False).wait()
    d = s.dashboard()
    try:
        _entry, detail = _study(d, "search")
        assert detail["objective_names"] == ["accuracy"]
    finally:
        d.stop()
    kept = an.search(TREE_CELL, data=cancer, trials=1, display=False).wait()
    d = an.dashboard()
    try:
        _study(d, kept.study_name)
    finally:
        an.dashboard(stop=True)
    _refused(f"{_api(d)}/studies")


@pytest.fixture
def shell(cancer):
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "aimauto_nb")
    ip.user_ns.update(X=cancer[0], y=cancer[1])
    yield ip
    ip.run_line_magic("unload_ext", "aimauto_nb")
    for k in ("search", "s2", "X", "y"):
        ip.user_ns.pop(k, None)


def test_aimstatus_all_and_aimdashboard(shell, capsys):
    shell.run_line_magic("aimstatus", "--all")
    assert capsys.readouterr().out.strip() == "no stored searches"
    shell.run_cell_magic("aimsearch", "--data X y --trials 2 --wait --quiet", TREE_CELL)
    shell.run_cell_magic("aimsearch", "--data X y --trials 1 --wait --quiet --name s2", TREE_CELL)
    capsys.readouterr()
    shell.run_line_magic("aimstatus", "--all")
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:2] == ["name", "study"]
    assert [ln.split()[0] for ln in lines[1:]] == ["search", "s2"]
    assert "2/2" in lines[1] and "accuracy=" in lines[1]

    d = shell.run_line_magic("aimdashboard", "s2")
    try:
        _entry, detail = _study(d, shell.user_ns["s2"].study_name)
        assert detail["objective_names"] == ["accuracy"]
        assert shell.run_line_magic("aimdashboard", "") is d  # `search`: the same journal
    finally:
        shell.run_line_magic("aimdashboard", "s2 --stop")
    assert not d.running
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="no search named 'nope'"):
        shell.run_line_magic("aimdashboard", "nope")
