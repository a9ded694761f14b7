"""aimauto_nb: automated model search and compression from inside a Jupyter notebook.

Names are imported on first use (PEP 562), so ``from aimauto_nb import compress`` loads
neither Optuna nor scikit-learn, and a plain script never loads ipywidgets.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "hp": "space", "HP": "space",
    "search": "api", "tune": "api", "plot_pareto": "api", "plot_history": "api", "dashboard": "api",
    "studies": "storage.listing", "delete_study": "storage.listing", "StoredStudy": "storage.listing",
    "Search": "core.facade", "SearchConfig": "core.config",
    "TrialRecord": "core.results", "Snapshot": "core.results",
    "METRICS": "runtime.metrics", "Metric": "runtime.metrics",
    "STRATEGIES": "core.strategies", "PRUNERS": "core.pruning",
    "compress": "compression", "distill": "compression", "CompressReport": "compression",
    "save_compressed": "compression", "load_compressed": "compression",
    "AimautoError": "errors", "SpaceError": "errors", "CellError": "errors", "ConfigError": "errors",
    "InputError": "errors", "StorageError": "errors", "SearchError": "errors",
    "CompressError": "errors", "MissingDependency": "errors", "InputTypeError": "errors",
}

__all__ = [*_LAZY, "load_ipython_extension", "unload_ipython_extension"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aimauto_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython) -> None:
    """``%load_ext aimauto_nb``: register the magics and put ``hp`` in the namespace."""
    from .notebook import load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    from .notebook import unload

    unload(ipython)
