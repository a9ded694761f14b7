"""What a storage holds, for people: :func:`studies` lists the stored searches as a table,
:func:`delete_study` removes one with its kept models."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..runtime.metrics import BLANK, METRICS, format_value
from .default import _EPOCH, DefaultStorage, _started, _stored_name, default_folder
from .folder import STUDIES

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

__all__ = ["studies", "delete_study", "StoredStudy", "StudyList"]


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
    """A list of :class:`StoredStudy` that prints as a table; ``unreadable`` holds one line
    per stored file that could not be read (printed under the table)."""

    _HEAD = ("name", "study", "started", "trials", "best")

    def rows(self) -> list[tuple[str, ...]]:
        def best(s):
            if not s.best:
                return BLANK
            return ", ".join(f"{k}={format_value(METRICS.get(k), v)}" for k, v in s.best.items())

        return [(s.name, s.study_name, s.started.strftime("%Y-%m-%d %H:%M") if s.started else "-",
                 f"{s.complete}/{s.trials}", best(s)) for s in self]

    unreadable: tuple[str, ...] = ()

    def __str__(self) -> str:
        if not self:
            text = "no stored searches"
        else:
            rows = [self._HEAD, *self.rows()]
            widths = [max(len(r[i]) for r in rows) for i in range(len(self._HEAD))]
            text = "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
        return "\n".join([text, *self.unreadable])

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        from html import escape

        if not self:
            return "<p>no stored searches</p>" + self._unreadable_html()
        head = "".join(f"<th>{h}</th>" for h in self._HEAD)
        body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>"
                       for r in self.rows())
        return (f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                + self._unreadable_html())

    def _unreadable_html(self) -> str:
        from html import escape

        return "".join(f"<p>{escape(line)}</p>" for line in self.unreadable)


def _open_for_listing(storage) -> tuple[BaseStorage | None, str, Path | None]:
    if storage is None:
        default = DefaultStorage(default_folder())
        if not (default.journal.exists() or (default.folder / STUDIES).is_dir()):
            return None, str(default), default.models
        return default.open(), str(default), default.models
    from optuna.storages import BaseStorage

    from .urls import check_storage, open_storage

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
    """The studies kept in ``storage`` (default: the journal files under ``.aimauto/``),
    oldest first: name, stored study name, start time, complete/all trials, best values. A
    file that cannot be read is named in one line under the table (``unreadable``) instead
    of failing the list.

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
    found = opened.get_all_studies()
    out.unreadable = tuple(f"unreadable: {path} ({error})"
                           for path, error in getattr(opened, "unreadable", {}).items())
    for s in found:
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
