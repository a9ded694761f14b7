"""``Search``: the façade over one search. It opens the study, starts the driver thread,
and answers questions about the results, always from one :class:`Snapshot`.

(This module is not named ``search.py`` because ``aimauto_nb.search`` is the function:
a submodule of that name would replace it on the package once imported.)
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from typing import Any

import cloudpickle

from .config import SearchConfig
from .driver import Driver, SearchError
from .executors import is_dask
from .models import KeptModels, ModelStore
from .results import Results, Snapshot, TrialRecord
from .strategies import make_pruner, make_sampler
from .study import history, open_storage, open_study, signature
from .trial import Spec
from .warmstart import resolve as resolve_warm_start

__all__ = ["Search"]


class Search:
    """A running or finished search; see :func:`aimauto_nb.search`, which creates one.

    Every reader (``trials``, ``best``, ``pareto``, ``counts()``, the panel) works from
    :meth:`snapshot`, so it sees one moment of the search. ``study`` is the Optuna study.
    """

    def __init__(self, config: SearchConfig):
        self.config = config
        self.metrics = config.metrics
        self.name = config.name
        self.strategy = config.strategy_name
        self.trials_budget = config.trials
        self.timeout = config.timeout
        self.executor = config.executor
        self.trial_timeout = config.trial_timeout
        self.seed = config.seed
        self.protocol = config.protocol
        pruner = make_pruner(config.pruner)
        self.sampler = make_sampler(config.strategy, config.metrics, config.program.space, config.seed)
        spec = _spec(config, auto_report=pruner is not None)
        storage, models_dir = open_storage(config.storage)
        # Without an explicit pruner Optuna attaches a MedianPruner, which `should_prune`
        # would then consult whatever pruner the user asked for.
        import optuna

        study_pruner = pruner if pruner is not None and len(self.metrics) == 1 \
            else optuna.pruners.NopPruner()
        self.study, retry = open_study(storage, self.name, self.metrics, self.sampler, study_pruner,
                                       signature(config.program, self.metrics), config.resume)
        self._results = Results(self.metrics, patience=config.patience)
        for rec in history(self.study, self.metrics):
            self._results.put(rec)
        data = config.data
        self._kept = KeptModels(ModelStore(models_dir, self.name),
                                refit_on=(data.X, data.y) if data is not None and data.is_cv else None)
        self._listeners: list[tuple[Callable[[Search], None], bool]] = []
        queue = [(params, "retry of a trial left running") for params in retry]
        if config.strategy != "grid" and not self.study.get_trials(deepcopy=False):
            # (a resumed study has its own history; a grid tries every point anyway)
            queue += resolve_warm_start(config.warm_start, config.program.space)
        self._driver = Driver(config, self.study, spec, self._results, self._kept, pruner, queue,
                              self._notify)
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control

    def start(self) -> Search:
        """Start the driver thread (once); returns ``self``."""
        with self._results.lock:
            if self._results.state != "pending":
                return self
            self._results.set_state("running")
        # The driver runs in a copy of the caller's context: in a kernel that carries the
        # cell's parent header, so whatever the search emits is attributed to its own cell.
        ctx = contextvars.copy_context()
        self._thread = threading.Thread(target=ctx.run, args=(self._driver.run,),
                                        name=f"aimsearch-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Start no new trials; let thread trials finish, cancel process trials."""
        self._driver.stop_event.set()

    def wait(self, timeout: float | None = None) -> Search:
        """Block until the search ends (or ``timeout`` seconds). Ctrl-C / a kernel
        interrupt stops the search. Raises :class:`SearchError` if the search failed."""
        if self._thread is None:
            raise RuntimeError("the search has not been started (call .start())")
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while self._thread.is_alive():
                left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
                if left <= 0:
                    break
                self._thread.join(left)
        except KeyboardInterrupt:
            self.stop()
            self._thread.join(5)
            raise
        if not self._thread.is_alive():
            self._notify(waiting=True)
        if self.state == "failed" and self._results.error is not None:
            raise SearchError(str(self._results.error)) from self._results.error
        return self

    def add_listener(self, fn: Callable[[Search], None], *, on_wait: bool = False) -> None:
        """Call ``fn(search)`` from the driver thread after every change; with ``on_wait``
        also from :meth:`wait` once the search has ended (in the waiting thread, so a
        notebook runner records what ``fn`` displays)."""
        self._listeners.append((fn, on_wait))

    def _notify(self, waiting: bool = False) -> None:
        for fn, on_wait in list(self._listeners):
            if waiting and not on_wait:
                continue
            try:
                fn(self)
            except Exception:  # a broken view must never break the search
                pass

    # ------------------------------------------------------------------ state

    def snapshot(self) -> Snapshot:
        """One consistent, immutable view: trials, front, best, counts, state, elapsed."""
        return self._results.snapshot(name=self.name, strategy=self.strategy,
                                      protocol=self.protocol, budget=self.trials_budget,
                                      timeout=self.timeout)

    @property
    def state(self) -> str:
        """pending, running, done, stopped or failed."""
        return self._results.state

    @property
    def running(self) -> bool:
        return self.state in ("pending", "running")

    @property
    def stop_reason(self) -> str | None:
        """Why the search ended: its budget, timeout, ``stop()``, convergence or failure."""
        return self._results.stop_reason

    @property
    def converged(self) -> bool:
        """No better trial (multi-objective: no new Pareto-optimal one) in the last
        ``config.patience`` complete trials: further improvement is unlikely."""
        return self._results.converged

    @property
    def error(self) -> BaseException | None:
        """Why the search failed (``state == "failed"``)."""
        return self._results.error

    @property
    def elapsed(self) -> float:
        return self._results.elapsed

    @property
    def launched(self) -> int:
        """Trials started by this run (resumed history not counted)."""
        return self._driver.launched

    @property
    def jobs(self) -> int | None:
        return self._driver.jobs

    @property
    def trials(self) -> list[TrialRecord]:
        """Every trial of the study so far (resumed ones too), by number."""
        return list(self.snapshot().trials)

    def counts(self) -> dict[str, int]:
        return self.snapshot().counts

    @property
    def best(self) -> TrialRecord | None:
        """The best complete trial by the first metric."""
        return self.snapshot().best

    @property
    def best_params(self) -> dict[str, Any] | None:
        b = self.best
        return None if b is None else dict(b.params)

    @property
    def pareto(self) -> list[TrialRecord]:
        """Complete trials that no other complete trial beats on every metric."""
        return list(self.snapshot().front)

    @property
    def best_model(self):
        b = self.best
        if b is None:
            raise LookupError("no trial has completed yet")
        return self.model(b.number)

    def model(self, number: int):
        """The fitted model of trial ``number`` (kept for the best and Pareto trials)."""
        m = self._kept.get(number)
        if m is None:
            raise KeyError(f"trial {number}'s model was not kept: only the best and "
                           "Pareto-optimal trials keep their fitted models")
        return m

    def code(self, number: int | None = None) -> str:
        """The cell with the chosen values of trial ``number`` (best by default) filled in."""
        rec = self.best if number is None else self._results.get(number)
        if rec is None:
            raise LookupError("no trial has completed yet" if number is None else f"no trial {number}")
        return self.config.program.code(rec.params, rec.choice_index)

    def status_line(self) -> str:
        return self.snapshot().status_line()

    def __repr__(self) -> str:
        return f"<Search {self.status_line()}>"


def _spec(config: SearchConfig, auto_report: bool) -> Spec:
    """What every trial shares; process and Dask workers get the namespace pickled once,
    reduced to the names the cell reads."""
    ns = config.namespace
    remote = config.executor != "thread"
    if remote:
        ns = {k: ns[k] for k in config.program.references if k in ns}
    spec = Spec(config.program, ns, config.data, config.metrics, auto_report=auto_report)
    if config.executor == "process" or is_dask(config.executor):
        try:
            spec.namespace_blob = cloudpickle.dumps(ns)
        except Exception as e:
            raise ValueError(f"the cell uses a value that cannot be sent to a worker process ({e}); "
                             "use executor='thread'") from e
    return spec
