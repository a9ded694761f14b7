"""Shrinking fitted models: pruning, int8 quantization, fine-tuning and distillation.

Stands alone: it shares only :mod:`aimauto_nb.measure` with the search, and imports
neither Optuna nor the notebook layer.
"""

from ..errors import CompressError
from .api import QUANTIZE, compress, distill
from .report import CompressReport

__all__ = ["compress", "distill", "CompressReport", "CompressError", "QUANTIZE"]
