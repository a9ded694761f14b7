"""The Optuna study behind a search: storage (in memory, SQLite/RDB, journal file), open or
resume with a signature check, trials left running by a dead kernel, the history as
records."""

from __future__ import annotations

import json
import re
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from .capture import CellProgram
from .metrics import Metric
from .results import TrialRecord

__all__ = ["check_storage", "open_storage", "open_study", "signature", "history"]

_JOURNAL = re.compile(r"^journal:(?://)?(.+)$")
optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" in cells

_STATE_NAME = {TrialState.COMPLETE: "complete", TrialState.FAIL: "failed",
               TrialState.PRUNED: "pruned", TrialState.RUNNING: "running"}


def check_storage(storage) -> None:
    """Raise ``ValueError`` naming the problem if ``storage`` cannot be opened."""
    if storage is None or isinstance(storage, BaseStorage):
        return
    if not isinstance(storage, str):
        raise ValueError(f"storage must be a URL string or an Optuna storage, got {type(storage).__name__}")
    m = _JOURNAL.match(storage)
    path = m.group(1) if m else None
    if path is None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(storage)
        except ArgumentError:
            raise ValueError(
                f"invalid storage URL {storage!r}; use sqlite:///path.db, another SQLAlchemy "
                "URL, or journal:///path.log"
            ) from None
        if url.get_backend_name() == "sqlite":
            path = url.database
            if not path or path == ":memory:":
                return
    if path is not None:
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise ValueError(f"storage {storage!r}: folder {parent} does not exist")


def open_storage(storage) -> tuple[BaseStorage | None, Path | None]:
    """(Optuna storage, folder for kept models or None)."""
    if storage is None:
        return None, None
    if isinstance(storage, BaseStorage):
        return storage, None
    m = _JOURNAL.match(storage)
    if m:
        path = Path(m.group(1)).expanduser()
        return JournalStorage(JournalFileBackend(str(path))), Path(f"{path}.models")
    rdb = RDBStorage(storage)
    from sqlalchemy.engine import make_url

    url = make_url(storage)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return rdb, Path(f"{Path(url.database).expanduser()}.models")
    return rdb, None


def signature(program: CellProgram, metrics: tuple[Metric, ...]) -> str:
    """The search space and metrics, as stored with the study: resuming a study with a
    different signature is refused."""
    space = program.space
    params = {}
    if space is not None:
        params = {m.name or f"<line {m.lineno}>": m.kind for m in space.markers}
        for name, p in space.static_params.items():
            params[name] = repr(p.distribution())
    doc = {"metrics": [f"{m.name}:{m.direction}" for m in metrics], "params": params}
    return json.dumps(doc, sort_keys=True)


def _exists(storage: BaseStorage, name: str) -> bool:
    try:
        storage.get_study_id_from_name(name)
        return True
    except KeyError:
        return False


def open_study(storage: BaseStorage | None, name: str, metrics: tuple[Metric, ...],
               sampler, pruner, sig: str, resume: bool) -> tuple[optuna.Study, list[dict]]:
    """Create the study, or load it to resume; returns it with the parameters of trials a
    dead kernel left running (to be retried)."""
    directions = [m.direction for m in metrics]
    if storage is not None and _exists(storage, name):
        if not resume:
            raise ValueError(f"a study named {name!r} already exists in this storage; "
                             "pass resume=True to continue it, or another name")
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        old = study.user_attrs.get("aimauto_nb.signature")
        if old is not None and old != sig:
            raise ValueError(f"cannot resume {name!r}: its search space or metrics differ from "
                             f"this cell's.\n  stored: {old}\n  now:    {sig}")
        return study, fail_stale(study, storage)
    study = optuna.create_study(storage=storage, sampler=sampler, pruner=pruner,
                                directions=directions, study_name=name)
    study.set_user_attr("aimauto_nb.signature", sig)
    return study, []


def fail_stale(study: optuna.Study, storage: BaseStorage) -> list[dict]:
    """Mark trials left ``RUNNING`` by a crashed or killed kernel as failed; return their
    params so they can be retried. Assumes no other process is running this study."""
    study_id = storage.get_study_id_from_name(study.study_name)
    retry = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        tid = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        storage.set_trial_user_attr(tid, "aimauto_nb.error",
                                    "left running by an interrupted search; retried")
        storage.set_trial_state_values(tid, TrialState.FAIL)
        if t.params:
            retry.append(dict(t.params))
    return retry


def record_of(t: FrozenTrial, metrics: tuple[Metric, ...]) -> TrialRecord:
    names = [m.name for m in metrics]
    return TrialRecord(
        number=t.number, state=_STATE_NAME[t.state], params=dict(t.params),
        values=dict(zip(names, t.values)) if t.values else {},
        duration=t.duration.total_seconds() if t.duration else None,
        error=t.user_attrs.get("aimauto_nb.error"), started=t.datetime_start,
        choice_index=dict(t.user_attrs.get("aimauto_nb.choice_index", {})),
        intermediate=dict(t.intermediate_values),
        source=t.user_attrs.get("aimauto_nb.source"),
    )


def history(study: optuna.Study, metrics: tuple[Metric, ...]) -> list[TrialRecord]:
    """The study's trials so far as records (resumed searches show their past)."""
    return [record_of(t, metrics) for t in study.get_trials(deepcopy=False)
            if t.state in _STATE_NAME]
