"""The quick-start tutorial in real JupyterLab, driven by headless Chromium (Debian's
package, through Playwright): every cell runs, the live panel renders and ends "done".
Also: the executed notebook rendered to HTML by nbconvert keeps the panel's static snapshot.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "notebooks" / "01-quickstart.ipynb"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on 127.0.0.1 (random port, token) over a copy of the tutorial."""
    yield from _server(tmp_path, "jupyterlab", "--LabApp.news_url=None")


@pytest.fixture
def notebook7(tmp_path):
    """Jupyter Notebook 7 on 127.0.0.1 (random port, token) over a copy of the tutorial."""
    pytest.importorskip("notebook", minversion="7")
    yield from _server(tmp_path, "notebook")


def _server(tmp_path, app: str, *extra: str):
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(QUICKSTART, root / QUICKSTART.name)
    env = dict(os.environ)
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR",
                "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        d = tmp_path / var.lower()
        d.mkdir()
        env[var] = str(d)
    # every cell in the DOM (JupyterLab 4 otherwise renders only the cells in view)
    tracker = tmp_path / "jupyterlab_settings_dir" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    news = tracker.parent / "apputils-extension"
    news.mkdir()
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    # the data dir is fresh: keep the venv's kernel spec and lab extensions visible
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    port, token = _free_port(), secrets.token_hex(16)
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", app, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
         "--ServerApp.port_retries=0", *extra],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}",
                                            timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{app} did not start:\n" + (tmp_path / "lab.log").read_text())
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", token, root
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)")
def test_quickstart_runs_in_jupyterlab(lab):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, token, _root = lab
    code_cells = sum(c.cell_type == "code" for c in nbformat.read(QUICKSTART, as_version=4).cells)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            _open_and_run_all(page, sync_api, f"{url}/lab/tree/{QUICKSTART.name}?reset&token={token}",
                              lambda: page.wait_for_function(_STARTED, timeout=10_000))
            _wait_all_ran(page, code_cells)
            page.locator(".aimauto-state", has_text="done").first.wait_for(timeout=30_000)
            page.locator(".jp-CodeCell", has_text="%%aimsearch").first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "quickstart-jupyterlab.png"), full_page=False)

            assert page.locator(".widget-hprogress .progress-bar").count() >= 1
            assert page.locator(".aimauto-charts svg.aimauto-history .aimauto-pt").count() >= 1
            assert page.locator("button.jupyter-button", has_text="Stop").count() == 1
            # the static snapshot is in the page but hidden by the live panel's style rule
            static = page.locator(".aimauto-static .aimauto-snapshot")
            assert static.count() == 1 and not static.is_visible()
            assert "trials" in " ".join(page.locator(".widget-label").all_inner_texts())
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            texts = errors.all_inner_texts()
            assert not any("Traceback" in t or "Error" in t for t in texts), texts
            # %aimapply inserted the winning configuration as a new, not yet run, cell
            inserted = page.locator(".jp-CodeCell", has=page.locator(".jp-InputArea-prompt",
                                                                     has_text="[ ]"))
            assert inserted.count() == 1
            assert "n_estimators=" in inserted.inner_text() and "hp." not in inserted.inner_text()
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "quickstart-jupyterlab-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)")
def test_quickstart_runs_in_notebook7(notebook7):
    """The same tutorial in Jupyter Notebook 7: every cell runs and the live panel renders."""
    sync_api = pytest.importorskip("playwright.sync_api")
    url, token, _root = notebook7
    code_cells = sum(c.cell_type == "code" for c in nbformat.read(QUICKSTART, as_version=4).cells)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{url}/notebooks/{QUICKSTART.name}?token={token}")
            page.locator(".jp-NotebookPanel .jp-CodeCell").first.wait_for(timeout=90_000)
            select = page.locator(".jp-Dialog button", has_text="Select")  # asks at times
            try:
                select.wait_for(timeout=10_000)
                select.click()
            except sync_api.TimeoutError:
                pass
            # Run All before the kernel is idle runs the first cell only: wait for it
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(
                state="attached", timeout=90_000)
            for _attempt in range(3):
                page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
                page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
                try:
                    page.wait_for_function(_STARTED, timeout=10_000)
                    break
                except sync_api.TimeoutError:
                    continue
            _wait_all_ran(page, code_cells)
            page.locator(".aimauto-state", has_text="done").first.wait_for(timeout=30_000)
            page.locator(".jp-CodeCell", has_text="%%aimsearch").first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "quickstart-notebook7.png"), full_page=False)
            assert page.locator(".widget-hprogress .progress-bar").count() >= 1
            assert page.locator(".aimauto-charts svg.aimauto-history .aimauto-pt").count() >= 1
            stop = page.locator("button.jupyter-button", has_text="Stop")
            assert stop.count() == 1 and stop.is_disabled()  # the search has ended
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            texts = errors.all_inner_texts()
            assert not any("Traceback" in t or "Error" in t for t in texts), texts
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "quickstart-notebook7-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


FORM_CELLS = [
    "%load_ext aimauto_nb\nfrom sklearn.datasets import load_iris\n"
    "from sklearn.ensemble import RandomForestClassifier\n"
    "X, y = load_iris(return_X_y=True)\nrf = RandomForestClassifier(random_state=0)",
    "%aimtune rf --data X y --trials 4 --name tuned",
]


def _open_and_run_all(page, sync_api, address, started) -> None:
    """Open a notebook, wait for its kernel, then Run All (again, up to 3 times, until
    ``started()`` stops timing out: the first click sometimes comes too early)."""
    page.goto(address)
    page.get_by_text("| Idle").first.wait_for(timeout=90_000)
    for _attempt in range(3):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            started()
            return
        except sync_api.TimeoutError:
            continue


def _launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"])


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)")
def test_tune_form_in_jupyterlab(lab):
    """Clicking the form's buttons in the browser shows its code and runs its search."""
    sync_api = pytest.importorskip("playwright.sync_api")
    url, token, root = lab
    _write_notebook(root / "form.ipynb", FORM_CELLS)
    with sync_api.sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            show = page.locator("button.jupyter-button", has_text="Show code")
            _open_and_run_all(page, sync_api, f"{url}/lab/tree/form.ipynb?reset&token={token}",
                              lambda: show.wait_for(timeout=20_000))
            page.locator("button.jupyter-button", has_text="Show code").click()
            code = page.locator(".widget-textarea textarea").first
            code.wait_for(timeout=10_000)
            page.wait_for_function("() => [...document.querySelectorAll('.widget-textarea textarea')]"
                                   ".some(t => t.value.startsWith('%%aimsearch --data X y'))",
                                   timeout=10_000)
            assert "n_estimators=hp.int(50, 500, log=True)" in code.input_value()
            page.locator("button.jupyter-button", has_text="Search").first.click()
            page.locator(".aimauto-state", has_text="done").first.wait_for(timeout=90_000)
            assert page.locator(".aimauto-charts svg.aimauto-history .aimauto-pt").count() >= 1
            page.screenshot(path=str(ARTIFACTS / "tune-form-jupyterlab.png"), full_page=False)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "tune-form-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


PARETO_CELLS = [
    "%load_ext aimauto_nb\nfrom sklearn.datasets import load_breast_cancer\n"
    "X, y = load_breast_cancer(return_X_y=True)",
    "%%aimsearch --data X y --trials 16 --seed 0 --metrics accuracy,size,latency\n"
    "from sklearn.tree import DecisionTreeClassifier\n"
    "model = DecisionTreeClassifier(max_depth=hp.int(1, 8), criterion=hp.choice(['gini', 'entropy']),\n"
    "                               random_state=0)",
    "search.wait();",
]


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)")
def test_pareto_click_picks_the_trial_in_jupyterlab(lab):
    """The browser-drawn Pareto chart: hovering a point shows its trial, clicking it makes
    that trial the picker's selection (a round trip through the kernel), highlighted."""
    sync_api = pytest.importorskip("playwright.sync_api")
    url, token, root = lab
    _write_notebook(root / "pareto.ipynb", PARETO_CELLS)
    with sync_api.sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            charts = page.locator(".aimauto-charts")
            _open_and_run_all(page, sync_api, f"{url}/lab/tree/pareto.ipynb?reset&token={token}",
                              lambda: charts.first.wait_for(timeout=20_000))
            page.locator(".aimauto-state", has_text="done").first.wait_for(timeout=90_000)
            page.wait_for_function("() => document.querySelector('.aimauto-charts')"
                                   ".dataset.trials === '16'", timeout=20_000)
            # the parallel-coordinates view of the front (three metrics) and the axis selector
            assert page.locator(".aimauto-parallel .aimauto-pline").count() >= 2
            assert page.locator("select.aimauto-xmetric option").all_inner_texts() == [
                "size", "latency per row"]
            xaxis = page.locator(".aimauto-pareto .aimauto-label").first
            assert xaxis.text_content() == "size · log"
            ticks = page.locator(".aimauto-pareto .aimauto-axes > text:not(.aimauto-label)")
            assert any(t.endswith(("kB", "MB", " B")) for t in ticks.all_text_contents())
            page.locator("select.aimauto-xmetric").select_option(label="latency per row")
            page.wait_for_function("() => document.querySelector('.aimauto-pareto .aimauto-label')"
                                   ".textContent.startsWith('latency')", timeout=5_000)
            page.locator("select.aimauto-xmetric").select_option(label="size")
            picker = page.locator(".widget-dropdown select").first
            default = picker.evaluate("s => s.options[s.selectedIndex].text").replace("\xa0", " ")
            front = page.locator(".aimauto-pareto .aimauto-pt.aimauto-front")
            numbers = [front.nth(i).get_attribute("data-trial") for i in range(front.count())]
            target = next(n for n in numbers if not default.startswith(f"trial {n}:")
                          and not default.startswith(f"trial {n} "))
            point = page.locator(f".aimauto-pareto .aimauto-pt[data-trial='{target}']")
            point.hover()
            tip = page.locator(".aimauto-tip")
            tip.wait_for(state="visible", timeout=5_000)
            text = tip.inner_text()
            assert f"trial {target}" in text and "size:" in text and "max_depth=" in text
            point.click()
            page.wait_for_function(
                f"() => {{ const s = document.querySelector('.widget-dropdown select'); "
                f"return /^trial {target}\\b/.test(s.options[s.selectedIndex].text.replace(/\\u00a0/g, ' ')); }}",
                timeout=10_000)
            assert page.locator(f".aimauto-pareto .aimauto-pt[data-trial='{target}'] "
                                "circle.aimauto-selected").count() == 1
            page.locator(".lm-TabBar-tabLabel", has_text="Pareto trials").first.click()
            page.locator(".jp-CodeCell", has_text="%%aimsearch").first.scroll_into_view_if_needed()
            point.hover()
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / "pareto-click-jupyterlab.png"), full_page=False)
            # the README's picture: the whole panel, the tooltip on the chosen point
            page.set_viewport_size({"width": 1500, "height": 1500})
            cell = page.locator(".jp-CodeCell", has_text="%%aimsearch").first
            cell.scroll_into_view_if_needed()
            point.hover()
            page.wait_for_timeout(300)
            box = cell.bounding_box()
            page.screenshot(path=str(ARTIFACTS / "pareto-click-panel.png"),
                            clip={"x": box["x"], "y": max(box["y"], 0), "width": box["width"],
                                  "height": min(box["height"], 1500 - max(box["y"], 0))})
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "pareto-click-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


@pytest.mark.slow
def test_executed_notebook_html_keeps_the_static_snapshot(tmp_path):
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(QUICKSTART, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert "aimauto-snapshot" in html
    assert "data:image/png;base64," in html
    assert "search: done | 25/25 trials" in html


def _write_notebook(path: Path, cells) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    ARTIFACTS.mkdir(exist_ok=True)


_PROMPTS = "[...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(e => e.textContent)"
#: some cell has started ([*]) or run ([n])
_STARTED = f"() => {_PROMPTS}.some(t => /\\[(\\*|\\d+)\\]/.test(t))"


def _wait_all_ran(page, code_cells: int) -> None:
    """Every code cell shows an execution count and none is still running."""
    page.wait_for_function(
        f"() => {{ const p = {_PROMPTS}; return p.filter(t => /\\[\\d+\\]/.test(t)).length "
        f"=== {code_cells} && !p.some(t => t.includes('*')); }}", timeout=180_000)
