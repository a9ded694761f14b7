"""The notebook layer: magics, the live panel, the text progress line, charts and the tune
form. It reads the core (snapshots, ``Search``); the core never imports it."""

from __future__ import annotations

from .views import attach, in_notebook, view_of

__all__ = ["in_notebook", "attach", "view_of", "load", "unload"]

def load(ipython) -> None:
    """``%load_ext aimauto_nb``: register the magics and put ``hp`` in the namespace."""
    from ..space import hp

    ipython.push({"hp": hp})
    from .magics import register

    register(ipython)
    if in_notebook():  # import the panel's stack now, so the first %%aimsearch returns at once
        from . import panel  # noqa: F401


def unload(ipython) -> None:
    from .magics import unregister

    unregister(ipython)
