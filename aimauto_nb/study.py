"""The Optuna study behind a search: storage (in memory, SQLite/RDB, journal file), open or
resume with a signature check, trials left running by a dead kernel (an owner lease tells
them from another kernel's live trials), a torn journal tail set aside, the history as
records."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import time
import warnings
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from .capture import CellProgram
from .metrics import Metric
from .results import TrialRecord

__all__ = ["check_storage", "open_storage", "open_study", "signature", "history", "Lease",
           "fail_stale", "journal_path", "repair_journal", "StorageError"]

_JOURNAL = re.compile(r"^journal:(.+)$")
LEASE_INTERVAL = 5.0  # seconds between an owner's lease renewals
LEASE_GRACE = 30.0  # a RUNNING trial whose owner's lease is older than this is stale
OWNER_ATTR = "aimauto_nb.owner"
_LEASE_PREFIX = "aimauto_nb.lease."
optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" in cells

_STATE_NAME = {TrialState.COMPLETE: "complete", TrialState.FAIL: "failed",
               TrialState.PRUNED: "pruned", TrialState.RUNNING: "running"}


def check_storage(storage) -> None:
    """Raise ``ValueError`` naming the problem if ``storage`` cannot be opened."""
    if storage is None or isinstance(storage, BaseStorage):
        return
    if not isinstance(storage, str):
        raise ValueError(f"storage must be a URL string or an Optuna storage, got {type(storage).__name__}")
    path = journal_path(storage)
    if path is None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            url = make_url(storage)
        except ArgumentError:
            raise ValueError(
                f"invalid storage URL {storage!r}; use sqlite:///path.db, another SQLAlchemy "
                "URL, or journal:///path.log"
            ) from None
        try:
            url.get_dialect()
        except NoSuchModuleError:
            raise ValueError(
                f"storage {storage!r}: unknown database kind {url.drivername!r} (no SQLAlchemy "
                "dialect of that name); use sqlite:///path.db, journal:///path.log or an "
                "installed dialect such as postgresql://"
            ) from None
        if url.get_backend_name() == "sqlite":
            path = url.database
            if not path or path == ":memory:":
                return
    if path is not None:
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise ValueError(f"storage {storage!r}: folder {parent} does not exist")


class StorageError(ValueError):
    """A storage file or database that cannot be read as an Optuna study store."""


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
        path = Path(jpath).expanduser()
        return open_journal(path, storage), Path(f"{path}.models")
    from sqlalchemy.engine import make_url

    url = make_url(storage)
    is_file = url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:"
    try:
        rdb = RDBStorage(storage)
    except Exception as e:
        what = f"{Path(url.database).expanduser()} is not a readable SQLite study database" \
            if is_file else "cannot open the database"
        raise StorageError(f"storage {storage!r}: {what} ({_short(e)})") from None
    if is_file:
        return rdb, Path(f"{Path(url.database).expanduser()}.models")
    return rdb, None


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
                           f"({_short(e)})") from None


def _short(e: BaseException) -> str:
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


def signature(program: CellProgram, metrics: tuple[Metric, ...]) -> str:
    """The search space and metrics, as stored with the study: resuming a study with a
    different signature is refused."""
    space = program.space
    params = {}
    if space is not None:
        params = {m.name or f"<line {m.lineno}>": m.kind for m in space.markers}
        for name, p in space.static_params.items():
            params[name] = repr(p.distribution())
    doc = {"metrics": [f"{m.name}:{m.direction}" for m in metrics], "params": params}
    return json.dumps(doc, sort_keys=True)


def _exists(storage: BaseStorage, name: str) -> bool:
    try:
        storage.get_study_id_from_name(name)
        return True
    except KeyError:
        return False


def open_study(storage: BaseStorage | None, name: str, metrics: tuple[Metric, ...],
               sampler, pruner, sig: str, resume: bool) -> tuple[optuna.Study, list[dict]]:
    """Create the study, or load it to resume; returns it with the parameters of trials a
    dead kernel left running (to be retried)."""
    directions = [m.direction for m in metrics]
    if storage is not None and _exists(storage, name):
        if not resume:
            raise ValueError(f"a study named {name!r} already exists in this storage; "
                             "pass resume=True to continue it, or another name")
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        old = study.user_attrs.get("aimauto_nb.signature")
        if old is not None and old != sig:
            raise ValueError(f"cannot resume {name!r}: its search space or metrics differ from "
                             f"this cell's.\n  stored: {old}\n  now:    {sig}")
        return study, fail_stale(study, storage)
    study = optuna.create_study(storage=storage, sampler=sampler, pruner=pruner,
                                directions=directions, study_name=name)
    study.set_user_attr("aimauto_nb.signature", sig)
    return study, []


class Lease:
    """This process's claim on the trials it runs in a persistent study: every trial it
    asks for carries its owner id (a trial user attribute), and the study holds the
    owner's last-seen time (a study user attribute renewed every ``LEASE_INTERVAL``).

    Written here rather than with Optuna's heartbeat because that exists for RDB storages
    only and costs one write per running trial per beat; this is one write per beat
    whatever the number of trials, on every storage (journal files included).
    """

    def __init__(self, study: optuna.Study, storage: BaseStorage):
        self.study = study
        self.storage = storage
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
        self._renewed = 0.0

    def renew(self, force: bool = False) -> bool:
        """Write the last-seen time when due; True when it was written."""
        now = time.time()
        if not force and now - self._renewed < LEASE_INTERVAL:
            return False
        self._renewed = now
        self.study.set_user_attr(_LEASE_PREFIX + self.owner, now)
        return True

    def claim(self, trial: optuna.Trial) -> None:
        trial.set_user_attr(OWNER_ATTR, self.owner)


def fail_stale(study: optuna.Study, storage: BaseStorage, grace: float | None = None) -> list[dict]:
    """Mark failed the ``RUNNING`` trials whose owner is gone: no owner recorded, or an
    owner whose lease is older than ``grace`` seconds (default ``LEASE_GRACE``). Trials of
    a live owner (another kernel running this study) are left alone. Returns the params
    of the trials this call failed, to be retried (a trial another process failed first
    is not returned, so two resuming kernels do not both retry it)."""
    grace = LEASE_GRACE if grace is None else grace
    study_id = storage.get_study_id_from_name(study.study_name)
    attrs = storage.get_study_user_attrs(study_id)
    now = time.time()
    stale, ownerless = [], []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.user_attrs.get(OWNER_ATTR)
        seen = attrs.get(_LEASE_PREFIX + owner) if owner else None
        if owner is None:
            ownerless.append(t)
        elif not isinstance(seen, int | float) or now - seen > grace:
            stale.append(t)
    if ownerless:
        # A live kernel claims its trial just after asking for it: look again a moment later.
        time.sleep(0.5)
        for t in ownerless:
            tid = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
            fresh = storage.get_trial(tid)
            if fresh.state == TrialState.RUNNING and OWNER_ATTR not in fresh.user_attrs:
                stale.append(t)
    retry = []
    for t in sorted(stale, key=lambda t: t.number):
        tid = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        try:
            storage.set_trial_user_attr(tid, "aimauto_nb.error",
                                        "left running by an interrupted search; retried")
            storage.set_trial_state_values(tid, TrialState.FAIL)
        except (RuntimeError, ValueError):  # another kernel finished or failed it first
            continue
        if t.params:
            retry.append(dict(t.params))
    return retry


def record_of(t: FrozenTrial, metrics: tuple[Metric, ...]) -> TrialRecord:
    names = [m.name for m in metrics]
    return TrialRecord(
        number=t.number, state=_STATE_NAME[t.state], params=dict(t.params),
        values=dict(zip(names, t.values)) if t.values else {},
        duration=t.duration.total_seconds() if t.duration else None,
        error=t.user_attrs.get("aimauto_nb.error"), started=t.datetime_start,
        choice_index=dict(t.user_attrs.get("aimauto_nb.choice_index", {})),
        intermediate=dict(t.intermediate_values),
        source=t.user_attrs.get("aimauto_nb.source"),
    )


def history(study: optuna.Study, metrics: tuple[Metric, ...]) -> list[TrialRecord]:
    """The study's trials so far as records (resumed searches show their past)."""
    return [record_of(t, metrics) for t in study.get_trials(deepcopy=False)
            if t.state in _STATE_NAME]
