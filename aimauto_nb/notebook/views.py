"""Which live view a search has: the widget panel in a notebook, a text line elsewhere."""

from __future__ import annotations

import os
import weakref

__all__ = ["in_notebook", "live_frontend", "headless", "attach", "view_of"]

_VIEWS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def in_notebook() -> bool:
    """True inside a Jupyter kernel (a frontend that can render widgets)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def live_frontend() -> bool:
    """True when a person's frontend is connected to this kernel, False under a notebook
    runner (nbclient, nbconvert ``--execute``, papermill), where nobody clicks or sees the
    panel move: such runners send ``allow_stdin=False`` and never open ipywidgets' control
    comm, which JupyterLab and Notebook 7 open on connecting. ``$AIMAUTO_HEADLESS=1`` (or
    ``0``) says so outright. Outside a kernel: False."""
    forced = os.environ.get("AIMAUTO_HEADLESS", "").strip()
    if forced in ("0", "1"):
        return forced == "0"
    if not in_notebook():
        return False
    from IPython import get_ipython

    try:
        import ipywidgets

        if getattr(ipywidgets.Widget, "_control_comm", None) is not None:
            return True
    except ImportError:
        pass
    kernel = getattr(get_ipython(), "kernel", None)
    try:
        parent = kernel.get_parent()
    except Exception:  # an older ipykernel: assume a person
        return True
    return bool((parent or {}).get("content", {}).get("allow_stdin", True))


def headless() -> bool:
    """A kernel that a notebook runner drives: it saves only what the running cell shows,
    and nobody is there to click."""
    return in_notebook() and not live_frontend()


def attach(search):
    """Show ``search`` live: the widget panel in a notebook, a text line elsewhere.
    Returns the view (also found later with :func:`view_of`)."""
    view = None
    if in_notebook():
        try:
            from .panel import Panel
        except ImportError:
            pass
        else:
            view = Panel(search).show()
    if view is None:
        from .progress import TextProgress

        view = TextProgress(search)
    _VIEWS[search] = view
    return view


def view_of(search):
    """The panel or text line :func:`attach` gave ``search`` (None if it has none)."""
    return _VIEWS.get(search)
