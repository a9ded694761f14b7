import os

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris


@pytest.fixture(scope="session", autouse=True)
def _aimauto_dir_for_the_session(tmp_path_factory):
    """Searches persist by default: keep their journal out of the repository, also for
    kernels and workers started by session- or module-scoped fixtures."""
    old = os.environ.get("AIMAUTO_DIR")
    os.environ["AIMAUTO_DIR"] = str(tmp_path_factory.mktemp("aimauto-session"))
    yield
    if old is None:
        os.environ.pop("AIMAUTO_DIR", None)
    else:
        os.environ["AIMAUTO_DIR"] = old


@pytest.fixture(autouse=True)
def aimauto_dir(tmp_path_factory, monkeypatch):
    """A fresh default-storage folder per test (``$AIMAUTO_DIR``), so tests see only
    their own stored searches."""
    folder = tmp_path_factory.mktemp("aimauto")
    monkeypatch.setenv("AIMAUTO_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def cancer():
    return load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="session")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="session")
def diabetes():
    return load_diabetes(return_X_y=True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


TREE_CELL = """
from sklearn.tree import DecisionTreeClassifier
model = DecisionTreeClassifier(
    max_depth=hp.int(1, 8),
    criterion=hp.choice(["gini", "entropy"]),
    random_state=0,
)
"""


@pytest.fixture(autouse=True)
def _no_search_outlives_its_test():
    """Stop any search a test left running (a test that timed out mid-``wait``), so that
    its name does not make every later test fail with "still running in this process"."""
    yield
    from aimauto_nb.core.facade import _LIVE, _LIVE_LOCK

    with _LIVE_LOCK:
        left = [s for s in list(_LIVE.values()) if s.running]
    for s in left:
        s.stop()
        try:
            s.wait(10)
        except Exception:  # it failed or never started: either way it is no longer running
            pass
