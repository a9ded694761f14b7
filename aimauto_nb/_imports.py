"""Optional dependencies, imported when first needed, with the extra that installs them.

``try_import("distributed", extra="dask", what="the dask executor")`` returns the module or
raises :class:`~aimauto_nb.errors.MissingDependency` whose one line says what to install,
so no module writes its own ``except ImportError`` block and its own install hint.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependency

__all__ = ["try_import", "available"]


def try_import(module: str, *, extra: str | None = None, what: str | None = None,
               package: str | None = None) -> ModuleType:
    """Import ``module`` or raise ``MissingDependency`` naming ``extra`` (or ``package``)."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        need = what or module
        if extra:
            hint = f"pip install 'aimauto_nb[{extra}]'"
        else:
            hint = f"pip install {package or module.split('.')[0]}"
        raise MissingDependency(f"{need} needs {package or module.split('.')[0]}: {hint}") from e


def available(module: str) -> bool:
    """True when ``module`` can be found, without importing it."""
    from importlib.util import find_spec

    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False
