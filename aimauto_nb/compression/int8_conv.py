"""Static int8 for ``nn.Conv1d`` / ``nn.Conv2d`` as one small, picklable module.

The maths is PyTorch's own x86 (fbgemm / oneDNN) int8 convolution
(``torch.ops.quantized.conv2d``): int8 weights with one scale per output channel, uint8
activations with a scale calibrated on data. torch.ao's quantized modules run the same
kernels but neither pickle nor ``torch.save`` (their ``__setstate__`` skips ``Module``'s),
and PT2E's exported graph pins the input shape and the call signature; so this layer keeps
the int8 weight as a plain buffer, packs it for the kernel on first use, and dequantizes its
output, so it drops into any network in place of the float layer and any input size works.
Activation ranges come from torch.ao's ``HistogramObserver`` (the range that minimises the
quantization error, as PT2E's x86 recipe uses); activations use all 8 bits on CPUs with
VNNI / AMX and 7 bits elsewhere (``reduce_range``: fbgemm's int16 accumulation saturates
without VNNI).
"""

from __future__ import annotations

import functools

import torch
from torch import nn

__all__ = ["Int8Conv", "fold_batchnorms", "activation_observer", "CONVS"]

CONVS = (nn.Conv1d, nn.Conv2d)


@functools.cache
def _vnni() -> bool:
    """True on x86 CPUs with VNNI or AMX-INT8 (Linux: read from /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return any(w in flags for w in ("avx512_vnni", "avx_vnni", "amx_int8"))


def activation_observer():
    """A torch.ao observer for one activation (uint8, 7 bits without VNNI)."""
    from torch.ao.quantization.observer import HistogramObserver

    return HistogramObserver(dtype=torch.quint8, reduce_range=not _vnni())


def _qparams(observer) -> tuple[float, int]:
    scale, zero = observer.calculate_qparams()
    return float(scale), int(zero)


class Int8Conv(nn.Module):
    """A calibrated int8 copy of ``conv`` (observers of its input and output)."""

    def __init__(self, conv: nn.Conv1d | nn.Conv2d, in_observer, out_observer):
        super().__init__()
        w = conv.weight.detach().float().cpu()
        scale = w.flatten(1).abs().amax(1).clamp(min=1e-12) / 127.0
        self.dims = 1 if isinstance(conv, nn.Conv1d) else 2
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.stride = conv.kernel_size, conv.stride
        self.padding, self.dilation, self.groups = conv.padding, conv.dilation, conv.groups
        shape = (-1,) + (1,) * (w.dim() - 1)
        self.register_buffer("weight_int8", torch.round(w / scale.view(shape)).clamp(-127, 127)
                             .to(torch.int8))
        self.register_buffer("weight_scale", scale)
        self.register_buffer("bias", None if conv.bias is None else conv.bias.detach().float().cpu())
        # scale and zero point of the input and the output, saved with the state_dict
        self.register_buffer("act_qparams", torch.tensor(_qparams(in_observer) + _qparams(out_observer),
                                                         dtype=torch.float64))
        self._packed = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_packed"] = None  # the kernel's packed weight is rebuilt on first use
        return state

    def _apply(self, fn, recurse=True):
        self._packed = None
        return super()._apply(fn, recurse)

    def _load_from_state_dict(self, *args, **kwargs):
        self._packed = None
        return super()._load_from_state_dict(*args, **kwargs)

    def _pack(self):
        s_in, z_in, s_out, z_out = self.act_qparams.tolist()
        self._act = (s_in, int(z_in), s_out, int(z_out))
        zeros = torch.zeros(self.out_channels, dtype=torch.int64)
        qw = torch._make_per_channel_quantized_tensor(self.weight_int8, self.weight_scale.double(),
                                                      zeros, 0)
        stride, padding, dilation = (list(t) for t in (self.stride, self.padding, self.dilation))
        if self.dims == 1:
            return torch.ops.quantized.conv1d_prepack(qw, self.bias, stride, padding, dilation,
                                                      self.groups)
        return torch.ops.quantized.conv2d_prepack(qw, self.bias, stride, padding, dilation,
                                                  self.groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._packed is None:
            self._packed = self._pack()
        dtype, (s_in, z_in, s_out, z_out) = x.dtype, self._act
        xq = torch.quantize_per_tensor(x.float(), s_in, z_in, torch.quint8)
        op = torch.ops.quantized.conv1d if self.dims == 1 else torch.ops.quantized.conv2d
        return op(xq, self._packed, s_out, z_out).dequantize().to(dtype)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, groups={self.groups}, int8")


def fold_batchnorms(model: nn.Module) -> list[str]:
    """Fold every BatchNorm that only follows a Conv (in eval mode) into that Conv's weights
    and replace it by ``nn.Identity``; returns the BatchNorms folded. Found with an FX trace;
    a model FX cannot trace keeps its BatchNorms (still correct, a little slower)."""
    import torch.fx as fx
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    try:
        graph = fx.symbolic_trace(model).graph
    except Exception:
        return []
    mods = dict(model.named_modules())
    counts: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            counts[node.target] = counts.get(node.target, 0) + 1
    pairs = []
    for node in graph.nodes:
        prev = node.args[0] if node.args else None
        if (node.op == "call_module" and isinstance(mods.get(node.target), nn.BatchNorm1d | nn.BatchNorm2d)
                and isinstance(prev, fx.Node) and prev.op == "call_module"
                and type(mods.get(prev.target)) in CONVS and len(prev.users) == 1
                and counts[prev.target] == 1 and counts[node.target] == 1
                and mods[node.target].track_running_stats):
            pairs.append((prev.target, node.target))
    for conv, bn in pairs:
        _set(model, conv, fuse_conv_bn_eval(mods[conv].eval(), mods[bn].eval()))
        _set(model, bn, nn.Identity())
    return [bn for _, bn in pairs]


def _set(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, new)
