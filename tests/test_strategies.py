"""Strategy and pruner registries: each name builds its own Optuna object, instances pass
through, and strategies refuse spaces they cannot handle."""

import time

import optuna
import pytest

import aimauto_nb as an
from aimauto_nb.core.pruning import PRUNERS, AutoPruner, make_pruner
from aimauto_nb.core.strategies import SAMPLERS, STRATEGIES, AutoSampler, grid_size, make_sampler
from aimauto_nb.runtime.metrics import parse_metrics
from aimauto_nb.space.analysis import analyze

NUMERIC = analyze("a = hp.int(1, 3)\nb = hp.float(0, 1, step=0.5)\nscore = a + b\n")
CHOICE = analyze("a = hp.choice(['x', 'y'])\nscore = 1\n")
ONE = parse_metrics("score:max")

EXPECTED = {
    "auto": AutoSampler, "tpe": optuna.samplers.TPESampler,
    "random": optuna.samplers.RandomSampler, "grid": optuna.samplers.GridSampler,
    "nsga2": optuna.samplers.NSGAIISampler, "gp": optuna.samplers.GPSampler,
    "cmaes": optuna.samplers.CmaEsSampler,
}


def test_every_strategy_name_is_registered_and_documented():
    assert set(STRATEGIES) == set(SAMPLERS) == set(EXPECTED)


@pytest.mark.parametrize("name", STRATEGIES)
def test_strategies_build_their_own_sampler(name):
    sampler = make_sampler(name, ONE, NUMERIC, seed=0)
    assert isinstance(sampler, EXPECTED[name])


@pytest.mark.parametrize("name", [s for s in STRATEGIES if s != "grid"])
def test_strategies_run(name):
    """Each strategy drives a real search on its own sampler."""
    s = an.search("x = hp.float(-2, 2)\nscore = -(x - 0.5) ** 2\n", metrics="score:max",
                  trials=6, strategy=name, seed=1, display=False).wait()
    assert s.state == "done" and s.counts()["complete"] == 6
    assert isinstance(s.study.sampler, EXPECTED[name])
    assert s.strategy == name


def test_a_sampler_instance_is_used_as_is():
    sampler = optuna.samplers.QMCSampler(seed=0)
    assert make_sampler(sampler, ONE, NUMERIC, None) is sampler
    s = an.search("x = hp.float(0, 1)\nscore = x\n", metrics="score:max", trials=4,
                  strategy=sampler, display=False).wait()
    assert s.study.sampler is sampler and s.strategy == "QMCSampler"


def test_grid_size_and_refusals():
    assert grid_size(NUMERIC) == 3 * 3
    with pytest.raises(ValueError, match="finite space"):
        grid_size(analyze("a = hp.float(0, 1)\nscore = a\n"))
    with pytest.raises(ValueError, match="numeric parameters only"):
        make_sampler("cmaes", ONE, CHOICE, None)
    with pytest.raises(ValueError, match="single-objective"):
        make_sampler("cmaes", parse_metrics("a:max,b:min"), NUMERIC, None)
    with pytest.raises(ValueError, match="unknown strategy 'best'"):
        make_sampler("best", ONE, NUMERIC, None)


def test_pruners_by_name_and_instance():
    assert set(PRUNERS) == {"none", "auto", "median", "halving", "hyperband"}
    assert make_pruner(None) is None and make_pruner("none") is None
    assert isinstance(make_pruner("auto"), AutoPruner)
    assert isinstance(make_pruner("median"), optuna.pruners.MedianPruner)
    assert isinstance(make_pruner("halving"), optuna.pruners.SuccessiveHalvingPruner)
    assert isinstance(make_pruner("hyperband"), optuna.pruners.HyperbandPruner)
    p = optuna.pruners.PercentilePruner(25.0)
    assert make_pruner(p) is p
    with pytest.raises(ValueError, match="unknown pruner 'often'"):
        make_pruner("often")


def test_auto_pruner_decides_as_the_median_rule_does():
    """Same verdicts as Optuna's MedianPruner (10 start-up trials, warm-up 10 % of the
    longest run), from values kept per step instead of a scan of the study."""
    import random

    rng = random.Random(0)
    study = optuna.create_study(direction="maximize")
    auto = AutoPruner()
    for _ in range(25):
        t = study.ask()
        values = {s: rng.random() for s in range(1, 21)}
        for s, v in values.items():
            t.report(v, s)
        study.tell(t, 1.0)
        auto.observe(t.number, values)
    median = optuna.pruners.MedianPruner(n_startup_trials=10, n_warmup_steps=2)
    verdicts = []
    for _ in range(15):
        t = study.ask()
        for step in range(1, 21):
            v = rng.random()
            t.report(v, step)
            frozen = study._storage.get_trial(t._trial_id)
            verdict = auto.decide(t.number, v, step, maximize=True)
            assert verdict == median.prune(study, frozen)
            verdicts.append(verdict)
        study.tell(t, state=optuna.trial.TrialState.PRUNED)
        auto.forget(t.number)
    assert any(verdicts) and not all(verdicts)


def test_auto_pruner_waits_for_its_start_up_trials():
    auto = AutoPruner(startup=3)
    for n in range(2):
        auto.observe(n, {1: 0.9, 2: 0.9})
    assert not auto.decide(5, 0.1, 2, maximize=True)
    auto.observe(2, {1: 0.9, 2: 0.9})
    assert auto.decide(5, 0.1, 2, maximize=True)
    assert not auto.decide(6, 0.1, 2, maximize=False)


def test_auto_uses_tpe_for_categorical_and_conditional_spaces():
    sampler = make_sampler("auto", ONE, CHOICE, seed=0)
    assert isinstance(sampler, AutoSampler) and not sampler._use_gp
    assert sampler._tpe._multivariate and sampler._tpe._constant_liar
    branchy = analyze("k = hp.choice(['a', 'b'])\nif k == 'a':\n    d = hp.int(1, 3)\nscore = 1\n")
    assert make_sampler("auto", ONE, branchy, seed=0)._tpe._group


def test_auto_falls_back_to_default_tpe_with_the_liar_on_several_objectives():
    two = (ONE[0], ONE[0].__class__("cost", "minimize"))
    auto = make_sampler("auto", two, CHOICE, seed=0)._tpe
    assert not auto._multivariate and auto._constant_liar
    # sequential trials: exactly Optuna's default TPESampler
    def objective(t):
        x = t.suggest_float("x", 0, 1)
        return x, (1 - x) ** 2

    runs = []
    for sampler in (auto, optuna.samplers.TPESampler(seed=0)):
        study = optuna.create_study(directions=["minimize"] * 2, sampler=sampler)
        study.optimize(objective, n_trials=15)
        runs.append([t.params["x"] for t in study.trials])
    assert runs[0] == runs[1]


def _drive(trials: int, objectives: int = 1, pruned_at: int | None = None, **kw) -> AutoSampler:
    """An ``AutoSampler(NUMERIC, objectives, seed=0, **kw)`` after ``trials`` asks and tells
    (trial ``pruned_at`` told pruned); its choices are in ``.history``."""
    sampler = AutoSampler(NUMERIC, n_objectives=objectives, seed=0, **kw)
    study = optuna.create_study(directions=["maximize", "minimize"][:objectives], sampler=sampler)
    for i in range(trials):
        t = study.ask()
        a, b = t.suggest_int("a", 1, 3), t.suggest_float("b", 0, 1, step=0.5)
        if i == pruned_at:
            t.report(0.0, 1)
            study.tell(t, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(t, -(a - 2) ** 2 - b if objectives == 1 else [a + b, a * b])
    return sampler


@pytest.fixture
def slow_gp(monkeypatch):
    """Every GP ask takes at least ``seconds`` longer: the budget tests then hold on a
    machine of any speed (CI's GP asks were fast enough never to overspend)."""
    def slow(seconds: float):
        ask = optuna.samplers.GPSampler.sample_relative

        def slower(self, *args):
            time.sleep(seconds)
            return ask(self, *args)
        monkeypatch.setattr(optuna.samplers.GPSampler, "sample_relative", slower)
    return slow


def test_auto_moves_to_gp_on_numeric_spaces_while_it_is_cheap():
    pytest.importorskip("torch")
    history = _drive(14, trial_seconds=60.0).history  # timing-proof
    assert history[:10] == ["tpe"] * 10 and set(history[10:]) == {"gp"}, history


def test_auto_models_from_a_warm_start_on():
    """Warm-start trials are chosen, not drawn: both models start 2 trials after them (at
    most the 10 they would wait otherwise); the queued trials are asked as enqueued."""
    pytest.importorskip("torch")
    for informed, first_gp in ((3, 5), (0, 10), (12, 10)):
        sampler = AutoSampler(NUMERIC, n_objectives=1, seed=0, trial_seconds=60.0)
        sampler.start_from(informed)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        for a in (1, 2, 3)[:informed]:
            study.enqueue_trial({"a": a, "b": 0.5})
        for i in range(first_gp + 2):
            t = study.ask()
            a, b = t.suggest_int("a", 1, 3), t.suggest_float("b", 0, 1, step=0.5)
            if i < min(informed, 3):
                assert (a, b) == (i + 1, 0.5)
            study.tell(t, -(a - 2) ** 2 - b)
        assert sampler.history == ["tpe"] * first_gp + ["gp"] * 2, (informed, sampler.history)
        assert sampler._tpe._n_startup_trials == first_gp  # TPE's own start-up matches


def test_auto_leaves_gp_once_a_trial_is_pruned():
    """The GP models complete trials only: after a pruned trial it would ask that point
    again, so the rest of the search is TPE's."""
    pytest.importorskip("torch")
    history = _drive(16, pruned_at=12, trial_seconds=60.0).history
    assert history[10:13] == ["gp"] * 3 and history[13:] == ["tpe"] * 3, history


def test_auto_on_instant_trials_is_tpe_after_two_gp_asks():
    """A GP ask dearer than the trials it chooses between costs wall time for nothing."""
    pytest.importorskip("torch")
    history = _drive(16).history
    assert history[10:12] == ["gp"] * 2 and history[12:] == ["tpe"] * 4, history


def test_auto_leaves_gp_when_its_ask_costs_more_than_the_trials(slow_gp):
    pytest.importorskip("torch")  # multi-objective: no floor
    history = _drive(14, objectives=2).history
    assert history == ["tpe"] * 14  # instant trials: a GP ask cannot pay, never tried
    slow_gp(0.1)
    history = _drive(14, objectives=2, trial_seconds=0.06).history  # cheaper than a GP ask
    assert history[10:12] == ["gp", "gp"] and set(history[12:]) == {"tpe"}, history


def test_auto_keeps_the_gp_within_its_share_of_the_trials_time(slow_gp):
    pytest.importorskip("torch")
    # trials "take" 10 s, so no GP ask is dearer than a trial; each ask (>= 0.2 s) is
    # dearer than the 0.05 s of budget a trial adds
    slow_gp(0.2)
    sampler = _drive(30, objectives=2, trial_seconds=10.0, gp_share=0.005)
    later = "".join("g" if h == "gp" else "t" for h in sampler.history[10:])
    assert "tg" in later[2:], sampler.history  # TPE between GP asks, not a switch for good
    assert sampler._gp_spent <= 0.005 * 10.0 * 30 + sampler._gp_cost  # one ask over, at most


def test_parallel_auto_trials_do_not_repeat_a_point():
    s = an.search("import time\nx = hp.float(0, 1)\ny = hp.float(0, 1)\ntime.sleep(0.05)\n"
                  "score = -(x - 0.3) ** 2 - (y - 0.6) ** 2\n", metrics="score:max", trials=16,
                  jobs=2, seed=0, display=False).wait()
    points = [tuple(r.params.values()) for r in s.trials]
    assert len(set(points)) == len(points) == 16


def test_auto_grants_the_gp_no_floor_when_the_budget_is_time():
    assert make_sampler("auto", ONE, NUMERIC, seed=0)._floor == 1.0
    assert make_sampler("auto", ONE, NUMERIC, seed=0, timed=True)._floor == 0.0
    s = an.search("x = hp.float(0, 1)\nscore = x\n", metrics="score:max", timeout=0.3,
                  display=False).wait()
    assert s.study.sampler._floor == 0.0
