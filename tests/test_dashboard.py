"""optuna-dashboard served from the process on 127.0.0.1: its studies API shows the search's
study with the metric names; stop() frees the port. And the magics that reach it."""

import json
import time
import urllib.error
import urllib.request

import pytest

import aimauto_nb as an

from .conftest import TREE_CELL

pytest.importorskip("optuna_dashboard")


def _get(url, token=None):
    if token is not None:
        url += ("&" if "?" in url else "?") + f"token={token}"
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _api(d):
    return f"http://127.0.0.1:{d.port}/api"


def _study(d, study_name):
    listed = _get(f"{_api(d)}/studies", d.token)["study_summaries"]
    (entry,) = [s for s in listed if s["study_name"] == study_name]
    return entry, _get(f"{_api(d)}/studies/{entry['study_id']}", d.token)


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
        assert d.study_url.endswith(f"/dashboard/studies/{entry['study_id']}?token={d.token}")
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


def _status(url, method="GET", host=None, cookie=None, body=None):
    """The HTTP status of one request (refusals included)."""
    req = urllib.request.Request(url, method=method, data=body)
    if host is not None:
        req.add_header("Host", host)
    if cookie is not None:
        req.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_dashboard_refuses_no_token_foreign_host_and_writes_while_a_search_runs(cancer):
    slow = "import time\ntime.sleep(0.2)\n" + TREE_CELL
    s = an.search(slow, data=cancer, trials=200, display=False)
    d = s.dashboard()
    try:
        while not s.trials:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{d.port}"
        sid = s.study._study_id
        tok = f"token={d.token}"
        assert _status(f"{base}/api/studies")[0] == 403
        assert _status(f"{base}/api/studies?token=wrong")[0] == 403
        assert _status(f"{base}/api/studies?{tok}")[0] == 200
        assert _status(f"{base}/api/studies?{tok}", host="evil.example:80")[0] == 400
        assert _status(f"{base}/api/studies?{tok}", host=f"localhost:{d.port}")[0] == 200
        # the page link sets a cookie that the dashboard's own requests then carry
        status, headers, _ = _status(d.study_url)
        assert status == 200 and d.token in headers["Set-Cookie"]
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        assert _status(f"{base}/api/studies", cookie=cookie)[0] == 200
        # read-only: neither deleting the study nor telling a running trial goes through
        assert _status(f"{base}/api/studies/{sid}?{tok}", "DELETE", body=b"{}")[0] == 403
        trial_id = s.study.get_trials(deepcopy=False)[0]._trial_id
        tell = json.dumps({"state": "Complete", "values": [0.0]}).encode()
        assert _status(f"{base}/api/trials/{trial_id}/tell?{tok}", "POST", body=tell)[0] == 403
        assert s.running and an.studies()  # the study is still there
    finally:
        s.stop()
        s.wait(30)
        d.stop()
    w = s.dashboard(writable=True)
    try:
        note = json.dumps({"version": 0, "body": "hello"}).encode()
        status = _status(f"http://127.0.0.1:{w.port}/api/studies/{sid}/note?token={w.token}",
                         "PUT", body=note)[0]
        assert w.writable and status != 403
    finally:
        w.stop()


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
