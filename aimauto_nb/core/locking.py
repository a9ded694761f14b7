"""A lock that survives pickling: dropped from the state and rebuilt on unpickle, as Optuna's
samplers do, so a study holding our sampler or pruner pickles like a stock one."""

from __future__ import annotations

import threading

__all__ = ["PicklableLock"]


class PicklableLock:
    """Mixin: ``self._lock`` is a fresh ``threading.Lock`` after every unpickle."""

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
