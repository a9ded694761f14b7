"""Where searches are kept by default, and what is kept there.

Without ``storage=`` a search is written to an Optuna journal file, ``.aimauto/journal.log``
in the working directory (``AIMAUTO_DIR`` moves the folder), its kept models to
``.aimauto/models/``. Each run of a cell is its own study, named after the search plus the
time it started, so re-running a cell keeps the earlier run on disk, and ``resume=True``
continues the latest run of that name. :func:`studies` lists what a storage holds.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage

__all__ = ["ENV", "FSYNC_ENV", "DefaultStorage", "storage_setting", "open_target", "tag_study", "studies",
           "delete_study", "StoredStudy", "StudyList"]

ENV = "AIMAUTO_DIR"
FSYNC_ENV = "AIMAUTO_FSYNC"
JOURNAL = "journal.log"
MODELS = "models"
MEMORY = ":memory:"

NAME_ATTR = "aimauto_nb.name"
STARTED_ATTR = "aimauto_nb.started"


@dataclass(frozen=True)
class DefaultStorage:
    """The default journal file under ``folder`` (absolute, fixed when the search is set up)."""

    folder: Path

    @property
    def journal(self) -> Path:
        return self.folder / JOURNAL

    @property
    def models(self) -> Path:
        return self.folder / MODELS

    def open(self) -> BaseStorage:
        from .study import open_journal

        self.folder.mkdir(parents=True, exist_ok=True)
        fsync = os.environ.get(FSYNC_ENV, "") not in ("", "0")
        return open_journal(self.journal, str(self.journal),
                            JournalFileBackend if fsync else FlushedJournalFileBackend)

    def __str__(self) -> str:
        return str(self.journal)


class FlushedJournalFileBackend(JournalFileBackend):
    """Optuna's journal file backend, its writes handed to the operating system but not
    ``fsync``-ed: a killed or crashed kernel loses nothing (the OS still writes the file);
    only an OS crash or power cut may lose the last writes. An fsync costs milliseconds and
    a trial makes several writes (``benchmarks/persistence.py``); ``AIMAUTO_FSYNC=1``
    restores it. Written here because Optuna's backend has no switch for it; same format and
    lock file as Optuna's, so Optuna, optuna-dashboard and other processes share the file."""

    def __init__(self, file_path: str) -> None:
        self._write_lock = JournalFileSymlinkLock(file_path)
        self._write_path = file_path
        super().__init__(file_path, lock_obj=self._write_lock)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
        self._write_lock.acquire()
        try:
            with open(self._write_path, "ab") as f:
                f.write(text.encode("utf-8"))
        finally:
            self._write_lock.release()


def default_folder() -> Path:
    """``$AIMAUTO_DIR``, else ``.aimauto`` in the working directory, as an absolute path."""
    folder = Path(os.environ.get(ENV) or ".aimauto").expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"storage: {folder} (the default folder, ${ENV}) is a file, not a folder")
    return folder


def storage_setting(storage: Any) -> Any:
    """The ``storage=`` argument as the search uses it: ``None`` → :class:`DefaultStorage`,
    ``False`` or ``":memory:"`` → ``None`` (in memory), anything else unchanged."""
    if storage is None:
        return DefaultStorage(default_folder())
    if storage is False or storage == MEMORY:
        return None
    if storage is True:
        raise ValueError("storage must be a URL, an Optuna storage, ':memory:' or False; "
                         "omit it for the default journal under .aimauto/")
    return storage


def _now() -> dt.datetime:
    return dt.datetime.now().astimezone()


def _stored_name(study) -> str | None:
    return study.user_attrs.get(NAME_ATTR)


_EPOCH = dt.datetime.fromtimestamp(0).astimezone()


def _started(study) -> dt.datetime | None:
    text = study.user_attrs.get(STARTED_ATTR)
    return dt.datetime.fromisoformat(text) if text else None


def latest_study(storage: BaseStorage, name: str) -> str | None:
    """The stored name of the latest study that search ``name`` started, or None."""
    runs = [s for s in storage.get_all_studies() if _stored_name(s) == name]
    if not runs:
        return None
    return max(runs, key=lambda s: (_started(s) or _EPOCH, s.study_name)).study_name


def new_study_name(storage: BaseStorage, name: str) -> str:
    """``name-YYYYMMDD-HHMMSS`` (``-2``, ``-3``… when that second is taken)."""
    taken = {s.study_name for s in storage.get_all_studies()}
    base = f"{name}-{_now():%Y%m%d-%H%M%S}"
    candidate, i = base, 1
    while candidate in taken:
        i += 1
        candidate = f"{base}-{i}"
    return candidate


def open_target(setting: Any, name: str, resume: bool) -> tuple[BaseStorage | None, Path | None, str]:
    """(Optuna storage, folder for kept models, the study's name in the storage).

    For the default journal the study name is new for every run, or the latest run of
    ``name`` when resuming; for any other storage it is ``name`` itself."""
    if isinstance(setting, DefaultStorage):
        storage = setting.open()
        study_name = latest_study(storage, name) if resume else None
        return storage, setting.models, study_name or new_study_name(storage, name)
    from .study import open_storage

    storage, models = open_storage(setting)
    return storage, models, name


def tag_study(study: optuna.Study, name: str, metrics, *, strategy: str, protocol: str,
              source: str | None) -> None:
    """Metric names and the attributes optuna-dashboard shows (once per study)."""
    import optuna

    names = [m.name for m in metrics]
    if study.metric_names != names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(names)
    attrs = study.user_attrs
    if NAME_ATTR in attrs:
        return
    study.set_user_attr(STARTED_ATTR, _now().isoformat())
    study.set_user_attr("aimauto_nb.metrics", [m.label for m in metrics])
    study.set_user_attr("aimauto_nb.strategy", strategy)
    study.set_user_attr("aimauto_nb.validation", protocol)
    if source:
        study.set_user_attr("aimauto_nb.cell", source)
    study.set_user_attr(NAME_ATTR, name)  # last: marks the study as tagged


# ---------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class StoredStudy:
    """One stored study: the search's ``name``, its ``study_name`` in the storage, when it
    ``started``, its trial counts and the ``best`` values (by the first metric)."""

    name: str
    study_name: str
    started: dt.datetime | None
    trials: int
    complete: int
    best: dict[str, float] | None
    storage: str


class StudyList(list):
    """A list of :class:`StoredStudy` that prints as a table."""

    _HEAD = ("name", "study", "started", "trials", "best")

    def rows(self) -> list[tuple[str, ...]]:
        def best(s):
            return ", ".join(f"{k}={v:.4g}" for k, v in s.best.items()) if s.best else "-"

        return [(s.name, s.study_name, s.started.strftime("%Y-%m-%d %H:%M") if s.started else "-",
                 f"{s.complete}/{s.trials}", best(s)) for s in self]

    def __str__(self) -> str:
        if not self:
            return "no stored searches"
        rows = [self._HEAD, *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self._HEAD))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        from html import escape

        if not self:
            return "<p>no stored searches</p>"
        head = "".join(f"<th>{h}</th>" for h in self._HEAD)
        body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>"
                       for r in self.rows())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _open_for_listing(storage) -> tuple[BaseStorage | None, str, Path | None]:
    if storage is None:
        default = DefaultStorage(default_folder())
        if not default.journal.exists():
            return None, str(default), default.models
        return default.open(), str(default), default.models
    from optuna.storages import BaseStorage

    from .study import check_storage, open_storage

    if isinstance(storage, BaseStorage):
        return storage, type(storage).__name__, None
    check_storage(storage)
    opened, models = open_storage(storage)
    return opened, str(storage), models


def _best(trials, directions, names) -> dict[str, float] | None:
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values]
    if not done:
        return None
    sign = [-1 if d == StudyDirection.MAXIMIZE else 1 for d in directions]
    b = min(done, key=lambda t: tuple(s * v for s, v in zip(sign, t.values)))
    return dict(zip(names, b.values))


def studies(storage: Any = None) -> StudyList:
    """The studies kept in ``storage`` (default: the journal under ``.aimauto/``), oldest
    first: name, stored study name, start time, complete/all trials, best values.

    Parameters
    ----------
    storage : str or optuna.storages.BaseStorage, optional
        A storage URL (``sqlite:///file.db``, ``journal:///file.log``) or storage; the
        default journal when omitted.

    Returns
    -------
    StudyList
        A list of :class:`StoredStudy` that prints as a table.
    """
    import optuna
    from optuna.trial import TrialState

    opened, where, _ = _open_for_listing(storage)
    out = StudyList()
    if opened is None:
        return out
    for s in opened.get_all_studies():
        sid = opened.get_study_id_from_name(s.study_name)
        trials = opened.get_all_trials(sid, deepcopy=False)
        names = optuna.load_study(study_name=s.study_name, storage=opened).metric_names \
            or [f"values_{i}" for i in range(len(s.directions))]
        started = _started(s) or min((t.datetime_start.astimezone() for t in trials
                                      if t.datetime_start), default=None)
        out.append(StoredStudy(
            name=_stored_name(s) or s.study_name, study_name=s.study_name, started=started,
            trials=len(trials), complete=sum(t.state == TrialState.COMPLETE for t in trials),
            best=_best(trials, s.directions, names), storage=where))
    out.sort(key=lambda s: (s.started or _EPOCH, s.study_name))
    return out


def delete_study(study_name: str, storage: Any = None) -> None:
    """Remove a stored study (``study_name`` as :func:`studies` lists it) and its kept
    models. The journal file keeps growing; delete the folder to reclaim the space."""
    import optuna

    opened, _where, models = _open_for_listing(storage)
    if opened is None:
        raise KeyError(f"no stored study {study_name!r}: nothing is stored yet")
    try:
        opened.get_study_id_from_name(study_name)
    except KeyError:
        names = sorted(s.study_name for s in opened.get_all_studies())
        raise KeyError(f"no stored study {study_name!r}; stored: {', '.join(names) or 'none'}") from None
    optuna.delete_study(study_name=study_name, storage=opened)
    if models is not None and (models / study_name).is_dir():
        shutil.rmtree(models / study_name)


def location(setting) -> str:
    """Where a search's study is stored, for people: a file, a URL, or ``memory``."""
    if setting is None:
        return "memory"
    if isinstance(setting, str | DefaultStorage):
        return str(setting)
    return type(setting).__name__
