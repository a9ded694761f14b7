"""The one place that knows how to call a torch model and read what it returns.

Inputs come as a tensor, a tuple of tensors (positional arguments) or a dict of tensors
(keyword arguments, e.g. ``{"input_ids": ..., "attention_mask": ...}``); ``data=`` /
``finetune=`` X may be any of these as arrays too. Outputs may be a tensor, a tuple / list
(the first tensor is the prediction), a dict or a HuggingFace ``ModelOutput`` (``logits``
when present, else the first tensor). ``data=``, ``finetune=``, :func:`distill` and latency
measurement all go through here, so a new kind of model touches this file only.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping

import torch
from torch import nn

from ..errors import InputError
from ..measure import as_torch_input
from .rows import n_rows

__all__ = ["check_example_inputs", "to_input", "n_rows", "take", "to_device", "call", "logits",
           "forward", "outputs", "example_batch", "latency", "latency_pair"]


def _is_inputs(x) -> bool:
    if isinstance(x, torch.Tensor):
        return True
    if isinstance(x, tuple) and x:
        return all(isinstance(t, torch.Tensor) for t in x)
    if isinstance(x, Mapping) and x:
        return all(isinstance(k, str) and isinstance(t, torch.Tensor) for k, t in x.items())
    return False


def check_example_inputs(example_inputs) -> None:
    """Raise ``InputError`` unless ``example_inputs`` is None, a tensor, a tuple of tensors
    (positional arguments) or a dict of name -> tensor (keyword arguments)."""
    if example_inputs is None or _is_inputs(example_inputs):
        return
    raise InputError("example_inputs must be a tensor, a tuple of tensors or a dict of name -> "
                     "tensor (one batch as the model's forward takes it), got "
                     f"{type(example_inputs).__name__}")


def to_input(X, device=None):
    """``X`` (arrays, frames, tensors; a tuple or dict of them) as the model takes it."""
    if isinstance(X, Mapping):
        return {k: as_torch_input(v, device) for k, v in X.items()}
    return as_torch_input(X, device)


def take(x, idx):
    """Rows ``idx`` of an input (tensor, array, frame; tuple or dict of them)."""
    if isinstance(x, Mapping):
        return {k: take(v, idx) for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(take(v, idx) for v in x)
    if hasattr(x, "iloc"):
        return x.iloc[idx]
    return x[idx]


def to_device(x, device):
    if isinstance(x, Mapping):
        return {k: v.to(device) for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(v.to(device) for v in x)
    return x.to(device)


def call(model: nn.Module, x):
    """``model(**x)`` for a dict, ``model(*x)`` for a tuple, else ``model(x)``."""
    if isinstance(x, Mapping):
        return model(**x)
    return model(*x) if isinstance(x, tuple) else model(x)


def logits(out) -> torch.Tensor:
    """The prediction tensor in a model's output: the tensor itself, ``logits`` of a
    HuggingFace ``ModelOutput`` or dict, else its first tensor (tuples searched in order)."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, Mapping):
        if isinstance(out.get("logits"), torch.Tensor):
            return out["logits"]
        values = list(out.values())
    elif isinstance(out, tuple | list):
        values = list(out)
    else:
        values = []
    for v in values:
        try:
            return logits(v)
        except InputError:
            continue
    raise InputError(f"cannot find a prediction tensor in the model's output ({type(out).__name__}); "
                     "return a tensor, a tuple starting with one, or an object with .logits")


def forward(model: nn.Module, x) -> torch.Tensor:
    """The prediction tensor of ``model`` on ``x``."""
    return logits(call(model, x))


def outputs(model: nn.Module, X, chunk: int = 1024) -> torch.Tensor:
    """Predictions on all of ``X`` (already model inputs), chunked, as float on the CPU."""
    outs = []
    with torch.no_grad():
        for i in range(0, n_rows(X), chunk):
            outs.append(forward(model, take(X, slice(i, i + chunk))).detach().float().cpu())
    return torch.cat(outs)


def _first_weighted(model: nn.Module):
    return next((m for m in model.modules()
                 if any(True for _ in m.parameters(recurse=False))), None)


def example_batch(model: nn.Module, example_inputs, data, finetune, device, rows: int = 256):
    """One batch for tracing, calibration and latency: ``example_inputs`` as given, else the
    first ``rows`` of ``data`` / ``finetune`` X (integers become ``torch.long``), else a random
    batch for a model whose first weighted layer is ``nn.Linear``; ``None`` otherwise."""
    if example_inputs is not None:
        return to_device(example_inputs, device)
    for src in (data, finetune):
        if src is not None:
            return to_input(take(src[0], slice(0, rows)), device)
    first = _first_weighted(model)
    if type(first) is nn.Linear:
        return torch.randn(rows, first.in_features, device=device)
    return None


def _timer(model: nn.Module, x):
    dev = next((t.device for t in list(model.parameters()) + list(model.buffers())),
               torch.device("cpu"))

    def run() -> float:
        t0 = time.perf_counter()
        call(model, x)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return time.perf_counter() - t0

    return run


def latency_pair(a: nn.Module, b: nn.Module, x, repeats: int = 20, budget_s: float = 2.0
                 ) -> tuple[float, float]:
    """ms per row of ``a`` and ``b`` on ``x``, timed interleaved (a, b, a, b, ...) so that
    machine load hits both alike; medians of up to ``repeats`` calls each within
    ``budget_s`` (at least 3)."""
    runs = [_timer(a, x), _timer(b, x)]
    times: list[list[float]] = [[], []]
    with torch.no_grad():
        for r in runs:
            r()  # warm-up
        start = time.perf_counter()
        while len(times[0]) < repeats and (len(times[0]) < 3 or time.perf_counter() - start < budget_s):
            for t, r in zip(times, runs):
                t.append(r())
    rows = n_rows(x)
    return tuple(statistics.median(t) / rows * 1000.0 for t in times)


def latency(model: nn.Module, x, repeats: int = 10, budget_s: float = 1.0) -> float:
    """ms per row of ``model`` on ``x`` (median after one warm-up call)."""
    run = _timer(model, x)
    with torch.no_grad():
        run()
        times = [run()]
        start = time.perf_counter()
        while len(times) < repeats and (len(times) < 3 or time.perf_counter() - start < budget_s):
            times.append(run())
    return statistics.median(times) / n_rows(x) * 1000.0
