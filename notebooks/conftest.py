"""The tutorials run under nbval with the working directory notebooks/: their searches'
default journal goes to a temporary folder, not into the repository."""

import os
import shutil
import tempfile

_MADE = []


def pytest_configure(config):
    # Kernels inherit the environment; set the folder before nbval starts any of them.
    if "AIMAUTO_DIR" not in os.environ:
        os.environ["AIMAUTO_DIR"] = tempfile.mkdtemp(prefix="aimauto-notebooks-")
        _MADE.append(os.environ["AIMAUTO_DIR"])


def pytest_unconfigure(config):
    for folder in _MADE:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("AIMAUTO_DIR", None)
