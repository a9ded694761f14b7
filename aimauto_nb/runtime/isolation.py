"""Process-wide state a trial may change and the next trial must not inherit: the working
directory (restored after every trial) and resource limits (``setrlimit``; a lowered hard
limit cannot be raised again, so the worker is replaced instead)."""

from __future__ import annotations

import contextlib
import os

try:
    import resource
except ImportError:  # Windows: no rlimits
    resource = None

__all__ = ["ProcessState"]

_LIMITS = tuple(getattr(resource, n) for n in dir(resource) if n.startswith("RLIMIT_")) \
    if resource is not None else ()


def _limits() -> dict:
    out = {}
    for which in _LIMITS:
        try:
            out[which] = resource.getrlimit(which)
        except (OSError, ValueError):
            pass
    return out


class ProcessState:
    """The working directory and resource limits when it was made; :meth:`restore` puts
    the directory back and says whether the limits changed (the worker must go)."""

    def __init__(self, limits: bool = True):
        self.cwd = os.getcwd()
        self.limits = _limits() if limits else None

    def restore(self) -> bool:
        """Back to the saved directory; True when the resource limits changed meanwhile."""
        try:
            moved = os.getcwd() != self.cwd
        except OSError:  # the trial removed the folder it moved to
            moved = True
        if moved:
            with contextlib.suppress(OSError):
                os.chdir(self.cwd)
        return self.limits is not None and _limits() != self.limits
