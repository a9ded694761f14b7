"""The ``hp`` markers (``hp.int``, ``hp.float``, ``hp.choice``).

Outside a search every marker returns its default, so a marked cell is still ordinary
Python. Inside a trial the markers are bound to a resolver that asks the sampler. Their
names come from :mod:`aimauto_nb.space.analysis`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import SpaceError
from .params import MARKER_KINDS, Param

__all__ = ["hp", "HP", "Param", "SpaceError", "MARKER_KINDS"]


Resolver = Callable[[str, Param], Any]


class HP:
    """The marker namespace. ``hp.int(2, 12)`` returns the default unless bound to a trial."""

    def __init__(self, resolver: Resolver | None = None, reporter: Callable | None = None):
        self._resolver = resolver
        self._reporter = reporter

    def __repr__(self) -> str:
        return "<aimauto_nb.hp (trial)>" if self._resolver else "<aimauto_nb.hp (defaults)>"

    def _value(self, param: Param) -> Any:
        if self._resolver is None:
            return param.default_value()
        name = param.name
        if name is None:
            from .analysis import name_from_caller

            name = name_from_caller(sys._getframe(2), param.kind)
        return self._resolver(name, param)

    def int(self, low, high, *, log=False, step=1, default=None, name=None):
        """An integer in [low, high] (inclusive), optionally on a log scale or with a step."""
        return self._value(Param("int", low, high, log, None if log else step, (), default, name))

    def float(self, low, high, *, log=False, step=None, default=None, name=None):
        """A float in [low, high], optionally on a log scale or on a grid of ``step``."""
        return self._value(Param("float", low, high, log, step, (), default, name))

    def choice(self, options: Sequence, *, default=None, name=None):
        """One of ``options`` (any objects; the first is the default)."""
        return self._value(Param("choice", options=tuple(options), default=default, name=name))

    def report(self, value: float, step: int) -> None:
        """Report an intermediate value; raises ``optuna.TrialPruned`` when pruned."""
        if self._reporter is not None:
            self._reporter(value, step)


hp = HP()
