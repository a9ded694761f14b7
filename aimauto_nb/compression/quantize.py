"""int8 quantization of a torch model in place, chosen per layer kind and by measurement.

- Linear on CPU: dynamic int8 (int8 weights, activations quantized per batch) through
  ``torch.ao.quantize_dynamic`` (default) or torchao (``int8_backend="torchao"``).
- Conv1d / Conv2d on CPU: static int8 (:class:`~.int8_conv.Int8Conv`, PyTorch's x86 int8
  kernels), calibrated on ``data`` (else on the example batch); BatchNorms after a Conv are
  folded into it first.
- LSTM / GRU: ``torch.ao.quantize_dynamic`` (torchao has no recurrent kernels).
- CUDA, or ``weight_only``: int8 weights, floating-point activations (torchao
  ``Int8WeightOnlyConfig``; without torchao a small built-in layer), Conv left as it is.

With ``policy="faster"`` (the default) every Linear and Conv is timed in fp32 and in int8 on
the input it gets from the example batch; int8 is kept where it is faster, and where it is
slower only while those layers together add at most 1 % of the model's fp32 time (small
layers often are slower in int8, and a model must never get slower unasked). Weights
shared by two modules (a tied ``lm_head``) stay as they are: quantizing one copy would
untie them and make the model larger. HuggingFace ``Conv1D`` (GPT-2) is a Linear with a
transposed weight and becomes one first.
"""

from __future__ import annotations

import copy
import logging
import statistics
import warnings
from collections.abc import Mapping

import torch
from torch import nn

from .._imports import try_import
from ..errors import CompressError
from .adapter import call, forward, latency, latency_pair, n_rows, take
from .attention import swap_attention
from .int8_conv import CONVS, Int8Conv, _set, activation_observer, fold_batchnorms
from .onnx_int8 import available as onnx_available
from .torch_ops import Int8WeightOnlyLinear, _replace_linears

__all__ = ["quantize_int8", "BACKENDS", "DEFAULT_BACKEND", "have_torchao", "conv_layers",
           "shared_weight_layers"]

BACKENDS = ("torchao", "torch.ao", "onnxruntime")
# benchmarks/compress.py (CPU, 1 thread, eager): at equal accuracy torchao's dynamic int8 was
# 0.05-0.5x the speed of fp32 on the Transformer and LSTM classifiers, torch.ao 0.7-1.4x.
DEFAULT_BACKEND = "torch.ao"
POLICIES = ("faster", "all")
_RNN = (nn.LSTM, nn.GRU)
# int8 layers that are slower than fp32 may together add at most this share of the model's
# fp32 time (per layer kind): small layers then keep int8 (size) where it costs nothing visible
_BUDGET = 0.01
# every Linear in int8 is kept when the whole model is at most this much slower than with
# the faster-measured ones only (timing noise on small models is ~2-3 %)
_SAME = 1.03
# a torch.ao int8 Linear stores ~1.3 KB of packing metadata: below this many weights it is larger
_TINY = 1024
# below this speed-up (whole model, example batch) no int8 path is applied by default
_KEEP = 0.95
# a whole-model path whose outputs fall below this cosine similarity to fp32's (example batch)
# is broken for that model, not merely noisier: it is not taken
_MIN_COSINE = 0.95
UNCHANGED = "int8: "
_IMPORT_NOISE = ("torchao", "torch.utils._pytree")


def have_torchao() -> bool:
    """True when torchao imports (its optional CUDA extensions may be missing: it then logs
    and goes on, which is fine for the CPU and weight-only paths)."""
    # its import logs missing CUDA kernels ("Failed to load ..._C_mxfp8...so") and torch warns
    # about an Enum it registers: noise for a user who only asked for int8
    logs = [logging.getLogger(n) for n in _IMPORT_NOISE]
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.ERROR)
    try:
        try_import("torchao.quantization", extra="torch", what="int8 through torchao")
    except ImportError:
        return False
    finally:
        for log, level in zip(logs, levels):
            log.setLevel(level)
    return True


def conv_layers(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d)]


def shared_weight_layers(model: nn.Module) -> dict[str, str]:
    """Module name -> the other module holding the same weight tensor (tied weights)."""
    owners: dict[int, list[str]] = {}
    for name, m in model.named_modules(remove_duplicate=False):
        w = m._parameters.get("weight") if hasattr(m, "_parameters") else None
        if w is not None and name not in owners.setdefault(id(w), []):
            owners[id(w)].append(name)
    out = {}
    for names in owners.values():
        for n in names[1:] if len(names) > 1 else []:
            out[n] = names[0]
        if len(names) > 1:
            out[names[0]] = names[1]
    return out


def _cpu_engine() -> str:
    engines = torch.backends.quantized.supported_engines
    if torch.backends.quantized.engine not in engines or torch.backends.quantized.engine == "none":
        torch.backends.quantized.engine = next(e for e in ("x86", "fbgemm", "qnnpack") if e in engines)
    return torch.backends.quantized.engine


def _no_fast_path(module, args):
    """A no-op pre-hook: a Transformer layer with a hook skips its fused fast path, which reads
    ``linear1.weight`` as a tensor (a torch.ao quantized Linear has a method there)."""


def _dynamic(model: nn.Module, spec) -> None:
    _cpu_engine()
    for m in model.modules():
        if isinstance(m, nn.TransformerEncoderLayer | nn.TransformerDecoderLayer):
            m.register_forward_pre_hook(_no_fast_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8, inplace=True)


def _torchao(model: nn.Module, weight_only: bool, names=None) -> None:
    if not have_torchao():
        raise CompressError("int8_backend='torchao' but torchao is not installed")
    q = try_import("torchao.quantization", extra="torch", what="int8_backend='torchao'")
    config = (q.Int8WeightOnlyConfig(set_inductor_config=False) if weight_only
              else q.Int8DynamicActivationInt8WeightConfig(set_inductor_config=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q.quantize_(model, config, filter_fn=lambda m, fqn: type(m) is nn.Linear
                    and (names is None or fqn in names))


def _hf_conv1d_to_linear(model: nn.Module, skip) -> list[str]:
    """HuggingFace ``Conv1D`` (x @ W + b, W of shape (in, out)) as the ``nn.Linear`` it is."""
    done = []
    for name, m in list(model.named_modules()):
        if type(m).__name__ == "Conv1D" and hasattr(m, "nf") and name not in skip \
                and getattr(m, "weight", None) is not None and m.weight.dim() == 2:
            nx, nf = m.weight.shape
            lin = nn.Linear(nx, nf, bias=m.bias is not None, device=m.weight.device,
                            dtype=m.weight.dtype)
            with torch.no_grad():
                lin.weight.copy_(m.weight.t())
                if m.bias is not None:
                    lin.bias.copy_(m.bias)
            _set(model, name, lin)
            done.append(name)
    return done


def _record(model: nn.Module, names: list[str], batches, observe: bool = False) -> dict[str, dict]:
    """For each named layer: its first input and, with ``observe``, observers of its inputs
    and outputs over ``batches`` (a layer called twice is observed over both calls)."""
    seen: dict[str, dict] = {}
    mods = dict(model.named_modules())

    def hook(name):
        def fn(mod, args, out):
            x = args[0] if args else None
            if not isinstance(x, torch.Tensor) or not isinstance(out, torch.Tensor):
                return
            r = seen.setdefault(name, {"x": x.detach()})
            if observe:
                for key, t in (("in", x), ("out", out)):
                    r.setdefault(key, activation_observer())(t.detach().float())
        return fn

    hooks = [mods[n].register_forward_hook(hook(n)) for n in names]
    try:
        with torch.no_grad():
            for b in batches:
                call(model, b)
    finally:
        for h in hooks:
            h.remove()
    return seen


def _extra_ms(fp32: nn.Module, int8: nn.Module, x) -> float:
    """ms per call int8 adds on this layer's input (negative: int8 is faster)."""
    t32, t8 = latency_pair(fp32, int8, x, repeats=15, budget_s=0.3)
    return (t8 - t32) * n_rows(x)


def _within_budget(extra: dict[str, float], budget_ms: float) -> list[str]:
    """The layers kept in int8: all where it is faster, then the least slower ones while the
    time they add stays within ``budget_ms``."""
    keep = [n for n, e in extra.items() if e <= 0]
    spent = 0.0
    for n, e in sorted(((n, e) for n, e in extra.items() if e > 0), key=lambda t: t[1]):
        if spent + e > budget_ms:
            break
        spent += e
        keep.append(n)
    return keep


def _int8_linear(lin: nn.Module, backend: str) -> nn.Module:
    holder = nn.Sequential(copy.deepcopy(lin))
    if backend == "torchao":
        _torchao(holder, False)
    else:
        _dynamic(holder, {nn.Linear})
    return holder[0]


def _linears(model, backend, batch, budget_ms, skip) -> tuple[list[str], list[str], list[str]]:
    """Dynamic int8 of the Linear layers; returns (int8, slower in int8, too small)."""
    all_ = [(n, m) for n, m in model.named_modules() if type(m) is nn.Linear and n not in skip]
    names = [n for n, m in all_ if m.weight.numel() >= _TINY]
    tiny = [n for n, m in all_ if m.weight.numel() < _TINY]
    if not names:
        return [], [], tiny
    chosen, slower = names, []
    if budget_ms is not None and batch is not None:
        seen = _record(model, names, [batch])
        mods = dict(model.named_modules())
        extra = {n: _extra_ms(mods[n], _int8_linear(mods[n], backend), seen[n]["x"])
                 for n in names if n in seen}
        kept = set(_within_budget(extra, budget_ms))
        chosen = [n for n in names if n not in seen or n in kept]
        slower = [n for n in names if n not in chosen]
        if slower and _all_as_fast(model, backend, batch, chosen, names):
            chosen, slower = names, []
    _quantize_linears(model, backend, chosen)
    return chosen, slower, tiny


def _quantize_linears(model, backend, names) -> None:
    if names and backend == "torchao":
        _torchao(model, False, set(names))
    elif names:
        _dynamic(model, set(names))


def _all_as_fast(model, backend, batch, chosen, names) -> bool:
    """Whether the model with every Linear in int8 runs as fast (within ``_SAME``) as with only
    the ``chosen`` ones: a layer measured slower alone is often noise or hidden in the whole
    model, and int8 of every layer is the smaller model. On a 2-layer BERT (hidden 128) a
    2 % margin over 10 calls dropped 3-5 of its 13 Linears in 2 of 6 runs, by noise alone."""
    some, every = copy.deepcopy(model), copy.deepcopy(model)
    _quantize_linears(some, backend, chosen)
    _quantize_linears(every, backend, names)
    t_some, t_every = latency_pair(some, every, batch, repeats=20, budget_s=2.0)
    return t_every <= _SAME * t_some


def _conv_names(model) -> list[str]:
    return [n for n, m in model.named_modules() if type(m) in CONVS
            and m.padding_mode == "zeros" and m.weight.dtype == torch.float32
            and not isinstance(m.padding, str)]


def _convs(model, batch, calibration, budget_ms) -> tuple[list[str], list[str], list[str]]:
    """Static int8 of the Conv1d/Conv2d layers; returns (int8, slower in int8, not calibrated)."""
    names = _conv_names(model)
    batches = calibration or ([batch] if batch is not None else [])
    if not names or not batches:
        return [], [], names
    fold_batchnorms(model)
    seen = _record(model, names, batches, observe=True)
    mods = dict(model.named_modules())
    int8 = {n: Int8Conv(mods[n], seen[n]["in"], seen[n]["out"])
            for n in names if n in seen}
    kept = set(int8) if budget_ms is None else set(_within_budget(
        {n: _extra_ms(mods[n], q, seen[n]["x"]) for n, q in int8.items()}, budget_ms))
    for n in kept:
        _set(model, n, int8[n])
    return ([n for n in names if n in kept], [n for n in int8 if n not in kept],
            [n for n in names if n not in seen])


def _named(names: list[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def quantize_int8(model: nn.Module, device: torch.device, weight_only: bool = False,
                  backend: str | None = None, example=None, calibration=None,
                  policy: str = "faster") -> tuple[str, list[str]]:
    """Quantize ``model`` to int8 in place; returns (what ran, notes).

    backend: ``"torchao"`` or ``"torch.ao"`` for Linear layers (None: :data:`DEFAULT_BACKEND`).
    example: one input batch (times the layers; calibrates Conv without ``calibration``).
    calibration: a list of input batches for the static int8 of Conv layers.
    policy: ``"faster"`` keeps int8 only where the model does not get slower (see the module
    docstring); ``"all"`` quantizes every
    layer it can (smallest model).
    """
    if backend is not None and backend not in BACKENDS:
        raise CompressError(f"int8_backend must be one of {BACKENDS}, got {backend!r}")
    if policy not in POLICIES:
        raise CompressError(f"int8 policy must be one of {POLICIES}, got {policy!r}")
    if device.type not in ("cpu", "cuda"):
        raise CompressError(f"int8 quantization supports cpu and cuda, not {device.type}")
    shared = shared_weight_layers(model)
    notes = []
    if shared:
        notes.append("left in floating point, their weight is shared (tied): "
                     + _named([f"{a} (with {b})" for a, b in shared.items()]))
    converted = _hf_conv1d_to_linear(model, shared)
    steps = [f"{len(converted)} HuggingFace Conv1D layers turned into nn.Linear"] if converted else []
    if backend == "onnxruntime" and (device.type == "cuda" or weight_only):
        raise CompressError("int8_backend='onnxruntime' is static int8 on the CPU; weight-only "
                            "int8 and CUDA use int8_backend='torchao' or 'torch.ao'")
    if device.type == "cuda" or weight_only:
        step, more = _weight_only(model, device, backend, shared)
        return "; ".join(steps + [step]), notes + more
    if backend == "onnxruntime":
        return _onnx(model, example, calibration, steps, notes)
    if policy == "all" or example is None or not _conv_names(model):
        return _cpu(model, backend, example, calibration, policy, shared, steps, notes)
    return _choose(model, backend, example, calibration, shared, steps, notes)


def _cpu(model, backend, example, calibration, policy, shared, steps, notes, convs=True
         ) -> tuple[str, list[str]]:
    """torch's own int8, layer by layer: dynamic Linear / LSTM / GRU, static Conv (unless
    ``convs`` is False)."""
    rnns = [n for n, m in model.named_modules() if isinstance(m, _RNN)]
    if rnns:
        _dynamic(model, set(_RNN))
        steps.append(f"dynamic int8 of {len(rnns)} recurrent layers (torch.ao)")
    swapped = swap_attention(model)
    if swapped:
        steps.append(f"{len(swapped)} attention layers rebuilt from Linear projections")
    budget_ms = None  # "all", or nothing to time with: every layer that can be quantized is
    if policy == "faster" and example is not None:
        budget_ms = _BUDGET * latency(model, example) * n_rows(example)
    convs, conv_slow, uncalibrated = (_convs(model, example, calibration, budget_ms) if convs
                                      else ([], [], []))
    if convs:
        steps.append(f"static int8 of {len(convs)} Conv layers (x86 int8 kernels, "
                     f"{'calibrated on data' if calibration else 'calibrated on the example batch'})")
    if conv_slow:
        notes.append(f"{len(conv_slow)} Conv layers stay fp32, int8 was slower on them at this "
                     f"batch: {_named(conv_slow)} (int8_layers='all' quantizes them anyway)")
    if uncalibrated:
        notes.append("Conv layers stay fp32 (static int8 needs data= or example_inputs= to "
                     "calibrate on, or they never ran): " + _named(uncalibrated))
    chosen = backend or DEFAULT_BACKEND
    if chosen == "torchao" and not have_torchao():
        raise CompressError("int8_backend='torchao' but torchao is not installed")
    lins, lin_slow, tiny = _linears(model, chosen, example, budget_ms, shared)
    if tiny:
        notes.append(f"{len(tiny)} Linear layers stay fp32, too small for int8 to make them "
                     f"smaller: {_named(tiny)}")
    if lins:
        how = ("torchao Int8DynamicActivationInt8WeightConfig" if chosen == "torchao"
               else f"torch.ao, {_cpu_engine()}")
        steps.append(f"dynamic int8 of {len(lins)} Linear layers ({how})")
    if lin_slow:
        notes.append(f"{len(lin_slow)} Linear layers stay fp32, int8 was slower on them at this "
                     f"batch: {_named(lin_slow)} (int8_layers='all' quantizes them anyway)")
    if not (rnns or convs or lins):
        if conv_slow or lin_slow or tiny:
            return UNCHANGED + "no layer was faster in int8, the model is unchanged", notes
        raise CompressError("int8 quantization found no Linear, Conv, LSTM or GRU layer it could "
                            "quantize" + (f" ({notes[-1]})" if notes else ""))
    return "; ".join(steps), notes


def _onnx(model, example, calibration, steps, notes) -> tuple[str, list[str]]:
    from . import onnx_int8

    if not onnx_int8.available():
        raise CompressError("int8_backend='onnxruntime' needs onnxruntime and onnx: "
                            "pip install 'aimauto_nb[torch]'")
    if example is None:
        raise CompressError("int8 through ONNX Runtime needs example_inputs= or data= to export "
                            "and calibrate with")
    onnx_int8.install(model, onnx_int8.quantize_onnx(model, example, calibration))
    steps.append("static int8 of the whole model through ONNX Runtime (QDQ, int8 weights per "
                 f"channel, calibrated on {'data' if calibration else 'the example batch'})")
    notes.append("the model now runs through ONNX Runtime on the CPU (inference only); keep it "
                 "with save_compressed() or torch.save")
    return "; ".join(steps), notes


def _timing_batches(example) -> list:
    """The example batch cut to 1 and 8 rows, and itself (distinct sizes, smallest first)."""
    n = n_rows(example)
    return [take(example, slice(0, k)) for k in sorted({1, min(8, n)}) if k < n] + [example]


def _choose(model, backend, example, calibration, shared, steps, notes) -> tuple[str, list[str]]:
    """A model with Conv layers: each whole-model int8 path on a copy, timed against fp32 at
    batch 1, 8 and the example batch's size (rows of the example batch); a path is eligible
    when it is at least ``_KEEP`` times fp32's speed at every one of them (a fused graph that
    wins at batch 8 can lose at batch 1), and the eligible path with the highest geometric
    mean speed is applied. Paths whose outputs fall below ``_MIN_COSINE`` to fp32's are not
    taken."""
    fp32 = copy.deepcopy(model)
    with torch.no_grad():
        ref = forward(fp32, example).float().flatten()
    paths = [("torch int8 (static Conv, dynamic Linear)",
              lambda m: _cpu(m, backend, example, calibration, "faster", shared, list(steps),
                             list(notes))),
             ("dynamic int8 of Linear only (Conv fp32)",
              lambda m: _cpu(m, backend, example, calibration, "faster", shared, list(steps),
                             list(notes), convs=False))]
    if backend is None and onnx_available() and not isinstance(example, Mapping):
        paths.insert(0, ("ONNX Runtime int8",
                         lambda m: _onnx(m, example, calibration, list(steps), list(notes))))
    timed = _timing_batches(example)
    sizes = [n_rows(b) for b in timed]
    tried, failed, best = [], [], None
    for label, run in paths:
        cand = copy.deepcopy(fp32)
        try:
            step, more = run(cand)
        except Exception as e:  # that path is not taken; the others still are
            first = (str(e).strip().splitlines() or [""])[0][:120]
            failed.append(f"{label} failed ({type(e).__name__}: {first})")
            continue
        if step.startswith(UNCHANGED):
            continue
        with torch.no_grad():
            cos = float(nn.functional.cosine_similarity(
                forward(cand, example).float().flatten(), ref.flatten(), dim=0))
        if cos < _MIN_COSINE:
            failed.append(f"{label} not taken (output cosine {cos:.3f} to fp32)")
            continue
        speeds = []
        for b in timed:
            t32, t8 = latency_pair(fp32, cand, b, repeats=10, budget_s=0.75)
            speeds.append(t32 / t8)
        tried.append(f"{label} " + ", ".join(f"{v:.2f}x at batch {k}"
                                             for v, k in zip(speeds, sizes)))
        score = statistics.geometric_mean(speeds)
        if min(speeds) >= _KEEP and (best is None or score > best[0]):
            best = (score, label, cand, step, more)
    timing = (f"int8 paths timed on the whole model at batch {' and '.join(map(str, sizes))} (speed vs "
              "fp32): " + ", ".join(tried + failed))
    if best is None:
        return (UNCHANGED + "no int8 path was as fast as fp32 at every batch timed, the model "
                "is unchanged (int8_layers='all' quantizes anyway)", notes + [timing])
    speed, label, cand, step, more = best
    model.__dict__.clear()
    model.__dict__.update(cand.__dict__)
    return step, more + [timing + f"; chose {label}"]


def _weight_only(model, device, backend, shared) -> tuple[str, list[str]]:
    notes = []
    others = conv_layers(model) + [n for n, m in model.named_modules() if isinstance(m, _RNN)]
    if others:
        notes.append("weight-only int8 covers Linear layers; left in floating point: "
                     + _named(others))
    names = {n for n, m in model.named_modules() if type(m) is nn.Linear and n not in shared}
    if not names:
        raise CompressError("weight-only int8 found no nn.Linear layer to quantize")
    if device.type == "cuda":
        notes.append("weight-only int8 on CUDA saves memory; expect little or no speed-up")
    if backend != "torch.ao" and have_torchao():
        _torchao(model, True, names)
        return (f"int8 weight-only quantization of {len(names)} Linear layers (torchao "
                "Int8WeightOnlyConfig)", notes)
    if backend == "torchao":
        raise CompressError("int8_backend='torchao' but torchao is not installed")
    _replace_linears(model, lambda lin: Int8WeightOnlyLinear(lin).to(lin.weight.device), skip=shared)
    return (f"int8 weight-only quantization of {len(names)} Linear layers (per-output-channel "
            "scales, built in)", notes)
