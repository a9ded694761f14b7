"""The default storage folder: one journal file per study (``studies/<study>.log``), so a
torn or unreadable file costs at most that study, plus the single ``journal.log`` earlier
versions wrote (read, resumed in place, never given new studies).

A search writes straight to its own file's :class:`~optuna.storages.JournalStorage`
(:meth:`FolderStorage.storage_of`); :class:`FolderStorage` itself is an Optuna storage over
every file of the folder, for listing, deleting and optuna-dashboard."""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
import uuid
import warnings
from collections.abc import Container, Sequence
from pathlib import Path
from typing import Any

from optuna.exceptions import DuplicatedStudyError
from optuna.storages import BaseStorage, JournalStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from ..errors import StorageError
from .journal import open_journal, short_error
from .permissions import private_dir

__all__ = ["FolderStorage", "STUDIES", "LEGACY"]

STUDIES = "studies"
LEGACY = "journal.log"
_STRIDE = 1 << 32  # global id = file slot * _STRIDE + the id inside that file's journal
_STAMP = r"-(\d{8}-\d{6})(?:-(\d+))?"
NAME_ATTR = "aimauto_nb.name"  # the search's name, on each of its studies
STARTED_ATTR = "aimauto_nb.started"


class FolderStorage(BaseStorage):
    """Every study of a default folder as one Optuna storage. ``unreadable`` maps each file
    that could not be read (by the last :meth:`get_all_studies`) to its one-line error."""

    def __init__(self, folder: Path, fsync: bool = False):
        self.folder = Path(folder).absolute()
        self.dir = self.folder / STUDIES
        self.legacy = self.folder / LEGACY
        self.fsync = fsync
        self._slots: list[JournalStorage | None] = []
        self._paths: list[Path] = []
        self._slot_of: dict[Path, int] = {}
        self.unreadable: dict[Path, str] = {}

    # ---------------------------------------------------------------- files

    def file_of(self, study_name: str) -> Path:
        """The file holding ``study_name``: its own, else the legacy journal when that holds
        it, else its own (to be created)."""
        own = self._own(study_name)
        if own.exists() or not self.legacy.exists():
            return own
        try:
            self._journal(self.legacy).get_study_id_from_name(study_name)
            return self.legacy
        except (KeyError, StorageError):
            return own

    def _own(self, study_name: str) -> Path:
        if Path(study_name).name != study_name or study_name.startswith(".") or not study_name:
            raise StorageError(f"study name {study_name!r} cannot be a file name in {self.dir}")
        return self.dir / f"{study_name}.log"

    def storage_of(self, study_name: str) -> JournalStorage:
        """The journal storage of the file that holds (or will hold) ``study_name``."""
        return self._journal(self.file_of(study_name))

    def _files(self) -> list[Path]:
        files = sorted(self.dir.glob("*.log")) if self.dir.is_dir() else []
        return files + ([self.legacy] if self.legacy.is_file() else [])

    def _slot(self, path: Path) -> int:
        slot = self._slot_of.get(path)
        if slot is None or self._slots[slot] is None:
            if path.parent == self.dir:
                private_dir(self.dir)
            storage = open_journal(path, str(path), fsync=self.fsync)
            if slot is None:
                slot = len(self._slots)
                self._slots.append(storage)
                self._paths.append(path)
                self._slot_of[path] = slot
            else:
                self._slots[slot] = storage
        return slot

    def _journal(self, path: Path) -> JournalStorage:
        return self._slots[self._slot(path)]

    def latest(self, name: str) -> str | None:
        """The stored name of the latest run of search ``name``: from the file names
        (``name-YYYYMMDD-HHMMSS[-i].log``) and the legacy journal's study attributes."""
        pattern = re.compile(re.escape(name) + _STAMP + "$")
        runs = []
        for f in (sorted(self.dir.glob("*.log")) if self.dir.is_dir() else []):
            m = pattern.match(f.stem)
            if m:
                runs.append((dt.datetime.strptime(m.group(1), "%Y%m%d-%H%M%S"),
                             int(m.group(2) or 1), f.stem))
        legacy = []
        if self.legacy.is_file():
            try:
                legacy = self._journal(self.legacy).get_all_studies()
            except (StorageError, OSError) as e:  # the runs in their own files still resume
                warnings.warn(f"{self.legacy} cannot be read ({short_error(e)}); its studies "
                              "are not resumed", stacklevel=3)
        for s in legacy:
            if s.user_attrs.get(NAME_ATTR) == name and s.user_attrs.get(STARTED_ATTR):
                started = dt.datetime.fromisoformat(s.user_attrs[STARTED_ATTR])
                runs.append((started.astimezone().replace(tzinfo=None, microsecond=0), 0,
                             s.study_name))
        return max(runs)[2] if runs else None

    def reserve(self, name: str, when: dt.datetime) -> str:
        """A new study name ``name-YYYYMMDD-HHMMSS`` (``-2``, ``-3``… when taken), its file
        created with ``O_EXCL`` so two kernels starting in one second get two names."""
        private_dir(self.dir)
        base, i = f"{name}-{when:%Y%m%d-%H%M%S}", 1
        while True:
            candidate = base if i == 1 else f"{base}-{i}"
            try:
                os.close(os.open(self._own(candidate), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
                return candidate
            except FileExistsError:
                i += 1
            except OSError as e:
                raise StorageError(f"storage: cannot create {self._own(candidate)} "
                                   f"({short_error(e)})") from None

    # ---------------------------------------------------------------- ids

    def _sid(self, study_id: int) -> tuple[JournalStorage, int]:
        slot, local = divmod(study_id, _STRIDE)
        storage = self._slots[slot] if 0 <= slot < len(self._slots) else None
        if storage is None:
            raise KeyError(f"no study with id {study_id}")
        return storage, local

    _tid = _sid

    @staticmethod
    def _trial(slot: int, t: FrozenTrial) -> FrozenTrial:
        t = copy.copy(t)
        t._trial_id = slot * _STRIDE + t._trial_id
        return t

    # ---------------------------------------------------------------- studies

    def create_new_study(self, directions: Sequence[StudyDirection],
                         study_name: str | None = None) -> int:
        name = study_name or f"no-name-{uuid.uuid4()}"
        if self.file_of(name) == self.legacy:
            raise DuplicatedStudyError(f"Another study with name '{name}' already exists.")
        slot = self._slot(self._own(name))
        return slot * _STRIDE + self._slots[slot].create_new_study(directions, name)

    def delete_study(self, study_id: int) -> None:
        storage, local = self._sid(study_id)
        storage.delete_study(local)
        slot = study_id // _STRIDE
        path = self._paths[slot]
        if path.parent == self.dir and not storage.get_all_studies():
            self._slots[slot] = None
            path.unlink(missing_ok=True)
            Path(f"{path}.lock").unlink(missing_ok=True)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        storage, local = self._sid(study_id)
        storage.set_study_user_attr(local, key, value)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        storage, local = self._sid(study_id)
        storage.set_study_system_attr(local, key, value)

    def get_study_id_from_name(self, study_name: str) -> int:
        try:
            path = self.file_of(study_name)
        except StorageError:
            raise KeyError(f"No such study {study_name}.") from None
        if not path.exists():
            raise KeyError(f"No such study {study_name}.")
        slot = self._slot(path)
        return slot * _STRIDE + self._slots[slot].get_study_id_from_name(study_name)

    def get_study_name_from_id(self, study_id: int) -> str:
        storage, local = self._sid(study_id)
        return storage.get_study_name_from_id(local)

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        storage, local = self._sid(study_id)
        return storage.get_study_directions(local)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        storage, local = self._sid(study_id)
        return storage.get_study_user_attrs(local)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        storage, local = self._sid(study_id)
        return storage.get_study_system_attrs(local)

    def get_all_studies(self) -> list:
        """Every readable study of the folder; an unreadable file is named in
        ``unreadable`` instead of failing the whole list."""
        out, self.unreadable = [], {}
        for path in self._files():
            try:
                if path.parent == self.dir and path.stat().st_size == 0:
                    continue  # reserved by a search that has not written yet
                slot = self._slot(path)
                studies = self._slots[slot].get_all_studies()
            except (StorageError, OSError, ValueError) as e:
                self.unreadable[path] = short_error(e)
                continue
            for s in studies:
                s = copy.copy(s)
                s._study_id = slot * _STRIDE + s._study_id
                out.append(s)
        return out

    # ---------------------------------------------------------------- trials

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        storage, local = self._sid(study_id)
        return (study_id // _STRIDE) * _STRIDE + storage.create_new_trial(local, template_trial)

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                        distribution) -> None:
        storage, local = self._tid(trial_id)
        storage.set_trial_param(local, param_name, param_value_internal, distribution)

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        storage, local = self._sid(study_id)
        return (study_id // _STRIDE) * _STRIDE + \
            storage.get_trial_id_from_study_id_trial_number(local, trial_number)

    def get_trial_number_from_id(self, trial_id: int) -> int:
        storage, local = self._tid(trial_id)
        return storage.get_trial_number_from_id(local)

    def get_trial_param(self, trial_id: int, param_name: str) -> float:
        storage, local = self._tid(trial_id)
        return storage.get_trial_param(local, param_name)

    def set_trial_state_values(self, trial_id: int, state: TrialState,
                               values: Sequence[float] | None = None) -> bool:
        storage, local = self._tid(trial_id)
        return storage.set_trial_state_values(local, state, values)

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        storage, local = self._tid(trial_id)
        storage.set_trial_intermediate_value(local, step, intermediate_value)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        storage, local = self._tid(trial_id)
        storage.set_trial_user_attr(local, key, value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        storage, local = self._tid(trial_id)
        storage.set_trial_system_attr(local, key, value)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        storage, local = self._tid(trial_id)
        return self._trial(trial_id // _STRIDE, storage.get_trial(local))

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        storage, local = self._sid(study_id)
        slot = study_id // _STRIDE
        return [self._trial(slot, t) for t in storage.get_all_trials(local, deepcopy, states)]

    def get_n_trials(self, study_id: int, state=None) -> int:
        storage, local = self._sid(study_id)
        return storage.get_n_trials(local, state)
