"""The magics and the live panel in a real kernel (jupyter_client), as a notebook uses them."""

import base64
import time

import pytest

from .kernel import Kernel, comm_traffic

STARTUP = """
%load_ext aimauto_nb
from sklearn.datasets import load_breast_cancer
X, y = load_breast_cancer(return_X_y=True)
"""

SLOW_CELL = """
import time
pause = hp.float(0.8, 1.0)
time.sleep(pause)
score = hp.float(0.0, 1.0)
"""

TREE = """
import time
from sklearn.tree import DecisionTreeClassifier
time.sleep(0.05)
model = DecisionTreeClassifier(max_depth=hp.int(1, 8), random_state=0)
"""


@pytest.fixture(scope="module")
def kernel():
    with Kernel(STARTUP) as k:
        yield k


def _widget_updates(messages):
    return [m for m in messages if m["msg_type"] == "comm_msg"
            and m["content"]["data"].get("method") == "update"]


def test_magic_returns_before_the_first_trial_ends(kernel):
    ex = kernel.run("%%aimsearch --trials 3 --quiet --name s1\n" + SLOW_CELL, check=True)
    assert ex.seconds < 0.5, f"control came back after {ex.seconds:.2f}s"
    probe = kernel.run("print(s1.state, s1.counts()['complete'])", check=True)
    assert probe.stdout.split() == ["running", "0"]
    kernel.run("s1.wait(30); print(s1.state, s1.counts()['complete'])", check=True)


def test_panel_updates_arrive_from_the_background_thread(kernel):
    ex = kernel.run("%%aimsearch --data X y --trials 8 --metrics accuracy,size --name s2\n" + TREE,
                    check=True)
    displayed = [m for m in ex.messages if m["msg_type"] == "display_data"]
    assert len(displayed) == 2, "the panel and its snapshot placeholder were not displayed"
    assert "application/vnd.jupyter.widget-view+json" in displayed[0]["content"]["data"]
    assert "aimauto-static" in displayed[1]["content"]["data"]["text/html"]
    display_id = displayed[1]["content"]["transient"]["display_id"]

    def final(msg):
        return (msg["msg_type"] == "update_display_data"
                and msg["content"]["transient"]["display_id"] == display_id)

    later = kernel.drain(30, until=final)
    updates = _widget_updates(later)
    assert updates, "no widget updates arrived after the cell returned"
    # Sent from the driver's thread, yet attributed to the magic's cell.
    assert {m["parent_header"]["msg_id"] for m in updates} == {ex.msg_id}
    values = [m["content"]["data"]["state"].get("value") for m in updates]
    assert 1.0 in values, "the progress bar never reached the end"
    rows = [m["content"]["data"]["state"]["rows"] for m in updates if "rows" in m["content"]["data"]["state"]]
    assert rows and len(rows[-1]) == 8, "the charts' data were never sent for every trial"
    snapshot = later[-1]
    assert final(snapshot), "no final snapshot of the panel"
    html = snapshot["content"]["data"]["text/html"]
    assert "aimauto-snapshot" in html and "data:image/png;base64," in html
    png = html.split("data:image/png;base64,")[1].split("'")[0]
    assert base64.b64decode(png).startswith(b"\x89PNG")
    assert "aimauto-static" in html and "s2: done" in snapshot["content"]["data"]["text/plain"]
    state = kernel.run("from aimauto_nb.notebook import view_of\nprint(s2.state, len(s2.trials), view_of(s2).renders > 0)", check=True)
    assert state.stdout.split() == ["done", "8", "True"]


def test_aimstop_stops_a_running_search(kernel):
    kernel.run("%%aimsearch --trials 500 --quiet --name s3\n" + SLOW_CELL.replace("0.8, 1.0", "0.1, 0.2"),
               check=True)
    time.sleep(0.5)
    ex = kernel.run("%aimstop s3", check=True)
    assert "stopping s3" in ex.stdout
    done = kernel.run("s3.wait(10); print(s3.state, s3.launched < 500)", check=True)
    assert done.stdout.split() == ["stopped", "True"]
    again = kernel.run("%aimstop s3", check=True)
    assert "already stopped" in again.stdout


def test_aimstatus_prints_one_line(kernel):
    kernel.run("%%aimsearch --data X y --trials 3 --quiet --wait --name s4\n" + TREE, check=True)
    ex = kernel.run("%aimstatus s4", check=True)
    line = ex.stdout.strip()
    assert "\n" not in line
    assert line.startswith("s4: done | 3/3 trials | 3 complete, 0 failed") and "best accuracy=" in line


def test_devices_and_threads_options_reach_the_trials(kernel):
    cell = "x = hp.float(0, 1)\nscore = {'x': x, 'gpu': int(device[-1])}\n"
    kernel.run("%%aimsearch --metrics x:max,gpu:max --trials 4 --devices 2 --threads 1 --quiet "
               "--wait --name s9\n" + cell, check=True)
    ex = kernel.run("%aimstatus s9\nprint(sorted({r.values['gpu'] for r in s9.trials}))", check=True)
    assert "2 jobs × 1 thread · cuda:0, cuda:1" in ex.stdout and "[0.0, 1.0]" in ex.stdout


def test_aimapply_sets_the_next_input(kernel):
    kernel.run("%%aimsearch --data X y --trials 4 --quiet --wait --name s5\n" + TREE, check=True)
    ex = kernel.run("%aimapply s5 --trial 2", check=True)
    payload = ex.reply["content"]["payload"]
    assert len(payload) == 1 and payload[0]["source"] == "set_next_input"
    assert payload[0]["replace"] is False
    expected = kernel.run("print(s5.code(2))", check=True).stdout
    assert payload[0]["text"].strip() == expected.strip()
    assert "hp." not in payload[0]["text"] and "max_depth=" in payload[0]["text"]
    best = kernel.run("%aimapply s5", check=True).reply["content"]["payload"][0]["text"]
    assert best.strip() == kernel.run("print(s5.code())", check=True).stdout.strip()


@pytest.mark.parametrize("line, message", [
    ("--data X nope --trials 2", "--data: no variable named nope"),
    ("--data X y --trials two", "argument --trials: invalid int value: 'two'"),
    ("--data X y", "give a budget"),
    ("--data X y --trials 2 --strategy best", "unknown strategy 'best'"),
    ("--data X y --trials 2 --valid X", "--valid: 'X' is neither a fraction"),
    ("--data X y --trials 2 --metrics accuracy,speed", "speed"),
    ("--data X y --trials 2 --bogus 1", "unrecognized arguments: --bogus 1"),
])
def test_bad_options_are_one_clear_error(kernel, line, message):
    ex = kernel.run(f"%%aimsearch {line}\n" + TREE)
    assert not ex.ok
    assert ex.error["ename"] == "UsageError"
    assert message in ex.error["evalue"]
    assert not any("aimauto_nb" in t for t in ex.error["traceback"])


def test_cell_errors_name_the_line(kernel):
    cell = "from sklearn.tree import DecisionTreeClassifier\nmodel = DecisionTreeClassifier(hp.int(1, 3))\n"
    ex = kernel.run("%%aimsearch --data X y --trials 2\n" + cell)
    assert ex.error["ename"] == "UsageError"
    assert "line 2" in ex.error["evalue"]


def test_interrupt_during_wait_stops_the_search(kernel):
    msg_id = kernel.send("%%aimsearch --trials 200 --wait --quiet --name s6\n"
                         + SLOW_CELL.replace("0.8, 1.0", "0.2, 0.3"))
    time.sleep(1.5)
    kernel.km.interrupt_kernel()
    ex = kernel.wait(msg_id, timeout=30)
    assert ex.error is None  # one line, not a traceback
    (line,) = ex.stdout.strip().splitlines()
    assert line.startswith("interrupted: s6: stopped |") and "stopped by the user" in line
    state = kernel.run("s6.wait(10); print(s6.state, s6.launched < 200)", check=True)
    assert state.stdout.split() == ["stopped", "True"]


def test_interrupt_of_another_cell_leaves_the_search_running(kernel):
    kernel.run("%%aimsearch --trials 4 --quiet --name s7\n" + SLOW_CELL.replace("0.8, 1.0", "0.3, 0.4"),
               check=True)
    msg_id = kernel.send("import time; time.sleep(20)")
    time.sleep(0.5)
    kernel.km.interrupt_kernel()
    assert kernel.wait(msg_id, timeout=30).error["ename"] == "KeyboardInterrupt"
    state = kernel.run("print(s7.state); s7.wait(30); print(s7.state, len(s7.trials))", check=True)
    assert state.stdout.split() == ["running", "done", "4"]


def test_process_executor_defaults_to_cores_minus_one(kernel):
    ex = kernel.run("%%aimsearch --data X y --trials 2 --executor process --quiet --wait --name s8\n"
                    + TREE + "\nimport os\n", check=True)
    jobs = kernel.run("import os; print(s8.jobs, max(1, os.cpu_count() - 1), s8.state)", check=True)
    a, b, state = jobs.stdout.split()
    assert a == b and state == "done", ex.stdout


def test_aimcompress_shrinks_a_notebook_model(kernel):
    kernel.run("from sklearn.ensemble import RandomForestClassifier\n"
               "rf = RandomForestClassifier(n_estimators=40, random_state=0).fit(X, y)", check=True)
    ex = kernel.run("%aimcompress rf --prune 0.5 --data X y", check=True)
    result = next(m for m in ex.messages if m["msg_type"] == "execute_result")
    assert "size" in result["content"]["data"]["text/html"]
    assert kernel.run("print(len(rf.estimators_))", check=True).stdout.strip() == "20"
    bad = kernel.run("%aimcompress rf --prune lots")
    assert bad.error["ename"] == "UsageError" and "--prune: 'lots'" in bad.error["evalue"]
    missing = kernel.run("%aimcompress nothing_here --prune 0.5")
    assert "no variable named nothing_here" in missing.error["evalue"]


def test_unload_removes_the_magics(kernel):
    kernel.run("%unload_ext aimauto_nb", check=True)
    ex = kernel.run("%aimstatus s4")
    assert not ex.ok and "aimstatus" in ex.error["evalue"]
    kernel.run("%load_ext aimauto_nb", check=True)
    assert kernel.run("%aimstatus s4", check=True).stdout.startswith("s4: done")


def test_panel_traffic_of_1000_instant_trials_is_under_2_mb(kernel):
    """Each update sends what changed (new rows, the front, the best), not every row again."""
    cell = "a = hp.float(0, 1)\nb = hp.float(0, 1)\nscore = {'a': a, 'b': b}\n"
    kernel.stray.clear()
    ex = kernel.run("%%aimsearch --trials 1000 --strategy random --metrics a:max,b:min "
                    "--name big\n" + cell, check=True)
    deadline = time.monotonic() + 240
    while "True" in kernel.run("print(big.running)", check=True).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    kernel.drain(2.0)
    size, count = comm_traffic(ex.messages + kernel.stray, ex.msg_id)
    data = [m["content"]["data"] for m in ex.messages + kernel.stray
            if m["msg_type"] == "comm_msg" and m["parent_header"].get("msg_id") == ex.msg_id]
    sent = {r[0] for d in data if d.get("method") == "custom" for r in d["content"]["rows"]}
    sent |= {r[0] for d in data if d.get("method") == "update" for r in d["state"].get("rows", [])}
    assert count and size < 2_000_000, f"{size / 1e6:.2f} MB in {count} messages"
    assert len(sent) == 1000, "not every row reached the front end"
