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
         "assert callable(compress)")


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
