"""SearchConfig: every argument checked once, before any work, with one message each."""

import pytest
from sklearn.datasets import load_diabetes

from aimauto_nb.core.config import SearchConfig, check_budget, check_name
from aimauto_nb.runners.base import default_process_jobs

from .conftest import TREE_CELL


def build(cancer, **kw):
    return SearchConfig.build(TREE_CELL, data=cancer, **{"trials": 2, **kw})


def test_defaults_are_filled_in(cancer):
    c = build(cancer)
    assert (c.name, c.jobs, c.strategy, c.executor, c.resume) == ("search", 1, "auto", "thread", False)
    assert [m.name for m in c.metrics] == ["accuracy"]
    assert c.protocol == "20% stratified holdout"
    assert build(cancer, executor="process").jobs == default_process_jobs()
    assert build(cancer, executor="dask").jobs is None


def test_the_config_is_frozen(cancer):
    c = build(cancer)
    with pytest.raises(AttributeError):
        c.trials = 5


def test_grid_budget_defaults_to_the_grid_size(cancer):
    c = SearchConfig.build(TREE_CELL, data=cancer, strategy="grid")
    assert c.trials == 8 * 2
    assert SearchConfig.build(TREE_CELL, data=cancer, strategy="grid", trials=3).trials == 3


@pytest.mark.parametrize("kw, message", [
    (dict(trials=1.5), "trials must be a positive integer"),
    (dict(trial_timeout=0), "trial_timeout must be a positive number"),
    (dict(seed="x"), "seed must be an integer"),
    (dict(name="../escape"), "no path separators"),
    (dict(name="a/b"), "no path separators"),
    (dict(metrics="r2"), "does not apply to a classification target"),
    (dict(executor=object()), "unknown executor"),
])
def test_bad_settings_name_the_argument(cancer, kw, message):
    with pytest.raises(ValueError, match=message):
        build(cancer, **kw)


def test_roc_auc_on_a_regression_target_is_refused_before_any_trial():
    X, y = load_diabetes(return_X_y=True)
    cell = "from sklearn.linear_model import Ridge\nmodel = Ridge(alpha=hp.float(0.1, 10))\n"
    with pytest.raises(ValueError, match="roc_auc does not apply to a regression target"):
        SearchConfig.build(cell, data=(X, y), metrics="roc_auc", trials=2)


def test_shared_checks():
    check_budget(None, None, "grid")
    with pytest.raises(ValueError, match="give a budget"):
        check_budget(None, None, "tpe")
    check_name("k8.v2-final")
    with pytest.raises(ValueError):
        check_name("..")
