"""Search-space markers (``hp.int``, ``hp.float``, ``hp.choice``) and their static analysis.

Outside a search every marker returns its default, so a marked cell is still ordinary
Python. Inside a trial the markers are bound to a resolver that asks the sampler. Names
are inferred from the source with :mod:`ast` (keyword, assignment target, dict key).
"""

from __future__ import annotations

import ast
import builtins
import inspect
import linecache
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna.distributions as od

__all__ = ["hp", "HP", "Param", "SpaceError", "CellSpace", "analyze", "MARKER_KINDS"]

MARKER_KINDS = ("int", "float", "choice")
_PRIMITIVES = (type(None), bool, builtins.int, builtins.float, str)


class SpaceError(ValueError):
    """A search-space marker is invalid or cannot be named; says which line."""

    def __init__(self, message: str, lineno: int | None = None):
        self.lineno = lineno
        super().__init__(f"line {lineno}: {message}" if lineno else message)


def _is_number(x: Any) -> bool:
    return isinstance(x, builtins.int | builtins.float) and not isinstance(x, bool)


@dataclass(frozen=True)
class Param:
    """One tunable parameter: its kind, bounds or options, and default."""

    kind: str
    low: Any = None
    high: Any = None
    log: bool = False
    step: Any = None
    options: tuple = ()
    default: Any = None
    name: str | None = None

    def __post_init__(self):
        if self.kind == "choice":
            if len(self.options) == 0:
                raise SpaceError("hp.choice needs at least one option")
            if self.default is not None and self.default not in self.options:
                raise SpaceError(f"hp.choice default {self.default!r} is not one of the options")
            return
        label = f"hp.{self.kind}({self.low!r}, {self.high!r})"
        if not (_is_number(self.low) and _is_number(self.high)):
            raise SpaceError(f"{label}: bounds must be numbers")
        if self.kind == "int" and not (
            float(self.low).is_integer() and float(self.high).is_integer()
        ):
            raise SpaceError(f"{label}: bounds of hp.int must be integers")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise SpaceError(f"{label}: bounds must be finite")
        if self.low > self.high:
            raise SpaceError(f"{label}: low > high")
        if self.log and self.low <= 0:
            raise SpaceError(f"{label}: log=True needs low > 0")
        if self.step is not None:
            if not _is_number(self.step) or self.step <= 0:
                raise SpaceError(f"{label}: step must be a positive number")
            if self.log and self.step != 1:
                raise SpaceError(f"{label}: step and log=True cannot be combined")
        if self.default is not None:
            if not _is_number(self.default) or not self.low <= self.default <= self.high:
                raise SpaceError(f"{label}: default {self.default!r} is outside [low, high]")

    @property
    def labels(self) -> tuple:
        """Values the sampler sees for a choice: the options if primitive, else labels."""
        if all(isinstance(o, _PRIMITIVES) for o in self.options):
            return self.options
        labels = []
        for i, o in enumerate(self.options):
            lab = o if isinstance(o, _PRIMITIVES) else type(o).__name__
            labels.append(f"{lab}#{i}" if lab in labels or lab in self.options[:i] else lab)
        return tuple(labels)

    def distribution(self) -> od.BaseDistribution:
        if self.kind == "int":
            return od.IntDistribution(
                builtins.int(self.low), builtins.int(self.high), log=self.log,
                step=1 if self.step is None else builtins.int(self.step),
            )
        if self.kind == "float":
            return od.FloatDistribution(
                builtins.float(self.low), builtins.float(self.high), log=self.log,
                step=None if self.step is None else builtins.float(self.step),
            )
        return od.CategoricalDistribution(self.labels)

    def from_sampled(self, value: Any) -> Any:
        """Map what the sampler returned to the value the cell sees."""
        if self.kind == "choice":
            return self.options[self.labels.index(value)]
        return value

    def default_value(self) -> Any:
        if self.default is not None:
            return self.default
        if self.kind == "choice":
            return self.options[0]
        lo, hi = self.low, self.high
        mid = math.sqrt(lo * hi) if self.log else (lo + hi) / 2
        if self.kind == "int":
            step = self.step or 1
            return builtins.int(lo + round((mid - lo) / step) * step)
        if self.step is not None:
            return lo + round((mid - lo) / self.step) * self.step
        return mid

    def grid(self) -> list:
        """All values of a finite parameter, for the grid sampler."""
        if self.kind == "choice":
            return list(self.labels)
        if self.kind == "int":
            return list(range(builtins.int(self.low), builtins.int(self.high) + 1,
                              builtins.int(self.step or 1)))
        if self.step is None:
            raise SpaceError(f"hp.float({self.low!r}, {self.high!r}) has no step, so it has no grid")
        n = builtins.int(math.floor((self.high - self.low) / self.step + 1e-9))
        return [self.low + i * self.step for i in range(n + 1)]


Resolver = Callable[[str, Param], Any]


class HP:
    """The marker namespace. ``hp.int(2, 12)`` returns the default unless bound to a trial."""

    def __init__(self, resolver: Resolver | None = None, reporter: Callable | None = None):
        self._resolver = resolver
        self._reporter = reporter

    def __repr__(self) -> str:
        return "<aimauto_nb.hp (trial)>" if self._resolver else "<aimauto_nb.hp (defaults)>"

    def _value(self, param: Param) -> Any:
        if self._resolver is None:
            return param.default_value()
        name = param.name
        if name is None:
            name = _name_from_caller(sys._getframe(2), param.kind)
        return self._resolver(name, param)

    def int(self, low, high, *, log=False, step=1, default=None, name=None):
        """An integer in [low, high] (inclusive), optionally on a log scale or with a step."""
        return self._value(Param("int", low, high, log, None if log else step, (), default, name))

    def float(self, low, high, *, log=False, step=None, default=None, name=None):
        """A float in [low, high], optionally on a log scale or on a grid of ``step``."""
        return self._value(Param("float", low, high, log, step, (), default, name))

    def choice(self, options: Sequence, *, default=None, name=None):
        """One of ``options`` (any objects; the first is the default)."""
        return self._value(Param("choice", options=tuple(options), default=default, name=name))

    def report(self, value: float, step: int) -> None:
        """Report an intermediate value; raises ``optuna.TrialPruned`` when pruned."""
        if self._reporter is not None:
            self._reporter(value, step)


hp = HP()


# --------------------------------------------------------------------------- static analysis


@dataclass
class Marker:
    """A marker call found in the source, with the name it gets."""

    kind: str
    node: ast.Call
    name: str | None  # None: the name is an expression evaluated at run time
    explicit: bool
    qualifier: str | None = None

    @property
    def lineno(self) -> int:
        return self.node.lineno


@dataclass
class CellSpace:
    """What the analysis of a cell found: markers, names it binds, and the rewritten code."""

    source: str
    tree: ast.Module
    markers: list[Marker] = field(default_factory=list)
    assigned: set[str] = field(default_factory=set)
    loaded: set[str] = field(default_factory=set)

    @property
    def static_params(self) -> dict[str, Param]:
        """Parameters whose bounds are literals, by name (used for grids and checks)."""
        out = {}
        for m in self.markers:
            p = _literal_param(m)
            if p is not None and m.name is not None:
                out[m.name] = p
        return out

    @property
    def dynamic(self) -> bool:
        return any(m.name is None for m in self.markers)


def _marker_kind(node: ast.AST) -> str | None:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "hp"
        and node.func.attr in MARKER_KINDS
    ):
        return node.func.attr
    return None


def _callee_name(call: ast.Call) -> str | None:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return None


def _target_name(t: ast.AST) -> str | None:
    if isinstance(t, ast.Name):
        return t.id
    if isinstance(t, ast.Attribute):
        return t.attr
    return None


_WRAPPERS = {"min", "max", "int", "float", "round", "abs"}


def _infer(node: ast.Call, parents: dict[ast.AST, ast.AST]) -> tuple[str | None, str | None]:
    """(name, qualifier) for a marker without ``name=``; name None when nothing fits."""
    child, parent = node, parents.get(node)
    while isinstance(parent, ast.BinOp | ast.UnaryOp) or (
        isinstance(parent, ast.Call) and child in parent.args and _callee_name(parent) in _WRAPPERS
    ):
        child, parent = parent, parents.get(parent)
    if isinstance(parent, ast.keyword) and parent.arg:
        call = parents.get(parent)
        return parent.arg, _callee_name(call) if isinstance(call, ast.Call) else None
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
        return _target_name(parent.targets[0]), None
    if isinstance(parent, ast.AnnAssign | ast.NamedExpr):
        return _target_name(parent.target), None
    if isinstance(parent, ast.Dict) and child in parent.values:
        key = parent.keys[parent.values.index(child)]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            holder = parents.get(parent)
            qual = None
            if isinstance(holder, ast.Assign) and len(holder.targets) == 1:
                qual = _target_name(holder.targets[0])
            elif isinstance(holder, ast.keyword):
                qual = holder.arg
            return key.value, qual
    return None, None


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _literal(node: ast.AST | None) -> Any:
    if node is None:
        return None
    return ast.literal_eval(node)


_SIGNATURES = {
    "int": inspect.signature(HP.int),
    "float": inspect.signature(HP.float),
    "choice": inspect.signature(HP.choice),
}


def _literal_param(m: Marker) -> Param | None:
    """The marker's Param if every argument is a literal, else None (checked at run time)."""
    try:
        args = [_literal(a) for a in m.node.args]
        kwargs = {k.arg: _literal(k.value) for k in m.node.keywords if k.arg != "name"}
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    try:
        bound = _SIGNATURES[m.kind].bind(None, *args, **kwargs)
    except TypeError as e:
        raise SpaceError(f"hp.{m.kind}(...): {e}", m.lineno) from None
    bound.apply_defaults()
    a = dict(bound.arguments)
    a.pop("self")
    a.pop("name", None)
    try:
        if m.kind == "choice":
            opts = a["options"]
            if not isinstance(opts, list | tuple | range | str):
                raise SpaceError("hp.choice needs a list of options")
            return Param("choice", options=tuple(opts), default=a["default"], name=m.name)
        step = None if (m.kind == "int" and a["log"]) else a["step"]
        return Param(m.kind, a["low"], a["high"], a["log"], step, (), a["default"], m.name)
    except SpaceError as e:
        raise SpaceError(str(e), m.lineno) from None


def analyze(source: str, filename: str = "<cell>") -> CellSpace:
    """Parse a cell, find its markers, infer their names and check literal bounds.

    Raises ``SyntaxError`` (with the cell line) or ``SpaceError`` before anything runs.
    """
    tree = ast.parse(source, filename=filename)
    parents = _parents(tree)
    space = CellSpace(source=source, tree=tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (space.assigned if isinstance(node.ctx, ast.Store) else space.loaded).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            space.assigned.add(node.name)
        elif isinstance(node, ast.alias):
            space.assigned.add((node.asname or node.name).split(".")[0])
        kind = _marker_kind(node)
        if kind is None:
            continue
        kw = next((k for k in node.keywords if k.arg == "name"), None)
        if kw is not None:
            name = kw.value.value if isinstance(kw.value, ast.Constant) else None
            if isinstance(kw.value, ast.Constant) and not isinstance(name, str):
                raise SpaceError(f"hp.{kind}(..., name=...) must be a string", node.lineno)
            space.markers.append(Marker(kind, node, name, explicit=True))
            continue
        name, qual = _infer(node, parents)
        if name is None:
            raise SpaceError(
                f"cannot infer a name for hp.{kind}(...): pass it as a keyword argument "
                f'(max_depth=hp.{kind}(...)), assign it (x = hp.{kind}(...)), or add name="..."',
                node.lineno,
            )
        space.markers.append(Marker(kind, node, name, explicit=False, qualifier=qual))
    space.markers.sort(key=lambda m: (m.node.lineno, m.node.col_offset))
    _disambiguate(space.markers)
    for m in space.markers:
        _literal_param(m)  # raises SpaceError on invalid literal bounds
    return space


def _disambiguate(markers: list[Marker]) -> None:
    explicit = {m.name for m in markers if m.explicit}
    by_name: dict[str, list[Marker]] = {}
    for m in markers:
        if not m.explicit:
            by_name.setdefault(m.name, []).append(m)
    for name, group in by_name.items():
        if len(group) == 1 and name not in explicit:
            continue
        quals = [m.qualifier for m in group]
        if None in quals or len(set(quals)) != len(quals) or {
            f"{q}.{name}" for q in quals
        } & explicit:
            lines = ", ".join(str(m.lineno) for m in group)
            raise SpaceError(
                f"the name {name!r} is inferred for more than one marker (lines {lines}); "
                'give each a distinct name="..."',
                group[-1].lineno,
            )
        for m in group:
            m.name = f"{m.qualifier}.{name}"


def rewrite(space: CellSpace) -> ast.Module:
    """A copy of the cell's tree with every inferred name passed as ``name=``."""
    import copy

    tree = copy.deepcopy(space.tree)
    marked = {(m.node.lineno, m.node.col_offset): m for m in space.markers if not m.explicit}
    for node in ast.walk(tree):
        m = marked.get((getattr(node, "lineno", None), getattr(node, "col_offset", None)))
        if m is not None and _marker_kind(node):
            node.keywords.append(ast.keyword(arg="name", value=ast.Constant(m.name)))
    return ast.fix_missing_locations(tree)


# ----------------------------------------------------------- names for markers in callables

_file_trees: dict[tuple[str, int], tuple[ast.AST, dict]] = {}


def _name_from_caller(frame, kind: str) -> str:
    """Infer a marker's name from the source line that called it (``build(hp)`` callables)."""
    info = inspect.getframeinfo(frame, context=0)
    pos = info.positions
    where = f"{info.filename}:{info.lineno}"
    lines = linecache.getlines(info.filename, frame.f_globals)
    if pos is None or pos.lineno is None or not lines:
        raise SpaceError(f"hp.{kind}(...) at {where}: cannot infer a name; add name=\"...\"")
    key = (info.filename, hash(tuple(lines)))
    if key not in _file_trees:
        tree = ast.parse("".join(lines))
        _file_trees[key] = (tree, _parents(tree))
    tree, parents = _file_trees[key]
    for node in ast.walk(tree):
        if (
            _marker_kind(node) == kind
            and node.lineno <= pos.lineno <= node.end_lineno
            and (node.lineno, node.col_offset) <= (pos.lineno, pos.col_offset)
            and (pos.end_lineno, pos.end_col_offset) <= (node.end_lineno, node.end_col_offset)
        ):
            name, _ = _infer(node, parents)
            if name:
                return name
    raise SpaceError(f"hp.{kind}(...) at {where}: cannot infer a name; add name=\"...\"")
