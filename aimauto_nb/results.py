"""Trial records and what is derived from them: the best trial and the Pareto front."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .evaluate import Metric

__all__ = ["TrialRecord", "pareto_front", "best_of", "dominates"]

STATES = ("running", "complete", "failed", "pruned")


@dataclass
class TrialRecord:
    """One trial as the user sees it (the Optuna trial stays in ``search.study``)."""

    number: int
    state: str = "running"
    params: dict[str, Any] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)
    duration: float | None = None
    error: str | None = None
    started: dt.datetime | None = None
    choice_index: dict[str, int] = field(default_factory=dict)
    intermediate: dict[int, float] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        row = {"number": self.number, "state": self.state}
        row.update(self.values)
        row.update({f"params.{k}": v for k, v in self.params.items()})
        row["duration"] = self.duration
        row["error"] = self.error.strip().splitlines()[-1] if self.error else None
        return row


def dominates(a: TrialRecord, b: TrialRecord, metrics: list[Metric]) -> bool:
    """True when ``a`` is no worse than ``b`` on every metric and better on one."""
    at_least_as_good = all(
        not m.better(b.values[m.name], a.values[m.name]) for m in metrics
    )
    strictly = any(m.better(a.values[m.name], b.values[m.name]) for m in metrics)
    return at_least_as_good and strictly


def pareto_front(records: list[TrialRecord], metrics: list[Metric]) -> list[TrialRecord]:
    """Complete trials no other complete trial dominates (written out: O(n²) over a few
    hundred records is cheap, and Optuna's own helper is private and reads storage)."""
    done = [r for r in records if r.state == "complete"]
    if len(metrics) == 1:
        b = best_of(done, metrics)
        return [b] if b else []
    front = []
    for r in done:
        if not any(dominates(o, r, metrics) for o in done if o is not r):
            front.append(r)
    return front


def best_of(records: list[TrialRecord], metrics: list[Metric]) -> TrialRecord | None:
    """Best complete trial by the first metric; ties go to the better one on the next
    metrics, so with several objectives the best trial is also on the Pareto front."""

    def key(r):
        return tuple(r.values[m.name] * (-1 if m.direction == "maximize" else 1) for m in metrics)

    done = [r for r in records if r.state == "complete"]
    return min(done, key=key) if done else None
