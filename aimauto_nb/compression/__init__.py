"""Shrinking fitted models: pruning, int8 quantization, fine-tuning and distillation.

Stands alone: it shares only :mod:`aimauto_nb.measure`, :mod:`aimauto_nb.errors` and
:mod:`aimauto_nb._imports` with the rest, and imports neither Optuna nor the notebook layer.
"""

from ..errors import CompressError
from .api import QUANTIZE, compress, distill
from .report import CompressReport


def save_compressed(model, path):
    """Write a (compressed) torch model to ``path``; see :mod:`.saving`."""
    from .saving import save_compressed as _save

    return _save(model, path)


def load_compressed(path, map_location=None):
    """Load a model written by :func:`save_compressed`; see :mod:`.saving`."""
    from .saving import load_compressed as _load

    return _load(path, map_location)


__all__ = ["compress", "distill", "CompressReport", "CompressError", "QUANTIZE",
           "save_compressed", "load_compressed"]
