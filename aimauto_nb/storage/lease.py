"""The owner lease: which process runs which ``RUNNING`` trial of a persistent study, so
trials a dead kernel left running are told from another live kernel's, and trials of
plain Optuna workers (no owner) are left alone."""

from __future__ import annotations

import os
import socket
import time

import optuna
from optuna.storages import BaseStorage
from optuna.trial import TrialState

__all__ = ["Lease", "fail_stale", "LEASE_INTERVAL", "LEASE_GRACE", "OWNER_ATTR", "SEEN_ATTR"]


LEASE_INTERVAL = 5.0  # seconds between an owner's lease renewals


LEASE_GRACE = 30.0  # a RUNNING trial whose owner's lease is older than this is stale


OWNER_ATTR = "aimauto_nb.owner"


SEEN_ATTR = "aimauto_nb.seen"  # the owner's last renewal, on each trial it runs


_LEASE_PREFIX = "aimauto_nb.lease."  # study-level lease of earlier versions (read only)


_ENDED: set[str] = set()  # owners in this process whose search has ended


class Lease:
    """This process's claim on the trials it runs in a persistent study: every trial it
    asks for carries its owner id (a trial user attribute, written once), and every
    ``LEASE_INTERVAL`` the trials it still runs get their last-seen time (``SEEN_ATTR``).

    The lease lives on the running trials only, so nothing is left behind in the study
    when a run ends (earlier versions kept one study attribute per run for good). Written
    here rather than with Optuna's heartbeat because that exists for RDB storages only;
    this works on every storage (journal files included), at one write per running trial
    per beat.
    """

    def __init__(self, study: optuna.Study, storage: BaseStorage):
        self.study = study
        self.storage = storage
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
        self._renewed = 0.0
        self._running: dict[int, int] = {}  # trial number -> trial id

    def renew(self, force: bool = False) -> bool:
        """Write the last-seen time on this process's running trials when due; True when
        it was due."""
        now = time.time()
        if not force and now - self._renewed < LEASE_INTERVAL:
            return False
        self._renewed = now
        for tid in list(self._running.values()):
            try:
                self.storage.set_trial_user_attr(tid, SEEN_ATTR, now)
            except RuntimeError:  # finished meanwhile (UpdateFinishedTrialError)
                pass
        return True

    def claim(self, trial: optuna.Trial) -> None:
        trial.set_user_attr(OWNER_ATTR, self.owner)
        self._running[trial.number] = trial._trial_id

    def release(self, number: int) -> None:
        """The trial ended: its lease is no longer renewed."""
        self._running.pop(number, None)

    def end(self) -> None:
        """The search ended: a trial it could not mark finished (a full disk) is stale at
        once for a later search in this process, not only after ``LEASE_GRACE``."""
        self._running.clear()
        _ENDED.add(self.owner)


def _last_seen(t, study_attrs: dict) -> float:
    seen = t.user_attrs.get(SEEN_ATTR)
    if not isinstance(seen, int | float):
        seen = study_attrs.get(_LEASE_PREFIX + t.user_attrs[OWNER_ATTR])
    if not isinstance(seen, int | float):
        seen = t.datetime_start.timestamp() if t.datetime_start else 0.0
    return seen


def fail_stale(study: optuna.Study, storage: BaseStorage, grace: float | None = None,
               unowned: bool = False) -> list[dict]:
    """Mark failed the ``RUNNING`` trials whose owner is gone (its lease older than
    ``grace`` seconds, default ``LEASE_GRACE``). Trials of a live owner (another kernel)
    are left alone, and so are trials with no owner (a plain Optuna worker sharing the
    study) unless ``unowned`` (at open) and they started more than ``grace`` ago. Returns
    the params of the trials this call failed, to be retried (a trial another process
    failed first is not returned, so two resuming kernels do not both retry it)."""
    grace = LEASE_GRACE if grace is None else grace
    study_id = storage.get_study_id_from_name(study.study_name)
    attrs = None
    now = time.time()
    stale = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.user_attrs.get(OWNER_ATTR) in _ENDED:
            stale.append(t)
        elif OWNER_ATTR in t.user_attrs:
            if attrs is None:
                attrs = storage.get_study_user_attrs(study_id)
            if now - _last_seen(t, attrs) > grace:
                stale.append(t)
        elif unowned and t.datetime_start and now - t.datetime_start.timestamp() > grace:
            stale.append(t)
    retry = []
    for t in sorted(stale, key=lambda t: t.number):
        tid = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        try:
            storage.set_trial_user_attr(tid, "aimauto_nb.error",
                                        "left running by an interrupted search; retried")
            storage.set_trial_state_values(tid, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:  # another kernel got there first
            continue
        if t.params:
            retry.append(dict(t.params))
    return retry
