"""aimauto_nb: automated model search and compression from inside a Jupyter notebook."""

from .evaluate import METRICS
from .results import TrialRecord
from .search import PRUNERS, STRATEGIES, Search, SearchError, search
from .space import HP, SpaceError, hp


def tune(estimator, data, **kw):
    """A form over ``estimator``'s parameters that starts a search (see ``aimauto_nb.form``)."""
    from .form import Tuner

    return Tuner(estimator, data, **kw)

__version__ = "0.1.0"

__all__ = [
    "hp", "HP", "search", "tune", "Search", "SearchError", "SpaceError", "TrialRecord",
    "METRICS", "STRATEGIES", "PRUNERS", "load_ipython_extension", "unload_ipython_extension",
]


def load_ipython_extension(ipython) -> None:
    """``%load_ext aimauto_nb``: register the magics and put ``hp`` in the namespace."""
    ipython.push({"hp": hp})
    try:
        from .magics import register
    except ImportError:
        return
    register(ipython)
    from .display import in_notebook

    if in_notebook():  # import the panel's stack now, so the first %%aimsearch returns at once
        from . import widgets  # noqa: F401


def unload_ipython_extension(ipython) -> None:
    try:
        from .magics import unregister
    except ImportError:
        return
    unregister(ipython)
