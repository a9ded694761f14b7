"""Nothing lost, nothing stuck: dead workers, two kernels on one study, trials that write
to the data, torn and corrupt storage, trials that will not stop, a killed kernel."""

import os
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import optuna
import psutil
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

import aimauto_nb as an
from aimauto_nb.core.driver import SearchError
from aimauto_nb.storage import lease as study_mod
from aimauto_nb.storage import urls as url_mod

from .conftest import TREE_CELL
from .kernel import Kernel

SCORE = "import time\nx = hp.float(0.0, 1.0)\ntime.sleep(0.3)\nscore = x\n"


def _zombies() -> list[int]:
    return [p.pid for p in psutil.Process().children(recursive=True)
            if p.status() == psutil.STATUS_ZOMBIE]


# ------------------------------------------------------------- 1. a worker process dies


@pytest.mark.slow
def test_a_dead_process_worker_fails_its_trial_only(tmp_path):
    cell = textwrap.dedent("""
        import ctypes, os, signal
        a = hp.int(0, 3)
        if a == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        if a == 1:
            ctypes.string_at(0)  # segfault
        score = a
    """)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    s = an.search(cell, metrics="v:max", strategy="grid", executor="process", jobs=2,
                  storage=url, display=False).wait(120)
    assert s.state == "done", s.status_line()
    errors = {r.params["a"]: r.error for r in s.trials if r.state == "failed"}
    assert errors == {0: "worker died: signal 9 (SIGKILL)", 1: "worker died: signal 11 (SIGSEGV)"}
    assert s.counts()["complete"] == 2 and s.counts()["running"] == 0
    stored = optuna.load_study(study_name="search", storage=url).get_trials()
    assert not [t for t in stored if t.state == optuna.trial.TrialState.RUNNING]
    time.sleep(0.5)
    assert not _zombies()


# --------------------------------------------------------- 2. two kernels, one study

_RESUMER = """
import json, sys, time
import optuna
import aimauto_nb as an
while {wait}:  # the second kernel resumes while the first has a trial running
    try:
        st = optuna.load_study(study_name="k8", storage={url!r})
        if any(t.state.name == "RUNNING" for t in st.get_trials()):
            break
    except KeyError:
        pass
    time.sleep(0.05)
s = an.search({cell!r}, metrics="v:max", trials={trials}, storage={url!r}, name="k8",
              resume=True, display=False, seed={seed})
s.wait()
print(json.dumps({{"launched": s.launched, "state": s.state}}))
"""


@pytest.mark.slow
def test_two_processes_resuming_one_study_share_it_without_losing_a_trial(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))

    def start(trials, seed, wait):
        code = _RESUMER.format(cell=SCORE, trials=trials, url=url, seed=seed, wait=wait)
        return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)

    a = start(10, 0, False)
    b = start(4, 1, True)
    outs = [p.communicate(timeout=120) for p in (a, b)]
    assert a.returncode == 0 and b.returncode == 0, outs
    trials = optuna.load_study(study_name="k8", storage=url).get_trials()
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") == 14 and len(trials) == 14, [
        (t.number, t.state.name, t.user_attrs.get("aimauto_nb.error")) for t in trials]
    assert len({t.number for t in trials}) == 14


def _running_trial(url, owner=None, seen=None):
    study = optuna.load_study(study_name="search", storage=url)
    t = study.ask()
    t.suggest_int("max_depth", 1, 8)
    t.suggest_categorical("criterion", ["gini", "entropy"])
    if owner is not None:
        t.set_user_attr(study_mod.OWNER_ATTR, owner)
        study.set_user_attr("aimauto_nb.lease." + owner, seen)
    return t


def test_only_trials_of_a_gone_owner_are_stale(tmp_path, cancer):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    an.search(TREE_CELL, data=cancer, trials=1, storage=url, display=False).wait()
    gone = _running_trial(url, "host:1:dead", time.time() - study_mod.LEASE_GRACE - 5)
    live = _running_trial(url, "host:2:live", time.time())
    s = an.search(TREE_CELL, data=cancer, trials=1, storage=url, resume=True,
                  display=False).wait(60)
    recs = {r.number: r for r in s.trials}
    assert recs[gone.number].state == "failed" and "interrupted" in recs[gone.number].error
    assert recs[live.number].state == "running"  # another kernel's: left alone
    assert recs[gone.number + 2].params == gone.params  # the dead owner's trial is retried


# ------------------------------------------------- 3. a thread trial writes to the data


def test_a_thread_trial_cannot_change_the_notebooks_data(tmp_path):
    with Kernel("%load_ext aimauto_nb\nimport numpy as np\nX = np.arange(60.0).reshape(20, 3)"
                "\ny = np.arange(20) % 2\ntotal = X.sum()") as k:
        cell = "d = hp.int(1, 3)\nX[:] = 0\nX.sort(axis=0)\nscore = d\n"
        ex = k.run("%%aimsearch --trials 3 --metrics v:max --quiet --wait --name m\n" + cell)
        assert not ex.ok and "all 3 trials of this search failed" in ex.error["evalue"]
        assert "read-only" in ex.error["evalue"] and "X.copy()" in ex.error["evalue"]
        out = k.run("print(X.sum() == total, X.flags.writeable)", check=True).stdout.split()
        assert out == ["True", "True"]
        ok = k.run("%%aimsearch --data X y --trials 2 --quiet --wait --name m2\n"
                   "from sklearn.tree import DecisionTreeClassifier\nX = X.copy()\nX[:, 0] = 0\n"
                   "model = DecisionTreeClassifier(max_depth=hp.int(1, 3))\n")
        assert ok.ok, ok.error
        assert k.run("print(X.sum() == total)", check=True).stdout.strip() == "True"
        # 5. in a notebook, corrupt storage is one line naming the file
        db = tmp_path / "junk.db"
        db.write_bytes(np.random.default_rng(0).bytes(4096))
        ex = k.run(f"%%aimsearch --trials 1 --metrics v:max --quiet --storage sqlite:///{db}\n"
                   + SCORE)
        assert not ex.ok and ex.error["ename"] == "UsageError"
        assert str(db) in ex.error["evalue"] and "\n" not in ex.error["evalue"]


def test_pandas_data_and_the_search_data_stay_as_they_were(cancer):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(cancer[0][:, :4], columns=list("abcd"))
    y = cancer[1]
    before = df.copy()
    cell = textwrap.dedent("""
        from sklearn.tree import DecisionTreeClassifier
        df.iloc[:, 0] = 0.0
        model = DecisionTreeClassifier(max_depth=hp.int(1, 4), random_state=0)
    """)
    s = an.search(cell, data=(df, y), trials=3, namespace={"df": df}, display=False).wait(60)
    assert s.counts()["complete"] == 3
    pd.testing.assert_frame_equal(df, before)


# ------------------------------------------------------------------ 4. a torn journal


def test_a_torn_journal_tail_is_set_aside_and_the_resume_works(tmp_path, cancer):
    path = tmp_path / "j.log"
    url = f"journal:///{path}"
    an.search(TREE_CELL, data=cancer, trials=3, storage=url, name="j", display=False).wait()
    whole = path.read_bytes()
    path.write_bytes(whole[:-25])  # a kill in the middle of a write
    with pytest.warns(UserWarning, match="torn"):
        s = an.search(TREE_CELL, data=cancer, trials=2, storage=url, name="j", resume=True,
                      display=False).wait(60)
    backups = list(tmp_path.glob("j.log.torn-*"))
    torn = whole[:-25]
    assert len(backups) == 1 and backups[0].read_bytes() == torn[torn.rfind(b"\n") + 1:]
    assert s.state == "done" and s.counts()["complete"] >= 4
    plain = optuna.load_study(study_name="j", storage=JournalStorage(JournalFileBackend(str(path))))
    assert len(plain.trials) == len(s.trials)
    again = an.search(TREE_CELL, data=cancer, trials=1, storage=url, name="j", resume=True,
                      display=False).wait(60)
    assert again.counts()["complete"] >= 5


# ------------------------------------------------------------- 5. corrupt storage named


def test_corrupt_or_unknown_storage_is_one_line_naming_it(tmp_path):
    db = tmp_path / "junk.db"
    db.write_bytes(np.random.default_rng(0).bytes(4096))
    log = tmp_path / "junk.log"
    log.write_bytes(b"\xff\xfe garbage\n" + np.random.default_rng(1).bytes(512))
    for url, what in [(f"sqlite:///{db}", f"{db} is not a readable SQLite study database"),
                      (f"journal:///{log}", f"{log} is not a readable Optuna journal"),
                      ("foo://x", "unknown database kind 'foo'")]:
        with pytest.raises(ValueError) as info:
            an.search(SCORE, metrics="v:max", trials=1, storage=url, display=False)
        assert what in str(info.value) and "\n" not in str(info.value), str(info.value)


# ----------------------------------------------------------- 6. a stuck thread trial
# 7. a killed kernel leaves no worker


@pytest.mark.slow
def test_stuck_thread_trials_stop_and_a_killed_kernel_leaves_no_worker():
    with Kernel("%load_ext aimauto_nb\nimport os, time") as k:
        k.run("%%aimsearch --trials 2 --metrics v:max --quiet --name st\n"
              "import time\nx = hp.int(0, 1)\nwhile True:\n    time.sleep(0.05)\nscore = x\n",
              check=True)
        time.sleep(1)
        k.run("%aimstop st", check=True)
        t0 = time.monotonic()
        out = k.run("st.wait(20); print(st.state); print(st.trials[0].error)", timeout=30,
                    check=True).stdout
        assert time.monotonic() - t0 < 10 and out.startswith("stopped"), out
        assert "a thread cannot be stopped" in out and "executor='process'" in out
        # past its timeout a pure-Python loop is interrupted: no thread keeps spinning
        k.run("%%aimsearch --trials 2 --metrics v:max --quiet --wait --trial-timeout 1 --name bt\n"
              "x = hp.int(0, 1)\nwhile True:\n    pass\nscore = x\n", timeout=60)
        busy = k.run("c0 = time.process_time(); time.sleep(1.5); "
                     "print(time.process_time() - c0)", check=True).stdout
        assert float(busy) < 0.5, f"the kernel still spins: {busy} s of CPU in 1.5 s"

        kpid = int(k.run("print(os.getpid())", check=True).stdout)
        k.run("%%aimsearch --executor process --jobs 2 --trials 50 --metrics v:max --quiet "
              "--name pk\nimport time\nx = hp.float(0, 1)\ntime.sleep(0.5)\nscore = x\n",
              check=True)
        kernel = psutil.Process(kpid)
        deadline = time.monotonic() + 60
        workers = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = [p for p in kernel.children(recursive=True)
                       if "loky" in " ".join(p.cmdline())]
            time.sleep(0.3)
        assert len(workers) >= 2
        everyone = kernel.children(recursive=True)
        kernel.kill()
        gone, alive = psutil.wait_procs(everyone, timeout=10)
        alive = [p for p in alive if _running(p)]  # exited children nobody reaped are zombies
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
        k.kc.stop_channels()
        k.km.cleanup_resources()
        k.close = lambda: None  # the kernel is already dead


# --------------------------------------------------------------- 8. the smaller ones


def test_a_relative_journal_url_is_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    an.search(SCORE, metrics="v:max", trials=1, storage="journal:///rel.log", display=False).wait()
    assert (tmp_path / "rel.log").is_file()
    assert url_mod.journal_path("journal:////abs/s.log") == "/abs/s.log"
    assert url_mod.journal_path("journal:s.log") == "s.log"


@pytest.mark.parametrize("name", ["../out", "a/b", "..", "/abs"])
def test_names_cannot_escape_the_models_folder(tmp_path, name):
    with pytest.raises(ValueError, match="name"):
        an.search(SCORE, metrics="v:max", trials=1, storage=f"sqlite:///{tmp_path / 'n.db'}",
                  name=name, display=False)


def test_a_deleted_model_file_is_named_and_the_model_refit(tmp_path, cancer):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    first = an.search(TREE_CELL, data=cancer, trials=4, storage=url, seed=0, display=False).wait()
    best = first.best
    shutil.rmtree(tmp_path / "m.db.models")
    s = an.search(TREE_CELL, data=cancer, trials=1, storage=url, resume=True, display=False)
    s.stop()
    s.wait(60)
    assert s.best.number == best.number or s.best.values == best.values
    with pytest.warns(UserWarning, match=f"trial {s.best.number}'s model.*m.db.models.*missing.*refit"):
        m = s.best_model
    assert m.max_depth == s.best.params["max_depth"] and hasattr(m, "tree_")


def test_every_trial_failing_ends_failed_even_with_few_trials():
    cell = "a = hp.int(0, 2)\nraise ValueError(f'bad {a}')\nscore = a\n"
    s = an.search(cell, metrics="v:max", trials=3, strategy="grid", display=False)
    with pytest.raises(SearchError, match="(?s)all 3 trials of this search failed.*ValueError: bad"):
        s.wait(60)
    assert s.state == "failed"


def test_nan_in_x_reaches_the_user(cancer):
    X = cancer[0].copy()
    X[5, 3] = np.nan
    cell = "from sklearn.svm import SVC\nmodel = SVC(C=hp.float(0.1, 10, log=True))\n"
    with pytest.raises(SearchError, match="(?s)Input X contains NaN"):
        an.search(cell, data=(X, cancer[1]), trials=3, display=False).wait(60)


def test_metric_and_task_mismatch_is_refused_before_work(diabetes):
    with pytest.raises(ValueError, match="roc_auc"):
        an.search(TREE_CELL, data=diabetes, metrics="roc_auc", trials=1, display=False)


def test_a_running_name_is_refused_by_the_api():
    s = an.search(SCORE, metrics="v:max", trials=20, name="dup", display=False)
    try:
        with pytest.raises(ValueError, match="'dup' is still running"):
            an.search(SCORE, metrics="v:max", trials=1, name="dup", display=False)
    finally:
        s.stop()
        s.wait(30)
    an.search(SCORE, metrics="v:max", trials=1, name="dup", display=False).wait(30)


def _running(p) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
