"""How a search shows itself: the live widget panel in a notebook, a text line elsewhere."""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["attach", "in_notebook"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (a frontend that can render widgets)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def attach(search) -> None:
    if in_notebook():
        try:
            from .widgets import Panel
        except ImportError:
            pass
        else:
            search.widget = Panel(search)
            search.widget.show()
            return
    TextProgress(search)


class TextProgress:
    """One status line on stderr, rewritten at most twice a second."""

    def __init__(self, search, stream=None, interval=0.5):
        self._stream = stream or sys.stderr
        self._interval = interval
        self._last = 0.0
        self._lock = threading.Lock()
        search.add_listener(self.update)

    def update(self, search) -> None:
        now = time.monotonic()
        final = not search.running
        with self._lock:
            if not final and now - self._last < self._interval:
                return
            self._last = now
            end = "\n" if final else "\r"
            self._stream.write("\x1b[2K" + search.status_line() + end
                               if self._stream.isatty() else search.status_line() + "\n")
            self._stream.flush()
