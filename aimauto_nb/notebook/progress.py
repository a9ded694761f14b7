"""The text view of a search: one status line on stderr, for terminals and scripts.

On a terminal the line is drawn in place by tqdm (``\\r``, padded, cut to the width less
one column, so it never wraps); elsewhere each update is a new line. A draw waits a
moment (``settle``) so that it shows the trial launched right after one finished, not the
gap between them. In a terminal IPython the line is drawn only while a cell runs (a
``wait()``): at the prompt it would overwrite what is typed, so there the search's last
line is printed above the prompt through prompt_toolkit when the search ends.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time

__all__ = ["TextProgress"]


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


class TextProgress:
    """One status line, rewritten at most every ``interval`` seconds, and a final line."""

    def __init__(self, search, stream=None, interval=0.5, settle=0.05):
        from tqdm import tqdm

        self._search = search
        self._stream = stream or sys.stderr
        self._interval = interval
        self._settle = settle
        self._last = 0.0
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._done = False
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._bar = tqdm(total=None, bar_format="{desc}", file=self._stream, leave=False,
                         mininterval=0, ncols=self._width(), disable=not self._tty)
        shell = _shell()
        self._prompt = getattr(getattr(shell, "pt_app", None), "app", None)
        self._in_cell = True  # a script, or the cell that creates it
        if self._prompt is not None:
            shell.events.register("pre_run_cell", self._cell_starts)
            shell.events.register("post_run_cell", self._cell_ends)
            self._events = shell.events
        search.add_listener(self.update)

    def _width(self) -> int:
        cols = shutil.get_terminal_size((80, 24)).columns
        return max(20, cols - 1)

    # ------------------------------------------------------------------ IPython events

    def _cell_starts(self, *_):
        with self._lock:
            self._in_cell = True

    def _cell_ends(self, *_):
        with self._lock:
            self._in_cell = False
            if self._tty and not self._done:
                self._bar.write("", file=self._stream)  # leave the line: the prompt comes next
                self._bar.set_description_str("", refresh=False)
            if self._done:  # here, on the main thread, not from the driver's
                self._unregister()

    def _unregister(self):
        if self._prompt is not None:
            for name, fn in (("pre_run_cell", self._cell_starts), ("post_run_cell", self._cell_ends)):
                try:
                    self._events.unregister(name, fn)
                except ValueError:
                    pass
            self._prompt = None

    # ------------------------------------------------------------------ drawing

    def update(self, search) -> None:
        if not search.running:
            self._draw(final=True)
            return
        with self._lock:
            if self._timer is not None or self._done:
                return
            delay = max(self._settle, self._last + self._interval - time.monotonic())
            self._timer = threading.Timer(delay, self._draw)
            self._timer.daemon = True
            self._timer.start()

    def _draw(self, final: bool = False) -> None:
        snap = self._search.snapshot()
        with self._lock:
            self._timer = None
            if self._done:
                return
            final = final or not snap.running
            self._last = time.monotonic()
            if final:
                self._done = True
                self._finish(snap.status_line())
                return
            if not self._tty:
                self._stream.write(snap.status_line() + "\n")
                self._stream.flush()
            elif self._in_cell:
                self._bar.ncols = self._width()
                self._bar.set_description_str(snap.short_line())

    def _finish(self, line: str) -> None:
        """The final line, whole (it may wrap: it is printed once and stays)."""
        if not self._tty or self._in_cell:
            if self._tty:
                self._bar.set_description_str("", refresh=False)
                self._bar.clear()
            self._stream.write(line + "\n")
            self._stream.flush()
            return
        app = self._prompt
        if app is not None and getattr(app, "is_running", False) and getattr(app, "loop", None):
            from prompt_toolkit.application import run_in_terminal

            def show():
                self._stream.write(line + "\n")
                self._stream.flush()

            app.loop.call_soon_threadsafe(run_in_terminal, show)
        else:
            self._stream.write(line + "\n")
            self._stream.flush()
