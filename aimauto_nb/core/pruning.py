"""Pruning: pruner names to Optuna pruners, the O(1) :class:`AutoPruner`, and the pruning
policy the driver consults, one object per way of deciding:

- :class:`AutoPolicy`: ``pruner="auto"``, verdicts from :class:`AutoPruner`'s sorted
  per-step values (reports still stored on single-objective trials for the dashboard);
- :class:`StudyPolicy`: any Optuna pruner on a single-objective study (``trial.report`` then
  ``trial.should_prune``);
- :class:`ShadowPolicy`: Optuna's pruners refuse multi-objective studies, so they decide on
  the first metric in an in-memory single-objective twin of the study.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Sequence

import optuna
from optuna.trial import TrialState

from ..errors import ConfigError
from ..runtime.metrics import Metric
from .locking import PicklableLock

__all__ = ["AutoPruner", "FOLD_WARMUP", "PRUNERS", "PRUNER_FACTORIES", "check_pruner", "make_pruner",
           "PruningPolicy", "pruning_policy"]


def _median(values: list[float]) -> float:
    """The median of sorted values as ``numpy.nanpercentile(values, 50)`` computes it (its
    linear interpolation, NaN from ``inf - inf`` included), so verdicts match Optuna's."""
    n = len(values)
    if n == 0:
        return math.nan
    virtual = (n - 1) * 0.5
    lo = int(virtual)
    a, b = values[lo], values[min(lo + 1, n - 1)]
    t = virtual - lo
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


class _StudyState:
    """What :class:`AutoPruner` knows of one study."""

    def __init__(self):
        self.by_step: dict[int, list[float]] = {}  # complete trials' values, NaN left out
        self.observed: set[int] = set()
        self.longest = 0
        self.best: dict[int, float] = {}  # running trial -> its best value so far


class AutoPruner(PicklableLock, optuna.pruners.BasePruner):
    """``pruner="auto"``: the median rule, after 10 complete trials, and never before a trial
    is 10 % of the way into the longest run so far (in its own steps: boosting rounds,
    epochs). With LightGBM on breast_cancer / digits (3 seeds, 30 s) a median pruner waiting
    20 rounds reached the target in 6 of 6 runs; Hyperband, pruning from round 1, missed it in
    2 (``benchmarks/scale.py``). The relative warm-up keeps that for epoch-level reports too.

    Verdicts are ``MedianPruner(n_startup_trials=startup, n_warmup_steps=w)``'s, with ``w``
    the larger of ``warmup_steps`` and ``warmup`` times the longest run: a trial whose
    values so far are all NaN is pruned, ±inf count in the per-step median (Optuna's tests,
    ``tests/test_pruning_contract.py``). State is kept per study, so one instance can serve
    several studies, and the pruner pickles with its study (its lock is rebuilt).

    Decisions cost O(log n) in the number of trials: complete trials' intermediate values
    are kept sorted per step (:meth:`observe`, called by the driver when a trial completes),
    and each running trial's best value so far is kept by :meth:`decide`, instead of
    scanning every trial of the study on every report as Optuna's ``MedianPruner`` does.
    """

    def __init__(self, startup: int = 10, warmup: float = 0.1, warmup_steps: int = 1):
        self._startup = startup
        self._warmup = warmup
        self._warmup_steps = warmup_steps
        self._studies: dict[object, _StudyState] = {}
        self._lock = threading.Lock()

    def _state(self, study) -> _StudyState:
        st = self._studies.get(study)
        if st is None:
            st = self._studies[study] = _StudyState()
        return st

    def observe(self, number: int, intermediate: dict[int, float], study=None) -> None:
        """A trial of ``study`` (a key: :func:`study_key`) completed with these intermediate
        values (idempotent per trial)."""
        with self._lock:
            st = self._state(study)
            st.best.pop(number, None)
            if number in st.observed:
                return
            st.observed.add(number)
            for step, value in intermediate.items():
                if not math.isnan(value):
                    bisect.insort(st.by_step.setdefault(int(step), []), float(value))
            if intermediate:
                st.longest = max(st.longest, max(int(s) for s in intermediate))

    def forget(self, number: int, study=None) -> None:
        """A trial ended without completing (pruned, failed)."""
        with self._lock:
            self._state(study).best.pop(number, None)

    def decide(self, number: int, value: float, step: int, maximize: bool, study=None) -> bool:
        """Prune trial ``number`` after it reported ``value`` at ``step``?"""
        with self._lock:
            st = self._state(study)
            best = st.best.get(number)
            if best is None or math.isnan(best) or (value > best if maximize else value < best):
                best = st.best[number] = value
            if not st.observed or len(st.observed) < self._startup:
                return False
            if step < max(self._warmup_steps, self._warmup * st.longest):
                return False
            if math.isnan(best):
                return True
            median = _median(st.by_step.get(step, []))
        if math.isnan(median):
            return False
        return best < median if maximize else best > median

    def prune(self, study: optuna.Study, trial) -> bool:
        """Optuna's interface (used when the pruner is called through ``should_prune``):
        complete trials not yet observed are read once."""
        key = study_key(study)
        with self._lock:
            observed = set(self._state(key).observed)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if t.number not in observed:
                self.observe(t.number, dict(t.intermediate_values), key)
        step = trial.last_step
        if step is None:
            return False
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        self.forget(trial.number, key)
        for s in sorted(trial.intermediate_values):
            verdict = self.decide(trial.number, trial.intermediate_values[s], s, maximize, key)
        return verdict


def study_key(study: optuna.Study) -> tuple:
    """What :class:`AutoPruner` keeps a study's state under: its name and id."""
    return (study.study_name, study._study_id)


PRUNER_FACTORIES: dict[str, Callable[[], optuna.pruners.BasePruner | None]] = {
    "none": lambda: None,
    "auto": AutoPruner,
    "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
    "halving": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
}


PRUNERS = tuple(PRUNER_FACTORIES)


def check_pruner(pruner) -> None:
    if pruner is None or isinstance(pruner, optuna.pruners.BasePruner):
        return
    if pruner not in PRUNER_FACTORIES:
        raise ConfigError(f"pruner: unknown pruner {pruner!r}; valid pruners: {', '.join(PRUNERS)} "
                         "or an Optuna pruner")


#: ``pruner="auto"`` on K-fold CV steps never prunes after one fold: on breast_cancer (LightGBM,
#: 60 trials, 3 seeds, the unpruned trials replayed) the median rule from fold 1 saved 12-28 %
#: of the folds but pruned the eventual best in one seed (0.17 points lost); from fold 2 it
#: saved 8-17 % and kept the best in every seed (``benchmarks/quality.py --only folds``).
#: As in Optuna's median rule a trial is judged by its best value so far, here its best
#: running mean: a good first fold still counts at step 2, so fold pruning errs on keeping.
FOLD_WARMUP = 2


def make_pruner(pruner, folds: bool = False) -> optuna.pruners.BasePruner | None:
    """The Optuna pruner behind a name (``None`` for no pruning).

    No pruner is switched on unless asked, ``strategy="auto"`` and CV searches included: on
    breast_cancer (LightGBM, 5-fold CV, 60 trials, 3 seeds) fold pruning fitted 4-21 % fewer
    folds and reached the target in as many trials, too little to make it the default
    before the larger data sets of ``benchmarks/quality.py --only folds`` are measured.

    Parameters
    ----------
    pruner : str, optuna.pruners.BasePruner or None
        A name of :data:`PRUNERS`, an Optuna pruner (used as is) or ``None``.
    folds : bool
        The reports will be K-fold CV steps (the running mean after each fold): ``"auto"``
        then waits :data:`FOLD_WARMUP` folds, since one fold's score is too coarse to judge.
    """
    check_pruner(pruner)
    if pruner is None or isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner == "auto" and folds:
        return AutoPruner(warmup_steps=FOLD_WARMUP)
    return PRUNER_FACTORIES[pruner]()


_TELL_STATE = {"complete": TrialState.COMPLETE, "failed": TrialState.FAIL,
               "pruned": TrialState.PRUNED}


class PruningPolicy:
    """What the driver asks while trials run: :meth:`start` once with the study,
    :meth:`decide` on every report, :meth:`finished` when a trial ends."""

    def start(self, study: optuna.Study) -> None:
        pass

    def decide(self, trial: optuna.Trial, value: float, step: int) -> bool:
        raise NotImplementedError

    def finished(self, number: int, state: str, values: list[float] | None,
                 intermediate: dict[int, float]) -> None:
        pass


class StudyPolicy(PruningPolicy):
    """The study's own pruner (single objective)."""

    def decide(self, trial, value, step):
        trial.report(value, step)
        return trial.should_prune()


class ShadowPolicy(PruningPolicy):
    """An Optuna pruner on the first metric of a multi-objective search, in a twin study."""

    def __init__(self, pruner: optuna.pruners.BasePruner, metric: Metric):
        self._shadow = optuna.create_study(direction=metric.direction, pruner=pruner)
        self._trials: dict[int, optuna.Trial] = {}
        self._lock = threading.Lock()

    def decide(self, trial, value, step):
        with self._lock:
            shadow = self._trials.get(trial.number)
            if shadow is None:
                shadow = self._trials[trial.number] = self._shadow.ask()
        shadow.report(value, step)
        return shadow.should_prune()

    def finished(self, number, state, values, intermediate):
        with self._lock:
            shadow = self._trials.pop(number, None)
        if shadow is not None:
            self._shadow.tell(shadow, values[0] if values else None, state=_TELL_STATE[state])


class AutoPolicy(PruningPolicy):
    """:class:`AutoPruner`'s O(1) verdicts, fed the study's complete trials at start."""

    def __init__(self, pruner: AutoPruner, metrics: Sequence[Metric]):
        self.pruner = pruner
        self._single = len(metrics) == 1
        self._maximize = metrics[0].direction == "maximize"
        self._key = None

    def start(self, study):
        self._key = study_key(study)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            self.pruner.observe(t.number, dict(t.intermediate_values), self._key)

    def decide(self, trial, value, step):
        if self._single:
            trial.report(value, step)  # kept in the storage (dashboard, resume)
        return self.pruner.decide(trial.number, value, step, self._maximize, self._key)

    def finished(self, number, state, values, intermediate):
        if state == "complete":
            self.pruner.observe(number, intermediate, self._key)
        else:
            self.pruner.forget(number, self._key)


def pruning_policy(pruner: optuna.pruners.BasePruner | None,
                   metrics: Sequence[Metric]) -> PruningPolicy | None:
    """The policy for ``pruner`` (from :func:`make_pruner`); ``None`` without pruning."""
    if pruner is None:
        return None
    if isinstance(pruner, AutoPruner):
        return AutoPolicy(pruner, metrics)
    if len(metrics) > 1:
        return ShadowPolicy(pruner, metrics[0])
    return StudyPolicy()
