"""The fitted models a search keeps (the best and the Pareto-optimal trials'): in memory,
mirrored as files beside a persistent storage so ``best_model`` works after a restart, and
refit on all the data at first access when they were fitted on one CV fold."""

from __future__ import annotations

import os
import re
import shutil
import threading
import warnings
from pathlib import Path
from typing import Any

import cloudpickle

__all__ = ["ModelStore", "KeptModels", "prune_old_runs", "keep_runs"]

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
        raise ValueError(f"AIMAUTO_KEEP_RUNS must be a whole number, got {raw!r}") from None
    if n < 0:
        raise ValueError(f"AIMAUTO_KEEP_RUNS must be 0 (keep all) or more, got {n}")
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


class ModelStore:
    """Fitted models of one study as files ``<folder>/<study>/trial-N.pkl``."""

    def __init__(self, folder: Path | None, study_name: str):
        if Path(study_name).name != study_name or study_name in ("", ".", ".."):
            raise ValueError(f"name {study_name!r} would put model files outside {folder}")
        self.folder = None if folder is None else folder / study_name

    def path(self, number: int) -> Path:
        return self.folder / f"trial-{number}.pkl"

    def save(self, number: int, blob: bytes) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.path(number).with_suffix(".tmp")
        try:
            tmp.write_bytes(blob)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, self.path(number))

    def load(self, number: int):
        if self.folder is None or not self.path(number).exists():
            return None
        return cloudpickle.loads(self.path(number).read_bytes())

    def delete(self, number: int) -> None:
        if self.folder is not None:
            self.path(number).unlink(missing_ok=True)


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
        where = f"its file {self.store.path(number)} is missing" if self.store.folder is not None \
            else "it is not in memory"
        m = rebuild(config.program, rec.params, config.namespace, config.metrics, config.data)
        if m is None:
            raise KeyError(f"trial {number}'s model was kept but {where}, and the cell yields no "
                           "model to refit from its parameters")
        warnings.warn(f"trial {number}'s model was kept but {where}; it was refit from the "
                      "trial's parameters", stacklevel=3)
        self.keep(number, m, refit=False)
        return m
