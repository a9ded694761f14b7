"""Model size and latency, and torch inputs of the right kind (no Optuna, no sklearn)."""

import subprocess
import sys

import numpy as np
import pytest

from aimauto_nb.measure import as_torch_input, measure_latency, model_size, n_rows, take_rows

torch = pytest.importorskip("torch")


def test_integer_arrays_stay_integer_and_floats_become_float32():
    assert as_torch_input(np.arange(6).reshape(2, 3)).dtype == torch.long
    assert as_torch_input(np.ones((2, 3))).dtype == torch.float32
    t = torch.ones(2, 3, dtype=torch.float64)
    assert as_torch_input(t) is t
    ids, mask = as_torch_input((np.zeros((2, 4), dtype=np.int32), np.ones((2, 4))))
    assert (ids.dtype, mask.dtype) == (torch.long, torch.float32)
    with pytest.raises(ValueError, match="example_inputs"):
        as_torch_input(np.array([["a", "b"]]))


def test_latency_of_an_embedding_model_on_token_ids():
    net = torch.nn.Sequential(torch.nn.Embedding(50, 8), torch.nn.Flatten(), torch.nn.Linear(40, 2))
    tokens = np.random.default_rng(0).integers(0, 50, size=(16, 5))
    assert measure_latency(net, tokens) > 0


def test_size_counts_parameters_and_buffers():
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    params = (4 * 3 + 3) + 2 * 3
    buffers = 2 * 3 * 4 + 8  # running mean/var (float32) + num_batches_tracked (int64)
    assert model_size(net) == params * 4 + buffers
    assert model_size({"a": 1}) > 0


def test_rows_of_tuples_and_lists():
    X = (np.zeros((5, 2)), np.ones((5, 3)))
    assert n_rows(X) == 5
    a, b = take_rows(X, np.arange(2))
    assert a.shape == (2, 2) and b.shape == (2, 3)
    assert take_rows([10, 11, 12], np.array([0, 2])) == [10, 12]


def test_measure_imports_neither_optuna_nor_sklearn():
    code = ("import sys, aimauto_nb.measure; "
            "assert 'optuna' not in sys.modules and 'sklearn' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
