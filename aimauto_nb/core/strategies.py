"""Strategy and pruner names to Optuna samplers and pruners.

Each strategy is a factory in :data:`SAMPLERS`; adding one is one function and one entry.
``strategy=`` also takes any Optuna ``BaseSampler`` instance, as ``pruner=`` takes any
``BasePruner``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import optuna
from optuna.trial import TrialState

from .._imports import try_import
from ..errors import ConfigError
from ..runtime.metrics import Metric
from ..space.analysis import CellSpace
from .locking import PicklableLock

__all__ = ["STRATEGIES", "SAMPLERS", "make_sampler", "check_strategy", "grid_size", "AutoSampler"]

SamplerFactory = Callable[[Sequence[Metric], "CellSpace | None", "int | None"], optuna.samplers.BaseSampler]


class _GridSampler(optuna.samplers.GridSampler):
    """Grid sampling for ask/tell: the budget already stops at the grid's size, and
    ``Study.stop`` (which Optuna's version calls) only works inside ``optimize``."""

    def after_trial(self, study, trial, state, values) -> None:
        pass


def _grid(space: CellSpace | None) -> dict[str, list]:
    if space is None or space.dynamic or not space.markers:
        raise ConfigError("strategy 'grid' needs a cell whose markers all have literal names")
    params = space.static_params
    missing = [m.name for m in space.markers if m.name not in params]
    if missing:
        raise ConfigError(f"strategy 'grid' needs literal bounds; {missing} are computed")
    try:
        return {name: p.grid() for name, p in params.items()}
    except ValueError as e:
        raise ConfigError(f"strategy 'grid' needs a finite space: {e}") from None


def grid_size(space: CellSpace | None) -> int:
    """How many points the grid strategy would try (checks the space is a finite grid)."""
    size = 1
    for values in _grid(space).values():
        size *= len(values)
    return size


def _tpe(metrics, space, seed):
    return optuna.samplers.TPESampler(seed=seed)


def _numeric(space: CellSpace | None) -> bool:
    """A static space of int/float markers only (what a Gaussian process models well)."""
    return (space is not None and bool(space.markers) and not space.dynamic
            and all(m.kind != "choice" for m in space.markers) and not space.conditional)


MIN_GP_ASK_S = 0.05
# the GP's asks together may take at most this share of the trials' own time; past it, an
# ask goes to TPE instead
GP_SHARE = 0.2
# random trials after a warm start before the models take over (benchmarks/quality.py:
# after the 3 LightGBM portfolio trials, 2 random ones before TPE / GP instead of 7)
INFORMED_RANDOM = 2


def _gp_available() -> bool:
    """PyTorch and SciPy are installed (looked up, not imported: importing torch takes a
    second, and the magic must return at once; the driver thread imports it on first use)."""
    from importlib.util import find_spec

    return find_spec("torch") is not None and find_spec("scipy") is not None


class AutoSampler(PicklableLock, optuna.samplers.BaseSampler):
    """``strategy="auto"``: a Gaussian process where it pays, TPE elsewhere.

    - Spaces with ``hp.choice``, conditional or computed markers, and wherever the GP does
      not pay: TPE with the constant liar (parallel trials never get the same point);
      single-objective multivariate (``group`` for conditional spaces), multi-objective
      univariate as Optuna's default ``TPESampler``: multivariate lost to it on every
      problem of ``benchmarks/mo_fallback.py`` (200 instant trials, HV ratio, median of 3
      seeds: ZDT1 0.439 vs 0.495, ZDT3 0.193 vs 0.516, DTLZ2 0.749 vs 0.843); univariate
      with the liar gives exactly default TPE's values on sequential trials.
    - All-numeric spaces: Optuna's ``GPSampler`` (it models running trials too, so parallel
      asks differ) as long as its own time per ask stays under the larger of the median
      trial's duration and ``gp_floor_s`` (1 s for a budget in trials; none for a search
      with a timeout, nor for multi-objective, whose acquisition costs far more). Its O(n³) cost
      grows with the trials, so a long search of cheap trials moves to TPE and stays there.
      The GP also has a budget: its asks together take at most ``gp_share`` (a fifth) of
      the trials' own seconds, and an ask that would overspend it goes to TPE, so as the GP
      gets dearer it is asked less often instead of slowing the search. Without it a
      LightGBM search of 60 cheap trials (breast_cancer holdout, 0.07 s each) took 30 s
      against TPE's 3.9 s for a lower best (``benchmarks/overhead.py``); so on near-instant
      trials ``auto`` is TPE after two GP asks (``strategy="gp"`` asks the GP throughout:
      after 50 instant trials on Branin its regret was 0.0001 against TPE's 0.096, at
      ~0.3 s an ask, ``benchmarks/quality.py``). With 1 s trials on ZDT1 / ZDT3 / DTLZ2
      (200 evaluations) the budget kept 0.961 / 0.985 / 0.830 of the HV at 31 / 40 / 9 s of
      sampler time, against 0.968 / 0.993 / 0.804 at 91 / 88 / 19 s without it
      (``benchmarks/mo_fallback.py``).
    - Without PyTorch and SciPy (GP's dependencies): TPE throughout.
    - Once a trial is pruned: TPE for the rest of the search. ``GPSampler`` models complete
      (and running) trials only, so after a pruned trial it asks the same point again; with
      CV fold pruning on breast_cancer it asked one point 17 times in a row, each pruned
      after its first fold. TPE ranks pruned trials by how far they got.

    - After a warm start (:meth:`start_from`): TPE and the GP model the trials from the
      warm start's k + ``INFORMED_RANDOM`` on, not after 10 random ones. The warm-start
      trials are strong configurations, not draws, so waiting 10 trials only delayed the
      models: on LightGBM (8 parameters, breast_cancer and digits × 3 seeds, 60 trials) the
      median trials to target went from 0.86× to 2.49× the soonest of TPE, OptunaHub's
      AutoSampler and FLAML per case, and the worst best-after-60 against TPE from −0.52 to
      −0.17 points (``benchmarks/quality.py --lgbm-params 8``).

    The choice is made per trial (``before_trial``) and kept in :attr:`history`.
    ``trial_seconds`` fixes the trial cost the rule assumes (for simulations such as
    ``benchmarks/quality.py``); by default it is the median of the last 10 trials.
    ``startup_trials``: random trials before either model starts (Optuna's default, 10).
    """

    def __init__(self, space: CellSpace | None, n_objectives: int, seed: int | None = None,
                 gp_floor_s: float = 1.0, trial_seconds: float | None = None,
                 gp_share: float = GP_SHARE, startup_trials: int = 10):
        conditional = space is not None and (space.dynamic or space.conditional)
        multivariate = n_objectives == 1  # multi-objective: univariate wins (mo_fallback.py)
        self._tpe_options = dict(seed=seed, multivariate=multivariate,
                                 group=conditional and multivariate, constant_liar=True)
        self._startup = startup_trials
        self._tpe = optuna.samplers.TPESampler(**self._tpe_options, n_startup_trials=startup_trials)
        self._seed = seed
        self._use_gp = _numeric(space) and _gp_available()
        self._gp: optuna.samplers.BaseSampler | None = None
        self._floor = gp_floor_s if n_objectives == 1 else 0.0
        self._gp_cost: float | None = None
        self._gp_asks = 0
        self._gp_spent = 0.0  # seconds of GP asks (the first, which imports PyTorch, left out)
        self._share = gp_share
        self._trial_seconds = trial_seconds  # a fixed trial cost, for simulations
        self._by_trial: dict[int, optuna.samplers.BaseSampler] = {}
        self._lock = threading.Lock()
        self.history: list[str] = []

    def start_from(self, informed: int) -> None:
        """The first ``informed`` trials are chosen configurations (a warm start), not random
        draws: TPE and the GP model the trials from ``informed + INFORMED_RANDOM`` on (at most
        the ``startup_trials`` they wait for otherwise). Call before the first ask."""
        startup = min(self._startup, informed + INFORMED_RANDOM) if informed else self._startup
        if startup != self._startup:
            self._startup = startup
            self._tpe = optuna.samplers.TPESampler(**self._tpe_options, n_startup_trials=startup)

    def _gp_sampler(self):
        if self._gp is None:
            self._gp = optuna.samplers.GPSampler(seed=self._seed, warn_independent_sampling=False,
                                                 n_startup_trials=self._startup)
        return self._gp

    def _choose(self, study: optuna.Study):
        if not self._use_gp:
            return self._tpe
        ended = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        done = [t for t in ended if t.state == TrialState.COMPLETE]
        if len(done) < len(ended):
            self._use_gp = False  # the GP models complete trials only: it would ask again
            return self._tpe      # the point just pruned (and again, and again)
        if len(done) < self._startup:
            return self._tpe  # both start from the same random (or enqueued) trials
        durations = sorted(t.duration.total_seconds() for t in done[-10:] if t.duration)
        median = durations[len(durations) // 2] if durations else 0.0
        if self._trial_seconds is not None:
            median = self._trial_seconds
        # A GP ask costs at least ~0.05 s (multi-objective: far more): with no floor and
        # trials faster than that it cannot pay, so it is not even tried.
        cost = self._gp_cost if self._gp_cost is not None else (
            MIN_GP_ASK_S if self._floor == 0.0 else 0.0)
        if cost > max(median, self._floor):
            self._use_gp = False  # it only gets dearer as trials accumulate
            return self._tpe
        if self._gp_cost is not None:
            spent = (self._trial_seconds * len(done) if self._trial_seconds is not None
                     else sum(t.duration.total_seconds() for t in done if t.duration))
            if self._gp_spent + cost > self._share * spent:
                return self._tpe
        return self._gp_sampler()

    def _of(self, trial) -> optuna.samplers.BaseSampler:
        return self._by_trial.get(trial._trial_id, self._tpe)

    def before_trial(self, study, trial) -> None:
        with self._lock:
            chosen = self._choose(study)
            self._by_trial[trial._trial_id] = chosen
            self.history.append("gp" if chosen is self._gp else "tpe")
        chosen.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self._of(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        sampler = self._of(trial)
        if sampler is not self._gp or not search_space:
            return sampler.sample_relative(study, trial, search_space)
        t0 = time.perf_counter()
        out = sampler.sample_relative(study, trial, search_space)
        with self._lock:
            if self._gp_asks:  # the first ask also pays for importing PyTorch
                self._gp_cost = time.perf_counter() - t0
                self._gp_spent += self._gp_cost
            self._gp_asks += 1
        return out

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._of(trial).sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        with self._lock:
            sampler = self._by_trial.pop(trial._trial_id, self._tpe)
        sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._tpe.reseed_rng()
        if self._gp is not None:
            self._gp.reseed_rng()


def _auto(metrics, space, seed):
    return AutoSampler(space, len(metrics), seed)


def _random(metrics, space, seed):
    return optuna.samplers.RandomSampler(seed=seed)


def _nsga2(metrics, space, seed):
    return optuna.samplers.NSGAIISampler(seed=seed)


def _grid_sampler(metrics, space, seed):
    return _GridSampler(_grid(space), seed=seed)


def _cmaes(metrics, space, seed):
    if len(metrics) > 1:
        raise ConfigError("strategy 'cmaes' is single-objective; ask for one metric or use "
                         "'tpe' / 'nsga2'")
    if space is not None and any(m.kind == "choice" for m in space.markers):
        raise ConfigError("strategy 'cmaes' handles numeric parameters only; the cell has "
                         "hp.choice (use 'tpe')")
    try_import("cmaes", what="strategy 'cmaes'")
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


def _gp(metrics, space, seed):
    try_import("scipy", what="strategy 'gp'")
    try_import("torch", extra="torch", what="strategy 'gp'")
    return optuna.samplers.GPSampler(seed=seed)


SAMPLERS: dict[str, SamplerFactory] = {
    "auto": _auto,
    "tpe": _tpe,
    "random": _random,
    "grid": _grid_sampler,
    "nsga2": _nsga2,
    "gp": _gp,
    "cmaes": _cmaes,
}
STRATEGIES = tuple(SAMPLERS)


def check_strategy(strategy) -> None:
    if isinstance(strategy, optuna.samplers.BaseSampler):
        return
    if strategy not in SAMPLERS:
        raise ConfigError(f"unknown strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)} "
                         "or an Optuna sampler")


def make_sampler(strategy, metrics: Sequence[Metric], space: CellSpace | None,
                 seed: int | None, timed: bool = False) -> optuna.samplers.BaseSampler:
    """The Optuna sampler behind a strategy (checks that it fits the space and metrics).

    ``timed``: the search has a wall-clock budget, so ``auto`` grants its Gaussian process
    no 1 s floor: it runs only while an ask costs less than a trial (with cheap trials and a
    timeout, every second of sampler time is a trial lost; ``benchmarks/scale.py``)."""
    check_strategy(strategy)
    if isinstance(strategy, optuna.samplers.BaseSampler):
        return strategy
    if strategy == "auto" and timed:
        return AutoSampler(space, len(metrics), seed, gp_floor_s=0.0)
    return SAMPLERS[strategy](metrics, space, seed)
