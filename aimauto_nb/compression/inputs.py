"""The inputs ``compress`` traces, probes and times a torch model with: as the model takes
them, never a guessed tensor of the wrong kind."""

from __future__ import annotations

import torch
from torch import nn

from ..measure import as_torch_input, take_rows

__all__ = ["check_example_inputs", "example_batch", "call"]


def call(model: nn.Module, x):
    """``model(x)``, or ``model(*x)`` for a tuple of inputs."""
    return model(*x) if isinstance(x, tuple) else model(x)


def check_example_inputs(example_inputs) -> None:
    """Raise ``ValueError`` unless ``example_inputs`` is None, a tensor or a tuple of tensors."""
    if example_inputs is None or isinstance(example_inputs, torch.Tensor):
        return
    if (isinstance(example_inputs, tuple) and example_inputs
            and all(isinstance(t, torch.Tensor) for t in example_inputs)):
        return
    raise ValueError("example_inputs must be a tensor or a tuple of tensors (one batch as the "
                     f"model's forward takes it), got {type(example_inputs).__name__}")


def _first_weighted(model: nn.Module):
    return next((m for m in model.modules()
                 if any(True for _ in m.parameters(recurse=False))), None)


def example_batch(model: nn.Module, example_inputs, data, finetune, device, rows: int = 256):
    """One batch for tracing, probing and latency: ``example_inputs`` as given, else the first
    ``rows`` of ``data`` / ``finetune`` X (dtype kept: integers become ``torch.long``), else a
    random batch for a model whose first weighted layer is ``nn.Linear`` (its input is then
    float features). ``None`` when none of these applies."""
    if example_inputs is not None:
        return tuple(t.to(device) for t in example_inputs) if isinstance(example_inputs, tuple) \
            else example_inputs.to(device)
    for src in (data, finetune):
        if src is not None:
            return as_torch_input(take_rows(src[0], slice(0, rows)), device)
    first = _first_weighted(model)
    if type(first) is nn.Linear:
        return torch.randn(rows, first.in_features, device=device)
    return None
