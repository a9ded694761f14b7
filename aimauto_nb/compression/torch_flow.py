"""The PyTorch side of ``compress``: measure, apply the steps, measure again."""

from __future__ import annotations

import numpy as np
import torch

from ..measure import as_torch_input, measure_latency, n_rows, take_rows, torch_device
from .inputs import call, example_batch
from .quality import quality
from .report import CompressReport
from .torch_ops import prune_unstructured, state_size


def _outputs(model, X, chunk=1024):
    outs = []
    with torch.no_grad():
        for i in range(0, n_rows(X), chunk):
            outs.append(call(model, take_rows(X, slice(i, i + chunk))).detach().float().cpu())
    return torch.cat(outs)


def _metric(out: torch.Tensor, y) -> tuple[str, float]:
    y = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    integer = y.dtype.kind in "iub"
    if integer and out.ndim == 3 and y.ndim == 2 and out.shape[:2] == y.shape:  # token labels
        return quality(y.reshape(-1), out.reshape(-1, out.shape[-1]).numpy(), True)
    return quality(y, out.numpy(), integer and out.ndim == 2 and out.shape[1] > 1)


def _calibration(data, finetune, dev, rows=512, chunk=64):
    src = data if data is not None else finetune
    if src is None:
        return None
    X = src[0]
    n = min(rows, n_rows(X))
    return [as_torch_input(take_rows(X, slice(i, min(i + chunk, n))), dev) for i in range(0, n, chunk)]


def compress_torch(model, prune, structured, quantize, device, data, finetune=None,
                   teacher=None, epochs=3, lr=None, batch_size=None, loss=None,
                   progress=True, example_inputs=None, int8_backend=None) -> CompressReport:
    from .quantize import quantize_int8
    from .structured import prune_structured_any

    dev = torch.device(device) if device is not None else torch_device(model)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but no CUDA device is available")
    model.to(dev)
    was_training = model.training
    model.eval()
    rep = CompressReport(model_type=type(model).__name__, device=str(dev))
    batch = example_batch(model, example_inputs, data, finetune, dev)
    X = None if data is None else as_torch_input(data[0], dev)
    rep.size_before = state_size(model)
    rep.latency_batch = None if batch is None else n_rows(batch)
    rep.latency_before = None if batch is None else measure_latency(model, batch)
    if batch is None:
        rep.notes.append("latency not measured: the input cannot be derived; pass "
                         "example_inputs= or data=")
    before = None
    if data is not None:
        before = _outputs(model, X)
        rep.metric, rep.metric_before = _metric(before, data[1])
    if prune is not None:
        if structured:
            step, notes = prune_structured_any(model, prune, batch)
            rep.notes += notes
        else:
            step = prune_unstructured(model, prune)
        rep.steps.append(step)
        if not structured:
            rep.notes.append("unstructured pruning zeroes weights but keeps dense tensors: no "
                             "size or speed gain on its own (use structured=True or quantize)")
    if finetune is not None:
        _finetune(rep, model, X, data, finetune, teacher, epochs, lr, batch_size, loss,
                  keep_zeros=prune is not None and not structured, progress=progress)
    if quantize is not None:
        step, notes = quantize_int8(model, dev, weight_only=quantize == "int8-weight-only",
                                    backend=int8_backend, example=batch,
                                    calibration=_calibration(data, finetune, dev))
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
