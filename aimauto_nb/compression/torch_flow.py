"""The PyTorch side of ``compress``: measure, apply the steps, measure again."""

from __future__ import annotations

import numpy as np
import torch

from ..measure import as_torch_input, measure_latency, torch_device
from .quality import quality
from .report import CompressReport
from .torch_ops import prune_structured, prune_unstructured, quantize_int8, state_size


def _input_batch(model, data, device, rows=256):
    if data is not None:
        return as_torch_input(data[0], device)
    layers = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    first = next((m for m in model.modules() if isinstance(m, layers)), None)
    if not isinstance(first, torch.nn.Linear):
        return None  # input shape unknown without data: no latency
    return torch.randn(rows, first.in_features, device=device)


def _outputs(model, X):
    with torch.no_grad():
        out = model(X)
    return out.detach().float().cpu()


def _metric(out: torch.Tensor, y) -> tuple[str, float]:
    y = np.asarray(y)
    return quality(y, out.numpy(), y.dtype.kind in "iub" and out.ndim == 2 and out.shape[1] > 1)


def compress_torch(model, prune, structured, quantize, device, data, finetune=None,
                   teacher=None, epochs=3, lr=None, batch_size=None, loss=None,
                   progress=True) -> CompressReport:
    dev = torch.device(device) if device is not None else torch_device(model)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but no CUDA device is available")
    model.to(dev)
    was_training = model.training
    model.eval()
    rep = CompressReport(model_type=type(model).__name__, device=str(dev))
    X = _input_batch(model, data, dev)
    batch = None if X is None else X[:256]
    rep.size_before = state_size(model)
    rep.latency_batch = None if batch is None else len(batch)
    rep.latency_before = None if batch is None else measure_latency(model, batch)
    before = None
    if data is not None:
        before = _outputs(model, X)
        rep.metric, rep.metric_before = _metric(before, data[1])
    if prune is not None:
        step = prune_structured(model, prune) if structured else prune_unstructured(model, prune)
        rep.steps.append(step)
        if not structured:
            rep.notes.append("unstructured pruning zeroes weights but keeps dense tensors: no "
                             "size or speed gain on its own (use structured=True or quantize)")
    if finetune is not None:
        _finetune(rep, model, X, data, finetune, teacher, epochs, lr, batch_size, loss,
                  keep_zeros=prune is not None and not structured, progress=progress)
    if quantize is not None:
        step, notes = quantize_int8(model, dev, weight_only=quantize == "int8-weight-only")
        rep.steps.append(step)
        rep.notes += notes
    rep.size_after = state_size(model)
    rep.latency_after = None if batch is None else measure_latency(model, batch)
    if data is not None:
        after = _outputs(model, X)
        _, rep.metric_after = _metric(after, data[1])
        rep.output_diff = float((after - before).abs().max())
    model.train(was_training)
    return rep


def _finetune(rep, model, X, data, finetune, teacher, epochs, lr, batch_size, loss, keep_zeros,
              progress) -> None:
    from .finetune import _progress_view, fit_module

    if data is not None:
        rep.metric_compressed = _metric(_outputs(model, X), data[1])[1]
    res = fit_module(model, finetune[0], finetune[1], epochs=epochs, lr=lr, batch_size=batch_size,
                     teacher=teacher, loss=loss, valid=data, keep_zeros=keep_zeros,
                     progress=_progress_view() if progress else None)
    model.eval()
    rep.finetune = "distillation" if teacher is not None else "labels"
    rep.finetune_epochs, rep.finetune_seconds = res.epochs, res.seconds
    rep.steps.append(f"fine-tuned {res.epochs} epoch(s) on {rep.finetune}")
    if data is not None:
        rep.metric_finetuned = _metric(_outputs(model, X), data[1])[1]
    if res.interrupted:
        kept = f"epoch {res.best_epoch}, best on data" if res.best_epoch else "the last full epoch"
        rep.notes.append(f"fine-tuning was interrupted after {res.epochs} epoch(s); kept {kept}")
