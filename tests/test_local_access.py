"""Nobody else gets in: the trial channel (JSON, per-trial tokens, a silent client dropped),
the search's own Dask cluster (TLS), file modes under .aimauto/, model files checked before
they are unpickled, and trials that cannot move the kernel's directory or a worker's limits.
The dashboard's refusals are in test_dashboard.py."""

import json
import os
import pickle
import socket
import stat
import struct
import subprocess
import sys
import threading
import time

import optuna
import optuna.distributions as od
import pytest

import aimauto_nb as an
from aimauto_nb.errors import TrialAbandoned
from aimauto_nb.runners.channel import FIRST_REQUEST, Broker, ChannelServer

from .conftest import TREE_CELL


@pytest.fixture
def server():
    study = optuna.create_study()
    broker = Broker(study)
    srv = ChannelServer(broker)
    yield srv, broker, study
    srv.close()


def _live_trial(broker, study):
    trial = study.ask()
    broker.register(trial)
    return trial.number


def _frame(payload: bytes) -> bytes:
    return struct.pack("!I", len(payload)) + payload


def _closed_by_server(sock, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_silent_connections_do_not_delay_trials_and_are_dropped(server):
    srv, broker, study = server
    silent = [socket.create_connection(srv.address) for _ in range(20)]
    trickle = socket.create_connection(srv.address)
    trickle.sendall(b"\x00\x00")  # half a length prefix, then nothing
    number = _live_trial(broker, study)
    channel = srv.channel(number)
    t0 = time.monotonic()
    channel.started(number)
    values = [channel.suggest(number, f"x{i}", od.FloatDistribution(0, 1)) for i in range(20)]
    assert time.monotonic() - t0 < 0.5 and all(0 <= v <= 1 for v in values)
    assert all(_closed_by_server(s, FIRST_REQUEST + 2) for s in silent + [trickle])


def test_only_a_running_trials_own_token_and_operations_are_answered(server, tmp_path):
    srv, broker, study = server
    number = _live_trial(broker, study)
    other = _live_trial(broker, study)
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    def exchange(payload: bytes) -> bool:
        """True when the server answered (rather than dropping the connection)."""
        with socket.create_connection(srv.address) as s:
            s.sendall(_frame(payload))
            s.settimeout(FIRST_REQUEST + 2)
            try:
                return len(s.recv(4)) == 4
            except (ConnectionResetError, TimeoutError):
                return False

    def request(op, num, token, args):
        return json.dumps({"op": op, "number": num, "token": token, "args": args}).encode()

    assert exchange(request("started", number, srv.token(number), []))
    assert not exchange(pickle.dumps(("suggest", Evil())))
    assert not exchange(request("started", other, srv.token(number), []))  # another trial's
    assert not exchange(request("register", number, srv.token(number), []))
    assert not exchange(request("__init__", number, srv.token(number), []))
    assert not marker.exists()
    # the master key is not in what a worker receives
    assert srv._key not in pickle.dumps(srv.channel(number))
    broker.release(number)
    with pytest.raises(TrialAbandoned):
        srv.channel(number).started(number)


def test_dask_scheduler_of_the_search_refuses_other_processes(cancer):
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("cryptography")
    cell = "import time\ntime.sleep(0.3)\n" + TREE_CELL
    s = an.search(cell, data=cancer, trials=40, executor="dask", jobs=1, display=False)
    try:
        deadline = time.monotonic() + 120
        while not s.trials and time.monotonic() < deadline:
            time.sleep(0.1)
        runner_client = next(o for o in _gc_objects(distributed.Client) if o.status == "running")
        address = runner_client.scheduler.address
        assert address.startswith("tls://")
        probe = ("from distributed import Client, Security\n"
                 "for sec in (None, Security.temporary()):\n"
                 "    try:\n"
                 f"        c = Client({address!r}, timeout=5, security=sec)\n"
                 "        print('CONNECTED', c.run(__import__('os').getpid))\n"
                 "    except Exception as e:\n"
                 "        print('REFUSED', type(e).__name__)\n")
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             timeout=90).stdout
        assert out.count("REFUSED") == 2 and "CONNECTED" not in out, out
        scratch = [p for p in os.listdir(os.environ["AIMAUTO_DIR"]) if p.startswith("dask-")]
        assert len(scratch) == 1
    finally:
        s.stop()
        s.wait(120)
    assert not [p for p in os.listdir(os.environ["AIMAUTO_DIR"]) if p.startswith("dask-")]


def _gc_objects(cls):
    import gc

    return [o for o in gc.get_objects() if isinstance(o, cls)]


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_aimauto_folder_is_user_only(cancer, aimauto_dir, monkeypatch):
    folder = aimauto_dir / "fresh" / ".aimauto"
    monkeypatch.setenv("AIMAUTO_DIR", str(folder))
    old = os.umask(0o022)
    try:
        s = an.search(TREE_CELL, data=cancer, trials=3, display=False).wait()
    finally:
        os.umask(old)
    models = folder / "models" / s.study_name
    assert _mode(folder) == 0o700 and _mode(folder / "models") == 0o700
    assert _mode(models) == 0o700
    assert _mode(folder / "studies") == 0o700
    assert _mode(folder / "studies" / f"{s.study_name}.log") == 0o600
    files = list(models.iterdir())
    assert files and all(_mode(f) == 0o600 for f in files)


def test_a_tampered_model_file_is_refused_and_refit(cancer, tmp_path):
    s = an.search(TREE_CELL, data=cancer, trials=4, seed=0, display=False).wait()
    best = s.best.number
    path = s._kept.store.path(best)
    marker = tmp_path / "unpickled"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path.write_bytes(pickle.dumps(Evil()))
    s._kept._models.clear()  # as after a restart: only the file is left
    with pytest.warns(UserWarning, match="does not match the checksum") as caught:
        model = s.best_model
    assert not marker.exists()
    assert len(str(caught[0].message).splitlines()) == 1
    assert model.get_params()["max_depth"] == s.best.params["max_depth"]
    assert hasattr(model, "tree_")  # refit from the trial's parameters


def test_chdir_in_a_thread_trial_does_not_move_the_kernel(cancer, tmp_path):
    before = os.getcwd()
    cell = f"import os\nos.chdir({str(tmp_path)!r})\n" + TREE_CELL
    s = an.search(cell, data=cancer, trials=3, display=False).wait()
    assert s.counts()["complete"] == 3
    assert os.getcwd() == before


@pytest.mark.skipif(sys.platform == "win32", reason="no setrlimit")
def test_a_process_trials_setrlimit_does_not_reach_the_next_trial():
    cell = """
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (soft - 1, hard))
score = soft + hp.float(0, 1e-9)
"""
    s = an.search(cell, trials=3, executor="process", jobs=1, display=False).wait(120)
    seen = {int(r.values["score"]) for r in s.trials}
    assert s.counts()["complete"] == 3 and len(seen) == 1, seen


def test_threads_of_the_channel_end_with_it(server):
    srv, _broker, _study = server
    before = threading.active_count()
    conns = [socket.create_connection(srv.address) for _ in range(5)]
    srv.close()
    time.sleep(0.3)
    assert threading.active_count() <= before + 1
    for c in conns:
        c.close()
