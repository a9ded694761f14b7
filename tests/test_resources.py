"""Each trial's share of the machine: thread limits, estimators' thread parameters, device
placement (a fake device list: no GPU is needed), the gpu_memory metric."""

import threading

import numpy as np
import pytest
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

import aimauto_nb as an
from aimauto_nb.core.config import SearchConfig
from aimauto_nb.errors import ConfigError
from aimauto_nb.runtime import resources
from aimauto_nb.runtime.metrics import parse_metrics
from aimauto_nb.runtime.resources import DevicePool, cpu_count, plan, share_threads, trial_limits

try:
    import torch
    HAS_CUDA = torch.cuda.is_available()
except ImportError:
    HAS_CUDA = False


def run(cell, data=None, **kw):
    kw.setdefault("display", False)
    kw.setdefault("seed", 0)
    kw.setdefault("storage", ":memory:")
    return an.search(cell, data=data, **kw).wait(timeout=120)


@pytest.fixture
def many_cores(monkeypatch):
    """A machine bigger than any share asked here (a share of every core limits nothing)."""
    monkeypatch.setattr(resources, "cpu_count", lambda: 64)


# ------------------------------------------------------------------ the plan


def test_share_is_cores_over_jobs():
    assert plan(2, 1, cores=8).threads == 4
    assert plan(3, 1, cores=8).threads == 2
    assert plan(None, 1, cores=8).threads == 8  # the executor's default jobs
    assert plan(16, 1, cores=8).threads == 1
    assert plan(2, 1, threads=3, cores=8).threads == 3
    assert plan(2, 1, threads=False, cores=8).threads is None
    assert plan(2, None, limits=False).threads is None


def test_devices_set_the_places_and_the_default_jobs():
    r = plan(None, 1, devices=["cuda:0", "cuda:1"], trials_per_device=2, cores=8)
    assert r.devices == ("cuda:0", "cuda:1") and r.jobs == 4 and r.threads == 2
    assert plan(None, 1, devices=3).devices == ("cuda:0", "cuda:1", "cuda:2")
    assert plan(None, 1, devices="cuda:0,cuda:1").devices == ("cuda:0", "cuda:1")
    assert plan(1, 1, devices=["cuda"]).devices == ("cuda:0",)
    assert r.describe() == "4 jobs × 2 threads · cuda:0, cuda:1 (2 trials each)"
    assert plan(2, 1, cores=2).describe() == "2 jobs × 1 thread"


@pytest.mark.parametrize("kw, message", [
    ({"jobs": 3, "devices": 2}, "hold 2 trials"),
    ({"devices": ["gpu0"]}, "devices must be"),
    ({"devices": ["cuda:0", "cuda:0"]}, "repeat a device"),
    ({"trials_per_device": 0}, "trials_per_device"),
    ({"threads": -1}, "threads must be"),
    ({"threads": 2, "executor": "dask"}, "executor='thread' or 'process'"),
])
def test_bad_resource_options_are_refused_before_the_search(kw, message):
    with pytest.raises(ConfigError, match=message):
        SearchConfig.build("score = hp.float(0, 1)", metrics="score:max", trials=2, **kw)


@pytest.mark.skipif(HAS_CUDA, reason="checks the no-GPU message")
def test_cuda_without_a_gpu_says_so():
    pytest.importorskip("torch")
    with pytest.raises(ConfigError, match="no CUDA device"):
        plan(None, 1, devices="cuda")


def test_device_pool_takes_the_least_busy_device():
    pool = DevicePool(("cuda:0", "cuda:1"))
    a, b = pool.acquire(), pool.acquire()
    assert {a, b} == {"cuda:0", "cuda:1"}
    pool.release(a)
    assert pool.acquire() == a
    assert DevicePool(()).acquire() is None


# ------------------------------------------------------------------ estimators


def test_share_threads_sets_only_what_the_cell_left_unset(many_cores):
    lgb = pytest.importorskip("lightgbm")
    unset, mine = lgb.LGBMClassifier(), lgb.LGBMClassifier(num_threads=3)
    pipe = make_pipeline(StandardScaler(), RandomForestClassifier(n_jobs=-1))
    for model in (unset, mine, pipe):
        with share_threads(model, 1):
            inside = model.get_params()
        if model is unset:
            assert inside["n_jobs"] == 1
        elif model is mine:
            assert inside["n_jobs"] is None and inside["num_threads"] == 3
        else:
            assert inside["randomforestclassifier__n_jobs"] == -1
        assert unset.get_params()["n_jobs"] is None
    nested = make_pipeline(StandardScaler(), lgb.LGBMClassifier())
    with share_threads(nested, 1):
        assert nested.get_params()["lgbmclassifier__n_jobs"] == 1
    assert nested.get_params()["lgbmclassifier__n_jobs"] is None


def test_share_threads_covers_scikit_learn_and_boosting_libraries(many_cores):
    pipe = make_pipeline(StandardScaler(), RandomForestClassifier())
    with share_threads(pipe, 2):  # scikit-learn: through joblib, the parameter untouched
        assert pipe.get_params()["randomforestclassifier__n_jobs"] is None
        assert effective_n_jobs(None) == 2
    assert effective_n_jobs(None) == 1
    xgb = pytest.importorskip("xgboost")
    model = xgb.XGBClassifier()
    with share_threads(model, 1):
        assert model.get_params()["n_jobs"] == 1
    cb = pytest.importorskip("catboost")
    model = cb.CatBoostClassifier()
    with share_threads(model, 1):
        assert model.get_params()["thread_count"] == 1
    assert "thread_count" not in model.get_params()  # back to CatBoost's default
    fixed = cb.CatBoostClassifier(thread_count=4)
    with share_threads(fixed, 1):
        assert fixed.get_params()["thread_count"] == 4


def _openmp_threads():
    return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"}


def test_a_share_of_every_core_limits_nothing():
    assert not resources.limited(cpu_count()) and not resources.limited(None)
    with share_threads(make_pipeline(RandomForestClassifier()), cpu_count()) as changed:
        assert not changed and effective_n_jobs(None) == 1


def test_trial_limits_hold_in_the_trials_thread_only(many_cores):
    before = _openmp_threads()
    seen = {}

    def trial():
        with trial_limits(1):
            seen.update(_openmp_threads())

    t = threading.Thread(target=trial)
    t.start()
    t.join()
    assert seen and set(seen.values()) == {1}
    assert _openmp_threads() == before


# ------------------------------------------------------------------ searches

THREADS_CELL = """
from threadpoolctl import threadpool_info
x = hp.float(0, 1)
score = {"omp": min(i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"),
         "x": x}
"""


def test_thread_search_gives_each_trial_its_share():
    s = run(THREADS_CELL, metrics=["x:max", "omp:max"], trials=4, jobs=2)
    share = max(1, cpu_count() // 2)
    assert {r.values["omp"] for r in s.trials} == {share}
    assert f"2 jobs × {share} thread" in s.status_line()


class Recorder(ClassifierMixin, BaseEstimator):
    """A classifier that remembers its n_jobs at fit time."""

    def __init__(self, depth=1, n_jobs=None):
        self.depth, self.n_jobs = depth, n_jobs

    def fit(self, X, y):
        self.fit_jobs_ = effective_n_jobs(self.n_jobs)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_search_sets_unset_n_jobs_while_fitting_and_puts_it_back(cancer, many_cores):
    s = run("model = Recorder(depth=hp.int(1, 3))", cancer, trials=2, jobs=1, threads=2,
            namespace={"Recorder": Recorder})
    assert s.best_model.fit_jobs_ == 2 and s.best_model.n_jobs is None
    s = run("model = Recorder(depth=hp.int(1, 3), n_jobs=5)", cancer, trials=2, jobs=1,
            threads=2, namespace={"Recorder": Recorder})
    assert s.best_model.fit_jobs_ == 5


DEVICE_CELL = """
import time
x = hp.float(0, 1)
time.sleep(0.2)
score = {"x": x, "gpu": int(device.split(":")[1])}
"""


def test_thread_trials_each_get_their_own_device():
    s = run(DEVICE_CELL, metrics=["x:max", "gpu:max"], trials=6, devices=["cuda:0", "cuda:1"])
    assert s.jobs == 2
    assert sorted(r.values["gpu"] for r in s.trials) == [0, 0, 0, 1, 1, 1]
    assert "cuda:0, cuda:1" in s.status_line()


PROCESS_CELL = """
import os
x = hp.float(0, 1)
score = {"x": x, "gpu": int(os.environ["CUDA_VISIBLE_DEVICES"]),
         "omp": int(os.environ["OMP_NUM_THREADS"]), "first": device == "cuda:0"}
"""


def test_process_workers_see_only_their_device():
    s = run(PROCESS_CELL, metrics=["x:max", "gpu:max", "omp:max", "first:max"], trials=4,
            executor="process", devices=2, threads=1)
    assert all(r.state == "complete" for r in s.trials), [r.error for r in s.trials]
    assert {r.values["gpu"] for r in s.trials} == {0, 1}
    assert {r.values["omp"] for r in s.trials} == {1}
    assert all(r.values["first"] == 1 for r in s.trials)


# ------------------------------------------------------------------ gpu_memory


def test_gpu_memory_is_a_cost_metric():
    (m,) = parse_metrics("gpu_memory")
    assert m.is_cost and m.direction == "minimize" and m.format(3e9) == "3 GB"


@pytest.mark.skipif(HAS_CUDA, reason="checks the no-GPU message")
def test_gpu_memory_without_cuda_fails_the_trial_with_a_reason(cancer):
    with pytest.raises(an.SearchError, match="gpu_memory needs torch with a CUDA device"):
        run("from sklearn.tree import DecisionTreeClassifier\n"
            "model = DecisionTreeClassifier(max_depth=hp.int(1, 3))", cancer,
            metrics="accuracy,gpu_memory", trials=1)


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_gpu_memory_is_the_trials_peak():
    cell = ("import torch\nn = hp.choice([1, 4])\n"
            "t = torch.empty(n * 2**20, dtype=torch.uint8, device=device)\ndel t\nscore = n")
    s = run(cell, metrics=["n:max", "gpu_memory"], trials=6, devices=1, warm_start=False)
    by_n = {r.params["n"]: r.values["gpu_memory"] for r in s.trials}
    assert by_n[1] >= 2**20 and by_n[4] >= 4 * 2**20 and by_n[4] < 2 * 4 * 2**20
