import time

import numpy as np
import pytest

import aimauto_nb as an
from aimauto_nb import SearchError
from aimauto_nb.errors import SpaceError

from .conftest import TREE_CELL


def run(cell, data, **kw):
    kw.setdefault("display", False)
    kw.setdefault("seed", 0)
    return an.search(cell, data=data, **kw).wait(timeout=120)


def test_search_returns_at_once_and_finds_a_good_model(cancer):
    cell = "import time\ntime.sleep(0.3)\n" + TREE_CELL
    t0 = time.perf_counter()
    s = an.search(cell, data=cancer, trials=6, display=False, seed=0)
    returned = time.perf_counter() - t0
    assert returned < 0.3 and s.running
    s.wait(timeout=60)
    assert s.state == "done" and len(s.trials) == 6
    assert all(r.state == "complete" for r in s.trials)
    assert s.best.values["accuracy"] > 0.88
    assert set(s.best_params) == {"max_depth", "criterion"}
    X, y = cancer
    assert s.best_model.predict(X[:5]).shape == (5,)
    assert s.best_model.max_depth == s.best_params["max_depth"]


def test_same_seed_same_parameter_sequence(cancer):
    a = run(TREE_CELL, cancer, trials=12, seed=3)
    b = run(TREE_CELL, cancer, trials=12, seed=3)
    assert [r.params for r in a.trials] == [r.params for r in b.trials]
    c = run(TREE_CELL, cancer, trials=12, seed=4)
    assert [r.params for r in a.trials] != [r.params for r in c.trials]


def test_user_namespace_is_not_mutated(cancer):
    ns = {"depth_cap": 5, "model": "mine"}
    cell = "from sklearn.tree import DecisionTreeClassifier\nx = 1\nmodel = DecisionTreeClassifier(max_depth=min(hp.int(1, 9), depth_cap))\n"
    s = run(cell, cancer, trials=3, namespace=ns)
    assert ns == {"depth_cap": 5, "model": "mine"}
    assert s.best_model.max_depth <= 5


def test_score_protocol_with_custom_metrics():
    cell = "x = hp.float(-2, 2)\ny = hp.float(-2, 2)\nscore = {'loss': (x - 1) ** 2 + y ** 2, 'cost': abs(x) + abs(y)}\n"
    s = run(cell, None, metrics=["loss:min", "cost:min"], trials=30)
    assert [m.direction for m in s.metrics] == ["minimize", "minimize"]
    assert s.best.values["loss"] < 1.0
    front = s.pareto
    assert len(front) >= 2
    done = [r for r in s.trials if r.state == "complete"]
    for f in front:  # nobody dominates a front member
        assert not any(o.values["loss"] <= f.values["loss"] and o.values["cost"] <= f.values["cost"]
                       and (o.values["loss"], o.values["cost"]) != (f.values["loss"], f.values["cost"])
                       for o in done)


def test_number_score_maps_to_the_first_metric():
    s = run("a = hp.int(0, 10)\nscore = -abs(a - 7)\n", None, metrics="target:max", trials=25, seed=1)
    assert s.best.values["target"] == 0 and s.best_params == {"a": 7}


def test_callable_source_with_inferred_names(cancer):
    from sklearn.tree import DecisionTreeClassifier

    def build(hp):
        depth = hp.int(1, 6)
        return DecisionTreeClassifier(max_depth=depth, min_samples_leaf=hp.int(1, 5))

    s = run(build, cancer, trials=4)
    assert set(s.best_params) == {"depth", "min_samples_leaf"}


@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy", "f1", "roc_auc", "log_loss"])
def test_classification_metrics_multiclass(iris, metric):
    cell = "from sklearn.linear_model import LogisticRegression\nmodel = LogisticRegression(C=hp.float(0.01, 10, log=True), max_iter=500)\n"
    s = run(cell, iris, metrics=[metric], trials=2)
    v = s.best.values[metric]
    assert (0 < v <= 1) if metric != "log_loss" else v > 0


def test_binary_roc_auc_and_f1(cancer):
    s = run(TREE_CELL, cancer, metrics="roc_auc,f1", trials=3)
    assert 0.8 < s.best.values["roc_auc"] <= 1 and 0.8 < s.best.values["f1"] <= 1


def test_regression_metrics_and_costs(diabetes):
    cell = "from sklearn.linear_model import Ridge\nmodel = Ridge(alpha=hp.float(1e-3, 10, log=True))\n"
    s = run(cell, diabetes, metrics="auto,rmse,mae,size,latency,fit_time", trials=3)
    assert [m.name for m in s.metrics][0] == "r2"
    v = s.best.values
    assert 0 < v["r2"] < 1 and v["rmse"] > v["mae"] > 0
    assert v["size"] > 100 and v["latency"] > 0 and v["fit_time"] > 0


def test_explicit_validation_set_and_cv(cancer):
    X, y = cancer
    s = run(TREE_CELL, (X[:400], y[:400]), valid=(X[400:], y[400:]), trials=2)
    assert s.protocol == "explicit validation set"
    s = run(TREE_CELL, cancer, cv=3, trials=2)
    assert s.protocol == "3-fold stratified CV"
    model = s.best_model  # refit on all the data at first access
    assert model.tree_.n_node_samples[0] == len(y)


def test_multi_objective_keeps_models_only_for_front_and_best(cancer):
    s = run(TREE_CELL, cancer, metrics="accuracy,size", trials=15)
    kept = set(s._kept._models)
    assert kept == {r.number for r in s.pareto} | {s.best.number}
    other = next(r for r in s.trials if r.number not in kept)
    with pytest.raises(KeyError, match="not kept"):
        s.model(other.number)
    for r in s.pareto:
        assert s.model(r.number).get_depth() >= 1


@pytest.mark.parametrize("strategy", ["random", "nsga2", "tpe", "auto"])
def test_strategies_run(cancer, strategy):
    s = run(TREE_CELL, cancer, trials=4, strategy=strategy, metrics="accuracy,size")
    assert len([r for r in s.trials if r.state == "complete"]) == 4


def test_grid_covers_the_grid_once(cancer):
    cell = "from sklearn.tree import DecisionTreeClassifier\nmodel = DecisionTreeClassifier(max_depth=hp.int(1, 3), criterion=hp.choice(['gini', 'entropy']))\n"
    s = run(cell, cancer, strategy="grid", trials=100)
    assert s.trials_budget == 6
    assert sorted((r.params["max_depth"], r.params["criterion"]) for r in s.trials) == sorted(
        (d, c) for d in (1, 2, 3) for c in ("gini", "entropy"))


def test_grid_refuses_a_continuous_space(cancer):
    with pytest.raises(ValueError, match="grid.*finite.*no step"):
        an.search("a = hp.float(0, 1)\nscore = a\n", trials=3, strategy="grid", display=False,
                  metrics="s:max")


def test_cmaes_numeric_single_objective_only():
    s = run("x = hp.float(-3, 3)\ny = hp.float(-3, 3)\nscore = x * x + y * y\n", None,
            metrics="f:min", trials=20, strategy="cmaes")
    assert s.best.values["f"] < 1.0
    with pytest.raises(ValueError, match="cmaes.*numeric"):
        an.search("x = hp.choice([1, 2])\nscore = x\n", metrics="f:min", trials=2,
                  strategy="cmaes", display=False)
    with pytest.raises(ValueError, match="cmaes.*single-objective"):
        an.search("x = hp.float(0, 1)\nscore = {'a': x, 'b': x}\n", metrics="a:min,b:max",
                  trials=2, strategy="cmaes", display=False)


def test_gp_strategy():
    pytest.importorskip("torch")
    s = run("x = hp.float(-3, 3)\nscore = (x - 1) ** 2\n", None, metrics="f:min", trials=12, strategy="gp")
    assert s.best.values["f"] < 0.5


def test_failing_and_nan_trials_are_recorded_and_the_search_goes_on():
    cell = "a = hp.int(0, 9)\nif a % 3 == 0:\n    raise ValueError(f'bad {a}')\nscore = float('nan') if a % 3 == 1 else a\n"
    s = run(cell, None, metrics="v:max", trials=20, seed=2)
    states = {r.state for r in s.trials}
    assert states == {"complete", "failed"} and s.state == "done"
    errs = [r.error for r in s.trials if r.state == "failed"]
    assert any("ValueError: bad" in e and "line 3" in e for e in errs)
    assert any("is nan" in e for e in errs)
    assert all("aimauto_nb" not in e for e in errs)  # our frames are not shown
    assert all(r.values["v"] % 3 == 2 for r in s.trials if r.state == "complete")


def test_a_typo_stops_the_search_after_five_identical_failures():
    s = an.search("a = hp.int(0, 9)\nscore = undefined_name + a\n", metrics="v:max", trials=50,
                  display=False)
    with pytest.raises(SearchError, match="(?s)first 5 trials all failed.*line 2.*NameError"):
        s.wait(timeout=60)
    assert s.state == "failed" and len(s.trials) < 50


def test_trial_timeout_in_threads_records_failure_and_goes_on():
    cell = "import time\na = hp.int(0, 1)\ntime.sleep(5 if a else 0)\nscore = a\n"
    t0 = time.perf_counter()
    s = run(cell, None, metrics="v:max", trials=6, trial_timeout=0.5, seed=0, jobs=2)
    assert time.perf_counter() - t0 < 10
    timed_out = [r for r in s.trials if r.state == "failed"]
    assert timed_out and all("trial_timeout=0.5" in r.error for r in timed_out)
    assert any(r.state == "complete" for r in s.trials)


def test_stop_ends_the_search_within_seconds():
    s = an.search("import time\na = hp.int(0, 9)\ntime.sleep(0.2)\nscore = a\n", metrics="v:max",
                  timeout=300, display=False)
    time.sleep(0.5)
    s.stop()
    t0 = time.perf_counter()
    s.wait(timeout=10)
    assert s.state == "stopped" and time.perf_counter() - t0 < 2
    assert all(r.state != "running" for r in s.trials)


def test_timeout_budget():
    t0 = time.perf_counter()
    s = run("import time\ntime.sleep(0.1)\nscore = hp.int(0, 3)\n", None, metrics="v:max", timeout=1)
    assert 1 <= time.perf_counter() - t0 < 3 and 3 <= len(s.trials) <= 12


def test_code_of_the_best_trial_runs_as_plain_python(cancer):
    s = run(TREE_CELL, cancer, trials=4)
    ns = {}
    exec(s.code(), ns)
    assert ns["model"].get_params()["max_depth"] == s.best_params["max_depth"]
    assert s.code(s.trials[0].number)


# ------------------------------------------------------------------------- process executor

NOTEBOOK_FUNC = """
def make(depth):
    from sklearn.tree import DecisionTreeClassifier
    return DecisionTreeClassifier(max_depth=depth, random_state=0)
"""


def notebook_namespace():
    ns = {"__name__": "__main__"}
    exec(NOTEBOOK_FUNC, ns)  # a function defined "in the notebook": not importable
    return ns


def test_process_executor_runs_notebook_defined_functions(cancer):
    ns = notebook_namespace()
    cell = "depth = hp.int(1, 6)\nkind = hp.choice(['a', 'b'])\nif kind == 'b':\n    extra = hp.int(1, 3)\nmodel = make(depth)\n"
    s = run(cell, cancer, trials=6, executor="process", jobs=2, namespace=ns)
    assert all(r.state == "complete" for r in s.trials), [r.error for r in s.trials]
    assert any("extra" in r.params for r in s.trials) or all(r.params["kind"] == "a" for r in s.trials)
    assert s.best_model.max_depth == s.best_params["depth"]


def test_process_trial_timeout_kills_the_worker():
    cell = "import os, time\na = hp.int(0, 1)\nif a:\n    time.sleep(30)\nscore = os.getpid()\n"
    t0 = time.perf_counter()
    s = run(cell, None, metrics="pid:max", trials=6, trial_timeout=1, executor="process", jobs=2, seed=0)
    assert time.perf_counter() - t0 < 30
    killed = [r for r in s.trials if r.state == "failed"]
    assert killed and all("worker was killed" in r.error for r in killed)
    assert any(r.state == "complete" for r in s.trials)


def test_process_stop_cancels_running_trials():
    s = an.search("import time\ntime.sleep(30)\nscore = hp.int(0, 1)\n", metrics="v:max", trials=4,
                  executor="process", jobs=2, display=False)
    time.sleep(1.5)
    t0 = time.perf_counter()
    s.stop()
    s.wait(timeout=15)
    assert s.state == "stopped" and time.perf_counter() - t0 < 5
    assert all(r.state == "failed" and "cancelled" in r.error for r in s.trials)


def test_unpicklable_namespace_value_for_process_is_a_clear_error():
    import threading

    with pytest.raises(ValueError, match="cannot be sent to a worker process"):
        an.search("score = hp.int(0, 1) + bool(lock)\n", metrics="v:max", trials=1,
                  executor="process", namespace={"lock": threading.Lock()}, display=False)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(data=(np.zeros((5, 2)), np.zeros(4))), "X has 5 rows but y has 4"),
        (dict(metrics="accuracy,speed"), "unknown metric 'speed'; valid metrics: accuracy"),
        (dict(strategy="bayes"), "unknown strategy 'bayes'; valid strategies: auto, tpe"),
        (dict(jobs=0), "jobs must be a positive integer"),
        (dict(trials=0), "trials must be a positive integer"),
        (dict(timeout=-1), "timeout must be a positive number"),
        (dict(trials=None), "give a budget"),
        (dict(storage="notaurl"), "invalid storage URL"),
        (dict(storage="sqlite:////no/such/dir/x.db"), "does not exist"),
        (dict(executor="gpu"), "unknown executor 'gpu'"),
        (dict(valid=1.5), "valid must be a fraction"),
        (dict(pruner="sometimes"), "unknown pruner 'sometimes'"),
    ],
)
def test_bad_input_is_rejected_before_work_starts(cancer, kwargs, message):
    kw = dict(data=cancer, trials=2, display=False)
    kw.update(kwargs)
    with pytest.raises(ValueError, match=message):
        an.search(TREE_CELL, **kw)


def test_bad_cells_are_rejected_before_work_starts(cancer):
    with pytest.raises(SyntaxError):
        an.search("model = (\n", data=cancer, trials=1, display=False)
    with pytest.raises(ValueError, match="must define `model`"):
        an.search("x = hp.int(1, 2)\n", data=cancer, trials=1, display=False)
    with pytest.raises(SpaceError, match="line 2: .*low > high"):
        an.search("from x import y\nmodel = y(a=hp.int(3, 1))\n", data=cancer, trials=1, display=False)
    with pytest.raises(ValueError, match="no data was given"):
        an.search(TREE_CELL, trials=1, display=False)


def test_best_breaks_ties_on_the_next_metrics_so_it_is_on_the_front():
    cell = "x = hp.int(0, 5)\nscore = {'acc': 1.0, 'size': 10 - x}\n"
    s = run(cell, None, metrics="acc:max,size:min", trials=12, strategy="random")
    assert s.best.values["size"] == min(r.values["size"] for r in s.trials)
    assert s.best in s.pareto


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_parameter_sequence_matches_a_hand_written_optuna_loop(executor):
    import optuna

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=5))
    expected = []
    for _ in range(14):  # past TPE's 10 start-up trials
        t = study.ask()
        x = t.suggest_float("x", 0, 1)
        expected.append(x)
        study.tell(t, -((x - 0.3) ** 2))
    s = run("x = hp.float(0, 1)\nscore = -(x - 0.3) ** 2\n", None, metrics="s:max", trials=14,
            strategy="tpe", seed=5, executor=executor)
    assert [r.params["x"] for r in s.trials] == expected
