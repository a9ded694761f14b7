"""What a model costs: bytes and milliseconds per row. Shared by the search (the ``size``
and ``latency`` objectives) and by ``compress``; imports neither Optuna nor scikit-learn,
and PyTorch only when the model is a torch module."""

from __future__ import annotations

import pickle
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["is_torch_module", "dumps", "model_size", "measure_latency", "n_rows", "take_rows",
           "torch_device", "as_torch_input", "InputError"]


def is_torch_module(model) -> bool:
    """True for a ``torch.nn.Module`` (checked without importing torch)."""
    return hasattr(model, "parameters") and hasattr(model, "state_dict") and any(
        c.__module__.startswith("torch.nn") for c in type(model).__mro__)


def dumps(obj) -> bytes:
    """Pickle ``obj`` (cloudpickle when plain pickle cannot, e.g. notebook-defined classes)."""
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        import cloudpickle

        return cloudpickle.dumps(obj)


def model_size(model, pickled: bytes | None = None) -> int:
    """Bytes of the fitted model: parameters + buffers for torch, else the pickle."""
    if is_torch_module(model):
        tensors = list(model.parameters()) + list(model.buffers())
        return int(sum(t.numel() * t.element_size() for t in tensors))
    if pickled is None:
        pickled = dumps(model)
    return len(pickled)


def n_rows(X) -> int:
    """Rows of an array, frame, tensor, list, or the first of a tuple of tensors."""
    if isinstance(X, tuple):
        return n_rows(X[0])
    return X.shape[0] if hasattr(X, "shape") else len(X)


def take_rows(X, idx):
    """``X[idx]`` for arrays, frames (``iloc``), tensors and tuples of them."""
    if X is None:
        return None
    if isinstance(X, tuple):
        return tuple(take_rows(x, idx) for x in X)
    if hasattr(X, "iloc"):
        return X.iloc[idx]
    if isinstance(X, list):
        return [X[i] for i in np.arange(len(X))[idx]]
    return X[idx]


def torch_device(model):
    """The device of a module's first parameter or buffer (CPU for a module without any)."""
    import torch

    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def as_torch_input(X, device=None):
    """``X`` as the model takes it: tensors as they are, integer arrays as ``torch.long``
    (token ids, class indices), other numbers as ``float32``; a tuple element-wise."""
    import torch

    if isinstance(X, tuple):
        return tuple(as_torch_input(x, device) for x in X)
    if isinstance(X, torch.Tensor):
        return X if device is None else X.to(device)
    arr = np.asarray(X)
    if arr.dtype.kind in "iub":
        t = torch.as_tensor(arr.astype(np.int64, copy=False))
    elif arr.dtype.kind in "fc":
        t = torch.as_tensor(arr.astype(np.float32, copy=False))
    else:
        raise InputError(f"cannot turn an array of dtype {arr.dtype} into a model input; "
                         "pass example_inputs= (a tensor or a tuple of tensors)")
    return t if device is None else t.to(device)


def _predictor(model) -> Callable:
    if is_torch_module(model):
        import torch

        device = torch_device(model)

        def forward(X):
            with torch.no_grad():
                inputs = as_torch_input(X, device)
                out = model(*inputs) if isinstance(inputs, tuple) else model(inputs)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                return out

        return forward
    if not hasattr(model, "predict"):
        raise TypeError(f"latency needs a model with predict (or a torch module), got "
                        f"{type(model).__name__}")
    return model.predict


def measure_latency(model, batch: Any, repeats: int = 5, budget_s: float = 0.5) -> float:
    """Milliseconds per row: the median of a few timed calls on ``batch`` after one warm-up
    (at least two calls, more while under ``budget_s``). Torch inputs follow
    :func:`as_torch_input`; a tuple is passed as several arguments."""
    predict = _predictor(model)
    rows = n_rows(batch)
    predict(batch)
    times = []
    start = time.perf_counter()
    while len(times) < repeats and (len(times) < 2 or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        predict(batch)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / rows * 1000.0
