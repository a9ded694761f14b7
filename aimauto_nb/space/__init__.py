"""The cell and its markers: ``hp``, the static analysis of a cell's source, and the cell
program a trial runs (and writes back as code). The lowest layer above the bottom modules;
imports nothing of the search."""

from ..errors import CellError, SpaceError
from .analysis import CellSpace, analyze
from .markers import HP, hp
from .params import MARKER_KINDS, Param
from .program import CellProgram, CellResult, format_error

__all__ = ["hp", "HP", "Param", "MARKER_KINDS", "SpaceError", "CellError", "CellSpace", "analyze",
           "CellProgram", "CellResult", "format_error"]
