"""Whole-model static int8 through ONNX Runtime, for CPU models with Conv layers.

PyTorch's eager int8 Conv kernels quantize and dequantize around every layer and lose to
fp32 on small CNNs (``benchmarks/compress.py``: mobilenet_v3_small 0.4-0.9x); ONNX Runtime
fuses the int8 graph and runs it on VNNI / AMX kernels (the same models 2-8x faster than
eager fp32). So the model is exported (TorchScript ONNX exporter, dynamic batch and, for
images, height and width), quantized with ONNX Runtime's own static QDQ recipe (int8
weights per output channel, uint8 activations calibrated on data) and run by an
:class:`OnnxInt8` module that holds the int8 model as a uint8 buffer: it pickles, saves
with ``torch.save`` and counts in ``state_dict`` like any layer. Inference only (no
gradients), CPU only.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
import warnings

import numpy as np
import torch
from torch import nn

from .._imports import available as _available
from .._imports import try_import
from ..errors import CompressError, InputError
from .int8_conv import _vnni

__all__ = ["OnnxInt8", "available", "compact", "quantize_onnx", "install"]


def available() -> bool:
    """True when onnxruntime and onnx are installed."""
    return _available("onnxruntime") and _available("onnx")


def _ort():
    ort = try_import("onnxruntime", extra="torch", what="int8_backend='onnxruntime'")
    ort.set_default_logger_severity(3)
    return ort


class OnnxInt8(nn.Module):
    """Runs an int8 ONNX model (``onnx_model``: its bytes) with ONNX Runtime on the CPU,
    taking and returning torch tensors; the session is built on first use with
    ``torch.get_num_threads()`` threads."""

    def __init__(self, onnx_bytes: bytes, n_inputs: int, tuple_output: bool):
        super().__init__()
        self.register_buffer("onnx_model", torch.frombuffer(bytearray(onnx_bytes), dtype=torch.uint8))
        self.n_inputs, self.tuple_output = n_inputs, tuple_output
        self._session = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_session"] = None  # an InferenceSession does not pickle; rebuilt on first use
        return state

    def _load_from_state_dict(self, *args, **kwargs):
        self._session = None
        return super()._load_from_state_dict(*args, **kwargs)

    def _open(self):
        ort = _ort()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(self.onnx_model.numpy().tobytes(), opts,
                                             providers=["CPUExecutionProvider"])
        self._names = [i.name for i in self._session.get_inputs()]

    def forward(self, *xs):
        if len(xs) != self.n_inputs:
            raise InputError(f"the int8 ONNX model takes {self.n_inputs} tensor inputs, got {len(xs)}")
        if self._session is None:
            self._open()
        feed = {n: np.ascontiguousarray(x.detach().cpu().numpy()) for n, x in zip(self._names, xs)}
        outs = tuple(torch.from_numpy(o) for o in self._session.run(None, feed))
        return outs if self.tuple_output else outs[0]

    def extra_repr(self) -> str:
        return f"int8 ONNX Runtime model, {self.onnx_model.numel() / 1024:,.0f} KB"


def _inputs(example) -> tuple[torch.Tensor, ...]:
    xs = example if isinstance(example, tuple) else (example,)
    if not all(isinstance(x, torch.Tensor) for x in xs):
        raise CompressError("int8 through ONNX Runtime takes tensor inputs (a tensor or a tuple of "
                            "tensors), not keyword inputs")
    return tuple(x.detach().cpu() for x in xs)


def _export(model: nn.Module, xs, path: str) -> bool:
    """Export with a dynamic batch (and height / width for images, where the model allows);
    returns whether the outputs are a tuple."""
    with torch.no_grad():
        out = model(*xs)
    tuple_output = isinstance(out, tuple | list)
    outs = out if tuple_output else (out,)
    if not all(isinstance(o, torch.Tensor) for o in outs):
        raise CompressError("int8 through ONNX Runtime needs a model that returns tensors, not "
                            f"{type(out).__name__}")
    names = [f"input_{i}" for i in range(len(xs))]
    onames = [f"output_{i}" for i in range(len(outs))]
    last_error = None
    for spatial in (True, False):
        axes = {n: ({0: "batch", 2: "height", 3: "width"} if spatial and x.dim() == 4 else {0: "batch"})
                for n, x in zip(names, xs)}
        axes.update({n: {0: "batch"} for n in onames})
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(model, xs, path, dynamo=False, input_names=names,
                                  output_names=onames, dynamic_axes=axes, opset_version=17)
            return tuple_output
        except Exception as e:
            last_error = e
    raise CompressError(f"cannot export {type(model).__name__} to ONNX for int8: "
                        f"{type(last_error).__name__}: {str(last_error).strip().splitlines()[0][:200]}")


def _attention_safe(path: str) -> dict:
    """``quantize_static`` options for a graph with attention (MatMul of two activations):
    only Conv / Gemm / weight MatMul in int8. Quantizing everything, as for a CNN, costs a
    ViT most of its accuracy (cosine 0.92-0.94 to fp32 on torchvision's and timm's, 0.999
    this way); a CNN keeps the full recipe (its int8 Add / Mul save conversions)."""
    import onnx

    graph = onnx.load(path).graph
    consts = {t.name for t in graph.initializer} | {
        o for n in graph.node if n.op_type == "Constant" for o in n.output}
    pairs = [n.name for n in graph.node if n.op_type == "MatMul"
             and not any(i in consts for i in n.input)]
    return dict(nodes_to_exclude=pairs, op_types_to_quantize=["Conv", "Gemm", "MatMul"]) if pairs else {}


def _preprocess(quant_pre_process, src: str, dst: str) -> str:
    """ONNX Runtime's pre-processing (shape inference, graph optimisation) where it copes with
    the graph: its symbolic shape inference fails on some dynamic reshapes (torchvision's
    ViT), then it runs without it, and failing that the graph is quantized as exported."""
    for skip in (False, True):
        try:
            quant_pre_process(src, dst, skip_symbolic_shape=skip)
            return dst
        except Exception:
            continue
    return src


def compact(path: str) -> bytes:
    """The ONNX model at ``path`` with its node and tensor names shortened and its doc strings
    and stored shapes dropped (ONNX Runtime infers them again): the exporter's and the
    quantizer's names (``/features/features.4/block/block.2/fc1/Conv_output_0_QuantizeLinear``)
    were 9 % of mobilenet_v3_small's int8 bytes. Inputs and outputs keep their names; the
    graph computes exactly what it did. A graph that names tensors elsewhere too (subgraphs
    of ``If`` / ``Loop``, sparse initializers, quantization annotations, training info) is
    returned as it is."""
    import onnx

    mp = onnx.load(path)
    graph = mp.graph
    if (any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
            for node in graph.node for a in node.attribute)
            or graph.sparse_initializer or graph.quantization_annotation or mp.training_info):
        return mp.SerializeToString()
    keep = {v.name for v in graph.input} | {v.name for v in graph.output}
    short: dict[str, str] = {}
    fresh = (f"t{i:x}" for i in itertools.count())

    def rename(name: str) -> str:
        if not name or name in keep:
            return name
        if name not in short:
            short[name] = next(n for n in fresh if n not in keep)
        return short[name]

    for t in graph.initializer:
        t.name = rename(t.name)
    for node in graph.node:
        node.name, node.doc_string = "", ""
        node.input[:] = [rename(x) for x in node.input]
        node.output[:] = [rename(x) for x in node.output]
    del graph.value_info[:]
    mp.doc_string = graph.doc_string = ""
    return mp.SerializeToString()


def quantize_onnx(model: nn.Module, example, calibration=None) -> OnnxInt8:
    """An :class:`OnnxInt8` of ``model`` (left unchanged), calibrated on ``calibration`` (a list
    of input batches) or else on ``example``."""
    try_import("onnx", extra="torch", what="int8_backend='onnxruntime'")
    _ort()
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    xs = _inputs(example)
    batches = [_inputs(b) for b in (calibration or [example])]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter([{f"input_{i}": x.numpy() for i, x in enumerate(b)} for b in batches])

        def get_next(self):
            return next(self._it, None)

    with tempfile.TemporaryDirectory() as tmp:
        fp32, pre, int8 = (os.path.join(tmp, f) for f in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        tuple_output = _export(model.eval(), xs, fp32)
        level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # quant_pre_process logs through root
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pre = _preprocess(quant_pre_process, fp32, pre)
                quantize_static(pre, int8, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                                reduce_range=not _vnni(), activation_type=QuantType.QUInt8,
                                weight_type=QuantType.QInt8,
                                **_attention_safe(pre))
        finally:
            logging.getLogger().setLevel(level)
        q = OnnxInt8(compact(int8), len(xs), tuple_output)
    q(*xs)  # fails here, not later, if ONNX Runtime cannot run the graph
    return q


def install(model: nn.Module, q: OnnxInt8) -> None:
    """Make ``model`` (in place) run through ``q``: its own layers and weights are dropped, its
    class and call signature stay, so existing references to it keep working."""
    model._modules.clear()
    model._parameters.clear()
    model._buffers.clear()
    model._non_persistent_buffers_set.clear()
    model.int8_onnx = q
    model.forward = q.forward
