"""The PyTorch side of ``compress``: measure, apply the steps, measure again."""

from __future__ import annotations

import copy

import numpy as np
import torch

from ..errors import AimautoError, CompressError, InputError
from ..measure import torch_device
from .adapter import example_batch, latency_pair, n_rows, outputs, take, to_input
from .quality import quality
from .report import CompressReport
from .torch_ops import prune_unstructured, state_size

_SLOWER = 0.95  # below this speed-up the report says the model got slower


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
    return [to_input(take(X, slice(i, min(i + chunk, n))), dev) for i in range(0, n, chunk)]


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))


def _slower_note(rep: CompressReport, structured: bool, quantize) -> str | None:
    if rep.speedup is None or rep.speedup >= _SLOWER:
        return None
    if quantize == "int8-weight-only" and rep.device == "cpu":
        alt = "quantize='int8' (dynamic activations) is the faster int8 on CPU"
    elif quantize and structured:
        alt = "try quantize='int8' or structured pruning alone"
    elif quantize:
        alt = "prune=FRACTION, structured=True shrinks the layers instead"
    elif structured:
        alt = "quantize='int8' may be faster"
    else:
        alt = "structured=True or quantize='int8' shrink the compute"
    return (f"slower than the original: {rep.speedup:.2f}x its speed at batch {rep.latency_batch}; "
            f"{alt}, or compress(model, 'auto', data=...) picks the fastest within tolerance")


def compress_torch(model, *args, **kwargs) -> CompressReport:
    """Compress ``model`` in place (see :func:`_compress`); an exception raised inside torch or
    a library becomes a one-line ``CompressError`` (the caller restores the model)."""
    try:
        return _compress(model, *args, **kwargs)
    except AimautoError:
        raise
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise CompressError(f"compress failed on {type(model).__name__}: {type(e).__name__}: "
                            f"{first}") from e


def _compress(model, prune, structured, quantize, device, data, finetune=None,
              teacher=None, epochs=3, lr=None, batch_size=None, loss=None,
              progress=True, example_inputs=None, int8_backend=None, reference=None,
              int8_policy="faster") -> CompressReport:
    """Compress ``model`` in place; ``reference`` is an untouched copy of it to time against."""
    from .quantize import quantize_int8
    from .structured import prune_structured_any

    dev = torch.device(device) if device is not None else torch_device(model)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device='cuda' but no CUDA device is available")
    model.to(dev)
    if reference is None or torch_device(reference) != dev:
        reference = copy.deepcopy(model if reference is None else reference).to(dev)
    reference.eval()
    was_training = model.training
    model.eval()
    rep = CompressReport(model_type=type(model).__name__, device=str(dev))
    batch = example_batch(model, example_inputs, data, finetune, dev)
    X = None if data is None else to_input(data[0], dev)
    rep.size_before = state_size(model)
    rep.latency_batch = None if batch is None else n_rows(batch)
    if batch is None:
        rep.notes.append("latency not measured: the input cannot be derived; pass "
                         "example_inputs= or data=")
    before = None
    if data is not None:
        before = outputs(model, X)
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
                                    calibration=_calibration(data, finetune, dev), policy=int8_policy)
        rep.steps.append(step)
        rep.notes += notes
    rep.size_after = state_size(model)
    if batch is not None:
        rep.latency_before, rep.latency_after = latency_pair(reference, model, batch)
        note = _slower_note(rep, structured, quantize)
        if note:
            rep.notes.insert(0, note)
    if data is not None:
        after = outputs(model, X)
        _, rep.metric_after = _metric(after, data[1])
        rep.output_diff = float((after - before).abs().max())
        rep.cosine = _cosine(after, before)
    model.train(was_training)
    return rep


def _finetune(rep, model, X, data, finetune, teacher, epochs, lr, batch_size, loss, keep_zeros,
              progress) -> None:
    from .finetune import _progress_view, fit_module

    if data is not None:
        rep.metric_compressed = _metric(outputs(model, X), data[1])[1]
    res = fit_module(model, finetune[0], finetune[1], epochs=epochs, lr=lr, batch_size=batch_size,
                     teacher=teacher, loss=loss, valid=data, keep_zeros=keep_zeros,
                     progress=_progress_view() if progress else None)
    model.eval()
    rep.finetune = "distillation" if teacher is not None else "labels"
    rep.finetune_epochs, rep.finetune_seconds = res.epochs, res.seconds
    rep.steps.append(f"fine-tuned {res.epochs} epoch(s) on {rep.finetune}")
    if data is not None:
        rep.metric_finetuned = _metric(outputs(model, X), data[1])[1]
    if res.interrupted:
        kept = f"epoch {res.best_epoch}, best on data" if res.best_epoch else "the last full epoch"
        rep.notes.append(f"fine-tuning was interrupted after {res.epochs} epoch(s); kept {kept}")
