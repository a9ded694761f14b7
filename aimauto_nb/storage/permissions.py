"""Files a search keeps are its user's alone: folders 0700, files 0600, whatever the umask
(the default ``.aimauto/`` holds the journal, with every trial's parameters and the cell's
source, and model pickles, which run code when loaded)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["private_dir", "private_file", "write_private", "writable"]


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) user-only; an existing folder is narrowed to
    user-only too (one left by an earlier version, say)."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for p in [path, *missing]:
        with contextlib.suppress(OSError):  # not ours: leave it
            if p.stat().st_mode & 0o077:
                os.chmod(p, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty and user-only unless it exists; an existing one is narrowed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return Path(path)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file, then a rename), user-only."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError:  # a full disk leaves no half file behind
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def writable(folder: Path) -> bool:
    """Whether ``folder``, or the nearest parent that exists, takes a new file (tried, as
    permission bits do not tell for root, ACLs or read-only mounts)."""
    p = Path(folder)
    while not p.exists():
        if p.parent == p:
            return False
        p = p.parent
    try:
        with tempfile.TemporaryFile(dir=p):
            return True
    except OSError:
        return False
