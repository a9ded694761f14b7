"""Stop works while a cell blocks in ``%%aimsearch --wait``: the panel's comms are routed
to a kernel subshell, so the click is handled at once, not after the cell."""

import time

import pytest

from .kernel import Kernel

SLOW = """
import time
from sklearn.tree import DecisionTreeClassifier
time.sleep(0.3)
model = DecisionTreeClassifier(max_depth=hp.int(1, 8), random_state=0)
"""


def _stop_button(messages) -> str | None:
    for m in messages:
        if m["msg_type"] == "comm_open":
            state = m["content"]["data"].get("state", {})
            if state.get("_model_name") == "ButtonModel" and state.get("description") == "Stop":
                return m["content"]["comm_id"]
    return None


@pytest.mark.slow
def test_stop_click_during_wait_ends_the_search():
    with Kernel("%load_ext aimauto_nb\nfrom sklearn.datasets import load_iris\n"
                "X, y = load_iris(return_X_y=True)") as k:
        msg_id = k.send("%%aimsearch --data X y --trials 300 --wait --name s\n" + SLOW)
        button, deadline = None, time.monotonic() + 30
        while button is None and time.monotonic() < deadline:
            msg = k.kc.get_iopub_msg(timeout=30)
            k.stray.append(msg)
            button = _stop_button([msg])
        assert button is not None
        time.sleep(1.0)  # trials are running and the cell blocks
        clicked = time.monotonic()
        k.kc.shell_channel.send(k.kc.session.msg("comm_msg", {
            "comm_id": button, "data": {"method": "custom", "content": {"event": "click"}}}))
        ex = k.wait(msg_id, timeout=60)
        ended = time.monotonic() - clicked
        assert ex.ok
        out = k.run("print(s.state, s.launched, s._driver._stopped_at, s._results.finished_at)",
                    check=True).stdout.split()
        assert out[0] == "stopped" and int(out[1]) < 100
        seen, finished = float(out[2]) - clicked, float(out[3]) - clicked
        print(f"click -> driver saw stop {seen:.2f} s, search ended {finished:.2f} s, "
              f"cell returned {ended:.2f} s")
        assert seen < 1.0 and finished < 2.0  # (the running 0.3 s trial finishes first)
