"""A stored study's trials as :class:`~aimauto_nb.core.results.TrialRecord` s (a resumed
search shows its past)."""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from ..runtime.metrics import Metric
from .results import TrialRecord

__all__ = ["record_of", "history"]


_STATE_NAME = {TrialState.COMPLETE: "complete", TrialState.FAIL: "failed",
               TrialState.PRUNED: "pruned", TrialState.RUNNING: "running"}


def record_of(t: FrozenTrial, metrics: tuple[Metric, ...]) -> TrialRecord:
    names = [m.name for m in metrics]
    return TrialRecord(
        number=t.number, state=_STATE_NAME[t.state], params=dict(t.params),
        values=dict(zip(names, t.values)) if t.values else {},
        duration=t.duration.total_seconds() if t.duration else None,
        error=t.user_attrs.get("aimauto_nb.error"), started=t.datetime_start,
        choice_index=dict(t.user_attrs.get("aimauto_nb.choice_index", {})),
        intermediate=dict(t.intermediate_values),
        source=t.user_attrs.get("aimauto_nb.source"),
    )


def history(study: optuna.Study, metrics: tuple[Metric, ...]) -> list[TrialRecord]:
    """The study's trials so far as records (resumed searches show their past)."""
    return [record_of(t, metrics) for t in study.get_trials(deepcopy=False)
            if t.state in _STATE_NAME]
