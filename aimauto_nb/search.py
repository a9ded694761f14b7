"""The search driver: a background thread running Optuna's ask/tell loop, trials in an
executor, results kept as :class:`TrialRecord` objects that widgets read."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

import cloudpickle
import optuna
from optuna.trial import TrialState

from .capture import CellProgram, format_error
from .channel import Broker
from .evaluate import Dataset, Metric, parse_metrics
from .executors import default_process_jobs, is_dask, make_runner
from .results import TrialRecord, best_of, dominates, pareto_front
from .storage import ModelStore, check_storage, fail_stale, open_storage, study_exists
from .trial import Reply

__all__ = ["search", "Search", "SearchError", "STRATEGIES", "PRUNERS"]

STRATEGIES = ("auto", "tpe", "random", "grid", "nsga2", "gp", "cmaes")
PRUNERS = ("none", "auto", "median", "halving", "hyperband")
FAIL_FAST = 5

optuna.logging.set_verbosity(optuna.logging.WARNING)


class SearchError(RuntimeError):
    """The search itself could not go on (not a single failing trial)."""


@dataclass
class Spec:
    """What every trial of a search shares."""

    program: CellProgram
    namespace: dict
    data: Dataset | None
    metrics: list[Metric]
    namespace_blob: bytes | None = None  # pickled once for process workers
    auto_report: bool = False


@dataclass
class _Running:
    number: int
    trial: optuna.Trial
    start: float


def _check_positive(name, value, kind=(int, float), allow_none=True):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        raise ValueError(f"{name} must be a positive {'integer' if kind is int else 'number'}, "
                         f"got {value!r}")


class _GridSampler(optuna.samplers.GridSampler):
    """Grid sampling for ask/tell: the budget already stops at the grid's size, and
    ``Study.stop`` (which Optuna's version calls) only works inside ``optimize``."""

    def after_trial(self, study, trial, state, values) -> None:
        pass


def make_sampler(strategy: str, metrics: list[Metric], spec: Spec, seed) -> optuna.samplers.BaseSampler:
    """The Optuna sampler behind a strategy name (checks the strategy fits the space)."""
    multi = len(metrics) > 1
    space = spec.program.space
    if strategy in ("auto", "tpe"):
        return optuna.samplers.TPESampler(seed=seed)
    if strategy == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if strategy == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if strategy == "grid":
        if space is None or space.dynamic or not space.markers:
            raise ValueError("strategy 'grid' needs a cell whose markers all have literal names")
        params = space.static_params
        missing = [m.name for m in space.markers if m.name not in params]
        if missing:
            raise ValueError(f"strategy 'grid' needs literal bounds; {missing} are computed")
        try:
            grid = {name: p.grid() for name, p in params.items()}
        except ValueError as e:
            raise ValueError(f"strategy 'grid' needs a finite space: {e}") from None
        return _GridSampler(grid, seed=seed)
    if strategy == "cmaes":
        if multi:
            raise ValueError("strategy 'cmaes' is single-objective; ask for one metric or use "
                             "'tpe' / 'nsga2'")
        if space is not None and any(m.kind == "choice" for m in space.markers):
            raise ValueError("strategy 'cmaes' handles numeric parameters only; the cell has "
                             "hp.choice (use 'tpe')")
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise ValueError("strategy 'cmaes' needs the cmaes package (pip install cmaes)") from None
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if strategy == "gp":
        try:
            import scipy  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            raise ValueError("strategy 'gp' needs PyTorch and SciPy "
                             "(pip install 'aimauto_nb[torch]')") from None
        return optuna.samplers.GPSampler(seed=seed)
    raise ValueError(f"unknown strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}")


def make_pruner(pruner) -> optuna.pruners.BasePruner | None:
    if pruner is None or pruner == "none":
        return None
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if pruner == "auto":
        return AutoPruner()
    raise ValueError(f"unknown pruner {pruner!r}; valid pruners: {', '.join(PRUNERS)}")


class AutoPruner(optuna.pruners.BasePruner):
    """``pruner="auto"``: the median rule, after 10 complete trials, and never before a trial
    is 10 % of the way into the longest run so far (in its own steps: boosting rounds,
    epochs). With LightGBM on breast_cancer / digits (3 seeds, 30 s) a median pruner waiting
    20 rounds reached the target in 6 of 6 runs; Hyperband, pruning from round 1, missed it in
    2 (``benchmarks/scale.py``). The relative warm-up keeps that for epoch-level reports too."""

    def __init__(self, startup: int = 10, warmup: float = 0.1):
        self._median = optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)
        self._warmup = warmup

    def prune(self, study: optuna.Study, trial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        longest = max((t.last_step or 0 for t in done), default=0)
        if step < max(1, self._warmup * longest):
            return False
        return self._median.prune(study, trial)


def _signature(spec: Spec) -> str:
    space = spec.program.space
    params = {}
    if space is not None:
        params = {m.name or f"<line {m.lineno}>": m.kind for m in space.markers}
        for name, p in space.static_params.items():
            params[name] = repr(p.distribution())
    doc = {"metrics": [f"{m.name}:{m.direction}" for m in spec.metrics], "params": params}
    return json.dumps(doc, sort_keys=True)


class Search:
    """A running or finished search. Created by :func:`search`; read it at any time."""

    def __init__(self, source, *, data=None, valid=None, cv=None, metrics=("auto",),
                 trials=None, timeout=None, strategy="auto", jobs=None, executor="thread",
                 storage=None, name=None, resume=False, seed=None, pruner=None,
                 trial_timeout=None, namespace=None, display=True):
        _check_positive("jobs", jobs, int)
        _check_positive("trials", trials, int)
        _check_positive("timeout", timeout)
        _check_positive("trial_timeout", trial_timeout)
        if trials is None and timeout is None and strategy != "grid":
            raise ValueError("give a budget: trials=N, timeout=SECONDS, or both "
                             "(strategy='grid' defaults to the grid's size)")
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}")
        if isinstance(executor, str) and executor not in ("thread", "process") and not is_dask(executor):
            raise ValueError(f"unknown executor {executor!r}; use 'thread', 'process', 'dask', a "
                             "Dask scheduler address (tcp://host:port), a dask Client or a "
                             "concurrent.futures.Executor")
        if jobs is None and not is_dask(executor):
            jobs = default_process_jobs() if executor == "process" else 1
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        check_storage(storage)
        self._pruner = make_pruner(pruner)
        program = CellProgram(source)
        ds = Dataset.build(data, valid=valid, cv=cv, seed=seed)
        self.metrics = parse_metrics(metrics, ds.task if ds else "unknown")
        if ds is None:
            space = program.space
            needs_data = program.build is None and "score" not in space.assigned
            if needs_data:
                raise ValueError("the cell defines `model` but no data was given: pass data=(X, y)")
            builtin = [m.name for m in self.metrics if m.fn is not None]
            if builtin:
                raise ValueError(f"metrics {builtin} are computed on data: pass data=(X, y), "
                                 "or have the cell set score")
            if any(m.name == "latency" for m in self.metrics):
                raise ValueError("metric latency needs data=(X, y) to time predictions on")
        ns = dict(namespace or {})
        if executor != "thread":
            ns = {k: ns[k] for k in program.references if k in ns}
        self._spec = Spec(program, ns, ds, self.metrics, auto_report=self._pruner is not None)
        if executor == "process" or is_dask(executor):
            try:
                self._spec.namespace_blob = cloudpickle.dumps(ns)
            except Exception as e:
                raise ValueError(
                    f"the cell uses a value that cannot be sent to a worker process ({e}); "
                    "use executor='thread'"
                ) from e
        self.sampler = make_sampler(strategy, self.metrics, self._spec, seed)
        self.strategy = strategy
        self.name = name or "search"
        self.trials_budget = trials
        if strategy == "grid":
            size = 1
            for p in program.space.static_params.values():
                size *= len(p.grid())
            self.trials_budget = size if trials is None else min(trials, size)
        self.timeout = timeout
        self.jobs = jobs
        self.executor = executor
        self.trial_timeout = trial_timeout
        self.seed = seed
        self.display = display
        self.protocol = ds.protocol if ds else "score set by the cell"

        self._storage, models_dir = open_storage(storage)
        self._models_store = ModelStore(models_dir, self.name)
        self._records: dict[int, TrialRecord] = {}
        self._models: dict[int, Any] = {}
        self._refit_pending: set[int] = set()
        self._front: list[TrialRecord] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._listeners: list[Callable[[Search], None]] = []
        self.error: BaseException | None = None
        self.state = "pending"
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.launched = 0
        self._retry: list[dict] = []
        self.study = self._open_study(resume)
        self.widget = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ study and resume

    def _open_study(self, resume: bool) -> optuna.Study:
        directions = [m.direction for m in self.metrics]
        sig = _signature(self._spec)
        # Without an explicit pruner Optuna attaches a MedianPruner, which `should_prune`
        # would then consult whatever pruner the user asked for.
        pruner = self._pruner if self._pruner is not None and len(directions) == 1 \
            else optuna.pruners.NopPruner()
        kw = dict(sampler=self.sampler, pruner=pruner, directions=directions, study_name=self.name)
        if self._storage is not None and study_exists(self._storage, self.name):
            if not resume:
                raise ValueError(f"a study named {self.name!r} already exists in this storage; "
                                 "pass resume=True to continue it, or another name")
            study = optuna.load_study(study_name=self.name, storage=self._storage,
                                      sampler=self.sampler, pruner=pruner)
            old = study.user_attrs.get("aimauto_nb.signature")
            if old is not None and old != sig:
                raise ValueError(
                    f"cannot resume {self.name!r}: its search space or metrics differ from this "
                    f"cell's.\n  stored: {old}\n  now:    {sig}"
                )
            self._retry = fail_stale(study, self._storage)
            self._load_history(study)
            return study
        study = optuna.create_study(storage=self._storage, **kw)
        study.set_user_attr("aimauto_nb.signature", sig)
        return study

    def _load_history(self, study: optuna.Study) -> None:
        names = [m.name for m in self.metrics]
        state_name = {TrialState.COMPLETE: "complete", TrialState.FAIL: "failed",
                      TrialState.PRUNED: "pruned", TrialState.RUNNING: "running"}
        for t in study.get_trials(deepcopy=False):
            if t.state not in state_name:
                continue
            rec = TrialRecord(
                number=t.number, state=state_name[t.state], params=dict(t.params),
                values=dict(zip(names, t.values)) if t.values else {},
                duration=t.duration.total_seconds() if t.duration else None,
                error=t.user_attrs.get("aimauto_nb.error"), started=t.datetime_start,
                choice_index=dict(t.user_attrs.get("aimauto_nb.choice_index", {})),
                intermediate=dict(t.intermediate_values),
            )
            self._records[t.number] = rec
        self._front = pareto_front(list(self._records.values()), self.metrics)

    # ------------------------------------------------------------------ control

    def start(self) -> Search:
        with self._lock:
            if self.state != "pending":
                return self
            self.state = "running"
            self.started_at = time.monotonic()
        # The driver runs in a copy of the caller's context: in a kernel that carries the
        # cell's parent header, so whatever the search emits is attributed to its own cell.
        ctx = contextvars.copy_context()
        self._thread = threading.Thread(target=ctx.run, args=(self._drive,),
                                        name=f"aimsearch-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Start no new trials; let thread trials finish, cancel process trials."""
        self._stop.set()

    @property
    def running(self) -> bool:
        return self.state in ("pending", "running")

    def wait(self, timeout: float | None = None) -> Search:
        """Block until the search ends (or ``timeout`` seconds). Ctrl-C / a kernel
        interrupt stops the search. Raises :class:`SearchError` if the search failed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._thread is None:
            raise RuntimeError("the search has not been started (call .start())")
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
        if self.widget is not None and not self._thread.is_alive():
            # From the waiting cell, so a notebook runner records the final snapshot too.
            self.widget.refresh(final=True)
        if self.state == "failed" and self.error is not None:
            raise SearchError(str(self.error)) from self.error
        return self

    def add_listener(self, fn: Callable[[Search], None]) -> None:
        """Call ``fn(search)`` from the driver thread after every change."""
        self._listeners.append(fn)

    def _notify(self) -> None:
        for fn in list(self._listeners):
            try:
                fn(self)
            except Exception:  # a broken panel must never break the search
                pass

    # ------------------------------------------------------------------ driver

    def _may_launch(self) -> bool:
        if self._stop.is_set():
            return False
        if self.trials_budget is not None and self.launched >= self.trials_budget:
            return False
        if self.timeout is not None and self.elapsed >= self.timeout:
            return False
        return True

    def _launch(self, runner, inflight: dict) -> None:
        while len(inflight) < self.jobs and self._may_launch():
            if self._retry:
                self.study.enqueue_trial(self._retry.pop(0))
            trial = self.study.ask()
            self._broker.register(trial)
            rec = TrialRecord(trial.number, started=dt.datetime.now())
            with self._lock:
                self._records[trial.number] = rec
                self.launched += 1
            inflight[runner.submit(trial.number)] = _Running(trial.number, trial, time.monotonic())
            self._notify()

    def _drive(self) -> None:
        runner = None
        first_errors: list[str] = []
        inflight: dict[Future, _Running] = {}
        try:
            multi = len(self.metrics) > 1
            self._shadow = None
            if self._pruner is not None and multi:
                # Optuna's pruners refuse multi-objective studies: they decide on the first
                # metric in an in-memory single-objective twin of the study.
                self._shadow = optuna.create_study(direction=self.metrics[0].direction,
                                                   pruner=self._pruner)
                self._shadow_trials: dict[int, optuna.Trial] = {}
            self._broker = Broker(self.study, self._prune_decision if self._pruner else None)
            runner = make_runner(self.executor, self.jobs, self._broker, self._spec)
            if self.jobs is None:
                self.jobs = runner.slots
            check = getattr(runner, "check", None)
            while True:
                if check is not None:
                    check()
                self._launch(runner, inflight)
                if not inflight:
                    break
                done, _ = wait(list(inflight), timeout=0.05, return_when=FIRST_COMPLETED)
                for fut in done:
                    run = inflight.pop(fut)
                    self._finish(run, self._reply(fut, run))
                    rec = self._records[run.number]
                    if len(first_errors) < FAIL_FAST:
                        first_errors.append(rec.error if rec.state == "failed" else "")
                        if (len(first_errors) == FAIL_FAST and all(first_errors)
                                and len({e.strip().splitlines()[-1] for e in first_errors}) == 1):
                            raise SearchError(f"the first {FAIL_FAST} trials all failed with the "
                                              f"same error, so the search stopped:\n{rec.error}")
                now = time.monotonic()
                for fut, run in list(inflight.items()):
                    if self._timed_out(run, now):
                        runner.kill(fut)
                        del inflight[fut]
                        self._finish(run, self._failed_reply(
                            run, f"TimeoutError: trial ran past trial_timeout={self.trial_timeout}s"
                                 + (" and its worker was killed" if runner.kills else "")))
                    elif self._stop.is_set() and runner.kills:
                        runner.kill(fut)
                        del inflight[fut]
                        self._finish(run, self._failed_reply(run, "cancelled: the search was stopped"))
            final = "stopped" if self._stop.is_set() else "done"
        except BaseException as e:  # the driver must always end in a final state
            self.error = e
            final = "failed"
            for fut, run in list(inflight.items()):
                if runner is not None:
                    runner.kill(fut)
                self._finish(run, self._failed_reply(run, f"cancelled: {type(e).__name__}"))
        finally:
            if runner is not None:
                runner.shutdown()
        with self._lock:
            self.state = final
            self.finished_at = time.monotonic()
        self._notify()

    def _timed_out(self, run: _Running, now: float) -> bool:
        """Past ``trial_timeout`` since the worker started it (a worker that never starts
        the trial gets another minute for its own start-up)."""
        if self.trial_timeout is None:
            return False
        began = self._broker.started_at.get(run.number)
        if began is None:
            return now - run.start > self.trial_timeout + 60
        return now - began > self.trial_timeout

    def _prune_decision(self, trial: optuna.Trial, value: float, step: int) -> bool:
        if self._shadow is None:
            trial.report(value, step)
            return trial.should_prune()
        with self._lock:
            shadow = self._shadow_trials.get(trial.number)
            if shadow is None:
                shadow = self._shadow_trials[trial.number] = self._shadow.ask()
        shadow.report(value, step)
        return shadow.should_prune()

    def _reply(self, fut: Future, run: _Running) -> Reply:
        try:
            return fut.result()
        except BaseException as e:
            return Reply(run.number, "failed", error="worker error: " + format_error(e),
                         duration=time.monotonic() - run.start)

    def _failed_reply(self, run: _Running, error: str) -> Reply:
        return Reply(run.number, "failed", error=error, duration=time.monotonic() - run.start)

    def _finish(self, run: _Running, reply) -> None:
        """Tell Optuna, update the record, keep the model if it is on the front."""
        self._broker.release(run.number)
        trial = run.trial
        if reply.choice_index:
            trial.set_user_attr("aimauto_nb.choice_index", reply.choice_index)
        state = reply.state
        values = None
        if state == "complete":
            values = [reply.values[m.name] for m in self.metrics]
        else:
            trial.set_user_attr("aimauto_nb.error", (reply.error or "")[-4000:])
        tell_state = {"complete": TrialState.COMPLETE, "failed": TrialState.FAIL,
                      "pruned": TrialState.PRUNED}[state]
        self.study.tell(trial, values if state == "complete" else None, state=tell_state,
                        skip_if_finished=True)
        if self._shadow is not None and run.number in self._shadow_trials:
            sh = self._shadow_trials.pop(run.number)
            self._shadow.tell(sh, values[0] if values else None, state=tell_state)
        with self._lock:
            rec = self._records[run.number]
            rec.state = state
            rec.params = dict(trial.params)
            rec.values = dict(reply.values) if state == "complete" else {}
            rec.duration = reply.duration
            rec.error = reply.error
            rec.choice_index = dict(reply.choice_index)
            rec.intermediate = dict(self._broker.intermediate.pop(run.number, {}))
            if state == "complete":
                self._keep(rec, reply)
        self._notify()

    def _keep(self, rec: TrialRecord, reply) -> None:
        if len(self.metrics) == 1:
            self._front = [best_of(list(self._records.values()), self.metrics)]
            on_front = self._front[0] is rec
        else:
            on_front = not any(dominates(f, rec, self.metrics) for f in self._front)
            if on_front:
                self._front = [f for f in self._front if not dominates(rec, f, self.metrics)]
                self._front.append(rec)
                self._front.sort(key=lambda r: r.number)
        if on_front:
            model = reply.model_bytes if reply.model_bytes is not None else reply.model
            if model is not None:
                self._models[rec.number] = model
                if reply.refit:
                    self._refit_pending.add(rec.number)
                if self._models_store.folder is not None:
                    blob = model if isinstance(model, bytes) else cloudpickle.dumps(model)
                    self._models_store.save(rec.number, blob)
        keep = {r.number for r in self._front}
        best = self.best
        if best is not None:
            keep.add(best.number)
        for n in [n for n in self._models if n not in keep]:
            del self._models[n]
            self._refit_pending.discard(n)
            self._models_store.delete(n)

    # ------------------------------------------------------------------ results

    @property
    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return end - self.started_at

    @property
    def trials(self) -> list[TrialRecord]:
        """Every trial of the study so far (resumed ones too), by number."""
        with self._lock:
            return [self._records[n] for n in sorted(self._records)]

    def counts(self) -> dict[str, int]:
        out = {"complete": 0, "failed": 0, "pruned": 0, "running": 0}
        for r in self.trials:
            out[r.state] += 1
        return out

    @property
    def best(self) -> TrialRecord | None:
        """The best complete trial by the first metric."""
        return best_of(self.trials, self.metrics)

    @property
    def best_params(self) -> dict[str, Any] | None:
        b = self.best
        return None if b is None else dict(b.params)

    @property
    def pareto(self) -> list[TrialRecord]:
        """Complete trials that no other complete trial beats on every metric."""
        with self._lock:
            if len(self.metrics) == 1:
                b = self.best
                return [b] if b else []
            return list(self._front)

    @property
    def best_model(self):
        b = self.best
        if b is None:
            raise LookupError("no trial has completed yet")
        return self.model(b.number)

    def model(self, number: int):
        """The fitted model of trial ``number`` (kept for the best and Pareto trials)."""
        with self._lock:
            m = self._models.get(number)
            pending = number in self._refit_pending
        if m is None:
            m = self._models_store.load(number)
            if m is None:
                raise KeyError(f"trial {number}'s model was not kept: only the best and "
                               "Pareto-optimal trials keep their fitted models")
            pending = self._spec.data is not None and self._spec.data.is_cv
        if isinstance(m, bytes):
            m = cloudpickle.loads(m)
        if pending:
            from sklearn.base import clone

            m = clone(m).fit(self._spec.data.X, self._spec.data.y)
        with self._lock:
            if number in self._models or number in self._refit_pending:
                self._models[number] = m
                self._refit_pending.discard(number)
        return m

    def code(self, number: int | None = None) -> str:
        """The cell with the chosen values of trial ``number`` (best by default) filled in."""
        rec = self.best if number is None else self._records.get(number)
        if rec is None:
            raise LookupError("no trial has completed yet" if number is None
                              else f"no trial {number}")
        return self._spec.program.code(rec.params, rec.choice_index)

    def plot_pareto(self, ax=None):
        """A matplotlib Figure of the trials, the Pareto front highlighted."""
        from .plots import pareto_figure

        return pareto_figure(self, ax=ax)

    def status_line(self) -> str:
        c = self.counts()
        done = c["complete"] + c["failed"] + c["pruned"]
        budget = f"/{self.trials_budget}" if self.trials_budget else ""
        parts = [f"{self.name}: {self.state}", f"{done}{budget} trials",
                 f"{c['complete']} complete, {c['failed']} failed, {c['pruned']} pruned, "
                 f"{c['running']} running", f"{self.elapsed:.1f}s"]
        b = self.best
        if b is not None:
            parts.append("best " + ", ".join(f"{k}={_fmt(v)}" for k, v in b.values.items()))
        return " | ".join(parts)

    def __repr__(self) -> str:
        return f"<Search {self.status_line()}>"


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def search(source, *, data=None, valid=None, cv=None, metrics=("auto",), trials=None,
           timeout=None, strategy="auto", jobs=None, executor="thread", storage=None, name=None,
           resume=False, seed=None, pruner=None, trial_timeout=None, namespace=None,
           display=True) -> Search:
    """Start a search over the markers in ``source`` (cell text or ``build(hp)``) and
    return at once; the search runs in a background thread. See ``Search``."""
    s = Search(source, data=data, valid=valid, cv=cv, metrics=metrics, trials=trials,
               timeout=timeout, strategy=strategy, jobs=jobs, executor=executor,
               storage=storage, name=name, resume=resume, seed=seed, pruner=pruner,
               trial_timeout=trial_timeout, namespace=namespace, display=display)
    if display:
        from .display import attach

        attach(s)
    return s.start()

