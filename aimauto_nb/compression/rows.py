"""Rows of a batch, without importing torch (the tree path must not load it)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["n_rows"]


def n_rows(X) -> int:
    """Rows of an array / frame / tensor / list, or of the first of a tuple or dict of them."""
    if isinstance(X, Mapping):
        X = next(iter(X.values()))
    if isinstance(X, tuple):
        X = X[0]
    return X.shape[0] if hasattr(X, "shape") else len(X)
