"""The driver's loop endings: budget, timeout, stop(), convergence; each says why."""

import time

import optuna
import pytest

import aimauto_nb as an

FLAT = "x = hp.int(0, 3)\nscore = 1.0\n"  # nothing ever beats the first trial


def test_stop_when_converged_ends_the_search_and_says_why():
    s = an.search(FLAT, metrics="score:max", trials=60, stop_when_converged=5, strategy="random",
                  seed=0, display=False).wait()
    assert s.state == "done" and s.converged
    assert s.stop_reason == "converged: no better trial in the last 5 trials"
    assert s.counts()["complete"] == 6
    assert "converged" in s.status_line()


def test_the_signal_shows_without_stopping():
    s = an.search(FLAT, metrics="score:max", trials=25, strategy="random", seed=0,
                  display=False).wait()
    assert s.counts()["complete"] == 25 and s.converged
    assert s.stop_reason == "budget of 25 trials used"
    snap = s.snapshot()
    assert snap.patience == 20 and snap.stagnant == 24
    assert snap.convergence == "converged: no better trial in the last 24 trials"


def test_an_improving_search_has_not_converged():
    s = an.search("x = hp.int(0, 30)\nscore = x\n", metrics="score:max", trials=12,
                  strategy="random", seed=0, display=False).wait()
    best_at = max(range(12), key=lambda i: (s.trials[i].values["score"], -i))
    assert not s.converged and s.snapshot().stagnant == 11 - best_at


def test_multi_objective_convergence_counts_new_front_members():
    s = an.search("x = hp.int(0, 3)\nscore = {'a': 1.0, 'b': 1.0}\n", metrics="a:max,b:min",
                  trials=40, stop_when_converged=4, strategy="random", seed=0, display=False).wait()
    assert s.stop_reason == "converged: no new Pareto-optimal trial in the last 4 trials"


def test_stop_and_timeout_reasons():
    s = an.search("import time\nx = hp.int(0, 3)\ntime.sleep(0.05)\nscore = x\n",
                  metrics="score:max", timeout=0.5, display=False).wait()
    assert s.stop_reason == "timeout of 0.5 s reached"
    slow = an.search("import time\nx = hp.int(0, 3)\ntime.sleep(0.05)\nscore = x\n",
                     metrics="score:max", trials=500, display=False)
    slow.stop()
    slow.wait()
    assert slow.state == "stopped" and slow.stop_reason == "stopped by the user"


def test_bad_convergence_setting():
    with pytest.raises(ValueError, match="stop_when_converged must be"):
        an.search(FLAT, metrics="score:max", trials=3, stop_when_converged=0, display=False)


class _SlowAsk(optuna.samplers.RandomSampler):
    """A sampler whose ask takes seconds (as a Gaussian process's fit does)."""

    def __init__(self, pause):
        super().__init__(seed=0)
        self.pause = pause
        self.asks = 0

    def infer_relative_search_space(self, study, trial):
        self.asks += 1
        if self.asks > 1:
            time.sleep(self.pause)
        return {}


def test_stop_returns_at_once_while_the_sampler_asks():
    sampler = _SlowAsk(pause=2.0)
    s = an.search("score = hp.float(0, 1)", metrics="score:max", trials=50, strategy=sampler,
                  storage=False, display=False)
    deadline = time.monotonic() + 30
    while sampler.asks < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # well inside the second, slow ask
    t0 = time.monotonic()
    s.stop()
    s.wait(10)
    assert s.state == "stopped" and time.monotonic() - t0 < 0.5
    time.sleep(2.5)  # the ask in flight returns; its trial is failed, not left running
    states = [t.state for t in s.study.get_trials(deepcopy=False)]
    assert optuna.trial.TrialState.RUNNING not in states and len(states) == 2
