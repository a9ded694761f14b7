"""Every bad input is one line naming the argument (or the cell line), before any work:
in the API (an AimautoError that is also a ValueError) and in the magic (a UsageError).
A cell without markers runs, with a warning before the first trial."""

import os

import numpy as np
import pytest
from IPython.core.error import UsageError

import aimauto_nb as an

from .conftest import TREE_CELL

NO_MARKERS = "from sklearn.tree import DecisionTreeClassifier\nmodel = DecisionTreeClassifier()\n"

# (id, search() keyword arguments, %%aimsearch options, the cell, words the message has)
CASES = [
    ("syntax", {"trials": 2}, "--data X y --trials 2", "model = (\n", "line 1"),
    ("timeout-nan", {"timeout": float("nan")}, "--data X y --timeout nan", TREE_CELL, "timeout"),
    ("trial-timeout-nan", {"trials": 2, "trial_timeout": float("nan")},
     "--data X y --trials 2 --trial-timeout nan", TREE_CELL, "trial_timeout"),
    ("seed-negative", {"trials": 2, "seed": -1}, "--data X y --trials 2 --seed -1", TREE_CELL,
     "seed"),
    ("seed-huge", {"trials": 2, "seed": 2**40}, f"--data X y --trials 2 --seed {2**40}",
     TREE_CELL, "seed"),
    ("metrics-int", {"trials": 2, "metrics": 123}, None, TREE_CELL, "metrics"),
    ("namespace-str", {"trials": 2, "namespace": "x"}, None, TREE_CELL, "namespace"),
    ("direction-contradicts", {"trials": 2, "metrics": "accuracy:min"},
     "--data X y --trials 2 --metrics accuracy:min", TREE_CELL, "accuracy"),
    ("sqlite-memory", {"trials": 2, "storage": "sqlite:///"},
     "--data X y --trials 2 --storage sqlite:///", TREE_CELL, "storage"),
    ("long-name", {"trials": 2, "name": "n" * 300}, None, TREE_CELL, "name"),
    ("single-class", {"trials": 2, "single_class": True}, "--data X y1 --trials 2", TREE_CELL,
     "single class"),
    ("roc-auc-single-class", {"trials": 2, "metrics": "roc_auc", "single_class": True},
     "--data X y1 --trials 2 --metrics roc_auc", TREE_CELL, "single class"),
]


@pytest.mark.parametrize("kwargs, cell, words",
                         [pytest.param(kw, cell, words, id=i) for i, kw, _, cell, words in CASES])
def test_api_refuses_in_one_line_before_any_work(cancer, aimauto_dir, kwargs, cell, words):
    kwargs = dict(kwargs)
    X, y = cancer
    data = (X, np.zeros_like(y)) if kwargs.pop("single_class", False) else (X, y)
    with pytest.raises((an.AimautoError, SyntaxError)) as caught:
        an.search(cell, data=data, display=False, **kwargs)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError | SyntaxError)
    assert len(message.splitlines()) == 1, message
    assert words in message, message
    assert not list(aimauto_dir.iterdir()), "work started (the storage was opened)"


@pytest.fixture
def shell(cancer):
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "aimauto_nb")
    X, y = cancer
    ip.user_ns.update(X=X, y=y, y1=np.zeros_like(y))
    yield ip
    ip.run_line_magic("unload_ext", "aimauto_nb")
    for k in ("search", "X", "y", "y1"):
        ip.user_ns.pop(k, None)


@pytest.mark.parametrize("line, cell, words", [
    pytest.param(line, cell, words, id=i) for i, _, line, cell, words in CASES if line])
def test_magic_refuses_in_one_line_before_any_work(shell, aimauto_dir, line, cell, words):
    with pytest.raises(UsageError) as caught:
        shell.run_cell_magic("aimsearch", line, cell)
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and words in message, message
    assert "search" not in shell.user_ns
    assert not list(aimauto_dir.iterdir())


def test_magic_help_prints_the_options(shell, capsys):
    assert shell.run_cell_magic("aimsearch", "--help", TREE_CELL) is None
    out = capsys.readouterr().out
    assert "--trials" in out and "--storage" in out and "--quiet" in out
    assert "search" not in shell.user_ns


def test_a_cell_without_markers_is_warned_about_before_the_first_trial(cancer):
    with pytest.warns(UserWarning, match="no hp markers") as caught:
        s = an.search(NO_MARKERS, data=cancer, trials=2, display=False)
    assert len(str(caught[0].message).splitlines()) == 1
    assert s.launched <= 1  # warned while the search was being set up
    s.wait()


def test_a_read_only_working_directory_is_one_line_with_the_ways_out(shell, tmp_path,
                                                                     monkeypatch):
    """Without AIMAUTO_DIR, in a folder the user cannot write (root writes through permission
    bits, so as root the folder is /proc)."""
    work = tmp_path / "ro"
    work.mkdir()
    os.chmod(work, 0o555)
    monkeypatch.chdir("/proc" if os.geteuid() == 0 else work)
    monkeypatch.delenv("AIMAUTO_DIR")
    X, y = shell.user_ns["X"], shell.user_ns["y"]
    with pytest.raises(an.ConfigError) as api:
        an.search(TREE_CELL, data=(X, y), trials=2, display=False)
    with pytest.raises(UsageError) as magic:
        shell.run_cell_magic("aimsearch", "--data X y --trials 2", TREE_CELL)
    for message in (str(api.value), str(magic.value)):
        assert len(message.splitlines()) == 1 and "cannot write" in message
        assert "--storage :memory:" in message and "AIMAUTO_DIR" in message
    s = an.search(TREE_CELL, data=(X, y), trials=2, storage=":memory:", display=False).wait()
    assert s.state == "done"
