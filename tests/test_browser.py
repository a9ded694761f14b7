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
                              lambda: page.wait_for_function(
                                  "() => [...document.querySelectorAll('.jp-CodeCell "
                                  ".jp-InputArea-prompt')].some(e => /\\[(\\*|\\d+)\\]/"
                                  ".test(e.textContent))", timeout=10_000))
            page.wait_for_function(
                f"() => {{ const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
                f".map(e => e.textContent); return p.filter(t => /\\[\\d+\\]/.test(t)).length === "
                f"{code_cells} && !p.some(t => t.includes('*')); }}", timeout=180_000)
            page.locator(".aimauto-state", has_text="done").first.wait_for(timeout=30_000)
            page.locator(".jp-CodeCell", has_text="%%aimsearch").first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "quickstart-jupyterlab.png"), full_page=False)

            assert page.locator(".widget-hprogress .progress-bar").count() >= 1
            assert page.locator("img.widget-image[src^='blob:']").count() >= 2  # Pareto + history
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
    prompts = "[...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(e => e.textContent)"
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
                    page.wait_for_function(f"() => {prompts}.some(t => /\\[(\\*|\\d+)\\]/.test(t))",
                                           timeout=10_000)
                    break
                except sync_api.TimeoutError:
                    continue
            page.wait_for_function(
                f"() => {{ const p = {prompts}; return p.filter(t => /\\[\\d+\\]/.test(t)).length "
                f"=== {code_cells} && !p.some(t => t.includes('*')); }}", timeout=180_000)
            page.locator(".aimauto-state", has_text="done").first.wait_for(timeout=30_000)
            page.locator(".jp-CodeCell", has_text="%%aimsearch").first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "quickstart-notebook7.png"), full_page=False)
            assert page.locator(".widget-hprogress .progress-bar").count() >= 1
            assert page.locator("img.widget-image[src^='blob:']").count() >= 2
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
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in FORM_CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "form.ipynb")
    ARTIFACTS.mkdir(exist_ok=True)
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
            assert page.locator("img.widget-image[src^='blob:']").count() >= 2
            page.screenshot(path=str(ARTIFACTS / "tune-form-jupyterlab.png"), full_page=False)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "tune-form-failure.png"), full_page=True)
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
