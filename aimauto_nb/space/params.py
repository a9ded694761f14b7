"""A marker's parameter (:class:`Param`) and the markers' signatures: what the static
analysis of a cell binds a marker's literal arguments against, and what ``hp`` builds at
run time. Depends on nothing else in :mod:`aimauto_nb.space`, so the analysis and the
``hp`` object do not import each other."""

from __future__ import annotations

import builtins
import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna.distributions as od

from ..errors import SpaceError

__all__ = ["Param", "MARKER_KINDS", "SIGNATURES"]


MARKER_KINDS = ("int", "float", "choice")


_PRIMITIVES = (type(None), bool, builtins.int, builtins.float, str)


def _is_number(x: Any) -> bool:
    return isinstance(x, builtins.int | builtins.float) and not isinstance(x, bool)


def _label(obj: Any) -> str:
    """A readable label for a non-primitive option: a class or function by its own name
    (``nn.LSTM`` -> ``"LSTM"``), an instance by its class name."""
    name = getattr(obj, "__qualname__", None)  # classes and functions, not instances
    return name if isinstance(name, str) else type(obj).__name__


@dataclass(frozen=True)
class Param:
    """One tunable parameter: its kind, bounds or options, and default."""

    kind: str
    low: Any = None
    high: Any = None
    log: bool = False
    step: Any = None
    options: tuple = ()
    default: Any = None
    name: str | None = None

    def __post_init__(self):
        if self.kind == "choice":
            if len(self.options) == 0:
                raise SpaceError("hp.choice needs at least one option")
            if self.default is not None and self.default not in self.options:
                raise SpaceError(f"hp.choice default {self.default!r} is not one of the options")
            return
        label = f"hp.{self.kind}({self.low!r}, {self.high!r})"
        if not (_is_number(self.low) and _is_number(self.high)):
            raise SpaceError(f"{label}: bounds must be numbers")
        if self.kind == "int" and not (
            float(self.low).is_integer() and float(self.high).is_integer()
        ):
            raise SpaceError(f"{label}: bounds of hp.int must be integers")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise SpaceError(f"{label}: bounds must be finite")
        if self.low > self.high:
            raise SpaceError(f"{label}: low > high")
        if self.log and self.low <= 0:
            raise SpaceError(f"{label}: log=True needs low > 0")
        if self.step is not None:
            if not _is_number(self.step) or self.step <= 0:
                raise SpaceError(f"{label}: step must be a positive number")
            if self.log and self.step != 1:
                raise SpaceError(f"{label}: step and log=True cannot be combined")
        if self.default is not None:
            if not _is_number(self.default) or not self.low <= self.default <= self.high:
                raise SpaceError(f"{label}: default {self.default!r} is outside [low, high]")

    @property
    def labels(self) -> tuple:
        """Values the sampler sees for a choice: the options if primitive, else labels."""
        if all(isinstance(o, _PRIMITIVES) for o in self.options):
            return self.options
        labels = []
        for i, o in enumerate(self.options):
            lab = o if isinstance(o, _PRIMITIVES) else _label(o)
            labels.append(f"{lab}#{i}" if lab in labels or lab in self.options[:i] else lab)
        return tuple(labels)

    def distribution(self) -> od.BaseDistribution:
        if self.kind == "int":
            return od.IntDistribution(
                builtins.int(self.low), builtins.int(self.high), log=self.log,
                step=1 if self.step is None else builtins.int(self.step),
            )
        if self.kind == "float":
            return od.FloatDistribution(
                builtins.float(self.low), builtins.float(self.high), log=self.log,
                step=None if self.step is None else builtins.float(self.step),
            )
        return od.CategoricalDistribution(self.labels)

    def from_sampled(self, value: Any) -> Any:
        """Map what the sampler returned to the value the cell sees."""
        if self.kind == "choice":
            return self.options[self.labels.index(value)]
        return value

    def default_value(self) -> Any:
        if self.default is not None:
            return self.default
        if self.kind == "choice":
            return self.options[0]
        lo, hi = self.low, self.high
        mid = math.sqrt(lo * hi) if self.log else (lo + hi) / 2
        if self.kind == "int":
            step = self.step or 1
            return builtins.int(lo + round((mid - lo) / step) * step)
        if self.step is not None:
            return lo + round((mid - lo) / self.step) * self.step
        return mid

    def grid(self) -> list:
        """All values of a finite parameter, for the grid sampler."""
        if self.kind == "choice":
            return list(self.labels)
        if self.kind == "int":
            return list(range(builtins.int(self.low), builtins.int(self.high) + 1,
                              builtins.int(self.step or 1)))
        if self.step is None:
            raise SpaceError(f"hp.float({self.low!r}, {self.high!r}) has no step, so it has no grid")
        n = builtins.int(math.floor((self.high - self.low) / self.step + 1e-9))
        return [self.low + i * self.step for i in range(n + 1)]


def _int(low, high, *, log=False, step=1, default=None, name=None): ...


def _float(low, high, *, log=False, step=None, default=None, name=None): ...


def _choice(options: Sequence, *, default=None, name=None): ...


SIGNATURES = {"int": inspect.signature(_int), "float": inspect.signature(_float),
              "choice": inspect.signature(_choice)}
