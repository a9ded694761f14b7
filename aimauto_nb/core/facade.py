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

from ..errors import ConfigError, SearchError
from .assemble import assemble
from .config import SearchConfig
from .queries import SearchQueries
from .results import Snapshot

__all__ = ["Search"]

_LIVE: weakref.WeakValueDictionary[str, Search] = weakref.WeakValueDictionary()
_LIVE_LOCK = threading.Lock()


class Search(SearchQueries):
    """A running or finished search; see :func:`aimauto_nb.search`, which creates one.

    Every reader (``trials``, ``best``, ``pareto``, ``counts()``, the panel) works from
    :meth:`snapshot`, so it sees one moment of the search. ``study`` is the Optuna study.
    """

    def __init__(self, config: SearchConfig):
        with _LIVE_LOCK:
            other = _LIVE.get(config.name)
            if other is not None and other.running:
                raise ConfigError(f"name: a search named {config.name!r} is still running in "
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
        return self._results.snapshot()

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


    def __repr__(self) -> str:
        return f"<Search {self.status_line()}>"

