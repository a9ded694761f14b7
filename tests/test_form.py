"""The tune() form: ranges, validation, the code it writes, and the search it starts."""

import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import aimauto_nb as an
from aimauto_nb.notebook.form import CURATED, Tuner, ranges_for
from aimauto_nb.space.analysis import analyze

from .kernel import Kernel


def _row(t: Tuner, name: str) -> dict:
    return next(w for r, (_row, w) in zip(t.ranges, t._rows) if r.name == name)


def test_curated_ranges_for_known_estimators():
    assert "from sklearn.ensemble import HistGradientBoostingClassifier" in an.tune(
        HistGradientBoostingClassifier(), data=([[0]], [0])).cell_body()
    names = [r.name for r in ranges_for(HistGradientBoostingClassifier())]
    assert names[:5] == ["max_iter", "learning_rate", "max_leaf_nodes", "min_samples_leaf",
                         "l2_regularization"]
    assert all(r.tune for r in ranges_for(HistGradientBoostingClassifier())[:5])
    lr = next(r for r in ranges_for(LogisticRegression()) if r.name == "C")
    assert lr.log and lr.low == 1e-3
    assert len(CURATED) >= 17


@pytest.mark.parametrize("module, cls, first", [("xgboost", "XGBClassifier", "n_estimators"),
                                                 ("catboost", "CatBoostClassifier", "iterations")])
def test_xgboost_and_catboost_forms_run_their_search(cancer, module, cls, first, tmp_path,
                                                      monkeypatch):
    lib = pytest.importorskip(module)
    monkeypatch.chdir(tmp_path)
    t = an.tune(getattr(lib, cls)(), data=cancer, trials=2)
    curated = [r for r in t.ranges if r.tune]
    assert curated[0].name == first and len(curated) >= 4 and curated == [
        r for r in t.ranges if r.name in {c.name for c in CURATED[cls]}]
    for r, (_x, w) in zip(t.ranges, t._rows):
        w["tick"].value = r.name in (first, "learning_rate")
    _row(t, first)["low"].value, _row(t, first)["high"].value = 3, 6
    body = t.cell_body()
    assert f"from {module} import {cls}" in body and f"{first}=hp.int(3, 6, log=True)" in body
    if module == "catboost":  # quiet, and no catboost_info/ in the working directory
        assert "verbose=0" in body and "allow_writing_files=False" in body
    s = t.start()
    s.wait(60)
    assert s.state == "done" and s.counts()["complete"] == 2
    assert 3 <= s.best_params[first] <= 6 and not (tmp_path / "catboost_info").exists()


def test_unknown_estimators_get_inferred_unticked_ranges():
    ranges = {r.name: r for r in ranges_for(DecisionTreeClassifier())}
    assert ranges["min_samples_split"].kind == "int" and not ranges["min_samples_split"].tune
    assert ranges["min_samples_split"].low == 2 and ranges["min_samples_split"].high == 8
    assert "random_state" not in ranges and "criterion" not in ranges  # str: left alone


def test_code_is_a_valid_cell_with_the_chosen_markers(cancer):
    t = an.tune(RandomForestClassifier(n_estimators=50, random_state=3), data=cancer, trials=6,
                metrics="accuracy,size")
    _row(t, "max_features")["tick"].value = False
    _row(t, "max_depth")["high"].value = 12
    code = t.code()
    head, body = code.split("\n", 1)
    assert head == "%%aimsearch --data X y --metrics accuracy,size --trials 6"
    assert "max_features" not in body and "max_depth=hp.int(2, 12)" in body
    assert "random_state=3" in body  # a non-default value is kept
    space = analyze(body)
    assert sorted(m.name for m in space.markers) == ["max_depth", "min_samples_leaf", "n_estimators"]


@pytest.mark.parametrize("change, problem", [
    (lambda t: [setattr(w["tick"], "value", False) for _r, (_x, w) in zip(t.ranges, t._rows)],
     "nothing selected to tune"),
    (lambda t: setattr(_row(t, "n_estimators")["low"], "value", 900), "the range is empty"),
    (lambda t: setattr(_row(t, "max_depth")["log"], "value", True) or
     setattr(_row(t, "max_depth")["low"], "value", 0), "log scale needs a positive low bound"),
    (lambda t: setattr(_row(t, "max_features")["options"], "value", ()), "select at least one option"),
    (lambda t: setattr(t.trials, "value", 0), "give a budget"),
    (lambda t: setattr(t.name, "value", "my search"), "not a valid Python name"),
])
def test_invalid_choices_disable_the_search_button(cancer, change, problem):
    t = an.tune(RandomForestClassifier(), data=cancer, trials=5)
    assert not t.search_button.disabled
    change(t)
    assert t.search_button.disabled
    assert problem in t.problem.value and problem in t.search_button.tooltip
    with pytest.raises(ValueError, match=problem.split(":")[0]):
        t.start()


def test_bad_estimator_or_data():
    with pytest.raises(TypeError, match="scikit-learn style estimator"):
        an.tune(object(), data=([[1]], [1]))
    with pytest.raises(ValueError, match="pair"):
        an.tune(RandomForestClassifier(), data=[[1]])


def test_form_in_a_real_kernel_starts_the_search_its_code_describes():
    startup = ("%load_ext aimauto_nb\nfrom sklearn.datasets import load_iris\n"
               "from sklearn.ensemble import RandomForestClassifier\n"
               "X, y = load_iris(return_X_y=True)\nrf = RandomForestClassifier(random_state=0)")
    with Kernel(startup) as k:
        ex = k.run("form = %aimtune rf --data X y --trials 4 --name tuned\nform", check=True)
        assert any(m["msg_type"] in ("display_data", "execute_result") and
                   "application/vnd.jupyter.widget-view+json" in m["content"]["data"]
                   for m in ex.messages)
        k.run("for r, (_row, w) in zip(form.ranges, form._rows):\n"
              "    w['tick'].value = r.name in ('n_estimators', 'max_depth')\n"
              "form.code_button.click()\n"
              "form.search_button.click()", check=True)
        out = k.run("tuned.wait(60)\nprint(tuned.state, len(tuned.trials), sorted(tuned.best_params))\n"
                    "print(form.code_area.value == form.code())", check=True).stdout.split("\n")
        assert out[0] == "done 4 ['max_depth', 'n_estimators']"
        assert out[1] == "True"
        code = k.run("print(form.code())", check=True).stdout
        assert code.startswith("%%aimsearch --data X y --trials 4 --name tuned\n")
        # the shown cell, run as is, is the same search
        rerun = k.run(code.replace("--name tuned", "--name again --wait --quiet"), check=True)
        assert rerun.ok
        same = k.run("print(sorted(again.best_params) == sorted(tuned.best_params), again.state)",
                     check=True)
        assert same.stdout.split() == ["True", "done"]
        bad = k.run("%aimtune nothing --data X y")
        assert bad.error["ename"] == "UsageError" and "no variable named nothing" in bad.error["evalue"]
