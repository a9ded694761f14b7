"""``Search``: the façade over one search. It opens the study, starts the driver thread,
and answers questions about the results, always from one :class:`Snapshot`.

(This module is not named ``search.py`` because ``aimauto_nb.search`` is the function:
a submodule of that name would replace it on the package once imported.)
"""

from __future__ import annotations

import contextvars
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import cloudpickle

from .config import SearchConfig
from .driver import Driver, SearchError
from .executors import is_dask
from .models import KeptModels, ModelStore
from .persist import DefaultStorage, open_target, tag_study
from .results import Results, Snapshot, TrialRecord
from .strategies import make_pruner, make_sampler
from .study import Lease, history, open_study, signature
from .trial import Spec, rebuild
from .warmstart import resolve as resolve_warm_start

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
        pruner = make_pruner(config.pruner)
        self.sampler = make_sampler(config.strategy, config.metrics, config.program.space, config.seed)
        spec = _spec(config, auto_report=pruner is not None)
        storage, models_dir, study_name = open_target(config.storage, self.name, config.resume)
        self._storage = storage
        # Without an explicit pruner Optuna attaches a MedianPruner, which `should_prune`
        # would then consult whatever pruner the user asked for.
        import optuna

        study_pruner = pruner if pruner is not None and len(self.metrics) == 1 \
            else optuna.pruners.NopPruner()
        self.study, retry = open_study(storage, study_name, self.metrics, self.sampler, study_pruner,
                                       signature(config.program, self.metrics), config.resume)
        if self._storage is None:  # in memory: the storage Optuna made for the study
            self._storage = self.study._storage
        tag_study(self.study, self.name, self.metrics, strategy=self.strategy,
                  protocol=self.protocol, source=config.program.source)
        self._results = Results(self.metrics, patience=config.patience)
        for rec in history(self.study, self.metrics):
            self._results.put(rec)
        data = config.data
        self._kept = KeptModels(ModelStore(models_dir, study_name),
                                refit_on=(data.X, data.y) if data is not None and data.is_cv else None)
        self._listeners: list[tuple[Callable[[Search], None], bool]] = []
        lease = Lease(self.study, storage) if storage is not None else None
        queue = [(params, "retry of a trial left running") for params in retry]
        if config.strategy != "grid" and not self.study.get_trials(deepcopy=False):
            # (a resumed study has its own history; a grid tries every point anyway)
            queue += resolve_warm_start(config.warm_start, config.program.space)
        self._driver = Driver(config, self.study, spec, self._results, self._kept, pruner, queue,
                              self._notify, lease=lease)
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
        store = self._kept.store
        where = f"its file {store.path(number)} is missing" if store.folder is not None \
            else "it is not in memory"
        c = self.config
        m = rebuild(c.program, rec.params, c.namespace, c.metrics, c.data)
        if m is None:
            raise KeyError(f"trial {number}'s model was kept but {where}, and the cell yields no "
                           "model to refit from its parameters")
        warnings.warn(f"trial {number}'s model was kept but {where}; it was refit from the "
                      "trial's parameters", stacklevel=2)
        self._kept.keep(number, m, refit=False)
        return m

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
        setting = self.config.storage
        if setting is None:
            return "memory"
        if isinstance(setting, str | DefaultStorage):
            return str(setting)
        return type(setting).__name__

    def _dashboard_key(self):
        setting = self.config.storage
        if isinstance(setting, DefaultStorage):
            return ("journal", str(setting.journal))
        if isinstance(setting, str):
            return ("url", setting)
        return ("storage", id(self._storage))

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
        from . import dashboard_server as dash

        key = self._dashboard_key()
        if stop:
            dash.stop(key)
            return None
        sid = self._storage.get_study_id_from_name(self.study_name)
        return dash.serve(self._storage, key, port=port, study_id=sid)

    def trials_dataframe(self, attrs: tuple[str, ...] | None = None, multi_index: bool = False):
        """The trials as a pandas DataFrame in Optuna's layout (``study.trials_dataframe``),
        the value columns named after the metrics (``values_accuracy``, ``values_size``;
        ``value_accuracy`` for one metric) and a trial's error as ``user_attrs_error``."""
        kw = {} if attrs is None else {"attrs": tuple(attrs)}
        df = self.study.trials_dataframe(multi_index=multi_index, **kw)
        internal = "aimauto_nb.choice_index"
        if multi_index:
            df = df.drop(columns=[c for c in df.columns if c[1] == internal])
            return df.rename(columns={"aimauto_nb.error": "error"}, level=1)
        df = df.drop(columns=[c for c in df.columns if c.endswith(internal)])
        return df.rename(columns={"user_attrs_aimauto_nb.error": "user_attrs_error"})

    def summary(self, num_trials: int = 10) -> None:
        """Print the best ``num_trials`` complete trials, best first (as Keras Tuner's
        ``results_summary``): each trial's parameters and metric values."""
        from .results import best_of

        snap = self.snapshot()
        done = [r for r in snap.trials if r.state == "complete"]
        ranked = []
        while done and len(ranked) < num_trials:
            b = best_of(done, self.metrics)
            ranked.append(b)
            done.remove(b)
        objective = ", ".join(f"{m.name} ({m.direction})" for m in self.metrics)
        lines = ["Results summary",
                 f"Results in {self.storage_location} (study {self.study_name})",
                 f"Showing {len(ranked)} best trials",
                 f"Objective: {objective}"]
        for r in ranked:
            lines += ["", f"Trial {r.number} summary", "Hyperparameters:"]
            lines += [f"{k}: {v!r}" if isinstance(v, str) else f"{k}: {v}" for k, v in r.params.items()]
            lines.append("Score: " + ", ".join(f"{m.name}={m.format(r.values[m.name])}"
                                               for m in self.metrics))
        print("\n".join(lines))

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
