"""Every error the package raises on purpose.

One base, :class:`AimautoError`, so ``except aimauto_nb.AimautoError`` catches them all;
each public error also subclasses the builtin a caller would expect (``ValueError`` for
bad input, ``RuntimeError`` for a search that went wrong), as Keras Tuner's
``FatalValueError`` does, so code written against the builtins keeps working.
"""

from __future__ import annotations

__all__ = ["AimautoError", "SpaceError", "CellError", "ConfigError", "InputError", "StorageError",
           "SearchError", "ExecutorLost", "TrialAbandoned", "CompressError", "MissingDependency",
           "InputTypeError"]


class AimautoError(Exception):
    """Base of every error raised by aimauto_nb on purpose."""


class SpaceError(AimautoError, ValueError):
    """A bad ``hp`` marker: wrong bounds, no inferable name, duplicate names; says which line."""

    def __init__(self, message: str, lineno: int | None = None):
        self.lineno = lineno
        super().__init__(f"line {lineno}: {message}" if lineno else message)


class CellError(AimautoError, ValueError):
    """The cell does not follow the cell protocol, or its source cannot be parsed."""


class ConfigError(AimautoError, ValueError):
    """A bad argument to ``search()`` / ``%%aimsearch`` / ``tune()`` (names the argument)."""


class InputError(AimautoError, ValueError):
    """A model's inputs cannot be derived or do not fit it: pass ``example_inputs=``."""


class InputTypeError(InputError, TypeError):
    """An argument of the wrong kind (a model type a function does not take): also a
    ``TypeError``."""


class StorageError(AimautoError, ValueError):
    """A storage URL that cannot be opened, or a stored study that does not match."""


class SearchError(AimautoError, RuntimeError):
    """The search could not go on (every trial failed, the storage went away, ...)."""


class ExecutorLost(AimautoError, RuntimeError):
    """The runner's workers are gone (a process pool broke, the Dask cluster went away)."""


class TrialAbandoned(AimautoError, RuntimeError):
    """The driver no longer wants this trial (stopped, timed out): the worker stops it."""


class CompressError(AimautoError, ValueError):
    """The model cannot be compressed as asked (names the layer or option)."""


class MissingDependency(AimautoError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""
