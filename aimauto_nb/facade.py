"""``Search``: the façade over one search. It starts the driver thread (its parts come
from :mod:`aimauto_nb.assemble`) and answers questions about the results, always from one
:class:`Snapshot`.

(This module is not named ``search.py`` because ``aimauto_nb.search`` is the function:
a submodule of that name would replace it on the package once imported.)
"""

from __future__ import annotations

import contextvars
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from .assemble import assemble
from .config import SearchConfig
from .driver import SearchError
from .persist import location
from .results import Snapshot, TrialRecord

__all__ = ["Search"]

_LIVE: weakref.WeakValueDictionary[str, Search] = weakref.WeakValueDictionary()
_LIVE_LOCK = threading.Lock()


class Search:
    """A running or finished search; see :func:`aimauto_nb.search`, which creates one.

    Every reader (``trials``, ``best``, ``pareto``, ``counts()``, the panel) works from
    :meth:`snapshot`, so it sees one moment of the search. ``study`` is the Optuna study.
    """

    def __init__(self, config: SearchConfig):
        with _LIVE_LOCK:
            other = _LIVE.get(config.name)
            if other is not None and other.running:
                raise ValueError(f"name: a search named {config.name!r} is still running in "
                                 "this process; stop() it first, or pick another name")
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
        self._listeners: list[tuple[Callable[[Search], None], bool]] = []
        parts = assemble(config, self._notify)
        self.sampler, self.study, self._storage = parts.sampler, parts.study, parts.storage
        self._results, self._kept, self._driver = parts.results, parts.kept, parts.driver
        self._thread: threading.Thread | None = None
        with _LIVE_LOCK:
            _LIVE[self.name] = self

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
        """Start no new trials; cancel process trials; give thread (and Dask) trials
        ``driver.STOP_GRACE`` seconds to finish, then record them failed (threads are also
        interrupted)."""
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
        """The fitted model of trial ``number`` (kept for the best and Pareto trials).

        If a kept model's file is gone (the models folder was deleted), the trial's model
        is refit from its parameters, with a warning naming the file."""
        m = self._kept.get(number)
        if m is not None:
            return m
        rec = self._results.get(number)
        if rec is None or rec.state != "complete" or number not in self._results.keep_numbers():
            raise KeyError(f"trial {number}'s model was not kept: only the best and "
                           "Pareto-optimal trials keep their fitted models")
        return self._kept.refit_missing(rec, self.config)

    def code(self, number: int | None = None) -> str:
        """The cell with the chosen values of trial ``number`` (best by default) filled in."""
        rec = self.best if number is None else self._results.get(number)
        if rec is None:
            raise LookupError("no trial has completed yet" if number is None else f"no trial {number}")
        return self.config.program.code(rec.params, rec.choice_index)

    def status_line(self) -> str:
        return self.snapshot().status_line()

    # ------------------------------------------------------------------ storage and tools

    @property
    def study_name(self) -> str:
        """The study's name in its storage (``name`` plus the start time in the default
        journal, where every run is kept)."""
        return self.study.study_name

    @property
    def storage_location(self) -> str:
        """Where the study is stored: a file, a URL, or ``memory``."""
        return location(self.config.storage)

    def dashboard(self, stop: bool = False, port: int = 0):
        """Open optuna-dashboard on this search's storage (127.0.0.1, a free port unless
        ``port``), served from the kernel until ``dashboard(stop=True)`` or the kernel
        exits. Needs the ``aimauto_nb[dashboard]`` extra.

        Returns
        -------
        Dashboard or None
            Its ``url`` / ``study_url``; in a notebook it shows as a link and an IFrame.
            ``None`` after ``stop=True``.
        """
        from .dashboard_server import for_study

        return for_study(self._storage, self.config.storage, self.study_name, stop=stop, port=port)

    def trials_dataframe(self, attrs: tuple[str, ...] | None = None, multi_index: bool = False):
        """The trials as a pandas DataFrame in Optuna's layout, the value columns named
        after the metrics (``values_accuracy``; ``value_accuracy`` for one metric) and a
        trial's error as ``user_attrs_error``."""
        from .tables import trials_dataframe

        return trials_dataframe(self.study, attrs, multi_index)

    def summary(self, num_trials: int = 10) -> None:
        """Print the best ``num_trials`` complete trials, best first, with their parameters
        and metric values (as Keras Tuner's ``results_summary``)."""
        from .tables import summary

        print(summary(self.snapshot(), num_trials, self.storage_location, self.study_name))

    def __repr__(self) -> str:
        return f"<Search {self.status_line()}>"

