"""Notebooks run by a notebook runner (nbclient, nbconvert --execute, papermill), where no
person's frontend is connected: ``%%aimsearch`` waits for its search, the saved notebook
holds the finished snapshot and no "pending" line, ``%aimapply`` prints its cell."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import TREE_CELL

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "notebooks" / "01-quickstart.ipynb"


def _texts(cell) -> list[str]:
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o["text"])
        elif "data" in o:
            out.append(o["data"].get("text/plain", ""))
    return out


def _check_finished(nb, search_cell: int, budget: int) -> None:
    cell = nb.cells[search_cell]
    texts = _texts(cell)
    assert not any("pending" in t or ": running" in t for t in texts), texts
    html = [o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {})]
    assert any("aimauto-snapshot" in h for h in html), "no static snapshot saved"
    assert any(t.startswith(f"search: done | {budget}/{budget} trials") for t in texts), texts
    widget = [o for o in cell.outputs
              if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widget and widget[0]["data"]["text/plain"] == ""  # nothing stale above the snapshot


def test_readme_style_notebook_without_wait_saves_the_finished_search(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext aimauto_nb\nfrom sklearn.datasets import load_iris\n"
                                  "X, y = load_iris(return_X_y=True)"),
        nbformat.v4.new_code_cell("%%aimsearch --data X y --trials 6 --metrics accuracy,size\n"
                                  + TREE_CELL),
        nbformat.v4.new_code_cell("%aimapply"),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    _check_finished(nb, 1, 6)
    applied = "".join(_texts(nb.cells[2]))
    assert "DecisionTreeClassifier(" in applied and "hp." not in applied


def _run_tool(args, tmp_path, timeout=280):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]


def _quickstart_search_cell(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.source.startswith("%%aimsearch"))


@pytest.mark.slow
def test_papermill_run_of_the_quickstart_saves_a_finished_snapshot(tmp_path):
    pytest.importorskip("papermill")
    shutil.copy(QUICKSTART, tmp_path / "in.ipynb")
    _run_tool([sys.executable, "-m", "papermill", "in.ipynb", "out.ipynb", "-k", "python3",
               "--no-progress-bar"], tmp_path)
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    _check_finished(nb, _quickstart_search_cell(nb), 25)
    applied = "".join(_texts(next(c for c in nb.cells if c.source.strip() == "%aimapply")))
    assert "LGBMClassifier(" in applied


@pytest.mark.slow
def test_nbconvert_run_of_the_quickstart_saves_a_finished_snapshot(tmp_path):
    shutil.copy(QUICKSTART, tmp_path / "in.ipynb")
    _run_tool([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
               "--output", "out.ipynb", "in.ipynb"], tmp_path)
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    _check_finished(nb, _quickstart_search_cell(nb), 25)
    assert json.dumps(nb.cells[_quickstart_search_cell(nb)].outputs).count("pending") == 0
