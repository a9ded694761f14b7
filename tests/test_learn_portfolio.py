"""The portfolio learner's greedy pick (benchmarks/learn_portfolio.py), by least regret and frugal."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "learn_portfolio.py"


@pytest.fixture(scope="module")
def learner():
    spec = importlib.util.spec_from_file_location("learn_portfolio", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# rows: candidates, columns: tasks
SCORES = np.array([
    [0.90, 0.70, 0.80],   # strong on task 0
    [0.70, 0.90, 0.80],   # strong on task 1
    [0.89, 0.69, 0.80],   # almost candidate 0, much cheaper
    [0.80, 0.80, 0.90],   # best mean
])


def test_greedy_picks_least_regret_first_and_stops_below_min_gain(learner):
    assert learner.greedy(SCORES, size=4, min_gain=0.001) == [3, 0, 1]
    assert learner.greedy(SCORES, size=4, min_gain=0.05) == [3]
    assert learner.greedy(SCORES, size=2) == [3, 0]


def test_frugal_greedy_takes_the_cheapest_near_best(learner):
    cost = np.array([5.0, 1.0, 0.2, 1.0])
    assert learner.greedy(SCORES, size=2, min_gain=0.005, cost=cost) == [3, 2]
    # candidate 2 is farther than min_gain from the step's best: of the tied two, the cheaper
    assert learner.greedy(SCORES, size=2, min_gain=0.001, cost=cost) == [3, 1]


def test_relative_cost_is_the_geometric_mean_of_time_over_each_tasks_median(learner):
    seconds = np.array([[1.0, 10.0], [2.0, 20.0], [4.0, 40.0]])
    assert np.allclose(learner.relative_cost(seconds), [0.5, 1.0, 2.0])
