"""The one quality number a compression report shows: accuracy for classifiers, r2 for
regressors (scikit-learn's definitions)."""

from __future__ import annotations

import numpy as np

__all__ = ["quality"]


def quality(y, pred, classification: bool) -> tuple[str, float]:
    """``("accuracy", a)`` or ``("r2", r)`` of predictions ``pred`` (labels or values; for a
    classifier, class scores of shape (rows, classes) are reduced by argmax)."""
    from sklearn.metrics import accuracy_score, r2_score

    y = np.asarray(y)
    pred = np.asarray(pred)
    if classification:
        if pred.ndim == 2 and pred.shape[1] > 1:
            pred = pred.argmax(axis=1)
        elif pred.ndim == 2:
            pred = pred[:, 0]
        if pred.dtype.kind == "f" and y.dtype.kind in "iub":
            pred = (pred > 0.5).astype(int)
        return "accuracy", float(accuracy_score(y, pred))
    return "r2", float(r2_score(y.reshape(len(y), -1), pred.reshape(len(y), -1)))
