"""What a cost metric measures, one function each, on the :class:`Evidence` of a trial.

A cost metric in :data:`aimauto_nb.runtime.metrics.METRICS` names its function here and
what it needs (``"model"``, ``"inputs"``, ``"fit"``, ``"gpu"``), so adding a cost is one
function and one registry entry (and, for a cost measured over the whole trial like
``gpu_memory``, a function that starts the measurement); evaluation and validation loop over
the metrics and name none of them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..errors import InputError
from ..measure import dumps, is_torch_module, measure_latency, model_size

__all__ = ["Evidence", "size", "latency", "fit_time", "gpu_memory", "reset_gpu_memory", "ASK_EXAMPLE"]

ASK_EXAMPLE = ("set `example_inputs` in the cell: a batch of what the model takes (a tensor, "
               "or a tuple of tensors for several arguments)")


@dataclass
class Evidence:
    """What one trial left to measure: the fitted model, the fit's mean time per split,
    the cell's ``example_inputs``, the search's data (for validation rows) and the trial's
    device (``None``: torch's current CUDA device)."""

    model: Any
    fit_time: float | None
    example_inputs: Any
    data: Any
    device: str | None = None

    @cached_property
    def pickled(self) -> bytes | None:
        """The model's pickle, made once for ``size`` and for a worker's reply."""
        if self.model is None or is_torch_module(self.model):
            return None
        return dumps(self.model)


def size(ev: Evidence) -> float:
    """Bytes of the fitted model (its pickle; a torch model's state)."""
    return float(model_size(ev.model, ev.pickled))


def fit_time(ev: Evidence) -> float:
    """Seconds the search's fit took (mean over CV folds)."""
    if ev.fit_time is None:
        raise ValueError("metric fit_time needs a `model` the search fits (or score['fit_time'])")
    return ev.fit_time


def _describe(X) -> str:
    if isinstance(X, tuple):
        return "(" + ", ".join(_describe(x) for x in X) + ")"
    shape = getattr(X, "shape", None)
    dtype = getattr(X, "dtype", None)
    return f"{type(X).__name__}" + (f" {tuple(shape)} {dtype}" if shape is not None else "")


def latency(ev: Evidence) -> float:
    """Milliseconds per row on the cell's ``example_inputs``, else on validation rows.

    A torch model that cannot run on the validation rows (say, float features given to an
    ``nn.Embedding``) gets an :class:`InputError` asking for ``example_inputs`` instead of
    torch's dtype or shape error.
    """
    if ev.example_inputs is not None:
        return measure_latency(ev.model, ev.example_inputs)
    if ev.data is None:
        raise InputError(f"metric latency has no inputs to time the model on: {ASK_EXAMPLE}, "
                         "or pass data=(X, y)")
    batch = ev.data.latency_batch()
    if not is_torch_module(ev.model):
        return measure_latency(ev.model, batch)
    try:
        return measure_latency(ev.model, batch)
    except InputError as e:
        raise InputError(f"metric latency: {e}") from None
    except (RuntimeError, TypeError, ValueError, IndexError) as e:
        raise InputError(f"metric latency: the model does not run on the validation rows "
                         f"({_describe(batch)}): {type(e).__name__}: {str(e).splitlines()[0]}; "
                         f"{ASK_EXAMPLE}") from e


def _cuda():
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        raise InputError("metric gpu_memory needs torch with a CUDA device")
    return torch


def reset_gpu_memory(device: str | None) -> None:
    """Start a trial's ``gpu_memory`` measurement (torch's peak statistics reset), when torch
    with CUDA is loaded; a cell that imports torch itself counts from its first allocation."""
    try:
        _cuda().cuda.reset_peak_memory_stats(device)
    except InputError:
        pass


def gpu_memory(ev: Evidence) -> float:
    """Peak bytes torch allocated on the trial's CUDA device during the trial. Thread trials
    that share a device share its peak (CUDA counts per device and process)."""
    return float(_cuda().cuda.max_memory_allocated(ev.device))
