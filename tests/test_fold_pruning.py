"""K-fold CV searches report the running mean of the first metric after each fold, so a
pruner stops a trial that is behind after its first folds (``runtime/reporting.py``)."""

import numpy as np
import optuna
import pytest
from sklearn.base import clone
from sklearn.neighbors import KNeighborsClassifier

import aimauto_nb as an
from aimauto_nb.runtime.data import Dataset

KNN = """
from sklearn.neighbors import KNeighborsClassifier
model = KNeighborsClassifier(n_neighbors=hp.int(1, 300, log=True))
"""


class Never(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return False


def _search(data, cell=KNN, trials=20, **kw):
    kw = {"cv": 5, "seed": 0, "strategy": "random", "warm_start": False, "storage": False,
          "display": False, **kw}
    return an.search(cell, data=data, trials=trials, **kw).wait()


def test_each_fold_but_the_last_reports_the_running_mean(cancer):
    s = _search(cancer, trials=3, pruner=Never())
    folds = Dataset.build(cancer, cv=5, seed=0).folds
    X, y = cancer
    for r in s.trials:
        assert r.state == "complete" and sorted(r.intermediate) == [1, 2, 3, 4]
        est = KNeighborsClassifier(n_neighbors=r.params["n_neighbors"])
        scores = [clone(est).fit(X[tr], y[tr]).score(X[va], y[va]) for tr, va in folds]
        for k, mean in r.intermediate.items():
            assert mean == pytest.approx(np.mean(scores[:k]))
        assert r.values["accuracy"] == pytest.approx(np.mean(scores))


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_a_pruner_stops_cv_trials_after_their_first_folds(cancer, executor):
    s = _search(cancer, trials=24, pruner="median", executor=executor, jobs=1)
    pruned = [r for r in s.trials if r.state == "pruned"]
    assert pruned and s.counts()["complete"] >= 5
    for r in pruned:  # steps are the folds done; the trial stopped before the last
        assert sorted(r.intermediate) == list(range(1, len(r.intermediate) + 1))
        assert len(r.intermediate) < 5 and not r.values
        assert f"after {len(r.intermediate)} of 5 folds" in r.error
    assert all(r.state == "complete" for r in s.trials[:5])  # the median pruner's start-up


def test_no_fold_reports_without_a_pruner(cancer):
    for pruner in ("none", None):
        s = _search(cancer, trials=4, pruner=pruner)
        assert s.counts()["pruned"] == 0
        assert all(r.state == "complete" and not r.intermediate for r in s.trials)


def test_the_configuration_built_to_win_is_never_pruned(cancer):
    """A scaled logistic regression beats every depth-limited stump on breast_cancer on each
    fold: whenever it is sampled it completes, and it is the best trial."""
    cell = """
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
kind = hp.choice(["stump", "dummy", "logistic"])
depth = hp.int(1, 2)
if kind == "logistic":
    model = make_pipeline(StandardScaler(), LogisticRegression())
elif kind == "dummy":
    model = DummyClassifier()
else:
    model = DecisionTreeClassifier(max_depth=depth, random_state=0)
"""
    s = _search(cancer, cell=cell, trials=30, pruner="auto")
    winners = [r for r in s.trials if r.params["kind"] == "logistic"]
    assert s.counts()["pruned"] >= 1 and winners
    assert all(len(r.intermediate) >= 2 for r in s.trials if r.state == "pruned")  # waits 2 folds
    assert all(r.state == "complete" for r in winners)
    assert s.best.params["kind"] == "logistic"


def test_multi_objective_cv_pruning_decides_on_the_first_metric(cancer):
    s = _search(cancer, trials=24, pruner="median", metrics="accuracy,size")
    pruned = [r for r in s.trials if r.state == "pruned"]
    assert pruned and all(len(r.intermediate) < 5 for r in pruned)
    assert all(r.state == "complete" for r in s.pareto)


def test_a_score_cell_in_a_cv_search_reports_only_its_own_steps(cancer):
    cell = "q = hp.float(0, 1)\nfor step in range(1, 8):\n    report(q, step)\nscore = q\n"
    s = _search(cancer, cell=cell, trials=4, pruner=Never(), metrics="score:max")
    assert all(sorted(r.intermediate) == list(range(1, 8)) for r in s.trials)


def test_auto_on_folds_waits_two_folds_and_median_does_not():
    from aimauto_nb.core.pruning import FOLD_WARMUP, AutoPruner, make_pruner

    assert FOLD_WARMUP == 2
    on_folds, on_rounds = make_pruner("auto", folds=True), make_pruner("auto")
    assert isinstance(on_folds, AutoPruner) and on_folds._warmup_steps == FOLD_WARMUP
    assert on_rounds._warmup_steps == 1


def test_fold_reports_of_a_minimized_metric(cancer):
    X, y = cancer
    cell = "from sklearn.linear_model import Ridge\nmodel = Ridge(alpha=hp.float(1e-3, 1e3, log=True))\n"
    s = an.search(cell, data=(X[:, 1:], X[:, 0]), cv=3, trials=6, seed=0, display=False,
                  metrics="rmse", pruner=Never()).wait()
    for r in s.trials:
        assert sorted(r.intermediate) == [1, 2]
        assert all(v > 0 for v in r.intermediate.values())  # rmse itself, not its negation
        assert r.intermediate[2] == pytest.approx(r.values["rmse"], rel=0.5)
