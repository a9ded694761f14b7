import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris


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
