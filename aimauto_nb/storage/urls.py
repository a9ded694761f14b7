"""Storage URLs: checking one before any work starts, and opening it as an Optuna storage
(SQLite/RDB through SQLAlchemy, journal files through :mod:`.journal`)."""

from __future__ import annotations

import re
from pathlib import Path

from optuna.storages import BaseStorage, RDBStorage

from ..errors import StorageError
from .journal import open_journal, short_error

__all__ = ["check_storage", "journal_path", "open_storage"]


_JOURNAL = re.compile(r"^journal:(.+)$")


def check_storage(storage) -> None:
    """Raise ``ValueError`` naming the problem if ``storage`` cannot be opened."""
    if storage is None or isinstance(storage, BaseStorage):
        return
    if not isinstance(storage, str):
        raise StorageError(f"storage must be a URL string or an Optuna storage, got {type(storage).__name__}")
    path = journal_path(storage)
    if path is None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            url = make_url(storage)
        except ArgumentError:
            raise StorageError(
                f"invalid storage URL {storage!r}; use sqlite:///path.db, another SQLAlchemy "
                "URL, or journal:///path.log"
            ) from None
        try:
            url.get_dialect()
        except NoSuchModuleError:
            raise StorageError(
                f"storage {storage!r}: unknown database kind {url.drivername!r} (no SQLAlchemy "
                "dialect of that name); use sqlite:///path.db, journal:///path.log or an "
                "installed dialect such as postgresql://"
            ) from None
        if url.get_backend_name() == "sqlite":
            path = url.database
            if not path or path == ":memory:":
                # SQLAlchemy gives each thread its own empty in-memory database
                raise StorageError(f"storage {storage!r}: an in-memory SQLite database is not "
                                   "shared between the search's threads; use "
                                   "sqlite:///file.db, or ':memory:' (or False) to keep nothing")
    if path is not None:
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise StorageError(f"storage {storage!r}: folder {parent} does not exist")


def journal_path(storage: str) -> str | None:
    """The file of a ``journal:`` URL, read as SQLAlchemy reads ``sqlite:`` ones:
    ``journal:///study.log`` is relative to the working directory, ``journal:////abs/s.log``
    absolute (``journal:study.log`` also works); ``None`` for other URLs."""
    m = _JOURNAL.match(storage)
    if m is None:
        return None
    rest = m.group(1)
    return rest[3:] if rest.startswith("///") else rest[2:] if rest.startswith("//") else rest


def open_storage(storage) -> tuple[BaseStorage | None, Path | None]:
    """(Optuna storage, folder for kept models or None). A journal with a torn last line
    is repaired first (:func:`repair_journal`); a file that is not a study store raises
    :class:`StorageError` naming it."""
    if storage is None:
        return None, None
    if isinstance(storage, BaseStorage):
        return storage, None
    jpath = journal_path(storage)
    if jpath is not None:
        path = Path(jpath).expanduser().absolute()
        return open_journal(path, storage, fsync=True), Path(f"{path}.models")  # as Optuna does
    from sqlalchemy.engine import make_url

    url = make_url(storage)
    is_file = url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:"
    try:
        rdb = RDBStorage(storage)
    except Exception as e:
        what = f"{Path(url.database).expanduser()} is not a readable SQLite study database" \
            if is_file else "cannot open the database"
        raise StorageError(f"storage {storage!r}: {what} ({short_error(e)})") from None
    if is_file:
        return rdb, Path(f"{Path(url.database).expanduser()}.models")
    return rdb, None
