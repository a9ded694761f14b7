"""``compress(model, ...)``: shrink a fitted model in place and report what it cost.

PyTorch modules: global L1 pruning, structured pruning of any traceable network, int8
quantization. LightGBM, XGBoost, CatBoost and scikit-learn boosting: fewer iterations.
Forests: fewer trees.
Linear models: sparser coefficients. If any step fails the model is left as it was.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError, InputTypeError
from ..measure import dumps, is_torch_module, measure_latency
from .report import CompressReport
from .rows import n_rows

__all__ = ["compress", "distill", "CompressReport", "QUANTIZE"]

QUANTIZE = ("int8", "int8-weight-only")


def _check(prune, structured, quantize, data, tolerance, recipe=None):
    if prune is not None and prune != "auto":
        if isinstance(prune, bool) or not isinstance(prune, numbers.Real) or not 0 < prune < 1:
            raise InputError(f'prune must be a fraction in (0, 1) or "auto", got {prune!r}')
    if quantize is not None and quantize not in QUANTIZE:
        raise InputError(f"quantize must be one of {QUANTIZE}, got {quantize!r}")
    if structured and prune is None:
        raise InputError("structured=True needs prune=FRACTION")
    if prune is None and quantize is None and recipe is None:
        raise InputError("nothing to do: pass prune=FRACTION, quantize='int8' or "
                         "compress(model, 'auto', data=...)")
    if tolerance is not None:
        if prune != "auto" and recipe != "auto":
            raise InputError('tolerance applies to compress(model, "auto") and prune="auto" only')
        if not isinstance(tolerance, numbers.Real) or tolerance < 0:
            raise InputError(f"tolerance must be a non-negative number of points, got {tolerance!r}")
    if data is not None:
        if not isinstance(data, tuple | list) or len(data) != 2:
            raise InputError("data must be a pair (X, y)")
        if n_rows(data[0]) != len(data[1]):
            raise InputError(f"data: X has {n_rows(data[0])} rows but y has {len(data[1])}")
    if prune == "auto" and data is None:
        raise InputError('prune="auto" needs data=(X, y) to judge the smaller models on')


def _check_finetune(model, finetune, epochs, lr, batch_size, loss) -> None:
    from .finetune import check_targets

    if not isinstance(finetune, tuple | list) or len(finetune) != 2:
        raise InputError("finetune must be a pair (X_train, y_train)")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise InputError(f"epochs must be a positive integer, got {epochs!r}")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, numbers.Real) or lr <= 0):
        raise InputError(f"lr must be a positive number, got {lr!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    check_targets(model, finetune[0], finetune[1], loss)


def distill(teacher, student, data, **kw):
    """Train ``student`` in place against ``teacher``'s outputs; see
    :func:`aimauto_nb.compression.finetune.distill`."""
    from .finetune import distill as _distill

    return _distill(teacher, student, data, **kw)


def _restore(model, backup) -> None:
    model.__dict__.clear()
    model.__dict__.update(backup.__dict__)


def compress(model: Any, recipe: str | None = None, *, prune: float | str | None = None,
             structured: bool = False,
             quantize: str | None = None, device: str | None = None, data: tuple | None = None,
             tolerance: float | None = None, finetune: tuple | None = None, epochs: int = 3,
             lr: float | None = None, batch_size: int | None = None, distill: bool | None = None,
             loss: str | Callable | None = None, progress: bool = True,
             example_inputs: Any = None, int8_backend: str | None = None,
             int8_layers: str = "faster", goal: str = "latency") -> CompressReport:
    """Shrink a fitted ``model`` in place and report size, latency and metric before/after.

    If any step fails the model is left exactly as it was and the error is raised.

    Parameters
    ----------
    model : torch.nn.Module or fitted estimator
        A PyTorch module (any architecture), LightGBM / XGBoost / CatBoost (scikit-learn API;
        LightGBM Booster too), scikit-learn (Hist)GradientBoosting, RandomForest / ExtraTrees,
        or a linear model.
    recipe : {"auto"}, optional
        ``"auto"`` (with ``data``): try the candidate recipes (torch: int8, structured 25 % and
        50 %, each with int8; trees: fewer iterations / trees), measure each on ``data`` and
        apply the best one for ``goal`` within ``tolerance`` points of the original metric.
        The report lists the candidates tried.
    prune : float in (0, 1) or "auto", optional
        What to remove: torch, the smallest weights (globally) or, with ``structured``, this
        fraction of each layer's channels / units; boosting, the last iterations; forests,
        trees; linear models, the smallest coefficients. ``"auto"`` (boosting and forests,
        with ``data``) keeps the smallest model within ``tolerance`` points of the full one.
    structured : bool, default False
        Torch: remove whole neurons, channels, attention and embedding dimensions and LSTM
        units, so the layers really shrink (needs ``prune``).
    quantize : {"int8", "int8-weight-only"}, optional
        Torch on CPU: dynamic int8 of Linear / LSTM / GRU / attention, each layer only where
        int8 is measured not to slow the model down (the slower ones may add at most 1 % of
        its fp32 time). A model with Conv layers gets the fastest of the whole-model int8
        paths, timed against fp32 on the example batch: ONNX Runtime's static int8 of the
        whole graph (with onnxruntime installed and tensor inputs), torch's static int8 Conv
        plus dynamic Linear, or dynamic Linear only; if none reaches 0.95x fp32's speed the
        model is left unchanged. Weights shared between layers (a tied ``lm_head``) are left
        as they are. On CUDA, or ``"int8-weight-only"``, weight-only int8 of the Linear layers.
    device : {"cpu", "cuda"}, optional
        Move a torch model there first.
    data : tuple (X, y), optional
        Rows to report the metric (accuracy or r2) and the torch output difference on, to
        calibrate Conv int8, and for ``prune="auto"``.
    tolerance : float, optional
        Points of metric ``"auto"`` / ``prune="auto"`` may give up (default 0.5; 1 point =
        0.01 accuracy).
    finetune : tuple (X_train, y_train), optional
        Train a pruned torch model for ``epochs`` before it is quantized.
    epochs : int, default 3
        Fine-tuning epochs.
    lr : float, optional
        Fine-tuning learning rate (Adam; default 5e-4).
    batch_size : int, optional
        Fine-tuning batch size (default 64).
    distill : bool, optional
        Fine-tune against the uncompressed model's outputs as well as the labels (default
        True when fine-tuning).
    loss : {"cross_entropy", "mse"} or callable, optional
        Fine-tuning loss; inferred from the output shape and ``y`` by default.
    progress : bool, default True
        Show fine-tuning progress (a tqdm bar: a widget in notebooks, text elsewhere).
    example_inputs : torch.Tensor, tuple of torch.Tensor or dict of str to torch.Tensor, optional
        One batch as ``forward`` takes it (a tuple: positional arguments; a dict: keyword
        arguments, e.g. ``{"input_ids": ids, "attention_mask": mask}``), to trace, time and
        choose int8 layers with. Default: the first 256 rows of ``data`` / ``finetune`` X
        (which may be a dict of arrays too; integer arrays become ``torch.long``).
        Structured pruning and Conv int8 need one of these unless the model starts with
        ``nn.Linear``.
    int8_backend : {"torch.ao", "torchao", "onnxruntime"}, optional
        Force one int8 path on CPU: ``"torch.ao"`` / ``"torchao"`` for the dynamic int8 of
        Linear layers (Conv layers then use torch's x86 int8 kernels, never ONNX Runtime);
        ``"onnxruntime"``: static int8 of the whole model through ONNX Runtime (tensor inputs;
        the model then runs there, inference only). Default: chosen by measurement (above).
    int8_layers : {"faster", "all"}, default "faster"
        Torch on CPU: ``"faster"`` quantizes a layer (and picks a whole-model path) only where
        int8 is measured not slower on the example batch; ``"all"`` quantizes every layer it
        can with torch's kernels (smallest torch model, may be slower on small layers).
    goal : {"latency", "size"}, default "latency"
        What ``"auto"`` optimises; ``"size"`` also quantizes layers where int8 is slower.

    Returns
    -------
    CompressReport
        Steps taken, size, latency and metric before and after (an HTML table in notebooks).
    """
    if recipe is not None and recipe != "auto":
        raise InputError(f'recipe must be "auto", got {recipe!r}')
    if int8_layers not in ("faster", "all"):
        raise InputError(f'int8_layers must be "faster" or "all", got {int8_layers!r}')
    if goal not in ("latency", "size"):
        raise InputError(f'goal must be "latency" or "size", got {goal!r}')
    if recipe == "auto" and (prune is not None or quantize is not None or structured):
        raise InputError('compress(model, "auto") chooses prune / structured / quantize itself')
    if recipe == "auto" and data is None:
        raise InputError('compress(model, "auto") needs data=(X, y) to judge the candidates on')
    if recipe == "auto" and not is_torch_module(model):
        prune = "auto"
    _check(prune, structured, quantize, data, tolerance, recipe)
    if finetune is None and (distill is not None or loss is not None):
        raise InputError("distill= and loss= apply to fine-tuning: pass finetune=(X_train, y_train)")
    if finetune is not None and not is_torch_module(model):
        raise InputTypeError(f"finetune applies to PyTorch modules, not {type(model).__name__}")
    if (example_inputs is not None or int8_backend is not None) and not is_torch_module(model):
        raise InputTypeError("example_inputs= and int8_backend= apply to PyTorch modules, not "
                        f"{type(model).__name__}")
    if is_torch_module(model):
        from .adapter import check_example_inputs
        from .quantize import BACKENDS
        from .torch_flow import compress_torch

        check_example_inputs(example_inputs)
        if int8_backend is not None and int8_backend not in BACKENDS:
            raise InputError(f"int8_backend must be one of {BACKENDS}, got {int8_backend!r}")
        if int8_backend is not None and quantize is None and recipe is None:
            raise InputError("int8_backend applies to quantize='int8'")
        if recipe == "auto":
            from .auto import compress_auto

            if finetune is not None:
                raise InputError('compress(model, "auto") does not fine-tune; call it, then '
                                 "distill() or compress with finetune=")
            return compress_auto(model, data, 0.5 if tolerance is None else float(tolerance), goal,
                                 device=device, example_inputs=example_inputs,
                                 int8_backend=int8_backend)

        if prune == "auto":
            raise InputError('prune="auto" applies to tree ensembles; give torch models a fraction')
        if finetune is not None:
            _check_finetune(model, finetune, epochs, lr, batch_size, loss)
        backup = copy.deepcopy(model)
        teacher = backup if finetune is not None and distill in (None, True) else None
        try:
            return compress_torch(model, prune, structured, quantize, device, data,
                                  finetune=finetune, teacher=teacher, epochs=epochs, lr=lr,
                                  batch_size=batch_size, loss=loss, progress=progress,
                                  example_inputs=example_inputs, int8_backend=int8_backend,
                                  reference=backup, int8_policy=int8_layers)
        except BaseException:
            _restore(model, backup)
            raise
    from . import trees

    kind = trees.kind_of(model)
    if kind is None:
        raise InputTypeError(
            f"compress supports PyTorch modules, fitted LightGBM, XGBoost and CatBoost models, "
            f"scikit-learn (Hist)GradientBoosting, RandomForest / ExtraTrees and linear models; "
            f"got {type(model).__name__}")
    if quantize is not None:
        raise InputError(f"quantize={quantize!r} applies to PyTorch modules, not "
                         f"{type(model).__name__}")
    if structured:
        raise InputError(f"structured=True applies to PyTorch modules, not {type(model).__name__}")
    if device not in (None, "cpu"):
        raise InputError(f"{type(model).__name__} is compressed on the CPU; device={device!r} "
                         "applies to PyTorch modules")
    if prune == "auto" and not kind.auto:
        raise InputError('prune="auto" applies to boosting and forests; give a fraction')
    backup = copy.deepcopy(model)
    try:
        return _compress_estimator(model, kind, prune, data,
                                   0.5 if tolerance is None else float(tolerance))
    except BaseException:
        _restore(model, backup)
        raise


def _batch(model, data, rows=256):
    if data is not None:
        X = data[0]
        return X.iloc[:rows] if hasattr(X, "iloc") else np.asarray(X)[:rows]
    n = getattr(model, "n_features_in_", None)
    if n is None and hasattr(model, "num_feature"):
        n = model.num_feature()
    if n is None and getattr(model, "feature_names_", None) is not None:  # CatBoost
        n = len(model.feature_names_)
    return None if n is None else np.random.default_rng(0).normal(size=(rows, n))


def _estimator_metric(model, kind, data):
    if data is None:
        return None, None
    from .quality import quality

    X, y = data
    classification = kind.is_classification(model, y)
    return quality(y, kind.labels(model.predict(X), classification), classification)


def _compress_estimator(model, kind, prune, data, tolerance) -> CompressReport:
    batch = _batch(model, data)
    rep = CompressReport(model_type=type(model).__name__, device="cpu")
    rep.size_before = len(dumps(model))
    rep.latency_batch = None if batch is None else len(batch)
    rep.latency_before = None if batch is None else measure_latency(model, batch)
    rep.metric, rep.metric_before = _estimator_metric(model, kind, data)
    rep.steps.append(kind.prune(model, prune, data, tolerance))
    rep.size_after = len(dumps(model))
    rep.latency_after = None if batch is None else measure_latency(model, batch)
    _, rep.metric_after = _estimator_metric(model, kind, data)
    if kind.data_note and data is not None:
        rep.notes.append(kind.data_note)
    return rep
