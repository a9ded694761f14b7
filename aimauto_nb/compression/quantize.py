"""int8 quantization of a torch model in place, by layer kind.

- Linear on CPU: dynamic int8 (int8 weights, activations quantized per batch) through
  torchao (``Int8DynamicActivationInt8WeightConfig``) or ``torch.ao.quantize_dynamic``.
- Linear on CUDA, or ``weight_only``: int8 weights, floating-point activations (torchao
  ``Int8WeightOnlyConfig``; without torchao a small hand-written layer).
- LSTM / GRU: ``torch.ao.quantize_dynamic`` (torchao has no recurrent kernels).
- Conv on CPU: static int8 (PT2E: ``torch.export``, the x86 inductor quantizer, calibration on
  data); the model then runs an exported graph, fastest under ``torch.compile``.
"""

from __future__ import annotations

import logging
import warnings

import torch
from torch import nn

from ..errors import CompressError
from .attention import swap_attention
from .inputs import call
from .torch_ops import Int8WeightOnlyLinear, _replace_linears

__all__ = ["quantize_int8", "BACKENDS", "DEFAULT_BACKEND", "have_torchao", "conv_layers"]

BACKENDS = ("torchao", "torch.ao")
# benchmarks/compress.py (CPU, 1 thread, eager): at equal accuracy torchao's dynamic int8 was
# 0.05-0.5x the speed of fp32 on the Transformer and LSTM classifiers, torch.ao 0.7-1.4x.
DEFAULT_BACKEND = "torch.ao"
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_RNN = (nn.LSTM, nn.GRU)


def have_torchao() -> bool:
    """True when torchao imports (its optional CUDA extensions may be missing: it then logs
    and goes on, which is fine for the CPU and weight-only paths)."""
    try:
        _quiet_import()
    except ImportError:
        return False
    return True


def _quiet_import():
    log = logging.getLogger("torchao")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        import torchao.quantization  # noqa: F401
    finally:
        log.setLevel(level)


def conv_layers(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, _CONV)]


def _linears(model: nn.Module) -> int:
    return sum(1 for m in model.modules() if isinstance(m, nn.Linear))


def _cpu_engine() -> str:
    engines = torch.backends.quantized.supported_engines
    if torch.backends.quantized.engine not in engines or torch.backends.quantized.engine == "none":
        torch.backends.quantized.engine = next(e for e in ("x86", "fbgemm", "qnnpack") if e in engines)
    return torch.backends.quantized.engine


def _no_fast_path(module, args):
    """A no-op pre-hook: a Transformer layer with a hook skips its fused fast path, which reads
    ``linear1.weight`` as a tensor (a torch.ao quantized Linear has a method there)."""


def _quantize_dynamic(model: nn.Module, kinds: set) -> None:
    _cpu_engine()
    if nn.Linear in kinds:
        for m in model.modules():
            if isinstance(m, nn.TransformerEncoderLayer | nn.TransformerDecoderLayer):
                m.register_forward_pre_hook(_no_fast_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(model, kinds, dtype=torch.qint8, inplace=True)


def _torchao(model: nn.Module, config) -> None:
    from torchao.quantization import quantize_

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_(model, config, filter_fn=lambda m, fqn: type(m) is nn.Linear)


def _torchao_config(weight_only: bool):
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, Int8WeightOnlyConfig

    if weight_only:
        return Int8WeightOnlyConfig(set_inductor_config=False)
    return Int8DynamicActivationInt8WeightConfig(set_inductor_config=False)


def quantize_int8(model: nn.Module, device: torch.device, weight_only: bool = False,
                  backend: str | None = None, example=None, calibration=None
                  ) -> tuple[str, list[str]]:
    """Quantize ``model`` to int8 in place; returns (what ran, notes).

    backend: ``"torchao"`` or ``"torch.ao"`` for Linear layers (None: :data:`DEFAULT_BACKEND`,
    or torchao when it is the only one that can run). example: one input batch (needed to
    export a CNN). calibration: a list of input batches for static Conv quantization.
    """
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"int8_backend must be one of {BACKENDS}, got {backend!r}")
    convs = conv_layers(model)
    rnns = [n for n, m in model.named_modules() if isinstance(m, _RNN)]
    if not convs and not rnns and not _linears(model):
        raise CompressError("int8 quantization found no Linear, Conv, LSTM or GRU layer")
    if device.type not in ("cpu", "cuda"):
        raise CompressError(f"int8 quantization supports cpu and cuda, not {device.type}")
    if device.type == "cuda" or weight_only:
        return _weight_only(model, device, backend, convs, rnns)
    if convs:
        if calibration is None:
            raise CompressError(f"int8 of Conv layers ({', '.join(convs)}) is static: it needs "
                                "data=(X, y) to calibrate activation ranges on")
        if rnns:
            raise CompressError(f"static int8 of a model with both Conv ({', '.join(convs)}) and "
                                f"recurrent layers ({', '.join(rnns)}) is not supported")
        return _static_pt2e(model, example, calibration)
    steps: list[str] = []
    if rnns:
        _quantize_dynamic(model, set(_RNN))
        steps.append(f"dynamic int8 of {len(rnns)} recurrent layers (torch.ao)")
    swapped = swap_attention(model)
    if swapped:
        steps.append(f"{len(swapped)} attention layers rebuilt from Linear projections")
    n = _linears(model)
    if n:
        chosen = backend or DEFAULT_BACKEND
        if chosen == "torchao" and not have_torchao():
            raise CompressError("int8_backend='torchao' but torchao is not installed")
        if chosen == "torchao":
            _torchao(model, _torchao_config(False))
            steps.append(f"dynamic int8 of {n} Linear layers (torchao "
                         "Int8DynamicActivationInt8WeightConfig)")
        else:
            before = _linears(model)
            _quantize_dynamic(model, {nn.Linear})
            done = before - _linears(model)
            steps.append(f"dynamic int8 of {done} Linear layers (torch.ao, {_cpu_engine()})")
    return "; ".join(steps), []


def _weight_only(model, device, backend, convs, rnns) -> tuple[str, list[str]]:
    notes = []
    if convs or rnns:
        notes.append("weight-only int8 covers Linear layers; left in floating point: "
                     + ", ".join(convs + rnns))
    n = sum(1 for m in model.modules() if type(m) is nn.Linear)
    if not n:
        raise CompressError("weight-only int8 found no nn.Linear layer to quantize")
    if device.type == "cuda":
        notes.append("weight-only int8 on CUDA saves memory; expect little or no speed-up")
    if backend != "torch.ao" and have_torchao():
        _torchao(model, _torchao_config(True))
        return f"int8 weight-only quantization of {n} Linear layers (torchao Int8WeightOnlyConfig)", notes
    if backend == "torchao":
        raise CompressError("int8_backend='torchao' but torchao is not installed")
    _replace_linears(model, lambda lin: Int8WeightOnlyLinear(lin).to(lin.weight.device))
    return (f"int8 weight-only quantization of {n} Linear layers (per-output-channel scales, "
            "built in)", notes)


def _static_pt2e(model: nn.Module, example, calibration) -> tuple[str, list[str]]:
    from torchao.quantization.pt2e import allow_exported_model_train_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as xiq

    if example is None:
        raise CompressError("static int8 exports the model: pass example_inputs= or data=")
    args = example if isinstance(example, tuple) else (example,)
    args = tuple(a[:2] if len(a) >= 2 else a for a in args)
    batch = torch.export.Dim("batch")
    dynamic = tuple({0: batch} for _ in args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = torch.export.export(model, args, dynamic_shapes=dynamic).module()
        quantizer = xiq.X86InductorQuantizer()
        quantizer.set_global(xiq.get_default_x86_inductor_quantization_config())
        prepared = prepare_pt2e(graph, quantizer)
        with torch.no_grad():
            for x in calibration:
                call(prepared, x)
        q = convert_pt2e(prepared)
        allow_exported_model_train_eval(q)
    used = {n.target for n in q.graph.nodes if n.op == "get_attr"}
    for name, _ in list(q.named_parameters()) + list(q.named_buffers()):
        if name not in used and "." not in name:
            delattr(q, name)
        elif name not in used:
            owner, _, leaf = name.rpartition(".")
            delattr(q.get_submodule(owner), leaf)
    convs = conv_layers(model)
    for d in (model._modules, model._parameters, model._buffers):
        d.clear()
    model.int8_graph = q
    model.forward = q.forward
    return (f"static int8 of {len(convs)} Conv and the Linear layers (PT2E: torch.export + "
            "X86InductorQuantizer, calibrated on data)",
            ["the model now runs an exported int8 graph: eager it can be slower than fp32; "
             "wrap it in torch.compile for the int8 kernels (see the benchmark)"])
