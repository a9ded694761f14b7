"""Dask executor (a Client, an address, or "dask") and early stopping on every executor."""

import time

import psutil
import pytest

import aimauto_nb as an
from aimauto_nb.runners.dask_runner import local_cluster

distributed = pytest.importorskip("distributed")

REPORTING = """
import time
quality = hp.float(0.0, 1.0)
for step in range(1, 11):
    report(quality * step, step)
    time.sleep(0.005)
score = quality * 10
"""


@pytest.fixture(scope="module")
def cluster():
    # a user's cluster, reached by a Client and by its address (plain TCP)
    with local_cluster(2, secure=False) as c, distributed.Client(c) as client:
        yield c, client


def _children():
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_dask_client_runs_notebook_defined_functions(cluster, cancer):
    _, client = cluster
    ns = {"__name__": "__main__"}
    exec("def depth_of(d):\n    return d + 1\n", ns)  # defined "in the notebook"
    cell = """
from sklearn.tree import DecisionTreeClassifier
depth = hp.int(1, 6)
model = DecisionTreeClassifier(max_depth=depth_of(depth), random_state=0)
"""
    s = an.search(cell, data=cancer, trials=8, executor=client, namespace=ns, display=False).wait()
    assert s.counts()["complete"] == 8, [r.error for r in s.trials]
    assert s.jobs == 2  # the cluster's threads
    assert s.best_model.max_depth == s.best_params["depth"] + 1


def test_dask_data_is_scattered_once(cluster, cancer, monkeypatch):
    _, client = cluster
    import cloudpickle

    from aimauto_nb.runners import dask_runner

    sizes = []
    submit = dask_runner.DaskRunner.submit

    def spy(self, number):
        fut = submit(self, number)
        sizes.append(len(cloudpickle.dumps(self._spec.program)))
        return fut

    scattered = []
    real_scatter = client.scatter

    def scatter(obj, **kw):
        scattered.append(len(obj))
        return real_scatter(obj, **kw)

    monkeypatch.setattr(dask_runner.DaskRunner, "submit", spy)
    monkeypatch.setattr(client, "scatter", scatter)
    s = an.search("from sklearn.tree import DecisionTreeClassifier\n"
                  "model = DecisionTreeClassifier(max_depth=hp.int(1, 6))",
                  data=cancer, trials=6, executor=client, display=False).wait()
    assert s.counts()["complete"] == 6
    data_bytes = cancer[0].nbytes
    assert len(scattered) == 2 and max(scattered) > data_bytes  # data + namespace, once
    assert max(sizes) < data_bytes / 10  # each task carries the program, not the data


def test_dask_address_string(cluster, cancer):
    c, _ = cluster
    s = an.search("from sklearn.tree import DecisionTreeClassifier\n"
                  "model = DecisionTreeClassifier(max_depth=hp.int(1, 6))",
                  data=cancer, trials=4, executor=c.scheduler_address, display=False).wait()
    assert s.counts()["complete"] == 4


def test_dask_local_cluster_is_owned_and_closed(cancer):
    before = _children()
    s = an.search("from sklearn.tree import DecisionTreeClassifier\n"
                  "model = DecisionTreeClassifier(max_depth=hp.int(1, 6))",
                  data=cancer, trials=4, executor="dask", jobs=2, display=False).wait()
    assert s.counts()["complete"] == 4 and s.jobs == 2
    leftover = {p for p in _children() - before if psutil.pid_exists(p)
                and psutil.Process(p).status() != psutil.STATUS_ZOMBIE}
    assert not leftover, "the search's LocalCluster was not closed"


def test_dask_worker_death_fails_that_trial_only(cancer):
    cell = """
import os
from sklearn.tree import DecisionTreeClassifier
crash = hp.int(0, 3)
if crash == 0:
    os._exit(1)
model = DecisionTreeClassifier(max_depth=crash + 1)
"""
    s = an.search(cell, data=cancer, strategy="grid", executor="dask", jobs=2,
                  display=False).wait(300)
    assert s.state == "done", s.status_line()  # restarting workers is slow on a loaded machine
    failed = [r for r in s.trials if r.state == "failed"]
    assert len(failed) == 1 and failed[0].params["crash"] == 0
    # Dask ends the dead worker's task with KilledWorker, or (depending on when the scheduler
    # notices the death) cancels its future: either way that trial alone fails
    assert "KilledWorker" in failed[0].error or "CancelledError" in failed[0].error, failed[0].error
    assert s.counts()["complete"] == 3


def test_lost_scheduler_stops_the_search_and_keeps_its_trials(cancer):
    cell = "import time\npause = hp.float(0.2, 0.3)\ntime.sleep(pause)\nscore = pause\n"
    cluster = local_cluster(1)
    client = distributed.Client(cluster)
    try:
        s = an.search(cell, trials=500, executor=client, display=False)
        deadline = time.monotonic() + 60
        while s.counts()["complete"] < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        cluster.close()
        with pytest.raises(an.SearchError, match="Dask scheduler"):
            s.wait(120)
        assert s.state == "failed" and s.counts()["complete"] >= 2
        assert s.best is not None
    finally:
        client.close()
        cluster.close()


@pytest.mark.parametrize("executor", ["thread", "process", "dask-client"])
def test_pruning_works_on_every_executor(executor, cluster):
    ex = cluster[1] if executor == "dask-client" else executor
    s = an.search(REPORTING, trials=30, pruner="median", executor=ex, jobs=2, seed=0,
                  display=False).wait(120)
    c = s.counts()
    assert c["pruned"] >= 3, c
    assert c["complete"] + c["pruned"] == 30
    for r in s.trials:
        assert r.intermediate, f"trial {r.number} has no intermediate values"
        if r.state == "complete":
            assert sorted(r.intermediate) == list(range(1, 11))
    assert any(max(r.intermediate) < 10 for r in s.trials if r.state == "pruned")


def test_multi_objective_pruning_keeps_pruned_trials_off_the_front():
    cell = REPORTING.replace("score = quality * 10",
                             "score = {'quality': quality * 10, 'cost': hp.float(0, 1)}")
    s = an.search(cell, metrics="quality:max,cost:min", trials=30, pruner="median", seed=2,
                  display=False).wait()
    assert s.counts()["pruned"] >= 3
    assert all(r.state == "complete" for r in s.pareto)


LGBM = """
from lightgbm import LGBMClassifier
model = LGBMClassifier(n_estimators=hp.int(20, 120), learning_rate=hp.float(0.001, 0.3, log=True),
                       num_leaves=hp.int(4, 32), n_jobs=1, verbose=-1)
"""


def test_lightgbm_reports_rounds_without_user_code(cancer):
    pytest.importorskip("lightgbm")
    s = an.search(LGBM, data=cancer, trials=20, pruner="auto", seed=0, display=False).wait()
    c = s.counts()
    assert c["pruned"] >= 1 and c["complete"] >= 1, c
    for r in s.trials:
        if r.state == "complete":
            steps = sorted(r.intermediate)
            assert steps[-1] == r.params["n_estimators"] and steps[0] >= 1
            assert all(0 < b - a <= 64 for a, b in zip(steps, steps[1:]))
            # reports are LightGBM's own validation log-loss, negated (higher is better)
            assert all(v < 0 for v in r.intermediate.values())
    plain = an.search(LGBM, data=cancer, trials=2, seed=0, display=False).wait()
    assert all(not r.intermediate for r in plain.trials)


@pytest.mark.parametrize("estimator, budget", [
    ("HistGradientBoostingClassifier(max_iter=hp.int(16, 64), early_stopping=False)", "max_iter"),
    ("RandomForestClassifier(n_estimators=hp.int(8, 40), random_state=0)", "n_estimators"),
])
def test_sklearn_warm_start_ensembles_report_in_chunks(cancer, estimator, budget):
    cell = f"from sklearn.ensemble import {estimator.split('(')[0]}\nmodel = {estimator}\n"
    s = an.search(cell, data=cancer, trials=6, pruner="median", seed=0, display=False).wait()
    for r in s.trials:
        assert 1 <= len(r.intermediate) <= 8
        if r.state == "complete":
            assert max(r.intermediate) == r.params[budget]
            assert r.intermediate[max(r.intermediate)] == pytest.approx(r.values["accuracy"])
    assert s.best_model.warm_start is False  # the user's setting is restored


def test_the_requested_pruner_decides(cancer):
    """Optuna gives a study a MedianPruner unless told otherwise; the search must use the
    pruner it was asked for (here one that never prunes, and one that always does)."""
    import optuna

    class Never(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return False

    class Always(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    never = an.search(REPORTING, trials=15, pruner=Never(), seed=0, display=False).wait()
    assert never.counts()["pruned"] == 0 and never.study.pruner.__class__ is Never
    always = an.search(REPORTING, trials=5, pruner=Always(), seed=0, display=False).wait()
    assert always.counts()["pruned"] == 5
    assert all(max(r.intermediate) == 1 for r in always.trials)
    plain = an.search(REPORTING, trials=8, seed=0, display=False).wait()
    assert plain.counts()["pruned"] == 0
    hb = an.search(REPORTING, trials=2, pruner="hyperband", display=False)
    assert isinstance(hb.study.pruner, optuna.pruners.HyperbandPruner)
    hb.wait()


def test_auto_pruner_waits_for_ten_trials_and_a_tenth_of_the_run():
    cell = REPORTING.replace("range(1, 11)", "range(1, 41)").replace("time.sleep(0.005)", "pass")
    s = an.search(cell, trials=40, pruner="auto", strategy="tpe", seed=0, display=False).wait()
    c = s.counts()
    assert c["pruned"] >= 3, c
    assert all(r.state == "complete" for r in s.trials[:10])  # start-up trials
    assert min(max(r.intermediate) for r in s.trials if r.state == "pruned") >= 4  # 10 % of 40


@pytest.mark.parametrize("cell", [
    "from xgboost import XGBClassifier\nmodel = XGBClassifier(n_estimators=hp.int(20, 60), "
    "learning_rate=hp.float(0.001, 0.3, log=True), max_depth=hp.int(1, 6), n_jobs=1)\n",
    "from catboost import CatBoostClassifier\nmodel = CatBoostClassifier(iterations=hp.int(20, 60), "
    "learning_rate=hp.float(0.001, 0.3, log=True), depth=hp.int(1, 6), verbose=0, "
    "allow_writing_files=False, thread_count=1)\n",
], ids=["xgboost", "catboost"])
def test_xgboost_and_catboost_report_rounds_without_user_code(cancer, cell):
    pytest.importorskip(cell.split()[1])
    # 24 trials, 14 past the pruner's start-up: with 14 (4 past it) whether one was pruned
    # hung on the report cadence, which follows the machine's speed (1 CI run of many)
    s = an.search(cell, data=cancer, trials=24, pruner="auto", strategy="tpe", seed=0,
                  display=False).wait()
    c = s.counts()
    assert c["pruned"] >= 1 and c["complete"] >= 10, c
    budget = "n_estimators" if "XGB" in cell else "iterations"
    for r in s.trials:
        if r.state == "complete":  # every few rounds, the last one always
            assert max(r.intermediate) == r.params[budget]
            assert all(v < 0 for v in r.intermediate.values())  # negated validation log-loss
    params = s.best_model.get_params()
    assert not params.get("callbacks") and params.get("eval_metric") is None  # restored
