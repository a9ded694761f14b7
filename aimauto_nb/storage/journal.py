"""Journal files that survive I/O faults: Optuna's journal format and lock file, written by a
backend that never leaves a fragment for a later write to append to, reads past a fragment
in the middle of a file, keeps records of any size, and fails loudly when its file is
deleted or replaced under it."""

from __future__ import annotations

import datetime as dt
import json
import os
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any

from optuna.storages import JournalStorage
from optuna.storages.journal import BaseJournalBackend

from ..errors import StorageError
from .locks import FileLock

__all__ = ["open_journal", "repair_journal", "SafeJournalBackend", "JournalFault", "short_error"]

_RECORD_START = b'{"op_code"'
_CHUNK = 1 << 16


class JournalFault(StorageError):
    """A journal file could not be written or went away; names the file and the OS error."""


def open_journal(path: Path, label: str, *, fsync: bool = False) -> JournalStorage:
    """A journal storage on ``path`` (made absolute): a torn last line is set aside first
    (:func:`repair_journal`), and a file that is no journal raises :class:`StorageError`."""
    path = Path(path).expanduser().absolute()
    if not _looks_like_journal(path):
        raise StorageError(f"storage {label!r}: {path} is not a readable Optuna journal "
                           "(its first line is not a journal record)")
    try:
        backup = repair_journal(path)
    except OSError as e:
        raise JournalFault(f"storage {label!r}: cannot repair {path} ({short_error(e)})") from None
    if backup is not None:
        kept = f"; the cut part is in {backup}" if backup != path else ""
        warnings.warn(f"journal {path}: its last line was torn (a write cut short); it was cut "
                      f"off{kept} and the study resumes from the line before", stacklevel=3)
    try:
        return JournalStorage(SafeJournalBackend(str(path), fsync=fsync))
    except JournalFault:
        raise
    except OSError as e:
        raise JournalFault(f"storage {label!r}: cannot open {path} ({short_error(e)})") from None
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as e:
        raise StorageError(f"storage {label!r}: {path} is not a readable Optuna journal "
                           f"({short_error(e)})") from None


def short_error(e: BaseException) -> str:
    """One line of an error (SQLAlchemy's own error text, without its long advice)."""
    orig = getattr(e, "orig", None)
    text = str(orig if orig is not None else e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def _looks_like_journal(path: Path) -> bool:
    """An empty or missing file, or one whose first bytes start a journal record."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_RECORD_START))
    except FileNotFoundError:
        return True
    return not head or head == _RECORD_START


def _last_newline_end(fd: int, size: int) -> int:
    """Offset just after the last ``\\n`` in the file (0 when there is none)."""
    end = size
    while end > 0:
        start = max(0, end - _CHUNK)
        chunk = os.pread(fd, end - start, start)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        end = start
    return 0


def repair_journal(path: Path) -> Path | None:
    """Cut a torn last line off a journal file (a write cut short by a kill or a full disk),
    saving the cut bytes to ``<file>.torn-<UTC time>`` when the disk takes them. Returns the
    backup's path (``path`` itself when no backup could be written), or ``None`` when
    nothing was torn. A file whose first line is not a journal record is left alone (it is
    no journal: opening it then fails). Holds the journal's lock, so a kernel appending at
    that moment is not mistaken for a tear."""
    if not path.is_file() or path.stat().st_size == 0 or not _looks_like_journal(path):
        return None
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return None  # whole (checked again under the lock before cutting)
    with FileLock(str(path) + ".lock"):
        fd = os.open(path, os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
                return None
            cut = _last_newline_end(fd, size)
            if cut == 0:
                return None  # one record without its newline: leave it
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
            backup = path.with_name(f"{path.name}.torn-{stamp}")
            try:
                backup.write_bytes(os.pread(fd, size - cut, cut))
            except OSError:
                backup.unlink(missing_ok=True)
                backup = path
            os.ftruncate(fd, cut)
            return backup
        finally:
            os.close(fd)


def _salvage(line: bytes) -> tuple[dict | None, int]:
    """The record at the end of a line that starts with a fragment (another writer appended
    a whole record to a cut-short one): (record or None, bytes skipped)."""
    at = line.find(_RECORD_START, 1)
    while at > 0:
        try:
            rec = json.loads(line[at:])
            if isinstance(rec, dict):
                return rec, at
        except (ValueError, UnicodeDecodeError):
            pass
        at = line.find(_RECORD_START, at + 1)
    return None, len(line)


class SafeJournalBackend(BaseJournalBackend):
    """Optuna's journal file format, written so that one fault costs one write, not the file.

    - A write records the file's size first and truncates back to it when the write fails
      (a full disk), then raises :class:`JournalFault` naming the file and the OS error.
    - Before appending, a last line without its newline (a writer killed mid-write) is cut
      off, so no record is ever glued to a fragment.
    - Reading skips a fragment in the middle of the file with a warning naming the file and
      the byte offset, keeping every complete record (also one glued to a fragment by a
      writer that does not resync, such as plain Optuna); records of any size are read.
    - The file's identity (device, inode) is fixed at open: a journal deleted or replaced
      under a running search raises :class:`JournalFault` at the next read or write.
    - Writes are handed to the operating system, not ``fsync``-ed unless ``fsync``: a killed
      kernel loses nothing, only an OS crash may lose the last writes.

    Written here because Optuna's backend appends after whatever the file ends with and
    stops reading at the first bad line; the lock file is Optuna's (``<file>.lock``, taken
    with ``O_EXCL``), so plain Optuna processes can share the file.
    """

    def __init__(self, file_path: str, fsync: bool = False) -> None:
        self.path = os.path.abspath(file_path)
        self.fsync = fsync
        self._lock = FileLock(self.path + ".lock")
        try:
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))
        except OSError as e:
            raise JournalFault(f"journal {self.path}: cannot create it ({short_error(e)})") from None
        st = os.stat(self.path)
        self._identity = (st.st_dev, st.st_ino)
        self._offsets: dict[int, int] = {0: 0}  # log number -> byte offset of its line
        self._warned: set[int] = set()

    def _check_same_file(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise JournalFault(f"journal {self.path} was deleted while in use; this search's "
                               "later trials cannot be stored") from None
        if (st.st_dev, st.st_ino) != self._identity:
            raise JournalFault(f"journal {self.path} was replaced by another file while in use; "
                               "this search's later trials cannot be stored")

    def _warn(self, offset: int, what: str) -> None:
        if offset not in self._warned:
            self._warned.add(offset)
            warnings.warn(f"journal {self.path}: {what} at byte offset {offset} was skipped "
                          "(a write cut short); every complete record is kept", stacklevel=4)

    def read_logs(self, log_number_from: int) -> Generator[dict[str, Any], None, None]:
        self._check_same_file()
        n = log_number_from if log_number_from in self._offsets else 0
        offset = self._offsets[n]
        with open(self.path, "rb") as f:
            f.seek(offset)
            data = f.read()
        pos = 0
        while True:
            end = data.find(b"\n", pos)
            if end < 0:
                return  # nothing, or a line still being written (or cut short: cut on write)
            line = data[pos:end + 1]
            at = offset + pos
            pos = end + 1
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError("not a record")
            except (ValueError, UnicodeDecodeError):
                if not line.strip():
                    continue
                rec, skipped = _salvage(line)
                self._warn(at, f"a fragment of {skipped} bytes")
                if rec is None:
                    continue
            self._offsets[n + 1] = offset + pos
            if n >= log_number_from:
                yield rec
            n += 1

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        data = b"".join(json.dumps(log, separators=(",", ":")).encode("utf-8") + b"\n"
                        for log in logs)
        with self._lock:
            self._check_same_file()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    cut = _last_newline_end(fd, size)
                    os.ftruncate(fd, cut)
                    warnings.warn(f"journal {self.path}: a cut-short record of {size - cut} bytes "
                                  f"at byte offset {cut} (a writer killed or a disk full) was cut "
                                  "off before this write", stacklevel=4)
                    size = cut
                self._write(fd, data, size)
            finally:
                os.close(fd)

    def _write(self, fd: int, data: bytes, size: int) -> None:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if self.fsync:
                os.fsync(fd)
        except OSError as e:
            try:
                os.ftruncate(fd, size)
            except OSError:
                pass
            raise JournalFault(f"journal {self.path}: a write failed ({short_error(e)}); "
                               "the file was cut back to its last complete record") from None
