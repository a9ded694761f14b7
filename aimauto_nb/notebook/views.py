"""Which live view a search has: the widget panel in a notebook, a text line elsewhere."""

from __future__ import annotations

import weakref

__all__ = ["in_notebook", "attach", "view_of"]

_VIEWS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def in_notebook() -> bool:
    """True inside a Jupyter kernel (a frontend that can render widgets)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


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
