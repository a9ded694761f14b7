"""Our Optuna plug-ins keep Optuna's contracts: Optuna's own MedianPruner tests
(tests/pruners_tests/test_median.py, where their parameters apply) run against
``AutoPruner`` as well as ``MedianPruner``; verdicts agree on NaN and ±inf; state is kept
per study; a study with ``AutoSampler`` and ``AutoPruner`` survives Optuna's pickle round
trip (tests/study_tests/test_study.py::test_study_pickle)."""

from __future__ import annotations

import math
import pickle
import random

import numpy as np
import optuna
import pytest

from aimauto_nb.core.pruning import AutoPruner, _median
from aimauto_nb.core.strategies import AutoSampler
from aimauto_nb.space import CellProgram

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _median_pruner(startup, warmup):
    return optuna.pruners.MedianPruner(startup, warmup)


def _auto_pruner(startup, warmup):
    return AutoPruner(startup=startup, warmup=0.0, warmup_steps=warmup)


PRUNERS = pytest.mark.parametrize("make", [_median_pruner, _auto_pruner],
                                  ids=["MedianPruner", "AutoPruner"])


# ----------------------------------------------- Optuna's test_median.py, both pruners


@PRUNERS
def test_median_pruner_with_one_trial(make) -> None:
    study = optuna.study.create_study(pruner=make(0, 0))
    trial = study.ask()
    trial.report(1, 1)
    assert not trial.should_prune()  # a pruner is not activated at a first trial


@PRUNERS
@pytest.mark.parametrize("direction_value", [("minimize", 2), ("maximize", 0.5)])
def test_median_pruner_intermediate_values(make, direction_value) -> None:
    direction, intermediate_value = direction_value
    study = optuna.study.create_study(direction=direction, pruner=make(0, 0))
    trial = study.ask()
    trial.report(1, 1)
    study.tell(trial, 1)
    trial = study.ask()
    assert not trial.should_prune()  # no intermediate values yet
    trial.report(intermediate_value, 1)
    assert trial.should_prune()


@PRUNERS
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_median_pruner_intermediate_values_nan(make) -> None:
    study = optuna.study.create_study(pruner=make(0, 0))
    trial = study.ask()
    trial.report(float("nan"), 1)
    assert not trial.should_prune()  # no previous trials
    study.tell(trial, -1)
    trial = study.ask()
    trial.report(float("nan"), 1)
    assert trial.should_prune()  # the best intermediate value of this trial is NaN
    study.tell(trial, -1)
    trial = study.ask()
    trial.report(1, 1)
    assert not trial.should_prune()  # the median intermediate value is NaN


@PRUNERS
def test_median_pruner_n_startup_trials(make) -> None:
    study = optuna.study.create_study(pruner=make(2, 0))
    trial = study.ask()
    trial.report(1, 1)
    study.tell(trial, 1)
    trial = study.ask()
    trial.report(2, 1)
    assert not trial.should_prune()  # during start-up trials
    study.tell(trial, 2)
    trial = study.ask()
    trial.report(3, 1)
    assert trial.should_prune()


@PRUNERS
def test_median_pruner_n_warmup_steps(make) -> None:
    study = optuna.study.create_study(pruner=make(0, 1))
    trial = study.ask()
    trial.report(1, 0)
    trial.report(1, 1)
    study.tell(trial, 1)
    trial = study.ask()
    trial.report(2, 0)
    assert not trial.should_prune()  # during warm-up steps
    trial.report(2, 1)
    assert trial.should_prune()


# (test_median_pruner_interval_steps and _n_min_trials: AutoPruner has neither parameter.)


# ------------------------------------------------------------- NaN, ±inf, per study


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_median_is_numpys_also_with_infinities():
    rng = random.Random(1)
    pool = [-math.inf, math.inf, 0.0, 1.0, 2.5, -3.0]
    for _ in range(2000):
        values = sorted(rng.choice(pool) for _ in range(rng.randint(1, 7)))
        want = float(np.nanpercentile(np.array(values), 50))
        got = _median(values)
        assert (math.isnan(got) and math.isnan(want)) or got == want, (values, got, want)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_infinite_reports_keep_optunas_verdict():
    """Complete trials report 1, inf, inf at step 1: a new 2.0 is kept by both."""
    for make in (lambda: optuna.pruners.MedianPruner(0, 0), lambda: AutoPruner(0, 0.0, 0)):
        study = optuna.create_study(pruner=make())
        for v in (1.0, math.inf, math.inf):
            t = study.ask()
            t.report(v, 1)
            study.tell(t, 1.0)
        t = study.ask()
        t.report(2.0, 1)
        assert not t.should_prune()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_verdicts_equal_median_pruners_on_random_nan_and_inf_reports(direction):
    rng = random.Random(0)
    pool = [math.nan, math.inf, -math.inf]
    median = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    auto = AutoPruner(startup=3, warmup=0.0, warmup_steps=1)
    study = optuna.create_study(direction=direction)
    compared = pruned = 0
    for _ in range(40):
        t = study.ask()
        for step in range(6):
            v = rng.choice(pool) if rng.random() < 0.25 else rng.random()
            t.report(v, step)
            frozen = study._storage.get_trial(t._trial_id)
            a, b = auto.prune(study, frozen), median.prune(study, frozen)
            assert a == b, (t.number, step, frozen.intermediate_values)
            compared += 1
            pruned += a
            if a:
                break
        if a:
            study.tell(t, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(t, rng.random())
    assert compared > 100 and 0 < pruned < compared


def test_one_instance_keeps_each_studys_trials_apart():
    auto = AutoPruner(startup=1, warmup=0.0, warmup_steps=0)
    good = optuna.create_study(direction="maximize", pruner=auto)
    bad = optuna.create_study(direction="maximize", pruner=auto)
    for study, value in ((good, 0.9), (bad, 0.1)):
        t = study.ask()
        t.report(value, 1)
        study.tell(t, value)
    t = bad.ask()  # trial number 1 in both studies
    t.report(0.5, 1)
    assert not t.should_prune()  # above bad's median; good's 0.9 must not count
    t = good.ask()
    t.report(0.5, 1)
    assert t.should_prune()


# --------------------------------------------------------------------- pickling


def _objective(trial):
    x = trial.suggest_float("x", -1.0, 1.0)
    for step in range(3):
        trial.report(x * x + step, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return x * x


@pytest.mark.parametrize("cell", ["x = hp.float(-1.0, 1.0)\nscore = x\n",
                                  "k = hp.choice(['a', 'b'])\nscore = 1\n"])
def test_a_study_with_our_sampler_and_pruner_pickles(cell):
    space = CellProgram(cell).space
    sampler = AutoSampler(space, 1, seed=0)
    study_1 = optuna.create_study(sampler=sampler, pruner=AutoPruner(startup=2))
    study_1.optimize(_objective, n_trials=5)
    study_2 = pickle.loads(pickle.dumps(study_1))
    assert len(study_2.trials) == 5
    assert isinstance(study_2.sampler, AutoSampler) and isinstance(study_2.pruner, AutoPruner)
    study_2.optimize(_objective, n_trials=5)
    assert len(study_2.trials) == 10
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
               for t in study_2.trials)
