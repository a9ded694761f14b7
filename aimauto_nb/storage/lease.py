"""The owner lease: which process runs which ``RUNNING`` trial of a persistent study, so
trials a dead kernel left running are told from another live kernel's."""

from __future__ import annotations

import os
import socket
import time

import optuna
from optuna.storages import BaseStorage
from optuna.trial import TrialState

__all__ = ["Lease", "fail_stale", "LEASE_INTERVAL", "LEASE_GRACE", "OWNER_ATTR"]


LEASE_INTERVAL = 5.0  # seconds between an owner's lease renewals


LEASE_GRACE = 30.0  # a RUNNING trial whose owner's lease is older than this is stale


OWNER_ATTR = "aimauto_nb.owner"


_LEASE_PREFIX = "aimauto_nb.lease."


class Lease:
    """This process's claim on the trials it runs in a persistent study: every trial it
    asks for carries its owner id (a trial user attribute), and the study holds the
    owner's last-seen time (a study user attribute renewed every ``LEASE_INTERVAL``).

    Written here rather than with Optuna's heartbeat because that exists for RDB storages
    only and costs one write per running trial per beat; this is one write per beat
    whatever the number of trials, on every storage (journal files included).
    """

    def __init__(self, study: optuna.Study, storage: BaseStorage):
        self.study = study
        self.storage = storage
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
        self._renewed = 0.0

    def renew(self, force: bool = False) -> bool:
        """Write the last-seen time when due; True when it was written."""
        now = time.time()
        if not force and now - self._renewed < LEASE_INTERVAL:
            return False
        self._renewed = now
        self.study.set_user_attr(_LEASE_PREFIX + self.owner, now)
        return True

    def claim(self, trial: optuna.Trial) -> None:
        trial.set_user_attr(OWNER_ATTR, self.owner)


def fail_stale(study: optuna.Study, storage: BaseStorage, grace: float | None = None) -> list[dict]:
    """Mark failed the ``RUNNING`` trials whose owner is gone: no owner recorded, or an
    owner whose lease is older than ``grace`` seconds (default ``LEASE_GRACE``). Trials of
    a live owner (another kernel running this study) are left alone. Returns the params
    of the trials this call failed, to be retried (a trial another process failed first
    is not returned, so two resuming kernels do not both retry it)."""
    grace = LEASE_GRACE if grace is None else grace
    study_id = storage.get_study_id_from_name(study.study_name)
    attrs = storage.get_study_user_attrs(study_id)
    now = time.time()
    stale, ownerless = [], []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.user_attrs.get(OWNER_ATTR)
        seen = attrs.get(_LEASE_PREFIX + owner) if owner else None
        if owner is None:
            ownerless.append(t)
        elif not isinstance(seen, int | float) or now - seen > grace:
            stale.append(t)
    if ownerless:
        # A live kernel claims its trial just after asking for it: look again a moment later.
        time.sleep(0.5)
        for t in ownerless:
            tid = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
            fresh = storage.get_trial(tid)
            if fresh.state == TrialState.RUNNING and OWNER_ATTR not in fresh.user_attrs:
                stale.append(t)
    retry = []
    for t in sorted(stale, key=lambda t: t.number):
        tid = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        try:
            storage.set_trial_user_attr(tid, "aimauto_nb.error",
                                        "left running by an interrupted search; retried")
            storage.set_trial_state_values(tid, TrialState.FAIL)
        except (RuntimeError, ValueError):  # another kernel finished or failed it first
            continue
        if t.params:
            retry.append(dict(t.params))
    return retry
