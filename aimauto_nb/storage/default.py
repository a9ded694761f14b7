"""Where searches are kept by default, and what is kept there.

Without ``storage=`` a search is written to its own Optuna journal file,
``.aimauto/studies/<study>.log`` in the working directory (``AIMAUTO_DIR`` moves the
folder; :mod:`.folder`), its kept models to ``.aimauto/models/``. Each run of a cell is its
own study, named after the search plus the time it started, so re-running a cell keeps the
earlier run on disk (and a fault in one file costs that run only), and ``resume=True``
continues the latest run of that name (also one in the ``.aimauto/journal.log`` of earlier
versions). :func:`studies` lists what a storage holds.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StorageError
from .folder import LEGACY, NAME_ATTR, STARTED_ATTR, FolderStorage
from .permissions import private_dir

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage

__all__ = ["ENV", "FSYNC_ENV", "DefaultStorage", "storage_setting", "open_target", "tag_study",
           "default_folder", "location"]

ENV = "AIMAUTO_DIR"
FSYNC_ENV = "AIMAUTO_FSYNC"
JOURNAL = LEGACY
MODELS = "models"
MEMORY = ":memory:"



@dataclass(frozen=True)
class DefaultStorage:
    """The default folder of journal files (absolute, fixed when the search is set up)."""

    folder: Path

    @property
    def journal(self) -> Path:
        """The single journal of earlier versions (also the folder's key for the dashboard)."""
        return self.folder / JOURNAL

    @property
    def models(self) -> Path:
        return self.folder / MODELS

    def open(self) -> FolderStorage:
        """Every study of the folder as one Optuna storage (:class:`.FolderStorage`)."""
        private_dir(self.folder)
        return FolderStorage(self.folder, fsync=os.environ.get(FSYNC_ENV, "") not in ("", "0"))

    def __str__(self) -> str:
        return str(self.folder)


def default_folder() -> Path:
    """``$AIMAUTO_DIR``, else ``.aimauto`` in the working directory, as an absolute path."""
    folder = Path(os.environ.get(ENV) or ".aimauto").expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise StorageError(f"storage: {folder} (the default folder, ${ENV}) is a file, not a folder")
    return folder


def storage_setting(storage: Any) -> Any:
    """The ``storage=`` argument as the search uses it: ``None`` → :class:`DefaultStorage`,
    ``False`` or ``":memory:"`` → ``None`` (in memory), anything else unchanged."""
    if storage is None:
        return DefaultStorage(default_folder())
    if storage is False or storage == MEMORY:
        return None
    if storage is True:
        raise StorageError("storage must be a URL, an Optuna storage, ':memory:' or False; "
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


def open_target(setting: Any, name: str, resume: bool) -> tuple[BaseStorage | None, Path | None, str]:
    """(Optuna storage, folder for kept models, the study's name in the storage).

    For the default journal the study name is new for every run, or the latest run of
    ``name`` when resuming; for any other storage it is ``name`` itself."""
    if isinstance(setting, DefaultStorage):
        folder = setting.open()
        study_name = (folder.latest(name) if resume else None) or folder.reserve(name, _now())
        return folder.storage_of(study_name), setting.models, study_name
    from .urls import open_storage

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


def location(setting, study_name: str | None = None) -> str:
    """Where a search's study is stored, for people: a file, a URL, or ``memory``."""
    if setting is None:
        return "memory"
    if isinstance(setting, DefaultStorage) and study_name is not None:
        return str(FolderStorage(setting.folder).file_of(study_name))
    if isinstance(setting, str | DefaultStorage):
        return str(setting)
    return type(setting).__name__
