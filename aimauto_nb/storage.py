"""Study storage (Optuna's: in memory, SQLite/RDB, journal file) and the fitted models kept
beside it, so ``best_model`` works again after a kernel restart."""

from __future__ import annotations

import os
import re
from pathlib import Path

import cloudpickle
import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

__all__ = ["open_storage", "ModelStore", "check_storage"]

_JOURNAL = re.compile(r"^journal:(?://)?(.+)$")


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


class ModelStore:
    """Fitted models of one study as files ``<folder>/<study>/trial-N.pkl``."""

    def __init__(self, folder: Path | None, study_name: str):
        self.folder = None if folder is None else folder / study_name

    def _path(self, number: int) -> Path:
        return self.folder / f"trial-{number}.pkl"

    def save(self, number: int, blob: bytes) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self._path(number).with_suffix(".tmp")
        tmp.write_bytes(blob)
        os.replace(tmp, self._path(number))

    def load(self, number: int):
        if self.folder is None or not self._path(number).exists():
            return None
        return cloudpickle.loads(self._path(number).read_bytes())

    def delete(self, number: int) -> None:
        if self.folder is not None:
            self._path(number).unlink(missing_ok=True)


def study_exists(storage: BaseStorage, name: str) -> bool:
    try:
        storage.get_study_id_from_name(name)
        return True
    except KeyError:
        return False


def fail_stale(study: optuna.Study, storage: BaseStorage) -> list[dict]:
    """Mark trials left ``RUNNING`` by a crashed or killed kernel as failed; return their
    params so they can be retried. Assumes no other process is running this study."""
    from optuna.trial import TrialState

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
