"""Read-only views of what a trial may read but must not change (the notebook's arrays,
the search's data), so one trial cannot change what the others see."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .data import Dataset

__all__ = ["protect"]


def protect(obj: Any) -> Any:
    """What a trial may read but must not change: a NumPy array becomes a read-only view
    (O(1), no copy), a pandas object a shallow copy (copy-on-write, pandas >= 3: writing
    to it copies, the original stays as it was); a dict's values and a
    :class:`~aimauto_nb.evaluate.Dataset`'s arrays likewise; anything else is returned
    as is (lists, tensors and other mutable objects are not protected)."""
    if isinstance(obj, Dataset):
        return dataclasses.replace(
            obj, X=protect(obj.X), y=protect(obj.y), X_valid=protect(obj.X_valid),
            y_valid=protect(obj.y_valid), folds=[(protect(a), protect(b)) for a, b in obj.folds])
    if isinstance(obj, dict):
        return {k: protect(v) if isinstance(v, np.ndarray) or _is_pandas(v) else v
                for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        view = obj.view()
        view.flags.writeable = False
        return view
    if _is_pandas(obj):
        return obj.copy(deep=not _pandas_cow())
    return obj


def _is_pandas(obj) -> bool:
    return type(obj).__module__.split(".")[0] == "pandas" and hasattr(obj, "copy") \
        and type(obj).__name__ in ("DataFrame", "Series")


def _pandas_cow() -> bool:
    """Whether a shallow copy protects the original (only called once pandas is loaded)."""
    import pandas as pd

    return int(pd.__version__.split(".")[0]) >= 3 or bool(pd.options.mode.copy_on_write)
