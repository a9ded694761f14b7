"""The ask/tell loop that runs in a search's background thread: ask Optuna for trials,
keep ``jobs`` of them running on the executor, tell the results, and stop on the budget,
``stop()``, repeated identical failures, or a lost executor. Trials past their time limit
are failed (killed where the executor can, interrupted in threads); a dead worker fails
its trial only. In a persistent study the driver renews this process's lease and fails
the trials of owners that are gone. Optuna's ``ask()`` and the sampler's joint sampling
(where a Gaussian process fits, for seconds at a time) run in a thread of their own, so
``stop()`` ends the search at once; a trial asked meanwhile is recorded failed when the
ask returns. Pruning verdicts come from a :class:`~aimauto_nb.core.pruning.PruningPolicy`."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from ..errors import SearchError
from ..runners import make_runner, worker_death
from ..runners.channel import Broker
from ..runtime.trial import Reply, Spec
from ..space.program import format_error
from ..storage.journal import JournalFault
from ..storage.lease import Lease, fail_stale
from ..storage.models import KeptModels
from .config import SearchConfig
from .pruning import PruningPolicy
from .results import Results, TrialRecord

__all__ = ["Driver", "SearchError", "FAIL_FAST", "STOP_GRACE"]

FAIL_FAST = 5
STOP_GRACE = 5.0  # seconds stop() waits for trials it cannot kill before abandoning them
_TELL_STATE = {"complete": TrialState.COMPLETE, "failed": TrialState.FAIL,
               "pruned": TrialState.PRUNED}


@dataclass
class _Running:
    number: int
    trial: optuna.Trial
    start: float


class Driver:
    """One search's loop. ``run()`` is the thread's target; it always ends by setting a
    final state (done, stopped or failed) on ``results``."""

    def __init__(self, config: SearchConfig, study: optuna.Study, spec: Spec, results: Results,
                 kept: KeptModels, pruning: PruningPolicy | None, queue: list[tuple[dict, str]], notify,
                 lease: Lease | None = None):
        self.config = config
        self.study = study
        self.spec = spec
        self.results = results
        self.kept = kept
        self.pruning = pruning
        self.stop_event = threading.Event()
        self.jobs = config.jobs
        self.launched = 0
        self._queue = list(queue)  # (params, source): retried and warm-start trials first
        self._notify = notify
        self._broker: Broker | None = None
        self._lease = lease
        self._stopped_at: float | None = None
        self._states: list[str] = []
        self._first_error: str | None = None
        self._reason: str | None = None
        self._asked: dict[int, _Running] = {}  # asked and not yet told
        self._asker: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------------ loop

    def run(self) -> None:
        runner = None
        first_errors: list[str] = []
        inflight: dict[Future, _Running] = {}
        try:
            if self.pruning is not None:
                self.pruning.start(self.study)
            self._broker = Broker(self.study, self.pruning.decide if self.pruning else None)
            runner = make_runner(self.config.executor, self.jobs, self._broker, self.spec)
            self.jobs = runner.slots
            if self._lease is not None:
                self._lease.renew(force=True)
            while True:
                runner.check()
                self._tend_lease()
                self._launch(runner, inflight)
                if not inflight:
                    break
                done, _ = wait(list(inflight), timeout=0.05, return_when=FIRST_COMPLETED)
                for fut in done:
                    run = inflight.pop(fut)
                    rec = self._finish(run, self._reply(fut, run))
                    self._fail_fast(first_errors, rec)
                    self._check_converged()
                self._expire(runner, inflight)
            final = "stopped" if self.stop_event.is_set() else "done"
            error = None
            reason = self._reason or ("stopped by the user" if self.stop_event.is_set()
                                      else self._budget_reason())
            if final == "done" and self._states and "complete" not in self._states \
                    and "pruned" not in self._states:
                n = len(self._states)
                raise SearchError(f"all {n} trial{'s' if n > 1 else ''} of this search failed; "
                                  f"the first error:\n{self._first_error}")
        except BaseException as e:  # the driver must always end in a final state
            final, error = "failed", e
            reason = f"failed: {e}" if isinstance(e, JournalFault) else f"failed: {type(e).__name__}"
            for fut, run in list(inflight.items()):
                if runner is not None:
                    runner.kill(fut)
                self._abandon(run, f"cancelled: {type(e).__name__}")
            for run in list(self._asked.values()):  # its tell failed: the storage is gone
                self._abandon(run, f"not stored: {e}")
        finally:
            if runner is not None:
                runner.shutdown()
            if self._lease is not None:
                self._lease.end()
            if self._asker is not None:
                self._asker.shutdown(wait=False)
        self.results.set_state(final, error, reason)
        self._notify()

    def _budget_reason(self) -> str:
        c = self.config
        if c.trials is not None and self.launched >= c.trials:
            return f"budget of {c.trials} trials used"
        if c.timeout is not None:
            return f"timeout of {c.timeout:g} s reached"
        return "done"

    def _check_converged(self) -> None:
        if self.config.stop_when_converged and self._reason is None and self.results.converged:
            self._reason = self.results.snapshot().convergence

    def _may_launch(self) -> bool:
        c = self.config
        if self.stop_event.is_set() or self._reason is not None:
            return False
        if c.trials is not None and self.launched >= c.trials:
            return False
        return c.timeout is None or self.results.elapsed < c.timeout

    def _tend_lease(self) -> None:
        """Renew this process's lease when due, and then fail (and retry) the trials of
        owners whose lease ran out meanwhile (a kernel that died while this one runs)."""
        try:
            if self._lease is not None and self._lease.renew():
                self._queue.extend((params, "retry of a trial left running")
                                   for params in fail_stale(self.study, self._lease.storage))
        except JournalFault:  # the journal is full, deleted or replaced: the search ends
            raise
        except Exception:  # a busy database: the lease is renewed on the next round
            pass

    def _launch(self, runner, inflight: dict) -> None:
        while len(inflight) < self.jobs and self._may_launch():
            source = None
            if self._queue:
                params, source = self._queue.pop(0)
                self.study.enqueue_trial(params, user_attrs={"aimauto_nb.source": source},
                                         skip_if_exists=False)
            trial = self._ask()
            if trial is None:
                return
            if self._lease is not None:
                self._lease.claim(trial)
            if source is not None and trial.user_attrs.get("aimauto_nb.source") != source:
                source = None  # another process sharing the study took the queued trial
            self._broker.register(trial)
            self.results.put(TrialRecord(trial.number, started=dt.datetime.now(), source=source))
            self.launched += 1
            run = _Running(trial.number, trial, time.monotonic())
            self._asked[run.number] = run
            try:
                fut = runner.submit(trial.number)
            except BaseException as e:  # never leave the asked trial RUNNING
                self._finish(run, self._failed(run, f"not started: {type(e).__name__}: {e}"))
                raise
            inflight[fut] = run
            self._notify()

    def _ask(self) -> optuna.Trial | None:
        """``study.ask()`` in the asking thread; ``None`` when ``stop()`` came first (the
        trial it was asking for is told failed once it exists)."""
        if self._asker is None:
            self._asker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aimauto-ask")
        fut = self._asker.submit(self._ask_now)
        while True:
            try:
                return fut.result(timeout=0.02)
            except FutureTimeout:
                if self.stop_event.is_set():
                    fut.add_done_callback(self._discard_asked)
                    return None

    def _ask_now(self) -> optuna.Trial:
        trial = self.study.ask()
        # Optuna samples a trial's relative (joint) parameters, a GP's fit included, at its
        # first suggest, which would be in the trial's worker; here it is in this thread.
        trial.relative_params  # noqa: B018 - evaluated for its side effect
        return trial

    def _discard_asked(self, fut: Future) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return
        trial = fut.result()
        try:
            trial.set_user_attr("aimauto_nb.error", "cancelled: the search was stopped while "
                                                     "this trial was being asked for")
            self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        except Exception:  # the storage may be gone by then; the lease fails it later
            pass

    def _fail_fast(self, first_errors: list[str], rec: TrialRecord) -> None:
        if len(first_errors) >= FAIL_FAST:
            return
        first_errors.append(rec.error if rec.state == "failed" else "")
        if (len(first_errors) == FAIL_FAST and all(first_errors)
                and len({e.strip().splitlines()[-1] for e in first_errors}) == 1):
            raise SearchError(f"the first {FAIL_FAST} trials all failed with the same error, so "
                              f"the search stopped:\n{rec.error}")

    def _expire(self, runner, inflight: dict) -> None:
        """Fail trials past ``trial_timeout``; on stop, cancel what the runner can kill at
        once and, after ``STOP_GRACE`` seconds, abandon (and interrupt) the others."""
        now = time.monotonic()
        if self.stop_event.is_set() and self._stopped_at is None:
            self._stopped_at = now
        interrupts = getattr(runner, "interrupts", False)
        for fut, run in list(inflight.items()):
            if self._timed_out(run, now):
                runner.kill(fut)
                del inflight[fut]
                how = (" and its worker was killed" if runner.kills else
                       "; its thread was interrupted (this stops Python code, not a call into C "
                       "code; executor='process' kills trials)" if interrupts else "")
                self._finish(run, self._failed(
                    run, f"TimeoutError: trial ran past trial_timeout={self.config.trial_timeout}s"
                         + how))
            elif self.stop_event.is_set() and runner.kills:
                runner.kill(fut)
                del inflight[fut]
                self._finish(run, self._failed(run, "cancelled: the search was stopped"))
            elif self.stop_event.is_set() and now - self._stopped_at > STOP_GRACE:
                runner.kill(fut)
                del inflight[fut]
                why = ("a thread cannot be stopped, so it was interrupted (this stops Python "
                       "code, not a call into C code)" if interrupts else
                       "this executor cannot stop a running trial, so its result is dropped")
                self._finish(run, self._failed(
                    run, f"cancelled: the search was stopped and this trial did not end within "
                         f"{STOP_GRACE:g} s; {why}; executor='process' kills trials"))

    def _timed_out(self, run: _Running, now: float) -> bool:
        """Past ``trial_timeout`` since the worker started it (a worker that never starts
        the trial gets another minute for its own start-up)."""
        limit = self.config.trial_timeout
        if limit is None:
            return False
        began = self._broker.started_at.get(run.number)
        if began is None:
            return now - run.start > limit + 60
        return now - began > limit

    # ------------------------------------------------------------------ results

    def _reply(self, fut: Future, run: _Running) -> Reply:
        try:
            return fut.result()
        except BaseException as e:
            return Reply(run.number, "failed",
                         error=worker_death(e) or "worker error: " + format_error(e),
                         duration=time.monotonic() - run.start)

    @staticmethod
    def _failed(run: _Running, error: str) -> Reply:
        return Reply(run.number, "failed", error=error, duration=time.monotonic() - run.start)

    def _abandon(self, run: _Running, error: str) -> None:
        """End a trial of a failing search: told failed where the storage still takes it,
        recorded failed in any case (never counted running)."""
        try:
            self._finish(run, self._failed(run, error))
        except Exception:
            self._asked.pop(run.number, None)
            old = self.results.get(run.number)
            self.results.put(TrialRecord(run.number, state="failed", params=dict(run.trial.params),
                                         error=error, started=old.started if old else None,
                                         source=old.source if old else None,
                                         duration=time.monotonic() - run.start))

    def _finish(self, run: _Running, reply: Reply) -> TrialRecord:
        """Tell Optuna, record the trial, keep its model if it is on the front."""
        if self._lease is not None:
            self._lease.release(run.number)
        self._broker.release(run.number)
        trial, state = run.trial, reply.state
        if reply.choice_index:
            trial.set_user_attr("aimauto_nb.choice_index", reply.choice_index)
        values = [reply.values[m.name] for m in self.config.metrics] if state == "complete" else None
        if state != "complete":
            trial.set_user_attr("aimauto_nb.error", (reply.error or "")[-4000:])
        self.study.tell(trial, values, state=_TELL_STATE[state], skip_if_finished=True)
        self._asked.pop(run.number, None)
        if self.pruning is not None:
            self.pruning.finished(run.number, state, values,
                                  self._broker.intermediate.get(run.number, {}))
        old = self.results.get(run.number)
        rec = TrialRecord(
            run.number, state=state, params=dict(trial.params),
            values=dict(reply.values) if state == "complete" else {}, duration=reply.duration,
            error=reply.error, started=old.started if old else None,
            source=old.source if old else None,
            choice_index=dict(reply.choice_index),
            intermediate=dict(self._broker.intermediate.pop(run.number, {})))
        if self.results.put(rec):
            model = reply.model_bytes if reply.model_bytes is not None else reply.model
            if model is not None:
                self.kept.keep(rec.number, model, reply.refit)
        if state == "complete":
            self.kept.retain(self.results.keep_numbers())
        self._states.append(state)
        if state == "failed" and self._first_error is None:
            self._first_error = reply.error
        self._notify()
        return rec
