"""The tutorials run under nbval with the working directory notebooks/: their searches'
default journal goes to a temporary folder, not into the repository."""

import os
import shutil
import tempfile
from collections import defaultdict

_MADE = []
#: seconds per tutorial (the sum of its cells' setup, call and teardown), printed at the end
_SECONDS: dict[str, float] = defaultdict(float)
LIMIT = 300  # the README promises each tutorial runs in under 5 minutes on 2 cores


def pytest_configure(config):
    # Kernels inherit the environment; set the folder before nbval starts any of them.
    if "AIMAUTO_DIR" not in os.environ:
        os.environ["AIMAUTO_DIR"] = tempfile.mkdtemp(prefix="aimauto-notebooks-")
        _MADE.append(os.environ["AIMAUTO_DIR"])


def pytest_unconfigure(config):
    for folder in _MADE:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("AIMAUTO_DIR", None)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _SECONDS[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _SECONDS:
        return
    terminalreporter.section("tutorial durations")
    for path, seconds in sorted(_SECONDS.items()):
        over = "  OVER 5 MINUTES" if seconds >= LIMIT else ""
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}{over}")
