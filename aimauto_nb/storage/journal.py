"""Journal files: opened with a torn last line set aside first, and written through a
flushed (not fsync-ed) backend by default."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

from ..errors import StorageError

__all__ = ["open_journal", "repair_journal", "FlushedJournalFileBackend", "short_error"]


def open_journal(path: Path, label: str, backend=JournalFileBackend) -> JournalStorage:
    """A journal storage on ``path``: a torn last line is set aside first
    (:func:`repair_journal`), and a file that is no journal raises :class:`StorageError`."""
    backup = repair_journal(path)
    if backup is not None:
        warnings.warn(f"journal {path}: its last line was torn (a write cut short); it was "
                      f"moved to {backup} and the study resumes from the line before", stacklevel=3)
    try:
        return JournalStorage(backend(str(path)))
    except (ValueError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise StorageError(f"storage {label!r}: {path} is not a readable Optuna journal "
                           f"({short_error(e)})") from None


def short_error(e: BaseException) -> str:
    """One line of an error (SQLAlchemy's own error text, without its long advice)."""
    orig = getattr(e, "orig", None)
    text = str(orig if orig is not None else e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def repair_journal(path: Path) -> Path | None:
    """Set aside a torn last line of an Optuna journal file (a write cut short by a kill):
    the whole file is copied to ``<file>.torn-<UTC time>``, then the file is cut after its
    last complete line. Returns the backup's path, or ``None`` when nothing was torn.

    A file whose *first* line is not a journal record is left alone (it is not a journal:
    opening it then fails with :class:`StorageError`). Holds Optuna's journal lock, so a
    kernel appending to the same file at that moment is not mistaken for a tear.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return None
    from optuna.storages.journal import JournalFileSymlinkLock

    lock = JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        with open(path, "rb") as f:
            if not _is_record(f.readline()):
                return None
            size = os.fstat(f.fileno()).st_size
            start = max(0, size - (1 << 20))
            f.seek(start)
            tail = f.read()
        cut = tail.rstrip(b"\n").rfind(b"\n") + 1  # start of the last line within tail
        last = tail[cut:]
        if last.endswith(b"\n") and _is_record(last):
            return None
        if cut == 0 and start == 0:
            return None  # a single (first) line that is a record but has no newline: leave it
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        backup = path.with_name(f"{path.name}.torn-{stamp}")
        shutil.copy2(path, backup)
        with open(path, "r+b") as f:
            f.truncate(start + cut)
            f.flush()
            os.fsync(f.fileno())
        return backup
    finally:
        lock.release()


def _is_record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, UnicodeDecodeError):
        return False


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
