"""A captured cell (or ``build(hp)`` callable) turned into something a trial can run.

Also writes a trial back as plain code: :meth:`CellProgram.code` replaces each marker by
the literal value the trial chose.
"""

from __future__ import annotations

import ast
import linecache
import numbers
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import CellError
from .analysis import CellSpace, analyze, rewrite
from .markers import HP

__all__ = ["CellProgram", "CellResult", "CellError", "format_error"]

CELL_FILENAME = "<aimsearch cell>"
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # aimauto_nb/


@dataclass
class CellResult:
    """What one run of the cell produced."""

    model: Any = None
    score: Any = None
    example_inputs: Any = None  # what to time the model on (a tensor, array or tuple)


def format_error(exc: BaseException) -> str:
    """The traceback of a trial error without this package's own frames."""
    te = traceback.TracebackException.from_exception(exc)
    te.stack = traceback.StackSummary.from_list(
        [f for f in te.stack if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR)]
    )
    return "".join(te.format()).strip()


class CellProgram:
    """The cell source (or a callable) and its analysed search space."""

    def __init__(self, source: str | Callable):
        self._code = None
        if callable(source):
            self.build: Callable | None = source
            self.source = None
            self.space: CellSpace | None = None
            return
        if not isinstance(source, str):
            raise TypeError(f"source must be cell text or a callable build(hp), got {type(source)!r}")
        self.build = None
        self.source = source
        self.space = analyze(source, CELL_FILENAME)
        if not {"model", "score"} & self.space.assigned:
            raise CellError(
                "the cell must define `model` (an unfitted estimator with fit/predict) or "
                "`score` (a number, or a dict of metric name -> number); it defines neither"
            )

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_code"] = None
        return state

    @property
    def references(self) -> set[str]:
        """Names the cell reads (the only ones a process worker needs from the namespace)."""
        if self.space is None:
            return set()
        return self.space.loaded - {"hp", "report"}

    def _compiled(self):
        if self._code is None:
            lines = self.source.splitlines(keepends=True)
            linecache.cache[CELL_FILENAME] = (len(self.source), None, lines, CELL_FILENAME)
            self._code = compile(rewrite(self.space), CELL_FILENAME, "exec")
        return self._code

    def run(self, namespace: dict, hp: HP) -> CellResult:
        """Run once in ``namespace`` (a fresh dict) with ``hp`` bound to the trial."""
        if self.build is not None:
            out = self.build(hp)
            if isinstance(out, tuple) and len(out) == 2:
                return CellResult(model=out[0], score=out[1])
            if isinstance(out, numbers.Number | dict):
                return CellResult(score=out)
            if hasattr(out, "fit") or hasattr(out, "forward"):
                return CellResult(model=out)
            raise CellError(
                "build(hp) must return an unfitted estimator, a score (number or dict), "
                f"or (model, score); it returned {type(out).__name__}"
            )
        namespace["hp"] = hp
        namespace["report"] = hp.report
        exec(self._compiled(), namespace)
        if "score" not in namespace and "model" not in namespace:
            raise CellError("the cell ran but defined neither `model` nor `score`")
        return CellResult(model=namespace.get("model"), score=namespace.get("score"),
                          example_inputs=namespace.get("example_inputs"))

    def code(self, params: dict[str, Any], choice_index: dict[str, int] | None = None) -> str:
        """The cell with each marker replaced by the literal value in ``params``.

        ``choice_index`` (name -> position of the chosen option) lets a choice among
        objects written as a list in the cell come back as that option's own source.
        """
        if self.space is None:
            raise CellError("code() needs cell source; this search was built from a callable")
        choice_index = choice_index or {}
        src = self.source.encode()
        offsets = [0]
        for line in src.splitlines(keepends=True):
            offsets.append(offsets[-1] + len(line))
        claimed = {m.name for m in self.space.markers if m.name is not None}
        unclaimed = {k: v for k, v in params.items() if k not in claimed}
        edits = []
        for m in self.space.markers:
            n = m.node
            if m.name is None:
                name_kw = next(k for k in n.keywords if k.arg == "name")
                text = f"{unclaimed!r}[{ast.get_source_segment(self.source, name_kw.value)}]"
            elif m.name in params:
                text = self._literal(m, params[m.name], choice_index.get(m.name))
            else:
                continue
            start = offsets[n.lineno - 1] + n.col_offset
            end = offsets[n.end_lineno - 1] + n.end_col_offset
            edits.append((start, end, text.encode()))
        for start, end, text in sorted(edits, reverse=True):
            src = src[:start] + text + src[end:]
        return src.decode()

    def _literal(self, marker, value, index: int | None) -> str:
        if marker.kind == "choice" and index is not None:
            node = marker.node.args[0] if marker.node.args else next(
                (k.value for k in marker.node.keywords if k.arg == "options"), None
            )
            if isinstance(node, ast.List | ast.Tuple) and index < len(node.elts):
                return ast.get_source_segment(self.source, node.elts[index])
        return repr(value)
