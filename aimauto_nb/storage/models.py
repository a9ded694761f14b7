"""The fitted models a search keeps (the best and the Pareto-optimal trials'): in memory,
mirrored as files beside a persistent storage so ``best_model`` works after a restart, and
refit on all the data at first access when they were fitted on one CV fold.

A pickle runs code when loaded, so a model file is only ever loaded from the search's own
store (user-only files) and only when its SHA-256, recorded in the study when the file was
written, matches: a file that was changed (or has no recorded checksum) is refused, never
unpickled, and the model is refit from the trial's parameters."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import warnings
from pathlib import Path
from typing import Any

import cloudpickle

from ..errors import ConfigError, StorageError
from .permissions import private_dir, write_private

__all__ = ["ModelStore", "KeptModels", "StudyChecksums", "CHECKSUM_ATTR", "prune_old_runs", "keep_runs"]

CHECKSUM_ATTR = "aimauto_nb.model_sha256"

#: runs of one name whose kept models stay on disk (the default journal's model folders)
KEEP_RUNS = 3


def keep_runs() -> int:
    """``$AIMAUTO_KEEP_RUNS`` (0: keep every run's models), else :data:`KEEP_RUNS`."""
    raw = os.environ.get("AIMAUTO_KEEP_RUNS", "").strip()
    if not raw:
        return KEEP_RUNS
    try:
        n = int(raw)
    except ValueError:
        raise ConfigError(f"AIMAUTO_KEEP_RUNS must be a whole number, got {raw!r}") from None
    if n < 0:
        raise ConfigError(f"AIMAUTO_KEEP_RUNS must be 0 (keep all) or more, got {n}")
    return n


def prune_old_runs(folder: Path | None, name: str, keep: int) -> list[str]:
    """Delete the model folders of all but the latest ``keep`` runs of ``name``
    (``<folder>/<name>-YYYYMMDD-HHMMSS[-k]/``) and return the runs whose models went.
    The studies stay in the journal; a model asked of such a run is refit from its
    trial's parameters. ``keep=0`` deletes nothing."""
    if folder is None or keep <= 0 or not folder.is_dir():
        return []
    run = re.compile(re.escape(name) + r"-(\d{8}-\d{6})(?:-(\d+))?")
    runs = []
    for p in folder.iterdir():
        m = run.fullmatch(p.name)
        if m and p.is_dir():
            runs.append(((m.group(1), int(m.group(2) or 1)), p))
    runs.sort()
    gone = [p for _, p in runs[:-keep]]
    for p in gone:
        shutil.rmtree(p, ignore_errors=True)
    return [p.name for p in gone]




class StudyChecksums:
    """Model files' SHA-256 by trial number, kept as a study attribute (a study's
    attributes can be written after its trials finish; a trial's cannot)."""

    def __init__(self, study):
        self.study = study
        self._lock = threading.Lock()
        self._table: dict[str, str] | None = None

    def _loaded(self) -> dict[str, str]:
        if self._table is None:
            self._table = dict(self.study.user_attrs.get(CHECKSUM_ATTR) or {})
        return self._table

    def get(self, number: int) -> str | None:
        with self._lock:
            return self._loaded().get(str(number))

    def set(self, number: int, digest: str | None) -> None:
        with self._lock:
            table = self._loaded()
            if digest is None:
                if table.pop(str(number), None) is None:
                    return
            else:
                table[str(number)] = digest
            self.study.set_user_attr(CHECKSUM_ATTR, dict(table))


class ModelStore:
    """Fitted models of one study as files ``<folder>/<study>/trial-N.pkl`` (user-only),
    each loaded only if it matches the checksum in ``checksums``."""

    def __init__(self, folder: Path | None, study_name: str, checksums=None):
        if Path(study_name).name != study_name or study_name in ("", ".", ".."):
            raise StorageError(f"name {study_name!r} would put model files outside {folder}")
        self.folder = None if folder is None else folder / study_name
        self.checksums = checksums
        self.refused: dict[int, str] = {}

    def path(self, number: int) -> Path:
        return self.folder / f"trial-{number}.pkl"

    def save(self, number: int, blob: bytes) -> None:
        if self.folder is None:
            return
        private_dir(self.folder)
        write_private(self.path(number), blob)
        if self.checksums is not None:
            self.checksums.set(number, hashlib.sha256(blob).hexdigest())

    def load(self, number: int):
        """The model in trial ``number``'s file; ``None`` if there is none, or if it does
        not match its recorded checksum (then :attr:`refused` says why, in one line)."""
        if self.folder is None or not self.path(number).exists():
            return None
        blob = self.path(number).read_bytes()
        expected = self.checksums.get(number) if self.checksums is not None else None
        if expected is None or hashlib.sha256(blob).hexdigest() != expected:
            self.refused[number] = (
                f"its file {self.path(number)} does not match the checksum recorded in the "
                "study when it was written, so it was not loaded" if expected is not None else
                f"its file {self.path(number)} has no checksum recorded in the study, so it "
                "was not loaded")
            return None
        return cloudpickle.loads(blob)

    def delete(self, number: int) -> None:
        if self.folder is not None:
            self.path(number).unlink(missing_ok=True)
            if self.checksums is not None:
                self.checksums.set(number, None)


class KeptModels:
    """Models by trial number. ``refit_on`` is the (X, y) a CV-fitted model is refit on."""

    def __init__(self, store: ModelStore, refit_on: tuple | None = None):
        self.store = store
        self._refit_on = refit_on
        self._models: dict[int, Any] = {}
        self._pending: set[int] = set()
        self._lock = threading.Lock()
        self._unsaved: set[int] = set()

    def keep(self, number: int, model, refit: bool) -> None:
        """Keep a trial's model (an object, or its pickle from a worker process)."""
        with self._lock:
            self._models[number] = model
            if refit:
                self._pending.add(number)
        if self.store.folder is None:
            return
        try:
            blob = model if isinstance(model, bytes) else cloudpickle.dumps(model)
        except Exception as e:  # the model stays in memory; the search must go on
            if not self._unsaved:
                warnings.warn(f"trial {number}'s model cannot be pickled ({type(e).__name__}: {e}); "
                              "kept models of this search stay in memory only", stacklevel=2)
            self._unsaved.add(number)
            return
        try:
            self.store.save(number, blob)
        except OSError as e:  # a full disk: the model stays in memory, the search goes on
            if not self._unsaved:
                warnings.warn(f"trial {number}'s model cannot be written to {self.store.folder} "
                              f"({e.strerror or e}); kept models of this search stay in memory "
                              "only", stacklevel=2)
            self._unsaved.add(number)

    def retain(self, numbers: set[int]) -> None:
        """Drop every kept model not in ``numbers``."""
        with self._lock:
            dropped = [n for n in self._models if n not in numbers]
            for n in dropped:
                del self._models[n]
                self._pending.discard(n)
        for n in dropped:
            self.store.delete(n)

    def get(self, number: int):
        """The fitted model of trial ``number``, or ``None`` when it was not kept."""
        with self._lock:
            m = self._models.get(number)
            pending = number in self._pending
        if m is None:
            m = self.store.load(number)
            if m is None:
                return None
            pending = self._refit_on is not None
        if isinstance(m, bytes):
            m = cloudpickle.loads(m)
        if pending:
            from sklearn.base import clone

            m = clone(m).fit(*self._refit_on)
        with self._lock:
            if number in self._models:
                self._models[number] = m
                self._pending.discard(number)
        return m

    def refit_missing(self, rec, config):
        """A kept model whose file is gone (the models folder was deleted): refit it from
        the trial's parameters, with a warning naming the file."""
        import warnings

        from ..runtime.trial import rebuild

        number = rec.number
        where = self.store.refused.pop(number, None) or (
            f"its file {self.store.path(number)} is missing" if self.store.folder is not None
            else "it is not in memory")
        m = rebuild(config.program, rec.params, config.namespace, config.metrics, config.data)
        if m is None:
            raise KeyError(f"trial {number}'s model was kept but {where}, and the cell yields no "
                           "model to refit from its parameters")
        warnings.warn(f"trial {number}'s model was kept but {where}; it was refit from the "
                      "trial's parameters", stacklevel=3)
        self.keep(number, m, refit=False)
        return m
