"""Warm starts: the shipped portfolio matched to a cell's markers and ranges, and the best
trials of a previous search, tried first and marked as such."""

import optuna
import pytest

import aimauto_nb as an
from aimauto_nb.core import warmstart
from aimauto_nb.space.analysis import analyze

RF = """
from sklearn.ensemble import RandomForestClassifier
model = RandomForestClassifier(
    n_estimators=hp.int(10, 60),
    max_depth=hp.int(2, 8),
    max_features=hp.choice(["sqrt", "log2", None]),
    random_state=0,
)
"""

FAKE = {"RandomForestClassifier": [
    {"n_estimators": 40, "max_depth": 6, "max_features": None},
    {"n_estimators": 400, "max_depth": 30, "max_features": "auto"},   # outside the cell's space
    {"n_estimators": 25, "max_depth": 3, "max_features": "log2"},
    {"n_estimators": 900, "max_depth": 12},   # the second, once clipped: tried once
]}


@pytest.fixture
def fake_portfolio(monkeypatch):
    monkeypatch.setattr(warmstart, "portfolio", lambda: FAKE)


def test_the_shipped_portfolio_covers_the_documented_estimators():
    known = warmstart.portfolio()
    for name in ("RandomForestClassifier", "ExtraTreesClassifier", "GradientBoostingClassifier",
                 "HistGradientBoostingClassifier", "LogisticRegression", "SVC",
                 "KNeighborsClassifier", "MLPClassifier", "LGBMClassifier"):
        assert known.get(name), name


def test_portfolio_configurations_are_fitted_to_the_cell(fake_portfolio):
    trials = warmstart.portfolio_trials(analyze(RF))
    assert [p for p, _ in trials] == [
        {"n_estimators": 40, "max_depth": 6, "max_features": None},
        {"n_estimators": 60, "max_depth": 8},
        {"n_estimators": 25, "max_depth": 3, "max_features": "log2"},
    ]  # numbers clipped to the ranges, an option the cell lacks dropped
    assert {src for _, src in trials} == {"portfolio (RandomForestClassifier)"}
    assert warmstart.portfolio_trials(analyze("x = hp.int(1, 3)\nscore = x\n")) == []


def test_a_search_tries_the_portfolio_first_and_says_so(cancer, fake_portfolio):
    s = an.search(RF, data=cancer, trials=5, seed=0, display=False).wait()
    first = s.trials[:3]
    assert [r.source for r in first] == ["portfolio (RandomForestClassifier)"] * 3
    assert first[0].params == {"n_estimators": 40, "max_depth": 6, "max_features": None}
    assert first[1].params["n_estimators"] == 60 and first[1].params["max_depth"] == 8
    assert all(r.source is None for r in s.trials[3:])
    assert "(3 warm-start)" in s.status_line()
    assert s.study.sampler._startup == 3 + 2  # auto models from the portfolio's trials on
    cold = an.search(RF, data=cancer, trials=2, seed=0, warm_start=False, display=False).wait()
    assert all(r.source is None for r in cold.trials)
    assert cold.study.sampler._startup == 10


def test_a_previous_search_warm_starts_the_next(cancer):
    first = an.search(RF, data=cancer, trials=8, seed=1, warm_start=False, display=False).wait()
    best = sorted((r for r in first.trials if r.state == "complete"),
                  key=lambda r: -r.values["accuracy"])[:5]
    again = an.search(RF, data=cancer, trials=6, seed=2, warm_start=first, display=False).wait()
    assert [r.params for r in again.trials[:len(best)]][0] == best[0].params
    assert again.trials[0].source == "warm start from search"
    study = optuna.load_study(study_name=first.study_name, storage=first.study._storage)
    via_study = warmstart.resolve(study, analyze(RF))
    assert via_study[0][0] == best[0].params


def test_bad_warm_start_is_refused(cancer):
    with pytest.raises(ValueError, match="warm_start must be"):
        an.search(RF, data=cancer, trials=2, warm_start="yes", display=False)
