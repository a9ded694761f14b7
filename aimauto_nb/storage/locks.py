"""The journal's lock file: Optuna's ``<journal>.lock`` name and exclusivity, taken so that a
lock left by a killed process never hangs a search."""

from __future__ import annotations

import errno
import os
import socket
import sys
import time
import uuid

from optuna.storages.journal._file import BaseJournalFileLock

__all__ = ["FileLock", "LOCK_GRACE", "SAY_AFTER"]

LOCK_GRACE = 30.0  # seconds an unchanged lock of an unknown holder is honoured (Optuna's)
SAY_AFTER = 1.0  # seconds of waiting after which the wait is reported on stderr
_MAX_SLEEP = 0.05
_HOST = socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FileLock(BaseJournalFileLock):
    """An exclusive lock file at an absolute path, created with ``O_EXCL`` (what Optuna's
    ``JournalFileOpenLock`` does; Optuna's symlink lock uses the same name, so the two
    exclude each other) and holding ``host pid`` of its holder.

    A lock whose holder is a dead process on this host is taken over at once; any other
    lock (another host's, Optuna's, one written by an unknown holder) after ``grace``
    seconds without change, as Optuna does. The waiting sleeps between checks (never
    spins), and a wait longer than ``SAY_AFTER`` seconds is reported once on stderr.
    Written here because Optuna's locks spin without sleeping on a dangling lock (a
    relative path) and know no dead holder, so a killed kernel's lock stalls 30 s.
    """

    def __init__(self, path: str, grace: float | None = None):
        self.path = os.path.abspath(path)
        self.grace = LOCK_GRACE if grace is None else grace

    def acquire(self) -> bool:
        begin = time.monotonic()
        delay, said, seen, since = 0.0005, False, None, begin
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                pass
            else:
                try:
                    os.write(fd, f"{_HOST} {os.getpid()}\n".encode())
                except OSError:  # a full disk: the lock holds, its holder is unknown
                    pass
                finally:
                    os.close(fd)
                return True
            now = time.monotonic()
            holder, mark = self._holder()
            if mark != seen:
                seen, since = mark, now
            if mark is not None and (self._dead(holder) or now - since > self.grace):
                self._take_over(holder)
                continue
            if not said and now - begin > SAY_AFTER:
                said = True
                who = f"held by {holder}" if holder else "holder unknown"
                sys.stderr.write(f"aimauto_nb: waiting for the journal lock {self.path} ({who}; "
                                 f"taken over after {self.grace:g} s without change)\n")
            time.sleep(delay)
            delay = min(delay * 2, _MAX_SLEEP)

    def _holder(self) -> tuple[str | None, tuple | None]:
        """(``host pid`` written in the lock or None, its (inode, mtime) or None when gone)."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return None, None
        holder = None
        if not os.path.islink(self.path):
            try:
                with open(self.path, encoding="utf-8", errors="replace") as f:
                    holder = f.read(200).strip() or None
            except OSError:
                pass
        return holder, (st.st_ino, st.st_mtime_ns)

    @staticmethod
    def _dead(holder: str | None) -> bool:
        parts = (holder or "").split()
        if len(parts) != 2 or parts[0] != _HOST or not parts[1].isdigit():
            return False
        pid = int(parts[1])
        return pid != os.getpid() and not _pid_alive(pid)

    def _take_over(self, holder: str | None) -> None:
        sys.stderr.write(f"aimauto_nb: took over the journal lock {self.path} "
                         f"({'left by ' + holder if holder else 'stale'})\n")
        self._remove()

    def _remove(self) -> None:
        # Renamed first (as Optuna does) so a lock re-created meanwhile is not the one removed.
        moved = f"{self.path}.{uuid.uuid4().hex}.rename"
        try:
            os.rename(self.path, moved)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return
            raise
        try:
            os.unlink(moved)
        except OSError:
            pass

    def release(self) -> None:
        self._remove()

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
