"""The layering the package promises: a light top-level import, a core that never imports
the notebook layer, and a compression package that stands alone."""

import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "aimauto_nb"
CORE = [p for p in PACKAGE.glob("*.py") if p.name not in ("api.py", "__init__.py", "__main__.py")]


def _run(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True)


def test_importing_the_package_loads_no_widgets():
    _run("import aimauto_nb, sys; assert 'ipywidgets' not in sys.modules")
    _run("import aimauto_nb as an, sys; an.search, an.Search; assert 'ipywidgets' not in sys.modules")


def test_compress_loads_no_search_core():
    _run("from aimauto_nb import compress; import sys; assert 'optuna' not in sys.modules; "
         "assert 'sklearn' not in sys.modules; assert callable(compress)")


def test_every_public_name_resolves():
    _run("import aimauto_nb as an\n"
         "missing = [n for n in an.__all__ if getattr(an, n, None) is None]\n"
         "assert not missing, missing\n"
         "assert set(an.__all__) <= set(dir(an))")


def _imports(path: pathlib.Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            out.add("." * node.level + (node.module or ""))
    return out


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_the_core_never_imports_the_notebook_layer(path):
    assert not any(i.lstrip(".").startswith("notebook") for i in _imports(path))
    assert not any(i.lstrip(".").startswith("compression") for i in _imports(path))


@pytest.mark.parametrize("path", sorted((PACKAGE / "compression").glob("*.py")), ids=lambda p: p.name)
def test_compression_shares_only_measure(path):
    parents = {i for i in _imports(path) if i.startswith("..")}
    assert parents <= {"..measure", "..errors", ".._imports"}, parents


def test_public_names_are_callables_at_the_top():
    import aimauto_nb as an

    for name in ("search", "compress", "distill", "tune", "plot_pareto"):
        assert callable(getattr(an, name)), name
    assert isinstance(an.Search, type)


_LAYERS = {"errors": 0, "_imports": 0, "measure": 0, "space": 1, "runtime": 2, "storage": 3,
           "runners": 3, "core": 4, "notebook": 5, "api": 6, "__init__": 7, "__main__": 7,
           "compression": 1}


def _module_graph():
    import ast

    graph = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        mod = ".".join(p for p in parts if p != "__init__") or "__init__"
        pkg = parts[:-1]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg[:len(pkg) - node.level + 1]
                    target = base + (node.module.split(".") if node.module else [])
                    names = [a.name for a in node.names]
                    if not node.module:
                        deps.update(".".join(target + [n]) for n in names)
                    else:
                        deps.add(".".join(target))
                elif node.module and node.module.startswith("aimauto_nb."):
                    deps.add(node.module[len("aimauto_nb."):])
        graph[mod] = {d for d in deps if d}
    return graph


def _layer(mod: str) -> int:
    return _LAYERS[mod.split(".")[0]]


def test_no_import_goes_up_a_layer():
    bad = []
    for mod, deps in _module_graph().items():
        for d in deps:
            top = d.split(".")[0]
            if top not in _LAYERS:
                continue
            if mod.startswith("compression"):
                ok = top in ("compression", "errors", "_imports", "measure")
            else:
                ok = _layer(d) <= _layer(mod) and not (top == "compression" and _layer(mod) < 4)
            if not ok:
                bad.append(f"{mod} -> {d}")
    assert not bad, bad


def test_the_import_graph_has_no_cycle():
    graph = _module_graph()
    known = set(graph)

    def resolve(d):
        return d if d in known else next((k for k in known if k == d.rsplit(".", 1)[0]), None)

    edges = {m: {r for d in deps if (r := resolve(d)) and r != m} for m, deps in graph.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(m, stack):
        state[m] = 1
        for n in edges.get(m, ()):
            if state.get(n) == 1:
                cycle.extend(stack[stack.index(n):] + [n])
                return True
            if n not in state and visit(n, stack + [n]):
                return True
        state[m] = 2
        return False

    for m in sorted(edges):
        if m not in state and visit(m, [m]):
            break
    assert not cycle, " -> ".join(cycle)
