"""Static analysis of a cell's markers: where they are, the names they get (keyword,
assignment target, dict key, qualified by the called name when two would clash), the names
the cell binds and reads, and the rewrite that passes each inferred name to its marker.
Also infers names for markers inside ``build(hp)`` callables from their source line."""

from __future__ import annotations

import ast
import inspect
import linecache
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpaceError
from .params import MARKER_KINDS, SIGNATURES, Param

__all__ = ["Marker", "CellSpace", "analyze", "rewrite", "name_from_caller"]

@dataclass
class Marker:
    """A marker call found in the source, with the name it gets."""

    kind: str
    node: ast.Call
    name: str | None  # None: the name is an expression evaluated at run time
    explicit: bool
    qualifier: str | None = None
    conditional: bool = False  # under an if / loop / try: not every trial reaches it

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

    @property
    def conditional(self) -> bool:
        """Some marker sits under an ``if``, a loop or a ``try``: trials differ in which
        parameters they have."""
        return any(m.conditional for m in self.markers)


_BRANCHES = (ast.If, ast.IfExp, ast.For, ast.While, ast.Try, ast.Match, ast.comprehension,
             ast.BoolOp)


def _under_branch(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, _BRANCHES):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return True
    return False


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


def _literal_param(m: Marker) -> Param | None:
    """The marker's Param if every argument is a literal, else None (checked at run time)."""
    try:
        args = [_literal(a) for a in m.node.args]
        kwargs = {k.arg: _literal(k.value) for k in m.node.keywords if k.arg != "name"}
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    try:
        bound = SIGNATURES[m.kind].bind(*args, **kwargs)
    except TypeError as e:
        raise SpaceError(f"hp.{m.kind}(...): {e}", m.lineno) from None
    bound.apply_defaults()
    a = dict(bound.arguments)
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
            space.markers.append(Marker(kind, node, name, explicit=True,
                                        conditional=_under_branch(node, parents)))
            continue
        name, qual = _infer(node, parents)
        if name is None:
            raise SpaceError(
                f"cannot infer a name for hp.{kind}(...): pass it as a keyword argument "
                f'(max_depth=hp.{kind}(...)), assign it (x = hp.{kind}(...)), or add name="..."',
                node.lineno,
            )
        space.markers.append(Marker(kind, node, name, explicit=False, qualifier=qual,
                                    conditional=_under_branch(node, parents)))
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


def name_from_caller(frame, kind: str) -> str:
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
