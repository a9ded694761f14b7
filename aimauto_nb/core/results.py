"""Trial records and what is derived from them (the best trial, the Pareto front), kept by
one :class:`Results` store that hands out consistent :class:`Snapshot` views."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..runtime.metrics import METRICS, Metric, format_seconds, format_value

__all__ = ["TrialRecord", "Snapshot", "Results", "Identity", "pareto_front", "best_of", "dominates", "STATES"]

STATES = ("running", "complete", "failed", "pruned")


@dataclass(frozen=True)
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
    source: str | None = None  # where its parameters came from when not the sampler

    def replace(self, **changes) -> TrialRecord:
        return dataclasses.replace(self, **changes)

    @property
    def error_line(self) -> str | None:
        """The last line of the error (the exception), for tables."""
        return self.error.strip().splitlines()[-1] if self.error else None

    def __repr__(self) -> str:
        """``TrialRecord(7, complete, accuracy=0.9884, size=106 kB | max_depth=5 | 1.2 s)``:
        values formatted by their metrics, the start time left out."""
        parts = [str(self.number), self.state]
        if self.values:
            parts[-1] += ", " + ", ".join(f"{k}={format_value(METRICS.get(k), v)}"
                                          for k, v in self.values.items())
        if self.params:
            parts.append(", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={format_value(None, v)}"
                                   for k, v in self.params.items()))
        if self.duration is not None:
            parts.append(format_seconds(self.duration))
        if self.source:
            parts.append(f"from {self.source}")
        if self.error_line:
            parts.append(self.error_line)
        return f"TrialRecord({parts[0]}, {' | '.join(parts[1:])})"

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))

    def as_row(self) -> dict[str, Any]:
        row = {"number": self.number, "state": self.state}
        row.update(self.values)
        row.update({f"params.{k}": v for k, v in self.params.items()})
        row["duration"] = self.duration
        row["error"] = self.error_line
        return row


def dominates(a: TrialRecord, b: TrialRecord, metrics: Sequence[Metric]) -> bool:
    """True when ``a`` is no worse than ``b`` on every metric and better on one."""
    at_least_as_good = all(not m.better(b.values[m.name], a.values[m.name]) for m in metrics)
    strictly = any(m.better(a.values[m.name], b.values[m.name]) for m in metrics)
    return at_least_as_good and strictly


def pareto_front(records: Sequence[TrialRecord], metrics: Sequence[Metric]) -> list[TrialRecord]:
    """Complete trials no other complete trial dominates, by number (written out: O(n²) over
    a few hundred records is cheap, and Optuna's own helper is private and reads storage)."""
    done = [r for r in records if r.state == "complete"]
    if len(metrics) == 1:
        b = best_of(done, metrics)
        return [b] if b else []
    return [r for r in done if not any(dominates(o, r, metrics) for o in done if o is not r)]


def best_of(records: Sequence[TrialRecord], metrics: Sequence[Metric]) -> TrialRecord | None:
    """Best complete trial by the first metric; ties go to the better one on the next
    metrics, so with several objectives the best trial is also on the Pareto front."""

    done = [r for r in records if r.state == "complete"]
    return min(done, key=lambda r: _key(r, metrics)) if done else None


def _key(r: TrialRecord, metrics: Sequence[Metric]) -> tuple:
    return tuple(r.values[m.name] * (-1 if m.direction == "maximize" else 1) for m in metrics)


@dataclass(frozen=True)
class Snapshot:
    """One consistent view of a search, taken under one lock: what the panel, the text
    progress line and the plots render from."""

    name: str
    strategy: str
    protocol: str
    metrics: tuple[Metric, ...]
    state: str
    trials: tuple[TrialRecord, ...]
    front: tuple[TrialRecord, ...]
    best: TrialRecord | None
    counts: dict[str, int]
    elapsed: float
    budget: int | None
    timeout: float | None
    error: str | None = None
    stop_reason: str | None = None
    stagnant: int = 0  # complete trials since the best (or the front) last improved
    patience: int | None = None  # stagnant trials after which improvement is unlikely
    resources: str = ""  # each trial's share of the machine, for people

    @property
    def converged(self) -> bool:
        """Further improvement is unlikely: no better trial in the last ``patience``."""
        return self.patience is not None and self.stagnant >= self.patience

    @property
    def convergence(self) -> str | None:
        """The convergence signal for people, or None while the search still improves."""
        if not self.converged:
            return None
        what = "better trial" if len(self.metrics) == 1 else "new Pareto-optimal trial"
        return f"converged: no {what} in the last {self.stagnant} trials"

    @property
    def running(self) -> bool:
        return self.state in ("pending", "running")

    @property
    def finished(self) -> int:
        return self.counts["complete"] + self.counts["failed"] + self.counts["pruned"]

    def values_text(self, rec: TrialRecord) -> str:
        """``accuracy=0.9712, size=80.6 kB``: each metric formatted by its :class:`Metric`."""
        return ", ".join(f"{m.name}={m.format(rec.values.get(m.name))}" for m in self.metrics)

    def short_line(self) -> str:
        """The status line for a terminal that rewrites it in place: zero counts left out,
        best values last (a narrow terminal cuts them first)."""
        c = self.counts
        budget = f"/{self.budget}" if self.budget else ""
        bad = ", ".join(f"{c[k]} {k}" for k in ("failed", "pruned") if c[k])
        parts = [f"{self.name}: {self.state}",
                 f"{self.finished}{budget} trials" + (f" ({bad})" if bad else ""),
                 f"{c['running']} running", format_seconds(self.elapsed)]
        if self.best is not None:
            parts.append("best " + self.values_text(self.best))
        return " | ".join(parts)

    def status_line(self) -> str:
        """``name: state | 12/40 trials | 10 complete, ... | 3.2s | 2 jobs × 1 thread |
        best accuracy=0.97``."""
        c = self.counts
        budget = f"/{self.budget}" if self.budget else ""
        warm = sum(r.source is not None for r in self.trials)
        parts = [f"{self.name}: {self.state}", f"{self.finished}{budget} trials",
                 f"{c['complete']} complete, {c['failed']} failed, {c['pruned']} pruned, "
                 f"{c['running']} running" + (f" ({warm} warm-start)" if warm else ""),
                 format_seconds(self.elapsed)] + ([self.resources] if self.resources else [])
        if self.best is not None:
            parts.append("best " + self.values_text(self.best))
        if self.stop_reason and not self.running:
            parts.append(self.stop_reason)
        elif self.convergence:
            parts.append(self.convergence)
        return " | ".join(parts)


@dataclass(frozen=True)
class Identity:
    """What a search is, as every snapshot shows it (given to :class:`Results` once)."""

    name: str = "search"
    strategy: str = ""
    protocol: str = ""
    budget: int | None = None
    timeout: float | None = None
    resources: str = ""  # each trial's share: "2 jobs × 1 thread · cuda:0, cuda:1"


class Results:
    """The trials of one search and its lifecycle state, guarded by one lock. The driver
    writes; everything else reads :meth:`snapshot`. The best trial and the front are kept
    as records arrive, so loading or running n trials costs O(n), not O(n²)."""

    def __init__(self, metrics: Sequence[Metric], patience: int | None = None,
                 identity: Identity | None = None):
        self.identity = identity or Identity()
        self.metrics = tuple(metrics)
        self.patience = patience
        self.stagnant = 0
        self.lock = threading.RLock()
        self._records: dict[int, TrialRecord] = {}
        self._front: list[TrialRecord] = []
        self._best: TrialRecord | None = None
        self.state = "pending"
        self.error: BaseException | None = None
        self.stop_reason: str | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None

    def put(self, rec: TrialRecord) -> bool:
        """Add or replace a record; True when it is (now) on the Pareto front or the best."""
        with self.lock:
            self._records[rec.number] = rec
            if self._best is not None and self._best.number == rec.number:
                self._best = best_of(list(self._records.values()), self.metrics)  # replaced
            elif rec.state == "complete" and (
                    self._best is None or _key(rec, self.metrics) < _key(self._best, self.metrics)):
                self._best = rec
            if rec.state != "complete":
                return False
            if len(self.metrics) == 1:
                old = self._front[0] if self._front else None
                self._front = [self._best]
                improved = self._front[0] is rec and (
                    old is None or self.metrics[0].better(rec.values[self.metrics[0].name],
                                                          old.values[self.metrics[0].name]))
                self.stagnant = 0 if improved else self.stagnant + 1
                return self._front[0] is rec
            if any(dominates(f, rec, self.metrics) for f in self._front):
                self.stagnant += 1
                return False
            tie = any(f.values == rec.values for f in self._front)  # no new trade-off
            self._front = sorted([f for f in self._front if not dominates(rec, f, self.metrics)
                                  and f.number != rec.number] + [rec], key=lambda r: r.number)
            self.stagnant = self.stagnant + 1 if tie else 0
            return True

    @property
    def converged(self) -> bool:
        with self.lock:
            return self.patience is not None and self.stagnant >= self.patience

    def get(self, number: int) -> TrialRecord | None:
        with self.lock:
            return self._records.get(number)

    def keep_numbers(self) -> set[int]:
        """Trials whose fitted models are worth keeping: the front and the best."""
        with self.lock:
            keep = {r.number for r in self._front}
            if self._best is not None:
                keep.add(self._best.number)
            return keep

    def set_state(self, state: str, error: BaseException | None = None,
                  reason: str | None = None) -> None:
        with self.lock:
            self.state = state
            now = time.monotonic()
            if state == "running":
                self.started_at = now
            elif state in ("done", "stopped", "failed"):
                self.finished_at = now
            if error is not None:
                self.error = error
            if reason is not None:
                self.stop_reason = reason

    @property
    def elapsed(self) -> float:
        with self.lock:
            if self.started_at is None:
                return 0.0
            end = self.finished_at if self.finished_at is not None else time.monotonic()
            return end - self.started_at

    def snapshot(self) -> Snapshot:
        ident = self.identity
        with self.lock:
            trials = tuple(self._records[n] for n in sorted(self._records))
            counts = dict.fromkeys(STATES, 0)
            for r in trials:
                counts[r.state] += 1
            return Snapshot(
                name=ident.name, strategy=ident.strategy, protocol=ident.protocol, metrics=self.metrics,
                state=self.state, trials=trials, front=tuple(self._front),
                best=self._best, counts=counts, elapsed=self.elapsed,
                budget=ident.budget, timeout=ident.timeout,
                error=None if self.error is None else str(self.error),
                stop_reason=self.stop_reason, stagnant=self.stagnant, patience=self.patience,
                resources=ident.resources)
