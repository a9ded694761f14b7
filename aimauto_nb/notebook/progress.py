"""The text view of a search: one status line on stderr, for terminals and scripts."""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["TextProgress"]


class TextProgress:
    """One status line, rewritten at most twice a second (a new line each time when the
    stream is not a terminal)."""

    def __init__(self, search, stream=None, interval=0.5):
        self._stream = stream or sys.stderr
        self._interval = interval
        self._last = 0.0
        self._lock = threading.Lock()
        search.add_listener(self.update)

    def update(self, search) -> None:
        snap = search.snapshot()
        now = time.monotonic()
        final = not snap.running
        with self._lock:
            if not final and now - self._last < self._interval:
                return
            self._last = now
            line = snap.status_line()
            if self._stream.isatty():
                self._stream.write("\x1b[2K" + line + ("\n" if final else "\r"))
            else:
                self._stream.write(line + "\n")
            self._stream.flush()
