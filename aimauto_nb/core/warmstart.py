"""Warm starts: configurations worth trying first.

- The shipped portfolio (``portfolio.json``, learned by ``benchmarks/learn_portfolio.py``
  on data sets that ship with scikit-learn or are generated, disjoint from the ones
  ``benchmarks/quality.py`` judges it on): a few strong configurations per estimator
  class, used when a cell's markers are keyword arguments of that class.
- A previous search (a ``Search``, or ``(storage, study_name)``): its best complete trials.

Either way a configuration is kept only for the parameters the cell searches (the sampler
fills in the rest). A number outside the cell's range is moved to the nearest bound: the
cell says where to look, the configuration which way; an option the cell does not offer is
dropped.
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources
from typing import Any

from ..errors import ConfigError
from ..space.analysis import CellSpace
from ..space.params import Param

__all__ = ["WarmStart", "portfolio", "portfolio_trials", "previous_trials", "resolve"]

#: at most this many configurations from a previous search
PREVIOUS_BEST = 5


class WarmStart(list):
    """Parameter dicts to enqueue first, each with where it came from."""

    def add(self, params: dict[str, Any], source: str) -> None:
        if params and all(params != p for p, _ in self):
            self.append((params, source))


@cache
def portfolio() -> dict[str, list[dict[str, Any]]]:
    """Estimator class name -> configurations, best first."""
    text = resources.files("aimauto_nb.core").joinpath("portfolio.json").read_text()
    return json.loads(text)["estimators"]


_OUTSIDE = object()


def _fit(param: Param, value) -> Any:
    """``value`` as the sampler would have returned it for ``param``, clipped to its range
    (``_OUTSIDE`` when it is not a number, or not one of a choice's options)."""
    if param.kind == "choice":
        norm = tuple(value) if isinstance(value, list) else value
        for label, option in zip(param.labels, param.options):
            if option == norm and type(option) is type(norm):
                return label
        return _OUTSIDE
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return _OUTSIDE
    value = min(max(value, param.low), param.high)
    if param.kind == "int":
        step = param.step or 1
        return int(param.low + round((value - param.low) / step) * step)
    if param.step:
        return param.low + round((value - param.low) / param.step) * param.step
    return float(value)


def _match(config: dict[str, Any], space: CellSpace, names: dict[str, str]) -> dict[str, Any]:
    params = space.static_params
    out = {}
    for key, value in config.items():
        name = names.get(key)
        if name is None or name not in params:
            continue
        fitted = _fit(params[name], value)
        if fitted is not _OUTSIDE:
            out[name] = fitted
    return out


def portfolio_trials(space: CellSpace | None) -> WarmStart:
    """Portfolio configurations for the estimator classes the cell's markers belong to
    (kept when they cover at least half of that estimator's markers)."""
    out = WarmStart()
    if space is None:
        return out
    known = portfolio()
    by_class: dict[str, dict[str, str]] = {}
    for m in space.markers:
        if m.qualifier in known and m.name is not None:
            keyword = m.name.rsplit(".", 1)[-1]
            by_class.setdefault(m.qualifier, {})[keyword] = m.name
    for cls, names in by_class.items():
        for config in known[cls]:
            params = _match(config, space, names)
            if 2 * len(params) >= len(names):
                out.add(params, f"portfolio ({cls})")
    return out


def previous_trials(previous, space: CellSpace | None, k: int = PREVIOUS_BEST) -> WarmStart:
    """The best ``k`` complete trials of a previous search (a ``Search`` or an Optuna
    study), kept for this cell's parameters and ranges."""
    out = WarmStart()
    if space is None:
        return out
    names = {n: n for n in space.static_params}
    if hasattr(previous, "snapshot"):
        snap = previous.snapshot()
        ranked = sorted((r for r in snap.trials if r.state == "complete"),
                        key=lambda r: tuple(-r.values[m.name] if m.direction == "maximize"
                                            else r.values[m.name] for m in snap.metrics))
        configs = [r.params for r in ranked]
        label = f"warm start from {snap.name}"
    else:
        import optuna

        done = previous.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        sign = [-1 if d == optuna.study.StudyDirection.MAXIMIZE else 1 for d in previous.directions]
        ranked = sorted(done, key=lambda t: tuple(s * v for s, v in zip(sign, t.values)))
        configs = [t.params for t in ranked]
        label = f"warm start from {previous.study_name}"
    for params in configs:
        if len(out) >= k:
            break
        out.add(_match(params, space, names), label)
    return out


def resolve(warm_start, space: CellSpace | None) -> WarmStart:
    """The configurations ``warm_start=`` asks for: ``True`` the shipped portfolio, a
    ``Search`` / Optuna study / ``(storage, study_name)`` its best trials, ``False`` none."""
    if warm_start is False or warm_start is None:
        return WarmStart()
    if warm_start is True:
        return portfolio_trials(space)
    if isinstance(warm_start, tuple) and len(warm_start) == 2:
        import optuna

        storage, name = warm_start
        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            raise ConfigError(f"warm_start: no study named {name!r} in {storage!r}") from None
        return previous_trials(study, space)
    if hasattr(warm_start, "snapshot") or hasattr(warm_start, "get_trials"):
        return previous_trials(warm_start, space)
    raise ConfigError("warm_start must be True (the shipped portfolio), False, a Search, an Optuna "
                     f"study or (storage, study_name); got {type(warm_start).__name__}")
