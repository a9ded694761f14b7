"""The search's data and its validation protocol (holdout, explicit validation set, K-fold
CV), split once for every trial, and the task (classification or regression) read off
the target."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.utils.multiclass import type_of_target

from ..errors import ConfigError
from ..measure import n_rows, take_rows

__all__ = ["Dataset", "task_of"]


def task_of(y) -> str:
    """"classification" or "regression", judged from the target."""
    if y is None:
        return "unknown"
    y = np.asarray(y)
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass"):
        return "regression"
    # Whole-number floats with many distinct values (e.g. diabetes) are a regression target.
    if y.dtype.kind == "f" and len(np.unique(y)) > 20:
        return "regression"
    return "classification"


@dataclass
class Dataset:
    """The training data and the validation protocol, split once for every trial."""

    X: Any
    y: Any
    task: str
    folds: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    X_valid: Any = None
    y_valid: Any = None
    protocol: str = ""

    @classmethod
    def build(cls, data, valid=None, cv=None, seed=None) -> Dataset | None:
        if data is None:
            if valid is not None or cv is not None:
                raise ConfigError("valid= and cv= need data=(X, y)")
            return None
        if not isinstance(data, tuple | list) or len(data) != 2:
            raise ConfigError("data must be a pair (X, y)")
        X, y = data
        if X is None or y is None:
            raise ConfigError("data must be a pair (X, y) with neither missing")
        if n_rows(X) != n_rows(y):
            raise ConfigError(f"data: X has {n_rows(X)} rows but y has {n_rows(y)}")
        if n_rows(X) < 2:
            raise ConfigError("data: need at least 2 rows")
        task = task_of(y)
        rs = 0 if seed is None else seed
        strat = task == "classification"
        if cv is not None and valid is not None:
            raise ConfigError("give either valid= or cv=, not both")
        if cv is not None:
            if isinstance(cv, int) and not isinstance(cv, bool):
                if cv < 2:
                    raise ConfigError(f"cv must be at least 2 folds, got {cv}")
                splitter = (StratifiedKFold if strat else KFold)(cv, shuffle=True, random_state=rs)
            elif hasattr(cv, "split"):
                splitter = cv
            else:
                raise ConfigError(f"cv must be a number of folds or a splitter, got {cv!r}")
            folds = [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(X, y)]
            n = len(folds)
            proto = f"{n}-fold {'stratified ' if strat and isinstance(cv, int) else ''}CV"
            return cls(X, y, task, folds=folds, protocol=proto)
        if isinstance(valid, tuple | list):
            if len(valid) != 2:
                raise ConfigError("valid must be a fraction or a pair (X_valid, y_valid)")
            Xv, yv = valid
            if n_rows(Xv) != n_rows(yv):
                raise ConfigError(f"valid: X has {n_rows(Xv)} rows but y has {n_rows(yv)}")
            return cls(X, y, task, X_valid=Xv, y_valid=yv, protocol="explicit validation set")
        frac = 0.2 if valid is None else valid
        if not isinstance(frac, float | int) or not 0 < frac < 1:
            raise ConfigError(f"valid must be a fraction in (0, 1) or (X_valid, y_valid), got {valid!r}")
        idx = np.arange(n_rows(X))
        tr, va = train_test_split(
            idx, test_size=frac, random_state=rs, stratify=np.asarray(y) if strat else None
        )
        proto = f"{frac:.0%} {'stratified ' if strat else ''}holdout"
        return cls(X, y, task, folds=[(tr, va)], protocol=proto)

    def splits(self):
        """(X_train, y_train, X_valid, y_valid) for each split."""
        if self.X_valid is not None:
            yield self.X, self.y, self.X_valid, self.y_valid
            return
        for tr, va in self.folds:
            yield take_rows(self.X, tr), take_rows(self.y, tr), take_rows(self.X, va), take_rows(self.y, va)

    @property
    def is_cv(self) -> bool:
        return len(self.folds) > 1

    def latency_batch(self, rows: int = 256):
        if self.X_valid is not None:
            Xv = self.X_valid
        else:
            Xv = take_rows(self.X, self.folds[0][1])
        return take_rows(Xv, np.arange(min(rows, n_rows(Xv))))
